using System.Globalization;
using MetalSniper.Features;
using MetalSniper.Judges.Evaluation;
using MetalSniper.Judges.Validation;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Verdicts;
using MetalSniper.Judges.XgBoost;
using MetalSniper.Research.Datasets;

namespace MetalSniper.Research.Training;

/// <summary>One hyper-parameter set of the search.</summary>
/// <param name="MaxDepth">Tree depth.</param>
/// <param name="Eta">Learning rate.</param>
/// <param name="Rounds">Boosting rounds.</param>
/// <param name="MinChildWeight">Minimum hessian per leaf.</param>
public sealed record HyperParameters(int MaxDepth, double Eta, int Rounds, double MinChildWeight)
{
    /// <summary>XGBoost's parameters for this set (binary:logistic, hist, fixed seed, 1 thread: the same data gives the same model).</summary>
    public IEnumerable<KeyValuePair<string, string>> ToXgb()
    {
        var ic = CultureInfo.InvariantCulture;
        yield return new("objective", "binary:logistic");
        yield return new("tree_method", "hist");
        yield return new("max_depth", MaxDepth.ToString(ic));
        yield return new("eta", Eta.ToString(ic));
        yield return new("min_child_weight", MinChildWeight.ToString(ic));
        yield return new("subsample", "1");
        yield return new("lambda", "1");
        yield return new("seed", "0");
        yield return new("nthread", "1");
    }

    /// <summary>The default search grid: shallow trees, few rounds (hundreds to a few thousand rows per judge).</summary>
    public static IReadOnlyList<HyperParameters> DefaultGrid { get; } =
    [
        new(2, 0.05, 100, 5), new(3, 0.05, 100, 5), new(2, 0.1, 200, 10), new(3, 0.1, 100, 10), new(4, 0.05, 150, 20),
    ];
}

/// <summary>Scores of predictions on one set of rows, with the base-rate baseline beside them.</summary>
/// <param name="Rows">Rows scored.</param>
/// <param name="Positives">Rows with label 1.</param>
/// <param name="Auc">Area under the ROC curve (NaN with one class only).</param>
/// <param name="LogLoss">Mean log-loss.</param>
/// <param name="Brier">Mean squared error of the probability.</param>
/// <param name="BaseRate">The training positive rate (the baseline's constant prediction).</param>
/// <param name="BaseLogLoss">Log-loss of the base-rate baseline on the same rows.</param>
/// <param name="BaseBrier">Brier score of the base-rate baseline.</param>
public sealed record Scores(int Rows, int Positives, double Auc, double LogLoss, double Brier, double BaseRate, double BaseLogLoss, double BaseBrier)
{
    /// <summary>Scores <paramref name="p"/> against <paramref name="y"/>.</summary>
    public static Scores Of(ReadOnlySpan<double> p, ReadOnlySpan<int> y, double baseRate)
    {
        var b = new double[y.Length];
        Array.Fill(b, Math.Clamp(baseRate, 1e-6, 1 - 1e-6));
        var positives = 0;
        foreach (var v in y)
        {
            positives += v;
        }

        var auc = positives == 0 || positives == y.Length ? double.NaN : Metrics.Auc(p, y);
        return new Scores(y.Length, positives, auc, Metrics.LogLoss(p, y), Metrics.Brier(p, y), baseRate, Metrics.LogLoss(b, y), Metrics.Brier(b, y));
    }

    /// <summary>One line: "AUC 0.612, log-loss 0.480 (base 0.495), Brier 0.153 (base 0.158), 412 rows".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"AUC {Auc:0.000}, log-loss {LogLoss:0.000} (base {BaseLogLoss:0.000}), Brier {Brier:0.0000} (base {BaseBrier:0.0000}), {Rows} rows, {Positives} positive");
}

/// <summary>The result of training one judge.</summary>
/// <param name="Judge">Which judge.</param>
/// <param name="Model">The XGBoost JSON model.</param>
/// <param name="Chosen">The hyper-parameters chosen on the validation folds.</param>
/// <param name="Calibration">The calibrator fitted on out-of-fold predictions.</param>
/// <param name="Folds">Per fold of the chosen set: the scores of its test block (raw probabilities).</param>
/// <param name="Search">Mean validation log-loss of every set tried.</param>
/// <param name="CalibratedOutOfFold">Scores of the calibrated out-of-fold predictions (the later half, calibrator fitted on the earlier).</param>
/// <param name="HoldOut">Scores on the held-out period (calibrated), or null when none was given.</param>
/// <param name="Reliability">Reliability table of the calibrated held-out (or out-of-fold) predictions.</param>
/// <param name="TrainFromUtc">First training decision.</param>
/// <param name="TrainToUtc">Last training label end.</param>
/// <param name="TrainRows">Rows the final model was trained on.</param>
/// <param name="Purged">Rows purged because their label horizon crossed into the hold-out or its embargo.</param>
/// <param name="RewardRisk">Mean net R of positive training rows / |mean net R of the others|.</param>
/// <param name="References">Reference feature rows for parity at load (the registry pins their probabilities).</param>
/// <param name="TrainingTime">Wall time of the whole search and fit.</param>
public sealed record TrainedJudge(JudgeKind Judge, byte[] Model, HyperParameters Chosen, Calibrator Calibration, IReadOnlyList<Scores> Folds,
    IReadOnlyDictionary<string, double> Search, Scores CalibratedOutOfFold, Scores? HoldOut, IReadOnlyList<ReliabilityBin> Reliability,
    DateTimeOffset TrainFromUtc, DateTimeOffset TrainToUtc, int TrainRows, int Purged, double RewardRisk, IReadOnlyList<IReadOnlyList<float>> References, TimeSpan TrainingTime);

/// <summary>
/// Trains a judge: purged, embargoed walk-forward folds (<see cref="WalkForward"/>) over the rows before the hold-out;
/// every hyper-parameter set scored on the validation blocks only; the chosen set refitted on everything before the
/// hold-out; probability calibration (Platt or isotonic, whichever scores the better Brier on the later half of the
/// out-of-fold predictions when fitted on the earlier half) fitted on out-of-fold predictions; the hold-out touched once,
/// at the end, for the report.
/// </summary>
public static class JudgeTrainer
{
    /// <summary>Trains.</summary>
    /// <param name="judge">Which judge.</param>
    /// <param name="rows">The judge's rows (any order; sorted here by decision time).</param>
    /// <param name="holdOutFromUtc">Rows decided at or after this are the hold-out (null: none).</param>
    /// <param name="folds">Walk-forward validation folds.</param>
    /// <param name="embargo">Gap after each training block (and before the hold-out).</param>
    /// <param name="grid">Hyper-parameter sets to try (null: <see cref="HyperParameters.DefaultGrid"/>).</param>
    /// <param name="time">Clock for the training time.</param>
    /// <exception cref="LeakageException">A split breaks a rule (named).</exception>
    /// <exception cref="ArgumentException">Too few rows, or only one class.</exception>
    public static TrainedJudge Train(JudgeKind judge, IReadOnlyList<LabeledRow> rows, DateTimeOffset? holdOutFromUtc, int folds, TimeSpan embargo, IReadOnlyList<HyperParameters>? grid, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(time);
        var started = time.GetTimestamp();
        grid ??= HyperParameters.DefaultGrid;
        var ordered = rows.OrderBy(r => r.DecisionUtc).ThenBy(r => r.DecisionId, StringComparer.Ordinal).ToList();
        var cut = holdOutFromUtc ?? DateTimeOffset.MaxValue;
        var dev = new List<LabeledRow>();
        var purged = 0;
        foreach (var r in ordered.Where(r => r.DecisionUtc < cut))
        {
            // The hold-out is untouched: a row whose label is known only inside it (or its embargo) would leak it.
            if (holdOutFromUtc is { } h && (r.LabelEndUtc >= h || r.DecisionUtc > h - embargo))
            {
                purged++;
                continue;
            }

            dev.Add(r);
        }

        var holdOut = ordered.Where(r => r.DecisionUtc >= cut).ToList();
        if (dev.Select(r => r.Label).Distinct().Count() < 2)
        {
            throw new ArgumentException($"the {judge} judge's training rows have one class only ({dev.Count} rows)", nameof(rows));
        }

        var samples = dev.Select(r => new Sample(r.DecisionId, r.DecisionUtc, r.LabelEndUtc)).ToList();
        var split = WalkForward.Split(samples, folds, embargo);
        var x = Matrix(dev);
        var y = dev.Select(r => r.Label).ToArray();

        // Hyper-parameters: mean log-loss over the validation blocks, nothing else.
        var search = new Dictionary<string, double>(StringComparer.Ordinal);
        HyperParameters? best = null;
        var bestLoss = double.MaxValue;
        double[]? bestOof = null;
        IReadOnlyList<Scores>? bestFolds = null;
        foreach (var hp in grid)
        {
            var oof = new double[dev.Count];
            Array.Fill(oof, double.NaN);
            var scores = new List<Scores>();
            foreach (var fold in split)
            {
                var p = FitPredict(x, y, fold.Train, fold.Test, hp);
                for (var i = 0; i < fold.Test.Count; i++)
                {
                    oof[fold.Test[i]] = p[i];
                }

                var baseRate = fold.Train.Average(i => (double)y[i]);
                scores.Add(Scores.Of(p, [.. fold.Test.Select(i => y[i])], baseRate));
            }

            var loss = scores.Average(s => s.LogLoss);
            search[$"depth {hp.MaxDepth}, eta {hp.Eta.ToString(CultureInfo.InvariantCulture)}, rounds {hp.Rounds}, min_child_weight {hp.MinChildWeight.ToString(CultureInfo.InvariantCulture)}"] = loss;
            if (loss < bestLoss)
            {
                (best, bestLoss, bestOof, bestFolds) = (hp, loss, oof, scores);
            }
        }

        // Calibration on out-of-fold predictions, in time order: choose on the later half, fit on all of it.
        var oofIndex = Enumerable.Range(0, dev.Count).Where(i => !double.IsNaN(bestOof![i])).ToArray();
        var oofP = oofIndex.Select(i => bestOof![i]).ToArray();
        var oofY = oofIndex.Select(i => y[i]).ToArray();
        var half = oofP.Length / 2;
        var platt = Calibrator.Platt(oofP.AsSpan(0, half), oofY.AsSpan(0, half));
        var isotonic = Calibrator.Isotonic(oofP.AsSpan(0, half), oofY.AsSpan(0, half));
        var later = oofP.AsSpan(half).ToArray();
        var laterY = oofY.AsSpan(half).ToArray();
        var firstRate = oofY.Take(half).Average(v => (double)v);
        var plattScores = Scores.Of(later.Select(v => platt.Apply(v)).ToArray(), laterY, firstRate);
        var isoScores = Scores.Of(later.Select(v => isotonic.Apply(v)).ToArray(), laterY, firstRate);
        var usePlatt = plattScores.Brier <= isoScores.Brier;
        var calibrator = usePlatt ? Calibrator.Platt(oofP, oofY) : Calibrator.Isotonic(oofP, oofY);

        // The final model: every development row.
        var all = Enumerable.Range(0, dev.Count).ToArray();
        byte[] model;
        using (var train = new XgbMatrix(Flatten(x, all), FeatureBuilder.Schema.Count, [.. y.Select(v => (float)v)]))
        using (var booster = XgbBooster.Train(train, best!.ToXgb(), best.Rounds))
        {
            model = booster.Save();
        }

        Scores? holdOutScores = null;
        IReadOnlyList<ReliabilityBin> reliability;
        using var final = XgbBooster.Load(model);
        if (holdOut.Count > 0)
        {
            var hx = Matrix(holdOut);
            using var hm = new XgbMatrix(Flatten(hx, [.. Enumerable.Range(0, holdOut.Count)]), FeatureBuilder.Schema.Count);
            var raw = final.Predict(hm);
            var cal = raw.Select(v => calibrator.Apply(v)).ToArray();
            var hy = holdOut.Select(r => r.Label).ToArray();
            holdOutScores = Scores.Of(cal, hy, y.Average(v => (double)v));
            reliability = Metrics.Reliability(cal, hy);
        }
        else
        {
            var chosen = usePlatt ? platt : isotonic;
            reliability = Metrics.Reliability(later.Select(v => chosen.Apply(v)).ToArray(), laterY);
        }

        // Reference rows: 16 evenly spaced development rows, predicted by the final native model.
        var refIndex = Enumerable.Range(0, 16).Select(k => k * (dev.Count - 1) / 15).Distinct().ToArray();
        var references = refIndex.Select(i => (IReadOnlyList<float>)x[i]).ToList();

        var wins = dev.Where(r => r.Label == 1).Select(r => r.NetR).DefaultIfEmpty(0).Average();
        var losses = dev.Where(r => r.Label == 0).Select(r => r.NetR).DefaultIfEmpty(0).Average();
        return new TrainedJudge(judge, model, best, calibrator, bestFolds!, search, usePlatt ? plattScores : isoScores, holdOutScores, reliability,
            dev[0].DecisionUtc, dev.Max(r => r.LabelEndUtc), dev.Count, purged, losses < 0 ? wins / -losses : 1.0, references, time.GetElapsedTime(started));
    }

    private static double[] FitPredict(float[][] x, int[] y, IReadOnlyList<int> trainIndex, IReadOnlyList<int> testIndex, HyperParameters hp)
    {
        using var train = new XgbMatrix(Flatten(x, trainIndex), FeatureBuilder.Schema.Count, [.. trainIndex.Select(i => (float)y[i])]);
        using var booster = XgbBooster.Train(train, hp.ToXgb(), hp.Rounds);
        using var test = new XgbMatrix(Flatten(x, testIndex), FeatureBuilder.Schema.Count);
        return Array.ConvertAll(booster.Predict(test), v => (double)v);
    }

    private static float[][] Matrix(IReadOnlyList<LabeledRow> rows) => [.. rows.Select(r => r.Features.Values)];

    private static float[] Flatten(float[][] x, IReadOnlyList<int> index)
    {
        var n = FeatureBuilder.Schema.Count;
        var flat = new float[index.Count * n];
        for (var k = 0; k < index.Count; k++)
        {
            x[index[k]].AsSpan().CopyTo(flat.AsSpan(k * n, n));
        }

        return flat;
    }
}
