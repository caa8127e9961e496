using MetalSniper.Core.Sessions;

namespace MetalSniper.Calendars;

/// <summary>How one date looks to a venue: whether it trades, the holiday that closes it, and an early close (local time).</summary>
/// <param name="Trades">True when the venue has a session on the date.</param>
/// <param name="Holiday">The holiday's name when a weekday is closed; null on weekends and trading days.</param>
/// <param name="EarlyClose">The local closing time of a half day, or null for the regular close.</param>
/// <param name="Note">Why the session or the closure is special, or null.</param>
internal readonly record struct DayRule(bool Trades, string? Holiday, TimeOnly? EarlyClose, string? Note)
{
    public static DayRule Weekend => new(false, null, null, null);

    public static DayRule Regular => new(true, null, null, null);

    public static DayRule Closed(string holiday) => new(false, holiday, null, holiday);

    public static DayRule HalfDay(TimeOnly close, string note) => new(true, null, close, note);
}

/// <summary>The US holidays the metals sessions react to, by kind (NYSE's calendar names them).</summary>
internal enum UsHoliday
{
    None,
    NewYear,
    GoodFriday,
    Christmas,

    /// <summary>MLK, Washington's Birthday, Memorial, Juneteenth, Independence, Labor and Thanksgiving Day.</summary>
    Federal,

    /// <summary>A one-off NYSE closure (mourning days, Hurricane Sandy): not a CME metals holiday.</summary>
    OneOff,
}

/// <summary>
/// The date rules of each venue: which weekdays are holidays (from QLNet, plus the dated table in <see cref="SpecialDays"/>),
/// their names, and the half days. Every rule names its source in its XML doc.
/// </summary>
internal sealed class VenueRules
{
    /// <summary>Ending of a fallback name: QLNet closes the date but no rule here names it (a test keeps this from happening in the coverage).</summary>
    internal const string Unnamed = "holiday (QLNet)";

    private readonly QLNet.Calendar _uk = new QLNet.UnitedKingdom(QLNet.UnitedKingdom.Market.Exchange);
    private readonly QLNet.Calendar _nyse = new QLNet.UnitedStates(QLNet.UnitedStates.Market.NYSE);
    private readonly QLNet.Calendar _southAfrica = new QLNet.SouthAfrica();
    private readonly QLNet.Calendar _target = new QLNet.TARGET();
    private readonly Dictionary<(string Venue, DateOnly Date), SpecialDay> _special =
        SpecialDays.All.ToDictionary(s => (s.Venue, s.Date), s => s);

    /// <summary>True when QLNet's calendar for <paramref name="venue"/> closes the weekday <paramref name="date"/> (for the table's cross-check).</summary>
    internal bool QlNetHoliday(string venue, DateOnly date) => venue switch
    {
        Core.Instruments.Venues.Lse => IsHoliday(_uk, date),
        Core.Instruments.Venues.Nyse => IsHoliday(_nyse, date),
        Core.Instruments.Venues.Jse => IsHoliday(_southAfrica, date),
        Core.Instruments.Venues.Aex => IsHoliday(_target, date),
        _ => throw new KeyNotFoundException($"venue '{venue}' has no QLNet calendar"),
    };

    /// <summary>
    /// London Stock Exchange. Holidays: QLNet <c>UnitedKingdom.Market.Exchange</c> (England and Wales bank holidays with
    /// substitute days, and the one-off ones named in <see cref="SpecialDays"/>). Half days: 12:30 London on Christmas Eve and
    /// New Year's Eve, or the Friday before when that date falls on a weekend (LSE trading calendar; the same rule is
    /// exchange_calendars' XLON <c>special_closes</c>).
    /// </summary>
    public DayRule Lse(DateOnly d)
    {
        if (IsWeekend(d))
        {
            return DayRule.Weekend;
        }

        if (Special(Core.Instruments.Venues.Lse, d) is { } special)
        {
            return DayRule.Closed(special.Name);
        }

        if (IsHoliday(_uk, d))
        {
            return DayRule.Closed(UkName(d) ?? Unnamed);
        }

        if (d == WeekdayOnOrBefore(new DateOnly(d.Year, 12, 24)))
        {
            return DayRule.HalfDay(new TimeOnly(12, 30), "Christmas Eve early close (12:30 London)");
        }

        return d == WeekdayOnOrBefore(new DateOnly(d.Year, 12, 31))
            ? DayRule.HalfDay(new TimeOnly(12, 30), "New Year's Eve early close (12:30 London)")
            : DayRule.Regular;
    }

    /// <summary>
    /// Euronext Amsterdam cash market. Holidays: QLNet <c>TARGET</c>, whose closing days since 2002 (New Year's Day, Good
    /// Friday, Easter Monday, 1 May, 25 and 26 December, no substitute days) are Euronext's published cash-market holidays.
    /// Half days: 24 and 31 December when they are weekdays, closing auction at 14:05 Amsterdam (continuous trading to
    /// 14:00; Euronext's 2012 holiday notice: "trading on the Cash markets will close at 14:00 CET"; 2013 schedule: AEX
    /// 08:05 New York = 14:05 CET).
    /// </summary>
    public DayRule Aex(DateOnly d)
    {
        if (IsWeekend(d))
        {
            return DayRule.Weekend;
        }

        if (IsHoliday(_target, d))
        {
            return DayRule.Closed(EuronextName(d) ?? Unnamed);
        }

        return (d.Month, d.Day) switch
        {
            (12, 24) => DayRule.HalfDay(new TimeOnly(14, 5), "Christmas Eve early close (14:05 Amsterdam)"),
            (12, 31) => DayRule.HalfDay(new TimeOnly(14, 5), "New Year's Eve early close (14:05 Amsterdam)"),
            _ => DayRule.Regular,
        };
    }

    /// <summary>
    /// Johannesburg Stock Exchange. Holidays: QLNet <c>SouthAfrica</c> (the Public Holidays Act 36 of 1994: a Sunday
    /// holiday moves to Monday) plus the proclaimed days in <see cref="SpecialDays"/>. No half days: no public source
    /// confirming JSE early closes on 24 or 31 December was found (exchange_calendars' XJSE has none either), so none is
    /// modelled.
    /// </summary>
    public DayRule Jse(DateOnly d)
    {
        if (IsWeekend(d))
        {
            return DayRule.Weekend;
        }

        if (Special(Core.Instruments.Venues.Jse, d) is { } special)
        {
            return DayRule.Closed(special.Name);
        }

        return IsHoliday(_southAfrica, d) ? DayRule.Closed(SouthAfricaName(d) ?? Unnamed) : DayRule.Regular;
    }

    /// <summary>
    /// New York Stock Exchange. Holidays: QLNet <c>UnitedStates.Market.NYSE</c> (NYSE Rule 7.2: a Saturday holiday is
    /// observed the Friday before except New Year's Day, a Sunday holiday the Monday after; Juneteenth from 2022) plus
    /// <see cref="SpecialDays"/>. Half days, 13:00 New York (NYSE holidays and trading hours page): 3 July when it is a
    /// weekday and not itself the observed Independence Day (a Friday 3 July always is), the day after Thanksgiving, and
    /// 24 December when it is a weekday and not itself the observed Christmas.
    /// </summary>
    public DayRule Nyse(DateOnly d)
    {
        if (IsWeekend(d))
        {
            return DayRule.Weekend;
        }

        var (name, _) = NyseHoliday(d);
        if (name is not null)
        {
            return DayRule.Closed(name);
        }

        var early = new TimeOnly(13, 0);
        if (d.Month == 7 && d.Day == 3)
        {
            return DayRule.HalfDay(early, "Day before Independence Day early close (13:00 New York)");
        }

        if (d == Thanksgiving(d.Year).AddDays(1))
        {
            return DayRule.HalfDay(early, "Day after Thanksgiving early close (13:00 New York)");
        }

        return d.Month == 12 && d.Day == 24
            ? DayRule.HalfDay(early, "Christmas Eve early close (13:00 New York)")
            : DayRule.Regular;
    }

    /// <summary>
    /// Spot gold and silver, CME Globex-like: closed on Good Friday and on the NYSE-observed Christmas and New Year's Day
    /// (CME Group holiday calendars; the recorded metals files have no bars then). Early closes, New York time, on the
    /// session that ends on the date:
    /// <list type="bullet">
    /// <item>US federal holidays the NYSE closes for (MLK, Washington's Birthday, Memorial, Juneteenth from 2022,
    /// Independence, Labor, Thanksgiving Day): CME's holiday halt, 13:30 Chicago = 14:30 New York from 2022 (CME Group
    /// holiday schedules; the recorded bars stop at 14:30 on 2022-01-17 … 2026-05-25, e.g. the M1 file's 2026-05-25 gap from
    /// 18:29 UTC), 12:00 Chicago = 13:00 New York before 2022 (the H1 bars of 2018–2021 stop by 14:00); when the holiday is
    /// a Friday (Independence Day observed 2020-07-03, 2025-07-04, 2026-07-03) 12:00 Chicago = 13:00 New York (M15 bars of
    /// 2025-07-04 stop at 12:45).</item>
    /// <item>The day after Thanksgiving: 12:45 Chicago = 13:45 New York to 2023, 13:45 Chicago = 14:45 New York from 2024
    /// (the recorded H1 bars stop at 13:00 in 2018–2023 and 14:00 in 2024–2025; M15 2025-11-28 at 14:30).</item>
    /// <item>Christmas Eve (a weekday that is not itself closed): 12:45 Chicago = 13:45 New York (H1 2018–2020, 2024, 2025;
    /// M15 2025-12-24 stops at 13:30).</item>
    /// </list>
    /// New Year's Eve is a full session (the recorded bars run to 17:00 every year 2018–2025), and so are the NYSE's
    /// one-off closures such as 2018-12-05 and 2025-01-09 (the H1 files trade through them).
    /// </summary>
    public DayRule Metals(DateOnly d)
    {
        if (IsWeekend(d))
        {
            return DayRule.Weekend;
        }

        var (name, kind) = NyseHoliday(d);
        switch (kind)
        {
            case UsHoliday.GoodFriday or UsHoliday.Christmas or UsHoliday.NewYear:
                return DayRule.Closed(name!);
            case UsHoliday.Federal:
                var halt = d.DayOfWeek == DayOfWeek.Friday || d.Year < 2022 ? new TimeOnly(13, 0) : new TimeOnly(14, 30);
                return DayRule.HalfDay(halt, $"{name}: CME metals holiday halt ({halt:HH\\:mm} New York)");
        }

        if (d == Thanksgiving(d.Year).AddDays(1))
        {
            var close = d.Year < 2024 ? new TimeOnly(13, 45) : new TimeOnly(14, 45);
            return DayRule.HalfDay(close, $"Day after Thanksgiving: CME metals early close ({close:HH\\:mm} New York)");
        }

        return d.Month == 12 && d.Day == 24
            ? DayRule.HalfDay(new TimeOnly(13, 45), "Christmas Eve: CME metals early close (13:45 New York)")
            : DayRule.Regular;
    }

    /// <summary>
    /// IB IDEALPRO FX: closed on the sessions that end on 25 December and 1 January when they are weekdays (kept from the
    /// previous session template; IDEALPRO quotes through other holidays). No half days.
    /// </summary>
    public static DayRule IdealPro(DateOnly d) => IsWeekend(d)
        ? DayRule.Weekend
        : (d.Month, d.Day) switch
        {
            (12, 25) => DayRule.Closed("Christmas Day"),
            (1, 1) => DayRule.Closed("New Year's Day"),
            _ => DayRule.Regular,
        };

    /// <summary>The NYSE holiday on a weekday, named, with its kind; (null, None) when the NYSE trades.</summary>
    internal (string? Name, UsHoliday Kind) NyseHoliday(DateOnly d)
    {
        if (Special(Core.Instruments.Venues.Nyse, d) is { } special)
        {
            return (special.Name, UsHoliday.OneOff);
        }

        if (!IsHoliday(_nyse, d))
        {
            return (null, UsHoliday.None);
        }

        var y = d.Year;
        var easter = TradingSessionCalendar.EasterSunday(y);
        if (d == easter.AddDays(-2))
        {
            return ("Good Friday", UsHoliday.GoodFriday);
        }

        if (d == NthWeekday(y, 1, DayOfWeek.Monday, 3))
        {
            return ("Martin Luther King Jr. Day", UsHoliday.Federal);
        }

        if (d == NthWeekday(y, 2, DayOfWeek.Monday, 3))
        {
            return ("Washington's Birthday", UsHoliday.Federal);
        }

        if (d == LastWeekday(y, 5, DayOfWeek.Monday))
        {
            return ("Memorial Day", UsHoliday.Federal);
        }

        if (d == NthWeekday(y, 9, DayOfWeek.Monday, 1))
        {
            return ("Labor Day", UsHoliday.Federal);
        }

        if (d == Thanksgiving(y))
        {
            return ("Thanksgiving Day", UsHoliday.Federal);
        }

        foreach (var (month, day, name, kind) in new[]
                 {
                     (1, 1, "New Year's Day", UsHoliday.NewYear), (6, 19, "Juneteenth", UsHoliday.Federal),
                     (7, 4, "Independence Day", UsHoliday.Federal), (12, 25, "Christmas Day", UsHoliday.Christmas),
                 })
        {
            var h = new DateOnly(y, month, day);
            if (d == h)
            {
                return (name, kind);
            }

            // Observed: Saturday → the Friday before, Sunday → the Monday after.
            if ((h.DayOfWeek == DayOfWeek.Saturday && d == h.AddDays(-1)) || (h.DayOfWeek == DayOfWeek.Sunday && d == h.AddDays(1)))
            {
                return ($"{name} (observed)", kind);
            }
        }

        return (Unnamed, UsHoliday.OneOff);
    }

    private SpecialDay? Special(string venue, DateOnly d) => _special.GetValueOrDefault((venue, d));

    private static string? UkName(DateOnly d)
    {
        var y = d.Year;
        var easter = TradingSessionCalendar.EasterSunday(y);
        if (d == easter.AddDays(-2))
        {
            return "Good Friday";
        }

        if (d == easter.AddDays(1))
        {
            return "Easter Monday";
        }

        if (d == NthWeekday(y, 5, DayOfWeek.Monday, 1))
        {
            return "Early May bank holiday";
        }

        if (d == LastWeekday(y, 5, DayOfWeek.Monday))
        {
            return "Spring bank holiday";
        }

        if (d == LastWeekday(y, 8, DayOfWeek.Monday))
        {
            return "Summer bank holiday";
        }

        return FixedOrSubstitute(d, [(1, 1, "New Year's Day"), (12, 25, "Christmas Day"), (12, 26, "Boxing Day")], saturdayToo: true);
    }

    private static string? EuronextName(DateOnly d)
    {
        var easter = TradingSessionCalendar.EasterSunday(d.Year);
        if (d == easter.AddDays(-2))
        {
            return "Good Friday";
        }

        if (d == easter.AddDays(1))
        {
            return "Easter Monday";
        }

        return (d.Month, d.Day) switch
        {
            (1, 1) => "New Year's Day",
            (5, 1) => "Labour Day",
            (12, 25) => "Christmas Day",
            (12, 26) => "Boxing Day",
            _ => null,
        };
    }

    private static string? SouthAfricaName(DateOnly d)
    {
        var easter = TradingSessionCalendar.EasterSunday(d.Year);
        if (d == easter.AddDays(-2))
        {
            return "Good Friday";
        }

        if (d == easter.AddDays(1))
        {
            return "Family Day";
        }

        return FixedOrSubstitute(
            d,
            [
                (1, 1, "New Year's Day"), (3, 21, "Human Rights Day"), (4, 27, "Freedom Day"), (5, 1, "Workers' Day"),
                (6, 16, "Youth Day"), (8, 9, "National Women's Day"), (9, 24, "Heritage Day"), (12, 16, "Day of Reconciliation"),
                (12, 25, "Christmas Day"), (12, 26, "Day of Goodwill"),
            ],
            saturdayToo: false);
    }

    /// <summary>
    /// The fixed holiday on <paramref name="d"/>, or the substitute weekday for those that fell on the weekend before it
    /// (UK: a Monday or Tuesday after a Saturday or Sunday holiday; South Africa: the Monday after a Sunday holiday).
    /// </summary>
    private static string? FixedOrSubstitute(DateOnly d, (int Month, int Day, string Name)[] fixedDays, bool saturdayToo)
    {
        var substituted = new List<string>();
        foreach (var (month, day, name) in fixedDays)
        {
            var h = new DateOnly(d.Year, month, day);
            if (h == d)
            {
                return name;
            }

            var gap = d.DayNumber - h.DayNumber;
            var weekend = h.DayOfWeek == DayOfWeek.Sunday || (saturdayToo && h.DayOfWeek == DayOfWeek.Saturday);
            if (weekend && gap > 0 && gap <= (saturdayToo ? 3 : 1))
            {
                substituted.Add(name);
            }
        }

        return substituted.Count == 0 ? null : $"Substitute day ({string.Join(" / ", substituted)})";
    }

    internal static bool IsWeekend(DateOnly d) => d.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;

    private static bool IsHoliday(QLNet.Calendar calendar, DateOnly d) => calendar.isHoliday(new QLNet.Date(d.Day, d.Month, d.Year));

    private static DateOnly WeekdayOnOrBefore(DateOnly d)
    {
        while (IsWeekend(d))
        {
            d = d.AddDays(-1);
        }

        return d;
    }

    private static DateOnly Thanksgiving(int year) => NthWeekday(year, 11, DayOfWeek.Thursday, 4);

    private static DateOnly NthWeekday(int year, int month, DayOfWeek weekday, int n)
    {
        var first = new DateOnly(year, month, 1);
        var offset = ((int)weekday - (int)first.DayOfWeek + 7) % 7;
        return first.AddDays(offset + (7 * (n - 1)));
    }

    private static DateOnly LastWeekday(int year, int month, DayOfWeek weekday)
    {
        var last = new DateOnly(year, month, DateTime.DaysInMonth(year, month));
        return last.AddDays(-(((int)last.DayOfWeek - (int)weekday + 7) % 7));
    }
}
