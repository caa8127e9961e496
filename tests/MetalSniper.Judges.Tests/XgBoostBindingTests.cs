using System.Text;
using MetalSniper.Judges.XgBoost;

namespace MetalSniper.Judges.Tests;

/// <summary>The P/Invoke binding against the real library (Debian's libxgboost0, installed by ./test.sh).</summary>
public sealed class XgBoostBindingTests
{
    private static readonly KeyValuePair<string, string>[] Parameters =
    [
        new("objective", "binary:logistic"), new("max_depth", "3"), new("eta", "0.3"), new("seed", "7"), new("nthread", "1"), new("verbosity", "0"),
    ];

    /// <summary>A seeded problem: the label is 1 when x0 + x1² &gt; 1 (plus 5 % flipped labels), x2 is noise.</summary>
    private static (float[] Rows, float[] Labels) Problem(int n, int seed)
    {
        var r = new Random(seed);
        var rows = new float[n * 3];
        var labels = new float[n];
        for (var i = 0; i < n; i++)
        {
            var (a, b, c) = ((float)(r.NextDouble() * 2), (float)(r.NextDouble() * 2 - 1), (float)r.NextDouble());
            (rows[3 * i], rows[(3 * i) + 1], rows[(3 * i) + 2]) = (a, b, c);
            var y = a + (b * b) > 1 ? 1f : 0f;
            labels[i] = r.NextDouble() < 0.05 ? 1 - y : y;
        }

        return (rows, labels);
    }

    /// <summary>AUC by the rank-sum (Mann–Whitney) formula, ties averaged.</summary>
    private static double Auc(float[] scores, float[] labels)
    {
        var order = Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ToArray();
        var ranks = new double[scores.Length];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]])
            {
                j++;
            }

            for (var k = i; k <= j; k++)
            {
                ranks[order[k]] = ((i + j) / 2.0) + 1;
            }

            i = j + 1;
        }

        var pos = labels.Count(l => l == 1f);
        var neg = labels.Length - pos;
        var sum = Enumerable.Range(0, labels.Length).Where(i => labels[i] == 1f).Sum(i => ranks[i]);
        return (sum - (pos * (pos + 1) / 2.0)) / (pos * (double)neg);
    }

    [Fact]
    public void Library_IsDebiansXgboost17()
    {
        XgbBooster.LibraryVersion.ShouldBe(new Version(1, 7, 4));
    }

    [Fact]
    public void TrainedModel_SeparatesAHeldOutSample_AndItsProbabilitiesAreProbabilities()
    {
        var (trainRows, trainLabels) = Problem(2_000, 1);
        var (testRows, testLabels) = Problem(1_000, 2);
        using var train = new XgbMatrix(trainRows, 3, trainLabels);
        using var test = new XgbMatrix(testRows, 3);
        using var model = XgbBooster.Train(train, Parameters, rounds: 30);
        var p = model.Predict(test);
        p.Length.ShouldBe(1_000);
        p.ShouldAllBe(x => x >= 0f && x <= 1f);
        Auc(p, testLabels).ShouldBeGreaterThan(0.9);
    }

    [Fact]
    public void SavedModel_LoadedBack_PredictsExactlyTheSame()
    {
        var (rows, labels) = Problem(500, 3);
        using var data = new XgbMatrix(rows, 3, labels);
        using var model = XgbBooster.Train(data, Parameters, rounds: 10);
        var bytes = model.Save();
        Encoding.UTF8.GetString(bytes).ShouldStartWith("{");
        using var loaded = XgbBooster.Load(bytes);
        loaded.Predict(data).ShouldBe(model.Predict(data));
    }

    [Fact]
    public void SameSeedSameData_GiveTheSameModel()
    {
        var (rows, labels) = Problem(500, 4);
        using var data = new XgbMatrix(rows, 3, labels);
        using var a = XgbBooster.Train(data, Parameters, rounds: 10);
        using var b = XgbBooster.Train(data, Parameters, rounds: 10);
        b.Save().ShouldBe(a.Save());
    }

    [Fact]
    public void UnknownObjective_IsRefused_WithXgboostsOwnMessage()
    {
        var (rows, labels) = Problem(100, 5);
        using var data = new XgbMatrix(rows, 3, labels);
        var e = Should.Throw<XgbException>(() => XgbBooster.Train(data, [new("objective", "binary:nonsense")], 1));
        e.Message.ShouldContain("binary:nonsense");
    }

    [Fact]
    public void GarbageModelBytes_AreRefused()
    {
        Should.Throw<XgbException>(() => XgbBooster.Load("not a model"u8));
    }

    [Fact]
    public void MatrixShapes_AreChecked_BeforeTheyReachTheLibrary()
    {
        Should.Throw<ArgumentException>(() => new XgbMatrix(new float[7], 3)).Message.ShouldContain("whole rows");
        Should.Throw<ArgumentException>(() => new XgbMatrix(new float[6], 3, new float[3])).Message.ShouldContain("3 labels for 2 rows");
        Should.Throw<ArgumentException>(() => new XgbMatrix(new float[3], 3, [float.NaN])).Message.ShouldContain("finite");
    }
}
