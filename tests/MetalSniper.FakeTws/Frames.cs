using System.Globalization;

namespace MetalSniper.FakeTws;

/// <summary>Builders of the larger server → client frames at server version 176 (TWS-PROTOCOL.md §4.4–§4.6).</summary>
internal static class Frames
{
    private const string U = TwsText.UnsetDouble;
    private const string UInt = TwsText.UnsetInt;

    /// <summary>orderStatus (3), 12 fields, no version (§4.5).</summary>
    public static FrameBuilder OrderStatus(FakeOrder o) => new FrameBuilder(3)
        .Add(o.OrderId).Add(o.Status).Add(o.Filled).Add(o.Remaining).Add(o.AvgFillPrice).Add(o.PermId).Add(o.ParentId)
        .Add(o.LastFillPrice).Add(o.ClientId).Add("").Add(0.0);

    /// <summary>openOrder (5): 128 fields for a simple order, 136 with the "None" delta-neutral block (§4.5).</summary>
    public static FrameBuilder OpenOrder(FakeOrder o, bool deltaNeutralNone, bool whatIf = false)
    {
        var c = o.Contract;
        var f = new FrameBuilder(5).Add(o.OrderId);
        // [2..12] contract
        f.Add(c.ConId).Add(c.Symbol).Add(c.SecType).Add(c.LastTradeDateOrContractMonth).Add(0.0).Add("").Add(c.Multiplier)
            .Add(c.Exchange).Add(c.Currency).Add(c.LocalSymbol).Add(c.TradingClass);
        // [13..25]
        f.Add(o.Action).Add(o.TotalQuantity).Add(o.OrderType).Add(o.LmtPrice ?? 0.0).Add(o.AuxPrice ?? 0.0).Add(o.Tif).Add(o.OcaGroup)
            .Add(o.Account).Add(o.OpenClose).Add(0).Add(o.OrderRef).Add(o.ClientId).Add(o.PermId);
        // [26..30] outsideRth, hidden, discretionaryAmt, goodAfterTime, sharesAllocation
        f.Add(o.OutsideRth).Add(false).Add(0.0).Add("").Add("");
        // [31..35] faGroup, faMethod, faPercentage, faProfile (<177), modelCode
        f.Add("").Add("").Add("").Add("").Add("");
        // [36..43] goodTillDate, rule80A, percentOffset, settlingFirm, shortSaleSlot, designatedLocation, exemptCode, auctionStrategy
        f.Add("").Add("").Add("").Add("").Add(0).Add("").Add(-1).Add(0);
        // [44..49] startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper, displaySize
        f.Add("").Add("").Add("").Add("").Add("").Add("");
        // [50..57] blockOrder, sweepToFill, allOrNone, minQty, ocaType, eTradeOnly, firmQuoteOnly, nbboPriceCap
        f.Add(false).Add(false).Add(false).Add("").Add(o.OcaType).Add(false).Add(false).Add("");
        // [58..63] parentId, triggerMethod, volatility, volatilityType, deltaNeutralOrderType, deltaNeutralAuxPrice
        f.Add(o.ParentId).Add(0).Add("").Add(0).Add(deltaNeutralNone ? "None" : "").Add("");
        if (deltaNeutralNone)
        {
            // conId, settlingFirm, clearingAccount, clearingIntent, openClose, shortSale, shortSaleSlot, designatedLocation
            f.Add(0).Add("").Add("").Add("").Add("?").Add(false).Add(0).Add("");
        }

        // [64..73] continuousUpdate, referencePriceType, trailStopPrice, trailingPercent, basisPoints, basisPointsType,
        //          comboLegsDescrip, comboLegsCount, orderComboLegsCount, smartComboRoutingParamsCount
        f.Add(0).Add(0).Add("").Add("").Add("").Add("").Add("").Add(0).Add(0).Add(0);
        // [74..77] scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement, hedgeType
        f.Add("").Add("").Add("").Add("");
        // [78..85] optOutSmartRouting, clearingAccount, clearingIntent, notHeld, deltaNeutralContractPresent, algoStrategy, solicited, whatIf
        f.Add(false).Add("").Add("IB").Add(false).Add(false).Add("").Add(false).Add(whatIf);
        // [86] status, [87..95] margin strings, [96..100] commission, min, max, currency, warningText
        f.Add(o.Status).AddMany(9, whatIf ? "0" : U).Add(U).Add(U).Add(U).Add("").Add("");
        // [101..103] randomizeSize, randomizePrice, conditionsCount
        f.Add(false).Add(false).Add(0);
        // [104..111] adjustedOrderType, triggerPrice, trailStopPrice, lmtPriceOffset, adjustedStopPrice, adjustedStopLimitPrice,
        //            adjustedTrailingAmount, adjustableTrailingUnit
        f.Add("None").Add(U).Add(U).Add(U).Add(U).Add(U).Add(U).Add(0);
        // [112..114] softDollarTier name, value, displayName; [115] cashQty
        f.Add("").Add("").Add("").Add(U);
        // [116..122] dontUseAutoPriceForHedge, isOmsContainer, discretionaryUpToLimitPrice, usePriceMgmtAlgo, duration, postToAts, autoCancelParent
        f.Add(false).Add(false).Add(false).Add(false).Add(UInt).Add(UInt).Add(false);
        // [123..127] minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole, midOffsetAtHalf
        f.Add(UInt).Add(UInt).Add(U).Add(U).Add(U);
        return f;
    }

    /// <summary>completedOrder (101) at 176: 97 fields in the official decoder's order (faProfile included below 177).</summary>
    public static FrameBuilder CompletedOrder(FakeOrder o, string completedTime)
    {
        var c = o.Contract;
        var f = new FrameBuilder(101);
        // [1..11] contract; a stock's right is "?" in live completed orders (§1.3)
        f.Add(c.ConId).Add(c.Symbol).Add(c.SecType).Add(c.LastTradeDateOrContractMonth).Add(0.0).Add("?").Add(c.Multiplier)
            .Add(c.Exchange).Add(c.Currency).Add(c.LocalSymbol).Add(c.TradingClass);
        // [12..27] action, qty, type, lmt, aux, tif, ocaGroup, account, openClose, origin, orderRef, permId, outsideRth, hidden, discretionaryAmt, goodAfterTime
        f.Add(o.Action).Add(o.TotalQuantity).Add(o.OrderType).Add(o.LmtPrice ?? 0.0).Add(o.AuxPrice ?? 0.0).Add(o.Tif).Add(o.OcaGroup)
            .Add(o.Account).Add(o.OpenClose.Length > 0 ? o.OpenClose : "?").Add(0).Add(o.OrderRef).Add(o.PermId).Add(o.OutsideRth).Add(false).Add(0.0).Add("");
        // [28..31] faGroup, faMethod, faPercentage, faProfile; [32] modelCode; [33] goodTillDate; [34] rule80A; [35] percentOffset; [36] settlingFirm
        f.Add("").Add("").Add("").Add("").Add("").Add("").Add("").Add("").Add("");
        // [37..39] shortSaleSlot, designatedLocation, exemptCode; [40..44] box + stock range; [45] displaySize
        f.Add(0).Add("").Add(-1).Add("").Add("").Add("").Add("").Add("").Add("");
        // [46..50] sweepToFill, allOrNone, minQty, ocaType, triggerMethod
        f.Add(false).Add(false).Add("").Add(o.OcaType).Add(0);
        // [51..56] volatility, volatilityType, deltaNeutralOrderType, deltaNeutralAuxPrice, continuousUpdate, referencePriceType
        f.Add("").Add(0).Add("").Add("").Add(0).Add(0);
        // [57..58] trailStopPrice, trailingPercent; [59..62] comboLegsDescrip, comboLegsCount, orderComboLegsCount, smartComboRoutingParamsCount
        f.Add("").Add("").Add("").Add(0).Add(0).Add(0);
        // [63..66] scale x3, hedgeType; [67..68] clearingAccount, clearingIntent; [69] notHeld; [70] dnContractPresent; [71] algoStrategy; [72] solicited
        f.Add("").Add("").Add("").Add("").Add("").Add("IB").Add(false).Add(false).Add("").Add(false);
        // [73] status; [74..75] randomize; [76] conditionsCount; [77..78] trailStopPrice, lmtPriceOffset; [79] cashQty
        f.Add(o.Status).Add(false).Add(false).Add(0).Add(U).Add(U).Add(U);
        // [80..89] dontUseAutoPriceForHedge, isOmsContainer, autoCancelDate, filledQuantity, refFuturesConId, autoCancelParent,
        //          shareholder, imbalanceOnly, routeMarketableToBbo, parentPermId
        f.Add(false).Add(false).Add("").Add(o.Filled).Add(0).Add(false).Add("").Add(false).Add(false).Add(UInt);
        // [90..91] completedTime, completedStatus; [92..96] minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole, midOffsetAtHalf
        f.Add(completedTime).Add(o.CompletedStatus).Add(UInt).Add(UInt).Add(U).Add(U).Add(U);
        return f;
    }

    /// <summary>execDetails (11), 31 fields, no version (§4.5).</summary>
    public static FrameBuilder ExecDetails(int reqId, ExecutionRecord record, string time)
    {
        var e = record.Execution;
        var c = record.Contract;
        return new FrameBuilder(11).Add(reqId).Add(e.OrderId)
            .Add(c.ConId).Add(c.Symbol).Add(c.SecType).Add(c.LastTradeDateOrContractMonth).Add(0.0).Add("").Add(c.Multiplier)
            .Add(c.Exchange).Add(c.Currency).Add(c.LocalSymbol).Add(c.TradingClass)
            .Add(e.ExecId).Add(time).Add(e.Account).Add(Venue(c)).Add(e.Side).Add(e.Shares).Add(e.Price).Add(e.PermId).Add(e.ClientId)
            .Add(0).Add(e.CumQty).Add(e.AvgPrice).Add(e.OrderRef).Add("").Add("").Add("").Add(2);
    }

    /// <summary>commissionReport (59), v1, 8 fields; realizedPNL unset when the execution only opened (§4.5).</summary>
    public static FrameBuilder CommissionReport(ExecutionRecord record, string currency) => new FrameBuilder(59).Add(1)
        .Add(record.Execution.ExecId).Add(record.Execution.Commission).Add(currency).AddMax(record.Execution.RealizedPnl).Add(TwsText.UnsetDouble).Add("");

    /// <summary>contractDetails (10) at 176: 40 fields with no secIds (§4.4).</summary>
    public static FrameBuilder ContractDetails(int reqId, FakeContract c, DateTimeOffset now, TimeZoneInfo zone)
    {
        var hours = TradingHours(c, now, zone);
        var contractMonth = c.SecType == "FUT" && c.LastTradeDateOrContractMonth.Length >= 6 ? c.LastTradeDateOrContractMonth[..6] : "";
        return new FrameBuilder(10).Add(reqId)
            .Add(c.Symbol).Add(c.SecType).Add(c.LastTradeDateOrContractMonth).Add(0.0).Add("").Add(c.Exchange).Add(c.Currency)
            .Add(c.LocalSymbol).Add(c.MarketName).Add(c.TradingClass).Add(c.ConId).Add(c.MinTick).Add(c.Multiplier)
            .Add(c.OrderTypes).Add(c.ValidExchanges).Add(c.PriceMagnifier).Add(c.UnderConId).Add(c.LongName).Add(c.PrimaryExchange).Add(contractMonth)
            .Add("").Add("").Add("").Add(c.TimeZoneId).Add(hours).Add(hours).Add("").Add("").Add(0)
            .Add(1).Add(c.UnderSymbol).Add(c.UnderSecType).Add("26").Add(c.SecType == "FUT" ? c.LastTradeDateOrContractMonth : "")
            .Add(c.StockType).Add(c.MinSize).Add(c.SizeIncrement).Add(c.SizeIncrement);
    }

    /// <summary>position (61), v3, 16 fields; avgCost = average price × multiplier ÷ price magnifier: in the currency, not magnified (GBP for an LSE share whose prices are in pence, §4.6).</summary>
    public static FrameBuilder Position(PositionState p)
    {
        var c = p.Contract;
        return new FrameBuilder(61).Add(3).Add(p.Account)
            .Add(c.ConId).Add(c.Symbol).Add(c.SecType).Add(c.LastTradeDateOrContractMonth).Add(0.0).Add("").Add(c.Multiplier)
            .Add(c.PrimaryExchange).Add(c.Currency).Add(c.LocalSymbol).Add(c.TradingClass)
            .Add(p.Quantity).Add(p.AvgPrice * c.ValueMultiplier);
    }

    /// <summary>updatePortfolio (7), v8, 20 fields (§4.6): marketPrice in IB's (magnified) price unit; market value, avgCost and P&amp;L in the currency.</summary>
    public static FrameBuilder UpdatePortfolio(PositionState p, double mark)
    {
        var c = p.Contract;
        var m = c.ValueMultiplier;
        var qty = (double)p.Quantity;
        return new FrameBuilder(7).Add(8)
            .Add(c.ConId).Add(c.Symbol).Add(c.SecType).Add(c.LastTradeDateOrContractMonth).Add(0.0).Add("").Add(c.Multiplier)
            .Add(c.PrimaryExchange).Add(c.Currency).Add(c.LocalSymbol).Add(c.TradingClass)
            .Add(p.Quantity).Add(mark).Add(qty * mark * m).Add(p.AvgPrice * m).Add((mark - p.AvgPrice) * qty * m).Add(p.Realized).Add(p.Account);
    }

    private static string Venue(FakeContract c)
    {
        var venues = c.ValidExchanges.Split(',', StringSplitOptions.RemoveEmptyEntries);
        return venues.FirstOrDefault(v => v != "SMART") ?? c.Exchange;
    }

    /// <summary>A week of sessions from the contract's open/close times: "yyyyMMdd:HHmm-yyyyMMdd:HHmm;…", "yyyyMMdd:CLOSED" on days without one.</summary>
    private static string TradingHours(FakeContract c, DateTimeOffset now, TimeZoneInfo zone)
    {
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).Date);
        var overnight = string.CompareOrdinal(c.SessionClose, c.SessionOpen) < 0;
        var parts = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var day = today.AddDays(i);
            var open = overnight
                ? day.DayOfWeek is >= DayOfWeek.Sunday and <= DayOfWeek.Thursday
                : day.DayOfWeek is >= DayOfWeek.Monday and <= DayOfWeek.Friday;
            var d = day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
            if (!open)
            {
                parts.Add(d + ":CLOSED");
                continue;
            }

            var end = overnight ? day.AddDays(1).ToString("yyyyMMdd", CultureInfo.InvariantCulture) : d;
            parts.Add($"{d}:{c.SessionOpen}-{end}:{c.SessionClose}");
        }

        return string.Join(';', parts);
    }
}
