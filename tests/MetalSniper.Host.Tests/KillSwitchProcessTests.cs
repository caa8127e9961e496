using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Tests;

/// <summary>The kill switch across real processes: the service, the CLI, a restart, a kill file and a tampered store.</summary>
public sealed partial class KillSwitchProcessTests : IDisposable
{
    private readonly TestEnvironment _env = new();
    private readonly string _config;

    public KillSwitchProcessTests()
    {
        _config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 400;
            j["MarketData"]!["Replay"]!["ServiceScheduler"] = "Threaded"; // every start a new run: the kill switch restored from the halts store (the causal service's resume: ServiceResumeSoakTests)
            j["Risk"]!["KillFilePath"] = Path.Combine(_env.Directory.FullName, "KILL");
        });
    }

    public void Dispose() => _env.Dispose();

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    private static string Dll => Path.Combine(AppContext.BaseDirectory, "metalsniper.dll");

    private ProcessStartInfo Psi(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", ["exec", Dll, .. args, "--config", _config, "--db", _env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _env.Directory.FullName,
        };
        return psi;
    }

    private async Task<(int Code, string Out, string Err)> Cli(params string[] args)
    {
        using var p = Process.Start(Psi(args))!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit(TimeSpan.FromSeconds(60)).ShouldBeTrue($"'{string.Join(' ', args)}' did not finish");
        return (p.ExitCode, await o, await e);
    }

    private sealed class Service : IAsyncDisposable
    {
        private readonly Process _p;
        private readonly Task<string> _out;
        private readonly Task<string> _err;

        public Service(ProcessStartInfo psi)
        {
            _p = Process.Start(psi)!;
            _out = _p.StandardOutput.ReadToEndAsync();
            _err = _p.StandardError.ReadToEndAsync();
        }

        public bool HasExited => _p.HasExited;

        public async Task<(int Code, string Out, string Err)> StopAsync()
        {
            if (!_p.HasExited)
            {
                SendSignal(_p.Id, 15).ShouldBe(0);
            }

            _p.WaitForExit(TimeSpan.FromSeconds(30)).ShouldBeTrue("the service did not stop within 30 s of SIGTERM");
            return (_p.ExitCode, await _out, await _err);
        }

        public async Task<string> ErrorsAsync() => _p.HasExited ? await _err : "";

        public async ValueTask DisposeAsync()
        {
            if (!_p.HasExited)
            {
                _p.Kill(entireProcessTree: true);
                await _p.WaitForExitAsync();
            }

            _p.Dispose();
        }
    }

    private T Query<T>(string sql, object? args = null)
    {
        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        return c.ExecuteScalar<T>(sql, args)!;
    }

    private static Task WaitUntil(Func<bool> condition, string what, Service? service = null, int seconds = 60) =>
        Eventually.Until(condition, what, TimeSpan.FromSeconds(seconds), TimeSpan.FromMilliseconds(100),
            async () => service is { HasExited: true } ? $"the service exited: {await service.ErrorsAsync()}" : null);

    private long Safe(string sql, object? args = null)
    {
        try
        {
            return File.Exists(_env.DatabasePath) ? Query<long>(sql, args) : 0;
        }
        catch (SqliteException)
        {
            return 0; // schema not there yet
        }
    }

    private static string LatestRun(SqliteConnection c) => c.ExecuteScalar<string>("SELECT run_id FROM runs ORDER BY started_utc DESC LIMIT 1")!;

    [Fact]
    public async Task KillSwitch_L2SurvivesARestart_OnlyReduceOnlyOrdersLeave_UntilAConfirmedResume()
    {
        // 1. The service trades; the operator kills it to L2 from the CLI; the running service applies it.
        await using (var first = new Service(Psi("run")))
        {
            await WaitUntil(() => Safe("SELECT COUNT(*) FROM fills") >= 3, "the first fills", first);
            var kill = await Cli("kill", "--level", "2", "--reason", "test: operator stop");
            kill.Code.ShouldBe(0, kill.Err);
            kill.Out.ShouldContain("escalated to L2");
            await WaitUntil(() => Safe("SELECT COUNT(*) FROM decisions WHERE source='kill-switch' AND reason LIKE '%-> L2%'") >= 1, "the service to apply L2", first);
            var stopped = await first.StopAsync();
            stopped.Code.ShouldBe(0, stopped.Err);
        }

        // 2. Restart: L2 is restored before anything trades; the strategy stops signalling and nothing that opens risk leaves.
        string secondRun;
        await using (var second = new Service(Psi("run")))
        {
            await WaitUntil(() => Safe("SELECT COUNT(*) FROM runs") == 2, "the second run", second);
            using (var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False"))
            {
                secondRun = LatestRun(c);
            }

            // Let it run through enough data that it would have traded (the first run had its fills within this much).
            await Task.Delay(TimeSpan.FromSeconds(4));
            second.HasExited.ShouldBeFalse();
            Query<long>("SELECT COUNT(*) FROM orders WHERE run_id=@secondRun AND status<>'Denied' AND purpose IN ('Entry','Add')", new { secondRun }).ShouldBe(0, "an entry left at L2");
            Query<long>("SELECT COUNT(*) FROM orders WHERE run_id=@secondRun AND status<>'Denied' AND purpose NOT IN ('Exit','RiskFlatten','ProtectiveStop')", new { secondRun }).ShouldBe(0);

            // 3. Resume needs the code of the state the operator saw; a wrong code changes nothing.
            var wrong = await Cli("resume", "--reason", "test", "--confirm", "00000000");
            wrong.Code.ShouldBe(64);
            wrong.Err.ShouldContain("does not match");
            var show = await Cli("resume", "--reason", "test: incident reviewed");
            show.Code.ShouldBe(0, show.Err);
            var code = ConfirmCode().Match(show.Out).Groups[1].Value;
            code.Length.ShouldBe(8, show.Out);
            (wrong.Out + wrong.Err).ShouldNotContain(code, Case.Insensitive, "the refused resume named the code that would have been accepted");
            var resume = await Cli("resume", "--reason", "test: incident reviewed", "--confirm", code);
            resume.Code.ShouldBe(0, resume.Err);
            resume.Out.ShouldContain("resumed to L0");

            // 4. The running service picks it up and trades again.
            await WaitUntil(() => Safe("SELECT COUNT(*) FROM orders WHERE run_id=@secondRun AND status<>'Denied' AND purpose='Entry'", new { secondRun }) > 0, "an entry after the resume", second);
            var stopped = await second.StopAsync();
            stopped.Code.ShouldBe(0, stopped.Err);
            stopped.Out.ShouldContain("restored from the halts store");
        }

        var halts = await Cli("halts");
        halts.Code.ShouldBe(0, halts.Err);
        halts.Out.ShouldContain("chain intact");
        Query<string>("SELECT group_concat(action, ',') FROM (SELECT action FROM halts WHERE scope='service' AND action IN ('Escalate','Resume') ORDER BY seq)").ShouldBe("Escalate,Resume");
    }

    [Fact]
    public async Task KillFile_EscalatesTheRunningService_AndResumeIsRefusedWhileItExists()
    {
        await using var service = new Service(Psi("run"));
        await WaitUntil(() => Safe("SELECT COUNT(*) FROM decisions") > 0, "the service to trade", service);
        await File.WriteAllTextAsync(Path.Combine(_env.Directory.FullName, "KILL"), "1");
        await WaitUntil(() => Safe("SELECT COUNT(*) FROM halts WHERE source='kill-file' AND level=1") == 1, "the kill file to escalate", service, seconds: 10);
        var resume = await Cli("resume", "--reason", "too early");
        resume.Code.ShouldBe(64);
        resume.Err.ShouldContain("remove it first");
        var stopped = await service.StopAsync();
        stopped.Code.ShouldBe(0, stopped.Err);
    }

    /// <summary>Creates the database the service would (the CLI never creates one).</summary>
    private void CreateDatabase() => _ = new MetalSniper.Persistence.Database(_env.DatabasePath, TimeProvider.System);

    [Fact]
    public async Task TamperedHaltsRecord_IsNamedBySequence_AndTheServiceRefusesToStart()
    {
        CreateDatabase();
        (await Cli("kill", "--level", "1", "--reason", "first")).Code.ShouldBe(0);
        (await Cli("kill", "--level", "2", "--reason", "second")).Code.ShouldBe(0);
        using (var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False"))
        {
            c.Execute("UPDATE halts SET level=0, reason='nothing happened' WHERE seq=1");
        }

        var check = await Cli("halts");
        check.Code.ShouldBe(65);
        check.Out.ShouldContain("BROKEN at sequence 1");

        var (code, _, err) = await Cli("run");
        code.ShouldBe(65);
        err.ShouldContain("FAIL halts store");
        err.ShouldContain("sequence 1");
    }

    [Fact]
    public async Task DeletingTheNewestHaltsRecords_IsDetectedByTheAnchor()
    {
        CreateDatabase();
        (await Cli("kill", "--level", "1", "--reason", "first")).Code.ShouldBe(0);
        (await Cli("kill", "--level", "2", "--reason", "second")).Code.ShouldBe(0);
        using (var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False"))
        {
            c.Execute("DELETE FROM halts WHERE seq=2"); // what is left still links: only the anchor can tell
        }

        var check = await Cli("halts");
        check.Code.ShouldBe(65, check.Out + check.Err);
        check.Out.ShouldContain("records were deleted");
        var (code, _, err) = await Cli("run");
        code.ShouldBe(65);
        err.ShouldContain("FAIL halts store");
        err.ShouldContain("records were deleted");
    }

    [Fact]
    public async Task Kill_AgainstADatabaseThatDoesNotExist_IsRefusedInsteadOfCreatingOne()
    {
        var (code, _, err) = await Cli("kill", "--level", "2", "--reason", "wrong directory");
        code.ShouldBe(66);
        err.ShouldContain("no database at");
        File.Exists(_env.DatabasePath).ShouldBeFalse();
    }

    [GeneratedRegex("--confirm ([0-9a-f]{8})")]
    private static partial Regex ConfirmCode();
}
