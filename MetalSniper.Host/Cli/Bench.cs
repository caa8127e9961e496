using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetalSniper.Backtest;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Host.Configuration;
using MetalSniper.Host.Supervision;

namespace MetalSniper.Host.Cli;

/// <summary>A data set the benchmark replays: its files (paths under the configured data directory).</summary>
/// <param name="Name">Short name ("metals-m15").</param>
/// <param name="Description">What it is.</param>
/// <param name="Files">The files, as the replay configuration lists them.</param>
public sealed record BenchDataSet(string Name, string Description, IReadOnlyList<ReplayFileOptions> Files)
{
    /// <summary>The data sets of PERFORMANCE.md #1 and issue 13: the metals year (15-minute), the 8-year hourly files, the 1-minute gold file.</summary>
    public static IReadOnlyList<BenchDataSet> Defaults { get; } =
    [
        new("metals-m15", "XAUUSD + XAGUSD 15-minute bars, one year (the README's replay)",
            [new() { Symbol = "XAUUSD", Path = "metals/xauusd_m15_utc.csv.gz", IntervalMinutes = 15 }, new() { Symbol = "XAGUSD", Path = "metals/xagusd_m15_utc.csv.gz", IntervalMinutes = 15 }]),
        new("metals-h1", "XAUUSD + XAGUSD hourly bars, eight years",
            [new() { Symbol = "XAUUSD", Path = "metals/xauusd_h1_utc.csv.gz", IntervalMinutes = 60 }, new() { Symbol = "XAGUSD", Path = "metals/xagusd_h1_utc.csv.gz", IntervalMinutes = 60 }]),
        new("gold-m1", "XAUUSD 1-minute bars",
            [new() { Symbol = "XAUUSD", Path = "metals/xauusd_m1_utc.csv.gz", IntervalMinutes = 1 }]),
    ];
}

/// <summary>
/// The benchmark harness (<c>metalsniper bench</c>): prints the hardware and GC mode, then for each data set measures, in
/// the same process and run, a baseline (reading and parsing the same files alone: the replay source and the ingest
/// validator, nothing else) and the full-pipeline replay (strategy trading; every gate, breaker and sentinel check on;
/// every decision and order recorded; fresh database each time), each <c>--runs</c> times, and reports the medians, the
/// ratio of the two, allocations and GC pauses, and the process's peak RSS. Target (PERFORMANCE.md #1, issue 13):
/// ≥ 200 k bars/s for the metals year, peak RSS ≤ 200 MB. Figures, not a timed test: a slow machine prints FAIL, it
/// does not break the build.
/// </summary>
public static class Bench
{
    /// <summary>Full-pipeline bars/s the metals year must reach (median).</summary>
    public const double TargetBarsPerSecond = 200_000;

    /// <summary>Peak resident memory the replay may use, in MB.</summary>
    public const double TargetPeakRssMegabytes = 200;

    /// <summary>Runs the benchmark.</summary>
    /// <param name="settings">Host settings (the configuration file to start from).</param>
    /// <param name="runs">Runs per measurement (the median is reported; 5 by default).</param>
    /// <param name="dataSets">Names of the data sets to run (null: all of <see cref="BenchDataSet.Defaults"/>).</param>
    /// <param name="jsonPath">Where to write the figures as JSON (null: not written).</param>
    /// <param name="output">Figures.</param>
    /// <param name="error">Errors.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>An exit code: 0, or the failing replay's.</returns>
    public static async Task<int> RunAsync(HostSettings settings, int runs, IReadOnlyList<string>? dataSets, string? jsonPath, TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var inv = CultureInfo.InvariantCulture;
        runs = Math.Max(1, runs);
        output.WriteLine($"hardware: {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, .NET {Environment.Version}");
        output.WriteLine($"gc: server={GCSettings.IsServerGC}, concurrent={GCSettings.LatencyMode != GCLatencyMode.Batch}, latency={GCSettings.LatencyMode}; build: {(IsOptimized() ? "Release" : "Debug (figures not representative)")}; runs per figure: {runs} (median)");

        var code = Commands.LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        var configPath = Composition.ResolveConfigPath(settings.ConfigPath);
        var dataDirectory = Path.GetFullPath(configuration!.GetSection($"{MarketDataOptions.SectionName}:Replay:DataDirectory").Value ?? "../shared/data");
        if (dataSets?.FirstOrDefault(n => BenchDataSet.Defaults.All(d => d.Name != n)) is { } unknown)
        {
            error.WriteLine($"bench: unknown data set '{unknown}' (known: {string.Join(", ", BenchDataSet.Defaults.Select(d => d.Name))})");
            return ExitCodes.Usage;
        }

        var selected = dataSets is null or { Count: 0 } ? BenchDataSet.Defaults : dataSets.Select(n => BenchDataSet.Defaults.First(d => d.Name == n)).ToList();
        var results = new List<object>();
        var scratch = Directory.CreateTempSubdirectory("metalsniper-bench-");
        try
        {
            foreach (var set in selected)
            {
                var missing = set.Files.Select(f => Path.Combine(dataDirectory, f.Path)).Where(f => !File.Exists(f)).ToList();
                if (missing.Count > 0)
                {
                    error.WriteLine($"bench: data set {set.Name}: missing {string.Join(", ", missing)}");
                    return ExitCodes.NoInput;
                }

                output.WriteLine();
                output.WriteLine($"data set {set.Name}: {set.Description}");
                var baseline = new List<double>();
                long baselineBars = 0;
                for (var i = 0; i < runs; i++)
                {
                    var (bars, elapsed) = await ParseOnlyAsync(set, dataDirectory, ct).ConfigureAwait(false);
                    baselineBars = bars;
                    baseline.Add(bars / elapsed.TotalSeconds);
                }

                var baselineMedian = Median(baseline);
                output.WriteLine(string.Create(inv, $"  baseline (read + parse + validate the same files alone): {baselineBars:N0} bars, median {baselineMedian:N0} bars/s"));

                var config = WriteConfig(configPath, set, dataDirectory, scratch.FullName);
                var pipeline = new List<double>();
                ReplaySummary? last = null;
                long allocated = 0;
                var pauses = TimeSpan.Zero;
                var gen0 = 0;
                var gen2 = 0;
                for (var i = 0; i < runs; i++)
                {
                    var dir = Directory.CreateTempSubdirectory("metalsniper-bench-run-");
                    try
                    {
                        var s = settings with { ConfigPath = config, DatabasePathOverride = Path.Combine(dir.FullName, "bench.db") };
                        var (allocBefore, pauseBefore, g0, g2) = (GC.GetTotalAllocatedBytes(), GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(2));
                        var (replayCode, summary) = await Commands.RunReplayAsync(s, error, ct).ConfigureAwait(false);
                        if (replayCode != ExitCodes.Ok || summary is null)
                        {
                            error.WriteLine($"bench: replay {i + 1} of {set.Name} failed with exit code {replayCode}");
                            return replayCode == ExitCodes.Ok ? ExitCodes.Software : replayCode;
                        }

                        (allocated, pauses, gen0, gen2) = (GC.GetTotalAllocatedBytes() - allocBefore, GC.GetTotalPauseDuration() - pauseBefore, GC.CollectionCount(0) - g0, GC.CollectionCount(2) - g2);
                        pipeline.Add(summary.BarsPerSecond);
                        last = summary;
                        output.WriteLine(string.Create(inv,
                            $"  replay {i + 1}: {summary.BarsAccepted:N0} bars in {summary.WallTime.TotalSeconds:0.000} s = {summary.BarsPerSecond:N0} bars/s (start-up {summary.StartupTime.TotalSeconds:0.000} s; {summary.Decisions:N0} decisions, {summary.OrdersSent:N0} orders, {summary.Fills:N0} fills, net {summary.RealizedNetPnl:N2} {summary.Currency})"));
                    }
                    finally
                    {
                        dir.Delete(recursive: true);
                    }
                }

                var median = Median(pipeline);
                var ratio = baselineMedian / median;
                var isTarget = set.Name == "metals-m15";
                output.WriteLine(string.Create(inv,
                    $"  full pipeline: median {median:N0} bars/s{(isTarget ? $" (target ≥ {TargetBarsPerSecond:N0}: {(median >= TargetBarsPerSecond ? "PASS" : "FAIL")})" : "")}; the baseline is {ratio:0.0}× faster"));
                output.WriteLine(string.Create(inv,
                    $"  last run: {allocated / 1048576.0:N1} MB allocated ({allocated / Math.Max(1, last!.BarsAccepted):N0} B/bar), {gen0} gen0 / {gen2} gen2 collections, GC pauses {pauses.TotalMilliseconds:0} ms"));
                results.Add(new
                {
                    dataSet = set.Name,
                    bars = last.BarsAccepted,
                    baselineBarsPerSecond = baselineMedian,
                    pipelineBarsPerSecond = median,
                    ratio,
                    runs = pipeline,
                    decisions = last.Decisions,
                    orders = last.OrdersSent,
                    fills = last.Fills,
                    allocatedBytesLastRun = allocated,
                    gcPauseMillisecondsLastRun = pauses.TotalMilliseconds,
                    target = isTarget ? TargetBarsPerSecond : (double?)null,
                    pass = isTarget ? median >= TargetBarsPerSecond : (bool?)null,
                });
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }

        var peakRss = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        output.WriteLine();
        output.WriteLine(string.Create(inv, $"peak RSS of this process (every run above): {peakRss:N0} MB (target for a replay ≤ {TargetPeakRssMegabytes:N0}: {(peakRss <= TargetPeakRssMegabytes ? "PASS" : "FAIL")})"));
        if (jsonPath is not null)
        {
            var doc = new
            {
                hardware = new { cores = Environment.ProcessorCount, os = RuntimeInformation.OSDescription, runtime = Environment.Version.ToString(), serverGc = GCSettings.IsServerGC },
                runsPerFigure = runs,
                dataSets = results,
                peakRssMegabytes = peakRss,
            };
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
            output.WriteLine($"results written to {Path.GetFullPath(jsonPath)}");
        }

        return ExitCodes.Ok;
    }

    /// <summary>The baseline: the replay source reading and parsing the files, and the ingest validator, with nothing behind them.</summary>
    private static async Task<(long Bars, TimeSpan Elapsed)> ParseOnlyAsync(BenchDataSet set, string dataDirectory, CancellationToken ct)
    {
        var files = set.Files.Select(f => new ReplayFile(f.Symbol, Path.Combine(dataDirectory, f.Path), TimeSpan.FromMinutes(f.IntervalMinutes), f.SpreadPointSize)).ToList();
        var source = new ReplayMarketDataSource(files, TimeProvider.System, 0, null, null);
        var validator = new BarValidator(InstrumentCatalog.CreateDefault(), new IngestCounters());
        var start = Stopwatch.GetTimestamp();
        long bars = 0;
        await foreach (var record in source.StreamAsync(ct).ConfigureAwait(false))
        {
            var receivedAt = record is RawBarRecord { Bar: var raw } ? raw.OpenTimeUtc + raw.Interval : DateTimeOffset.MinValue;
            if (validator.Validate(record, receivedAt, out _) is not null)
            {
                bars++;
            }
        }

        return (bars, Stopwatch.GetElapsedTime(start));
    }

    /// <summary>
    /// A copy of the configuration with the data set's files and an absolute data directory. Limits in market time follow the
    /// bar interval (stale data after 3 bars, a quote usable for 2, when the configured ones are shorter), and the strategy
    /// trades the symbols the data set has: the start-up check refuses anything else.
    /// </summary>
    internal static string WriteConfig(string configPath, BenchDataSet set, string dataDirectory, string scratch)
    {
        var root = JsonNode.Parse(File.ReadAllText(configPath), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!.AsObject();
        var replay = root["MarketData"]!["Replay"]!.AsObject();
        replay["DataDirectory"] = dataDirectory;
        replay["Files"] = new JsonArray([.. set.Files.Select(f => (JsonNode)new JsonObject
        {
            ["Symbol"] = f.Symbol,
            ["Path"] = f.Path,
            ["IntervalMinutes"] = f.IntervalMinutes,
        })]);
        var interval = TimeSpan.FromMinutes(set.Files.Max(f => f.IntervalMinutes));
        var risk = (root["Risk"] ??= new JsonObject()).AsObject();
        if (TimeSpan.Parse(risk["StaleDataAfter"]?.GetValue<string>() ?? "00:45:00", CultureInfo.InvariantCulture) <= interval)
        {
            risk["StaleDataAfter"] = (interval * 3).ToString("c", CultureInfo.InvariantCulture);
        }

        var gates = (risk["Gates"] ??= new JsonObject()).AsObject();
        if (TimeSpan.Parse(gates["MaxQuoteAge"]?.GetValue<string>() ?? "00:30:00", CultureInfo.InvariantCulture) <= interval)
        {
            gates["MaxQuoteAge"] = (interval * 2).ToString("c", CultureInfo.InvariantCulture);
        }

        ((root["Strategies"] ??= new JsonObject())["Metals"] ??= new JsonObject())["Symbols"] = new JsonArray([.. set.Files.Select(f => (JsonNode)JsonValue.Create(f.Symbol)!)]);
        var path = Path.Combine(scratch, $"appsettings.{set.Name}.json");
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static bool IsOptimized() =>
        typeof(Bench).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false).OfType<DebuggableAttribute>().All(a => !a.IsJITOptimizerDisabled);
}
