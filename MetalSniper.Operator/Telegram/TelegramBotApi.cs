using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MetalSniper.Engine.Pipeline;

namespace MetalSniper.Operator.Telegram;

/// <summary>
/// The two Bot API calls the notifier and the command poller make (<c>sendMessage</c>, <c>getUpdates</c>), over a plain
/// <see cref="HttpClient"/> it owns. It is the only place that puts the bot token into a URL, and the place that takes it
/// out of anything that could be logged (<see cref="Redact"/>): exceptions it throws carry redacted messages and no inner
/// exception. One instance may serve the notifier and the poller at once.
/// </summary>
/// <remarks>
/// Not built through <c>IHttpClientFactory</c>: its default logging prints request URLs, and the token is part of the path.
/// For the same reason the URL must not be given to a tracing exporter that records <c>url.full</c>.
/// </remarks>
public sealed class TelegramBotApi : IDisposable
{
    /// <summary>What <see cref="Redact"/> puts in place of the token.</summary>
    public const string RedactedToken = "***";

    /// <summary>Answer time allowed for <c>sendMessage</c>.</summary>
    internal static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Telegram refuses texts over 4096 characters; longer ones are cut to this length.</summary>
    internal const int MaxTextLength = 4000;

    private readonly HttpClient _http;
    private readonly string? _token;
    private readonly string[] _secrets;
    private readonly string _baseUrl;
    private readonly TimeProvider _clock;

    /// <summary>Creates the client.</summary>
    /// <param name="options">Validated options.</param>
    /// <param name="token">The bot token (<see cref="TelegramOptions.TokenFromEnvironment"/>); null or blank: nothing is sent.</param>
    /// <param name="clock">The wall clock (timeouts, <c>Retry-After</c> dates) — never the replay clock.</param>
    /// <param name="handler">The HTTP handler (owned and disposed); default a <see cref="SocketsHttpHandler"/> with a 10 s connect timeout.</param>
    public TelegramBotApi(TelegramOptions options, string? token, WallClock clock, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        Options = options;
        _token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
        _secrets = Secrets(_token);
        _baseUrl = options.BaseUrl.TrimEnd('/');
        _clock = clock.Provider;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        }, disposeHandler: true)
        {
            // Each call has its own deadline (long polls last PollTimeoutSeconds).
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The options this client was built with.</summary>
    public TelegramOptions Options { get; }

    /// <summary>Whether a token was given.</summary>
    public bool HasToken => _token is not null;

    /// <summary>Whether Telegram is in use: <see cref="TelegramOptions.Enabled"/> and a token.</summary>
    public bool IsConfigured => Options.Enabled && HasToken;

    /// <summary>
    /// <paramref name="text"/> with the token — whole, or its secret part after the colon, raw or URL-escaped — replaced by
    /// <see cref="RedactedToken"/>. Use it on anything about Telegram that is logged, stored or shown.
    /// </summary>
    /// <param name="text">Any text; null gives "".</param>
    public string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }

        foreach (var secret in _secrets)
        {
            text = text.Replace(secret, RedactedToken, StringComparison.OrdinalIgnoreCase);
        }

        return text;
    }

    /// <summary>An exception as "Type: message → Inner: message", redacted; for logs (exceptions are never logged as objects here).</summary>
    /// <param name="exception">The exception.</param>
    public string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var text = new StringBuilder();
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (text.Length > 0)
            {
                text.Append(" → ");
            }

            text.Append(e.GetType().Name).Append(": ").Append(e.Message);
        }

        return Redact(text.ToString());
    }

    /// <summary>The stack trace of <paramref name="exception"/> and its inner ones, redacted (for faults that are bugs).</summary>
    /// <param name="exception">The exception.</param>
    internal string DescribeWithStack(Exception exception) => Redact(exception.ToString());

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary><c>POST sendMessage</c> (plain text, no link previews).</summary>
    /// <exception cref="HttpRequestException">Network failure (redacted message).</exception>
    /// <exception cref="TimeoutException">No answer within <see cref="SendTimeout"/>.</exception>
    internal async Task<TelegramCall> SendMessageAsync(long chatId, string text, CancellationToken cancellationToken)
    {
        using var content = JsonContent.Create(new TelegramSendMessage(chatId, Truncate(text), DisableWebPagePreview: true), TelegramJson.Default.TelegramSendMessage);
        var (call, _) = await CallAsync(HttpMethod.Post, "sendMessage", "", content, SendTimeout, TelegramJson.Default.TelegramResponseJsonElement, cancellationToken).ConfigureAwait(false);
        return call;
    }

    /// <summary><c>GET getUpdates?offset=…&amp;timeout=…</c>: a long poll of <see cref="TelegramOptions.PollTimeoutSeconds"/>.</summary>
    /// <exception cref="HttpRequestException">Network failure (redacted message).</exception>
    /// <exception cref="TimeoutException">No answer 10 s after the long-poll timeout.</exception>
    internal async Task<(TelegramCall Call, IReadOnlyList<TelegramUpdate> Updates)> GetUpdatesAsync(long offset, CancellationToken cancellationToken)
    {
        var timeout = Options.PollTimeoutSeconds;
        var query = string.Create(CultureInfo.InvariantCulture, $"?offset={offset}&timeout={timeout}");
        var (call, response) = await CallAsync(HttpMethod.Get, "getUpdates", query, null, TimeSpan.FromSeconds(timeout + 10),
            TelegramJson.Default.TelegramResponseListTelegramUpdate, cancellationToken).ConfigureAwait(false);
        return (call, call.Ok && response?.Result is { } updates ? updates : []);
    }

    /// <summary>Cuts a text Telegram would refuse (over 4096 characters) without splitting a surrogate pair.</summary>
    internal static string Truncate(string text)
    {
        if (text.Length <= MaxTextLength)
        {
            return text;
        }

        var cut = MaxTextLength - 1;
        if (char.IsHighSurrogate(text[cut - 1]))
        {
            cut--;
        }

        return string.Concat(text.AsSpan(0, cut), "…");
    }

    private static string[] Secrets(string? token)
    {
        if (token is null)
        {
            return [];
        }

        var secrets = new List<string> { token, Uri.EscapeDataString(token) };
        var colon = token.IndexOf(':', StringComparison.Ordinal);
        var secret = colon >= 0 ? token[(colon + 1)..] : token;
        // The part after the colon is the secret; the bot id before it is public. Redact it alone too (an escaped colon, a split string).
        if (secret.Length >= 8)
        {
            secrets.Add(secret);
            secrets.Add(Uri.EscapeDataString(secret));
        }

        return [.. secrets.Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length)];
    }

    /// <summary>The one place a URL with the token is built.</summary>
    private Uri MethodUri(string method, string query) =>
        new($"{_baseUrl}/bot{_token ?? throw new InvalidOperationException("no Telegram bot token: nothing can be sent")}/{method}{query}", UriKind.Absolute);

    private async Task<(TelegramCall Call, TelegramResponse<T>? Response)> CallAsync<T>(
        HttpMethod method, string apiMethod, string query, HttpContent? content, TimeSpan timeout,
        JsonTypeInfo<TelegramResponse<T>> typeInfo, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, _clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var request = new HttpRequestMessage(method, MethodUri(apiMethod, query)) { Content = content };
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
            TelegramResponse<T>? parsed = null;
            string? unreadable = null;
            try
            {
                parsed = JsonSerializer.Deserialize(body, typeInfo);
            }
            catch (JsonException e)
            {
                unreadable = $"unreadable answer ({e.Message})";
            }

            var status = (int)response.StatusCode;
            var ok = response.IsSuccessStatusCode && parsed?.Ok == true;
            var description = ok ? null : Redact(parsed?.Description ?? unreadable ?? $"HTTP {status} {response.ReasonPhrase}");
            return (new TelegramCall(status, ok, description, RetryAfter(parsed, response)), parsed);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"Telegram {apiMethod} got no answer within {timeout.TotalSeconds:0.###} s"));
        }
        catch (HttpRequestException e)
        {
            // The message may hold the URL; the inner exception is left out for the same reason.
            throw new HttpRequestException(e.HttpRequestError, $"Telegram {apiMethod} failed: {Describe(e)}", null, e.StatusCode);
        }
        catch (IOException e)
        {
            throw new HttpRequestException(HttpRequestError.ResponseEnded, $"Telegram {apiMethod} failed: {Describe(e)}");
        }
    }

    /// <summary><c>parameters.retry_after</c> from the body, else the <c>Retry-After</c> header (seconds or a date).</summary>
    private TimeSpan? RetryAfter<T>(TelegramResponse<T>? parsed, HttpResponseMessage response)
    {
        if (parsed?.Parameters?.RetryAfter is { } seconds and >= 0)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        if (response.Headers.RetryAfter is { } header)
        {
            if (header.Delta is { } delta && delta >= TimeSpan.Zero)
            {
                return delta;
            }

            if (header.Date is { } date)
            {
                var wait = date - _clock.GetUtcNow();
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }
        }

        return null;
    }
}

/// <summary>The outcome of a Bot API call that got an HTTP answer.</summary>
/// <param name="StatusCode">HTTP status.</param>
/// <param name="Ok">2xx and <c>"ok": true</c>.</param>
/// <param name="Description">Telegram's description of the error (redacted); null when ok.</param>
/// <param name="RetryAfter">How long Telegram asks to wait (429): <c>parameters.retry_after</c>, else the <c>Retry-After</c> header.</param>
internal sealed record TelegramCall(int StatusCode, bool Ok, string? Description, TimeSpan? RetryAfter)
{
    /// <summary>Worth another attempt: 5xx or 429.</summary>
    public bool Transient => StatusCode >= 500 || StatusCode == 429;

    /// <summary>"HTTP 429: Too Many Requests: retry after 1".</summary>
    public string Error => string.Create(CultureInfo.InvariantCulture, $"HTTP {StatusCode}: {Description}");
}

internal sealed record TelegramSendMessage(long ChatId, string Text, bool DisableWebPagePreview);

internal sealed record TelegramResponse<T>(bool Ok, T? Result, int? ErrorCode, string? Description, TelegramResponseParameters? Parameters);

internal sealed record TelegramResponseParameters(int? RetryAfter, long? MigrateToChatId);

internal sealed record TelegramUpdate(long UpdateId, TelegramMessage? Message);

internal sealed record TelegramMessage(long MessageId, TelegramUser? From, TelegramChat? Chat, long Date, string? Text);

internal sealed record TelegramUser(long Id, bool IsBot, string? Username);

internal sealed record TelegramChat(long Id, string? Type);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TelegramSendMessage))]
[JsonSerializable(typeof(TelegramResponse<JsonElement>))]
[JsonSerializable(typeof(TelegramResponse<List<TelegramUpdate>>))]
internal sealed partial class TelegramJson : JsonSerializerContext;
