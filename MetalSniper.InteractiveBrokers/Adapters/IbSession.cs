using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using System.Reactive.Threading.Tasks;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Connection;
using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging;
using Polly;

namespace MetalSniper.InteractiveBrokers.Adapters;

/// <summary>Where and how the session connects.</summary>
/// <param name="Host">TWS / IB Gateway host.</param>
/// <param name="Port">API port.</param>
/// <param name="ClientId">API client id.</param>
/// <param name="Account">The account to trade; empty: the single managed account.</param>
/// <param name="ConnectTimeout">Handshake timeout.</param>
/// <param name="ReconnectMinDelay">Base reconnect delay: the median first delay; it grows exponentially per failure, jittered (<see cref="IbReconnectPipeline"/>).</param>
/// <param name="ReconnectMaxDelay">Longest reconnect delay (the cap).</param>
/// <param name="ReconcileTimeout">Each reconciliation query's deadline (a timeout is "unknown", never "empty").</param>
/// <param name="MarketDataType">1 live, 2 frozen, 3 delayed, 4 delayed-frozen.</param>
/// <param name="Paper">True in paper mode: the account must be a paper account (IB's start with "D": DU…, DF…); false in live mode: it must not be one. Whatever the port says (a container may relay a live port on another number).</param>
public sealed record IbSessionSettings(string Host, int Port, int ClientId, string Account, TimeSpan ConnectTimeout, TimeSpan ReconnectMinDelay, TimeSpan ReconnectMaxDelay,
    TimeSpan ReconcileTimeout, int MarketDataType, bool Paper = true);

/// <summary>
/// One connection to TWS / IB Gateway for the whole process: it connects and reconnects (capped exponential backoff
/// with jitter, <see cref="IbReconnectPipeline"/>; error 326 "client id in use" waits like any refused connect), reads the client's event stream on one
/// loop and hands every event to pending request queries (<see cref="CollectAsync"/>, Rx over the session's event stream)
/// and to the listeners (<see cref="EventReceived"/>), drives
/// the <see cref="IbConnectionStateMachine"/> (handshake, lost link, 1100/2110/1101/1102, farm notices), and after every
/// handshake runs the <see cref="Connected"/> handlers (reconciliation, resubscription) off the event loop, after every
/// 1101/1102 (link back, socket kept) the <see cref="Restored"/> handlers (reconciliation).
/// </summary>
public sealed class IbSession : IAsyncDisposable
{
    private readonly IbSessionSettings _settings;
    private readonly TimeProvider _clock;
    private readonly ILogger<IbSession> _logger;
    private readonly Subject<TwsEvent> _events = new();
    private readonly ResiliencePipeline _reconnect;
    private TaskCompletionSource _linkDown = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _restoredGate = new();
    private Task _restored = Task.CompletedTask;
    private CancellationToken _runToken = new(canceled: true);
    private int _requestId = 10_000;
    private string _account = "";

    /// <summary>Creates the session (it connects when <see cref="RunAsync"/> runs).</summary>
    public IbSession(IbSessionSettings settings, TwsClient client, IbConnectionStateMachine machine, TimeProvider clock, ILogger<IbSession> logger)
    {
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        Client = client ?? throw new ArgumentNullException(nameof(client));
        Machine = machine ?? throw new ArgumentNullException(nameof(machine));
        _clock = clock;
        _logger = logger;
        _reconnect = IbReconnectPipeline.Create(settings.ReconnectMinDelay, settings.ReconnectMaxDelay, clock, OnConnectFailed);
    }

    /// <summary>The wire client.</summary>
    public TwsClient Client { get; }

    /// <summary>The connection state machine.</summary>
    public IbConnectionStateMachine Machine { get; }

    /// <summary>Settings.</summary>
    public IbSessionSettings Settings => _settings;

    /// <summary>The session's clock (request deadlines, receive times).</summary>
    public TimeProvider Clock => _clock;

    /// <summary>The account traded (known after the first handshake).</summary>
    public string Account => Volatile.Read(ref _account);

    /// <summary>Successful handshakes so far.</summary>
    public int Connections { get; private set; }

    /// <summary>Every event from TWS, on the session's event loop (handlers must not block).</summary>
    public event Action<TwsEvent>? EventReceived;

    /// <summary>After every handshake, in order, off the event loop (reconciliation, resubscription). A handler that throws fails that round: logged, retried on the next connect.</summary>
    public event Func<CancellationToken, Task>? Connected;

    /// <summary>
    /// After 1101/1102 (the link came back with the socket kept up), in order, off the event loop: reconciliation must run
    /// again before any order (no handshake will start it). A handler that throws is logged; the next 1101/1102 runs them again.
    /// </summary>
    public event Func<CancellationToken, Task>? Restored;

    /// <summary>Raised for problems the operator must hear about (client id in use, account missing, pacing violation).</summary>
    public event Action<string>? Problem;

    /// <summary>
    /// Raised after every failed connect attempt, before the backoff delay: the attempt number of this link (1 for the first),
    /// the delay until the next try, and the failure (connection refused, timeout, client id in use, …). On the connection
    /// loop: handlers must not block.
    /// </summary>
    public event Action<int, TimeSpan, TwsConnectionException>? ConnectFailed;

    /// <summary>A new request id (for reqMktData, reqHistoricalData, reqExecutions, reqAccountSummary).</summary>
    public int NextRequestId() => Interlocked.Increment(ref _requestId);

    /// <summary>Runs the event loop and the connection loop until <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _runToken = cancellationToken;
        var pump = Task.Run(() => PumpAsync(cancellationToken), CancellationToken.None);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (Client.State != TwsLinkState.Disconnected)
                {
                    await Task.WhenAny(Volatile.Read(ref _linkDown).Task, Task.Delay(Timeout.Infinite, cancellationToken)).ConfigureAwait(false);
                    continue;
                }

                Volatile.Write(ref _linkDown, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                // One execution per link: it retries failed connects with backoff until one succeeds (the attempt count starts afresh on the next link).
                var info = await _reconnect.ExecuteAsync(
                    (session, ct) => new ValueTask<ConnectedEvent>(session.Client.ConnectAsync(session._settings.Host, session._settings.Port, session._settings.ClientId, session._settings.ConnectTimeout, ct)),
                    this, cancellationToken).ConfigureAwait(false);
                Connections++;
                if (!ChooseAccount(info.ManagedAccounts))
                {
                    await Client.DisconnectAsync().ConfigureAwait(false);
                    await Task.Delay(_settings.ReconnectMaxDelay, _clock, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                _logger.LogInformation("Connected to IB at {Host}:{Port} as client {ClientId}: server {Version}, account {Account}, next order id {NextId}",
                    _settings.Host, _settings.Port, _settings.ClientId, info.ServerVersion, Account, info.NextValidOrderId);
                Client.Send(TwsRequests.ReqMarketDataType(_settings.MarketDataType));
                Machine.OnConnected(_clock.GetUtcNow());
                await RunConnectedHandlersAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
        finally
        {
            if (Client.State != TwsLinkState.Disconnected)
            {
                await Client.DisconnectAsync().ConfigureAwait(false);
            }

            await pump.ConfigureAwait(false);
            Task restored;
            lock (_restoredGate)
            {
                restored = _restored;
            }

            try
            {
                await restored.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // stopping: a reconciliation after 1101/1102 was cut short
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> and collects the events it answers with until the end marker. A timeout or a lost
    /// link is an exception: an unanswered query is unknown, never empty.
    /// </summary>
    /// <exception cref="TimeoutException">No end marker within <paramref name="timeout"/>, or the link went down first.</exception>
    /// <exception cref="TwsNotConnectedException">Not connected.</exception>
    public async Task<IReadOnlyList<TwsEvent>> CollectAsync(TwsOutgoingMessage request, Func<TwsEvent, bool> isItem, Func<TwsEvent, bool> isEnd, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(isItem);
        ArgumentNullException.ThrowIfNull(isEnd);
        var items = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Subscribed before the request goes out (the stream is hot). The answer is its items up to and including the end
        // marker or a lost link, whichever comes first; the task completes on the thread pool, never on the event loop.
        var answer = _events
            .Where(e => isItem(e) || isEnd(e) || e is DisconnectedEvent)
            .TakeUntil(e => !isItem(e))
            .Do(e =>
            {
                if (isItem(e))
                {
                    Interlocked.Increment(ref items);
                }
            })
            .ToList()
            .ToTask(stop.Token, TaskPoolScheduler.Default);
        IList<TwsEvent> reply;
        try
        {
            Client.Send(request, priority: true);
            reply = await answer.WaitAsync(timeout, _clock, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what}: no complete answer within {timeout.TotalSeconds:0} s ({Volatile.Read(ref items)} items so far): unknown, not empty");
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false); // ends the subscription if the answer did not
        }

        return reply.Count > 0 && isEnd(reply[^1])
            ? [.. reply.Take(reply.Count - 1)]
            : throw new TimeoutException($"{what}: the link went down before the answer was complete ({reply.Count(isItem)} items so far): unknown, not empty");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await Client.DisposeAsync().ConfigureAwait(false);

    private void OnConnectFailed(int attempt, TimeSpan delay, TwsConnectionException e)
    {
        if (e is ClientIdInUseException)
        {
            Problem?.Invoke($"IB client id {_settings.ClientId} is in use at {_settings.Host}:{_settings.Port} (error 326): another process holds it; retrying in {delay.TotalSeconds:0.0} s");
        }

        _logger.LogWarning("IB connect attempt {Attempt} to {Host}:{Port} failed ({Failure}): {Message}; next try in {Delay} ms",
            attempt, _settings.Host, _settings.Port, e.GetType().Name, e.Message, (int)delay.TotalMilliseconds);
        ConnectFailed?.Invoke(attempt, delay, e);
    }

    private bool ChooseAccount(IReadOnlyList<string> managed)
    {
        if (!ChooseAccountOf(managed))
        {
            return false;
        }

        var paperAccount = Account.StartsWith('D');
        if (paperAccount != _settings.Paper)
        {
            Problem?.Invoke(_settings.Paper
                ? $"paper mode but IB account {Account} is a live account (paper accounts start with D): fails closed, not trading"
                : $"live mode but IB account {Account} is a paper account: not trading");
            Volatile.Write(ref _account, "");
            return false;
        }

        return true;
    }

    private bool ChooseAccountOf(IReadOnlyList<string> managed)
    {
        if (_settings.Account.Length > 0)
        {
            if (!managed.Contains(_settings.Account, StringComparer.Ordinal))
            {
                Problem?.Invoke($"IB account {_settings.Account} is not managed by this login (managed: {string.Join(", ", managed)}); not trading");
                return false;
            }

            Volatile.Write(ref _account, _settings.Account);
            return true;
        }

        if (managed.Count != 1)
        {
            Problem?.Invoke($"IB login manages {managed.Count} accounts ({string.Join(", ", managed)}): set Broker:InteractiveBrokers:Account; not trading");
            return false;
        }

        Volatile.Write(ref _account, managed[0]);
        return true;
    }

    private Task RunConnectedHandlersAsync(CancellationToken ct) => RunHandlersAsync(Connected, "connecting", ct);

    /// <summary>Queues the <see cref="Restored"/> handlers after those already queued, off the event loop (they must not block it).</summary>
    private void OnRestored(int code)
    {
        if (Restored is not { } handlers)
        {
            return;
        }

        var ct = _runToken;
        lock (_restoredGate)
        {
            _restored = _restored.ContinueWith(_ => RunHandlersAsync(handlers, $"IB code {code}", ct), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        }
    }

    private async Task RunHandlersAsync(Func<CancellationToken, Task>? handlers, string after, CancellationToken ct)
    {
        if (handlers is null)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList().Cast<Func<CancellationToken, Task>>())
        {
            try
            {
                await handler(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                _logger.LogError(e, "After {After}, {Handler} failed: {Message}", after, handler.Method.Name, e.Message);
                Problem?.Invoke($"after {after}, {handler.Method.Name} failed: {e.Message}");
            }
        }
    }

    private async Task PumpAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var e in Client.Events.ReadAllAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    Dispatch(e);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Nothing may stop the event loop (it would freeze every order callback while the link looks fine): loud instead.
                    _logger.LogError(ex, "Handling the IB event {Event} failed: {Message}", e.GetType().Name, ex.Message);
                    Problem?.Invoke($"handling the IB event {e.GetType().Name} failed: {ex.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // stopping
        }
        finally
        {
            _events.OnCompleted();
        }
    }

    private void Dispatch(TwsEvent e)
    {
        var now = _clock.GetUtcNow();
        switch (e)
        {
            case DisconnectedEvent d:
                Machine.OnDisconnected($"link lost: {d.Reason} {d.Detail}", now);
                Volatile.Read(ref _linkDown).TrySetResult();
                break;
            case ErrorEvent { Id: -1 } err:
                if (Machine.OnSystemCode(err.Code, err.Message, now))
                {
                    if (err.Code is 1101 or 1102)
                    {
                        OnRestored(err.Code);
                    }
                }
                else if (err.Code == 100)
                {
                    Problem?.Invoke($"IB pacing violation (error 100): {err.Message}");
                }

                break;
            case ErrorEvent { Code: 100 } pacing:
                Problem?.Invoke($"IB pacing violation (error 100): {pacing.Message}");
                break;
        }

        _events.OnNext(e);
        EventReceived?.Invoke(e);
    }
}
