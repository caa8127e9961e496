namespace MetalSniper.InteractiveBrokers.Client;

/// <summary>Why ConnectAsync failed.</summary>
public enum TwsConnectFailure
{
    /// <summary>The TCP connection could not be made (client-side code 502).</summary>
    SocketError,

    /// <summary>No server version or no ready state (nextValidId + managedAccounts) within the timeout — e.g. an unanswered "accept connection?" dialog.</summary>
    Timeout,

    /// <summary>The server answered with a version other than 176.</summary>
    UnsupportedServerVersion,

    /// <summary>Error 326: the client id is already in use.</summary>
    ClientIdInUse,

    /// <summary>The socket closed during the handshake (TWS may do this without error 326 when the client id is in use).</summary>
    ClosedDuringHandshake,

    /// <summary>The handshake reply was not a version reply (or a redirect), or the stream was corrupt.</summary>
    ProtocolError,
}

/// <summary>ConnectAsync failed; the socket is closed and ConnectAsync may be called again.</summary>
public class TwsConnectionException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="failure">Why.</param>
    /// <param name="message">Detail naming what was expected and what was seen.</param>
    /// <param name="innerException">Underlying exception, if any.</param>
    public TwsConnectionException(TwsConnectFailure failure, string message, Exception? innerException = null)
        : base(message, innerException) => Failure = failure;

    /// <summary>Why the connect failed.</summary>
    public TwsConnectFailure Failure { get; }
}

/// <summary>Error 326 during connect: the client id is already in use (TWS-PROTOCOL.md §2.2). Retry later or use another id.</summary>
public sealed class ClientIdInUseException : TwsConnectionException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="clientId">The client id that was refused.</param>
    /// <param name="message">TWS's message text.</param>
    public ClientIdInUseException(int clientId, string message)
        : base(TwsConnectFailure.ClientIdInUse, $"client id {clientId} is already in use (error 326): {message}") => ClientId = clientId;

    /// <summary>The refused client id.</summary>
    public int ClientId { get; }
}

/// <summary>The server answered the handshake with a server version other than the pinned 176 (TWS-PROTOCOL.md §2.2, §3.4).</summary>
public sealed class UnsupportedServerVersionException : TwsConnectionException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="serverVersion">The version the server sent.</param>
    public UnsupportedServerVersionException(int serverVersion)
        : base(TwsConnectFailure.UnsupportedServerVersion,
            $"server version must be {Wire.TwsProtocol.ServerVersion} (we announce {Wire.TwsProtocol.VersionRange}), was {serverVersion}: unsupported TWS/API version")
        => ServerVersion = serverVersion;

    /// <summary>The server's version.</summary>
    public int ServerVersion { get; }
}

/// <summary>A request was sent while the client is not connected (client-side code 504).</summary>
public sealed class TwsNotConnectedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="state">The link state at the time.</param>
    public TwsNotConnectedException(TwsLinkState state)
        : base($"TWS client must be connected to send, was {state} (code 504)") => State = state;

    /// <summary>The link state at the time.</summary>
    public TwsLinkState State { get; }
}

/// <summary>The normal send queue is full (<see cref="TwsClientOptions.MaxSendQueueDepth"/>).</summary>
public sealed class TwsSendQueueFullException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="depth">Queue depth seen.</param>
    /// <param name="max">The limit.</param>
    public TwsSendQueueFullException(int depth, int max)
        : base($"TWS send queue depth must stay below {max} normal messages, was {depth}") => Depth = depth;

    /// <summary>Queue depth seen.</summary>
    public int Depth { get; }
}
