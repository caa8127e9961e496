using BenchmarkDotNet.Attributes;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Serving;
using MetalSniper.Judges.XgBoost;

namespace MetalSniper.Judges.Bench;

/// <summary>
/// One decision's prediction (a single row of 24 features) on the 200 × depth-4 judge, cycling through 1 024 rows with
/// missing values: the managed ensemble (the baseline), the calibrated loaded model, and the native library through our
/// binding (a one-row DMatrix, predict, free: what one decision costs natively). Also a full load from the registry.
/// </summary>
// Not sealed: BenchmarkDotNet emits a runnable type that derives from each benchmark class.
public class JudgeLatency
{
    private const int Mask = 1023;
    private TreeEnsemble _ensemble = null!;
    private LoadedJudgeModel _loaded = null!;
    private XgbBooster _booster = null!;
    private byte[] _json = [];
    private float[] _rows = [];
    private string _root = "";
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _booster = JudgeFixture.Train();
        _json = _booster.Save();
        _ensemble = TreeEnsemble.FromXgboostJson(_json);
        _root = Path.Combine(Path.GetTempPath(), $"judges-bench-{Guid.NewGuid():N}");
        JudgeFixture.Save(_booster, _root);
        _loaded = new ModelRegistry(_root, nativeParity: NativeParity.Required).Load(JudgeKind.Entry, 1, JudgeFixture.FeatureNames, "bench-feature-code");
        _rows = JudgeFixture.Data(Mask + 1, 3).Rows;
        Console.WriteLine($"// judge: {_ensemble.TreeCount} trees, {_ensemble.NodeCount} nodes, {_ensemble.FeatureCount} features, model.json {_json.Length / 1024} KiB");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _booster.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private ReadOnlySpan<float> NextRow() => _rows.AsSpan((_next++ & Mask) * JudgeFixture.Features, JudgeFixture.Features);

    [Benchmark(Baseline = true, Description = "managed TreeEnsemble.Predict (1 row)")]
    public float ManagedEnsemble() => _ensemble.Predict(NextRow());

    [Benchmark(Description = "managed LoadedJudgeModel.Probability (1 row, calibrated)")]
    public double ManagedCalibrated() => _loaded.Probability(NextRow());

    [Benchmark(Description = "native XgbBooster.Predict (1-row DMatrix)")]
    public float Native()
    {
        using var m = new XgbMatrix(NextRow(), JudgeFixture.Features);
        return _booster.Predict(m)[0];
    }

    [Benchmark(Description = "TreeEnsemble.FromXgboostJson (parse)")]
    public int Parse() => TreeEnsemble.FromXgboostJson(_json).NodeCount;

    [Benchmark(Description = "ModelRegistry.Load (hash, parse, 50 reference rows, native parity)")]
    public int Load() => new ModelRegistry(_root, nativeParity: NativeParity.Required).Load(JudgeKind.Entry, 1, JudgeFixture.FeatureNames, "bench-feature-code").Ensemble.TreeCount;
}

/// <summary>Training the judge: 20 000 rows × 24 features, 200 rounds of depth 4 (hist), with 1 and 2 threads.</summary>
// Not sealed: BenchmarkDotNet emits a runnable type that derives from each benchmark class.
public class JudgeTraining
{
    private XgbMatrix _train = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (rows, labels) = JudgeFixture.Data(JudgeFixture.TrainingRows, 1);
        _train = new XgbMatrix(rows, JudgeFixture.Features, labels);
    }

    [GlobalCleanup]
    public void Cleanup() => _train.Dispose();

    [Benchmark(Description = "XgbBooster.Train 20k rows, 200 rounds, depth 4")]
    public int Train()
    {
        using var b = XgbBooster.Train(_train, JudgeFixture.Parameters(Threads), JudgeFixture.Rounds);
        return b.Save().Length;
    }
}
