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

/// <summary>
/// One judged decision as the brain makes it: the feature snapshot of the symbol's builder (18 features, the trade's state)
/// and the panel's verdict (calibrated probability by the managed tree walk, EV, tier) — an 18-feature, 200 × depth-4 entry
/// judge loaded through the registry with the real feature schema and code hash. The builder's per-bar update, which runs
/// on every bar whether a judge runs or not, is measured beside it.
/// </summary>
// Not sealed: BenchmarkDotNet emits a runnable type that derives from each benchmark class.
public class JudgeDecision
{
    private Features.FeatureBuilder _builder = null!;
    private Verdicts.JudgePanel _panel = null!;
    private Core.MarketData.Bar[] _bars = [];
    private string _root = "";
    private int _next;
    private readonly Features.TradeState _trade = new(1, 1.4, 2.1, 12, 0.8, 1);

    [GlobalSetup]
    public void Setup()
    {
        var n = Features.FeatureBuilder.Schema.Count;
        var (rows, labels) = JudgeFixture.Data(20_000, 5);
        var narrow = new float[20_000 * n];
        for (var i = 0; i < 20_000; i++)
        {
            rows.AsSpan(i * JudgeFixture.Features, n).CopyTo(narrow.AsSpan(i * n, n));
        }

        using var m = new XgbMatrix(narrow, n, labels);
        using var booster = XgbBooster.Train(m, JudgeFixture.Parameters(threads: 1), JudgeFixture.Rounds);
        _root = Path.Combine(Path.GetTempPath(), $"judges-decision-bench-{Guid.NewGuid():N}");
        var candidate = new ModelCandidate(JudgeKind.Entry, [.. Features.FeatureBuilder.Schema.Select(f => new FeatureSpec(f.Name, f.Type, f.Unit))], Features.FeatureBuilder.CodeHash,
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(365), "synthetic", new string('0', 64), JudgeFixture.Parameters(1).ToDictionary(kv => kv.Key, kv => kv.Value),
            JudgeFixture.Rounds, new Dictionary<string, IReadOnlyDictionary<string, double>>(), Evaluation.Calibrator.Identity().Description,
            [.. Enumerable.Range(0, 16).Select(i => (IReadOnlyList<float>)narrow.AsSpan(i * n, n).ToArray())], booster.Save());
        new ModelRegistry(_root).Save(candidate);
        var model = new Verdicts.RegisteredJudge(new ModelRegistry(_root).Load(JudgeKind.Entry, 1, Features.FeatureBuilder.Names, Features.FeatureBuilder.CodeHash));
        _panel = new Verdicts.JudgePanel(new Verdicts.JudgesOptions { Entry = new() { Mode = Verdicts.JudgeMode.Active } }, model, null, null);
        var r = new Random(3);
        var price = 2000m;
        var t = new DateTimeOffset(2025, 1, 6, 0, 0, 0, TimeSpan.Zero);
        _bars = [.. Enumerable.Range(0, 4096).Select(i =>
        {
            var open = price;
            price += (decimal)((r.NextDouble() - 0.5) * 4);
            return new Core.MarketData.Bar("XAUUSD", t.AddMinutes(15 * i), TimeSpan.FromMinutes(15), open, Math.Max(open, price) + 0.5m, Math.Min(open, price) - 0.5m, price, 0m, null, t);
        })];
        _builder = new Features.FeatureBuilder();
        foreach (var bar in _bars.Take(200))
        {
            _builder.Update(bar);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark(Baseline = true, Description = "judged decision: FeatureBuilder.Snapshot + JudgePanel.Judge (18 features, 200 trees)")]
    public decimal Decision()
    {
        var v = _builder.Snapshot(_trade);
        return _panel.Judge(JudgeKind.Entry, v.Values, v.AsOfUtc)!.RiskFraction;
    }

    [Benchmark(Description = "FeatureBuilder.Update (every bar)")]
    public bool Update()
    {
        var bar = _bars[_next++ & 4095];
        _builder = _next % 4096 == 0 ? new Features.FeatureBuilder() : _builder;
        if (_builder.AsOfUtc >= bar.CloseTimeUtc)
        {
            _builder = new Features.FeatureBuilder();
        }

        _builder.Update(bar);
        return _builder.Ready;
    }
}
