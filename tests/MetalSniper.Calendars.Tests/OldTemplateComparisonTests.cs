using System.Globalization;
using System.IO.Compression;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Sessions;
using MetalSniper.Testing;

namespace MetalSniper.Calendars.Tests;

/// <summary>
/// What the exchange calendar changed for the metals replay against the weekly template it replaced
/// (<see cref="TradingSessionCalendar"/>): the golden year's decisions differ because of exactly these days.
/// </summary>
public sealed class OldTemplateComparisonTests
{
    [Fact]
    public void MetalsYear_SessionEndsDifferFromTheOldTemplate_OnlyOnTheNineUsHalfDays_AndOnlyEarlier()
    {
        var calendar = new ExchangeCalendar();
        var template = TradingSessionCalendar.CreateDefault();
        var ny = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var changedSessions = new SortedSet<DateOnly>();
        var later = new List<string>();
        foreach (var file in new[] { "metals/xauusd_m15_utc.csv.gz", "metals/xagusd_m15_utc.csv.gz" })
        {
            foreach (var t in BarTimes(file))
            {
                var (before, now) = (template.SessionEnd(Venues.Metals, t), calendar.SessionEnd(Venues.Metals, t));
                if (before == now)
                {
                    continue;
                }

                // The template's session is the one that changed: it now ends earlier, or the bar is after its early close.
                if (before is null || (now is not null && now > before))
                {
                    later.Add($"{file} {t:u}: template {before:u}, calendar {now:u}");
                    continue;
                }

                changedSessions.Add(DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(before.Value, ny).DateTime));
            }
        }

        later.ShouldBeEmpty();
        changedSessions.ShouldBe(
        [
            new(2025, 6, 19),  // Juneteenth: 14:30 New York
            new(2025, 7, 4),   // Independence Day, a Friday: 13:00
            new(2025, 9, 1),   // Labor Day: 14:30
            new(2025, 11, 27), // Thanksgiving: 14:30
            new(2025, 11, 28), // the day after: 14:45
            new(2025, 12, 24), // Christmas Eve: 13:45
            new(2026, 1, 19),  // Martin Luther King Jr. Day: 14:30
            new(2026, 2, 16),  // Washington's Birthday: 14:30
            new(2026, 5, 25),  // Memorial Day: 14:30
        ]);
        changedSessions.ShouldAllBe(d => calendar.Session(Venues.Metals, d)!.IsHalfDay);
    }

    private static IEnumerable<DateTimeOffset> BarTimes(string file)
    {
        using var gz = new GZipStream(File.OpenRead(TestPaths.SharedDataFile(file)), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        reader.ReadLine();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            yield return DateTimeOffset.Parse(line[..line.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        }
    }
}
