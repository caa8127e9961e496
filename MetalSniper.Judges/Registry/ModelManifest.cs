using System.Text.Json.Serialization;
using MetalSniper.Judges.Evaluation;

namespace MetalSniper.Judges.Registry;

/// <summary>Which decision a judge may veto; its name is the registry folder (<c>models/entry/</c>, …).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JudgeKind>))]
public enum JudgeKind
{
    /// <summary>Vetoes opening a position ("entry").</summary>
    [JsonStringEnumMemberName("entry")]
    Entry,

    /// <summary>Vetoes closing a position ("exit").</summary>
    [JsonStringEnumMemberName("exit")]
    Exit,

    /// <summary>Vetoes adding to a position ("add").</summary>
    [JsonStringEnumMemberName("add")]
    Add,
}

/// <summary>One feature of a model's input row, in column order.</summary>
/// <param name="Name">The feature's name as the feature builder writes it.</param>
/// <param name="Type">Its type (e.g. "float", "bool", "category-code").</param>
/// <param name="Unit">Its unit (e.g. "bp", "s", "USD", "ratio"; "" when unitless).</param>
public sealed record FeatureSpec(string Name, string Type, string Unit);

/// <summary>A row pinned in the manifest with the probabilities the saved model gave it; re-checked at every load.</summary>
/// <param name="Features">The feature vector (NaN for a missing value), as many as the manifest's features.</param>
/// <param name="RawProbability">The model's probability (the tree ensemble's sigmoid, single precision).</param>
/// <param name="CalibratedProbability">The calibrated probability (the manifest's calibration applied to the raw one).</param>
public sealed record ReferenceRow(IReadOnlyList<float> Features, double RawProbability, double CalibratedProbability);

/// <summary>
/// A judge model's manifest: <c>models/&lt;judge&gt;/v&lt;version&gt;/manifest.json</c>, beside <c>model.json</c> (XGBoost's
/// JSON model bytes, unchanged). Written by <see cref="ModelRegistry.Save(ModelCandidate)"/> in <see cref="JudgesJsonContext"/>'s format.
/// </summary>
/// <param name="FormatVersion">The manifest format (<see cref="CurrentFormat"/>).</param>
/// <param name="Judge">Which judge.</param>
/// <param name="Version">The version number (1, 2, … per judge; the folder is <c>v&lt;Version&gt;</c>).</param>
/// <param name="CreatedUtc">When the version was saved (UTC).</param>
/// <param name="Features">The input row's features, in column order.</param>
/// <param name="FeatureCodeHash">The hash of the feature builder's code the model was trained with (given by the trainer).</param>
/// <param name="TrainingFrom">First decision time of the training window (UTC).</param>
/// <param name="TrainingTo">Last decision time of the training window (UTC).</param>
/// <param name="LabelDefinition">What the label means (e.g. "trade net P&amp;L &gt; 0 after costs within 4 h").</param>
/// <param name="DataHash">SHA-256 hex of the dataset file (given by the trainer).</param>
/// <param name="HyperParameters">XGBoost parameters, by XGBoost's names.</param>
/// <param name="Rounds">Boosting rounds (the ensemble's tree count).</param>
/// <param name="Metrics">Scores by scope (e.g. "fold-1", "final") and metric (e.g. "auc", "log_loss", "brier", "base_rate_brier").</param>
/// <param name="Calibration">The calibration applied to the raw probability.</param>
/// <param name="ModelHash">SHA-256 hex (lower case) of <c>model.json</c>.</param>
/// <param name="ReferenceRows">Pinned rows with their expected probabilities.</param>
public sealed record ModelManifest(
    int FormatVersion,
    JudgeKind Judge,
    int Version,
    DateTimeOffset CreatedUtc,
    IReadOnlyList<FeatureSpec> Features,
    string FeatureCodeHash,
    DateTimeOffset TrainingFrom,
    DateTimeOffset TrainingTo,
    string LabelDefinition,
    string DataHash,
    IReadOnlyDictionary<string, string> HyperParameters,
    int Rounds,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Metrics,
    CalibrationDescription Calibration,
    string ModelHash,
    IReadOnlyList<ReferenceRow> ReferenceRows)
{
    /// <summary>The manifest format this code writes and reads.</summary>
    public const int CurrentFormat = 1;
}

/// <summary>
/// What a trainer hands to <see cref="ModelRegistry.Save(ModelCandidate)"/>: the model bytes and everything the manifest
/// records; the registry adds the version, the creation time, the model hash and the reference rows' probabilities.
/// </summary>
/// <param name="Judge">Which judge.</param>
/// <param name="Features">The input row's features, in column order (as many as the model's features).</param>
/// <param name="FeatureCodeHash">The hash of the feature builder's code.</param>
/// <param name="TrainingFrom">First decision time of the training window (UTC).</param>
/// <param name="TrainingTo">Last decision time of the training window (UTC).</param>
/// <param name="LabelDefinition">What the label means.</param>
/// <param name="DataHash">SHA-256 hex of the dataset file.</param>
/// <param name="HyperParameters">XGBoost parameters.</param>
/// <param name="Rounds">Boosting rounds (must equal the model's tree count).</param>
/// <param name="Metrics">Scores by scope and metric.</param>
/// <param name="Calibration">The fitted calibration (<see cref="Calibrator.Description"/>).</param>
/// <param name="ReferenceFeatures">Rows to pin (at least one; NaN allowed), e.g. a sample of the validation set.</param>
/// <param name="ModelJson">The model as <see cref="XgBoost.XgbBooster.Save"/> returned it; stored unchanged.</param>
public sealed record ModelCandidate(
    JudgeKind Judge,
    IReadOnlyList<FeatureSpec> Features,
    string FeatureCodeHash,
    DateTimeOffset TrainingFrom,
    DateTimeOffset TrainingTo,
    string LabelDefinition,
    string DataHash,
    IReadOnlyDictionary<string, string> HyperParameters,
    int Rounds,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Metrics,
    CalibrationDescription Calibration,
    IReadOnlyList<IReadOnlyList<float>> ReferenceFeatures,
    byte[] ModelJson);
