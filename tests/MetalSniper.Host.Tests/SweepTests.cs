using System.Diagnostics;
using System.Text.Json;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;

namespace MetalSniper.Host.Tests;

/// <summary>
/// <c>sweep</c> through the real executable: every grid point a child process of the same app (<c>replay --set …</c>) on one
/// real month of the metals data, the ranked table, the results file, a failed run reported with its exit code and stderr,
/// and malformed grids refused in one line. Also <c>replay --set</c>/<c>--summary-json</c> and the checked-in example grid.
/// </summary>
public sealed class SweepTests : IDisposable
{
    private const string From = "2025-09-01T00:00:00Z";
    private const string To = "2025-10-01T00:00:00Z";
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private static string Dll => Path.Combine(AppContext.BaseDirectory, "metalsniper.dll");

    private static string Apphost => Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "metalsniper.exe" : "metalsniper");

    private string WriteGrid(string json)
    {
        var path = Path.Combine(_env.Directory.FullName, "grid.json");
        File.WriteAllText(path, json);
        return path;
    }

    private async Task<(int Code, string Out, string Err)> Process(string fileName, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(fileName, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _env.Directory.FullName,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit(TimeSpan.FromMinutes(5)).ShouldBeTrue("the sweep did not finish within 5 minutes");
        return (p.ExitCode, await o, await e);
    }

    [Fact]
    public async Task Sweep_ThreePointsOnARealMonth_RanksTheRunsByNetPnlAndReportsTheFailedOneWithItsExitCodeAndStderr()
    {
        var config = _env.WriteConfig();
        var grid = WriteGrid($$"""
            {
              "description": "test: two stops on one month, and a point whose data directory does not exist",
              "points": [
                { "Strategies:Metals:StopAtr": 1.5 },
                { "Strategies:Metals:StopAtr": 4.0 },
                { "Strategies:Metals:StopAtr": 2.0, "MarketData:Replay:DataDirectory": "{{Path.Combine(_env.Directory.FullName, "no-such-data")}}" }
              ],
              "fixed": { "MarketData:Replay:FromUtc": "{{From}}", "MarketData:Replay:ToUtc": "{{To}}" }
            }
            """);
        var outDir = Path.Combine(_env.Directory.FullName, "sweep");

        // Started through the muxer (dotnet exec metalsniper.dll): the children must be started the same way.
        var (code, stdout, stderr) = await Process("dotnet", ["exec", Dll, "sweep", "--grid", grid, "--out", outDir, "--config", config, "--parallel", "2"]);

        // A failed run is never dropped: the sweep exits with that run's code (66: its input is missing).
        code.ShouldBe(ExitCodes.NoInput, stderr);
        var results = JsonSerializer.Deserialize<SweepResults>(File.ReadAllText(Path.Combine(outDir, "sweep-results.json")), ReplayFigures.Json)!;
        results.Runs.Select(r => r.Name).ShouldBe(["run-01", "run-02", "run-03"]);
        results.Keys.ShouldBe(["Strategies:Metals:StopAtr", "MarketData:Replay:DataDirectory"]);
        results.Parallel.ShouldBe(2);
        var ok = results.Runs.Where(r => r.Ok).ToList();
        ok.Select(r => r.Name).ShouldBe(["run-01", "run-02"]);
        ok[0].Parameters["Strategies:Metals:StopAtr"].ShouldBe("1.5");
        ok[1].Parameters["Strategies:Metals:StopAtr"].ShouldBe("4.0");
        foreach (var run in ok)
        {
            var f = run.Figures!;
            f.BarsAccepted.ShouldBe(4_074); // XAUUSD + XAGUSD 15-minute bars in September 2025
            f.Trades.ShouldBeGreaterThan(0);
            f.RunId.ShouldBe("sweep-" + run.Name[4..]);
            run.ExitCode.ShouldBe(0);
            run.WallSeconds.ShouldBeGreaterThan(0);
            ReplayFigures.ReadJson(Path.Combine(run.Directory, "summary.json")).ShouldBe(f);
            // The child's standard output is its summary only; its console logs (errors only) went to standard error, its
            // trips and alerts to its own log file.
            var childOut = File.ReadAllText(Path.Combine(run.Directory, "stdout.txt"));
            childOut.ShouldStartWith("MetalSniper replay summary");
            // The key figures come first, as a table.
            var order = new[] { "key figures", "Realized P&L gross", "Commissions", "Carry (borrow + storage)", "Realized P&L net", "Unrealized P&L gross (open at end)", "Net P&L (after every cost, open marked)", "max drawdown", "profit factor", "Sharpe", "trades (round trips)", "throughput", "bars read", "trips" }
                .Select(label => childOut.IndexOf("  " + label, StringComparison.Ordinal)).ToList();
            order.ShouldAllBe(i => i > 0);
            order.ShouldBeInOrder();
            childOut.ShouldNotContain("[WRN]");
            childOut.ShouldNotContain("[INF]");
            File.ReadAllText(Path.Combine(run.Directory, "stderr.txt")).ShouldNotContain("[WRN]");
            Directory.GetFiles(Path.Combine(run.Directory, "log")).ShouldNotBeEmpty();
            run.Command[0].ShouldEndWith("dotnet");
            run.Command.ShouldContain(Dll);
        }

        // The default strategy trips breakers in this month: they are in the log file and in the summary, not on the console.
        var firstRunLog = string.Concat(Directory.GetFiles(Path.Combine(ok[0].Directory, "log")).Select(File.ReadAllText));
        firstRunLog.ShouldContain("[WRN]");
        ok[0].Figures!.SentinelTrips.ShouldBeGreaterThan(0);
        File.ReadAllText(Path.Combine(ok[0].Directory, "stdout.txt")).ShouldContain("Breaker:");

        var ranked = ok.OrderByDescending(r => r.Figures!.RealizedNetPnl).ToList();
        ranked.Select(r => r.Rank).ShouldBe([1, 2]);
        ranked[0].Figures!.RealizedNetPnl.ShouldBeGreaterThanOrEqualTo(ranked[1].Figures!.RealizedNetPnl);

        var failed = results.Runs.Single(r => !r.Ok);
        failed.Name.ShouldBe("run-03");
        failed.Rank.ShouldBeNull();
        failed.ExitCode.ShouldBe(ExitCodes.NoInput);
        failed.Figures.ShouldBeNull();
        failed.StderrTail.ShouldContain(l => l.Contains("no-such-data", StringComparison.Ordinal));

        // The ranked table: best first, then the failed run with its code and stderr tail.
        var lines = stdout.Split('\n');
        var header = lines.Single(l => l.TrimStart().StartsWith("rank ", StringComparison.Ordinal));
        foreach (var column in new[] { "StopAtr", "DataDirectory", "realized P&L net (USD)", "max DD", "PF", "Sharpe", "trades", "bars/s" })
        {
            header.ShouldContain(column);
        }

        var rows = lines.SkipWhile(l => l != header).Skip(2).TakeWhile(l => l.Length > 0).ToList();
        rows.Count.ShouldBe(3);
        rows[0].ShouldContain(ranked[0].Name);
        rows[0].ShouldContain(ranked[0].Figures!.RealizedNetPnl.ToString("N2", System.Globalization.CultureInfo.InvariantCulture));
        rows[1].ShouldContain(ranked[1].Name);
        rows[2].ShouldContain("run-03");
        rows[2].ShouldContain("FAILED (exit 66)");
        stdout.ShouldContain("run-03 failed (exit 66)");
        stdout.ShouldContain("no-such-data");
        stderr.ShouldContain("[3/3]");

        // Every run's command line is the unit of work, also in commands.txt; the CSV has a row per run.
        File.ReadAllLines(Path.Combine(outDir, "commands.txt")).Length.ShouldBe(3);
        var csv = File.ReadAllLines(Path.Combine(outDir, "sweep-results.csv"));
        csv.Length.ShouldBe(4);
        csv[0].ShouldStartWith("run,rank,Strategies:Metals:StopAtr,MarketData:Replay:DataDirectory,ok,exit_code");
        csv[3].ShouldStartWith("run-03,,");
    }

    [Fact]
    public async Task Sweep_StartedThroughTheApphost_StartsItsChildrenThroughTheApphost()
    {
        var config = _env.WriteConfig();
        // One quick point (its data directory is missing, so the child ends at start-up): what matters is who started it.
        var grid = WriteGrid($$"""{ "points": [ { "MarketData:Replay:DataDirectory": "{{Path.Combine(_env.Directory.FullName, "none")}}" } ] }""");
        var outDir = Path.Combine(_env.Directory.FullName, "sweep");

        var (code, stdout, stderr) = await Process(Apphost, ["sweep", "--grid", grid, "--out", outDir, "--config", config]);

        code.ShouldBe(ExitCodes.NoInput, stderr);
        var command = File.ReadAllText(Path.Combine(outDir, "commands.txt"));
        command.ShouldStartWith(Apphost + " replay --config ");
        // The child ran our replay command (its own error message), not something else.
        File.ReadAllText(Path.Combine(outDir, "run-01", "stderr.txt")).ShouldContain("input missing: replay data directory");
        stdout.ShouldContain("FAILED (exit 66)");
    }

    [Theory]
    [InlineData("{ \"parameters\": { \"Strategies:Metals:StopAtr\": [1.5, 2.0] ", "not valid JSON")]
    [InlineData("[1, 2]", "the top level must be an object")]
    [InlineData("{ \"parameters\": { \"Strategies:Metals:StopAtr\": [] } }", "parameters.Strategies:Metals:StopAtr is an empty list")]
    [InlineData("{ \"parameters\": { \"Strategies:Metals:StopAtr\": 1.5 } }", "parameters.Strategies:Metals:StopAtr must be a list of values, was a number")]
    [InlineData("{ \"parameters\": { \"Strategies:Metals:StopAtr\": [ { \"x\": 1 } ] } }", "parameters.Strategies:Metals:StopAtr[0] must be a number, string or boolean, was an object")]
    [InlineData("{ \"parameters\": { \"Strategies:Metals:StopAtr\": [1.5, 1.5] } }", "lists a value twice")]
    [InlineData("{ \"parameters\": { \"a\": [1] }, \"points\": [ { \"a\": 1 } ] }", "give exactly one of \"parameters\"")]
    [InlineData("{ \"grid\": { } }", "unknown member \"grid\"")]
    [InlineData("{ \"points\": [ { \"Strategies:Metals:StopAtr\": 2 }, { \"Strategies:Metals:StopAtr\": 2 } ] }", "points[1] repeats an earlier point")]
    [InlineData("{ \"parameters\": { \"Strategies::StopAtr\": [1] } }", "'Strategies::StopAtr' is not a configuration key")]
    public async Task Sweep_MalformedGrid_IsRefusedWithOneLineNamingTheFileAndTheProblem(string json, string problem)
    {
        var grid = WriteGrid(json);
        var outDir = Path.Combine(_env.Directory.FullName, "sweep");

        var (code, stdout, stderr) = await InProcessCli.RunAsync("sweep", "--grid", grid, "--out", outDir, "--config", _env.WriteConfig());

        code.ShouldBe(ExitCodes.DataError);
        var line = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).ShouldHaveSingleItem(); // one line
        line.ShouldStartWith($"error: grid file '{grid}': ");
        line.ShouldContain(problem);
        stdout.ShouldBeEmpty();
        Directory.Exists(outDir).ShouldBeFalse("nothing runs for a malformed grid");
    }

    [Fact]
    public async Task Sweep_MissingGridFile_Exits66()
    {
        var missing = Path.Combine(_env.Directory.FullName, "nope.json");
        var (code, _, stderr) = await InProcessCli.RunAsync("sweep", "--grid", missing, "--config", _env.WriteConfig());
        code.ShouldBe(ExitCodes.NoInput);
        stderr.Trim().ShouldBe($"error: grid file '{missing}' not found");
    }

    [Fact]
    public async Task Sweep_GridWithAnUnknownKeyOrAValueOutOfRange_IsRefusedByTheStrictConfigurationCheckBeforeAnyRun()
    {
        var outDir = Path.Combine(_env.Directory.FullName, "sweep");
        var grid = WriteGrid("""{ "parameters": { "Strategies:Metals:StopAtr": [1.5, 25], "Strategies:Metals:TrailAtrr": [3] } }""");

        var (code, _, stderr) = await InProcessCli.RunAsync("sweep", "--grid", grid, "--out", outDir, "--config", _env.WriteConfig());

        code.ShouldBe(ExitCodes.Config);
        var line = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).ShouldHaveSingleItem();
        line.ShouldStartWith($"error: grid file '{grid}' point 1 (StopAtr=1.5, TrailAtrr=3): configuration: ");
        line.ShouldContain("Strategies:Metals:TrailAtrr: unknown key");
        line.ShouldContain("(2 of 2 points invalid)");
        Directory.Exists(outDir).ShouldBeFalse();
    }

    [Fact]
    public async Task Replay_SetWithAnUnknownKey_IsRefusedByTheStrictConfigurationCheck()
    {
        var (code, _, stderr) = await InProcessCli.RunAsync("replay", "--config", _env.WriteConfig(), "--db", _env.DatabasePath, "--set", "Strategies:Metals:StopAtrr=2.5");
        code.ShouldBe(ExitCodes.Config);
        stderr.ShouldContain("Strategies:Metals:StopAtrr: unknown key");

        (code, _, stderr) = await InProcessCli.RunAsync("replay", "--config", _env.WriteConfig(), "--db", _env.DatabasePath, "--set", "StopAtr");
        code.ShouldBe(ExitCodes.Usage);
        stderr.ShouldContain("--set 'StopAtr' is not KEY=VALUE");
    }

    [Fact]
    public async Task CheckConfig_WithSet_ValidatesTheOverriddenValue()
    {
        var config = _env.WriteConfig();
        (await InProcessCli.RunAsync("check-config", "--config", config, "--set", "Strategies:Metals:StopAtr=2.5")).Code.ShouldBe(ExitCodes.Ok);
        var (code, _, stderr) = await InProcessCli.RunAsync("check-config", "--config", config, "--set", "Strategies:Metals:StopAtr=25");
        code.ShouldBe(ExitCodes.Config);
        stderr.ShouldContain("StopAtr");
    }

    [Fact]
    public void ExampleGrid_HasTwelvePointsThatAllPassTheConfigurationCheck()
    {
        var grid = SweepGrid.Load(Path.Combine(TestPaths.RepositoryRoot, "sweeps", "metals-12.json"));
        grid.Points.Count.ShouldBe(12);
        grid.Keys.ShouldAllBe(k => k.StartsWith("Strategies:Metals:", StringComparison.Ordinal));
        foreach (var point in grid.Points)
        {
            var settings = new HostSettings(Path.Combine(TestPaths.RepositoryRoot, "appsettings.json"), Engine.Pipeline.RunMode.Replay,
                ExtraSettings: point.ToDictionary(kv => kv.Key, kv => (string?)kv.Value));
            var errors = new StringWriter();
            Commands.LoadValidated(settings, errors, out _).ShouldBe(ExitCodes.Ok, errors.ToString());
        }
    }

    [Fact]
    public void Grid_Parameters_AreTheCartesianProductWithTheFirstKeyVaryingSlowest()
    {
        var grid = SweepGrid.Load(WriteGrid("""
            { "parameters": { "A:x": [1, 2], "A:y": ["p", "q", "r"] }, "fixed": { "A:z": true } }
            """));
        grid.Keys.ShouldBe(["A:x", "A:y"]);
        grid.Points.Select(p => string.Join(" ", p.Select(kv => $"{kv.Key}={kv.Value}"))).ShouldBe(
        [
            "A:x=1 A:y=p A:z=true", "A:x=1 A:y=q A:z=true", "A:x=1 A:y=r A:z=true",
            "A:x=2 A:y=p A:z=true", "A:x=2 A:y=q A:z=true", "A:x=2 A:y=r A:z=true",
        ]);
    }

    [Fact]
    public void SelfCommand_UnderTheMuxer_RunsTheEntryAssemblyAndAsAnApphost_RunsItself()
    {
        var muxer = SelfCommand.Resolve("/usr/share/dotnet/dotnet", "/app/metalsniper.dll");
        muxer.FileName.ShouldBe("/usr/share/dotnet/dotnet");
        muxer.PrefixArguments.ShouldBe(["exec", "/app/metalsniper.dll"]);
        muxer.With(["replay"]).ShouldBe(["/usr/share/dotnet/dotnet", "exec", "/app/metalsniper.dll", "replay"]);
        if (OperatingSystem.IsWindows())
        {
            SelfCommand.Resolve(@"C:\Program Files\dotnet\dotnet.exe", @"C:\app\metalsniper.dll").PrefixArguments.ShouldBe(["exec", @"C:\app\metalsniper.dll"]);
        }

        var apphost = SelfCommand.Resolve("/opt/metalsniper/metalsniper", "/opt/metalsniper/metalsniper.dll");
        apphost.FileName.ShouldBe("/opt/metalsniper/metalsniper");
        apphost.PrefixArguments.ShouldBeEmpty();
        SelfCommand.Resolve("/opt/metalsniper/metalsniper", "").PrefixArguments.ShouldBeEmpty(); // single file: no assembly path
        Should.Throw<InvalidOperationException>(() => SelfCommand.Resolve("/usr/bin/dotnet", ""));
        Should.Throw<InvalidOperationException>(() => SelfCommand.Resolve(null, "/app/metalsniper.dll"));
        SelfCommand.ShellQuote("--set").ShouldBe("--set");
        SelfCommand.ShellQuote("a b'c").ShouldBe("'a b'\\''c'");
    }
}
