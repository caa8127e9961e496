using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>
/// A tiny raw-socket TWS client written for the fake's self-tests: its own framing and field splitting, on purpose
/// independent of both the fake and our client library (TWS-PROTOCOL.md §1.1, §2.1).
/// </summary>
internal sealed class FakeTwsRawClient : IAsyncDisposable
{
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly Lock _lock = new();
    private readonly List<string[]> _frames = [];
    private readonly List<(int Bytes, int FramesCompleted)> _chunks = [];
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;

    private FakeTwsRawClient(Socket socket) => _socket = socket;

    /// <summary>The server version and time from the handshake reply (fields of the first frame).</summary>
    public string[] VersionReply { get; private set; } = [];

    /// <summary>Raw bytes of the handshake reply frame, length prefix included.</summary>
    public byte[] VersionReplyBytes { get; private set; } = [];

    public Task Closed => _closed.Task;

    public IReadOnlyList<string[]> Frames
    {
        get
        {
            lock (_lock)
            {
                return [.. _frames];
            }
        }
    }

    /// <summary>For each socket read: bytes received and how many frames it completed.</summary>
    public IReadOnlyList<(int Bytes, int FramesCompleted)> Chunks
    {
        get
        {
            lock (_lock)
            {
                return [.. _chunks];
            }
        }
    }

    /// <summary>Connects, sends "API\0" + the version string, reads the version reply; optionally sends startApi.</summary>
    public static async Task<FakeTwsRawClient> ConnectAsync(int port, int? clientId = 7, string versionText = "v100..176")
    {
        var client = await OpenAsync(port).ConfigureAwait(false);
        await client.SendHandshakeAsync(versionText).ConfigureAwait(false);
        await client.ReadVersionReplyAsync().ConfigureAwait(false);
        client.StartReading();
        if (clientId is { } id)
        {
            await client.SendAsync("71", "2", id.ToString(CultureInfo.InvariantCulture), "").ConfigureAwait(false);
        }

        return client;
    }

    public static async Task<FakeTwsRawClient> OpenAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).ConfigureAwait(false);
        return new FakeTwsRawClient(socket);
    }

    public async Task SendHandshakeAsync(string versionText)
    {
        var text = Encoding.ASCII.GetBytes(versionText);
        var bytes = new byte[8 + text.Length];
        "API\0"u8.CopyTo(bytes);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), text.Length);
        text.CopyTo(bytes, 8);
        await SendBytesAsync(bytes).ConfigureAwait(false);
    }

    public async Task ReadVersionReplyAsync()
    {
        var header = new byte[4];
        await ReceiveExactlyAsync(header).ConfigureAwait(false);
        var payload = new byte[BinaryPrimitives.ReadInt32BigEndian(header)];
        await ReceiveExactlyAsync(payload).ConfigureAwait(false);
        VersionReplyBytes = [.. header, .. payload];
        VersionReply = Split(payload);
    }

    public void StartReading() => _readLoop = Task.Run(ReadLoopAsync);

    /// <summary>Frames the fields (NUL after each, 4-byte big-endian length) and sends them in one write.</summary>
    public Task SendAsync(params string[] fields) => SendBytesAsync(Frame(fields));

    public static byte[] Frame(IEnumerable<string> fields)
    {
        var payload = Encoding.ASCII.GetBytes(string.Concat(fields.Select(f => f + "\0")));
        var bytes = new byte[4 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, payload.Length);
        payload.CopyTo(bytes, 4);
        return bytes;
    }

    public async Task SendBytesAsync(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the first frame at or after <paramref name="from"/> that matches.</summary>
    public async Task<string[]> WaitForAsync(Func<string[], bool> predicate, TimeSpan? timeout = null, int from = 0, string? what = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultWait);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                for (var i = from; i < _frames.Count; i++)
                {
                    if (predicate(_frames[i]))
                    {
                        return _frames[i];
                    }
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no frame matching {what ?? "the predicate"} within {(timeout ?? DefaultWait).TotalSeconds} s; received: "
                    + string.Join(" / ", Frames.Skip(from).Select(f => string.Join('|', f))));
            }
        }
    }

    /// <summary>Waits for a frame with message id <paramref name="messageId"/> whose field <paramref name="index"/> equals <paramref name="value"/>.</summary>
    public Task<string[]> WaitForAsync(string messageId, int index = 0, string? value = null, int from = 0) =>
        WaitForAsync(f => f[0] == messageId && (value is null || (f.Length > index && f[index] == value)), null, from, $"{messageId}[{index}]={value}");

    /// <summary>Waits for an error frame (4|2|id|code|…) with the code.</summary>
    public Task<string[]> WaitForErrorAsync(int code, int from = 0) =>
        WaitForAsync(f => f[0] == "4" && f.Length > 3 && f[3] == code.ToString(CultureInfo.InvariantCulture), null, from, $"error {code}");

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _frames.Count;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Close();
        try
        {
            await _readLoop.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The loop ends with the socket; nothing left to release.
        }

        _stop.Dispose();
    }

    private async Task ReceiveExactlyAsync(byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException("server closed during the handshake");
            }

            read += n;
        }
    }

    private async Task ReadLoopAsync()
    {
        var pending = new List<byte>();
        var buffer = new byte[64 * 1024];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                pending.AddRange(buffer.AsSpan(0, n));
                var completed = 0;
                while (pending.Count >= 4)
                {
                    var length = BinaryPrimitives.ReadInt32BigEndian([.. pending.GetRange(0, 4)]);
                    if (pending.Count < 4 + length)
                    {
                        break;
                    }

                    var fields = Split([.. pending.GetRange(4, length)]);
                    pending.RemoveRange(0, 4 + length);
                    completed++;
                    lock (_lock)
                    {
                        _frames.Add(fields);
                    }
                }

                lock (_lock)
                {
                    _chunks.Add((n, completed));
                    _changed.TrySetResult();
                    _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection ended; Closed completes below.
        }
        finally
        {
            _closed.TrySetResult();
            lock (_lock)
            {
                _changed.TrySetResult();
            }
        }
    }

    private static string[] Split(byte[] payload)
    {
        var text = Encoding.ASCII.GetString(payload);
        if (!text.EndsWith('\0'))
        {
            throw new InvalidDataException($"payload must end with NUL: '{text.Replace('\0', '|')}'");
        }

        return text[..^1].Split('\0');
    }
}

/// <summary>placeOrder (3) field lists in the official 176 layout (TWS-PROTOCOL.md §4.1), for the raw client.</summary>
internal static class FakeTwsOrders
{
    /// <summary>The official client's STK LMT placeOrder at 176, verbatim from TWS-PROTOCOL.md §4.1 (115 fields).</summary>
    public const string OfficialStkLmt =
        "3|10|0|AAPL|STK||0.0|||SMART|NASDAQ|USD|||||BUY|100|LMT|150.25||DAY||||0||1|0|0|0|0|0|0|0||0||||||||0||-1|0|||0|||0|0||0||||||0|||||0|||||||||||0|||0|0|||0||0|0|0|0||1.7976931348623157e+308|1.7976931348623157e+308|1.7976931348623157e+308|1.7976931348623157e+308|1.7976931348623157e+308|0||||1.7976931348623157e+308|||||0|0|0||2147483647|2147483647|0||";

    /// <summary>A placeOrder for a default-table contract, built from the official layout by index (§4.1 table).</summary>
    public static string[] Build(
        int orderId, string symbol, string secType, string exchange, string currency, string action, decimal quantity,
        string orderType, double? lmtPrice = null, double? auxPrice = null, string tif = "GTC", string orderRef = "",
        bool transmit = true, int parentId = 0, string ocaGroup = "", int ocaType = 0, string account = "")
    {
        var fields = OfficialStkLmt.Split('|')[..115];
        fields[1] = orderId.ToString(CultureInfo.InvariantCulture);
        fields[3] = symbol;
        fields[4] = secType;
        fields[9] = exchange;
        fields[10] = "";
        fields[11] = currency;
        fields[16] = action;
        fields[17] = quantity.ToString(CultureInfo.InvariantCulture);
        fields[18] = orderType;
        fields[19] = lmtPrice?.ToString(CultureInfo.InvariantCulture) ?? "";
        fields[20] = auxPrice?.ToString(CultureInfo.InvariantCulture) ?? "";
        fields[21] = tif;
        fields[22] = ocaGroup;
        fields[23] = account;
        fields[26] = orderRef;
        fields[27] = transmit ? "1" : "0";
        fields[28] = parentId.ToString(CultureInfo.InvariantCulture);
        fields[47] = ocaType.ToString(CultureInfo.InvariantCulture);
        return fields;
    }

    public static string[] Xauusd(int orderId, string action, decimal quantity, string orderType, double? lmtPrice = null, double? auxPrice = null,
        string orderRef = "", bool transmit = true, int parentId = 0, string ocaGroup = "") =>
        Build(orderId, "XAUUSD", "CMDTY", "SMART", "USD", action, quantity, orderType, lmtPrice, auxPrice, "GTC", orderRef, transmit, parentId, ocaGroup);
}
