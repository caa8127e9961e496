using MetalSniper.Engine.Alerts;
using MetalSniper.Persistence;

namespace MetalSniper.Engine.Pipeline;

/// <summary>
/// Where the brain on a live feed (the service with the IB broker and IB market data) records its input stream and finds the
/// earlier runs' streams to re-execute at start (table <c>brain_inputs</c>, <see cref="BrainInputs"/>). Registered only for that
/// service: without it the brain records nothing and re-executes nothing (replays, the service on a replayed feed, shadow mode).
/// </summary>
/// <param name="database">Our database.</param>
/// <param name="broker">The gateway's name as the runs table records it ("ib-paper", "ib-live"): the runs whose inputs are re-executed.</param>
/// <param name="alerts">Where the restore's report and any divergence are raised (and journaled).</param>
public sealed class BrainInputLog(Database database, string broker, AlertHub alerts)
{
    private BrainRestoreReport? _lastRestore;

    /// <summary>Our database.</summary>
    public Database Database { get; } = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>The broker whose earlier runs are re-executed.</summary>
    public string Broker { get; } = broker ?? throw new ArgumentNullException(nameof(broker));

    /// <summary>Where the report and any divergence are raised.</summary>
    public AlertHub Alerts { get; } = alerts ?? throw new ArgumentNullException(nameof(alerts));

    /// <summary>The report of this process's restore, once it ended (null before).</summary>
    public BrainRestoreReport? LastRestore
    {
        get => Volatile.Read(ref _lastRestore);
        internal set => Volatile.Write(ref _lastRestore, value);
    }
}

/// <summary>What the brain's re-execution of the earlier runs' inputs found.</summary>
/// <param name="Runs">Earlier runs re-executed.</param>
/// <param name="Inputs">Inputs re-executed (bars and order events).</param>
/// <param name="Bars">Bars among them.</param>
/// <param name="DecisionsVerified">Decisions made again exactly as recorded (id, source, symbol, kind, outcome, reason).</param>
/// <param name="OrdersVerified">Orders sent again exactly as recorded (id, decision, symbol, side, type, purpose, source; quantity and prices when the record still holds the submitted ones).</param>
/// <param name="OrderPricesVerified">Orders among them whose quantity and prices were compared too.</param>
/// <param name="NotReexecuted">Recorded decisions of strategies this run does not have (not compared).</param>
/// <param name="UnrecordedTail">Decisions made again that their run did not record because it ended first (its commands never left).</param>
/// <param name="Mismatches">Differences from the record (a divergence: RED).</param>
/// <param name="Problems">The first differences, described.</param>
/// <param name="MissedEvents">Order events the earlier runs' hands recorded that their brain never consumed (a kill in between), delivered after the restore.</param>
/// <param name="Took">Wall time of the re-execution.</param>
/// <param name="State">The strategies' state after it (one line per strategy that describes itself).</param>
public sealed record BrainRestoreReport(int Runs, long Inputs, long Bars, long DecisionsVerified, long OrdersVerified, long OrderPricesVerified, long NotReexecuted,
    long UnrecordedTail, long Mismatches, IReadOnlyList<string> Problems, long MissedEvents, TimeSpan Took, string State)
{
    /// <summary>True when everything re-executed matched its record.</summary>
    public bool Matches => Mismatches == 0;
}
