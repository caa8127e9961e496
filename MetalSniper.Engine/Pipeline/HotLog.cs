using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;

namespace MetalSniper.Engine.Pipeline;

/// <summary>Source-generated log messages on the pipeline's hot paths (no boxing, no template parsing per call).</summary>
internal static partial class HotLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Order {ClientOrderId} {Purpose} {Side} {Quantity} {Symbol} {Reason}")]
    public static partial void OrderDenied(ILogger logger, ClientOrderId clientOrderId, OrderPurpose purpose, OrderSide side, decimal quantity, string symbol, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Order {ClientOrderId} rejected by {Gateway}: {Reason}")]
    public static partial void OrderRejected(ILogger logger, ClientOrderId clientOrderId, string gateway, string reason);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Ingest rejected {Source}:{Line} {Symbol}: {Reason} ({Detail})")]
    public static partial void BarRejected(ILogger logger, string source, long line, string symbol, BarRejectReason reason, string detail);
}
