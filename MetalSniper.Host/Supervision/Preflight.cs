using System.Diagnostics;
using System.Globalization;
using Dapper;
using MetalSniper.Host.Configuration;
using MetalSniper.Persistence.Journal;
using MetalSniper.Persistence;
using MetalSniper.Engine.Pipeline;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using MetalSniper.Engine.Configuration;

namespace MetalSniper.Host.Supervision;

/// <summary>One preflight check.</summary>
/// <param name="Name">What was checked.</param>
/// <param name="Ok">Whether it passed (a skipped check passes and says why).</param>
/// <param name="Detail">The values seen, or what is wrong and how to fix it.</param>
/// <param name="ExitCode">The sysexits code a failure exits with (0 when it passed).</param>
public sealed record PreflightCheck(string Name, bool Ok, string Detail, int ExitCode)
{
    /// <summary>
    /// True for a check that passed only because the service waits for what it found missing (the broker unreachable at the
    /// start of <c>run</c>): shown as "wait", not "ok".
    /// </summary>
    public bool Waiting { get; init; }
}

/// <summary>
/// Everything that must hold before anything trades, checked in order with every result reported (not just the
/// first failure): configuration (all errors at once, 78), database directory writable and database migrated and
/// passing <c>integrity_check</c> (74), free disk space (74), the halts store's chain (65), the decision journal's
/// tail (65), the broker reachable with port and execution mode consistent (69 / 78), model parity (every judge that is on loaded as the service will load it; skipped while
/// no model is configured), and clock sanity (71). The service runs it before the host is built; the
/// <c>preflight</c> command runs it alone. An unreachable broker fails the <c>preflight</c> command (69), but not the
/// service's start: a broker that is down is transient, so the service starts, waits for it and alerts
/// (<see cref="PreflightCheck.Waiting"/>, <c>BrokerStartWait</c>).
/// </summary>
public static class Preflight
{
    /// <summary>Exit code for a clock that cannot be trusted (EX_OSERR).</summary>
    public const int ClockExitCode = 71;

    /// <summary>Exit code for an unreachable broker (EX_UNAVAILABLE).</summary>
    public const int UnavailableExitCode = 69;

    /// <summary>Runs every check. The first failure's exit code is the run's.</summary>
    /// <param name="configuration">The validated configuration.</param>
    /// <param name="wallClock">The wall clock (database, clock sanity).</param>
    /// <param name="waitForBroker">
    /// True for the service's start: an unreachable broker passes as <see cref="PreflightCheck.Waiting"/> (the service waits for
    /// it); false (the <c>preflight</c> command) fails it with <see cref="UnavailableExitCode"/>.
    /// </param>
    /// <param name="modelParity">The model parity check (<c>JudgeLoading.ModelParityCheck</c>: the judges live above this namespace); without it the check fails as one that cannot run.</param>
    public static IReadOnlyList<PreflightCheck> Run(IConfiguration configuration, TimeProvider wallClock, bool waitForBroker = false,
        Func<IConfiguration, TimeProvider, PreflightCheck>? modelParity = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var checks = new List<PreflightCheck>();
        var errors = ConfigurationCheck.Validate(configuration);
        checks.Add(errors.Count == 0
            ? new PreflightCheck("configuration", true, "valid", 0)
            : new PreflightCheck("configuration", false, $"{errors.Count} error(s): {string.Join("; ", errors)}", ExitCodes.Config));
        if (errors.Count > 0)
        {
            return checks;
        }

        var persistence = configuration.GetSection(PersistenceOptions.SectionName).Get<PersistenceOptions>() ?? new PersistenceOptions();
        var supervision = configuration.GetSection(SupervisionOptions.SectionName).Get<SupervisionOptions>() ?? new SupervisionOptions();
        var dbPath = Path.GetFullPath(persistence.DatabasePath);
        var dir = Path.GetDirectoryName(dbPath)!;
        var dbOk = CheckDatabase(dbPath, dir, wallClock, checks);
        checks.Add(CheckDisk(dir, supervision.MinFreeDiskMegabytes));
        var keys = CheckChainKey(configuration, persistence, wallClock, out var keyring);
        checks.Add(keys);
        var journalPath = JournalOptions.ServicePath(configuration);
        if (dbOk && keys.Ok)
        {
            checks.Add(CheckHalts(dbPath, journalPath, wallClock, keyring));
        }

        // Without a usable key a keyed journal cannot be verified (and says so); a new or plain one still can.
        var journal = CheckJournal(journalPath, keyring, out var lastEntryUtc);
        checks.Add(journal);
        checks.Add(CheckBroker(configuration, waitForBroker));
        checks.Add(modelParity?.Invoke(configuration, wallClock)
            ?? new PreflightCheck("model parity", false, "cannot run: no model parity check was given to the preflight", ExitCodes.Software));
        checks.Add(CheckClock(wallClock, lastEntryUtc));
        return checks;
    }

    /// <summary>The exit code of a preflight: the first failure's, or 0.</summary>
    public static int ExitCode(IReadOnlyList<PreflightCheck> checks) => checks.FirstOrDefault(c => !c.Ok)?.ExitCode ?? ExitCodes.Ok;

    /// <summary>The checks on one line for the service's log: "configuration valid; database …; …".</summary>
    public static string RenderLine(IReadOnlyList<PreflightCheck> checks)
    {
        ArgumentNullException.ThrowIfNull(checks);
        return string.Join("; ", checks.Select(c => $"{(c.Ok ? "" : "FAIL ")}{c.Name} {c.Detail}"));
    }

    /// <summary>A table for the console.</summary>
    public static string Render(IReadOnlyList<PreflightCheck> checks, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(checks);
        var lines = checks.Select(c => $"  {(c.Waiting ? "wait" : c.Ok ? "ok  " : "FAIL")} {c.Name,-16} {c.Detail}{(c.Ok ? "" : $" (exit {c.ExitCode})")}");
        return $"preflight ({elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms):\n" + string.Join("\n", lines);
    }

    private static bool CheckDatabase(string dbPath, string dir, TimeProvider wallClock, List<PreflightCheck> checks)
    {
        try
        {
            Directory.CreateDirectory(dir);
            var probe = Path.Combine(dir, $".preflight-{Environment.ProcessId}.tmp");
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            checks.Add(new PreflightCheck("database", false, $"the database directory {dir} is not writable: {e.Message}", ExitCodes.IoError));
            return false;
        }

        try
        {
            var db = new Database(dbPath, wallClock);
            using var c = db.OpenConnection();
            var integrity = c.ExecuteScalar<string>("PRAGMA integrity_check") ?? "?";
            if (integrity != "ok")
            {
                checks.Add(new PreflightCheck("database", false, $"{dbPath}: integrity_check says '{integrity}'", ExitCodes.IoError));
                return false;
            }

            checks.Add(new PreflightCheck("database", true, $"{dbPath}: writable, schema v{db.SchemaVersion()}, integrity ok", 0));
            return true;
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            checks.Add(new PreflightCheck("database", false, $"{dbPath}: {e.Message}", ExitCodes.IoError));
            return false;
        }
    }

    private static PreflightCheck CheckDisk(string dir, int minFreeMegabytes)
    {
        try
        {
            var free = new DriveInfo(Path.GetPathRoot(Path.GetFullPath(dir)) ?? "/").AvailableFreeSpace / (1024 * 1024);
            var mount = FindMount(dir);
            free = mount is not null ? new DriveInfo(mount).AvailableFreeSpace / (1024 * 1024) : free;
            return free >= minFreeMegabytes
                ? new PreflightCheck("disk space", true, $"{free:N0} MB free (≥ {minFreeMegabytes:N0})", 0)
                : new PreflightCheck("disk space", false, $"{free:N0} MB free on the database's disk, below {minFreeMegabytes:N0} MB (Supervision:MinFreeDiskMegabytes)", ExitCodes.IoError);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return new PreflightCheck("disk space", false, $"cannot read the free space of {dir}: {e.Message}", ExitCodes.IoError);
        }
    }

    /// <summary>The mount point holding <paramref name="dir"/> (the longest matching drive root), or null.</summary>
    private static string? FindMount(string dir)
    {
        var full = Path.GetFullPath(dir);
        return DriveInfo.GetDrives().Where(d => d.IsReady && full.StartsWith(d.RootDirectory.FullName, StringComparison.Ordinal))
            .OrderByDescending(d => d.RootDirectory.FullName.Length).Select(d => d.RootDirectory.FullName).FirstOrDefault();
    }

    /// <summary>The chain key the service will use (<see cref="ChainKeys.ForRun"/>): required with a real broker, else beside the database.</summary>
    private static PreflightCheck CheckChainKey(IConfiguration configuration, PersistenceOptions persistence, TimeProvider wallClock, out Sentinel.Halts.ChainKeyring? keyring)
    {
        keyring = null;
        var broker = configuration.GetSection(BrokerOptions.SectionName).Get<BrokerOptions>() ?? new BrokerOptions();
        try
        {
            keyring = ChainKeys.ForRun(persistence, Engine.Pipeline.RunMode.Service, broker.Kind, wallClock);
            return new PreflightCheck("chain key", true, $"HMAC-SHA256 with key '{keyring.SigningKeyId}' of {keyring.Source}", 0);
        }
        catch (OptionsValidationException e)
        {
            return new PreflightCheck("chain key", false, string.Join("; ", e.Failures), ExitCodes.Config);
        }
    }

    private static PreflightCheck CheckHalts(string dbPath, string journalPath, TimeProvider wallClock, Sentinel.Halts.ChainKeyring? keyring)
    {
        try
        {
            using var store = new SqliteHaltStore(Database.OpenExisting(dbPath, wallClock), wallClock, keyring: keyring);
            var v = store.Verify();
            if (v.IsIntact && HaltsJournalCrossCheck.Check(() => store.ReadSince(0), journalPath, KillSwitchScopes.Service, out _) is { } crossCheck)
            {
                v = crossCheck;
            }

            return v.IsIntact
                ? new PreflightCheck("halts store", true, $"{v.Records:N0} record(s), chain intact and in agreement with the journal", 0)
                : new PreflightCheck("halts store", false, $"does not verify at sequence {v.FirstBadSequence}: {v.Problem}", v.KeyMissing ? ExitCodes.Config : ExitCodes.DataError);
        }
        catch (Exception e) when (e is SqliteException or IOException)
        {
            return new PreflightCheck("halts store", false, e.Message, ExitCodes.IoError);
        }
    }

    private static PreflightCheck CheckJournal(string path, Sentinel.Halts.ChainKeyring? keyring, out DateTimeOffset? lastEntryUtc)
    {
        lastEntryUtc = null;
        if (!File.Exists(path))
        {
            return new PreflightCheck("journal", true, $"{path}: new (no entries yet)", 0);
        }

        try
        {
            var sw = Stopwatch.StartNew();
            var v = DecisionJournal.VerifyTailOfFile(path, 10_000, out lastEntryUtc, keyring);
            return v.IsIntact
                ? new PreflightCheck("journal", true, $"{path}: tail of {v.Entries:N0} entries and the anchor verified ({sw.ElapsedMilliseconds} ms)", 0)
                : new PreflightCheck("journal", false, $"{path}: does not verify at sequence {v.FirstBadSequence}: {v.Problem}", v.KeyMissing ? ExitCodes.Config : ExitCodes.DataError);
        }
        catch (SqliteException e)
        {
            return new PreflightCheck("journal", false, $"{path}: {e.Message}", ExitCodes.IoError);
        }
    }

    private static PreflightCheck CheckBroker(IConfiguration configuration, bool waitForBroker)
    {
        var broker = configuration.GetSection(BrokerOptions.SectionName).Get<BrokerOptions>() ?? new BrokerOptions();
        var execution = configuration.GetSection(ExecutionOptions.SectionName).Get<ExecutionOptions>() ?? new ExecutionOptions();
        var shadow = execution.Mode == Core.Orders.ExecutionMode.Shadow;
        if (broker.Kind == "Simulated" && !shadow)
        {
            return execution.Mode == Core.Orders.ExecutionMode.Live
                ? new PreflightCheck("broker", false, "live mode needs a live broker; the simulated broker is paper only", ExitCodes.Config)
                : new PreflightCheck("broker", true, "the embedded simulated broker (paper)", 0);
        }

        var ib = broker.InteractiveBrokers;
        var livePort = Risk.Gates.ExecutionSafety.LivePorts.Contains(ib.Port);
        if (execution.Mode != Core.Orders.ExecutionMode.Live && livePort)
        {
            return new PreflightCheck("broker", false, $"{execution.Mode.ToString().ToLowerInvariant()} mode but {ib.Host}:{ib.Port} is a live port (TWS 7496 / IB Gateway 4001): fails closed; use 4002 (Gateway) or 7497 (TWS) for paper", ExitCodes.Config);
        }

        if (execution.Mode == Core.Orders.ExecutionMode.Live && !livePort)
        {
            return new PreflightCheck("broker", false, $"live mode but {ib.Host}:{ib.Port} is not a live port (4001 / 7496)", ExitCodes.Config);
        }

        // Reachable: the API port accepts a TCP connection within the connect timeout (the handshake follows at start).
        var timeout = TimeSpan.FromSeconds(Math.Min(ib.ConnectTimeoutSeconds, 5));
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            using var cts = new CancellationTokenSource(timeout);
            socket.ConnectAsync(ib.Host, ib.Port, cts.Token).AsTask().GetAwaiter().GetResult();
            return new PreflightCheck("broker", true, $"{(shadow ? "SHADOW: orders to the embedded simulated broker, market data from " : "")}Interactive Brokers at {ib.Host}:{ib.Port} accepts connections ({execution.Mode.ToString().ToLowerInvariant()} port, client id {ib.ClientId}{(ib.Account.Length > 0 ? ", account " + ib.Account : "")})", 0);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            var why = e is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0} s" : e.Message;
            var detail = $"Interactive Brokers unreachable at {ib.Host}:{ib.Port}: {why} (is TWS / IB Gateway running with the API enabled on that port?)";
            return waitForBroker
                ? new PreflightCheck("broker", true, detail + $"; the service starts and waits for it (retrying with backoff, not ready and no orders until connected and reconciled; RED after {ib.StartupUnreachableRedSeconds} s)", 0) { Waiting = true }
                : new PreflightCheck("broker", false, detail, UnavailableExitCode);
        }
    }

    private static PreflightCheck CheckClock(TimeProvider wallClock, DateTimeOffset? lastEntryUtc)
    {
        var now = wallClock.GetUtcNow();
        if (now.Year is < 2020 or > 2100)
        {
            return new PreflightCheck("clock", false, $"the system clock reads {now:O}: not a plausible date", ClockExitCode);
        }

        if (lastEntryUtc is { } last && now < last - TimeSpan.FromMinutes(5))
        {
            return new PreflightCheck("clock", false, $"the system clock ({now:O}) is behind the journal's last entry ({last:O}) by more than 5 minutes: it went backwards", ClockExitCode);
        }

        return new PreflightCheck("clock", true, $"{now:yyyy-MM-dd HH:mm:ss} UTC{(lastEntryUtc is { } l ? $", after the journal's last entry ({l:yyyy-MM-dd HH:mm:ss})" : "")}", 0);
    }
}
