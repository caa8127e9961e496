using MetalSniper.Core.Alerts;
namespace MetalSniper.Operator.Telegram;

/// <summary>
/// The Telegram notifier's and poller's log events (stable templates and event ids). Every text argument that could hold the
/// token has been through <see cref="TelegramBotConnection.Redact"/>; exceptions are passed as redacted text, never as objects.
/// </summary>
internal static partial class TelegramLog
{
    // Notifier: 7100–7119.
    [LoggerMessage(EventId = 7100, Message = "Alert {Level} {Kind}: {Text}")]
    public static partial void AlertToLog(this ILogger logger, LogLevel logLevel, AlertLevel level, string kind, string text);

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information, Message = "Telegram alerts go to chat {ChatId} at ≤ {MessagesPerSecond} message(s)/s, level ≥ {MinimumLevel}")]
    public static partial void NotifierToTelegram(this ILogger logger, long chatId, double messagesPerSecond, AlertLevel minimumLevel);

    [LoggerMessage(EventId = 7102, Message = "Telegram alerts go to the log: {Why}")]
    public static partial void NotifierToLog(this ILogger logger, LogLevel logLevel, string why);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Warning, Message = "Telegram alert queue full ({Capacity}): dropping the least urgent, oldest alerts until it drains to half")]
    public static partial void QueueFull(this ILogger logger, int capacity);

    [LoggerMessage(EventId = 7104, Level = LogLevel.Information, Message = "Telegram alert queue down to {Queued}: {Dropped} alert(s) dropped while it was full")]
    public static partial void QueueDrained(this ILogger logger, int queued, long dropped);

    [LoggerMessage(EventId = 7105, Level = LogLevel.Debug, Message = "Alert {Level} {Kind} sent to Telegram (attempt {Attempt})")]
    public static partial void AlertSent(this ILogger logger, AlertLevel level, string kind, int attempt);

    [LoggerMessage(EventId = 7106, Level = LogLevel.Information, Message = "Telegram alert {Level} {Kind}: attempt {Attempt} failed ({Error}); retrying in {Delay}")]
    public static partial void AlertRetrying(this ILogger logger, AlertLevel level, string kind, int attempt, string error, TimeSpan delay);

    [LoggerMessage(EventId = 7107, Level = LogLevel.Warning, Message = "Telegram alert {Level} {Kind} not delivered after {Attempts} attempt(s): {Error}")]
    public static partial void AlertFailed(this ILogger logger, AlertLevel level, string kind, int attempts, string error);

    [LoggerMessage(EventId = 7108, Level = LogLevel.Error, Message = "Telegram notifier fault on alert {Level} {Kind}: {Error}")]
    public static partial void NotifierFault(this ILogger logger, AlertLevel level, string kind, string error);

    [LoggerMessage(EventId = 7109, Level = LogLevel.Warning, Message = "Telegram notifier stopped with {Count} alert(s) undelivered ({Red} RED)")]
    public static partial void Undelivered(this ILogger logger, int count, int red);

    [LoggerMessage(EventId = 7110, Level = LogLevel.Error, Message = "Telegram alert queue full of RED alerts ({Capacity}): RED {Kind} dropped: {Text}")]
    public static partial void RedDropped(this ILogger logger, string kind, string text, int capacity);

    [LoggerMessage(EventId = 7111, Level = LogLevel.Debug, Message = "Telegram alert {Level} {Kind} steps aside for a more urgent one (after {Attempts} attempt(s))")]
    public static partial void AlertSteppedAside(this ILogger logger, AlertLevel level, string kind, int attempts);

    [LoggerMessage(EventId = 7112, Level = LogLevel.Information, Message = "Telegram digest every {Interval}")]
    public static partial void DigestStarted(this ILogger logger, TimeSpan interval);

    [LoggerMessage(EventId = 7113, Level = LogLevel.Error, Message = "Telegram digest not built: {Error}")]
    public static partial void DigestFault(this ILogger logger, string error);

    // Command poller: 7120–7139.
    [LoggerMessage(EventId = 7120, Level = LogLevel.Information, Message = "Telegram commands off: {Why}")]
    public static partial void PollerOff(this ILogger logger, string why);

    [LoggerMessage(EventId = 7121, Level = LogLevel.Information, Message = "Telegram commands: long polling ({PollTimeoutSeconds} s) for {AllowedUsers} allowed user(s)")]
    public static partial void PollerStarted(this ILogger logger, int pollTimeoutSeconds, int allowedUsers);

    [LoggerMessage(EventId = 7122, Level = LogLevel.Warning, Message = "Telegram commands: AllowedUserIds is empty, every command will be ignored")]
    public static partial void NoAllowedUsers(this ILogger logger);

    [LoggerMessage(EventId = 7123, Message = "Telegram getUpdates failed ({Failures} in a row): {Error}; next poll in {Delay}")]
    public static partial void PollFailed(this ILogger logger, LogLevel logLevel, int failures, string error, TimeSpan delay);

    [LoggerMessage(EventId = 7124, Level = LogLevel.Information, Message = "Telegram getUpdates works again after {Failures} failure(s)")]
    public static partial void PollRecovered(this ILogger logger, int failures);

    [LoggerMessage(EventId = 7125, Level = LogLevel.Warning, Message = "Telegram command {Command} from user {UserId} refused: not in AllowedUserIds")]
    public static partial void CommandFromStranger(this ILogger logger, string command, long userId);

    [LoggerMessage(EventId = 7126, Level = LogLevel.Information, Message = "Telegram command {Command} addressed to @{Bot}, not to this bot (@{Us}): ignored")]
    public static partial void CommandForAnotherBot(this ILogger logger, string command, string bot, string us);

    [LoggerMessage(EventId = 7127, Level = LogLevel.Information, Message = "Telegram bot is @{Username} (id {Id}): commands addressed to another bot are ignored")]
    public static partial void BotIdentified(this ILogger logger, string username, long id);

    [LoggerMessage(EventId = 7126, Level = LogLevel.Warning, Message = "Telegram command {Command} from user {UserId} not executed: sent {Age} ago (CommandMaxAge {MaxAge})")]
    public static partial void CommandStale(this ILogger logger, string command, long userId, TimeSpan age, TimeSpan maxAge);

    [LoggerMessage(EventId = 7127, Level = LogLevel.Information, Message = "Telegram command {Command} from user {UserId}")]
    public static partial void CommandAccepted(this ILogger logger, string command, long userId);

    [LoggerMessage(EventId = 7128, Level = LogLevel.Warning, Message = "Telegram reply to chat {ChatId} not sent: {Error}")]
    public static partial void ReplyFailed(this ILogger logger, long chatId, string error);

    [LoggerMessage(EventId = 7129, Level = LogLevel.Error, Message = "Telegram command {Command} from user {UserId} failed: {Error}")]
    public static partial void CommandFailed(this ILogger logger, string command, long userId, string error);

    [LoggerMessage(EventId = 7130, Level = LogLevel.Error, Message = "Telegram command poller fault: {Error}")]
    public static partial void PollerFault(this ILogger logger, string error);
}
