using MetalSniper.Features;
using MetalSniper.Judges.Registry;
using MetalSniper.Research.Datasets;
using MetalSniper.Research.Training;

namespace MetalSniper.Research.Tests;

public sealed class DatasetRulesTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 7, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly CostBasis Sim = new("simulated broker: half spread, 1 tick slippage", true, true);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("metalsniper-dataset-");

    public void Dispose() => _dir.Delete(true);

    /// <summary>Honest rows: features as of the decision, label known 4 hours later, commissions paid.</summary>
    private static List<LabeledRow> Honest(int n, int seed = 1)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(i =>
        {
            var t = T0.AddHours(6 * i);
            var values = Enumerable.Range(0, FeatureBuilder.Schema.Count).Select(_ => (float)rng.NextDouble()).ToArray();
            var label = values[0] + (0.3 * rng.NextDouble()) > 0.8 ? 1 : 0;
            return new LabeledRow($"D{i:0000}", "XAUUSD", JudgeKind.Entry, t, new FeatureVector(values, t), FeatureBuilder.CodeHash[..16], t, t.AddHours(4), label, label == 1 ? 2.0 : -1.0, label == 1 ? 200m : -100m, 4m);
        })];
    }

    private DatasetRefusedException Refused(List<LabeledRow> rows, CostBasis? costs = null)
    {
        var e = Should.Throw<DatasetRefusedException>(() => DatasetWriter.Write(_dir.FullName, rows, [], [costs ?? Sim], ["test"], T0));
        Directory.GetFiles(_dir.FullName).ShouldBeEmpty("a refused dataset writes nothing");
        return e;
    }

    [Fact]
    public void AFeatureKnownAfterItsDecision_IsRefusedByName()
    {
        var rows = Honest(50);
        rows[17] = rows[17] with { Features = rows[17].Features with { AsOfUtc = rows[17].DecisionUtc.AddMinutes(15) } };
        var e = Refused(rows);
        e.Rule.ShouldBe(LeakageGates.FeatureAfterDecision);
        e.Offending.ShouldBe(["D0017"]);
    }

    [Fact]
    public void AFeatureWindowReachingIntoTheLabelHorizon_IsRefusedByName()
    {
        var rows = Honest(50);
        rows[3] = rows[3] with { LabelStartUtc = rows[3].DecisionUtc.AddMinutes(-15) }; // the label starts before the features' window ends
        var e = Refused(rows);
        e.Rule.ShouldBe(LeakageGates.FeatureWindowInLabelHorizon);
        e.Offending.ShouldBe(["D0003"]);
    }

    [Fact]
    public void ALabelWithoutCosts_IsRefusedByName_BothForFillsWithoutSpreadAndForAMissingCommission()
    {
        Refused(Honest(20), Sim with { SlippageIncluded = false }).Rule.ShouldBe(LeakageGates.LabelWithoutCosts);
        Refused(Honest(20), Sim with { SpreadIncluded = false }).Message.ShouldContain("no spread");
        var rows = Honest(20);
        rows[5] = rows[5] with { Commission = 0m };
        var e = Refused(rows);
        e.Rule.ShouldBe(LeakageGates.LabelWithoutCosts);
        e.Offending.ShouldBe(["D0005"]);
    }

    [Fact]
    public void ALabelKnownBeforeItsDecision_OtherFeatureCode_AndADuplicateDecision_AreRefusedByName()
    {
        var rows = Honest(20);
        rows[9] = rows[9] with { LabelEndUtc = rows[9].DecisionUtc.AddHours(-1) };
        Refused(rows).Rule.ShouldBe(Judges.Validation.WalkForward.LabelBeforeDecision);

        rows = Honest(20);
        rows[2] = rows[2] with { FeatureCode = "0123456789abcdef" };
        Refused(rows).Rule.ShouldBe(LeakageGates.FeatureCodeMismatch);

        rows = Honest(20);
        rows.Add(rows[4]);
        Refused(rows).Rule.ShouldBe(LeakageGates.DuplicateDecision);
    }

    [Fact]
    public void AnHonestDataset_IsWritten_ReadBackIdentically_AndATamperedFileIsRefused()
    {
        var rows = Honest(60);
        var manifest = DatasetWriter.Write(_dir.FullName, rows, [new UnlabeledDecision("X1", JudgeKind.Exit, "open at the end")], [Sim], ["test"], T0);
        manifest.Files["entry"].Rows.ShouldBe(60);
        manifest.Unlabeled.Values.Sum().ShouldBe(1);
        var (_, back) = DatasetWriter.Read(_dir.FullName, JudgeKind.Entry);
        back.Select(r => (r.DecisionId, r.Label, r.DecisionUtc, r.LabelEndUtc)).ShouldBe(rows.Select(r => (r.DecisionId, r.Label, r.DecisionUtc, r.LabelEndUtc)));
        back.Select(r => r.Features.Values).ShouldBe(rows.Select(r => r.Features.Values));

        var path = Path.Combine(_dir.FullName, "entry.csv");
        File.WriteAllText(path, File.ReadAllText(path).Replace(",1,2,", ",0,2,", StringComparison.Ordinal));
        Should.Throw<DatasetRefusedException>(() => DatasetWriter.Read(_dir.FullName, JudgeKind.Entry)).Rule.ShouldBe("dataset-hash-mismatch");
    }

    [Fact]
    public void Training_NeverSeesTheHoldOut_PurgesLabelsThatCrossIntoIt_AndScoresFoldsAgainstTheBaseRate()
    {
        var rows = Honest(400);
        var holdOut = rows[300].DecisionUtc;
        rows[298] = rows[298] with { LabelEndUtc = holdOut.AddHours(1) }; // its label is known only inside the hold-out
        var t = JudgeTrainer.Train(JudgeKind.Entry, rows, holdOut, 4, TimeSpan.FromHours(12), null, TimeProvider.System);
        t.TrainToUtc.ShouldBeLessThan(holdOut);
        t.Purged.ShouldBeGreaterThanOrEqualTo(2, "the crossing row and the rows inside the embargo");
        t.TrainRows.ShouldBe(300 - t.Purged);
        t.HoldOut!.Rows.ShouldBe(100);
        t.Folds.Count.ShouldBe(4);
        t.Folds.ShouldAllBe(f => f.BaseLogLoss > 0);
        // The planted signal (label from feature 0) is learnable: the hold-out beats the base rate.
        t.HoldOut.Auc.ShouldBeGreaterThan(0.8);
        t.HoldOut.LogLoss.ShouldBeLessThan(t.HoldOut.BaseLogLoss);
        t.References.Count.ShouldBe(16);
    }

    [Fact]
    public void Training_IsDeterministic_SameRowsSameModelBytes()
    {
        var rows = Honest(200, seed: 7);
        var a = JudgeTrainer.Train(JudgeKind.Entry, rows, null, 3, TimeSpan.FromHours(12), null, TimeProvider.System);
        var b = JudgeTrainer.Train(JudgeKind.Entry, rows, null, 3, TimeSpan.FromHours(12), null, TimeProvider.System);
        b.Model.ShouldBe(a.Model);
        b.Chosen.ShouldBe(a.Chosen);
    }
}
