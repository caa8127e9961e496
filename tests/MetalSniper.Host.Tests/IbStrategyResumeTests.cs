using System.Globalization;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Time;
using MetalSniper.Engine.Pipeline;
using MetalSniper.FakeTws;
using MetalSniper.Host.Configuration;
using MetalSniper.InteractiveBrokers.Connection;
using MetalSniper.Strategies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Issue 18, the strategies across a restart on a live feed (IB broker and IB bars on the fake TWS, the whole host in process,
/// one real SQLite file): the brain records its inputs, and a restart re-executes the earlier run's through the same code, so
/// the strategy of the new run knows the position and the stop order it had. A bar after the restart that moves the stop
/// makes the NEW run modify the EARLIER run's order at IB. Before the re-execution the new run's strategy started cold and
/// did nothing with the stop (this test failed: no modification of the earlier order ever reached IB).
/// </summary>
public sealed class IbStrategyResumeTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 19;
    private const string Account = "DU1234567";
    private static readonly TimeSpan LinkLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(15);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private sealed record RunningHost(IHost Host, HostProbe Probe) : IAsyncDisposable
    {
        /// <summary>A graceful stop (what SIGTERM does): the stop stays working at IB.</summary>
        public async ValueTask DisposeAsync()
        {
            await Host.StopAsync(CancellationToken.None);
            Host.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    private async Task<RunningHost> StartHostAsync(FakeTwsServer tws, ReplayTimeProvider clock, string config, IStrategy strategy)
    {
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton(clock);
                s.AddSingleton<TimeProvider>(clock);
                s.PostConfigure<BrokerOptions>(o => o.InteractiveBrokers.QuietWindows = ["00:00-00:00"]);
                s.AddSingleton<IReadOnlyList<IStrategy>>([strategy]);
            },
        };
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var probe = new HostProbe(host, () => tws.RequestCount);
        await host.StartAsync(CancellationToken.None);
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
        await Eventually.Until(() => host.Services.GetRequiredService<BrainInputLog>().LastRestore is not null,
            () => "the brain's restore; faults: " + string.Join("; ", probe.Run.Faults.Select(f => $"{f.Service}: {f.Error}"))
                + "; alerts: " + string.Join("; ", host.Services.GetRequiredService<Engine.Alerts.AlertHub>().Recent(20).Select(a => $"{a.Level} {a.Kind} {a.Text}")),
            TimeSpan.FromSeconds(20));
        await tws.FlushAsync();
        return new RunningHost(host, probe);
    }

    /// <summary>The fake TWS on a market clock, three days of recorded 15-minute metals bars, the configuration and our database.</summary>
    private sealed record Market(ReplayTimeProvider Clock, FakeTwsServer Tws, MarketTape Tape, string Config, HostDatabase Db) : IAsyncDisposable
    {
        public static async Task<Market> StartAsync(TestEnvironment env)
        {
            var clock = new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
            var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions { TimeProvider = clock, Accounts = [Account], FirstNextValidId = 3000 });
            var from = new DateTimeOffset(2025, 9, 8, 0, 0, 0, TimeSpan.Zero);
            var tape = MarketTape.Metals15(tws, from, from.AddDays(3));
            var config = env.WriteConfig(j =>
            {
                FakeTwsConfig.UseFakeTws(j, tws.Port, ClientId, Account);
                FakeTwsConfig.LetSteppedTradesRun(j);
            });
            return new Market(clock, tws, tape, config, new HostDatabase(env.DatabasePath));
        }

        public ValueTask DisposeAsync() => Tws.DisposeAsync();
    }

    /// <summary>Steps bars until the strategy's protective sell stop works at IB (after the bar subscriptions are in place).</summary>
    private static async Task<FakeOrderSnapshot> StepToTheProtectiveStopAsync(Market market, RunningHost host)
    {
        await Eventually.Until(() => market.Tws.Requests.Count(r => r.ClientId == ClientId && r.MessageId == 20) >= 2, "the bar subscriptions");
        while (true)
        {
            market.Tape.Remaining.ShouldBeGreaterThan(0, "the strategy never had its protected position");
            await host.Probe.CatchUpAsync(market.Tape.Step(), CatchUpLimit, "stepping to the protected position");
            if (market.Tws.Orders.FirstOrDefault(o => o.ClientId == ClientId && o.OrderType == "STP" && o.Action == "SELL" && o.Status is "Submitted" or "PreSubmitted") is { } stop)
            {
                return stop;
            }
        }
    }

    [Fact]
    public async Task RestartWithASurvivorAndItsStopAtIb_TheNewRunsStrategyTrailsTheEarlierRunsStop()
    {
        await using var market = await Market.StartAsync(_env);
        var (clock, tws, tape, config, db) = (market.Clock, market.Tws, market.Tape, market.Config, market.Db);

        // The first run: long 20 oz with its stop working at IB, the stop trailed twice; then a SIGTERM-like stop.
        FakeOrderSnapshot stop;
        string firstRun;
        await using (var first = await StartHostAsync(tws, clock, config, new TrailingStopStrategy("XAUUSD", 20m)))
        {
            firstRun = first.Probe.Run.RunId;
            stop = await StepToTheProtectiveStopAsync(market, first);

            for (var i = 0; i < 2; i++)
            {
                await first.Probe.CatchUpAsync(tape.Step(), CatchUpLimit, "trailing the stop in the first run");
            }

            await Eventually.Until(() => db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }) == "Working", "the stop working in our database");
            await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE run_id=@run AND kind='MoveStop'", new { run = firstRun }) >= 2, "two trails in the first run");
        }

        var stopAfterFirstRun = tws.FindOrder(ClientId, stop.OrderId)!;
        stopAfterFirstRun.Status.ShouldBeOneOf("Submitted", "PreSubmitted");
        output.WriteLine($"first run {firstRun} ended with stop {stop.OrderId} '{stop.OrderRef}' SELL STP {stopAfterFirstRun.AuxPrice} x {stop.TotalQuantity} working at IB");

        // The restart: a new run with a new strategy instance (cold by construction), on the same database and IB.
        await using var second = await StartHostAsync(tws, clock, config, new TrailingStopStrategy("XAUUSD", 20m));
        var secondRun = second.Probe.Run.RunId;
        var requestsBefore = tws.RequestCount;
        await second.Probe.CatchUpAsync(tape.Step(), CatchUpLimit, "the first bar after the restart");
        await second.Probe.CatchUpAsync(tape.Step(), CatchUpLimit, "the second bar after the restart");

        // The new run decided to move the earlier run's stop, and the modification reached IB under the earlier order's id.
        await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE run_id=@run AND kind='MoveStop'", new { run = secondRun }) >= 1,
            "a MoveStop decision of the new run", TimeSpan.FromSeconds(10));
        await Eventually.Until(() => PlacedOrder.From(tws.Requests, ClientId).Any(p => p.Index >= requestsBefore && p.OrderId == stop.OrderId),
            "a modification of the earlier run's stop at IB", TimeSpan.FromSeconds(10));
        await Eventually.Until(() => tws.FindOrder(ClientId, stop.OrderId)!.AuxPrice > stopAfterFirstRun.AuxPrice, "the earlier run's stop moved up at IB", TimeSpan.FromSeconds(10));
        var moved = tws.FindOrder(ClientId, stop.OrderId)!;
        moved.Status.ShouldBeOneOf("Submitted", "PreSubmitted");
        output.WriteLine($"after the restart the new run {secondRun} moved stop {stop.OrderId} from {stopAfterFirstRun.AuxPrice} to {moved.AuxPrice}");

        // How: the brain re-executed the first run's inputs and made every decision and order again as recorded.
        var restore = second.Host.Services.GetRequiredService<BrainInputLog>().LastRestore!;
        output.WriteLine($"restore: {restore}");
        restore.Runs.ShouldBe(1);
        restore.Mismatches.ShouldBe(0, string.Join("; ", restore.Problems));
        restore.DecisionsVerified.ShouldBe(db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE run_id=@run AND source LIKE 'strategy:%'", new { run = firstRun }));
        restore.OrdersVerified.ShouldBe(db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE run_id=@run", new { run = firstRun }));
        restore.Inputs.ShouldBe(db.Scalar<long>("SELECT COUNT(*) FROM brain_inputs WHERE run_id=@run", new { run = firstRun }));
        restore.Bars.ShouldBeGreaterThan(0);

        // No second stop: the new run did not start over (no new entry, no new protective stop).
        tws.Orders.Count(o => o.ClientId == ClientId && o.OrderType == "STP").ShouldBe(1);
        db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE run_id=@run", new { run = secondRun }).ShouldBe(0);
        // The modification is recorded on the earlier run's order row.
        await Eventually.Until(() => decimal.Parse(db.Scalar<string>("SELECT stop_price FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }), CultureInfo.InvariantCulture) == (decimal)moved.AuxPrice!.Value,
            "the modification recorded on the earlier order's row", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task StopFilledWhileDown_TheRestoredStrategySeesItsFill_AndStartsOver()
    {
        await using var market = await Market.StartAsync(_env);
        var (clock, tws, tape, config, db) = (market.Clock, market.Tws, market.Tape, market.Config, market.Db);
        FakeOrderSnapshot stop;
        await using (var first = await StartHostAsync(tws, clock, config, new TrailingStopStrategy("XAUUSD", 20m)))
        {
            stop = await StepToTheProtectiveStopAsync(market, first);

            await Eventually.Until(() => db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }) == "Working", "the stop working in our database");
        }

        // While we are down the stop fills at IB, and two bars form.
        tws.FillOrder(ClientId, stop.OrderId, stop.TotalQuantity, stop.AuxPrice!.Value);
        tape.Step();
        tape.Step();

        await using var second = await StartHostAsync(tws, clock, config, new TrailingStopStrategy("XAUUSD", 20m));
        var secondRun = second.Probe.Run.RunId;
        second.Host.Services.GetRequiredService<BrainInputLog>().LastRestore!.Mismatches.ShouldBe(0);
        // The fill found by the reconciliation reached the strategy that owned the stop (an input of the new run), and the bars
        // formed while the process was down reached it from IB's history.
        await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM brain_inputs WHERE run_id=@run AND kind='OrderFilled'", new { run = secondRun }) == 1,
            "the stop's fill as an input of the new run", TimeSpan.FromSeconds(15));
        await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM brain_inputs WHERE run_id=@run AND kind='Bar' AND symbol='XAUUSD'", new { run = secondRun }) >= 1,
            "the bars formed while down", TimeSpan.FromSeconds(15));
        // Flat, the strategy starts over on the next bar: a new entry of the new run.
        await second.Probe.CatchUpAsync(tape.Step(), CatchUpLimit, "a bar after the restart");
        await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE run_id=@run AND kind='Entry'", new { run = secondRun }) >= 1,
            "a new entry of the new run (its strategy saw its stop fill)", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ARecordedDecisionThatTheReexecutionDoesNotMakeAgain_IsARedDivergenceNamingIt_AndTheServiceGoesOn()
    {
        await using var market = await Market.StartAsync(_env);
        var (clock, tws, tape, config, db) = (market.Clock, market.Tws, market.Tape, market.Config, market.Db);
        string firstRun;
        await using (var first = await StartHostAsync(tws, clock, config, new TrailingStopStrategy("XAUUSD", 20m)))
        {
            firstRun = first.Probe.Run.RunId;
            await Eventually.Until(() => tws.Requests.Count(r => r.ClientId == ClientId && r.MessageId == 20) >= 2, "the bar subscriptions");
            while (db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE run_id=@run AND kind='MoveStop'", new { run = firstRun }) < 1)
            {
                await first.Probe.CatchUpAsync(tape.Step(), CatchUpLimit, "stepping to a trail");
            }
        }

        // The record says the first trail had another reason than the code gives (a changed strategy, or a tampered record).
        var tampered = db.Scalar<string>("SELECT decision_id FROM decisions WHERE run_id=@run AND kind='MoveStop' ORDER BY decision_id LIMIT 1", new { run = firstRun });
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_env.DatabasePath};Mode=ReadWrite;Pooling=False"))
        {
            c.Open();
            using var update = c.CreateCommand();
            update.CommandText = "UPDATE decisions SET reason='test: trail somewhere else' WHERE decision_id=$id";
            update.Parameters.AddWithValue("$id", tampered);
            update.ExecuteNonQuery().ShouldBe(1);
        }

        await using var second = await StartHostAsync(tws, clock, config, new TrailingStopStrategy("XAUUSD", 20m));
        var restore = second.Host.Services.GetRequiredService<BrainInputLog>().LastRestore!;
        restore.Mismatches.ShouldBe(1);
        restore.Problems.ShouldHaveSingleItem().ShouldContain(tampered);
        second.Host.Services.GetRequiredService<Engine.Alerts.AlertHub>().Recent(1000)
            .ShouldContain(a => a.Level == Core.Alerts.AlertLevel.Red && a.Kind == "BrainDiverged" && a.Text.Contains(tampered, StringComparison.Ordinal), "no RED BrainDiverged naming the decision");
        // The run goes on from the re-executed state: its strategy trails the earlier stop on the next bar.
        await second.Probe.CatchUpAsync(tape.Step(), CatchUpLimit, "a bar after the restart");
        await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE run_id=@run AND kind='MoveStop'", new { run = second.Probe.Run.RunId }) >= 1,
            "a MoveStop of the new run", TimeSpan.FromSeconds(10));
    }
}

/// <summary>
/// A test strategy with a memory: buys once, protects the position with a far sell stop when the entry fills, and moves that
/// stop up by 1.00 on every later bar (a trail that always moves). Its stop fills: flat, it starts over on the next bar.
/// </summary>
internal sealed class TrailingStopStrategy(string symbol, decimal quantity) : IStrategy
{
    private ClientOrderId? _entry;
    private ClientOrderId? _stop;
    private decimal _stopPrice;
    private string? _decision;

    public string Name => "trailing-stop";

    public IReadOnlyCollection<string> Symbols => [symbol];

    public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
    {
        if (orderEvent.ClientOrderId == _entry)
        {
            if (orderEvent is OrderRejected or OrderDenied or OrderCancelled)
            {
                _entry = null;
            }
            else if (orderEvent is OrderFilled { Fill: var fill, LeavesQuantity: 0m })
            {
                _entry = null;
                _stopPrice = Math.Round(fill.Price * 0.5m, 2);
                _stop = context.Submit(_decision!, symbol, OrderSide.Sell, quantity, OrderType.Stop, null, _stopPrice, OrderPurpose.ProtectiveStop, orderEvent.EventTimeUtc);
            }
        }
        else if (orderEvent.ClientOrderId == _stop && orderEvent is OrderFilled { LeavesQuantity: 0m } or OrderCancelled or OrderRejected)
        {
            _stop = null;
        }
    }

    public void OnBar(Bar bar, IStrategyContext context)
    {
        if (_stop is { } stop)
        {
            _stopPrice += 1.00m;
            var d = context.Decide(symbol, DecisionKind.MoveStop, DecisionOutcome.Taken, string.Create(CultureInfo.InvariantCulture, $"test: trail to {_stopPrice}"), new Dictionary<string, string>(), bar.CloseTimeUtc);
            context.Modify(d, stop, _stopPrice, null);
            return;
        }

        if (_entry is not null || !context.Position(symbol).IsFlat || !context.IsMarketOpen(symbol, bar.CloseTimeUtc))
        {
            return;
        }

        _decision = context.Decide(symbol, DecisionKind.Entry, DecisionOutcome.Taken, "test: a protected position", new Dictionary<string, string>(), bar.CloseTimeUtc);
        _entry = context.Submit(_decision, symbol, OrderSide.Buy, quantity, OrderType.Market, null, null, OrderPurpose.Entry, bar.CloseTimeUtc);
    }
}
