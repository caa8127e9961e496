using System.Collections.Immutable;
using MetalSniper.Core.Instruments;

namespace MetalSniper.Calendars;

/// <summary>
/// One dated closure (the venue does not trade that date) in the calendar's documented table: a one-off (mourning days, jubilees, elections, proclaimed holidays),
/// with the public source that reports it.
/// </summary>
/// <param name="Venue">Venue code (see <see cref="Venues"/>).</param>
/// <param name="Date">The venue's trading date.</param>
/// <param name="Name">The holiday's name as <see cref="ExchangeCalendar.Holiday"/> answers it.</param>
/// <param name="Source">Where the closure is reported (a public page or the recorded data that shows it).</param>
/// <param name="InQlNet">
/// True when QLNet 1.13.2's calendar already has the closure (the entry then only names it); false when the entry is a
/// supplement QLNet misses. <c>tests/MetalSniper.Calendars.Tests</c> checks both ways, so a QLNet upgrade that adds or drops
/// one is noticed.
/// </param>
public sealed record SpecialDay(string Venue, DateOnly Date, string Name, string Source, bool InQlNet);

/// <summary>
/// The documented table of one-off closures between 2007 and 2028 for the venues whose regular holidays come from QLNet
/// (LSE: <c>UnitedKingdom.Market.Exchange</c>, NYSE: <c>UnitedStates.Market.NYSE</c>, JSE: <c>SouthAfrica</c>). Entries with
/// <see cref="SpecialDay.InQlNet"/> false are the supplements: QLNet does not close the venue that date, the table does.
/// Immutable.
/// </summary>
public static class SpecialDays
{
    private const string XjseAdhoc = "exchange_calendars XJSE adhoc_holidays (github.com/gerrymanoim/exchange_calendars, exchange_calendar_xjse.py)";
    private const string XlonAdhoc = "exchange_calendars XLON adhoc_holidays (github.com/gerrymanoim/exchange_calendars, exchange_calendar_xlon.py)";

    /// <summary>Every dated entry, in venue and date order.</summary>
    public static ImmutableArray<SpecialDay> All { get; } =
    [
        // --- LSE: one-off bank holidays (all in QLNet's UnitedKingdom.Exchange; named here) ---
        new(Venues.Lse, new(2011, 4, 29), "Royal wedding (Prince William)", XlonAdhoc, true),
        new(Venues.Lse, new(2012, 6, 4), "Spring bank holiday (moved for the Diamond Jubilee)", XlonAdhoc, true),
        new(Venues.Lse, new(2012, 6, 5), "Diamond Jubilee", XlonAdhoc, true),
        new(Venues.Lse, new(2020, 5, 8), "Early May bank holiday (moved to VE Day's 75th anniversary)", XlonAdhoc, true),
        new(Venues.Lse, new(2022, 6, 2), "Spring bank holiday (moved for the Platinum Jubilee)", XlonAdhoc, true),
        new(Venues.Lse, new(2022, 6, 3), "Platinum Jubilee", XlonAdhoc, true),
        new(Venues.Lse, new(2022, 9, 19), "State funeral of Queen Elizabeth II", XlonAdhoc, true),
        new(Venues.Lse, new(2023, 5, 8), "Coronation of King Charles III",
            "UK bank holiday proclaimed for the coronation (gov.uk bank holidays 2023); in QLNet UnitedKingdom.Exchange", true),

        // --- NYSE: one-off closures ---
        new(Venues.Nyse, new(2007, 1, 2), "National day of mourning for President Ford", "NYSE closure; in QLNet UnitedStates.NYSE", true),
        new(Venues.Nyse, new(2012, 10, 29), "Hurricane Sandy", "NYSE closure; in QLNet UnitedStates.NYSE", true),
        new(Venues.Nyse, new(2012, 10, 30), "Hurricane Sandy", "NYSE closure; in QLNet UnitedStates.NYSE", true),
        new(Venues.Nyse, new(2018, 12, 5), "National day of mourning for President George H. W. Bush",
            "NYSE closure; in QLNet UnitedStates.NYSE; no 2018-12-05 row in dual_listed/nyse_adr", true),
        new(Venues.Nyse, new(2025, 1, 9), "National day of mourning for President Carter",
            "NYSE Group and Nasdaq announcement of 2024-12-30 (Epoch Times 'NYSE, Nasdaq to Close on Jan. 9 to Observe Day of Mourning for Carter'; AP via newsmuncher.com)", false),

        // --- JSE: proclaimed public holidays (Public Holidays Act 36 of 1994, section 2A) ---
        new(Venues.Jse, new(2008, 5, 2), "Bridge public holiday (Human Rights Day fell on Good Friday)", XjseAdhoc, false),
        new(Venues.Jse, new(2009, 4, 22), "National and provincial elections", XjseAdhoc, true),
        new(Venues.Jse, new(2011, 5, 18), "Local government elections",
            XjseAdhoc + "; officeholidays.com/countries/south_africa/elections.php", false),
        new(Venues.Jse, new(2011, 12, 27), "Public holiday (Christmas Day fell on a Sunday)", XjseAdhoc, false),
        new(Venues.Jse, new(2014, 5, 7), "National and provincial elections",
            XjseAdhoc + "; Government Notice 12 of 2014, Gazette 37376", false),
        new(Venues.Jse, new(2016, 8, 3), "Local government elections", XjseAdhoc, true),
        new(Venues.Jse, new(2016, 12, 27), "Public holiday (Christmas Day fell on a Sunday)",
            "Presidency, 2016-09-19 (The Citizen 'President Zuma declares December 27, 2016 a public holiday'; traveller24.com); " + XjseAdhoc, false),
        new(Venues.Jse, new(2019, 5, 8), "National and provincial elections",
            "Presidency, 2019-02-26 (IOL 'Ramaphosa signs proclamation declaring May 8 election date'); no 2019-05-08 row in dual_listed/jse/AGL.JO", false),
        new(Venues.Jse, new(2021, 11, 1), "Local government elections",
            "Presidency, 2021-10-12 (allafrica.com 'President Cyril Ramaphosa Declares Election Day 1 November 2021 As a Public Holiday'); no 2021-11-01 row in dual_listed/jse/AGL.JO", false),
        new(Venues.Jse, new(2022, 12, 27), "Public holiday (Christmas Day fell on a Sunday)",
            "Presidency, 2022-12-08 (TimesLIVE 'Ramaphosa declares December 27 a public holiday'); in QLNet SouthAfrica", true),
        new(Venues.Jse, new(2023, 12, 15), "Public holiday (Rugby World Cup victory)", "In QLNet SouthAfrica", true),
        new(Venues.Jse, new(2024, 5, 29), "National and provincial elections",
            "Presidency, 2024-02-23 (TimesLIVE 'May 29 declared a public holiday'); in QLNet SouthAfrica", true),
    ];
}
