using MetalSniper.Core.Money;
using MetalSniper.Pairs.Data;
using MetalSniper.Pairs.Model;

namespace MetalSniper.Pairs.Backtest;

/// <summary>
/// Daily FX snapshots for the backtest. Each series is a quoted pair (USDZAR, GBPUSD, EURUSD: units of the quote per one
/// base) whose row for date D is a snapshot at <see cref="SnapshotTime"/> on D in <see cref="SnapshotZone"/> — Yahoo's FX
/// rows are stamped at the start of their day, about 00:00 London (data README, "Caveats found on a closer look").
/// A conversion at an instant uses, for each pair, the latest snapshot at or before that instant, and fails closed
/// (<see cref="FxRateStaleException"/>) when it is missing or older than the limit. Crosses go through USD (Core's
/// <see cref="FxConverter"/>).
/// </summary>
public sealed class FxBook
{
    private readonly Dictionary<string, (Currency Base, Currency Quote, DailySeries Series, DateTimeOffset[] Stamps)> _series = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates the book.</summary>
    /// <param name="series">Pair name (six letters, e.g. GBPUSD) → its daily series.</param>
    /// <param name="maxAge">The oldest snapshot a conversion accepts (default 4 days: a weekend plus a missing date).</param>
    /// <param name="snapshotZone">The time zone of the snapshot stamp (default Europe/London).</param>
    /// <param name="snapshotTime">The local time of the snapshot (default 00:00).</param>
    /// <exception cref="ArgumentException">A pair name is not six letters.</exception>
    public FxBook(IReadOnlyDictionary<string, DailySeries> series, TimeSpan? maxAge = null, string snapshotZone = "Europe/London", TimeOnly snapshotTime = default)
    {
        ArgumentNullException.ThrowIfNull(series);
        MaxAge = maxAge ?? TimeSpan.FromDays(4);
        SnapshotZone = TimeZoneInfo.FindSystemTimeZoneById(snapshotZone);
        SnapshotTime = snapshotTime;
        foreach (var (name, s) in series)
        {
            if (name.Length != 6)
            {
                throw new ArgumentException($"FX pair '{name}' is not six letters (e.g. GBPUSD)", nameof(series));
            }

            _series[name] = (new Currency(name[..3].ToUpperInvariant()), new Currency(name[3..].ToUpperInvariant()), s, [.. s.Rows.Select(r => StampOf(r.Date))]);
        }
    }

    /// <summary>The oldest snapshot a conversion accepts.</summary>
    public TimeSpan MaxAge { get; }

    /// <summary>The zone of the snapshot stamps.</summary>
    public TimeZoneInfo SnapshotZone { get; }

    /// <summary>The local time of the snapshot stamps.</summary>
    public TimeOnly SnapshotTime { get; }

    /// <summary>The instant the row of <paramref name="date"/> was observed, UTC.</summary>
    public DateTimeOffset StampOf(DateOnly date)
    {
        var local = date.ToDateTime(SnapshotTime, DateTimeKind.Unspecified);
        return new DateTimeOffset(local, SnapshotZone.GetUtcOffset(local)).ToUniversalTime();
    }

    /// <summary>
    /// The factor converting one unit of <paramref name="from"/> into <paramref name="to"/> from the snapshots known at
    /// <paramref name="atUtc"/>, and the observation time of the oldest snapshot used.
    /// </summary>
    /// <exception cref="FxRateStaleException">A needed pair has no snapshot within <see cref="MaxAge"/> before the instant.</exception>
    /// <exception cref="FxRateUnavailableException">No path between the currencies.</exception>
    public (decimal Factor, DateTimeOffset ObservedUtc) Factor(Currency from, Currency to, DateTimeOffset atUtc)
    {
        if (from == to)
        {
            return (1m, atUtc);
        }

        var table = new FxRateTable();
        DateTimeOffset? oldest = null;
        foreach (var (name, (b, q, s, stamps)) in _series)
        {
            if (!Needed(b, q, from, to))
            {
                continue;
            }

            var i = Array.BinarySearch(stamps, atUtc);
            i = i >= 0 ? i : ~i - 1;
            if (i < 0 || atUtc - stamps[i] > MaxAge)
            {
                throw new FxRateStaleException(name.ToUpperInvariant(), i < 0 ? null : stamps[i], atUtc, MaxAge);
            }

            table.Set(new FxRate(b, q, s.Rows[i].Close, stamps[i]));
            oldest = oldest is null || stamps[i] < oldest ? stamps[i] : oldest;
        }

        var factor = new FxConverter(table).Convert(new Money(1m, from), to).Amount;
        return (factor, oldest ?? atUtc);
    }

    /// <summary>The instant by which every pair between the currencies has a snapshot strictly after <paramref name="afterUtc"/> (<paramref name="afterUtc"/> itself for one currency), or null when the data ends.</summary>
    public DateTimeOffset? NextSnapshotAfter(Currency from, Currency to, DateTimeOffset afterUtc)
    {
        if (from == to)
        {
            return afterUtc; // no FX is needed: nothing to wait for
        }

        DateTimeOffset? latest = null;
        foreach (var (_, (b, q, _, stamps)) in _series)
        {
            if (!Needed(b, q, from, to))
            {
                continue;
            }

            var i = Array.BinarySearch(stamps, afterUtc);
            i = i >= 0 ? i + 1 : ~i;
            if (i >= stamps.Length)
            {
                return null;
            }

            latest = latest is null || stamps[i] > latest ? stamps[i] : latest;
        }

        return latest;
    }

    // The pairs a conversion uses: the direct quote when the book has it, otherwise the two USD legs of the cross.
    private bool Needed(Currency b, Currency q, Currency from, Currency to)
    {
        static bool Is(Currency b, Currency q, Currency x, Currency y) => (b == x && q == y) || (b == y && q == x);
        if (_series.Values.Any(s => Is(s.Base, s.Quote, from, to)))
        {
            return Is(b, q, from, to);
        }

        return Is(b, q, from, Currency.Usd) || Is(b, q, Currency.Usd, to);
    }
}
