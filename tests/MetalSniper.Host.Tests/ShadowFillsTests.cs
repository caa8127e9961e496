using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Pipeline;

namespace MetalSniper.Host.Tests;

/// <summary>The shadow fill comparison: a buy against the ask, a sell against the bid, positive slippage worse than the touch.</summary>
public sealed class ShadowFillsTests
{
    private static readonly DateTimeOffset At = new(2025, 9, 8, 10, 0, 0, TimeSpan.Zero);

    private static Fill Fill(string symbol, OrderSide side, decimal price) =>
        new("E1", new ClientOrderId("C1"), symbol, side, 1m, price, new Money(0m, new Currency("USD")), At);

    private static Quote Quote(string symbol, decimal bid, decimal ask) => new(symbol, bid, ask, At, At);

    [Fact]
    public void BuyAboveTheAsk_AndSellBelowTheBid_CountAsSlippage_MeanAndMaxInBasisPoints_PerSymbolInPriceUnits()
    {
        var fills = new ShadowFills();
        fills.Record(Fill("XAUUSD", OrderSide.Buy, 2001m), Quote("XAUUSD", 1999m, 2000m));   // 1 above the ask: 5 bp
        fills.Record(Fill("XAUUSD", OrderSide.Sell, 1999m), Quote("XAUUSD", 1999m, 2000m));  // at the bid: 0
        fills.Record(Fill("XAGUSD", OrderSide.Sell, 39.98m), Quote("XAGUSD", 40m, 40.02m));  // 0.02 below the bid: 5 bp
        fills.Record(Fill("XAGUSD", OrderSide.Buy, 40m), null);                               // no live quote

        var summary = fills.Summary();

        summary.Fills.ShouldBe(4);
        summary.Quoted.ShouldBe(3);
        summary.Unquoted.ShouldBe(1);
        summary.MeanBps.ShouldBe(3.3333m);
        summary.MaxBps.ShouldBe(5m);
        summary.Symbols.ShouldBe([new ShadowSymbolSlippage("XAGUSD", 1, 0.02m, 0.02m), new ShadowSymbolSlippage("XAUUSD", 2, 0.5m, 1m)]);
        summary.Describe().ShouldContain("3 of 4 fills compared (1 without a quote), slippage mean 3.33 bp, max 5 bp");
    }

    [Fact]
    public void AFillBetterThanTheTouch_IsNegativeSlippage_AndAZeroBidIsNoQuote()
    {
        var fills = new ShadowFills();
        fills.Record(Fill("XAUUSD", OrderSide.Buy, 1999.5m), Quote("XAUUSD", 1999m, 2000m));
        fills.Record(Fill("XAUUSD", OrderSide.Sell, 1999m), Quote("XAUUSD", 0m, 2000m));

        var summary = fills.Summary();

        summary.Quoted.ShouldBe(1);
        summary.Unquoted.ShouldBe(1);
        summary.MaxBps.ShouldBe(-2.5m);
        summary.Symbols.Single().Mean.ShouldBe(-0.5m);
    }
}
