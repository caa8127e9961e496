using MetalSniper.Judges.Evaluation;
using MetalSniper.Judges.Validation;

namespace MetalSniper.Judges.Tests;

public sealed class ValidationTests
{
    private static readonly DateTimeOffset T0 = new(2025, 6, 16, 0, 0, 0, TimeSpan.Zero);

    /// <summary>One decision an hour, each labelled when its trade closed <paramref name="horizonHours"/> later.</summary>
    private static List<Sample> Samples(int n, int horizonHours) =>
        [.. Enumerable.Range(0, n).Select(i => new Sample($"D{i:D5}", T0.AddHours(i), T0.AddHours(i + horizonHours)))];

    [Fact]
    public void WalkForward_TrainsOnlyOnThePast_PurgesCrossingHorizons_AndKeepsTheEmbargo()
    {
        var samples = Samples(600, horizonHours: 10);
        var folds = WalkForward.Split(samples, folds: 5, embargo: TimeSpan.FromHours(4));
        folds.Count.ShouldBe(5);
        foreach (var f in folds)
        {
            var testStart = f.Test.Min(i => samples[i].DecidedUtc);
            f.Train.ShouldAllBe(i => samples[i].DecidedUtc <= testStart.AddHours(-4) && samples[i].LabelKnownUtc < testStart);
            f.Purged.ShouldBe(10); // the 10 h horizon reaches in for the last 10 decisions; the 4 h embargo adds none beyond them
            f.Train.Intersect(f.Test).ShouldBeEmpty();
        }

        // Test periods tile the later blocks, in order, each after the last.
        folds.SelectMany(f => f.Test).ShouldBe(Enumerable.Range(100, 500));
    }

    [Fact]
    public void ShuffledSamples_AreRefusedByName()
    {
        var samples = Samples(100, 2);
        (samples[10], samples[20]) = (samples[20], samples[10]);
        var e = Should.Throw<LeakageException>(() => WalkForward.Split(samples, 3, TimeSpan.Zero));
        e.Rule.ShouldBe(WalkForward.NotOrdered);
        e.Offending.ShouldContain("D00010");
    }

    [Fact]
    public void AFoldThatTrainsOnAHorizonCrossingTheSplit_IsRefused()
    {
        var samples = Samples(100, 10);
        var leaky = new Fold(1, [.. Enumerable.Range(0, 50)], [.. Enumerable.Range(50, 25)], 0); // no purge
        var e = Should.Throw<LeakageException>(() => WalkForward.Check(samples, leaky, TimeSpan.Zero));
        e.Rule.ShouldBe(WalkForward.HorizonCrossesSplit);
        e.Offending.Count.ShouldBe(10);
        e.Message.ShouldContain("purge");
    }

    [Fact]
    public void AFoldInsideTheEmbargo_OrTrainingOnTheFuture_OrSharingADecision_IsRefused()
    {
        var samples = Samples(100, 0);
        Should.Throw<LeakageException>(() => WalkForward.Check(samples, new Fold(1, [.. Enumerable.Range(0, 50)], [.. Enumerable.Range(50, 10)], 0), TimeSpan.FromHours(3)))
            .Rule.ShouldBe(WalkForward.InsideEmbargo);
        Should.Throw<LeakageException>(() => WalkForward.Check(samples, new Fold(1, [.. Enumerable.Range(0, 50), 70], [.. Enumerable.Range(50, 10)], 0), TimeSpan.Zero))
            .Rule.ShouldBe(WalkForward.NotOrdered);
        Should.Throw<LeakageException>(() => WalkForward.Check(samples, new Fold(1, [.. Enumerable.Range(0, 51)], [.. Enumerable.Range(50, 10)], 0), TimeSpan.Zero))
            .Rule.ShouldBe(WalkForward.DecisionInTwoFolds);
        var twice = Samples(50, 0);
        twice.Add(twice[^1] with { });
        Should.Throw<LeakageException>(() => WalkForward.Split(twice, 2, TimeSpan.Zero)).Rule.ShouldBe(WalkForward.DecisionInTwoFolds);
        var early = Samples(50, 0);
        early[5] = early[5] with { LabelKnownUtc = early[5].DecidedUtc.AddMinutes(-1) };
        Should.Throw<LeakageException>(() => WalkForward.Split(early, 2, TimeSpan.Zero)).Rule.ShouldBe(WalkForward.LabelBeforeDecision);
    }

    [Fact]
    public void Metrics_KnownValues()
    {
        double[] p = [0.1, 0.4, 0.35, 0.8];
        int[] y = [0, 0, 1, 1];
        Metrics.Auc(p, y).ShouldBe(0.75, 1e-12); // scikit-learn's roc_auc_score example
        Metrics.Brier(p, y).ShouldBe(((0.01 + 0.16 + 0.4225 + 0.04) / 4), 1e-12);
        Metrics.LogLoss(p, y).ShouldBe(-(Math.Log(0.9) + Math.Log(0.6) + Math.Log(0.35) + Math.Log(0.8)) / 4, 1e-12);
        Metrics.Auc([0.5, 0.5, 0.5, 0.5], y).ShouldBe(0.5);
        Should.Throw<ArgumentException>(() => Metrics.Auc(p, [1, 1, 1, 1]));
        Should.Throw<ArgumentException>(() => Metrics.Brier([1.2], [1]));
        Should.Throw<ArgumentException>(() => Metrics.Brier([0.2], [2]));
    }

    [Fact]
    public void Calibration_OfOverconfidentProbabilities_FittedOnValidation_LowersTheBrierScoreOnLaterData()
    {
        // True probability q; the model says sigmoid(3·logit q): overconfident.
        static (double[] P, int[] Y) Draw(int n, int seed)
        {
            var r = new Random(seed);
            var p = new double[n];
            var y = new int[n];
            for (var i = 0; i < n; i++)
            {
                var q = 0.05 + (0.9 * r.NextDouble());
                var logit = Math.Log(q / (1 - q));
                p[i] = 1 / (1 + Math.Exp(-3 * logit));
                y[i] = r.NextDouble() < q ? 1 : 0;
            }

            return (p, y);
        }

        var (pv, yv) = Draw(4_000, 1);
        var (pt, yt) = Draw(4_000, 2);
        var raw = Metrics.Brier(pt, yt);
        foreach (var c in new[] { Calibrator.Platt(pv, yv), Calibrator.Isotonic(pv, yv) })
        {
            var calibrated = pt.Select(c.Apply).ToArray();
            Metrics.Brier(calibrated, yt).ShouldBeLessThan(raw - 0.01, $"{c.Method}: raw {raw}");
            // A reliability table of the calibrated probabilities: each populated bin within 0.1 of its observed rate.
            Metrics.Reliability(calibrated, yt).Where(b => b.Count >= 100).ShouldAllBe(b => Math.Abs(b.MeanPredicted - b.ObservedRate) < 0.1);
        }

        var iso = Calibrator.Isotonic(pv, yv);
        Enumerable.Range(0, 101).Select(i => iso.Apply(i / 100.0)).ShouldBeInOrder(SortDirection.Ascending);
    }
}
