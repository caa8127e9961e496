using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Backtest;
using MetalSniper.Core.Costs;

namespace MetalSniper.Backtest.Tests;

public sealed class SimulatedOrderGatewayTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan M15 = TimeSpan.FromMinutes(15);
    private int _ids;

    private static SimulatedOrderGateway Gateway(decimal spread = 0.20m, int slippageTicks = 0) =>
        new(InstrumentCatalog.CreateDefault(), new Dictionary<string, CostModel> { ["XAUUSD"] = new(spread, 0.00015m, 2m) }, slippageTicks, TimeProvider.System, "T", Core.Money.Currency.Usd);

    private static Bar B(int index, decimal o, decimal h, decimal l, decimal c, decimal? spread = null) =>
        new("XAUUSD", T0 + (index * M15), M15, o, h, l, c, 0m, spread, T0 + ((index + 1) * M15));

    private SubmitOrder Order(OrderSide side, OrderType type, decimal qty, decimal? limit, decimal? stop, int decidedOnBar) =>
        new(new ClientOrderId($"O{++_ids}"), "D1", "XAUUSD", side, qty, type, limit, stop, OrderPurpose.Entry, T0 + ((decidedOnBar + 1) * M15), TimeInForce.Gtc, "test");

    private static List<OrderEvent> Drain(SimulatedOrderGateway g)
    {
        var list = new List<OrderEvent>();
        while (g.Events.TryRead(out var e))
        {
            list.Add(e);
        }

        return list;
    }

    [Fact]
    public async Task MarketOrder_DecidedOnBarT_IsNotFilledByBarT_ButAtTheNextOpenPlusHalfSpread()
    {
        var g = Gateway();
        await g.SubmitAsync(Order(OrderSide.Buy, OrderType.Market, 10, null, null, decidedOnBar: 0), default);
        Drain(g).ShouldHaveSingleItem().ShouldBeOfType<OrderAccepted>();

        g.OnBar(B(0, 2000m, 2010m, 1990m, 2005m)); // the bar the decision was made on: no look-ahead
        Drain(g).ShouldBeEmpty();

        g.OnBar(B(1, 2006m, 2012m, 2001m, 2010m));
        var fill = Drain(g).ShouldHaveSingleItem().ShouldBeOfType<OrderFilled>().Fill;
        fill.Price.ShouldBe(2006.10m);
        fill.EventTimeUtc.ShouldBe(T0 + M15 + M15); // as of the close of the bar it filled in: the simulator knows the fill only once that bar is complete
        fill.Commission.Amount.ShouldBe(3.01m); // 1.5 bp × 20,061 = 3.009 → 3.01 (above the 2.00 minimum)
    }

    [Fact]
    public async Task StopOrder_MarketGapsThrough_FillsAtTheOpenNotAtTheStop()
    {
        var g = Gateway(spread: 0m);
        await g.SubmitAsync(Order(OrderSide.Sell, OrderType.Stop, 5, null, 1990m, 0), default);
        g.OnBar(B(1, 1980m, 1985m, 1970m, 1975m)); // opens below the sell stop
        var fill = Drain(g).OfType<OrderFilled>().Single().Fill;
        fill.Price.ShouldBe(1980m);
    }

    [Fact]
    public async Task StopOrder_TriggeredInsideTheBar_FillsAtTheStopWithSlippage()
    {
        var g = Gateway(spread: 0m, slippageTicks: 2);
        await g.SubmitAsync(Order(OrderSide.Buy, OrderType.Stop, 5, null, 2008m, 0), default);
        g.OnBar(B(1, 2000m, 2007.99m, 1995m, 2005m));
        Drain(g).OfType<OrderFilled>().ShouldBeEmpty();
        g.OnBar(B(2, 2005m, 2015m, 2004m, 2012m));
        Drain(g).OfType<OrderFilled>().Single().Fill.Price.ShouldBe(2008.02m);
    }

    [Fact]
    public async Task Fill_NeverOutsideTheBarsHighLow_EvenWhenSpreadAndSlippageWouldPushIt()
    {
        var g = Gateway(spread: 50m, slippageTicks: 100);
        await g.SubmitAsync(Order(OrderSide.Buy, OrderType.Market, 1, null, null, 0), default);
        await g.SubmitAsync(Order(OrderSide.Sell, OrderType.Stop, 1, null, 1999m, 0), default);
        g.OnBar(B(1, 2000m, 2003m, 1998m, 2001m));
        var fills = Drain(g).OfType<OrderFilled>().Select(f => f.Fill).ToList();
        fills.Count.ShouldBe(2);
        fills.ShouldAllBe(f => f.Price >= 1998m && f.Price <= 2003m);
        fills.Single(f => f.Side == OrderSide.Buy).Price.ShouldBe(2003m);
        fills.Single(f => f.Side == OrderSide.Sell).Price.ShouldBe(1998m);
        g.FillsCappedByEnvelope.ShouldBe(2);
        g.CostsCappedByEnvelope.ShouldBe((2026m - 2003m) + (1999m - 1974m)); // uncapped: 2000 + 25 + 1.00 / 1999 − 25 − 1.00
    }

    [Fact]
    public async Task LimitOrder_FillsAtLimitOrBetter_AndOnlyWhenTraded()
    {
        var g = Gateway(spread: 0m);
        await g.SubmitAsync(Order(OrderSide.Buy, OrderType.Limit, 1, 1995m, null, 0), default);
        await g.SubmitAsync(Order(OrderSide.Sell, OrderType.Limit, 1, 2020m, null, 0), default);
        g.OnBar(B(1, 2000m, 2010m, 1996m, 2005m));
        Drain(g).OfType<OrderFilled>().ShouldBeEmpty();
        g.OnBar(B(2, 1990m, 2025m, 1985m, 2000m)); // opens below the buy limit: filled at the better open
        var fills = Drain(g).OfType<OrderFilled>().Select(f => f.Fill).ToList();
        fills.Single(f => f.Side == OrderSide.Buy).Price.ShouldBe(1990m);
        fills.Single(f => f.Side == OrderSide.Sell).Price.ShouldBe(2020m);
    }

    [Fact]
    public async Task DuplicateClientOrderId_IsRejected_AndCommissionMinimumApplies()
    {
        var g = Gateway(spread: 0m);
        var order = Order(OrderSide.Buy, OrderType.Market, 1, null, null, 0);
        await g.SubmitAsync(order, default);
        await g.SubmitAsync(order, default);
        var events = Drain(g);
        events[0].ShouldBeOfType<OrderAccepted>();
        events[1].ShouldBeOfType<OrderRequestRejected>().Reason.ShouldContain("duplicate"); // the first order keeps working
        g.OnBar(B(1, 2000m, 2001m, 1999m, 2000m));
        Drain(g).OfType<OrderFilled>().Single().Fill.Commission.Amount.ShouldBe(2.00m);
        g.BrokerPositions.Single().Quantity.ShouldBe(1m);
    }

    [Fact]
    public async Task CancelAndModify_ChangeWorkingOrders()
    {
        var g = Gateway(spread: 0m);
        var stop = Order(OrderSide.Sell, OrderType.Stop, 2, null, 1990m, 0);
        await g.SubmitAsync(stop, default);
        await g.ModifyAsync(new ModifyOrder(stop.ClientOrderId, "D2", 1995m, null, 3m), default);
        g.OnBar(B(1, 2000m, 2001m, 1994m, 1996m));
        var events = Drain(g);
        events.OfType<OrderModified>().Single().StopPrice.ShouldBe(1995m);
        events.OfType<OrderFilled>().Single().Fill.Quantity.ShouldBe(3m);

        var other = Order(OrderSide.Buy, OrderType.Stop, 1, null, 2100m, 0);
        await g.SubmitAsync(other, default);
        await g.CancelAsync(new CancelOrder(other.ClientOrderId, "D3", "test"), default);
        Drain(g).OfType<OrderCancelled>().ShouldHaveSingleItem();
        (await g.GetOpenOrdersAsync(default)).ShouldBeEmpty();
    }

    [Fact]
    public async Task InvalidQuantity_IsRejectedWithTheRule()
    {
        var g = Gateway();
        await g.SubmitAsync(Order(OrderSide.Buy, OrderType.Market, 0.5m, null, null, 0), default);
        Drain(g).Single().ShouldBeOfType<OrderRejected>().Reason.ShouldContain("minimum");
    }

    // Daily LSE bars of RDSA.L (GBP major units): 2019-11-04 08:00–16:30 UTC, 2019-11-05 08:00–16:30 UTC.
    private static readonly DateTimeOffset LseOpen1 = new(2019, 11, 4, 8, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset LseOpen2 = new(2019, 11, 5, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan LseSession = TimeSpan.FromHours(8.5);

    private static SimulatedOrderGateway StockGateway(int slippageTicks = 0) =>
        new(InstrumentCatalog.CreateDefault(), new Dictionary<string, CostModel> { ["RDSA.L"] = new(0.02m, 0.0005m, 3m) }, slippageTicks, TimeProvider.System, "T", Core.Money.Currency.Gbp);

    private static Bar Daily(DateTimeOffset open, decimal o, decimal h, decimal l, decimal c) =>
        new("RDSA.L", open, LseSession, o, h, l, c, 0m, null, open + LseSession);

    private SubmitOrder OnTheClose(OrderSide side, OrderType type, decimal? limit, decimal? stop = null) =>
        new(new ClientOrderId($"O{++_ids}"), "D1", "RDSA.L", side, 100m, type, limit, stop, OrderPurpose.Entry, LseOpen1 + LseSession, TimeInForce.AtTheOpen, "test");

    [Fact]
    public async Task AtTheOpenMarketOrder_DecidedOnADailyClose_FillsAtTheNextSessionsOpenWithHalfSpreadAndSlippage()
    {
        var g = StockGateway(slippageTicks: 10);
        g.OnBar(Daily(LseOpen1, 23.00m, 23.30m, 22.90m, 23.20m)); // the bar the decision is taken on (its close)
        await g.SubmitAsync(OnTheClose(OrderSide.Buy, OrderType.Market, null), default);
        Drain(g).ShouldHaveSingleItem().ShouldBeOfType<OrderAccepted>();

        g.OnBar(Daily(LseOpen2, 23.11m, 23.385m, 23.11m, 23.29m));

        var fill = Drain(g).ShouldHaveSingleItem().ShouldBeOfType<OrderFilled>().Fill;
        fill.Price.ShouldBe(23.121m); // open 23.11 + half spread 0.01 + 10 ticks × 0.0001
        fill.EventTimeUtc.ShouldBe(LseOpen2 + LseSession); // as of the session bar's close, when the simulator has it (the price is the open's)
        fill.Commission.Amount.ShouldBe(3m); // 5 bp × 2,312.10 = 1.16 → the 3.00 minimum
    }

    [Fact]
    public async Task AtTheOpenLimitOrder_OpenWorseThanTheLimit_IsCancelledAtTheOpen_NotFilledLaterInTheSession()
    {
        var g = StockGateway();
        await g.SubmitAsync(OnTheClose(OrderSide.Buy, OrderType.Limit, 23.00m), default);
        Drain(g);

        g.OnBar(Daily(LseOpen2, 23.11m, 23.385m, 22.90m, 23.29m)); // trades through 23.00 during the day, but opens above it

        Drain(g).ShouldHaveSingleItem().ShouldBeOfType<OrderCancelled>().Reason.ShouldContain("not marketable at the open");
        (await g.GetOpenOrdersAsync(default)).ShouldBeEmpty();
    }

    [Fact]
    public async Task AtTheOpenLimitOrder_OpenBetterThanTheLimit_FillsAtTheOpen()
    {
        var g = StockGateway();
        await g.SubmitAsync(OnTheClose(OrderSide.Buy, OrderType.Limit, 23.20m), default);
        Drain(g);

        g.OnBar(Daily(LseOpen2, 23.11m, 23.385m, 23.11m, 23.29m));

        Drain(g).ShouldHaveSingleItem().ShouldBeOfType<OrderFilled>().Fill.Price.ShouldBe(23.12m); // open + half spread, within the limit
    }

    [Fact]
    public async Task AtTheOpenStopOrder_IsRejected()
    {
        var g = StockGateway();
        await g.SubmitAsync(OnTheClose(OrderSide.Sell, OrderType.Stop, null, 22.00m), default);

        Drain(g).ShouldHaveSingleItem().ShouldBeOfType<OrderRejected>().Reason.ShouldContain("opening auction");
    }
}
