using System.Diagnostics;
using System.Runtime.InteropServices;
using Dapper;
using MetalSniper.Host.Cli;
using MetalSniper.Persistence.Journal;
using MetalSniper.Engine.Pipeline;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using MetalSniper.Host.Supervision;

using MetalSniper.Testing;

namespace MetalSniper.Host.Tests;

public sealed class JournalTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private string JournalPath => Path.Combine(_env.Directory.FullName, "journal.db");

    private TestJournalFile JournalFile => new(JournalPath);

    private DecisionJournal Open(int verifyTail = 10_000) => JournalFile.Open(verifyTail);

    private Task Fill(int entries) => JournalFile.Fill(entries);

    private void Execute(string sql) => JournalFile.Execute(sql);

    [Theory]
    [InlineData("edit", 137)]
    [InlineData("delete", 250)]
    [InlineData("reorder", 42)]
    public async Task OneTamperedRow_IsDetectedAtItsSequence(string tamper, long at)
    {
        await Fill(400);
        switch (tamper)
        {
            case "edit":
                Execute($"UPDATE journal SET payload='{{\"Index\":{at},\"Reason\":\"nothing to see\"}}' WHERE seq={at}");
                break;
            case "delete":
                Execute($"DELETE FROM journal WHERE seq={at}");
                break;
            default:
                // Swap the contents of two neighbours, keeping the sequence numbers in order.
                Execute($"""
                    UPDATE journal SET seq=-1 WHERE seq={at};
                    UPDATE journal SET seq={at} WHERE seq={at + 1};
                    UPDATE journal SET seq={at + 1} WHERE seq=-1;
                    """);
                break;
        }

        var v = DecisionJournal.VerifyFile(JournalPath);
        v.IsIntact.ShouldBeFalse();
        v.FirstBadSequence.ShouldBe(at);

        // The CLI names it too, with exit code 65.
        var output = new StringWriter();
        var code = await Commands.Build(output, new StringWriter()).Parse(["journal", "verify", "--path", JournalPath, "--config", _env.WriteConfig(), "--db", _env.DatabasePath]).InvokeAsync();
        code.ShouldBe(ExitCodes.DataError);
        output.ToString().ShouldContain($"BROKEN at sequence {at}");
    }

    [Fact]
    public async Task Replay_EveryOrderHasItsJournalEntryBeforeIt_AndTheChainVerifies()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-01T00:00:00Z";
            j["MarketData"]!["Replay"]!["ToUtc"] = "2025-10-01T00:00:00Z";
        });
        var errors = new StringWriter();
        var (code, summary) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Error), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, errors.ToString());
        var journalFile = Path.Combine(_env.Directory.FullName, "journal-replay.db");
        DecisionJournal.VerifyFile(journalFile, _env.ChainKeys).IsIntact.ShouldBeTrue();

        using var db = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        db.Open();
        db.Execute($"ATTACH DATABASE '{journalFile}' AS j");
        var orders = db.ExecuteScalar<long>("SELECT COUNT(*) FROM orders");
        orders.ShouldBe(summary!.OrdersSent + summary.OrdersDenied + db.ExecuteScalar<long>("SELECT COUNT(*) FROM orders WHERE status='Cancelled' AND status_reason LIKE 'not sent%'"));
        // Every order row points at its own journal entry (an order or a gate denial of that client order id) ...
        db.ExecuteScalar<long>("""
            SELECT COUNT(*) FROM orders o JOIN j.journal e ON e.seq = o.journal_seq
            WHERE e.causation_id = o.client_order_id AND e.kind IN ('OrderSubmitted','GateDenial')
            """).ShouldBe(db.ExecuteScalar<long>("SELECT COUNT(*) FROM orders WHERE journal_seq IS NOT NULL"));
        db.ExecuteScalar<long>("SELECT COUNT(*) FROM orders WHERE journal_seq IS NULL AND status_reason NOT LIKE 'not sent%'").ShouldBe(0);
        // ... after its decision, and before anything the broker said about it.
        db.ExecuteScalar<long>("""
            SELECT COUNT(*) FROM orders o JOIN j.journal d ON d.kind='Decision' AND d.correlation_id = o.decision_id
            WHERE d.seq > o.journal_seq
            """).ShouldBe(0);
        db.ExecuteScalar<long>("""
            SELECT COUNT(*) FROM orders o JOIN j.journal ev ON ev.causation_id = o.client_order_id AND ev.kind LIKE 'Order%' AND ev.kind <> 'OrderSubmitted'
            WHERE ev.seq < o.journal_seq
            """).ShouldBe(0);
        db.ExecuteScalar<long>("SELECT COUNT(*) FROM j.journal WHERE kind='OrderFilled'").ShouldBe(summary.Fills);
        db.ExecuteScalar<long>("SELECT COUNT(*) FROM j.journal WHERE kind='Decision'").ShouldBe(summary.Decisions);
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    [Fact]
    public async Task KilledWithSigkill_LeavesAChainThatVerifies_AndTheServiceStartsAgain()
    {
        var config = _env.WriteConfig(j => j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 2000);
        var dll = Path.Combine(AppContext.BaseDirectory, "metalsniper.dll");
        var journalFile = Path.Combine(_env.Directory.FullName, "journal.db");
        for (var round = 0; round < 2; round++)
        {
            var psi = new ProcessStartInfo("dotnet", ["exec", dll, "run", "--config", config, "--db", _env.DatabasePath])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = _env.Directory.FullName,
            };
            using var process = Process.Start(psi)!;
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            var before = Entries(journalFile);
            await Eventually.Until(() => Entries(journalFile) >= before + 300, "300 more journal entries", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50),
                async () => process.HasExited ? $"the service exited: {await stderr}" : null);

            SendSignal(process.Id, 9).ShouldBe(0); // mid-stream: the writer is committing groups while the brain trades
            process.WaitForExit(TimeSpan.FromSeconds(10)).ShouldBeTrue();
            var v = DecisionJournal.VerifyFile(journalFile, _env.ChainKeys);
            v.IsIntact.ShouldBeTrue($"round {round}: {v.Problem}");
            v.Entries.ShouldBeGreaterThan(before);
        }
    }

    private static long Entries(string path)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        try
        {
            using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
            return c.ExecuteScalar<long?>("SELECT MAX(seq) FROM journal") ?? 0;
        }
        catch (SqliteException)
        {
            return 0;
        }
    }
}

public sealed class ConfigChangeTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private async Task Run(decimal dailyLoss)
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-02T00:00:00Z";
            j["MarketData"]!["Replay"]!["ToUtc"] = "2025-09-03T00:00:00Z";
            j["Risk"]!["DailyLossLimit"] = dailyLoss;
        });
        var errors = new StringWriter();
        var (code, _) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Error), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, errors.ToString());
    }

    [Fact]
    public async Task ChangedConfiguration_IsJournaled_WithTheChangedKeysNamed()
    {
        await Run(2000m);
        await Run(2000m);
        await Run(1500m);
        using var c = new SqliteConnection($"Data Source={Path.Combine(_env.Directory.FullName, "journal-replay.db")};Pooling=False");
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM journal WHERE kind='ConfigLoaded'").ShouldBe(3);
        var changed = c.Query<string>("SELECT payload FROM journal WHERE kind='ConfigChanged'").ToList();
        changed.Count.ShouldBe(1); // the second run had the same configuration
        changed[0].ShouldContain("Risk:DailyLossLimit: 2000 -\\u003E 1500");
        c.Query<string>("SELECT payload FROM journal WHERE kind='Alert'").ShouldContain(p => p.Contains("ConfigChange") && p.Contains("Risk:DailyLossLimit"));
    }
}
