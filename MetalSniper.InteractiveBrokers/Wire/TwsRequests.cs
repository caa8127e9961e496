using System.Buffers.Binary;
using System.Text;

namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>
/// Encoders for every client → server message we use, with the exact field lists of TWS-PROTOCOL.md §4.1 at server
/// version 176. Each returns one complete frame (<see cref="TwsOutgoingMessage"/>, length prefix included) that the
/// caller owns. Strings must be printable ASCII (<see cref="ArgumentException"/> otherwise).
/// </summary>
public static class TwsRequests
{
    /// <summary>
    /// The handshake bytes: <c>"API\0"</c> (no length prefix) followed by a framed <c>"v176..176"</c> that is
    /// <b>not</b> NUL-terminated (TWS-PROTOCOL.md §2.1 steps 1–2). 17 bytes.
    /// </summary>
    /// <returns>A new array with the handshake bytes.</returns>
    public static byte[] Handshake()
    {
        var version = Encoding.ASCII.GetBytes(TwsProtocol.VersionRange);
        var bytes = new byte[4 + 4 + version.Length];
        "API\0"u8.CopyTo(bytes);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), version.Length);
        version.CopyTo(bytes, 8);
        return bytes;
    }

    /// <summary>startApi: <c>71|2|clientId|optionalCapabilities</c> (TWS-PROTOCOL.md §2.1 step 4).</summary>
    /// <param name="clientId">Our client id.</param>
    /// <param name="optionalCapabilities">Normally empty.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage StartApi(int clientId, string optionalCapabilities = "")
    {
        var w = new TwsMessageWriter(OutgoingMessageId.StartApi, 32);
        w.Add(TwsProtocol.StartApiVersion);
        w.Add(clientId);
        w.Add(optionalCapabilities);
        return w.Complete();
    }

    /// <summary>reqCurrentTime: <c>49|1</c>. Reply: currentTime.</summary>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqCurrentTime() => Simple(OutgoingMessageId.ReqCurrentTime, 1);

    /// <summary>reqIds: <c>8|1|numIds</c>. Reply: nextValidId.</summary>
    /// <param name="numIds">Documented as deprecated; send 1.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqIds(int numIds = 1) => WithInt(OutgoingMessageId.ReqIds, 1, numIds);

    /// <summary>reqManagedAccts: <c>17|1</c>. Reply: managedAccounts.</summary>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqManagedAccts() => Simple(OutgoingMessageId.ReqManagedAccts, 1);

    /// <summary>reqMarketDataType: <c>59|1|type</c>.</summary>
    /// <param name="marketDataType">1 live, 2 frozen, 3 delayed, 4 delayed-frozen.</param>
    /// <returns>The frame.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Type not in 1..4.</exception>
    public static TwsOutgoingMessage ReqMarketDataType(int marketDataType)
    {
        if (marketDataType is < 1 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(marketDataType), marketDataType, "market data type must be 1..4");
        }

        return WithInt(OutgoingMessageId.ReqMarketDataType, 1, marketDataType);
    }

    /// <summary>
    /// reqMktData (v11, 20 fields): <c>1|11|reqId|C12|0|genericTickList|snapshot|regulatorySnapshot|""</c>
    /// (TWS-PROTOCOL.md §4.1). BAG contracts are not supported.
    /// </summary>
    /// <param name="reqId">Ticker id echoed in every tick.</param>
    /// <param name="contract">The contract.</param>
    /// <param name="genericTickList">Comma-separated generic tick ids (e.g. <c>233,236</c>); empty for the defaults.</param>
    /// <param name="snapshot">One snapshot, ending with tickSnapshotEnd.</param>
    /// <param name="regulatorySnapshot">Regulatory snapshot (costs money on live accounts).</param>
    /// <returns>The frame.</returns>
    /// <exception cref="ArgumentException">BAG contract or non-ASCII text.</exception>
    public static TwsOutgoingMessage ReqMktData(int reqId, TwsContract contract, string genericTickList = "", bool snapshot = false, bool regulatorySnapshot = false)
    {
        ArgumentNullException.ThrowIfNull(contract);
        RejectBag(contract);
        var w = new TwsMessageWriter(OutgoingMessageId.ReqMktData, 160);
        w.Add(11);
        w.Add(reqId);
        AddContract12(ref w, contract);
        w.Add(false); // deltaNeutralContractPresent
        w.Add(genericTickList);
        w.Add(snapshot);
        w.Add(regulatorySnapshot);
        w.Add(""); // mktDataOptions
        return w.Complete();
    }

    /// <summary>cancelMktData: <c>2|2|reqId</c>.</summary>
    /// <param name="reqId">The ticker id.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage CancelMktData(int reqId) => WithInt(OutgoingMessageId.CancelMktData, 2, reqId);

    /// <summary>
    /// reqContractDetails (v8, 19 fields): <c>9|8|reqId|conId|symbol|secType|ltd|strike|right|multiplier|exchange|
    /// primaryExchange|currency|localSymbol|tradingClass|includeExpired|secIdType|secId|issuerId</c> (TWS-PROTOCOL.md §4.1).
    /// </summary>
    /// <param name="reqId">Request id echoed in contractDetails / contractDetailsEnd / error 200.</param>
    /// <param name="contract">The (partial) contract to resolve.</param>
    /// <param name="includeExpired">Include expired futures.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqContractDetails(int reqId, TwsContract contract, bool includeExpired = false)
    {
        ArgumentNullException.ThrowIfNull(contract);
        var w = new TwsMessageWriter(OutgoingMessageId.ReqContractDetails, 160);
        w.Add(8);
        w.Add(reqId);
        AddContract12(ref w, contract);
        w.Add(includeExpired);
        w.Add(""); // secIdType
        w.Add(""); // secId
        w.Add(""); // issuerId (server >= 176)
        return w.Complete();
    }

    /// <summary>
    /// placeOrder (no version field, 115 fields at 176 for a non-combo, non-algo, non-conditional, non-PEG order;
    /// TWS-PROTOCOL.md §4.1 table). Also modifies the order with the same id (same client id).
    /// Unset numeric slots are sent as <c>""</c> (the official Python client sends literal max sentinels in slots
    /// 92–96, 101, 110, 111; TWS accepts both).
    /// </summary>
    /// <param name="orderId">A fresh id from nextValidId (or the id of the order to modify).</param>
    /// <param name="contract">The contract (conId + exchange is best).</param>
    /// <param name="order">The order.</param>
    /// <returns>The frame.</returns>
    /// <exception cref="ArgumentException">
    /// Unsupported shape (BAG contract, PEG BENCH/BEST/MID, exchange IBKRATS: they insert fields this encoder does not write),
    /// action not BUY/SELL/SSHORT, quantity ≤ 0, a price missing for the order type, or non-ASCII text.
    /// </exception>
    public static TwsOutgoingMessage PlaceOrder(int orderId, TwsContract contract, TwsOrder order)
    {
        ArgumentNullException.ThrowIfNull(contract);
        ArgumentNullException.ThrowIfNull(order);
        ValidateOrder(contract, order);

        var w = new TwsMessageWriter(OutgoingMessageId.PlaceOrder, 512);
        w.Add(orderId);                                  // 1
        w.Add(contract.ConId);                           // 2
        w.Add(contract.Symbol);                          // 3
        w.Add(contract.SecType);                         // 4
        w.Add(contract.LastTradeDateOrContractMonth);    // 5
        w.Add(contract.Strike);                          // 6
        w.Add(contract.Right);                           // 7
        w.Add(contract.Multiplier);                      // 8
        w.Add(contract.Exchange);                        // 9
        w.Add(contract.PrimaryExchange);                 // 10
        w.Add(contract.Currency);                        // 11
        w.Add(contract.LocalSymbol);                     // 12
        w.Add(contract.TradingClass);                    // 13
        w.Add("");                                       // 14 secIdType
        w.Add("");                                       // 15 secId
        w.Add(order.Action);                             // 16
        w.Add(order.TotalQuantity);                      // 17
        w.Add(order.OrderType);                          // 18
        w.Add(order.LmtPrice);                           // 19
        w.Add(order.AuxPrice);                           // 20
        w.Add(order.Tif);                                // 21
        w.Add(order.OcaGroup);                           // 22
        w.Add(order.Account);                            // 23
        w.Add("");                                       // 24 openClose
        w.Add(0);                                        // 25 origin (customer)
        w.Add(order.OrderRef);                           // 26
        w.Add(order.Transmit);                           // 27
        w.Add(order.ParentId);                           // 28
        w.Add(false);                                    // 29 blockOrder
        w.Add(false);                                    // 30 sweepToFill
        w.Add(0);                                        // 31 displaySize
        w.Add(order.TriggerMethod);                      // 32
        w.Add(order.OutsideRth);                         // 33
        w.Add(false);                                    // 34 hidden
        w.Add("");                                       // 35 sharesAllocation (legacy)
        w.Add(0);                                        // 36 discretionaryAmt (the official client sends "0")
        w.Add(order.GoodAfterTime);                      // 37
        w.Add(order.GoodTillDate);                       // 38
        w.Add("");                                       // 39 faGroup
        w.Add("");                                       // 40 faMethod
        w.Add("");                                       // 41 faPercentage
        w.Add("");                                       // 42 faProfile (legacy, < 177)
        w.Add("");                                       // 43 modelCode
        w.Add(0);                                        // 44 shortSaleSlot
        w.Add("");                                       // 45 designatedLocation
        w.Add(-1);                                       // 46 exemptCode
        w.Add(order.OcaType);                            // 47
        w.Add("");                                       // 48 rule80A
        w.Add("");                                       // 49 settlingFirm
        w.Add(false);                                    // 50 allOrNone
        w.Add((int?)null);                               // 51 minQty
        w.Add((double?)null);                            // 52 percentOffset
        w.Add(false);                                    // 53 eTradeOnly (legacy)
        w.Add(false);                                    // 54 firmQuoteOnly (legacy)
        w.Add((double?)null);                            // 55 nbboPriceCap (legacy)
        w.Add(0);                                        // 56 auctionStrategy
        w.Add((double?)null);                            // 57 startingPrice
        w.Add((double?)null);                            // 58 stockRefPrice
        w.Add((double?)null);                            // 59 delta
        w.Add((double?)null);                            // 60 stockRangeLower
        w.Add((double?)null);                            // 61 stockRangeUpper
        w.Add(false);                                    // 62 overridePercentageConstraints
        w.Add((double?)null);                            // 63 volatility
        w.Add((int?)null);                               // 64 volatilityType
        w.Add("");                                       // 65 deltaNeutralOrderType
        w.Add((double?)null);                            // 66 deltaNeutralAuxPrice
        w.Add(false);                                    // 67 continuousUpdate
        w.Add((int?)null);                               // 68 referencePriceType
        w.Add((double?)null);                            // 69 trailStopPrice
        w.Add((double?)null);                            // 70 trailingPercent
        w.Add((int?)null);                               // 71 scaleInitLevelSize
        w.Add((int?)null);                               // 72 scaleSubsLevelSize
        w.Add((double?)null);                            // 73 scalePriceIncrement
        w.Add("");                                       // 74 scaleTable
        w.Add("");                                       // 75 activeStartTime
        w.Add("");                                       // 76 activeStopTime
        w.Add("");                                       // 77 hedgeType
        w.Add(false);                                    // 78 optOutSmartRouting
        w.Add("");                                       // 79 clearingAccount
        w.Add("");                                       // 80 clearingIntent
        w.Add(false);                                    // 81 notHeld
        w.Add(false);                                    // 82 deltaNeutralContractPresent
        w.Add("");                                       // 83 algoStrategy
        w.Add("");                                       // 84 algoId
        w.Add(false);                                    // 85 whatIf
        w.Add("");                                       // 86 orderMiscOptions
        w.Add(false);                                    // 87 solicited
        w.Add(false);                                    // 88 randomizeSize
        w.Add(false);                                    // 89 randomizePrice
        w.Add(0);                                        // 90 conditionsCount
        w.Add("");                                       // 91 adjustedOrderType
        w.Add((double?)null);                            // 92 triggerPrice
        w.Add((double?)null);                            // 93 lmtPriceOffset
        w.Add((double?)null);                            // 94 adjustedStopPrice
        w.Add((double?)null);                            // 95 adjustedStopLimitPrice
        w.Add((double?)null);                            // 96 adjustedTrailingAmount
        w.Add(0);                                        // 97 adjustableTrailingUnit
        w.Add("");                                       // 98 extOperator
        w.Add("");                                       // 99 softDollarTier.name
        w.Add("");                                       // 100 softDollarTier.value
        w.Add((double?)null);                            // 101 cashQty
        w.Add("");                                       // 102 mifid2DecisionMaker
        w.Add("");                                       // 103 mifid2DecisionAlgo
        w.Add("");                                       // 104 mifid2ExecutionTrader
        w.Add("");                                       // 105 mifid2ExecutionAlgo
        w.Add(false);                                    // 106 dontUseAutoPriceForHedge
        w.Add(false);                                    // 107 isOmsContainer
        w.Add(false);                                    // 108 discretionaryUpToLimitPrice
        w.Add("");                                       // 109 usePriceMgmtAlgo
        w.Add((int?)null);                               // 110 duration
        w.Add((int?)null);                               // 111 postToAts
        w.Add(order.AutoCancelParent);                   // 112
        w.Add("");                                       // 113 advancedErrorOverride
        w.Add("");                                       // 114 manualOrderTime
        return w.Complete();
    }

    /// <summary>cancelOrder (v1): <c>4|1|orderId|manualOrderCancelTime("")</c>.</summary>
    /// <param name="orderId">The order to cancel (placed by this client id).</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage CancelOrder(int orderId)
    {
        var w = new TwsMessageWriter(OutgoingMessageId.CancelOrder, 24);
        w.Add(1);
        w.Add(orderId);
        w.Add(""); // manualOrderCancelTime
        return w.Complete();
    }

    /// <summary>reqGlobalCancel: <c>58|1</c>. Cancels every open order of the account, whoever placed it.</summary>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqGlobalCancel() => Simple(OutgoingMessageId.ReqGlobalCancel, 1);

    /// <summary>reqOpenOrders: <c>5|1</c> (this client id's open orders; then openOrderEnd).</summary>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqOpenOrders() => Simple(OutgoingMessageId.ReqOpenOrders, 1);

    /// <summary>reqAllOpenOrders: <c>16|1</c> (all API clients' open orders; does not bind).</summary>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqAllOpenOrders() => Simple(OutgoingMessageId.ReqAllOpenOrders, 1);

    /// <summary>reqAutoOpenOrders: <c>15|1|autoBind</c> (client id 0 only: bind manual TWS orders to the API).</summary>
    /// <param name="autoBind">True to bind future manual orders.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqAutoOpenOrders(bool autoBind)
    {
        var w = new TwsMessageWriter(OutgoingMessageId.ReqAutoOpenOrders, 16);
        w.Add(1);
        w.Add(autoBind);
        return w.Complete();
    }

    /// <summary>reqCompletedOrders (no version): <c>99|apiOnly</c>. Replies: completedOrder… completedOrdersEnd.</summary>
    /// <param name="apiOnly">Only orders placed through the API.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqCompletedOrders(bool apiOnly)
    {
        var w = new TwsMessageWriter(OutgoingMessageId.ReqCompletedOrders, 16);
        w.Add(apiOnly);
        return w.Complete();
    }

    /// <summary>
    /// reqExecutions (v3, 10 fields): <c>7|3|reqId|clientId|acctCode|time|symbol|secType|exchange|side</c>.
    /// Replies: execDetails… execDetailsEnd, plus commissionReports.
    /// </summary>
    /// <param name="reqId">Request id echoed in execDetails / execDetailsEnd.</param>
    /// <param name="filter">The filter; null = no filter.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqExecutions(int reqId, TwsExecutionFilter? filter = null)
    {
        filter ??= new TwsExecutionFilter();
        var w = new TwsMessageWriter(OutgoingMessageId.ReqExecutions, 64);
        w.Add(3);
        w.Add(reqId);
        w.Add(filter.ClientId);
        w.Add(filter.AccountCode);
        w.Add(filter.Time);
        w.Add(filter.Symbol);
        w.Add(filter.SecType);
        w.Add(filter.Exchange);
        w.Add(filter.Side);
        return w.Complete();
    }

    /// <summary>reqPositions: <c>61|1</c>. Replies: position… positionEnd, then updates.</summary>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqPositions() => Simple(OutgoingMessageId.ReqPositions, 1);

    /// <summary>cancelPositions: <c>64|1</c>.</summary>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage CancelPositions() => Simple(OutgoingMessageId.CancelPositions, 1);

    /// <summary>reqAccountSummary (v1): <c>62|1|reqId|group|tags</c>. At most 2 active subscriptions.</summary>
    /// <param name="reqId">Request id.</param>
    /// <param name="group">Account group, normally <c>All</c>.</param>
    /// <param name="tags">Comma-separated tags, e.g. <c>NetLiquidation,TotalCashValue,BuyingPower</c>.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqAccountSummary(int reqId, string group, string tags)
    {
        var w = new TwsMessageWriter(OutgoingMessageId.ReqAccountSummary, 96);
        w.Add(1);
        w.Add(reqId);
        w.Add(group);
        w.Add(tags);
        return w.Complete();
    }

    /// <summary>cancelAccountSummary: <c>63|1|reqId</c>.</summary>
    /// <param name="reqId">Request id.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage CancelAccountSummary(int reqId) => WithInt(OutgoingMessageId.CancelAccountSummary, 1, reqId);

    /// <summary>reqAccountUpdates (v2): <c>6|2|subscribe|acctCode</c>. One account at a time.</summary>
    /// <param name="subscribe">True to subscribe, false to stop.</param>
    /// <param name="accountCode">The account.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqAccountUpdates(bool subscribe, string accountCode)
    {
        var w = new TwsMessageWriter(OutgoingMessageId.ReqAccountUpdates, 32);
        w.Add(2);
        w.Add(subscribe);
        w.Add(accountCode);
        return w.Complete();
    }

    /// <summary>
    /// reqHistoricalData (no version, 23 fields): <c>20|reqId|C12|includeExpired|endDateTime|barSize|duration|useRTH|
    /// whatToShow|formatDate|keepUpToDate|chartOptions("")</c>. Note that bar size comes <b>before</b> duration
    /// (TWS-PROTOCOL.md §4.1).
    /// </summary>
    /// <param name="reqId">Request id.</param>
    /// <param name="contract">The contract (no BAG).</param>
    /// <param name="endDateTime"><c>yyyyMMdd HH:mm:ss TZ</c> or UTC <c>yyyyMMdd-HH:mm:ss</c>; empty = now (required empty with keepUpToDate).</param>
    /// <param name="barSizeSetting">e.g. <c>1 hour</c>, <c>15 mins</c>.</param>
    /// <param name="durationString">e.g. <c>2 D</c>, <c>1 W</c>.</param>
    /// <param name="useRth">Regular trading hours only.</param>
    /// <param name="whatToShow"><c>MIDPOINT</c>, <c>BID</c>, <c>ASK</c>, <c>TRADES</c>, …</param>
    /// <param name="formatDate">1 = <c>yyyyMMdd HH:mm:ss TZ</c>, 2 = epoch seconds.</param>
    /// <param name="keepUpToDate">Keep streaming historicalDataUpdate for the last bar.</param>
    /// <param name="includeExpired">Include expired futures.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqHistoricalData(int reqId, TwsContract contract, string endDateTime, string barSizeSetting, string durationString,
        bool useRth, string whatToShow, int formatDate = 1, bool keepUpToDate = false, bool includeExpired = false)
    {
        ArgumentNullException.ThrowIfNull(contract);
        RejectBag(contract);
        var w = new TwsMessageWriter(OutgoingMessageId.ReqHistoricalData, 192);
        w.Add(reqId);
        AddContract12(ref w, contract);
        w.Add(includeExpired);
        w.Add(endDateTime);
        w.Add(barSizeSetting);
        w.Add(durationString);
        w.Add(useRth);
        w.Add(whatToShow);
        w.Add(formatDate);
        w.Add(keepUpToDate);
        w.Add(""); // chartOptions
        return w.Complete();
    }

    /// <summary>cancelHistoricalData: <c>25|1|reqId</c>.</summary>
    /// <param name="reqId">Request id.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage CancelHistoricalData(int reqId) => WithInt(OutgoingMessageId.CancelHistoricalData, 1, reqId);

    /// <summary>reqRealTimeBars (v3, 19 fields): <c>50|3|reqId|C12|barSize|whatToShow|useRTH|options("")</c>.</summary>
    /// <param name="reqId">Request id.</param>
    /// <param name="contract">The contract.</param>
    /// <param name="whatToShow"><c>MIDPOINT</c>, <c>BID</c>, <c>ASK</c>, <c>TRADES</c>.</param>
    /// <param name="useRth">Regular trading hours only.</param>
    /// <param name="barSize">Bar size in seconds; only 5 is supported by TWS.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage ReqRealTimeBars(int reqId, TwsContract contract, string whatToShow, bool useRth, int barSize = 5)
    {
        ArgumentNullException.ThrowIfNull(contract);
        var w = new TwsMessageWriter(OutgoingMessageId.ReqRealTimeBars, 160);
        w.Add(3);
        w.Add(reqId);
        AddContract12(ref w, contract);
        w.Add(barSize);
        w.Add(whatToShow);
        w.Add(useRth);
        w.Add(""); // realTimeBarsOptions
        return w.Complete();
    }

    /// <summary>cancelRealTimeBars: <c>51|1|reqId</c>.</summary>
    /// <param name="reqId">Request id.</param>
    /// <returns>The frame.</returns>
    public static TwsOutgoingMessage CancelRealTimeBars(int reqId) => WithInt(OutgoingMessageId.CancelRealTimeBars, 1, reqId);

    private static void AddContract12(ref TwsMessageWriter w, TwsContract c)
    {
        w.Add(c.ConId);
        w.Add(c.Symbol);
        w.Add(c.SecType);
        w.Add(c.LastTradeDateOrContractMonth);
        w.Add(c.Strike);
        w.Add(c.Right);
        w.Add(c.Multiplier);
        w.Add(c.Exchange);
        w.Add(c.PrimaryExchange);
        w.Add(c.Currency);
        w.Add(c.LocalSymbol);
        w.Add(c.TradingClass);
    }

    private static TwsOutgoingMessage Simple(int messageId, int version)
    {
        var w = new TwsMessageWriter(messageId, 16);
        w.Add(version);
        return w.Complete();
    }

    private static TwsOutgoingMessage WithInt(int messageId, int version, int value)
    {
        var w = new TwsMessageWriter(messageId, 24);
        w.Add(version);
        w.Add(value);
        return w.Complete();
    }

    private static void RejectBag(TwsContract contract)
    {
        if (string.Equals(contract.SecType, "BAG", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException("BAG (combo) contracts are not supported by this encoder: their legs insert fields", nameof(contract));
        }
    }

    private static void ValidateOrder(TwsContract contract, TwsOrder order)
    {
        RejectBag(contract);
        if (string.Equals(contract.Exchange, "IBKRATS", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException("exchange IBKRATS is not supported by this encoder: it inserts minTradeQty", nameof(contract));
        }

        if (order.Action is not (TwsOrderAction.Buy or TwsOrderAction.Sell or TwsOrderAction.ShortSell))
        {
            throw new ArgumentException($"order action must be BUY, SELL or SSHORT, was \"{order.Action}\"", nameof(order));
        }

        if (order.TotalQuantity <= 0)
        {
            throw new ArgumentException($"order quantity must be > 0, was {order.TotalQuantity}", nameof(order));
        }

        if (string.IsNullOrWhiteSpace(order.OrderType))
        {
            throw new ArgumentException("order type must be given", nameof(order));
        }

        if (order.OrderType.ToUpperInvariant() is "PEG BENCH" or "PEGBENCH" or "PEG BEST" or "PEG MID")
        {
            throw new ArgumentException($"order type {order.OrderType} is not supported by this encoder: it inserts extra fields", nameof(order));
        }

        var needsLimit = order.OrderType is TwsOrderType.Limit or TwsOrderType.StopLimit;
        var needsStop = order.OrderType is TwsOrderType.Stop or TwsOrderType.StopLimit;
        if (needsLimit && order.LmtPrice is null)
        {
            throw new ArgumentException($"order type {order.OrderType} needs a limit price, was null", nameof(order));
        }

        if (needsStop && order.AuxPrice is null)
        {
            throw new ArgumentException($"order type {order.OrderType} needs a stop (aux) price, was null", nameof(order));
        }

        if (order.ParentId < 0)
        {
            throw new ArgumentException($"parent id must be >= 0, was {order.ParentId}", nameof(order));
        }
    }
}
