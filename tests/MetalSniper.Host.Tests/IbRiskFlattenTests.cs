using System.Text.Json.Nodes;
using MetalSniper.Core.Time;
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
/// Issue 18 item 3 on the fake TWS: a risk flatten waits for IB to acknowledge the cancel of the protective stop, and
/// sizes itself from the position after it — a stop that fills in between cannot make the flatten reverse the position.
/// </summary>
public sealed class IbRiskFlattenTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 17;
    private const string Account = "DU1234567";
    private static readonly TimeSpan LinkLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(15);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private sealed record Protected(FakeTwsServer Tws, IHost Host, HostProbe Probe, HostDatabase Db, FakeOrderSnapshot Stop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Host.StopAsync(CancellationToken.None);
            Host.Dispose();
            await Tws.DisposeAsync();
        }
    }

    /// <summary>The host on the fake TWS, stepped until it holds 20 oz of gold protected by a sell stop working at IB.</summary>
    private async Task<Protected> StartProtectedAsync()
    {
        var marketClock = new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions { TimeProvider = marketClock, Accounts = [Account], FirstNextValidId = 1000 });
        var from = new DateTimeOffset(2025, 9, 8, 0, 0, 0, TimeSpan.Zero);
        var tape = MarketTape.Metals15(tws, from, from.AddDays(3));
        var config = _env.WriteConfig(j =>
        {
            FakeTwsConfig.UseFakeTws(j, tws.Port, ClientId, Account);
            FakeTwsConfig.LetSteppedTradesRun(j);
        });
        var strategy = new ProtectedEntryStrategy("XAUUSD", 20m);
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton(marketClock);
                s.AddSingleton<TimeProvider>(marketClock);
                s.PostConfigure<BrokerOptions>(o => o.InteractiveBrokers.QuietWindows = ["00:00-00:00"]);
                s.AddSingleton<IReadOnlyList<IStrategy>>([strategy]);
            },
        };
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var probe = new HostProbe(host, () => tws.RequestCount);
        var db = new HostDatabase(_env.DatabasePath);
        await host.StartAsync(CancellationToken.None);
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
        await Eventually.Until(() => tws.Requests.Count(r => r.ClientId == ClientId && r.MessageId == 20) >= 2, "the bar subscriptions");
        await tws.FlushAsync();

        // A long position protected by a stop working at IB.
        FakeOrderSnapshot? stop = null;
        while (stop is null)
        {
            tape.Remaining.ShouldBeGreaterThan(0, "the strategy never had its protected position");
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "stepping to the protected position");
            stop = tws.Orders.FirstOrDefault(o => o.ClientId == ClientId && o.OrderType == "STP" && o.Action == "SELL" && o.Status is "Submitted" or "PreSubmitted");
        }

        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 20m, "our book to hold the 20 oz");
        return new Protected(tws, host, probe, db, stop);
    }

    [Fact]
    public async Task RiskFlatten_WaitsForTheStopsCancelAcknowledgement_AStopFilledMeanwhileLeavesItUnsent_TheIbPositionIsFlatNotReversed()
    {
        await using var run = await StartProtectedAsync();
        var (tws, host, _, db, stop) = run;
        var placedBefore = PlacedOrder.From(tws.Requests, ClientId).Count;
        output.WriteLine($"protected: stop {stop.OrderId} SELL STP {stop.AuxPrice} x {stop.TotalQuantity}");

        // IB is slow to confirm cancels; the operator kills at L2.
        tws.HoldCancels = true;
        host.Services.GetRequiredService<OperatorConsole>().Kill(2, "test: flatten with a slow cancel", "test").Ok.ShouldBeTrue();
        await Eventually.Until(() => tws.HeldCancels == 1, "the stop's cancel at IB", TimeSpan.FromSeconds(10));

        // Before the cancel is confirmed the stop fills at IB. Then the cancel is answered (too late: error 10148).
        tws.FillOrder(ClientId, stop.OrderId, stop.TotalQuantity, stop.AuxPrice!.Value);
        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 0m, "the stop's fill in our book", TimeSpan.FromSeconds(10));
        tws.ReleaseCancels();
        await Task.Delay(TimeSpan.FromSeconds(2)); // room for a flatten that should not come
        await tws.FlushAsync();

        var placedAfter = PlacedOrder.From(tws.Requests, ClientId).Skip(placedBefore).ToList();
        placedAfter.ShouldBeEmpty("a flatten left after the stop filled: " + string.Join("; ", placedAfter));
        tws.Positions.Where(p => p.Account == Account && p.Symbol == "XAUUSD").Sum(p => p.Quantity).ShouldBe(0m, "the position at IB was reversed");
        db.Scalar<string>("SELECT status_reason FROM orders WHERE purpose='RiskFlatten' ORDER BY rowid LIMIT 1").ShouldContain("already flat");
    }

    [Fact]
    public async Task UnacknowledgedStopCancel_LeavesTheFlattenUnsent_IsNotResent_AndTheFlattenLeavesOnceIbConfirms()
    {
        await using var run = await StartProtectedAsync();
        var (tws, host, _, db, stop) = run;
        var placedBefore = PlacedOrder.From(tws.Requests, ClientId).Count;

        // IB does not confirm the stop's cancel: each flatten attempt gives up after 5 s (the stop could still fill), the
        // cancel already on its way is not sent again, and the attempts back off.
        tws.HoldCancels = true;
        host.Services.GetRequiredService<OperatorConsole>().Kill(2, "test: flatten with an unconfirmed cancel", "test").Ok.ShouldBeTrue();
        await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE purpose='RiskFlatten' AND status='Cancelled'") >= 2,
            "two flatten attempts given up for want of the cancel's acknowledgement", TimeSpan.FromSeconds(20));
        tws.HeldCancels.ShouldBe(1, "the stop's cancel was sent again while the first was unanswered");
        PlacedOrder.From(tws.Requests, ClientId).Skip(placedBefore).ShouldBeEmpty("a flatten left while the stop's cancel was unconfirmed");
        db.Scalar<string>("SELECT status_reason FROM orders WHERE purpose='RiskFlatten' ORDER BY rowid LIMIT 1").ShouldContain("were not acknowledged within 5 s");
        host.Services.GetRequiredService<MetalSniper.Engine.Alerts.AlertHub>().Recent(100)
            .ShouldContain(a => a.Level == Core.Alerts.AlertLevel.Red && a.Text.Contains("not acknowledged", StringComparison.Ordinal));

        // IB confirms: the next attempt sends the flatten, and IB's position is flat.
        tws.ReleaseCancels();
        await Eventually.Until(() => tws.Positions.Where(p => p.Account == Account && p.Symbol == "XAUUSD").Sum(p => p.Quantity) == 0m,
            "the flatten at IB once the cancel was confirmed", TimeSpan.FromSeconds(30));
        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 0m, "our book flat", TimeSpan.FromSeconds(10));
        db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }).ShouldBe("Cancelled");
    }

    [Fact]
    public async Task RiskFlattenThatTheLinkRefuses_KeepsTheStopAtIb_AndBacksOff_NotOncePerSweep()
    {
        await using var run = await StartProtectedAsync();
        var (tws, host, probe, db, stop) = run;

        // The link is lost and comes back (1100, 1102) to a position IB reports differently (a manual trade in TWS while we
        // were away): the reconciliation fails, the link stays DATA_ONLY, nothing may leave — not even a flatten.
        var changes = probe.Changes.Count;
        tws.SendError(ClientId, -1, 1100, "Connectivity between IB and Trader Workstation has been lost.");
        await probe.WaitForStateAsync(IbConnectionState.ExecutionDegraded, changes, LinkLimit, "1100");
        tws.SetPosition(Account, "XAUUSD", 25m, 2000.0);
        tws.SendError(ClientId, -1, 1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.");
        await Eventually.Until(() => probe.Gateway.LastReconciliation.StartsWith("FAILED", StringComparison.Ordinal), "the reconciliation after 1102 to fail", LinkLimit);
        var requestsAtKill = tws.RequestCount;

        // L2 now: every flatten is refused by the broker link; the stop is not cancelled (it is all the protection there is).
        host.Services.GetRequiredService<OperatorConsole>().Kill(2, "test: flatten while DATA_ONLY", "test").Ok.ShouldBeTrue();
        await Task.Delay(TimeSpan.FromSeconds(6));
        tws.Requests.Skip(requestsAtKill).Where(r => r.MessageId is 3 or 4).ShouldBeEmpty("an order or a cancel left while the link refused orders");
        tws.FindOrder(ClientId, stop.OrderId)!.Status.ShouldBeOneOf("Submitted", "PreSubmitted");
        db.Scalar<string>("SELECT status FROM orders WHERE purpose='ProtectiveStop'").ShouldBe("Working");
        var refused = db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE purpose='RiskFlatten' AND status='Denied'");
        output.WriteLine($"{refused} refused flattens in 6 s");
        // Back-off from the 250 ms sweep interval: 0, 0.25, 0.75, 1.75, 3.75 s (+ one more sweep's slack): not one per sweep.
        refused.ShouldBeInRange(3, 7);
        db.Scalar<string>("SELECT status_reason FROM orders WHERE purpose='RiskFlatten' ORDER BY rowid LIMIT 1").ShouldContain("DATA_ONLY");
    }
}
