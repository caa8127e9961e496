namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>
/// Fixed facts of the TWS socket text protocol as this library speaks it: one pinned server version
/// (176, <c>MIN_SERVER_VER_BOND_ISSUERID</c>), announced as <c>v176..176</c>, and the framing limits.
/// Source: TWS-PROTOCOL.md §1.1, §2, §3.4.
/// </summary>
public static class TwsProtocol
{
    /// <summary>The only server version we speak (TWS-PROTOCOL.md §3.4). Every field layout in this library is the 176 layout.</summary>
    public const int ServerVersion = 176;

    /// <summary>Lowest server version we accept in the handshake reply (equal to <see cref="ServerVersion"/>: the version is pinned).</summary>
    public const int MinServerVersion = 176;

    /// <summary>Highest server version we announce (equal to <see cref="ServerVersion"/>).</summary>
    public const int MaxServerVersion = 176;

    /// <summary>The version range string sent in the handshake, <c>"v176..176"</c> (TWS-PROTOCOL.md §2.1 step 2).</summary>
    public const string VersionRange = "v176..176";

    /// <summary>
    /// Largest legal frame payload in bytes, 0xFFFFFF (16 MiB − 1), as in the official clients. A length prefix above
    /// this, or ≤ 0, means the stream is corrupt (TWS-PROTOCOL.md §1.1, §11).
    /// </summary>
    public const int MaxFrameLength = 0xFFFFFF;

    /// <summary>Length of the big-endian length prefix of every frame, in bytes.</summary>
    public const int LengthPrefixSize = 4;

    /// <summary>The <c>startApi</c> per-message version (TWS-PROTOCOL.md §4.1).</summary>
    public const int StartApiVersion = 2;

    /// <summary>Java's <c>Integer.MAX_VALUE</c>: TWS's "unset" integer sentinel (TWS-PROTOCOL.md §1.3).</summary>
    public const int UnsetInt = int.MaxValue;

    /// <summary>Java's <c>Long.MAX_VALUE</c>: TWS's "unset" long sentinel (TWS-PROTOCOL.md §1.3).</summary>
    public const long UnsetLong = long.MaxValue;

    /// <summary>Java's <c>Double.MAX_VALUE</c>: TWS's "unset" double sentinel, written as <c>1.7976931348623157E308</c> (TWS-PROTOCOL.md §1.3).</summary>
    public const double UnsetDouble = double.MaxValue;
}

/// <summary>Client → server message ids at server version 176 (TWS-PROTOCOL.md §4.1).</summary>
public static class OutgoingMessageId
{
    /// <summary>reqMktData.</summary>
    public const int ReqMktData = 1;
    /// <summary>cancelMktData.</summary>
    public const int CancelMktData = 2;
    /// <summary>placeOrder (also modifies an order with the same id).</summary>
    public const int PlaceOrder = 3;
    /// <summary>cancelOrder.</summary>
    public const int CancelOrder = 4;
    /// <summary>reqOpenOrders (this client id's open orders).</summary>
    public const int ReqOpenOrders = 5;
    /// <summary>reqAccountUpdates.</summary>
    public const int ReqAccountUpdates = 6;
    /// <summary>reqExecutions.</summary>
    public const int ReqExecutions = 7;
    /// <summary>reqIds.</summary>
    public const int ReqIds = 8;
    /// <summary>reqContractDetails.</summary>
    public const int ReqContractDetails = 9;
    /// <summary>reqAutoOpenOrders (client id 0 only).</summary>
    public const int ReqAutoOpenOrders = 15;
    /// <summary>reqAllOpenOrders.</summary>
    public const int ReqAllOpenOrders = 16;
    /// <summary>reqManagedAccts.</summary>
    public const int ReqManagedAccts = 17;
    /// <summary>reqHistoricalData.</summary>
    public const int ReqHistoricalData = 20;
    /// <summary>cancelHistoricalData.</summary>
    public const int CancelHistoricalData = 25;
    /// <summary>reqCurrentTime.</summary>
    public const int ReqCurrentTime = 49;
    /// <summary>reqRealTimeBars.</summary>
    public const int ReqRealTimeBars = 50;
    /// <summary>cancelRealTimeBars.</summary>
    public const int CancelRealTimeBars = 51;
    /// <summary>reqGlobalCancel.</summary>
    public const int ReqGlobalCancel = 58;
    /// <summary>reqMarketDataType.</summary>
    public const int ReqMarketDataType = 59;
    /// <summary>reqPositions.</summary>
    public const int ReqPositions = 61;
    /// <summary>reqAccountSummary.</summary>
    public const int ReqAccountSummary = 62;
    /// <summary>cancelAccountSummary.</summary>
    public const int CancelAccountSummary = 63;
    /// <summary>cancelPositions.</summary>
    public const int CancelPositions = 64;
    /// <summary>startApi (handshake step 4).</summary>
    public const int StartApi = 71;
    /// <summary>reqCompletedOrders.</summary>
    public const int ReqCompletedOrders = 99;
}

/// <summary>Server → client message ids handled at server version 176 (TWS-PROTOCOL.md §4.2–§4.6).</summary>
public static class IncomingMessageId
{
    /// <summary>tickPrice.</summary>
    public const int TickPrice = 1;
    /// <summary>tickSize.</summary>
    public const int TickSize = 2;
    /// <summary>orderStatus.</summary>
    public const int OrderStatus = 3;
    /// <summary>error / notice.</summary>
    public const int Error = 4;
    /// <summary>openOrder.</summary>
    public const int OpenOrder = 5;
    /// <summary>updateAccountValue.</summary>
    public const int UpdateAccountValue = 6;
    /// <summary>updatePortfolio.</summary>
    public const int UpdatePortfolio = 7;
    /// <summary>updateAccountTime.</summary>
    public const int UpdateAccountTime = 8;
    /// <summary>nextValidId.</summary>
    public const int NextValidId = 9;
    /// <summary>contractDetails.</summary>
    public const int ContractDetails = 10;
    /// <summary>execDetails.</summary>
    public const int ExecDetails = 11;
    /// <summary>managedAccounts.</summary>
    public const int ManagedAccounts = 15;
    /// <summary>historicalData.</summary>
    public const int HistoricalData = 17;
    /// <summary>tickGeneric.</summary>
    public const int TickGeneric = 45;
    /// <summary>tickString.</summary>
    public const int TickString = 46;
    /// <summary>currentTime.</summary>
    public const int CurrentTime = 49;
    /// <summary>realtimeBar.</summary>
    public const int RealTimeBars = 50;
    /// <summary>contractDetailsEnd.</summary>
    public const int ContractDetailsEnd = 52;
    /// <summary>openOrderEnd.</summary>
    public const int OpenOrderEnd = 53;
    /// <summary>accountDownloadEnd.</summary>
    public const int AccountDownloadEnd = 54;
    /// <summary>execDetailsEnd.</summary>
    public const int ExecDetailsEnd = 55;
    /// <summary>tickSnapshotEnd.</summary>
    public const int TickSnapshotEnd = 57;
    /// <summary>marketDataType.</summary>
    public const int MarketDataType = 58;
    /// <summary>commissionReport.</summary>
    public const int CommissionReport = 59;
    /// <summary>position.</summary>
    public const int Position = 61;
    /// <summary>positionEnd.</summary>
    public const int PositionEnd = 62;
    /// <summary>accountSummary.</summary>
    public const int AccountSummary = 63;
    /// <summary>accountSummaryEnd.</summary>
    public const int AccountSummaryEnd = 64;
    /// <summary>tickReqParams.</summary>
    public const int TickReqParams = 81;
    /// <summary>historicalDataUpdate (keepUpToDate).</summary>
    public const int HistoricalDataUpdate = 90;
    /// <summary>completedOrder.</summary>
    public const int CompletedOrder = 101;
    /// <summary>completedOrdersEnd.</summary>
    public const int CompletedOrdersEnd = 102;
}

/// <summary>Tick type numbers used by tickPrice/tickSize/tickString/tickGeneric (TWS-PROTOCOL.md §4.3).</summary>
public static class TwsTickType
{
    /// <summary>Bid size.</summary>
    public const int BidSize = 0;
    /// <summary>Bid price.</summary>
    public const int Bid = 1;
    /// <summary>Ask price.</summary>
    public const int Ask = 2;
    /// <summary>Ask size.</summary>
    public const int AskSize = 3;
    /// <summary>Last trade price.</summary>
    public const int Last = 4;
    /// <summary>Last trade size.</summary>
    public const int LastSize = 5;
    /// <summary>Session high.</summary>
    public const int High = 6;
    /// <summary>Session low.</summary>
    public const int Low = 7;
    /// <summary>Volume (round lots of 100 for US stocks below server 220).</summary>
    public const int Volume = 8;
    /// <summary>Previous close.</summary>
    public const int Close = 9;
    /// <summary>Session open.</summary>
    public const int Open = 14;
    /// <summary>Mark price.</summary>
    public const int MarkPrice = 37;
    /// <summary>Last trade timestamp (string, epoch seconds).</summary>
    public const int LastTimestamp = 45;
    /// <summary>Shortable (generic).</summary>
    public const int Shortable = 46;
    /// <summary>RT volume (string, generic tick 233).</summary>
    public const int RtVolume = 48;
    /// <summary>Halted (generic).</summary>
    public const int Halted = 49;
    /// <summary>Delayed bid.</summary>
    public const int DelayedBid = 66;
    /// <summary>Delayed ask.</summary>
    public const int DelayedAsk = 67;
    /// <summary>Delayed last.</summary>
    public const int DelayedLast = 68;
    /// <summary>Delayed bid size.</summary>
    public const int DelayedBidSize = 69;
    /// <summary>Delayed ask size.</summary>
    public const int DelayedAskSize = 70;
    /// <summary>Delayed last size.</summary>
    public const int DelayedLastSize = 71;
    /// <summary>Delayed high.</summary>
    public const int DelayedHigh = 72;
    /// <summary>Delayed low.</summary>
    public const int DelayedLow = 73;
    /// <summary>Delayed volume.</summary>
    public const int DelayedVolume = 74;
    /// <summary>Delayed close.</summary>
    public const int DelayedClose = 75;
    /// <summary>Delayed open.</summary>
    public const int DelayedOpen = 76;
    /// <summary>Delayed last timestamp (string).</summary>
    public const int DelayedLastTimestamp = 88;

    /// <summary>
    /// The size tick type the official decoders synthesise from a tickPrice's size field (BID→BID_SIZE, ASK→ASK_SIZE,
    /// LAST→LAST_SIZE and the delayed 66/67/68 → 69/70/71), or −1 when the price tick carries no size
    /// (TWS-PROTOCOL.md §4.3).
    /// </summary>
    /// <param name="priceTickType">The tickPrice's tick type.</param>
    /// <returns>The size tick type, or −1.</returns>
    public static int SyntheticSizeTickType(int priceTickType) => priceTickType switch
    {
        Bid => BidSize,
        Ask => AskSize,
        Last => LastSize,
        DelayedBid => DelayedBidSize,
        DelayedAsk => DelayedAskSize,
        DelayedLast => DelayedLastSize,
        _ => -1,
    };
}

/// <summary>Error and notice codes carried by message 4 that this library or its users act on (TWS-PROTOCOL.md §5).</summary>
public static class TwsErrorCode
{
    /// <summary>More than 50 messages/s: TWS will likely disconnect.</summary>
    public const int PacingViolation = 100;
    /// <summary>Duplicate order id.</summary>
    public const int DuplicateOrderId = 103;
    /// <summary>No security definition found (or ambiguous contract).</summary>
    public const int NoSecurityDefinition = 200;
    /// <summary>Order rejected, with reason.</summary>
    public const int OrderRejected = 201;
    /// <summary>Order cancelled (also the normal acknowledgement of our cancel).</summary>
    public const int OrderCancelled = 202;
    /// <summary>Error reading an API request (typically a malformed field list).</summary>
    public const int ErrorReadingRequest = 320;
    /// <summary>Error validating an API request.</summary>
    public const int ErrorValidatingRequest = 321;
    /// <summary>Client id already in use: the socket closes.</summary>
    public const int ClientIdInUse = 326;
    /// <summary>Client-side: could not connect.</summary>
    public const int CouldNotConnect = 502;
    /// <summary>Client-side: not connected.</summary>
    public const int NotConnected = 504;
    /// <summary>Connectivity between TWS and IB servers lost.</summary>
    public const int ConnectivityLost = 1100;
    /// <summary>Connectivity restored, data lost: re-subscribe.</summary>
    public const int ConnectivityRestoredDataLost = 1101;
    /// <summary>Connectivity restored, data maintained.</summary>
    public const int ConnectivityRestoredDataMaintained = 1102;
    /// <summary>Market data farm connection OK.</summary>
    public const int MarketDataFarmOk = 2104;
    /// <summary>HMDS data farm connection OK.</summary>
    public const int HistoricalDataFarmOk = 2106;
    /// <summary>Sec-def data farm connection OK.</summary>
    public const int SecDefFarmOk = 2158;
    /// <summary>OrderId that needs to be cancelled is not found.</summary>
    public const int CancelTargetNotFound = 10147;
}
