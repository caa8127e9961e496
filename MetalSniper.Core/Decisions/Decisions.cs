namespace MetalSniper.Core.Decisions;

/// <summary>What became of a decision.</summary>
public enum DecisionOutcome
{
    /// <summary>Acted on (orders sent or a virtual booking made).</summary>
    Taken,

    /// <summary>Considered and declined by the deciding component itself (size too small, rule refused).</summary>
    Vetoed,

    /// <summary>Refused by a pre-trade gate where orders leave.</summary>
    Denied,
}

/// <summary>
/// One autonomous decision: every intent, its reason and the inputs it saw. Recorded before
/// anything acts on it; orders reference it by <see cref="DecisionId"/>.
/// </summary>
/// <param name="DecisionId">Unique id ("{run}-D{sequence}").</param>
/// <param name="Source">Who decided: "strategy:metals", "sentinel".</param>
/// <param name="Symbol">Instrument, or "*" for book-wide decisions.</param>
/// <param name="Kind">What was decided (OpenHedge, KillLeg, MoveStop, Add, ExitOnTurn, DailyLossFlatten, …).</param>
/// <param name="Outcome">Taken, vetoed or denied.</param>
/// <param name="Reason">Human-readable reason with the values seen.</param>
/// <param name="Inputs">The inputs (name → value), invariant-formatted.</param>
/// <param name="EventTimeUtc">Event time of the information used (a bar's close time).</param>
/// <param name="RecordedAtUtc">Clock time when recorded.</param>
public sealed record DecisionRecord(
    string DecisionId,
    string Source,
    string Symbol,
    string Kind,
    DecisionOutcome Outcome,
    string Reason,
    IReadOnlyDictionary<string, string> Inputs,
    DateTimeOffset EventTimeUtc,
    DateTimeOffset RecordedAtUtc);

/// <summary>
/// Generates the run-scoped ids of decisions and client orders. Thread-safe. Ids are
/// "{tag}-D{n}" and "{tag}-O{n}". Each deciding component takes its own generator from
/// <see cref="ForSource"/> ("{run}-B" the brain, "{run}-S" the sentinel, "{run}-K" the kill switch at
/// the execution side), so a component's ids depend only on its own sequence of decisions: a replay
/// re-executed after a crash gives every decision and order the id it had before, and a resend of an
/// order carries the same idempotent client order id.
/// </summary>
public sealed class IdGenerator(string runTag)
{
    private long _decisions;
    private long _orders;

    /// <summary>The tag (the run id, or the run id and the source).</summary>
    public string RunTag => runTag;

    /// <summary>A generator of its own for one deciding component: ids "{run}-{source}-D{n}".</summary>
    /// <param name="source">A short tag (letters only), e.g. "B", "S", "K".</param>
    /// <exception cref="ArgumentException">The tag is empty or not letters.</exception>
    public IdGenerator ForSource(string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        if (!source.All(char.IsAsciiLetter))
        {
            throw new ArgumentException($"a source tag is ASCII letters only, was '{source}'", nameof(source));
        }

        return new IdGenerator($"{runTag}-{source}");
    }

    /// <summary>A new decision id.</summary>
    public string NextDecisionId() => $"{runTag}-D{Interlocked.Increment(ref _decisions):D7}";

    /// <summary>A new client order id.</summary>
    public Orders.ClientOrderId NextClientOrderId() => new($"{runTag}-O{Interlocked.Increment(ref _orders):D7}");
}
