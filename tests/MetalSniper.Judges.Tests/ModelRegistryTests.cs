using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetalSniper.Judges.Evaluation;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Serving;
using MetalSniper.Judges.XgBoost;
using Microsoft.Extensions.Time.Testing;

namespace MetalSniper.Judges.Tests;

/// <summary>The model store in a temporary folder: versions, manifests, and every named refusal at load.</summary>
public sealed class ModelRegistryTests : IDisposable
{
    private const int Columns = 6;
    private const string CodeHash = "feature-code-3f2a";
    private static readonly string[] Names = ["spread_bp", "imbalance", "vol_1m", "age_s", "gap_bp", "missing_book"];

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"judges-registry-{Guid.NewGuid():N}");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private ModelRegistry Registry() => new(_root, _time, NativeParity.Required);

    /// <summary>A real trained model with a Platt calibration fitted on held-out rows, and 20 reference rows (some NaN).</summary>
    private static ModelCandidate Candidate(JudgeKind judge = JudgeKind.Entry, int seed = 1, string objective = "binary:logistic")
    {
        var (booster, json) = TestModels.Train(2_000, Columns, depth: 3, rounds: 20, seed, objective);
        using (booster)
        {
            var (validation, labels) = TestModels.Data(500, Columns, seed + 100);
            var p = TestModels.NativePredict(booster, validation, Columns).Select(x => (double)x).ToArray();
            var calibration = objective == "binary:logistic" ? Calibrator.Platt(p, labels.Select(l => (int)l).ToArray()).Description : new CalibrationDescription("identity");
            var reference = Enumerable.Range(0, 20).Select(i => (IReadOnlyList<float>)validation.AsSpan(i * Columns, Columns).ToArray()).ToList();
            return new ModelCandidate(
                judge, [.. Names.Select(n => new FeatureSpec(n, "float", n.EndsWith("_bp", StringComparison.Ordinal) ? "bp" : ""))], CodeHash,
                new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 30, 0, 0, 0, TimeSpan.Zero),
                "net P&L > 0 within 4 h", new string('a', 64),
                TestModels.Parameters(3, objective).ToDictionary(kv => kv.Key, kv => kv.Value), 20,
                new Dictionary<string, IReadOnlyDictionary<string, double>>
                {
                    ["fold-1"] = new Dictionary<string, double> { ["auc"] = 0.71, ["log_loss"] = 0.6, ["brier"] = 0.2, ["base_rate_brier"] = 0.25 },
                    ["final"] = new Dictionary<string, double> { ["auc"] = 0.7, ["log_loss"] = double.NaN },
                },
                calibration, reference, json);
        }
    }

    private string Dir(int version = 1, JudgeKind judge = JudgeKind.Entry) => Registry().VersionDirectory(judge, version);

    private void EditManifest(Action<JsonNode> edit, int version = 1)
    {
        var path = Path.Combine(Dir(version), "manifest.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }

    /// <summary>Replaces model.json and writes its new hash into the manifest (a consistent tamper).</summary>
    private void ReplaceModel(byte[] model)
    {
        File.WriteAllBytes(Path.Combine(Dir(), "model.json"), model);
        EditManifest(m => m["model_hash"] = ModelRegistry.Sha256Hex(model));
    }

    private ModelRefusedException Refusal(ModelRegistry? registry = null, IReadOnlyList<string>? names = null, string code = CodeHash) =>
        Should.Throw<ModelRefusedException>(() => (registry ?? Registry()).Load(JudgeKind.Entry, 1, names ?? Names, code));

    [Fact]
    public void Save_StoresTheModelBytesUnchanged_AndAManifestWithEverythingAndItsHash()
    {
        var c = Candidate();
        var m = Registry().Save(c);
        m.Version.ShouldBe(1);
        m.CreatedUtc.ShouldBe(_time.GetUtcNow());
        File.ReadAllBytes(Path.Combine(Dir(), "model.json")).ShouldBe(c.ModelJson);
        m.ModelHash.ShouldBe(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(c.ModelJson)));
        var text = File.ReadAllText(Path.Combine(Dir(), "manifest.json"));
        var node = JsonNode.Parse(text)!;
        ((string)node["judge"]!).ShouldBe("entry");
        ((string)node["feature_code_hash"]!).ShouldBe(CodeHash);
        ((string)node["features"]![0]!["name"]!).ShouldBe("spread_bp");
        ((string)node["features"]![0]!["unit"]!).ShouldBe("bp");
        ((string)node["calibration"]!["method"]!).ShouldBe("platt");
        ((int)node["rounds"]!).ShouldBe(20);
        ((double)node["metrics"]!["fold-1"]!["auc"]!).ShouldBe(0.71);
        node["reference_rows"]!.AsArray().Count.ShouldBe(20);
        text.ShouldContain("\"NaN\"");
        var back = JsonSerializer.Deserialize(text, JudgesJsonContext.Default.ModelManifest)!;
        back.Calibration.SameAs(m.Calibration).ShouldBeTrue();
        back.ReferenceRows.Select(r => r.RawProbability).ShouldBe(m.ReferenceRows.Select(r => r.RawProbability));
        back.HyperParameters["max_depth"].ShouldBe("3");
        double.IsNaN(back.Metrics["final"]["log_loss"]).ShouldBeTrue();
    }

    [Fact]
    public void Versions_AreNumberedOneTwoPerJudge_AndListed()
    {
        var r = Registry();
        r.Versions(JudgeKind.Entry).ShouldBeEmpty();
        r.Latest(JudgeKind.Entry).ShouldBeNull();
        r.Save(Candidate()).Version.ShouldBe(1);
        r.Save(Candidate(seed: 2)).Version.ShouldBe(2);
        r.Save(Candidate(JudgeKind.Exit)).Version.ShouldBe(1);
        r.Versions(JudgeKind.Entry).ShouldBe([1, 2]);
        r.Versions(JudgeKind.Exit).ShouldBe([1]);
        r.Versions(JudgeKind.Add).ShouldBeEmpty();
        r.Latest(JudgeKind.Entry).ShouldBe(2);
        Directory.Exists(Path.Combine(_root, "exit", "v1")).ShouldBeTrue();
        Directory.EnumerateDirectories(Path.Combine(_root, "entry")).Select(Path.GetFileName).Order().ShouldBe(["v1", "v2"]);
    }

    [Fact]
    public void Save_NeverOverwritesAVersion_NorSkipsOne()
    {
        var r = Registry();
        var first = Candidate();
        r.Save(first);
        var before = File.ReadAllBytes(Path.Combine(Dir(), "manifest.json"));
        Should.Throw<ModelVersionConflictException>(() => r.Save(Candidate(seed: 2), 1)).Message.ShouldContain("never overwritten");
        Should.Throw<ModelVersionConflictException>(() => r.Save(Candidate(seed: 2), 3)).Message.ShouldContain("next version of entry is v2");
        File.ReadAllBytes(Path.Combine(Dir(), "manifest.json")).ShouldBe(before);
        File.ReadAllBytes(Path.Combine(Dir(), "model.json")).ShouldBe(first.ModelJson);
        r.Versions(JudgeKind.Entry).ShouldBe([1]);
    }

    [Fact]
    public void Save_RefusesAnInconsistentCandidate()
    {
        var r = Registry();
        var c = Candidate();
        Should.Throw<ArgumentException>(() => r.Save(c with { Rounds = 19 })).Message.ShouldContain("20 trees");
        Should.Throw<ArgumentException>(() => r.Save(c with { Features = c.Features.Take(5).ToList() })).Message.ShouldContain("takes 6");
        Should.Throw<ArgumentException>(() => r.Save(c with { ReferenceFeatures = [new float[5]] })).Message.ShouldContain("reference row");
        Should.Throw<ModelFormatException>(() => r.Save(Candidate(objective: "reg:squarederror"))).Message.ShouldContain("reg:squarederror");
        r.Versions(JudgeKind.Entry).ShouldBeEmpty();
    }

    [Fact]
    public void Load_ServesTheSavedModel_WithTheNativeLibrarysProbabilities_Calibrated()
    {
        var c = Candidate();
        var saved = Registry().Save(c);
        var model = Registry().Load(JudgeKind.Entry, 1, Names, CodeHash);
        model.NativeParityChecked.ShouldBeTrue();
        model.ModelHash.ShouldBe(saved.ModelHash);
        model.Manifest.Version.ShouldBe(1);
        using var booster = XgbBooster.Load(c.ModelJson);
        var (rows, _) = TestModels.Data(2_000, Columns, 77);
        var native = TestModels.NativePredict(booster, rows, Columns);
        var calibrator = Calibrator.FromDescription(c.Calibration);
        for (var i = 0; i < native.Length; i++)
        {
            var row = rows.AsSpan(i * Columns, Columns);
            Math.Abs((double)model.RawProbability(row) - native[i]).ShouldBeLessThanOrEqualTo(1e-6);
            Math.Abs(model.Probability(row) - calibrator.Apply(native[i])).ShouldBeLessThanOrEqualTo(1e-6);
        }
    }

    [Fact]
    public void TamperedModelBytes_AreRefused_AsModelHashMismatch()
    {
        var c = Candidate();
        Registry().Save(c);
        var text = Encoding.UTF8.GetString(c.ModelJson);
        var at = text.IndexOf("\"split_conditions\":[", StringComparison.Ordinal) + 20;
        var tampered = text[..at] + (text[at] == '1' ? '2' : '1') + text[(at + 1)..];
        File.WriteAllText(Path.Combine(Dir(), "model.json"), tampered);
        var e = Refusal();
        e.Rule.ShouldBe(RefusalRules.ModelHashMismatch);
        e.Message.ShouldContain("model entry v1 refused (model-hash-mismatch)");
        File.Delete(Path.Combine(Dir(), "model.json"));
        Refusal().Rule.ShouldBe(RefusalRules.ModelHashMismatch);
    }

    [Fact]
    public void FeatureNamesInAnotherOrder_OrMissing_AreRefused_AsFeatureSchemaMismatch()
    {
        Registry().Save(Candidate());
        string[] swapped = [Names[1], Names[0], .. Names[2..]];
        var e = Refusal(names: swapped);
        e.Rule.ShouldBe(RefusalRules.FeatureSchemaMismatch);
        e.Details.ShouldContain("column 0: model 'spread_bp', caller 'imbalance'");
        Refusal(names: Names[..5]).Rule.ShouldBe(RefusalRules.FeatureSchemaMismatch);
    }

    [Fact]
    public void AnotherFeatureCodeHash_IsRefused_AsFeatureCodeMismatch()
    {
        Registry().Save(Candidate());
        var e = Refusal(code: "feature-code-9999");
        e.Rule.ShouldBe(RefusalRules.FeatureCodeMismatch);
        e.Details.ShouldContain("feature-code-9999");
    }

    [Fact]
    public void AnEditedReferenceProbability_IsRefused_AsReferenceRowMismatch()
    {
        Registry().Save(Candidate());
        EditManifest(m => m["reference_rows"]![3]!["raw_probability"] = (double)m["reference_rows"]![3]!["raw_probability"]! + 2e-6);
        var e = Refusal();
        e.Rule.ShouldBe(RefusalRules.ReferenceRowMismatch);
        e.Details.ShouldContain("reference row 3");
    }

    [Fact]
    public void AnEditedCalibration_IsRefused_AsReferenceRowMismatch()
    {
        Registry().Save(Candidate());
        EditManifest(m => m["calibration"]!["b"] = (double)m["calibration"]!["b"]! + 0.01);
        Refusal().Rule.ShouldBe(RefusalRules.ReferenceRowMismatch);
    }

    [Fact]
    public void AModelSwappedTogetherWithItsHash_IsRefused_AsReferenceRowMismatch()
    {
        Registry().Save(Candidate());
        ReplaceModel(Candidate(seed: 5).ModelJson);
        Refusal().Rule.ShouldBe(RefusalRules.ReferenceRowMismatch);
    }

    [Fact]
    public void AModelOfAnotherObjective_WithItsHash_IsRefused_AsModelInvalid()
    {
        Registry().Save(Candidate());
        var (booster, json) = TestModels.Train(300, Columns, depth: 2, rounds: 20, seed: 3, objective: "reg:squarederror");
        booster.Dispose();
        ReplaceModel(json);
        var e = Refusal();
        e.Rule.ShouldBe(RefusalRules.ModelInvalid);
        e.Details.ShouldContain("reg:squarederror");
    }

    [Fact]
    public void ANativeLibraryThatDisagrees_IsRefused_AsNativeParity()
    {
        Registry().Save(Candidate());
        float[] Disagreeing(byte[] model, float[] rows, int columns)
        {
            using var booster = XgbBooster.Load(model);
            using var m = new XgbMatrix(rows, columns);
            return [.. booster.Predict(m).Select(p => p + 1e-5f)];
        }

        var e = Refusal(new ModelRegistry(_root, _time, NativeParity.Required, Disagreeing));
        e.Rule.ShouldBe(RefusalRules.NativeParity);
        e.Details.ShouldContain("the native library");
        new ModelRegistry(_root, _time, NativeParity.Off, Disagreeing).Load(JudgeKind.Entry, 1, Names, CodeHash).NativeParityChecked.ShouldBeFalse();
    }

    [Fact]
    public void ASaveThatTheNativeLibraryContradicts_IsRefused_AsNativeParity()
    {
        var r = new ModelRegistry(_root, _time, NativeParity.Required, (_, rows, columns) => new float[rows.Length / columns]);
        Should.Throw<ModelRefusedException>(() => r.Save(Candidate())).Rule.ShouldBe(RefusalRules.NativeParity);
        r.Versions(JudgeKind.Entry).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("missing data_hash")]
    [InlineData("unknown calibration")]
    [InlineData("another version")]
    [InlineData("no reference rows")]
    [InlineData("no manifest")]
    public void ABrokenManifest_IsRefused_AsManifestInvalid(string how)
    {
        var r = Registry();
        r.Save(Candidate());
        var path = Path.Combine(Dir(), "manifest.json");
        switch (how)
        {
            case "not json":
                File.WriteAllText(path, "{ \"judge\": ");
                break;
            case "missing data_hash":
                EditManifest(m => m.AsObject().Remove("data_hash"));
                break;
            case "unknown calibration":
                EditManifest(m => m["calibration"]!["method"] = "magic");
                break;
            case "another version":
                EditManifest(m => m["version"] = 7);
                break;
            case "no reference rows":
                EditManifest(m => m["reference_rows"] = new JsonArray());
                break;
            case "no manifest":
                File.Delete(path);
                break;
        }

        Refusal(r).Rule.ShouldBe(RefusalRules.ManifestInvalid);
    }
}
