using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Time;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel;
using MetalSniper.Strategies;
using MetalSniper.Host.Supervision;

namespace MetalSniper.Host.Cli;

/// <summary>
/// PERFORMANCE.md #3 (<c>metalsniper bench --sentinel</c>): the time from a breaching price reaching the
/// sentinel to the flatten order arriving at the gateway, through the real host (service mode, real
/// SQLite, the real execution side, the simulated broker with a timing tap). Each sample opens a
/// 10 oz gold position through the execution side, then sends a price 3 % below it: the sentinel's
/// watchdog trail (2 %) flattens it. Idle: nothing else runs. Loaded: the brain is saturated by a
/// strategy that burns CPU on every bar and a deep market-data backlog (200,000 silver bars queued)
/// keeps ingest, the brain and the execution side busy. Reports p50/p99/p99.9/max and loaded p99 / idle p99.
/// </summary>
public static class SentinelBench
{
    private const int Backlog = 200_000;
    private static readonly DateTimeOffset Base = new(2026, 3, 2, 23, 5, 0, TimeSpan.Zero); // Monday 18:05 New York: metals open for the next 23 hours

    /// <summary>Runs both scenarios and prints the figures.</summary>
    public static async Task<int> RunAsync(HostSettings settings, int samples, string? jsonPath, TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var inv = CultureInfo.InvariantCulture;
        samples = Math.Clamp(samples, 10, 600); // 2 minutes of market time each, inside one 23-hour metals session
        output.WriteLine($"sentinel breach -> flatten at the gateway, {samples} samples per scenario, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        var idle = await MeasureAsync(settings, samples, loaded: false, output, ct).ConfigureAwait(false);
        var loaded = await MeasureAsync(settings, samples, loaded: true, output, ct).ConfigureAwait(false);
        if (idle is null || loaded is null)
        {
            error.WriteLine("sentinel bench failed (see the log above)");
            return ExitCodes.Software;
        }

        var ratio = loaded.P99 / idle.P99;
        var pass = loaded.P99 <= 2.0 && ratio <= 2.0;
        output.WriteLine(string.Create(inv, $"loaded p99 {loaded.P99:0.000} ms (target ≤ 2 ms: {(loaded.P99 <= 2.0 ? "PASS" : "FAIL")}); loaded/idle p99 = {ratio:0.00} (gate ≤ 2: {(ratio <= 2.0 ? "PASS" : "FAIL")})"));
        if (jsonPath is not null)
        {
            var doc = new { idle, loaded, ratio, pass, cores = Environment.ProcessorCount, runtime = Environment.Version.ToString() };
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    /// <summary>Latency figures in milliseconds.</summary>
    /// <param name="Scenario">idle or loaded.</param>
    /// <param name="Samples">Samples taken.</param>
    /// <param name="P50">Median.</param>
    /// <param name="P99">99th percentile.</param>
    /// <param name="P999">99.9th percentile.</param>
    /// <param name="Max">Worst.</param>
    /// <param name="BacklogAtEnd">Bars still queued for the brain when the last sample was taken.</param>
    public sealed record Figures(string Scenario, int Samples, double P50, double P99, double P999, double Max, long BacklogAtEnd)
    {
        /// <summary>Median of the sentinel's own part: the price arriving to its order on the priority lane.</summary>
        public double SentinelP50 { get; init; }

        /// <summary>99th percentile of the sentinel's own part.</summary>
        public double SentinelP99 { get; init; }

        /// <summary>Samples during which a gen0 (or higher) collection ran.</summary>
        public int SamplesWithGc { get; init; }

        /// <summary>99th percentile of the samples without a collection.</summary>
        public double P99WithoutGc { get; init; }
    }

    private static async Task<Figures?> MeasureAsync(HostSettings settings, int samples, bool loaded, TextWriter output, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("metalsniper-sentinel-bench-");
        try
        {
            var source = new BacklogSource(loaded ? Backlog : 0);
            GatewayTap? tap = null;
            OutboxTap? outbox = null;
            var extra = new Dictionary<string, string?>(settings.ExtraSettings ?? new Dictionary<string, string?>())
            {
                ["Risk:DailyLossLimit"] = "10000000",
                ["Risk:RapidLossAmount"] = "0",
                ["Risk:WatchdogTrailFraction"] = "0.02",
                ["Risk:StaleDataAfter"] = "00:00:00",
                ["Risk:HeartbeatTimeout"] = "00:00:00",
                ["Risk:Breakers:Enabled"] = "false",
                ["Risk:Gates:SourceCooldown"] = "00:00:00",
                ["Risk:Gates:MaxOrdersPerWindow"] = "100000",
                ["Risk:KillFilePath"] = Path.Combine(dir.FullName, "KILL"),
                ["MarketData:ChannelCapacity"] = "262144",
            };
            var s = settings with
            {
                Mode = RunMode.Service,
                DatabasePathOverride = Path.Combine(dir.FullName, "bench.db"),
                ExtraSettings = extra,
                ConfigureServices = services =>
                {
                    services.AddSingleton<IMarketDataSource>(source);
                    services.AddSingleton<IReadOnlyList<IStrategy>>(loaded ? [new CpuBurner("XAGUSD", TimeSpan.FromMicroseconds(50))] : []);
                    services.AddSingleton<ISentinelOutbox>(sp => outbox = new OutboxTap(ActivatorUtilities.CreateInstance<Engine.Services.SentinelOutbox>(sp)));
                    var original = services.Last(d => d.ServiceType == typeof(IOrderGateway));
                    services.Remove(original);
                    services.AddSingleton<IOrderGateway>(sp => tap = new GatewayTap((IBarMatchingGateway)original.ImplementationFactory!(sp)));
                },
            };

            var configuration = Composition.LoadConfiguration(s);
            using var host = Composition.BuildHost(s, configuration);
            await host.StartAsync(ct).ConfigureAwait(false);
            var sp = host.Services;
            var channels = sp.GetRequiredService<PipelineChannels>();
            var sentinel = sp.GetRequiredService<RiskSentinel>();
            var clock = sp.GetRequiredService<ReplayTimeProvider>();
            var run = sp.GetRequiredService<RunContext>();
            var risk = channels.RiskCommands.Writer;
            if (loaded)
            {
                source.Release();
                await WaitAsync(() => channels.Bars.Reader.Count >= Backlog / 2, TimeSpan.FromSeconds(30), "the backlog to build").ConfigureAwait(false);
            }

            var gc0 = GC.CollectionCount(0);
            var gc2 = GC.CollectionCount(2);
            var pause0 = GC.GetTotalPauseDuration();
            var latencies = new List<double>(samples);
            var sentinelPart = new List<double>(samples);
            var withoutGc = new List<double>(samples);
            var lanePart = new List<double>(samples);
            var hands = sp.GetRequiredService<Engine.Services.ExecutionService>();
            var price = 2900m;
            for (var i = 0; i < samples + 20; i++)
            {
                // Open: a market entry (the previous bar is its quote; the first sample primes one), the bar that fills it.
                var t = Base.AddMinutes(2 * i);
                clock.AdvanceTo(t);
                sentinel.OnPrice("XAUUSD", price, t);
                if (i == 0)
                {
                    risk.TryWrite(new ApplyBar(BarAt(t.AddMinutes(-2), price)));
                }

                var decision = new DecisionRecord($"bench-d{i}", "bench", "XAUUSD", DecisionKind.OpenHedge, DecisionOutcome.Taken, "sentinel benchmark entry", new Dictionary<string, string>(), t, t);
                var entry = new SubmitOrder(new ClientOrderId($"bench-o{i}"), decision.DecisionId, "XAUUSD", OrderSide.Buy, 10m, OrderType.Market, null, null, OrderPurpose.Entry, t.AddMinutes(-1), TimeInForce.Gtc, "bench");
                risk.TryWrite(new SubmitCommand(entry, decision));
                risk.TryWrite(new ApplyBar(BarAt(t.AddMinutes(-1), price)));
                await WaitAsync(() => sentinel.Book.Positions.Any(p => p.Symbol == "XAUUSD" && p.Quantity == 10m), TimeSpan.FromSeconds(10), "the entry to fill").ConfigureAwait(false);

                // Breach: the price falls 3 %; the sentinel's 2 % watchdog trail must flatten it.
                // The bench thread blocks (no spinning) so it does not take a core from the system under test.
                var before = tap!.Flattens.Count;
                tap.Arrived.Reset();
                var gcBefore = GC.CollectionCount(0);
                var start = Stopwatch.GetTimestamp();
                sentinel.OnPrice("XAUUSD", price * 0.97m, t);
                if (!tap.Arrived.Wait(TimeSpan.FromSeconds(10), ct) || tap.Flattens.Count <= before)
                {
                    throw new TimeoutException($"sentinel bench: no flatten reached the gateway within 10 s (sample {i}, flattens {tap.Flattens.Count} before {before}, "
                        + $"last sentinel order {Stopwatch.GetElapsedTime(start, outbox!.LastSend).TotalMilliseconds:0.000} ms after the breach, trips {sentinel.Trips.Count}: {sentinel.Trips.LastOrDefault()}, "
                        + $"book {string.Join(", ", sentinel.Book.Positions.Select(p => $"{p.Symbol} {p.Quantity}"))} v{sentinel.Book.Version} flattens working [{string.Join(",", sentinel.Book.WorkingFlattens)}])");
                }

                var arrived = tap.Flattens.Last();
                if (i >= 20)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(start, arrived).TotalMilliseconds);
                    sentinelPart.Add(Stopwatch.GetElapsedTime(start, outbox!.LastSend).TotalMilliseconds);
                    lanePart.Add(Stopwatch.GetElapsedTime(outbox.LastSend, hands.LastRiskCommandTakenUp).TotalMilliseconds);
                    if (GC.CollectionCount(0) == gcBefore)
                    {
                        withoutGc.Add(latencies[^1]);
                    }
                }

                // Close it: the next bar fills the flatten.
                clock.AdvanceTo(t.AddMinutes(1));
                risk.TryWrite(new ApplyBar(BarAt(t, price * 0.97m)));
                await WaitAsync(() => sentinel.Book.Positions.All(p => p.Symbol != "XAUUSD" || p.IsFlat), TimeSpan.FromSeconds(10), "the flatten to fill").ConfigureAwait(false);
            }

            var backlog = channels.Bars.Reader.Count;
            output.WriteLine($"        GC during the samples: {GC.CollectionCount(0) - gc0} gen0, {GC.CollectionCount(2) - gc2} gen2, pauses {(GC.GetTotalPauseDuration() - pause0).TotalMilliseconds:0.0} ms in total");
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            if (run.Faults.Count > 0)
            {
                output.WriteLine($"bench host faulted: {run.Faults[0].Service}: {run.Faults[0].Error.Message}");
                return null;
            }

            latencies.Sort();
            sentinelPart.Sort();
            withoutGc.Sort();
            lanePart.Sort();
            static double P(List<double> xs, double q) => xs[Math.Min(xs.Count - 1, (int)Math.Ceiling(q * xs.Count) - 1)];
            var f = new Figures(loaded ? "loaded" : "idle", latencies.Count, P(latencies, 0.50), P(latencies, 0.99), P(latencies, 0.999), latencies[^1], backlog)
            {
                SentinelP50 = P(sentinelPart, 0.50),
                SentinelP99 = P(sentinelPart, 0.99),
                SamplesWithGc = latencies.Count - withoutGc.Count,
                P99WithoutGc = withoutGc.Count > 0 ? P(withoutGc, 0.99) : double.NaN,
            };
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{f.Scenario,-6}: p50 {f.P50:0.000} ms, p99 {f.P99:0.000} ms, p99.9 {f.P999:0.000} ms, max {f.Max:0.000} ms ({f.Samples} samples{(loaded ? $"; brain saturated, {backlog:N0} bars still queued at the end" : "")})"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"        of which price -> sentinel's order on the priority lane: p50 {f.SentinelP50:0.000} ms, p99 {f.SentinelP99:0.000} ms; the rest is the lane and the execution side"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"        priority lane -> taken up by the execution thread: p50 {P(lanePart, 0.5):0.000} ms, p99 {P(lanePart, 0.99):0.000} ms\n        {f.SamplesWithGc} sample(s) overlapped a garbage collection; p99 of the others {f.P99WithoutGc:0.000} ms"));
            return f;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
        }
    }

    private static Bar BarAt(DateTimeOffset open, decimal price) => new("XAUUSD", open, TimeSpan.FromMinutes(1), price, price, price, price, 0m, 0.3m, open.AddMinutes(1));

    private static async Task WaitAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(start) > timeout)
            {
                throw new TimeoutException($"sentinel bench: timed out waiting for {what}");
            }

            await Task.Delay(1).ConfigureAwait(false);
        }
    }

    /// <summary>The real outbox with a clock on the sentinel's orders.</summary>
    private sealed class OutboxTap(ISentinelOutbox inner) : ISentinelOutbox
    {
        private long _lastSend;

        public long LastSend => Interlocked.Read(ref _lastSend);

        public void Send(DecisionRecord decision, SubmitOrder order)
        {
            Interlocked.Exchange(ref _lastSend, Stopwatch.GetTimestamp());
            inner.Send(decision, order);
        }

        public void HaltEntries(DecisionRecord decision) => inner.HaltEntries(decision);
    }

    /// <summary>The simulated gateway with a clock on flatten orders.</summary>
    private sealed class GatewayTap(IBarMatchingGateway inner) : IBarMatchingGateway
    {
        public ConcurrentQueue<long> Flattens { get; } = new();

        public ManualResetEventSlim Arrived { get; } = new(false, spinCount: 0);

        public string Name => inner.Name;

        public System.Threading.Channels.ChannelReader<OrderEvent> Events => inner.Events;

        public ValueTask SubmitAsync(SubmitOrder order, CancellationToken cancellationToken)
        {
            if (order.Purpose == OrderPurpose.RiskFlatten)
            {
                Flattens.Enqueue(Stopwatch.GetTimestamp());
                Arrived.Set();
            }

            return inner.SubmitAsync(order, cancellationToken);
        }

        public ValueTask CancelAsync(CancelOrder cancel, CancellationToken cancellationToken) => inner.CancelAsync(cancel, cancellationToken);

        public ValueTask ModifyAsync(ModifyOrder modify, CancellationToken cancellationToken) => inner.ModifyAsync(modify, cancellationToken);

        public Task<IReadOnlyList<BrokerPosition>> GetPositionsAsync(CancellationToken cancellationToken) => inner.GetPositionsAsync(cancellationToken);

        public Task<IReadOnlyList<BrokerOrder>> GetOpenOrdersAsync(CancellationToken cancellationToken) => inner.GetOpenOrdersAsync(cancellationToken);

        public void OnBar(Bar bar) => inner.OnBar(bar);

        public void FlushRecords() => inner.FlushRecords();
    }

    /// <summary>Silver bars from 2020 (long before the samples' clock), released on demand; the stream stays open until the host stops.</summary>
    private sealed class BacklogSource(int bars) : IMarketDataSource
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "bench-backlog";

        public bool IsReplay => true;

        public void Release() => _release.TrySetResult();

        public async IAsyncEnumerable<MarketDataRecord> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (bars > 0)
            {
                await _release.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                var start = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
                for (var i = 0; i < bars; i++)
                {
                    var p = 18.0 + (0.01 * (i % 100));
                    yield return new RawBarRecord(new RawBar(Name, i + 1, "XAGUSD", start.AddMinutes(i), TimeSpan.FromMinutes(1), p, p + 0.01, p - 0.01, p, 1, 0.02));
                }
            }

            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A strategy that only burns CPU on each bar: a saturated brain.</summary>
    private sealed class CpuBurner(string symbol, TimeSpan perBar) : IStrategy
    {
        public string Name => "cpu-burner";

        public IReadOnlyCollection<string> Symbols => [symbol];

        public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
        {
        }

        public void OnBar(Bar bar, IStrategyContext context)
        {
            var until = Stopwatch.GetTimestamp() + (long)(perBar.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < until)
            {
                Thread.SpinWait(20);
            }
        }
    }
}
