namespace MetalSniper.Core.Alerts;

/// <summary>How urgent an alert is (SPEC "Alerts": RED / YELLOW / INFO).</summary>
public enum AlertLevel
{
    /// <summary>Information: fills, a resume, a start.</summary>
    Info,

    /// <summary>Attention: a breaker trip, a fallback to a default, a configuration change, a disconnect.</summary>
    Yellow,

    /// <summary>Act now: the kill switch, a crash loop, a failed preflight, a broken journal.</summary>
    Red,
}

/// <summary>An alert for the operator.</summary>
/// <param name="Level">Urgency.</param>
/// <param name="Kind">What happened, a short stable name ("KillSwitch", "BreakerTrip", "Fill", "ConfigChange", "Fallback").</param>
/// <param name="Text">The message, with the values that matter (never a secret).</param>
/// <param name="AtUtc">When (wall clock, UTC).</param>
public sealed record Alert(AlertLevel Level, string Kind, string Text, DateTimeOffset AtUtc);

/// <summary>Where alerts go. Implementations never block and never throw into the caller (trading must not wait on a phone).</summary>
public interface IAlertSink
{
    /// <summary>Queues the alert for delivery; returns at once.</summary>
    void Raise(Alert alert);
}
