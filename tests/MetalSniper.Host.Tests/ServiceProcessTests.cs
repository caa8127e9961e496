using System.Diagnostics;
using System.Runtime.InteropServices;
using Dapper;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Tests;

/// <summary>The service as a real process: started with <c>run</c>, stopped with SIGTERM.</summary>
public sealed class ServiceProcessTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    [Fact]
    public async Task RunService_ProcessesDataAndStopsCleanlyOnSigterm()
    {
        var config = _env.WriteConfig(j => j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 400);
        var dll = Path.Combine(AppContext.BaseDirectory, "metalsniper.dll");
        File.Exists(dll).ShouldBeTrue(dll);
        var psi = new ProcessStartInfo("dotnet", ["exec", dll, "run", "--config", config, "--db", _env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _env.Directory.FullName,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Wait until it trades: decisions and fills in the database.
            await Eventually.Until(() => FillCount() >= 5, "5 fills", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100),
                async () => process.HasExited ? $"the service exited early with {process.ExitCode}: {await stderr}" : null);

            SendSignal(process.Id, 15).ShouldBe(0);
            var exited = process.WaitForExit(TimeSpan.FromSeconds(30));
            exited.ShouldBeTrue("the service did not stop within 30 s of SIGTERM");
            process.ExitCode.ShouldBe(0, await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var log = await stdout;
        // The embedded default runs on the causal scheduler: a clean stop before the data ended finishes the record in hand,
        // records the feed position and keeps the run open for the next start to resume (ServiceResumeSoakTests).
        log.ShouldContain("Service stopped at feed record");
        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        c.ExecuteScalar<string>("PRAGMA integrity_check").ShouldBe("ok");
        c.ExecuteScalar<string>("SELECT exit_status FROM runs")!.ShouldStartWith("stopped cleanly before its data ended; resumes on the next start");
        c.ExecuteScalar<string?>("SELECT ended_utc FROM runs").ShouldBeNull();
        c.ExecuteScalar<long>("SELECT MAX(records) FROM feed_marks").ShouldBeGreaterThan(0);
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM orders WHERE status = 'PendingSubmit'").ShouldBe(0, "an order was left in flight");
        c.ExecuteScalar<long>("""
            SELECT COUNT(*) FROM fills f LEFT JOIN orders o ON o.client_order_id = f.client_order_id LEFT JOIN decisions d ON d.decision_id = o.decision_id
            WHERE d.decision_id IS NULL
            """).ShouldBe(0);
    }

    private long FillCount()
    {
        if (!File.Exists(_env.DatabasePath))
        {
            return 0;
        }

        try
        {
            using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Mode=ReadOnly;Pooling=False");
            return c.ExecuteScalar<long>("SELECT COUNT(*) FROM sqlite_master WHERE name='fills'") == 0 ? 0 : c.ExecuteScalar<long>("SELECT COUNT(*) FROM fills");
        }
        catch (SqliteException)
        {
            return 0; // the schema is being created
        }
    }
}
