using MetalSniper.Calendars;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;

namespace MetalSniper.Backtest.Tests;

/// <summary>
/// Daily files in the replay feed (real Yahoo files from ../shared/data/dual_listed, merged with the real hourly gold file):
/// sessions from the exchange calendar, FX snapshots at 00:00 London, the merge by close time, units and typed refusals.
/// </summary>
public sealed class DailyReplayTests : IDisposable
{
    private static readonly ExchangeCalendar Calendar = new();
    private static readonly DateTimeOffset From = new(2019, 10, 14, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2020, 1, 3, 0, 0, 0, TimeSpan.Zero);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ms-daily-");

    public void Dispose() => _dir.Delete(true);

    private static ReplayFile[] SharedFiles() =>
    [
        new("XAUUSD", TestPaths.SharedDataFile("metals/xauusd_h1_utc.csv.gz"), TimeSpan.FromHours(1), 0.01m),
        ReplayFile.DailySession("RDSA.AS", TestPaths.SharedDataFile("dual_listed/aex/RDSa.AS_2015-07_2020-06.csv"), Venues.Aex, DailyPriceColumn.Close),
        ReplayFile.DailySession("RDSA.L", TestPaths.SharedDataFile("dual_listed/lse/RDSa.L_2015-07_2020-06.csv"), Venues.Lse, DailyPriceColumn.Close),
        ReplayFile.DailySnapshot("GBPUSD", TestPaths.SharedDataFile("dual_listed/fx/GBPUSD_2015-07_2020-06.csv"), DailyPriceColumn.Close),
    ];

    private static async Task<List<MarketDataRecord>> Read(ReplayMarketDataSource source)
    {
        var records = new List<MarketDataRecord>();
        await foreach (var r in source.StreamAsync(CancellationToken.None))
        {
            records.Add(r);
        }

        return records;
    }

    private static RawBar Row(IEnumerable<MarketDataRecord> records, string symbol, DateOnly date, TimeZoneInfo? zone = null) =>
        records.OfType<RawBarRecord>().Select(r => r.Bar)
            .Single(b => b.Symbol == symbol && DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(b.OpenTimeUtc + b.Interval, zone ?? TimeZoneInfo.Utc).DateTime) == date);

    [Fact]
    public async Task Stream_DailyStocksFxAndHourlyGold_ComeOutInNonDecreasingCloseTime()
    {
        var records = await Read(new ReplayMarketDataSource(SharedFiles(), TimeProvider.System, 0, From, To, Calendar));

        records.OfType<UnparseableRecord>().ShouldBeEmpty();
        var bars = records.OfType<RawBarRecord>().Select(r => r.Bar).ToList();
        bars.Select(b => b.Symbol).Distinct().Order().ShouldBe(["GBPUSD", "RDSA.AS", "RDSA.L", "XAUUSD"]);
        for (var i = 1; i < bars.Count; i++)
        {
            (bars[i].OpenTimeUtc + bars[i].Interval).ShouldBeGreaterThanOrEqualTo(bars[i - 1].OpenTimeUtc + bars[i - 1].Interval, $"bar {i} ({bars[i].Symbol} {bars[i].OpenTimeUtc:O}) closes before bar {i - 1}");
        }

        // Causal: the LSE bar of 2019-11-05 (08:00–16:30 UTC) comes after the gold bar that closes at 16:00 and before the
        // one that closes at 17:00, although it opened eight hours before either.
        var lse = bars.FindIndex(b => b.Symbol == "RDSA.L" && b.OpenTimeUtc == new DateTimeOffset(2019, 11, 5, 8, 0, 0, TimeSpan.Zero));
        var goldTo16 = bars.FindIndex(b => b.Symbol == "XAUUSD" && b.OpenTimeUtc == new DateTimeOffset(2019, 11, 5, 15, 0, 0, TimeSpan.Zero));
        var goldTo17 = bars.FindIndex(b => b.Symbol == "XAUUSD" && b.OpenTimeUtc == new DateTimeOffset(2019, 11, 5, 16, 0, 0, TimeSpan.Zero));
        (goldTo16 < lse && lse < goldTo17).ShouldBeTrue($"gold to 16:00 at {goldTo16}, LSE daily at {lse}, gold to 17:00 at {goldTo17}");
    }

    [Theory]
    // venue / symbol, date, session open and close (UTC): summer time, winter time, and the 2019-12-24 half days
    [InlineData("RDSA.L", "2019-10-25", "2019-10-25T07:00:00Z", "2019-10-25T15:30:00Z")]
    [InlineData("RDSA.L", "2019-11-05", "2019-11-05T08:00:00Z", "2019-11-05T16:30:00Z")]
    [InlineData("RDSA.L", "2019-12-24", "2019-12-24T08:00:00Z", "2019-12-24T12:30:00Z")]
    [InlineData("RDSA.AS", "2019-10-25", "2019-10-25T07:00:00Z", "2019-10-25T15:30:00Z")]
    [InlineData("RDSA.AS", "2019-11-05", "2019-11-05T08:00:00Z", "2019-11-05T16:30:00Z")]
    [InlineData("RDSA.AS", "2019-12-24", "2019-12-24T08:00:00Z", "2019-12-24T13:05:00Z")]
    public async Task DailyBar_OpensAndClosesWithTheCalendarSession_SummerWinterAndHalfDay(string symbol, string date, string openUtc, string closeUtc)
    {
        var records = await Read(new ReplayMarketDataSource(SharedFiles(), TimeProvider.System, 0, From, To, Calendar));

        var bar = Row(records, symbol, DateOnly.Parse(date, System.Globalization.CultureInfo.InvariantCulture));
        bar.OpenTimeUtc.ShouldBe(DateTimeOffset.Parse(openUtc, System.Globalization.CultureInfo.InvariantCulture));
        (bar.OpenTimeUtc + bar.Interval).ShouldBe(DateTimeOffset.Parse(closeUtc, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    // a Yahoo FX row is a snapshot near 00:00 London of its date: a one-minute bar ending then (BST in October, GMT in November)
    [InlineData("2019-10-25", "2019-10-24T23:00:00Z", 1.284027)]
    [InlineData("2019-11-05", "2019-11-05T00:00:00Z", 1.289158)]
    public async Task FxDailyRow_IsAOneMinuteBarEndingAtMidnightLondon_AllFourPricesTheClose(string date, string closeUtc, double close)
    {
        var records = await Read(new ReplayMarketDataSource(SharedFiles(), TimeProvider.System, 0, From, To, Calendar));

        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        var bar = Row(records, "GBPUSD", DateOnly.Parse(date, System.Globalization.CultureInfo.InvariantCulture), london);
        (bar.OpenTimeUtc + bar.Interval).ShouldBe(DateTimeOffset.Parse(closeUtc, System.Globalization.CultureInfo.InvariantCulture));
        bar.Interval.ShouldBe(TimeSpan.FromMinutes(1));
        (bar.Open, bar.High, bar.Low, bar.Close).ShouldBe((close, close, close, close));
    }

    [Fact]
    public async Task LseDailyBar_ThroughTheIngestBoundary_ArrivesInGbpMajorUnits()
    {
        var validator = new BarValidator(InstrumentCatalog.CreateDefault(), new IngestCounters());
        var bars = new List<Bar>();
        await foreach (var r in new ReplayMarketDataSource(SharedFiles(), TimeProvider.System, 0, From, To, Calendar).StreamAsync(CancellationToken.None))
        {
            if (validator.Validate(r, r is RawBarRecord { Bar: var raw } ? raw.OpenTimeUtc + raw.Interval : DateTimeOffset.UnixEpoch, out var why) is { } bar)
            {
                bars.Add(bar);
            }
            else
            {
                why.ShouldBeNull(); // nothing in the window is refused
            }
        }

        // 2019-11-05,2311.0000,2338.5000,2311.0000,2329.0000 (GBp) → GBP; AEX stays in EUR.
        var lse = bars.Single(b => b.Symbol == "RDSA.L" && b.OpenTimeUtc == new DateTimeOffset(2019, 11, 5, 8, 0, 0, TimeSpan.Zero));
        (lse.Open, lse.High, lse.Low, lse.Close).ShouldBe((23.11m, 23.385m, 23.11m, 23.29m));
        bars.Single(b => b.Symbol == "RDSA.AS" && b.OpenTimeUtc == new DateTimeOffset(2019, 11, 5, 8, 0, 0, TimeSpan.Zero)).Close.ShouldBe(27.085m);
    }

    [Fact]
    public async Task DailyRow_OnAHolidayOrAWeekend_IsATypedRejection_NotDropped()
    {
        // Real RDSA.L rows (2019-12-24, 2019-12-27) with one copied onto Christmas Day and one onto a Saturday.
        var path = Path.Combine(_dir.FullName, "RDSa.L_holiday.csv");
        await File.WriteAllTextAsync(path, """
            date,open,high,low,close,adj_close,volume
            2019-12-24,2267.0000,2287.0000,2266.5000,2278.0000,2208.4241,1633570
            2019-12-25,2267.0000,2287.0000,2266.5000,2278.0000,2208.4241,1633570
            2019-12-27,2278.0000,2290.5000,2257.5000,2265.5000,2196.3059,5956154
            2019-12-28,2278.0000,2290.5000,2257.5000,2265.5000,2196.3059,5956154
            2019-12-3x,2278.0000,2290.5000,2257.5000,2265.5000,2196.3059,5956154
            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        var source = new ReplayMarketDataSource([ReplayFile.DailySession("RDSA.L", path, Venues.Lse, DailyPriceColumn.Close)], TimeProvider.System, 0, null, null, Calendar);
        var counters = new IngestCounters();
        var validator = new BarValidator(InstrumentCatalog.CreateDefault(), counters);

        var records = await Read(source);
        foreach (var r in records)
        {
            validator.Validate(r, DateTimeOffset.UnixEpoch, out _);
        }

        var refused = records.OfType<UnparseableRecord>().ToList();
        refused.Count.ShouldBe(3);
        refused.Count(r => r.Reason == BarRejectReason.NotATradingDate).ShouldBe(2);
        refused.Single(r => r.Line == 3).Detail.ShouldContain("2019-12-25");
        refused.Single(r => r.Line == 3).Detail.ShouldContain("holiday");
        refused.Single(r => r.Line == 5).Detail.ShouldContain("Saturday");
        refused.Single(r => r.Line == 6).Reason.ShouldBe(BarRejectReason.UnparseableTimestamp);
        (counters.Read, counters.Accepted, counters.RejectedFor(BarRejectReason.NotATradingDate)).ShouldBe((5L, 2L, 2L));
    }

    [Fact]
    public async Task YahooJseRows_OutsideTheirEnvelope_AreClampedNotRejected()
    {
        // AGL.JO has 15 rows in 2019 whose open or close lies outside [low, high] (the data README's Yahoo caveat).
        var source = new ReplayMarketDataSource([ReplayFile.DailySession("AGL.JO", TestPaths.SharedDataFile("dual_listed/jse/AGL.JO.csv"), Venues.Jse, DailyPriceColumn.Close)],
            TimeProvider.System, 0, new DateTimeOffset(2019, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), Calendar);
        var counters = new IngestCounters();
        var validator = new BarValidator(InstrumentCatalog.CreateDefault(), counters);

        foreach (var r in await Read(source))
        {
            validator.Validate(r, DateTimeOffset.UnixEpoch, out var why);
            why.ShouldBeNull();
        }

        source.EnvelopeClamped.ShouldBe(15);
        counters.Accepted.ShouldBeGreaterThan(240);
    }

    [Fact]
    public async Task AdjustedCloseOnlyFile_GivesOneBarPerRow_WithAllFourPricesTheAdjustedClose()
    {
        var source = new ReplayMarketDataSource([ReplayFile.DailySession("AAL.L", TestPaths.SharedDataFile("dual_listed/lse/AAL.L_adjclose.csv"), Venues.Lse, DailyPriceColumn.AdjClose)],
            TimeProvider.System, 0, new DateTimeOffset(2015, 1, 5, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2015, 1, 6, 0, 0, 0, TimeSpan.Zero), Calendar);

        var bar = (await Read(source)).OfType<RawBarRecord>().ShouldHaveSingleItem().Bar; // 2015-01-05,1094.1467
        (bar.Open, bar.High, bar.Low, bar.Close).ShouldBe((1094.1467, 1094.1467, 1094.1467, 1094.1467));
        bar.OpenTimeUtc.ShouldBe(new DateTimeOffset(2015, 1, 5, 8, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public async Task Window_IsOnBarOpenTime_ForDailyBarsToo()
    {
        // To = 12:00 UTC on 2019-11-05: the LSE bar opening at 08:00 that day is inside although it closes at 16:30.
        var source = new ReplayMarketDataSource(SharedFiles()[2..3], TimeProvider.System, 0,
            new DateTimeOffset(2019, 11, 5, 8, 0, 0, TimeSpan.Zero), new DateTimeOffset(2019, 11, 5, 12, 0, 0, TimeSpan.Zero), Calendar);

        (await Read(source)).OfType<RawBarRecord>().ShouldHaveSingleItem().Bar.OpenTimeUtc.ShouldBe(new DateTimeOffset(2019, 11, 5, 8, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public void DailySessionFile_WithoutACalendar_IsRefusedAtConstruction()
    {
        Should.Throw<ArgumentException>(() => new ReplayMarketDataSource(SharedFiles(), TimeProvider.System, 0));
    }
}
