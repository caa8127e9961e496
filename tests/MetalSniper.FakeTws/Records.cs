using System.Globalization;

namespace MetalSniper.FakeTws;

/// <summary>One OHLC bar a test loads into the fake market (<see cref="FakeTwsServer.LoadBars"/>).</summary>
/// <param name="StartUtc">Bar start time (UTC).</param>
/// <param name="Open">Open price.</param>
/// <param name="High">High price.</param>
/// <param name="Low">Low price.</param>
/// <param name="Close">Close price.</param>
/// <param name="Volume">Volume (written as −1 for MIDPOINT/BID/ASK requests, as TWS does).</param>
public sealed record FakeBar(DateTimeOffset StartUtc, double Open, double High, double Low, double Close, decimal Volume = 0m);

/// <summary>One request the fake received, after the handshake (startApi included).</summary>
/// <param name="ConnectionId">Sequence number of the TCP connection (1, 2, …).</param>
/// <param name="ClientId">The connection's clientId (−1 before startApi).</param>
/// <param name="MessageId">Field 0 as a number (e.g. 3 = placeOrder); −1 when not a number.</param>
/// <param name="Fields">Every field, field 0 included.</param>
/// <param name="ReceivedAt">Business-clock receive time.</param>
public sealed record FakeTwsRequest(int ConnectionId, int ClientId, int MessageId, IReadOnlyList<string> Fields, DateTimeOffset ReceivedAt)
{
    /// <summary>The fields joined with '|', for messages and assertions.</summary>
    public override string ToString() => string.Join('|', Fields);
}

/// <summary>One frame the fake queued for a client (the version reply excluded).</summary>
/// <param name="ConnectionId">Sequence number of the TCP connection.</param>
/// <param name="ClientId">The connection's clientId (−1 before startApi).</param>
/// <param name="MessageId">Field 0 as a number (4 = error).</param>
/// <param name="Fields">Every field, field 0 included.</param>
/// <param name="SentAt">Business-clock time.</param>
public sealed record FakeTwsSentFrame(int ConnectionId, int ClientId, int MessageId, IReadOnlyList<string> Fields, DateTimeOffset SentAt)
{
    /// <summary>For an error frame (4, 176 layout <c>4|2|id|code|msg|json</c>), the code; otherwise null.</summary>
    public int? ErrorCode =>
        MessageId == 4 && Fields.Count > 3 && int.TryParse(Fields[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var code)
            ? code
            : null;

    /// <summary>For an error frame, the id field (reqId / orderId / −1); otherwise null.</summary>
    public int? ErrorId =>
        MessageId == 4 && Fields.Count > 2 && int.TryParse(Fields[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id)
            ? id
            : null;

    /// <summary>The fields joined with '|'.</summary>
    public override string ToString() => string.Join('|', Fields);
}

/// <summary>A connection's client registering (after startApi) or going away.</summary>
/// <param name="ConnectionId">Sequence number of the TCP connection.</param>
/// <param name="ClientId">The clientId.</param>
/// <param name="Connected">True on registration, false when the connection closed.</param>
/// <param name="At">Business-clock time.</param>
public sealed record FakeTwsConnectionEvent(int ConnectionId, int ClientId, bool Connected, DateTimeOffset At);

/// <summary>A snapshot of one order held by the fake's order engine.</summary>
/// <param name="ClientId">Owning clientId.</param>
/// <param name="OrderId">Client order id.</param>
/// <param name="PermId">Permanent id (0 while untransmitted).</param>
/// <param name="Symbol">Contract key (<see cref="FakeContract.Key"/>).</param>
/// <param name="Action">BUY or SELL.</param>
/// <param name="TotalQuantity">Order quantity.</param>
/// <param name="OrderType">MKT, LMT, STP, STP LMT.</param>
/// <param name="LmtPrice">Limit price or null.</param>
/// <param name="AuxPrice">Stop trigger price or null.</param>
/// <param name="Status">TWS status (Submitted, PreSubmitted, Filled, Cancelled, …); "Untransmitted" while held with transmit=0.</param>
/// <param name="Filled">Filled quantity.</param>
/// <param name="AvgFillPrice">Average fill price (0 when none).</param>
/// <param name="OrderRef">orderRef echoed from the request.</param>
/// <param name="ParentId">Parent order id (0 = none).</param>
/// <param name="OcaGroup">OCA group ("" = none).</param>
/// <param name="Account">Account.</param>
/// <param name="Tif">Time in force.</param>
public sealed record FakeOrderSnapshot(
    int ClientId, int OrderId, long PermId, string Symbol, string Action, decimal TotalQuantity, string OrderType,
    double? LmtPrice, double? AuxPrice, string Status, decimal Filled, double AvgFillPrice, string OrderRef,
    int ParentId, string OcaGroup, string Account, string Tif);

/// <summary>One execution remembered by the fake (reqExecutions answers from these).</summary>
/// <param name="ExecId">Unique execution id ("0000e0d5.0000000a.01.01").</param>
/// <param name="OrderId">Order id.</param>
/// <param name="ClientId">Owning clientId.</param>
/// <param name="PermId">Order permId.</param>
/// <param name="Account">Account.</param>
/// <param name="Symbol">Contract key.</param>
/// <param name="Side">BOT or SLD.</param>
/// <param name="Shares">Quantity of this execution.</param>
/// <param name="Price">Execution price.</param>
/// <param name="CumQty">Cumulative filled quantity of the order after this execution.</param>
/// <param name="AvgPrice">Average fill price of the order after this execution.</param>
/// <param name="OrderRef">orderRef of the order.</param>
/// <param name="Time">Business-clock execution time.</param>
/// <param name="Commission">Commission of this execution.</param>
/// <param name="RealizedPnl">Realized P&amp;L of this execution, null when it only opened.</param>
public sealed record FakeExecution(
    string ExecId, int OrderId, int ClientId, long PermId, string Account, string Symbol, string Side, decimal Shares,
    double Price, decimal CumQty, double AvgPrice, string OrderRef, DateTimeOffset Time, double Commission, double? RealizedPnl);

/// <summary>A position snapshot.</summary>
/// <param name="Account">Account.</param>
/// <param name="Symbol">Contract key.</param>
/// <param name="ConId">Contract id.</param>
/// <param name="Quantity">Signed quantity.</param>
/// <param name="AvgPrice">Average entry price (position (61) avgCost = this × multiplier).</param>
/// <param name="RealizedPnl">Realized P&amp;L so far.</param>
public sealed record FakePosition(string Account, string Symbol, int ConId, decimal Quantity, double AvgPrice, double RealizedPnl);
