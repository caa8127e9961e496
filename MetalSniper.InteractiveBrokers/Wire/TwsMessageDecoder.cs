using System.Globalization;

namespace MetalSniper.InteractiveBrokers.Wire;

/// <summary>
/// Decodes one frame payload (server version 176 layouts, TWS-PROTOCOL.md §4.2–§4.6) into typed events. Never throws:
/// a frame with bad content becomes a <see cref="DecodeErrorEvent"/>, an unknown message id an
/// <see cref="UnknownMessageEvent"/>, and decoding continues with the next frame. Layouts are strict: a frame with
/// fields left over after its layout was read is a <see cref="TwsDecodeErrorKind.TrailingFields"/> error (the official
/// Python decoder also drops such frames for its simple messages), because a misaligned order or fill must never be
/// delivered with shifted values. Stateless and thread-safe.
/// </summary>
public sealed class TwsMessageDecoder
{
    private const int MaxRepeat = 100_000;

    /// <summary>
    /// Decodes <paramref name="payload"/> and appends the resulting event(s) to <paramref name="output"/>: one event per
    /// frame, except tickPrice of BID/ASK/LAST (and delayed), which is followed by its synthetic <see cref="TickSizeEvent"/>.
    /// </summary>
    /// <param name="payload">The frame payload, without the length prefix.</param>
    /// <param name="receivedAt">Receive time stamped on the events.</param>
    /// <param name="output">Where the events go.</param>
    /// <returns>The number of events appended (≥ 1).</returns>
    public int Decode(ReadOnlySpan<byte> payload, DateTimeOffset receivedAt, ICollection<TwsEvent> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        int? messageId = null;
        try
        {
            var cursor = new TwsFieldCursor(payload);
            var idRaw = cursor.ReadRaw();
            if (!int.TryParse(idRaw, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                throw new TwsDecodeException(TwsDecodeErrorKind.BadMessageId, 0, "field 0 is not a message id");
            }

            messageId = id;
            var ev = DecodeBody(ref cursor, id, out var extra);
            if (ev is null)
            {
                output.Add(new UnknownMessageEvent(id, AllFields(payload)) { ReceivedAt = receivedAt });
                return 1;
            }

            if (!cursor.IsAtEnd)
            {
                var remaining = cursor.RemainingFields;
                throw new TwsDecodeException(TwsDecodeErrorKind.TrailingFields, cursor.FieldIndex,
                    $"message {id}: {remaining} field(s) left after the 176 layout ({cursor.FieldIndex} fields) was read");
            }

            ev.Stamp(receivedAt);
            output.Add(ev);
            if (extra is not null)
            {
                extra.Stamp(receivedAt);
                output.Add(extra);
                return 2;
            }

            return 1;
        }
        catch (TwsDecodeException ex)
        {
            output.Add(new DecodeErrorEvent(messageId, ex.Kind, ex.FieldIndex, ex.Message, payload.Count((byte)0)) { ReceivedAt = receivedAt });
            return 1;
        }
#pragma warning disable CA1031 // Reported as an event (never swallowed): one bad frame must not stop the stream.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            output.Add(new DecodeErrorEvent(messageId, TwsDecodeErrorKind.InternalFault, -1, $"{ex.GetType().Name}: {ex.Message}", payload.Count((byte)0))
            {
                ReceivedAt = receivedAt,
            });
            return 1;
        }
    }

    private static TwsEvent? DecodeBody(ref TwsFieldCursor c, int id, out TwsEvent? extra)
    {
        extra = null;
        switch (id)
        {
            case IncomingMessageId.TickPrice:
            {
                c.ReadInt(); // version 6
                var reqId = c.ReadInt();
                var tickType = c.ReadInt();
                var price = c.ReadDouble();
                var size = c.ReadDecimalOrUnset();
                var mask = c.ReadInt();
                var sizeType = TwsTickType.SyntheticSizeTickType(tickType);
                if (sizeType >= 0)
                {
                    extra = new TickSizeEvent(reqId, sizeType, size, Synthetic: true);
                }

                return new TickPriceEvent(reqId, tickType, price, size, mask);
            }

            case IncomingMessageId.TickSize:
                c.ReadInt();
                return new TickSizeEvent(c.ReadInt(), c.ReadInt(), c.ReadDecimalOrUnset(), Synthetic: false);

            case IncomingMessageId.TickString:
                c.ReadInt();
                return new TickStringEvent(c.ReadInt(), c.ReadInt(), c.ReadString());

            case IncomingMessageId.TickGeneric:
                c.ReadInt();
                return new TickGenericEvent(c.ReadInt(), c.ReadInt(), c.ReadDouble());

            case IncomingMessageId.TickReqParams:
                return new TickReqParamsEvent(c.ReadInt(), c.ReadDouble(), c.ReadString(), c.ReadInt());

            case IncomingMessageId.MarketDataType:
                c.ReadInt();
                return new MarketDataTypeEvent(c.ReadInt(), c.ReadInt());

            case IncomingMessageId.TickSnapshotEnd:
                c.ReadInt();
                return new TickSnapshotEndEvent(c.ReadInt());

            case IncomingMessageId.NextValidId:
                c.ReadInt();
                return new NextValidIdEvent(c.ReadInt());

            case IncomingMessageId.ManagedAccounts:
                c.ReadInt();
                return new ManagedAccountsEvent(c.ReadString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

            case IncomingMessageId.CurrentTime:
                c.ReadInt();
                return new CurrentTimeEvent(c.ReadLong());

            case IncomingMessageId.Error:
                c.ReadInt(); // version 2
                return new ErrorEvent(c.ReadInt(), c.ReadInt(), c.ReadEscapedString(), c.ReadEscapedString());

            case IncomingMessageId.ContractDetails:
                return DecodeContractDetails(ref c);

            case IncomingMessageId.ContractDetailsEnd:
                c.ReadInt();
                return new ContractDetailsEndEvent(c.ReadInt());

            case IncomingMessageId.RealTimeBars:
                c.ReadInt(); // version 3
                return new RealTimeBarEvent(c.ReadInt(), c.ReadLong(), c.ReadDouble(), c.ReadDouble(), c.ReadDouble(), c.ReadDouble(),
                    c.ReadDecimalOrUnset(), c.ReadDecimalOrUnset(), c.ReadInt());

            case IncomingMessageId.HistoricalData:
            {
                var reqId = c.ReadInt();
                var start = c.ReadString();
                var end = c.ReadString();
                var n = c.ReadCount(MaxRepeat);
                if (n * 8 > c.RemainingFields)
                {
                    throw new TwsDecodeException(TwsDecodeErrorKind.TooFewFields, c.FieldIndex,
                        $"historicalData announces {n} bars ({n * 8} fields) but only {c.RemainingFields} fields follow");
                }

                var bars = new TwsBar[n];
                for (var i = 0; i < n; i++)
                {
                    bars[i] = new TwsBar(c.ReadString(), c.ReadDouble(), c.ReadDouble(), c.ReadDouble(), c.ReadDouble(),
                        c.ReadDecimalOrUnset(), c.ReadDecimalOrUnset(), c.ReadInt());
                }

                return new HistoricalDataEvent(reqId, start, end, bars);
            }

            case IncomingMessageId.HistoricalDataUpdate:
            {
                var reqId = c.ReadInt();
                var barCount = c.ReadInt();
                var date = c.ReadString();
                var open = c.ReadDouble();
                var close = c.ReadDouble();
                var high = c.ReadDouble();
                var low = c.ReadDouble();
                var wap = c.ReadDecimalOrUnset();
                var volume = c.ReadDecimalOrUnset();
                return new HistoricalDataUpdateEvent(reqId, new TwsBar(date, open, high, low, close, volume, wap, barCount));
            }

            case IncomingMessageId.OrderStatus:
                return new OrderStatusEvent(c.ReadInt(), c.ReadString(), c.ReadDecimal(), c.ReadDecimal(), c.ReadDouble(), c.ReadLong(), c.ReadInt(),
                    c.ReadDouble(), c.ReadInt(), c.ReadString(), c.ReadDoubleOrUnset());

            case IncomingMessageId.OpenOrder:
                return DecodeOpenOrder(ref c);

            case IncomingMessageId.OpenOrderEnd:
                c.ReadInt();
                return new OpenOrderEndEvent();

            case IncomingMessageId.CompletedOrder:
                return DecodeCompletedOrder(ref c);

            case IncomingMessageId.CompletedOrdersEnd:
                return new CompletedOrdersEndEvent();

            case IncomingMessageId.ExecDetails:
                return DecodeExecDetails(ref c);

            case IncomingMessageId.ExecDetailsEnd:
                c.ReadInt();
                return new ExecDetailsEndEvent(c.ReadInt());

            case IncomingMessageId.CommissionReport:
                c.ReadInt();
                return new CommissionReportEvent(c.ReadString(), c.ReadDoubleOrUnset(), c.ReadString(), c.ReadDoubleOrUnset(), c.ReadDoubleOrUnset(),
                    c.ReadIntOrUnset());

            case IncomingMessageId.Position:
            {
                c.ReadInt(); // version 3
                var account = c.ReadString();
                var contract = ReadContract11(ref c);
                return new PositionEvent(account, contract, c.ReadDecimal(), c.ReadDouble());
            }

            case IncomingMessageId.PositionEnd:
                c.ReadInt();
                return new PositionEndEvent();

            case IncomingMessageId.AccountSummary:
                c.ReadInt();
                return new AccountSummaryEvent(c.ReadInt(), c.ReadString(), c.ReadString(), c.ReadString(), c.ReadString());

            case IncomingMessageId.AccountSummaryEnd:
                c.ReadInt();
                return new AccountSummaryEndEvent(c.ReadInt());

            case IncomingMessageId.UpdateAccountValue:
                c.ReadInt();
                return new UpdateAccountValueEvent(c.ReadString(), c.ReadString(), c.ReadString(), c.ReadString());

            case IncomingMessageId.UpdatePortfolio:
            {
                c.ReadInt(); // version 8
                var contract = new TwsContract
                {
                    ConId = c.ReadInt(),
                    Symbol = c.ReadString(),
                    SecType = c.ReadString(),
                    LastTradeDateOrContractMonth = c.ReadString(),
                    Strike = c.ReadDouble(),
                    Right = c.ReadString(),
                    Multiplier = c.ReadString(),
                    PrimaryExchange = c.ReadString(),
                    Currency = c.ReadString(),
                    LocalSymbol = c.ReadString(),
                    TradingClass = c.ReadString(),
                };
                return new UpdatePortfolioEvent(contract, c.ReadDecimal(), c.ReadDouble(), c.ReadDouble(), c.ReadDouble(),
                    c.ReadDoubleOrUnset(), c.ReadDoubleOrUnset(), c.ReadString());
            }

            case IncomingMessageId.UpdateAccountTime:
                c.ReadInt();
                return new UpdateAccountTimeEvent(c.ReadString());

            case IncomingMessageId.AccountDownloadEnd:
                c.ReadInt();
                return new AccountDownloadEndEvent(c.ReadString());

            default:
                return null;
        }
    }

    /// <summary>conId, symbol, secType, ltd, strike, right, multiplier, exchange, currency, localSymbol, tradingClass.</summary>
    private static TwsContract ReadContract11(ref TwsFieldCursor c) => new()
    {
        ConId = c.ReadInt(),
        Symbol = c.ReadString(),
        SecType = c.ReadString(),
        LastTradeDateOrContractMonth = c.ReadString(),
        Strike = c.ReadDouble(),
        Right = c.ReadString(),
        Multiplier = c.ReadString(),
        Exchange = c.ReadString(),
        Currency = c.ReadString(),
        LocalSymbol = c.ReadString(),
        TradingClass = c.ReadString(),
    };

    private static ContractDetailsEvent DecodeContractDetails(ref TwsFieldCursor c)
    {
        // No version field since 164 (TWS-PROTOCOL.md §4.4).
        var reqId = c.ReadInt();
        var symbol = c.ReadString();
        var secType = c.ReadString();
        var ltdRaw = c.ReadString();
        var (ltd, lastTradeTime) = SplitLastTradeDate(ltdRaw);
        var strike = c.ReadDouble();
        var right = c.ReadString();
        var exchange = c.ReadString();
        var currency = c.ReadString();
        var localSymbol = c.ReadString();
        var marketName = c.ReadString();
        var tradingClass = c.ReadString();
        var conId = c.ReadInt();
        var minTick = c.ReadDouble();
        var multiplier = c.ReadString();
        var orderTypes = c.ReadString();
        var validExchanges = c.ReadString();
        var priceMagnifier = c.ReadInt();
        var underConId = c.ReadInt();
        var longName = c.ReadEscapedString();
        var primaryExchange = c.ReadString();
        var contractMonth = c.ReadString();
        var industry = c.ReadString();
        var category = c.ReadString();
        var subcategory = c.ReadString();
        var timeZoneId = c.ReadString();
        var tradingHours = c.ReadString();
        var liquidHours = c.ReadString();
        var evRule = c.ReadString();
        var evMultiplier = c.ReadInt();
        var secIdCount = c.ReadCount(MaxRepeat);
        var secIds = new KeyValuePair<string, string>[secIdCount];
        for (var i = 0; i < secIdCount; i++)
        {
            secIds[i] = new KeyValuePair<string, string>(c.ReadString(), c.ReadString());
        }

        var aggGroup = c.ReadInt();
        var underSymbol = c.ReadString();
        var underSecType = c.ReadString();
        var marketRuleIds = c.ReadString();
        var realExpirationDate = c.ReadString();
        var stockType = c.ReadString();
        var minSize = c.ReadDecimalOrUnset();
        var sizeIncrement = c.ReadDecimalOrUnset();
        var suggestedSizeIncrement = c.ReadDecimalOrUnset();

        var contract = new TwsContract
        {
            ConId = conId,
            Symbol = symbol,
            SecType = secType,
            LastTradeDateOrContractMonth = ltd,
            Strike = strike,
            Right = right,
            Multiplier = multiplier,
            Exchange = exchange,
            PrimaryExchange = primaryExchange,
            Currency = currency,
            LocalSymbol = localSymbol,
            TradingClass = tradingClass,
        };
        return new ContractDetailsEvent(reqId, new TwsContractDetails
        {
            Contract = contract,
            LastTradeTime = lastTradeTime,
            MarketName = marketName,
            MinTick = minTick,
            OrderTypes = orderTypes,
            ValidExchanges = validExchanges,
            PriceMagnifier = priceMagnifier,
            UnderConId = underConId,
            LongName = longName,
            ContractMonth = contractMonth,
            Industry = industry,
            Category = category,
            Subcategory = subcategory,
            TimeZoneId = timeZoneId,
            TradingHours = tradingHours,
            LiquidHours = liquidHours,
            EvRule = evRule,
            EvMultiplier = evMultiplier,
            SecIds = secIds,
            AggGroup = aggGroup,
            UnderSymbol = underSymbol,
            UnderSecType = underSecType,
            MarketRuleIds = marketRuleIds,
            RealExpirationDate = realExpirationDate,
            StockType = stockType,
            MinSize = minSize,
            SizeIncrement = sizeIncrement,
            SuggestedSizeIncrement = suggestedSizeIncrement,
        });
    }

    /// <summary>"YYYYMMDD HH:MM" or "YYYYMMDD-…": split on '-' if present, else on whitespace (official readLastTradeDate).</summary>
    private static (string Date, string Time) SplitLastTradeDate(string raw)
    {
        if (raw.Length == 0)
        {
            return ("", "");
        }

        var parts = raw.Contains('-', StringComparison.Ordinal)
            ? raw.Split('-')
            : raw.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return parts.Length switch
        {
            0 => ("", ""),
            1 => (parts[0], ""),
            _ => (parts[0], parts[1]),
        };
    }

    private static OpenOrderEvent DecodeOpenOrder(ref TwsFieldCursor c)
    {
        // No version field since 145: every "version >= N" rule of the official decoder holds (TWS-PROTOCOL.md §4.5).
        var orderId = c.ReadInt();                          // 1
        var contract = ReadContract11(ref c);               // 2-12
        var action = c.ReadString();                        // 13
        var totalQuantity = c.ReadDecimal();                // 14
        var orderType = c.ReadString();                     // 15
        var lmtPrice = c.ReadDoubleOrUnset();               // 16
        var auxPrice = c.ReadDoubleOrUnset();               // 17
        var tif = c.ReadString();                           // 18
        var ocaGroup = c.ReadString();                      // 19
        var account = c.ReadString();                       // 20
        var openClose = c.ReadString();                     // 21
        var origin = c.ReadInt();                           // 22
        var orderRef = c.ReadString();                      // 23
        var clientId = c.ReadInt();                         // 24
        var permId = c.ReadLong();                          // 25
        var outsideRth = c.ReadBool();                      // 26
        var hidden = c.ReadBool();                          // 27
        c.ReadDouble();                                     // 28 discretionaryAmt
        var goodAfterTime = c.ReadString();                 // 29
        c.ReadString();                                     // 30 sharesAllocation (legacy)
        c.Skip(4);                                          // 31-34 faGroup, faMethod, faPercentage, faProfile (<177)
        c.ReadString();                                     // 35 modelCode
        var goodTillDate = c.ReadString();                  // 36
        c.ReadString();                                     // 37 rule80A
        c.ReadDoubleOrUnset();                              // 38 percentOffset
        c.ReadString();                                     // 39 settlingFirm
        c.ReadInt();                                        // 40 shortSaleSlot
        c.ReadString();                                     // 41 designatedLocation
        c.ReadInt();                                        // 42 exemptCode
        c.ReadInt();                                        // 43 auctionStrategy
        c.ReadDoubleOrUnset();                              // 44 startingPrice
        c.ReadDoubleOrUnset();                              // 45 stockRefPrice
        c.ReadDoubleOrUnset();                              // 46 delta
        c.ReadDoubleOrUnset();                              // 47 stockRangeLower
        c.ReadDoubleOrUnset();                              // 48 stockRangeUpper
        c.ReadIntOrUnset();                                 // 49 displaySize
        c.ReadBool();                                       // 50 blockOrder
        c.ReadBool();                                       // 51 sweepToFill
        c.ReadBool();                                       // 52 allOrNone
        c.ReadIntOrUnset();                                 // 53 minQty
        var ocaType = c.ReadInt();                          // 54
        c.ReadBool();                                       // 55 eTradeOnly
        c.ReadBool();                                       // 56 firmQuoteOnly
        c.ReadDoubleOrUnset();                              // 57 nbboPriceCap
        var parentId = c.ReadInt();                         // 58
        var triggerMethod = c.ReadInt();                    // 59
        var deltaNeutralOrderType = ReadVolOrderParams(ref c, readOpenOrderAttribs: true); // 60-65 (+8)
        var trailStopPrice = c.ReadDoubleOrUnset();         // 66
        var trailingPercent = c.ReadDoubleOrUnset();        // 67
        c.ReadDoubleOrUnset();                              // 68 basisPoints
        c.ReadIntOrUnset();                                 // 69 basisPointsType
        ReadComboLegs(ref c);                               // 70-72 (+legs)
        ReadTagValues(ref c);                               // 73 smartComboRoutingParams
        ReadScaleParams(ref c);                             // 74-76 (+7)
        var hedgeType = ReadHedge(ref c);                   // 77 (+1)
        c.ReadBool();                                       // 78 optOutSmartRouting
        c.ReadString();                                     // 79 clearingAccount
        c.ReadString();                                     // 80 clearingIntent
        c.ReadBool();                                       // 81 notHeld
        ReadDeltaNeutralContract(ref c);                    // 82 (+3)
        var algoStrategy = ReadAlgo(ref c);                 // 83 (+count, pairs)
        c.ReadBool();                                       // 84 solicited
        var whatIf = c.ReadBool();                          // 85
        var state = new TwsOrderState
        {
            Status = c.ReadString(),                        // 86
            InitMarginBefore = c.ReadString(),              // 87
            MaintMarginBefore = c.ReadString(),             // 88
            EquityWithLoanBefore = c.ReadString(),          // 89
            InitMarginChange = c.ReadString(),              // 90
            MaintMarginChange = c.ReadString(),             // 91
            EquityWithLoanChange = c.ReadString(),          // 92
            InitMarginAfter = c.ReadString(),               // 93
            MaintMarginAfter = c.ReadString(),              // 94
            EquityWithLoanAfter = c.ReadString(),           // 95
            Commission = c.ReadDoubleOrUnset(),             // 96
            MinCommission = c.ReadDoubleOrUnset(),          // 97
            MaxCommission = c.ReadDoubleOrUnset(),          // 98
            CommissionCurrency = c.ReadString(),            // 99
            WarningText = c.ReadString(),                   // 100
        };
        c.ReadBool();                                       // 101 randomizeSize
        c.ReadBool();                                       // 102 randomizePrice
        ReadPegBench(ref c, orderType);                     // (+5 for PEG BENCH)
        var conditions = ReadConditions(ref c);             // 103 (+conditions, ignoreRth, cancelOrder)
        c.ReadString();                                     // 104 adjustedOrderType
        c.ReadDouble();                                     // 105 triggerPrice
        c.ReadDouble();                                     // 106 trailStopPrice (repeated)
        c.ReadDouble();                                     // 107 lmtPriceOffset
        c.ReadDouble();                                     // 108 adjustedStopPrice
        c.ReadDouble();                                     // 109 adjustedStopLimitPrice
        c.ReadDouble();                                     // 110 adjustedTrailingAmount
        c.ReadInt();                                        // 111 adjustableTrailingUnit
        c.Skip(3);                                          // 112-114 softDollarTier name, value, displayName
        var cashQty = c.ReadDoubleOrUnset();                // 115
        c.ReadBool();                                       // 116 dontUseAutoPriceForHedge
        c.ReadBool();                                       // 117 isOmsContainer
        c.ReadBool();                                       // 118 discretionaryUpToLimitPrice
        c.ReadBool();                                       // 119 usePriceMgmtAlgo
        c.ReadIntOrUnset();                                 // 120 duration
        c.ReadIntOrUnset();                                 // 121 postToAts
        var autoCancelParent = c.ReadBool();                // 122
        ReadPegBestPegMid(ref c);                           // 123-127

        var order = new TwsOrderInfo
        {
            OrderId = orderId,
            Action = action,
            TotalQuantity = totalQuantity,
            OrderType = orderType,
            LmtPrice = lmtPrice,
            AuxPrice = auxPrice,
            Tif = tif,
            OcaGroup = ocaGroup,
            Account = account,
            OpenClose = openClose,
            Origin = origin,
            OrderRef = orderRef,
            ClientId = clientId,
            PermId = permId,
            OutsideRth = outsideRth,
            Hidden = hidden,
            GoodAfterTime = goodAfterTime,
            GoodTillDate = goodTillDate,
            OcaType = ocaType,
            ParentId = parentId,
            TriggerMethod = triggerMethod,
            DeltaNeutralOrderType = deltaNeutralOrderType,
            TrailStopPrice = trailStopPrice,
            TrailingPercent = trailingPercent,
            HedgeType = hedgeType,
            AlgoStrategy = algoStrategy,
            WhatIf = whatIf,
            ConditionsCount = conditions,
            CashQty = cashQty,
            AutoCancelParent = autoCancelParent,
        };
        return new OpenOrderEvent(orderId, contract, order, state);
    }

    private static CompletedOrderEvent DecodeCompletedOrder(ref TwsFieldCursor c)
    {
        // Official processCompletedOrderMsg at 176: no order id, no client id, no parentId (97 fields for a simple order).
        var contract = ReadContract11(ref c);               // 1-11
        var action = c.ReadString();                        // 12
        var totalQuantity = c.ReadDecimal();                // 13
        var orderType = c.ReadString();                     // 14
        var lmtPrice = c.ReadDoubleOrUnset();               // 15
        var auxPrice = c.ReadDoubleOrUnset();               // 16
        var tif = c.ReadString();                           // 17
        var ocaGroup = c.ReadString();                      // 18
        var account = c.ReadString();                       // 19
        var openClose = c.ReadString();                     // 20
        var origin = c.ReadInt();                           // 21
        var orderRef = c.ReadString();                      // 22
        var permId = c.ReadLong();                          // 23
        var outsideRth = c.ReadBool();                      // 24
        var hidden = c.ReadBool();                          // 25
        c.ReadDouble();                                     // 26 discretionaryAmt
        var goodAfterTime = c.ReadString();                 // 27
        c.Skip(4);                                          // 28-31 faGroup, faMethod, faPercentage, faProfile (<177)
        c.ReadString();                                     // 32 modelCode
        var goodTillDate = c.ReadString();                  // 33
        c.ReadString();                                     // 34 rule80A
        c.ReadDoubleOrUnset();                              // 35 percentOffset
        c.ReadString();                                     // 36 settlingFirm
        c.ReadInt();                                        // 37 shortSaleSlot
        c.ReadString();                                     // 38 designatedLocation
        c.ReadInt();                                        // 39 exemptCode
        c.ReadDoubleOrUnset();                              // 40 startingPrice
        c.ReadDoubleOrUnset();                              // 41 stockRefPrice
        c.ReadDoubleOrUnset();                              // 42 delta
        c.ReadDoubleOrUnset();                              // 43 stockRangeLower
        c.ReadDoubleOrUnset();                              // 44 stockRangeUpper
        c.ReadIntOrUnset();                                 // 45 displaySize
        c.ReadBool();                                       // 46 sweepToFill
        c.ReadBool();                                       // 47 allOrNone
        c.ReadIntOrUnset();                                 // 48 minQty
        var ocaType = c.ReadInt();                          // 49
        var triggerMethod = c.ReadInt();                    // 50
        var deltaNeutralOrderType = ReadVolOrderParams(ref c, readOpenOrderAttribs: false); // 51-56 (+4)
        var trailStopPrice = c.ReadDoubleOrUnset();         // 57
        var trailingPercent = c.ReadDoubleOrUnset();        // 58
        ReadComboLegs(ref c);                               // 59-61
        ReadTagValues(ref c);                               // 62
        ReadScaleParams(ref c);                             // 63-65
        var hedgeType = ReadHedge(ref c);                   // 66
        c.ReadString();                                     // 67 clearingAccount
        c.ReadString();                                     // 68 clearingIntent
        c.ReadBool();                                       // 69 notHeld
        ReadDeltaNeutralContract(ref c);                    // 70
        var algoStrategy = ReadAlgo(ref c);                 // 71
        c.ReadBool();                                       // 72 solicited
        var status = c.ReadString();                        // 73
        c.ReadBool();                                       // 74 randomizeSize
        c.ReadBool();                                       // 75 randomizePrice
        ReadPegBench(ref c, orderType);
        var conditions = ReadConditions(ref c);             // 76
        c.ReadDouble();                                     // 77 trailStopPrice
        c.ReadDouble();                                     // 78 lmtPriceOffset
        var cashQty = c.ReadDoubleOrUnset();                // 79
        c.ReadBool();                                       // 80 dontUseAutoPriceForHedge
        c.ReadBool();                                       // 81 isOmsContainer
        c.ReadString();                                     // 82 autoCancelDate
        var filledQuantity = c.ReadDecimalOrUnset();        // 83
        c.ReadInt();                                        // 84 refFuturesConId
        var autoCancelParent = c.ReadBool();                // 85
        c.ReadString();                                     // 86 shareholder
        c.ReadBool();                                       // 87 imbalanceOnly
        c.ReadBool();                                       // 88 routeMarketableToBbo
        var parentPermId = c.ReadLong();                    // 89
        var completedTime = c.ReadString();                 // 90
        var completedStatus = c.ReadString();               // 91
        ReadPegBestPegMid(ref c);                           // 92-96

        var order = new TwsOrderInfo
        {
            Action = action,
            TotalQuantity = totalQuantity,
            OrderType = orderType,
            LmtPrice = lmtPrice,
            AuxPrice = auxPrice,
            Tif = tif,
            OcaGroup = ocaGroup,
            Account = account,
            OpenClose = openClose,
            Origin = origin,
            OrderRef = orderRef,
            PermId = permId,
            OutsideRth = outsideRth,
            Hidden = hidden,
            GoodAfterTime = goodAfterTime,
            GoodTillDate = goodTillDate,
            OcaType = ocaType,
            TriggerMethod = triggerMethod,
            DeltaNeutralOrderType = deltaNeutralOrderType,
            TrailStopPrice = trailStopPrice,
            TrailingPercent = trailingPercent,
            HedgeType = hedgeType,
            AlgoStrategy = algoStrategy,
            ConditionsCount = conditions,
            CashQty = cashQty,
            AutoCancelParent = autoCancelParent,
            FilledQuantity = filledQuantity,
            ParentPermId = parentPermId,
        };
        var state = new TwsOrderState { Status = status, CompletedTime = completedTime, CompletedStatus = completedStatus };
        return new CompletedOrderEvent(contract, order, state);
    }

    private static ExecDetailsEvent DecodeExecDetails(ref TwsFieldCursor c)
    {
        // No version field since 136 (TWS-PROTOCOL.md §4.5): 31 fields at 176.
        var reqId = c.ReadInt();
        var orderId = c.ReadInt();
        var contract = ReadContract11(ref c);
        var execution = new TwsExecution
        {
            OrderId = orderId,
            ExecId = c.ReadString(),
            Time = c.ReadString(),
            AccountNumber = c.ReadString(),
            Exchange = c.ReadString(),
            Side = c.ReadString(),
            Shares = c.ReadDecimal(),
            Price = c.ReadDouble(),
            PermId = c.ReadLong(),
            ClientId = c.ReadInt(),
            Liquidation = c.ReadInt(),
            CumQty = c.ReadDecimal(),
            AvgPrice = c.ReadDouble(),
            OrderRef = c.ReadString(),
            EvRule = c.ReadString(),
            EvMultiplier = c.ReadDoubleOrUnset(),
            ModelCode = c.ReadString(),
            LastLiquidity = c.ReadInt(),
        };
        return new ExecDetailsEvent(reqId, contract, execution);
    }

    /// <summary>volatility, volatilityType, deltaNeutralOrderType, deltaNeutralAuxPrice, [+8 / +4 if dnot non-empty], continuousUpdate, referencePriceType.</summary>
    private static string ReadVolOrderParams(ref TwsFieldCursor c, bool readOpenOrderAttribs)
    {
        c.ReadDoubleOrUnset();                  // volatility
        c.ReadIntOrUnset();                     // volatilityType
        var deltaNeutralOrderType = c.ReadString();
        c.ReadDoubleOrUnset();                  // deltaNeutralAuxPrice
        if (deltaNeutralOrderType.Length > 0)
        {
            c.ReadInt();                        // deltaNeutralConId
            if (readOpenOrderAttribs)
            {
                c.Skip(3);                      // settlingFirm, clearingAccount, clearingIntent
                c.ReadString();                 // openClose (often "?")
            }

            c.ReadBool();                       // shortSale
            c.ReadInt();                        // shortSaleSlot
            c.ReadString();                     // designatedLocation
        }

        c.ReadBool();                           // continuousUpdate
        c.ReadIntOrUnset();                     // referencePriceType
        return deltaNeutralOrderType;
    }

    private static void ReadComboLegs(ref TwsFieldCursor c)
    {
        c.ReadString(); // comboLegsDescrip
        var legs = c.ReadCount(MaxRepeat);
        c.Skip(legs * 8);
        var orderLegs = c.ReadCount(MaxRepeat);
        c.Skip(orderLegs);
    }

    private static void ReadTagValues(ref TwsFieldCursor c)
    {
        var n = c.ReadCount(MaxRepeat);
        c.Skip(n * 2);
    }

    private static void ReadScaleParams(ref TwsFieldCursor c)
    {
        c.ReadIntOrUnset();                     // scaleInitLevelSize
        c.ReadIntOrUnset();                     // scaleSubsLevelSize
        var increment = c.ReadDoubleOrUnset();  // scalePriceIncrement
        if (increment is > 0.0)
        {
            c.Skip(7);                          // adjustValue, adjustInterval, profitOffset, autoReset, initPosition, initFillQty, randomPercent
        }
    }

    private static string ReadHedge(ref TwsFieldCursor c)
    {
        var hedgeType = c.ReadString();
        if (hedgeType.Length > 0)
        {
            c.ReadString(); // hedgeParam
        }

        return hedgeType;
    }

    private static void ReadDeltaNeutralContract(ref TwsFieldCursor c)
    {
        if (c.ReadBool())
        {
            c.Skip(3); // conId, delta, price
        }
    }

    private static string ReadAlgo(ref TwsFieldCursor c)
    {
        var algo = c.ReadString();
        if (algo.Length > 0)
        {
            ReadTagValues(ref c);
        }

        return algo;
    }

    private static void ReadPegBench(ref TwsFieldCursor c, string orderType)
    {
        if (orderType is "PEG BENCH" or "PEGBENCH")
        {
            c.Skip(5); // referenceContractId, isPeggedChangeAmountDecrease, peggedChangeAmount, referenceChangeAmount, referenceExchangeId
        }
    }

    private static int ReadConditions(ref TwsFieldCursor c)
    {
        var n = c.ReadCount(MaxRepeat);
        for (var i = 0; i < n; i++)
        {
            var typeIndex = c.FieldIndex;
            var type = c.ReadInt();
            var fields = type switch
            {
                1 => 6, // price: conjunction, isMore, value, conId, exchange, triggerMethod
                3 => 3, // time: conjunction, isMore, value
                4 => 3, // margin
                5 => 4, // execution: conjunction, secType, exchange, symbol
                6 => 5, // volume: conjunction, isMore, value, conId, exchange
                7 => 5, // percent change
                _ => throw new TwsDecodeException(TwsDecodeErrorKind.BadStructure, typeIndex, $"field {typeIndex}: unknown order condition type {type}"),
            };
            c.Skip(fields);
        }

        if (n > 0)
        {
            c.ReadBool(); // conditionsIgnoreRth
            c.ReadBool(); // conditionsCancelOrder
        }

        return n;
    }

    private static void ReadPegBestPegMid(ref TwsFieldCursor c)
    {
        c.ReadIntOrUnset();     // minTradeQty
        c.ReadIntOrUnset();     // minCompeteSize
        c.ReadDoubleOrUnset();  // competeAgainstBestOffset
        c.ReadDoubleOrUnset();  // midOffsetAtWhole
        c.ReadDoubleOrUnset();  // midOffsetAtHalf
    }

    private static string[] AllFields(ReadOnlySpan<byte> payload)
    {
        var list = new List<string>();
        var rest = payload;
        while (!rest.IsEmpty)
        {
            var nul = rest.IndexOf((byte)0);
            if (nul < 0)
            {
                list.Add(System.Text.Encoding.UTF8.GetString(rest));
                break;
            }

            list.Add(System.Text.Encoding.UTF8.GetString(rest[..nul]));
            rest = rest[(nul + 1)..];
        }

        return [.. list];
    }
}
