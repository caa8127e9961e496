using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetalSniper.Operator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MetalSniper.Operator.Tests;

/// <summary>
/// A sendMessage the fake Bot API received. <paramref name="DisableWebPagePreview"/>: link previews were turned off, by
/// <c>link_preview_options.is_disabled</c> (Bot API 7.0+, what Telegram.Bot sends) or the older <c>disable_web_page_preview</c>.
/// <paramref name="At"/> is the arrival time since the server started.
/// </summary>
internal sealed record FakeSend(long ChatId, string Text, bool DisableWebPagePreview, TimeSpan At, int Status);

/// <summary>
/// A fake Telegram Bot API on 127.0.0.1 (Kestrel, dynamic port): records every sendMessage attempt, answers the next N with
/// a scripted error (429 with <c>parameters.retry_after</c> and/or a <c>Retry-After</c> header, 500, …), and serves
/// getUpdates long polls from a scripted list of updates, honouring the offset like Telegram (older updates are forgotten).
/// Like the real Bot API it takes GET or POST, method names in any case, and parameters in the query string, a JSON body or
/// a form body (Telegram.Bot POSTs JSON).
/// </summary>
internal sealed class FakeTelegramServer : IAsyncDisposable
{
    private readonly string _token;
    private readonly WebApplication _app;
    private readonly long _start = TimeProvider.System.GetTimestamp();
    private readonly Lock _gate = new();
    private readonly List<FakeSend> _attempts = [];
    private readonly Queue<(int Status, int? RetryAfterBody, int? RetryAfterHeader, bool Html)> _sendFailures = new();
    private readonly Queue<(int Status, int? RetryAfterBody)> _pollFailures = new();
    private readonly List<JsonObject> _updates = [];
    private readonly List<(long Offset, TimeSpan At)> _polls = [];
    private readonly CancellationTokenSource _closing = new();
    private long _nextUpdateId = 1000;
    private int _pollsInProgress;
    private int _wrongToken;

    private FakeTelegramServer(string token, WebApplication app)
    {
        _token = token;
        _app = app;
    }

    public string BaseUrl { get; private set; } = "";

    /// <summary>The bot's user id <c>getMe</c> answers (the token's part before the colon in real life).</summary>
    public const long BotId = 424242;

    /// <summary>The bot's username <c>getMe</c> answers: commands addressed <c>/cmd@MetalSniperTestBot</c> are for it.</summary>
    public const string BotUsername = "MetalSniperTestBot";

    /// <summary>Every sendMessage request, failed ones included, in arrival order.</summary>
    public IReadOnlyList<FakeSend> Attempts
    {
        get
        {
            lock (_gate)
            {
                return [.. _attempts];
            }
        }
    }

    /// <summary>The sendMessage requests that were accepted (200).</summary>
    public IReadOnlyList<FakeSend> Messages => [.. Attempts.Where(a => a.Status == 200)];

    /// <summary>The offset of every getUpdates request.</summary>
    public IReadOnlyList<long> PollOffsets => [.. Polls.Select(p => p.Offset)];

    /// <summary>Every getUpdates request: its offset and arrival time (the clock of <see cref="Now"/>).</summary>
    public IReadOnlyList<(long Offset, TimeSpan At)> Polls
    {
        get
        {
            lock (_gate)
            {
                return [.. _polls];
            }
        }
    }

    public int PollsInProgress => Volatile.Read(ref _pollsInProgress);

    public int WrongTokenRequests => Volatile.Read(ref _wrongToken);

    public static async Task<FakeTelegramServer> StartAsync(string token)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeTelegramServer(token, app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return server;
    }

    /// <summary>A base URL where nothing listens (connection refused).</summary>
    public static string ClosedPortUrl()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}");
    }

    /// <summary>
    /// The next <paramref name="count"/> sendMessage calls answer <paramref name="status"/>: the Bot API's JSON error, or with
    /// <paramref name="html"/> an HTML page (what a reverse proxy or a load balancer in front of Telegram answers).
    /// </summary>
    public void FailSends(int count, int status, int? retryAfterBody = null, int? retryAfterHeader = null, bool html = false)
    {
        lock (_gate)
        {
            for (var i = 0; i < count; i++)
            {
                _sendFailures.Enqueue((status, retryAfterBody, retryAfterHeader, html));
            }
        }
    }

    /// <summary>The next <paramref name="count"/> getUpdates calls answer <paramref name="status"/> (with <c>parameters.retry_after</c> if given).</summary>
    public void FailPolls(int count, int status, int? retryAfterBody = null)
    {
        lock (_gate)
        {
            for (var i = 0; i < count; i++)
            {
                _pollFailures.Enqueue((status, retryAfterBody));
            }
        }
    }

    /// <summary>Scripts a text message from <paramref name="userId"/> in <paramref name="chatId"/>; returns its update id.</summary>
    public long AddMessage(long userId, long chatId, string text, DateTimeOffset? date = null)
    {
        lock (_gate)
        {
            var id = _nextUpdateId++;
            _updates.Add(new JsonObject
            {
                ["update_id"] = id,
                ["message"] = new JsonObject
                {
                    ["message_id"] = id * 10,
                    ["from"] = new JsonObject { ["id"] = userId, ["is_bot"] = false, ["first_name"] = "Op" },
                    ["chat"] = new JsonObject { ["id"] = chatId, ["type"] = chatId > 0 ? "private" : "group" },
                    ["date"] = (date ?? TimeProvider.System.GetUtcNow()).ToUnixTimeSeconds(),
                    ["text"] = text,
                },
            });
            return id;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _closing.Dispose();
    }

    /// <summary>Time since the server started (the clock of <see cref="FakeSend.At"/>).</summary>
    public TimeSpan Now => TimeProvider.System.GetElapsedTime(_start);

    private static async Task WriteJsonAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }

    private static JsonObject Error(int status, int? retryAfter)
    {
        var error = new JsonObject { ["ok"] = false, ["error_code"] = status, ["description"] = status == 429 ? "Too Many Requests" : "Internal Server Error" };
        if (retryAfter is { } seconds)
        {
            error["parameters"] = new JsonObject { ["retry_after"] = seconds };
        }

        return error;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        var prefix = "/bot" + _token + "/";
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _wrongToken);
            await WriteJsonAsync(context, 401, new JsonObject { ["ok"] = false, ["error_code"] = 401, ["description"] = "Unauthorized" });
            return;
        }

        if (context.Request.Method is not ("GET" or "POST"))
        {
            await WriteJsonAsync(context, 405, new JsonObject { ["ok"] = false, ["error_code"] = 405, ["description"] = "Method Not Allowed" });
            return;
        }

        JsonObject parameters;
        try
        {
            parameters = await ParametersAsync(context.Request);
        }
        catch (JsonException)
        {
            await WriteJsonAsync(context, 400, new JsonObject { ["ok"] = false, ["error_code"] = 400, ["description"] = "Bad Request: can't parse JSON" });
            return;
        }

        switch (path[prefix.Length..].ToUpperInvariant())
        {
            case "SENDMESSAGE":
                await SendMessageAsync(context, parameters);
                break;
            case "GETUPDATES":
                await GetUpdatesAsync(context, parameters);
                break;
            case "GETME":
                await WriteJsonAsync(context, 200, new JsonObject
                {
                    ["ok"] = true,
                    ["result"] = new JsonObject { ["id"] = BotId, ["is_bot"] = true, ["first_name"] = "MetalSniper", ["username"] = BotUsername },
                });
                break;
            default:
                await WriteJsonAsync(context, 404, new JsonObject { ["ok"] = false, ["error_code"] = 404, ["description"] = "Not Found" });
                break;
        }
    }

    /// <summary>The call's parameters, as Telegram reads them: the query string, then a JSON or form body.</summary>
    private static async Task<JsonObject> ParametersAsync(HttpRequest request)
    {
        var parameters = new JsonObject();
        foreach (var (key, value) in request.Query)
        {
            parameters[key] = value.ToString();
        }

        if (request.HasJsonContentType())
        {
            if (await JsonNode.ParseAsync(request.Body) is not JsonObject body)
            {
                throw new JsonException("the body is not a JSON object");
            }

            foreach (var (key, value) in body.ToList())
            {
                body.Remove(key);
                parameters[key] = value;
            }
        }
        else if (request.HasFormContentType)
        {
            foreach (var (key, value) in await request.ReadFormAsync())
            {
                parameters[key] = value.ToString();
            }
        }

        return parameters;
    }

    /// <summary>A parameter that may come as a JSON value or as text (query string, form).</summary>
    private static JsonNode? Parameter(JsonObject parameters, string name) =>
        parameters[name] is JsonValue value && value.TryGetValue<string>(out var text) && (text.StartsWith('{') || text.StartsWith('['))
            ? JsonNode.Parse(text)
            : parameters[name];

    private static long? Long(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<long>(out var n) => n,
        JsonValue v when v.TryGetValue<string>(out var text) && long.TryParse(text, CultureInfo.InvariantCulture, out var n) => n,
        _ => null,
    };

    private static bool Bool(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<string>(out var text) => bool.TryParse(text, out var b) && b,
        _ => false,
    };

    private async Task SendMessageAsync(HttpContext context, JsonObject parameters)
    {
        var at = Now;
        if (Long(parameters["chat_id"]) is not { } chatId || parameters["text"]?.ToString() is not { Length: > 0 } text)
        {
            await WriteJsonAsync(context, 400, new JsonObject { ["ok"] = false, ["error_code"] = 400, ["description"] = "Bad Request: chat_id and text are required" });
            return;
        }

        var noPreview = Bool(Parameter(parameters, "link_preview_options")?["is_disabled"]) || Bool(parameters["disable_web_page_preview"]);
        (int Status, int? RetryAfterBody, int? RetryAfterHeader, bool Html)? failure = null;
        int messageId;
        lock (_gate)
        {
            if (_sendFailures.Count > 0)
            {
                failure = _sendFailures.Dequeue();
            }

            _attempts.Add(new FakeSend(chatId, text, noPreview, at, failure?.Status ?? 200));
            messageId = _attempts.Count;
        }

        if (failure is { } f)
        {
            if (f.RetryAfterHeader is { } header)
            {
                context.Response.Headers.RetryAfter = header.ToString(CultureInfo.InvariantCulture);
            }

            if (f.Html)
            {
                context.Response.StatusCode = f.Status;
                context.Response.ContentType = "text/html";
                await context.Response.WriteAsync("<html><body><h1>502 Bad Gateway</h1></body></html>");
                return;
            }

            await WriteJsonAsync(context, f.Status, Error(f.Status, f.RetryAfterBody));
            return;
        }

        await WriteJsonAsync(context, 200, new JsonObject
        {
            ["ok"] = true,
            ["result"] = new JsonObject
            {
                ["message_id"] = messageId,
                ["from"] = new JsonObject { ["id"] = 123456, ["is_bot"] = true, ["first_name"] = "MetalSniper", ["username"] = "MetalSniperBot" },
                ["chat"] = new JsonObject { ["id"] = chatId, ["type"] = chatId > 0 ? "private" : "group" },
                ["date"] = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds(),
                ["text"] = text,
            },
        });
    }

    private async Task GetUpdatesAsync(HttpContext context, JsonObject parameters)
    {
        // Like Telegram: no offset is offset 0, no timeout is a short poll.
        var offset = Long(parameters["offset"]) ?? 0;
        var timeout = TimeSpan.FromSeconds(Long(parameters["timeout"]) ?? 0);
        (int Status, int? RetryAfterBody)? failure = null;
        lock (_gate)
        {
            _polls.Add((offset, Now));
            if (_pollFailures.Count > 0)
            {
                failure = _pollFailures.Dequeue();
            }

            // Like Telegram: an offset confirms every update before it.
            _updates.RemoveAll(u => u["update_id"]!.GetValue<long>() < offset);
        }

        if (failure is { } f)
        {
            await WriteJsonAsync(context, f.Status, Error(f.Status, f.RetryAfterBody));
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _closing.Token);
        var deadline = Now + timeout;
        Interlocked.Increment(ref _pollsInProgress);
        try
        {
            while (true)
            {
                JsonArray result;
                lock (_gate)
                {
                    result = [.. _updates.Select(u => u.DeepClone())];
                }

                if (result.Count > 0 || Now >= deadline || stop.IsCancellationRequested)
                {
                    await WriteJsonAsync(context, 200, new JsonObject { ["ok"] = true, ["result"] = result });
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _pollsInProgress);
        }
    }
}

/// <summary>An operator console that records the calls it gets.</summary>
internal sealed class FakeOperatorConsole : IOperatorConsole
{
    public const string Code = "1a2b3c4d";

    public ConcurrentQueue<string> Calls { get; } = new();

    public string StatusText()
    {
        Calls.Enqueue("Status");
        return "Paper · L0 running · P&L +12.50 USD";
    }

    public string PositionsText()
    {
        Calls.Enqueue("Positions");
        return "XAUUSD +2 oz @ 2400.10, P&L +12.50";
    }

    /// <summary>What <see cref="Snapshot"/> answers (the digest's figures).</summary>
    public OperatorSnapshot Figures { get; set; } = new("L0", "USD", 0m, 0m, [], [], []);

    public OperatorSnapshot Snapshot()
    {
        Calls.Enqueue("Snapshot");
        return Figures;
    }

    public OperatorReply Kill(int level, string reason, string source)
    {
        Calls.Enqueue($"Kill({level},{reason},{source})");
        return new OperatorReply(true, $"Kill switch at L{level}: {reason}");
    }

    public OperatorReply Resume(string? confirmation, string reason, string source)
    {
        Calls.Enqueue($"Resume({confirmation ?? "null"},{reason},{source})");
        return confirmation is null
            ? new OperatorReply(false, $"L2 since 10:00 (test). Confirm with /resume {Code}")
            : new OperatorReply(string.Equals(confirmation, Code, StringComparison.OrdinalIgnoreCase), "Resumed: L0");
    }
}

/// <summary>A log entry as a provider sees it: the formatted line and the structured values.</summary>
internal sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Message, string? Exception, IReadOnlyList<KeyValuePair<string, object?>> Values)
{
    public object? Value(string name) => Values.FirstOrDefault(v => v.Key == name).Value;

    /// <summary>Everything of the entry that could reach a sink, as one string.</summary>
    public string Everything => $"{Category} {Level} {EventId} {Message} {Exception} {string.Join(" ", Values.Select(v => $"{v.Key}={v.Value}"))}";
}

/// <summary>A real logger factory whose one provider keeps every entry.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ILoggerFactory _factory;

    public CapturingLoggerProvider()
    {
        _factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(this));
    }

    public ConcurrentQueue<CapturedLog> Entries { get; } = new();

    public ILogger<T> Logger<T>() => new Logger<T>(_factory);

    public IEnumerable<CapturedLog> WithEvent(int eventId) => Entries.Where(e => e.EventId.Id == eventId);

    public ILogger CreateLogger(string categoryName) => new Capturing(this, categoryName);

    public void Dispose()
    {
        // The factory disposes its providers (this one): nothing more to release.
    }

    public void DisposeFactory() => _factory.Dispose();

    private sealed class Capturing(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            owner.Entries.Enqueue(new CapturedLog(category, logLevel, eventId, formatter(state, exception), exception?.ToString(), [.. values]));
        }
    }
}
