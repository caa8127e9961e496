using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Dapper;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Crash safety, the hard way: the real executable replays the real metals year and is killed with SIGKILL
/// at random moments, restarted with the same command each time, and finally allowed to finish. The result
/// must be the one an uninterrupted run of the same data produces, with nothing lost and nothing sent twice.
/// </summary>
public sealed class CrashSoakTests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 20;
    private const string RunId = "soak";
    private readonly TestEnvironment _reference = new();
    private readonly TestEnvironment _soak = new();

    public void Dispose()
    {
        _reference.Dispose();
        _soak.Dispose();
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    private static string Dll => Path.Combine(AppContext.BaseDirectory, "metalsniper.dll");

    [Fact]
    public async Task KilledTwentyTimesWithSigkill_TheResumedReplayEndsExactlyLikeAnUninterruptedOne()
    {
        // The uninterrupted run of the same data, same run id, in a directory of its own.
        var reference = Stopwatch.StartNew();
        var (refCode, refOut, refErr) = await RunToEnd(_reference);
        refCode.ShouldBe(0, refErr);
        var wall = reference.Elapsed;

        // Twenty kills at random moments. Half are timed (a random delay up to half an uninterrupted run: they land in
        // start-up, in the catch-up of a resumed run and early in the year); half wait for a random point of progress
        // anywhere in the year, so kills also land late in the data. Progress is the journal's committed sequence (a replay
        // commits it every few tens of milliseconds; the simulated broker's own store commits in large background batches
        // and would show progress too late to aim at).
        var totalBars = Scalar(Path.Combine(_reference.Directory.FullName, "simulated-broker.db"), "SELECT bars_seen FROM broker_sessions WHERE session='soak'");
        totalBars.ShouldBeGreaterThan(10_000);
        var totalEntries = LastJournalEntry(_reference)!.Value.Seq;
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var acknowledged = new List<(long Seq, string Hash)>();
        var kills = 0;
        var resumedAttempts = 0;
        var killedWhileCatchingUp = 0;
        var killedAtBars = new List<long>();
        while (kills < Kills)
        {
            using var p = Start(_soak);
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            string moment;
            var horizon = LastJournalEntry(_soak)?.Seq ?? 0;
            // Progress kills aim at a journal entry past the one committed so far (a resumed attempt re-executes from the
            // start and appends only past it) and short of the very end, so the attempt is still running when it gets there.
            var farthest = Math.Min(horizon + (long)((totalEntries - horizon) * 0.65), (long)(totalEntries * 0.97));
            if (kills % 2 == 0 || farthest <= horizon + 1)
            {
                var delay = random.Next(100, Math.Clamp((int)(wall.TotalMilliseconds * 0.4), 200, 2500));
                moment = $"after {delay} ms";
                p.WaitForExit(delay);
            }
            else
            {
                var target = random.NextInt64(horizon + 1, farthest + 1);
                moment = $"at journal entry {target:N0}";
                while (!p.HasExited && (LastJournalEntry(_soak)?.Seq ?? 0) < target)
                {
                    await Task.Delay(5);
                }
            }

            if (p.HasExited)
            {
                // It finished (or failed) before the kill: a failure ends the test here, and so does a finished run.
                p.ExitCode.ShouldBe(0, $"attempt after {kills} kills failed on its own: {await stderr}");
                throw new ShouldAssertException($"the run finished before kill {kills + 1} ({moment}, uninterrupted {wall.TotalMilliseconds:0} ms); seed {seed}");
            }

            // What the journal has committed just before the kill is acknowledged: it must survive unchanged.
            if (LastJournalEntry(_soak) is { } last)
            {
                acknowledged.Add(last);
            }

            SendSignal(p.Id, 9).ShouldBe(0);
            p.WaitForExit(TimeSpan.FromSeconds(10)).ShouldBeTrue("SIGKILL did not end the process");
            p.ExitCode.ShouldBe(137);
            var log = await stdout + await stderr;
            if (log.Contains("resumes (attempt", StringComparison.Ordinal))
            {
                resumedAttempts++;
                if (!log.Contains("caught up", StringComparison.Ordinal))
                {
                    killedWhileCatchingUp++;
                }
            }

            kills++;
            killedAtBars.Add(BarsSeen(_soak));

            // After every kill the journal verifies and every acknowledged entry is still there, unchanged.
            if (File.Exists(JournalPath(_soak)))
            {
                var v = MetalSniper.Persistence.Journal.DecisionJournal.VerifyFile(JournalPath(_soak), _soak.ChainKeys);
                v.IsIntact.ShouldBeTrue($"journal broken after kill {kills}: {v.Problem}");
                foreach (var (seq, hash) in acknowledged)
                {
                    EntryHash(_soak, seq).ShouldBe(hash, $"acknowledged journal entry {seq} changed or vanished after kill {kills}");
                }
            }
        }

        // The last attempt runs to the end.
        var (code, soakOut, soakErr) = await RunToEnd(_soak);
        code.ShouldBe(0, soakErr);
        soakOut.ShouldContain("positions agree");
        soakOut.ShouldContain(" 0 client order id(s) submitted twice");

        // 1. The journal chain verifies, end to end.
        var verification = MetalSniper.Persistence.Journal.DecisionJournal.VerifyFile(JournalPath(_soak), _soak.ChainKeys);
        verification.IsIntact.ShouldBeTrue(verification.Problem);

        // 2. No acknowledged decision is missing, and none is recorded twice: the same decisions as the uninterrupted run.
        var decisions = Strings(JournalPath(_soak), "SELECT correlation_id FROM journal WHERE kind='Decision'");
        var referenceDecisions = Strings(JournalPath(_reference), "SELECT correlation_id FROM journal WHERE kind='Decision'");
        decisions.Count.ShouldBe(decisions.Distinct().Count(), "a decision was journaled twice");
        decisions.Order(StringComparer.Ordinal).ShouldBe(referenceDecisions.Order(StringComparer.Ordinal));
        foreach (var (seq, hash) in acknowledged)
        {
            EntryHash(_soak, seq).ShouldBe(hash);
        }

        // 3. No client order id was sent twice: the broker's own record of every request it received.
        var broker = Path.Combine(_soak.Directory.FullName, "simulated-broker.db");
        var submits = Strings(broker, "SELECT client_order_id FROM broker_messages WHERE kind='submit'");
        submits.Count.ShouldBeGreaterThan(0);
        submits.Distinct().Count().ShouldBe(submits.Count, "a client order id reached the broker twice");
        submits.Order(StringComparer.Ordinal).ShouldBe(Strings(Path.Combine(_reference.Directory.FullName, "simulated-broker.db"), "SELECT client_order_id FROM broker_messages WHERE kind='submit'").Order(StringComparer.Ordinal));

        // 4. Our positions equal the broker's, and every execution matches the uninterrupted run's.
        var ours = Net(_soak.DatabasePath, "SELECT symbol, quantity FROM positions WHERE run_id='soak'");
        var theirs = Net(broker, "SELECT symbol, CASE side WHEN 'Buy' THEN quantity ELSE '-' || quantity END FROM broker_fills WHERE session='soak'");
        ours.ShouldBe(theirs);
        ours.ShouldBe(Net(_reference.DatabasePath, "SELECT symbol, quantity FROM positions WHERE run_id='soak'"));
        const string fills = "SELECT execution_id || ' ' || client_order_id || ' ' || side || ' ' || quantity || ' ' || price || ' ' || commission FROM fills ORDER BY execution_id";
        Strings(_soak.DatabasePath, fills).ShouldBe(Strings(_reference.DatabasePath, fills));

        // 5. The final P&L (and every other figure of the result) equals the uninterrupted run's.
        Figures(soakOut).ShouldBe(Figures(refOut));
        Figures(soakOut).ShouldContain(l => l.Contains("Realized P&L net", StringComparison.Ordinal));

        var attempts = Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM run_attempts WHERE run_id='soak'");
        attempts.ShouldBeGreaterThan(1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"seed {seed}: {kills} SIGKILLs, {attempts} attempts recorded, {resumedAttempts} killed after resuming ({killedWhileCatchingUp} of them before the broker caught up), {acknowledged.Count} acknowledged journal tails checked; uninterrupted run {wall.TotalSeconds:0.0} s"));
        output.WriteLine("broker progress (bars of " + totalBars.ToString("N0", CultureInfo.InvariantCulture) + ") at each kill: " + string.Join(", ", killedAtBars));
        output.WriteLine(string.Join('\n', Figures(soakOut).Where(l => l.Contains("P&L", StringComparison.Ordinal) || l.Contains("fills", StringComparison.Ordinal))));
    }

    private static string JournalPath(TestEnvironment env) => Path.Combine(env.Directory.FullName, "journal-replay.db");

    private Process Start(TestEnvironment env)
    {
        var config = File.Exists(Path.Combine(env.Directory.FullName, "appsettings.json")) ? Path.Combine(env.Directory.FullName, "appsettings.json") : env.WriteConfig();
        // --verbose: the replay's console shows errors only otherwise, and the resume/catch-up lines below are warnings.
        var psi = new ProcessStartInfo("dotnet", ["exec", Dll, "replay", "--verbose", "--run-id", RunId, "--config", config, "--db", env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = env.Directory.FullName,
        };
        return Process.Start(psi)!;
    }

    private async Task<(int Code, string Out, string Err)> RunToEnd(TestEnvironment env)
    {
        using var p = Start(env);
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit(TimeSpan.FromMinutes(3)).ShouldBeTrue("the replay did not finish within 3 minutes");
        return (p.ExitCode, await o, await e);
    }

    /// <summary>The summary's result lines (times, paths and the resume lines differ by nature).</summary>
    private static List<string> Figures(string summary) =>
        summary.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal))
            .Where(l => !new[] { "database ", "start-up", "pipeline wall time", "throughput", "broker reconciliation", "resumed " }.Any(k => l.TrimStart().StartsWith(k, StringComparison.Ordinal)))
            .ToList();

    private static (long Seq, string Hash)? LastJournalEntry(TestEnvironment env)
    {
        if (!File.Exists(JournalPath(env)))
        {
            return null;
        }

        try
        {
            using var c = new SqliteConnection($"Data Source={JournalPath(env)};Mode=ReadOnly;Pooling=False");
            return c.QuerySingleOrDefault<(long, string)?>("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1");
        }
        catch (SqliteException)
        {
            return null; // the file exists but its table is not created yet
        }
    }

    private static long BarsSeen(TestEnvironment env)
    {
        var path = Path.Combine(env.Directory.FullName, "simulated-broker.db");
        if (!File.Exists(path))
        {
            return 0;
        }

        try
        {
            return Scalar(path, "SELECT COALESCE(MAX(bars_seen), 0) FROM broker_sessions WHERE session='soak'");
        }
        catch (SqliteException)
        {
            return 0; // not created yet
        }
    }

    private static string? EntryHash(TestEnvironment env, long seq)
    {
        using var c = new SqliteConnection($"Data Source={JournalPath(env)};Mode=ReadOnly;Pooling=False");
        return c.ExecuteScalar<string?>("SELECT hash FROM journal WHERE seq=@seq", new { seq });
    }

    private static List<string> Strings(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        return c.Query<string>(sql).ToList();
    }

    /// <summary>Signed quantity per symbol (summed), non-zero only, as "SYMBOL qty" lines.</summary>
    private static List<string> Net(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        return SoakBooks.Net(c.Query<(string Symbol, string Quantity)>(sql));
    }

    private static long Scalar(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        return c.ExecuteScalar<long>(sql);
    }
}
