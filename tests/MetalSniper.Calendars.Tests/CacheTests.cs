using System.Diagnostics;
using MetalSniper.Core.Instruments;

namespace MetalSniper.Calendars.Tests;

public sealed class CacheTests
{
    private static readonly string[] AllVenues = [Venues.Metals, Venues.IdealPro, Venues.Lse, Venues.Jse, Venues.Aex, Venues.Nyse];

    [Fact]
    public void SessionEnd_FromACalendarThatRemembersItsLastSession_AnswersLikeAFreshCalendar_ForOrderedAndScrambledQuestions()
    {
        // One calendar asked in time order (its kept session answers most questions), one in a scrambled order, against an
        // answer read straight from the day tables (Session of the local date and the day after) for every question, and a
        // brand-new calendar for every 97th: every venue, every 37 minutes from March 2025 to April 2026 (both DST changes
        // of New York, London and Amsterdam; half days and holidays included).
        var ordered = new ExchangeCalendar();
        var scrambled = new ExchangeCalendar();
        var reference = new ExchangeCalendar();
        var times = new List<DateTimeOffset>();
        for (var t = new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero); t < new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero); t = t.AddMinutes(37))
        {
            times.Add(t);
        }

        var random = new Random(13);
        var shuffled = times.OrderBy(_ => random.Next()).ToList();
        var mismatches = new List<string>();
        foreach (var venue in AllVenues)
        {
            for (var i = 0; i < times.Count; i++)
            {
                if (ordered.SessionEnd(venue, times[i]) != FromTables(reference, venue, times[i]))
                {
                    mismatches.Add($"ordered {venue} {times[i]:u}");
                }

                if (scrambled.SessionEnd(venue, shuffled[i]) != FromTables(reference, venue, shuffled[i]))
                {
                    mismatches.Add($"scrambled {venue} {shuffled[i]:u}");
                }

                if (i % 97 == 0 && new ExchangeCalendar().SessionEnd(venue, shuffled[i]) != scrambled.SessionEnd(venue, shuffled[i]))
                {
                    mismatches.Add($"fresh {venue} {shuffled[i]:u}");
                }
            }
        }

        mismatches.ShouldBeEmpty();
    }

    [Fact]
    public void SessionEnd_ConcurrentQuestionsFromManyThreads_AgreeWithOneThread()
    {
        var shared = new ExchangeCalendar();
        var single = new ExchangeCalendar();
        var times = Enumerable.Range(0, 20_000).Select(i => new DateTimeOffset(2025, 6, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(i * 29)).ToArray();
        var expected = AllVenues.ToDictionary(v => v, v => times.Select(t => single.SessionEnd(v, t)).ToArray());
        var failures = 0;
        Parallel.For(0, 4, worker =>
        {
            var random = new Random(worker);
            for (var n = 0; n < 50_000; n++)
            {
                var venue = AllVenues[random.Next(AllVenues.Length)];
                var i = random.Next(times.Length);
                if (shared.SessionEnd(venue, times[i]) != expected[venue][i])
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        failures.ShouldBe(0);
    }

    [Fact]
    public void SessionEnd_OnConsecutiveBars_IsCheap()
    {
        // The replay asks on every bar: a year of 1-minute bars for one venue must take well under a second once the year is
        // built (the kept session answers all but one question per session). A generous bound, not a benchmark.
        var calendar = new ExchangeCalendar();
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        calendar.SessionEnd(Venues.Metals, start);
        var watch = Stopwatch.StartNew();
        var open = 0;
        for (var m = 0; m < 525_600; m++)
        {
            if (calendar.SessionEnd(Venues.Metals, start.AddMinutes(m)) is not null)
            {
                open++;
            }
        }

        watch.Stop();
        open.ShouldBeGreaterThan(300_000);
        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(3));
    }

    private static DateTimeOffset? FromTables(ExchangeCalendar calendar, string venue, DateTimeOffset utc)
    {
        var utcDate = DateOnly.FromDateTime(utc.UtcDateTime);
        for (var d = utcDate.AddDays(-1); d <= utcDate.AddDays(2); d = d.AddDays(1))
        {
            if (calendar.Session(venue, d) is { } s && s.OpenUtc <= utc && utc < s.CloseUtc)
            {
                return s.CloseUtc;
            }
        }

        return null;
    }
}
