namespace MetalSniper.Risk;

/// <summary>An active halt of new entries.</summary>
/// <param name="Reason">Why, with the values seen.</param>
/// <param name="SinceUtc">When it began.</param>
/// <param name="UntilUtc">When it lifts by itself (the next trading day for a daily-loss halt).</param>
public sealed record EntryHalt(string Reason, DateTimeOffset SinceUtc, DateTimeOffset UntilUtc);

/// <summary>
/// Halts of new entries (exits, stops and risk orders still run). Written by the sentinel,
/// read lock-free by the brain (which stops signals that would re-enter) and by the entry gate.
/// A halt only ever extends: a later, shorter halt does not shorten an active one.
/// </summary>
public sealed class TradingHalts
{
    private EntryHalt? _current;

    /// <summary>Halts entries until <paramref name="untilUtc"/>.</summary>
    public void HaltEntries(string reason, DateTimeOffset sinceUtc, DateTimeOffset untilUtc)
    {
        while (true)
        {
            var existing = Volatile.Read(ref _current);
            if (existing is not null && existing.UntilUtc >= untilUtc && existing.UntilUtc > sinceUtc)
            {
                return;
            }

            var next = new EntryHalt(reason, sinceUtc, untilUtc);
            if (Interlocked.CompareExchange(ref _current, next, existing) == existing)
            {
                return;
            }
        }
    }

    /// <summary>The halt in force at <paramref name="nowUtc"/>, or null when entries are allowed.</summary>
    public EntryHalt? Current(DateTimeOffset nowUtc)
    {
        var h = Volatile.Read(ref _current);
        return h is not null && nowUtc < h.UntilUtc ? h : null;
    }
}
