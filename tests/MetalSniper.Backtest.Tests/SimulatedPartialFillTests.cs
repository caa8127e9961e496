using MetalSniper.Core.Costs;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;

namespace MetalSniper.Backtest.Tests;

/// <summary>Issue 18 item 9: the simulated broker fills at most a fraction of each bar's volume; the rest works on.</summary>
public sealed class SimulatedPartialFillTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan M15 = TimeSpan.FromMinutes(15);
    private int _ids;

    private static SimulatedOrderGateway Gateway(decimal? participation) =>
        new(InstrumentCatalog.CreateDefault(), new Dictionary<string, CostModel> { ["XAUUSD"] = new(0m, 0.00015m, 2m) }, 0, TimeProvider.System, "T",
            Core.Money.Currency.Usd, participation);

    private static Bar B(int index, decimal o, decimal h, decimal l, decimal c, decimal volume) =>
        new("XAUUSD", T0 + (index * M15), M15, o, h, l, c, volume, null, T0 + ((index + 1) * M15));

    private SubmitOrder Order(OrderSide side, OrderType type, decimal qty, decimal? limit = null, decimal? stop = null) =>
        new(new ClientOrderId($"O{++_ids}"), "D1", "XAUUSD", side, qty, type, limit, stop, OrderPurpose.Exit, T0 + M15, TimeInForce.Gtc, "test");

    private static List<OrderFilled> Fills(SimulatedOrderGateway g)
    {
        var list = new List<OrderFilled>();
        while (g.Events.TryRead(out var e))
        {
            if (e is OrderFilled f)
            {
                list.Add(f);
            }
        }

        return list;
    }

    [Fact]
    public async Task MarketOrder_LargerThanTheBarsShare_FillsInPartsOverTheNextBars_EachAnExecution_AtEachBarsOpen()
    {
        var g = Gateway(0.1m);
        await g.SubmitAsync(Order(OrderSide.Sell, OrderType.Market, 25m), default);

        g.OnBar(B(1, 2000m, 2005m, 1995m, 2001m, volume: 100m)); // 10 % of 100 = 10
        var first = Fills(g).ShouldHaveSingleItem();
        (first.Fill.Quantity, first.Fill.Price, first.LeavesQuantity).ShouldBe((10m, 2000m, 15m));

        g.OnBar(B(2, 2010m, 2012m, 2008m, 2011m, volume: 55m)); // 5.5 → 5 (quantity step 1)
        var second = Fills(g).ShouldHaveSingleItem();
        (second.Fill.Quantity, second.Fill.Price, second.LeavesQuantity).ShouldBe((5m, 2010m, 10m));

        g.OnBar(B(3, 2020m, 2022m, 2018m, 2021m, volume: 1000m));
        var third = Fills(g).ShouldHaveSingleItem();
        (third.Fill.Quantity, third.LeavesQuantity).ShouldBe((10m, 0m));
        g.BrokerPositions.Single().Quantity.ShouldBe(-25m);
        (await g.GetOpenOrdersAsync(default)).ShouldBeEmpty();
    }

    [Fact]
    public async Task PartlyFilledOrder_IsReportedWorkingWithItsFilledQuantity_AndCannotBeModifiedBelowIt()
    {
        var g = Gateway(0.1m);
        var order = Order(OrderSide.Buy, OrderType.Limit, 20m, limit: 2000m);
        await g.SubmitAsync(order, default);
        g.OnBar(B(1, 2001m, 2002m, 1999m, 2001m, volume: 80m)); // trades through the limit: 8 of 20
        Fills(g).ShouldHaveSingleItem().Fill.Quantity.ShouldBe(8m);
        var open = (await g.GetOpenOrdersAsync(default)).ShouldHaveSingleItem();
        (open.FilledQuantity, open.Status).ShouldBe((8m, OrderStatus.PartiallyFilled));

        await g.ModifyAsync(new ModifyOrder(order.ClientOrderId, "D2", null, null, 8m), default);
        g.Events.TryRead(out var refused).ShouldBeTrue();
        refused.ShouldBeOfType<OrderRequestRejected>().Reason.ShouldContain("not above the 8 already filled");
    }

    [Fact]
    public async Task TwoOrdersOnOneBar_ShareTheBarsVolume_NearestTheOpenFirst()
    {
        var g = Gateway(0.5m);
        await g.SubmitAsync(Order(OrderSide.Sell, OrderType.Limit, 10m, limit: 2004m), default);
        await g.SubmitAsync(Order(OrderSide.Sell, OrderType.Market, 10m), default);
        g.OnBar(B(1, 2000m, 2005m, 1995m, 2001m, volume: 24m)); // 12 in all: the market order (at the open) takes 10, the limit 2
        var fills = Fills(g);
        fills.Select(f => (f.ClientOrderId.Value, f.Fill.Quantity)).ShouldBe([("O2", 10m), ("O1", 2m)]);
    }

    [Fact]
    public async Task TriggeredStop_ThatFilledOnlyPartly_FillsTheRestAtTheNextOpen_EvenWhenThatBarDoesNotReachTheStop()
    {
        var g = Gateway(0.1m);
        await g.SubmitAsync(Order(OrderSide.Sell, OrderType.Stop, 15m, stop: 1990m), default);
        g.OnBar(B(1, 2000m, 2001m, 1985m, 1995m, volume: 100m));
        Fills(g).ShouldHaveSingleItem().Fill.Quantity.ShouldBe(10m);
        g.OnBar(B(2, 1996m, 1999m, 1994m, 1998m, volume: 100m)); // back above the stop: the triggered rest is a market order
        var rest = Fills(g).ShouldHaveSingleItem();
        (rest.Fill.Quantity, rest.Fill.Price, rest.LeavesQuantity).ShouldBe((5m, 1996m, 0m));
    }

    [Fact]
    public async Task BarWithoutVolume_CapsNothing_AndNoParticipationFillsCompletely()
    {
        var capped = Gateway(0.01m);
        await capped.SubmitAsync(Order(OrderSide.Buy, OrderType.Market, 50m), default);
        capped.OnBar(B(1, 2000m, 2001m, 1999m, 2000m, volume: 0m)); // unknown volume (the recorded 15-minute metals files)
        Fills(capped).ShouldHaveSingleItem().Fill.Quantity.ShouldBe(50m);

        var off = Gateway(null);
        await off.SubmitAsync(Order(OrderSide.Buy, OrderType.Market, 50m), default);
        off.OnBar(B(1, 2000m, 2001m, 1999m, 2000m, volume: 3m));
        Fills(off).ShouldHaveSingleItem().Fill.Quantity.ShouldBe(50m);
    }

    [Fact]
    public async Task PartialFills_PayTheOrdersMinimumCommissionOnce_NotPerExecution()
    {
        var g = Gateway(0.1m);
        await g.SubmitAsync(Order(OrderSide.Buy, OrderType.Market, 3m), default);
        g.OnBar(B(1, 2000m, 2001m, 1999m, 2000m, volume: 10m));
        g.OnBar(B(2, 2000m, 2001m, 1999m, 2000m, volume: 10m));
        g.OnBar(B(3, 2000m, 2001m, 1999m, 2000m, volume: 10m));
        var commissions = Fills(g).Select(f => f.Fill.Commission.Amount).ToList();
        commissions.ShouldBe([2.00m, 0m, 0m]); // 1.5 bp × 6,000 = 0.90 < the 2.00 minimum, charged on the first execution
    }

    [Fact]
    public void Participation_OutsideZeroToOne_IsRefused()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => Gateway(0m));
        Should.Throw<ArgumentOutOfRangeException>(() => Gateway(1.5m));
    }

    [Fact]
    public async Task RestoredPartlyFilledOrder_FillsOnlyItsRest()
    {
        var g = Gateway(0.1m);
        var order = Order(OrderSide.Sell, OrderType.Market, 12m);
        await g.SubmitAsync(order, default);
        g.OnBar(B(1, 2000m, 2001m, 1999m, 2000m, volume: 100m));
        var first = Fills(g).ShouldHaveSingleItem().Fill;

        var restored = Gateway(0.1m);
        restored.Restore([order.ClientOrderId], [order], [first], 1);
        restored.OnBar(B(2, 2000m, 2001m, 1999m, 2000m, volume: 100m));
        var rest = Fills(restored).ShouldHaveSingleItem();
        (rest.Fill.Quantity, rest.LeavesQuantity).ShouldBe((2m, 0m));
        restored.BrokerPositions.Single().Quantity.ShouldBe(-12m);
    }
}
