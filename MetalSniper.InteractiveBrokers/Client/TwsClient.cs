using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging;

namespace MetalSniper.InteractiveBrokers.Client;

/// <summary>
/// A TWS / IB Gateway socket API client speaking the text protocol at server version 176 (TWS-PROTOCOL.md §2–§4, §8).
/// <list type="bullet">
/// <item><see cref="ConnectAsync"/>: handshake (<c>API\0</c> + <c>v176..176</c>), server version check, startApi, then
/// waits for BOTH nextValidId and managedAccounts (either order) within the timeout.</item>
/// <item><see cref="Events"/>: every decoded message plus client notifications (<see cref="ConnectedEvent"/>,
/// <see cref="DisconnectedEvent"/>, <see cref="HeartbeatEvent"/>, <see cref="OrderIdRolledBackEvent"/>) in arrival order, on one
/// unbounded channel that lives as long as the client (across reconnects). Nothing is dropped; read it continuously.</item>
/// <item><see cref="Send"/>: one serialised writer per connection, paced by a <see cref="TwsPacer"/> (default 45 msg/s with
/// 10 msg/s reserved for priority messages, which also jump the queue).</item>
/// <item>A heartbeat loop (from construction until disposal, in every state): while connected it sends reqCurrentTime as a
/// priority message every <see cref="TwsClientOptions.HeartbeatInterval"/> and drops the link when a reply does not come back
/// within <see cref="TwsClientOptions.HeartbeatTimeout"/> (half-open detection); it emits a <see cref="HeartbeatEvent"/> per tick.</item>
/// <item>No automatic reconnect: after a <see cref="DisconnectedEvent"/>, call <see cref="ConnectAsync"/> again.</item>
/// <item><see cref="NextOrderId"/>: thread-safe, monotonically increasing order ids seeded by nextValidId; a lower
/// nextValidId never rolls our counter back.</item>
/// </list>
/// All clock reads use the injected <see cref="TimeProvider"/>.
/// </summary>
public sealed class TwsClient : IAsyncDisposable
{
    private readonly TwsClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<TwsClient> _logger;
    private readonly TwsMessageDecoder _decoder = new();
    private readonly Channel<TwsEvent> _events = Channel.CreateUnbounded<TwsEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly Lock _stateGate = new();
    private readonly Lock _idGate = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Task _heartbeat;
    private Session? _current;
    private TwsLinkState _state = TwsLinkState.Disconnected;
    private long _disconnectedSince;
    private int _nextOrderId = -1;
    private int _orderIdRollbacks;
    private long _messagesSent;
    private long _priorityMessagesSent;
    private int _disposed;

    /// <summary>Creates a client and starts its heartbeat loop (it connects only when asked).</summary>
    /// <param name="options">Pacing and heartbeat options (validated).</param>
    /// <param name="timeProvider">Clock for every time read, delay and timer.</param>
    /// <param name="logger">Logger.</param>
    /// <exception cref="ArgumentException">Invalid options (every error listed).</exception>
    public TwsClient(TwsClientOptions options, TimeProvider timeProvider, ILogger<TwsClient> logger)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _options.Validate();
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _disconnectedSince = _time.GetTimestamp();
        _heartbeat = Task.Run(() => HeartbeatLoopAsync(_lifetime.Token));
    }

    /// <summary>The event stream (single reader). Completes when the client is disposed.</summary>
    public ChannelReader<TwsEvent> Events => _events.Reader;

    /// <summary>Current link state.</summary>
    public TwsLinkState State
    {
        get
        {
            lock (_stateGate)
            {
                return _state;
            }
        }
    }

    /// <summary>True when the link is ready for requests.</summary>
    public bool IsConnected => State == TwsLinkState.Connected;

    /// <summary>The connection info of the current (or last) ready connection, or null if never connected.</summary>
    public ConnectedEvent? ConnectionInfo { get; private set; }

    /// <summary>Messages waiting to be written on the current connection (0 when disconnected).</summary>
    public int SendQueueDepth
    {
        get
        {
            lock (_stateGate)
            {
                return _current?.Outbox.Depth ?? 0;
            }
        }
    }

    /// <summary>Frames written to TWS since construction (startApi and every request), across connections.</summary>
    public long MessagesSent => Interlocked.Read(ref _messagesSent);

    /// <summary>Priority frames written to TWS since construction (heartbeat probes included).</summary>
    public long PriorityMessagesSent => Interlocked.Read(ref _priorityMessagesSent);

    /// <summary>How many times TWS sent a nextValidId below the next id we would hand out (we kept ours).</summary>
    public int OrderIdRollbacks => Volatile.Read(ref _orderIdRollbacks);

    /// <summary>True once a nextValidId has been received (order ids can be handed out).</summary>
    public bool HasOrderIds
    {
        get
        {
            lock (_idGate)
            {
                return _nextOrderId >= 0;
            }
        }
    }

    /// <summary>
    /// Connects, performs the handshake and waits until the session is ready (nextValidId AND managedAccounts).
    /// Allowed only while <see cref="State"/> is <see cref="TwsLinkState.Disconnected"/> (also after a disconnect).
    /// </summary>
    /// <param name="host">Host name or address (127.0.0.1 in tests).</param>
    /// <param name="port">Port (TWS 7497/7496, Gateway 4002/4001).</param>
    /// <param name="clientId">Client id; one per concurrent connection to the same TWS.</param>
    /// <param name="timeout">Deadline for the whole connect (socket, version reply, ready). TWS needs a few seconds at most.</param>
    /// <param name="cancellationToken">Cancels the connect (then <see cref="OperationCanceledException"/>).</param>
    /// <returns>The connection info (also emitted as a <see cref="ConnectedEvent"/>).</returns>
    /// <exception cref="ClientIdInUseException">Error 326.</exception>
    /// <exception cref="UnsupportedServerVersionException">Server version other than 176.</exception>
    /// <exception cref="TwsConnectionException">Socket error, timeout, socket closed during the handshake, protocol error.</exception>
    /// <exception cref="InvalidOperationException">Not disconnected.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public async Task<ConnectedEvent> ConnectAsync(string host, int port, int clientId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "connect timeout must be > 0");
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_stateGate)
        {
            if (_state != TwsLinkState.Disconnected)
            {
                throw new InvalidOperationException($"ConnectAsync requires state Disconnected, was {_state}");
            }

            _state = TwsLinkState.Connecting;
        }

        _logger.Connecting(host, port, clientId, TwsProtocol.VersionRange);
        using var timeoutCts = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token, _lifetime.Token);
        Socket? socket = null;
        NetworkStream? stream = null;
        Session? connection = null;
        try
        {
            socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(host, port, linked.Token).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new TwsConnectionException(TwsConnectFailure.SocketError, $"could not connect to {host}:{port} (code 502): {ex.SocketErrorCode} {ex.Message}", ex);
            }

            stream = new NetworkStream(socket, ownsSocket: true);
            await stream.WriteAsync(TwsRequests.Handshake(), linked.Token).ConfigureAwait(false);
            var pipe = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
            var reader = new TwsFrameReader(pipe, _decoder, _time);
            byte[]? helloPayload;
            try
            {
                helloPayload = await reader.ReadFrameAsync(linked.Token).ConfigureAwait(false);
            }
            catch (TwsFramingException ex)
            {
                throw new TwsConnectionException(TwsConnectFailure.ProtocolError, $"bad handshake reply: {ex.Message}", ex);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                throw new TwsConnectionException(TwsConnectFailure.ClosedDuringHandshake, $"the socket failed before the server version arrived: {ex.Message}", ex);
            }

            if (helloPayload is null)
            {
                throw new TwsConnectionException(TwsConnectFailure.ClosedDuringHandshake,
                    "TWS closed the socket before sending its server version (API not enabled, or the version range was refused)");
            }

            TwsServerHello hello;
            try
            {
                hello = TwsServerHello.Parse(helloPayload);
            }
            catch (TwsDecodeException ex)
            {
                throw new TwsConnectionException(TwsConnectFailure.ProtocolError, $"bad handshake reply: {ex.Message}", ex);
            }

            if (hello.ServerVersion != TwsProtocol.ServerVersion)
            {
                throw new UnsupportedServerVersionException(hello.ServerVersion);
            }

            connection = new Session(socket, stream, pipe, reader, hello, clientId, NewOutbox());
            lock (_stateGate)
            {
                _current = connection;
            }

            using (var startApi = TwsRequests.StartApi(clientId))
            {
                await stream.WriteAsync(startApi.Memory, linked.Token).ConfigureAwait(false);
            }

            Interlocked.Increment(ref _messagesSent);
            connection.ReadTask = Task.Run(() => ReadLoopAsync(connection));
            connection.WriteTask = Task.Run(() => WriteLoopAsync(connection));
            return await connection.Ready.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var failure = ex switch
            {
                TwsConnectionException tce => tce,
                OperationCanceledException when timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested
                    => new TwsConnectionException(TwsConnectFailure.Timeout, TimeoutDetail(timeout, connection), ex),
                OperationCanceledException => null,
                IOException or SocketException => new TwsConnectionException(TwsConnectFailure.ClosedDuringHandshake, $"the socket failed during the handshake: {ex.Message}", ex),
                _ => null,
            };
            await AbortConnectAsync(connection, socket, stream).ConfigureAwait(false);
            _logger.ConnectFailed(host, port, clientId, failure?.Failure ?? TwsConnectFailure.SocketError, failure?.Message ?? ex.Message);
            if (failure is not null && !ReferenceEquals(failure, ex))
            {
                throw failure;
            }

            throw;
        }
    }

    /// <summary>Closes the current connection (reason <see cref="TwsDisconnectReason.Requested"/>). No-op when disconnected.</summary>
    /// <returns>Completes when the connection's loops have stopped.</returns>
    public async Task DisconnectAsync()
    {
        Session? c;
        lock (_stateGate)
        {
            c = _current;
        }

        if (c is not null)
        {
            TearDown(c, TwsDisconnectReason.Requested, "DisconnectAsync called");
            await c.StoppedAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Queues one request for the writer loop. Ownership of <paramref name="message"/> passes to the client (it is disposed
    /// after writing, or at once if this throws). Priority messages (risk: cancels, flattening orders) go ahead of every
    /// queued normal message and may use the reserved share of the rate.
    /// </summary>
    /// <param name="message">A frame from <see cref="TwsRequests"/>.</param>
    /// <param name="priority">True for risk messages.</param>
    /// <exception cref="TwsNotConnectedException">Not connected (code 504).</exception>
    /// <exception cref="TwsSendQueueFullException">Normal queue full.</exception>
    public void Send(TwsOutgoingMessage message, bool priority = false)
    {
        ArgumentNullException.ThrowIfNull(message);
        Session? c;
        TwsLinkState state;
        lock (_stateGate)
        {
            state = _state;
            c = state == TwsLinkState.Connected ? _current : null;
        }

        if (c is null)
        {
            message.Dispose();
            throw new TwsNotConnectedException(state);
        }

        if (!c.Outbox.Enqueue(message, priority))
        {
            throw new TwsNotConnectedException(TwsLinkState.Disconnected);
        }
    }

    /// <summary>
    /// Hands out the next order id: thread-safe, strictly increasing within this client's lifetime (across reconnects),
    /// seeded by nextValidId; a later nextValidId only moves it forward.
    /// </summary>
    /// <returns>An order id never handed out before by this client.</returns>
    /// <exception cref="InvalidOperationException">No nextValidId has been received yet.</exception>
    public int NextOrderId()
    {
        lock (_idGate)
        {
            if (_nextOrderId < 0)
            {
                throw new InvalidOperationException("order ids are available only after TWS sent nextValidId, none received yet");
            }

            return _nextOrderId++;
        }
    }

    /// <summary>Stops the heartbeat, closes the connection (reason <see cref="TwsDisconnectReason.Disposed"/>) and completes <see cref="Events"/>.</summary>
    /// <returns>Completes when every loop has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        Session? c;
        lock (_stateGate)
        {
            c = _current;
        }

        if (c is not null)
        {
            TearDown(c, TwsDisconnectReason.Disposed, "client disposed");
            await c.StoppedAsync().ConfigureAwait(false);
        }

        await _heartbeat.ConfigureAwait(false);
        _events.Writer.TryComplete();
        _lifetime.Dispose();
    }

    private TwsOutbox NewOutbox()
    {
        var pacer = new TwsPacer(_options.MessagesPerSecond, _options.ReservedMessagesPerSecond, _options.BurstSeconds, _time);
        return new TwsOutbox(pacer, _time, _options.MaxSendQueueDepth)
        {
            OnWritten = (_, priority) =>
            {
                Interlocked.Increment(ref _messagesSent);
                if (priority)
                {
                    Interlocked.Increment(ref _priorityMessagesSent);
                }
            },
        };
    }

    private string TimeoutDetail(TimeSpan timeout, Session? c) => c is null
        ? $"TWS did not answer the handshake within {timeout} (an unanswered 'accept incoming connection?' dialog?)"
        : $"TWS did not become ready within {timeout}: nextValidId {(c.NextValidId is null ? "missing" : "received")}, managedAccounts {(c.Accounts is null ? "missing" : "received")}";

    private async Task AbortConnectAsync(Session? connection, Socket? socket, NetworkStream? stream)
    {
        if (connection is not null)
        {
            TearDown(connection, TwsDisconnectReason.Requested, "connect aborted");
            await connection.StoppedAsync().ConfigureAwait(false);
        }
        else
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            socket?.Dispose();
        }

        lock (_stateGate)
        {
            if (ReferenceEquals(_current, connection))
            {
                _current = null;
            }

            if (_state == TwsLinkState.Connecting)
            {
                _state = TwsLinkState.Disconnected;
            }
        }
    }

    private void TearDown(Session c, TwsDisconnectReason reason, string detail)
    {
        if (!c.TryClose())
        {
            return;
        }

        c.Cancel();
        var discarded = c.Outbox.Close();
        c.CloseSocket();
        var wasReady = false;
        lock (_stateGate)
        {
            if (ReferenceEquals(_current, c) && _state == TwsLinkState.Connected)
            {
                wasReady = true;
                _state = TwsLinkState.Disconnected;
                _disconnectedSince = _time.GetTimestamp();
            }
        }

        if (wasReady)
        {
            _logger.Disconnected(reason, detail, discarded);
            Emit(new DisconnectedEvent(reason, detail, discarded));
        }
        else
        {
            c.Ready.TrySetException(reason switch
            {
                TwsDisconnectReason.RemoteClosed => new TwsConnectionException(TwsConnectFailure.ClosedDuringHandshake,
                    $"TWS closed the socket before the session was ready (client id {c.ClientId} already in use?): {detail}"),
                TwsDisconnectReason.FramingError => new TwsConnectionException(TwsConnectFailure.ProtocolError, detail),
                _ => new TwsConnectionException(TwsConnectFailure.ClosedDuringHandshake, $"the connection failed before it was ready ({reason}): {detail}"),
            });
        }
    }

    private void Emit(TwsEvent e)
    {
        if (e.ReceivedAt == default)
        {
            e.Stamp(_time.GetUtcNow());
        }

        _events.Writer.TryWrite(e);
    }

    private async Task ReadLoopAsync(Session c)
    {
        var batch = new List<TwsEvent>(64);
        try
        {
            while (true)
            {
                batch.Clear();
                var more = await c.Reader.ReadEventsAsync(batch, c.Token).ConfigureAwait(false);
                foreach (var e in batch)
                {
                    if (c.IsClosed)
                    {
                        return;
                    }

                    _events.Writer.TryWrite(e);
                    OnEvent(c, e);
                }

                if (!more)
                {
                    TearDown(c, TwsDisconnectReason.RemoteClosed, c.Reader.TruncatedBytesAtEnd > 0
                        ? $"TWS closed the socket inside a frame ({c.Reader.TruncatedBytesAtEnd} bytes left)"
                        : "TWS closed the socket");
                    return;
                }
            }
        }
        catch (TwsFramingException ex)
        {
            TearDown(c, TwsDisconnectReason.FramingError, ex.Message);
        }
        catch (OperationCanceledException) when (c.IsClosed)
        {
            // Torn down elsewhere; the reason was reported there.
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            TearDown(c, TwsDisconnectReason.ReadFailed, ex.Message);
        }
#pragma warning disable CA1031 // A bug must not leave a dead connection looking alive: log it and drop the link.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.LoopFaulted("read", ex);
            TearDown(c, TwsDisconnectReason.ReadFailed, $"read loop faulted: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private async Task WriteLoopAsync(Session c)
    {
        try
        {
            await c.Outbox.RunAsync(c.Stream, c.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (c.IsClosed)
        {
            // Torn down elsewhere.
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            TearDown(c, TwsDisconnectReason.WriteFailed, ex.Message);
        }
#pragma warning disable CA1031 // See ReadLoopAsync.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.LoopFaulted("write", ex);
            TearDown(c, TwsDisconnectReason.WriteFailed, $"write loop faulted: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private void OnEvent(Session c, TwsEvent e)
    {
        switch (e)
        {
            case NextValidIdEvent n:
                OnNextValidId(n.OrderId);
                c.NextValidId = n.OrderId;
                TryBecomeReady(c);
                break;
            case ManagedAccountsEvent m:
                c.Accounts = m.Accounts;
                TryBecomeReady(c);
                break;
            case CurrentTimeEvent:
                var sentAt = Interlocked.Exchange(ref c.ProbeSentAt, 0);
                if (sentAt != 0)
                {
                    c.LastRoundTrip = _time.GetElapsedTime(sentAt);
                }

                break;
            case ErrorEvent err:
                if (err.Code == TwsErrorCode.ClientIdInUse && !c.IsReady)
                {
                    c.Ready.TrySetException(new ClientIdInUseException(c.ClientId, err.Message));
                }

                if (err.IsWarningOrInfo)
                {
                    _logger.TwsNotice(err.Id, err.Code, err.Message);
                }
                else
                {
                    _logger.TwsError(err.Id, err.Code, err.Message);
                }

                break;
            case DecodeErrorEvent d:
                _logger.DecodeError(d.MessageId, d.Kind, d.FieldIndex, d.FieldCount, d.Reason);
                break;
            case UnknownMessageEvent u:
                _logger.UnknownMessage(u.MessageId, u.Fields.Count);
                break;
        }
    }

    private void OnNextValidId(int received)
    {
        int kept;
        lock (_idGate)
        {
            if (_nextOrderId < 0 || received > _nextOrderId)
            {
                _nextOrderId = received;
                return;
            }

            if (received == _nextOrderId)
            {
                return;
            }

            kept = _nextOrderId;
            _orderIdRollbacks++;
        }

        _logger.OrderIdRolledBack(received, kept);
        Emit(new OrderIdRolledBackEvent(received, kept));
    }

    private void TryBecomeReady(Session c)
    {
        if (c.IsReady || c.NextValidId is null || c.Accounts is null || c.IsClosed)
        {
            return;
        }

        int nextId;
        lock (_idGate)
        {
            nextId = _nextOrderId;
        }

        var connected = new ConnectedEvent(c.Hello.ServerVersion, c.Hello.ConnectionTime, c.Accounts, nextId);
        connected.Stamp(_time.GetUtcNow());
        lock (_stateGate)
        {
            if (!ReferenceEquals(_current, c) || _state != TwsLinkState.Connecting || c.IsClosed)
            {
                return;
            }

            _state = TwsLinkState.Connected;
            c.IsReady = true;
            ConnectionInfo = connected;
        }

        _logger.Connected(connected.ServerVersion, connected.ConnectionTime, string.Join(',', connected.ManagedAccounts), nextId);
        _events.Writer.TryWrite(connected);
        c.Ready.TrySetResult(connected);
    }

    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(_options.HeartbeatInterval, _time);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    HeartbeatTick();
                }
#pragma warning disable CA1031 // The heartbeat must never stop (LEAN IB #246/#247: a bot traded blind for three days): log and keep ticking.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    // A link the heartbeat could not check is not trusted: it is torn down, which the session reports (alert,
                    // link state) and follows with a reconnect; the loop itself keeps ticking.
                    _logger.LoopFaulted("heartbeat", ex);
                    Session? current;
                    lock (_stateGate)
                    {
                        current = _current;
                    }

                    if (current is not null)
                    {
                        TearDown(current, TwsDisconnectReason.HeartbeatTimeout, $"the heartbeat check faulted ({ex.GetType().Name}: {ex.Message}): the link is not trusted");
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    private void HeartbeatTick()
    {
        Session? c;
        TwsLinkState state;
        long disconnectedSince;
        lock (_stateGate)
        {
            c = _current;
            state = _state;
            disconnectedSince = _disconnectedSince;
        }

        TimeSpan? roundTrip = null;
        TimeSpan? down = null;
        if (state == TwsLinkState.Connected && c is not null)
        {
            roundTrip = c.LastRoundTrip;
            var sentAt = Interlocked.Read(ref c.ProbeSentAt);
            if (sentAt != 0)
            {
                var waited = _time.GetElapsedTime(sentAt);
                if (waited >= _options.HeartbeatTimeout)
                {
                    _logger.HeartbeatTimeout(waited, _options.HeartbeatTimeout);
                    TearDown(c, TwsDisconnectReason.HeartbeatTimeout, $"no currentTime reply for {waited} (timeout {_options.HeartbeatTimeout}): half-open link");
                    state = TwsLinkState.Disconnected;
                    down = TimeSpan.Zero;
                }
            }
            else
            {
                Interlocked.Exchange(ref c.ProbeSentAt, _time.GetTimestamp());
                c.Outbox.Enqueue(TwsRequests.ReqCurrentTime(), priority: true);
            }
        }
        else if (state == TwsLinkState.Disconnected)
        {
            down = _time.GetElapsedTime(disconnectedSince);
        }

        Emit(new HeartbeatEvent(state, roundTrip, down));
    }

    /// <summary>One socket session: its streams, reader, outbox, loops and handshake state.</summary>
    private sealed class Session(Socket socket, NetworkStream stream, PipeReader pipe, TwsFrameReader reader, TwsServerHello hello, int clientId, TwsOutbox outbox)
    {
        private readonly CancellationTokenSource _cts = new();
        private int _closed;

        public long ProbeSentAt;

        public NetworkStream Stream { get; } = stream;

        public TwsFrameReader Reader { get; } = reader;

        public TwsServerHello Hello { get; } = hello;

        public int ClientId { get; } = clientId;

        public TwsOutbox Outbox { get; } = outbox;

        public TaskCompletionSource<ConnectedEvent> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task? ReadTask { get; set; }

        public Task? WriteTask { get; set; }

        public int? NextValidId { get; set; }

        public IReadOnlyList<string>? Accounts { get; set; }

        public bool IsReady { get; set; }

        public TimeSpan? LastRoundTrip { get; set; }

        public CancellationToken Token => _cts.Token;

        public bool IsClosed => Volatile.Read(ref _closed) != 0;

        public bool TryClose() => Interlocked.Exchange(ref _closed, 1) == 0;

        public void Cancel() => _cts.Cancel();

        public void CloseSocket()
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already closed by the peer or by us: nothing left to shut down.
            }

            socket.Dispose();
        }

        public async Task StoppedAsync()
        {
            if (ReadTask is { } r)
            {
                await r.ConfigureAwait(false);
            }

            if (WriteTask is { } w)
            {
                await w.ConfigureAwait(false);
            }

            await pipe.CompleteAsync().ConfigureAwait(false);
            await Stream.DisposeAsync().ConfigureAwait(false);
            _ = Ready.Task.Exception; // observed: ConnectAsync reported it
        }
    }
}
