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
/// What was decided. The ML judges' labels key on these, so they are a closed set; the text form stored in the
/// database and the journal is the member name, with a subject after a colon where one kind covers several
/// instances (<c>Breaker:drawdown</c>, <c>MissedHeartbeat:brain</c>; see <see cref="DecisionRecord.KindLabel"/>).
/// </summary>
public enum DecisionKind
{
    /// <summary>Open a position outright (a strategy's plain entry).</summary>
    Entry,

    /// <summary>Metals: open a hedge (long and short legs booked virtually, two leg stops).</summary>
    OpenHedge,

    /// <summary>Metals: no leg was killed within the hedge's time limit; the leg stops are withdrawn.</summary>
    HedgeExpired,

    /// <summary>Metals: a leg stop disappeared (cancelled or refused); the hedge is withdrawn.</summary>
    HedgeAborted,

    /// <summary>Metals: one leg stopped out; the market chose the direction of the survivor.</summary>
    KillLeg,

    /// <summary>Move a protective stop (breakeven at +1R, then trailing).</summary>
    MoveStop,

    /// <summary>Resize a stop after an add filled, so it covers the whole position.</summary>
    ResizeStop,

    /// <summary>Add to a position (locked-profit rule).</summary>
    Add,

    /// <summary>Exit on a confirmed turn of the trend.</summary>
    ExitOnTurn,

    /// <summary>Close what is left after a stop or exit filled partially.</summary>
    ExitResidual,

    /// <summary>Close a position that has lost its protective stop.</summary>
    ExitUnprotected,

    /// <summary>Flatten before a closure longer than the daily break (weekend, holiday).</summary>
    FlattenBeforeClosure,

    /// <summary>The survivor's stop filled.</summary>
    StoppedOut,

    /// <summary>Metals: a winner pulled back; the exit judge was asked (or the features recorded for its dataset). Taken = hold.</summary>
    ExitReview,

    /// <summary>Metals: exit because the exit judge recommended it (a judge can shorten a trade, never hold or enlarge one).</summary>
    ExitOnJudge,

    /// <summary>The position went flat outside the strategy.</summary>
    PositionClosedExternally,

    /// <summary>The kill switch's level changed at the execution side.</summary>
    KillLevel,

    /// <summary>Sentinel: the P&amp;L cannot be computed; entries halted until it can.</summary>
    PnlUnknown,

    /// <summary>Sentinel: the daily loss limit was reached; flatten and halt for the day.</summary>
    DailyLossFlatten,

    /// <summary>Sentinel: the kill switch is at L2; flatten everything.</summary>
    KillSwitchFlatten,

    /// <summary>Sentinel: a rapid loss within the window; cut the position.</summary>
    RapidLossCut,

    /// <summary>Sentinel: a circuit breaker tripped (subject: the breaker's label).</summary>
    Breaker,

    /// <summary>Sentinel: a flatten ordered by a circuit breaker at L2.</summary>
    BreakerFlatten,

    /// <summary>Sentinel: the watchdog trailing stop was hit.</summary>
    WatchdogTrail,

    /// <summary>Sentinel: a held instrument's price is stale while its market is open.</summary>
    StaleData,

    /// <summary>Sentinel: a heartbeat was missed (subject: the silent component).</summary>
    MissedHeartbeat,

    /// <summary>A dual-listing pair opens: short the rich listing, buy the cheap one (both legs one decision).</summary>
    PairEntry,

    /// <summary>A dual-listing pair closes on the reunion (|z| back inside the exit band).</summary>
    PairExit,

    /// <summary>A dual-listing pair is stopped: z-score beyond the stop, or held past the time limit.</summary>
    PairStop,

    /// <summary>A pair is retired (cointegration broken or half-life past its limit) or not admitted; the statistics are the inputs.</summary>
    PairRetire,

    /// <summary>Two prices of a pair were not comparable (a venue closed, observations too far apart, FX missing or stale).</summary>
    PairNotComparable,

    /// <summary>One leg of a pair filled and the other did not within the timeout: the filled leg is unwound.</summary>
    PairLegUnwind,

    /// <summary>The execution side moved a working exit or flatten one step on (limit at the mid → at the touch → market).</summary>
    ExitEscalation,

    /// <summary>Sentinel: a position reached the configured maximum holding time; it is flattened.</summary>
    MaxHoldingTime,

    /// <summary>Sentinel: a position's venue closes its session within the configured time; it is flattened before the close.</summary>
    SessionCloseFlatten,

    /// <summary>
    /// After a restart, once the broker's book is reconciled: the earlier runs' working entries and adds that do not reduce
    /// the position are cancelled (the strategy state that placed them is gone; this run's strategies start cold).
    /// </summary>
    EarlierRunEntriesWithdrawn,

    /// <summary>
    /// After a restart, a position taken over from an earlier run that our working stops did not cover in full is protected
    /// again by a stop at the earlier run's stop price (with none usable it is closed instead: <see cref="ExitUnprotected"/>).
    /// </summary>
    RestartProtection,
}

/// <summary>The stored text form of a decision kind (database, journal, summaries).</summary>
public static class DecisionKinds
{
    /// <summary>The kind's name, then <c>:</c> and the subject when there is one: <c>DailyLossFlatten</c>, <c>Breaker:drawdown</c>.</summary>
    public static string Label(DecisionKind kind, string? subject) => subject is null ? kind.ToString() : $"{kind}:{subject}";
}

/// <summary>
/// One autonomous decision: every intent, its reason and the inputs it saw. Recorded before
/// anything acts on it; orders reference it by <see cref="DecisionId"/>.
/// </summary>
/// <param name="DecisionId">Unique id ("{run}-D{sequence}").</param>
/// <param name="Source">Who decided: "strategy:metals", "sentinel".</param>
/// <param name="Symbol">Instrument, or "*" for book-wide decisions.</param>
/// <param name="Kind">What was decided.</param>
/// <param name="Outcome">Taken, vetoed or denied.</param>
/// <param name="Reason">Human-readable reason with the values seen.</param>
/// <param name="Inputs">The inputs (name → value), invariant-formatted.</param>
/// <param name="EventTimeUtc">Event time of the information used (a bar's close time).</param>
/// <param name="RecordedAtUtc">Clock time when recorded.</param>
/// <param name="Subject">Which instance of <paramref name="Kind"/>, where one kind covers several (the breaker, the silent component); null otherwise.</param>
public sealed record DecisionRecord(
    string DecisionId,
    string Source,
    string Symbol,
    DecisionKind Kind,
    DecisionOutcome Outcome,
    string Reason,
    IReadOnlyDictionary<string, string> Inputs,
    DateTimeOffset EventTimeUtc,
    DateTimeOffset RecordedAtUtc,
    string? Subject = null)
{
    /// <summary>The stored text form: the kind's name, then <c>:</c> and the subject when there is one (<c>Breaker:drawdown</c>).</summary>
    public string KindLabel => DecisionKinds.Label(Kind, Subject);
}

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
