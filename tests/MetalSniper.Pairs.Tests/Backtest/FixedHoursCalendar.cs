using MetalSniper.Core.Sessions;

namespace MetalSniper.Pairs.Tests.Backtest;

/// <summary>
/// A calendar of made-up venues with fixed UTC hours on every weekday and no holidays: lets a test place two venues'
/// closes exactly 90 minutes apart all year (real venues drift with daylight saving).
/// </summary>
internal sealed class FixedHoursCalendar(IReadOnlyDictionary<string, (TimeOnly Open, TimeOnly Close)> hours) : IExchangeCalendar
{
    public (DateOnly First, DateOnly Last) Coverage => (new DateOnly(2000, 1, 1), new DateOnly(2040, 12, 31));

    public bool IsOpen(string venue, DateTimeOffset utc) => SessionEnd(venue, utc) is not null;

    public DateTimeOffset? SessionEnd(string venue, DateTimeOffset utc)
    {
        var s = Session(venue, DateOnly.FromDateTime(utc.UtcDateTime));
        return s is not null && utc >= s.OpenUtc && utc < s.CloseUtc ? s.CloseUtc : null;
    }

    public TradingSession? Session(string venue, DateOnly date)
    {
        var (open, close) = hours[venue];
        if (date.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday)
        {
            return null;
        }

        return new TradingSession(venue, date, new DateTimeOffset(date.ToDateTime(open), TimeSpan.Zero), new DateTimeOffset(date.ToDateTime(close), TimeSpan.Zero), false, null);
    }

    public string? Holiday(string venue, DateOnly date) => null;

    public TradingSession NextSession(string venue, DateOnly date)
    {
        for (var d = date.AddDays(1); ; d = d.AddDays(1))
        {
            if (Session(venue, d) is { } s)
            {
                return s;
            }
        }
    }

    public TradingSession PreviousSession(string venue, DateOnly date)
    {
        for (var d = date.AddDays(-1); ; d = d.AddDays(-1))
        {
            if (Session(venue, d) is { } s)
            {
                return s;
            }
        }
    }
}
