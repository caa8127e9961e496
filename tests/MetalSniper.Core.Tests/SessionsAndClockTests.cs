using MetalSniper.Core.Instruments;
using MetalSniper.Core.Sessions;
using MetalSniper.Core.Time;

namespace MetalSniper.Core.Tests;

public sealed class SessionsAndClockTests
{
    private readonly TradingSessionCalendar _calendar = TradingSessionCalendar.CreateDefault();

    private static DateTimeOffset U(int y, int m, int d, int h, int min = 0) => new(y, m, d, h, min, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(2025, 7, 15, 20, 59, true)]  // Tuesday, US summer: break is 21:00–22:00 UTC
    [InlineData(2025, 7, 15, 21, 30, false)]
    [InlineData(2025, 7, 15, 22, 0, true)]
    [InlineData(2025, 12, 16, 21, 30, true)] // US winter: break is 22:00–23:00 UTC
    [InlineData(2025, 12, 16, 22, 30, false)]
    [InlineData(2025, 7, 19, 12, 0, false)]  // Saturday
    [InlineData(2025, 7, 18, 20, 30, true)]  // Friday before the 17:00 NY close
    [InlineData(2025, 7, 18, 21, 30, false)] // Friday after the close
    [InlineData(2025, 7, 20, 22, 30, true)]  // Sunday evening open
    [InlineData(2026, 4, 3, 12, 0, false)]   // Good Friday 2026
    [InlineData(2025, 12, 25, 12, 0, false)]
    public void Metals_TwentyFourFiveWithDailyBreak(int y, int m, int d, int h, int min, bool open) =>
        _calendar.IsOpen(Venues.Metals, U(y, m, d, h, min)).ShouldBe(open);

    [Fact]
    public void StockVenues_OpenInTheirOwnTimeZones()
    {
        // 2025-07-15 (BST, SAST, CEST, EDT).
        _calendar.IsOpen(Venues.Lse, U(2025, 7, 15, 7, 0)).ShouldBeTrue();   // 08:00 London
        _calendar.IsOpen(Venues.Lse, U(2025, 7, 15, 15, 30)).ShouldBeFalse(); // 16:30 London
        _calendar.IsOpen(Venues.Jse, U(2025, 7, 15, 6, 59)).ShouldBeFalse(); // 08:59 Johannesburg
        _calendar.IsOpen(Venues.Jse, U(2025, 7, 15, 14, 59)).ShouldBeTrue();
        _calendar.IsOpen(Venues.Aex, U(2025, 7, 15, 15, 29)).ShouldBeTrue(); // 17:29 Amsterdam
        _calendar.IsOpen(Venues.Nyse, U(2025, 7, 15, 13, 29)).ShouldBeFalse(); // 09:29 New York
        _calendar.IsOpen(Venues.Nyse, U(2025, 7, 15, 13, 30)).ShouldBeTrue();
        _calendar.IsOpen(Venues.Lse, U(2025, 1, 15, 16, 29)).ShouldBeTrue(); // GMT in winter
        // JSE and LSE overlap only 09:00–17:00 SAST vs 08:00–16:30 London.
        _calendar.SessionEnd(Venues.Metals, U(2025, 7, 18, 12, 0)).ShouldBe(U(2025, 7, 18, 21, 0));
        Should.Throw<KeyNotFoundException>(() => _calendar.IsOpen("MARS", U(2025, 7, 15, 12, 0)));
    }

    [Fact]
    public void EasterSunday_KnownYears() =>
        new[] { TradingSessionCalendar.EasterSunday(2025), TradingSessionCalendar.EasterSunday(2026) }.ShouldBe([new DateOnly(2025, 4, 20), new DateOnly(2026, 4, 5)]);

    [Fact]
    public void ReplayTimeProvider_AdvancesMonotonicallyAndFiresDueTimersOnce()
    {
        var clock = new ReplayTimeProvider(U(2026, 1, 1, 0));
        var fired = 0;
        using var timer = clock.CreateTimer(_ => fired++, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        clock.AdvanceTo(U(2026, 1, 1, 0).AddMilliseconds(500));
        fired.ShouldBe(0);
        clock.AdvanceTo(U(2026, 1, 1, 0, 15)); // fifteen minutes at once: coalesced into one firing
        fired.ShouldBe(1);
        clock.AdvanceTo(U(2025, 1, 1, 0)); // backwards: ignored
        clock.GetUtcNow().ShouldBe(U(2026, 1, 1, 0, 15));
        clock.AdvanceTo(U(2026, 1, 1, 0, 15).AddSeconds(1));
        fired.ShouldBe(2);
    }

    [Fact]
    public void SessionEnd_FromTheCalendarThatRemembersItsLastSession_AnswersLikeAFreshCalendar_AcrossAYearWithTwoDstChanges()
    {
        // One calendar asked in time order (its kept session window answers most questions) and in a scrambled order,
        // against a new calendar for every question (nothing kept): every venue, every 37 minutes of 2025-2026, both DST
        // changes of New York, London, Amsterdam and none in Johannesburg.
        var ordered = TradingSessionCalendar.CreateDefault();
        var scrambled = TradingSessionCalendar.CreateDefault();
        var venues = new[] { Venues.Metals, Venues.IdealPro, Venues.Lse, Venues.Jse, Venues.Aex, Venues.Nyse };
        var times = new List<DateTimeOffset>();
        for (var t = new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero); t < new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero); t = t.AddMinutes(37))
        {
            times.Add(t);
        }

        var random = new Random(13);
        var shuffled = times.OrderBy(_ => random.Next()).ToList();
        var mismatches = 0;
        foreach (var venue in venues)
        {
            for (var i = 0; i < times.Count; i++)
            {
                var fresh = TradingSessionCalendar.CreateDefault();
                if (ordered.SessionEnd(venue, times[i]) != fresh.SessionEnd(venue, times[i])
                    || scrambled.SessionEnd(venue, shuffled[i]) != fresh.SessionEnd(venue, shuffled[i]))
                {
                    mismatches++;
                }
            }
        }

        mismatches.ShouldBe(0);
        ordered.SessionEnd(Venues.Metals, new DateTimeOffset(2025, 12, 25, 15, 0, 0, TimeSpan.Zero)).ShouldBeNull(); // Christmas
    }
}
