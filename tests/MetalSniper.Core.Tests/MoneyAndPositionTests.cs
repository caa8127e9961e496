using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;

namespace MetalSniper.Core.Tests;

public sealed class MoneyAndPositionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly InstrumentCatalog _catalog = InstrumentCatalog.CreateDefault();

    private static Fill F(string symbol, OrderSide side, decimal qty, decimal price, decimal commission, Currency ccy, int n) =>
        new($"X{n}", new ClientOrderId($"O{n}"), symbol, side, qty, price, new Money.Money(commission, ccy), T0.AddMinutes(n));

    [Fact]
    public void FxConverter_MissingRate_FailsClosedInsteadOfUsingOne()
    {
        var fx = new FxConverter(new FxRateTable());
        var e = Should.Throw<FxRateUnavailableException>(() => fx.Convert(new Money.Money(100m, Currency.Gbp), Currency.Usd));
        e.From.ShouldBe(Currency.Gbp);
        fx.TryConvert(new Money.Money(100m, Currency.Gbp), Currency.Usd, out _).ShouldBeFalse();
    }

    [Fact]
    public void FxConverter_UsesDirectInverseAndUsdCross()
    {
        var table = new FxRateTable();
        table.Set(new FxRate(Currency.Gbp, Currency.Usd, 1.25m, T0));
        table.Set(new FxRate(Currency.Usd, Currency.Zar, 18m, T0));
        var fx = new FxConverter(table);
        fx.Convert(new Money.Money(100m, Currency.Gbp), Currency.Usd).Amount.ShouldBe(125m);
        fx.Convert(new Money.Money(125m, Currency.Usd), Currency.Gbp).Amount.ShouldBe(100m);
        fx.Convert(new Money.Money(1m, Currency.Gbp), Currency.Zar).Amount.ShouldBe(22.5m); // GBPZAR = GBPUSD × USDZAR
    }

    [Fact]
    public void Money_AddingDifferentCurrencies_Throws() =>
        Should.Throw<InvalidOperationException>(() => _ = new Money.Money(1m, Currency.Usd) + new Money.Money(1m, Currency.Eur));

    [Fact]
    public void PositionBook_LongThenPartialAndFullClose_TracksAverageAndRealizedPnl()
    {
        var book = new PositionBook(_catalog, Currency.Usd);
        book.Apply(F("XAUUSD", OrderSide.Buy, 10, 2000m, 3m, Currency.Usd, 1));
        book.Apply(F("XAUUSD", OrderSide.Buy, 10, 2010m, 3m, Currency.Usd, 2));
        book.Get("XAUUSD").AveragePrice.ShouldBe(2005m);
        book.Apply(F("XAUUSD", OrderSide.Sell, 5, 2020m, 2m, Currency.Usd, 3)).ShouldBeNull();
        var p = book.Get("XAUUSD");
        p.Quantity.ShouldBe(15m);
        p.RealizedPnlGross.ShouldBe(75m); // 5 × (2020 − 2005)
        var trade = book.Apply(F("XAUUSD", OrderSide.Sell, 15, 1995m, 2m, Currency.Usd, 4));
        trade.ShouldNotBeNull();
        trade.GrossPnl.ShouldBe(75m - 150m); // + 15 × (1995 − 2005)
        trade.Commissions.ShouldBe(10m);
        trade.NetPnl.ShouldBe(-85m);
        trade.Direction.ShouldBe(1);
        book.Get("XAUUSD").IsFlat.ShouldBeTrue();
    }

    [Fact]
    public void PositionBook_ShortFlipsLong_ClosesTradeAndOpensNewAtFillPrice()
    {
        var book = new PositionBook(_catalog, Currency.Usd);
        book.Apply(F("XAGUSD", OrderSide.Sell, 100, 30m, 2m, Currency.Usd, 1));
        var trade = book.Apply(F("XAGUSD", OrderSide.Buy, 150, 29m, 2m, Currency.Usd, 2));
        trade!.GrossPnl.ShouldBe(100m); // short 100 from 30 covered at 29
        trade.Direction.ShouldBe(-1);
        var p = book.Get("XAGUSD");
        p.Quantity.ShouldBe(50m);
        p.AveragePrice.ShouldBe(29m);
    }

    [Fact]
    public void PositionBook_TwoCurrencies_NetPnlInBaseConvertsEachAndFailsClosedWithoutRate()
    {
        var book = new PositionBook(_catalog, Currency.Usd);
        // 1,000 AAL.L bought at 25.00 GBP (2,500 GBp), marked at 26.00 GBP: +1,000 GBP unrealized, 5 GBP commission.
        book.Apply(F("AAL.L", OrderSide.Buy, 1000, 25m, 5m, Currency.Gbp, 1));
        // Gold: +10 oz realized 10 USD each, 4 USD commissions.
        book.Apply(F("XAUUSD", OrderSide.Buy, 10, 2000m, 2m, Currency.Usd, 2));
        book.Apply(F("XAUUSD", OrderSide.Sell, 10, 2010m, 2m, Currency.Usd, 3));
        var marks = new Dictionary<string, decimal> { ["AAL.L"] = 26m };

        Should.Throw<FxRateUnavailableException>(() => book.NetPnlInBase(marks, new FxConverter(new FxRateTable())));

        var table = new FxRateTable();
        table.Set(new FxRate(Currency.Gbp, Currency.Usd, 1.30m, T0));
        var total = book.NetPnlInBase(marks, new FxConverter(table));
        total.Currency.ShouldBe(Currency.Usd);
        total.Amount.ShouldBe(((1000m - 5m) * 1.30m) + (100m - 4m));
        book.Get("AAL.L").Unrealized(26m, 1m).ShouldBe(1000m); // in GBP, the instrument currency
    }

    [Fact]
    public void PositionBook_OpenPositionWithoutMark_RefusesToComputePnl()
    {
        var book = new PositionBook(_catalog, Currency.Usd);
        book.Apply(F("XAUUSD", OrderSide.Buy, 1, 2000m, 2m, Currency.Usd, 1));
        Should.Throw<InvalidOperationException>(() => book.NetPnlInBase(new Dictionary<string, decimal>(), new FxConverter(new FxRateTable())));
    }

    [Fact]
    public void LockedProfitRule_StopBelowAveragePlusCosts_DoesNotLock_AboveDoes()
    {
        var position = new PositionSnapshot("XAUUSD", Currency.Usd, 10m, 2000m, 0m, 0m, T0);
        LockedProfitRule.LocksProfit(position, [(1999m, 10m)], 0.2m, 1m).ShouldBeFalse();
        LockedProfitRule.LocksProfit(position, [(2000.1m, 10m)], 0.2m, 1m).ShouldBeFalse(); // +0.1 gross, −0.2 costs
        LockedProfitRule.LockedPnl(position, [(2001m, 10m)], 0.2m, 1m).ShouldBe(8m);
        LockedProfitRule.LockedPnl(position, [(2005m, 4m)], 0.2m, 1m).ShouldBeNull(); // 6 oz not covered by a stop
        var shortPosition = position with { Quantity = -10m };
        LockedProfitRule.LocksProfit(shortPosition, [(1990m, 10m)], 0.2m, 1m).ShouldBeTrue();
    }

    [Fact]
    public void PriceUnit_MinorUnitsConvertToMajor()
    {
        PriceUnit.Pence.ToMajor(2500m).ShouldBe(25m);
        PriceUnit.SouthAfricanCents.ToMajor(61234m).ShouldBe(612.34m);
        _catalog.Get("AGL.JO").Currency.ShouldBe(Currency.Zar);
        Should.Throw<KeyNotFoundException>(() => _catalog.Get("NOPE"));
    }
}
