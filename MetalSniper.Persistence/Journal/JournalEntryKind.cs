namespace MetalSniper.Persistence.Journal;

/// <summary>
/// What a journal entry records. Written as the member's name (the chain hashes that text, so a name never changes
/// once entries carry it); read back as text, since a journal written by an earlier version must still verify.
/// </summary>
public enum JournalEntryKind
{
    /// <summary>A run started (run id, mode, version).</summary>
    RunStarted,

    /// <summary>A run resumed after a crash (attempt number).</summary>
    RunResumed,

    /// <summary>A run ended (exit status, counters).</summary>
    RunEnded,

    /// <summary>The effective configuration's fingerprint at start.</summary>
    ConfigLoaded,

    /// <summary>Configuration keys changed since the last run.</summary>
    ConfigChanged,

    /// <summary>A decision of the brain, the sentinel or the kill switch (<c>DecisionRecord</c>).</summary>
    Decision,

    /// <summary>A pre-trade gate denied an order.</summary>
    GateDenial,

    /// <summary>An order is about to be submitted (write-ahead: journaled before it leaves).</summary>
    OrderSubmitted,

    /// <summary>A cancel was requested.</summary>
    CancelRequested,

    /// <summary>A modification was requested.</summary>
    ModifyRequested,

    /// <summary>The broker accepted an order.</summary>
    OrderAccepted,

    /// <summary>The venue rejected an order (it ends), or a gate denial reported back to the brain.</summary>
    OrderRejected,

    /// <summary>The broker refused a request (modify, duplicate submit); the order is unchanged.</summary>
    OrderRequestRejected,

    /// <summary>An order was cancelled.</summary>
    OrderCancelled,

    /// <summary>An order was modified.</summary>
    OrderModified,

    /// <summary>An order (partly) filled.</summary>
    OrderFilled,

    /// <summary>A position found at the broker was adopted into our book.</summary>
    PositionAdopted,

    /// <summary>A kill-switch record (escalate, resume, pause, clear).</summary>
    Halt,

    /// <summary>An alert was raised.</summary>
    Alert,

    /// <summary>A component fell back to a default (said loudly).</summary>
    Fallback,

    /// <summary>The broker link changed state.</summary>
    BrokerLink,

    /// <summary>Preflight failed; the service did not start.</summary>
    PreflightFailed,

    /// <summary>A barrier entry written to wait for everything before it to be durable.</summary>
    Flush,

    /// <summary>An operator promoted a judge model version after its shadow record (<c>metalsniper judges promote</c>).</summary>
    JudgePromoted,

    /// <summary>An order of an earlier run, still working when that run ended, was taken over by this run (restart).</summary>
    OrderResumed,

    /// <summary>Our position as an earlier run left it was restored into the book (restart).</summary>
    PositionRestored,
}
