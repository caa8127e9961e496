using System.Text;
using System.Text.Json.Nodes;
using MetalSniper.Judges.Serving;

namespace MetalSniper.Judges.Tests;

/// <summary>The managed evaluator against the real library: the same probabilities, row for row.</summary>
public sealed class TreeEnsembleTests
{
    private static void ShouldMatchNative(int columns, int depth, int rounds, string? baseScore, int rowsToCompare, int seed, string treeMethod)
    {
        var (booster, json) = TestModels.Train(4_000, columns, depth, rounds, seed, baseScore: baseScore, treeMethod: treeMethod);
        using (booster)
        {
            var ensemble = TreeEnsemble.FromXgboostJson(json);
            ensemble.FeatureCount.ShouldBe(columns);
            ensemble.TreeCount.ShouldBe(rounds);
            ensemble.NodeCount.ShouldBeGreaterThan(rounds * 3);
            var (rows, _) = TestModels.Data(rowsToCompare, columns, seed + 1000, missing: 0.15);
            var native = TestModels.NativePredict(booster, rows, columns);
            var managed = new float[rowsToCompare];
            ensemble.PredictMany(rows, managed);
            var worst = 0.0;
            for (var i = 0; i < rowsToCompare; i++)
            {
                worst = Math.Max(worst, Math.Abs(managed[i] - native[i]));
                ensemble.Predict(rows.AsSpan(i * columns, columns)).ShouldBe(managed[i]);
            }

            worst.ShouldBeLessThanOrEqualTo(1e-6, $"depth {depth}, {rounds} rounds, base_score {baseScore}, {treeMethod}");
        }
    }

    [Theory]
    [InlineData("exact")]
    [InlineData("hist")]
    [InlineData("approx")]
    public void ManagedProbabilities_EqualTheNativeLibrarys_OnRandomRowsWithMissingValues(string treeMethod) =>
        ShouldMatchNative(columns: 24, depth: 4, rounds: 200, baseScore: null, rowsToCompare: 5_000, seed: 1, treeMethod);

    [Fact]
    public void ManagedProbabilities_EqualTheNativeLibrarys_ForDeepTreesAndAnotherBaseScore() =>
        ShouldMatchNative(columns: 7, depth: 8, rounds: 61, baseScore: "0.2", rowsToCompare: 3_000, seed: 2, treeMethod: "hist");

    [Fact]
    public void AFeatureEqualToItsSplitCondition_GoesRight_AsInXgboost()
    {
        const int columns = 6;
        var (booster, json) = TestModels.Train(2_000, columns, depth: 5, rounds: 30, seed: 3);
        using (booster)
        {
            // Rows whose features sit exactly on the model's own split thresholds (and either side of them).
            var thresholds = new List<(int Feature, float Value)>();
            foreach (var tree in JsonNode.Parse(json)!["learner"]!["gradient_booster"]!["model"]!["trees"]!.AsArray())
            {
                var left = tree!["left_children"]!.AsArray();
                for (var i = 0; i < left.Count; i++)
                {
                    if ((int)left[i]! != -1)
                    {
                        thresholds.Add(((int)tree["split_indices"]![i]!, (float)tree["split_conditions"]![i]!));
                    }
                }
            }

            thresholds.Count.ShouldBeGreaterThan(100);
            var r = new Random(5);
            var rows = new float[thresholds.Count * 3 * columns];
            var byFeature = Enumerable.Range(0, columns).Select(j => thresholds.Where(t => t.Feature == j).Select(t => t.Value).ToArray()).ToArray();
            for (var k = 0; k < thresholds.Count * 3; k++)
            {
                for (var j = 0; j < columns; j++)
                {
                    var x = byFeature[j].Length == 0 ? 0f : byFeature[j][r.Next(byFeature[j].Length)];
                    rows[(k * columns) + j] = (k % 3) switch { 0 => x, 1 => MathF.BitDecrement(x), _ => MathF.BitIncrement(x) };
                }
            }

            var ensemble = TreeEnsemble.FromXgboostJson(json);
            var native = TestModels.NativePredict(booster, rows, columns);
            for (var i = 0; i < native.Length; i++)
            {
                Math.Abs((double)ensemble.Predict(rows.AsSpan(i * columns, columns)) - native[i]).ShouldBeLessThanOrEqualTo(1e-6, $"row {i}");
            }
        }
    }

    [Fact]
    public void ARowWithEveryFeatureMissing_FollowsTheDefaultDirections_AsInXgboost()
    {
        const int columns = 5;
        var (booster, json) = TestModels.Train(2_000, columns, depth: 4, rounds: 40, seed: 4);
        using (booster)
        {
            var rows = Enumerable.Repeat(float.NaN, columns).Concat([float.NaN, 1f, float.NaN, -1f, float.NaN]).ToArray();
            var native = TestModels.NativePredict(booster, rows, columns);
            var ensemble = TreeEnsemble.FromXgboostJson(json);
            Math.Abs((double)ensemble.Predict(rows.AsSpan(0, columns)) - native[0]).ShouldBeLessThanOrEqualTo(1e-6);
            Math.Abs((double)ensemble.Predict(rows.AsSpan(columns, columns)) - native[1]).ShouldBeLessThanOrEqualTo(1e-6);
        }
    }

    [Fact]
    public void Margin_IsTheLogitOfBaseScorePlusTheLeaves_AndPredictIsItsSigmoid()
    {
        var (booster, json) = TestModels.Train(1_000, 4, depth: 3, rounds: 5, seed: 6, baseScore: "0.3");
        booster.Dispose();
        var ensemble = TreeEnsemble.FromXgboostJson(json);
        ensemble.BaseScore.ShouldBe(0.3f);
        ensemble.BaseMargin.ShouldBe((float)Math.Log(0.3 / 0.7), 1e-6);
        ensemble.XgboostVersion.ShouldBe("1.7.4");
        float[] row = [0.1f, -0.5f, float.NaN, 1.5f];
        ensemble.Predict(row).ShouldBe((float)(1 / (1 + Math.Exp(-ensemble.PredictMargin(row)))), 1e-7);
    }

    [Fact]
    public void AnObjectiveOtherThanBinaryLogistic_IsRefused_ByName()
    {
        var (booster, json) = TestModels.Train(500, 4, depth: 3, rounds: 3, seed: 7, objective: "reg:squarederror");
        booster.Dispose();
        Should.Throw<ModelFormatException>(() => TreeEnsemble.FromXgboostJson(json)).Message.ShouldContain("reg:squarederror");
    }

    [Fact]
    public void NotJson_OrAModelWithoutTrees_IsRefused()
    {
        Should.Throw<ModelFormatException>(() => TreeEnsemble.FromXgboostJson("not json"u8)).Message.ShouldContain("not JSON");
        var (booster, json) = TestModels.Train(500, 4, depth: 3, rounds: 3, seed: 8);
        booster.Dispose();
        var node = JsonNode.Parse(json)!;
        node["learner"]!["gradient_booster"]!["model"]!.AsObject().Remove("trees");
        Should.Throw<ModelFormatException>(() => TreeEnsemble.FromXgboostJson(Encoding.UTF8.GetBytes(node.ToJsonString()))).Message.ShouldContain("'trees'");
    }

    [Theory]
    [InlineData("shared child", "not two distinct nodes")]
    [InlineData("child before parent", "not two distinct nodes")]
    [InlineData("feature out of range", "splits on feature 99")]
    [InlineData("dart booster", "only gbtree")]
    [InlineData("categorical split", "categorical")]
    public void AnInconsistentOrUnservedTree_IsRefused_ByWhatIsWrong(string how, string message)
    {
        var (booster, json) = TestModels.Train(500, 4, depth: 3, rounds: 3, seed: 10);
        booster.Dispose();
        var node = JsonNode.Parse(json)!;
        var tree = node["learner"]!["gradient_booster"]!["model"]!["trees"]![1]!;
        switch (how)
        {
            case "shared child":
                tree["right_children"]![0] = (int)tree["left_children"]![0]!;
                break;
            case "child before parent":
                tree["left_children"]![1] = 0;
                break;
            case "feature out of range":
                tree["split_indices"]![0] = 99;
                break;
            case "dart booster":
                node["learner"]!["gradient_booster"]!["name"] = "dart";
                break;
            case "categorical split":
                tree["split_type"]![0] = 1;
                break;
        }

        Should.Throw<ModelFormatException>(() => TreeEnsemble.FromXgboostJson(Encoding.UTF8.GetBytes(node.ToJsonString()))).Message.ShouldContain(message);
    }

    [Fact]
    public void ARowOfTheWrongWidth_IsRefused()
    {
        var (booster, json) = TestModels.Train(500, 4, depth: 3, rounds: 3, seed: 9);
        booster.Dispose();
        var ensemble = TreeEnsemble.FromXgboostJson(json);
        Should.Throw<ArgumentException>(() => ensemble.Predict(new float[3])).Message.ShouldContain("4 features");
    }
}
