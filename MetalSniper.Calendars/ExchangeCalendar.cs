using MetalSniper.Core.Instruments;
using MetalSniper.Core.Sessions;

namespace MetalSniper.Calendars;

/// <summary>
/// The exchange calendar of the venues MetalSniper trades, 2007-01-01 to 2028-12-31 (the recorded data's years and the
/// next two). Regular hours in each venue's own time zone, daylight saving applied by the zone's rules:
/// <list type="table">
/// <item><term>JSE</term><description>09:00–17:00 Africa/Johannesburg (no DST).</description></item>
/// <item><term>LSE</term><description>08:00–16:30 Europe/London.</description></item>
/// <item><term>AEX</term><description>Euronext Amsterdam 09:00–17:30 Europe/Amsterdam.</description></item>
/// <item><term>NYSE</term><description>09:30–16:00 America/New_York.</description></item>
/// <item><term>IDEALPRO</term><description>FX, 17:15 the day before → 17:00 America/New_York (Sunday 17:15 to Friday 17:00; daily break 17:00–17:15).</description></item>
/// <item><term>METALS</term><description>spot gold and silver, 18:00 the day before → 17:00 America/New_York (Sunday 18:00 to Friday 17:00; daily break 17:00–18:00).</description></item>
/// </list>
/// Holidays: QLNet 1.13.2 calendars (UK exchange, NYSE, South Africa, TARGET for Euronext) plus the dated table
/// <see cref="SpecialDays"/>; half days and the metals holiday hours are rules documented on <see cref="VenueRules"/>.
/// An overnight session belongs to the date on which it closes.
/// <para>
/// Each venue's sessions are computed a year at a time, on first use, and kept; the last open session answered is kept per
/// venue, so <see cref="SessionEnd"/> asked on every bar converts to the venue's wall clock once per session. Thread-safe.
/// </para>
/// </summary>
public sealed class ExchangeCalendar : IExchangeCalendar
{
    /// <summary>First date of the coverage.</summary>
    public static readonly DateOnly FirstDate = new(2007, 1, 1);

    /// <summary>Last date of the coverage.</summary>
    public static readonly DateOnly LastDate = new(2028, 12, 31);

    private readonly Dictionary<string, VenueCalendar> _venues;

    /// <summary>Creates the calendar (nothing is computed until asked).</summary>
    /// <exception cref="TimeZoneNotFoundException">This machine lacks one of the IANA zones (Africa/Johannesburg, Europe/London, Europe/Amsterdam, America/New_York).</exception>
    public ExchangeCalendar()
    {
        var rules = new VenueRules();
        var gate = new object();
        VenueCalendar Make(string venue, string zone, TimeOnly open, TimeOnly close, Func<DateOnly, DayRule> classify) =>
            new(venue, TimeZoneInfo.FindSystemTimeZoneById(zone), open, close, classify, gate);

        _venues = new[]
        {
            Make(Venues.Metals, "America/New_York", new(18, 0), new(17, 0), rules.Metals),
            Make(Venues.IdealPro, "America/New_York", new(17, 15), new(17, 0), VenueRules.IdealPro),
            Make(Venues.Lse, "Europe/London", new(8, 0), new(16, 30), rules.Lse),
            Make(Venues.Jse, "Africa/Johannesburg", new(9, 0), new(17, 0), rules.Jse),
            Make(Venues.Aex, "Europe/Amsterdam", new(9, 0), new(17, 30), rules.Aex),
            Make(Venues.Nyse, "America/New_York", new(9, 30), new(16, 0), rules.Nyse),
        }.ToDictionary(v => v.Venue, StringComparer.OrdinalIgnoreCase);
    }

    /// <inheritdoc />
    public (DateOnly First, DateOnly Last) Coverage => (FirstDate, LastDate);

    /// <summary>The venue codes this calendar knows.</summary>
    public IReadOnlyCollection<string> KnownVenues => _venues.Keys;

    /// <inheritdoc />
    public bool IsOpen(string venue, DateTimeOffset utc) => SessionEnd(venue, utc) is not null;

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">The venue's local date at <paramref name="utc"/> is outside <see cref="Coverage"/>.</exception>
    public DateTimeOffset? SessionEnd(string venue, DateTimeOffset utc)
    {
        var v = Get(venue);

        // Every bar asks about the session it is in: the last open session found is kept per venue.
        if (Volatile.Read(ref v.LastOpen) is { } last && utc >= last.OpenUtc && utc < last.CloseUtc)
        {
            return last.CloseUtc;
        }

        var localDate = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(utc, v.Zone).DateTime);
        CheckCoverage(localDate);
        var session = v.Containing(localDate, utc) ?? (v.Overnight ? v.Containing(localDate.AddDays(1), utc) : null);
        if (session is null)
        {
            return null;
        }

        Volatile.Write(ref v.LastOpen, session);
        return session.CloseUtc;
    }

    /// <inheritdoc />
    public TradingSession? Session(string venue, DateOnly date)
    {
        var v = Get(venue);
        CheckCoverage(date);
        return v.Year(date.Year).Sessions[date.DayOfYear - 1];
    }

    /// <inheritdoc />
    /// <exception cref="KeyNotFoundException">The venue is unknown.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The date is outside <see cref="Coverage"/>.</exception>
    public string? Holiday(string venue, DateOnly date)
    {
        var v = Get(venue);
        CheckCoverage(date);
        return v.Year(date.Year).Holidays[date.DayOfYear - 1];
    }

    /// <inheritdoc />
    /// <exception cref="KeyNotFoundException">The venue is unknown.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The date is outside <see cref="Coverage"/>, or no session follows it within the coverage.</exception>
    public TradingSession NextSession(string venue, DateOnly date)
    {
        CheckCoverage(date);
        for (var d = date.AddDays(1); d <= LastDate; d = d.AddDays(1))
        {
            if (Session(venue, d) is { } s)
            {
                return s;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(date), date, $"no {venue} session after {date:yyyy-MM-dd} within the calendar's coverage (to {LastDate:yyyy-MM-dd})");
    }

    /// <inheritdoc />
    /// <exception cref="KeyNotFoundException">The venue is unknown.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The date is outside <see cref="Coverage"/>, or no session precedes it within the coverage.</exception>
    public TradingSession PreviousSession(string venue, DateOnly date)
    {
        CheckCoverage(date);
        for (var d = date.AddDays(-1); d >= FirstDate; d = d.AddDays(-1))
        {
            if (Session(venue, d) is { } s)
            {
                return s;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(date), date, $"no {venue} session before {date:yyyy-MM-dd} within the calendar's coverage (from {FirstDate:yyyy-MM-dd})");
    }

    private VenueCalendar Get(string venue) =>
        _venues.TryGetValue(venue, out var v)
            ? v
            : throw new KeyNotFoundException($"unknown venue '{venue}' for the exchange calendar; known: {string.Join(", ", _venues.Keys)}");

    private static void CheckCoverage(DateOnly date)
    {
        if (date < FirstDate || date > LastDate)
        {
            throw new ArgumentOutOfRangeException(nameof(date), date, $"the exchange calendar covers {FirstDate:yyyy-MM-dd} to {LastDate:yyyy-MM-dd}; extend VenueRules/SpecialDays to ask about {date:yyyy-MM-dd}");
        }
    }

    /// <summary>One year of a venue: the session (or null) and the holiday name (or null) of each day, indexed by day of year − 1.</summary>
    private sealed record YearTable(TradingSession?[] Sessions, string?[] Holidays);

    /// <summary>A venue's wall clock, hours, date rule, computed years and the last open session answered (shared by every thread; replaced whole).</summary>
    private sealed class VenueCalendar(string venue, TimeZoneInfo zone, TimeOnly open, TimeOnly close, Func<DateOnly, DayRule> classify, object gate)
    {
        private readonly YearTable?[] _years = new YearTable?[LastDate.Year - FirstDate.Year + 1];

        public TradingSession? LastOpen;

        public string Venue { get; } = venue;

        public TimeZoneInfo Zone { get; } = zone;

        /// <summary>True when a session opens the calendar day before it closes (metals, FX).</summary>
        public bool Overnight { get; } = close <= open;

        /// <summary>The session of <paramref name="date"/> when it contains <paramref name="utc"/>; null otherwise or outside the coverage.</summary>
        public TradingSession? Containing(DateOnly date, DateTimeOffset utc)
        {
            if (date < FirstDate || date > LastDate)
            {
                return null;
            }

            var s = Year(date.Year).Sessions[date.DayOfYear - 1];
            return s is not null && s.OpenUtc <= utc && utc < s.CloseUtc ? s : null;
        }

        public YearTable Year(int year)
        {
            var i = year - FirstDate.Year;
            if (Volatile.Read(ref _years[i]) is { } table)
            {
                return table;
            }

            lock (gate)
            {
                table = _years[i] ?? Build(year);
                Volatile.Write(ref _years[i], table);
                return table;
            }
        }

        private YearTable Build(int year)
        {
            var days = DateTime.IsLeapYear(year) ? 366 : 365;
            var sessions = new TradingSession?[days];
            var holidays = new string?[days];
            for (var i = 0; i < days; i++)
            {
                var date = new DateOnly(year, 1, 1).AddDays(i);
                var rule = classify(date);
                holidays[i] = rule.Holiday;
                if (rule.Trades)
                {
                    var openUtc = Utc((Overnight ? date.AddDays(-1) : date).ToDateTime(open));
                    var closeUtc = Utc(date.ToDateTime(rule.EarlyClose ?? close));
                    sessions[i] = new TradingSession(Venue, date, openUtc, closeUtc, rule.EarlyClose is not null, rule.Note);
                }
            }

            return new YearTable(sessions, holidays);
        }

        private DateTimeOffset Utc(DateTime local) => new DateTimeOffset(local, Zone.GetUtcOffset(local)).ToUniversalTime();
    }
}
