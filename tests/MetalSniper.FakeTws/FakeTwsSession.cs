using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace MetalSniper.FakeTws;

/// <summary>
/// One client connection: handshake (TWS-PROTOCOL.md §2, §10.2), a read loop that hands each frame to the server,
/// and a single writer that drains an outbox (optionally split or coalesced, §10.7).
/// Subscription state is guarded by the server's lock.
/// </summary>
internal sealed class FakeTwsSession
{
    private const int MaxFrameLength = 0xFFFFFF;

    private readonly FakeTwsServer _server;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly ILogger _logger;
    private readonly Channel<byte[]> _outbox = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private readonly Random _random;
    private int _pending;
    private int _closeAfterFlush;

    public FakeTwsSession(FakeTwsServer server, Socket socket, int connectionId, ILogger logger, int seed)
    {
        _server = server;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _logger = logger;
        ConnectionId = connectionId;
        _random = new Random(seed);
    }

    public int ConnectionId { get; }

    /// <summary>ClientId from startApi; −1 before. Written under the server lock.</summary>
    public int ClientId { get; set; } = -1;

    /// <summary>True once registered as a client (after startApi). Written under the server lock.</summary>
    public bool Registered { get; set; }

    public int NegotiatedVersion { get; private set; }

    /// <summary>reqMarketDataType (59) of this connection: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen.</summary>
    public int MarketDataType { get; set; } = 1;

    public Dictionary<int, MarketDataSubscription> MarketData { get; } = [];

    public Dictionary<int, HistoricalSubscription> Historical { get; } = [];

    public Dictionary<int, RealTimeBarsSubscription> RealTimeBars { get; } = [];

    public bool PositionsSubscribed { get; set; }

    public HashSet<int> AccountSummaries { get; } = [];

    public string? AccountUpdatesAccount { get; set; }

    public int PendingWrites => Volatile.Read(ref _pending);

    public bool IsClosing => _abort.IsCancellationRequested || Volatile.Read(ref _closeAfterFlush) != 0;

    public Task Completion { get; private set; } = Task.CompletedTask;

    public void Start() => Completion = Task.Run(RunAsync);

    /// <summary>Queues a frame; returns false once the connection is closing.</summary>
    public bool Enqueue(byte[] frame)
    {
        if (_abort.IsCancellationRequested)
        {
            return false;
        }

        Interlocked.Increment(ref _pending);
        if (!_outbox.Writer.TryWrite(frame))
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }

        return true;
    }

    /// <summary>True when the peer has closed its end (readable with nothing to read), even if the read loop has not noticed yet.</summary>
    public bool IsPeerGone()
    {
        try
        {
            return _socket.Poll(0, SelectMode.SelectRead) && _socket.Available == 0;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Sends what is queued, then closes the socket (e.g. after error 326).</summary>
    public void CloseAfterFlush()
    {
        Volatile.Write(ref _closeAfterFlush, 1);
        _outbox.Writer.TryComplete();
    }

    /// <summary>Drops the socket at once, discarding queued frames (a TWS restart or crash, §10.7).</summary>
    public void Abort()
    {
        if (!_abort.IsCancellationRequested)
        {
            _abort.Cancel();
        }

        _outbox.Writer.TryComplete();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _logger.LogDebug("Connection {ConnectionId}: shutdown on abort failed: {Message}", ConnectionId, ex.Message);
        }

        _socket.Close();
    }

    private async Task RunAsync()
    {
        var writer = Task.Run(() => WriteLoopAsync(_abort.Token));
        try
        {
            await ReadLoopAsync(_abort.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or EndOfStreamException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
        {
            _logger.LogDebug("Connection {ConnectionId} (client {ClientId}) read loop ended: {Reason}", ConnectionId, ClientId, ex.Message);
        }
        catch (Exception ex)
        {
            _server.RecordInternalError(ex);
            _logger.LogError(ex, "Connection {ConnectionId} (client {ClientId}) read loop failed", ConnectionId, ClientId);
        }
        finally
        {
            _outbox.Writer.TryComplete();
            try
            {
                await writer.WaitAsync(TimeSpan.FromSeconds(5), _server.WallClock).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _logger.LogWarning("Connection {ConnectionId}: writer did not drain within 5 s; dropping", ConnectionId);
            }

            Abort();
            await _stream.DisposeAsync().ConfigureAwait(false);
            _server.OnSessionClosed(this);
        }
    }

    private async Task ReadLoopAsync(CancellationToken ct)
    {
        await _server.WaitWhileHalfOpenAsync(ct).ConfigureAwait(false);
        var prefix = new byte[4];
        await _stream.ReadExactlyAsync(prefix, ct).ConfigureAwait(false);
        if (!prefix.AsSpan().SequenceEqual("API\0"u8))
        {
            _logger.LogWarning("Connection {ConnectionId}: expected \"API\\0\", got {Hex}; closing", ConnectionId, Convert.ToHexString(prefix));
            return;
        }

        var versionText = Encoding.ASCII.GetString(await ReadPayloadAsync(ct).ConfigureAwait(false));
        if (!TryParseVersionRange(versionText, out var min, out var max))
        {
            _logger.LogWarning("Connection {ConnectionId}: bad version string {Text}; closing", ConnectionId, versionText);
            return;
        }

        var version = Math.Min(max, _server.Options.ServerVersion);
        if (version < min && !_server.Options.AnswerBelowClientMinimum)
        {
            _logger.LogWarning("Connection {ConnectionId}: client needs v{Min}..{Max}, fake speaks ≤ {Version}; closing", ConnectionId, min, max, _server.Options.ServerVersion);
            return;
        }

        NegotiatedVersion = version;
        _server.SendVersionReply(this, version);

        await _server.WaitWhileHalfOpenAsync(ct).ConfigureAwait(false);
        var startApi = FrameBuilder.SplitPayload(await ReadPayloadAsync(ct).ConfigureAwait(false));
        if (startApi.Length < 3 || startApi[0] != "71"
            || !int.TryParse(startApi[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var clientId))
        {
            _logger.LogWarning("Connection {ConnectionId}: expected startApi (71|2|clientId|caps), got {Fields}; closing", ConnectionId, string.Join('|', startApi));
            return;
        }

        if (!_server.RegisterClient(this, clientId, startApi))
        {
            return;
        }

        while (!ct.IsCancellationRequested && Volatile.Read(ref _closeAfterFlush) == 0)
        {
            await _server.WaitWhileHalfOpenAsync(ct).ConfigureAwait(false);
            var payload = await ReadPayloadAsync(ct).ConfigureAwait(false);
            await _server.WaitWhileHalfOpenAsync(ct).ConfigureAwait(false);
            _server.OnRequest(this, FrameBuilder.SplitPayload(payload));
        }
    }

    private async Task<byte[]> ReadPayloadAsync(CancellationToken ct)
    {
        var header = new byte[4];
        await _stream.ReadExactlyAsync(header, ct).ConfigureAwait(false);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header);
        if (length is <= 0 or > MaxFrameLength)
        {
            throw new InvalidDataException($"frame length must be 1..{MaxFrameLength}, was {length}");
        }

        var payload = new byte[length];
        await _stream.ReadExactlyAsync(payload, ct).ConfigureAwait(false);
        return payload;
    }

    /// <summary>Parses "v{min}..{max}" or "v{n}", optionally followed by " options" and/or a trailing NUL (§2.1 step 2).</summary>
    internal static bool TryParseVersionRange(string text, out int min, out int max)
    {
        min = max = 0;
        var trimmed = text.TrimEnd('\0');
        var space = trimmed.IndexOf(' ', StringComparison.Ordinal);
        if (space >= 0)
        {
            trimmed = trimmed[..space];
        }

        if (trimmed.Length < 2 || trimmed[0] != 'v')
        {
            return false;
        }

        var body = trimmed[1..];
        var dots = body.IndexOf("..", StringComparison.Ordinal);
        if (dots < 0)
        {
            if (!int.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out min))
            {
                return false;
            }

            max = min;
            return true;
        }

        return int.TryParse(body[..dots], NumberStyles.None, CultureInfo.InvariantCulture, out min)
            && int.TryParse(body[(dots + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out max)
            && min <= max;
    }

    private async Task WriteLoopAsync(CancellationToken ct)
    {
        var reader = _outbox.Reader;
        try
        {
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                if (_server.CoalesceWrites)
                {
                    // Let the frames of one burst gather, then send them in one write.
                    await Task.Delay(TimeSpan.FromMilliseconds(2), _server.WallClock, ct).ConfigureAwait(false);
                    var batch = new List<byte[]>();
                    while (reader.TryRead(out var frame))
                    {
                        batch.Add(frame);
                    }

                    if (!_server.IsHalfOpen)
                    {
                        var buffer = new byte[batch.Sum(b => b.Length)];
                        var offset = 0;
                        foreach (var frame in batch)
                        {
                            frame.CopyTo(buffer, offset);
                            offset += frame.Length;
                        }

                        await _stream.WriteAsync(buffer, ct).ConfigureAwait(false);
                    }

                    Interlocked.Add(ref _pending, -batch.Count);
                    continue;
                }

                while (reader.TryRead(out var frame))
                {
                    if (!_server.IsHalfOpen)
                    {
                        if (_server.SplitWrites)
                        {
                            await WriteSplitAsync(frame, ct).ConfigureAwait(false);
                        }
                        else
                        {
                            await _stream.WriteAsync(frame, ct).ConfigureAwait(false);
                        }
                    }

                    Interlocked.Decrement(ref _pending);
                }
            }

            if (Volatile.Read(ref _closeAfterFlush) != 0)
            {
                await _stream.FlushAsync(ct).ConfigureAwait(false);
                _socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            _logger.LogDebug("Connection {ConnectionId} (client {ClientId}) write loop ended: {Reason}", ConnectionId, ClientId, ex.Message);
        }
        finally
        {
            // Whatever could not be written is gone with the socket.
            while (reader.TryRead(out _))
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    private async Task WriteSplitAsync(byte[] frame, CancellationToken ct)
    {
        // Pieces of 1..max(7, length/6) bytes: small frames split to single bytes (length prefix included),
        // large ones in at most ~12 pieces, so a split frame costs milliseconds, not seconds.
        var maxPiece = Math.Max(7, frame.Length / 6);
        var offset = 0;
        while (offset < frame.Length)
        {
            var size = Math.Min(frame.Length - offset, _random.Next(1, maxPiece + 1));
            await _stream.WriteAsync(frame.AsMemory(offset, size), ct).ConfigureAwait(false);
            offset += size;
            if (offset < frame.Length)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(1), _server.WallClock, ct).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>A reqMktData (1) subscription.</summary>
internal sealed record MarketDataSubscription(int ReqId, FakeContract Contract);

/// <summary>A keepUpToDate reqHistoricalData (20) subscription and its forming bar.</summary>
internal sealed class HistoricalSubscription(int reqId, FakeContract contract, TimeSpan barSize, string whatToShow, int formatDate)
{
    public int ReqId { get; } = reqId;

    public FakeContract Contract { get; } = contract;

    public TimeSpan BarSize { get; } = barSize;

    public string WhatToShow { get; } = whatToShow;

    public int FormatDate { get; } = formatDate;

    public AggregatedBar? Current { get; set; }
}

/// <summary>A reqRealTimeBars (50) subscription.</summary>
internal sealed record RealTimeBarsSubscription(int ReqId, FakeContract Contract, string WhatToShow);

/// <summary>A bar aggregated to a requested bar size.</summary>
internal sealed record AggregatedBar(DateTimeOffset Start, double Open, double High, double Low, double Close, decimal Volume, int Count);
