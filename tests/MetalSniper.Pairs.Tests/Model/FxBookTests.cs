using MetalSniper.Core.Money;
using MetalSniper.Pairs.Backtest;
using MetalSniper.Pairs.Data;
using MetalSniper.Pairs.Model;

namespace MetalSniper.Pairs.Tests.Model;

public sealed class FxBookTests
{
    private static DailySeries Series(string name, params (string Date, decimal Close)[] rows) =>
        new(name, [.. rows.Select(r => new DailyRow(DateOnly.Parse(r.Date, System.Globalization.CultureInfo.InvariantCulture), null, null, null, r.Close))]);

    private static FxBook Book() => new(new Dictionary<string, DailySeries>
    {
        ["GBPUSD"] = Series("GBPUSD", ("2025-03-10", 1.29m), ("2025-03-11", 1.30m), ("2025-03-17", 1.31m)),
        ["USDZAR"] = Series("USDZAR", ("2025-03-10", 18.0m), ("2025-03-11", 18.2m), ("2025-03-12", 18.4m), ("2025-03-17", 18.1m)),
    });

    [Fact]
    public void Cross_GbpToZar_IsGbpUsdTimesUsdZar_FromTheSnapshotsKnownThen()
    {
        // Snapshots are stamped 00:00 London: at 15:00 UTC on the 11th the 11th's rows are known, the 12th's are not.
        var (factor, observed) = Book().Factor(Currency.Gbp, Currency.Zar, new DateTimeOffset(2025, 3, 11, 15, 0, 0, TimeSpan.Zero));
        factor.ShouldBe(1.30m * 18.2m);
        observed.ShouldBe(new DateTimeOffset(2025, 3, 11, 0, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public void ARateOlderThanItsLimit_FailsClosed_NamingThePair()
    {
        // GBPUSD has no row after the 11th until the 17th: on the 16th it is five days old (limit four).
        var e = Should.Throw<FxRateStaleException>(() => Book().Factor(Currency.Gbp, Currency.Zar, new DateTimeOffset(2025, 3, 16, 12, 0, 0, TimeSpan.Zero)));
        e.Pair.ShouldBe("GBPUSD");
        e.Message.ShouldContain("fails closed");
    }

    [Fact]
    public void NoRateYet_FailsClosed()
    {
        Should.Throw<FxRateStaleException>(() => Book().Factor(Currency.Usd, Currency.Zar, new DateTimeOffset(2025, 3, 9, 12, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void AMissingPath_FailsClosed_NeverOne()
    {
        Should.Throw<FxRateUnavailableException>(() => Book().Factor(Currency.Eur, Currency.Zar, new DateTimeOffset(2025, 3, 11, 12, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void NextSnapshotAfterTheCloses_IsTheFirstInstantEveryNeededPairHasANewerRow()
    {
        var afterClose = new DateTimeOffset(2025, 3, 11, 16, 30, 0, TimeSpan.Zero);
        Book().NextSnapshotAfter(Currency.Gbp, Currency.Zar, afterClose).ShouldBe(new DateTimeOffset(2025, 3, 17, 0, 0, 0, TimeSpan.Zero));
        Book().NextSnapshotAfter(Currency.Usd, Currency.Zar, afterClose).ShouldBe(new DateTimeOffset(2025, 3, 12, 0, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public void SnapshotStamps_FollowLondonSummerTime()
    {
        Book().StampOf(new DateOnly(2025, 7, 1)).ShouldBe(new DateTimeOffset(2025, 6, 30, 23, 0, 0, TimeSpan.Zero));
    }
}
