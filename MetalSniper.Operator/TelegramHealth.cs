using System.Globalization;

namespace MetalSniper.Operator;

/// <summary>Where the phone's health comes from (the Telegram notifier); the console and the window read it through this.</summary>
public interface ITelegramHealth
{
    /// <summary>The phone's health now.</summary>
    TelegramHealth Health();
}

/// <summary>
/// The phone's health as the operator window, the status API (object <c>telegram</c>), the CLI and the dashboard show it
/// (see <c>Telegram.TelegramNotifier.Health</c> for what healthy means).
/// </summary>
/// <param name="Enabled">Telegram:Enabled.</param>
/// <param name="Healthy">Messages get through (or Telegram is disabled).</param>
/// <param name="Queued">Alerts waiting.</param>
/// <param name="Dropped">Alerts dropped since the start (full queue, or left at a stop).</param>
/// <param name="LastSentUtc">When Telegram last accepted a message (UTC); null before the first.</param>
/// <param name="LastError">The last delivery error, redacted; null if none.</param>
public sealed record TelegramHealth(bool Enabled, bool Healthy, int Queued, long Dropped, DateTimeOffset? LastSentUtc, string? LastError)
{
    /// <summary>One line for the CLI and the Telegram <c>/status</c>: "telegram: healthy, 0 queued, 0 dropped, last sent 14:00:03 UTC".</summary>
    public string Describe()
    {
        if (!Enabled)
        {
            return "telegram: disabled (alerts to the log)";
        }

        var inv = CultureInfo.InvariantCulture;
        var sent = LastSentUtc is { } s ? s.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", inv) + " UTC" : "never";
        return string.Create(inv, $"telegram: {(Healthy ? "healthy" : "DEGRADED")}, {Queued} queued, {Dropped} dropped, last sent {sent}{(LastError is { } e ? "; last error: " + e : "")}");
    }
}

