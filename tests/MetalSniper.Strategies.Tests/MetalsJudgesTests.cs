using MetalSniper.Core.Decisions;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Verdicts;
using MetalSniper.Strategies.Metals;

namespace MetalSniper.Strategies.Tests;

/// <summary>The metals strategy with judges: what it records and what a verdict may and may not do.</summary>
public sealed class MetalsJudgesTests
{
    private static Harness With(JudgeMode mode, IJudgeModel? entry = null, IJudgeModel? exit = null)
    {
        var o = new JudgesOptions { Entry = new() { Mode = entry is null ? JudgeMode.Off : mode }, Exit = new() { Mode = exit is null ? JudgeMode.Off : mode } };
        return new Harness(judges: new JudgePanel(o, entry, exit, null));
    }

    [Fact]
    public void WithoutJudges_EveryOpenHedgeRecordsTheFeaturesTheJudgesWouldSee()
    {
        var h = new Harness();
        h.Flat(5);
        var open = h.Decisions.Single(d => d.Kind == DecisionKind.OpenHedge);
        open.Inputs.Keys.ShouldContain("f.compression");
        open.Inputs["f@asOf"].ShouldBe(open.EventTimeUtc.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        open.Inputs.Keys.ShouldNotContain("judge.entry.verdict");
    }

    [Fact]
    public void AnActiveEntryVeto_IsAVetoedDecisionWithTheModelHash_AndNoOrderLeaves()
    {
        var h = With(JudgeMode.Active, entry: new FixedJudge(JudgeKind.Entry, 0.1, hash: "feedfacefeedface"));
        h.Flat(5);
        var veto = h.Decisions.Single(d => d.Kind == DecisionKind.OpenHedge);
        veto.Outcome.ShouldBe(DecisionOutcome.Vetoed);
        veto.Reason.ShouldStartWith("judge veto: Entry judge v1 (feedfacefeed");
        veto.Inputs["judge.entry.modelHash"].ShouldBe("feedfacefeedface");
        veto.Inputs["judge.entry.verdict"].ShouldBe("Veto");
        h.Orders.ShouldBeEmpty();
        h.Strategy.PhaseOf("XAUUSD").ShouldBe(MetalsPhase.Flat);
    }

    [Fact]
    public void AShadowVeto_IsRecordedButTheHedgeIsTakenAsWithoutJudges()
    {
        var h = With(JudgeMode.Shadow, entry: new FixedJudge(JudgeKind.Entry, 0.1, hash: "feedfacefeedface"));
        h.Flat(5);
        var open = h.Decisions.Single(d => d.Kind == DecisionKind.OpenHedge);
        open.Outcome.ShouldBe(DecisionOutcome.Taken);
        open.Inputs["judge.entry.verdict"].ShouldBe("Veto");
        open.Inputs["judge.entry.mode"].ShouldBe("Shadow");
        h.Orders.Count.ShouldBe(2);
        h.Orders.ShouldAllBe(o => o.Quantity == 50m);
    }

    [Fact]
    public void AnEvTier_CanOnlyShrinkTheHedge_NeverGrowIt()
    {
        // p 0.3 with reward:risk 3: EV 0.2 R, the first tier: half the risk.
        var h = With(JudgeMode.Active, entry: new FixedJudge(JudgeKind.Entry, 0.3, hash: "feedfacefeedface"));
        h.Flat(5);
        h.Orders.Count.ShouldBe(2);
        h.Orders.ShouldAllBe(o => o.Quantity == 25m);
        // p 0.9: EV 2.6 R, the top tier: the full risk, not more.
        var full = With(JudgeMode.Active, entry: new FixedJudge(JudgeKind.Entry, 0.9, hash: "feedfacefeedface"));
        full.Flat(5);
        full.Orders.ShouldAllBe(o => o.Quantity == 50m);
    }

    [Fact]
    public void AnActiveExitRecommendation_ExitsThroughTheNormalExitPath_OnAPullBackOfAWinner()
    {
        var h = With(JudgeMode.Active, exit: new FixedJudge(JudgeKind.Exit, 0.9, hash: "feedfacefeedface"));
        h.Flat(5);
        h.Bar(2001.5m, high: 2003m, low: 2000m);   // short leg killed: long 50 from the hedge at 2000
        h.Bar(2004m, high: 2004.5m, low: 2002m);   // +2R: a winner
        h.Decisions.ShouldNotContain(d => d.Kind == DecisionKind.ExitOnJudge);
        h.Bar(2003m, high: 2003.5m, low: 2002.6m); // a pull-back: the exit judge is asked
        var exit = h.Decisions.Single(d => d.Kind == DecisionKind.ExitOnJudge);
        exit.Inputs["judge.exit.verdict"].ShouldBe("RecommendExit");
        exit.Inputs.Keys.ShouldContain("f.trade_mfe_r");
        h.Orders.Last().Purpose.ShouldBe(Core.Orders.OrderPurpose.Exit);
    }
}

public sealed class MetalsCandidateTests
{
    [Fact]
    public void ACandidatesVeto_IsRecordedBesideTheIncumbentsAllow_AndTheHedgeIsTakenAtTheIncumbentsSize()
    {
        var panel = new JudgePanel(new JudgesOptions { Entry = new() { Mode = JudgeMode.Active } }, new FixedJudge(JudgeKind.Entry, 0.9, version: "v1"), null, null)
        {
            Candidates = new Dictionary<JudgeKind, IJudgeModel> { [JudgeKind.Entry] = new FixedJudge(JudgeKind.Entry, 0.05, version: "v2") },
        };
        var h = new Harness(judges: panel);
        h.Flat(5);
        var open = h.Decisions.Single(d => d.Kind == DecisionKind.OpenHedge);
        open.Outcome.ShouldBe(DecisionOutcome.Taken);
        open.Inputs["judge.entry.verdict"].ShouldBe("Allow");
        open.Inputs["judge.entry.candidate.verdict"].ShouldBe("Veto");
        open.Inputs["judge.entry.candidate.mode"].ShouldBe("Shadow");
        h.Orders.ShouldAllBe(o => o.Quantity == 50m);
    }
}

/// <summary>A judge model with a fixed probability (the panel and strategy see only <see cref="IJudgeModel"/>).</summary>
internal sealed class FixedJudge(JudgeKind judge, double p, double rewardRisk = 3, string version = "v1", string? hash = null) : IJudgeModel
{
    public JudgeKind Judge => judge;

    public string Version => version;

    public string ModelHash => hash ?? "hash-" + version;

    public double RewardRisk => rewardRisk;

    public double Probability(ReadOnlySpan<float> features) => p;
}
