using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using MetalSniper.Engine.Pipeline;
using Telegram.Bot;
using Telegram.Bot.Args;
using Telegram.Bot.Exceptions;
using Telegram.Bot.Types;

namespace MetalSniper.Operator.Telegram;

/// <summary>
/// A thin wrapper over Telegram.Bot's <see cref="TelegramBotClient"/> for the two calls the notifier and the command poller
/// make (<c>sendMessage</c>, <c>getUpdates</c>). It adds what the library leaves to its caller: a deadline per call on the wall
/// clock, an <see cref="HttpClient"/> it owns (no client-wide timeout, no logging handler), the library's own 429 auto-retry
/// switched off (retries are the caller's Polly pipeline, under its rate limit), and the token taken out of everything that
/// could be logged (<see cref="Redact"/>): exceptions it throws carry redacted messages and no inner exception. One instance
/// may serve the notifier and the poller at once.
/// </summary>
/// <remarks>
/// Not built through <c>IHttpClientFactory</c>: its default logging prints request URLs, and the token is part of the path.
/// For the same reason the URL must not be given to a tracing exporter that records <c>url.full</c>.
/// </remarks>
public sealed class TelegramBotConnection : IDisposable
{
    /// <summary>What <see cref="Redact"/> puts in place of the token.</summary>
    public const string RedactedToken = "***";

    /// <summary>Answer time allowed for <c>sendMessage</c>.</summary>
    internal static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Telegram refuses texts over 4096 characters; longer ones are cut to this length.</summary>
    internal const int MaxTextLength = 4000;

    private readonly HttpClient _http;
    private readonly TelegramBotClient? _client;
    private readonly string[] _secrets;
    private readonly TimeProvider _clock;

    // The Retry-After header of the answer to the call in progress on this async flow (the library reads only the body).
    private readonly AsyncLocal<ResponseNote?> _note = new();

    /// <summary>Creates the client.</summary>
    /// <param name="options">Validated options.</param>
    /// <param name="token">The bot token (<see cref="TelegramOptions.TokenFromEnvironment"/>); null or blank: nothing is sent; not of the form <c>&lt;bot id&gt;:&lt;secret&gt;</c>: nothing is sent and <see cref="NotConfiguredReason"/> says so.</param>
    /// <param name="clock">The wall clock (timeouts, <c>Retry-After</c> dates) — never the replay clock.</param>
    /// <param name="handler">The HTTP handler (owned and disposed); default a <see cref="SocketsHttpHandler"/> with a 10 s connect timeout.</param>
    public TelegramBotConnection(TelegramOptions options, string? token, WallClock clock, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clock);
        Options = options;
        var cleaned = TelegramOptions.CleanToken(token);
        _secrets = Secrets(cleaned);
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

        if (cleaned is null)
        {
            NotConfiguredReason = options.Enabled ? $"{TelegramOptions.TokenVariable} is not set" : "Telegram:Enabled is false";
            return;
        }

        TelegramBotClientOptions clientOptions;
        try
        {
            clientOptions = new TelegramBotClientOptions(cleaned, options.BaseUrl)
            {
                // The library would wait out a 429 itself (up to 60 s, 3 times, on the system clock, outside the rate limit).
                RetryThreshold = 0,
                RetryCount = 0,
            };
        }
        catch (ArgumentException)
        {
            // The library checks the "<bot id>:<secret>" shape; its message does not hold the token, but it is not logged anyway.
            NotConfiguredReason = $"{TelegramOptions.TokenVariable} is not a bot token (<bot id>:<secret>)";
            return;
        }

        _client = new TelegramBotClient(clientOptions, _http);
        _client.OnApiResponseReceived += OnResponseAsync;
        HasToken = true;
        if (!options.Enabled)
        {
            NotConfiguredReason = "Telegram:Enabled is false";
        }
    }

    /// <summary>The options this client was built with.</summary>
    public TelegramOptions Options { get; }

    /// <summary>Whether a well-formed token was given.</summary>
    public bool HasToken { get; }

    /// <summary>Whether Telegram is in use: <see cref="TelegramOptions.Enabled"/> and a well-formed token.</summary>
    public bool IsConfigured => NotConfiguredReason is null;

    /// <summary>Why Telegram is not in use ("Telegram:Enabled is false", "TELEGRAM_BOT_TOKEN is not set", a malformed token); null when it is.</summary>
    public string? NotConfiguredReason { get; }

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

    /// <summary>
    /// One line for a failed call, redacted: "Bot API error 429: Too Many Requests" for an error answer, the message of the
    /// exceptions this type throws (already one redacted line), else <see cref="Describe"/>.
    /// </summary>
    /// <param name="exception">What a call threw.</param>
    internal string ErrorText(Exception exception) => exception switch
    {
        ApiRequestException e => Redact(string.Create(CultureInfo.InvariantCulture, $"Bot API error {e.ErrorCode}: {e.Message}")),
        HttpRequestException or TimeoutException => Redact(exception.Message),
        _ => Describe(exception),
    };

    /// <summary>Worth another attempt: no answer (network, timeout), or Telegram answered 429 or 5xx.</summary>
    /// <param name="exception">What a call threw.</param>
    internal static bool IsTransient(Exception? exception) => exception switch
    {
        HttpRequestException or TimeoutException => true,
        ApiRequestException { ErrorCode: 429 or >= 500 } => true,
        _ => false,
    };

    /// <summary>How long Telegram asks to wait before the next call: the <c>retry_after</c> of a 429 (the body's <c>parameters</c>, else the <c>Retry-After</c> header); null otherwise.</summary>
    /// <param name="exception">What a call threw.</param>
    internal static TimeSpan? RetryAfter(Exception? exception) =>
        exception is ApiRequestException { ErrorCode: 429, Parameters.RetryAfter: { } seconds } && seconds >= 0 ? TimeSpan.FromSeconds(seconds) : null;

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary><c>sendMessage</c> (plain text, no link previews), the text cut to <see cref="MaxTextLength"/>.</summary>
    /// <exception cref="ApiRequestException">Telegram answered with an error (redacted message, no inner exception; a 429 carries <c>retry_after</c> in <see cref="ApiRequestException.Parameters"/>).</exception>
    /// <exception cref="HttpRequestException">Network failure (redacted message).</exception>
    /// <exception cref="TimeoutException">No answer within <see cref="SendTimeout"/>.</exception>
    internal Task<Message> SendMessageAsync(long chatId, string text, CancellationToken cancellationToken) =>
        CallAsync("sendMessage", SendTimeout, (client, token) => client.SendMessage(chatId, Truncate(text), linkPreviewOptions: LinkPreviewOptions.Disabled, cancellationToken: token), cancellationToken);

    /// <summary><c>getMe</c>: the bot's own user (its username tells which addressed commands, <c>/cmd@Name</c>, are for it).</summary>
    /// <exception cref="ApiRequestException">Telegram answered with an error (redacted message, no inner exception).</exception>
    /// <exception cref="HttpRequestException">Network failure (redacted message).</exception>
    internal Task<User> GetMeAsync(CancellationToken cancellationToken) =>
        CallAsync("getMe", SendTimeout, (client, token) => client.GetMe(token), cancellationToken);

    /// <summary><c>getUpdates</c> from <paramref name="offset"/>: a long poll of <see cref="TelegramOptions.PollTimeoutSeconds"/>.</summary>
    /// <exception cref="ApiRequestException">Telegram answered with an error (redacted message, no inner exception).</exception>
    /// <exception cref="HttpRequestException">Network failure (redacted message).</exception>
    /// <exception cref="TimeoutException">No answer 10 s after the long-poll timeout.</exception>
    internal Task<Update[]> GetUpdatesAsync(int offset, CancellationToken cancellationToken)
    {
        var timeout = Options.PollTimeoutSeconds;
        return CallAsync("getUpdates", TimeSpan.FromSeconds(timeout + 10), (client, token) => client.GetUpdates(offset, timeout: timeout, cancellationToken: token), cancellationToken);
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

    /// <summary>Notes the <c>Retry-After</c> header for the call in progress on this async flow.</summary>
    private ValueTask OnResponseAsync(ITelegramBotClient client, ApiResponseEventArgs args, CancellationToken cancellationToken)
    {
        if (_note.Value is { } note)
        {
            note.RetryAfter = args.ResponseMessage.Headers.RetryAfter;
        }

        return ValueTask.CompletedTask;
    }

    private async Task<T> CallAsync<T>(string method, TimeSpan timeout, Func<TelegramBotClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var client = _client ?? throw new InvalidOperationException($"Telegram {method}: no usable bot token ({NotConfiguredReason}): nothing can be sent");
        using var deadline = new CancellationTokenSource(timeout, _clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var note = new ResponseNote();
        _note.Value = note;
        try
        {
            return await call(client, linked.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (linked.IsCancellationRequested && e is OperationCanceledException or RequestException)
        {
            // The library wraps a cancellation while it reads the body in a RequestException: either way, whose token was it?
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"Telegram {method} got no answer within {timeout.TotalSeconds:0.###} s"));
        }
        catch (ApiRequestException e)
        {
            // Telegram's error answer. Rebuilt without the inner exception, the message redacted, and a 429 without
            // parameters.retry_after given the Retry-After header's wait instead (the body first, as Telegram documents).
            var parameters = e.Parameters;
            if (e.ErrorCode == 429 && parameters?.RetryAfter is null && HeaderWait(note.RetryAfter) is { } wait)
            {
                parameters = new ResponseParameters { MigrateToChatId = parameters?.MigrateToChatId, RetryAfter = wait };
            }

            throw new ApiRequestException(Redact(e.Message), e.ErrorCode, parameters);
        }
        catch (RequestException e) when (e.HttpStatusCode is { } status)
        {
            // An answer that is not the Bot API's JSON (a proxy's HTML error page, a cut body): an error with the HTTP status as its code.
            throw new ApiRequestException(Redact(string.Create(CultureInfo.InvariantCulture, $"unreadable answer, HTTP {(int)status} ({Describe(e)})")), (int)status);
        }
        catch (RequestException e) when (e.InnerException is TaskCanceledException)
        {
            // The HttpClient's own timeout (it has none here; kept in case a handler adds one).
            throw new TimeoutException($"Telegram {method} timed out: {Describe(e)}");
        }
        catch (RequestException e)
        {
            // No answer: connection refused, reset, DNS, TLS. The message may hold the URL; the inner exception is left out for the same reason.
            var inner = e.InnerException ?? e;
            throw new HttpRequestException((inner as HttpRequestException)?.HttpRequestError ?? HttpRequestError.Unknown,
                $"Telegram {method} failed: {Describe(inner)}", null, (inner as HttpRequestException)?.StatusCode);
        }
    }

    /// <summary>The <c>Retry-After</c> header in whole seconds (rounded up), a date counted from the wall clock; null if absent.</summary>
    private int? HeaderWait(RetryConditionHeaderValue? header)
    {
        var wait = header switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - _clock.GetUtcNow(),
            _ => (TimeSpan?)null,
        };
        return wait is { } w ? (int)Math.Ceiling(Math.Clamp(w.TotalSeconds, 0, int.MaxValue)) : null;
    }

    private sealed class ResponseNote
    {
        public RetryConditionHeaderValue? RetryAfter { get; set; }
    }
}
