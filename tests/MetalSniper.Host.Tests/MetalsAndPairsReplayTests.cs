using System.Text.Json.Nodes;
using Dapper;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Both strategies in one service on the simulated broker: the metals strategy on the real hourly XAUUSD/XAGUSD bars of
/// 2019 and the dual-listing strategy on Shell A's real daily lines (Amsterdam in EUR, London in pence) with the EURUSD and
/// GBPUSD snapshots, all merged by bar close time through the same services as `run` (the causal replay scheduler).
/// </summary>
public sealed class MetalsAndPairsReplayTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    internal static void Configure(JsonObject j)
    {
        JsonObject File(string symbol, string path, bool daily = false, int interval = 60) =>
            daily ? new JsonObject { ["Symbol"] = symbol, ["Path"] = path, ["Daily"] = true } : new JsonObject { ["Symbol"] = symbol, ["Path"] = path, ["IntervalMinutes"] = interval };
        j["MarketData"]!["Replay"]!["FromUtc"] = "2019-01-01T00:00:00Z";
        j["MarketData"]!["Replay"]!["ToUtc"] = "2019-12-31T00:00:00Z";
        j["MarketData"]!["Replay"]!["Files"] = new JsonArray(
            File("XAUUSD", "metals/xauusd_h1_utc.csv.gz"), File("XAGUSD", "metals/xagusd_h1_utc.csv.gz"),
            File("RDSA.AS", "dual_listed/aex/RDSa.AS_2015-07_2020-06.csv", daily: true), File("RDSA.L", "dual_listed/lse/RDSa.L_2015-07_2020-06.csv", daily: true),
            File("EURUSD", "dual_listed/fx/EURUSD_2015-07_2020-06.csv", daily: true), File("GBPUSD", "dual_listed/fx/GBPUSD_2015-07_2020-06.csv", daily: true));
        j["SimulatedBroker"]!["Costs"]!["RDSA.AS"] = new JsonObject { ["DefaultSpread"] = 0.02, ["CommissionRate"] = 0.0005, ["MinimumCommission"] = 3.0 };
        j["SimulatedBroker"]!["Costs"]!["RDSA.L"] = new JsonObject { ["DefaultSpread"] = 0.01, ["CommissionRate"] = 0.0005, ["MinimumCommission"] = 3.0 };
        j["SimulatedBroker"]!["Costs"]!["EURUSD"] = new JsonObject { ["DefaultSpread"] = 0.0001, ["CommissionRate"] = 0.00002, ["MinimumCommission"] = 2.0 };
        j["SimulatedBroker"]!["Costs"]!["GBPUSD"] = new JsonObject { ["DefaultSpread"] = 0.0001, ["CommissionRate"] = 0.00002, ["MinimumCommission"] = 2.0 };
        j["Account"]!["FxRates"] = new JsonArray(
            new JsonObject { ["Pair"] = "EURUSD", ["Rate"] = 1.12, ["AsOfUtc"] = "2019-01-01T00:00:00Z" },
            new JsonObject { ["Pair"] = "GBPUSD", ["Rate"] = 1.28, ["AsOfUtc"] = "2019-01-01T00:00:00Z" });
        j["Risk"]!["Breakers"]!["MaxFxRateAge"] = "400.00:00:00"; // the configured rates are the year's; the strategy's own FX comes from the feed
        j["Risk"]!["Gates"]!["MaxOpenPositions"] = 6;
        j["Risk"]!["Gates"]!["MaxQuoteAge"] = "02:00:00"; // hourly metal bars
        j["Risk"]!["StaleDataAfter"] = "03:00:00";
        j["Strategies"]!["DualListing"] = new JsonObject { ["Enabled"] = true, ["FxSymbols"] = new JsonArray("EURUSD", "GBPUSD") };
        var pairs = new JsonObject();
        foreach (var name in new[] { "anglo", "glencore", "bat", "bp" })
        {
            pairs[name] = new JsonObject { ["Enabled"] = false };
        }

        j["DualListing"] = new JsonObject
        {
            ["Lookback"] = 60, ["RetestEvery"] = 20, ["ZWindow"] = 20, ["EntryZ"] = 1.5, ["ExitZ"] = 0.3, ["MaxHolding"] = 5,
            ["MaxPValue"] = 0.5, ["MaxHalfLife"] = 100, ["Pairs"] = pairs,
        };
    }

    [Fact]
    public async Task Replay_MetalsAndShellAPairTogether_OnTheSimulatedBroker_BothTrade_PairLegsFillAtTheNextOpen()
    {
        var config = _env.WriteConfig(Configure);
        var errors = new StringWriter();
        var (code, summary) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Error), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, errors.ToString());
        summary.ShouldNotBeNull();
        output.WriteLine(summary.Render());
        summary.BarsRejected.ShouldBe(0);

        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        var kinds = c.Query<(string Source, string Kind, long N)>("SELECT source, kind, COUNT(*) FROM decisions GROUP BY source, kind ORDER BY 1, 2").ToList();
        output.WriteLine(string.Join("\n", kinds.Select(k => $"{k.Source} {k.Kind} {k.N}")));
        output.WriteLine(string.Join("\n", c.Query<string>("SELECT event_utc || ' ' || reason FROM decisions WHERE kind IN ('PairLegUnwind') ORDER BY event_utc")));
        output.WriteLine(string.Join("\n", c.Query<string>("SELECT g.at_utc || ' ' || o.symbol || ' ' || o.side || ' ' || o.quantity || ' ' || o.purpose || ' ' || g.detail FROM gate_denials g JOIN orders o USING(client_order_id) WHERE o.symbol LIKE 'RDSA%'")));
        kinds.ShouldContain(k => k.Source == "strategy:metals" && k.Kind == "OpenHedge");
        kinds.ShouldContain(k => k.Source == "strategy:dual-listing" && k.Kind == "PairEntry");
        // The pair's legs are not refused for the age of their last close: an opening-auction order has no newer price.
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM gate_denials g JOIN orders o USING(client_order_id) WHERE o.symbol LIKE 'RDSA%' AND g.reason = 'StaleQuote'").ShouldBe(0);
        kinds.Where(k => k.Kind == "PairLegUnwind").Sum(k => k.N).ShouldBeLessThan(kinds.Where(k => k.Kind == "PairEntry").Sum(k => k.N));

        // Pair legs: market-on-open orders filled at a later bar of their own symbol, in EUR and GBP, joined to their decision.
        var legs = c.Query<(string Symbol, string Tif, string Status, string Decided, string Filled, string Ccy, string Kind)>("""
            SELECT o.symbol, o.time_in_force, o.status, o.decision_utc, f.event_utc, f.commission_ccy, d.kind FROM orders o
            JOIN decisions d ON d.decision_id = o.decision_id LEFT JOIN fills f ON f.client_order_id = o.client_order_id
            WHERE d.source = 'strategy:dual-listing'
            """).ToList();
        legs.ShouldNotBeEmpty();
        // Entries, exits and stops are decided on daily closes, so they go to the next opening auction. An unwind is decided when
        // a leg is refused or cancelled, which can happen in the session (a breaker halt cancels a working leg): then it is a
        // Day order on the open venue (with carry charged, the consecutive-loss breaker trips on 2019-05-07 at 14:00 UTC).
        legs.Where(l => l.Kind != "PairLegUnwind").ShouldAllBe(l => l.Tif == "AtTheOpen");
        legs.Where(l => l.Kind == "PairLegUnwind").ShouldAllBe(l => l.Tif == "AtTheOpen" || l.Tif == "Day");
        legs.Where(l => l.Filled != null).Select(l => l.Ccy).Distinct().Order().ShouldBe(["EUR", "GBP"]);
        legs.Where(l => l.Filled != null).ShouldAllBe(l => string.CompareOrdinal(l.Filled, l.Decided) > 0);
        // No pair is left with one leg: the book's two Shell lines are flat together or opposite.
        var pos = c.Query<(string Symbol, string Quantity)>("SELECT symbol, quantity FROM positions WHERE symbol IN ('RDSA.AS','RDSA.L')").ToDictionary(p => p.Symbol, p => decimal.Parse(p.Quantity, System.Globalization.CultureInfo.InvariantCulture));
        var (a, l) = (pos.GetValueOrDefault("RDSA.AS"), pos.GetValueOrDefault("RDSA.L"));
        (a == 0 && l == 0 || Math.Sign(a) == -Math.Sign(l)).ShouldBeTrue($"RDSA.AS {a}, RDSA.L {l}");
    }

    [Fact]
    public async Task Service_MetalsAndShellAPairTogether_OnTheReplayedFeedAndTheSimulatedBroker_BothStrategiesDecideAndFill()
    {
        // The service (run mode: its own threads, the paced feed) on the same data and configuration as the replay above.
        var config = _env.WriteConfig(j =>
        {
            Configure(j);
            j["MarketData"]!["Replay"]!["ToUtc"] = "2019-07-01T00:00:00Z";
            // 2,000 bars/s (the shipped pace is 10, a rehearsal a person can watch; this half year would take 10 minutes).
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 2000;
        });
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Error);
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var run = host.Services.GetRequiredService<RunContext>();
        await host.StartAsync(CancellationToken.None);
        try
        {
            await run.PipelineDrained.Task.WaitAsync(TimeSpan.FromMinutes(2));
            run.Faults.ShouldBeEmpty();
            output.WriteLine($"bars {run.BarsProcessed}, decisions {run.Decisions}, orders sent {run.OrdersSent}, denied {run.OrdersDenied}");
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }

        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        var sources = c.Query<(string Source, long N)>("SELECT d.source, COUNT(*) FROM fills f JOIN orders o USING(client_order_id) JOIN decisions d ON d.decision_id = o.decision_id GROUP BY d.source").ToDictionary(x => x.Source, x => x.N);
        output.WriteLine(string.Join(", ", sources.Select(kv => $"{kv.Key} {kv.Value} fills")));
        output.WriteLine(string.Join("\n", c.Query<string>("SELECT reason || ' ' || COUNT(*) || ' ' || MIN(detail) FROM gate_denials GROUP BY reason")));
        sources.GetValueOrDefault("strategy:metals").ShouldBeGreaterThan(0);
        sources.GetValueOrDefault("strategy:dual-listing").ShouldBeGreaterThan(0);
    }
}
