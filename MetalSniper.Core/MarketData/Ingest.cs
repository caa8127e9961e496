namespace MetalSniper.Core.MarketData;

/// <summary>Why the ingest boundary refused a record. Every refusal is counted by reason, never dropped silently.</summary>
public enum BarRejectReason
{
    /// <summary>The line has the wrong number of fields for its header.</summary>
    MalformedLine,

    /// <summary>The timestamp could not be parsed as ISO-8601 UTC.</summary>
    UnparseableTimestamp,

    /// <summary>A price or volume field is not a number.</summary>
    UnparseableNumber,

    /// <summary>A price is NaN.</summary>
    NotANumber,

    /// <summary>A price is +/-infinity.</summary>
    Infinite,

    /// <summary>A price is zero or negative.</summary>
    NonPositivePrice,

    /// <summary>High is below low.</summary>
    HighBelowLow,

    /// <summary>Open or close lies outside [low, high].</summary>
    OutsideEnvelope,

    /// <summary>Volume or spread is negative.</summary>
    NegativeVolumeOrSpread,

    /// <summary>The same instrument already had a bar at this open time.</summary>
    DuplicateTimestamp,

    /// <summary>The bar's open time is earlier than the previous accepted bar of the same instrument.</summary>
    OutOfOrderTimestamp,

    /// <summary>A daily row dated on a day its venue's exchange calendar has no session (a weekend, a holiday) or outside the calendar's coverage: it cannot be placed in time.</summary>
    NotATradingDate,

    /// <summary>A number (volume or spread) is too large to be held as a decimal (beyond ±7.9 × 10^28): it cannot be a real quantity.</summary>
    NumberOutOfRange,
}

/// <summary>
/// A parsed but not yet validated record from a market data source. Prices are doubles here so
/// that NaN and infinity can be seen and rejected; the ingest boundary converts to decimal.
/// </summary>
/// <param name="Source">Where the record came from (file name, feed).</param>
/// <param name="Line">Line or sequence number in the source, for error messages.</param>
/// <param name="Symbol">Instrument symbol.</param>
/// <param name="OpenTimeUtc">Bar open time, UTC.</param>
/// <param name="Interval">Bar interval.</param>
/// <param name="Open">Open in the venue's quote unit.</param>
/// <param name="High">High in the venue's quote unit.</param>
/// <param name="Low">Low in the venue's quote unit.</param>
/// <param name="Close">Close in the venue's quote unit.</param>
/// <param name="Volume">Volume.</param>
/// <param name="Spread">Spread in the venue's quote unit, when known.</param>
public sealed record RawBar(
    string Source,
    long Line,
    string Symbol,
    DateTimeOffset OpenTimeUtc,
    TimeSpan Interval,
    double Open,
    double High,
    double Low,
    double Close,
    double Volume,
    double? Spread);

/// <summary>What a market data source yields: a raw bar, or a record refused while parsing.</summary>
public abstract record MarketDataRecord(string Source, long Line, string Symbol);

/// <summary>A record that parsed into a <see cref="RawBar"/>.</summary>
public sealed record RawBarRecord(RawBar Bar) : MarketDataRecord(Bar.Source, Bar.Line, Bar.Symbol);

/// <summary>A record the source could not parse, with the typed reason and the offending text.</summary>
public sealed record UnparseableRecord(string Source, long Line, string Symbol, BarRejectReason Reason, string Detail)
    : MarketDataRecord(Source, Line, Symbol);

/// <summary>A bar the ingest boundary refused, with its reason and the values seen.</summary>
public sealed record BarRejected(string Source, long Line, string Symbol, BarRejectReason Reason, string Detail);

/// <summary>
/// A source of market data records (<c>&lt;Mode&gt;MarketDataSource</c>: replay of files, IB).
/// Records come in event-time order across instruments as far as the source knows it; the
/// ingest boundary still checks the order per instrument.
/// </summary>
public interface IMarketDataSource
{
    /// <summary>A short name for logs and the summary.</summary>
    string Name { get; }

    /// <summary>
    /// True for recorded data: a bar is then "received" at its close time (the instant it became
    /// knowable), not at the wall-clock time the file was read.
    /// </summary>
    bool IsReplay { get; }

    /// <summary>Streams records until the source ends (replay) or <paramref name="cancellationToken"/> fires (live).</summary>
    IAsyncEnumerable<MarketDataRecord> StreamAsync(CancellationToken cancellationToken);
}
