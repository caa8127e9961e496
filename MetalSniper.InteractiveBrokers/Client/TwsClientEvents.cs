using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Client;

/// <summary>The state of the client's link to TWS.</summary>
public enum TwsLinkState
{
    /// <summary>No socket.</summary>
    Disconnected,

    /// <summary>ConnectAsync is running (socket, handshake, waiting for nextValidId + managedAccounts).</summary>
    Connecting,

    /// <summary>Ready: both nextValidId and managedAccounts arrived; requests may be sent.</summary>
    Connected,
}

/// <summary>Why the link went down (reported in <see cref="DisconnectedEvent"/>).</summary>
public enum TwsDisconnectReason
{
    /// <summary>DisconnectAsync was called.</summary>
    Requested,

    /// <summary>The client was disposed.</summary>
    Disposed,

    /// <summary>TWS closed the socket (end of stream), e.g. a restart or error 326.</summary>
    RemoteClosed,

    /// <summary>Reading from the socket failed.</summary>
    ReadFailed,

    /// <summary>Writing to the socket failed.</summary>
    WriteFailed,

    /// <summary>A bad length prefix: the stream is desynchronised.</summary>
    FramingError,

    /// <summary>A currentTime probe went unanswered for the heartbeat timeout (half-open link), or the heartbeat check itself faulted (the link is not trusted).</summary>
    HeartbeatTimeout,
}

/// <summary>The link became ready (TWS-PROTOCOL.md §2.2): both nextValidId and managedAccounts arrived.</summary>
/// <param name="ServerVersion">Negotiated server version (176).</param>
/// <param name="ConnectionTime">TWS's connection time text.</param>
/// <param name="ManagedAccounts">Accounts of the login.</param>
/// <param name="NextValidOrderId">The next order id the client will hand out (max of ours and TWS's).</param>
public sealed record ConnectedEvent(int ServerVersion, string ConnectionTime, IReadOnlyList<string> ManagedAccounts, int NextValidOrderId) : TwsEvent;

/// <summary>
/// The link went down. Everything queued but not yet written was discarded (never replayed on a new socket).
/// The client does not reconnect by itself; ConnectAsync may be called again.
/// </summary>
/// <param name="Reason">Why.</param>
/// <param name="Detail">Human-readable detail (exception message, etc.).</param>
/// <param name="DiscardedMessages">Messages queued for the old socket that were dropped.</param>
public sealed record DisconnectedEvent(TwsDisconnectReason Reason, string Detail, int DiscardedMessages) : TwsEvent;

/// <summary>
/// One heartbeat tick (every <see cref="TwsClientOptions.HeartbeatInterval"/>, in every state, so the consumer sees time
/// pass even while disconnected).
/// </summary>
/// <param name="State">Link state at the tick.</param>
/// <param name="LastRoundTrip">Round trip of the last answered currentTime probe on this connection, if any.</param>
/// <param name="DisconnectedFor">How long the link has been down (null while connected or connecting). Measured from the last disconnect, or from construction if never connected.</param>
public sealed record HeartbeatEvent(TwsLinkState State, TimeSpan? LastRoundTrip, TimeSpan? DisconnectedFor) : TwsEvent;

/// <summary>
/// TWS sent a nextValidId lower than the next id we would hand out (e.g. after a Gateway restart). We keep ours — ids are
/// never reused in one session (TWS-PROTOCOL.md §7).
/// </summary>
/// <param name="Received">The id TWS sent.</param>
/// <param name="Kept">The id we keep handing out from.</param>
public sealed record OrderIdRolledBackEvent(int Received, int Kept) : TwsEvent;
