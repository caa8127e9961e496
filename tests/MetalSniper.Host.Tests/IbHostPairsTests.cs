using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MetalSniper.Calendars;
using MetalSniper.Core.Time;
using MetalSniper.FakeTws;
using MetalSniper.Host.Configuration;
using MetalSniper.Engine.Pipeline;
using MetalSniper.InteractiveBrokers.Connection;
using MetalSniper.Pairs.Data;
using MetalSniper.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// The full host on Interactive Brokers (the fake TWS on 127.0.0.1) running both strategies at once: the metals strategy
/// on real hourly XAUUSD/XAGUSD bars and the dual-listing strategy on Shell A's two real lines — Euronext Amsterdam (AEB,
/// EUR) and London (LSE, in pence, price magnifier 100) — whose daily closes arrive as the bar ending at each venue's
/// close, with EURUSD and GBPUSD snapshots at 00:00 London. Pair orders go to the next opening auction (OPG).
/// </summary>
public sealed class IbHostPairsTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 23;
    private const string Account = "DU7654321";
    private static readonly TimeSpan BarSize = TimeSpan.FromHours(1);
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan LinkLimit = TimeSpan.FromSeconds(20);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    /// <summary>One daily row as the hourly bar that ends at the venue's close (prices in IB's unit: pence for LSE).</summary>
    private static IReadOnlyList<FakeBar> DailyAtClose(string file, string venue, DateOnly from, DateOnly to)
    {
        var calendar = new ExchangeCalendar();
        return [.. DailySeriesReader.Read(TestPaths.SharedDataFile("dual_listed/" + file)).Rows
            .Where(r => r.Date >= from && r.Date <= to)
            .Select(r => (r, s: calendar.Session(venue, r.Date)))
            .Where(x => x.s is not null)
            .Select(x => new FakeBar(x.s!.CloseUtc - BarSize, (double)x.r.Close, (double)x.r.Close, (double)x.r.Close, (double)x.r.Close))];
    }

    /// <summary>A daily FX snapshot (00:00 London) as the hourly bar that ends then.</summary>
    private static IReadOnlyList<FakeBar> FxSnapshots(string file, DateOnly from, DateOnly to)
    {
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        return [.. DailySeriesReader.Read(TestPaths.SharedDataFile("dual_listed/" + file)).Rows
            .Where(r => r.Date >= from && r.Date <= to && r.Date.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday))
            .Select(r =>
            {
                var local = r.Date.ToDateTime(TimeOnly.MinValue);
                var stamp = new DateTimeOffset(local, london.GetUtcOffset(local)).ToUniversalTime();
                return new FakeBar(stamp - BarSize, (double)r.Close, (double)r.Close, (double)r.Close, (double)r.Close);
            })];
    }

    [Fact]
    public async Task IbHost_MetalsAndShellAPairOnFakeTws_BothStrategiesTrade_PairLegsFillInTheirVenuesUnits()
    {
        var total = Stopwatch.StartNew();
        var marketClock = new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions { TimeProvider = marketClock, Accounts = [Account], FirstNextValidId = 5000 });
        var (from, to) = (new DateOnly(2019, 1, 2), new DateOnly(2019, 5, 31));
        var (fromUtc, toUtc) = (new DateTimeOffset(from.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), new DateTimeOffset(to.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
        var tape = new MarketTape(tws, new Dictionary<string, IReadOnlyList<FakeBar>>
        {
            ["XAUUSD"] = RecordedMetals.Read("xauusd_h1_utc.csv.gz", fromUtc, toUtc),
            ["XAGUSD"] = RecordedMetals.Read("xagusd_h1_utc.csv.gz", fromUtc, toUtc),
            ["RDSA"] = DailyAtClose("aex/RDSa.AS_2015-07_2020-06.csv", "AEX", from, to),
            ["RDSA.L"] = DailyAtClose("lse/RDSa.L_2015-07_2020-06.csv", "LSE", from, to),
            ["EUR.USD"] = FxSnapshots("fx/EURUSD_2015-07_2020-06.csv", from, to),
            ["GBP.USD"] = FxSnapshots("fx/GBPUSD_2015-07_2020-06.csv", from, to),
        }, BarSize);

        var config = _env.WriteConfig(j =>
        {
            j["Broker"] = new JsonObject
            {
                ["Kind"] = "InteractiveBrokers",
                ["InteractiveBrokers"] = new JsonObject
                {
                    ["Host"] = "127.0.0.1", ["Port"] = tws.Port, ["ClientId"] = ClientId, ["Account"] = Account, ["ConnectTimeoutSeconds"] = 5,
                    ["ReconnectWarmupSeconds"] = 1, ["ReconnectMinDelaySeconds"] = 0.2, ["ReconnectMaxDelaySeconds"] = 1, ["HeartbeatSeconds"] = 1, ["ReconcileTimeoutSeconds"] = 5,
                },
            };
            // Pair legs at the market, as this test pins them (the exit escalation has its own tests: IbExitEscalationTests).
            j["Execution"]!["ExitEscalation"] = new JsonObject { ["Enabled"] = false };
            j["MarketData"]!["Source"] = "InteractiveBrokers";
            j["MarketData"]!["InteractiveBrokers"] = new JsonObject { ["BarMinutes"] = 60, ["Symbols"] = new JsonArray("XAUUSD", "XAGUSD", "RDSA.AS", "RDSA.L", "EURUSD", "GBPUSD") };
            j["Risk"]!["Breakers"]!["Enabled"] = false;
            j["Risk"]!["RapidLossAmount"] = 0;
            j["Risk"]!["DailyLossLimit"] = 50000;
            j["Risk"]!["StaleDataAfter"] = "4.00:00:00"; // daily stock bars: a held leg has one price a day
            j["Risk"]!["Gates"]!["MaxOpenPositions"] = 6;
            j["Risk"]!["Gates"]!["MaxQuoteAge"] = "2.00:00:00";
            j["Account"]!["FxRates"] = new JsonArray(
                new JsonObject { ["Pair"] = "EURUSD", ["Rate"] = 1.13, ["AsOfUtc"] = "2019-01-02T00:00:00Z" },
                new JsonObject { ["Pair"] = "GBPUSD", ["Rate"] = 1.27, ["AsOfUtc"] = "2019-01-02T00:00:00Z" });
            j["SimulatedBroker"]!["Costs"]!["RDSA.AS"] = new JsonObject { ["DefaultSpread"] = 0.02, ["CommissionRate"] = 0.0005, ["MinimumCommission"] = 3.0 };
            j["SimulatedBroker"]!["Costs"]!["RDSA.L"] = new JsonObject { ["DefaultSpread"] = 0.01, ["CommissionRate"] = 0.0005, ["MinimumCommission"] = 3.0 };
            j["Strategies"]!["DualListing"] = new JsonObject { ["Enabled"] = true, ["FxSymbols"] = new JsonArray("EURUSD", "GBPUSD") };
            var pairs = new JsonObject();
            foreach (var name in new[] { "anglo", "glencore", "bat", "bp" })
            {
                pairs[name] = new JsonObject { ["Enabled"] = false };
            }

            // A short window: a 30-day statistics window and a 10-day z window, so that the pair trades within five months.
            j["DualListing"] = new JsonObject
            {
                ["Lookback"] = 30, ["RetestEvery"] = 10, ["ZWindow"] = 10, ["EntryZ"] = 1.5, ["ExitZ"] = 0.3, ["MaxHolding"] = 5,
                ["MaxPValue"] = 0.5, ["MaxHalfLife"] = 100, ["Pairs"] = pairs,
            };
        });
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton(marketClock);
                s.AddSingleton<TimeProvider>(marketClock);
                s.PostConfigure<BrokerOptions>(o => o.InteractiveBrokers.QuietWindows = ["00:00-00:00"]);
            },
        };

        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var probe = new HostProbe(host, () => tws.RequestCount);
        var db = new HostDatabase(_env.DatabasePath);
        await host.StartAsync(CancellationToken.None);
        try
        {
            await tws.WaitForClientAsync(ClientId, LinkLimit);
            await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
            await Eventually.Until(() => tws.Requests.Count(r => r.ClientId == ClientId && r.MessageId == 20) >= 6, "the host did not subscribe the six bar streams");
            await tws.FlushAsync();
            while (tape.Remaining > 0)
            {
                await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "stepping the tape");
            }

            await probe.CatchUpAsync(null, CatchUpLimit, "the end of the tape");
            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s: {tape.Stepped} bar times stepped");

            // Both strategies decided and traded.
            var kinds = db.Query<(string Source, string Kind, long N)>("SELECT source, kind, COUNT(*) FROM decisions GROUP BY source, kind ORDER BY 1, 2");
            output.WriteLine(string.Join("\n", kinds.Select(k => $"{k.Source} {k.Kind} {k.N}")));
            kinds.ShouldContain(k => k.Source == "strategy:metals" && k.Kind == "OpenHedge");
            kinds.ShouldContain(k => k.Source == "strategy:dual-listing" && k.Kind == "PairEntry");
            db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE kind = 'PairNotComparable' AND inputs_json NOT LIKE '%\"a\":%'").ShouldBe(0);

            // Pair legs: market orders to AEB in EUR and to LSE in pence (our GBP × the magnifier), filled there.
            var pairOrders = tws.Orders.Where(o => o.ClientId == ClientId && o.Symbol is "RDSA" or "RDSA.L").ToList();
            pairOrders.ShouldNotBeEmpty();
            // A leg whose venue is closed at the decision goes to the opening auction (OPG); one decided while it trades is a day
            // market order (here the hourly keepUpToDate stream completes a daily close bar only when the next one starts).
            pairOrders.ShouldAllBe(o => o.OrderType == "MKT" && (o.Tif == "OPG" || o.Tif == "DAY"));
            pairOrders.ShouldAllBe(o => o.Status == "Filled" || o.Status == "Submitted" || o.Status == "PreSubmitted");
            pairOrders.Select(o => o.Symbol).Distinct().Order(StringComparer.Ordinal).ShouldBe(["RDSA", "RDSA.L"]); // the AEB line and the LSE line
            var fills = db.Query<(string Symbol, string Price, string Ccy)>("""
                SELECT f.symbol, f.price, f.commission_ccy FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
                JOIN decisions d ON d.decision_id = o.decision_id WHERE d.source = 'strategy:dual-listing'
                """);
            fills.Select(f => f.Symbol).Distinct().Order().ShouldBe(["RDSA.AS", "RDSA.L"]);
            foreach (var f in fills.Where(f => f.Symbol == "RDSA.L"))
            {
                // Shell A traded at 2,300-2,700 pence in 2019: our fills are in GBP major units.
                decimal.Parse(f.Price, CultureInfo.InvariantCulture).ShouldBeInRange(15m, 35m);
            }
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }
}
