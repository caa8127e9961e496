using System.Diagnostics;
using Dapper;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Engine.Services;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;
using MetalSniper.Strategies;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

public sealed class RiskLayerTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public async Task BrainFrozen_SentinelStillFlattensALosingPositionWithinItsSweepPeriod_AndTheOrderReachesTheGateway()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 5; // few feed prices to race the test's crash price
            j["MarketData"]!["Replay"]!["ServiceScheduler"] = "Threaded"; // the live pipeline's threads and independent sentinel, on recorded data
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-02T12:00:00Z";
            j["Risk"]!["DailyLossLimit"] = 5000;
            j["Risk"]!["RapidLossAmount"] = 0;
            j["Risk"]!["WatchdogTrailFraction"] = 0;
            j["Risk"]!["SweepIntervalMilliseconds"] = 1000;
            j["Risk"]!["HeartbeatTimeout"] = "00:00:02";
            j["Risk"]!["Breakers"]!["Enabled"] = false;
        });
        var freezer = new FreezingStrategy("XAUUSD", 20m);
        TappedGateway? gateway = null;
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton<IReadOnlyList<IStrategy>>([freezer]);
                TappedGateway.Install(s, g => gateway = g);
            },
        };
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        await host.StartAsync(CancellationToken.None);
        try
        {
            freezer.Frozen.Wait(TimeSpan.FromSeconds(30)).ShouldBeTrue("the strategy never opened its position and froze the brain");
            var sentinel = host.Services.GetRequiredService<RiskSentinel>();
            var clock = host.Services.GetRequiredService<TimeProvider>();

            // The live feed (here: the test) sends a crash price of the held instrument; the brain is blocked.
            var start = Stopwatch.GetTimestamp();
            sentinel.OnPrice("XAUUSD", 1000m, clock.GetUtcNow());
            (SubmitOrder Order, long Timestamp) flatten = default;
            await Eventually.Until(() => gateway!.Submitted.Any(s => s.Order.Purpose == OrderPurpose.RiskFlatten), "a flatten at the gateway",
                TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(1));

            flatten = gateway!.Submitted.First(s => s.Order.Purpose == OrderPurpose.RiskFlatten);
            var latency = Stopwatch.GetElapsedTime(start, flatten.Timestamp);
            output.WriteLine($"breach -> flatten at the gateway with the brain frozen: {latency.TotalMilliseconds:0.000} ms");
            latency.ShouldBeLessThan(TimeSpan.FromSeconds(1), "the flatten must arrive within the sentinel's sweep period (1 s here)");
            freezer.Release.IsSet.ShouldBeFalse();
            flatten.Order.Side.ShouldBe(OrderSide.Sell);
            flatten.Order.Quantity.ShouldBe(20m);
            flatten.Order.Source.ShouldBe("sentinel");

            // The frozen brain also stops beating: the sentinel latches L1 on its own.
            var kill = host.Services.GetRequiredService<KillSwitch>();
            await Eventually.Until(() => kill.State.LatchedLevel >= KillLevel.NoEntries, "the missed brain heartbeat to latch L1",
                TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));

            kill.State.LatchedReason.ShouldContain("missed heartbeat: brain");
        }
        finally
        {
            freezer.Release.Set();
            await host.StopAsync(CancellationToken.None);
        }

        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        foreach (var row in c.Query<(string, string, string, string, string)>("SELECT event_utc, recorded_utc, source, kind, reason FROM decisions ORDER BY rowid"))
        {
            output.WriteLine(row.ToString());
        }

        c.ExecuteScalar<string>("SELECT status FROM orders WHERE purpose='RiskFlatten'").ShouldNotBe("PendingSubmit");
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM orders WHERE purpose='RiskFlatten'").ShouldBe(1);
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM decisions d JOIN orders o ON o.decision_id=d.decision_id WHERE d.kind='DailyLossFlatten'").ShouldBe(1);
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM halts WHERE scope='service' AND action='Escalate' AND source='sentinel:heartbeat'").ShouldBe(1);
    }

    [Fact]
    public async Task BrokerBudget_EntriesArePacedByTheGeneralShare_ARiskMessageOvertakesThemAtOnce()
    {
        var config = _env.WriteConfig(j =>
        {
            // Market time moves on with the feed while the entries wait for the budget (and a feed held back by the pipeline
            // catches up at once): at 10 bars/s the 81 hours to Friday's close (the weekend's closed-market denials) take 32 s
            // of wall time, far more than the ~3 s of pacing even on a loaded machine. At 50 bars/s (and a 1-day quote age) a
            // loaded CI run once never sent the six waiting entries; market time outrunning the gates is the likely cause, and
            // a failure now names the denials and halts the database holds.
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 10;
            j["MarketData"]!["Replay"]!["ServiceScheduler"] = "Threaded"; // the live pipeline's threads and independent sentinel, on recorded data
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-02T12:00:00Z";
            j["Risk"]!["Gates"]!["SourceCooldown"] = "00:00:00";
            j["Risk"]!["Gates"]!["MaxQuoteAge"] = "30.00:00:00"; // the entries' quotes age in market time while they wait
        });
        TappedGateway? gateway = null;
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton<IReadOnlyList<IStrategy>>([new BurstStrategy("XAUUSD", 8)]);
                TappedGateway.Install(s, g => gateway = g, inner => new TappedGateway(inner) { MessageLimit = (4, 2) }); // 2 msg/s general, 2 reserved
            },
        };
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        await host.StartAsync(CancellationToken.None);
        try
        {
            var sw = Stopwatch.StartNew();
            await Eventually.Until(() => gateway is not null && gateway.Submitted.Count >= 2, "the first entries at the gateway",
                TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(5));

            // The general share is spent; six entries wait. A cancel (a risk message) must not wait behind them.
            var first = gateway!.Submitted.First().Order.ClientOrderId;
            var channels = host.Services.GetRequiredService<PipelineChannels>();
            var start = Stopwatch.GetTimestamp();
            channels.RiskCommands.Writer.TryWrite(new CancelCommand(new CancelOrder(first, "test-cancel", "test: risk message"))).ShouldBeTrue();
            await Eventually.Until(() => !gateway.Cancelled.IsEmpty, "the cancel at the gateway (it must not wait behind the paced entries)",
                TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(1));

            var cancelLatency = Stopwatch.GetElapsedTime(start, gateway.Cancelled.First().Timestamp);
            var entriesAtCancel = gateway.Submitted.Count(x => x.Timestamp <= gateway.Cancelled.First().Timestamp);
            output.WriteLine($"cancel reached the gateway after {cancelLatency.TotalMilliseconds:0.0} ms with {entriesAtCancel} of 8 entries sent");
            entriesAtCancel.ShouldBeLessThan(8);
            cancelLatency.ShouldBeLessThan(TimeSpan.FromMilliseconds(250));

            await Eventually.Until(() => gateway.Submitted.Count >= 8, () => $"all 8 paced entries at the gateway ({gateway.Submitted.Count} there; execution heartbeat {host.Services.GetRequiredService<ExecutionService>().Heartbeat}; kill: {host.Services.GetRequiredService<KillSwitch>().State.Describe(host.Services.GetRequiredService<TimeProvider>().GetUtcNow())}; {DenialsAndHalts()})",
                TimeSpan.FromSeconds(30) - sw.Elapsed, TimeSpan.FromMilliseconds(10));

            var sent = gateway.Submitted.Select(x => x.Timestamp).ToList();
            var spread = Stopwatch.GetElapsedTime(sent[0], sent[^1]);
            output.WriteLine($"8 entries went out over {spread.TotalSeconds:0.00} s");
            spread.ShouldBeGreaterThan(TimeSpan.FromSeconds(2.5)); // 2 at once, then 6 at 2 per second
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>What the database says about refused entries and halts (for a failure's message).</summary>
    private string DenialsAndHalts()
    {
        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Mode=ReadWrite");
        var denials = c.Query<string>("SELECT gate || ': ' || reason || ' ' || detail FROM gate_denials ORDER BY id LIMIT 5");
        var halts = c.Query<string>("SELECT action || ' ' || scope || ' ' || source || ': ' || reason FROM halts ORDER BY seq LIMIT 5");
        return $"denials [{string.Join("; ", denials)}], halts [{string.Join("; ", halts)}]";
    }
}
