using System.Net.Sockets;
using System.Text;

namespace MetalSniper.Host.Supervision;

/// <summary>
/// sd_notify(3) written by hand: datagrams such as <c>READY=1</c>, <c>WATCHDOG=1</c>, <c>STATUS=…</c> and
/// <c>STOPPING=1</c> to the unix datagram socket systemd names in <c>$NOTIFY_SOCKET</c> (a path, or an
/// abstract name starting with '@'). Without the variable (not under systemd) every call is a no-op.
/// Thread-safe; a send failure is returned, never thrown (supervision must not take the service down).
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endpoint;
    private readonly Lock _gate = new();

    /// <summary>Creates a notifier for <paramref name="notifySocket"/> (null or empty: disabled).</summary>
    public SystemdNotifier(string? notifySocket)
    {
        if (string.IsNullOrEmpty(notifySocket))
        {
            return;
        }

        // An abstract socket is written with a leading '@' and addressed with a leading NUL.
        _endpoint = new UnixDomainSocketEndPoint(notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        Target = notifySocket;
    }

    /// <summary>From the environment (<c>NOTIFY_SOCKET</c>).</summary>
    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    /// <summary>The watchdog interval systemd expects pings within (<c>WATCHDOG_USEC</c>), or null.</summary>
    public static TimeSpan? WatchdogIntervalFromEnvironment() =>
        long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var usec) && usec > 0 ? TimeSpan.FromMicroseconds(usec) : null;

    /// <summary>True under systemd (a socket to notify).</summary>
    public bool Enabled => _socket is not null;

    /// <summary>The socket named by the environment, for logs.</summary>
    public string? Target { get; }

    /// <summary>Datagrams sent so far.</summary>
    public long Sent { get; private set; }

    /// <summary>Sends one notification ("READY=1", "STATUS=…"). Returns null on success or when disabled, else the error.</summary>
    public string? Notify(string state)
    {
        if (_socket is null)
        {
            return null;
        }

        try
        {
            lock (_gate)
            {
                _socket.SendTo(Encoding.UTF8.GetBytes(state), _endpoint!);
                Sent++;
            }

            return null;
        }
        catch (SocketException e)
        {
            return $"sd_notify to {Target} failed: {e.Message}";
        }
        catch (ObjectDisposedException e)
        {
            return $"sd_notify to {Target} after dispose: {e.Message}";
        }
    }

    /// <inheritdoc />
    public void Dispose() => _socket?.Dispose();
}
