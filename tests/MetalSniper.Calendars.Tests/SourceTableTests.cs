using MetalSniper.Core.Instruments;

namespace MetalSniper.Calendars.Tests;

/// <summary>The dated table against QLNet, and QLNet's holidays against the naming rules: each checks the other.</summary>
public sealed class SourceTableTests
{
    private readonly ExchangeCalendar _calendar = new();
    private readonly VenueRules _rules = new();

    [Fact]
    public void SpecialDays_InQlNetFlag_MatchesWhatQlNetSays()
    {
        var wrong = SpecialDays.All
            .Where(s => _rules.QlNetHoliday(s.Venue, s.Date) != s.InQlNet)
            .Select(s => $"{s.Venue} {s.Date:yyyy-MM-dd} InQlNet={s.InQlNet}")
            .ToList();
        wrong.ShouldBeEmpty();
    }

    [Fact]
    public void SpecialDays_AreWeekdaysInsideTheCoverage_EachWithASource()
    {
        foreach (var s in SpecialDays.All)
        {
            VenueRules.IsWeekend(s.Date).ShouldBeFalse(s.ToString());
            s.Date.ShouldBeInRange(ExchangeCalendar.FirstDate, ExchangeCalendar.LastDate);
            s.Source.ShouldNotBeNullOrWhiteSpace();
            _calendar.Holiday(s.Venue, s.Date).ShouldBe(s.Name);
        }

        SpecialDays.All.Select(s => (s.Venue, s.Date)).Distinct().Count().ShouldBe(SpecialDays.All.Length);
    }

    [Fact]
    public void EveryQlNetHolidayInTheCoverage_IsNamedByARule()
    {
        // A QLNet holiday that no rule names would be answered as "holiday (QLNet)": that means QLNet and the rules
        // disagree about a date, which must be looked at (and the table or the rules fixed), not hidden.
        var unnamed = new List<string>();
        foreach (var venue in new[] { Venues.Lse, Venues.Nyse, Venues.Jse, Venues.Aex, Venues.Metals })
        {
            for (var d = ExchangeCalendar.FirstDate; d <= ExchangeCalendar.LastDate; d = d.AddDays(1))
            {
                if (_calendar.Holiday(venue, d) is { } name && name.Contains(VenueRules.Unnamed, StringComparison.Ordinal))
                {
                    unnamed.Add($"{venue} {d:yyyy-MM-dd}");
                }
            }
        }

        unnamed.ShouldBeEmpty();
    }

    [Fact]
    public void HolidayCounts_PerYear_AreTheUsualOnes()
    {
        // Weekday closures per year: LSE 8 (+ one-offs), NYSE 9–10 (+ one-offs), AEX 4–6, JSE 10–13; 2025 as an example.
        int Count(string venue, int year) => Enumerable.Range(0, DateTime.IsLeapYear(year) ? 366 : 365)
            .Select(i => new DateOnly(year, 1, 1).AddDays(i))
            .Count(d => _calendar.Holiday(venue, d) is not null);

        Count(Venues.Lse, 2025).ShouldBe(8);
        Count(Venues.Lse, 2022).ShouldBe(10); // Jubilee days in place of the Spring bank holiday, the Queen's funeral, 3 Jan and 27 Dec substitutes
        Count(Venues.Nyse, 2025).ShouldBe(11); // ten holidays and Carter's mourning day
        Count(Venues.Aex, 2025).ShouldBe(6);
        Count(Venues.Jse, 2024).ShouldBe(12); // election day included; Freedom Day fell on a Saturday
        Count(Venues.Metals, 2025).ShouldBe(3); // Good Friday, Christmas, New Year's Day
    }
}
