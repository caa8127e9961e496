using MetalSniper.InteractiveBrokers.Connection;

namespace MetalSniper.InteractiveBrokers.Tests;

public sealed class ConnectionStateMachineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 3, 15, 0, 0, TimeSpan.Zero); // 10:00 New York
    private static readonly TimeZoneInfo NewYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

    private static IbConnectionStateMachine Create() =>
        new(TimeSpan.FromSeconds(60), [(new TimeOnly(23, 40), new TimeOnly(0, 10))], NewYork);

    [Fact]
    public void Connect_Reconcile_WarmUp_ThenFullyLive_EntriesOnlyAtTheEnd()
    {
        var sm = Create();
        var changes = new List<IbStateChange>();
        sm.Changed += changes.Add;
        sm.SubmissionBlocked(opensRisk: false, T0)!.ShouldStartWith("DISCONNECTED");

        sm.OnConnected(T0);
        sm.State(T0).ShouldBe(IbConnectionState.DataOnly);
        sm.SubmissionBlocked(opensRisk: false, T0)!.ShouldStartWith("DATA_ONLY"); // not even exits before reconciliation

        sm.OnReconciled(true, "0 orders, flat", T0.AddSeconds(2));
        sm.State(T0.AddSeconds(3)).ShouldBe(IbConnectionState.ReconnectWarmup);
        sm.SubmissionBlocked(opensRisk: false, T0.AddSeconds(3)).ShouldBeNull();
        sm.SubmissionBlocked(opensRisk: true, T0.AddSeconds(3))!.ShouldStartWith("RECONNECT_WARMUP");

        sm.State(T0.AddSeconds(62)).ShouldBe(IbConnectionState.FullyLive);
        sm.SubmissionBlocked(opensRisk: true, T0.AddSeconds(62)).ShouldBeNull();
        changes.Select(c => c.To).ShouldBe([IbConnectionState.DataOnly, IbConnectionState.ReconnectWarmup, IbConnectionState.FullyLive]);
    }

    [Fact]
    public void LinkLost_BlocksEntries_ButNotRiskExits_And1102NeedsReconciliationAgain()
    {
        var sm = Create();
        sm.OnConnected(T0);
        sm.OnReconciled(true, "ok", T0);
        sm.State(T0.AddMinutes(2)).ShouldBe(IbConnectionState.FullyLive);

        sm.OnSystemCode(1100, "Connectivity between IB and Trader Workstation has been lost.", T0.AddMinutes(3)).ShouldBeTrue();
        sm.State(T0.AddMinutes(3)).ShouldBe(IbConnectionState.ExecutionDegraded);
        sm.SubmissionBlocked(opensRisk: true, T0.AddMinutes(3))!.ShouldContain("1100");
        sm.SubmissionBlocked(opensRisk: false, T0.AddMinutes(3)).ShouldBeNull();

        sm.OnSystemCode(1102, "Connectivity restored - data maintained.", T0.AddMinutes(4));
        sm.ReconciliationPending.ShouldBeTrue();
        sm.SubmissionBlocked(opensRisk: false, T0.AddMinutes(4))!.ShouldStartWith("DATA_ONLY");
        sm.OnReconciled(false, "positions differ: XAUUSD ours 10, IB 12", T0.AddMinutes(4));
        sm.State(T0.AddMinutes(10)).ShouldBe(IbConnectionState.DataOnly);
        sm.Reason.ShouldContain("positions differ");
    }

    [Fact]
    public void Code2110_Degrades_And1101Or1102_AskForReconciliationWithTheSocketKeptUp()
    {
        var sm = Create();
        var needed = new List<string>();
        sm.ReconciliationNeeded += needed.Add;
        sm.OnConnected(T0);
        sm.OnReconciled(true, "ok", T0);
        sm.State(T0.AddMinutes(2)).ShouldBe(IbConnectionState.FullyLive);

        sm.OnSystemCode(2110, "Connectivity between Trader Workstation and server is broken. It will be restored automatically.", T0.AddMinutes(3)).ShouldBeTrue();
        sm.State(T0.AddMinutes(3)).ShouldBe(IbConnectionState.ExecutionDegraded);
        sm.SubmissionBlocked(opensRisk: true, T0.AddMinutes(3))!.ShouldContain("2110");
        needed.ShouldBeEmpty("a lost link is not yet a reason to reconcile: nothing answers");

        sm.OnSystemCode(1102, "Connectivity restored - data maintained.", T0.AddMinutes(4));
        needed.ShouldBe(["1102"]);
        sm.OnReconciled(true, "ok", T0.AddMinutes(4)).ShouldBeTrue();
        sm.State(T0.AddMinutes(6)).ShouldBe(IbConnectionState.FullyLive);
        sm.SubmissionBlocked(opensRisk: true, T0.AddMinutes(6)).ShouldBeNull();

        sm.OnSystemCode(1100, "lost", T0.AddMinutes(7));
        sm.OnSystemCode(1101, "Connectivity restored - data lost.", T0.AddMinutes(8));
        needed.ShouldBe(["1102", "1101"]);
        sm.ReconciliationPending.ShouldBeTrue();
    }

    [Fact]
    public void AReconciliationThatStartedBeforeThe1102_IsStale_AndIgnored()
    {
        var sm = Create();
        sm.OnConnected(T0);
        var started = sm.ReconciliationEpoch;
        sm.OnSystemCode(1100, "lost", T0.AddSeconds(1));
        sm.OnSystemCode(1102, "Connectivity restored - data maintained.", T0.AddSeconds(2));
        sm.OnReconciled(true, "answers gathered before the 1102", T0.AddSeconds(3), started).ShouldBeFalse();
        sm.State(T0.AddMinutes(5)).ShouldBe(IbConnectionState.DataOnly, "a stale reconciliation must not open the gate");
        sm.OnReconciled(true, "fresh", T0.AddMinutes(5), sm.ReconciliationEpoch).ShouldBeTrue();
        sm.State(T0.AddMinutes(5)).ShouldBe(IbConnectionState.ReconnectWarmup);
    }

    [Fact]
    public void Code1101_AsksForResubscription_FarmNoticesAreTrackedApart()
    {
        var sm = Create();
        var resubscribe = new List<string>();
        sm.ResubscribeNeeded += resubscribe.Add;
        sm.OnConnected(T0);
        sm.OnSystemCode(2103, "Market data farm connection is broken:usfarm", T0);
        sm.BrokenFarms.ShouldBe(["market data usfarm"]);
        sm.State(T0).ShouldBe(IbConnectionState.DataOnly); // a farm is data, not execution
        sm.OnSystemCode(2104, "Market data farm connection is OK:usfarm", T0);
        sm.BrokenFarms.ShouldBeEmpty();
        sm.OnSystemCode(1101, "Connectivity restored - data lost.", T0);
        resubscribe.ShouldBe(["connected", "1101"]);
        sm.OnSystemCode(399, "Order message", T0).ShouldBeFalse();
    }

    [Fact]
    public void QuietWindow_AroundTheNightlyReset_RefusesEverySubmission_AcrossMidnight()
    {
        var sm = Create();
        sm.OnConnected(T0);
        sm.OnReconciled(true, "ok", T0);
        var beforeReset = new DateTimeOffset(2026, 3, 4, 4, 39, 0, TimeSpan.Zero); // 23:39 New York (EST, UTC-5)
        sm.SubmissionBlocked(true, beforeReset).ShouldBeNull();
        sm.SubmissionBlocked(false, beforeReset.AddMinutes(2))!.ShouldContain("quiet window 23:40-00:10");
        sm.SubmissionBlocked(false, beforeReset.AddMinutes(25))!.ShouldContain("quiet window"); // 00:04
        sm.SubmissionBlocked(true, beforeReset.AddMinutes(31)).ShouldBeNull(); // 00:10
    }
}
