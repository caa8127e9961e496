using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging;

namespace MetalSniper.InteractiveBrokers.Client;

/// <summary>Source-generated structured log messages of <see cref="TwsClient"/> (event ids 7600–7699).</summary>
internal static partial class TwsClientLog
{
    [LoggerMessage(EventId = 7600, Level = LogLevel.Information, Message = "TWS connecting to {Host}:{Port} as client id {ClientId}, announcing {VersionRange}")]
    public static partial void Connecting(this ILogger logger, string host, int port, int clientId, string versionRange);

    [LoggerMessage(EventId = 7601, Level = LogLevel.Information,
        Message = "TWS connected: server version {ServerVersion}, connection time {ConnectionTime}, accounts {Accounts}, next order id {NextOrderId}")]
    public static partial void Connected(this ILogger logger, int serverVersion, string connectionTime, string accounts, int nextOrderId);

    [LoggerMessage(EventId = 7602, Level = LogLevel.Warning, Message = "TWS connect to {Host}:{Port} as client id {ClientId} failed ({Failure}): {Detail}")]
    public static partial void ConnectFailed(this ILogger logger, string host, int port, int clientId, TwsConnectFailure failure, string detail);

    [LoggerMessage(EventId = 7603, Level = LogLevel.Warning, Message = "TWS link lost ({Reason}): {Detail}; {Discarded} queued message(s) discarded")]
    public static partial void Disconnected(this ILogger logger, TwsDisconnectReason reason, string detail, int discarded);

    [LoggerMessage(EventId = 7604, Level = LogLevel.Warning, Message = "TWS error for id {Id}: code {Code}: {Text}")]
    public static partial void TwsError(this ILogger logger, int id, int code, string text);

    [LoggerMessage(EventId = 7605, Level = LogLevel.Information, Message = "TWS notice for id {Id}: code {Code}: {Text}")]
    public static partial void TwsNotice(this ILogger logger, int id, int code, string text);

    [LoggerMessage(EventId = 7606, Level = LogLevel.Warning, Message = "TWS frame skipped: message {MessageId}, {Kind} at field {FieldIndex} of {FieldCount}: {Reason}")]
    public static partial void DecodeError(this ILogger logger, int? messageId, TwsDecodeErrorKind kind, int fieldIndex, int fieldCount, string reason);

    [LoggerMessage(EventId = 7607, Level = LogLevel.Information, Message = "TWS message {MessageId} with {FieldCount} field(s) is not decoded; skipped")]
    public static partial void UnknownMessage(this ILogger logger, int messageId, int fieldCount);

    [LoggerMessage(EventId = 7608, Level = LogLevel.Warning, Message = "TWS nextValidId {Received} is below our next order id {Kept}: keeping ours (ids are never reused)")]
    public static partial void OrderIdRolledBack(this ILogger logger, int received, int kept);

    [LoggerMessage(EventId = 7609, Level = LogLevel.Warning, Message = "TWS heartbeat: no currentTime reply for {Elapsed} (timeout {Timeout}): link is half-open")]
    public static partial void HeartbeatTimeout(this ILogger logger, TimeSpan elapsed, TimeSpan timeout);

    [LoggerMessage(EventId = 7610, Level = LogLevel.Error, Message = "TWS client loop {Loop} faulted")]
    public static partial void LoopFaulted(this ILogger logger, string loop, Exception exception);
}
