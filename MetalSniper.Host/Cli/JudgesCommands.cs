using System.Globalization;
using MetalSniper.Core.Instruments;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Configuration;
using MetalSniper.Host.Supervision;
using MetalSniper.Judges.Verdicts;
using MetalSniper.Research.Datasets;
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
}
