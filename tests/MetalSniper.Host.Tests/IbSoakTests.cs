using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using MetalSniper.FakeTws;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Issue 18's soak on the fake TWS: the real service process (<c>run</c>, Interactive Brokers broker and market data on the
/// fake's loopback port) and one database, killed (SIGKILL and SIGTERM in a fixed pattern) and restarted again and again while
/// ONE fake TWS lives on, as IB outlives our process. While the process is down the fake's market moves on and our working
/// stops fill there. After every restart, once the service says it is ready (link FULLY_LIVE, reconciliation done): our book
/// equals IB's, every open position has its protective stop working at IB, no order of ours that should be dead is working,
/// no IB order id was used for two orders, no order was sent twice, every execution at IB is in our fills exactly once.
/// Every fifth cycle a start is also SIGKILLed while it connects and reconciles. At the end: the journal and halts chains
/// verify, our fills are IB's executions one for one, and the realised P&amp;L (of our fills, and of our book summed over the
/// runs) is IB's.
/// <para>
/// The strategies survive every restart: the brain records its input stream (every bar it hands a strategy, every order event
/// it applies: <c>brain_inputs</c>) and a restart re-executes the earlier runs' streams through the same code before trading,
/// comparing every decision and order it makes again with the recorded one; the bars formed while the process was down come
/// from IB's history after that. Checked after every restart: the new run's brain re-executed every input of every earlier
/// run with no difference (no cold start: its strategy goes on with the indicators, phase and orders it had). Checked at the
/// end: one more start, a fresh brain, makes one uninterrupted pass over the whole recorded stream of all the runs and
/// reproduces exactly every decision (id, kind, outcome, symbol, reason) and every order (id, decision, side, type, purpose,
/// and quantity and prices where the record still holds the submitted ones; a later modification is its MoveStop decision's,
/// whose reason names the new stop) that the 21+ interrupted runs recorded.
/// </para>
/// <para>
/// Why not literal equality with a separately run, never-interrupted service on the same tape: the market does not wait for
/// us. While the process is down, stops fill at IB and bars form; an uninterrupted service would have seen each fill and bar
/// when it happened and reacted then (moved a stop, closed on a turn, opened the next hedge), while the restarted one learns
/// of them only at the reconciliation and from IB's history, later and in a different order relative to the market. The two
/// streams of inputs differ, so their decisions must. What this soak proves instead is the property that matters for a
/// restart: given the inputs the process actually saw, the interrupted runs decided exactly what one uninterrupted brain
/// decides on that same stream — a kill loses no strategy state and invents no decision — and the broker's record and ours
/// agree (positions, working orders, executions, P&amp;L), nothing is sent twice.
/// </para>
/// <para>
/// Time: the service runs on the system clock (a live feed); the fake steps recorded 15-minute bars moved by whole weeks into
/// the recent past, much faster than real time (about 20 bars a second), so no bar is ever from the future and none is
/// judged stale (<c>Risk:StaleDataAfter</c> off). About 2–3½ minutes on two busy cores.
/// </para>
/// </summary>
public sealed class IbSoakTests(ITestOutputHelper output) : IDisposable
{
    private const int Cycles = 20;
    private const int ClientId = 23;
    private const string Account = "DU7654321";
    private const int FirstOrderId = 5000;
    private const int MaxBarsPerCycle = 48;
    private const int MaxBarsWhileDown = 8;
    private static readonly string[] Symbols = ["XAUUSD", "XAGUSD"];
    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan AgreeLimit = TimeSpan.FromSeconds(20);
    private readonly TestEnvironment _env = new();
    private TimeSpan _clockBack;

    public void Dispose() => _env.Dispose();

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    private static string Dll => Path.Combine(AppContext.BaseDirectory, "metalsniper.dll");

    [Theory]
    [InlineData("2026-12-09T14:00:00Z", 0.0)]   // a Wednesday afternoon: open, the system clock as it is
    [InlineData("2026-12-07T22:20:00Z", 1.0)]   // CME metals' daily break (17:00–18:00 New York): back before it
    [InlineData("2026-12-05T12:00:00Z", 14.5)]  // a Saturday: back into Friday's session (21:30, before its 22:00 close)
    public void TheSoaksClock_IsMovedBackOnlyWhenMetalsAreClosed_IntoAnOpenSession(string now, double expectedHours)
    {
        var at = DateTimeOffset.Parse(now, CultureInfo.InvariantCulture);
        var back = ClockBack(at);
        back.ShouldBe(TimeSpan.FromHours(expectedHours));
        var calendar = new MetalSniper.Calendars.ExchangeCalendar();
        calendar.IsOpen("METALS", at - back).ShouldBeTrue();
        calendar.IsOpen("METALS", at - back + TimeSpan.FromMinutes(15)).ShouldBeTrue();
    }

    [Fact]
    public async Task ServiceKilledAndTerminatedTwentyTimesWithFillsWhileDown_AfterEveryRestartOurBookIsIbsEveryPositionIsProtectedAndNothingIsStaleOrSentTwice()
    {
        var total = Stopwatch.StartNew();
        // The market-hours gate judges entries by the service's wall clock: in METALS' daily break, a weekend or a holiday the
        // soak could not trade. Then the service (through libfaketime) and the fake TWS run on a clock moved back to the
        // latest moment the session stays open for the soak, and the tape is shifted against that clock.
        _clockBack = ClockBack(DateTimeOffset.UtcNow);
        var serviceNow = DateTimeOffset.UtcNow - _clockBack;
        output.WriteLine(_clockBack == TimeSpan.Zero
            ? "METALS is open now: the service runs on the system clock"
            : $"METALS is closed now: the service and the fake TWS run {_clockBack.TotalHours:0.#} h behind the system clock ({serviceNow:yyyy-MM-dd HH:mm}Z, open)");
        await using var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions
        {
            Accounts = [Account], FirstNextValidId = FirstOrderId, TimeProvider = _clockBack == TimeSpan.Zero ? TimeProvider.System : new ClockMovedBack(_clockBack),
        });
        var tape = ShiftedMetalsTape(tws, serviceNow);
        // A little history, so the first subscription has a forming bar to seed from.
        for (var i = 0; i < 3; i++)
        {
            tape.Step();
        }

        var db = new HostDatabase(_env.DatabasePath);
        var stats = new SoakStats();
        for (var cycle = 0; cycle <= Cycles; cycle++)
        {
            var last = cycle == Cycles;
            var signal = last ? 15 : KillSignal(cycle);
            if (cycle % 5 == 2)
            {
                // A start that is killed while it connects and reconciles (IB already talking to it): the next start must cope.
                await KillDuringStartUpAsync(tws, cycle, stats);
            }

            await using var service = await StartReadyAsync(tws, cycle);
            await AssertRestartInvariantsAsync(tws, db, cycle, service);
            var runId = LatestRun(db);
            var restored = await AssertNoColdStartAsync(db, runId, cycle, service);
            stats.InputsReexecuted.Add(restored.Inputs);
            stats.RestoreMilliseconds.Add(restored.Milliseconds);

            // Trade: bars until an order of ours works at IB (something to fill while we are down), or a bar budget.
            var stepped = 0;
            while (stepped < MaxBarsPerCycle && !(stepped >= 4 && WorkingStops(tws).Count > 0))
            {
                tape.Step();
                stepped++;
                await Task.Delay(45);
                service.ThrowIfExited();
            }

            // Let the hands finish what the last bar started half the time before a SIGKILL (a kill right after a bar lands
            // anywhere in the decision → journal → send path the other half).
            if (signal == 15 || cycle % 4 == 0)
            {
                await Task.Delay(300);
            }

            stats.Bars += stepped;
            var exit = await service.StopAsync(signal);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{total.Elapsed.TotalSeconds,6:0.0} s cycle {cycle,2} run {runId}: {stepped} bars, {(signal == 9 ? "SIGKILL" : "SIGTERM")} → exit {exit}; IB {Describe(tws)}"));
            // What the journal committed survives the kill: the chain verifies after every one.
            var chain = MetalSniper.Persistence.Journal.DecisionJournal.VerifyFile(db.JournalPath, _env.ChainKeys);
            chain.IsIntact.ShouldBeTrue($"cycle {cycle}: the journal chain is broken after the {(signal == 9 ? "SIGKILL" : "SIGTERM")}: {chain.Problem}");
            if (last)
            {
                break;
            }

            // While we are down the market moves on: our working stops fill at IB.
            var executionsBefore = tws.Executions.Count;
            var moved = 0;
            while (moved < MaxBarsWhileDown && tws.Executions.Count == executionsBefore)
            {
                tape.Step();
                moved++;
            }

            if (tws.Executions.Count == executionsBefore && WorkingStops(tws) is { Count: > 0 } stops)
            {
                // The bars did not reach a stop: the market gaps through the nearest one.
                var stop = stops.OrderBy(o => Math.Abs(o.AuxPrice!.Value - tws.GetQuote(o.Symbol).Last!.Value) / o.AuxPrice!.Value).First();
                var through = stop.Action == "BUY" ? stop.AuxPrice!.Value * 1.001 : stop.AuxPrice!.Value * 0.999;
                tws.SetQuote(stop.Symbol, through - 0.01, through + 0.01, through);
                stats.Gaps++;
            }

            var whileDown = tws.Executions.Skip(executionsBefore).Where(x => x.ClientId == ClientId).ToList();
            stats.FillsWhileDown += whileDown.Count;
            stats.CyclesWithFillsWhileDown += whileDown.Count > 0 ? 1 : 0;
            output.WriteLine($"           down: {moved} bars; {whileDown.Count} fill(s) at IB: {string.Join(", ", whileDown.Select(x => $"{x.Side} {x.Shares} {x.Symbol} @ {x.Price} ref '{x.OrderRef}'"))}");
        }

        // The last run stopped cleanly with our book equal to IB's.
        foreach (var symbol in Symbols)
        {
            OurPosition(db, symbol).ShouldBe(IbPosition(tws, symbol), $"{symbol}: our book after the final SIGTERM is not IB's");
        }

        db.Scalar<string>("SELECT exit_status FROM runs ORDER BY rowid DESC LIMIT 1").ShouldBe("ok");
        var totalRuns = db.Scalar<long>("SELECT COUNT(*) FROM runs");

        // One uninterrupted pass of a fresh brain over the whole recorded stream of every run: one more start, whose brain
        // re-executes all of it (nothing steps the market meanwhile), then a SIGTERM.
        var verifyWatch = Stopwatch.StartNew();
        Restored pass;
        string freshRun;
        await using (var fresh = await StartReadyAsync(tws, Cycles + 1))
        {
            freshRun = LatestRun(db);
            pass = await AssertNoColdStartAsync(db, freshRun, Cycles + 1, fresh);
            await fresh.StopAsync(15);
        }

        // What the interrupted runs recorded (not what the fresh run itself may have decided after its pass).
        var decisionsRecorded = db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE source LIKE 'strategy:%' AND run_id <> @freshRun", new { freshRun });
        var ordersRecorded = db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE source LIKE 'strategy:%' AND client_order_id LIKE '%-B-O%' AND run_id <> @freshRun", new { freshRun });
        pass.Runs.ShouldBe(db.Scalar<long>("SELECT COUNT(DISTINCT run_id) FROM brain_inputs WHERE run_id <> @freshRun", new { freshRun }));
        pass.Decisions.ShouldBe(decisionsRecorded, "the fresh brain did not make every decision the interrupted runs recorded");
        pass.Orders.ShouldBe(ordersRecorded, "the fresh brain did not send every order the interrupted runs recorded");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"one uninterrupted pass of a fresh brain over the {pass.Runs} runs' recorded stream: {pass.Inputs} inputs ({pass.Bars} bars) in {pass.Milliseconds} ms reproduce all "
            + $"{pass.Decisions} decisions and {pass.Orders} orders ({pass.Prices} compared with quantity and prices) of the interrupted runs, 0 mismatches ({verifyWatch.Elapsed.TotalSeconds:0.0} s with the start); "
            + $"inputs re-executed per restart {string.Join(",", stats.InputsReexecuted)}; restore ms {string.Join(",", stats.RestoreMilliseconds)}"));

        // The whole conversation, after the fact.
        AssertNoIdReusedNoOrderSentTwice(tws, db);
        var realised = AssertFillsAndPnlAgree(tws, db);
        var journal = MetalSniper.Persistence.Journal.DecisionJournal.VerifyFile(db.JournalPath, _env.ChainKeys);
        journal.IsIntact.ShouldBeTrue($"the journal chain is broken: {journal.Problem}");
        var halts = await CliAsync("halts");
        halts.Code.ShouldBe(0, halts.Out + halts.Err);
        halts.Out.ShouldContain("chain intact");
        tws.InternalErrors.ShouldBeEmpty("the fake TWS failed internally");

        var placed = PlacedOrder.From(tws.Requests, ClientId);
        var runs = totalRuns;
        // A start killed early in its start-up may not have recorded its run yet.
        runs.ShouldBeInRange(Cycles + 1, Cycles + 1 + stats.StartUpKills);
        stats.CyclesWithFillsWhileDown.ShouldBeGreaterThanOrEqualTo(Cycles / 2, "too few cycles had a fill while the service was down: the soak did not test what it is for");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Cycles} kills ({Enumerable.Range(0, Cycles).Count(c => KillSignal(c) == 9)} SIGKILL, {Enumerable.Range(0, Cycles).Count(c => KillSignal(c) == 15)} SIGTERM) + {stats.StartUpKills} SIGKILLs during start-up + a final SIGTERM; {runs} runs; {stats.Bars} bars traded on; "
            + $"{stats.FillsWhileDown} fills while down in {stats.CyclesWithFillsWhileDown} cycles; {tws.Executions.Count(x => x.ClientId == ClientId)} executions at IB; "
            + $"{placed.Select(p => p.OrderRef).Distinct().Count()} orders ({placed.Count} placeOrder requests), {db.Scalar<long>("SELECT COUNT(*) FROM decisions")} decisions; realised P&L {realised:0.00} USD (ours = IB's); {stats.Gaps} gap(s) forced; {total.Elapsed.TotalSeconds:0} s"));
    }

    /// <summary>SIGKILL and SIGTERM alternate in pairs: 9, 15, 15, 9, 9, 15, … (each follows each, and itself).</summary>
    private static int KillSignal(int cycle) => ((cycle + 1) / 2) % 2 == 0 ? 9 : 15;

    private sealed class SoakStats
    {
        public int Bars { get; set; }

        public int FillsWhileDown { get; set; }

        public int CyclesWithFillsWhileDown { get; set; }

        public int Gaps { get; set; }

        public int StartUpKills { get; set; }

        public List<long> InputsReexecuted { get; } = [];

        public List<long> RestoreMilliseconds { get; } = [];
    }

    /// <summary>What a start's brain re-executed (its <c>BrainRestored</c> alert, journaled).</summary>
    private sealed record Restored(long Runs, long Inputs, long Bars, long Milliseconds, long Decisions, long Orders, long Prices);

    /// <summary>
    /// No cold start: the brain of <paramref name="runId"/> re-executed every input every earlier run recorded (its journaled
    /// <c>BrainRestored</c> alert), with no difference from their records; no <c>BrainDiverged</c> alert ever. The first run has
    /// nothing to restore.
    /// </summary>
    private static async Task<Restored> AssertNoColdStartAsync(HostDatabase db, string runId, int cycle, Service service)
    {
        var earlier = db.Scalar<long>("SELECT COUNT(*) FROM brain_inputs WHERE run_id <> @runId", new { runId });
        var earlierRuns = db.Scalar<long>("SELECT COUNT(DISTINCT run_id) FROM brain_inputs WHERE run_id <> @runId", new { runId });
        string? text = null;
        await Eventually.Until(() => earlier == 0 || (text = db.QueryJournal<string>("SELECT payload FROM journal WHERE kind='Alert' AND correlation_id IN ('BrainRestored','BrainDiverged')")
                .FirstOrDefault(p => p.Contains($"the brain of run {runId} ", StringComparison.Ordinal))) is not null,
            $"cycle {cycle}: the brain of run {runId} to report its restore", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50), () => Task.FromResult(service.ExitedWhy()));
        db.QueryJournal<string>("SELECT payload FROM journal WHERE kind='Alert' AND correlation_id='BrainDiverged'").ShouldBeEmpty($"cycle {cycle}: a brain diverged from its record");
        if (earlier == 0)
        {
            return new Restored(0, 0, 0, 0, 0, 0, 0);
        }

        long Figure(string pattern) => long.Parse(System.Text.RegularExpressions.Regex.Match(text!, pattern).Groups[1].Value, CultureInfo.InvariantCulture);
        var restored = new Restored(Figure(@"restored from (\d+) earlier run"), Figure(@"(\d+) inputs \("), Figure(@"\((\d+) bars\)"), Figure(@"re-executed in (\d+) ms"),
            Figure(@"(\d+) decisions and"), Figure(@"and (\d+) orders \("), Figure(@"orders \((\d+) with quantity"));
        restored.Runs.ShouldBe(earlierRuns, $"cycle {cycle}: {text}");
        restored.Inputs.ShouldBe(earlier, $"cycle {cycle}: the new run's brain did not re-execute every recorded input (a cold start): {text}");
        Figure(@"(\d+) mismatch").ShouldBe(0, text);
        return restored;
    }

    /// <summary>
    /// The recorded gold and silver bars of a week, moved by whole weeks to end a day before now: the service runs on the
    /// system clock (a live feed), so its bars must be in the recent past, on the same weekdays and hours as recorded
    /// (sessions, closures and the strategy's session checks see what the recording saw). The test steps them much faster
    /// than real time; the host never sees a bar from the future.
    /// </summary>
    private static MarketTape ShiftedMetalsTape(FakeTwsServer tws, DateTimeOffset serviceNow)
    {
        var from = new DateTimeOffset(2025, 9, 8, 0, 0, 0, TimeSpan.Zero);
        var to = from.AddDays(12);
        var weeks = (int)Math.Floor((serviceNow.AddDays(-1) - to).TotalDays / 7);
        var shift = TimeSpan.FromDays(7 * weeks);
        IReadOnlyList<FakeBar> Read(string file) => [.. RecordedMetals.Read(file, from, to).Select(b => b with { StartUtc = b.StartUtc + shift })];
        return new MarketTape(tws, new Dictionary<string, IReadOnlyList<FakeBar>>
        {
            ["XAUUSD"] = Read("xauusd_m15_utc.csv.gz"),
            ["XAGUSD"] = Read("xagusd_m15_utc.csv.gz"),
        }, TimeSpan.FromMinutes(15));
    }

    private string WriteConfig(int port, int operatorPort) => _env.WriteConfig(j =>
    {
        FakeTwsConfig.UseFakeTws(j, port, ClientId, Account);
        FakeTwsConfig.LetSteppedTradesRun(j);
        j["Broker"]!["InteractiveBrokers"]!["QuietWindows"] = new JsonArray("00:00-00:00");
        // Bars come much faster than their 15 minutes: nothing judges their age against the system clock here.
        j["Risk"]!["StaleDataAfter"] = "00:00:00";
        j["Risk"]!["Gates"]!["MaxOrdersPerWindow"] = 100000;
        // The default indicator periods (the strategy's state survives restarts: it warms up once, across them); trading often.
        j["Strategies"]!["Metals"]!["CooldownBars"] = 1;
        j["Strategies"]!["Metals"]!["CompressionRatio"] = 1.0;
        j["Operator"]!["Url"] = $"http://127.0.0.1:{operatorPort}";
    });

    /// <summary>Starts the service and SIGKILLs it once it has connected to IB, a little later each time (into the reconciliation).</summary>
    private async Task KillDuringStartUpAsync(FakeTwsServer tws, int cycle, SoakStats stats)
    {
        var operatorPort = FreePort();
        var config = WriteConfig(tws.Port, operatorPort);
        await using var service = new Service(Process.Start(Psi("run", config))!, operatorPort).Drained();
        await Eventually.Until(() => tws.ConnectedClientIds.Contains(ClientId), $"cycle {cycle}: the start-up to be killed connected", TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(5), () => Task.FromResult(service.ExitedWhy()));
        await Task.Delay(TimeSpan.FromMilliseconds(cycle * 20 % 400));
        await service.StopAsync(9);
        stats.StartUpKills++;
        var chain = MetalSniper.Persistence.Journal.DecisionJournal.VerifyFile(_env.DatabasePath.Replace("test.db", "journal.db", StringComparison.Ordinal), _env.ChainKeys);
        chain.IsIntact.ShouldBeTrue($"cycle {cycle}: the journal chain is broken after a SIGKILL during start-up: {chain.Problem}");
        output.WriteLine($"           a start-up SIGKILLed {cycle * 20 % 400} ms after it connected");
    }

    private async Task<Service> StartReadyAsync(FakeTwsServer tws, int cycle)
    {
        var operatorPort = FreePort();
        var config = WriteConfig(tws.Port, operatorPort);
        var requestsAtStart = tws.RequestCount;
        var service = new Service(Process.Start(Psi("run", config))!, operatorPort).Drained();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var sw = Stopwatch.StartNew();
        string last = "";
        while (true)
        {
            service.ThrowIfExited();
            try
            {
                using var r = await http.GetAsync(new Uri($"http://127.0.0.1:{operatorPort}/health/ready"));
                last = await r.Content.ReadAsStringAsync();
                if (r.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // a slow answer on busy cores: ask again
            }

            sw.Elapsed.ShouldBeLessThan(ReadyLimit, $"cycle {cycle}: the service was not ready within {ReadyLimit.TotalSeconds:0} s: {last}");
            await Task.Delay(100);
        }

        // The bars are subscribed on every connect: wait for both before the market moves.
        await Eventually.Until(() => tws.Requests.Skip(requestsAtStart).Count(r => r.ClientId == ClientId && r.MessageId == 20) >= Symbols.Length,
            $"cycle {cycle}: the bar subscriptions", TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(20), () => Task.FromResult(service.ExitedWhy()));
        await tws.FlushAsync();
        return service;
    }

    private ProcessStartInfo Psi(string verb, string config)
    {
        var psi = new ProcessStartInfo("dotnet", ["exec", Dll, verb, "--config", config, "--db", _env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _env.Directory.FullName,
        };
        if (_clockBack > TimeSpan.Zero)
        {
            // libfaketime (Debian's faketime, which test.sh installs): the wall clock moved back, the monotonic clock real.
            var library = Directory.GetDirectories("/usr/lib", "*-linux-gnu*").Append("/usr/lib")
                .Select(d => Path.Combine(d, "faketime", "libfaketime.so.1")).FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("METALS is closed now and libfaketime is not installed (apt-get install faketime; ./test.sh does): the soak cannot move the service's clock into a session");
            psi.Environment["LD_PRELOAD"] = library;
            psi.Environment["FAKETIME"] = "-" + ((long)_clockBack.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            psi.Environment["DONT_FAKE_MONOTONIC"] = "1";
        }

        return psi;
    }

    /// <summary>
    /// How far to move the clock back from <paramref name="now"/> so that METALS (the product's exchange calendar) is open for
    /// the next 15 minutes: zero when it is open now, else the latest such moment of the past week, in steps of 30 minutes.
    /// </summary>
    internal static TimeSpan ClockBack(DateTimeOffset now)
    {
        var calendar = new MetalSniper.Calendars.ExchangeCalendar();
        bool OpenFor15Minutes(DateTimeOffset t) => Enumerable.Range(0, 16).All(m => calendar.IsOpen("METALS", t.AddMinutes(m)));
        for (var back = TimeSpan.Zero; back < TimeSpan.FromDays(7); back += TimeSpan.FromMinutes(30))
        {
            if (OpenFor15Minutes(now - back))
            {
                return back;
            }
        }

        throw new InvalidOperationException($"METALS has no open 15 minutes in the week before {now:O}");
    }

    /// <summary>The system clock moved back by a fixed span (the fake TWS's clock when the service runs under libfaketime).</summary>
    private sealed class ClockMovedBack(TimeSpan back) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() - back;
    }

    private async Task<(int Code, string Out, string Err)> CliAsync(string verb)
    {
        using var p = Process.Start(Psi(verb, Path.Combine(_env.Directory.FullName, "appsettings.json")))!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit(TimeSpan.FromSeconds(60)).ShouldBeTrue($"'{verb}' did not finish");
        return (p.ExitCode, await o, await e);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string LatestRun(HostDatabase db) => db.Scalar<string>("SELECT run_id FROM runs ORDER BY rowid DESC LIMIT 1");

    private static bool IsWorking(FakeOrderSnapshot o) => o.Status is "Submitted" or "PreSubmitted" or "PendingSubmit" or "ApiPending";

    private static List<FakeOrderSnapshot> WorkingStops(FakeTwsServer tws) =>
        [.. tws.Orders.Where(o => o.ClientId == ClientId && IsWorking(o) && o.OrderType == "STP")];

    private static decimal IbPosition(FakeTwsServer tws, string symbol) => tws.Positions.Where(p => p.Account == Account && p.Symbol == symbol).Sum(p => p.Quantity);

    private static decimal OurPosition(HostDatabase db, string symbol) =>
        db.Query<string>("SELECT quantity FROM positions WHERE symbol=@symbol AND run_id=(SELECT run_id FROM runs ORDER BY rowid DESC LIMIT 1)", new { symbol })
            .Select(q => decimal.Parse(q, NumberStyles.Float, CultureInfo.InvariantCulture)).FirstOrDefault();

    private static string Describe(FakeTwsServer tws) =>
        string.Join(", ", Symbols.Select(s => $"{s} {IbPosition(tws, s)}")) + "; working: "
        + string.Join(", ", tws.Orders.Where(o => o.ClientId == ClientId && IsWorking(o)).Select(o => $"{o.OrderId} {o.Action} {o.TotalQuantity} {o.Symbol} {o.OrderType} {o.AuxPrice} '{o.OrderRef}'"));

    /// <summary>What must hold after every (re)start once the service is ready.</summary>
    private async Task AssertRestartInvariantsAsync(FakeTwsServer tws, HostDatabase db, int cycle, Service service)
    {
        var why = $"cycle {cycle}";
        string Problems()
        {
            var problems = new List<string>();
            foreach (var symbol in Symbols)
            {
                var ib = IbPosition(tws, symbol);
                var ours = OurPosition(db, symbol);
                if (ib != ours)
                {
                    problems.Add($"{symbol}: our book {ours}, IB {ib}");
                }

                // Every open position has its protective stop working at IB (opposite side, covering the whole position).
                if (ib != 0m)
                {
                    var cover = WorkingStops(tws).Where(o => o.Symbol == symbol && o.Action == (ib > 0 ? "SELL" : "BUY")).Sum(o => o.TotalQuantity - o.Filled);
                    if (cover < Math.Abs(ib))
                    {
                        problems.Add($"{symbol}: IB holds {ib}, protected by working stops for only {cover}");
                    }
                }
            }

            // Every execution of ours at IB is in our fills exactly once.
            var fills = db.Query<string>("SELECT execution_id FROM fills").ToHashSet(StringComparer.Ordinal);
            foreach (var x in tws.Executions.Where(x => x.ClientId == ClientId && !fills.Contains(x.ExecId)))
            {
                problems.Add($"execution {x.ExecId} ({x.Side} {x.Shares} {x.Symbol} @ {x.Price}, ref '{x.OrderRef}') is not in our fills");
            }

            // Our records and IB's agree on which orders are alive; none that should be dead is working.
            var rows = db.Query<(string Id, string Status, string Purpose, string RunId, string Side, string Symbol)>(
                "SELECT client_order_id, status, purpose, run_id, side, symbol FROM orders").ToDictionary(r => r.Id, StringComparer.Ordinal);
            var latest = LatestRun(db);
            foreach (var o in tws.Orders.Where(o => o.ClientId == ClientId && IsWorking(o)))
            {
                if (!rows.TryGetValue(o.OrderRef, out var row))
                {
                    problems.Add($"IB order {o.OrderId} '{o.OrderRef}' works and we have no record of it");
                    continue;
                }

                if (row.Status is not ("Working" or "PartiallyFilled" or "PendingSubmit"))
                {
                    problems.Add($"IB order {o.OrderId} '{o.OrderRef}' works, our record says {row.Status}");
                }

                // An earlier run's entry may stay only while it protects the position (the hands withdraw, at a restart, the earlier
                // runs' entries that protect nothing: EarlierRunEntriesWithdrawn).
                var position = IbPosition(tws, o.Symbol);
                var reduces = position != 0m && (o.Action == "SELL") == (position > 0m);
                if (row.RunId != latest && row.Purpose is "Entry" or "Add" && !reduces)
                {
                    problems.Add($"IB order {o.OrderId} '{o.OrderRef}' ({row.Purpose} {o.Action} {o.Symbol} of the earlier run {row.RunId}) still works and protects nothing (IB holds {position})");
                }
            }

            var working = tws.Orders.Where(o => o.ClientId == ClientId && IsWorking(o)).Select(o => o.OrderRef).ToHashSet(StringComparer.Ordinal);
            foreach (var row in rows.Values.Where(r => r.Status is "Working" or "PartiallyFilled" or "PendingSubmit" && !working.Contains(r.Id)))
            {
                var at = tws.Orders.FirstOrDefault(o => o.ClientId == ClientId && o.OrderRef == row.Id);
                problems.Add($"our record says {row.Id} ({row.Purpose} {row.Side} {row.Symbol}) is {row.Status}; IB: {at?.Status ?? "no such order"}");
            }

            return string.Join("; ", problems);
        }

        var sw = Stopwatch.StartNew();
        var seen = Problems();
        while (seen.Length > 0 && sw.Elapsed < AgreeLimit)
        {
            service.ThrowIfExited();
            await Task.Delay(100);
            seen = Problems();
        }

        if (seen.Length > 0)
        {
            var orders = string.Join("\n", tws.Orders.Where(o => o.ClientId == ClientId).TakeLast(8).Select(o => $"  {o.OrderId} {o.Action} {o.TotalQuantity} {o.Symbol} {o.OrderType} {o.AuxPrice} {o.Status} '{o.OrderRef}'"));
            var requests = string.Join("\n", tws.Requests.Where(r => r.ClientId == ClientId && r.MessageId is 3 or 4).TakeLast(8).Select(r => $"  {r.ReceivedAt:HH:mm:ss.fff} {r}"));
            var log = string.Join("\n", service.Output().Split('\n').Where(l => l.Contains("[WRN]", StringComparison.Ordinal) || l.Contains("[ERR]", StringComparison.Ordinal)).TakeLast(40));
            seen.ShouldBeEmpty($"{why}: after the restart, with the service ready; IB {Describe(tws)}\nIB's last orders:\n{orders}\nlast placeOrder/cancelOrder:\n{requests}\nservice warnings:\n{log}");
        }
        AssertNoIdReusedNoOrderSentTwice(tws, db);
    }

    /// <summary>No IB order id was used for two of our orders, no orderRef reached IB under two ids, IB never answered "duplicate order id".</summary>
    private static void AssertNoIdReusedNoOrderSentTwice(FakeTwsServer tws, HostDatabase db)
    {
        var placed = PlacedOrder.From(tws.Requests, ClientId);
        var purposes = db.Purposes();
        foreach (var p in placed)
        {
            purposes.ContainsKey(p.OrderRef).ShouldBeTrue($"IB received an order we have no record of: {p}");
        }

        foreach (var byRef in placed.GroupBy(p => p.OrderRef))
        {
            byRef.Select(p => p.OrderId).Distinct().Count().ShouldBe(1, $"orderRef {byRef.Key} reached IB under several order ids (sent twice): {string.Join(", ", byRef)}");
        }

        foreach (var byId in placed.GroupBy(p => p.OrderId))
        {
            byId.Select(p => p.OrderRef).Distinct().Count().ShouldBe(1, $"IB order id {byId.Key} was used for several of our orders: {string.Join(", ", byId)}");
        }

        // A modification re-sends placeOrder under the same id and ref with a new price; the very same request twice is a duplicate.
        foreach (var same in placed.GroupBy(p => string.Join('|', p.Request.Fields)).Where(g => g.Count() > 1))
        {
            throw new ShouldAssertException($"the same placeOrder reached IB {same.Count()} times: {string.Join(", ", same)}");
        }

        var duplicates = tws.SentFrames.Where(f => f.ClientId == ClientId && f.ErrorCode is 103).ToList();
        duplicates.ShouldBeEmpty($"IB answered 'duplicate order id' (103): {string.Join("; ", duplicates)}");
    }

    /// <summary>
    /// Every execution at IB is one fill row of ours with the same order, side, quantity and price, and nothing else is; the
    /// realised P&amp;L of our fills (average cost, as IB books it) equals IB's.
    /// </summary>
    private static decimal AssertFillsAndPnlAgree(FakeTwsServer tws, HostDatabase db)
    {
        var ib = tws.Executions.Where(x => x.ClientId == ClientId)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.ExecId} {x.OrderRef} {(x.Side == "BOT" ? "Buy" : "Sell")} {x.Shares:0.########} {x.Price:0.########}"))
            .Order(StringComparer.Ordinal).ToList();
        var ours = db.Query<(string ExecId, string Ref, string Side, string Quantity, string Price)>(
                "SELECT execution_id, client_order_id, side, quantity, price FROM fills WHERE execution_id NOT LIKE '%:%'")
            .Select(f => string.Create(CultureInfo.InvariantCulture,
                $"{f.ExecId} {f.Ref} {f.Side} {decimal.Parse(f.Quantity, NumberStyles.Float, CultureInfo.InvariantCulture):0.########} {decimal.Parse(f.Price, NumberStyles.Float, CultureInfo.InvariantCulture):0.########}"))
            .Order(StringComparer.Ordinal).ToList();
        ours.ShouldBe(ib, "our fills are not IB's executions, one for one");

        var fills = db.Query<(string Symbol, string Side, string Quantity, string Price, string EventUtc, string ExecId)>(
            "SELECT symbol, side, quantity, price, event_utc, execution_id FROM fills WHERE execution_id NOT LIKE '%:%'");
        var pnl = 0m;
        foreach (var symbol in Symbols)
        {
            var multiplier = (decimal)tws.Contracts.Single(c => c.Key == symbol).MultiplierValue;
            decimal position = 0m, average = 0m;
            var order = tws.Executions.Select((x, i) => (x.ExecId, i)).ToDictionary(x => x.ExecId, x => x.i, StringComparer.Ordinal);
            foreach (var f in fills.Where(f => f.Symbol == symbol).OrderBy(f => order[f.ExecId]))
            {
                var q = decimal.Parse(f.Quantity, NumberStyles.Float, CultureInfo.InvariantCulture) * (f.Side == "Buy" ? 1 : -1);
                var p = decimal.Parse(f.Price, NumberStyles.Float, CultureInfo.InvariantCulture);
                if (position != 0m && Math.Sign(q) != Math.Sign(position))
                {
                    var closed = Math.Min(Math.Abs(q), Math.Abs(position));
                    pnl += (p - average) * closed * Math.Sign(position) * multiplier;
                    var rest = position + q;
                    average = rest == 0m ? 0m : Math.Sign(rest) == Math.Sign(position) ? average : p;
                    position = rest;
                }
                else
                {
                    average = ((average * Math.Abs(position)) + (p * Math.Abs(q))) / (Math.Abs(position) + Math.Abs(q));
                    position += q;
                }
            }
        }

        var theirs = (decimal)tws.Positions.Where(p => p.Account == Account).Sum(p => p.RealizedPnl);
        Math.Abs(pnl - theirs).ShouldBeLessThan(0.01m, $"realised P&L: ours (from our fills) {pnl}, IB {theirs}");

        // Our book's own P&L: each run books what it realised (a restarted run takes the position over at its average price),
        // so the runs' realised P&L adds up to IB's.
        var booked = db.Query<string>("SELECT realized_pnl_gross FROM positions").Sum(v => decimal.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture));
        Math.Abs(booked - theirs).ShouldBeLessThan(0.01m, $"realised P&L: our book's (summed over the runs) {booked}, IB {theirs}");
        return theirs;
    }

    /// <summary>The service process; its output is drained as it comes (a full pipe would block it).</summary>
    private sealed class Service(Process process, int operatorPort) : IAsyncDisposable
    {
        private readonly StringBuilder _stdout = new();
        private Task? _out;
        private readonly Task<string> _err = process.StandardError.ReadToEndAsync();

        public int OperatorPort { get; } = operatorPort;

        private static async Task Drain(StreamReader reader, StringBuilder into)
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                lock (into)
                {
                    into.AppendLine(line);
                }
            }
        }

        /// <summary>Starts draining standard output (call once, right after the start).</summary>
        public Service Drained()
        {
            _out = Drain(process.StandardOutput, _stdout);
            return this;
        }

        public string Output()
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }

        public string? ExitedWhy() => process.HasExited ? $"the service exited with {process.ExitCode}: {Tail(_err.IsCompleted ? _err.Result : "")} {Tail(Output())}" : null;

        public void ThrowIfExited()
        {
            if (ExitedWhy() is { } why)
            {
                throw new ShouldAssertException(why);
            }
        }

        private static string Tail(string s) => s.Length > 3000 ? s[^3000..] : s;

        /// <summary>Sends <paramref name="signal"/> and waits for the exit; SIGTERM must end it cleanly (exit 0).</summary>
        public async Task<int> StopAsync(int signal)
        {
            ThrowIfExited();
            SendSignal(process.Id, signal).ShouldBe(0);
            process.WaitForExit(TimeSpan.FromSeconds(30)).ShouldBeTrue($"the service did not end within 30 s of signal {signal}");
            await _out!;
            var err = await _err;
            if (signal == 15)
            {
                process.ExitCode.ShouldBe(0, $"SIGTERM did not stop the service cleanly: {Tail(err)}");
            }
            else
            {
                process.ExitCode.ShouldBe(137);
            }

            return process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }
    }
}
