using System.Globalization;
using MetalSniper.Core.Alerts;
using MetalSniper.InteractiveBrokers.Adapters;
using MetalSniper.InteractiveBrokers.Client;

namespace MetalSniper.Host.Brokers;

/// <summary>
/// The service started while TWS / IB Gateway was unreachable: it waits for it instead of exiting (a broker that is down is
/// transient; the session retries with capped, jittered backoff, <see cref="IbReconnectPipeline"/>). This watches that first
/// wait: a YELLOW alert at the first failed connect ("not reachable at start, waiting"), a RED one when the broker is still
/// unreachable <see cref="RedAfter"/> after the start, an INFO one when it answers at last; and the text systemd's
/// <c>STATUS=</c> and <c>/health/ready</c> show while it lasts. Only the first connection of the process is watched: a link
/// lost later is the session's and the state machine's (RED once per disconnection).
/// </summary>
/// <param name="session">The IB session (its <see cref="IbSession.ConnectFailed"/> and <see cref="IbSession.Connections"/>).</param>
/// <param name="alerts">Where the alerts go.</param>
/// <param name="redAfter">How long after the start an unreachable broker is RED (<c>Broker:InteractiveBrokers:StartupUnreachableRedSeconds</c>).</param>
/// <param name="wallClock">The wall clock (the wait is real time, never market time).</param>
public sealed class BrokerStartWait(IbSession session, IAlertSink alerts, TimeSpan redAfter, TimeProvider wallClock) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly DateTimeOffset _startedUtc = wallClock.GetUtcNow();
    private ITimer? _red;
    private int _attempts;
    private string _lastError = "";
    private DateTimeOffset? _firstFailureUtc;
    private bool _redRaised;
    private bool _over;

    /// <summary>How long after the start an unreachable broker raises the RED alert.</summary>
    public TimeSpan RedAfter => redAfter;

    /// <summary>True while the first connection has not been made and at least one attempt failed.</summary>
    public bool Waiting
    {
        get
        {
            lock (_gate)
            {
                return !_over && _firstFailureUtc is not null && session.Connections == 0;
            }
        }
    }

    /// <summary>Failed connect attempts before the first connection (0 when the broker answered at once).</summary>
    public int FailedAttempts
    {
        get
        {
            lock (_gate)
            {
                return _attempts;
            }
        }
    }

    /// <summary>Starts watching (the session's first connect attempts); call before the session runs.</summary>
    public void Start()
    {
        session.ConnectFailed += OnConnectFailed;
        session.Connected += OnConnectedAsync;
        lock (_gate)
        {
            _red = wallClock.CreateTimer(_ => OnRedDue(), null, redAfter, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// What the wait looks like now, for systemd's <c>STATUS=</c> and the readiness detail, e.g. "waiting for the broker: IB
    /// at 127.0.0.1:4002 unreachable for 42 s (9 attempts, last: connection refused), retrying with backoff"; null when not waiting.
    /// </summary>
    public string? Describe()
    {
        lock (_gate)
        {
            if (_over || _firstFailureUtc is null || session.Connections > 0)
            {
                return null;
            }

            var waited = wallClock.GetUtcNow() - _startedUtc;
            return string.Create(CultureInfo.InvariantCulture,
                $"waiting for the broker: IB at {session.Settings.Host}:{session.Settings.Port} unreachable for {waited.TotalSeconds:0} s since the start ({_attempts} attempt(s), last: {_lastError}), retrying with backoff; not ready, no orders");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        session.ConnectFailed -= OnConnectFailed;
        session.Connected -= OnConnectedAsync;
        lock (_gate)
        {
            _red?.Dispose();
            _red = null;
        }
    }

    private void OnConnectFailed(int attempt, TimeSpan delay, TwsConnectionException failure)
    {
        bool first;
        lock (_gate)
        {
            if (_over || session.Connections > 0)
            {
                return;
            }

            _attempts++;
            _lastError = failure.Message;
            first = _firstFailureUtc is null;
            _firstFailureUtc ??= wallClock.GetUtcNow();
        }

        if (first)
        {
            alerts.Raise(new Alert(AlertLevel.Yellow, "BrokerWait", string.Create(CultureInfo.InvariantCulture,
                $"IB not reachable at start ({session.Settings.Host}:{session.Settings.Port}: {failure.Message}): the service waits for it, retrying with backoff; not ready and no orders until connected and reconciled (RED if still unreachable {redAfter.TotalSeconds:0} s after the start)"),
                wallClock.GetUtcNow()));
        }
    }

    private void OnRedDue()
    {
        string text;
        lock (_gate)
        {
            if (_over || session.Connections > 0 || _firstFailureUtc is null)
            {
                return;
            }

            _redRaised = true;
            text = string.Create(CultureInfo.InvariantCulture,
                $"IB still unreachable {(wallClock.GetUtcNow() - _startedUtc).TotalSeconds:0} s after the start ({session.Settings.Host}:{session.Settings.Port}, {_attempts} attempt(s), last: {_lastError}): nothing trades; the service keeps waiting (is TWS / IB Gateway running and logged in, with the API enabled on that port?)");
        }

        alerts.Raise(new Alert(AlertLevel.Red, "BrokerWait", text, wallClock.GetUtcNow()));
    }

    private Task OnConnectedAsync(CancellationToken cancellationToken)
    {
        string? text = null;
        lock (_gate)
        {
            if (_over)
            {
                return Task.CompletedTask;
            }

            _over = true;
            _red?.Dispose();
            _red = null;
            if (_firstFailureUtc is not null)
            {
                text = string.Create(CultureInfo.InvariantCulture,
                    $"IB reachable at {session.Settings.Host}:{session.Settings.Port} {(wallClock.GetUtcNow() - _startedUtc).TotalSeconds:0} s after the start (after {_attempts} failed attempt(s){(_redRaised ? ", past the RED" : "")}): connected; orders wait for the reconciliation and the warm-up");
            }
        }

        if (text is not null)
        {
            alerts.Raise(new Alert(AlertLevel.Info, "BrokerWait", text, wallClock.GetUtcNow()));
        }

        return Task.CompletedTask;
    }
}
