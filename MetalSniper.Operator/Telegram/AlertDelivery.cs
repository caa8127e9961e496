using MetalSniper.Engine.Alerts;
namespace MetalSniper.Operator.Telegram;

/// <summary>
/// Connects the alert hub to Telegram at start: when Telegram is enabled and a token is in the environment,
/// every alert is also delivered there; enabled without a usable token (unset, or not of the form
/// <c>&lt;bot id&gt;:&lt;secret&gt;</c>) is a fallback (alerts go to the log), said loudly; disabled is the configured choice (the log).
/// </summary>
public sealed class AlertDelivery(AlertHub hub, TelegramBotConnection api, TelegramNotifier notifier, ILogger<AlertDelivery> logger) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (api.IsConfigured)
        {
            hub.DeliverTo(notifier);
            logger.LogInformation("Alerts go to Telegram chat {ChatId} (and the log)", api.Options.ChatId);
        }
        else if (api.Options.Enabled)
        {
            hub.Fallback("alerts", $"Telegram is enabled but {api.NotConfiguredReason}: alerts go to the log only, Telegram commands are off");
        }
        else
        {
            logger.LogInformation("Telegram is disabled (Telegram:Enabled); alerts go to the log");
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken)
    {
        hub.DeliverTo(null);
        return Task.CompletedTask;
    }
}
