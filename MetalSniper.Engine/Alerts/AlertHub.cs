using System.Collections.Concurrent;
using MetalSniper.Persistence.Journal;
using MetalSniper.Core.Alerts;

namespace MetalSniper.Engine.Alerts;

/// <summary>
/// Where every alert of the process goes: journaled, kept for the operator window (the latest 500), logged at
/// a level matching its urgency, and handed to the delivery sink (Telegram when configured). Never blocks and
/// never throws into the caller; a delivery sink that throws is counted and logged.
/// </summary>
public sealed class AlertHub(DecisionJournal journal, TimeProvider wallClock, ILogger<AlertHub> logger) : IAlertSink
{
    private const int Kept = 500;
    private readonly ConcurrentQueue<Alert> _recent = new();
    private IAlertSink? _delivery;
    private long _raised;
    private long _deliveryErrors;

    /// <summary>Describes the broker, account and mode; when set, every alert's text starts with it in brackets (the service).</summary>
    public Func<string>? Identity { get; init; }

    /// <summary>Alerts raised so far.</summary>
    public long Raised => Interlocked.Read(ref _raised);

    /// <summary>Times the delivery sink threw.</summary>
    public long DeliveryErrors => Interlocked.Read(ref _deliveryErrors);

    /// <summary>The delivery sink (null: the log only).</summary>
    public IAlertSink? Delivery => Volatile.Read(ref _delivery);

    /// <summary>Sets where alerts are delivered (Telegram); null for the log only.</summary>
    public void DeliverTo(IAlertSink? sink) => Volatile.Write(ref _delivery, sink);

    /// <summary>The latest alerts, newest first.</summary>
    public IReadOnlyList<Alert> Recent(int count) => [.. _recent.Reverse().Take(count)];

    /// <summary>Raises an alert now (wall-clock time).</summary>
    public void Raise(AlertLevel level, string kind, string text) => Raise(new Alert(level, kind, text, wallClock.GetUtcNow()));

    /// <inheritdoc />
    public void Raise(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        // The log line leaves out the identity prefix: every line of this process's log is of the same broker and mode.
        var logText = alert.Text;
        if (Identity is { } identity && !alert.Text.StartsWith('['))
        {
            alert = alert with { Text = $"[{identity()}] {alert.Text}" };
        }

        var matched = false;
        try
        {
            matched = journal.Append(JournalEntryKind.Alert, alert.Kind, "", alert).Matched;
        }
        catch (InvalidOperationException e)
        {
            // The journal has failed or closed (the host is stopping because of it): the alert still goes out.
            logger.LogError("Alert {Kind} not journaled: {Message}", alert.Kind, e.Message);
        }

        Interlocked.Increment(ref _raised);
        _recent.Enqueue(alert);
        while (_recent.Count > Kept && _recent.TryDequeue(out _))
        {
        }

        if (matched)
        {
            // A resumed run re-executing its history met this alert of an earlier attempt: it was logged and delivered then.
            logger.LogDebug("ALERT {Level} {Kind} (met again while resuming, not re-sent): {Text}", LevelName(alert.Level), alert.Kind, logText);
            return;
        }

        logger.Log(alert.Level switch { AlertLevel.Red => LogLevel.Error, AlertLevel.Yellow => LogLevel.Warning, _ => LogLevel.Information },
            "ALERT {Level} {Kind}: {Text}", LevelName(alert.Level), alert.Kind, logText);

        try
        {
            Delivery?.Raise(alert);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _deliveryErrors);
            logger.LogError(e, "Alert delivery failed for {Kind}", alert.Kind);
        }
    }

    private static string LevelName(AlertLevel level) => level switch { AlertLevel.Red => "RED", AlertLevel.Yellow => "YELLOW", _ => "INFO" };

    /// <summary>A component falls back to a default: journaled as a fallback and raised as a YELLOW alert, never silent.</summary>
    public void Fallback(string component, string what)
    {
        try
        {
            journal.Append(JournalEntryKind.Fallback, component, "", new { component, what });
        }
        catch (InvalidOperationException e)
        {
            logger.LogError("Fallback of {Component} not journaled: {Message}", component, e.Message);
        }

        Raise(AlertLevel.Yellow, "Fallback", $"{component}: {what}");
    }
}
