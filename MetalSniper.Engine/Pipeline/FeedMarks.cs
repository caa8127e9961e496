using System.Globalization;
using Dapper;
using MetalSniper.Core.Alerts;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Alerts;
using MetalSniper.Persistence;
using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Engine.Pipeline;

/// <summary>The configuration's fingerprint (<c>ConfigFingerprint</c> over the journaled sections): a run resumes only under the configuration it started with.</summary>
/// <param name="Hash">SHA-256 hex of the configuration's settings.</param>
public sealed record ConfigHash(string Hash);

/// <summary>Why the service did not resume the run it found open on its database (a new run starts; the old one is closed with this reason).</summary>
/// <param name="Reason">The reason, for the alert and the run's exit status.</param>
public sealed record ResumeRefusal(string Reason);

/// <summary>
/// A restart of the service on a replayed feed (the embedded default) resumes its run instead of starting cold. The service runs
/// that feed on the causal scheduler, so the run is deterministic and is recovered the way a crashed replay is
/// (<see cref="RunResume"/>): re-executed from its first record without pacing, every write matched or idempotent, the simulated
/// broker restored from its own store — which brings back the feed position, the book, the working orders, the strategies' state,
/// the day's P&amp;L and the breakers' windows exactly as they were, before any new order can leave. What re-execution cannot make
/// again are the outside events: the operator's kill and resume, the kill file. Feed marks (table <c>feed_marks</c>) say at which
/// record of the feed each of them first took effect; this class writes them as the run goes (at start, whenever an outside halts
/// record took effect — committed before the next record —, about every 200 ms of wall time, and at a clean stop), and on a
/// resume applies the outside records again at their marks, the rest at the end of the catch-up.
/// </summary>
public sealed class FeedMarks
{
    /// <summary>Wall time between marks while the run goes (the feed position a restart catches up to without pacing).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>Wall time between looks at the halts store and the kill file (the operator's CLI and kill file).</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly RunContext _run;
    private readonly RunResume _resume;
    private readonly PersistenceWriter _writer;
    private readonly KillSwitch _killSwitch;
    private readonly ConfigHash _config;
    private readonly WallClock _wall;
    private readonly AlertHub _alerts;
    private readonly IOrderGateway _gateway;
    private readonly ILogger<FeedMarks> _logger;
    private readonly Queue<(long Records, long HaltSequence)> _marks = new();
    private long _lastMarkTimestamp;
    private long _lastCheckTimestamp;
    private long _lastMarkedRecords = -1;
    private long _catchUpStarted;
    private volatile bool _outsideRecordApplied;
    private volatile bool _catchingUp;
    private readonly string? _earlierStatus;

    /// <summary>Loads the run's marks when it resumes.</summary>
    public FeedMarks(RunContext run, RunResume resume, PersistenceWriter writer, KillSwitch killSwitch, ConfigHash config, WallClock wall, AlertHub alerts, IOrderGateway gateway, ILogger<FeedMarks> logger)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(resume);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(killSwitch);
        _run = run;
        _resume = resume;
        _writer = writer;
        _killSwitch = killSwitch;
        _config = config;
        _wall = wall;
        _alerts = alerts;
        _gateway = gateway;
        _logger = logger;
        if (resume.IsResume)
        {
            foreach (var mark in Read(writer.Database, run.RunId))
            {
                _marks.Enqueue(mark);
                CatchUpRecords = Math.Max(CatchUpRecords, mark.Records);
            }

            // No mark: the earlier attempt stopped in its start-up, before its first record; this one starts the run afresh.
            _catchingUp = _marks.Count > 0;
            // Read before this attempt's start clears it: a status means the last attempt stopped cleanly (none: it was killed).
            _earlierStatus = ReadStatus();
        }

        killSwitch.Recorded += r =>
        {
            if (!_catchingUp && !KillSwitch.IsOwnRecord(r.Draft))
            {
                _outsideRecordApplied = true;
            }
        };
    }

    /// <summary>Records of the feed the earlier attempts had taken by their last mark: re-executed without pacing.</summary>
    public long CatchUpRecords { get; }

    /// <summary>True while a resumed run re-executes its earlier attempts' part of the feed.</summary>
    public bool CatchingUp => _catchingUp;

    /// <summary>Outside halts records (operator, kill file) applied again while catching up.</summary>
    public int OperatorRecordsReapplied { get; private set; }

    /// <summary>
    /// The feed marks of a run, in feed order: (records taken before the mark, last halts record applied there).
    /// </summary>
    public static IReadOnlyList<(long Records, long HaltSequence)> Read(Database database, string runId)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var c = database.OpenConnection();
        return [.. c.Query<(long, long)>("SELECT records, halt_sequence FROM feed_marks WHERE run_id=@runId ORDER BY records", new { runId })];
    }

    /// <summary>
    /// The service run to resume on this database, if any: the latest service run that has not ended and whose first feed mark
    /// was made under the same configuration. Null (with the reason) when there is none or it cannot be resumed.
    /// </summary>
    public static (string? RunId, string? Refusal) FindResumable(Database database, string configHash)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var c = database.OpenConnection();
        var open = c.QuerySingleOrDefault<(string RunId, string Started)?>(
            "SELECT run_id, started_utc FROM runs WHERE mode='Service' AND ended_utc IS NULL ORDER BY started_utc DESC, rowid DESC LIMIT 1");
        if (open is not { } r)
        {
            return (null, null);
        }

        var first = c.QuerySingleOrDefault<string?>("SELECT config_hash FROM feed_marks WHERE run_id=@id ORDER BY records LIMIT 1", new { id = r.RunId });
        var acted = c.ExecuteScalar<long>("SELECT (SELECT COUNT(*) FROM decisions WHERE run_id=@id) + (SELECT COUNT(*) FROM orders WHERE run_id=@id)", new { id = r.RunId });
        return first switch
        {
            // Stopped in its start-up, before its first record: nothing to re-execute, and the run goes on as if it had just started.
            null when acted == 0 => (r.RunId, null),
            null => (null, $"run {r.RunId} (started {r.Started}) has no feed mark: it never ran on a replayed feed under the causal scheduler"),
            _ when !string.Equals(first, configHash, StringComparison.Ordinal) => (null, $"run {r.RunId} (started {r.Started}) ran under another configuration ({first[..12]}…, now {configHash[..12]}…): a run resumes only under the configuration it started with"),
            _ => (r.RunId, null),
        };
    }

    /// <summary>Before the first record: a new run marks its start (the halts records it starts from), durably.</summary>
    public async ValueTask StartAsync(CancellationToken ct)
    {
        _catchUpStarted = _wall.Provider.GetTimestamp();
        if (!_catchingUp)
        {
            await MarkAsync(0, null, durable: true, ct).ConfigureAwait(false);
            return;
        }

        _logger.LogWarning("Run {RunId} resumes (attempt {Attempt}): re-executing {Records} records of the feed without pacing, {Marks} feed marks, {Operator} operator halts record(s) to apply again",
            _run.RunId, _resume.Attempt, CatchUpRecords, _marks.Count, _killSwitch.OperatorRecordsPending);
    }

    /// <summary>
    /// Before the feed's record at <paramref name="index"/> (that many records taken): while catching up, applies the outside halts
    /// records at their marks and ends the catch-up at the last mark; afterwards, looks at the operator's halts and kill file about once
    /// a second (<paramref name="checkOutside"/>) and marks the feed position.
    /// </summary>
    /// <returns>True when the catch-up ended here.</returns>
    public async ValueTask<bool> BeforeRecordAsync(long index, DateTimeOffset? lastBarCloseUtc, Action checkOutside, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(checkOutside);
        if (_catchingUp)
        {
            ApplyMarksThrough(index);
            if (index < CatchUpRecords)
            {
                return false;
            }

            await EndCatchUpAsync(index, lastBarCloseUtc, checkOutside, ct).ConfigureAwait(false);
            return true;
        }

        var now = _wall.Provider.GetTimestamp();
        if (_wall.Provider.GetElapsedTime(_lastCheckTimestamp, now) >= CheckInterval)
        {
            _lastCheckTimestamp = now;
            checkOutside();
        }

        if (_outsideRecordApplied)
        {
            // The operator's halt took effect before this record: its mark is committed before anything this record causes.
            _outsideRecordApplied = false;
            await MarkAsync(index, lastBarCloseUtc, durable: true, ct).ConfigureAwait(false);
        }
        else if (_wall.Provider.GetElapsedTime(_lastMarkTimestamp, now) >= Interval)
        {
            await MarkAsync(index, lastBarCloseUtc, durable: false, ct).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>
    /// The feed ended before the catch-up did (the earlier attempt had read it all): the catch-up ends here.
    /// </summary>
    public async ValueTask FinishCatchUpIfNeededAsync(long index, DateTimeOffset? lastBarCloseUtc, Action checkOutside, CancellationToken ct)
    {
        if (_catchingUp)
        {
            ApplyMarksThrough(long.MaxValue);
            await EndCatchUpAsync(index, lastBarCloseUtc, checkOutside, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Applies again the outside halts records of every mark at or before record <paramref name="index"/>.</summary>
    private void ApplyMarksThrough(long index)
    {
        while (_marks.Count > 0 && _marks.Peek().Records <= index)
        {
            OperatorRecordsReapplied += _killSwitch.ApplyOperatorRecordsThrough(_marks.Dequeue().HaltSequence);
        }
    }

    /// <summary>A clean stop, or the end of the data: the feed position as it is (committed with the writer's next batch).</summary>
    public ValueTask StopAsync(long index, DateTimeOffset? lastBarCloseUtc, CancellationToken ct) =>
        _catchingUp ? ValueTask.CompletedTask : MarkAsync(index, lastBarCloseUtc, durable: false, ct);

    private async ValueTask EndCatchUpAsync(long index, DateTimeOffset? lastBarCloseUtc, Action checkOutside, CancellationToken ct)
    {
        _catchingUp = false;
        var pending = _killSwitch.ApplyPendingOperatorRecords();
        OperatorRecordsReapplied += pending + _killSwitch.OperatorRecordsAppliedWithOwn;
        // What the operator did while the service was down (kill file, CLI) takes effect now, before any new order can leave.
        checkOutside();
        _outsideRecordApplied = false;
        await MarkAsync(index, lastBarCloseUtc, durable: true, ct).ConfigureAwait(false);
        var elapsed = _wall.Provider.GetElapsedTime(_catchUpStarted);
        var (book, _) = await DescribeBookAsync(ct).ConfigureAwait(false);
        var clean = _earlierStatus is not null;
        var text = string.Create(CultureInfo.InvariantCulture,
            $"run {_run.RunId} resumed (attempt {_resume.Attempt}) after {(clean ? "a clean stop" : "an unclean end (crash, kill -9 or power loss)")}: {index} records re-executed in {elapsed.TotalSeconds:0.0} s, the feed goes on from {(lastBarCloseUtc is { } t ? t.ToString("O", CultureInfo.InvariantCulture) : "its start")}; {book}; {OperatorRecordsReapplied} operator halts record(s) applied again ({pending} new since the last mark); kill switch L{(int)_killSwitch.Level(lastBarCloseUtc ?? DateTimeOffset.MinValue)}");
        _logger.LogWarning("{Text}", text);
        _alerts.Raise(clean ? AlertLevel.Yellow : AlertLevel.Red, clean ? "ServiceResumed" : "UncleanRestart", text);

        // Re-execution meets the sentinel's earlier halts records as it writes them again; one written differently means this
        // attempt left the earlier path (other data or code): said loudly, never assumed away. (Records the earlier attempt wrote
        // after its last mark are still ahead here, and are met as the run goes on.)
        if (_killSwitch.ReexecutionDivergence is { } divergence)
        {
            var what = $"run {_run.RunId} resumed off its earlier path: {divergence}; from there on its halts records are new ones";
            _logger.LogError("{Text}", what);
            _alerts.Raise(AlertLevel.Red, "ResumeDiverged", what);
        }
    }

    private string? ReadStatus()
    {
        using var c = _writer.Database.OpenConnection();
        return c.QuerySingleOrDefault<string?>("SELECT exit_status FROM runs WHERE run_id=@id", new { id = _run.RunId });
    }

    /// <summary>The broker's positions and working orders in one line (alerts at a resume and at a stop with positions open), and whether any position is open.</summary>
    public async Task<(string Text, bool PositionsOpen)> DescribeBookAsync(CancellationToken ct)
    {
        var positions = (await _gateway.GetPositionsAsync(ct).ConfigureAwait(false)).Where(p => p.Quantity != 0m).ToList();
        var orders = await _gateway.GetOpenOrdersAsync(ct).ConfigureAwait(false);
        if (positions.Count == 0)
        {
            return (orders.Count == 0 ? "flat, no working orders" : string.Create(CultureInfo.InvariantCulture, $"flat, {orders.Count} working order(s)"), false);
        }

        return ("positions " + string.Join(", ", positions.Select(p =>
        {
            var stops = orders.Where(o => o.Symbol == p.Symbol && o.Type == OrderType.Stop).Select(o => string.Create(CultureInfo.InvariantCulture, $"{o.Side} stop {o.StopPrice} x {o.Quantity - o.FilledQuantity}")).ToList();
            return string.Create(CultureInfo.InvariantCulture, $"{p.Symbol} {p.Quantity:+0.####;-0.####} @ {Math.Round(p.AveragePrice, 6)} ({(stops.Count == 0 ? "NO protective stop working" : string.Join("; ", stops))})");
        })), true);
    }

    private async ValueTask MarkAsync(long index, DateTimeOffset? lastBarCloseUtc, bool durable, CancellationToken ct)
    {
        _lastMarkTimestamp = _wall.Provider.GetTimestamp();
        if (index == _lastMarkedRecords && !durable)
        {
            return;
        }

        _lastMarkedRecords = index;
        await _writer.EnqueueAsync(new PersistFeedMark(_run.RunId, index, lastBarCloseUtc, _killSwitch.State.LastSequence, _config.Hash, _wall.Provider.GetUtcNow()), ct).ConfigureAwait(false);
        if (durable)
        {
            await _writer.FlushAsync(ct).ConfigureAwait(false);
        }
    }
}
