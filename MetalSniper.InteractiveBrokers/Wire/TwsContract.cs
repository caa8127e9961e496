namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>
/// A contract as the TWS API describes it: the common 12-field block ("C12") of TWS-PROTOCOL.md §4.1 plus the
/// fields decoded from contract-carrying replies. Used both in requests and in decoded events. Empty strings mean
/// "not given". Best practice: resolve once with reqContractDetails and then send <see cref="ConId"/> + exchange
/// (TWS-PROTOCOL.md §6).
/// </summary>
public sealed record TwsContract
{
    /// <summary>IB's contract id; 0 = unknown.</summary>
    public int ConId { get; init; }

    /// <summary>Symbol, e.g. <c>AAPL</c>, <c>XAUUSD</c>, <c>EUR</c> (forex base currency).</summary>
    public string Symbol { get; init; } = "";

    /// <summary>Security type: <c>STK</c>, <c>CASH</c>, <c>CMDTY</c>, <c>FUT</c>, …</summary>
    public string SecType { get; init; } = "";

    /// <summary><c>YYYYMM</c> or <c>YYYYMMDD</c> for futures/options; empty otherwise.</summary>
    public string LastTradeDateOrContractMonth { get; init; } = "";

    /// <summary>Option strike; 0 when not an option (sent as <c>0.0</c>).</summary>
    public double Strike { get; init; }

    /// <summary>Option right (<c>C</c>/<c>P</c>); empty otherwise. Replies may carry the placeholder <c>"?"</c>.</summary>
    public string Right { get; init; } = "";

    /// <summary>Contract multiplier as text (e.g. <c>50</c>); empty when not needed.</summary>
    public string Multiplier { get; init; } = "";

    /// <summary>Routing exchange: <c>SMART</c>, <c>IDEALPRO</c>, <c>CME</c>, …</summary>
    public string Exchange { get; init; } = "";

    /// <summary>Primary listing exchange (disambiguates stocks), e.g. <c>NASDAQ</c>.</summary>
    public string PrimaryExchange { get; init; } = "";

    /// <summary>Currency, e.g. <c>USD</c>.</summary>
    public string Currency { get; init; } = "";

    /// <summary>Local symbol, e.g. <c>EUR.USD</c>, <c>ESZ6</c>.</summary>
    public string LocalSymbol { get; init; } = "";

    /// <summary>Trading class, e.g. <c>NMS</c>, <c>EUR.USD</c>.</summary>
    public string TradingClass { get; init; } = "";
}

/// <summary>The <c>orderAction</c> strings TWS accepts in placeOrder field 16 (TWS-PROTOCOL.md §4.1).</summary>
public static class TwsOrderAction
{
    /// <summary>Buy.</summary>
    public const string Buy = "BUY";

    /// <summary>Sell.</summary>
    public const string Sell = "SELL";

    /// <summary>Short sale (institutional accounts).</summary>
    public const string ShortSell = "SSHORT";
}

/// <summary>Order types this library's placeOrder layout supports (TWS-PROTOCOL.md §4.1 "Per-asset values").</summary>
public static class TwsOrderType
{
    /// <summary>Market.</summary>
    public const string Market = "MKT";

    /// <summary>Limit: needs <see cref="TwsOrder.LmtPrice"/>.</summary>
    public const string Limit = "LMT";

    /// <summary>Stop: needs <see cref="TwsOrder.AuxPrice"/> (the trigger).</summary>
    public const string Stop = "STP";

    /// <summary>Stop limit: needs <see cref="TwsOrder.LmtPrice"/> (limit) and <see cref="TwsOrder.AuxPrice"/> (trigger).</summary>
    public const string StopLimit = "STP LMT";
}

/// <summary>
/// The order fields this library sends in placeOrder (TWS-PROTOCOL.md §4.1, 115 fields at 176; every other slot is
/// sent with its neutral default). Brackets are parentId/transmit (parent and first child <c>Transmit=false</c>, the
/// last child <c>Transmit=true</c>); OCA groups are <see cref="OcaGroup"/> + <see cref="OcaType"/> (TWS-PROTOCOL.md §7).
/// A modification is a placeOrder with the same order id and all fields.
/// </summary>
public sealed record TwsOrder
{
    /// <summary><c>BUY</c>, <c>SELL</c> or <c>SSHORT</c> (see <see cref="TwsOrderAction"/>).</summary>
    public required string Action { get; init; }

    /// <summary>Quantity in contract units (shares, base-currency units for CASH, ounces for XAUUSD); must be &gt; 0.</summary>
    public required decimal TotalQuantity { get; init; }

    /// <summary><c>MKT</c>, <c>LMT</c>, <c>STP</c>, <c>STP LMT</c> (see <see cref="TwsOrderType"/>); other simple types are passed through.</summary>
    public required string OrderType { get; init; }

    /// <summary>Limit price (LMT, STP LMT); null = unset (sent as <c>""</c>).</summary>
    public double? LmtPrice { get; init; }

    /// <summary>Stop trigger price (STP, STP LMT); null = unset (sent as <c>""</c>).</summary>
    public double? AuxPrice { get; init; }

    /// <summary>Time in force: <c>DAY</c>, <c>GTC</c>, <c>IOC</c>, <c>GTD</c>, …; empty = TWS default.</summary>
    public string Tif { get; init; } = "";

    /// <summary>Account code (required for multi-account logins, error 435 otherwise).</summary>
    public string Account { get; init; } = "";

    /// <summary>Free text we set, returned in openOrder/execDetails: our own client order id goes here.</summary>
    public string OrderRef { get; init; } = "";

    /// <summary>False holds the order in TWS until a sibling with <c>Transmit=true</c> arrives (brackets).</summary>
    public bool Transmit { get; init; } = true;

    /// <summary>The parent order id for bracket children; 0 = none.</summary>
    public int ParentId { get; init; }

    /// <summary>One-cancels-all group name; empty = none.</summary>
    public string OcaGroup { get; init; } = "";

    /// <summary>OCA type: 1 cancel others with block, 2 reduce with block, 3 reduce without block; 0 = not set.</summary>
    public int OcaType { get; init; }

    /// <summary>Allow the order to trigger or fill outside regular trading hours.</summary>
    public bool OutsideRth { get; init; }

    /// <summary>Good-after time (<c>yyyyMMdd HH:mm:ss TZ</c>); empty = none.</summary>
    public string GoodAfterTime { get; init; } = "";

    /// <summary>Good-till date for <c>GTD</c> (<c>yyyyMMdd HH:mm:ss TZ</c>); empty = none.</summary>
    public string GoodTillDate { get; init; } = "";

    /// <summary>Stop trigger method (0 default, 1 double bid/ask, 2 last, 3 double last, 4 bid/ask, 7 last or bid/ask, 8 midpoint).</summary>
    public int TriggerMethod { get; init; }

    /// <summary>Cancel the parent when this child is cancelled (server ≥ 162).</summary>
    public bool AutoCancelParent { get; init; }
}

/// <summary>The reqExecutions filter (TWS-PROTOCOL.md §4.1): 0 / empty fields do not filter.</summary>
public sealed record TwsExecutionFilter
{
    /// <summary>Only executions of this client id; 0 = all.</summary>
    public int ClientId { get; init; }

    /// <summary>Only this account; empty = all.</summary>
    public string AccountCode { get; init; } = "";

    /// <summary>Only executions after this time: <c>yyyyMMdd HH:mm:ss</c> (+ optional <c>" TZ"</c>) or UTC <c>yyyyMMdd-HH:mm:ss</c>; empty = since midnight.</summary>
    public string Time { get; init; } = "";

    /// <summary>Only this symbol; empty = all.</summary>
    public string Symbol { get; init; } = "";

    /// <summary>Only this security type; empty = all.</summary>
    public string SecType { get; init; } = "";

    /// <summary>Only this exchange; empty = all.</summary>
    public string Exchange { get; init; } = "";

    /// <summary>Only this side (<c>BUY</c>/<c>SELL</c>); empty = all.</summary>
    public string Side { get; init; } = "";
}
