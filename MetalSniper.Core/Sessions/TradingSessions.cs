using MetalSniper.Core.Instruments;

namespace MetalSniper.Core.Sessions;

/// <summary>Answers whether a venue is open for trading at an instant. Used by strategies and the market-open gate.</summary>
public interface ITradingSessions
{
    /// <summary>True when <paramref name="venue"/> is in a regular trading session at <paramref name="utc"/>.</summary>
    /// <exception cref="KeyNotFoundException">The venue is unknown.</exception>
    bool IsOpen(string venue, DateTimeOffset utc);

    /// <summary>The end of the session that contains <paramref name="utc"/>, or null when the venue is closed then.</summary>
    DateTimeOffset? SessionEnd(string venue, DateTimeOffset utc);
}

/// <summary>
/// A weekly session template in the venue's own time zone.
/// </summary>
/// <param name="Venue">Venue code (see <see cref="Venues"/>).</param>
/// <param name="TimeZoneId">IANA time zone id of the venue's wall clock.</param>
/// <param name="Open">Local opening time.</param>
/// <param name="Close">Local closing time. When <paramref name="Close"/> ≤ <paramref name="Open"/> the session spans midnight (metals: 18:00 → 17:00 next day).</param>
/// <param name="TradingDays">Days on which a session closes (for overnight sessions: the day the session ends).</param>
/// <param name="ClosedOnGoodFriday">True when the venue is closed on Good Friday.</param>
/// <param name="ClosedDates">Month/day holidays in the venue's calendar (25 Dec, 1 Jan, …).</param>
public sealed record SessionTemplate(
    string Venue,
    string TimeZoneId,
    TimeOnly Open,
    TimeOnly Close,
    IReadOnlySet<DayOfWeek> TradingDays,
    bool ClosedOnGoodFriday,
    IReadOnlyList<(int Month, int Day)> ClosedDates);

/// <summary>
/// Regular trading hours for the venues MetalSniper trades, from each exchange's published
/// hours: spot metals ~24×5 (Sunday 18:00 to Friday 17:00 New York, daily break 17:00–18:00),
/// LSE 08:00–16:30 London, JSE 09:00–17:00 Johannesburg, AEX 09:00–17:30 Amsterdam, NYSE
/// 09:30–16:00 New York, IDEALPRO FX ~24×5 (17:15–17:00 New York). Closed on 25 Dec, 1 Jan and
/// Good Friday. Other exchange holidays and half days are not modelled. Daylight saving is handled by converting to the
/// venue's wall clock. The host uses <c>MetalSniper.Calendars.ExchangeCalendar</c> (holidays and half days); this template
/// stays for the unit tests of rooms that do not reference the calendars room, and as the baseline the calendar's tests
/// compare the metals sessions against.
/// </summary>
public sealed class TradingSessionCalendar : ITradingSessions
{
    private static readonly DayOfWeek[] Weekdays = [DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday];
    private readonly Dictionary<string, Venue> _venues;

    /// <summary>Creates a calendar from session templates.</summary>
    /// <exception cref="TimeZoneNotFoundException">A template names a time zone this machine does not know.</exception>
    public TradingSessionCalendar(IEnumerable<SessionTemplate> templates)
    {
        _venues = templates.ToDictionary(t => t.Venue, t => new Venue(t, TimeZoneInfo.FindSystemTimeZoneById(t.TimeZoneId)), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The calendar with MetalSniper's venues.</summary>
    public static TradingSessionCalendar CreateDefault()
    {
        (int, int)[] closed = [(12, 25), (1, 1)];
        var weekdays = new HashSet<DayOfWeek>(Weekdays);
        return new TradingSessionCalendar(
        [
            new SessionTemplate(Venues.Metals, "America/New_York", new TimeOnly(18, 0), new TimeOnly(17, 0), weekdays, true, closed),
            new SessionTemplate(Venues.IdealPro, "America/New_York", new TimeOnly(17, 15), new TimeOnly(17, 0), weekdays, false, closed),
            new SessionTemplate(Venues.Lse, "Europe/London", new TimeOnly(8, 0), new TimeOnly(16, 30), weekdays, true, closed),
            new SessionTemplate(Venues.Jse, "Africa/Johannesburg", new TimeOnly(9, 0), new TimeOnly(17, 0), weekdays, true, closed),
            new SessionTemplate(Venues.Aex, "Europe/Amsterdam", new TimeOnly(9, 0), new TimeOnly(17, 30), weekdays, true, closed),
            new SessionTemplate(Venues.Nyse, "America/New_York", new TimeOnly(9, 30), new TimeOnly(16, 0), weekdays, true, closed),
        ]);
    }

    /// <inheritdoc />
    public bool IsOpen(string venue, DateTimeOffset utc) => SessionEnd(venue, utc) is not null;

    /// <inheritdoc />
    public DateTimeOffset? SessionEnd(string venue, DateTimeOffset utc)
    {
        if (!_venues.TryGetValue(venue, out var v))
        {
            throw new KeyNotFoundException($"unknown venue '{venue}' for trading sessions; known: {string.Join(", ", _venues.Keys)}");
        }

        // Every bar asks about the session it is in: the last open session found is kept per venue, so the conversion to the
        // venue's wall clock runs once per session, not on every question.
        if (Volatile.Read(ref v.LastOpen) is { } last && utc >= last.OpenUtc && utc < last.CloseUtc)
        {
            return last.CloseUtc;
        }

        var (t, zone) = (v.Template, v.Zone);
        var local = TimeZoneInfo.ConvertTime(utc, zone);
        var time = TimeOnly.FromDateTime(local.DateTime);
        var date = DateOnly.FromDateTime(local.DateTime);
        DateOnly sessionDay;
        if (t.Close > t.Open)
        {
            if (time < t.Open || time >= t.Close)
            {
                return null;
            }

            sessionDay = date;
        }
        else
        {
            // Overnight session: [Open on day D-1, Close on day D). The session belongs to day D.
            if (time >= t.Close && time < t.Open)
            {
                return null;
            }

            sessionDay = time >= t.Open ? date.AddDays(1) : date;
        }

        if (!t.TradingDays.Contains(sessionDay.DayOfWeek) || IsHoliday(t, sessionDay))
        {
            return null;
        }

        var closeLocal = sessionDay.ToDateTime(t.Close, DateTimeKind.Unspecified);
        var close = new DateTimeOffset(closeLocal, zone.GetUtcOffset(closeLocal)).ToUniversalTime();
        var openLocal = (t.Close > t.Open ? sessionDay : sessionDay.AddDays(-1)).ToDateTime(t.Open, DateTimeKind.Unspecified);
        var open = new DateTimeOffset(openLocal, zone.GetUtcOffset(openLocal)).ToUniversalTime();
        if (open <= utc && utc < close)
        {
            Volatile.Write(ref v.LastOpen, new OpenSession(open, close));
        }

        return close;
    }

    /// <summary>An open session of a venue: [open, close), UTC.</summary>
    private sealed record OpenSession(DateTimeOffset OpenUtc, DateTimeOffset CloseUtc);

    /// <summary>A venue's template, wall clock and the last open session answered (shared by every thread that asks; replaced whole).</summary>
    private sealed class Venue(SessionTemplate template, TimeZoneInfo zone)
    {
        public SessionTemplate Template { get; } = template;

        public TimeZoneInfo Zone { get; } = zone;

        public OpenSession? LastOpen;
    }

    private static bool IsHoliday(SessionTemplate t, DateOnly day)
    {
        foreach (var (m, d) in t.ClosedDates)
        {
            if (day.Month == m && day.Day == d)
            {
                return true;
            }
        }

        return t.ClosedOnGoodFriday && day == EasterSunday(day.Year).AddDays(-2);
    }

    /// <summary>Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher).</summary>
    public static DateOnly EasterSunday(int year)
    {
        int a = year % 19, b = year / 100, c = year % 100, d = b / 4, e = b % 4;
        int f = (b + 8) / 25, g = (b - f + 1) / 3, h = ((19 * a) + b - d - g + 15) % 30;
        int i = c / 4, k = c % 4, l = (32 + (2 * e) + (2 * i) - h - k) % 7;
        int m = (a + (11 * h) + (22 * l)) / 451;
        int month = (h + l - (7 * m) + 114) / 31, day = ((h + l - (7 * m) + 114) % 31) + 1;
        return new DateOnly(year, month, day);
    }
}
