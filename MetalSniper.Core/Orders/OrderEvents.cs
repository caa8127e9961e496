namespace MetalSniper.Core.Orders;

/// <summary>Something that happened to an order, reported by the gateway (past tense). Times are UTC.</summary>
/// <param name="ClientOrderId">The order.</param>
/// <param name="EventTimeUtc">When it happened at the venue.</param>
/// <param name="ReceivedAtUtc">When we learned of it.</param>
public abstract record OrderEvent(ClientOrderId ClientOrderId, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc);

/// <summary>The gateway acknowledged the order; it is working.</summary>
public sealed record OrderAccepted(ClientOrderId ClientOrderId, string BrokerOrderId, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(ClientOrderId, EventTimeUtc, ReceivedAtUtc);

/// <summary>
/// A pre-trade gate of ours denied the order before it left (never the venue's word: that is <see cref="OrderRejected"/>).
/// The order never reached the gateway; it ends here.
/// </summary>
/// <param name="ClientOrderId">The order.</param>
/// <param name="Denial">Which gate, its typed reason and the detail with the values it saw.</param>
/// <param name="EventTimeUtc">Event time of the decision that sent it.</param>
/// <param name="ReceivedAtUtc">Clock time of the denial.</param>
public sealed record OrderDenied(ClientOrderId ClientOrderId, GateDenial Denial, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(ClientOrderId, EventTimeUtc, ReceivedAtUtc)
{
    /// <summary>"denied by {gate}: {reason}: {detail}", as logged, persisted and shown to the strategy.</summary>
    public string Reason => $"denied by {Denial.Gate}: {Denial.Reason}: {Denial.Detail}";
}

/// <summary>The gateway or venue refused the order.</summary>
public sealed record OrderRejected(ClientOrderId ClientOrderId, string Reason, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(ClientOrderId, EventTimeUtc, ReceivedAtUtc);

/// <summary>
/// A request about an order (a modify, a cancel, a repeated submit) was refused; the order itself is
/// unchanged and keeps its status. Not to be confused with <see cref="OrderRejected"/>, which ends an order.
/// </summary>
public sealed record OrderRequestRejected(ClientOrderId ClientOrderId, string Request, string Reason, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(ClientOrderId, EventTimeUtc, ReceivedAtUtc);

/// <summary>The order was cancelled.</summary>
public sealed record OrderCancelled(ClientOrderId ClientOrderId, string Reason, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(ClientOrderId, EventTimeUtc, ReceivedAtUtc);

/// <summary>The order's working parameters changed.</summary>
public sealed record OrderModified(ClientOrderId ClientOrderId, decimal? StopPrice, decimal? LimitPrice, decimal Quantity, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(ClientOrderId, EventTimeUtc, ReceivedAtUtc);

/// <summary>The order (partly) filled.</summary>
/// <param name="ClientOrderId">The order.</param>
/// <param name="Fill">The execution.</param>
/// <param name="LeavesQuantity">Quantity still working after this fill (0 when complete).</param>
/// <param name="EventTimeUtc">Venue time.</param>
/// <param name="ReceivedAtUtc">When we learned of it.</param>
public sealed record OrderFilled(ClientOrderId ClientOrderId, Fill Fill, decimal LeavesQuantity, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(ClientOrderId, EventTimeUtc, ReceivedAtUtc);

/// <summary>
/// The broker holds a position this run has no record of (found at the first reconciliation after a start: the
/// previous run's, or one opened outside the system). Our book takes it over at the broker's average price; the
/// risk sentinel manages it from then on. <see cref="OrderEvent.ClientOrderId"/> is "adopted:{symbol}".
/// </summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Quantity">Signed quantity (+ long, − short).</param>
/// <param name="AveragePrice">The broker's average price, major units of the instrument currency.</param>
/// <param name="EventTimeUtc">When the broker reported it.</param>
/// <param name="ReceivedAtUtc">When we learned of it.</param>
public sealed record BrokerPositionAdopted(string Symbol, decimal Quantity, decimal AveragePrice, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(new ClientOrderId("adopted:" + Symbol), EventTimeUtc, ReceivedAtUtc);

/// <summary>
/// An order of an earlier run of ours that was still working when that run ended (a SIGTERM leaves the protective stops
/// working at the broker, a crash leaves whatever was working): the gateway has taken it over from the database, so its
/// fills, cancel and end reach this run like those of its own orders, and a flatten cancels it first.
/// </summary>
/// <param name="Order">The order as it was sent (and last modified).</param>
/// <param name="Status">Its status as the database recorded it (Working, PartiallyFilled or PendingSubmit).</param>
/// <param name="FilledQuantity">Quantity already filled and booked.</param>
/// <param name="BrokerOrderId">The broker's order id as recorded ("ibId/permId" at IB), or empty when never acknowledged.</param>
/// <param name="EventTimeUtc">When the gateway took it over.</param>
/// <param name="ReceivedAtUtc">Same.</param>
public sealed record OrderResumed(SubmitOrder Order, OrderStatus Status, decimal FilledQuantity, string BrokerOrderId, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(Order.ClientOrderId, EventTimeUtc, ReceivedAtUtc);

/// <summary>
/// Our book as the earlier runs left it (database), restored before the first reconciliation after a restart; the
/// reconciliation then brings it to the broker's (recovered fills, and any remaining difference, which is RED).
/// <see cref="OrderEvent.ClientOrderId"/> is "restored:{symbol}".
/// </summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Quantity">Signed quantity (+ long, − short).</param>
/// <param name="AveragePrice">Average price, major units.</param>
/// <param name="EventTimeUtc">When the earlier run last wrote it.</param>
/// <param name="ReceivedAtUtc">When this run restored it.</param>
public sealed record BookPositionRestored(string Symbol, decimal Quantity, decimal AveragePrice, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
    : OrderEvent(new ClientOrderId("restored:" + Symbol), EventTimeUtc, ReceivedAtUtc);

/// <summary>What the earlier runs against the same broker left open in the database: their working orders and our book.</summary>
/// <param name="Orders">Orders not finished when their run ended (Working, PartiallyFilled, PendingSubmit).</param>
/// <param name="Positions">Our last recorded position per symbol (non-zero only).</param>
/// <param name="RecordedUtc">When the positions were last written.</param>
public sealed record EarlierRunState(IReadOnlyList<OrderResumed> Orders, IReadOnlyList<BrokerPosition> Positions, DateTimeOffset RecordedUtc)
{
    /// <summary>Nothing left open (a first start, or every earlier run ended flat with no order working).</summary>
    public static EarlierRunState None { get; } = new([], [], DateTimeOffset.MinValue);

    /// <summary>True when there is neither an order nor a position to take over.</summary>
    public bool IsEmpty => Orders.Count == 0 && Positions.Count == 0;
}

/// <summary>A position as the broker reports it (for reconciliation).</summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Quantity">Signed quantity (+ long, − short).</param>
/// <param name="AveragePrice">Average price in major units of the instrument currency.</param>
public sealed record BrokerPosition(string Symbol, decimal Quantity, decimal AveragePrice);

/// <summary>A working order as the broker reports it (for reconciliation).</summary>
public sealed record BrokerOrder(ClientOrderId ClientOrderId, string Symbol, OrderSide Side, decimal Quantity, decimal FilledQuantity, OrderType Type, decimal? LimitPrice, decimal? StopPrice, OrderStatus Status);

/// <summary>
/// The order gateway (<c>&lt;Mode&gt;OrderGateway</c>: simulated, IB). A dumb pipe: it does not
/// decide, size or gate. Pre-trade gates run in front of it. Events arrive on <see cref="Events"/>
/// in the order the venue produced them.
/// </summary>
public interface IOrderGateway
{
    /// <summary>A short name for logs ("simulated", "ib-paper").</summary>
    string Name { get; }

    /// <summary>Order events (accepted, filled, cancelled, rejected, modified).</summary>
    System.Threading.Channels.ChannelReader<OrderEvent> Events { get; }

    /// <summary>
    /// Messages per second the broker accepts and the share reserved for risk messages, or null when
    /// the gateway has no message limit (the simulated broker). The execution side paces by it.
    /// </summary>
    (int PerSecond, int ReservedForRisk)? MessageLimit => null;

    /// <summary>
    /// Why the broker cannot take <paramref name="order"/> now (a link being reconciled or warming up, a lost link for
    /// an entry, a reset window), or null when it can. A pre-trade gate asks before the order leaves; the simulated
    /// broker is always ready.
    /// </summary>
    string? SubmissionBlocked(SubmitOrder order, DateTimeOffset nowUtc) => null;

    /// <summary>
    /// False while our book may still miss what the broker holds: after a start, until the first reconciliation has
    /// reported (on <see cref="Events"/>, before this turns true) the fills made while we were away and the positions
    /// adopted. A decision that depends on the position (does this working order reduce it?) waits for it. The simulated
    /// broker is always reconciled.
    /// </summary>
    bool BookReconciled => true;

    /// <summary>Sends an order. Acknowledgement arrives on <see cref="Events"/>.</summary>
    ValueTask SubmitAsync(SubmitOrder order, CancellationToken cancellationToken);

    /// <summary>Requests a cancel. A cancel for an unknown or finished order yields an <see cref="OrderRejected"/>-free no-op.</summary>
    ValueTask CancelAsync(CancelOrder cancel, CancellationToken cancellationToken);

    /// <summary>Requests a modification of a working order.</summary>
    ValueTask ModifyAsync(ModifyOrder modify, CancellationToken cancellationToken);

    /// <summary>The broker's positions (for reconciliation). A timeout throws: unknown is not empty.</summary>
    Task<IReadOnlyList<BrokerPosition>> GetPositionsAsync(CancellationToken cancellationToken);

    /// <summary>The broker's working orders (for reconciliation). A timeout throws: unknown is not empty.</summary>
    Task<IReadOnlyList<BrokerOrder>> GetOpenOrdersAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A gateway that matches orders against bars itself (the simulated broker). The execution
/// service hands it each bar after the orders decided before that bar, so fills follow from the
/// data alone.
/// </summary>
public interface IBarMatchingGateway : IOrderGateway
{
    /// <summary>Matches working orders against a completed bar and emits fills on <see cref="IOrderGateway.Events"/>.</summary>
    void OnBar(MarketData.Bar bar);

    /// <summary>
    /// Commits whatever the gateway's own records still hold in memory (a simulated broker's replay store writes in
    /// background batches) and waits for it. The end of a replay calls it, so that its wall time includes every record.
    /// </summary>
    void FlushRecords();
}
