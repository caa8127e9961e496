using System.Runtime.CompilerServices;
using System.Collections.Concurrent;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Positions;

namespace MetalSniper.Engine.Pipeline;

/// <summary>How the process runs.</summary>
public enum RunMode
{
    /// <summary>The long-running service (<c>run</c>).</summary>
    Service,

    /// <summary>A finite replay that ends when the data ends (<c>replay</c>, <c>bench</c>).</summary>
    Replay,
}

/// <summary>
/// Shared facts about this run: its id, mode, counters for the summary, completion signals and
/// recorded faults. Thread-safe.
/// </summary>
public sealed class RunContext(string runId, RunMode mode)
{
    private readonly ConcurrentDictionary<string, long> _decisionsByKind = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Service, Exception Error)> _faults = new();
    private long _decisions;
    private long _orders;
    private long _denied;
    private long _rejected;
    private long _fills;
    private long _barsProcessed;
    private Core.MarketData.DataFileException? _dataError;

    private StrongBox<(string Book, bool PositionsOpen)>? _stoppedBeforeDataEnded;

    /// <summary>
    /// True when the pipeline runs on the causal scheduler (ingest, brain, hands, simulated broker and sentinel in causal order on
    /// one thread): every replay, and the service on a replayed feed (the embedded default). False for the service's own threads.
    /// </summary>
    public bool Causal { get; init; }

    /// <summary>
    /// Set when a service run on a replayed feed stopped cleanly before its data ended: the book it left at the broker, and
    /// whether a position is open (it resumes on the next start).
    /// </summary>
    public (string Book, bool PositionsOpen)? StoppedBeforeDataEndedWith => Volatile.Read(ref _stoppedBeforeDataEnded)?.Value;

    /// <summary>Records that the service stopped cleanly before its replayed data ended, leaving <paramref name="book"/> at the broker.</summary>
    public void StoppedBeforeDataEnded(string book, bool positionsOpen) => Volatile.Write(ref _stoppedBeforeDataEnded, new StrongBox<(string, bool)>((book, positionsOpen)));

    /// <summary>The run id (also the prefix of decision and order ids).</summary>
    public string RunId => runId;

    /// <summary>Service or replay.</summary>
    public RunMode Mode => mode;

    /// <summary>Set when the execution service has processed every command after the data ended (replay).</summary>
    public TaskCompletionSource PipelineDrained { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when ingest has read its source to the end.</summary>
    public TaskCompletionSource IngestCompleted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Decisions recorded.</summary>
    public long Decisions => Interlocked.Read(ref _decisions);

    /// <summary>Orders that passed the gates and were sent.</summary>
    public long OrdersSent => Interlocked.Read(ref _orders);

    /// <summary>Orders refused by a pre-trade gate.</summary>
    public long OrdersDenied => Interlocked.Read(ref _denied);

    /// <summary>Orders rejected by the gateway.</summary>
    public long OrdersRejected => Interlocked.Read(ref _rejected);

    /// <summary>Executions.</summary>
    public long Fills => Interlocked.Read(ref _fills);

    /// <summary>Bars the brain evaluated.</summary>
    public long BarsProcessed => Interlocked.Read(ref _barsProcessed);

    /// <summary>Decisions by "kind/outcome".</summary>
    public IReadOnlyDictionary<string, long> DecisionsByKind => new SortedDictionary<string, long>(_decisionsByKind, StringComparer.Ordinal);

    /// <summary>Faults of services (any fault makes the process exit non-zero).</summary>
    public IReadOnlyList<(string Service, Exception Error)> Faults => _faults.ToArray();

    /// <summary>
    /// The user's data file that stopped the run (not gzip, empty, a wrong header, no rows): a data error, exit 65, not a fault of
    /// the process; null when none.
    /// </summary>
    public Core.MarketData.DataFileException? DataError => Volatile.Read(ref _dataError);

    /// <summary>Records the data error that stops the run (the first one counts); journaled like a fault, but not one.</summary>
    /// <param name="service">The service that met it.</param>
    /// <param name="error">The file and its defect.</param>
    public void RecordDataError(string service, Core.MarketData.DataFileException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (Interlocked.CompareExchange(ref _dataError, error, null) is null)
        {
            DataErrorRecorded?.Invoke(service, error);
        }
    }

    /// <summary>Closed trades and the equity curve statistics, set by the execution service.</summary>
    public TradeStatistics Trades { get; } = new();

    internal void CountDecision(DecisionRecord d)
    {
        Interlocked.Increment(ref _decisions);
        _decisionsByKind.AddOrUpdate($"{d.KindLabel}/{d.Outcome}", 1, (_, n) => n + 1);
    }

    internal void CountOrderSent() => Interlocked.Increment(ref _orders);

    internal void CountOrderDenied() => Interlocked.Increment(ref _denied);

    internal void CountOrderRejected() => Interlocked.Increment(ref _rejected);

    internal void CountFill() => Interlocked.Increment(ref _fills);

    internal void CountBar() => Interlocked.Increment(ref _barsProcessed);

    /// <summary>
    /// The equity curve (equity P&amp;L incl. open, base currency), at most one point per market hour: the service keeps the
    /// latest 2,000 (the operator window); a replay keeps every hour (its report and statistics need the whole curve).
    /// </summary>
    public EquityCurve Equity { get; } = new(mode == RunMode.Replay ? int.MaxValue : 2000);

    /// <summary>Records a service fault.</summary>
    public void RecordFault(string service, Exception error)
    {
        _faults.Enqueue((service, error));
        FaultRecorded?.Invoke(service, error);
    }

    /// <summary>Raised on the recording thread for every fault (the journal service turns it into a RED alert).</summary>
    public event Action<string, Exception>? FaultRecorded;

    /// <summary>Raised once when a data error stops the run (the journal records it and raises a YELLOW DataError, not a fault).</summary>
    public event Action<string, Core.MarketData.DataFileException>? DataErrorRecorded;
}

/// <summary>
/// Closed trades and the mark-to-market equity curve (P&amp;L net of commissions, base currency),
/// maintained by the execution service after every bar: max drawdown is peak-to-trough of that
/// curve, open P&amp;L included.
/// </summary>
public sealed class TradeStatistics
{
    private readonly Lock _gate = new();
    private readonly List<ClosedTrade> _trades = [];
    private decimal _equity;
    private decimal _peak;
    private decimal _maxDrawdown;

    /// <summary>Adds a closed trade.</summary>
    public void Add(ClosedTrade trade)
    {
        lock (_gate)
        {
            _trades.Add(trade);
        }
    }

    /// <summary>Records the equity P&amp;L after a bar.</summary>
    public void Mark(decimal equityPnl)
    {
        lock (_gate)
        {
            _equity = equityPnl;
            _peak = Math.Max(_peak, equityPnl);
            _maxDrawdown = Math.Max(_maxDrawdown, _peak - equityPnl);
        }
    }

    /// <summary>A consistent copy.</summary>
    public (IReadOnlyList<ClosedTrade> Trades, decimal EquityPnl, decimal MaxDrawdown) Snapshot()
    {
        lock (_gate)
        {
            return (_trades.ToArray(), _equity, _maxDrawdown);
        }
    }
}

/// <summary>A thinned equity curve: one point per market hour (the last value of the hour), the latest <c>kept</c>. Thread-safe.</summary>
/// <param name="kept">How many hourly points are kept (the oldest are dropped beyond it).</param>
public sealed class EquityCurve(int kept = 2000)
{
    private readonly int _kept = kept > 0 ? kept : throw new ArgumentOutOfRangeException(nameof(kept), kept, "must be > 0");
    private readonly Lock _gate = new();
    private readonly Queue<(DateTimeOffset TimeUtc, decimal Equity)> _points = new();
    private (DateTimeOffset TimeUtc, decimal Equity)? _last;

    /// <summary>Adds a mark; keeps it when an hour has passed since the last kept point, else updates that point's value.</summary>
    public void Add(DateTimeOffset timeUtc, decimal equity)
    {
        lock (_gate)
        {
            if (_last is { } l && timeUtc - l.TimeUtc < TimeSpan.FromHours(1))
            {
                _last = (l.TimeUtc, equity);
                return;
            }

            if (_last is { } kept)
            {
                _points.Enqueue(kept);
                while (_points.Count > _kept)
                {
                    _points.Dequeue();
                }
            }

            _last = (timeUtc, equity);
        }
    }

    /// <summary>The points so far, oldest first (the newest, still open hour last).</summary>
    public IReadOnlyList<(DateTimeOffset TimeUtc, decimal Equity)> Points()
    {
        lock (_gate)
        {
            return [.. _points, .. _last is { } l ? new[] { l } : []];
        }
    }
}
