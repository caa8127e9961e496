using System.Diagnostics;
using System.Globalization;
using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.InteractiveBrokers.Bench;

/// <summary>How one phase runs.</summary>
/// <param name="Name">Label in the report.</param>
/// <param name="ClientId">Our client id (one connection per phase).</param>
/// <param name="Warmup">Samples run first and discarded.</param>
/// <param name="Samples">Samples measured.</param>
/// <param name="Gap">Idle time before each tick (after the previous sample has settled); zero = back to back.</param>
/// <param name="CancelEach">Cancel each order once the fake has it (keeps the fake's working set empty).</param>
/// <param name="Options">Client options.</param>
/// <param name="ClientClock">The client's clock (shares the timeline's <c>GetUtcNow</c>).</param>
/// <param name="PriceBase">Bid of sample 0 (distinct per phase).</param>
internal sealed record PhaseSettings(string Name, int ClientId, int Warmup, int Samples, TimeSpan Gap, bool CancelEach, TwsClientOptions Options,
    BenchClock ClientClock, double PriceBase);

/// <summary>What one phase measured, in microseconds per measured sample.</summary>
internal sealed record PhaseResult(
    PhaseSettings Settings,
    int Measured,
    int Incomplete,
    int RefMismatches,
    double ElapsedSeconds,
    double[] EndToEnd,
    double[] FakeToIngest,
    double[] IngestToRead,
    double[] ReadToQueued,
    double[] QueuedToReceived,
    double[] InProcess,
    IReadOnlyDictionary<int, int> ErrorCodes,
    int IgnoredTicks)
{
    /// <summary>Joins the segments of one phase (each run against a fresh fake) into one result.</summary>
    public static PhaseResult Merge(IReadOnlyList<PhaseResult> parts)
    {
        ArgumentOutOfRangeException.ThrowIfZero(parts.Count);
        var codes = new Dictionary<int, int>();
        foreach (var (code, count) in parts.SelectMany(p => p.ErrorCodes))
        {
            codes[code] = codes.GetValueOrDefault(code) + count;
        }

        var settings = parts[0].Settings with { Samples = parts.Sum(p => p.Settings.Samples), Warmup = parts.Sum(p => p.Settings.Warmup) };
        return new PhaseResult(settings, parts.Sum(p => p.Measured), parts.Sum(p => p.Incomplete), parts.Sum(p => p.RefMismatches),
            parts.Sum(p => p.ElapsedSeconds), [.. parts.SelectMany(p => p.EndToEnd)], [.. parts.SelectMany(p => p.FakeToIngest)],
            [.. parts.SelectMany(p => p.IngestToRead)], [.. parts.SelectMany(p => p.ReadToQueued)], [.. parts.SelectMany(p => p.QueuedToReceived)],
            [.. parts.SelectMany(p => p.InProcess)], codes, parts.Sum(p => p.IgnoredTicks));
    }
}

/// <summary>
/// One phase: connect a fresh <see cref="TwsClient"/> to the fake, subscribe XAUUSD, then per sample push a quote from the
/// fake, let the <see cref="OrderReactor"/> answer with a placeOrder, wait until the fake has received it (and, optionally,
/// cancel it), and join the stamps at the end.
/// </summary>
internal static class TickToOrderPhase
{
    public const string Symbol = "XAUUSD";
    private const int ReqId = 1001;
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    /// <summary>XAUUSD as it would be sent after resolving it once (conId + SMART, TWS-PROTOCOL.md §6).</summary>
    public static TwsContract Contract { get; } = new()
    {
        ConId = 69067924,
        Symbol = "XAUUSD",
        SecType = "CMDTY",
        Exchange = "SMART",
        Currency = "USD",
    };

    public static async Task<PhaseResult> RunAsync(FakeTwsServer fake, BenchClock timeline, PhaseSettings settings, CancellationToken cancellationToken)
    {
        var total = settings.Warmup + settings.Samples;
        var client = new TwsClient(settings.Options, settings.ClientClock, NullLogger<TwsClient>.Instance);
        Task consumer = Task.CompletedTask;
        OrderReactor reactor;
        int requestsBefore;
        int framesBefore;
        double elapsedSeconds;
        try
        {
            var info = await client.ConnectAsync("127.0.0.1", fake.Port, settings.ClientId, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            var account = info.ManagedAccounts.Count > 0 ? info.ManagedAccounts[0] : "";
            reactor = new OrderReactor(client, Contract, account, ReqId, settings.PriceBase, total, settings.CancelEach, "bench" + settings.ClientId.ToString(CultureInfo.InvariantCulture));
            consumer = Task.Run(reactor.RunAsync, CancellationToken.None);
            requestsBefore = fake.RequestCount;
            framesBefore = fake.SentFrameCount;
            client.Send(TwsRequests.ReqMktData(ReqId, Contract));
            await Guard(reactor.Subscribed, consumer).WaitAsync(StepTimeout, cancellationToken).ConfigureAwait(false);

            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < total; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (settings.Gap > TimeSpan.Zero)
                {
                    await Task.Delay(settings.Gap, cancellationToken).ConfigureAwait(false);
                }

                var skip = fake.RequestCount;
                reactor.Arm(i);
                var bid = reactor.BidOf(i);
                fake.SetQuote(Symbol, bid, Math.Round(bid + 0.40, 2));
                var clientId = settings.ClientId;
                var placed = await Guard(fake.WaitForRequestAsync(r => r.MessageId == 3 && r.ClientId == clientId, StepTimeout, skip, cancellationToken), consumer)
                    .ConfigureAwait(false);
                var orderId = int.Parse(placed.Fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                if (settings.CancelEach)
                {
                    client.Send(TwsRequests.CancelOrder(orderId));
                }

                await Guard(reactor.WaitSettledAsync(orderId, StepTimeout, cancellationToken), consumer).ConfigureAwait(false);
            }

            elapsedSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
        finally
        {
            // Completes Events, which ends the consumer; then the consumer's fields may be read safely.
            await client.DisposeAsync().ConfigureAwait(false);
            await consumer.ConfigureAwait(false);
        }

        return Join(fake, timeline, settings, reactor, requestsBefore, framesBefore, elapsedSeconds);
    }

    private static PhaseResult Join(FakeTwsServer fake, BenchClock timeline, PhaseSettings s, OrderReactor reactor, int requestsBefore, int framesBefore, double elapsedSeconds)
    {
        var total = s.Warmup + s.Samples;
        var reqIdText = ReqId.ToString(CultureInfo.InvariantCulture);

        // When the fake queued the bid tickPrice (1|6|reqId|1|price|size|attr) of each sample to its socket writer.
        var tickQueued = new DateTimeOffset?[total];
        foreach (var f in fake.SentFrames.Skip(framesBefore))
        {
            if (f.MessageId == 1 && f.ClientId == s.ClientId && f.Fields.Count > 4 && f.Fields[2] == reqIdText && f.Fields[3] == "1"
                && double.TryParse(f.Fields[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var price))
            {
                var index = reactor.IndexOf(price);
                if (index >= 0 && index < total && tickQueued[index] is null)
                {
                    tickQueued[index] = f.SentAt;
                }
            }
        }

        // When the fake had read the whole placeOrder frame (logged before it is processed).
        var orderReceived = new DateTimeOffset?[total];
        var mismatches = 0;
        var prefix = reactor.OrderRefOf(0)[..^1];
        foreach (var r in fake.Requests.Skip(requestsBefore))
        {
            if (r.MessageId != 3 || r.ClientId != s.ClientId || r.Fields.Count <= 26 || !r.Fields[26].StartsWith(prefix, StringComparison.Ordinal)
                || !int.TryParse(r.Fields[26].AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= total)
            {
                continue;
            }

            if (r.Fields[1] != reactor.OrderIds[index].ToString(CultureInfo.InvariantCulture))
            {
                mismatches++;
                continue;
            }

            orderReceived[index] ??= r.ReceivedAt;
        }

        var e2e = new List<double>(s.Samples);
        var fakeToIngest = new List<double>(s.Samples);
        var ingestToRead = new List<double>(s.Samples);
        var readToQueued = new List<double>(s.Samples);
        var queuedToReceived = new List<double>(s.Samples);
        var inProcess = new List<double>(s.Samples);
        var incomplete = 0;
        for (var i = s.Warmup; i < total; i++)
        {
            if (tickQueued[i] is not { } q || orderReceived[i] is not { } rcv || reactor.SentAt[i] == 0)
            {
                incomplete++;
                continue;
            }

            var tq = timeline.Micros(q);
            var ingest = timeline.Micros(reactor.IngestedAt[i]);
            var read = timeline.Micros(reactor.ReadAt[i]);
            var queued = timeline.Micros(reactor.SentAt[i]);
            var received = timeline.Micros(rcv);
            e2e.Add(received - tq);
            fakeToIngest.Add(ingest - tq);
            ingestToRead.Add(read - ingest);
            readToQueued.Add(queued - read);
            queuedToReceived.Add(received - queued);
            inProcess.Add(queued - ingest);
        }

        return new PhaseResult(s, e2e.Count, incomplete, mismatches, elapsedSeconds, [.. e2e], [.. fakeToIngest], [.. ingestToRead], [.. readToQueued],
            [.. queuedToReceived], [.. inProcess], reactor.ErrorCodes, reactor.IgnoredTicks);
    }

    /// <summary>Awaits <paramref name="work"/>, but fails at once with the consumer's exception if the consumer dies first.</summary>
    private static async Task<T> Guard<T>(Task<T> work, Task consumer)
    {
        if (await Task.WhenAny(work, consumer).ConfigureAwait(false) != work)
        {
            await consumer.ConfigureAwait(false);
            throw new InvalidOperationException("the event consumer stopped before the step completed (client disconnected?)");
        }

        return await work.ConfigureAwait(false);
    }

    private static async Task Guard(Task work, Task consumer)
    {
        if (await Task.WhenAny(work, consumer).ConfigureAwait(false) != work)
        {
            await consumer.ConfigureAwait(false);
            throw new InvalidOperationException("the event consumer stopped before the step completed (client disconnected?)");
        }

        await work.ConfigureAwait(false);
    }
}
