using System.Globalization;

namespace MetalSniper.Core.Orders;

/// <summary>Order side.</summary>
public enum OrderSide
{
    /// <summary>Buy (increases a long, reduces a short).</summary>
    Buy,

    /// <summary>Sell (reduces a long, increases a short).</summary>
    Sell,
}

/// <summary>Order type.</summary>
public enum OrderType
{
    /// <summary>Fill at the market on the next price.</summary>
    Market,

    /// <summary>Fill at the limit price or better.</summary>
    Limit,

    /// <summary>Becomes a market order when the stop price trades; a gap through fills at the open.</summary>
    Stop,
}

/// <summary>Why an order exists. Gates use it: adds face the locked-profit rule, risk orders are reduce-only.</summary>
public enum OrderPurpose
{
    /// <summary>Opens a new position (or the net order of a hedged opening).</summary>
    Entry,

    /// <summary>Scales into an existing position (locked-profit rule applies).</summary>
    Add,

    /// <summary>A resting stop that protects (or, for a virtual hedge leg, kills) a leg.</summary>
    ProtectiveStop,

    /// <summary>A strategy exit that reduces or closes a position.</summary>
    Exit,

    /// <summary>A reduce-only flatten from the risk sentinel or kill switch.</summary>
    RiskFlatten,
}

/// <summary>Order lifecycle states.</summary>
public enum OrderStatus
{
    /// <summary>Created by us, not yet acknowledged by the gateway.</summary>
    PendingSubmit,

    /// <summary>Acknowledged and working at the gateway.</summary>
    Working,

    /// <summary>Partly filled and still working.</summary>
    PartiallyFilled,

    /// <summary>Completely filled.</summary>
    Filled,

    /// <summary>Cancelled (by us or the venue).</summary>
    Cancelled,

    /// <summary>Refused by a pre-trade gate before it left.</summary>
    Denied,

    /// <summary>Refused by the gateway or venue.</summary>
    Rejected,
}

/// <summary>Time in force.</summary>
public enum TimeInForce
{
    /// <summary>Good till cancelled.</summary>
    Gtc,

    /// <summary>Expires at the end of the session.</summary>
    Day,

    /// <summary>
    /// For the next opening auction of the instrument's venue (IB time in force <c>OPG</c>: market-on-open, limit-on-open):
    /// sent while the venue is closed, filled at the open or cancelled. Used for decisions taken on a daily close.
    /// </summary>
    AtTheOpen,
}

/// <summary>Extensions for orders.</summary>
public static class OrderExtensions
{
    /// <summary>True for terminal states (filled, cancelled, denied, rejected).</summary>
    public static bool IsTerminal(this OrderStatus status) =>
        status is OrderStatus.Filled or OrderStatus.Cancelled or OrderStatus.Denied or OrderStatus.Rejected;

    /// <summary>+1 for buy, −1 for sell.</summary>
    public static int Sign(this OrderSide side) => side == OrderSide.Buy ? 1 : -1;

    /// <summary>The other side.</summary>
    public static OrderSide Opposite(this OrderSide side) => side == OrderSide.Buy ? OrderSide.Sell : OrderSide.Buy;
}

/// <summary>
/// Our own client order id: the idempotency key of an order, persisted before the order is sent
/// and carried to IB in <c>orderRef</c>. Format "{run}-{sequence}".
/// </summary>
/// <param name="Value">The id text.</param>
public readonly record struct ClientOrderId(string Value)
{
    /// <inheritdoc />
    public override string ToString() => Value;
}

/// <summary>
/// A command to place an order. Prices are in major units of the instrument currency.
/// </summary>
/// <param name="ClientOrderId">Our idempotent id.</param>
/// <param name="DecisionId">The decision that caused the order (every order belongs to a decision).</param>
/// <param name="Symbol">Instrument symbol.</param>
/// <param name="Side">Buy or sell.</param>
/// <param name="Quantity">Quantity (&gt; 0) in instrument units (troy ounces, shares).</param>
/// <param name="Type">Market, limit or stop.</param>
/// <param name="LimitPrice">Limit price for limit orders.</param>
/// <param name="StopPrice">Trigger price for stop orders.</param>
/// <param name="Purpose">Why the order exists (gates depend on it).</param>
/// <param name="DecisionTimeUtc">Event time of the information the decision used (a bar's close time). The simulated broker never fills an order on a bar that opened before this time: no look-ahead.</param>
/// <param name="TimeInForce">Time in force.</param>
/// <param name="Source">Who decided: "strategy:metals", "sentinel", "operator".</param>
public sealed record SubmitOrder(
    ClientOrderId ClientOrderId,
    string DecisionId,
    string Symbol,
    OrderSide Side,
    decimal Quantity,
    OrderType Type,
    decimal? LimitPrice,
    decimal? StopPrice,
    OrderPurpose Purpose,
    DateTimeOffset DecisionTimeUtc,
    TimeInForce TimeInForce,
    string Source)
{
    /// <summary>Checks the command's own consistency.</summary>
    /// <exception cref="ArgumentException">Quantity ≤ 0, a limit order without limit price, a stop without stop price, a non-positive price.</exception>
    public void EnsureValid()
    {
        if (Quantity <= 0m)
        {
            throw new ArgumentException($"order quantity must be > 0, was {Quantity.ToString(CultureInfo.InvariantCulture)} ({ClientOrderId})");
        }

        if (Type == OrderType.Limit && LimitPrice is not > 0m)
        {
            throw new ArgumentException($"a limit order needs a limit price > 0, was {LimitPrice} ({ClientOrderId})");
        }

        if (Type == OrderType.Stop && StopPrice is not > 0m)
        {
            throw new ArgumentException($"a stop order needs a stop price > 0, was {StopPrice} ({ClientOrderId})");
        }
    }
}

/// <summary>A command to cancel a working order.</summary>
/// <param name="ClientOrderId">The order to cancel.</param>
/// <param name="DecisionId">The decision that asked for it.</param>
/// <param name="Reason">Why.</param>
public sealed record CancelOrder(ClientOrderId ClientOrderId, string DecisionId, string Reason);

/// <summary>A command to change the stop or limit price (and optionally quantity) of a working order.</summary>
/// <param name="ClientOrderId">The order to modify.</param>
/// <param name="DecisionId">The decision that asked for it.</param>
/// <param name="NewStopPrice">New stop price, or null to keep.</param>
/// <param name="NewLimitPrice">New limit price, or null to keep.</param>
/// <param name="NewQuantity">New quantity, or null to keep.</param>
public sealed record ModifyOrder(ClientOrderId ClientOrderId, string DecisionId, decimal? NewStopPrice, decimal? NewLimitPrice, decimal? NewQuantity);

/// <summary>
/// An execution: part or all of an order traded. Price in major units of the instrument currency;
/// commission in the currency the broker charges it in.
/// </summary>
/// <param name="ExecutionId">Broker execution id (unique).</param>
/// <param name="ClientOrderId">The order it belongs to.</param>
/// <param name="Symbol">Instrument.</param>
/// <param name="Side">Side.</param>
/// <param name="Quantity">Quantity filled (&gt; 0).</param>
/// <param name="Price">Fill price.</param>
/// <param name="Commission">Commission charged for this execution.</param>
/// <param name="EventTimeUtc">Venue time of the execution.</param>
public sealed record Fill(
    string ExecutionId,
    ClientOrderId ClientOrderId,
    string Symbol,
    OrderSide Side,
    decimal Quantity,
    decimal Price,
    Money.Money Commission,
    DateTimeOffset EventTimeUtc);
