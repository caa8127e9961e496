using MetalSniper.Core.Sessions;

namespace MetalSniper.Pairs.Model;

/// <summary>The verdict of the both-open rule on two observations.</summary>
/// <param name="Comparable">True when the two prices may be compared.</param>
/// <param name="Reason">Why not (or "both open, 12 s apart").</param>
/// <param name="ObservedA">When leg A's price was observed, UTC.</param>
/// <param name="ObservedB">When leg B's price was observed, UTC.</param>
/// <param name="Gap">The absolute time between the two observations.</param>
public sealed record Comparability(bool Comparable, string Reason, DateTimeOffset ObservedA, DateTimeOffset ObservedB, TimeSpan Gap);

/// <summary>
/// The both-open rule: two prices of a pair are compared only when both were observed while <em>both</em> venues were
/// open, and within <see cref="Tolerance"/> of each other (default one minute). Otherwise the comparison is "not
/// comparable", with both observation times — the guard against the timestamp illusion of comparing closes of
/// exchanges that close at different times.
/// </summary>
/// <param name="sessions">The exchange calendar.</param>
/// <param name="tolerance">The largest gap between the two observations (default 1 minute).</param>
public sealed class BothOpenRule(ITradingSessions sessions, TimeSpan? tolerance = null)
{
    /// <summary>The largest allowed gap between the two observations.</summary>
    public TimeSpan Tolerance { get; } = tolerance ?? TimeSpan.FromMinutes(1);

    /// <summary>
    /// True when <paramref name="venue"/> is in session at <paramref name="utc"/>, the end of the session included: a closing
    /// price is printed at the close instant, while the venue was still trading (sessions are [open, close) intervals).
    /// </summary>
    private bool OpenAt(string venue, DateTimeOffset utc) => sessions.IsOpen(venue, utc) || sessions.IsOpen(venue, utc.AddTicks(-1));

    /// <summary>Judges two observations of a pair.</summary>
    /// <exception cref="ArgumentException">An observation is not of the pair's listing.</exception>
    public Comparability Check(PairDefinition pair, PriceObservation a, PriceObservation b)
    {
        ArgumentNullException.ThrowIfNull(pair);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!string.Equals(a.Symbol, pair.A.Symbol, StringComparison.OrdinalIgnoreCase) || !string.Equals(b.Symbol, pair.B.Symbol, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"observations {a.Symbol}/{b.Symbol} are not of pair {pair.Name} ({pair.A.Symbol}/{pair.B.Symbol})");
        }

        var gap = (a.ObservedUtc - b.ObservedUtc).Duration();
        string? why = null;
        foreach (var (obs, name) in new[] { (a, "A"), (b, "B") })
        {
            var (va, vb) = pair.Venues;
            if (!OpenAt(va, obs.ObservedUtc) || !OpenAt(vb, obs.ObservedUtc))
            {
                why ??= $"leg {name} ({obs.Symbol}) observed {obs.ObservedUtc:yyyy-MM-dd HH:mm:ss}Z when {(!OpenAt(va, obs.ObservedUtc) ? va : vb)} was closed";
            }
        }

        if (why is null && gap > Tolerance)
        {
            why = $"observed {gap.TotalSeconds:0} s apart (tolerance {Tolerance.TotalSeconds:0} s)";
        }

        return why is null
            ? new Comparability(true, $"both open, {gap.TotalSeconds:0} s apart", a.ObservedUtc, b.ObservedUtc, gap)
            : new Comparability(false, "not comparable: " + why, a.ObservedUtc, b.ObservedUtc, gap);
    }
}
