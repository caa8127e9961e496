using System.ComponentModel.DataAnnotations;
using MetalSniper.Core.Alerts;

namespace MetalSniper.Operator.Telegram;

/// <summary>
/// Telegram alerts and operator commands (section <c>Telegram</c>).
/// </summary>
/// <remarks>
/// The bot token is deliberately not an option: a configuration file is copied, committed and attached to
/// tickets. The host reads it from the environment variable <c>TELEGRAM_BOT_TOKEN</c>
/// (<see cref="TokenVariable"/>, <see cref="TokenFromEnvironment"/>); a <c>Token</c> key in the section is an
/// unknown key and fails validation. Without a token, or with <see cref="Enabled"/> false, alerts go to the log
/// and no command is read.
/// </remarks>
public sealed class TelegramOptions : IValidatableObject
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Telegram";

    /// <summary>The environment variable that holds the bot token (<c>123456:ABC…</c> from @BotFather).</summary>
    public const string TokenVariable = "TELEGRAM_BOT_TOKEN";

    /// <summary>Whether alerts go to Telegram and commands are read from it (also needs the token). Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The Bot API root, without the <c>/bot…</c> part. Default <c>https://api.telegram.org</c>; http(s) only, scheme, host and port only (Telegram.Bot drops a path).</summary>
    [Required]
    public string BaseUrl { get; set; } = "https://api.telegram.org";

    /// <summary>The chat alerts go to (a user id for a private chat, a negative id for a group). Required (≠ 0) when <see cref="Enabled"/>.</summary>
    public long ChatId { get; set; }

    /// <summary>The only Telegram user ids (<c>message.from.id</c>) whose commands are obeyed; empty: no command is obeyed. Each &gt; 0.</summary>
    public List<long> AllowedUserIds { get; set; } = [];

    /// <summary>
    /// The least urgent alert sent (Info, Yellow, Red); less urgent ones are counted, not sent, and summarised in the digest
    /// (<see cref="DigestInterval"/>). Default Yellow: fills and other INFO events reach the phone in the digest only.
    /// </summary>
    public AlertLevel MinimumLevel { get; set; } = AlertLevel.Yellow;

    /// <summary>
    /// How often a digest goes to the chat: P&amp;L (realised and unrealised, per currency; day and equity P&amp;L in the base
    /// currency), open positions, and the fills, breaker trips and halts since the previous digest. Sent whatever
    /// <see cref="MinimumLevel"/> says, queued below every YELLOW and RED. Default 1 hour; 0 (<c>00:00:00</c>) turns it off;
    /// otherwise 1 minute–1 day.
    /// </summary>
    public TimeSpan DigestInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Alert messages per second to <see cref="ChatId"/>, retries included (Telegram allows about 1 per chat, 20 per minute in groups). No bursts above the rate, but for a RED: it leaves at once and the messages after it pay its token back. Default 1, range 0.01–30.</summary>
    [Range(0.01, 30.0)]
    public double MessagesPerSecond { get; set; } = 1;

    /// <summary>Long-poll timeout of <c>getUpdates</c> in seconds. Default 25, range 1–50.</summary>
    [Range(1, 50)]
    public int PollTimeoutSeconds { get; set; } = 25;

    /// <summary>Alerts waiting for delivery; when full the least urgent, oldest alert is dropped (counted; a RED only from a queue full of REDs, logged as an error). Default 1000, range 1–1,000,000.</summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 1000;

    /// <summary>Attempts per alert (first try included) on 5xx, 429, network errors and timeouts; then the alert is counted as failed. Default 5, range 1–20.</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>
    /// Median first delay of the exponential, jittered retry backoff, capped at one minute (a 429 waits Telegram's <c>retry_after</c> instead); also the
    /// first delay of the command poller after a failed poll (doubling, capped at one minute). Default 1 s, range 10 ms–1 min.
    /// </summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A command older than this when read (Telegram keeps updates for a day, e.g. while the host was down) is not executed; the sender is asked to send it again. Default 2 minutes, range 1 s–1 day.</summary>
    public TimeSpan CommandMaxAge { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The bot token from <c>TELEGRAM_BOT_TOKEN</c>, trimmed; null when unset or blank.</summary>
    public static string? TokenFromEnvironment() => CleanToken(Environment.GetEnvironmentVariable(TokenVariable));

    /// <summary>The token trimmed; null when null or blank.</summary>
    internal static string? CleanToken(string? raw) => raw?.Trim() is { Length: > 0 } token ? token : null;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            yield return new ValidationResult($"BaseUrl must be an absolute http(s) URL of scheme, host and port only (no path, query or user), was '{BaseUrl}'", [nameof(BaseUrl)]);
        }

        if (Enabled && ChatId == 0)
        {
            yield return new ValidationResult("ChatId must be set (≠ 0) when Telegram is enabled, was 0", [nameof(ChatId)]);
        }

        foreach (var id in AllowedUserIds.Where(id => id <= 0))
        {
            yield return new ValidationResult($"AllowedUserIds are Telegram user ids (> 0), was {id}", [nameof(AllowedUserIds)]);
        }

        if (!Enum.IsDefined(MinimumLevel))
        {
            yield return new ValidationResult($"MinimumLevel must be Info, Yellow or Red, was {MinimumLevel}", [nameof(MinimumLevel)]);
        }

        if (RetryBaseDelay < TimeSpan.FromMilliseconds(10) || RetryBaseDelay > TimeSpan.FromMinutes(1))
        {
            yield return new ValidationResult($"RetryBaseDelay must be within 00:00:00.010–00:01:00, was {RetryBaseDelay}", [nameof(RetryBaseDelay)]);
        }

        if (DigestInterval != TimeSpan.Zero && (DigestInterval < TimeSpan.FromMinutes(1) || DigestInterval > TimeSpan.FromDays(1)))
        {
            yield return new ValidationResult($"DigestInterval must be 00:00:00 (off) or within 00:01:00–1.00:00:00, was {DigestInterval}", [nameof(DigestInterval)]);
        }

        if (CommandMaxAge < TimeSpan.FromSeconds(1) || CommandMaxAge > TimeSpan.FromDays(1))
        {
            yield return new ValidationResult($"CommandMaxAge must be within 00:00:01–1.00:00:00, was {CommandMaxAge}", [nameof(CommandMaxAge)]);
        }
    }
}
