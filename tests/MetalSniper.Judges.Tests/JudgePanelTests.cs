using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Verdicts;

namespace MetalSniper.Judges.Tests;

public sealed class JudgePanelTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 2, 10, 0, 0, TimeSpan.Zero);

    private static JudgePanel Panel(JudgeMode mode, IJudgeModel? entry = null, IJudgeModel? exit = null, IJudgeModel? add = null, Action<JudgesOptions>? edit = null)
    {
        var o = new JudgesOptions
        {
            Entry = new() { Mode = entry is null ? JudgeMode.Off : mode },
            Exit = new() { Mode = exit is null ? JudgeMode.Off : mode },
            Add = new() { Mode = add is null ? JudgeMode.Off : mode },
        };
        edit?.Invoke(o);
        return new JudgePanel(o, entry, exit, add);
    }

    [Theory]
    [InlineData(0.20, 3.0, VerdictKind.Veto, 0.0)]   // EV = 0.6 − 0.8 = −0.2: skip
    [InlineData(0.30, 3.0, VerdictKind.Allow, 0.5)]  // EV = 0.9 − 0.7 = 0.2: first tier, half risk
    [InlineData(0.40, 3.0, VerdictKind.Allow, 1.0)]  // EV = 1.2 − 0.6 = 0.6: full risk
    [InlineData(0.25, 3.0, VerdictKind.Veto, 0.0)]   // EV = 0: skip (EV ≤ 0 is always a veto)
    public void EntryVerdict_FollowsEvTiers_EvAtOrBelowZeroIsAVeto(double p, double rr, VerdictKind kind, double fraction)
    {
        var v = Panel(JudgeMode.Active, entry: new FixedJudge(JudgeKind.Entry, p, rr, "v9", "abcdef0123456789")).Judge(JudgeKind.Entry, [], Now)!;
        v.Kind.ShouldBe(kind);
        v.RiskFraction.ShouldBe((decimal)fraction);
        v.ExpectedValueR!.Value.ShouldBe((p * rr) - (1 - p), 1e-12);
        v.ModelHash.ShouldBe("abcdef0123456789");
        v.Binding.ShouldBeTrue();
    }

    [Fact]
    public void ExitJudge_OnlyRecommendsAnExitOrAllows_AtItsThreshold()
    {
        var panel = Panel(JudgeMode.Shadow, exit: new FixedJudge(JudgeKind.Exit, 0.65, 1, "v9", "abcdef0123456789"));
        var v = panel.Judge(JudgeKind.Exit, [], Now)!;
        v.Kind.ShouldBe(VerdictKind.RecommendExit);
        v.Binding.ShouldBeFalse("a shadow verdict is recorded, never obeyed");
        Panel(JudgeMode.Active, exit: new FixedJudge(JudgeKind.Exit, 0.55, 1, "v9", "abcdef0123456789")).Judge(JudgeKind.Exit, [], Now)!.Kind.ShouldBe(VerdictKind.Allow);
        panel.ReviewsExits.ShouldBeTrue();
    }

    [Fact]
    public void AVerdict_CannotEnlargeRisk_NorCrossItsJudgesKind()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new JudgeVerdict(JudgeKind.Entry, VerdictKind.Allow, 0.5, 0.1, 1.01m, "v1", "h", JudgeMode.Active));
        Should.Throw<ArgumentOutOfRangeException>(() => new JudgeVerdict(JudgeKind.Entry, VerdictKind.RecommendExit, 0.5, 0.1, 1m, "v1", "h", JudgeMode.Active));
        Should.Throw<ArgumentOutOfRangeException>(() => new JudgeVerdict(JudgeKind.Exit, VerdictKind.Veto, 0.5, null, 1m, "v1", "h", JudgeMode.Active));
        Should.Throw<ArgumentOutOfRangeException>(() => new JudgeVerdict(JudgeKind.Add, VerdictKind.Allow, double.NaN, null, 1m, "v1", "h", JudgeMode.Active));
        // Nothing in a verdict names a quantity, a price or an order.
        typeof(JudgeVerdict).GetProperties().Select(p => p.Name).ShouldBe(
            ["Judge", "Kind", "Probability", "ExpectedValueR", "RiskFraction", "ModelVersion", "ModelHash", "Mode", "Binding"], ignoreOrder: true);
        var tier = new JudgesOptions { Tiers = [new() { MinExpectedValueR = 0, RiskFraction = 1.5m }] };
        tier.Problems().ShouldContain(p => p.Contains("can only reduce risk", StringComparison.Ordinal));
    }

    [Fact]
    public void Judges_GiveNoVerdictOutsideTheirActiveWindow_AndAnOffSlotGivesNone()
    {
        var panel = Panel(JudgeMode.Active, entry: new FixedJudge(JudgeKind.Entry, 0.9, 2, "v9", "abcdef0123456789"), edit: o => (o.ActiveFromUtc, o.ActiveUntilUtc) = (Now, Now.AddDays(1)));
        panel.Judge(JudgeKind.Entry, [], Now.AddTicks(-1)).ShouldBeNull();
        panel.Judge(JudgeKind.Entry, [], Now).ShouldNotBeNull();
        panel.Judge(JudgeKind.Entry, [], Now.AddDays(1)).ShouldBeNull();
        panel.Judge(JudgeKind.Add, [], Now).ShouldBeNull();
        JudgePanel.None.Any.ShouldBeFalse();
    }

    [Fact]
    public void AModel_InTheWrongSlot_OrASlotOnWithoutAModel_IsRefused()
    {
        Should.Throw<ArgumentException>(() => Panel(JudgeMode.Active, entry: new FixedJudge(JudgeKind.Exit, 0.5, 1, "v9", "abcdef0123456789"))).Message.ShouldContain("cannot sit in the Entry judge's slot");
        Should.Throw<ArgumentException>(() => new JudgePanel(new JudgesOptions { Add = new() { Mode = JudgeMode.Shadow } }, null, null, null)).Message.ShouldContain("has no model");
    }
}

public sealed class JudgeCandidateTests
{
    [Fact]
    public void ACandidateBesideAnActiveJudge_GivesAShadowVerdictOnly_AndIsNamedInTheDescription()
    {
        var panel = new JudgePanel(new JudgesOptions { Entry = new() { Mode = JudgeMode.Active } }, new FixedJudge(JudgeKind.Entry, 0.9, version: "v1"), null, null)
        {
            Candidates = new Dictionary<JudgeKind, IJudgeModel> { [JudgeKind.Entry] = new FixedJudge(JudgeKind.Entry, 0.1, version: "v2") },
        };
        var now = DateTimeOffset.UnixEpoch;
        panel.Judge(JudgeKind.Entry, [], now)!.Kind.ShouldBe(VerdictKind.Allow);
        var c = panel.Candidate(JudgeKind.Entry, [], now)!;
        (c.Kind, c.Mode, c.Binding, c.ModelVersion).ShouldBe((VerdictKind.Veto, JudgeMode.Shadow, false, "v2"));
        c.ToInputs(JudgeVerdict.CandidateRole).Select(kv => kv.Key).ShouldContain("judge.entry.candidate.verdict");
        panel.Candidate(JudgeKind.Add, [], now).ShouldBeNull();
        panel.Describe().ShouldBe(["Entry v1 (hash-v1) Active", "Entry v2 (hash-v2) Shadow (candidate)"]);
        Should.Throw<ArgumentException>(() => new JudgePanel(new JudgesOptions(), null, null, null) { Candidates = new Dictionary<JudgeKind, IJudgeModel> { [JudgeKind.Add] = new FixedJudge(JudgeKind.Exit, 0.5, version: "v1") } });
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
