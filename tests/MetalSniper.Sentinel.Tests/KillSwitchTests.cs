using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Sentinel.Tests;

public sealed class KillSwitchTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 3, 15, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Escalation_Latches_OnlyAConfirmedResumeLowersIt()
    {
        var store = new InMemoryHaltStore();
        var kill = KillSwitch.Restore(store, "service");
        kill.Escalate(KillLevel.Flatten, "operator:cli", "manual stop", Now).ShouldBeTrue();
        kill.Escalate(KillLevel.NoEntries, "sentinel:heartbeat", "brain silent", Now).ShouldBeFalse(); // never lowers
        kill.Level(Now.AddDays(30)).ShouldBe(KillLevel.Flatten);

        var ex = Should.Throw<InvalidOperationException>(() => kill.Resume("operator:cli", "ok", "deadbeef", Now));
        ex.Message.ShouldContain("does not match");
        ex.Message.ShouldNotContain(kill.State.ConfirmationCode, Case.Insensitive, "a refused resume must not name the code that would have been accepted");
        kill.Level(Now).ShouldBe(KillLevel.Flatten);

        kill.Resume("operator:cli", "incident reviewed", kill.State.ConfirmationCode, Now.AddMinutes(5));
        kill.Level(Now.AddMinutes(5)).ShouldBe(KillLevel.Running);
        store.Records.Select(r => r.Draft.Action).ShouldBe([HaltAction.Escalate, HaltAction.Resume]);
        Should.Throw<InvalidOperationException>(() => kill.Resume("operator:cli", "again", kill.State.ConfirmationCode, Now)).Message.ShouldContain("not latched");
    }

    [Fact]
    public void ForReexecution_StartsFresh_MeetsItsEarlierRecordsWithoutWriting_ThenAppendsWhatIsNew()
    {
        var store = new InMemoryHaltStore();
        var first = KillSwitch.Restore(store, "run-7");
        first.Pause("breaker:drawdown", KillLevel.Flatten, Now.AddHours(4), "breaker", "dd 6,000", Now);
        first.Clear("breaker:drawdown", "breaker", "reset", Now.AddHours(2));
        first.Pause("stale-data:XAGUSD", KillLevel.NoEntries, null, "sentinel", "no price", Now.AddHours(6));
        store.Records.Count.ShouldBe(3);

        // The run is killed; its re-execution starts at L0 and meets the same records in the same order.
        var again = KillSwitch.ForReexecution(store, "run-7");
        var seen = new List<long>();
        again.Recorded += r => seen.Add(r.Sequence);
        again.Level(Now).ShouldBe(KillLevel.Running);
        again.EarlierRecordsPending.ShouldBe(3);
        again.Pause("breaker:drawdown", KillLevel.Flatten, Now.AddHours(4), "breaker", "dd 6,000", Now).ShouldBeTrue();
        again.Level(Now).ShouldBe(KillLevel.Flatten);
        again.Clear("breaker:drawdown", "breaker", "reset", Now.AddHours(2)).ShouldBeTrue();
        again.Pause("stale-data:XAGUSD", KillLevel.NoEntries, null, "sentinel", "no price", Now.AddHours(6)).ShouldBeTrue();
        store.Records.Count.ShouldBe(3); // nothing written twice
        seen.ShouldBe([1, 2, 3]);
        again.ReexecutionDivergence.ShouldBeNull();

        // Past the earlier records it appends as usual, after them in the chain.
        again.Clear("stale-data:XAGUSD", "sentinel", "fresh", Now.AddHours(7)).ShouldBeTrue();
        store.Records.Count.ShouldBe(4);
        HaltChain.Verify(store.Records).IsIntact.ShouldBeTrue();
        KillSwitch.Restore(store, "run-7").Level(Now.AddHours(7)).ShouldBe(KillLevel.Running);
    }

    [Fact]
    public void ForReexecution_ARecordThatDiffers_EndsTheMatchingAndSaysWhere()
    {
        var store = new InMemoryHaltStore();
        KillSwitch.Restore(store, "run-8").Pause("daily-loss", KillLevel.Flatten, Now.AddHours(8), "sentinel", "loss 2,000", Now);
        var again = KillSwitch.ForReexecution(store, "run-8");
        again.Pause("daily-loss", KillLevel.Flatten, Now.AddHours(8), "sentinel", "loss 2,100", Now).ShouldBeTrue();
        again.ReexecutionDivergence!.ShouldContain("expected record 1");
        store.Records.Count.ShouldBe(2);
        again.Level(Now).ShouldBe(KillLevel.Flatten);
    }

    [Fact]
    public void Pauses_LiftByThemselves_AndTheEffectiveLevelIsTheHighest()
    {
        var kill = KillSwitch.Restore(new InMemoryHaltStore(), "service");
        kill.Pause("breaker:consecutive-losses", KillLevel.NoEntries, Now.AddHours(4), "breaker", "10 losses in a row", Now).ShouldBeTrue();
        kill.Pause("breaker:consecutive-losses", KillLevel.NoEntries, Now.AddHours(1), "breaker", "shorter", Now).ShouldBeFalse(); // never shortens
        kill.Pause("stale-data:XAUUSD", KillLevel.NoEntries, null, "sentinel", "no price", Now).ShouldBeTrue();
        kill.Pause("daily-loss", KillLevel.Flatten, Now.AddHours(2), "sentinel", "day loss", Now);
        kill.Level(Now).ShouldBe(KillLevel.Flatten);
        kill.Level(Now.AddHours(3)).ShouldBe(KillLevel.NoEntries);
        kill.Clear("stale-data:XAUUSD", "sentinel", "fresh", Now.AddHours(3)).ShouldBeTrue();
        kill.Level(Now.AddHours(3)).ShouldBe(KillLevel.NoEntries);
        kill.Level(Now.AddHours(4)).ShouldBe(KillLevel.Running);
        kill.State.Describe(Now.AddHours(3)).ShouldContain("10 losses in a row");
    }

    [Fact]
    public void Restore_RebuildsTheScopesStateOnly_AndSeesWhatOtherProcessesAppended()
    {
        var store = new InMemoryHaltStore();
        var service = KillSwitch.Restore(store, "service");
        var replay = KillSwitch.Restore(store, "run-1");
        replay.Escalate(KillLevel.Flatten, "sentinel", "replay only", Now);
        service.Escalate(KillLevel.NoEntries, "operator:cli", "stop entries", Now);

        var restarted = KillSwitch.Restore(store, "service");
        restarted.Level(Now).ShouldBe(KillLevel.NoEntries);
        restarted.State.LastSequence.ShouldBe(2);

        // A second process (the CLI) escalates; the running one sees it on refresh.
        var cli = KillSwitch.Restore(store, "service");
        cli.Escalate(KillLevel.Flatten, "operator:cli", "flatten", Now);
        restarted.Refresh();
        restarted.Level(Now).ShouldBe(KillLevel.Flatten);
        KillSwitch.Restore(store, "run-2").Level(Now).ShouldBe(KillLevel.Running);
    }

    [Theory]
    [InlineData("edit")]
    [InlineData("delete")]
    [InlineData("reorder")]
    public void TamperedRecord_IsDetectedAtItsSequence_AndRestoreRefuses(string tamper)
    {
        var store = new InMemoryHaltStore();
        var kill = KillSwitch.Restore(store, "service");
        kill.Escalate(KillLevel.NoEntries, "a", "one", Now);
        kill.Pause("p", KillLevel.NoEntries, Now.AddHours(1), "b", "two", Now);
        kill.Escalate(KillLevel.Flatten, "c", "three", Now);
        kill.Pause("q", KillLevel.NoEntries, Now.AddHours(1), "d", "four", Now);
        var records = store.Records;
        List<HaltRecord> tampered = tamper switch
        {
            "edit" => [records[0], records[1] with { Draft = records[1].Draft with { Reason = "nothing to see" } }, records[2], records[3]],
            "delete" => [records[0], records[2], records[3]],
            _ => [records[0], records[2], records[1], records[3]],
        };

        var result = HaltChain.Verify(tampered);
        result.IsIntact.ShouldBeFalse();
        result.FirstBadSequence.ShouldBe(2);

        var copy = new InMemoryHaltStore();
        foreach (var r in records)
        {
            copy.Append(r.Draft, 0);
        }

        copy.Replace(1, tampered[1]);
        var ex = Should.Throw<HaltStoreTamperedException>(() => KillSwitch.Restore(copy, "service"));
        ex.Verification.FirstBadSequence.ShouldBe(2);
        ex.Message.ShouldContain("sequence 2");
    }

    [Fact]
    public void Resume_AlsoLiftsPausesThatWaitForAConditionToClear_TimedPausesKeepRunning()
    {
        var kill = KillSwitch.Restore(new InMemoryHaltStore(), "service");
        kill.Pause("stale-data:XAUUSD", KillLevel.NoEntries, null, "sentinel", "left behind", Now);
        kill.Pause("daily-loss", KillLevel.Flatten, Now.AddHours(2), "sentinel", "day loss", Now);
        kill.Resume("operator:test", "reviewed", kill.State.ConfirmationCode, Now);
        kill.State.Pauses.Keys.ShouldBe(["daily-loss"]);
        kill.Level(Now.AddHours(1)).ShouldBe(KillLevel.Flatten);
        kill.Level(Now.AddHours(2)).ShouldBe(KillLevel.Running);
    }

    [Fact]
    public void Resume_WithTheCodeOfAStateThatChangedSince_IsRefused()
    {
        var store = new InMemoryHaltStore();
        var operatorView = KillSwitch.Restore(store, "service");
        operatorView.Escalate(KillLevel.NoEntries, "operator:cli", "first", Now);
        var code = operatorView.State.ConfirmationCode;
        KillSwitch.Restore(store, "service").Escalate(KillLevel.Flatten, "sentinel:heartbeat", "hands silent", Now); // another process, meanwhile
        Should.Throw<InvalidOperationException>(() => operatorView.Resume("operator:cli", "ok", code, Now)).Message.ShouldContain("does not match");
        operatorView.Level(Now).ShouldBe(KillLevel.Flatten);
    }

    [Fact]
    public void StoreThatCannotWrite_LeavesTheHaltInForce_AndSaysSo()
    {
        var kill = KillSwitch.Restore(new FailingStore(), "service");
        var e = Should.Throw<HaltStoreWriteException>(() => kill.Escalate(KillLevel.Flatten, "operator:test", "disk full", Now));
        e.Message.ShouldContain("could not be recorded");
        kill.Level(Now).ShouldBe(KillLevel.Flatten);
        kill.State.LatchedReason.ShouldContain("NOT RECORDED");
    }

    [Fact]
    public void PauseFromTheFutureOfTheClock_IsNotInForce()
    {
        var kill = KillSwitch.Restore(new InMemoryHaltStore(), "service");
        kill.Pause("daily-loss", KillLevel.Flatten, Now.AddHours(5), "sentinel", "later", Now.AddHours(1));
        kill.Level(Now).ShouldBe(KillLevel.Running);
        kill.Level(Now.AddHours(2)).ShouldBe(KillLevel.Flatten);
    }

    private sealed class FailingStore : IHaltStore
    {
        public IReadOnlyList<HaltRecord> Append(HaltDraft draft, long afterSequence, string? expectedTailHash = null) => throw new IOException("disk full");

        public IReadOnlyList<HaltRecord> ReadSince(long afterSequence) => [];
    }
}
