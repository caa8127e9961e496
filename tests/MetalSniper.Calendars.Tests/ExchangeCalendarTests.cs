using MetalSniper.Core.Instruments;
using MetalSniper.Core.Sessions;

namespace MetalSniper.Calendars.Tests;

public sealed class ExchangeCalendarTests
{
    private readonly ExchangeCalendar _calendar = new();

    private static DateTimeOffset U(int y, int m, int d, int h, int min = 0) => new(y, m, d, h, min, 0, TimeSpan.Zero);

    private static DateOnly D(int y, int m, int d) => new(y, m, d);

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
    [InlineData(2025, 12, 25, 12, 0, false)] // Christmas
    [InlineData(2025, 12, 25, 23, 0, true)]  // the session of 26 Dec opens at 18:00 New York on Christmas Day
    [InlineData(2026, 1, 1, 15, 0, false)]   // New Year's Day
    public void Metals_TwentyFourFiveWithDailyBreak_ClosedOnGoodFridayChristmasNewYear(int y, int m, int d, int h, int min, bool open) =>
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
        _calendar.IsOpen(Venues.IdealPro, U(2025, 7, 15, 21, 10)).ShouldBeFalse(); // 17:10 New York: FX break 17:00–17:15
        _calendar.IsOpen(Venues.IdealPro, U(2025, 7, 15, 21, 15)).ShouldBeTrue();
        _calendar.SessionEnd(Venues.Metals, U(2025, 7, 18, 12, 0)).ShouldBe(U(2025, 7, 18, 21, 0));
        _calendar.SessionEnd("nyse", U(2025, 7, 15, 14, 0)).ShouldBe(U(2025, 7, 15, 20, 0)); // venue codes ignore case
    }

    [Fact]
    public void UnknownVenueOrDateOutsideCoverage_Throws()
    {
        Should.Throw<KeyNotFoundException>(() => _calendar.IsOpen("MARS", U(2025, 7, 15, 12, 0)));
        Should.Throw<KeyNotFoundException>(() => _calendar.Session("MARS", D(2025, 7, 15)));
        Should.Throw<ArgumentOutOfRangeException>(() => _calendar.Session(Venues.Lse, D(2029, 1, 2)));
        Should.Throw<ArgumentOutOfRangeException>(() => _calendar.Holiday(Venues.Lse, D(2006, 12, 29)));
        Should.Throw<ArgumentOutOfRangeException>(() => _calendar.IsOpen(Venues.Lse, U(2029, 1, 2, 10, 0)));
        Should.Throw<ArgumentOutOfRangeException>(() => _calendar.NextSession(Venues.Lse, D(2028, 12, 29))); // last session of the coverage
        _calendar.Coverage.ShouldBe((D(2007, 1, 1), D(2028, 12, 31)));
    }

    [Fact]
    public void Sessions_FollowEachZonesDaylightSaving_OnDifferentWeekends()
    {
        // 2025: New York springs forward on 9 March, London and Amsterdam on 30 March; back on 26 October (Europe) and
        // 2 November (US). Johannesburg has no daylight saving.
        static TimeSpan Open(ExchangeCalendar c, string venue, DateOnly d) => c.Session(venue, d)!.OpenUtc.TimeOfDay;

        // Before 9 March: everyone on winter time.
        Open(_calendar, Venues.Nyse, D(2025, 3, 7)).ShouldBe(new TimeSpan(14, 30, 0));
        Open(_calendar, Venues.Lse, D(2025, 3, 7)).ShouldBe(new TimeSpan(8, 0, 0));
        // 10–28 March: New York on summer time, Europe not yet.
        Open(_calendar, Venues.Nyse, D(2025, 3, 10)).ShouldBe(new TimeSpan(13, 30, 0));
        Open(_calendar, Venues.Lse, D(2025, 3, 28)).ShouldBe(new TimeSpan(8, 0, 0));
        Open(_calendar, Venues.Aex, D(2025, 3, 28)).ShouldBe(new TimeSpan(8, 0, 0));
        // From 31 March: all on summer time.
        Open(_calendar, Venues.Lse, D(2025, 3, 31)).ShouldBe(new TimeSpan(7, 0, 0));
        Open(_calendar, Venues.Aex, D(2025, 3, 31)).ShouldBe(new TimeSpan(7, 0, 0));
        // 27–31 October: Europe back on winter time, New York still on summer time.
        Open(_calendar, Venues.Lse, D(2025, 10, 27)).ShouldBe(new TimeSpan(8, 0, 0));
        Open(_calendar, Venues.Nyse, D(2025, 10, 27)).ShouldBe(new TimeSpan(13, 30, 0));
        Open(_calendar, Venues.Nyse, D(2025, 11, 3)).ShouldBe(new TimeSpan(14, 30, 0));
        // Johannesburg: 07:00–15:00 UTC all year.
        foreach (var d in new[] { D(2025, 1, 15), D(2025, 3, 20), D(2025, 7, 15), D(2025, 10, 29), D(2025, 12, 15) })
        {
            var s = _calendar.Session(Venues.Jse, d)!;
            (s.OpenUtc.TimeOfDay, s.CloseUtc.TimeOfDay).ShouldBe((new TimeSpan(7, 0, 0), new TimeSpan(15, 0, 0)), d.ToString());
        }

        // The metals session spanning New York's change: opens Sunday 18:00 EDT (22:00 UTC), the Friday before closed at 17:00 EST.
        _calendar.Session(Venues.Metals, D(2025, 3, 7))!.CloseUtc.ShouldBe(U(2025, 3, 7, 22, 0));
        var monday = _calendar.Session(Venues.Metals, D(2025, 3, 10))!;
        (monday.OpenUtc, monday.CloseUtc).ShouldBe((U(2025, 3, 9, 22, 0), U(2025, 3, 10, 21, 0)));
    }

    [Theory]
    [InlineData("LSE", 2022, 6, 2, "Spring bank holiday (moved for the Platinum Jubilee)")]
    [InlineData("LSE", 2022, 6, 3, "Platinum Jubilee")]
    [InlineData("LSE", 2022, 9, 19, "State funeral of Queen Elizabeth II")]
    [InlineData("LSE", 2023, 5, 8, "Coronation of King Charles III")]
    [InlineData("LSE", 2020, 5, 8, "Early May bank holiday (moved to VE Day's 75th anniversary)")]
    [InlineData("LSE", 2021, 12, 27, "Substitute day (Christmas Day / Boxing Day)")]
    [InlineData("LSE", 2025, 8, 25, "Summer bank holiday")]
    [InlineData("LSE", 2027, 3, 29, "Easter Monday")]
    [InlineData("NYSE", 2018, 12, 5, "National day of mourning for President George H. W. Bush")]
    [InlineData("NYSE", 2025, 1, 9, "National day of mourning for President Carter")]
    [InlineData("NYSE", 2022, 6, 20, "Juneteenth (observed)")]
    [InlineData("NYSE", 2021, 12, 24, "Christmas Day (observed)")]
    [InlineData("NYSE", 2026, 7, 3, "Independence Day (observed)")]
    [InlineData("NYSE", 2028, 11, 23, "Thanksgiving Day")]
    [InlineData("JSE", 2016, 8, 3, "Local government elections")]
    [InlineData("JSE", 2016, 12, 27, "Public holiday (Christmas Day fell on a Sunday)")]
    [InlineData("JSE", 2019, 5, 8, "National and provincial elections")]
    [InlineData("JSE", 2021, 11, 1, "Local government elections")]
    [InlineData("JSE", 2023, 12, 15, "Public holiday (Rugby World Cup victory)")]
    [InlineData("JSE", 2024, 5, 29, "National and provincial elections")]
    [InlineData("JSE", 2025, 4, 28, "Substitute day (Freedom Day)")]
    [InlineData("AEX", 2025, 5, 1, "Labour Day")]
    [InlineData("AEX", 2025, 4, 21, "Easter Monday")]
    [InlineData("AEX", 2022, 12, 26, "Boxing Day")]
    [InlineData("METALS", 2026, 4, 3, "Good Friday")]
    [InlineData("METALS", 2022, 12, 26, "Christmas Day (observed)")]
    [InlineData("METALS", 2023, 1, 2, "New Year's Day (observed)")]
    [InlineData("IDEALPRO", 2025, 12, 25, "Christmas Day")]
    public void Holiday_KnownClosures_AreNamedAndHaveNoSession(string venue, int y, int m, int d, string name)
    {
        _calendar.Holiday(venue, D(y, m, d)).ShouldBe(name);
        _calendar.Session(venue, D(y, m, d)).ShouldBeNull();
    }

    [Theory]
    [InlineData("AEX", 2025, 6, 9)]   // Whit Monday: Euronext trades
    [InlineData("AEX", 2023, 4, 27)]  // King's Day: Euronext trades
    [InlineData("NYSE", 2021, 12, 31)] // New Year's Day on a Saturday is not observed the Friday before
    [InlineData("NYSE", 2025, 10, 13)] // Columbus Day: a federal holiday the NYSE trades
    [InlineData("LSE", 2025, 1, 9)]
    [InlineData("METALS", 2025, 1, 9)]  // the NYSE's mourning day: metals traded (the H1 files have bars all day)
    [InlineData("METALS", 2018, 12, 5)]
    [InlineData("JSE", 2025, 8, 11)]  // Women's Day 2025 fell on a Saturday: not moved
    public void Holiday_OrdinaryTradingDays_HaveAFullSession(string venue, int y, int m, int d)
    {
        _calendar.Holiday(venue, D(y, m, d)).ShouldBeNull();
        var s = _calendar.Session(venue, D(y, m, d)).ShouldNotBeNull();
        s.IsHalfDay.ShouldBeFalse();
        s.Note.ShouldBeNull();
    }

    [Fact]
    public void Holiday_Weekends_AreNotHolidays()
    {
        _calendar.Holiday(Venues.Lse, D(2021, 12, 25)).ShouldBeNull(); // Christmas on a Saturday: the substitute days carry the names
        _calendar.Session(Venues.Lse, D(2021, 12, 25)).ShouldBeNull();
    }

    [Theory]
    [InlineData("NYSE", 2025, 11, 28, 18, 0)]  // day after Thanksgiving, 13:00 EST
    [InlineData("NYSE", 2025, 12, 24, 18, 0)]  // Christmas Eve 13:00 EST
    [InlineData("NYSE", 2025, 7, 3, 17, 0)]    // day before Independence Day, 13:00 EDT
    [InlineData("LSE", 2025, 12, 24, 12, 30)]  // 12:30 GMT
    [InlineData("LSE", 2025, 12, 31, 12, 30)]
    [InlineData("LSE", 2022, 12, 23, 12, 30)]  // 24 Dec 2022 was a Saturday: the Friday before closes early
    [InlineData("LSE", 2022, 12, 30, 12, 30)]
    [InlineData("AEX", 2025, 12, 24, 13, 5)]   // 14:05 CET
    [InlineData("AEX", 2024, 12, 31, 13, 5)]
    [InlineData("METALS", 2026, 5, 25, 18, 30)] // Memorial Day: 14:30 EDT, the M1 file's gap from 18:29 UTC
    [InlineData("METALS", 2025, 7, 4, 17, 0)]   // Independence Day on a Friday: 13:00 EDT
    [InlineData("METALS", 2025, 11, 27, 19, 30)] // Thanksgiving: 14:30 EST
    [InlineData("METALS", 2025, 11, 28, 19, 45)] // day after Thanksgiving: 14:45 EST
    [InlineData("METALS", 2025, 12, 24, 18, 45)] // Christmas Eve: 13:45 EST
    [InlineData("METALS", 2019, 1, 21, 18, 0)]   // MLK before 2022: 13:00 EST
    public void Session_HalfDays_CloseEarly(string venue, int y, int m, int d, int closeHourUtc, int closeMinuteUtc)
    {
        var s = _calendar.Session(venue, D(y, m, d)).ShouldNotBeNull();
        s.IsHalfDay.ShouldBeTrue();
        s.Note.ShouldNotBeNullOrWhiteSpace();
        s.CloseUtc.ShouldBe(U(y, m, d, closeHourUtc, closeMinuteUtc));
        _calendar.IsOpen(venue, s.CloseUtc.AddMinutes(-1)).ShouldBeTrue();
        _calendar.IsOpen(venue, s.CloseUtc).ShouldBeFalse();
    }

    [Theory]
    [InlineData("NYSE", 2026, 7, 2)]   // 3 July 2026 is the observed holiday: the day before it is a full day
    [InlineData("AEX", 2022, 12, 23)]  // Euronext does not move its 24 Dec early close to the Friday before
    [InlineData("JSE", 2025, 12, 24)]  // no JSE half day is modelled (none confirmed by a public source)
    [InlineData("METALS", 2025, 12, 31)] // New Year's Eve: the recorded metals bars run to 17:00 New York
    public void Session_DaysThatLookSpecialButAreNot_AreFullDays(string venue, int y, int m, int d) =>
        _calendar.Session(venue, D(y, m, d)).ShouldNotBeNull().IsHalfDay.ShouldBeFalse();

    [Fact]
    public void NextAndPreviousSession_SkipLongWeekends()
    {
        // Easter 2025 in London: Good Friday and Easter Monday closed.
        _calendar.NextSession(Venues.Lse, D(2025, 4, 17)).Date.ShouldBe(D(2025, 4, 22));
        _calendar.PreviousSession(Venues.Lse, D(2025, 4, 22)).Date.ShouldBe(D(2025, 4, 17));
        // Johannesburg: Freedom Day (Sunday 27 April 2025) moved to Monday.
        _calendar.NextSession(Venues.Jse, D(2025, 4, 25)).Date.ShouldBe(D(2025, 4, 29));
        // NYSE: Carter's mourning day, then an ordinary Friday.
        _calendar.NextSession(Venues.Nyse, D(2025, 1, 8)).Date.ShouldBe(D(2025, 1, 10));
        // LSE Christmas 2027 (Saturday): 27 and 28 December are substitutes.
        _calendar.NextSession(Venues.Lse, D(2027, 12, 24)).Date.ShouldBe(D(2027, 12, 29));
        // Metals after Christmas 2025: the Friday session opens at 18:00 New York on Christmas Day.
        var after = _calendar.NextSession(Venues.Metals, D(2025, 12, 24));
        (after.Date, after.OpenUtc, after.CloseUtc).ShouldBe((D(2025, 12, 26), U(2025, 12, 25, 23, 0), U(2025, 12, 26, 22, 0)));
        _calendar.PreviousSession(Venues.Metals, D(2026, 4, 6)).Date.ShouldBe(D(2026, 4, 2)); // across Good Friday and the weekend
        // Asking from a weekend or holiday works too.
        _calendar.NextSession(Venues.Nyse, D(2025, 7, 4)).Date.ShouldBe(D(2025, 7, 7));
    }

    [Fact]
    public void SessionEnd_IsTheEarlyCloseOnAHalfDay()
    {
        _calendar.SessionEnd(Venues.Nyse, U(2025, 11, 28, 15, 0)).ShouldBe(U(2025, 11, 28, 18, 0));
        _calendar.SessionEnd(Venues.Nyse, U(2025, 11, 28, 19, 0)).ShouldBeNull();
        _calendar.SessionEnd(Venues.Metals, U(2026, 5, 25, 12, 0)).ShouldBe(U(2026, 5, 25, 18, 30));
        _calendar.SessionEnd(Venues.Metals, U(2026, 5, 25, 19, 0)).ShouldBeNull();
        _calendar.SessionEnd(Venues.Metals, U(2026, 5, 25, 22, 0)).ShouldBe(U(2026, 5, 26, 21, 0)); // Tuesday's session opens 18:00 EDT
    }

    [Fact]
    public void ExchangeCalendar_IsBothContracts() =>
        _calendar.ShouldBeAssignableTo<ITradingSessions>().ShouldBeAssignableTo<IExchangeCalendar>();
}
