using System.ComponentModel.DataAnnotations;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Configuration;
using MetalSniper.Engine.Services;

namespace MetalSniper.Engine.Tests;

/// <summary>Issue 18 item 9: which exits escalate, at what prices, and when each step is due.</summary>
public sealed class ExitEscalationPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    private static SubmitOrder Order(OrderType type, OrderPurpose purpose, TimeInForce tif = TimeInForce.Gtc) =>
        new(new ClientOrderId("r-O1"), "r-D1", "XAUUSD", OrderSide.Sell, 10m, type, type == OrderType.Limit ? 2000m : null, type == OrderType.Stop ? 1990m : null, purpose, T0, tif, "test");

    private static Quote Q(decimal bid, decimal ask) => new("XAUUSD", bid, ask, T0, T0);

    [Fact]
    public void OnlyMarketExitsAndFlattens_Escalate_NeverEntriesAddsStopsOrOpeningAuctionOrders()
    {
        var policy = new ExitEscalationPolicy(new ExitEscalationOptions());
        policy.Applies(Order(OrderType.Market, OrderPurpose.Exit), simulatedBroker: false).ShouldBeTrue();
        policy.Applies(Order(OrderType.Market, OrderPurpose.RiskFlatten), simulatedBroker: false).ShouldBeTrue();
        policy.Applies(Order(OrderType.Market, OrderPurpose.Entry), simulatedBroker: false).ShouldBeFalse();
        policy.Applies(Order(OrderType.Market, OrderPurpose.Add), simulatedBroker: false).ShouldBeFalse();
        policy.Applies(Order(OrderType.Stop, OrderPurpose.ProtectiveStop), simulatedBroker: false).ShouldBeFalse();
        policy.Applies(Order(OrderType.Limit, OrderPurpose.Exit), simulatedBroker: false).ShouldBeFalse();
        policy.Applies(Order(OrderType.Market, OrderPurpose.Exit, TimeInForce.AtTheOpen), simulatedBroker: false).ShouldBeFalse();
    }

    [Fact]
    public void AgainstTheSimulatedBroker_ItEscalatesOnlyWhenConfiguredTo_AndNothingWhenDisabled()
    {
        var exit = Order(OrderType.Market, OrderPurpose.Exit);
        new ExitEscalationPolicy(new ExitEscalationOptions()).Applies(exit, simulatedBroker: true).ShouldBeFalse();
        new ExitEscalationPolicy(new ExitEscalationOptions { WithSimulatedBroker = true }).Applies(exit, simulatedBroker: true).ShouldBeTrue();
        new ExitEscalationPolicy(new ExitEscalationOptions { Enabled = false }).Applies(exit, simulatedBroker: false).ShouldBeFalse();
    }

    [Fact]
    public void MidIsRoundedAwayFromTheMarket_TouchIsTheBidForASellAndTheAskForABuy()
    {
        var quote = Q(2000.00m, 2000.05m); // mid 2000.025
        ExitEscalationPolicy.LimitPrice(ExitEscalationStep.Mid, OrderSide.Sell, quote, 0.01m).ShouldBe(2000.03m);
        ExitEscalationPolicy.LimitPrice(ExitEscalationStep.Mid, OrderSide.Buy, quote, 0.01m).ShouldBe(2000.02m);
        ExitEscalationPolicy.LimitPrice(ExitEscalationStep.Touch, OrderSide.Sell, quote, 0.01m).ShouldBe(2000.00m);
        ExitEscalationPolicy.LimitPrice(ExitEscalationStep.Touch, OrderSide.Buy, quote, 0.01m).ShouldBe(2000.05m);
    }

    [Fact]
    public void NoUsableQuote_GivesNoLimitPrice_SoTheExitGoesOnAtTheMarket()
    {
        ExitEscalationPolicy.LimitPrice(ExitEscalationStep.Mid, OrderSide.Sell, null, 0.01m).ShouldBeNull();
        ExitEscalationPolicy.LimitPrice(ExitEscalationStep.Mid, OrderSide.Sell, Q(0m, 2000m), 0.01m).ShouldBeNull();
        ExitEscalationPolicy.LimitPrice(ExitEscalationStep.Touch, OrderSide.Buy, Q(2001m, 2000m), 0.01m).ShouldBeNull(); // crossed
    }

    [Fact]
    public void EachStepIsDueAfterItsOwnWait_AndTheMarketIsTheLast()
    {
        var policy = new ExitEscalationPolicy(new ExitEscalationOptions { MidWait = TimeSpan.FromSeconds(10), TouchWait = TimeSpan.FromSeconds(30) });
        policy.Due(ExitEscalationStep.Mid, T0, T0.AddSeconds(9.9)).ShouldBeNull();
        policy.Due(ExitEscalationStep.Mid, T0, T0.AddSeconds(10)).ShouldBe(ExitEscalationStep.Touch);
        policy.Due(ExitEscalationStep.Touch, T0, T0.AddSeconds(29)).ShouldBeNull();
        policy.Due(ExitEscalationStep.Touch, T0, T0.AddSeconds(30)).ShouldBe(ExitEscalationStep.Market);
        policy.Due(ExitEscalationStep.Market, T0, T0.AddHours(1)).ShouldBeNull();
    }

    [Fact]
    public void Options_RefuseNegativeOrOverlongWaits()
    {
        var results = new List<ValidationResult>();
        var options = new ExitEscalationOptions { MidWait = TimeSpan.FromSeconds(-1), TouchWait = TimeSpan.FromHours(2) };
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true).ShouldBeFalse();
        results.Select(r => r.MemberNames.Single()).ShouldBe(["MidWait", "TouchWait"]);
    }
}
