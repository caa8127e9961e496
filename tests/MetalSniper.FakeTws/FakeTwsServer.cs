using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.FakeTws;

/// <summary>
/// A faithful fake TWS / IB Gateway on 127.0.0.1 speaking the text protocol at server version 176
/// (TWS-PROTOCOL.md §1, §2, §4, §10). It parses requests by field position, keeps orders, executions and positions
/// across client reconnects like TWS does, simulates a market tests drive, and injects faults. Thread-safe: every
/// piece of state sits behind one lock, and each connection has one serialised writer.
/// </summary>
public sealed partial class FakeTwsServer : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private readonly TimeZoneInfo _timeZone;
    private readonly List<FakeTwsSession> _sessions = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly WaitableLog<FakeTwsRequest> _requests;
    private readonly WaitableLog<FakeTwsSentFrame> _sentFrames;
    private readonly WaitableLog<FakeTwsConnectionEvent> _connections;
    private readonly List<Exception> _internalErrors = [];
    private readonly Queue<DateTimeOffset> _pacingWindow = new();
    private readonly CancellationTokenSource _shutdown = new();
    private TcpListener? _listener;
    private CancellationTokenSource? _acceptCts;
    private ITimer? _refusalTimer;
    private TaskCompletionSource? _halfOpenGate;
    private DateTimeOffset _lastPacingError = DateTimeOffset.MinValue;
    private int _connectionSequence;
    private int _nextValidId;
    private volatile bool _splitWrites;
    private volatile bool _coalesceWrites;
    private volatile bool _openOrderDeltaNeutralNone;
    private int _fillSlices;
    private bool _disposed;

    private FakeTwsServer(FakeTwsOptions options)
    {
        Options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<FakeTwsServer>();
        _timeZone = TimeZoneInfo.FindSystemTimeZoneById(options.TimeZoneId);
        _requests = new WaitableLog<FakeTwsRequest>(options.WallClock, "request");
        _sentFrames = new WaitableLog<FakeTwsSentFrame>(options.WallClock, "sent frame");
        _connections = new WaitableLog<FakeTwsConnectionEvent>(options.WallClock, "connection event");
        _nextValidId = options.FirstNextValidId;
        _nextPermId = options.FirstPermId;
        _splitWrites = options.SplitWrites;
        _coalesceWrites = options.CoalesceWrites;
        _openOrderDeltaNeutralNone = options.OpenOrderDeltaNeutralNone;
        _fillSlices = options.FillSlices;
        foreach (var contract in options.Contracts ?? FakeContracts.Default)
        {
            AddContractLocked(contract);
        }

        foreach (var account in options.Accounts)
        {
            _cash[account] = options.InitialCash;
        }
    }

    /// <summary>The options the server runs with.</summary>
    public FakeTwsOptions Options { get; }

    /// <summary>The loopback port the server listens on (the real one when <see cref="FakeTwsOptions.Port"/> was 0).</summary>
    public int Port { get; private set; }

    /// <summary>127.0.0.1:<see cref="Port"/>.</summary>
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>
    /// Send every frame in random pieces (1 to max(7, length/6) bytes) with 1 ms pauses between them (§10.7). Can be switched at any time.
    /// </summary>
    public bool SplitWrites
    {
        get => _splitWrites;
        set => _splitWrites = value;
    }

    /// <summary>Gather queued frames for 2 ms and send them in one write (§10.7). Takes precedence over <see cref="SplitWrites"/>.</summary>
    public bool CoalesceWrites
    {
        get => _coalesceWrites;
        set => _coalesceWrites = value;
    }

    /// <summary>Write openOrder (5) in the real-TWS "None" delta-neutral variant (136 fields) instead of the 128-field one (§4.5).</summary>
    public bool OpenOrderDeltaNeutralNone
    {
        get => _openOrderDeltaNeutralNone;
        set => _openOrderDeltaNeutralNone = value;
    }

    /// <summary>Each fill is delivered as this many partial executions (≥ 1), each with its own execDetails, commissionReport, orderStatus and openOrder.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public int FillSlices
    {
        get => Volatile.Read(ref _fillSlices);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            Volatile.Write(ref _fillSlices, value);
        }
    }

    /// <summary>True between <see cref="GoHalfOpen"/> and <see cref="EndHalfOpen"/>.</summary>
    public bool IsHalfOpen => Volatile.Read(ref _halfOpenGate) is not null;

    /// <summary>The nextValidId the next handshake or reqIds will report.</summary>
    public int NextValidId
    {
        get
        {
            lock (_gate)
            {
                return _nextValidId;
            }
        }
    }

    /// <summary>Every request received so far (after the version exchange), in arrival order.</summary>
    public IReadOnlyList<FakeTwsRequest> Requests => _requests.Snapshot();

    /// <summary>Every frame queued to a client so far (the version reply excluded), in order.</summary>
    public IReadOnlyList<FakeTwsSentFrame> SentFrames => _sentFrames.Snapshot();

    /// <summary>Client registrations and disconnections, in order.</summary>
    public IReadOnlyList<FakeTwsConnectionEvent> ConnectionEvents => _connections.Snapshot();

    /// <summary>Unexpected exceptions inside the fake (bugs of the fake, not protocol errors); tests can assert this stays empty.</summary>
    public IReadOnlyList<Exception> InternalErrors
    {
        get
        {
            lock (_internalErrors)
            {
                return [.. _internalErrors];
            }
        }
    }

    /// <summary>The clientIds connected right now.</summary>
    public IReadOnlyList<int> ConnectedClientIds
    {
        get
        {
            lock (_gate)
            {
                return [.. _sessions.Where(s => s.Registered && !s.IsClosing).Select(s => s.ClientId)];
            }
        }
    }

    /// <summary>Number of open TCP connections (registered or still in the handshake).</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_gate)
            {
                return _sessions.Count;
            }
        }
    }

    internal TimeProvider WallClock => Options.WallClock;

    /// <summary>Starts a fake server listening on 127.0.0.1.</summary>
    /// <param name="options">Options; null uses the defaults.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running server; dispose it to stop.</returns>
    /// <exception cref="ArgumentException">The options are invalid (see <see cref="FakeTwsOptions.Validate"/>).</exception>
    /// <exception cref="SocketException">The port cannot be bound.</exception>
    public static Task<FakeTwsServer> StartAsync(FakeTwsOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FakeTwsOptions();
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        var server = new FakeTwsServer(options);
        server.StartListening(options.Port);
        if (options.AutoPaceBarsPerSecond is { } rate)
        {
            server.StartAutoPace(rate);
        }

        return Task.FromResult(server);
    }

    /// <summary>Number of requests logged so far (pass it as <c>skip</c> to wait only for later ones).</summary>
    public int RequestCount => _requests.Count;

    /// <summary>Number of frames logged as sent so far (pass it as <c>skip</c> to wait only for later ones).</summary>
    public int SentFrameCount => _sentFrames.Count;

    /// <summary>Waits for a request matching <paramref name="predicate"/> (already received or future). The predicate must be pure.</summary>
    /// <param name="predicate">Condition on the request.</param>
    /// <param name="timeout">Wall-clock limit.</param>
    /// <param name="skip">Ignore the first <paramref name="skip"/> logged requests (see <see cref="RequestCount"/>).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="TimeoutException">None arrived within <paramref name="timeout"/>.</exception>
    public Task<FakeTwsRequest> WaitForRequestAsync(Func<FakeTwsRequest, bool> predicate, TimeSpan timeout, int skip = 0, CancellationToken cancellationToken = default) =>
        _requests.WaitAsync(predicate, timeout, skip, cancellationToken);

    /// <summary>Waits for a request with message id <paramref name="messageId"/> (e.g. 3 = placeOrder).</summary>
    /// <exception cref="TimeoutException">None arrived within <paramref name="timeout"/>.</exception>
    public Task<FakeTwsRequest> WaitForRequestAsync(int messageId, TimeSpan timeout, int skip = 0, CancellationToken cancellationToken = default) =>
        _requests.WaitAsync(r => r.MessageId == messageId, timeout, skip, cancellationToken);

    /// <summary>Waits for a sent frame matching <paramref name="predicate"/>. The predicate must be pure.</summary>
    /// <exception cref="TimeoutException">None was sent within <paramref name="timeout"/>.</exception>
    public Task<FakeTwsSentFrame> WaitForSentFrameAsync(Func<FakeTwsSentFrame, bool> predicate, TimeSpan timeout, int skip = 0, CancellationToken cancellationToken = default) =>
        _sentFrames.WaitAsync(predicate, timeout, skip, cancellationToken);

    /// <summary>Waits for a connection event matching <paramref name="predicate"/>.</summary>
    /// <exception cref="TimeoutException">None happened within <paramref name="timeout"/>.</exception>
    public Task<FakeTwsConnectionEvent> WaitForConnectionEventAsync(Func<FakeTwsConnectionEvent, bool> predicate, TimeSpan timeout, int skip = 0, CancellationToken cancellationToken = default) =>
        _connections.WaitAsync(predicate, timeout, skip, cancellationToken);

    /// <summary>Waits until a client with <paramref name="clientId"/> is registered (returns at once when it already is).</summary>
    /// <exception cref="TimeoutException">It did not register within <paramref name="timeout"/>.</exception>
    public async Task WaitForClientAsync(int clientId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var skip = _connections.Count;
        if (ConnectedClientIds.Contains(clientId))
        {
            return;
        }

        await _connections.WaitAsync(e => e.ClientId == clientId && e.Connected, timeout, skip, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until every connection's queued frames have been written to its socket.</summary>
    /// <exception cref="TimeoutException">Frames were still queued after <paramref name="timeout"/> (default 5 s, wall clock).</exception>
    public async Task FlushAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(5);
        var start = WallClock.GetTimestamp();
        while (true)
        {
            int pending;
            lock (_gate)
            {
                pending = _sessions.Sum(s => s.PendingWrites);
            }

            if (pending == 0)
            {
                return;
            }

            if (WallClock.GetElapsedTime(start) > limit)
            {
                throw new TimeoutException($"{pending} frames still queued after {limit.TotalMilliseconds:0} ms");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(2), WallClock, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends an error/notice frame (4, 176 layout) to one connected client; does nothing when it is not connected.</summary>
    /// <param name="clientId">Target clientId.</param>
    /// <param name="id">reqId / orderId, or −1 for a system notice.</param>
    /// <param name="code">Error code (§5).</param>
    /// <param name="message">Text.</param>
    public void SendError(int clientId, int id, int code, string message)
    {
        lock (_gate)
        {
            if (FindSession(clientId) is { } session)
            {
                SendErrorLocked(session, id, code, message);
            }
        }
    }

    /// <summary>Sends a hand-made frame (fields, field 0 = message id) to one connected client: for scripted edge cases.</summary>
    /// <returns>True when the client was connected.</returns>
    public bool SendRawFrame(int clientId, IReadOnlyList<string> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        lock (_gate)
        {
            if (FindSession(clientId) is not { } session)
            {
                return false;
            }

            var builder = new FrameBuilder(int.Parse(fields[0], CultureInfo.InvariantCulture));
            foreach (var field in fields.Skip(1))
            {
                builder.Add(field);
            }

            Send(session, builder);
            return true;
        }
    }

    /// <summary>Stops listening, drops every connection and stops timers.</summary>
    public async ValueTask DisposeAsync()
    {
        Task[] waits;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _refusalTimer?.Dispose();
            _autoPaceTimer?.Dispose();
            StopListeningLocked();
            foreach (var session in _sessions)
            {
                session.Abort();
            }

            waits = [.. _sessions.Select(s => s.Completion), .. _acceptLoops];
        }

        _shutdown.Cancel();
        Volatile.Read(ref _halfOpenGate)?.TrySetResult();
        try
        {
            await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(5), WallClock).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("Fake TWS: connections did not close within 5 s of dispose");
        }

        _shutdown.Dispose();
    }

    internal void RecordInternalError(Exception exception)
    {
        lock (_internalErrors)
        {
            _internalErrors.Add(exception);
        }
    }

    internal Task WaitWhileHalfOpenAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _halfOpenGate) is { } gate ? gate.Task.WaitAsync(cancellationToken) : Task.CompletedTask;

    private DateTimeOffset Now => Options.TimeProvider.GetUtcNow();

    private void StartListening(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start(backlog: 64);
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var acceptCts = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        _listener = listener;
        _acceptCts = acceptCts;
        _acceptLoops.RemoveAll(t => t.IsCompleted);
        _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(listener, acceptCts.Token)));
        _logger.LogInformation("Fake TWS listening on 127.0.0.1:{Port} (server version ≤ {Version})", Port, Options.ServerVersion);
    }

    private void StopListeningLocked()
    {
        _acceptCts?.Cancel();
        _acceptCts?.Dispose();
        _acceptCts = null;
        _listener?.Stop();
        _listener = null;
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                _logger.LogDebug("Fake TWS accept loop ended: {Reason}", ex.Message);
                return;
            }

            socket.NoDelay = true;
            var connectionId = Interlocked.Increment(ref _connectionSequence);
            var session = new FakeTwsSession(this, socket, connectionId, _logger, Options.RandomSeed + connectionId);
            lock (_gate)
            {
                if (_disposed)
                {
                    socket.Close();
                    return;
                }

                _sessions.Add(session);
            }

            _logger.LogDebug("Fake TWS accepted connection {ConnectionId} from {Remote}", connectionId, socket.RemoteEndPoint);
            session.Start();
        }
    }

    internal void SendVersionReply(FakeTwsSession session, int version)
    {
        var reply = FrameBuilder.Raw().Add(version).Add(FormatConnectionTime(Now));
        session.Enqueue(reply.ToFrame());
    }

    /// <summary>Registers the client of a connection after startApi; answers a duplicate clientId with 326 and closes (§2.2).</summary>
    internal bool RegisterClient(FakeTwsSession session, int clientId, IReadOnlyList<string> startApi)
    {
        lock (_gate)
        {
            session.ClientId = clientId;
            _requests.Add(new FakeTwsRequest(session.ConnectionId, clientId, 71, startApi, Now));
            foreach (var stale in _sessions.Where(s => s != session && s.Registered && !s.IsClosing && s.ClientId == clientId && s.IsPeerGone()).ToList())
            {
                // The old client closed its socket and reconnected before its read loop saw the EOF: not a duplicate.
                stale.Abort();
            }

            var duplicate = _sessions.Any(s => s != session && s.Registered && !s.IsClosing && s.ClientId == clientId);
            if (duplicate)
            {
                _logger.LogInformation("Fake TWS: clientId {ClientId} already in use; error 326 and close (connection {ConnectionId})", clientId, session.ConnectionId);
                SendErrorLocked(session, -1, 326, "Unable to connect as the client id is already in use. Retry with a unique client id.");
                session.CloseAfterFlush();
                return false;
            }

            if (_sessions.Count(s => s.Registered && !s.IsClosing) >= Options.MaxClients)
            {
                _logger.LogWarning("Fake TWS: {Max} clients already connected; closing connection {ConnectionId}", Options.MaxClients, session.ConnectionId);
                session.CloseAfterFlush();
                return false;
            }

            session.Registered = true;
            var accounts = new FrameBuilder(15).Add(1).Add(string.Join(',', Options.Accounts));
            var nextId = new FrameBuilder(9).Add(1).Add(_nextValidId);
            if (Options.HandshakeOrder == HandshakeOrder.ManagedAccountsFirst)
            {
                Send(session, accounts);
                Send(session, nextId);
            }
            else
            {
                Send(session, nextId);
                Send(session, accounts);
            }

            foreach (var code in Options.FarmNoticesOnConnect)
            {
                SendErrorLocked(session, -1, code, NoticeText(code));
            }

            _connections.Add(new FakeTwsConnectionEvent(session.ConnectionId, clientId, true, Now));
            _logger.LogInformation("Fake TWS: client {ClientId} connected (connection {ConnectionId}, v{Version})", clientId, session.ConnectionId, session.NegotiatedVersion);
            return true;
        }
    }

    internal void OnSessionClosed(FakeTwsSession session)
    {
        lock (_gate)
        {
            if (!_sessions.Remove(session))
            {
                return;
            }

            if (session.Registered)
            {
                session.Registered = false;
                _connections.Add(new FakeTwsConnectionEvent(session.ConnectionId, session.ClientId, false, Now));
                _logger.LogInformation("Fake TWS: client {ClientId} disconnected (connection {ConnectionId})", session.ClientId, session.ConnectionId);
            }
        }
    }

    private FakeTwsSession? FindSession(int clientId) =>
        _sessions.FirstOrDefault(s => s.Registered && !s.IsClosing && s.ClientId == clientId);

    private IEnumerable<FakeTwsSession> ReadySessions => _sessions.Where(s => s.Registered && !s.IsClosing);

    private void Send(FakeTwsSession session, FrameBuilder frame)
    {
        var fields = frame.Fields;
        var messageId = int.TryParse(fields[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) ? id : -1;
        if (session.Enqueue(frame.ToFrame()))
        {
            _sentFrames.Add(new FakeTwsSentFrame(session.ConnectionId, session.ClientId, messageId, [.. fields], Now));
        }
    }

    private void SendToClient(int clientId, FrameBuilder frame)
    {
        if (FindSession(clientId) is { } session)
        {
            Send(session, frame);
        }
    }

    private void SendErrorLocked(FakeTwsSession session, int id, int code, string message) =>
        Send(session, new FrameBuilder(4).Add(2).Add(id).Add(code).Add(message).Add(""));

    private void SendErrorToClient(int clientId, int id, int code, string message)
    {
        if (FindSession(clientId) is { } session)
        {
            SendErrorLocked(session, id, code, message);
        }
    }

    private string ZoneName => Options.TimeZoneId;

    /// <summary>"yyyyMMdd HH:mm:ss TZ" in the configured zone (§2.1 step 3, §4.5 execution time).</summary>
    private string FormatConnectionTime(DateTimeOffset time) =>
        TimeZoneInfo.ConvertTime(time, _timeZone).ToString("yyyyMMdd HH:mm:ss", CultureInfo.InvariantCulture) + " " + ZoneName;

    internal static string NoticeText(int code) => code switch
    {
        100 => "Max rate of messages per second has been exceeded",
        1100 => "Connectivity between IB and Trader Workstation has been lost.",
        1101 => "Connectivity between IB and Trader Workstation has been restored - data lost.",
        1102 => "Connectivity between IB and Trader Workstation has been restored - data maintained.",
        1300 => "TWS socket port has been reset and this connection is being dropped. Please reconnect on the new port",
        2103 => "Market data farm connection is broken:usfarm",
        2104 => "Market data farm connection is OK:usfarm",
        2105 => "HMDS data farm connection is broken:ushmds",
        2106 => "HMDS data farm connection is OK:ushmds",
        2107 => "HMDS data farm connection is inactive but should be available upon demand.ushmds",
        2108 => "Market data farm connection is inactive but should be available upon demand.usfarm",
        2110 => "Connectivity between Trader Workstation and server is broken. It will be restored automatically.",
        2119 => "Market data farm is connecting:usfarm",
        2157 => "Sec-def data farm connection is broken:secdefnj",
        2158 => "Sec-def data farm connection is OK:secdefnj",
        _ => $"Notice {code}",
    };
}
