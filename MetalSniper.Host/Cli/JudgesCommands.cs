using System.Globalization;
using MetalSniper.Core.Instruments;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Configuration;
using MetalSniper.Host.Supervision;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Verdicts;
using MetalSniper.Core.Positions;
using MetalSniper.Features;
using MetalSniper.Judges.XgBoost;
using MetalSniper.Research.Datasets;
using MetalSniper.Research.Training;
using Microsoft.Extensions.Configuration;

namespace MetalSniper.Host.Cli;

/// <summary>
/// The judges' research commands (issue 15): <c>dataset</c> (a replay that records what the judges would see, labelled
/// behind the leakage gates) and <c>train</c>.
/// </summary>
public static class JudgesCommands
{
    /// <summary>
    /// <c>metalsniper dataset</c>: replays a data set with every judge off and exit reviews recorded (or reads an existing
    /// run with <paramref name="fromDb"/>), labels the judged decisions net of costs and writes the dataset, or refuses it by
    /// rule with the offending decisions and exit code 65.
    /// </summary>
    /// <param name="settings">Configuration path and overrides (the database override is where the replay records).</param>
    /// <param name="dataSet">A data set of <see cref="BenchDataSet.Defaults"/> (metals-m15, metals-h1, gold-m1).</param>
    /// <param name="outDirectory">Where the dataset goes.</param>
    /// <param name="fromDb">An existing trading database to read instead of replaying (its latest run, or <paramref name="runId"/>).</param>
    /// <param name="runId">The run to read from <paramref name="fromDb"/>.</param>
    /// <param name="time">Clock for the manifest.</param>
    /// <param name="output">Figures.</param>
    /// <param name="error">Errors.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>An exit code.</returns>
    public static async Task<int> DatasetAsync(HostSettings settings, string dataSet, string outDirectory, string? fromDb, string? runId, TimeProvider time, TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        var code = Commands.LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        string databasePath;
        if (fromDb is not null)
        {
            databasePath = fromDb;
        }
        else
        {
            if (BenchDataSet.Defaults.FirstOrDefault(d => d.Name == dataSet) is not { } set)
            {
                error.WriteLine($"dataset: unknown data set '{dataSet}' (known: {string.Join(", ", BenchDataSet.Defaults.Select(d => d.Name))})");
                return ExitCodes.Usage;
            }

            Directory.CreateDirectory(outDirectory);
            var dataDirectory = Path.GetFullPath(configuration!.GetSection($"{MarketDataOptions.SectionName}:Replay:DataDirectory").Value ?? "../shared/data");
            var config = Bench.WriteConfig(Composition.ResolveConfigPath(settings.ConfigPath), set, dataDirectory, Path.GetFullPath(outDirectory));
            databasePath = settings.DatabasePathOverride ?? Path.Combine(Path.GetFullPath(outDirectory), "replay.db");
            if (File.Exists(databasePath))
            {
                error.WriteLine($"dataset: {databasePath} exists; give a new --db or remove it (a dataset is built from one fresh replay)");
                return ExitCodes.Usage;
            }

            var extra = new Dictionary<string, string?>(settings.ExtraSettings ?? new Dictionary<string, string?>(), StringComparer.OrdinalIgnoreCase)
            {
                ["Judges:RecordExitReviews"] = "true",
                ["Judges:Entry:Mode"] = "Off",
                ["Judges:Exit:Mode"] = "Off",
                ["Judges:Add:Mode"] = "Off",
            };
            output.WriteLine($"dataset: replaying {set.Name} ({set.Description}) with every judge off and exit reviews recorded → {databasePath}");
            var (replayCode, summary) = await Commands.RunReplayAsync(settings with { ConfigPath = config, DatabasePathOverride = databasePath, ExtraSettings = extra }, error, ct).ConfigureAwait(false);
            if (replayCode != ExitCodes.Ok || summary is null)
            {
                error.WriteLine($"dataset: the replay failed (exit code {replayCode})");
                return replayCode == ExitCodes.Ok ? ExitCodes.Software : replayCode;
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  replay: {summary.Decisions:N0} decisions, {summary.Trades:N0} trades, net {summary.RealizedNetPnl:N2} {summary.Currency}"));
        }

        try
        {
            var history = DecisionHistory.Load(databasePath, runId);
            var catalog = InstrumentCatalog.CreateDefault();
            var (rows, unlabeled) = TradeLabeler.Label(history, s => catalog.Get(s).Multiplier);
            var costs = CostBasisOf(history, configuration!);
            var manifest = DatasetWriter.Write(outDirectory, rows, unlabeled, [costs], [$"{Path.GetFullPath(databasePath)} run {history.RunId} ({history.Broker})"], time.GetUtcNow());
            foreach (var (judge, file) in manifest.Files)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {judge,-5}: {file.Rows,6:N0} rows, {file.Positives,6:N0} positive ({(file.Rows == 0 ? 0 : 100.0 * file.Positives / file.Rows):0.0} %), reward:risk {file.RewardRisk:0.00}, {file.FromUtc:yyyy-MM-dd} → {file.ToUtc:yyyy-MM-dd}, sha256 {file.Sha256[..12]}"));
            }

            foreach (var (why, count) in manifest.Unlabeled)
            {
                output.WriteLine($"  not labelled: {count} × {why}");
            }

            output.WriteLine($"  rules passed: {string.Join(", ", manifest.RulesPassed)}");
            output.WriteLine($"  written: {Path.GetFullPath(outDirectory)} (entry.csv, exit.csv, add.csv, dataset.json)");
            return ExitCodes.Ok;
        }
        catch (DatasetRefusedException e)
        {
            error.WriteLine($"dataset: REFUSED: {e.Message}");
            return ExitCodes.DataError;
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidOperationException or IOException)
        {
            error.WriteLine($"dataset: {e.Message}");
            return ExitCodes.NoInput;
        }
    }

    /// <summary>What the run's fills include: the simulated broker's prices carry half the spread and the slippage it is configured with.</summary>
    internal static CostBasis CostBasisOf(DecisionHistory history, IConfiguration configuration)
    {
        var sim = configuration.GetSection(SimulatedBrokerOptions.SectionName).Get<SimulatedBrokerOptions>() ?? new SimulatedBrokerOptions();
        if (!history.Broker.Contains("simulated", StringComparison.OrdinalIgnoreCase))
        {
            // A real broker's executions are what the market charged: spread and slippage are in the prices by nature.
            return new CostBasis($"broker executions ({history.Broker})", true, true);
        }

        var spreads = sim.Costs.Values.All(c => c.DefaultSpread > 0m);
        return new CostBasis(
            string.Create(CultureInfo.InvariantCulture, $"simulated broker: half the bar's spread (default {string.Join(", ", sim.Costs.Select(c => $"{c.Key} {c.Value.DefaultSpread}"))}), slippage {sim.SlippageTicks} tick(s), commission per the cost table"),
            spreads && sim.Costs.Count > 0, sim.SlippageTicks > 0);
    }

    /// <summary>
    /// <c>metalsniper train --judge entry|exit|add</c>: trains one judge on a dataset over purged, embargoed walk-forward
    /// folds, prints every fold against the base rate, the calibration and the hold-out, and saves the model as the next
    /// version in the registry.
    /// </summary>
    /// <param name="judge">Which judge.</param>
    /// <param name="datasetDirectory">A dataset written by <c>metalsniper dataset</c>.</param>
    /// <param name="registryDirectory">The model registry.</param>
    /// <param name="holdOutFromUtc">Rows decided from this time on are held out (untouched until the final report), or null.</param>
    /// <param name="folds">Walk-forward validation folds.</param>
    /// <param name="embargo">Embargo after each training block.</param>
    /// <param name="time">Clock.</param>
    /// <param name="output">Report.</param>
    /// <param name="error">Errors.</param>
    /// <returns>An exit code (65 for a refused dataset or split).</returns>
    public static int Train(JudgeKind judge, string datasetDirectory, string registryDirectory, DateTimeOffset? holdOutFromUtc, int folds, TimeSpan embargo, TimeProvider time, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            var (manifest, rows) = DatasetWriter.Read(datasetDirectory, judge);
            var file = manifest.Files[ModelRegistry.JudgeName(judge)];
            var trained = JudgeTrainer.Train(judge, rows, holdOutFromUtc, folds, embargo, null, time);
            var saved = Save(trained, file, registryDirectory, time);
            Report(trained, saved, output);
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is DatasetRefusedException or Judges.Validation.LeakageException)
        {
            error.WriteLine($"train: REFUSED: {e.Message}");
            return ExitCodes.DataError;
        }
        catch (Exception e) when (e is FileNotFoundException or KeyNotFoundException or ArgumentException or InvalidDataException or Core.MarketData.DataFileException or ModelVersionConflictException or XgbException)
        {
            error.WriteLine($"train: {e.Message}");
            return ExitCodes.DataError;
        }
    }

    /// <summary>Saves a trained judge as the next version of its registry folder.</summary>
    internal static ModelManifest Save(TrainedJudge trained, DatasetFile file, string registryDirectory, TimeProvider time)
    {
        var metrics = new Dictionary<string, IReadOnlyDictionary<string, double>>(StringComparer.Ordinal);
        for (var i = 0; i < trained.Folds.Count; i++)
        {
            metrics[$"fold-{i + 1}"] = ScoreMap(trained.Folds[i]);
        }

        metrics["calibrated-out-of-fold"] = ScoreMap(trained.CalibratedOutOfFold);
        if (trained.HoldOut is { } h)
        {
            metrics["hold-out"] = ScoreMap(h);
        }

        metrics[RegisteredJudge.RewardRiskScope] = new Dictionary<string, double>
        {
            [RegisteredJudge.RewardRiskKey] = trained.RewardRisk,
            ["rows"] = trained.TrainRows,
            ["purged"] = trained.Purged,
            ["training_seconds"] = trained.TrainingTime.TotalSeconds,
        };
        var candidate = new ModelCandidate(trained.Judge,
            [.. FeatureBuilder.Schema.Select(f => new Judges.Registry.FeatureSpec(f.Name, f.Type, f.Unit))], FeatureBuilder.CodeHash,
            trained.TrainFromUtc, trained.TrainToUtc, file.Label, file.Sha256,
            trained.Chosen.ToXgb().ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), trained.Chosen.Rounds,
            metrics, trained.Calibration.Description, trained.References, trained.Model);
        return new ModelRegistry(Path.GetFullPath(registryDirectory), time).Save(candidate);
    }

    private static Dictionary<string, double> ScoreMap(Scores s) => new(StringComparer.Ordinal)
    {
        ["rows"] = s.Rows,
        ["positives"] = s.Positives,
        ["auc"] = double.IsNaN(s.Auc) ? -1 : s.Auc,
        ["log_loss"] = s.LogLoss,
        ["brier"] = s.Brier,
        ["base_rate"] = s.BaseRate,
        ["base_log_loss"] = s.BaseLogLoss,
        ["base_brier"] = s.BaseBrier,
    };

    private static void Report(TrainedJudge t, ModelManifest saved, TextWriter output)
    {
        var ic = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(ic, $"{t.Judge} judge: trained on {t.TrainRows:N0} rows ({t.TrainFromUtc:yyyy-MM-dd} → {t.TrainToUtc:yyyy-MM-dd}), {t.Purged} purged before the hold-out, in {t.TrainingTime.TotalSeconds:0.0} s"));
        output.WriteLine("  hyper-parameters (mean validation log-loss; chosen on validation folds only):");
        foreach (var (hp, loss) in t.Search)
        {
            output.WriteLine(string.Create(ic, $"    {hp,-55} {loss:0.0000}"));
        }

        output.WriteLine(string.Create(ic, $"  chosen: depth {t.Chosen.MaxDepth}, eta {t.Chosen.Eta}, rounds {t.Chosen.Rounds}, min_child_weight {t.Chosen.MinChildWeight}"));
        for (var i = 0; i < t.Folds.Count; i++)
        {
            output.WriteLine($"  fold {i + 1}: {t.Folds[i]}");
        }

        output.WriteLine($"  calibration: {t.Calibration.Method}; calibrated out-of-fold (later half): {t.CalibratedOutOfFold}");
        output.WriteLine(t.HoldOut is { } h ? $"  HOLD-OUT (touched once, now): {h}" : "  hold-out: none given");
        output.WriteLine("  reliability (predicted → observed):");
        foreach (var b in t.Reliability.Where(b => b.Count > 0))
        {
            output.WriteLine(string.Create(ic, $"    [{b.From:0.0}, {b.To:0.0}): {b.Count,5} rows, mean p {b.MeanPredicted:0.000}, observed {b.ObservedRate:0.000}"));
        }

        output.WriteLine(string.Create(ic, $"  reward:risk of the label {t.RewardRisk:0.00}; saved: {ModelRegistry.JudgeName(saved.Judge)} v{saved.Version}, model {saved.ModelHash[..12]}"));
    }

    /// <summary>Trading figures of a set of closed trades.</summary>
    /// <param name="Trades">Closed trades.</param>
    /// <param name="Winners">Trades with a positive net P&amp;L.</param>
    /// <param name="NetPnl">Sum of net P&amp;L (account currency).</param>
    /// <param name="MaxDrawdown">Largest fall of the cumulative net P&amp;L from a previous peak, trades in closing order.</param>
    /// <param name="ProfitFactor">Sum of winning net P&amp;L / |sum of losing net P&amp;L| (NaN without losses).</param>
    /// <param name="Commissions">Commissions paid.</param>
    public sealed record TradeStats(int Trades, int Winners, decimal NetPnl, decimal MaxDrawdown, double ProfitFactor, decimal Commissions)
    {
        /// <summary>Figures of the trades closed in [from, until).</summary>
        public static TradeStats Of(IEnumerable<ClosedTrade> trades, DateTimeOffset from, DateTimeOffset until)
        {
            var list = trades.Where(t => t.OpenedAtUtc >= from && t.OpenedAtUtc < until).OrderBy(t => t.ClosedAtUtc).ToList();
            decimal equity = 0, peak = 0, dd = 0;
            foreach (var t in list)
            {
                equity += t.NetPnl;
                peak = Math.Max(peak, equity);
                dd = Math.Max(dd, peak - equity);
            }

            var wins = list.Where(t => t.NetPnl > 0).Sum(t => t.NetPnl);
            var losses = -list.Where(t => t.NetPnl < 0).Sum(t => t.NetPnl);
            return new TradeStats(list.Count, list.Count(t => t.NetPnl > 0), equity, dd, losses == 0 ? double.NaN : (double)(wins / losses), list.Sum(t => t.Commissions));
        }

        /// <inheritdoc />
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Trades,5} trades, {(Trades == 0 ? 0 : 100.0 * Winners / Trades),5:0.0} % win, net {NetPnl,11:N2}, max DD {MaxDrawdown,10:N2}, PF {ProfitFactor,5:0.00}, commissions {Commissions,10:N2}");
    }

    /// <summary>
    /// <c>metalsniper judges walk-forward</c>: the honest measurement. Builds the dataset of the eight-year hourly files; for each
    /// test year trains the three judges on the rows whose labels were known before it (purged, embargoed), replays the
    /// hourly files with those judges active only inside the test year, and compares the trades opened in it with the
    /// replay without judges. Then the final hold-out: judges trained on every hourly row known before the 15-minute year,
    /// active on the whole 15-minute year, against the same year without them.
    /// </summary>
    public static async Task<int> WalkForwardAsync(HostSettings settings, string outDirectory, int firstTestYear, TimeProvider time, TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var ic = CultureInfo.InvariantCulture;
        var datasetDir = Path.Combine(outDirectory, "dataset-h1");
        var code = await DatasetAsync(settings with { DatabasePathOverride = null }, "metals-h1", datasetDir, null, null, time, output, error, ct).ConfigureAwait(false);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        code = Commands.LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        var dataDirectory = Path.GetFullPath(configuration!.GetSection($"{MarketDataOptions.SectionName}:Replay:DataDirectory").Value ?? "../shared/data");
        var configs = Path.GetFullPath(outDirectory);
        var h1Config = Bench.WriteConfig(Composition.ResolveConfigPath(settings.ConfigPath), BenchDataSet.Defaults.First(d => d.Name == "metals-h1"), dataDirectory, configs);
        var m15Config = Bench.WriteConfig(Composition.ResolveConfigPath(settings.ConfigPath), BenchDataSet.Defaults.First(d => d.Name == "metals-m15"), dataDirectory, configs);
        var baselineH1 = await ReplayAsync(settings, h1Config, Path.Combine(outDirectory, "baseline-h1.db"), new Dictionary<string, string?>(), error, ct).ConfigureAwait(false);
        var baselineM15 = await ReplayAsync(settings, m15Config, Path.Combine(outDirectory, "baseline-m15.db"), new Dictionary<string, string?>(), error, ct).ConfigureAwait(false);
        if (baselineH1 is null || baselineM15 is null)
        {
            return ExitCodes.Software;
        }

        var rows = Enum.GetValues<JudgeKind>().ToDictionary(j => j, j => DatasetWriter.Read(datasetDir, j));
        // The hold-out is the 15-minute year: it starts on the UTC date of its first bar, and no hourly row known after it trains.
        var m15Set = BenchDataSet.Defaults.First(d => d.Name == "metals-m15");
        var (m15First, m15Last) = DataSpan(dataDirectory, m15Set);
        var holdOutStart = new DateTimeOffset(m15First.UtcDateTime.Date, TimeSpan.Zero);
        var periods = new List<(string Name, DateTimeOffset From, DateTimeOffset Until, bool M15)>();
        for (var y = firstTestYear; new DateTimeOffset(y, 1, 1, 0, 0, 0, TimeSpan.Zero) < holdOutStart; y++)
        {
            var from = new DateTimeOffset(y, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var until = new DateTimeOffset(y + 1, 1, 1, 0, 0, 0, TimeSpan.Zero);
            periods.Add(($"h1 {y}{(until > holdOutStart ? $" (to {holdOutStart:MM-dd})" : "")}", from, until > holdOutStart ? holdOutStart : until, false));
        }

        periods.Add(($"m15 hold-out {holdOutStart:yyyy-MM-dd} → {m15Last:yyyy-MM-dd}", holdOutStart, DateTimeOffset.MaxValue, true));
        var embargo = TimeSpan.FromDays(2);
        var report = new List<string>();
        foreach (var (name, from, until, m15) in periods)
        {
            var registry = Path.Combine(outDirectory, "registry-" + from.ToString("yyyyMMdd", ic));
            output.WriteLine();
            output.WriteLine($"period {name}: judges trained on hourly rows known before {from:yyyy-MM-dd} (embargo {embargo.TotalDays} d)");
            foreach (var judge in Enum.GetValues<JudgeKind>())
            {
                var (manifest, judgeRows) = rows[judge];
                var train = judgeRows.Where(r => r.DecisionUtc < from).ToList();
                var trained = JudgeTrainer.Train(judge, train, from, 4, embargo, null, time);
                var saved = Save(trained, manifest.Files[ModelRegistry.JudgeName(judge)], registry, time);
                output.WriteLine(string.Create(ic, $"  {ModelRegistry.JudgeName(judge),-5} v{saved.Version}: {trained.TrainRows:N0} rows, chosen depth {trained.Chosen.MaxDepth}/eta {trained.Chosen.Eta}/{trained.Chosen.Rounds} rounds, calibrated OOF {trained.CalibratedOutOfFold}"));
            }

            var baseline = TradeStats.Of((m15 ? baselineM15 : baselineH1).ClosedTrades, from, until);
            output.WriteLine($"  without judges : {baseline}");
            report.Add($"| {name} | none | {Row(baseline)} |");
            foreach (var (label, on) in new (string, JudgeKind[])[] { ("entry", [JudgeKind.Entry]), ("exit", [JudgeKind.Exit]), ("add", [JudgeKind.Add]), ("all three", [JudgeKind.Entry, JudgeKind.Exit, JudgeKind.Add]) })
            {
                var extra = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
                {
                    ["Judges:Registry"] = Path.GetFullPath(registry),
                    ["Judges:ActiveFromUtc"] = from.ToString("O", ic),
                    ["Judges:ActiveUntilUtc"] = until == DateTimeOffset.MaxValue ? null : until.ToString("O", ic),
                };
                foreach (var j in on)
                {
                    extra[$"Judges:{j}:Mode"] = "Active";
                }

                var db = Path.Combine(outDirectory, $"judged-{from:yyyyMMdd}-{label.Replace(' ', '-')}.db");
                var judged = await ReplayAsync(settings, m15 ? m15Config : h1Config, db, extra, error, ct).ConfigureAwait(false);
                if (judged is null)
                {
                    return ExitCodes.Software;
                }

                var stats = TradeStats.Of(judged.ClosedTrades, from, until);
                output.WriteLine($"  {("with " + label),-15}: {stats}");
                report.Add($"| {name} | {label} | {Row(stats)} |");
            }
        }

        output.WriteLine();
        output.WriteLine("| period | judges | trades | win % | net P&L (USD) | max DD (USD) | profit factor |");
        output.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var line in report)
        {
            output.WriteLine(line);
        }

        return ExitCodes.Ok;

        static string Row(TradeStats s) => string.Create(CultureInfo.InvariantCulture,
            $"{s.Trades} | {(s.Trades == 0 ? 0 : 100.0 * s.Winners / s.Trades):0.0} | {s.NetPnl:N2} | {s.MaxDrawdown:N2} | {s.ProfitFactor:0.00}");
    }

    /// <summary>The first and last bar open times (UTC) over a data set's files (gzip or plain CSV, time in the first column).</summary>
    /// <exception cref="InvalidDataException">A file has no bar.</exception>
    private static (DateTimeOffset First, DateTimeOffset Last) DataSpan(string dataDirectory, BenchDataSet set)
    {
        var first = DateTimeOffset.MaxValue;
        var last = DateTimeOffset.MinValue;
        foreach (var file in set.Files)
        {
            var path = Path.Combine(dataDirectory, file.Path);
            Stream stream = File.OpenRead(path);
            if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                stream = new System.IO.Compression.GZipStream(stream, System.IO.Compression.CompressionMode.Decompress);
            }

            using var reader = new StreamReader(stream);
            _ = reader.ReadLine(); // header
            var firstLine = reader.ReadLine() ?? throw new InvalidDataException($"{path} has no bar");
            var lastLine = firstLine;
            while (reader.ReadLine() is { } line)
            {
                lastLine = line;
            }

            DateTimeOffset Time(string l) => DateTimeOffset.Parse(l[..l.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            first = Min(first, Time(firstLine));
            last = Max(last, Time(lastLine));
        }

        return (first, last);

        static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
        static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
    }

    private static async Task<ReplaySummary?> ReplayAsync(HostSettings settings, string config, string db, IReadOnlyDictionary<string, string?> extra, TextWriter error, CancellationToken ct)
    {
        if (File.Exists(db))
        {
            File.Delete(db);
        }

        var merged = new Dictionary<string, string?>(settings.ExtraSettings ?? new Dictionary<string, string?>(), StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in extra)
        {
            merged[k] = v;
        }

        var (code, summary) = await Commands.RunReplayAsync(settings with { ConfigPath = config, DatabasePathOverride = db, ExtraSettings = merged }, error, ct).ConfigureAwait(false);
        if (code != ExitCodes.Ok || summary is null)
        {
            error.WriteLine($"judges: the replay into {db} failed (exit code {code})");
            return null;
        }

        return summary;
    }

    /// <summary><c>metalsniper judges report</c>: what the judges (shadow or active) said in a run and what it was worth by the labels.</summary>
    public static int Report(string databasePath, string? runId, TextWriter output, TextWriter error)
    {
        try
        {
            var history = DecisionHistory.Load(databasePath, runId);
            var catalog = InstrumentCatalog.CreateDefault();
            var records = Research.Reports.JudgeRecord.Of(history, s => catalog.Get(s).Multiplier);
            output.WriteLine($"judges in run {history.RunId} ({databasePath}):");
            if (records.Count == 0)
            {
                output.WriteLine("  no judged decision (every judge was off)");
            }

            foreach (var r in records)
            {
                output.WriteLine("  " + r);
            }

            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidOperationException or IOException)
        {
            error.WriteLine($"judges report: {e.Message}");
            return ExitCodes.NoInput;
        }
    }

    /// <summary>
    /// <c>metalsniper judges promote</c>: makes a version the one <c>Judges:&lt;judge&gt;:Version = "promoted"</c> loads, only
    /// after at least <paramref name="minimumVerdicts"/> shadow verdicts of exactly that model (by hash) are in the database;
    /// the promotion is written beside the versions (<c>promoted.json</c>) and journaled in the service's journal.
    /// </summary>
    public static async Task<int> PromoteAsync(IConfiguration configuration, JudgeKind judge, int version, string databasePath, int minimumVerdicts, string registryDirectory, TimeProvider time, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var registry = new ModelRegistry(Path.GetFullPath(registryDirectory), time);
        LoadedJudgeModel model;
        try
        {
            model = registry.Load(judge, version, FeatureBuilder.Names, FeatureBuilder.CodeHash);
        }
        catch (ModelRefusedException e)
        {
            error.WriteLine($"judges promote: REFUSED: the model does not load: {e.Message}");
            return ExitCodes.DataError;
        }

        int shadow;
        try
        {
            var name = ModelRegistry.JudgeName(judge);
            using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            // Shadow verdicts of exactly this model: as the slot's own model in Shadow mode, or as a candidate beside another.
            cmd.CommandText = "SELECT COUNT(*) FROM decisions WHERE (inputs_json LIKE $hash AND inputs_json LIKE $shadow) OR inputs_json LIKE $candidate";
            cmd.Parameters.AddWithValue("$hash", $"%\"judge.{name}.modelHash\":\"{model.ModelHash}\"%");
            cmd.Parameters.AddWithValue("$shadow", $"%\"judge.{name}.mode\":\"Shadow\"%");
            cmd.Parameters.AddWithValue("$candidate", $"%\"judge.{name}.candidate.modelHash\":\"{model.ModelHash}\"%");
            shadow = Convert.ToInt32(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        catch (Microsoft.Data.Sqlite.SqliteException e)
        {
            error.WriteLine($"judges promote: cannot read {databasePath}: {e.Message}");
            return ExitCodes.NoInput;
        }

        if (shadow < minimumVerdicts)
        {
            error.WriteLine($"judges promote: REFUSED: {ModelRegistry.JudgeName(judge)} v{version} ({model.ModelHash[..12]}) has {shadow} shadow verdicts in {databasePath}; at least {minimumVerdicts} are required (run it with Judges:{judge}:Mode=Shadow first)");
            return ExitCodes.DataError;
        }

        var promotion = new JudgePromotion(ModelRegistry.JudgeName(judge), version, model.ModelHash, time.GetUtcNow(), shadow, Path.GetFullPath(databasePath));
        promotion.Write(registry, judge);
        var journal = new Persistence.Journal.DecisionJournal(JournalOptions.ServicePath(configuration), durable: true, 0, 64, TimeSpan.FromMinutes(1), time, _ => { }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
            keyring: ChainKeys.ForTools(configuration.GetSection(PersistenceOptions.SectionName).Get<PersistenceOptions>() ?? new PersistenceOptions()));
        try
        {
            journal.Append(Persistence.Journal.JournalEntryKind.JudgePromoted, promotion.Judge, model.ModelHash, promotion);
            await journal.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            await journal.DisposeAsync().ConfigureAwait(false);
        }

        output.WriteLine($"promoted {promotion.Judge} v{version} ({model.ModelHash[..12]}) after {shadow} shadow verdicts; Judges:{judge}:Version=\"promoted\" loads it; journaled");
        return ExitCodes.Ok;
    }

}
