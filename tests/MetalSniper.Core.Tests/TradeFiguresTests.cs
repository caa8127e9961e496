using MetalSniper.Core.Money;
using MetalSniper.Core.Positions;

namespace MetalSniper.Core.Tests;

/// <summary>The closed-trade figures the replay summary and the operator window share.</summary>
public sealed class TradeFiguresTests
{
    private static readonly DateTimeOffset Day1 = new(2019, 3, 4, 0, 0, 0, TimeSpan.Zero);

    private static ClosedTrade Trade(decimal gross, decimal costs, DateTimeOffset closed, string currency = "USD") =>
        new("XAUUSD", new Currency(currency), 1, closed.AddHours(-5), closed, 10m, gross, costs);

    [Fact]
    public void Figures_AreNetOfCosts_AndTheProfitFactorIsWinsOverLosses_NullWithoutALoss()
    {
        var trades = new[] { Trade(110m, 10m, Day1.AddHours(1)), Trade(-40m, 10m, Day1.AddHours(2)), Trade(5m, 5m, Day1.AddHours(3)) };

        var f = TradeFigures.From(trades);

        (f.Trades, f.Winners, f.GrossPnl, f.Commissions, f.NetPnl).ShouldBe((3, 1, 75m, 25m, 50m), "a trade that only paid its costs back (net 0) is not a winner");
        f.ProfitFactor.ShouldBe(2m, "net wins 100 / net losses 50");
        f.WinRate.ShouldBe(1d / 3);
        TradeFigures.From([trades[0]]).ProfitFactor.ShouldBeNull();
        TradeFigures.From([]).WinRate.ShouldBeNull();
    }

    [Fact]
    public void ByCloseDay_SumsTheTradesOfEachUtcDayOfClose_OldestFirst()
    {
        var late = new DateTimeOffset(2019, 3, 4, 23, 30, 0, TimeSpan.FromHours(-2)); // 2019-03-05 01:30 UTC
        var days = TradeFigures.ByCloseDay([Trade(20m, 1m, late), Trade(-10m, 1m, Day1.AddHours(12)), Trade(30m, 2m, Day1.AddHours(13))]);

        days.Select(d => d.Day).ShouldBe([new DateOnly(2019, 3, 4), new DateOnly(2019, 3, 5)]);
        (days[0].Trades, days[0].Winners, days[0].GrossPnl, days[0].Commissions, days[0].NetPnl).ShouldBe((2, 1, 20m, 3m, 17m));
        (days[1].Trades, days[1].NetPnl).ShouldBe((1, 19m));
    }

    [Fact]
    public void ToBase_ConvertsGrossAndCosts_AndLeavesABaseCurrencyTradeAlone()
    {
        var rates = new FxRateTable();
        rates.Set(new FxRate(Currency.Eur, Currency.Usd, 1.12m, Day1));
        var fx = new FxConverter(rates);
        var eur = Trade(100m, 4m, Day1, "EUR");

        var usd = TradeFigures.ToBase(eur, Currency.Usd, fx);

        (usd.Currency, usd.GrossPnl, usd.Commissions, usd.NetPnl).ShouldBe((Currency.Usd, 112m, 4.48m, 107.52m));
        var already = Trade(1m, 0m, Day1);
        TradeFigures.ToBase(already, Currency.Usd, fx).ShouldBeSameAs(already);
    }

    [Fact]
    public void DailySharpe_IsTheMeanOverTheSampleDeviationOfDailyChanges_TimesRoot252()
    {
        // Daily closes 10, 30, 20 → changes 10, 20, −10: mean 6.667, sample sd 15.275.
        var curve = new List<(DateTimeOffset, decimal)> { (Day1.AddHours(5), 3m), (Day1.AddHours(20), 10m), (Day1.AddDays(1), 30m), (Day1.AddDays(2).AddHours(3), 20m) };
        TradeFigures.DailySharpe(curve).ShouldNotBeNull().ShouldBe(20d / 3 / Math.Sqrt(700d / 3) * Math.Sqrt(252), 1e-9);
        TradeFigures.DailySharpe(curve.Take(2).ToList()).ShouldBeNull("one day has no change to compare");
    }
}
