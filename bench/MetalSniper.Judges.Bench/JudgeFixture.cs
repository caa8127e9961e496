using System.Globalization;
using MetalSniper.Judges.Evaluation;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.XgBoost;

namespace MetalSniper.Judges.Bench;

/// <summary>
/// A judge of realistic size, trained with the binding on seeded synthetic decisions: 24 features (10 % missing),
/// 200 rounds of depth 4, eta 0.05, on 20 000 rows; and the rows it is asked about.
/// </summary>
internal static class JudgeFixture
{
    public const int Features = 24;
    public const int TrainingRows = 20_000;
    public const int Rounds = 200;
    public const int Depth = 4;

    public static KeyValuePair<string, string>[] Parameters(int threads) =>
    [
        new("objective", "binary:logistic"), new("max_depth", Depth.ToString(CultureInfo.InvariantCulture)), new("eta", "0.05"), new("subsample", "0.8"),
        new("colsample_bytree", "0.8"), new("tree_method", "hist"), new("seed", "7"), new("nthread", threads.ToString(CultureInfo.InvariantCulture)), new("verbosity", "0"),
    ];

    /// <summary>Rows of <see cref="Features"/> features, 10 % NaN, with a noisy non-linear label.</summary>
    public static (float[] Rows, float[] Labels) Data(int n, int seed)
    {
        var r = new Random(seed);
        var rows = new float[n * Features];
        var labels = new float[n];
        for (var i = 0; i < n; i++)
        {
            var row = rows.AsSpan(i * Features, Features);
            for (var j = 0; j < Features; j++)
            {
                row[j] = r.NextDouble() < 0.1 ? float.NaN : (float)((r.NextDouble() * 4) - 2);
            }

            double V(Span<float> x, int j) => float.IsNaN(x[j]) ? 0 : x[j];
            var score = V(row, 0) + (V(row, 1) * V(row, 2)) - Math.Abs(V(row, 3)) + (0.5 * Math.Sin(3 * V(row, 4))) + (0.3 * V(row, 5) * V(row, 6)) - (0.2 * V(row, 7));
            labels[i] = r.NextDouble() < 1 / (1 + Math.Exp(-score)) ? 1f : 0f;
        }

        return (rows, labels);
    }

    /// <summary>Trains the judge on <see cref="TrainingRows"/> rows with one thread.</summary>
    public static XgbBooster Train()
    {
        var (rows, labels) = Data(TrainingRows, 1);
        using var m = new XgbMatrix(rows, Features, labels);
        return XgbBooster.Train(m, Parameters(threads: 1), Rounds);
    }

    /// <summary>Saves the judge (Platt calibration fitted on 2 000 later rows) as entry v1 in <paramref name="root"/>.</summary>
    public static ModelManifest Save(XgbBooster booster, string root)
    {
        var (validation, labels) = Data(2_000, 2);
        using var m = new XgbMatrix(validation, Features);
        var p = booster.Predict(m).Select(x => (double)x).ToArray();
        var calibration = Calibrator.Platt(p, [.. labels.Select(l => (int)l)]).Description;
        var candidate = new ModelCandidate(
            JudgeKind.Entry, [.. FeatureNames.Select(n => new FeatureSpec(n, "float", ""))], "bench-feature-code",
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(365), "synthetic", new string('0', 64),
            Parameters(1).ToDictionary(kv => kv.Key, kv => kv.Value), Rounds, new Dictionary<string, IReadOnlyDictionary<string, double>>(),
            calibration, [.. Enumerable.Range(0, 50).Select(i => (IReadOnlyList<float>)validation.AsSpan(i * Features, Features).ToArray())], booster.Save());
        return new ModelRegistry(root, nativeParity: NativeParity.Required).Save(candidate);
    }

    public static IReadOnlyList<string> FeatureNames { get; } = [.. Enumerable.Range(0, Features).Select(i => $"f{i:00}")];
}
