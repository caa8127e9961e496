using System.Globalization;

namespace MetalSniper.InteractiveBrokers.Connection;

/// <summary>Where the link to TWS / IB Gateway stands, as far as trading is concerned.</summary>
public enum IbConnectionState
{
    /// <summary>Not connected yet (start-up): nothing is sent.</summary>
    Disconnected,

    /// <summary>Connected; data flows, orders wait for reconciliation (entries and exits refused).</summary>
    DataOnly,

    /// <summary>Reconciled after a (re)connect; risk exits pass, entries wait for the warm-up to end.</summary>
    ReconnectWarmup,

    /// <summary>Everything passes (inside the gates).</summary>
    FullyLive,

    /// <summary>The link was lost (socket, 1100, half-open): entries refused, risk exits still try (and retry).</summary>
    ExecutionDegraded,
}

/// <summary>A state change, for the journal and the alerts.</summary>
/// <param name="From">Previous state.</param>
/// <param name="To">New state.</param>
/// <param name="Reason">Why (the event that caused it).</param>
/// <param name="AtUtc">When.</param>
public sealed record IbStateChange(IbConnectionState From, IbConnectionState To, string Reason, DateTimeOffset AtUtc);

/// <summary>
/// The connection state machine of the IB gateway (IB-NOTES.md "Sessions and resets", TWS-PROTOCOL.md §8):
/// DISCONNECTED → (handshake) DATA_ONLY → (reconciliation succeeded) RECONNECT_WARMUP → (warm-up elapsed)
/// FULLY_LIVE; a lost link (socket closed, code 1100 or 2110, a heartbeat that goes unanswered) is EXECUTION_DEGRADED,
/// which refuses entries but lets risk exits try. 1101 (restored, data lost) and 1102 (restored, data kept)
/// go back to DATA_ONLY: fills may have happened while the link was down, so orders wait for reconciliation
/// again (<see cref="ReconciliationNeeded"/>: the socket stayed up, so no handshake starts it; 1101 also asks for
/// the market data to be subscribed anew). Data-farm notices (2103-2108, 2157/2158)
/// are tracked apart: a broken farm is a data problem, not an execution one. Submission is also refused
/// inside the configured quiet windows (IB's nightly reset, the gateway's daily restart), when orders sent into
/// a dying session are lost. Thread-safe; every clock read comes from the caller's <see cref="TimeProvider"/>.
/// </summary>
public sealed class IbConnectionStateMachine
{
    private readonly Lock _gate = new();
    private readonly TimeSpan _warmup;
    private readonly IReadOnlyList<(TimeOnly Start, TimeOnly End)> _quietWindows;
    private readonly TimeZoneInfo _quietZone;
    private readonly Dictionary<string, bool> _farms = new(StringComparer.Ordinal);
    private IbConnectionState _state = IbConnectionState.Disconnected;
    private DateTimeOffset _warmupUntil;
    private string _reason = "not connected yet";
    private long _epoch;

    /// <summary>Creates the state machine.</summary>
    /// <param name="warmup">How long RECONNECT_WARMUP lasts after a successful reconciliation.</param>
    /// <param name="quietWindows">Local-time windows without submission (a window may cross midnight).</param>
    /// <param name="quietZone">The time zone of the windows.</param>
    public IbConnectionStateMachine(TimeSpan warmup, IReadOnlyList<(TimeOnly Start, TimeOnly End)> quietWindows, TimeZoneInfo quietZone)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(warmup, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(quietWindows);
        ArgumentNullException.ThrowIfNull(quietZone);
        _warmup = warmup;
        _quietWindows = quietWindows;
        _quietZone = quietZone;
    }

    /// <summary>Raised (outside the lock) on every state change.</summary>
    public event Action<IbStateChange>? Changed;

    /// <summary>Raised (outside the lock) when market data must be subscribed anew (1101: restored, data lost; and every reconnect).</summary>
    public event Action<string>? ResubscribeNeeded;

    /// <summary>
    /// Raised (outside the lock) when the link came back with the socket kept up (1101, 1102): reconciliation must run
    /// again (fills may have happened meanwhile) before any order, and nothing else would start it (no handshake).
    /// </summary>
    public event Action<string>? ReconciliationNeeded;

    /// <summary>
    /// Counts the times reconciliation became due (each handshake, 1101, 1102). A reconciliation reports the epoch it
    /// started in (<see cref="OnReconciled(bool, string, DateTimeOffset, long?)"/>): one that began before the latest
    /// 1101/1102 proves nothing about what happened after it started and is ignored.
    /// </summary>
    public long ReconciliationEpoch
    {
        get
        {
            lock (_gate)
            {
                return _epoch;
            }
        }
    }

    /// <summary>True once reconciliation has to run (after a handshake, 1101 or 1102) and has not yet succeeded.</summary>
    public bool ReconciliationPending
    {
        get
        {
            lock (_gate)
            {
                return _state == IbConnectionState.DataOnly;
            }
        }
    }

    /// <summary>The state at <paramref name="nowUtc"/> (the warm-up ends by itself).</summary>
    public IbConnectionState State(DateTimeOffset nowUtc)
    {
        IbStateChange? change = null;
        IbConnectionState state;
        lock (_gate)
        {
            if (_state == IbConnectionState.ReconnectWarmup && nowUtc >= _warmupUntil)
            {
                change = Move(IbConnectionState.FullyLive, $"warm-up of {_warmup.TotalSeconds:0} s over", nowUtc);
            }

            state = _state;
        }

        Publish(change);
        return state;
    }

    /// <summary>Why the state is what it is.</summary>
    public string Reason
    {
        get
        {
            lock (_gate)
            {
                return _reason;
            }
        }
    }

    /// <summary>Data farms currently reported broken (2103 market data, 2105 historical, 2157 sec-def), by name.</summary>
    public IReadOnlyList<string> BrokenFarms
    {
        get
        {
            lock (_gate)
            {
                return _farms.Where(f => !f.Value).Select(f => f.Key).Order(StringComparer.Ordinal).ToList();
            }
        }
    }

    /// <summary>The handshake completed (nextValidId and managedAccounts received): data may flow; orders wait for reconciliation.</summary>
    public void OnConnected(DateTimeOffset nowUtc)
    {
        IbStateChange? change;
        lock (_gate)
        {
            change = Move(IbConnectionState.DataOnly, "connected: reconciling before any order", nowUtc);
            _epoch++;
        }

        Publish(change);
        ResubscribeNeeded?.Invoke("connected");
    }

    /// <summary>The link is gone (socket closed, heartbeat unanswered, 1100).</summary>
    public void OnDisconnected(string reason, DateTimeOffset nowUtc)
    {
        IbStateChange? change;
        lock (_gate)
        {
            change = _state == IbConnectionState.Disconnected ? null : Move(IbConnectionState.ExecutionDegraded, reason, nowUtc);
        }

        Publish(change);
    }

    /// <summary>Reconciliation after a (re)connect finished: success starts the warm-up; a failure (timeout, mismatch) keeps orders waiting.</summary>
    /// <param name="ok">True when it succeeded.</param>
    /// <param name="detail">What it found, or why it failed.</param>
    /// <param name="nowUtc">When.</param>
    /// <param name="epoch">The <see cref="ReconciliationEpoch"/> it started in; null: the current one. A stale epoch is ignored (returns false).</param>
    /// <returns>False when the result was ignored (stale: a later 1101/1102 or handshake made another reconciliation due).</returns>
    public bool OnReconciled(bool ok, string detail, DateTimeOffset nowUtc, long? epoch = null)
    {
        IbStateChange? change = null;
        lock (_gate)
        {
            if (epoch is { } started && started != _epoch)
            {
                return false;
            }

            if (_state == IbConnectionState.DataOnly)
            {
                if (ok)
                {
                    _warmupUntil = nowUtc + _warmup;
                    change = Move(IbConnectionState.ReconnectWarmup, $"reconciled ({detail}); entries after a warm-up until {_warmupUntil:HH:mm:ss} UTC", nowUtc);
                }
                else
                {
                    _reason = "reconciliation failed: " + detail;
                }
            }
        }

        Publish(change);
        return true;
    }

    /// <summary>
    /// An error/notice code of TWS (message 4, id −1): 1100 connectivity lost and 2110 connectivity between TWS and IB's
    /// servers broken (both EXECUTION_DEGRADED: entries refused); 1101 restored, data lost (DATA_ONLY: re-subscribe and
    /// reconcile); 1102 restored, data kept (DATA_ONLY: reconcile) — then warm-up, then FULLY_LIVE, with the socket kept
    /// up all along; 2103/2105/2157 a farm broken; 2104/2106/2158 a farm OK; 2107/2108 inactive but available.
    /// </summary>
    /// <param name="code">The code.</param>
    /// <param name="message">Its text (the farm name is taken from it: "...:usfarm").</param>
    /// <param name="nowUtc">When.</param>
    /// <returns>True when the code was a connectivity or farm notice handled here.</returns>
    public bool OnSystemCode(int code, string message, DateTimeOffset nowUtc)
    {
        IbStateChange? change = null;
        var resubscribe = false;
        var reconcile = false;
        lock (_gate)
        {
            switch (code)
            {
                case 1100:
                    change = Move(IbConnectionState.ExecutionDegraded, "1100 connectivity between IB and TWS lost", nowUtc);
                    break;
                case 2110:
                    change = Move(IbConnectionState.ExecutionDegraded, "2110 connectivity between TWS and IB's servers broken", nowUtc);
                    break;
                case 1101:
                    change = Move(IbConnectionState.DataOnly, "1101 connectivity restored, market data lost: resubscribing and reconciling", nowUtc);
                    _epoch++;
                    resubscribe = true;
                    reconcile = true;
                    break;
                case 1102:
                    change = Move(IbConnectionState.DataOnly, "1102 connectivity restored, data kept: reconciling (fills may have happened)", nowUtc);
                    _epoch++;
                    reconcile = true;
                    break;
                case 2103 or 2105 or 2157:
                    _farms[Farm(code, message)] = false;
                    break;
                case 2104 or 2106 or 2158 or 2107 or 2108:
                    _farms[Farm(code, message)] = true;
                    break;
                default:
                    return false;
            }
        }

        Publish(change);
        if (resubscribe)
        {
            ResubscribeNeeded?.Invoke("1101");
        }

        if (reconcile)
        {
            ReconciliationNeeded?.Invoke(code.ToString(CultureInfo.InvariantCulture));
        }

        return true;
    }

    /// <summary>
    /// Whether an order may be submitted now: null when it may, else why not. Entries (orders that open risk) need
    /// FULLY_LIVE; risk exits pass in RECONNECT_WARMUP and EXECUTION_DEGRADED (they try, and are retried if the link
    /// refuses them). Nothing is submitted in DATA_ONLY (reconciliation pending), while disconnected at start-up, or
    /// inside a quiet window.
    /// </summary>
    public string? SubmissionBlocked(bool opensRisk, DateTimeOffset nowUtc)
    {
        var state = State(nowUtc);
        if (InQuietWindow(nowUtc) is { } window)
        {
            return $"inside the quiet window {window} ({_quietZone.Id}): IB's reset / the gateway's restart loses orders";
        }

        return state switch
        {
            IbConnectionState.FullyLive => null,
            IbConnectionState.ReconnectWarmup or IbConnectionState.ExecutionDegraded when !opensRisk => null,
            IbConnectionState.ReconnectWarmup => $"RECONNECT_WARMUP: entries wait until {_warmupUntil:HH:mm:ss} UTC",
            IbConnectionState.ExecutionDegraded => "EXECUTION_DEGRADED: " + Reason,
            IbConnectionState.DataOnly => "DATA_ONLY: " + Reason,
            _ => "DISCONNECTED: " + Reason,
        };
    }

    /// <summary>The quiet window containing <paramref name="nowUtc"/>, as "HH:mm-HH:mm", or null.</summary>
    public string? InQuietWindow(DateTimeOffset nowUtc)
    {
        var local = TimeOnly.FromDateTime(TimeZoneInfo.ConvertTime(nowUtc, _quietZone).DateTime);
        foreach (var (start, end) in _quietWindows)
        {
            var inside = start <= end ? local >= start && local < end : local >= start || local < end;
            if (inside)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{start:HH\\:mm}-{end:HH\\:mm}");
            }
        }

        return null;
    }

    private static string Farm(int code, string message)
    {
        var colon = message.LastIndexOf(':');
        var name = colon >= 0 && colon < message.Length - 1 ? message[(colon + 1)..].Trim() : "";
        var kind = code is 2103 or 2104 or 2108 ? "market data" : code is 2157 or 2158 ? "sec-def" : "historical";
        return name.Length > 0 ? $"{kind} {name}" : kind;
    }

    private IbStateChange? Move(IbConnectionState to, string reason, DateTimeOffset nowUtc)
    {
        var from = _state;
        _state = to;
        _reason = reason;
        return from == to ? null : new IbStateChange(from, to, reason, nowUtc);
    }

    private void Publish(IbStateChange? change)
    {
        if (change is not null)
        {
            Changed?.Invoke(change);
        }
    }
}
