using MetalSniper.Core.Decisions;
using MetalSniper.Core.Orders;
using MetalSniper.Strategies.Indicators;
using MetalSniper.Strategies.Metals;

namespace MetalSniper.Strategies.Tests;

public sealed class MetalsHedgeStrategyTests
{
    /// <summary>Warm-up: five quiet bars at 2000 (range 2): ATR = 2, so 1R = 2.00 and the hedge opens at the fifth close.</summary>
    private static Harness Hedged()
    {
        var h = new Harness();
        h.Flat(5);
        h.Strategy.PhaseOf("XAUUSD").ShouldBe(MetalsPhase.Hedged);
        return h;
    }

    [Fact]
    public void HedgedOpening_BooksBothLegsVirtually_SendsOnlyTheTwoLegStops()
    {
        var h = Hedged();
        var open = h.Decisions.ShouldHaveSingleItem();
        open.Kind.ShouldBe(DecisionKind.OpenHedge);
        open.Outcome.ShouldBe(DecisionOutcome.Taken);
        open.Inputs["r"].ShouldBe("2.00");
        h.Orders.Count.ShouldBe(2);
        h.Orders.ShouldAllBe(o => o.Type == OrderType.Stop && o.Quantity == 50m && o.DecisionId == open.DecisionId);
        h.Orders.Single(o => o.Side == OrderSide.Buy).StopPrice.ShouldBe(2002m);  // kills the short leg
        h.Orders.Single(o => o.Side == OrderSide.Sell).StopPrice.ShouldBe(1998m); // kills the long leg
        h.Orders.ShouldNotContain(o => o.Type == OrderType.Market); // the legs net to zero: no entry order
        h.Book.Get("XAUUSD").IsFlat.ShouldBeTrue();
    }

    [Fact]
    public void MarketRises_ShortLegKilledByItsStop_LongSurvivesWithItsStopAsProtection()
    {
        var h = Hedged();
        h.Bar(2001.5m, high: 2003m, low: 2000m);
        h.Kinds.ShouldContain("KillLeg");
        h.Strategy.PhaseOf("XAUUSD").ShouldBe(MetalsPhase.Running);
        h.Book.Get("XAUUSD").Quantity.ShouldBe(50m);
        h.Book.Get("XAUUSD").AveragePrice.ShouldBe(2002m);
        h.Strategy.StopOf("XAUUSD").ShouldBe(1998m);
        h.Decisions.Single(d => d.Kind == DecisionKind.KillLeg).Reason.ShouldContain("the market chose up");
    }

    [Fact]
    public void MarketFalls_LongLegKilled_ShortSurvives()
    {
        var h = Hedged();
        h.Bar(1998.5m, high: 2000m, low: 1997m);
        h.Book.Get("XAUUSD").Quantity.ShouldBe(-50m);
        h.Strategy.StopOf("XAUUSD").ShouldBe(2002m);
    }

    [Fact]
    public async Task Survivor_MovesToBreakevenAtOneR_ThenTrailsOnlyTowardsTheMoney()
    {
        var h = Hedged();
        h.Bar(2001.5m, high: 2003m, low: 2000m);   // short leg killed
        h.Bar(2001.8m, high: 2002.4m, low: 2001m); // +0.9R from the leg entry 2000: stop stays
        h.Strategy.StopOf("XAUUSD").ShouldBe(1998m);
        h.Bar(2004m, high: 2004.5m, low: 2002m);   // +2R: breakeven (entry 2000 + 0.1 costs), then the trail
        var moves = h.Decisions.Where(d => d.Kind == DecisionKind.MoveStop).ToList();
        moves.ShouldNotBeEmpty();
        var stop = h.Strategy.StopOf("XAUUSD")!.Value;
        stop.ShouldBeGreaterThanOrEqualTo(2000.1m);
        h.Bar(2003m, high: 2003.5m, low: 2002.6m); // a pull-back never loosens the stop
        h.Strategy.StopOf("XAUUSD")!.Value.ShouldBeGreaterThanOrEqualTo(stop);
        var working = (await h.Gateway.GetOpenOrdersAsync(default)).Single();
        working.StopPrice.ShouldBe(h.Strategy.StopOf("XAUUSD"));
    }

    [Fact]
    public async Task Add_IsVetoedUntilTheStopLocksProfit_ThenSentAndTheStopCoversTheWholePosition()
    {
        var h = Hedged();
        h.Bar(2001.5m, high: 2003m, low: 2000m); // long 50 @ 2002 (the buy stop); leg entry 2000
        h.Bar(2004.5m, high: 2005m, low: 2001.5m); // new extreme ≥ 1R beyond 2000: stop moves to ~2000.1 < 2002 + costs
        var veto = h.Decisions.First(d => d.Kind == DecisionKind.Add);
        veto.Outcome.ShouldBe(DecisionOutcome.Vetoed);
        veto.Reason.ShouldContain("locked-profit rule");
        h.Orders.ShouldNotContain(o => o.Purpose == OrderPurpose.Add);

        for (var p = 2006m; p <= 2016m; p += 2m)
        {
            h.Bar(p, high: p + 0.5m, low: p - 1m);
        }

        var add = h.Decisions.First(d => d.Kind == DecisionKind.Add && d.Outcome == DecisionOutcome.Taken);
        decimal.Parse(add.Inputs["lockedPnl"], System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(0m);
        decimal.Parse(add.Inputs["stop"], System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(2002.1m);
        var addOrder = h.Orders.Single(o => o.Purpose == OrderPurpose.Add);
        addOrder.Side.ShouldBe(OrderSide.Buy);
        h.Bar(2017m, high: 2017.5m, low: 2016m); // the add fills at this open, the stop is resized
        h.Book.Get("XAUUSD").Quantity.ShouldBe(50m + addOrder.Quantity);
        h.Kinds.ShouldContain("ResizeStop");
        (await h.Gateway.GetOpenOrdersAsync(default)).Single().Quantity.ShouldBe(50m + addOrder.Quantity);
    }

    [Fact]
    public void Survivor_ExitsOnAConfirmedTurn_NotOnOneBadBar()
    {
        var h = Hedged();
        h.Bar(2001.5m, high: 2003m, low: 2000m);
        for (var p = 2004m; p <= 2012m; p += 2m)
        {
            h.Bar(p, high: p + 0.5m, low: p - 1m);
        }

        h.Options.TrailAtr.ShouldBe(2m);
        // A sharp dip that stays above the trailing stop, then a recovery: noise, held.
        var stop = h.Strategy.StopOf("XAUUSD")!.Value;
        h.Bar(stop + 1m, high: 2012m, low: stop + 0.5m);
        h.Kinds.ShouldNotContain("ExitOnTurn");
        h.Bar(2013m, high: 2013.5m, low: stop + 1m);
        h.Kinds.ShouldNotContain("ExitOnTurn");
        h.Strategy.PhaseOf("XAUUSD").ShouldBe(MetalsPhase.Running);
    }

    [Fact]
    public async Task RefusedStopModification_StrategyKeepsAgreeingWithTheBrokersStop()
    {
        var h = Hedged();
        h.Bar(2001.5m, high: 2003m, low: 2000m); // long survivor, stop 1998 at the broker
        h.RefuseModifies = true;
        h.Bar(2004m, high: 2004.5m, low: 2002m); // the breakeven move is decided, the broker refuses it
        h.Kinds.ShouldContain("MoveStop");
        h.Events.OfType<OrderRequestRejected>().ShouldNotBeEmpty();
        h.Strategy.StopOf("XAUUSD").ShouldBe(1998m);
        (await h.Gateway.GetOpenOrdersAsync(default)).Single().StopPrice.ShouldBe(1998m);
        h.Strategy.PhaseOf("XAUUSD").ShouldBe(MetalsPhase.Running); // still managed, still protected

        h.RefuseModifies = false;
        h.Bar(2005m, high: 2005.5m, low: 2003m); // the next move goes through
        var stop = h.Strategy.StopOf("XAUUSD")!.Value;
        stop.ShouldBeGreaterThan(1998m);
        (await h.Gateway.GetOpenOrdersAsync(default)).Single().StopPrice.ShouldBe(stop);
    }

    [Fact]
    public void Survivor_StoppedOut_TradeEndsFlat()
    {
        var options = Harness.TestOptions();
        options.CooldownBars = 3; // otherwise a new hedge may open on the very bar the trade ended
        var h = new Harness(options);
        h.Flat(5);
        h.Bar(2001.5m, high: 2003m, low: 2000m);
        h.Bar(1997m, high: 2001.5m, low: 1996m); // back through the long leg's stop at 1998
        h.Kinds.ShouldContain("StoppedOut");
        h.Book.Get("XAUUSD").IsFlat.ShouldBeTrue();
        h.Strategy.PhaseOf("XAUUSD").ShouldBe(MetalsPhase.Flat);
        h.Book.ClosedTrades.ShouldHaveSingleItem().GrossPnl.ShouldBe(50m * (1998m - 2002m));
    }

    [Fact]
    public void Survivor_StopFilledInParts_NoResidualExitWhileTheStopsRestWorks_EndsFlatNeverReversed()
    {
        var options = Harness.TestOptions();
        options.CooldownBars = 3;
        var h = new Harness(options, maxVolumeParticipation: 0.1m);
        h.Flat(5);
        h.Bar(2001.5m, high: 2003m, low: 2000m); // short leg killed: long 50 survives, stop 1998
        h.Book.Get("XAUUSD").Quantity.ShouldBe(50m);
        h.Volume = 200m; // 20 oz a bar from here on
        h.Bar(1997m, high: 2001.5m, low: 1996m); // through the stop: 20 of 50
        h.Book.Get("XAUUSD").Quantity.ShouldBe(30m);
        for (var i = 0; i < 3; i++)
        {
            h.Bar(1997m, high: 1998m, low: 1996m);
            h.Book.Get("XAUUSD").Quantity.ShouldBeGreaterThanOrEqualTo(0m, "the position was reversed");
        }

        h.Book.Get("XAUUSD").IsFlat.ShouldBeTrue();
        h.Kinds.ShouldNotContain("ExitResidual");
        // The rest of the stop, or the turn's exit after the stop was cancelled: 50 sold in all, no more.
        h.Events.OfType<OrderFilled>().Where(f => f.Fill.Side == OrderSide.Sell).Sum(f => f.Fill.Quantity).ShouldBe(50m);
        h.Strategy.PhaseOf("XAUUSD").ShouldBe(MetalsPhase.Flat);
    }

    [Fact]
    public async Task UndecidedHedge_ExpiresAndBothStopsAreCancelled()
    {
        var h = Hedged();
        h.Flat(h.Options.HedgeExpiryBars);
        h.Kinds.ShouldContain("HedgeExpired");
        h.Events.OfType<OrderCancelled>().Count().ShouldBe(2);
        (await h.Gateway.GetOpenOrdersAsync(default)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Halt_WithdrawsTheUndecidedHedge_AndNoNewHedgeOpens()
    {
        var h = Hedged();
        h.Halted = true;
        h.Flat(3);
        h.Kinds.Count(k => k == "OpenHedge").ShouldBe(1);
        h.Kinds.ShouldContain("HedgeExpired");
        (await h.Gateway.GetOpenOrdersAsync(default)).ShouldBeEmpty();
    }

    [Fact]
    public void Sizing_IsCappedByNotional()
    {
        var options = Harness.TestOptions();
        options.MaxNotionalUsd = 20_000m; // 10 oz at 2000
        var h = new Harness(options);
        h.Flat(5);
        h.Orders.ShouldAllBe(o => o.Quantity == 10m);
    }

    [Fact]
    public void AverageTrueRange_UsesWilderSmoothing()
    {
        var atr = new AverageTrueRange(3);
        atr.Add(10m, 8m, 9m);  // TR 2
        atr.Add(11m, 9m, 10m); // TR 2
        atr.Value.ShouldBeNull();
        atr.Add(13m, 10m, 12m); // TR 3 → first ATR = 7/3
        atr.Value.ShouldBe(7m / 3m);
        atr.Add(12m, 6m, 7m); // TR max(12,12)-min(6,12) = 6 → (7/3·2 + 6)/3
        atr.Value.ShouldBe(((7m / 3m * 2m) + 6m) / 3m);
    }

    [Fact]
    public void Options_InvalidCombinations_AreReported()
    {
        var o = Harness.TestOptions();
        o.FastEma = 10;
        o.SlowEma = 5;
        var errors = o.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(o)).ToList();
        errors.ShouldContain(e => e.ErrorMessage!.Contains("SlowEma"));
    }
}
