using System.Globalization;
using MetalSniper.Core.Instruments;

namespace MetalSniper.Core.MarketData;

/// <summary>
/// The ingest boundary for bars: converts quote units to major units (GBp→GBP, ZAc→ZAR),
/// refuses NaN/infinite/non-positive prices, high &lt; low, open or close outside the envelope,
/// negative volume or spread, and duplicate or out-of-order timestamps per instrument. Every
/// refusal is counted in <see cref="IngestCounters"/> by reason. Single-threaded: one validator per ingest loop.
/// </summary>
public sealed class BarValidator(IInstrumentCatalog instruments, IngestCounters counters)
{
    private readonly Dictionary<string, DateTimeOffset> _lastOpenTime = new(StringComparer.Ordinal);

    /// <summary>The counters this validator writes to.</summary>
    public IngestCounters Counters => counters;

    /// <summary>Validates a record. Returns the accepted bar, or null with <paramref name="rejected"/> set.</summary>
    /// <param name="record">The record from the source.</param>
    /// <param name="receivedAtUtc">The receive time to stamp on an accepted bar.</param>
    /// <param name="rejected">The refusal when the result is null.</param>
    public Bar? Validate(MarketDataRecord record, DateTimeOffset receivedAtUtc, out BarRejected? rejected)
    {
        ArgumentNullException.ThrowIfNull(record);
        counters.CountRead();
        switch (record)
        {
            case UnparseableRecord u:
                rejected = Reject(u.Source, u.Line, u.Symbol, u.Reason, u.Detail);
                return null;
            case RawBarRecord { Bar: var raw }:
                return ValidateRaw(raw, receivedAtUtc, out rejected);
            default:
                throw new ArgumentException($"unknown market data record type {record.GetType().Name}", nameof(record));
        }
    }

    private Bar? ValidateRaw(RawBar raw, DateTimeOffset receivedAtUtc, out BarRejected? rejected)
    {
        if (!instruments.TryGet(raw.Symbol, out var instrument))
        {
            throw new InvalidOperationException($"market data for unknown instrument '{raw.Symbol}' from {raw.Source}:{raw.Line}; add it to the catalog");
        }

        Span<double> prices = [raw.Open, raw.High, raw.Low, raw.Close];
        foreach (var p in prices)
        {
            if (double.IsNaN(p))
            {
                rejected = Reject(raw, BarRejectReason.NotANumber, Describe(raw));
                return null;
            }

            if (double.IsInfinity(p))
            {
                rejected = Reject(raw, BarRejectReason.Infinite, Describe(raw));
                return null;
            }

            if (p <= 0d)
            {
                rejected = Reject(raw, BarRejectReason.NonPositivePrice, Describe(raw));
                return null;
            }
        }

        if (double.IsNaN(raw.Volume) || double.IsInfinity(raw.Volume) || raw.Volume < 0d
            || (raw.Spread is { } s && (double.IsNaN(s) || double.IsInfinity(s) || s < 0d)))
        {
            rejected = Reject(raw, BarRejectReason.NegativeVolumeOrSpread, Describe(raw));
            return null;
        }

        if (raw.High < raw.Low)
        {
            rejected = Reject(raw, BarRejectReason.HighBelowLow, Describe(raw));
            return null;
        }

        if (raw.Open > raw.High || raw.Open < raw.Low || raw.Close > raw.High || raw.Close < raw.Low)
        {
            rejected = Reject(raw, BarRejectReason.OutsideEnvelope, Describe(raw));
            return null;
        }

        // Prices are bounded by the envelope above; volume and spread are not: a value beyond decimal's range is refused, not a crash.
        const double decimalLimit = 7.9e28;
        if (Math.Abs(raw.Volume) >= decimalLimit || raw.Spread is { } hugeSpread && Math.Abs(hugeSpread) >= decimalLimit
            || Math.Abs(raw.Open) >= decimalLimit || Math.Abs(raw.High) >= decimalLimit || Math.Abs(raw.Low) >= decimalLimit || Math.Abs(raw.Close) >= decimalLimit)
        {
            rejected = Reject(raw, BarRejectReason.NumberOutOfRange, string.Create(CultureInfo.InvariantCulture,
                $"a value beyond the decimal range: open {raw.Open}, high {raw.High}, low {raw.Low}, close {raw.Close}, volume {raw.Volume}, spread {raw.Spread}"));
            return null;
        }

        if (_lastOpenTime.TryGetValue(raw.Symbol, out var last))
        {
            if (raw.OpenTimeUtc == last)
            {
                rejected = Reject(raw, BarRejectReason.DuplicateTimestamp, $"open time {raw.OpenTimeUtc:O} already seen");
                return null;
            }

            if (raw.OpenTimeUtc < last)
            {
                rejected = Reject(raw, BarRejectReason.OutOfOrderTimestamp, $"open time {raw.OpenTimeUtc:O} is before the previous {last:O}");
                return null;
            }
        }

        _lastOpenTime[raw.Symbol] = raw.OpenTimeUtc;
        var unit = instrument.QuoteUnit;
        rejected = null;
        counters.CountAccepted();
        return new Bar(
            raw.Symbol,
            raw.OpenTimeUtc,
            raw.Interval,
            unit.ToMajor((decimal)raw.Open),
            unit.ToMajor((decimal)raw.High),
            unit.ToMajor((decimal)raw.Low),
            unit.ToMajor((decimal)raw.Close),
            (decimal)raw.Volume,
            raw.Spread is { } spread ? unit.ToMajor((decimal)spread) : null,
            receivedAtUtc);
    }

    private BarRejected Reject(RawBar raw, BarRejectReason reason, string detail) => Reject(raw.Source, raw.Line, raw.Symbol, reason, detail);

    private BarRejected Reject(string source, long line, string symbol, BarRejectReason reason, string detail)
    {
        counters.CountRejected(reason);
        return new BarRejected(source, line, symbol, reason, detail);
    }

    private static string Describe(RawBar raw) => string.Create(
        CultureInfo.InvariantCulture,
        $"{raw.Symbol} {raw.OpenTimeUtc:O} O={raw.Open} H={raw.High} L={raw.Low} C={raw.Close} V={raw.Volume} S={raw.Spread}");
}

/// <summary>Thread-safe counters of records read, accepted and refused by reason.</summary>
public sealed class IngestCounters
{
    private readonly long[] _rejectedByReason = new long[Enum.GetValues<BarRejectReason>().Length];
    private long _read;
    private long _accepted;

    /// <summary>Records read from the source.</summary>
    public long Read => Interlocked.Read(ref _read);

    /// <summary>Bars accepted.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Records refused, all reasons.</summary>
    public long Rejected => _rejectedByReason.Sum(x => Interlocked.Read(ref x));

    /// <summary>Refusals for one reason.</summary>
    public long RejectedFor(BarRejectReason reason) => Interlocked.Read(ref _rejectedByReason[(int)reason]);

    /// <summary>Non-zero refusal counts by reason.</summary>
    public IReadOnlyDictionary<BarRejectReason, long> RejectedByReason() =>
        Enum.GetValues<BarRejectReason>().Where(r => RejectedFor(r) > 0).ToDictionary(r => r, RejectedFor);

    internal void CountRead() => Interlocked.Increment(ref _read);

    internal void CountAccepted() => Interlocked.Increment(ref _accepted);

    internal void CountRejected(BarRejectReason reason) => Interlocked.Increment(ref _rejectedByReason[(int)reason]);
}
