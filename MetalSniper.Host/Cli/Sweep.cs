using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Supervision;

namespace MetalSniper.Host.Cli;

/// <summary>What <c>sweep</c> was asked to do.</summary>
/// <param name="GridPath">The grid file (<see cref="SweepGrid"/>).</param>
/// <param name="Parallel">Runs at once (≥ 1).</param>
/// <param name="OutDirectory">Where the runs and results go (null: <c>var/sweeps/&lt;UTC time&gt;</c>); must be new or empty.</param>
/// <param name="ConfigPath">The base configuration (null: found as for every command).</param>
public sealed record SweepRequest(string GridPath, int Parallel, string? OutDirectory, string? ConfigPath);

/// <summary>One run of a sweep: its parameters, how it ended and its figures.</summary>
/// <param name="Name">run-NN (its directory under the sweep's).</param>
/// <param name="RunId">The replay's run id (the same command resumes it after a crash).</param>
/// <param name="Parameters">The grid point: configuration key → value, as passed with <c>--set</c>.</param>
/// <param name="Ok">Exit code 0 and figures read.</param>
/// <param name="ExitCode">The child's exit code (null: it never started or was stopped).</param>
/// <param name="WallSeconds">Wall time of the child process, start to exit (seconds).</param>
/// <param name="Figures">The replay's figures (null when it failed).</param>
/// <param name="Error">Why the run failed (null when ok).</param>
/// <param name="StderrTail">The last lines of the child's standard error.</param>
/// <param name="Directory">The run's directory (database, journal, log, stdout.txt, stderr.txt, summary.json).</param>
/// <param name="Command">The child's whole command line: the unit of work, runnable anywhere that sees the same files.</param>
public sealed record SweepRun(
    string Name,
    string RunId,
    IReadOnlyDictionary<string, string> Parameters,
    bool Ok,
    int? ExitCode,
    double WallSeconds,
    ReplayFigures? Figures,
    string? Error,
    IReadOnlyList<string> StderrTail,
    string Directory,
    IReadOnlyList<string> Command)
{
    /// <summary>Rank by net P&amp;L (1 = best); null for a failed run.</summary>
    public int? Rank { get; init; }
}

/// <summary>The record of a whole sweep (<c>DIR/sweep-results.json</c>). Times UTC, durations in seconds.</summary>
/// <param name="Grid">The grid file.</param>
/// <param name="Description">The grid's description.</param>
/// <param name="Config">The base configuration file.</param>
/// <param name="OutDirectory">The sweep's directory.</param>
/// <param name="Parallel">Runs at once.</param>
/// <param name="StartedUtc">When the first run started.</param>
/// <param name="FinishedUtc">When the last run ended.</param>
/// <param name="WallSeconds">The whole sweep's wall time.</param>
/// <param name="Keys">The keys that vary.</param>
/// <param name="Runs">Every run, in grid order (failed ones included).</param>
public sealed record SweepResults(string Grid, string Description, string Config, string OutDirectory, int Parallel, DateTimeOffset StartedUtc, DateTimeOffset FinishedUtc,
    double WallSeconds, IReadOnlyList<string> Keys, IReadOnlyList<SweepRun> Runs);

/// <summary>
/// <c>metalsniper sweep</c>: every point of a parameter grid as an independent child process of this same executable
/// (<c>replay --set KEY=VALUE … --db DIR/run-NN/metalsniper.db --summary-json DIR/run-NN/summary.json</c>), up to N at once.
/// The child command line is the unit of work (written to <c>DIR/commands.txt</c>), so runs can be handed to another
/// scheduler unchanged. Results: <c>DIR/sweep-results.json</c> and <c>.csv</c>, and a table ranked by net P&amp;L on standard
/// output; progress and failures on standard error. A failed run is shown with its exit code and the tail of its standard
/// error, never dropped; the sweep then exits non-zero.
/// </summary>
public static class Sweep
{
    /// <summary>Lines of a failed child's standard error kept in the results.</summary>
    public const int StderrTailLines = 8;

    /// <summary>Runs the sweep; returns the exit code (0 only when every run succeeded).</summary>
    public static async Task<int> RunAsync(SweepRequest request, TimeProvider time, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (request.Parallel < 1)
        {
            error.WriteLine($"error: --parallel must be at least 1, was {request.Parallel}");
            return ExitCodes.Usage;
        }

        SweepGrid grid;
        try
        {
            grid = SweepGrid.Load(request.GridPath);
        }
        catch (FileNotFoundException)
        {
            error.WriteLine($"error: grid file '{request.GridPath}' not found");
            return ExitCodes.NoInput;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: grid file '{request.GridPath}' cannot be read: {e.Message}");
            return ExitCodes.NoInput;
        }
        catch (SweepGridException e)
        {
            error.WriteLine($"error: grid file '{request.GridPath}': {e.Message}");
            return ExitCodes.DataError;
        }

        string config;
        try
        {
            config = Composition.ResolveConfigPath(request.ConfigPath);
        }
        catch (FileNotFoundException e)
        {
            error.WriteLine($"configuration error: {e.Message}");
            return ExitCodes.Config;
        }

        // Every point is checked by the same strict validation a replay does before any run starts: a typo in a key or a value
        // out of range is one line here, not N failed runs.
        var logKeys = new List<string>();
        var invalid = new List<(int Index, string Problem)>();
        for (var i = 0; i < grid.Points.Count; i++)
        {
            var settings = new HostSettings(config, RunMode.Replay, ExtraSettings: grid.Points[i].ToDictionary(kv => kv.Key, kv => (string?)kv.Value, StringComparer.OrdinalIgnoreCase));
            var problems = new StringWriter();
            if (Commands.LoadValidated(settings, problems, out var configuration) != ExitCodes.Ok)
            {
                invalid.Add((i, string.Join("; ", problems.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Skip(1).DefaultIfEmpty(problems.ToString().Trim()))));
            }
            else if (i == 0)
            {
                // Each run logs to its own directory: the keys of the configuration's File sinks get a per-run path.
                logKeys.AddRange(configuration!.GetSection("Serilog:WriteTo").GetChildren()
                    .Where(s => string.Equals(s["Name"], "File", StringComparison.OrdinalIgnoreCase) && s["Args:path"] is not null)
                    .Select(s => $"Serilog:WriteTo:{s.Key}:Args:path"));
            }
        }

        if (invalid.Count > 0)
        {
            var (index, problem) = invalid[0];
            error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"error: grid file '{request.GridPath}' point {index + 1} ({Describe(grid.Points[index])}): configuration: {problem}{(invalid.Count > 1 ? $" ({invalid.Count} of {grid.Points.Count} points invalid)" : "")}"));
            return ExitCodes.Config;
        }

        var outDirectory = Path.GetFullPath(request.OutDirectory ?? Path.Combine("var", "sweeps", time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)));
        if (Directory.Exists(outDirectory) && Directory.EnumerateFileSystemEntries(outDirectory).Any())
        {
            error.WriteLine($"error: output directory '{outDirectory}' is not empty (a sweep writes run-NN/ there; give a new --out)");
            return ExitCodes.Usage;
        }

        SelfCommand self;
        try
        {
            self = SelfCommand.Current();
        }
        catch (InvalidOperationException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Software;
        }

        Directory.CreateDirectory(outDirectory);
        var digits = Math.Max(2, grid.Points.Count.ToString(CultureInfo.InvariantCulture).Length);
        var units = grid.Points.Select((point, i) =>
        {
            var name = "run-" + (i + 1).ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0');
            var directory = Path.Combine(outDirectory, name);
            var arguments = new List<string>
            {
                "replay", "--config", config, "--db", Path.Combine(directory, "metalsniper.db"), "--run-id", "sweep-" + name[4..],
                "--summary-json", Path.Combine(directory, "summary.json"),
            };
            foreach (var (key, value) in point)
            {
                arguments.AddRange(["--set", $"{key}={value}"]);
            }

            foreach (var key in logKeys)
            {
                arguments.AddRange(["--set", $"{key}={Path.Combine(directory, "log", "metalsniper-.log")}"]);
            }

            return (Name: name, Directory: directory, Point: point, Command: self.With(arguments));
        }).ToList();
        await File.WriteAllLinesAsync(Path.Combine(outDirectory, "commands.txt"), units.Select(u => string.Join(' ', u.Command.Select(SelfCommand.ShellQuote))), CancellationToken.None)
            .ConfigureAwait(false);

        error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sweep: {units.Count} run(s) of {grid.Path}, {request.Parallel} at once, into {outDirectory}"));
        var started = time.GetUtcNow();
        var startedTimestamp = time.GetTimestamp();
        var results = new SweepRun?[units.Count];
        var finished = 0;
        var consoleLock = new Lock();
        var workingDirectory = Directory.GetCurrentDirectory();
        await Parallel.ForEachAsync(Enumerable.Range(0, units.Count), new ParallelOptions { MaxDegreeOfParallelism = request.Parallel }, async (i, _) =>
        {
            var u = units[i];
            var run = await RunChildAsync(u.Name, u.Directory, u.Point, u.Command, workingDirectory, time, cancellationToken).ConfigureAwait(false);
            results[i] = run;
            lock (consoleLock)
            {
                finished++;
                error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{finished}/{units.Count}] {run.Name} {Describe(u.Point.Where(kv => grid.Keys.Contains(kv.Key)))}: ")
                    + (run.Ok
                        ? string.Create(CultureInfo.InvariantCulture, $"ok in {run.WallSeconds:0.0} s, realized P&L net {run.Figures!.RealizedNetPnl:N2} {run.Figures.Currency}")
                        : string.Create(CultureInfo.InvariantCulture, $"FAILED (exit {run.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"}) in {run.WallSeconds:0.0} s: {run.Error}")));
            }
        }).ConfigureAwait(false);

        var runs = Rank(results.Select(r => r!).ToList());
        var sweep = new SweepResults(grid.Path, grid.Description, config, outDirectory, request.Parallel, started, time.GetUtcNow(),
            Math.Round(time.GetElapsedTime(startedTimestamp).TotalSeconds, 3), grid.Keys, runs);
        await File.WriteAllTextAsync(Path.Combine(outDirectory, "sweep-results.json"), JsonSerializer.Serialize(sweep, ReplayFigures.Json), CancellationToken.None).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(outDirectory, "sweep-results.csv"), Csv(sweep), CancellationToken.None).ConfigureAwait(false);
        await output.WriteAsync(Render(sweep)).ConfigureAwait(false);

        var failed = runs.Where(r => !r.Ok).ToList();
        if (failed.Count == 0)
        {
            return ExitCodes.Ok;
        }

        // The first failed run's own code when it has one (78: configuration, 66: input missing, …), else 70.
        return failed[0].ExitCode is { } code and > 0 and < 256 ? code : ExitCodes.Software;
    }

    /// <summary>Runs one child to its end; its output goes to stdout.txt and stderr.txt in its directory.</summary>
    private static async Task<SweepRun> RunChildAsync(string name, string directory, IReadOnlyList<KeyValuePair<string, string>> point, IReadOnlyList<string> command,
        string workingDirectory, TimeProvider time, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var parameters = point.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var runId = "sweep-" + name[4..];
        var stderrPath = Path.Combine(directory, "stderr.txt");
        var begin = time.GetTimestamp();
        SweepRun Failed(int? exitCode, string why) => new(name, runId, parameters, false, exitCode, Math.Round(time.GetElapsedTime(begin).TotalSeconds, 3), null, why,
            Tail(stderrPath), directory, command);

        if (cancellationToken.IsCancellationRequested)
        {
            return Failed(null, "not started: the sweep was cancelled");
        }

        var psi = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in command.Skip(1))
        {
            psi.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"'{command[0]}' did not start");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return Failed(null, $"could not start '{command[0]}': {e.Message}");
        }

        using (process)
        {
            var stdout = File.Create(Path.Combine(directory, "stdout.txt"));
            var stderr = File.Create(stderrPath);
            await using (stdout.ConfigureAwait(false))
            await using (stderr.ConfigureAwait(false))
            {
                var copyOut = process.StandardOutput.BaseStream.CopyToAsync(stdout, CancellationToken.None);
                var copyErr = process.StandardError.BaseStream.CopyToAsync(stderr, CancellationToken.None);
                try
                {
                    await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl+C / SIGTERM of the sweep: the child is stopped (it is a replay: nothing to drain) and recorded as stopped.
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                    await Task.WhenAll(copyOut, copyErr).ConfigureAwait(false);
                    return Failed(null, "stopped: the sweep was cancelled");
                }

                await Task.WhenAll(copyOut, copyErr).ConfigureAwait(false);
            }

            if (process.ExitCode != 0)
            {
                return Failed(process.ExitCode, Tail(stderrPath).LastOrDefault() ?? "no message on standard error");
            }
        }

        var summary = Path.Combine(directory, "summary.json");
        try
        {
            var figures = ReplayFigures.ReadJson(summary);
            return new SweepRun(name, runId, parameters, true, 0, Math.Round(time.GetElapsedTime(begin).TotalSeconds, 3), figures, null, [], directory, command);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return Failed(0, $"exited 0 but its figures could not be read from {summary}: {e.Message}");
        }
    }

    /// <summary>The last non-empty lines of a file (each at most 300 characters); empty when the file is missing.</summary>
    private static IReadOnlyList<string> Tail(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        return [.. File.ReadLines(path).Where(l => l.Trim().Length > 0).TakeLast(StderrTailLines).Select(l => l.Length > 300 ? l[..300] + "…" : l)];
    }

    /// <summary>Ranks the runs that succeeded by net P&amp;L (best first, ties by name); failed runs keep no rank and follow.</summary>
    private static List<SweepRun> Rank(List<SweepRun> runs)
    {
        var ranks = runs.Where(r => r.Ok).OrderByDescending(r => r.Figures!.RealizedNetPnl).ThenBy(r => r.Name, StringComparer.Ordinal)
            .Select((r, i) => (r.Name, Rank: i + 1)).ToDictionary(x => x.Name, x => x.Rank, StringComparer.Ordinal);
        return [.. runs.Select(r => ranks.TryGetValue(r.Name, out var rank) ? r with { Rank = rank } : r)];
    }

    private static string Describe(IEnumerable<KeyValuePair<string, string>> point) => string.Join(", ", point.Select(kv => $"{ShortKey(kv.Key)}={kv.Value}"));

    private static string ShortKey(string key) => key[(key.LastIndexOf(':') + 1)..];

    /// <summary>Column headers for the varying keys: the last path segment, or the whole key where two would look the same.</summary>
    private static List<string> Headers(IReadOnlyList<string> keys) =>
        [.. keys.Select(k => keys.Count(o => string.Equals(ShortKey(o), ShortKey(k), StringComparison.OrdinalIgnoreCase)) > 1 ? k : ShortKey(k))];

    /// <summary>The ranked table: successful runs by net P&amp;L, then every failed run with its exit code and its standard error's tail.</summary>
    public static string Render(SweepResults sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var inv = CultureInfo.InvariantCulture;
        var currency = sweep.Runs.FirstOrDefault(r => r.Ok)?.Figures!.Currency ?? "";
        var headers = Headers(sweep.Keys);
        var table = new TextTable([">rank", "run", .. headers, $">realized P&L net ({currency})", ">max DD", ">PF", ">Sharpe", ">trades", ">win %", ">bars/s", ">wall s"]);
        foreach (var r in sweep.Runs.OrderBy(r => r.Rank ?? int.MaxValue).ThenBy(r => r.Name, StringComparer.Ordinal))
        {
            var values = sweep.Keys.Select(k => r.Parameters.TryGetValue(k, out var v) ? v : "").ToList();
            if (r.Figures is { } f && r.Ok)
            {
                table.Add([r.Rank!.Value.ToString(inv), r.Name, .. values, f.RealizedNetPnl.ToString("N2", inv), f.MaxDrawdown.ToString("N2", inv),
                    f.ProfitFactor is { } pf ? pf.ToString("0.00", inv) : "n/a", f.Sharpe is { } sr ? sr.ToString("0.00", inv) : "n/a", f.Trades.ToString("N0", inv),
                    f.WinRate is { } w ? (100 * w).ToString("0.0", inv) : "n/a", f.BarsPerSecond.ToString("N0", inv), r.WallSeconds.ToString("0.0", inv)]);
            }
            else
            {
                table.Add(["–", r.Name, .. values, r.ExitCode is { } c ? $"FAILED (exit {c})" : "FAILED", "", "", "", "", "", "", r.WallSeconds.ToString("0.0", inv)]);
            }
        }

        var ok = sweep.Runs.Count(r => r.Ok);
        var sb = new StringBuilder();
        sb.Append(inv, $"MetalSniper sweep: {sweep.Runs.Count} run(s) of {sweep.Grid}, {ok} ok, {sweep.Runs.Count - ok} failed; {sweep.WallSeconds:0.0} s wall, {sweep.Parallel} at once\n");
        if (sweep.Description.Length > 0)
        {
            sb.Append("  ").Append(sweep.Description).Append('\n');
        }

        sb.Append(inv, $"  ranked by realized P&L net (closed trades, after their commissions and carry); max DD incl. open; Sharpe daily annualized; results in {sweep.OutDirectory}\n\n");
        sb.Append(table.Render());
        foreach (var r in sweep.Runs.Where(r => !r.Ok))
        {
            sb.Append('\n').Append(inv, $"  {r.Name} failed (exit {r.ExitCode?.ToString(inv) ?? "none"}): {r.Error}\n");
            sb.Append(inv, $"    command: {string.Join(' ', r.Command.Select(SelfCommand.ShellQuote))}\n");
            if (r.StderrTail.Count > 0)
            {
                sb.Append("    stderr (last lines):\n");
                foreach (var line in r.StderrTail)
                {
                    sb.Append("      ").Append(line).Append('\n');
                }
            }
        }

        return sb.ToString();
    }

    /// <summary>One row per run in grid order: name, rank, each varying key, exit code, the figures and the wall time.</summary>
    private static string Csv(SweepResults sweep)
    {
        var inv = CultureInfo.InvariantCulture;
        static string Field(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
        var sb = new StringBuilder();
        sb.AppendJoin(',', ["run", "rank", .. sweep.Keys.Select(Field), "ok", "exit_code", "currency", "realized_pnl_net", "equity_pnl", "max_drawdown", "profit_factor", "sharpe",
            "trades", "win_rate", "sentinel_trips", "bars_per_second", "wall_seconds", "error"]).Append('\n');
        foreach (var r in sweep.Runs)
        {
            var f = r.Figures;
            sb.AppendJoin(',', [r.Name, r.Rank?.ToString(inv) ?? "", .. sweep.Keys.Select(k => Field(r.Parameters.TryGetValue(k, out var v) ? v : "")), r.Ok ? "true" : "false",
                r.ExitCode?.ToString(inv) ?? "", f?.Currency ?? "", f?.RealizedNetPnl.ToString(inv) ?? "", f?.EquityPnl.ToString(inv) ?? "", f?.MaxDrawdown.ToString(inv) ?? "",
                f?.ProfitFactor?.ToString(inv) ?? "", f?.Sharpe?.ToString(inv) ?? "", f?.Trades.ToString(inv) ?? "", f?.WinRate?.ToString(inv) ?? "",
                f?.SentinelTrips.ToString(inv) ?? "", f?.BarsPerSecond.ToString(inv) ?? "", r.WallSeconds.ToString(inv), Field(r.Error ?? "")]).Append('\n');
        }

        return sb.ToString();
    }
}
