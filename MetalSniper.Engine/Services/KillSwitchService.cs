using System.Globalization;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel.Halts;
using Microsoft.Extensions.Options;
using MetalSniper.Engine.Configuration;
using MetalSniper.Core.Time;

namespace MetalSniper.Engine.Services;

/// <summary>
/// Keeps the kill switch in step with the outside world: once a second (wall clock) it applies
/// records other processes appended to the halts store (the CLI's <c>kill</c> and <c>resume</c>) and
/// escalates while the kill file exists. It starts before the execution side, so a kill file present
/// at start-up takes effect before any order can leave. A halts store that stops verifying stops the host.
/// </summary>
public sealed class KillSwitchService(
    KillSwitch killSwitch,
    IOptions<RiskOptions> options,
    TimeProvider clock,
    WallClock wallClock,
    RunContext run,
    RunResume resume,
    IHostApplicationLifetime lifetime,
    ILogger<KillSwitchService> logger) : IHostedService, IDisposable
{
    private readonly string _killFile = Path.GetFullPath(options.Value.KillFilePath);
    private ITimer? _timer;
    private int _busy;
    private volatile bool _stopping;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var state = killSwitch.State;
        var level = state.Level(now);
        logger.Log(level == KillLevel.Running ? LogLevel.Information : LogLevel.Warning,
            "Kill switch ({Scope}) restored from the halts store at record {Sequence}: L{Level}{Why}; kill file {KillFile}",
            killSwitch.Scope, state.LastSequence, (int)level, level == KillLevel.Running ? "" : " — " + state.Describe(now), _killFile);
        if (run.Mode == RunMode.Replay)
        {
            // A backtest has its own kill-switch scope and chain: the operator's kill file and CLI act on the service.
            return Task.CompletedTask;
        }

        if (run.Causal)
        {
            // The service on a replayed feed: the scheduler looks at the store and the kill file between two records (CheckNow),
            // so a resumed run can apply the operator's halts again at the same record. A resume looks when it has caught up.
            if (!resume.IsResume)
            {
                Check();
            }

            return Task.CompletedTask;
        }

        Check();
        _timer = wallClock.Provider.CreateTimer(_ => Check(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Applies what other processes appended to the halts store (the CLI's kill and resume) and escalates while the kill file
    /// exists, now: the causal scheduler of the service on a replayed feed calls it between two records, about once a second.
    /// </summary>
    public void CheckNow()
    {
        if (run.Mode == RunMode.Service)
        {
            Check();
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _timer?.Dispose();
        // A check in progress finishes before the store can be disposed under it.
        while (Volatile.Read(ref _busy) == 1)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _timer?.Dispose();

    /// <summary>Reads the kill file: "1" → L1, "2" → L2; anything else (empty, unreadable) → L2, said loudly.</summary>
    public static (KillLevel Level, string Note) ReadKillFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (KillLevel.Flatten, $"kill file unreadable ({e.Message}): L2");
        }

        return text switch
        {
            "1" => (KillLevel.NoEntries, "kill file says 1"),
            "2" => (KillLevel.Flatten, "kill file says 2"),
            _ => (KillLevel.Flatten, $"kill file content '{(text.Length > 20 ? text[..20] + "…" : text)}' is not 1 or 2: L2"),
        };
    }

    private void Check()
    {
        if (_stopping || Interlocked.Exchange(ref _busy, 1) == 1)
        {
            return;
        }

        try
        {
            killSwitch.Refresh();
            if (File.Exists(_killFile))
            {
                var (level, note) = ReadKillFile(_killFile);
                if (killSwitch.Escalate(level, "kill-file", $"{note} ({_killFile})", clock.GetUtcNow()))
                {
                    // An operator's deliberate act, not a failure of the process: L1 (no entries) a warning, L2 (flatten) an error.
                    logger.Log(level >= KillLevel.Flatten ? LogLevel.Error : LogLevel.Warning,
                        "Kill file {KillFile} present: kill switch escalated to L{Level} ({Note})", _killFile, (int)level, note);
                }
            }
        }
        catch (Exception e) when (e is HaltStoreTamperedException or HaltStoreWriteException or Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // The kill switch cannot be trusted or updated: nothing may trade.
            logger.LogCritical(e, "Kill switch watcher failed: {Message}; stopping the host", e.Message);
            run.RecordFault("kill-switch", e);
            run.PipelineDrained.TrySetException(e);
            lifetime.StopApplication();
        }
        finally
        {
            Interlocked.Exchange(ref _busy, 0);
        }
    }

    /// <summary>Formats a state for the CLI.</summary>
    public static string Render(KillState state, DateTimeOffset nowUtc)
    {
        var inv = CultureInfo.InvariantCulture;
        var level = state.Level(nowUtc);
        var lines = new List<string>
        {
            string.Create(inv, $"effective level  L{(int)level} ({level})"),
            string.Create(inv, $"latched level    L{(int)state.LatchedLevel}{(state.LatchedLevel > KillLevel.Running ? $" since {UtcText.Of(state.LatchedSinceUtc, "?")}: {state.LatchedReason}" : "")}"),
        };
        foreach (var p in state.Pauses.Values.Where(p => p.IsActive(nowUtc)).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            lines.Add(string.Create(inv, $"pause            {p.Key} L{(int)p.Level} since {UtcText.Of(p.SinceUtc)} until {UtcText.Of(p.UntilUtc, "cleared")}: {p.Reason}"));
        }

        // The hash's tail: its first 8 hex digits are the resume confirmation code, shown only when asked for (resume without a code).
        lines.Add(string.Create(inv, $"last record      #{state.LastSequence} …{state.LastHash[^16..]}"));
        return string.Join(Environment.NewLine, lines);
    }
}
