using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Dapper;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Time;
using MetalSniper.FakeTws;
using MetalSniper.Engine.Pipeline;
using MetalSniper.InteractiveBrokers.Adapters;
using MetalSniper.InteractiveBrokers.Connection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MetalSniper.Host.Tests;

/// <summary>Real recorded 15-minute metals bars (shared/data/metals, gzip CSV: time,open,high,low,close,volume; time = bar open, UTC).</summary>
internal static class RecordedMetals
{
    public static IReadOnlyList<FakeBar> Read(string file, DateTimeOffset fromUtc, DateTimeOffset toUtc)
    {
        var path = TestPaths.SharedDataFile(Path.Combine("metals", file));
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        var header = reader.ReadLine();
        if (header is null || !header.StartsWith("time,open,high,low,close", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: unexpected header '{header}'");
        }

        var bars = new List<FakeBar>();
        while (reader.ReadLine() is { } line)
        {
            var f = line.Split(',');
            var time = DateTimeOffset.Parse(f[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            if (time < fromUtc)
            {
                continue;
            }

            if (time >= toUtc)
            {
                break;
            }

            static double D(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
            bars.Add(new FakeBar(time, D(f[1]), D(f[2]), D(f[3]), D(f[4])));
        }

        return bars;
    }
}

/// <summary>The configuration edits of a host on the fake TWS (test config from <see cref="TestEnvironment.WriteConfig"/>).</summary>
internal static class FakeTwsConfig
{
    /// <summary>
    /// The broker and the market data on the fake TWS at 127.0.0.1:<paramref name="port"/>, with short connect, warm-up,
    /// reconnect, heartbeat and reconciliation limits; 15-minute gold and silver bars from IB.
    /// </summary>
    public static void UseFakeTws(JsonObject j, int port, int clientId, string account, double warmupSeconds = 1, string brokerKind = "InteractiveBrokers")
    {
        j["Broker"] = new JsonObject
        {
            ["Kind"] = brokerKind,
            ["InteractiveBrokers"] = new JsonObject
            {
                ["Host"] = "127.0.0.1",
                ["Port"] = port,
                ["ClientId"] = clientId,
                ["Account"] = account,
                ["ConnectTimeoutSeconds"] = 5,
                ["ReconnectWarmupSeconds"] = warmupSeconds,
                ["ReconnectMinDelaySeconds"] = 0.2,
                ["ReconnectMaxDelaySeconds"] = 1,
                ["HeartbeatSeconds"] = 1,
                ["ReconcileTimeoutSeconds"] = 5,
            },
        };
        j["MarketData"]!["Source"] = "InteractiveBrokers";
        j["MarketData"]!["InteractiveBrokers"] = new JsonObject { ["BarMinutes"] = 15, ["Symbols"] = new JsonArray("XAUUSD", "XAGUSD") };

        // The tests of other behaviour send their exits and flattens at the market, as they did before the escalation (on by
        // default against IB): the escalation has its own tests (IbExitEscalationTests), which switch it back on.
        ((JsonObject)(j["Execution"] ??= new JsonObject()))["ExitEscalation"] = new JsonObject { ["Enabled"] = false };
    }

    /// <summary>
    /// The risk settings of a test that steps bars one at a time: breakers, rapid loss and the watchdog trail off, a wide daily
    /// limit, no brain heartbeat (the brain is idle between stepped bars). The risk layer has its own tests.
    /// </summary>
    public static void LetSteppedTradesRun(JsonObject j)
    {
        j["Risk"]!["Breakers"]!["Enabled"] = false;
        j["Risk"]!["RapidLossAmount"] = 0;
        j["Risk"]!["WatchdogTrailFraction"] = 0;
        j["Risk"]!["DailyLossLimit"] = 100000;
        j["Risk"]!["HeartbeatTimeout"] = "00:00:00";
    }
}

/// <summary>
/// Steps recorded bars through the fake TWS in time order: at each bar time only the symbols that have a bar then are
/// stepped (the two files do not share every timestamp), so the symbols never drift apart in market time.
/// </summary>
internal sealed class MarketTape
{
    private readonly FakeTwsServer _tws;
    private readonly List<(DateTimeOffset Time, List<string> Symbols)> _timeline;
    private readonly Dictionary<string, DateTimeOffset> _lastStepped = new(StringComparer.Ordinal);
    private readonly TimeSpan _interval;
    private int _next;

    /// <summary>The recorded 15-minute gold and silver bars from <paramref name="fromUtc"/> to <paramref name="toUtc"/>, loaded into the fake.</summary>
    public static MarketTape Metals15(FakeTwsServer tws, DateTimeOffset fromUtc, DateTimeOffset toUtc) => new(tws, new Dictionary<string, IReadOnlyList<FakeBar>>
    {
        ["XAUUSD"] = RecordedMetals.Read("xauusd_m15_utc.csv.gz", fromUtc, toUtc),
        ["XAGUSD"] = RecordedMetals.Read("xagusd_m15_utc.csv.gz", fromUtc, toUtc),
    }, TimeSpan.FromMinutes(15));

    public MarketTape(FakeTwsServer tws, IReadOnlyDictionary<string, IReadOnlyList<FakeBar>> bars, TimeSpan interval)
    {
        _tws = tws;
        _interval = interval;
        foreach (var (symbol, list) in bars)
        {
            tws.LoadBars(symbol, list);
        }

        _timeline = [.. bars.SelectMany(kv => kv.Value.Select(b => (b.StartUtc, Symbol: kv.Key)))
            .GroupBy(x => x.StartUtc)
            .OrderBy(g => g.Key)
            .Select(g => (g.Key, g.Select(x => x.Symbol).Order(StringComparer.Ordinal).ToList()))];
    }

    public int Stepped => _next;

    public int Remaining => _timeline.Count - _next;

    /// <summary>The market time of the last bar stepped (its open).</summary>
    public DateTimeOffset? LastBarTime => _next == 0 ? null : _timeline[_next - 1].Time;

    /// <summary>
    /// Steps the next bar time. Returns the close time of the latest bar this step completes at the host (the host's
    /// keepUpToDate source completes a bar when the next bar arrives), or null when no bar is completed by it.
    /// </summary>
    public DateTimeOffset? Step()
    {
        if (_next >= _timeline.Count)
        {
            throw new InvalidOperationException($"the tape is exhausted after {_timeline.Count} bar times (last {_timeline[^1].Time:O}); load a longer window");
        }

        var (time, symbols) = _timeline[_next++];
        DateTimeOffset? completes = null;
        foreach (var symbol in symbols)
        {
            if (_lastStepped.TryGetValue(symbol, out var previous))
            {
                var close = previous + _interval;
                completes = completes is { } c && c > close ? c : close;
            }

            _tws.StepBar(symbol).ShouldBeTrue($"the fake had no pending bar for {symbol} at {time:O}");
            _lastStepped[symbol] = time;
        }

        return completes;
    }
}

/// <summary>The host's insides the test watches: the market clock, the pipeline counters, the IB session and gateway.</summary>
internal sealed class HostProbe
{
    private static readonly TimeSpan SettleWindow = TimeSpan.FromMilliseconds(30);
    private readonly ConcurrentQueue<(IbStateChange Change, int RequestsAtChange)> _changes = new();
    private long _decisionsSeen;

    /// <param name="host">The built host (not yet started: no change is missed).</param>
    /// <param name="requestCount">The fake's request count, recorded at every state change: requests at or after it came after the change.</param>
    public HostProbe(IHost host, Func<int> requestCount)
    {
        Clock = host.Services.GetRequiredService<ReplayTimeProvider>();
        Run = host.Services.GetRequiredService<RunContext>();
        Ingest = host.Services.GetRequiredService<IngestCounters>();
        Channels = host.Services.GetRequiredService<PipelineChannels>();
        Session = host.Services.GetRequiredService<IbSession>();
        Gateway = host.Services.GetService<IbOrderGateway>()!; // none in shadow mode
        Session.Machine.Changed += c => _changes.Enqueue((c, requestCount()));
    }

    public ReplayTimeProvider Clock { get; }

    public RunContext Run { get; }

    public IngestCounters Ingest { get; }

    public PipelineChannels Channels { get; }

    public IbSession Session { get; }

    public IbOrderGateway Gateway { get; }

    public IReadOnlyList<IbStateChange> Changes => [.. _changes.Select(c => c.Change)];

    /// <summary>The fake's request count when <paramref name="change"/> happened.</summary>
    public int RequestsAt(IbStateChange change) => _changes.First(c => ReferenceEquals(c.Change, change)).RequestsAtChange;

    /// <summary>True when every bar ingested so far has been evaluated by the brain and the hands have no command queued.</summary>
    public bool PipelineIdle =>
        Run.BarsProcessed >= Ingest.Accepted && IsEmpty(Channels.Bars.Reader) && IsEmpty(Channels.Commands.Reader) && IsEmpty(Channels.RiskCommands.Reader);

    /// <summary>Waits until the state machine has moved to <paramref name="state"/> in a change after the first <paramref name="skip"/> changes.</summary>
    public async Task<IbStateChange> WaitForStateAsync(IbConnectionState state, int skip, TimeSpan timeout, string why, Func<Task>? meanwhile = null)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var found = Changes.Skip(skip).FirstOrDefault(c => c.To == state);
            if (found is not null)
            {
                return found;
            }

            sw.Elapsed.ShouldBeLessThan(timeout, $"{why}: the IB link never reached {state} within {timeout.TotalSeconds:0} s; changes so far: {Describe(Changes)}");
            if (meanwhile is not null)
            {
                await meanwhile();
            }
            else
            {
                await Task.Delay(5);
            }
        }
    }

    private static bool IsEmpty<T>(System.Threading.Channels.ChannelReader<T> reader) =>
        reader.CanCount ? reader.Count == 0 : !reader.CanPeek || !reader.TryPeek(out _);

    public static string Describe(IEnumerable<IbStateChange> changes) => string.Join("; ", changes.Select(c => $"{c.AtUtc:HH:mm:ss.fff} {c.From}->{c.To} ({c.Reason})"));

    /// <summary>
    /// Waits until the host has ingested the bar that closes at <paramref name="close"/> and the pipeline is idle. When the
    /// brain decided something since the last call, it also lets the hands settle (orders journaled, gated and sent take a
    /// durable journal write each): until the counts of orders sent and denied have not moved for a short while. The
    /// market does not wait for the host; this only keeps the run close to the same path each time.
    /// </summary>
    public async Task CatchUpAsync(DateTimeOffset? close, TimeSpan timeout, string why)
    {
        var sw = Stopwatch.StartNew();
        while (!((close is null || Clock.GetUtcNow() >= close) && PipelineIdle))
        {
            Run.Faults.ShouldBeEmpty($"{why}: the host faulted");
            sw.Elapsed.ShouldBeLessThan(timeout,
                $"{why}: the host did not catch up with the bar closing at {close:O} within {timeout.TotalSeconds:0} s (market clock {Clock.GetUtcNow():O}, ingested {Ingest.Accepted}, rejected {Ingest.Rejected}, evaluated {Run.BarsProcessed}; link {Session.Machine.Reason})");
            await Task.Delay(1);
        }

        if (Run.Decisions == _decisionsSeen)
        {
            return;
        }

        _decisionsSeen = Run.Decisions;
        var orders = (Run.OrdersSent, Run.OrdersDenied);
        var quiet = Stopwatch.StartNew();
        while (quiet.Elapsed < SettleWindow)
        {
            sw.Elapsed.ShouldBeLessThan(timeout, $"{why}: the hands never settled after the brain's decisions");
            await Task.Delay(2);
            var now = (Run.OrdersSent, Run.OrdersDenied);
            if (now != orders || !PipelineIdle)
            {
                orders = now;
                quiet.Restart();
            }
        }
    }
}

/// <summary>A placeOrder (message 3) as the fake received it; field positions as TWS-PROTOCOL.md §4.1 at server version 176.</summary>
internal sealed record PlacedOrder(int Index, FakeTwsRequest Request)
{
    public int OrderId => int.Parse(Request.Fields[1], CultureInfo.InvariantCulture);

    public string Symbol => Request.Fields[3];

    public string Action => Request.Fields[16];

    public string OrderType => Request.Fields[18];

    public string OrderRef => Request.Fields[26];

    public static IReadOnlyList<PlacedOrder> From(IReadOnlyList<FakeTwsRequest> requests, int clientId) =>
        [.. requests.Select((r, i) => (r, i)).Where(x => x.r.MessageId == 3 && x.r.ClientId == clientId).Select(x => new PlacedOrder(x.i, x.r))];

    public override string ToString() => $"#{Index} id {OrderId} {Action} {Symbol} {OrderType} ref '{OrderRef}' at {Request.ReceivedAt:HH:mm:ss.fff}";
}

/// <summary>Read-only queries of the host's database and journal while it runs and after it stopped.</summary>
internal sealed class HostDatabase(string databasePath)
{
    public string JournalPath { get; } = Path.Combine(Path.GetDirectoryName(databasePath)!, "journal.db");

    public T Scalar<T>(string sql, object? args = null)
    {
        using var c = Open(databasePath);
        return c.ExecuteScalar<T>(sql, args)!;
    }

    public IReadOnlyList<T> Query<T>(string sql, object? args = null)
    {
        using var c = Open(databasePath);
        return [.. c.Query<T>(sql, args)];
    }

    public IReadOnlyList<T> QueryJournal<T>(string sql, object? args = null)
    {
        using var c = Open(JournalPath);
        return [.. c.Query<T>(sql, args)];
    }

    /// <summary>Purpose of each order we recorded, by client order id (= orderRef at IB).</summary>
    public IReadOnlyDictionary<string, string> Purposes() =>
        Query<(string Id, string Purpose)>("SELECT client_order_id, purpose FROM orders").ToDictionary(x => x.Id, x => x.Purpose, StringComparer.Ordinal);

    /// <summary>Our net position per symbol (positions table), zero rows left out.</summary>
    public IReadOnlyDictionary<string, decimal> Positions() =>
        Query<(string Symbol, string Quantity)>("SELECT symbol, quantity FROM positions")
            .GroupBy(x => x.Symbol, StringComparer.Ordinal)
            .Select(g => (g.Key, Quantity: g.Sum(x => decimal.Parse(x.Quantity, NumberStyles.Float, CultureInfo.InvariantCulture))))
            .Where(x => x.Quantity != 0m)
            .ToDictionary(x => x.Key, x => x.Quantity, StringComparer.Ordinal);

    private static SqliteConnection Open(string path)
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        c.Execute("PRAGMA busy_timeout=5000;");
        return c;
    }
}
