using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Sessions;
using MetalSniper.Risk.Gates;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;

namespace MetalSniper.Risk.Tests;

/// <summary>Each pre-trade gate, with its typed reason and the values it saw.</summary>
public sealed class RiskGateTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 3, 15, 0, 0, TimeSpan.Zero); // Tuesday 10:00 New York
    private static readonly InstrumentCatalog Catalog = InstrumentCatalog.CreateDefault();
    private static readonly Instrument Gold = Catalog.Get("XAUUSD");

    private static readonly GateLimits Limits = new(Currency.Usd, MaxOpenPositions: 1, new Dictionary<string, decimal> { ["XAUUSD"] = 50m }, MaxGrossExposure: 200_000m, MaxNetExposure: 150_000m,
        MaxQuoteAge: TimeSpan.FromMinutes(30), MaxSpreadFraction: 0.005m, FatFingerBand: 0.05m, MaxOrdersPerWindow: 3, OrderRateWindow: TimeSpan.FromMinutes(1),
        SourceCooldown: TimeSpan.FromMinutes(5), new Dictionary<string, decimal> { ["XAUUSD"] = 40m }, MaxOrderNotional: 100_000m, DailyLossLimit: 2000m);

    private static SubmitOrder Order(OrderPurpose purpose, OrderSide side, decimal qty, OrderType type = OrderType.Market, decimal? limit = null, decimal? stop = null, string decision = "D1", string symbol = "XAUUSD") =>
        new(new ClientOrderId("O-" + Guid.NewGuid().ToString("N")[..6]), decision, symbol, side, qty, type, limit, stop, purpose, Now, TimeInForce.Gtc, "strategy:test");

    private static PositionSnapshot Pos(decimal qty, decimal avg = 2000m, string symbol = "XAUUSD") => new(symbol, Currency.Usd, qty, avg, 0m, 0m, Now);

    private static PreTradeContext Ctx(SubmitOrder o, PositionSnapshot? p = null, DateTimeOffset? now = null, Quote? quote = null, params PositionSnapshot[] book)
    {
        var position = p ?? Pos(0m);
        return new PreTradeContext(o, Catalog.Get(o.Symbol), position, [], 0.25m, now ?? Now)
        {
            Quote = quote ?? new Quote(o.Symbol, 1999.8m, 2000.2m, Now.AddMinutes(-1), Now),
            Marks = new Dictionary<string, decimal> { ["XAUUSD"] = 2000m, ["XAGUSD"] = 30m, ["AAL.L"] = 25m },
            Book = book.Length > 0 ? book : position.IsFlat ? [] : [position],
        };
    }

    private sealed class FixedDayPnl(decimal? value) : IDayPnlView
    {
        public decimal? DayPnlAt(DateTimeOffset nowUtc) => value;
    }

    [Fact]
    public void KillSwitchGate_AtL1_DeniesEntriesAndAdds_ExitsAndStopsPass()
    {
        var kill = KillSwitch.Restore(new InMemoryHaltStore(), "t");
        var gate = new KillSwitchGate(kill);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1))).ShouldBeNull();
        kill.Escalate(KillLevel.NoEntries, "operator:test", "manual", Now);
        var denial = gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1)))!;
        denial.Reason.ShouldBe(DenyReason.KillSwitchNoEntries);
        denial.Values["level"].ShouldBe("L1");
        denial.Detail.ShouldContain("manual");
        gate.Check(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 1), Pos(5)))!.Reason.ShouldBe(DenyReason.KillSwitchNoEntries);
        gate.Check(Ctx(Order(OrderPurpose.Exit, OrderSide.Sell, 5), Pos(5))).ShouldBeNull();
        gate.Check(Ctx(Order(OrderPurpose.ProtectiveStop, OrderSide.Sell, 5, OrderType.Stop, stop: 1990m), Pos(5))).ShouldBeNull();
    }

    [Fact]
    public void KillSwitchGate_AtL2_LetsOutOnlyOrdersThatReduce()
    {
        var kill = KillSwitch.Restore(new InMemoryHaltStore(), "t");
        var gate = new KillSwitchGate(kill);
        kill.Pause("daily-loss", KillLevel.Flatten, Now.AddHours(1), "sentinel", "day P&L -2100 ≤ -2000", Now);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1)))!.Reason.ShouldBe(DenyReason.KillSwitchFlatten);
        gate.Check(Ctx(Order(OrderPurpose.ProtectiveStop, OrderSide.Buy, 5, OrderType.Stop, stop: 2100m), Pos(5)))!.Reason.ShouldBe(DenyReason.KillSwitchFlatten);
        gate.Check(Ctx(Order(OrderPurpose.RiskFlatten, OrderSide.Sell, 5), Pos(5))).ShouldBeNull();
        gate.Check(Ctx(Order(OrderPurpose.ProtectiveStop, OrderSide.Sell, 5, OrderType.Stop, stop: 1990m), Pos(5))).ShouldBeNull();
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1), now: Now.AddHours(1))).ShouldBeNull(); // the pause ran out
    }

    [Fact]
    public void ExecutionModeGate_PaperOnLivePort_AndLiveWithoutBothOptIns_AreDenied()
    {
        var entry = Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1));
        new ExecutionModeGate(new ExecutionSafety(false, false, false, true, 7497)).Check(entry).ShouldBeNull();
        new ExecutionModeGate(new ExecutionSafety(false, false, false, false, null)).Check(entry).ShouldBeNull();
        foreach (var port in new[] { 7496, 4001 })
        {
            var d = new ExecutionModeGate(new ExecutionSafety(false, false, false, true, port)).Check(Ctx(Order(OrderPurpose.RiskFlatten, OrderSide.Sell, 1), Pos(1)))!;
            d.Reason.ShouldBe(DenyReason.PaperModeOnLivePort);
            d.Values["port"].ShouldBe(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        new ExecutionModeGate(new ExecutionSafety(true, true, false, true, 4001)).Check(entry)!.Reason.ShouldBe(DenyReason.LiveTradingNotEnabled);
        new ExecutionModeGate(new ExecutionSafety(true, false, true, true, 4001)).Check(entry)!.Reason.ShouldBe(DenyReason.LiveTradingNotEnabled);
        new ExecutionModeGate(new ExecutionSafety(true, true, true, false, null)).Check(entry)!.Detail.ShouldContain("simulated");
        new ExecutionModeGate(new ExecutionSafety(true, true, true, true, 4001)).Check(entry).ShouldBeNull();
    }

    [Fact]
    public void OrderSanityGate_NonPositiveQuantityOrPrice_IsDenied()
    {
        var gate = new OrderSanityGate();
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 0)))!.Reason.ShouldBe(DenyReason.InvalidOrder);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, OrderType.Limit, limit: -1m)))!.Reason.ShouldBe(DenyReason.InvalidOrder);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, OrderType.Stop)))!.Detail.ShouldContain("stop price");
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, OrderType.Limit, limit: 1990m))).ShouldBeNull();
    }

    [Fact]
    public void PositionLimitGate_GlobalCountAndPerInstrumentSize()
    {
        var gate = new PositionLimitGate(Limits);
        var silver = Pos(100m, 30m, "XAGUSD");
        var d = gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1), book: silver))!;
        d.Reason.ShouldBe(DenyReason.MaxOpenPositions);
        d.Detail.ShouldContain("XAGUSD");
        gate.Check(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 20), Pos(40m)))!.Reason.ShouldBe(DenyReason.MaxPositionSize); // 60 > 50
        gate.Check(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 10), Pos(40m))).ShouldBeNull();
        var withWorking = Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 10), Pos(40m)) with { };
        withWorking = withWorking with { WorkingEntryQuantity = new Dictionary<string, decimal> { ["XAUUSD"] = 5m } };
        gate.Check(withWorking)!.Detail.ShouldContain("working same-side entries 5");
        gate.Check(Ctx(Order(OrderPurpose.Exit, OrderSide.Sell, 40), Pos(40m), book: [Pos(40m), silver])).ShouldBeNull();
    }

    [Fact]
    public void DailyLossGate_AtTheLimitOrUnknown_DeniesEntries()
    {
        var entry = Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1));
        new DailyLossGate(Limits, new FixedDayPnl(-1999.99m)).Check(entry).ShouldBeNull();
        new DailyLossGate(Limits, new FixedDayPnl(-2000m)).Check(entry)!.Reason.ShouldBe(DenyReason.DailyLossLimit);
        new DailyLossGate(Limits, new FixedDayPnl(null)).Check(entry)!.Detail.ShouldContain("unknown");
        new DailyLossGate(Limits, new FixedDayPnl(-5000m)).Check(Ctx(Order(OrderPurpose.Exit, OrderSide.Sell, 1), Pos(1))).ShouldBeNull();
    }

    [Fact]
    public void ExposureGate_GrossAndNetCaps_CountWorkingEntries_AndFxFailsClosed()
    {
        var fx = new FxConverter(new FxRateTable());
        var gate = new ExposureGate(Limits, fx, Catalog);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 40, OrderType.Stop, stop: 2001m))).ShouldBeNull(); // 80k
        var d = gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 40), Pos(40m)))!; // 160k net > 150k
        d.Reason.ShouldBe(DenyReason.NetExposureCap);
        d.Values["net"].ShouldBe("160000.00");
        var hedged = Ctx(Order(OrderPurpose.Entry, OrderSide.Sell, 4000, symbol: "XAGUSD"), Pos(60m)); // 120k long gold + 120k short silver: net 0, gross 240k
        gate.Check(hedged)!.Reason.ShouldBe(DenyReason.GrossExposureCap);
        var working = Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 10)) with { WorkingEntryQuantity = new Dictionary<string, decimal> { ["XAUUSD"] = 70m } };
        gate.Check(working)!.Reason.ShouldBe(DenyReason.NetExposureCap);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 100, symbol: "AAL.L")))!.Reason.ShouldBe(DenyReason.FxRateUnavailable);
    }

    [Fact]
    public void QuoteGate_NoQuoteZeroBidCrossedStaleOrWide_IsDenied_ExitsPass()
    {
        var gate = new QuoteGate(Limits);
        var entry = Order(OrderPurpose.Entry, OrderSide.Buy, 1);
        gate.Check(Ctx(entry)).ShouldBeNull();
        gate.Check(Ctx(entry) with { Quote = null })!.Reason.ShouldBe(DenyReason.NoQuote);
        gate.Check(Ctx(entry, quote: new Quote("XAUUSD", 0m, 2000m, Now, Now)))!.Reason.ShouldBe(DenyReason.ZeroBid);
        gate.Check(Ctx(entry, quote: new Quote("XAUUSD", 2001m, 2000m, Now, Now)))!.Reason.ShouldBe(DenyReason.InvalidQuote);
        var stale = gate.Check(Ctx(entry, quote: new Quote("XAUUSD", 1999m, 2000m, Now.AddMinutes(-31), Now)))!;
        stale.Reason.ShouldBe(DenyReason.StaleQuote);
        stale.Values.Keys.ShouldContain("quoteUtc");
        gate.Check(Ctx(entry, quote: new Quote("XAUUSD", 1990m, 2010m, Now, Now)))!.Reason.ShouldBe(DenyReason.SpreadTooWide); // 1 % > 0.5 %
        gate.Check(Ctx(Order(OrderPurpose.RiskFlatten, OrderSide.Sell, 1), Pos(1), quote: new Quote("XAUUSD", 0m, 0m, Now.AddDays(-1), Now))).ShouldBeNull();
    }

    [Fact]
    public void FatFingerGate_PriceOutsideTheBand_IsDenied_ProtectiveStopsAndFlattensAreExempt()
    {
        var gate = new FatFingerGate(Limits);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, OrderType.Limit, limit: 2090m))).ShouldBeNull(); // 4.5 %
        var d = gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, OrderType.Limit, limit: 2200m)))!;
        d.Reason.ShouldBe(DenyReason.FatFingerPrice);
        d.Detail.ShouldContain("10.00");
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Sell, 1, OrderType.Stop, stop: 1800m)))!.Reason.ShouldBe(DenyReason.FatFingerPrice);
        gate.Check(Ctx(Order(OrderPurpose.Exit, OrderSide.Sell, 1, OrderType.Limit, limit: 1000m), Pos(1)))!.Reason.ShouldBe(DenyReason.FatFingerPrice);
        gate.Check(Ctx(Order(OrderPurpose.ProtectiveStop, OrderSide.Sell, 1, OrderType.Stop, stop: 1700m), Pos(1))).ShouldBeNull();
    }

    [Fact]
    public void MarketHoursGate_EntryOnTheWeekend_IsDenied_ExitPasses()
    {
        var gate = new MarketHoursGate(TradingSessionCalendar.CreateDefault());
        var saturday = new DateTimeOffset(2026, 3, 7, 15, 0, 0, TimeSpan.Zero);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1))).ShouldBeNull();
        var d = gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1), now: saturday))!;
        d.Reason.ShouldBe(DenyReason.MarketClosed);
        d.Detail.ShouldContain("METALS");
        gate.Check(Ctx(Order(OrderPurpose.Exit, OrderSide.Sell, 1), Pos(1), now: saturday)).ShouldBeNull();
    }

    // RDSA.L (LSE 08:00–16:30 London, GMT in March 2026): the daily bar of Monday 2026-03-02 closes at 16:30 UTC.
    private static readonly DateTimeOffset LseClose = new(2026, 3, 2, 16, 30, 0, TimeSpan.Zero);

    private static SubmitOrder AtTheOpen(OrderPurpose purpose, OrderSide side) =>
        Order(purpose, side, 100, symbol: "RDSA.L") with { TimeInForce = TimeInForce.AtTheOpen, DecisionTimeUtc = LseClose };

    [Fact]
    public void MarketHoursGate_AtTheOpenEntry_AllowedWhileTheVenueIsClosed_RefusedWhileItIsOpen()
    {
        var gate = new MarketHoursGate(TradingSessionCalendar.CreateDefault());

        gate.Check(Ctx(AtTheOpen(OrderPurpose.Entry, OrderSide.Buy), now: LseClose)).ShouldBeNull(); // on the daily close: waits for Tuesday's open
        gate.Check(Ctx(AtTheOpen(OrderPurpose.Entry, OrderSide.Buy), now: new DateTimeOffset(2026, 3, 7, 12, 0, 0, TimeSpan.Zero))).ShouldBeNull(); // Saturday
        gate.Check(Ctx(AtTheOpen(OrderPurpose.Add, OrderSide.Buy), Pos(100m, 23m, "RDSA.L"), now: LseClose.AddHours(15))).ShouldBeNull(); // Tuesday 07:30, before the open

        var d = gate.Check(Ctx(AtTheOpen(OrderPurpose.Entry, OrderSide.Buy), now: LseClose.AddHours(17)))!; // Tuesday 09:30: open
        d.Reason.ShouldBe(DenyReason.AtTheOpenWhileOpen);
        d.Detail.ShouldContain("OPG must be sent before the open");
        d.Detail.ShouldContain("LSE");
    }

    [Fact]
    public void MarketHoursGate_AtTheOpenExit_PassesOpenOrClosed_AndOtherEntriesAreUnchanged()
    {
        var gate = new MarketHoursGate(TradingSessionCalendar.CreateDefault());
        var held = Pos(100m, 23m, "RDSA.L");

        gate.Check(Ctx(AtTheOpen(OrderPurpose.Exit, OrderSide.Sell), held, now: LseClose)).ShouldBeNull();
        gate.Check(Ctx(AtTheOpen(OrderPurpose.Exit, OrderSide.Sell), held, now: LseClose.AddHours(17))).ShouldBeNull();

        var day = Order(OrderPurpose.Entry, OrderSide.Buy, 100, symbol: "RDSA.L") with { TimeInForce = TimeInForce.Day };
        gate.Check(Ctx(day, now: LseClose))!.Reason.ShouldBe(DenyReason.MarketClosed);
        gate.Check(Ctx(day, now: LseClose.AddHours(17))).ShouldBeNull();
    }

    [Fact]
    public void QuoteGate_QuoteOfADailyBarStampedAtItsClose_IsFreshForAnOrderOnTheBarsArrival()
    {
        // The hands build a bar's quote as (close ∓ half spread) at the bar's close time: a decision on the daily bar's
        // arrival (clock = 16:30) sees a quote 0 old, not one 8.5 hours old from the session open.
        var bar = new Bar("RDSA.L", LseClose.AddHours(-8.5), TimeSpan.FromHours(8.5), 23.11m, 23.385m, 23.11m, 23.29m, 0m, null, LseClose);
        var quote = new Quote(bar.Symbol, bar.Close, bar.Close, bar.CloseTimeUtc, LseClose);

        new QuoteGate(Limits).Check(Ctx(AtTheOpen(OrderPurpose.Entry, OrderSide.Buy), now: LseClose, quote: quote)).ShouldBeNull();
    }

    [Fact]
    public void OrderRateGate_ThrottlesEntriesWithinTheWindow_OrdersThatReduceAreExempt_WindowRolls()
    {
        var pipeline = new PreTradeGatePipeline([new OrderRateGate(Limits)]);
        for (var i = 0; i < 3; i++)
        {
            pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1), now: Now.AddSeconds(i))).ShouldBeNull();
        }

        var d = pipeline.Evaluate(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 1), Pos(1), now: Now.AddSeconds(10)))!;
        d.Reason.ShouldBe(DenyReason.OrderRateThrottle);
        d.Detail.ShouldContain("3 orders");
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Exit, OrderSide.Sell, 1), Pos(1), now: Now.AddSeconds(10))).ShouldBeNull(); // a way out is never throttled
        pipeline.Evaluate(Ctx(Order(OrderPurpose.RiskFlatten, OrderSide.Sell, 1), Pos(1), now: Now.AddSeconds(10))).ShouldBeNull();
        pipeline.Evaluate(Ctx(Order(OrderPurpose.ProtectiveStop, OrderSide.Sell, 1, OrderType.Stop, stop: 1990m), Pos(1), now: Now.AddSeconds(10))).ShouldBeNull();
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1), now: Now.AddSeconds(60))).ShouldBeNull(); // the first one left the window
    }

    [Fact]
    public void DuplicateIntentGate_SameIntentTwice_IsDenied()
    {
        var pipeline = new PreTradeGatePipeline([new DuplicateIntentGate()]);
        var first = Order(OrderPurpose.Entry, OrderSide.Buy, 1, OrderType.Stop, stop: 2010m, decision: "D7");
        pipeline.Evaluate(Ctx(first)).ShouldBeNull();
        var again = pipeline.Evaluate(Ctx(first with { ClientOrderId = new ClientOrderId("other") }))!;
        again.Reason.ShouldBe(DenyReason.DuplicateIntent);
        again.Detail.ShouldContain("D7|XAUUSD|Buy|Entry|Stop");
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Sell, 1, OrderType.Stop, stop: 1990m, decision: "D7"))).ShouldBeNull(); // the other leg of the hedge
    }

    [Fact]
    public void SourceCooldownGate_NewEntryDecisionTooSoon_IsDenied_SameDecisionPasses()
    {
        var pipeline = new PreTradeGatePipeline([new SourceCooldownGate(Limits)]);
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, decision: "D1"))).ShouldBeNull();
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Sell, 1, decision: "D1"), now: Now.AddSeconds(1))).ShouldBeNull();
        var d = pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, decision: "D2"), now: Now.AddMinutes(4)))!;
        d.Reason.ShouldBe(DenyReason.SourceCooldown);
        d.Detail.ShouldContain("D1");
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, decision: "D2"), now: Now.AddMinutes(5))).ShouldBeNull();
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1, decision: "D3", symbol: "XAGUSD"), now: Now.AddMinutes(5))).ShouldBeNull();
    }

    [Fact]
    public void MaxOrderSizeGate_QuantityAndNotional()
    {
        var gate = new MaxOrderSizeGate(Limits, new FxConverter(new FxRateTable()));
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 41)))!.Reason.ShouldBe(DenyReason.MaxOrderSize);
        gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 40))).ShouldBeNull();
        var d = gate.Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 4000, symbol: "XAGUSD")))!; // 120k > 100k
        d.Reason.ShouldBe(DenyReason.MaxOrderSize);
        d.Detail.ShouldContain("120,000.00");
        gate.Check(Ctx(Order(OrderPurpose.RiskFlatten, OrderSide.Sell, 500), Pos(500))).ShouldBeNull();
    }
}
