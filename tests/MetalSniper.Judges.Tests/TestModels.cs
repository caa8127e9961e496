using MetalSniper.Judges.XgBoost;

namespace MetalSniper.Judges.Tests;

/// <summary>Small real models trained with the binding on seeded synthetic data (some features missing).</summary>
internal static class TestModels
{
    /// <summary>XGBoost parameters for a binary:logistic model of the given depth.</summary>
    public static KeyValuePair<string, string>[] Parameters(int depth, string objective = "binary:logistic", string? baseScore = null, string treeMethod = "exact")
    {
        var p = new List<KeyValuePair<string, string>>
        {
            new("objective", objective), new("max_depth", depth.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("eta", "0.2"),
            new("seed", "11"), new("nthread", "1"), new("tree_method", treeMethod), new("verbosity", "0"), new("subsample", "0.8"), new("colsample_bytree", "0.8"),
        };
        if (baseScore is not null)
        {
            p.Add(new("base_score", baseScore));
        }

        return [.. p];
    }

    /// <summary>
    /// Rows of <paramref name="columns"/> features in [−2, 2] (a share <paramref name="missing"/> NaN), labelled by a noisy
    /// non-linear rule over the first few features, so that trees split on many features and learn default directions.
    /// </summary>
    public static (float[] Rows, float[] Labels) Data(int n, int columns, int seed, double missing = 0.1)
    {
        var r = new Random(seed);
        var rows = new float[n * columns];
        var labels = new float[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                rows[(i * columns) + j] = r.NextDouble() < missing ? float.NaN : (float)((r.NextDouble() * 4) - 2);
            }

            double V(int j) => float.IsNaN(rows[(i * columns) + (j % columns)]) ? 0.5 : rows[(i * columns) + (j % columns)];
            var score = V(0) + (V(1) * V(2)) - Math.Abs(V(3)) + (0.5 * Math.Sin(3 * V(4))) + (float.IsNaN(rows[(i * columns) + (5 % columns)]) ? 1 : 0);
            labels[i] = r.NextDouble() < 1 / (1 + Math.Exp(-2 * score)) ? 1f : 0f;
        }

        return (rows, labels);
    }

    /// <summary>Trains a model on <see cref="Data"/> and returns it with its JSON bytes.</summary>
    public static (XgbBooster Booster, byte[] Json) Train(int n, int columns, int depth, int rounds, int seed = 1, string objective = "binary:logistic", string? baseScore = null, string treeMethod = "exact")
    {
        var (rows, labels) = Data(n, columns, seed);
        using var m = new XgbMatrix(rows, columns, labels);
        var booster = XgbBooster.Train(m, Parameters(depth, objective, baseScore, treeMethod), rounds);
        return (booster, booster.Save());
    }

    /// <summary>The native prediction of each row (one matrix for all rows).</summary>
    public static float[] NativePredict(XgbBooster booster, float[] rows, int columns)
    {
        using var m = new XgbMatrix(rows, columns);
        return booster.Predict(m);
    }
}
