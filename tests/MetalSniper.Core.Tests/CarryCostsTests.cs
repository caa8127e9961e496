using MetalSniper.Core.Costs;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;

namespace MetalSniper.Core.Tests;

/// <summary>The carry IB charges on spot metals: borrow on shorts, storage on longs, daily at the cut, actual/360.</summary>
public sealed class CarryCostsTests
{
    private static readonly BenchmarkRate[] Schedule =
    [
        new(new DateOnly(2023, 7, 27), 0.05375m),
        new(new DateOnly(2024, 9, 19), 0.0508m),
        new(new DateOnly(2024, 12, 19), 0.04375m),
    ];

    private static CarryCostModel Model() => new(0.01m, 0.001m, 360, Schedule);

    [Fact]
    public void Charge_IbWorkedExamples_StorageOnALongAndBenchmarkPlusOnePercentOnAShort()
    {
        // IBKR's metals page: 500 oz XAUUSD at 1900, benchmark 5.08 %: storage 1900 × 500 × 0.1 % / 360 = 2.64, borrow 1900 × 500 × 6.08 % / 360 = 160.44 a day.
        var day = new DateOnly(2024, 10, 1);
        var cut = new DateTimeOffset(2024, 10, 1, 21, 0, 0, TimeSpan.Zero);

        var storage = Model().Charge("XAUUSD", day, cut, 500m, 1900m, 1m)!;
        var borrow = Model().Charge("XAUUSD", day, cut, -500m, 1900m, 1m)!;

        (storage.Kind, storage.NotionalUsd, storage.RateAnnual, storage.AmountUsd).ShouldBe((CarryKind.Storage, 950_000m, 0.001m, 2.64m));
        (borrow.Kind, borrow.NotionalUsd, borrow.RateAnnual, borrow.AmountUsd).ShouldBe((CarryKind.Borrow, 950_000m, 0.0608m, 160.44m));
        Model().Charge("XAUUSD", day, cut, 0m, 1900m, 1m).ShouldBeNull();
    }

    [Fact]
    public void BenchmarkOn_TakesTheLatestEntryOnOrBeforeTheDay_AndRefusesADayBeforeTheSchedule()
    {
        var m = Model();

        m.BenchmarkOn(new DateOnly(2024, 9, 18)).ShouldBe(0.05375m);
        m.BenchmarkOn(new DateOnly(2024, 9, 19)).ShouldBe(0.0508m);
        m.BenchmarkOn(new DateOnly(2030, 1, 1)).ShouldBe(0.04375m);
        Should.Throw<InvalidOperationException>(() => m.BenchmarkOn(new DateOnly(2023, 7, 26))).Message.ShouldContain("schedule starts 2023-07-27");
    }

    [Fact]
    public void Check_NamesEveryProblem_DatesNotAscendingRatesOutOfBoundsAndAWrongBasis()
    {
        BenchmarkRate[] bad = [new(new DateOnly(2024, 1, 2), 0.05m), new(new DateOnly(2024, 1, 2), 0.30m), new(new DateOnly(2023, 1, 1), -0.10m)];

        var problems = CarryCostModel.Check(0.2m, -0.001m, 365 + 1, bad);

        problems.Count.ShouldBe(7);
        problems.ShouldContain(p => p.Contains("BorrowSpreadAnnual 0.2"));
        problems.ShouldContain(p => p.Contains("StorageRateAnnual -0.001"));
        problems.ShouldContain(p => p.Contains("DayCountBasis 366"));
        problems.ShouldContain(p => p.Contains("Benchmark[1] 2024-01-02 is not after Benchmark[0] 2024-01-02"));
        problems.ShouldContain(p => p.Contains("Benchmark[1] 2024-01-02: rate 0.30"));
        problems.ShouldContain(p => p.Contains("Benchmark[2] 2023-01-01: rate -0.10"));
        CarryCostModel.Check(0.01m, 0.001m, 360, []).ShouldContain(p => p.Contains("empty"));
        Should.Throw<ArgumentException>(() => new CarryCostModel(0.01m, 0.001m, 360, bad));
    }

    [Fact]
    public void CutsBefore_FridaysPositionPaysThreeDaysAtTheMondayOpen_AndABarClosingAtTheCutIsNotYetPastIt()
    {
        var accrual = new CarryAccrual(Model(), "America/New_York", new TimeOnly(17, 0));
        // Summer (EDT): the 17:00 New York cut is 21:00 UTC. The first bar only starts the clock.
        accrual.CutsBefore(new DateTimeOffset(2024, 7, 12, 20, 0, 0, TimeSpan.Zero)).ShouldBeEmpty();
        accrual.CutsBefore(new DateTimeOffset(2024, 7, 12, 21, 0, 0, TimeSpan.Zero)).ShouldBeEmpty("the bar closing at the cut is applied before the cut is charged");

        // The first bar after the weekend (Sunday 22:00 UTC close): Friday, Saturday and Sunday's cuts, oldest first.
        var cuts = accrual.CutsBefore(new DateTimeOffset(2024, 7, 14, 23, 0, 0, TimeSpan.Zero));

        cuts.Select(c => c.Day).ShouldBe([new DateOnly(2024, 7, 12), new DateOnly(2024, 7, 13), new DateOnly(2024, 7, 14)]);
        cuts[0].CutUtc.ShouldBe(new DateTimeOffset(2024, 7, 12, 21, 0, 0, TimeSpan.Zero));
        accrual.CutsBefore(new DateTimeOffset(2024, 7, 15, 0, 0, 0, TimeSpan.Zero)).ShouldBeEmpty();
        // Winter (EST): the cut is 22:00 UTC.
        accrual.CutUtc(new DateOnly(2024, 12, 2)).ShouldBe(new DateTimeOffset(2024, 12, 2, 22, 0, 0, TimeSpan.Zero));
    }

    [Theory]
    [InlineData(15)]
    [InlineData(60)]
    [InlineData(1_440)]
    public void CutsBefore_OverAYearWithBothDstChangesAndWeekendGaps_ReturnsEveryCutOnceAtTheFirstBarClosingAfterIt(int barMinutes)
    {
        // The cached next cut must give what the definition gives: cut d is returned by the first bar closing strictly after it.
        var accrual = new CarryAccrual(Model(), "America/New_York", new TimeOnly(17, 0));
        var returned = new List<(DateOnly Day, DateTimeOffset CutUtc)>();
        var previous = (DateTimeOffset?)null;
        var close = new DateTimeOffset(2024, 1, 2, 0, 0, 0, TimeSpan.Zero);
        var end = new DateTimeOffset(2025, 1, 2, 0, 0, 0, TimeSpan.Zero);
        while (close < end)
        {
            // Weekend gap (metals: Friday's close to Sunday evening), so one bar passes several cuts.
            var skipWeekend = close.DayOfWeek == DayOfWeek.Saturday || (close.DayOfWeek == DayOfWeek.Sunday && close.Hour < 22);
            if (!skipWeekend)
            {
                var cuts = accrual.CutsBefore(close);
                var expected = previous is not { } p
                    ? []
                    : Enumerable.Range(-3, 12).Select(i => DateOnly.FromDateTime(p.UtcDateTime).AddDays(i))
                        .Where(d => accrual.CutUtc(d) >= p && accrual.CutUtc(d) < close)
                        .Select(d => (d, accrual.CutUtc(d))).ToList();
                cuts.ShouldBe(expected, $"bar closing {close:O} after {previous:O}");
                returned.AddRange(cuts);
                previous = close;
            }

            close = close.AddMinutes(barMinutes);
        }

        returned.Select(c => c.Day).ShouldBe(returned.Select(c => c.Day).Distinct(), "no cut twice");
        returned.Count.ShouldBeGreaterThan(360, "every day's cut after the first bar, weekends included");
        returned.ShouldContain(c => c.Day == new DateOnly(2024, 3, 10) && c.CutUtc == new DateTimeOffset(2024, 3, 10, 21, 0, 0, TimeSpan.Zero), "the spring-forward Sunday's cut is 17:00 EDT");
        returned.ShouldContain(c => c.Day == new DateOnly(2024, 11, 1) && c.CutUtc == new DateTimeOffset(2024, 11, 1, 21, 0, 0, TimeSpan.Zero));
        returned.ShouldContain(c => c.Day == new DateOnly(2024, 11, 4) && c.CutUtc == new DateTimeOffset(2024, 11, 4, 22, 0, 0, TimeSpan.Zero), "EST after the fall-back");
    }

    [Fact]
    public void ChargesAt_UsesTheMarkKnownAtTheCut_AndRefusesAHeldPositionWithoutOne()
    {
        var accrual = new CarryAccrual(Model(), "America/New_York", new TimeOnly(17, 0));
        var day = new DateOnly(2025, 1, 6);
        var cut = accrual.CutUtc(day);
        (string, decimal)[] held = [("XAUUSD", -10m), ("XAGUSD", 0m)];

        var charges = accrual.ChargesAt(day, cut, held, new Dictionary<string, decimal> { ["XAUUSD"] = 2650m }, _ => 1m);

        charges.Count.ShouldBe(1, "a flat instrument pays nothing");
        (charges[0].Mark, charges[0].NotionalUsd, charges[0].RateAnnual, charges[0].AmountUsd).ShouldBe((2650m, 26_500m, 0.05375m, Math.Round(26_500m * 0.05375m / 360m, 2)));
        Should.Throw<InvalidOperationException>(() => accrual.ChargesAt(day, cut, held, new Dictionary<string, decimal>(), _ => 1m)).Message.ShouldContain("no mark for XAUUSD");
    }

    [Fact]
    public void PositionBook_CarryIsChargedToTheOpenTrade_AndEveryNetFigureIsGrossMinusCommissionsMinusCarry()
    {
        var book = new PositionBook(InstrumentCatalog.CreateDefault(), Currency.Usd);
        var t0 = new DateTimeOffset(2025, 1, 6, 15, 0, 0, TimeSpan.Zero);
        book.Apply(new Fill("X1", new ClientOrderId("c1"), "XAUUSD", OrderSide.Sell, 10m, 2600m, new Money.Money(3.90m, Currency.Usd), t0));
        book.ApplyCarry(new CarryCharge("XAUUSD", new DateOnly(2025, 1, 6), t0.AddHours(7), CarryKind.Borrow, -10m, 2610m, 26_100m, 0.05375m, 3.90m));

        var open = book.Get("XAUUSD");
        (open.Carry, open.OpenCarry, open.OpenCommissions, open.RealizedPnlNet).ShouldBe((3.90m, 3.90m, 3.90m, -7.80m));
        book.NetPnlInBase(new Dictionary<string, decimal> { ["XAUUSD"] = 2590m }, new FxConverter(new FxRateTable())).Amount.ShouldBe(100m - 3.90m - 3.90m);

        var trade = book.Apply(new Fill("X2", new ClientOrderId("c2"), "XAUUSD", OrderSide.Buy, 10m, 2590m, new Money.Money(3.89m, Currency.Usd), t0.AddDays(1)))!;

        (trade.GrossPnl, trade.Commissions, trade.Carry, trade.NetPnl).ShouldBe((100m, 7.79m, 3.90m, 100m - 7.79m - 3.90m));
        var flat = book.Get("XAUUSD");
        (flat.RealizedPnlGross, flat.Commissions, flat.Carry, flat.OpenCarry, flat.OpenCommissions).ShouldBe((100m, 7.79m, 3.90m, 0m, 0m));
        TradeFigures.From([trade]).Carry.ShouldBe(3.90m);
        Should.Throw<InvalidOperationException>(() => book.ApplyCarry(new CarryCharge("XAUUSD", new DateOnly(2025, 1, 7), t0, CarryKind.Borrow, -10m, 2610m, 26_100m, 0.05375m, 1m)));
    }
}
