using System.Security.Cryptography;
using System.Text.Json;
using MetalSniper.Judges.Evaluation;
using MetalSniper.Judges.Serving;
using MetalSniper.Judges.XgBoost;

namespace MetalSniper.Judges.Registry;

/// <summary>When <see cref="ModelRegistry"/> compares the managed evaluator with the native XGBoost library.</summary>
public enum NativeParity
{
    /// <summary>When the library can be loaded (<see cref="XgbBooster.IsLibraryAvailable"/>); skipped otherwise.</summary>
    IfAvailable,

    /// <summary>Always; a missing library is a <see cref="DllNotFoundException"/>.</summary>
    Required,

    /// <summary>Never (the reference rows are still checked).</summary>
    Off,
}

/// <summary>
/// The judges' model store: <c>&lt;root&gt;/&lt;judge&gt;/v&lt;n&gt;/</c> holding <c>model.json</c> (XGBoost's JSON bytes,
/// unchanged) and <c>manifest.json</c> (<see cref="ModelManifest"/>). Versions are numbered 1, 2, … per judge and a saved
/// version is never overwritten. <see cref="Load"/> serves a model only when every parity rule holds
/// (<see cref="RefusalRules"/>); otherwise it throws <see cref="ModelRefusedException"/> naming the rule.
/// </summary>
public sealed class ModelRegistry
{
    /// <summary>The largest difference allowed between two computations of a probability.</summary>
    public const double Tolerance = 1e-6;

    private readonly TimeProvider _time;
    private readonly NativeParity _nativeParity;
    private readonly Func<byte[], float[], int, float[]> _native;

    /// <summary>A registry rooted at <paramref name="root"/> (created when missing).</summary>
    /// <param name="root">The models folder (e.g. <c>models/</c>).</param>
    /// <param name="time">The clock for <see cref="ModelManifest.CreatedUtc"/>; the system clock when null.</param>
    /// <param name="nativeParity">When to compare with the native library, on save and on load.</param>
    public ModelRegistry(string root, TimeProvider? time = null, NativeParity nativeParity = NativeParity.IfAvailable)
        : this(root, time, nativeParity, NativePredict)
    {
    }

    /// <summary>A registry with another native predictor (tests plant a disagreeing library with it).</summary>
    internal ModelRegistry(string root, TimeProvider? time, NativeParity nativeParity, Func<byte[], float[], int, float[]> native)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
        _time = time ?? TimeProvider.System;
        _nativeParity = nativeParity;
        _native = native;
        Directory.CreateDirectory(Root);
    }

    /// <summary>The models folder (absolute).</summary>
    public string Root { get; }

    /// <summary>The folder name of a judge ("entry", "exit", "add").</summary>
    public static string JudgeName(JudgeKind judge) => judge switch
    {
        JudgeKind.Entry => "entry",
        JudgeKind.Exit => "exit",
        JudgeKind.Add => "add",
        _ => throw new ArgumentOutOfRangeException(nameof(judge), judge, "not a judge"),
    };

    /// <summary>The folder of one version: <c>&lt;root&gt;/&lt;judge&gt;/v&lt;version&gt;</c>.</summary>
    public string VersionDirectory(JudgeKind judge, int version) => Path.Combine(Root, JudgeName(judge), $"v{version}");

    /// <summary>The versions of a judge that exist (folders <c>v1</c>, <c>v2</c>, …), ascending; empty when none.</summary>
    public IReadOnlyList<int> Versions(JudgeKind judge)
    {
        var dir = Path.Combine(Root, JudgeName(judge));
        if (!Directory.Exists(dir))
        {
            return [];
        }

        var versions = new List<int>();
        foreach (var d in Directory.EnumerateDirectories(dir))
        {
            var name = Path.GetFileName(d);
            if (name.Length > 1 && name[0] == 'v' && name[1] != '0' && int.TryParse(name.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v))
            {
                versions.Add(v);
            }
        }

        versions.Sort();
        return versions;
    }

    /// <summary>The newest version of a judge, or null when it has none.</summary>
    public int? Latest(JudgeKind judge) => Versions(judge) is { Count: > 0 } v ? v[^1] : null;

    /// <summary>Saves <paramref name="candidate"/> as the judge's next version (latest + 1, or 1).</summary>
    /// <returns>The manifest written.</returns>
    /// <inheritdoc cref="Save(ModelCandidate, int)" path="/exception"/>
    public ModelManifest Save(ModelCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        return Save(candidate, (Latest(candidate.Judge) ?? 0) + 1);
    }

    /// <summary>
    /// Saves <paramref name="candidate"/> as <paramref name="version"/>, which must be the judge's next version. The model
    /// is read by the managed evaluator, the reference rows' probabilities are computed by it (and compared with the
    /// native library's, see <see cref="NativeParity"/>), and both files are written to a temporary folder that is then
    /// renamed into place, so a version appears whole or not at all and an existing one is never replaced.
    /// </summary>
    /// <returns>The manifest written.</returns>
    /// <exception cref="ArgumentException">The candidate is incomplete or inconsistent (empty names or hashes, duplicate
    /// feature names, a window that ends before it starts, rounds that are not the model's tree count, a reference row of
    /// the wrong width, an invalid calibration).</exception>
    /// <exception cref="ModelFormatException">The model bytes are not a model the managed evaluator serves.</exception>
    /// <exception cref="ModelVersionConflictException">The version exists already, or is not the next one.</exception>
    /// <exception cref="ModelRefusedException"><c>native-parity</c>: the native library disagrees with the managed evaluator.</exception>
    public ModelManifest Save(ModelCandidate candidate, int version)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var ensemble = TreeEnsemble.FromXgboostJson(candidate.ModelJson);
        var calibrator = Calibrator.FromDescription(candidate.Calibration);
        Validate(candidate, ensemble);

        var name = JudgeName(candidate.Judge);
        var final = VersionDirectory(candidate.Judge, version);
        var latest = Latest(candidate.Judge) ?? 0;
        if (Directory.Exists(final) || version <= latest)
        {
            throw new ModelVersionConflictException($"{name} v{version} exists already (latest is v{latest}); a saved version is never overwritten: save as v{latest + 1}");
        }

        if (version != latest + 1)
        {
            throw new ModelVersionConflictException($"{name} v{version} would skip versions: the next version of {name} is v{latest + 1}");
        }

        var references = new List<ReferenceRow>(candidate.ReferenceFeatures.Count);
        foreach (var row in candidate.ReferenceFeatures)
        {
            var features = row.ToArray();
            var raw = ensemble.Predict(features);
            references.Add(new ReferenceRow(features, raw, calibrator.Apply(raw)));
        }

        CheckNative(candidate.ModelJson, ensemble, references, name, version);
        var manifest = new ModelManifest(
            ModelManifest.CurrentFormat, candidate.Judge, version, _time.GetUtcNow(), [.. candidate.Features], candidate.FeatureCodeHash,
            candidate.TrainingFrom.ToUniversalTime(), candidate.TrainingTo.ToUniversalTime(), candidate.LabelDefinition, candidate.DataHash,
            new Dictionary<string, string>(candidate.HyperParameters), candidate.Rounds, candidate.Metrics, calibrator.Description,
            Sha256Hex(candidate.ModelJson), references);

        var judgeDir = Path.Combine(Root, name);
        Directory.CreateDirectory(judgeDir);
        var temp = Path.Combine(judgeDir, $".saving-v{version}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            File.WriteAllBytes(Path.Combine(temp, "model.json"), candidate.ModelJson);
            File.WriteAllBytes(Path.Combine(temp, "manifest.json"), JsonSerializer.SerializeToUtf8Bytes(manifest, JudgesJsonContext.Default.ModelManifest));
            Directory.Move(temp, final);
        }
        catch (IOException e)
        {
            Directory.Delete(temp, recursive: true);
            if (Directory.Exists(final))
            {
                throw new ModelVersionConflictException($"{name} v{version} appeared while saving; a saved version is never overwritten", e);
            }

            throw;
        }

        return manifest;
    }

    /// <summary>
    /// Loads a version and serves it only if every rule holds, in this order: <c>manifest-invalid</c>,
    /// <c>model-hash-mismatch</c>, <c>feature-schema-mismatch</c>, <c>feature-code-mismatch</c>, <c>model-invalid</c>,
    /// <c>reference-row-mismatch</c>, <c>native-parity</c> (<see cref="RefusalRules"/>).
    /// </summary>
    /// <param name="judge">Which judge.</param>
    /// <param name="version">Which version.</param>
    /// <param name="expectedFeatureNames">The feature names the caller's feature builder produces, in column order.</param>
    /// <param name="expectedFeatureCodeHash">The hash of the caller's feature builder code.</param>
    /// <exception cref="ModelRefusedException">A rule failed; <see cref="ModelRefusedException.Rule"/> names it.</exception>
    public LoadedJudgeModel Load(JudgeKind judge, int version, IReadOnlyList<string> expectedFeatureNames, string expectedFeatureCodeHash)
    {
        ArgumentNullException.ThrowIfNull(expectedFeatureNames);
        ArgumentNullException.ThrowIfNull(expectedFeatureCodeHash);
        var name = JudgeName(judge);
        var dir = VersionDirectory(judge, version);
        ModelRefusedException Refuse(string rule, string details, Exception? inner = null) => new(name, version, rule, details, inner);

        var manifestPath = Path.Combine(dir, "manifest.json");
        if (!File.Exists(manifestPath))
        {
            throw Refuse(RefusalRules.ManifestInvalid, $"{manifestPath} does not exist");
        }

        ModelManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(File.ReadAllBytes(manifestPath), JudgesJsonContext.Default.ModelManifest)
                ?? throw Refuse(RefusalRules.ManifestInvalid, "the manifest is null");
        }
        catch (JsonException e)
        {
            throw Refuse(RefusalRules.ManifestInvalid, $"the manifest is not a valid manifest: {e.Message}", e);
        }

        Calibrator calibrator;
        try
        {
            calibrator = Calibrator.FromDescription(manifest.Calibration);
        }
        catch (ArgumentException e)
        {
            throw Refuse(RefusalRules.ManifestInvalid, $"the calibration cannot be re-created: {e.Message}", e);
        }

        var problem = ManifestProblem(manifest, judge, version);
        if (problem is not null)
        {
            throw Refuse(RefusalRules.ManifestInvalid, problem);
        }

        var modelPath = Path.Combine(dir, "model.json");
        if (!File.Exists(modelPath))
        {
            throw Refuse(RefusalRules.ModelHashMismatch, $"{modelPath} does not exist");
        }

        var bytes = File.ReadAllBytes(modelPath);
        var hash = Sha256Hex(bytes);
        if (!string.Equals(hash, manifest.ModelHash, StringComparison.Ordinal))
        {
            throw Refuse(RefusalRules.ModelHashMismatch, $"model.json hashes to {hash}, the manifest says {manifest.ModelHash}");
        }

        var names = manifest.Features.Select(f => f.Name).ToArray();
        if (!names.SequenceEqual(expectedFeatureNames, StringComparer.Ordinal))
        {
            var at = Enumerable.Range(0, Math.Min(names.Length, expectedFeatureNames.Count)).FirstOrDefault(i => names[i] != expectedFeatureNames[i], Math.Min(names.Length, expectedFeatureNames.Count));
            throw Refuse(RefusalRules.FeatureSchemaMismatch,
                $"the model takes {names.Length} features, the caller builds {expectedFeatureNames.Count}; first difference at column {at}: model '{names.ElementAtOrDefault(at)}', caller '{expectedFeatureNames.ElementAtOrDefault(at)}'");
        }

        if (!string.Equals(manifest.FeatureCodeHash, expectedFeatureCodeHash, StringComparison.Ordinal))
        {
            throw Refuse(RefusalRules.FeatureCodeMismatch, $"the model was trained with feature code {manifest.FeatureCodeHash}, the caller runs {expectedFeatureCodeHash}");
        }

        TreeEnsemble ensemble;
        try
        {
            ensemble = TreeEnsemble.FromXgboostJson(bytes);
        }
        catch (ModelFormatException e)
        {
            throw Refuse(RefusalRules.ModelInvalid, e.Message, e);
        }

        if (ensemble.FeatureCount != names.Length)
        {
            throw Refuse(RefusalRules.FeatureSchemaMismatch, $"model.json takes {ensemble.FeatureCount} features, the manifest lists {names.Length}");
        }

        for (var i = 0; i < manifest.ReferenceRows.Count; i++)
        {
            var r = manifest.ReferenceRows[i];
            var features = r.Features.ToArray();
            var raw = ensemble.Predict(features);
            var calibrated = calibrator.Apply(raw);
            if (!(Math.Abs(raw - r.RawProbability) <= Tolerance) || !(Math.Abs(calibrated - r.CalibratedProbability) <= Tolerance))
            {
                throw Refuse(RefusalRules.ReferenceRowMismatch,
                    FormattableString.Invariant($"reference row {i}: the model gives raw {raw:R} and calibrated {calibrated:R}, the manifest says {r.RawProbability:R} and {r.CalibratedProbability:R} (tolerance {Tolerance})"));
            }
        }

        bool nativeChecked;
        try
        {
            nativeChecked = CheckNative(bytes, ensemble, manifest.ReferenceRows, name, version);
        }
        catch (XgbException e)
        {
            throw Refuse(RefusalRules.NativeParity, $"the native library could not predict with the model: {e.Message}", e);
        }

        return new LoadedJudgeModel(manifest, ensemble, calibrator, hash, nativeChecked);
    }

    /// <summary>SHA-256 of <paramref name="bytes"/> as lower-case hex (64 characters).</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string? ManifestProblem(ModelManifest m, JudgeKind judge, int version)
    {
        if (m.FormatVersion != ModelManifest.CurrentFormat)
        {
            return $"manifest format {m.FormatVersion}; this code reads format {ModelManifest.CurrentFormat}";
        }

        if (m.Judge != judge || m.Version != version)
        {
            return $"the manifest is {JudgeName(m.Judge)} v{m.Version} but sits in the folder of {JudgeName(judge)} v{version}";
        }

        if (m.Features.Count == 0 || m.Features.Any(f => f is null || string.IsNullOrWhiteSpace(f.Name)))
        {
            return "the manifest lists no features, or a feature without a name";
        }

        if (m.ReferenceRows.Count == 0 || m.ReferenceRows.Any(r => r?.Features is null))
        {
            return "the manifest has no reference rows, or a reference row without features";
        }

        if (m.ReferenceRows.FirstOrDefault(r => r.Features.Count != m.Features.Count) is { } bad)
        {
            return $"a reference row has {bad.Features.Count} features, the manifest lists {m.Features.Count}";
        }

        if (m.ModelHash.Length != 64 || string.IsNullOrWhiteSpace(m.FeatureCodeHash) || string.IsNullOrWhiteSpace(m.DataHash) || m.Rounds <= 0 || m.TrainingTo < m.TrainingFrom)
        {
            return "the manifest's model hash is not SHA-256 hex, a hash is empty, rounds are not positive, or the training window ends before it starts";
        }

        return null;
    }

    private static void Validate(ModelCandidate c, TreeEnsemble ensemble)
    {
        ArgumentNullException.ThrowIfNull(c.Features);
        ArgumentNullException.ThrowIfNull(c.ReferenceFeatures);
        ArgumentException.ThrowIfNullOrWhiteSpace(c.FeatureCodeHash);
        ArgumentException.ThrowIfNullOrWhiteSpace(c.DataHash);
        ArgumentException.ThrowIfNullOrWhiteSpace(c.LabelDefinition);
        ArgumentNullException.ThrowIfNull(c.HyperParameters);
        ArgumentNullException.ThrowIfNull(c.Metrics);
        if (c.Features.Count != ensemble.FeatureCount)
        {
            throw new ArgumentException($"the candidate lists {c.Features.Count} features, the model takes {ensemble.FeatureCount}", nameof(c));
        }

        if (c.Features.Any(f => string.IsNullOrWhiteSpace(f.Name)) || c.Features.Select(f => f.Name).Distinct(StringComparer.Ordinal).Count() != c.Features.Count)
        {
            throw new ArgumentException("feature names must be non-empty and distinct", nameof(c));
        }

        if (c.TrainingTo < c.TrainingFrom)
        {
            throw new ArgumentException($"the training window ends ({c.TrainingTo:O}) before it starts ({c.TrainingFrom:O})", nameof(c));
        }

        if (c.Rounds != ensemble.TreeCount)
        {
            throw new ArgumentException($"the candidate says {c.Rounds} rounds, the model has {ensemble.TreeCount} trees", nameof(c));
        }

        if (c.ReferenceFeatures.Count == 0 || c.ReferenceFeatures.Any(r => r is null || r.Count != ensemble.FeatureCount))
        {
            throw new ArgumentException($"at least one reference row is needed, each of {ensemble.FeatureCount} features", nameof(c));
        }
    }

    /// <summary>Compares the native library's probabilities of the reference rows with the managed ones; false when skipped.</summary>
    private bool CheckNative(byte[] model, TreeEnsemble ensemble, IReadOnlyList<ReferenceRow> rows, string name, int version)
    {
        if (_nativeParity == NativeParity.Off || (_nativeParity == NativeParity.IfAvailable && !XgbBooster.IsLibraryAvailable))
        {
            return false;
        }

        var columns = ensemble.FeatureCount;
        var flat = rows.SelectMany(r => r.Features).ToArray();
        var native = _native(model, flat, columns);
        for (var i = 0; i < rows.Count; i++)
        {
            var managed = ensemble.Predict(flat.AsSpan(i * columns, columns));
            if (!(Math.Abs((double)native[i] - managed) <= Tolerance))
            {
                throw new ModelRefusedException(name, version, RefusalRules.NativeParity,
                    FormattableString.Invariant($"reference row {i}: the native library (XGBoost {XgbBooster.LibraryVersion}) gives {native[i]:R}, the managed evaluator {managed:R} (tolerance {Tolerance})"));
            }
        }

        return true;
    }

    private static float[] NativePredict(byte[] model, float[] rows, int columns)
    {
        using var booster = XgbBooster.Load(model);
        using var matrix = new XgbMatrix(rows, columns);
        return booster.Predict(matrix);
    }
}

/// <summary>A model served by the registry: its manifest, the managed ensemble and the calibration. Immutable, thread-safe.</summary>
public sealed class LoadedJudgeModel
{
    internal LoadedJudgeModel(ModelManifest manifest, TreeEnsemble ensemble, Calibrator calibrator, string modelHash, bool nativeParityChecked)
    {
        Manifest = manifest;
        Ensemble = ensemble;
        Calibrator = calibrator;
        ModelHash = modelHash;
        NativeParityChecked = nativeParityChecked;
    }

    /// <summary>The manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>The managed tree ensemble read from <c>model.json</c>.</summary>
    public TreeEnsemble Ensemble { get; }

    /// <summary>The calibration re-created from the manifest.</summary>
    public Calibrator Calibrator { get; }

    /// <summary>SHA-256 hex of <c>model.json</c> as loaded (equal to the manifest's).</summary>
    public string ModelHash { get; }

    /// <summary>True when the native library was compared with the managed evaluator at load.</summary>
    public bool NativeParityChecked { get; }

    /// <summary>The calibrated probability of one decision's feature row.</summary>
    /// <param name="features">The row, in the manifest's feature order (NaN for missing).</param>
    /// <exception cref="ArgumentException">The row has the wrong width.</exception>
    public double Probability(ReadOnlySpan<float> features) => Calibrator.Apply(Ensemble.Predict(features));

    /// <summary>The uncalibrated probability of one row (the ensemble's sigmoid).</summary>
    /// <exception cref="ArgumentException">The row has the wrong width.</exception>
    public float RawProbability(ReadOnlySpan<float> features) => Ensemble.Predict(features);
}

/// <summary>The names of the rules under which <see cref="ModelRegistry.Load"/> refuses a model.</summary>
public static class RefusalRules
{
    /// <summary>The manifest is missing, unreadable, incomplete, or describes another judge/version.</summary>
    public const string ManifestInvalid = "manifest-invalid";

    /// <summary><c>model.json</c> is missing or its SHA-256 differs from the manifest's (tampered).</summary>
    public const string ModelHashMismatch = "model-hash-mismatch";

    /// <summary>The feature names or their order differ from the caller's (or from the model's feature count).</summary>
    public const string FeatureSchemaMismatch = "feature-schema-mismatch";

    /// <summary>The feature builder code hash differs from the caller's.</summary>
    public const string FeatureCodeMismatch = "feature-code-mismatch";

    /// <summary><c>model.json</c> matches its hash but is not a model the managed evaluator serves.</summary>
    public const string ModelInvalid = "model-invalid";

    /// <summary>A reference row's managed probability (raw or calibrated) differs from the manifest's by more than 1e-6.</summary>
    public const string ReferenceRowMismatch = "reference-row-mismatch";

    /// <summary>The native library's probability differs from the managed evaluator's by more than 1e-6.</summary>
    public const string NativeParity = "native-parity";
}

/// <summary>A model was refused; <see cref="Rule"/> names the rule (<see cref="RefusalRules"/>) and the message says why.</summary>
public sealed class ModelRefusedException : Exception
{
    /// <summary>A refusal of <paramref name="judge"/> v<paramref name="version"/> under <paramref name="rule"/>.</summary>
    public ModelRefusedException(string judge, int version, string rule, string details, Exception? inner = null)
        : base($"model {judge} v{version} refused ({rule}): {details}", inner)
    {
        Judge = judge;
        Version = version;
        Rule = rule;
        Details = details;
    }

    /// <summary>The judge's name.</summary>
    public string Judge { get; }

    /// <summary>The version refused.</summary>
    public int Version { get; }

    /// <summary>The rule that failed (<see cref="RefusalRules"/>).</summary>
    public string Rule { get; }

    /// <summary>What differed.</summary>
    public string Details { get; }
}

/// <summary>A save would overwrite a version or skip one; versions are never overwritten.</summary>
public sealed class ModelVersionConflictException : Exception
{
    /// <summary>A conflict with its explanation.</summary>
    public ModelVersionConflictException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
