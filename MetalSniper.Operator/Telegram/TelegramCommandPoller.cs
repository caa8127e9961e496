using System.Globalization;
using System.Text;
using MetalSniper.Core.Alerts;
using MetalSniper.Engine.Pipeline;
using Polly;
using Polly.Retry;
using Telegram.Bot.Exceptions;
using Telegram.Bot.Types;

namespace MetalSniper.Operator.Telegram;

/// <summary>
/// Reads operator commands from Telegram by long polling (<c>getUpdates</c>, each poll acknowledging the updates before it)
/// and answers in the chat the command came from. Only users in <see cref="TelegramOptions.AllowedUserIds"/> are obeyed;
/// anyone else is ignored without a reply and logged with the user id and the command name only. A command older than
/// <see cref="TelegramOptions.CommandMaxAge"/> (sent while the host was down) is not executed.
/// <list type="bullet">
/// <item><c>/status</c> → <see cref="IOperatorConsole.StatusText"/>; <c>/positions</c> → <see cref="IOperatorConsole.PositionsText"/>;</item>
/// <item><c>/kill 1|2 [reason…]</c> → <see cref="IOperatorConsole.Kill"/> (reason default "telegram", source <c>operator:telegram:{userId}</c>);</item>
/// <item><c>/resume [reason…]</c> → <see cref="IOperatorConsole.Resume"/> without a code (the answer carries the code);
/// <c>/resume CODE [reason…]</c> with CODE 8 hex digits → with the code;</item>
/// <item>anything else starting with <c>/</c> → a short help text. Plain text is not answered.</item>
/// </list>
/// Poll failures (a network error, a timeout, any error answer: 401 revoked token, 409 another poller, 429, 5xx) back off in a
/// Polly retry pipeline on the wall clock (from <see cref="TelegramOptions.RetryBaseDelay"/>, doubling, capped at a minute; a
/// 429 waits Telegram's <c>retry_after</c>) and never end the loop; cancellation ends it promptly, an open long poll included.
/// </summary>
/// <remarks>Lifecycle: construct, <see cref="StartAsync"/> once (does nothing when Telegram is not configured), <see cref="StopAsync"/> or <see cref="DisposeAsync"/>.</remarks>
public sealed class TelegramCommandPoller : IHostedService, IAsyncDisposable
{
    /// <summary>The answer to an unknown command.</summary>
    internal const string HelpText =
        "Commands:\n" +
        "/status – mode, kill level, connection, P&L\n" +
        "/positions – open positions\n" +
        "/kill 1|2 [reason] – L1 stop entries, L2 flatten all\n" +
        "/resume [reason] – show the state and the confirmation code\n" +
        "/resume CODE [reason] – lower the kill switch to L0";

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);

    private readonly TelegramBotConnection _api;
    private readonly TelegramOptions _options;
    private readonly IOperatorConsole _console;
    private readonly TimeProvider _clock;
    private readonly ILogger<TelegramCommandPoller> _logger;
    private readonly HashSet<long> _allowed;
    private readonly IAlertSink? _alerts;
    private readonly Dictionary<long, DateTimeOffset> _strangerAlerted = [];
    private string? _botUsername;
    private long _otherBot;

    /// <summary>At most one alert per stranger in this time.</summary>
    private static readonly TimeSpan StrangerAlertInterval = TimeSpan.FromHours(1);
    private readonly ResiliencePipeline _pipeline;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Task? _loop;
    private int _disposed;

    private long _offset;
    private int _failuresInRow; // Touched by the poll loop only (the pipeline's OnRetry runs on it).
    private long _polls;
    private long _pollFailures;
    private long _commands;
    private long _ignored;
    private long _stale;
    private volatile string? _lastError;

    /// <summary>Creates the poller; nothing is read before <see cref="StartAsync"/>.</summary>
    /// <param name="api">The Bot API client.</param>
    /// <param name="console">What commands act on.</param>
    /// <param name="clock">The wall clock: backoff, command age (never the replay clock).</param>
    /// <param name="alerts">Where a refused stranger is reported (YELLOW TelegramStranger, one per user an hour); null: the log only.</param>
    /// <param name="logger">Logger.</param>
    public TelegramCommandPoller(TelegramBotConnection api, IOperatorConsole console, WallClock clock, ILogger<TelegramCommandPoller> logger, IAlertSink? alerts = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(logger);
        _api = api;
        _options = api.Options;
        _console = console;
        _clock = clock.Provider;
        _logger = logger;
        _allowed = [.. _options.AllowedUserIds];
        _alerts = alerts;
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }
            .AddRetry(new RetryStrategyOptions
            {
                // Never gives up: the poller is the operator's way in, and a spell offline can last hours.
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = false,
                Delay = _options.RetryBaseDelay,
                MaxDelay = MaxBackoff,
                // Every failure of a poll cycle is retried; only the stop (cancellation) ends it.
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e
                    && !(e is OperationCanceledException && args.Context.CancellationToken.IsCancellationRequested)),
                // A 429 waits what Telegram asks; anything else takes the backoff (null).
                DelayGenerator = args => ValueTask.FromResult(TelegramBotConnection.RetryAfter(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    PollFailed(args.Outcome.Exception!, args.AttemptNumber + 1, args.RetryDelay);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Whether the poll loop is running.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _loop is { IsCompleted: false };
            }
        }
    }

    /// <summary>Polls answered by Telegram (ok or not).</summary>
    public long Polls => Interlocked.Read(ref _polls);

    /// <summary>Polls that failed (network, timeout, an error answer).</summary>
    public long PollFailures => Interlocked.Read(ref _pollFailures);

    /// <summary>Commands from allowed users that were executed (help answers included).</summary>
    public long Commands => Interlocked.Read(ref _commands);

    /// <summary>Commands addressed to another bot (<c>/status@OtherBot</c>), ignored.</summary>
    public long AddressedElsewhere => Interlocked.Read(ref _otherBot);

    /// <summary>The bot's username from <c>getMe</c> (null until the first poll).</summary>
    public string? BotUsername => _botUsername;

    /// <summary>Commands from users not in the allow-list, refused (not executed, not answered; alerted).</summary>
    public long Ignored => Interlocked.Read(ref _ignored);

    /// <summary>Commands from allowed users not executed because they were too old.</summary>
    public long Stale => Interlocked.Read(ref _stale);

    /// <summary>The last poll or reply error (redacted), or null.</summary>
    public string? LastError => _lastError;

    /// <summary>The next <c>getUpdates</c> offset (last update id + 1).</summary>
    internal long Offset => Interlocked.Read(ref _offset);

    /// <summary>Starts the poll loop (once) when Telegram is configured.</summary>
    /// <param name="cancellationToken">Unused: starting does not wait.</param>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_api.IsConfigured)
        {
            _logger.PollerOff(_api.NotConfiguredReason ?? "?");
            return Task.CompletedTask;
        }

        lock (_gate)
        {
            if (_loop is not null || Volatile.Read(ref _disposed) != 0)
            {
                return Task.CompletedTask;
            }

            _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        }

        if (_allowed.Count == 0)
        {
            _logger.NoAllowedUsers();
        }

        _logger.PollerStarted(_options.PollTimeoutSeconds, _allowed.Count);
        return Task.CompletedTask;
    }

    /// <summary>Ends the poll loop (an open long poll is abandoned) and waits for it, up to <paramref name="cancellationToken"/>.</summary>
    /// <param name="cancellationToken">The stop deadline.</param>
    public Task StopAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _disposed) != 0 ? Task.CompletedTask : StopLoopAsync(cancellationToken);

    /// <summary>Ends the poll loop and waits for it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopLoopAsync(CancellationToken.None).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task StopLoopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Task? loop;
        lock (_gate)
        {
            loop = _loop;
        }

        if (loop is not null)
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _pipeline.ExecuteAsync(static (self, token) => self.PollOnceAsync(token), this, stop).ConfigureAwait(false);
                if (_failuresInRow > 0)
                {
                    _logger.PollRecovered(_failuresInRow);
                    _failuresInRow = 0;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The pipeline retries every failure until the stop: reaching here is a bug. Counted, shown, and the loop goes on
                // after a pause so it cannot spin.
                Interlocked.Increment(ref _pollFailures);
                _lastError = _api.Describe(e);
                _logger.PollerFault(_api.DescribeWithStack(e));
                await Task.Delay(MaxBackoff, _clock, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>One <c>getUpdates</c> long poll and the commands it brought; any exception is a failed poll (retried by the pipeline).</summary>
    private async ValueTask PollOnceAsync(CancellationToken stop)
    {
        if (_botUsername is null)
        {
            // Who we are, once: a command addressed to another bot (/status@OtherBot, in a group) must not be obeyed by this one.
            var me = await _api.GetMeAsync(stop).ConfigureAwait(false);
            _botUsername = me.Username ?? throw new InvalidOperationException("getMe answered a bot without a username");
            _logger.BotIdentified(_botUsername, me.Id);
        }

        Update[] updates;
        try
        {
            updates = await _api.GetUpdatesAsync(checked((int)Interlocked.Read(ref _offset)), stop).ConfigureAwait(false);
        }
        catch (ApiRequestException)
        {
            Interlocked.Increment(ref _polls); // Answered, with an error.
            throw;
        }

        Interlocked.Increment(ref _polls);
        await HandleAsync(updates, stop).ConfigureAwait(false);
    }

    private void PollFailed(Exception exception, int failures, TimeSpan wait)
    {
        _failuresInRow = failures;
        Interlocked.Increment(ref _pollFailures);
        if (exception is not (ApiRequestException or HttpRequestException or TimeoutException))
        {
            // Not the network nor Telegram: a bug here (handling the updates) or in the library. Logged with its stack.
            _logger.PollerFault(_api.DescribeWithStack(exception));
        }

        _lastError = _api.ErrorText(exception);
        // The first failure of a spell is a warning; the rest of the spell (possibly hours offline) stays at debug.
        _logger.PollFailed(failures == 1 ? LogLevel.Warning : LogLevel.Debug, failures, _lastError, wait);
    }

    private async Task HandleAsync(Update[] updates, CancellationToken stop)
    {
        foreach (var update in updates.OrderBy(u => u.Id))
        {
            if (update.Id < Interlocked.Read(ref _offset))
            {
                continue; // Already handled: acknowledged by the offset, sent again anyway.
            }

            // Acknowledged by the next poll whatever happens below: a command that fails is not executed twice.
            Interlocked.Exchange(ref _offset, update.Id + 1L);
            if (update.Message is not { From: { } from, Chat: { } chat, Text: { } text } message || !text.StartsWith('/'))
            {
                continue;
            }

            var command = CommandName(text);
            if (AddressedTo(text) is { } bot && !string.Equals(bot, _botUsername, StringComparison.OrdinalIgnoreCase))
            {
                Interlocked.Increment(ref _otherBot);
                _logger.CommandForAnotherBot(command, bot, _botUsername ?? "?");
                continue;
            }

            if (!_allowed.Contains(from.Id))
            {
                // Refused without an answer (a stranger learns nothing, not even that the bot is alive), and the operator is told:
                // one YELLOW alert per user an hour, the attempts counted.
                Interlocked.Increment(ref _ignored);
                _logger.CommandFromStranger(command, from.Id);
                var now = _clock.GetUtcNow();
                if (_alerts is not null && (!_strangerAlerted.TryGetValue(from.Id, out var last) || now - last >= StrangerAlertInterval))
                {
                    _strangerAlerted[from.Id] = now;
                    _alerts.Raise(new Alert(AlertLevel.Yellow, "TelegramStranger", string.Create(CultureInfo.InvariantCulture,
                        $"Telegram command {command} from user {from.Id}{(from.Username is { } u ? " (@" + Sanitize(u) + ")" : "")} refused: not in Telegram:AllowedUserIds ({Interlocked.Read(ref _ignored)} refused so far)"), now));
                }

                continue;
            }

            string reply;
            var age = _clock.GetUtcNow() - new DateTimeOffset(DateTime.SpecifyKind(message.Date, DateTimeKind.Utc));
            if (age > _options.CommandMaxAge)
            {
                Interlocked.Increment(ref _stale);
                _logger.CommandStale(command, from.Id, age, _options.CommandMaxAge);
                reply = string.Create(CultureInfo.InvariantCulture,
                    $"Ignored {command}: sent {age.TotalMinutes:0.#} min ago, older than {_options.CommandMaxAge.TotalMinutes:0.#} min. Send it again.");
            }
            else
            {
                _logger.CommandAccepted(command, from.Id);
                try
                {
                    reply = Execute(command, text, from.Id);
                    Interlocked.Increment(ref _commands);
                }
                catch (Exception e)
                {
                    // The console says why it refuses; an exception is a bug there. The operator is told, the loop goes on.
                    _logger.CommandFailed(command, from.Id, _api.DescribeWithStack(e));
                    reply = $"{command} failed: {e.GetType().Name} (see the log).";
                }
            }

            await ReplyAsync(chat.Id, reply, stop).ConfigureAwait(false);
        }
    }

    private string Execute(string command, string text, long userId)
    {
        var args = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1..];
        var source = string.Create(CultureInfo.InvariantCulture, $"operator:telegram:{userId}");
        switch (command)
        {
            case "/status":
                return _console.StatusText();
            case "/positions":
                return _console.PositionsText();
            case "/kill" when args.Length > 0 && args[0] is "1" or "2":
                return Answer(_console.Kill(args[0] == "1" ? 1 : 2, Reason(args[1..]), source));
            case "/kill":
                return "Usage: /kill 1|2 [reason] – 1 stops entries, 2 flattens everything.";
            case "/resume" when args.Length > 0 && IsConfirmationCode(args[0]):
                return Answer(_console.Resume(args[0], Reason(args[1..]), source));
            case "/resume":
                // Nothing is done yet (Ok is false): the text is the state and the code to confirm with, not a refusal.
                return _console.Resume(null, Reason(args), source).Text;
            case "/help" or "/start":
                return HelpText;
            default:
                return $"Unknown command {command}.\n{HelpText}";
        }
    }

    private static string Answer(OperatorReply reply) => reply.Ok ? reply.Text : "⛔ " + reply.Text;

    private static string Reason(string[] words) => words.Length == 0 ? "telegram" : string.Join(' ', words);

    /// <summary>8 hex digits.</summary>
    internal static bool IsConfirmationCode(string word) => word.Length == 8 && word.All(char.IsAsciiHexDigit);

    /// <summary>"/kill@OtherBot 2" → "OtherBot"; null when the command names no bot (at most 64 safe characters).</summary>
    internal static string? AddressedTo(string text)
    {
        var end = 0;
        while (end < text.Length && !char.IsWhiteSpace(text[end]))
        {
            end++;
        }

        var at = text.IndexOf('@', 0, end);
        return at < 0 ? null : Sanitize(text[(at + 1)..end]);
    }

    /// <summary>At most 64 characters of letters, digits and '_' (anything else '?'): a name from a stranger, safe to log.</summary>
    private static string Sanitize(string name) =>
        new([.. name.Take(64).Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '?')]);

    /// <summary>"/Kill@MetalSniperBot 2 why" → "/kill": lower case, the bot name cut, at most 32 safe characters (it is logged for strangers too).</summary>
    internal static string CommandName(string text)
    {
        var end = 0;
        while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] != '@')
        {
            end++;
        }

        var name = new StringBuilder(Math.Min(end, 32));
        foreach (var c in text.AsSpan(0, Math.Min(end, 32)))
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '/' or '_' ? char.ToLowerInvariant(c) : '?');
        }

        return name.ToString();
    }

    private async Task ReplyAsync(long chatId, string text, CancellationToken stop)
    {
        try
        {
            await _api.SendMessageAsync(chatId, text, stop).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ApiRequestException or HttpRequestException or TimeoutException)
        {
            // Not retried: the operator sees no answer and asks again (/status); the command itself has been executed.
            _lastError = _api.ErrorText(e);
            _logger.ReplyFailed(chatId, _lastError);
        }
    }
}
