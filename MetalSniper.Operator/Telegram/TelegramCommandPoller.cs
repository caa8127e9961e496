using System.Globalization;
using System.Text;
using MetalSniper.Operator;
using MetalSniper.Engine.Pipeline;

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
/// Poll failures back off (from <see cref="TelegramOptions.RetryBaseDelay"/>, doubling, capped at a minute) and never end the
/// loop; cancellation ends it promptly, an open long poll included.
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

    private readonly TelegramBotApi _api;
    private readonly TelegramOptions _options;
    private readonly IOperatorConsole _console;
    private readonly TimeProvider _clock;
    private readonly ILogger<TelegramCommandPoller> _logger;
    private readonly HashSet<long> _allowed;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Task? _loop;
    private int _disposed;

    private long _offset;
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
    /// <param name="logger">Logger.</param>
    public TelegramCommandPoller(TelegramBotApi api, IOperatorConsole console, WallClock clock, ILogger<TelegramCommandPoller> logger)
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

    /// <summary>Commands from users not in the allow-list, ignored.</summary>
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
            _logger.PollerOff(_options.Enabled ? $"{TelegramOptions.TokenVariable} is not set" : "Telegram:Enabled is false");
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
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            TimeSpan? wait;
            try
            {
                var (call, updates) = await _api.GetUpdatesAsync(Interlocked.Read(ref _offset), stop).ConfigureAwait(false);
                Interlocked.Increment(ref _polls);
                if (call.Ok)
                {
                    if (failures > 0)
                    {
                        _logger.PollRecovered(failures);
                        failures = 0;
                    }

                    await HandleAsync(updates, stop).ConfigureAwait(false);
                    continue;
                }

                // 401 (token revoked), 409 (another poller or a webhook), 429, 5xx: wait and poll again.
                wait = call.StatusCode == 429 ? call.RetryAfter : null;
                failures++;
                PollFailed(failures, call.Error, ref wait);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException)
            {
                failures++;
                wait = null;
                PollFailed(failures, _api.Redact(e.Message), ref wait);
            }
            catch (Exception e)
            {
                failures++;
                wait = null;
                _lastError = _api.Describe(e);
                _logger.PollerFault(_api.DescribeWithStack(e));
                PollFailed(failures, _lastError, ref wait);
            }

            await Task.Delay(wait!.Value, _clock, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void PollFailed(int failures, string error, ref TimeSpan? wait)
    {
        Interlocked.Increment(ref _pollFailures);
        _lastError = _api.Redact(error);
        var backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, _options.RetryBaseDelay.Ticks << Math.Min(failures - 1, 20)));
        wait ??= backoff;
        // The first failure of a spell is a warning; the rest of the spell (possibly hours offline) stays at debug.
        _logger.PollFailed(failures == 1 ? LogLevel.Warning : LogLevel.Debug, failures, _lastError, wait.Value);
    }

    private async Task HandleAsync(IReadOnlyList<TelegramUpdate> updates, CancellationToken stop)
    {
        foreach (var update in updates.OrderBy(u => u.UpdateId))
        {
            if (update.UpdateId < Interlocked.Read(ref _offset))
            {
                continue; // Already handled: acknowledged by the offset, sent again anyway.
            }

            // Acknowledged by the next poll whatever happens below: a command that fails is not executed twice.
            Interlocked.Exchange(ref _offset, update.UpdateId + 1);
            if (update.Message is not { From: { } from, Chat: { } chat, Text: { } text } message || !text.StartsWith('/'))
            {
                continue;
            }

            var command = CommandName(text);
            if (!_allowed.Contains(from.Id))
            {
                Interlocked.Increment(ref _ignored);
                _logger.CommandFromStranger(command, from.Id);
                continue;
            }

            string reply;
            var age = _clock.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(message.Date);
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
            var call = await _api.SendMessageAsync(chatId, text, stop).ConfigureAwait(false);
            if (!call.Ok)
            {
                _lastError = call.Error;
                _logger.ReplyFailed(chatId, call.Error);
            }
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException)
        {
            // Not retried: the operator sees no answer and asks again (/status); the command itself has been executed.
            _lastError = _api.Redact(e.Message);
            _logger.ReplyFailed(chatId, _lastError);
        }
    }
}
