using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Supervision;

namespace MetalSniper.Host.Cli;

/// <summary>
/// The benchmark harness (<c>metalsniper bench</c>): prints the hardware and GC mode, measures a
/// baseline in the same run (bounded-channel hop throughput), then replays the real data through
/// the full pipeline several times (fresh database each time) and reports the median bars/s and
/// the ratio to the baseline (PERFORMANCE.md #1: ≥ 200 k bars/s, ≤ 40 channel hops' worth per bar).
/// </summary>
public static class Bench
{
    /// <summary>Runs the benchmark.</summary>
    public static async Task<int> RunAsync(HostSettings settings, int runs, string? jsonPath, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"hardware: {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, .NET {Environment.Version}");
        output.WriteLine($"gc: server={GCSettings.IsServerGC}, latency={GCSettings.LatencyMode}; build: {(IsOptimized() ? "Release" : "Debug (figures not representative)")}");

        var hopsPerSecond = await ChannelHopBaselineAsync(2_000_000).ConfigureAwait(false);
        output.WriteLine(string.Create(inv, $"baseline: bounded(1024) channel hop, 1 reader/1 writer: {hopsPerSecond:N0} items/s"));

        var results = new List<double>();
        var summaries = new List<ReplaySummary>();
        for (var i = 0; i < Math.Max(1, runs); i++)
        {
            var dir = Directory.CreateTempSubdirectory("metalsniper-bench-");
            try
            {
                var s = settings with { DatabasePathOverride = Path.Combine(dir.FullName, "bench.db") };
                var (code, summary) = await Commands.RunReplayAsync(s, error, ct).ConfigureAwait(false);
                if (code != ExitCodes.Ok || summary is null)
                {
                    error.WriteLine($"bench replay {i + 1} failed with exit code {code}");
                    return code == ExitCodes.Ok ? ExitCodes.Software : code;
                }

                results.Add(summary.BarsPerSecond);
                summaries.Add(summary);
                output.WriteLine(string.Create(inv, $"replay {i + 1}: {summary.BarsAccepted:N0} bars in {summary.WallTime.TotalSeconds:0.000} s = {summary.BarsPerSecond:N0} bars/s ({summary.Decisions:N0} decisions, {summary.Fills:N0} fills)"));
            }
            finally
            {
                dir.Delete(recursive: true);
            }
        }

        var median = results.Order().ElementAt(results.Count / 2);
        var hopsPerBar = hopsPerSecond / median;
        const double target = 200_000;
        output.WriteLine(string.Create(inv, $"full pipeline replay: median {median:N0} bars/s (target ≥ {target:N0}: {(median >= target ? "PASS" : "FAIL")}); cost per bar = {hopsPerBar:0.0} channel hops (gate ≤ 40: {(hopsPerBar <= 40 ? "PASS" : "FAIL")})"));
        if (jsonPath is not null)
        {
            var doc = new
            {
                hardware = new { cores = Environment.ProcessorCount, os = RuntimeInformation.OSDescription, runtime = Environment.Version.ToString(), serverGc = GCSettings.IsServerGC },
                baseline = new { channelHopItemsPerSecond = hopsPerSecond },
                metrics = new[]
                {
                    new { metric = "replay_bars_per_second", value = median, baseline = hopsPerSecond, ratio = hopsPerBar, target = target, pass = median >= target && hopsPerBar <= 40 },
                },
                runs = results,
            };
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
            output.WriteLine($"results written to {Path.GetFullPath(jsonPath)}");
        }

        return ExitCodes.Ok;
    }

    private static async Task<double> ChannelHopBaselineAsync(int items)
    {
        var channel = Channel.CreateBounded<long>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        var sw = Stopwatch.StartNew();
        var reader = Task.Run(async () =>
        {
            long sum = 0;
            while (await channel.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var v))
                {
                    sum += v;
                }
            }

            return sum;
        });
        for (long i = 0; i < items; i++)
        {
            if (!channel.Writer.TryWrite(i))
            {
                await channel.Writer.WriteAsync(i).ConfigureAwait(false);
            }
        }

        channel.Writer.Complete();
        await reader.ConfigureAwait(false);
        return items / sw.Elapsed.TotalSeconds;
    }

    private static bool IsOptimized() =>
        typeof(Bench).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false).OfType<DebuggableAttribute>().All(a => !a.IsJITOptimizerDisabled);
}
