namespace MetalSniper.Core.MarketData;

/// <summary>
/// An OHLCV bar that passed the ingest boundary. Prices are in major units of the instrument's
/// currency (USD per troy ounce for metals). Times are UTC.
/// </summary>
/// <param name="Symbol">Instrument symbol.</param>
/// <param name="OpenTimeUtc">Bar open time (UTC), the event time of the bar's first price.</param>
/// <param name="Interval">Bar length; the bar is complete (knowable) at <see cref="CloseTimeUtc"/>.</param>
/// <param name="Open">Open price.</param>
/// <param name="High">High price.</param>
/// <param name="Low">Low price.</param>
/// <param name="Close">Close price.</param>
/// <param name="Volume">Volume as given by the source (MT5 tick volume for the metals files; 0 when absent).</param>
/// <param name="Spread">Quoted bid/ask spread for the bar in price units, when the source carries it (null otherwise).</param>
/// <param name="ReceivedAtUtc">When the system received the bar (the replay clock in replay).</param>
public sealed record Bar(
    string Symbol,
    DateTimeOffset OpenTimeUtc,
    TimeSpan Interval,
    decimal Open,
    decimal High,
    decimal Low,
    decimal Close,
    decimal Volume,
    decimal? Spread,
    DateTimeOffset ReceivedAtUtc)
{
    /// <summary>The time the bar completes: open time plus interval. Nothing in the bar is knowable earlier.</summary>
    public DateTimeOffset CloseTimeUtc => OpenTimeUtc + Interval;

    /// <summary>True range against the previous close (Wilder): max(high, prevClose) − min(low, prevClose).</summary>
    public decimal TrueRange(decimal? previousClose) =>
        previousClose is { } pc ? Math.Max(High, pc) - Math.Min(Low, pc) : High - Low;
}

/// <summary>A top-of-book quote (bid/ask in major units of the instrument currency), UTC times.</summary>
/// <param name="Symbol">Instrument symbol.</param>
/// <param name="Bid">Best bid.</param>
/// <param name="Ask">Best ask.</param>
/// <param name="EventTimeUtc">Venue time of the quote.</param>
/// <param name="ReceivedAtUtc">When the system received it.</param>
public sealed record Quote(string Symbol, decimal Bid, decimal Ask, DateTimeOffset EventTimeUtc, DateTimeOffset ReceivedAtUtc)
{
    /// <summary>The mid price (bid+ask)/2.</summary>
    public decimal Mid => (Bid + Ask) / 2m;

    /// <summary>The spread ask − bid.</summary>
    public decimal Spread => Ask - Bid;
}
