using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using CsvHelper;
using MetalSniper.Features;
using MetalSniper.Judges.Validation;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Verdicts;

namespace MetalSniper.Research.Datasets;

/// <summary>
/// A dataset that breaks a research rule: refused by name, with the offending decisions, and nothing is written.
/// </summary>
/// <param name="rule">The rule's name (<see cref="LeakageGates"/>; the split rules of <see cref="WalkForward"/>).</param>
/// <param name="offending">The offending decision ids (at most the first 20 are kept in the message).</param>
/// <param name="detail">What is wrong.</param>
public sealed class DatasetRefusedException(string rule, IReadOnlyList<string> offending, string detail)
    : Exception($"dataset refused by rule '{rule}': {detail} ({offending.Count} row(s): {string.Join(", ", offending.Take(20))}{(offending.Count > 20 ? ", …" : "")})")
{
    /// <summary>The rule's name.</summary>
    public string Rule { get; } = rule;

    /// <summary>The offending decision ids.</summary>
    public IReadOnlyList<string> Offending { get; } = offending;
}

/// <summary>
/// The rules a dataset must pass before it is written (issue 15; the split rules are <see cref="WalkForward"/>'s). Each
/// one is planted in a test and seen refused.
/// </summary>
public static class LeakageGates
{
    /// <summary>A feature's as-of time is after the decision it informs.</summary>
    public const string FeatureAfterDecision = "feature-after-decision";

    /// <summary>A feature window ends inside the label's horizon (the label would be partly read by the features).</summary>
    public const string FeatureWindowInLabelHorizon = "feature-window-in-label-horizon";

    /// <summary>A label computed without costs: its fills carry no commission, or the fill prices carry no spread or slippage.</summary>
    public const string LabelWithoutCosts = "label-without-costs";

    /// <summary>The features were computed by other feature code than the one running now.</summary>
    public const string FeatureCodeMismatch = "feature-code-mismatch";

    /// <summary>The same decision appears twice.</summary>
    public const string DuplicateDecision = WalkForward.DecisionInTwoFolds;

    /// <summary>Checks the row rules. Throws on the first rule broken, naming every row that breaks it.</summary>
    /// <exception cref="DatasetRefusedException">A rule is broken.</exception>
    public static void Check(IReadOnlyList<LabeledRow> rows, CostBasis costs)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(costs);
        Refuse(FeatureAfterDecision, rows.Where(r => r.Features.AsOfUtc > r.DecisionUtc), "features known only after their decision");
        Refuse(FeatureWindowInLabelHorizon, rows.Where(r => r.Features.AsOfUtc > r.LabelStartUtc), "feature windows reaching into the label horizon");
        Refuse(WalkForward.LabelBeforeDecision, rows.Where(r => r.LabelEndUtc < r.DecisionUtc), "labels known before their decision");
        var code = FeatureBuilder.CodeHash[..16];
        Refuse(FeatureCodeMismatch, rows.Where(r => r.FeatureCode != code), $"features computed by other feature code than {code}: replay again with this code");
        if (!costs.SpreadIncluded || !costs.SlippageIncluded)
        {
            Refuse(LabelWithoutCosts, rows, $"the fills carry no {(costs.SpreadIncluded ? "slippage" : "spread")} ({costs.Description})");
        }

        Refuse(LabelWithoutCosts, rows.Where(r => r.Commission <= 0m && r.NetPnl != 0m), "labels with a P&L but no commission");
        Refuse(DuplicateDecision, rows.GroupBy(r => (r.DecisionId, r.Judge)).Where(g => g.Count() > 1).SelectMany(g => g), "the same decision more than once");
    }

    private static void Refuse(string rule, IEnumerable<LabeledRow> offending, string detail)
    {
        var ids = offending.Select(r => r.DecisionId).Distinct().ToList();
        if (ids.Count > 0)
        {
            throw new DatasetRefusedException(rule, ids, detail);
        }
    }
}

/// <summary>The manifest of a written dataset (<c>dataset.json</c>).</summary>
public sealed record DatasetManifest
{
    /// <summary>Where the decisions came from.</summary>
    public required IReadOnlyList<string> Sources { get; init; }

    /// <summary>Written at (UTC).</summary>
    public required DateTimeOffset CreatedUtc { get; init; }

    /// <summary>Feature names in column order.</summary>
    public required IReadOnlyList<Features.FeatureSpec> Schema { get; init; }

    /// <summary>The feature code hash (full).</summary>
    public required string FeatureCode { get; init; }

    /// <summary>What the fills include.</summary>
    public required IReadOnlyList<CostBasis> Costs { get; init; }

    /// <summary>Per judge: file, rows, positives, label definition, SHA-256, time span.</summary>
    public required IReadOnlyDictionary<string, DatasetFile> Files { get; init; }

    /// <summary>Decisions not labelled, per judge and reason (counts).</summary>
    public required IReadOnlyDictionary<string, int> Unlabeled { get; init; }

    /// <summary>The rules every row passed.</summary>
    public required IReadOnlyList<string> RulesPassed { get; init; }
}

/// <summary>One judge's file in a dataset.</summary>
/// <param name="File">File name (CSV).</param>
/// <param name="Rows">Rows.</param>
/// <param name="Positives">Rows with label 1.</param>
/// <param name="Label">The label's definition.</param>
/// <param name="Sha256">SHA-256 of the file (hex).</param>
/// <param name="FromUtc">First decision (UTC).</param>
/// <param name="ToUtc">Last label end (UTC).</param>
/// <param name="RewardRisk">Mean net R of the positive rows / |mean net R of the others| (the RR of EV = p·RR − (1 − p)).</param>
public sealed record DatasetFile(string File, int Rows, int Positives, string Label, string Sha256, DateTimeOffset FromUtc, DateTimeOffset ToUtc, double RewardRisk);

/// <summary>
/// Writes a judges' dataset: one CSV per judge (<c>entry.csv</c>, <c>exit.csv</c>, <c>add.csv</c>: decision id, symbol,
/// times, label, net R, net P&amp;L, commission, then the features in schema order) and <c>dataset.json</c>. Every row passes
/// <see cref="LeakageGates"/> first; a refused dataset writes nothing.
/// </summary>
public static class DatasetWriter
{
    /// <summary>The label definitions, per judge.</summary>
    public static IReadOnlyDictionary<JudgeKind, string> LabelDefinitions { get; } = new Dictionary<JudgeKind, string>
    {
        [JudgeKind.Entry] = "1 when the trade the hedge opened made money net of commissions, spread and slippage (net R > 0; withdrawn unfilled = 0 R)",
        [JudgeKind.Add] = "1 when the add made money net of its commission, spread, slippage and its share of the exit commission",
        [JudgeKind.Exit] = "1 when exiting at the review (close − exit cost per unit) beats holding to the strategy's exit (net of exit commission)",
    };

    /// <summary>Checks and writes.</summary>
    /// <param name="directory">Output directory (created; existing dataset files are replaced only after every check passed).</param>
    /// <param name="rows">Labelled rows.</param>
    /// <param name="unlabeled">Decisions not labelled.</param>
    /// <param name="costs">What the fills of each source include.</param>
    /// <param name="sources">Source descriptions (database and run).</param>
    /// <param name="createdUtc">Now (from the caller's TimeProvider).</param>
    /// <exception cref="DatasetRefusedException">A rule is broken.</exception>
    public static DatasetManifest Write(string directory, IReadOnlyList<LabeledRow> rows, IReadOnlyList<UnlabeledDecision> unlabeled, IReadOnlyList<CostBasis> costs, IReadOnlyList<string> sources, DateTimeOffset createdUtc)
    {
        ArgumentNullException.ThrowIfNull(rows);
        foreach (var c in costs)
        {
            LeakageGates.Check(rows, c);
        }

        Directory.CreateDirectory(directory);
        var files = new Dictionary<string, DatasetFile>(StringComparer.Ordinal);
        foreach (var judge in Enum.GetValues<JudgeKind>())
        {
            var name = judge.ToString().ToLowerInvariant();
            var judgeRows = rows.Where(r => r.Judge == judge).OrderBy(r => r.DecisionUtc).ThenBy(r => r.DecisionId, StringComparer.Ordinal).ToList();
            var path = Path.Combine(directory, name + ".csv");
            WriteCsv(path, judgeRows);
            var wins = judgeRows.Where(r => r.Label == 1).Select(r => r.NetR).DefaultIfEmpty(0).Average();
            var losses = judgeRows.Where(r => r.Label == 0).Select(r => r.NetR).DefaultIfEmpty(0).Average();
            files[name] = new DatasetFile(name + ".csv", judgeRows.Count, judgeRows.Count(r => r.Label == 1), LabelDefinitions[judge], Sha256(path),
                judgeRows.Count > 0 ? judgeRows[0].DecisionUtc : default, judgeRows.Count > 0 ? judgeRows.Max(r => r.LabelEndUtc) : default,
                losses < 0 ? wins / -losses : 0);
        }

        var manifest = new DatasetManifest
        {
            Sources = sources,
            CreatedUtc = createdUtc,
            Schema = FeatureBuilder.Schema,
            FeatureCode = FeatureBuilder.CodeHash,
            Costs = costs,
            Files = files,
            Unlabeled = unlabeled.GroupBy(u => u.Judge.ToString().ToLowerInvariant() + ": " + u.Why).ToDictionary(g => g.Key, g => g.Count()),
            RulesPassed = [LeakageGates.FeatureAfterDecision, LeakageGates.FeatureWindowInLabelHorizon, WalkForward.LabelBeforeDecision, LeakageGates.FeatureCodeMismatch, LeakageGates.LabelWithoutCosts, LeakageGates.DuplicateDecision],
        };
        File.WriteAllText(Path.Combine(directory, "dataset.json"), JsonSerializer.Serialize(manifest, Json));
        return manifest;
    }

    /// <summary>Reads one judge's file back.</summary>
    /// <param name="directory">The dataset directory.</param>
    /// <param name="judge">Which judge.</param>
    /// <exception cref="DatasetRefusedException">The file's hash differs from the manifest's (it was changed after writing), or its schema is not this code's.</exception>
    public static (DatasetManifest Manifest, IReadOnlyList<LabeledRow> Rows) Read(string directory, JudgeKind judge)
    {
        var manifestPath = Path.Combine(directory, "dataset.json");
        if (!File.Exists(manifestPath))
        {
            throw new FileNotFoundException($"no dataset manifest at {manifestPath}: run 'metalsniper dataset' first", manifestPath);
        }

        var manifest = JsonSerializer.Deserialize<DatasetManifest>(File.ReadAllText(manifestPath), Json)
            ?? throw new InvalidDataException($"{manifestPath} is empty");
        var name = judge.ToString().ToLowerInvariant();
        var file = manifest.Files[name];
        var path = Path.Combine(directory, file.File);
        if (Sha256(path) != file.Sha256)
        {
            throw new DatasetRefusedException("dataset-hash-mismatch", [path], $"{path} differs from the manifest's SHA-256 {file.Sha256}: it was changed after it was written");
        }

        if (manifest.FeatureCode != FeatureBuilder.CodeHash)
        {
            throw new DatasetRefusedException(LeakageGates.FeatureCodeMismatch, [path], $"the dataset's features came from feature code {manifest.FeatureCode[..16]}, this build's is {FeatureBuilder.CodeHash[..16]}");
        }

        var rows = new List<LabeledRow>();
        using var csv = CsvReader.Create(File.OpenRead(path), new CsvReaderOptions { Separator = ',', HasHeader = true, FormatProvider = CultureInfo.InvariantCulture }, leaveOpen: false);
        var n = FeatureBuilder.Schema.Count;
        var featureColumns = FeatureBuilder.Schema.Select(f => csv.GetFieldIndex(f.Name)).ToArray();
        int Col(string name) => csv.GetFieldIndex(name);
        var (id, symbol, decided, asOf, code, start, end, label, netR, netPnl, commission) =
            (Col("decision_id"), Col("symbol"), Col("decision_utc"), Col("features_asof_utc"), Col("feature_code"), Col("label_start_utc"), Col("label_end_utc"), Col("label"), Col("net_r"), Col("net_pnl"), Col("commission"));
        var ic = CultureInfo.InvariantCulture;
        DateTimeOffset Time(int i) => DateTimeOffset.Parse(csv.GetString(i), ic, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        while (csv.Read())
        {
            var values = new float[n];
            for (var i = 0; i < n; i++)
            {
                values[i] = float.Parse(csv.GetString(featureColumns[i]), ic);
            }

            rows.Add(new LabeledRow(csv.GetString(id), csv.GetString(symbol), judge, Time(decided), new FeatureVector(values, Time(asOf)), csv.GetString(code),
                Time(start), Time(end), int.Parse(csv.GetString(label), ic), double.Parse(csv.GetString(netR), ic), decimal.Parse(csv.GetString(netPnl), NumberStyles.Float, ic),
                decimal.Parse(csv.GetString(commission), NumberStyles.Float, ic)));
        }

        return (manifest, rows);
    }

    /// <summary>SHA-256 (hex) of a file.</summary>
    public static string Sha256(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    private static void WriteCsv(string path, IReadOnlyList<LabeledRow> rows)
    {
        var ic = CultureInfo.InvariantCulture;
        using var csv = CsvWriter.Create(File.Create(path), new CsvWriterOptions { Separator = ',', FormatProvider = ic }, leaveOpen: false);
        foreach (var h in new[] { "decision_id", "symbol", "decision_utc", "features_asof_utc", "feature_code", "label_start_utc", "label_end_utc", "label", "net_r", "net_pnl", "commission" })
        {
            csv.WriteField(h);
        }

        foreach (var s in FeatureBuilder.Schema)
        {
            csv.WriteField(s.Name);
        }

        csv.EndRecord();
        foreach (var r in rows)
        {
            csv.WriteField(r.DecisionId);
            csv.WriteField(r.Symbol);
            csv.WriteField(T(r.DecisionUtc));
            csv.WriteField(T(r.Features.AsOfUtc));
            csv.WriteField(r.FeatureCode);
            csv.WriteField(T(r.LabelStartUtc));
            csv.WriteField(T(r.LabelEndUtc));
            csv.WriteField(r.Label.ToString(ic));
            csv.WriteField(r.NetR.ToString("R", ic));
            csv.WriteField(r.NetPnl.ToString(ic));
            csv.WriteField(r.Commission.ToString(ic));
            foreach (var v in r.Features.Values)
            {
                csv.WriteField(v.ToString("R", ic));
            }

            csv.EndRecord();
        }
    }

    private static string T(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };
}
