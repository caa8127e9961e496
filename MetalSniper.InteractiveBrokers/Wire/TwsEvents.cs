namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>
/// Base of every decoded server → client message and every client notification. <see cref="ReceivedAt"/> is the UTC
/// time (from the client's <see cref="TimeProvider"/>) at which the frame was read off the socket.
/// </summary>
public abstract record TwsEvent
{
    private DateTimeOffset _receivedAt;

    /// <summary>UTC receive time of the frame (or creation time of a client notification).</summary>
    public DateTimeOffset ReceivedAt { get => _receivedAt; init => _receivedAt = value; }

    /// <summary>Stamps the receive time once, right after decoding (avoids a copy per event).</summary>
    internal void Stamp(DateTimeOffset receivedAt) => _receivedAt = receivedAt;
}

// ---------------------------------------------------------------- housekeeping (§4.2)

/// <summary>nextValidId (9): the next order id this client may use (TWS-PROTOCOL.md §4.2).</summary>
/// <param name="OrderId">The next usable order id.</param>
public sealed record NextValidIdEvent(int OrderId) : TwsEvent;

/// <summary>managedAccounts (15): the accounts of this login, split on commas, empty entries dropped (TWS-PROTOCOL.md §2.2).</summary>
/// <param name="Accounts">Account codes, e.g. <c>DU1234567</c>.</param>
public sealed record ManagedAccountsEvent(IReadOnlyList<string> Accounts) : TwsEvent;

/// <summary>currentTime (49): TWS's clock (TWS-PROTOCOL.md §4.2).</summary>
/// <param name="EpochSeconds">Unix time in seconds.</param>
public sealed record CurrentTimeEvent(long EpochSeconds) : TwsEvent
{
    /// <summary>The server time as UTC.</summary>
    public DateTimeOffset ServerTime => DateTimeOffset.FromUnixTimeSeconds(EpochSeconds);
}

/// <summary>
/// error (4), 176 layout <c>4|2|id|code|message|advancedOrderRejectJson</c>: errors, warnings and notices
/// (TWS-PROTOCOL.md §4.2, §5). The message text is un-escaped from <c>\uXXXX</c>.
/// </summary>
/// <param name="Id">Request id / order id, or −1 for system notices.</param>
/// <param name="Code">The error code (see <see cref="TwsErrorCode"/>).</param>
/// <param name="Message">Human-readable text.</param>
/// <param name="AdvancedOrderRejectJson">JSON detail for order rejects; usually empty.</param>
public sealed record ErrorEvent(int Id, int Code, string Message, string AdvancedOrderRejectJson) : TwsEvent
{
    /// <summary>True for id −1 (system notice, not tied to a request).</summary>
    public bool IsSystemNotice => Id == -1;

    /// <summary>
    /// True for codes that are information or warnings rather than failures: 2100–2199, 10167, and the warning codes
    /// ib_async lists (105, 110, 165, 321, 329, 399, 404, 434, 492) (TWS-PROTOCOL.md §5).
    /// </summary>
    public bool IsWarningOrInfo => Code is (>= 2100 and <= 2199) or 10167 or 105 or 110 or 165 or 321 or 329 or 399 or 404 or 434 or 492;
}

// ---------------------------------------------------------------- market data (§4.3)

/// <summary>tickPrice (1): <c>1|6|reqId|tickType|price|size|attrMask</c> (TWS-PROTOCOL.md §4.3).</summary>
/// <param name="ReqId">The reqMktData ticker id.</param>
/// <param name="TickType">Tick type (see <see cref="TwsTickType"/>).</param>
/// <param name="Price">The price (−1 may mean "no price" for some ticks).</param>
/// <param name="Size">The size carried with the price; null if unset.</param>
/// <param name="AttrMask">Bit 1 canAutoExecute, 2 pastLimit, 4 preOpen.</param>
public sealed record TickPriceEvent(int ReqId, int TickType, double Price, decimal? Size, int AttrMask) : TwsEvent
{
    /// <summary>Attribute bit 1.</summary>
    public bool CanAutoExecute => (AttrMask & 1) != 0;

    /// <summary>Attribute bit 2.</summary>
    public bool PastLimit => (AttrMask & 2) != 0;

    /// <summary>Attribute bit 4.</summary>
    public bool PreOpen => (AttrMask & 4) != 0;
}

/// <summary>
/// tickSize (2): <c>2|6|reqId|tickType|size</c>, or the size the official decoders synthesise from a tickPrice of
/// BID/ASK/LAST (and delayed) — then <see cref="Synthetic"/> is true and the event directly follows its tickPrice
/// (TWS-PROTOCOL.md §4.3). Expect duplicate sizes.
/// </summary>
/// <param name="ReqId">Ticker id.</param>
/// <param name="TickType">Size tick type.</param>
/// <param name="Size">The size; null if unset.</param>
/// <param name="Synthetic">True when derived from a tickPrice frame.</param>
public sealed record TickSizeEvent(int ReqId, int TickType, decimal? Size, bool Synthetic) : TwsEvent;

/// <summary>tickString (46): <c>46|6|reqId|tickType|value</c>, e.g. LAST_TIMESTAMP, RT_VOLUME.</summary>
/// <param name="ReqId">Ticker id.</param>
/// <param name="TickType">Tick type.</param>
/// <param name="Value">The text value.</param>
public sealed record TickStringEvent(int ReqId, int TickType, string Value) : TwsEvent;

/// <summary>tickGeneric (45): <c>45|6|reqId|tickType|value</c>, e.g. HALTED, SHORTABLE.</summary>
/// <param name="ReqId">Ticker id.</param>
/// <param name="TickType">Tick type.</param>
/// <param name="Value">The value.</param>
public sealed record TickGenericEvent(int ReqId, int TickType, double Value) : TwsEvent;

/// <summary>tickReqParams (81): <c>81|reqId|minTick|bboExchange|snapshotPermissions</c>.</summary>
/// <param name="ReqId">Ticker id.</param>
/// <param name="MinTick">Minimum price increment.</param>
/// <param name="BboExchange">BBO exchange code.</param>
/// <param name="SnapshotPermissions">Snapshot permission bits.</param>
public sealed record TickReqParamsEvent(int ReqId, double MinTick, string BboExchange, int SnapshotPermissions) : TwsEvent;

/// <summary>marketDataType (58): <c>58|1|reqId|type</c> (1 live, 2 frozen, 3 delayed, 4 delayed-frozen).</summary>
/// <param name="ReqId">Ticker id.</param>
/// <param name="MarketDataType">The type in effect.</param>
public sealed record MarketDataTypeEvent(int ReqId, int MarketDataType) : TwsEvent;

/// <summary>tickSnapshotEnd (57): <c>57|1|reqId</c>.</summary>
/// <param name="ReqId">Ticker id.</param>
public sealed record TickSnapshotEndEvent(int ReqId) : TwsEvent;

// ---------------------------------------------------------------- contract details (§4.4)

/// <summary>
/// The contract details we use from contractDetails (10); every other field is consumed. Trading hours look like
/// <c>20260406:0400-20260406:2000;20260405:CLOSED;…</c> in <see cref="TimeZoneId"/> (TWS-PROTOCOL.md §4.4).
/// </summary>
public sealed record TwsContractDetails
{
    /// <summary>The contract (conId, symbol, secType, expiry, strike, right, exchange, currency, localSymbol, tradingClass, multiplier, primaryExchange).</summary>
    public required TwsContract Contract { get; init; }

    /// <summary>Last trade time split off lastTradeDateOrContractMonth (<c>"YYYYMMDD HH:MM"</c>), or empty.</summary>
    public string LastTradeTime { get; init; } = "";

    /// <summary>Market name.</summary>
    public string MarketName { get; init; } = "";

    /// <summary>Minimum price increment.</summary>
    public double MinTick { get; init; }

    /// <summary>Supported order types (CSV).</summary>
    public string OrderTypes { get; init; } = "";

    /// <summary>Valid exchanges (CSV), e.g. includes IBCMDTY for metals.</summary>
    public string ValidExchanges { get; init; } = "";

    /// <summary>Price magnifier.</summary>
    public int PriceMagnifier { get; init; }

    /// <summary>Underlying conId.</summary>
    public int UnderConId { get; init; }

    /// <summary>Long name (un-escaped).</summary>
    public string LongName { get; init; } = "";

    /// <summary>Contract month.</summary>
    public string ContractMonth { get; init; } = "";

    /// <summary>Industry.</summary>
    public string Industry { get; init; } = "";

    /// <summary>Category.</summary>
    public string Category { get; init; } = "";

    /// <summary>Subcategory.</summary>
    public string Subcategory { get; init; } = "";

    /// <summary>Time zone of the trading hours, e.g. <c>US/Eastern</c>.</summary>
    public string TimeZoneId { get; init; } = "";

    /// <summary>Trading hours.</summary>
    public string TradingHours { get; init; } = "";

    /// <summary>Liquid (regular) hours.</summary>
    public string LiquidHours { get; init; } = "";

    /// <summary>Economic value rule.</summary>
    public string EvRule { get; init; } = "";

    /// <summary>Economic value multiplier.</summary>
    public int EvMultiplier { get; init; }

    /// <summary>Security ids (tag, value), e.g. ISIN.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> SecIds { get; init; } = [];

    /// <summary>Aggregation group.</summary>
    public int AggGroup { get; init; }

    /// <summary>Underlying symbol.</summary>
    public string UnderSymbol { get; init; } = "";

    /// <summary>Underlying security type.</summary>
    public string UnderSecType { get; init; } = "";

    /// <summary>Market rule ids (CSV, one per valid exchange).</summary>
    public string MarketRuleIds { get; init; } = "";

    /// <summary>Real expiration date.</summary>
    public string RealExpirationDate { get; init; } = "";

    /// <summary>Stock type, e.g. COMMON.</summary>
    public string StockType { get; init; } = "";

    /// <summary>Minimum order size; null if unset.</summary>
    public decimal? MinSize { get; init; }

    /// <summary>Order size increment; null if unset.</summary>
    public decimal? SizeIncrement { get; init; }

    /// <summary>Suggested size increment; null if unset.</summary>
    public decimal? SuggestedSizeIncrement { get; init; }
}

/// <summary>contractDetails (10), 40 fields at 176 with no secIds (TWS-PROTOCOL.md §4.4).</summary>
/// <param name="ReqId">The reqContractDetails id.</param>
/// <param name="Details">The decoded details.</param>
public sealed record ContractDetailsEvent(int ReqId, TwsContractDetails Details) : TwsEvent;

/// <summary>contractDetailsEnd (52): <c>52|1|reqId</c>.</summary>
/// <param name="ReqId">The reqContractDetails id.</param>
public sealed record ContractDetailsEndEvent(int ReqId) : TwsEvent;

// ---------------------------------------------------------------- bars (§4.6)

/// <summary>One historical bar. For MIDPOINT/BID/ASK, volume, wap and count are −1.</summary>
/// <param name="Date"><c>yyyyMMdd HH:mm:ss TZ</c>, <c>yyyyMMdd</c> (daily) or epoch seconds (formatDate=2).</param>
/// <param name="Open">Open.</param>
/// <param name="High">High.</param>
/// <param name="Low">Low.</param>
/// <param name="Close">Close.</param>
/// <param name="Volume">Volume (shares at ≥175); null if unset.</param>
/// <param name="Wap">Volume-weighted average price; null if unset.</param>
/// <param name="BarCount">Number of trades.</param>
public sealed record TwsBar(string Date, double Open, double High, double Low, double Close, decimal? Volume, decimal? Wap, int BarCount);

/// <summary>historicalData (17), &lt;196 layout: <c>17|reqId|start|end|count|bars…</c>; the whole reply in one event (TWS-PROTOCOL.md §4.6).</summary>
/// <param name="ReqId">The reqHistoricalData id.</param>
/// <param name="Start">Start of the returned range.</param>
/// <param name="End">End of the returned range.</param>
/// <param name="Bars">The bars, oldest first.</param>
public sealed record HistoricalDataEvent(int ReqId, string Start, string End, IReadOnlyList<TwsBar> Bars) : TwsEvent;

/// <summary>historicalDataUpdate (90): <c>90|reqId|barCount|date|open|close|high|low|wap|volume</c> — note the order (TWS-PROTOCOL.md §4.6).</summary>
/// <param name="ReqId">The keepUpToDate request id.</param>
/// <param name="Bar">The updated (last) bar.</param>
public sealed record HistoricalDataUpdateEvent(int ReqId, TwsBar Bar) : TwsEvent;

/// <summary>realtimeBar (50): <c>50|3|reqId|time|open|high|low|close|volume|wap|count</c>, 5-second bars.</summary>
/// <param name="ReqId">The reqRealTimeBars id.</param>
/// <param name="Time">Bar start, epoch seconds.</param>
/// <param name="Open">Open.</param>
/// <param name="High">High.</param>
/// <param name="Low">Low.</param>
/// <param name="Close">Close.</param>
/// <param name="Volume">Volume (−1 for MIDPOINT); null if unset.</param>
/// <param name="Wap">WAP; null if unset.</param>
/// <param name="Count">Trade count.</param>
public sealed record RealTimeBarEvent(int ReqId, long Time, double Open, double High, double Low, double Close, decimal? Volume, decimal? Wap, int Count) : TwsEvent
{
    /// <summary>Bar start as UTC.</summary>
    public DateTimeOffset BarStart => DateTimeOffset.FromUnixTimeSeconds(Time);
}

// ---------------------------------------------------------------- orders and executions (§4.5)

/// <summary>orderStatus (3), 12 fields: <c>3|orderId|status|filled|remaining|avgFillPrice|permId|parentId|lastFillPrice|clientId|whyHeld|mktCapPrice</c>.</summary>
/// <param name="OrderId">Order id.</param>
/// <param name="Status">ApiPending, PendingSubmit, PreSubmitted, Submitted, Filled, PendingCancel, ApiCancelled, Cancelled, Inactive.</param>
/// <param name="Filled">Filled quantity.</param>
/// <param name="Remaining">Remaining quantity.</param>
/// <param name="AvgFillPrice">Average fill price.</param>
/// <param name="PermId">TWS's permanent id (long).</param>
/// <param name="ParentId">Parent order id, 0 if none.</param>
/// <param name="LastFillPrice">Price of the last fill.</param>
/// <param name="ClientId">Client id that placed the order.</param>
/// <param name="WhyHeld">Reason held (e.g. locate), usually empty.</param>
/// <param name="MktCapPrice">Market cap price; null if unset.</param>
public sealed record OrderStatusEvent(int OrderId, string Status, decimal Filled, decimal Remaining, double AvgFillPrice, long PermId, int ParentId,
    double LastFillPrice, int ClientId, string WhyHeld, double? MktCapPrice) : TwsEvent;

/// <summary>The order fields decoded from openOrder (5) and completedOrder (101); see TWS-PROTOCOL.md §4.5.</summary>
public sealed record TwsOrderInfo
{
    /// <summary>Order id (0 in completedOrder, which carries none: match by <see cref="PermId"/>).</summary>
    public int OrderId { get; init; }

    /// <summary>BUY / SELL / SSHORT.</summary>
    public string Action { get; init; } = "";

    /// <summary>Total quantity.</summary>
    public decimal TotalQuantity { get; init; }

    /// <summary>Order type, e.g. LMT.</summary>
    public string OrderType { get; init; } = "";

    /// <summary>Limit price; null if unset.</summary>
    public double? LmtPrice { get; init; }

    /// <summary>Aux (stop) price; null if unset.</summary>
    public double? AuxPrice { get; init; }

    /// <summary>Time in force.</summary>
    public string Tif { get; init; } = "";

    /// <summary>OCA group.</summary>
    public string OcaGroup { get; init; } = "";

    /// <summary>Account.</summary>
    public string Account { get; init; } = "";

    /// <summary>Open/close (may be <c>"?"</c>).</summary>
    public string OpenClose { get; init; } = "";

    /// <summary>Origin (0 customer).</summary>
    public int Origin { get; init; }

    /// <summary>Our order reference.</summary>
    public string OrderRef { get; init; } = "";

    /// <summary>Client id that placed the order (0 in completedOrder).</summary>
    public int ClientId { get; init; }

    /// <summary>Permanent id (long).</summary>
    public long PermId { get; init; }

    /// <summary>Outside regular trading hours.</summary>
    public bool OutsideRth { get; init; }

    /// <summary>Hidden.</summary>
    public bool Hidden { get; init; }

    /// <summary>Good-after time.</summary>
    public string GoodAfterTime { get; init; } = "";

    /// <summary>Good-till date.</summary>
    public string GoodTillDate { get; init; } = "";

    /// <summary>OCA type.</summary>
    public int OcaType { get; init; }

    /// <summary>Parent order id (openOrder only; 0 if none).</summary>
    public int ParentId { get; init; }

    /// <summary>Trigger method.</summary>
    public int TriggerMethod { get; init; }

    /// <summary>Delta-neutral order type; real TWS writes <c>"None"</c> for ordinary orders.</summary>
    public string DeltaNeutralOrderType { get; init; } = "";

    /// <summary>Trailing stop price; null if unset.</summary>
    public double? TrailStopPrice { get; init; }

    /// <summary>Trailing percent; null if unset.</summary>
    public double? TrailingPercent { get; init; }

    /// <summary>Hedge type.</summary>
    public string HedgeType { get; init; } = "";

    /// <summary>Algo strategy.</summary>
    public string AlgoStrategy { get; init; } = "";

    /// <summary>What-if (preview) order.</summary>
    public bool WhatIf { get; init; }

    /// <summary>Number of order conditions (decoded and skipped).</summary>
    public int ConditionsCount { get; init; }

    /// <summary>Cash quantity; null if unset.</summary>
    public double? CashQty { get; init; }

    /// <summary>Auto-cancel the parent.</summary>
    public bool AutoCancelParent { get; init; }

    /// <summary>Filled quantity (completedOrder only); null if unset.</summary>
    public decimal? FilledQuantity { get; init; }

    /// <summary>Parent permId (completedOrder only).</summary>
    public long ParentPermId { get; init; }
}

/// <summary>The order-state part of openOrder / completedOrder.</summary>
public sealed record TwsOrderState
{
    /// <summary>Status, e.g. Submitted, Filled, Cancelled.</summary>
    public string Status { get; init; } = "";

    /// <summary>What-if margin fields (text as sent): init margin before.</summary>
    public string InitMarginBefore { get; init; } = "";

    /// <summary>Maintenance margin before.</summary>
    public string MaintMarginBefore { get; init; } = "";

    /// <summary>Equity with loan before.</summary>
    public string EquityWithLoanBefore { get; init; } = "";

    /// <summary>Init margin change.</summary>
    public string InitMarginChange { get; init; } = "";

    /// <summary>Maintenance margin change.</summary>
    public string MaintMarginChange { get; init; } = "";

    /// <summary>Equity with loan change.</summary>
    public string EquityWithLoanChange { get; init; } = "";

    /// <summary>Init margin after.</summary>
    public string InitMarginAfter { get; init; } = "";

    /// <summary>Maintenance margin after.</summary>
    public string MaintMarginAfter { get; init; } = "";

    /// <summary>Equity with loan after.</summary>
    public string EquityWithLoanAfter { get; init; } = "";

    /// <summary>Commission; null if unset.</summary>
    public double? Commission { get; init; }

    /// <summary>Minimum commission; null if unset.</summary>
    public double? MinCommission { get; init; }

    /// <summary>Maximum commission; null if unset.</summary>
    public double? MaxCommission { get; init; }

    /// <summary>Commission currency.</summary>
    public string CommissionCurrency { get; init; } = "";

    /// <summary>Warning text.</summary>
    public string WarningText { get; init; } = "";

    /// <summary>Completion time (completedOrder only).</summary>
    public string CompletedTime { get; init; } = "";

    /// <summary>Completion status text (completedOrder only).</summary>
    public string CompletedStatus { get; init; } = "";
}

/// <summary>openOrder (5): 128 fields at 176 for a simple order, 136 with <c>"None"</c> delta-neutral type (TWS-PROTOCOL.md §4.5).</summary>
/// <param name="OrderId">Order id.</param>
/// <param name="Contract">The contract.</param>
/// <param name="Order">Order fields.</param>
/// <param name="State">Order state (status, what-if margins, commission).</param>
public sealed record OpenOrderEvent(int OrderId, TwsContract Contract, TwsOrderInfo Order, TwsOrderState State) : TwsEvent;

/// <summary>openOrderEnd (53): <c>53|1</c>.</summary>
public sealed record OpenOrderEndEvent : TwsEvent;

/// <summary>completedOrder (101): 97 fields at 176 for a simple order (no order id: match by permId).</summary>
/// <param name="Contract">The contract.</param>
/// <param name="Order">Order fields (OrderId 0; FilledQuantity, ParentPermId set).</param>
/// <param name="State">State incl. CompletedTime / CompletedStatus.</param>
public sealed record CompletedOrderEvent(TwsContract Contract, TwsOrderInfo Order, TwsOrderState State) : TwsEvent;

/// <summary>completedOrdersEnd (102): the single field <c>102</c>.</summary>
public sealed record CompletedOrdersEndEvent : TwsEvent;

/// <summary>One execution (fill) from execDetails (TWS-PROTOCOL.md §4.5).</summary>
public sealed record TwsExecution
{
    /// <summary>Order id (0 for manual TWS orders).</summary>
    public int OrderId { get; init; }

    /// <summary>Execution id; a correction keeps the prefix and changes the part after the last '.'.</summary>
    public string ExecId { get; init; } = "";

    /// <summary>Time, e.g. <c>20260413 15:27:04 US/Eastern</c>.</summary>
    public string Time { get; init; } = "";

    /// <summary>Account.</summary>
    public string AccountNumber { get; init; } = "";

    /// <summary>Execution venue.</summary>
    public string Exchange { get; init; } = "";

    /// <summary><c>BOT</c> or <c>SLD</c>.</summary>
    public string Side { get; init; } = "";

    /// <summary>Filled quantity of this execution.</summary>
    public decimal Shares { get; init; }

    /// <summary>Fill price.</summary>
    public double Price { get; init; }

    /// <summary>Permanent id (long).</summary>
    public long PermId { get; init; }

    /// <summary>Client id that placed the order.</summary>
    public int ClientId { get; init; }

    /// <summary>Liquidation flag.</summary>
    public int Liquidation { get; init; }

    /// <summary>Cumulative quantity of the order.</summary>
    public decimal CumQty { get; init; }

    /// <summary>Average price of the order so far.</summary>
    public double AvgPrice { get; init; }

    /// <summary>Our order reference.</summary>
    public string OrderRef { get; init; } = "";

    /// <summary>Economic value rule.</summary>
    public string EvRule { get; init; } = "";

    /// <summary>Economic value multiplier; null if unset.</summary>
    public double? EvMultiplier { get; init; }

    /// <summary>Model code.</summary>
    public string ModelCode { get; init; } = "";

    /// <summary>Last liquidity (1 added, 2 removed, 3 routed out).</summary>
    public int LastLiquidity { get; init; }
}

/// <summary>execDetails (11), 31 fields at 176 (TWS-PROTOCOL.md §4.5).</summary>
/// <param name="ReqId">The reqExecutions id, or −1 for live (unsolicited) fills.</param>
/// <param name="Contract">The contract.</param>
/// <param name="Execution">The execution.</param>
public sealed record ExecDetailsEvent(int ReqId, TwsContract Contract, TwsExecution Execution) : TwsEvent;

/// <summary>execDetailsEnd (55): <c>55|1|reqId</c>.</summary>
/// <param name="ReqId">The reqExecutions id.</param>
public sealed record ExecDetailsEndEvent(int ReqId) : TwsEvent;

/// <summary>commissionReport (59): <c>59|1|execId|commission|currency|realizedPNL|yield|yieldRedemptionDate</c>; unset values are null.</summary>
/// <param name="ExecId">The execution it belongs to.</param>
/// <param name="Commission">Commission; null if unset.</param>
/// <param name="Currency">Commission currency.</param>
/// <param name="RealizedPnl">Realized P&amp;L of the closing execution; null if unset.</param>
/// <param name="Yield">Yield; null if unset.</param>
/// <param name="YieldRedemptionDate">YYYYMMDD as an integer; null if unset.</param>
public sealed record CommissionReportEvent(string ExecId, double? Commission, string Currency, double? RealizedPnl, double? Yield, int? YieldRedemptionDate) : TwsEvent;

// ---------------------------------------------------------------- account and positions (§4.6)

/// <summary>position (61): <c>61|3|account|C11|position|avgCost</c>.</summary>
/// <param name="Account">Account.</param>
/// <param name="Contract">Contract (for futures the exchange is often empty).</param>
/// <param name="Position">Signed position.</param>
/// <param name="AvgCost">Average cost (incl. multiplier).</param>
public sealed record PositionEvent(string Account, TwsContract Contract, decimal Position, double AvgCost) : TwsEvent;

/// <summary>positionEnd (62): <c>62|1</c>.</summary>
public sealed record PositionEndEvent : TwsEvent;

/// <summary>accountSummary (63): <c>63|1|reqId|account|tag|value|currency</c>.</summary>
/// <param name="ReqId">Request id.</param>
/// <param name="Account">Account.</param>
/// <param name="Tag">Tag, e.g. NetLiquidation.</param>
/// <param name="Value">Value as text.</param>
/// <param name="Currency">Currency, may be empty.</param>
public sealed record AccountSummaryEvent(int ReqId, string Account, string Tag, string Value, string Currency) : TwsEvent;

/// <summary>accountSummaryEnd (64): <c>64|1|reqId</c>.</summary>
/// <param name="ReqId">Request id.</param>
public sealed record AccountSummaryEndEvent(int ReqId) : TwsEvent;

/// <summary>updateAccountValue (6): <c>6|2|key|value|currency|accountName</c>.</summary>
/// <param name="Key">Key, e.g. NetLiquidation, accountReady.</param>
/// <param name="Value">Value as text.</param>
/// <param name="Currency">Currency.</param>
/// <param name="AccountName">Account.</param>
public sealed record UpdateAccountValueEvent(string Key, string Value, string Currency, string AccountName) : TwsEvent;

/// <summary>updatePortfolio (7), v8, 20 fields (TWS-PROTOCOL.md §4.6).</summary>
/// <param name="Contract">Contract (conId…tradingClass incl. primaryExchange).</param>
/// <param name="Position">Position.</param>
/// <param name="MarketPrice">Market price.</param>
/// <param name="MarketValue">Market value.</param>
/// <param name="AverageCost">Average cost.</param>
/// <param name="UnrealizedPnl">Unrealized P&amp;L; null if unset.</param>
/// <param name="RealizedPnl">Realized P&amp;L; null if unset.</param>
/// <param name="AccountName">Account.</param>
public sealed record UpdatePortfolioEvent(TwsContract Contract, decimal Position, double MarketPrice, double MarketValue, double AverageCost,
    double? UnrealizedPnl, double? RealizedPnl, string AccountName) : TwsEvent;

/// <summary>updateAccountTime (8): <c>8|1|HH:mm</c>.</summary>
/// <param name="TimeStamp">Time of the last account update, <c>HH:mm</c>.</param>
public sealed record UpdateAccountTimeEvent(string TimeStamp) : TwsEvent;

/// <summary>accountDownloadEnd (54): <c>54|1|account</c>.</summary>
/// <param name="Account">Account.</param>
public sealed record AccountDownloadEndEvent(string Account) : TwsEvent;

// ---------------------------------------------------------------- problems

/// <summary>A frame with a message id this library does not decode; it was skipped (TWS-PROTOCOL.md §1.1).</summary>
/// <param name="MessageId">The message id.</param>
/// <param name="Fields">All fields as text (message id first), for logging.</param>
public sealed record UnknownMessageEvent(int MessageId, IReadOnlyList<string> Fields) : TwsEvent;

/// <summary>
/// A frame whose content could not be decoded (too few fields, bad number, missing final NUL, leftover fields, …).
/// The frame was skipped; the next frame decodes normally (TWS-PROTOCOL.md §1.1, §11).
/// </summary>
/// <param name="MessageId">The message id if field 0 parsed, else null.</param>
/// <param name="Kind">What went wrong.</param>
/// <param name="FieldIndex">Zero-based index of the offending field.</param>
/// <param name="Reason">What was expected and what was seen.</param>
/// <param name="FieldCount">Number of NUL-terminated fields in the frame.</param>
public sealed record DecodeErrorEvent(int? MessageId, TwsDecodeErrorKind Kind, int FieldIndex, string Reason, int FieldCount) : TwsEvent;
