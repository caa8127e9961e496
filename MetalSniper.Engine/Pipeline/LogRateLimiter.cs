namespace MetalSniper.Engine.Pipeline;

/// <summary>
/// Holds back repeats of one kind of log line (a refused entry for the same reason, a rejected bar of the same defect) so a
/// loop or a lagging feed cannot flood the log: the first line of a kind is written; further lines of that kind within
/// <see cref="Window"/> (wall-clock time) are only counted; the next line after the window carries the count held back
/// ("… (+37 like it held back in the last 60 s)"), and <see cref="Drain"/> hands the counts still pending to a periodic
/// summary. Every held-back event is still recorded where its kind is recorded (database, journal); only the log line is
/// spared. Thread-safe.
/// </summary>
/// <param name="wallClock">The wall clock (never the replay's market clock: the log is read in wall-clock time).</param>
/// <param name="window">How long the repeats of one kind are held back after a written line.</param>
public sealed class LogRateLimiter(TimeProvider wallClock, TimeSpan window)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _kinds = new(StringComparer.Ordinal);

    /// <summary>How long repeats of one kind are held back after a written line.</summary>
    public TimeSpan Window => window;

    /// <summary>Events held back so far (all kinds).</summary>
    public long HeldBackTotal { get; private set; }

    /// <summary>
    /// Whether a line of <paramref name="kind"/> is to be written now; when it is, <paramref name="heldBack"/> is the number of
    /// lines of that kind held back since the last written one (0 when none).
    /// </summary>
    /// <param name="kind">The kind of line (e.g. "denied:Entry:stale-quote").</param>
    /// <param name="heldBack">Lines of the kind held back since the last written one.</param>
    public bool ShouldWrite(string kind, out long heldBack)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var now = wallClock.GetUtcNow();
        lock (_gate)
        {
            if (_kinds.TryGetValue(kind, out var entry) && now - entry.WrittenUtc < window)
            {
                entry.HeldBack++;
                HeldBackTotal++;
                heldBack = 0;
                return false;
            }

            heldBack = entry?.HeldBack ?? 0;
            _kinds[kind] = new Entry { WrittenUtc = now };
            return true;
        }
    }

    /// <summary>
    /// The kinds with lines held back whose window has ended, with their counts; each is reset (the next line of the kind is
    /// written). For a periodic summary line, so a burst that stopped is still reported.
    /// </summary>
    public IReadOnlyList<(string Kind, long HeldBack)> Drain()
    {
        var now = wallClock.GetUtcNow();
        lock (_gate)
        {
            var due = _kinds.Where(k => k.Value.HeldBack > 0 && now - k.Value.WrittenUtc >= window)
                .Select(k => (k.Key, k.Value.HeldBack)).OrderBy(k => k.Key, StringComparer.Ordinal).ToList();
            foreach (var (kind, _) in due)
            {
                _kinds.Remove(kind);
            }

            return due;
        }
    }

    private sealed class Entry
    {
        public DateTimeOffset WrittenUtc { get; init; }

        public long HeldBack { get; set; }
    }
}
