using MetalSniper.InteractiveBrokers.Wire;
using static MetalSniper.InteractiveBrokers.Tests.WireTestFrames;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>Golden encoding tests: our frames against the verbatim official-client outputs in TWS-PROTOCOL.md §2.1 and §4.1.</summary>
public sealed class WireEncodingTests
{
    private static readonly TwsContract Aapl = new() { Symbol = "AAPL", SecType = "STK", Exchange = "SMART", PrimaryExchange = "NASDAQ", Currency = "USD" };
    private static readonly TwsContract Xau = new() { Symbol = "XAUUSD", SecType = "CMDTY", Exchange = "SMART", Currency = "USD" };
    private static readonly TwsContract EurUsd = new() { Symbol = "EUR", SecType = "CASH", Exchange = "IDEALPRO", Currency = "USD" };

    [Fact]
    public void Handshake_IsApiNul_PlusFramedVersionRange_WithoutNul()
    {
        TwsRequests.Handshake().ShouldBe(Hex("41 50 49 00 00 00 00 09 76 31 37 36 2e 2e 31 37 36"));
    }

    [Fact]
    public void StartApi_MatchesTheHandshakeBytes_ForClientId7()
    {
        using var m = TwsRequests.StartApi(7);
        m.ToArray().ShouldBe(Hex("00 00 00 08 37 31 00 32 00 37 00 00"));
        m.FieldCount.ShouldBe(4);
        m.MessageId.ShouldBe(71);
    }

    [Fact]
    public void ReqMktData_MatchesOfficialClientBytes()
    {
        using var m = TwsRequests.ReqMktData(1001, Aapl);
        m.ToArray().ShouldBe(Framed("1|11|1001|0|AAPL|STK||0.0|||SMART|NASDAQ|USD|||0||0|0|"));
        m.FieldCount.ShouldBe(20);
    }

    [Fact]
    public void ReqContractDetails_MatchesOfficialClientBytes()
    {
        using var m = TwsRequests.ReqContractDetails(1002, Xau);
        m.ToArray().ShouldBe(Framed("9|8|1002|0|XAUUSD|CMDTY||0.0|||SMART||USD|||0|||"));
        m.FieldCount.ShouldBe(19);
    }

    [Fact]
    public void ReqExecutions_WithEmptyFilter_MatchesOfficialClientBytes()
    {
        using var m = TwsRequests.ReqExecutions(1003);
        m.ToArray().ShouldBe(Framed("7|3|1003|0||||||"));
        m.FieldCount.ShouldBe(10);
    }

    [Fact]
    public void ReqExecutions_WithFilter_PutsEachFilterFieldInItsSlot()
    {
        using var m = TwsRequests.ReqExecutions(5, new TwsExecutionFilter
        {
            ClientId = 7, AccountCode = "DU1234567", Time = "20260501-12:00:00", Symbol = "XAUUSD", SecType = "CMDTY", Exchange = "SMART", Side = "BUY",
        });
        Pipe(m).ShouldBe("7|3|5|7|DU1234567|20260501-12:00:00|XAUUSD|CMDTY|SMART|BUY");
    }

    [Fact]
    public void ReqHistoricalData_MatchesOfficialClientBytes_BarSizeBeforeDuration()
    {
        using var m = TwsRequests.ReqHistoricalData(1005, EurUsd, "20260501 12:00:00 US/Eastern", "1 hour", "2 D", useRth: true, "MIDPOINT");
        m.ToArray().ShouldBe(Framed("20|1005|0|EUR|CASH||0.0|||IDEALPRO||USD|||0|20260501 12:00:00 US/Eastern|1 hour|2 D|1|MIDPOINT|1|0|"));
        m.FieldCount.ShouldBe(23);
    }

    [Fact]
    public void ReqHistoricalData_KeepUpToDate_SetsField21()
    {
        using var m = TwsRequests.ReqHistoricalData(9, Xau, "", "5 mins", "1 D", useRth: false, "MIDPOINT", formatDate: 2, keepUpToDate: true);
        m.Fields()[21].ShouldBe("1");
        m.Fields()[20].ShouldBe("2");
        m.Fields()[15].ShouldBe("");
    }

    [Fact]
    public void ReqRealTimeBars_MatchesOfficialClientBytes()
    {
        using var m = TwsRequests.ReqRealTimeBars(1006, Xau, "MIDPOINT", useRth: false);
        m.ToArray().ShouldBe(Framed("50|3|1006|0|XAUUSD|CMDTY||0.0|||SMART||USD|||5|MIDPOINT|0|"));
        m.FieldCount.ShouldBe(19);
    }

    [Fact]
    public void ReqAccountSummary_MatchesOfficialClientBytes()
    {
        using var m = TwsRequests.ReqAccountSummary(1004, "All", "NetLiquidation,TotalCashValue,BuyingPower");
        m.ToArray().ShouldBe(Framed("62|1|1004|All|NetLiquidation,TotalCashValue,BuyingPower"));
    }

    [Fact]
    public void ReqAccountUpdates_MatchesOfficialClientBytes()
    {
        using var m = TwsRequests.ReqAccountUpdates(true, "DU1234567");
        m.ToArray().ShouldBe(Framed("6|2|1|DU1234567"));
    }

    [Fact]
    public void CancelOrder_MatchesOfficialClientBytes()
    {
        using var m = TwsRequests.CancelOrder(10);
        m.ToArray().ShouldBe(Framed("4|1|10|"));
    }

    [Fact]
    public void SimpleRequests_HaveTheDocumentedFieldLists()
    {
        Pipe(TwsRequests.ReqCurrentTime()).ShouldBe("49|1");
        Pipe(TwsRequests.ReqIds()).ShouldBe("8|1|1");
        Pipe(TwsRequests.ReqManagedAccts()).ShouldBe("17|1");
        Pipe(TwsRequests.ReqMarketDataType(3)).ShouldBe("59|1|3");
        Pipe(TwsRequests.CancelMktData(1001)).ShouldBe("2|2|1001");
        Pipe(TwsRequests.ReqGlobalCancel()).ShouldBe("58|1");
        Pipe(TwsRequests.ReqOpenOrders()).ShouldBe("5|1");
        Pipe(TwsRequests.ReqAllOpenOrders()).ShouldBe("16|1");
        Pipe(TwsRequests.ReqCompletedOrders(true)).ShouldBe("99|1");
        Pipe(TwsRequests.ReqAutoOpenOrders(true)).ShouldBe("15|1|1");
        Pipe(TwsRequests.ReqPositions()).ShouldBe("61|1");
        Pipe(TwsRequests.CancelPositions()).ShouldBe("64|1");
        Pipe(TwsRequests.CancelAccountSummary(1004)).ShouldBe("63|1|1004");
        Pipe(TwsRequests.CancelHistoricalData(1005)).ShouldBe("25|1|1005");
        Pipe(TwsRequests.CancelRealTimeBars(1006)).ShouldBe("51|1|1006");
    }

    [Fact]
    public void PlaceOrder_StkLmt_Has115Fields_AndMatchesOfficialClient_WithEmptyForItsLiteralMaxSentinels()
    {
        // Official client output at 176 (TWS-PROTOCOL.md §4.1). It writes literal max sentinels in 8 numeric slots where we send ""
        // (TWS accepts both, §1.2); every other byte must be identical.
        const string official = "3|10|0|AAPL|STK||0.0|||SMART|NASDAQ|USD|||||BUY|100|LMT|150.25||DAY||||0||1|0|0|0|0|0|0|0||0||||||||0||-1|0|||0|||0|0||0||||||0|||||0|||||||||||0|||0|0|||0||0|0|0|0||1.7976931348623157e+308|1.7976931348623157e+308|1.7976931348623157e+308|1.7976931348623157e+308|1.7976931348623157e+308|0||||1.7976931348623157e+308|||||0|0|0||2147483647|2147483647|0||";
        var expected = official.Split('|').Select(f => f is "1.7976931348623157e+308" or "2147483647" ? "" : f).ToArray();
        expected.Length.ShouldBe(115);

        using var m = TwsRequests.PlaceOrder(10, Aapl, new TwsOrder { Action = "BUY", TotalQuantity = 100, OrderType = "LMT", LmtPrice = 150.25, Tif = "DAY" });

        m.FieldCount.ShouldBe(115);
        m.Fields().ShouldBe(expected);
        m.ToArray().ShouldBe(Framed(Payload(expected)));
    }

    [Fact]
    public void PlaceOrder_PutsBracketOcaAndAccountFieldsInTheirSlots()
    {
        var gold = Xau with { ConId = 69067924 };
        using var m = TwsRequests.PlaceOrder(12, gold, new TwsOrder
        {
            Action = TwsOrderAction.Sell, TotalQuantity = 1, OrderType = TwsOrderType.StopLimit, LmtPrice = 2290, AuxPrice = 2300.5, Tif = "GTC",
            Account = "DU1234567", OrderRef = "ms-42", Transmit = false, ParentId = 11, OcaGroup = "oca-7", OcaType = 1, OutsideRth = true,
            GoodTillDate = "20260601 16:00:00 US/Eastern", TriggerMethod = 8, AutoCancelParent = true,
        });
        var f = m.Fields();
        f.Length.ShouldBe(115);
        (f[1], f[2], f[3], f[4], f[9], f[11]).ShouldBe(("12", "69067924", "XAUUSD", "CMDTY", "SMART", "USD"));
        (f[16], f[17], f[18], f[19], f[20], f[21]).ShouldBe(("SELL", "1", "STP LMT", "2290.0", "2300.5", "GTC"));
        (f[22], f[23], f[26], f[27], f[28]).ShouldBe(("oca-7", "DU1234567", "ms-42", "0", "11"));
        (f[32], f[33], f[38], f[47], f[112]).ShouldBe(("8", "1", "20260601 16:00:00 US/Eastern", "1", "1"));
    }

    [Fact]
    public void PlaceOrder_MarketOrder_LeavesBothPricesEmpty_AndFractionalQuantityIsPlainDecimal()
    {
        using var m = TwsRequests.PlaceOrder(13, EurUsd, new TwsOrder { Action = "SELL", TotalQuantity = 20000.50m, OrderType = "MKT" });
        var f = m.Fields();
        (f[17], f[19], f[20], f[27]).ShouldBe(("20000.5", "", "", "1"));
    }

    [Theory]
    [InlineData("BUY", 0, "LMT", 1.0, null, "quantity must be > 0, was 0")]
    [InlineData("HOLD", 1, "LMT", 1.0, null, "action must be BUY, SELL or SSHORT, was \"HOLD\"")]
    [InlineData("BUY", 1, "LMT", null, null, "LMT needs a limit price")]
    [InlineData("BUY", 1, "STP", null, null, "STP needs a stop (aux) price")]
    [InlineData("BUY", 1, "STP LMT", 5.0, null, "STP LMT needs a stop (aux) price")]
    [InlineData("BUY", 1, "PEG MID", null, null, "PEG MID is not supported")]
    public void PlaceOrder_RejectsBadOrders_NamingTheRuleAndTheValue(string action, int qty, string type, double? lmt, double? aux, string message)
    {
        var ex = Should.Throw<ArgumentException>(() => TwsRequests.PlaceOrder(1, Aapl, new TwsOrder
        {
            Action = action, TotalQuantity = qty, OrderType = type, LmtPrice = lmt, AuxPrice = aux,
        }));
        ex.Message.ShouldContain(message);
    }

    [Fact]
    public void Writer_RejectsNonPrintableAscii_WithAClearMessage()
    {
        var ex = Should.Throw<ArgumentException>(() => TwsRequests.PlaceOrder(1, Aapl, new TwsOrder
        {
            Action = "BUY", TotalQuantity = 1, OrderType = "MKT", OrderRef = "gold\u00e9",
        }));
        ex.Message.ShouldContain("printable ASCII");
        ex.Message.ShouldContain("field 26");
        ex.Message.ShouldContain("U+00E9");
        Should.Throw<ArgumentException>(() => TwsRequests.ReqAccountUpdates(true, "DU\n1"));
        Should.Throw<ArgumentException>(() => TwsRequests.ReqAccountUpdates(true, "DU\01"));
    }

    [Fact]
    public void Writer_FormatsNumbersInvariantly_WhateverTheCurrentCulture()
    {
        var saved = Thread.CurrentThread.CurrentCulture;
        try
        {
            Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            var w = new TwsMessageWriter(1);
            w.Add(150.25);
            w.Add(0.1 + 0.2);
            w.Add(-0.0);
            w.Add(1e16);
            w.Add(1e300);
            w.Add(1234567.5m);
            w.Add(0.50m);
            w.Add(100.000m);
            w.Add(-5);
            w.Add(9_876_543_210L);
            w.Add(true);
            w.Add(false);
            w.Add((double?)null);
            w.Add(double.MaxValue);
            w.Add(double.PositiveInfinity);
            w.Add((int?)int.MaxValue);
            w.Add((decimal?)null);
            using var m = w.Complete();
            m.Fields().ShouldBe(["1", "150.25", "0.30000000000000004", "-0.0", "10000000000000000.0", "1E+300", "1234567.5", "0.5", "100", "-5", "9876543210", "1", "0", "", "", "Infinity", "", ""]);
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = saved;
        }
    }

    [Fact]
    public void Writer_RejectsNaN()
    {
        var w = new TwsMessageWriter(1);
        try
        {
            var threw = false;
            try
            {
                w.Add(double.NaN);
            }
            catch (ArgumentException)
            {
                threw = true;
            }

            threw.ShouldBeTrue();
        }
        finally
        {
            w.Dispose();
        }
    }

    [Fact]
    public void Writer_GrowsItsPooledBuffer_ForLargeFrames()
    {
        var w = new TwsMessageWriter(1, capacityHint: 16);
        var big = new string('x', 5000);
        for (var i = 0; i < 10; i++)
        {
            w.Add(big);
        }

        using var m = w.Complete();
        m.FieldCount.ShouldBe(11);
        m.Length.ShouldBe(4 + 2 + (10 * 5001));
        m.Fields()[10].ShouldBe(big);
    }

    [Fact]
    public void OutgoingMessage_DisposeTwice_IsHarmless_AndUseAfterDisposeThrows()
    {
        var m = TwsRequests.ReqCurrentTime();
        m.Dispose();
        m.Dispose();
        Should.Throw<ObjectDisposedException>(() => m.Memory);
    }
}
