using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Dapper;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Issue 18 item 7: the service on the embedded default (the simulated broker on a paced replay of the recorded data) resumes
/// instead of starting cold. The real <c>run</c> process is stopped twenty times — SIGKILL and SIGTERM, at random moments — and
/// started again with the same command each time, then allowed to reach the end of its data. Every restart resumes the one run
/// (feed position, book, working orders, strategy state, the day's P&amp;L and the breakers' windows, by deterministic re-execution),
/// and the end is exactly what one uninterrupted service run of the same data gives: the same decisions, orders, fills and
/// positions, nothing sent to the broker twice, the book equal to the broker's, and every open position protected.
/// </summary>
public sealed class ServiceResumeSoakTests(ITestOutputHelper output) : IDisposable
{
    private const int Stops = 20;
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

    /// <summary>Six months of the metals (about 24,000 records) at 3,000 records a second: about 8 s of paced trading.</summary>
    private static void Window(System.Text.Json.Nodes.JsonObject j)
    {
        var replay = j["MarketData"]!["Replay"]!;
        replay["FromUtc"] = "2025-07-01T00:00:00Z";
        replay["ToUtc"] = "2026-01-01T00:00:00Z";
        replay["ServicePaceBarsPerSecond"] = 3000;
    }

    [Fact]
    public async Task StoppedTwentyTimesBySigkillAndSigterm_TheServiceResumesEachTime_AndEndsExactlyLikeAnUninterruptedRun()
    {
        _reference.WriteConfig(Window);
        _soak.WriteConfig(Window);
        var wall = Stopwatch.StartNew();
        var referenceRun = await RunToEndAsync(_reference);
        var uninterrupted = wall.Elapsed;
        var reference = Snapshot(_reference);
        reference.Decisions.Count.ShouldBeGreaterThan(100, "the reference run traded too little to compare");
        reference.Fills.Count.ShouldBeGreaterThan(20);

        var seed = Environment.TickCount;
        var random = new Random(seed);
        var resumed = 0;
        var kills = 0;
        var terms = 0;
        var openAtStop = 0;
        for (var i = 0; i < Stops; i++)
        {
            using var p = Start(_soak);
            var console = new System.Text.StringBuilder();
            var stdout = PumpAsync(p.StandardOutput, console);
            var stderr = PumpAsync(p.StandardError, console);
            // Stops land in start-up, in the catch-up of a resumed run and in paced trading.
            var delay = random.Next(500, 3000);
            await Task.Delay(delay);
            if (i == Stops / 2)
            {
                // Where the stops land depends on the machine's load (a loaded host spends the whole delay starting up): once
                // in the soak the stop waits until the restart has resumed, so a stop after a resumed catch-up is always tried.
                await Eventually.Until(() => { lock (console) { return console.ToString().Contains("resumed (attempt", StringComparison.Ordinal); } },
                    "restart " + (i + 1).ToString(CultureInfo.InvariantCulture) + " to finish its catch-up", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(20),
                    giveUpIf: () => Task.FromResult(p.HasExited ? $"the service exited with {p.ExitCode} before it resumed" : null));
            }

            p.HasExited.ShouldBeFalse($"the service exited on its own before stop {i + 1}: {(p.HasExited ? await stderr : "")}");
            var sigkill = i % 2 == 0;
            SendSignal(p.Id, sigkill ? 9 : 15).ShouldBe(0);
            p.WaitForExit(TimeSpan.FromSeconds(30)).ShouldBeTrue($"the service did not end within 30 s of signal {(sigkill ? 9 : 15)}");
            // 143: a SIGTERM that came before the host installed its handler (nothing had started); 0: a clean stop.
            await Task.WhenAll(stdout, stderr);
            string log;
            lock (console)
            {
                log = console.ToString();
            }

            p.ExitCode.ShouldBeOneOf(sigkill ? [137] : [0, 143], log);
            if (log.Contains("resumed (attempt", StringComparison.Ordinal))
            {
                resumed++;
            }

            if (sigkill)
            {
                kills++;
            }
            else
            {
                terms++;
                if (log.Contains("ServiceStopped", StringComparison.Ordinal) && log.Contains("protective stops working", StringComparison.Ordinal))
                {
                    openAtStop++;
                }
            }
            // After every stop: one run, never a second one, and the journal verifies.
            Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM runs").ShouldBeLessThanOrEqualTo(1, $"stop {i + 1} ({(sigkill ? "SIGKILL" : "SIGTERM")} after {delay} ms) left a second run: a cold start");
            var journal = JournalPath(_soak);
            if (journal is not null)
            {
                var v = MetalSniper.Persistence.Journal.DecisionJournal.VerifyFile(journal, _soak.ChainKeys);
                v.IsIntact.ShouldBeTrue($"journal broken after stop {i + 1}: {v.Problem}");
            }
        }

        var last = await RunToEndAsync(_soak);
        last.ShouldContain("resumed (attempt");
        var soak = Snapshot(_soak);

        // One run, resumed attempt after attempt.
        Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM runs").ShouldBe(1);
        var attempts = Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM run_attempts");
        // Stops that land in start-up (before the run row) leave no attempt; on a loaded host that can be most of the early ones.
        attempts.ShouldBeGreaterThanOrEqualTo(Stops / 4, "few stops landed after start-up");

        // The same decisions, orders, fills and positions as the uninterrupted run.
        soak.Decisions.ShouldBe(reference.Decisions);
        soak.Orders.ShouldBe(reference.Orders);
        soak.Fills.ShouldBe(reference.Fills);
        soak.Positions.ShouldBe(reference.Positions);

        // Nothing reached the broker twice, and the broker received what it received in the uninterrupted run.
        soak.Submits.Distinct().Count().ShouldBe(soak.Submits.Count, "a client order id reached the broker twice");
        soak.Submits.ShouldBe(reference.Submits);

        // Our book equals the broker's; every open position has its protective stop; no order of ours works for a flat symbol.
        soak.BrokerPositions.ShouldBe(soak.Positions);
        foreach (var position in soak.BrokerPositions)
        {
            var symbol = position.Split(' ')[0];
            soak.WorkingStops.ShouldContain(s => s.StartsWith(symbol + " ", StringComparison.Ordinal), $"{position} has no protective stop working");
        }

        foreach (var stop in soak.WorkingStops)
        {
            soak.BrokerPositions.ShouldContain(p => p.StartsWith(stop.Split(' ')[0] + " ", StringComparison.Ordinal), $"stop {stop} works for a flat symbol");
        }

        // The journal verifies end to end; each decision journaled once.
        var verification = MetalSniper.Persistence.Journal.DecisionJournal.VerifyFile(JournalPath(_soak)!, _soak.ChainKeys);
        verification.IsIntact.ShouldBeTrue(verification.Problem);
        var journaled = Strings(JournalPath(_soak)!, "SELECT correlation_id FROM journal WHERE kind='Decision'");
        journaled.Distinct().Count().ShouldBe(journaled.Count, "a decision was journaled twice");
        resumed.ShouldBeGreaterThanOrEqualTo(1, "no restart got as far as the end of its catch-up");

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"seed {seed}: {kills} SIGKILLs and {terms} SIGTERMs ({openAtStop} of them with positions open), {resumed} restarts resumed before their stop, {attempts} attempts of one run; uninterrupted run {uninterrupted.TotalSeconds:0.0} s; {soak.Decisions.Count} decisions, {soak.Orders.Count} orders, {soak.Fills.Count} fills equal to the uninterrupted run's; final book: {string.Join(", ", soak.BrokerPositions)}"));
        output.WriteLine(referenceRun.Split('\n').LastOrDefault(l => l.Contains("reached the end", StringComparison.Ordinal)) ?? "");
    }

    [Fact]
    public async Task OperatorKillAndResume_AreAppliedAgainWhereTheyTookEffect_WhenTheServiceResumesAfterSigkill()
    {
        _soak.WriteConfig(j =>
        {
            Window(j);
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 1500;
        });
        string Entries() => Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM orders WHERE purpose IN ('Entry','Add') AND status<>'Denied'").ToString(CultureInfo.InvariantCulture);

        // 1. The service trades; the operator kills it to L2 from the CLI; the service applies it at a record boundary.
        using (var first = Start(_soak))
        {
            var o = first.StandardOutput.ReadToEndAsync();
            var e = first.StandardError.ReadToEndAsync();
            await Eventually.Until(() => Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM fills") >= 5, "the first fills", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
            var kill = await CliAsync(_soak, "kill", "--level", "2", "--reason", "test: operator stop");
            kill.Code.ShouldBe(0, kill.Out + kill.Err);
            await Eventually.Until(() => Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM decisions WHERE source='kill-switch' AND reason LIKE '%-> L2%'") >= 1, "the service to apply L2",
                TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(50));
            await Task.Delay(1500);
            first.HasExited.ShouldBeFalse($"the service ended on its own ({(first.HasExited ? first.ExitCode : 0)}) before the SIGKILL: {(first.HasExited ? await e : "")}");
            SendSignal(first.Id, 9).ShouldBe(0);
            first.WaitForExit(TimeSpan.FromSeconds(10)).ShouldBeTrue();
            await o;
            await e;
        }

        var entriesAtKill = Entries();
        Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM feed_marks WHERE halt_sequence > (SELECT MIN(halt_sequence) FROM feed_marks)").ShouldBeGreaterThan(0, "no feed mark says where the kill took effect");

        // 2. The restart resumes the run: the kill is applied again where it took effect, and L2 holds — no entry leaves.
        string second;
        using (var p = Start(_soak))
        {
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
            await Eventually.Until(() => LogCount(_soak, "resumed (attempt 2)") >= 1, "the resume", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
            await Task.Delay(2000);
            Entries().ShouldBe(entriesAtKill, "an entry left after the resume while the operator's L2 held");

            // 3. Resume needs the code; then the service trades again.
            var show = await CliAsync(_soak, "resume", "--reason", "test: reviewed");
            var code = System.Text.RegularExpressions.Regex.Match(show.Out, "--confirm ([0-9a-f]{8})").Groups[1].Value;
            code.Length.ShouldBe(8, show.Out + show.Err);
            (await CliAsync(_soak, "resume", "--reason", "test: reviewed", "--confirm", code)).Code.ShouldBe(0);
            await Eventually.Until(() => Entries() != entriesAtKill, "an entry after the operator's resume", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
            SendSignal(p.Id, 9).ShouldBe(0);
            p.WaitForExit(TimeSpan.FromSeconds(10)).ShouldBeTrue();
            second = await o + await e;
        }

        second.ShouldContain("1 operator halts record(s) applied again");

        // 4. A second resume meets both operator records (kill, then resume) at their marks and goes on trading at L0.
        var entriesBefore = long.Parse(Entries(), CultureInfo.InvariantCulture);
        using (var p = Start(_soak))
        {
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
            await Eventually.Until(() => LogCount(_soak, "resumed (attempt 3)") >= 1, "the second resume", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
            await Eventually.Until(() => long.Parse(Entries(), CultureInfo.InvariantCulture) > entriesBefore, "an entry after the second resume", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
            SendSignal(p.Id, 15).ShouldBe(0);
            p.WaitForExit(TimeSpan.FromSeconds(30)).ShouldBeTrue();
            var log = await o + await e;
            // The kill, the resume (and the clears of conditional pauses a resume writes with it).
            int.Parse(System.Text.RegularExpressions.Regex.Match(log, @"(\d+) operator halts record\(s\) applied again").Groups[1].Value, CultureInfo.InvariantCulture).ShouldBeGreaterThanOrEqualTo(2, log);
            p.ExitCode.ShouldBe(0, log);
        }

        Scalar(_soak.DatabasePath, "SELECT COUNT(*) FROM runs").ShouldBe(1);
        var journaled = Strings(JournalPath(_soak)!, "SELECT correlation_id FROM journal WHERE kind='Decision'");
        journaled.Distinct().Count().ShouldBe(journaled.Count, "a decision was journaled twice: " + string.Join("\n",
            Strings(JournalPath(_soak)!, "SELECT seq || ' ' || payload FROM journal WHERE kind='Decision' AND correlation_id IN (SELECT correlation_id FROM journal WHERE kind='Decision' GROUP BY 1 HAVING COUNT(*) > 1)")));
        Strings(_soak.DatabasePath, "SELECT group_concat(action, ',') FROM (SELECT action FROM halts WHERE scope='service' AND source LIKE 'operator%' AND action IN ('Escalate','Resume') ORDER BY seq)").Single().ShouldBe("Escalate,Resume");
        var broker = Path.Combine(_soak.Directory.FullName, "simulated-broker.db");
        var submits = Strings(broker, "SELECT client_order_id FROM broker_messages WHERE kind='submit'");
        submits.Distinct().Count().ShouldBe(submits.Count, "a client order id reached the broker twice");
    }

    private static async Task<(int Code, string Out, string Err)> CliAsync(TestEnvironment env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", ["exec", Dll, .. args, "--config", Path.Combine(env.Directory.FullName, "appsettings.json"), "--db", env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = env.Directory.FullName,
        };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (p.ExitCode, await o, await e);
    }

    private sealed record Book(List<string> Decisions, List<string> Orders, List<string> Fills, List<string> Positions, List<string> Submits, List<string> BrokerPositions, List<string> WorkingStops);

    private static Book Snapshot(TestEnvironment env)
    {
        var db = env.DatabasePath;
        var runId = Strings(db, "SELECT run_id FROM runs").Single();
        string Strip(string s) => s.Replace(runId, "RUN", StringComparison.Ordinal);
        var broker = Path.Combine(env.Directory.FullName, "simulated-broker.db");
        return new Book(
            Strings(db, "SELECT decision_id || '|' || kind || '|' || outcome || '|' || symbol || '|' || reason || '|' || inputs_json || '|' || event_utc FROM decisions ORDER BY decision_id").Select(Strip).ToList(),
            Strings(db, "SELECT client_order_id || '|' || decision_id || '|' || side || '|' || quantity || '|' || order_type || '|' || COALESCE(stop_price,'') || '|' || purpose || '|' || status FROM orders ORDER BY client_order_id").Select(Strip).ToList(),
            Strings(db, "SELECT execution_id || '|' || client_order_id || '|' || side || '|' || quantity || '|' || price || '|' || commission FROM fills ORDER BY execution_id").Select(Strip).ToList(),
            Net(db, "SELECT symbol, quantity FROM positions"),
            Strings(broker, "SELECT client_order_id FROM broker_messages WHERE kind='submit' ORDER BY client_order_id").Select(Strip).ToList(),
            Net(broker, "SELECT symbol, CASE side WHEN 'Buy' THEN quantity ELSE '-' || quantity END FROM broker_fills"),
            Strings(db, "SELECT symbol || ' ' || side || ' ' || quantity FROM orders WHERE order_type='Stop' AND status IN ('Working','PartiallyFilled') ORDER BY symbol"));
    }

    /// <summary>Copies a process's stream into <paramref name="into"/> line by line (locked) until it ends; returns what it read.</summary>
    private static async Task<string> PumpAsync(StreamReader reader, System.Text.StringBuilder into)
    {
        var own = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            own.AppendLine(line);
            lock (into)
            {
                into.AppendLine(line);
            }
        }

        return own.ToString();
    }

    private static Process Start(TestEnvironment env)
    {
        var psi = new ProcessStartInfo("dotnet", ["exec", Dll, "run", "--config", Path.Combine(env.Directory.FullName, "appsettings.json"), "--db", env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = env.Directory.FullName,
        };
        return Process.Start(psi)!;
    }

    /// <summary>Runs the service until its log says its data ended, then stops it with SIGTERM; returns its console output.</summary>
    private static async Task<string> RunToEndAsync(TestEnvironment env)
    {
        const string End = "reached the end of its replayed data";
        var before = LogCount(env, End);
        using var p = Start(env);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            var deadline = Stopwatch.StartNew();
            while (LogCount(env, End) == before)
            {
                p.HasExited.ShouldBeFalse("the service exited before the end of its data");
                deadline.Elapsed.ShouldBeLessThan(TimeSpan.FromMinutes(2), "the service did not reach the end of its data within 2 minutes");
                await Task.Delay(50);
            }
            SendSignal(p.Id, 15).ShouldBe(0);
            p.WaitForExit(TimeSpan.FromSeconds(30)).ShouldBeTrue("no exit within 30 s of SIGTERM");
            p.ExitCode.ShouldBe(0, await stderr);
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }
        }

        return await stdout + await stderr;
    }

    private static int LogCount(TestEnvironment env, string text)
    {
        var dir = Path.Combine(env.Directory.FullName, "log");
        if (!Directory.Exists(dir))
        {
            return 0;
        }

        var count = 0;
        foreach (var file in Directory.GetFiles(dir))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd();
            for (var i = all.IndexOf(text, StringComparison.Ordinal); i >= 0; i = all.IndexOf(text, i + 1, StringComparison.Ordinal))
            {
                count++;
            }
        }

        return count;
    }

    private static string? JournalPath(TestEnvironment env) =>
        env.Directory.GetFiles("journal*.db").Select(f => f.FullName).FirstOrDefault();

    // Read-write connections (never creating a file): a read-only one cannot recover the WAL a SIGKILLed writer left, and waits for ever.
    private static long Scalar(string path, string sql)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        using var c = new SqliteConnection($"Data Source={path};Mode=ReadWrite;Pooling=False");
        c.Open();
        return c.ExecuteScalar<long>("SELECT COUNT(*) FROM sqlite_master WHERE name='runs'") == 0 ? 0 : c.ExecuteScalar<long>(sql);
    }

    private static List<string> Strings(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadWrite;Pooling=False");
        return c.Query<string>(sql).ToList();
    }

    /// <summary>Signed quantity per symbol (summed), non-zero only, as "SYMBOL qty" lines.</summary>
    private static List<string> Net(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadWrite;Pooling=False");
        return SoakBooks.Net(c.Query<(string Symbol, string Quantity)>(sql));
    }
}
