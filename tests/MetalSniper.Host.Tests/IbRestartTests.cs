using System.Text.Json.Nodes;
using MetalSniper.Core.Time;
using MetalSniper.Engine.Alerts;
using MetalSniper.Engine.Pipeline;
using MetalSniper.FakeTws;
using MetalSniper.Host.Configuration;
using MetalSniper.InteractiveBrokers.Connection;
using MetalSniper.Operator;
using MetalSniper.Strategies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Issue 18 item 1 on the fake TWS, through the whole host: a restart on the same database (after a SIGTERM, which leaves
/// the protective stops working at IB) takes the earlier run's orders and book over — our stops are ours, not external; a
/// stop that filled while the host was down is recorded once and our book equals IB's; a kill L2 after the restart
/// cancels the earlier run's stops first and IB ends flat, never reversed.
/// </summary>
public sealed class IbRestartTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 17;
    private const string Account = "DU1234567";
    private static readonly TimeSpan LinkLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(15);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    /// <summary>The fake TWS (it outlives the hosts, as IB outlives our process), the market tape and clock, our database and the config.</summary>
    private sealed record Market(FakeTwsServer Tws, MarketTape Tape, ReplayTimeProvider Clock, HostDatabase Db, string Config) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await Tws.DisposeAsync();
    }

    private sealed record RunningHost(IHost Host, HostProbe Probe) : IAsyncDisposable
    {
        public AlertHub Alerts => Host.Services.GetRequiredService<AlertHub>();

        /// <summary>A graceful stop (what SIGTERM does): the protective stops stay working at IB.</summary>
        public async ValueTask DisposeAsync()
        {
            await Host.StopAsync(CancellationToken.None);
            Host.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    private async Task<Market> OpenMarketAsync()
    {
        var clock = new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions { TimeProvider = clock, Accounts = [Account], FirstNextValidId = 1000 });
        var from = new DateTimeOffset(2025, 9, 8, 0, 0, 0, TimeSpan.Zero);
        var tape = MarketTape.Metals15(tws, from, from.AddDays(3));
        var config = _env.WriteConfig(j =>
        {
            FakeTwsConfig.UseFakeTws(j, tws.Port, ClientId, Account);
            FakeTwsConfig.LetSteppedTradesRun(j);
        });
        return new Market(tws, tape, clock, new HostDatabase(_env.DatabasePath), config);
    }

    /// <summary>A host (a new run) on the market's fake TWS and our one database; waits for the first reconciliation (FULLY_LIVE).</summary>
    private async Task<RunningHost> StartHostAsync(Market m, IReadOnlyList<IStrategy> strategies)
    {
        var settings = new HostSettings(m.Config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton(m.Clock);
                s.AddSingleton<TimeProvider>(m.Clock);
                s.PostConfigure<BrokerOptions>(o => o.InteractiveBrokers.QuietWindows = ["00:00-00:00"]);
                s.AddSingleton(strategies);
            },
        };
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var probe = new HostProbe(host, () => m.Tws.RequestCount);
        await host.StartAsync(CancellationToken.None);
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
        await m.Tws.FlushAsync();
        return new RunningHost(host, probe);
    }

    /// <summary>The first run: steps the market until it holds 20 oz of gold protected by a sell stop working at IB; then a SIGTERM-like stop.</summary>
    private async Task<FakeOrderSnapshot> FirstRunHoldingAProtectedPositionAsync(Market m)
    {
        FakeOrderSnapshot? stop = null;
        await using (var first = await StartHostAsync(m, [new ProtectedEntryStrategy("XAUUSD", 20m)]))
        {
            await Eventually.Until(() => m.Tws.Requests.Count(r => r.ClientId == ClientId && r.MessageId == 20) >= 2, "the bar subscriptions");
            while (stop is null)
            {
                m.Tape.Remaining.ShouldBeGreaterThan(0, "the strategy never had its protected position");
                await first.Probe.CatchUpAsync(m.Tape.Step(), CatchUpLimit, "stepping to the protected position");
                stop = m.Tws.Orders.FirstOrDefault(o => o.ClientId == ClientId && o.OrderType == "STP" && o.Action == "SELL" && o.Status is "Submitted" or "PreSubmitted");
            }

            await Eventually.Until(() => BookOfLatestRun(m.Db) == 20m, "our book to hold the 20 oz");
            await Eventually.Until(() => m.Db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }) == "Working", "the stop working in our database");
        }

        m.Tws.FindOrder(ClientId, stop.OrderId)!.Status.ShouldBeOneOf("Submitted", "PreSubmitted");
        IbPosition(m).ShouldBe(20m);
        output.WriteLine($"first run ended with stop {stop.OrderId} '{stop.OrderRef}' SELL STP {stop.AuxPrice} x {stop.TotalQuantity} working at IB");
        return stop;
    }

    /// <summary>Our book: the XAUUSD position the latest run recorded (each run writes its own rows).</summary>
    private static decimal? BookOfLatestRun(HostDatabase db) =>
        db.Query<string>("SELECT quantity FROM positions WHERE symbol='XAUUSD' AND run_id=(SELECT run_id FROM runs ORDER BY rowid DESC LIMIT 1)")
            .Select(q => decimal.Parse(q, System.Globalization.CultureInfo.InvariantCulture)).Cast<decimal?>().FirstOrDefault();

    private static decimal IbPosition(Market m) => m.Tws.Positions.Where(p => p.Account == Account && p.Symbol == "XAUUSD").Sum(p => p.Quantity);

    private static IReadOnlyList<string> ExternalAlerts(RunningHost h) =>
        [.. h.Alerts.Recent(1000).Where(a => a.Text.Contains("not ours", StringComparison.Ordinal) || a.Text.Contains("not of an order of", StringComparison.Ordinal)).Select(a => $"{a.Level} {a.Text}")];

    [Fact]
    public async Task RestartWithWorkingStops_RecognisesTheStopsAsOurs_NotExternal()
    {
        await using var m = await OpenMarketAsync();
        var stop = await FirstRunHoldingAProtectedPositionAsync(m);

        await using var second = await StartHostAsync(m, []);
        second.Probe.Gateway.LastReconciliationOk.ShouldBeTrue(second.Probe.Gateway.LastReconciliation);
        ExternalAlerts(second).ShouldBeEmpty("our own stop was booked as external");
        second.Probe.Gateway.LastReconciliation.ShouldContain("(0 external)");
        second.Alerts.Recent(1000).ShouldNotContain(a => a.Level == Core.Alerts.AlertLevel.Red && a.Kind == "Broker", "a RED broker alert after a clean restart");
        m.Db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }).ShouldBe("Working");
        m.Tws.FindOrder(ClientId, stop.OrderId)!.Status.ShouldBeOneOf("Submitted", "PreSubmitted");
        await Eventually.Until(() => BookOfLatestRun(m.Db) == 20m, "the new run's book to hold the earlier run's 20 oz");
    }

    [Fact]
    public async Task StopFilledWhileTheHostWasDown_AfterRestartTheFillIsRecordedOnce_TheOrderIsFilled_AndOurBookEqualsIbs()
    {
        await using var m = await OpenMarketAsync();
        var stop = await FirstRunHoldingAProtectedPositionAsync(m);

        // While we are down, the stop fills at IB: IB is flat.
        m.Tws.FillOrder(ClientId, stop.OrderId, stop.TotalQuantity, stop.AuxPrice!.Value);
        IbPosition(m).ShouldBe(0m);
        var execId = m.Tws.Executions.Single(x => x.OrderId == stop.OrderId).ExecId;

        await using (var second = await StartHostAsync(m, []))
        {
            second.Probe.Gateway.LastReconciliationOk.ShouldBeTrue(second.Probe.Gateway.LastReconciliation);
            ExternalAlerts(second).ShouldBeEmpty("the stop's fill was booked as external");
            await Eventually.Until(() => m.Db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }) == "Filled",
                "the stop Filled in our database", TimeSpan.FromSeconds(10));
            await Eventually.Until(() => BookOfLatestRun(m.Db) == 0m, "our book flat, as IB", TimeSpan.FromSeconds(10));
            second.Alerts.Recent(1000).ShouldNotContain(a => a.Level == Core.Alerts.AlertLevel.Red && a.Text.Contains("disagrees", StringComparison.Ordinal), "our book disagreed with IB");
        }

        // A third start on the same database: the fill is not recorded again.
        await using (var third = await StartHostAsync(m, []))
        {
            third.Probe.Gateway.LastReconciliationOk.ShouldBeTrue(third.Probe.Gateway.LastReconciliation);
            ExternalAlerts(third).ShouldBeEmpty();
        }

        m.Db.Query<string>("SELECT execution_id FROM fills WHERE client_order_id=@id", new { id = stop.OrderRef }).ShouldBe([execId]);
        BookOfLatestRun(m.Db).GetValueOrDefault().ShouldBe(0m);
        IbPosition(m).ShouldBe(0m);
    }

    [Fact]
    public async Task KillL2AfterRestart_CancelsTheEarlierRunsStopFirst_AndIbEndsFlatNeverReversed()
    {
        await using var m = await OpenMarketAsync();
        var stop = await FirstRunHoldingAProtectedPositionAsync(m);

        await using var second = await StartHostAsync(m, []);
        var requestsAtKill = m.Tws.RequestCount;
        second.Host.Services.GetRequiredService<OperatorConsole>().Kill(2, "test: flatten after a restart", "test").Ok.ShouldBeTrue();
        await Eventually.Until(() => IbPosition(m) == 0m, "IB flat after the kill", TimeSpan.FromSeconds(20));
        await Task.Delay(TimeSpan.FromSeconds(1)); // room for a second flatten that should not come
        await m.Tws.FlushAsync();

        var after = m.Tws.Requests.Skip(requestsAtKill).Select((r, i) => (r, i)).Where(x => x.r.ClientId == ClientId).ToList();
        var cancel = after.FirstOrDefault(x => x.r.MessageId == 4 && x.r.Fields.Contains(stop.OrderId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        cancel.r.ShouldNotBeNull("the earlier run's stop was not cancelled");
        var flattens = after.Where(x => x.r.MessageId == 3).ToList();
        flattens.Count.ShouldBe(1, "one flatten");
        cancel.i.ShouldBeLessThan(flattens[0].i, "the flatten left before the stop's cancel");
        m.Tws.FindOrder(ClientId, stop.OrderId)!.Status.ShouldBe("Cancelled");
        IbPosition(m).ShouldBe(0m, "IB reversed");
        await Eventually.Until(() => m.Db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }) == "Cancelled", "the stop Cancelled in our database");
        await Eventually.Until(() => BookOfLatestRun(m.Db) == 0m, "our book flat");
    }

    [Fact]
    public async Task StopCancelledAtIbWhileTheHostWasDown_AfterRestartIsClosedInOurDatabaseWithItsFinalStatus()
    {
        await using var m = await OpenMarketAsync();
        var stop = await FirstRunHoldingAProtectedPositionAsync(m);
        m.Tws.CancelOrderFromServer(ClientId, stop.OrderId, "test: cancelled in TWS while we were down");

        await using var second = await StartHostAsync(m, []);
        second.Probe.Gateway.LastReconciliationOk.ShouldBeTrue(second.Probe.Gateway.LastReconciliation);
        await Eventually.Until(() => m.Db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }) == "Cancelled",
            "the stop Cancelled in our database", TimeSpan.FromSeconds(10));
        m.Db.Scalar<string>("SELECT status_reason FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }).ShouldContain("while we were away");
        await Eventually.Until(() => BookOfLatestRun(m.Db) == 20m, "our book still 20, as IB");
    }

    [Fact]
    public async Task BookThatDisagreesWithIbAfterRestart_IsRedNotYellowExternal_AndIbsPositionIsAdopted()
    {
        await using var m = await OpenMarketAsync();
        await FirstRunHoldingAProtectedPositionAsync(m);

        // A trade outside the system while we were down: IB holds 25, our database 20.
        m.Tws.SetPosition(Account, "XAUUSD", 25m, 2000.0);

        await using var second = await StartHostAsync(m, []);
        await Eventually.Until(() => second.Alerts.Recent(1000).Any(a => a.Level == Core.Alerts.AlertLevel.Red && a.Text.Contains("disagrees with IB in XAUUSD", StringComparison.Ordinal)),
            "a RED alert naming the difference", TimeSpan.FromSeconds(10));
        var red = second.Alerts.Recent(1000).First(a => a.Level == Core.Alerts.AlertLevel.Red && a.Text.Contains("disagrees", StringComparison.Ordinal));
        output.WriteLine(red.Text);
        red.Text.ShouldContain("ours 20");
        red.Text.ShouldContain("IB 25");
        await Eventually.Until(() => BookOfLatestRun(m.Db) == 25m, "IB's 25 adopted into our book");
    }
}
