using System.Globalization;
using System.IO.Compression;
using MetalSniper.Core.Instruments;
using MetalSniper.Testing;

namespace MetalSniper.Calendars.Tests;

/// <summary>The calendar against the recorded market data in ../shared/data (see its README).</summary>
public sealed class RecordedDataTests
{
    private readonly ExchangeCalendar _calendar = new();

    public static TheoryData<string, string> DailyFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var (folder, venue) in new[] { ("jse", Venues.Jse), ("lse", Venues.Lse), ("aex", Venues.Aex), ("nyse_adr", Venues.Nyse) })
        {
            foreach (var file in Directory.GetFiles(TestPaths.SharedDataFile(Path.Combine("dual_listed", folder)), "*.csv").Order(StringComparer.Ordinal))
            {
                data.Add(Path.Combine("dual_listed", folder, Path.GetFileName(file)), venue);
            }
        }

        return data;
    }

    /// <summary>
    /// Weekdays the calendar opens but a file has no row for, each explained. Nothing else may be missing.
    /// </summary>
    private static readonly Dictionary<string, DateOnly[]> KnownMissingRows = new(StringComparer.Ordinal)
    {
        // finanzascuantitativasfc/data: the README says 2 'null' rows per file were dropped; they are the two half days
        // of December 2015 (LSE closed at 12:30, Euronext at 14:05), which Yahoo published empty.
        ["dual_listed/lse/AAL.L_2015-07_2020-06.csv"] = [new(2015, 12, 24), new(2015, 12, 31)],
        ["dual_listed/lse/BP.L_2015-07_2020-06.csv"] = [new(2015, 12, 24), new(2015, 12, 31)],
        ["dual_listed/lse/GLEN.L_2015-07_2020-06.csv"] = [new(2015, 12, 24), new(2015, 12, 31)],
        ["dual_listed/lse/RDSa.L_2015-07_2020-06.csv"] = [new(2015, 12, 24), new(2015, 12, 31)],
        ["dual_listed/lse/RIO.L_2015-07_2020-06.csv"] = [new(2015, 12, 24), new(2015, 12, 31)],
        ["dual_listed/aex/RDSa.AS_2015-07_2020-06.csv"] = [new(2015, 12, 31)],
        // Yahoo gaps in the adjusted-close Parquet export: GLEN.L has 2,776 rows where the other five LSE lines of the same
        // file have 2,778; the two absent dates are ordinary trading days (the other lines have them).
        ["dual_listed/lse/GLEN.L_adjclose.csv"] = [new(2024, 9, 19), new(2025, 7, 22)],
    };

    [Theory]
    [MemberData(nameof(DailyFiles))]
    public void DailyFile_HasNoRowOnADateTheVenueIsClosed(string file, string venue)
    {
        var dates = ReadDates(file);
        dates.Count.ShouldBeGreaterThan(100);
        var closed = dates.Where(d => _calendar.Session(venue, d) is null)
            .Select(d => $"{d:yyyy-MM-dd} {d.DayOfWeek} {_calendar.Holiday(venue, d)}")
            .ToList();
        closed.ShouldBeEmpty();
    }

    [Theory]
    [MemberData(nameof(DailyFiles))]
    public void DailyFile_HasARowOnEveryDateTheVenueTrades_ExceptTheExplainedGaps(string file, string venue)
    {
        var dates = ReadDates(file).ToHashSet();
        var missing = new List<DateOnly>();
        for (var d = dates.Min(); d <= dates.Max(); d = d.AddDays(1))
        {
            if (_calendar.Session(venue, d) is not null && !dates.Contains(d))
            {
                missing.Add(d);
            }
        }

        missing.ShouldBe(KnownMissingRows.GetValueOrDefault(file.Replace('\\', '/')) ?? [], ignoreOrder: false);
    }

    [Theory]
    [InlineData("metals/xauusd_m15_utc.csv.gz", 0)]
    [InlineData("metals/xagusd_m15_utc.csv.gz", 100)] // 2025-12-31 22:00 → 2026-01-01 22:45 UTC: the last quote repeated (range ≤ 0.002 USD)
    [InlineData("metals/xauusd_h1_utc.csv.gz", 0)]
    [InlineData("metals/xagusd_h1_utc.csv.gz", 0)]
    [InlineData("metals/xauusd_m1_utc.csv.gz", 0)]
    public void MetalsBars_InTheClosureOfGoodFridayChristmasOrNewYear_AreOnlyStaleQuotes(string file, int staleBarsInside)
    {
        // The README says the intraday files lack Good Friday, 25 Dec and 1 Jan. The one file that has bars then (silver M15,
        // New Year's Day 2026) repeats the 31 Dec 16:45 New York quote with no trading range: a stale feed, not a session.
        var bars = ReadBars(file);
        var (first, last) = (DateOnly.FromDateTime(bars[0].Time.UtcDateTime), DateOnly.FromDateTime(bars[^1].Time.UtcDateTime));
        var closures = new List<(DateOnly Date, DateTimeOffset From, DateTimeOffset To)>();
        for (var d = first; d <= last; d = d.AddDays(1))
        {
            if (_calendar.Holiday(Venues.Metals, d) is not null)
            {
                // From the close of the last session before to the open of the next one (Christmas Eve's early close included).
                closures.Add((d, _calendar.PreviousSession(Venues.Metals, d).CloseUtc, _calendar.NextSession(Venues.Metals, d).OpenUtc));
            }
        }

        closures.Select(c => _calendar.Holiday(Venues.Metals, c.Date)).ShouldContain("Good Friday");
        var inside = bars.Where(b => closures.Any(c => b.Time >= c.From && b.Time < c.To)).ToList();
        inside.Where(b => !b.IsStaleQuote).Select(b => b.ToString()).ShouldBeEmpty();
        inside.Count.ShouldBe(staleBarsInside);
    }

    [Theory]
    [InlineData("metals/xauusd_m15_utc.csv.gz")]
    [InlineData("metals/xagusd_m15_utc.csv.gz")]
    [InlineData("metals/xauusd_m1_utc.csv.gz")]
    public void MetalsBars_OutsideASession_AreStaleQuotesOrAfterAHalfDaysEarlyClose(string file)
    {
        // Two kinds of bar lie outside the calendar's sessions, and nothing else does:
        // - after CME's early close on a half day the broker kept quoting thinly (gold on Thanksgiving 2025 to 16:45 New
        //   York, ranges of a few dollars);
        // - stale quotes with no trading range (high − low ≤ 0.01 % of the price) in the daily 17:00–18:00 break, mostly
        //   silver, and on silver's New Year's Day 2026; in the daily break silver's feed also flickers between two quotes
        //   for the whole hour (ranges of 0.01–0.03 USD, at most 0.1 % of the price, against a median 15-minute range of
        //   0.33 % for silver and 0.16 % for gold).
        var ny = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var unexplained = ReadBars(file)
            .Where(b => !_calendar.IsOpen(Venues.Metals, b.Time) && !b.IsStaleQuote)
            .Where(b =>
            {
                var local = TimeZoneInfo.ConvertTime(b.Time, ny);
                var inDailyBreak = local.Hour == 17 && local.DayOfWeek is >= DayOfWeek.Monday and <= DayOfWeek.Friday; // Friday: the hour after the weekly close
                if (inDailyBreak && b.High - b.Low <= b.Close * 0.001m)
                {
                    return false;
                }

                return _calendar.Session(Venues.Metals, DateOnly.FromDateTime(local.DateTime)) is not { IsHalfDay: true } half
                    || b.Time < half.CloseUtc || local.TimeOfDay >= new TimeSpan(17, 0, 0);
            })
            .Select(b => b.ToString())
            .ToList();
        unexplained.ShouldBeEmpty();
    }

    private static List<DateOnly> ReadDates(string file) =>
        File.ReadLines(TestPaths.SharedDataFile(file)).Skip(1)
            .Where(l => l.Length > 0)
            .Select(l => DateOnly.ParseExact(l[..10], "yyyy-MM-dd", CultureInfo.InvariantCulture))
            .ToList();

    private static List<Bar> ReadBars(string file)
    {
        using var gz = new GZipStream(File.OpenRead(TestPaths.SharedDataFile(file)), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        var bars = new List<Bar>();
        reader.ReadLine();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            var f = line.Split(',');
            bars.Add(new Bar(
                DateTimeOffset.Parse(f[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
                decimal.Parse(f[2], CultureInfo.InvariantCulture),
                decimal.Parse(f[3], CultureInfo.InvariantCulture),
                decimal.Parse(f[4], CultureInfo.InvariantCulture)));
        }

        return bars;
    }

    /// <summary>A recorded bar: open time (UTC), high, low, close.</summary>
    private sealed record Bar(DateTimeOffset Time, decimal High, decimal Low, decimal Close)
    {
        /// <summary>No trading range: the feed repeated its last quote (high − low ≤ 0.01 % of the close).</summary>
        public bool IsStaleQuote => High - Low <= Close * 0.0001m;

        public override string ToString() => $"{Time:u} H {High} L {Low} C {Close}";
    }
}
