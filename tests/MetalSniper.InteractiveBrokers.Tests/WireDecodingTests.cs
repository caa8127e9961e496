using MetalSniper.InteractiveBrokers.Wire;
using static MetalSniper.InteractiveBrokers.Tests.WireTestFrames;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>
/// Golden decoding tests: the verbatim server → client frames of TWS-PROTOCOL.md §2.1 and §4.2–§4.6 (and frames built
/// from the §4.4/§4.5 layout tables) decode to the expected values and consume exactly all fields (the decoder is strict:
/// any leftover field would be a <see cref="DecodeErrorEvent"/>).
/// </summary>
public sealed class WireDecodingTests
{
    [Fact]
    public void ServerHello_FromTheHandshakeHex_ParsesVersionAndTime()
    {
        var frame = Hex("00 00 00 1a 31 37 36 00 32 30 32 36 30 35 30 31 20 31 32 3a 30 30 3a 30 30 20 45 53 54 00");
        frame.Length.ShouldBe(4 + 0x1a);
        var hello = TwsServerHello.Parse(frame.AsSpan(4));
        hello.ShouldBe(new TwsServerHello(176, "20260501 12:00:00 EST"));
    }

    [Fact]
    public void ServerHello_Redirect_IsRejected()
    {
        Should.Throw<TwsDecodeException>(() => TwsServerHello.Parse(Payload("-1|otherhost:4002"))).Message.ShouldContain("redirect");
    }

    [Fact]
    public void ManagedAccounts_FromTheHandshakeHex()
    {
        var frame = Hex("00 00 00 0f 31 35 00 31 00 44 55 31 32 33 34 35 36 37 00");
        DecodeSingle<ManagedAccountsEvent>(frame[4..]).Accounts.ShouldBe(["DU1234567"]);
    }

    [Fact]
    public void ManagedAccounts_TrailingCommaAndSeveralAccounts_DropEmptyEntries()
    {
        DecodeSingle<ManagedAccountsEvent>(Payload("15|1|DU1234567,DU7654321,")).Accounts.ShouldBe(["DU1234567", "DU7654321"]);
    }

    [Fact]
    public void NextValidId_FromTheHandshakeHex()
    {
        var frame = Hex("00 00 00 06 39 00 31 00 31 00");
        DecodeSingle<NextValidIdEvent>(frame[4..]).OrderId.ShouldBe(1);
    }

    [Fact]
    public void Error_FarmNotice_In176Layout()
    {
        var e = DecodeSingle<ErrorEvent>(Payload("4|2|-1|2104|Market data farm connection is OK:usfarm|"));
        e.ShouldBe(new ErrorEvent(-1, 2104, "Market data farm connection is OK:usfarm", "") { ReceivedAt = At });
        e.IsSystemNotice.ShouldBeTrue();
        e.IsWarningOrInfo.ShouldBeTrue();
    }

    [Fact]
    public void Error_UnescapesUnicodeInTheMessage_AndKeepsTheRejectJson()
    {
        var e = DecodeSingle<ErrorEvent>(Payload("4|2|10|201|Order rejected - reason:Pr\\u00e9cis|{\"rejectReason\":\"x\"}"));
        (e.Id, e.Code, e.Message, e.AdvancedOrderRejectJson).ShouldBe((10, 201, "Order rejected - reason:Précis", "{\"rejectReason\":\"x\"}"));
        e.IsWarningOrInfo.ShouldBeFalse();
    }

    [Fact]
    public void Error_In194Layout_IsNotMisreadAsValues()
    {
        // The sv200 layout (no version field, trailing errorTime) must not decode as a 176 error.
        Decode(Payload("4|-1|2104|Market data farm connection is OK:usfarm||1775425766350")).Single().ShouldBeOfType<DecodeErrorEvent>();
    }

    [Fact]
    public void TickPrice_LiveExample_DecodesWithItsSyntheticSize()
    {
        var events = Decode(Payload("1|6|1001|68|255.45|200|0"));
        events.Count.ShouldBe(2);
        events[0].ShouldBe(new TickPriceEvent(1001, TwsTickType.DelayedLast, 255.45, 200m, 0) { ReceivedAt = At });
        events[1].ShouldBe(new TickSizeEvent(1001, TwsTickType.DelayedLastSize, 200m, Synthetic: true) { ReceivedAt = At });
    }

    [Fact]
    public void TickPrice_HighTick_HasNoSyntheticSize_AndAttributesDecode()
    {
        var e = DecodeSingle<TickPriceEvent>(Payload("1|6|7|6|2350.5||7"));
        (e.TickType, e.Price, e.Size, e.CanAutoExecute, e.PastLimit, e.PreOpen).ShouldBe((6, 2350.5, (decimal?)null, true, true, true));
    }

    [Fact]
    public void TickSize_TickReqParams_MarketDataType_SnapshotEnd_LiveExamples()
    {
        DecodeSingle<TickSizeEvent>(Payload("2|6|1001|74|312894")).ShouldBe(new TickSizeEvent(1001, 74, 312894m, false) { ReceivedAt = At });
        DecodeSingle<TickReqParamsEvent>(Payload("81|1|0.01|SMART|3")).ShouldBe(new TickReqParamsEvent(1, 0.01, "SMART", 3) { ReceivedAt = At });
        DecodeSingle<MarketDataTypeEvent>(Payload("58|1|1001|3")).ShouldBe(new MarketDataTypeEvent(1001, 3) { ReceivedAt = At });
        DecodeSingle<TickSnapshotEndEvent>(Payload("57|1|1001")).ReqId.ShouldBe(1001);
    }

    [Fact]
    public void TickString_And_TickGeneric()
    {
        DecodeSingle<TickStringEvent>(Payload("46|6|1001|48|255.45;100;1775425766350;312894;255.3;true"))
            .Value.ShouldBe("255.45;100;1775425766350;312894;255.3;true");
        DecodeSingle<TickGenericEvent>(Payload("45|6|1001|49|0")).ShouldBe(new TickGenericEvent(1001, 49, 0) { ReceivedAt = At });
    }

    [Fact]
    public void CurrentTime_DecodesEpochSeconds()
    {
        var e = DecodeSingle<CurrentTimeEvent>(Payload("49|1|1777636800"));
        e.ServerTime.ShouldBe(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public void ContractDetails_Xauusd_40Fields_DecodesWhatWeNeed()
    {
        var fields = XauContractDetailsFields();
        fields.Count.ShouldBe(40);
        var e = DecodeSingle<ContractDetailsEvent>(Payload(fields));
        e.ReqId.ShouldBe(1002);
        var d = e.Details;
        d.Contract.ShouldBe(new TwsContract
        {
            ConId = 69067924, Symbol = "XAUUSD", SecType = "CMDTY", Exchange = "SMART", Currency = "USD", LocalSymbol = "XAUUSD", TradingClass = "XAUUSD",
        });
        (d.MinTick, d.LongName, d.TimeZoneId, d.MarketName).ShouldBe((0.01, "London Gold Spot", "US/Eastern", "XAUUSD"));
        d.TradingHours.ShouldBe("20260501:1800-20260502:1700;20260503:CLOSED");
        d.LiquidHours.ShouldBe("20260501:1800-20260502:1700;20260503:CLOSED");
        d.ValidExchanges.ShouldBe("SMART,IBCMDTY");
        (d.MarketRuleIds, d.AggGroup, d.MinSize, d.SizeIncrement, d.SuggestedSizeIncrement).ShouldBe(("26,26", 1, (decimal?)1, (decimal?)1, (decimal?)1));
        d.SecIds.ShouldBeEmpty();
    }

    [Fact]
    public void ContractDetails_WithSecIds_AndExpiryWithTime_SplitsAndConsumesEverything()
    {
        var fields = XauContractDetailsFields(7);
        fields[3] = "FUT";
        fields[4] = "20261218 13:30";
        fields[30] = "2";
        fields.InsertRange(31, ["ISIN", "US0000000001", "CUSIP", "000000001"]);
        var d = DecodeSingle<ContractDetailsEvent>(Payload(fields)).Details;
        (d.Contract.LastTradeDateOrContractMonth, d.LastTradeTime).ShouldBe(("20261218", "13:30"));
        d.SecIds.ShouldBe([new("ISIN", "US0000000001"), new("CUSIP", "000000001")]);
        d.AggGroup.ShouldBe(1);
    }

    [Fact]
    public void ContractDetailsEnd()
    {
        DecodeSingle<ContractDetailsEndEvent>(Payload("52|1|1002")).ReqId.ShouldBe(1002);
    }

    [Fact]
    public void OrderStatus_12Fields_PermIdAsLong()
    {
        var e = DecodeSingle<OrderStatusEvent>(Payload("3|10|Filled|100|0|150.2|3000000001|0|150.2|7||1.7976931348623157E308"));
        e.ShouldBe(new OrderStatusEvent(10, "Filled", 100m, 0m, 150.2, 3_000_000_001L, 0, 150.2, 7, "", null) { ReceivedAt = At });
    }

    [Fact]
    public void OpenOrder_128Fields_DecodesOrderAndState()
    {
        var fields = OpenOrderFields(orderId: 10, status: "Submitted", permId: 1_500_000_123, parentId: 9, ocaGroup: "oca-1", outsideRth: "1");
        fields.Count.ShouldBe(128);
        (fields[25], fields[58], fields[86]).ShouldBe(("1500000123", "9", "Submitted"));

        var e = DecodeSingle<OpenOrderEvent>(Payload(fields));
        e.OrderId.ShouldBe(10);
        e.Contract.ShouldBe(new TwsContract
        {
            ConId = 265598, Symbol = "AAPL", SecType = "STK", Exchange = "SMART", Currency = "USD", LocalSymbol = "AAPL", TradingClass = "NMS",
        });
        var o = e.Order;
        (o.Action, o.TotalQuantity, o.OrderType, o.LmtPrice, o.AuxPrice, o.Tif).ShouldBe(("BUY", 100m, "LMT", (double?)150.25, (double?)null, "DAY"));
        (o.OcaGroup, o.Account, o.OrderRef, o.ClientId, o.PermId, o.ParentId, o.OutsideRth).ShouldBe(("oca-1", "DU1234567", "ms-0001", 7, 1_500_000_123L, 9, true));
        (o.DeltaNeutralOrderType, o.ConditionsCount, o.CashQty, o.WhatIf).ShouldBe(("", 0, (double?)null, false));
        e.State.Status.ShouldBe("Submitted");
        e.State.Commission.ShouldBeNull();
    }

    [Fact]
    public void OpenOrder_WithNoneDeltaNeutralType_Has136Fields_AndDecodes()
    {
        var fields = OpenOrderFields(orderId: 11, status: "Filled", noneDeltaNeutral: true, orderType: "STP", lmt: "", aux: "2300");
        fields.Count.ShouldBe(136);
        var e = DecodeSingle<OpenOrderEvent>(Payload(fields));
        (e.OrderId, e.Order.OrderType, e.Order.LmtPrice, e.Order.AuxPrice, e.Order.DeltaNeutralOrderType, e.State.Status)
            .ShouldBe((11, "STP", (double?)null, (double?)2300, "None", "Filled"));
    }

    [Fact]
    public void OpenOrder_NoneVariantWithoutTheEightExtraFields_IsAStructureError_NotShiftedValues()
    {
        var fields = OpenOrderFields(noneDeltaNeutral: false);
        fields[62] = "None"; // claims delta-neutral, but the 8 fields are missing
        Decode(Payload(fields)).Single().ShouldBeOfType<DecodeErrorEvent>();
    }

    [Fact]
    public void OpenOrder_WithAlgoComboHedgeAndConditions_ConsumesTheConditionalBlocks()
    {
        var f = OpenOrderFields(orderId: 12);
        // Insert from the back so earlier indexes stay valid.
        f.InsertRange(104, ["1", "a", "1", "2400", "69067924", "SMART", "2", "3", "o", "0", "20260601 10:00:00", "1", "0"]);
        f[103] = "2";                                   // conditionsCount, then 2 conditions, ignoreRth, cancelOrder
        f.InsertRange(84, ["2", "maxPctVol", "0.1", "startTime", "09:30"]);
        f[83] = "Vwap";                                 // algoStrategy + count + pairs
        f[82] = "1";
        f.InsertRange(83, ["12087792", "0.5", "1.1"]);  // deltaNeutralContract
        f[77] = "D";
        f.Insert(78, "0.5");                            // hedgeParam
        f[76] = "0.05";
        f.InsertRange(77, ["0.01", "5", "0.02", "1", "100", "10", "0"]); // scale extras
        f[73] = "1";
        f.InsertRange(74, ["tag", "value"]);            // smart combo routing
        f[72] = "1";
        f.Insert(73, "1.5");                            // order combo leg price
        f[71] = "1";
        f.InsertRange(72, ["12087792", "1", "BUY", "SMART", "0", "0", "", "-1"]); // one combo leg

        var e = DecodeSingle<OpenOrderEvent>(Payload(f));
        (e.OrderId, e.Order.HedgeType, e.Order.AlgoStrategy, e.Order.ConditionsCount, e.State.Status).ShouldBe((12, "D", "Vwap", 2, "Submitted"));
    }

    [Fact]
    public void OpenOrderEnd()
    {
        DecodeSingle<OpenOrderEndEvent>(Payload("53|1"));
    }

    [Fact]
    public void CompletedOrder_97Fields_DecodesPermIdStatusAndCompletion()
    {
        var fields = CompletedOrderFields();
        fields.Count.ShouldBe(97);
        var e = DecodeSingle<CompletedOrderEvent>(Payload(fields));
        e.Contract.Right.ShouldBe("?");
        (e.Order.PermId, e.Order.OrderRef, e.Order.FilledQuantity, e.Order.LmtPrice, e.Order.OrderId).ShouldBe((1_500_000_123L, "ms-0001", (decimal?)100, (double?)150.25, 0));
        (e.State.Status, e.State.CompletedTime, e.State.CompletedStatus).ShouldBe(("Filled", "20260501 15:59:59 US/Eastern", "Filled Size: 100"));
        DecodeSingle<CompletedOrdersEndEvent>(Payload("102"));
    }

    [Fact]
    public void ExecDetails_LiveExample_At176Layout_31Fields()
    {
        // The live sv200 frame of TWS-PROTOCOL.md §4.5 minus its two post-176 fields (pendingPriceRevision at 178, submitter at 198).
        const string sv200 = "11|-1|1|265598|AAPL|STK||0.0|||IEX|USD|AAPL|NMS|0000e0d5.69dd7411.01.01|20260413 15:27:04 US/Eastern|DUP770846|IEX|BOT|1|257.95|389211034|94|0|1|257.95|||||2|0|";
        var at176 = sv200.Split('|')[..31];
        var e = DecodeSingle<ExecDetailsEvent>(Payload(at176));
        e.ReqId.ShouldBe(-1);
        e.Contract.ShouldBe(new TwsContract
        {
            ConId = 265598, Symbol = "AAPL", SecType = "STK", Exchange = "IEX", Currency = "USD", LocalSymbol = "AAPL", TradingClass = "NMS",
        });
        e.Execution.ShouldBe(new TwsExecution
        {
            OrderId = 1, ExecId = "0000e0d5.69dd7411.01.01", Time = "20260413 15:27:04 US/Eastern", AccountNumber = "DUP770846", Exchange = "IEX",
            Side = "BOT", Shares = 1, Price = 257.95, PermId = 389211034, ClientId = 94, Liquidation = 0, CumQty = 1, AvgPrice = 257.95, LastLiquidity = 2,
        });

        // The verbatim sv200 frame carries 2 extra fields: strict decoding reports it instead of guessing.
        var error = Decode(Payload(sv200)).Single().ShouldBeOfType<DecodeErrorEvent>();
        (error.Kind, error.MessageId, error.FieldIndex).ShouldBe((TwsDecodeErrorKind.TrailingFields, 11, 31));
    }

    [Fact]
    public void ExecDetailsEnd_And_CommissionReport_WithUnsetSentinels()
    {
        DecodeSingle<ExecDetailsEndEvent>(Payload("55|1|1003")).ReqId.ShouldBe(1003);
        DecodeSingle<CommissionReportEvent>(Payload("59|1|0000e0d5.69dd7411.01.01|1.0|USD|1.7976931348623157E308|1.7976931348623157E308|"))
            .ShouldBe(new CommissionReportEvent("0000e0d5.69dd7411.01.01", 1.0, "USD", null, null, null) { ReceivedAt = At });
    }

    [Fact]
    public void Position_LiveExample()
    {
        var e = DecodeSingle<PositionEvent>(Payload("61|3|DU9000001|3691937|AMZN|STK||0.0|||NASDAQ|USD|AMZN|NMS|15|200.25"));
        (e.Account, e.Contract.ConId, e.Contract.Symbol, e.Contract.Exchange, e.Position, e.AvgCost).ShouldBe(("DU9000001", 3691937, "AMZN", "NASDAQ", 15m, 200.25));
        DecodeSingle<PositionEndEvent>(Payload("62|1"));
    }

    [Fact]
    public void AccountSummary_AndEnd()
    {
        DecodeSingle<AccountSummaryEvent>(Payload("63|1|1004|DU1234567|NetLiquidation|100000.00|USD"))
            .ShouldBe(new AccountSummaryEvent(1004, "DU1234567", "NetLiquidation", "100000.00", "USD") { ReceivedAt = At });
        DecodeSingle<AccountSummaryEndEvent>(Payload("64|1|1004")).ReqId.ShouldBe(1004);
    }

    [Fact]
    public void AccountUpdates_ValuePortfolioTimeAndDownloadEnd()
    {
        DecodeSingle<UpdateAccountValueEvent>(Payload("6|2|NetLiquidation|100000.00|USD|DU1234567"))
            .ShouldBe(new UpdateAccountValueEvent("NetLiquidation", "100000.00", "USD", "DU1234567") { ReceivedAt = At });
        var p = DecodeSingle<UpdatePortfolioEvent>(Payload("7|8|69067924|XAUUSD|CMDTY||0.0||||USD|XAUUSD|XAUUSD|-2|2345.5|-4691|2340.25|-10.5|0|DU1234567"));
        (p.Contract.ConId, p.Contract.Symbol, p.Position, p.MarketPrice, p.MarketValue, p.AverageCost, p.UnrealizedPnl, p.RealizedPnl, p.AccountName)
            .ShouldBe((69067924, "XAUUSD", -2m, 2345.5, -4691.0, 2340.25, (double?)-10.5, (double?)0, "DU1234567"));
        DecodeSingle<UpdateAccountTimeEvent>(Payload("8|1|12:34")).TimeStamp.ShouldBe("12:34");
        DecodeSingle<AccountDownloadEndEvent>(Payload("54|1|DU1234567")).Account.ShouldBe("DU1234567");
    }

    [Fact]
    public void HistoricalData_WithStartEnd_AndTheLiveBar()
    {
        var e = DecodeSingle<HistoricalDataEvent>(Payload(
            "17|1005|20260401 09:30:00 US/Eastern|20260402 16:00:00 US/Eastern|2|" +
            "20260402 09:30:00 US/Eastern|254.20|254.80|250.65|252.53|2829736|252.266|13633|" +
            "20260402 10:30:00 US/Eastern|1.1|1.2|1.0|1.15|-1|-1|-1"));
        (e.ReqId, e.Start, e.End, e.Bars.Count).ShouldBe((1005, "20260401 09:30:00 US/Eastern", "20260402 16:00:00 US/Eastern", 2));
        e.Bars[0].ShouldBe(new TwsBar("20260402 09:30:00 US/Eastern", 254.20, 254.80, 250.65, 252.53, 2829736m, 252.266m, 13633));
        e.Bars[1].ShouldBe(new TwsBar("20260402 10:30:00 US/Eastern", 1.1, 1.2, 1.0, 1.15, -1m, -1m, -1));
    }

    [Fact]
    public void HistoricalData_CountLargerThanTheBars_IsAnError()
    {
        Decode(Payload("17|1|a|b|3|20260402|1|2|0.5|1.5|-1|-1|-1")).Single().ShouldBeOfType<DecodeErrorEvent>();
    }

    [Fact]
    public void HistoricalDataUpdate_NotesTheCloseHighLowOrder()
    {
        var e = DecodeSingle<HistoricalDataUpdateEvent>(Payload("90|1005|12|1777636800|2340.0|2342.5|2345.0|2338.0|2341.1|0"));
        e.Bar.ShouldBe(new TwsBar("1777636800", Open: 2340.0, High: 2345.0, Low: 2338.0, Close: 2342.5, Volume: 0m, Wap: 2341.1m, BarCount: 12));
    }

    [Fact]
    public void RealTimeBar()
    {
        var e = DecodeSingle<RealTimeBarEvent>(Payload("50|3|1006|1777636800|2340.0|2345.0|2338.0|2342.5|-1|-1|-1"));
        e.ShouldBe(new RealTimeBarEvent(1006, 1777636800, 2340.0, 2345.0, 2338.0, 2342.5, -1m, -1m, -1) { ReceivedAt = At });
        e.BarStart.ShouldBe(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public void UnknownMessageId_IsReportedWithItsFields_NotACrash()
    {
        var e = DecodeSingle<UnknownMessageEvent>(Payload("21|1|2|x"));
        (e.MessageId, e.Fields.Count).ShouldBe((21, 4));
    }

    [Theory]
    [InlineData("1|6|1001|1|abc|200|0", TwsDecodeErrorKind.BadNumber, 4)]
    [InlineData("1|6|1001|1|1.5", TwsDecodeErrorKind.TooFewFields, 5)]
    [InlineData("x1|6", TwsDecodeErrorKind.BadMessageId, 0)]
    [InlineData("9|1|1|extra", TwsDecodeErrorKind.TrailingFields, 3)]
    public void MalformedFrames_BecomeDecodeErrors_NamingTheField(string frame, TwsDecodeErrorKind kind, int fieldIndex)
    {
        var e = DecodeSingle<DecodeErrorEvent>(Payload(frame));
        (e.Kind, e.FieldIndex).ShouldBe((kind, fieldIndex));
    }

    [Fact]
    public void MissingFinalNul_AndEmptyPayload_AreDecodeErrors()
    {
        DecodeSingle<DecodeErrorEvent>("9\01\01"u8.ToArray()).Kind.ShouldBe(TwsDecodeErrorKind.MissingTerminator);
        DecodeSingle<DecodeErrorEvent>([]).Kind.ShouldBe(TwsDecodeErrorKind.EmptyFrame);
    }

    [Fact]
    public void Cursor_UnsetRules_MapSentinelsToNull()
    {
        var payload = Payload("|2147483647|9223372036854775807|-9223372036854775808|1.7976931348623157E308|12.5|" +
            "|1.7976931348623157E308|Infinity|-3|" + "|2147483647|5|" + "||1|0|7|true|FALSE");
        var c = new TwsFieldCursor(payload);
        c.ReadDecimalOrUnset().ShouldBeNull();
        c.ReadDecimalOrUnset().ShouldBeNull();
        c.ReadDecimalOrUnset().ShouldBeNull();
        c.ReadDecimalOrUnset().ShouldBeNull();
        c.ReadDecimalOrUnset().ShouldBeNull();
        c.ReadDecimalOrUnset().ShouldBe(12.5m);
        c.ReadDoubleOrUnset().ShouldBeNull();
        c.ReadDoubleOrUnset().ShouldBeNull();
        c.ReadDoubleOrUnset().ShouldBe(double.PositiveInfinity);
        c.ReadDoubleOrUnset().ShouldBe(-3);
        c.ReadIntOrUnset().ShouldBeNull();
        c.ReadIntOrUnset().ShouldBeNull();
        c.ReadIntOrUnset().ShouldBe(5);
        c.ReadInt().ShouldBe(0);
        c.ReadLong().ShouldBe(0);
        c.ReadBool().ShouldBeTrue();
        c.ReadBool().ShouldBeFalse();
        c.ReadBool().ShouldBeTrue();
        c.ReadBool().ShouldBeTrue();
        c.ReadBool().ShouldBeFalse();
        c.IsAtEnd.ShouldBeTrue();
        var threw = false;
        try
        {
            c.ReadString();
        }
        catch (TwsDecodeException ex) when (ex.Kind == TwsDecodeErrorKind.TooFewFields)
        {
            threw = true;
        }

        threw.ShouldBeTrue();
    }

    [Fact]
    public void Cursor_ParsesInvariantly_WhateverTheCurrentCulture()
    {
        var saved = Thread.CurrentThread.CurrentCulture;
        try
        {
            Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            DecodeSingle<TickPriceEvent>(Payload("1|6|1|6|1234.5|0.5|0")).Price.ShouldBe(1234.5);
            DecodeSingle<DecodeErrorEvent>(Payload("1|6|1|6|1234,5|0.5|0")).Kind.ShouldBe(TwsDecodeErrorKind.BadNumber);
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = saved;
        }
    }
}
