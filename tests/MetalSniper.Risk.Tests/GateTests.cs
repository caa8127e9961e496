using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Sessions;
using MetalSniper.Risk.Gates;
using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Risk.Tests;

public sealed class GateTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly Instrument Gold = InstrumentCatalog.CreateDefault().Get("XAUUSD");

    private static SubmitOrder Order(OrderPurpose purpose, OrderSide side, decimal qty) =>
        new(new ClientOrderId("O1"), "D1", "XAUUSD", side, qty, OrderType.Market, null, null, purpose, Now, TimeInForce.Gtc, "test");

    private static PositionSnapshot Long(decimal qty, decimal avg) => new("XAUUSD", Currency.Usd, qty, avg, 0m, 0m, Now);

    private static readonly GateLimits Limits = new(Currency.Usd, MaxOpenPositions: 2, new Dictionary<string, decimal> { ["XAUUSD"] = 50m }, MaxGrossExposure: 200_000m, MaxNetExposure: 150_000m,
        MaxQuoteAge: TimeSpan.FromMinutes(30), MaxSpreadFraction: 0.005m, FatFingerBand: 0.05m, MaxOrdersPerWindow: 30, OrderRateWindow: TimeSpan.FromMinutes(1),
        SourceCooldown: TimeSpan.FromMinutes(5), new Dictionary<string, decimal> { ["XAUUSD"] = 40m }, MaxOrderNotional: 150_000m, DailyLossLimit: 2000m);

    private static PreTradeContext Ctx(SubmitOrder o, PositionSnapshot p, params (decimal, decimal)[] stops) => new(o, Gold, p, stops, 0.25m, Now)
    {
        Quote = new Quote("XAUUSD", 1999.8m, 2000.2m, Now.AddMinutes(-1), Now),
        Marks = new Dictionary<string, decimal> { ["XAUUSD"] = 2000m, ["XAGUSD"] = 30m },
        Book = p.IsFlat ? [] : [p],
    };

    [Fact]
    public void LockedProfitGate_AddWhileStopDoesNotLockProfit_IsDeniedWithValues()
    {
        var denial = new LockedProfitGate().Check(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 5), Long(10, 2000m), (2000.10m, 10m)));
        denial.ShouldNotBeNull();
        denial.Reason.ShouldBe(DenyReason.LockedProfitNotMet);
        denial.Detail.ShouldContain("2000.10");
        denial.Detail.ShouldContain("-1.50"); // 10 × (0.10 − 0.25)
    }

    [Fact]
    public void LockedProfitGate_AddWhenStopLocksProfitNetOfCosts_Passes() =>
        new LockedProfitGate().Check(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 5), Long(10, 2000m), (2001m, 10m))).ShouldBeNull();

    [Fact]
    public void LockedProfitGate_AddWithoutStopOrWithoutPosition_IsDenied()
    {
        new LockedProfitGate().Check(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 5), Long(10, 2000m)))!.Reason.ShouldBe(DenyReason.LockedProfitNotMet);
        new LockedProfitGate().Check(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 5), Long(0, 0m)))!.Reason.ShouldBe(DenyReason.AddWithoutPosition);
        new LockedProfitGate().Check(Ctx(Order(OrderPurpose.Add, OrderSide.Sell, 5), Long(10, 2000m), (2100m, 10m)))!.Reason.ShouldBe(DenyReason.AddWithoutPosition);
    }

    [Fact]
    public void LockedProfitGate_IgnoresEntriesAndExits() =>
        new LockedProfitGate().Check(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 5), Long(0, 0m))).ShouldBeNull();

    [Fact]
    public void ReduceOnlyGate_FlattenThatWouldFlipOrIncrease_IsDenied()
    {
        var gate = new ReduceOnlyGate();
        gate.Check(Ctx(Order(OrderPurpose.RiskFlatten, OrderSide.Sell, 10), Long(10, 2000m))).ShouldBeNull();
        gate.Check(Ctx(Order(OrderPurpose.RiskFlatten, OrderSide.Sell, 11), Long(10, 2000m)))!.Reason.ShouldBe(DenyReason.ReduceOnlyViolation);
        gate.Check(Ctx(Order(OrderPurpose.Exit, OrderSide.Buy, 1), Long(10, 2000m)))!.Reason.ShouldBe(DenyReason.ReduceOnlyViolation);
        gate.Check(Ctx(Order(OrderPurpose.Exit, OrderSide.Sell, 1), Long(0, 0m)))!.Reason.ShouldBe(DenyReason.ReduceOnlyViolation);
    }

    [Fact]
    public void ReduceOnlyGate_ExitWhileAFlattenIsAlreadyWorking_IsDeniedSoTheyCannotOverfill()
    {
        var ctx = Ctx(Order(OrderPurpose.Exit, OrderSide.Sell, 10), Long(10, 2000m)) with { WorkingReduceQuantity = 10m };
        var denial = new ReduceOnlyGate().Check(ctx);
        denial!.Reason.ShouldBe(DenyReason.ReduceOnlyViolation);
        denial.Detail.ShouldContain("exits already working: 10");
        new ReduceOnlyGate().Check(ctx with { WorkingReduceQuantity = 4m, Order = ctx.Order with { Quantity = 6m } }).ShouldBeNull();
    }

    [Fact]
    public void Pipeline_FirstDenialWins_IsCountedByReason_AndOnlyPassedOrdersCount()
    {
        var kill = KillSwitch.Restore(new InMemoryHaltStore(), "t");
        var rate = new OrderRateGate(Limits with { MaxOrdersPerWindow = 1 });
        var pipeline = new PreTradeGatePipeline([new KillSwitchGate(kill), new ReduceOnlyGate(), new LockedProfitGate(), rate]);
        kill.Escalate(KillLevel.NoEntries, "test", "test", Now);
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Add, OrderSide.Buy, 1), Long(0, 0m)))!.Reason.ShouldBe(DenyReason.KillSwitchNoEntries);
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1), Long(0, 0m)));
        pipeline.DenialsByReason()[DenyReason.KillSwitchNoEntries].ShouldBe(2);

        // Denied orders were not counted by the throttle: the first order after the resume passes.
        kill.Resume("operator:test", "done", kill.State.ConfirmationCode, Now);
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1), Long(0, 0m))).ShouldBeNull();
        pipeline.Evaluate(Ctx(Order(OrderPurpose.Entry, OrderSide.Buy, 1), Long(0, 0m)))!.Reason.ShouldBe(DenyReason.OrderRateThrottle);
    }
}
