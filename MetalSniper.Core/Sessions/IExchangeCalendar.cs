namespace MetalSniper.Core.Sessions;

/// <summary>
/// One regular trading session of a venue on one trading date, in UTC. A half day has its early close.
/// </summary>
/// <param name="Venue">Venue code (see <see cref="Instruments.Venues"/>).</param>
/// <param name="Date">The venue's trading date (for an overnight session such as metals: the date on which it closes).</param>
/// <param name="OpenUtc">Opening instant, UTC.</param>
/// <param name="CloseUtc">Closing instant, UTC (the early close on a half day).</param>
/// <param name="IsHalfDay">True when the venue closes early on this date.</param>
/// <param name="Note">Why the session is special (for example "Christmas Eve early close"), or null.</param>
public sealed record TradingSession(string Venue, DateOnly Date, DateTimeOffset OpenUtc, DateTimeOffset CloseUtc, bool IsHalfDay, string? Note);

/// <summary>
/// An exchange calendar: each venue's trading dates, holidays and half days, with the sessions' UTC instants
/// (daylight saving applied in the venue's own time zone).
/// </summary>
public interface IExchangeCalendar : ITradingSessions
{
    /// <summary>The first and last dates the calendar's holiday tables cover; questions outside throw.</summary>
    (DateOnly First, DateOnly Last) Coverage { get; }

    /// <summary>The venue's session on <paramref name="date"/>, or null when the venue does not trade that date (weekend or holiday).</summary>
    /// <exception cref="KeyNotFoundException">The venue is unknown.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The date is outside <see cref="Coverage"/>.</exception>
    TradingSession? Session(string venue, DateOnly date);

    /// <summary>The name of the holiday that closes the venue on <paramref name="date"/>, or null when it is not a holiday (weekends are not holidays).</summary>
    string? Holiday(string venue, DateOnly date);

    /// <summary>The first trading session of the venue strictly after <paramref name="date"/>.</summary>
    TradingSession NextSession(string venue, DateOnly date);

    /// <summary>The last trading session of the venue strictly before <paramref name="date"/>.</summary>
    TradingSession PreviousSession(string venue, DateOnly date);
}
