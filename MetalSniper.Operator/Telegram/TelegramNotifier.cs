using System.Globalization;
using System.Threading.Channels;
using MetalSniper.Engine.Pipeline;
using Polly;
using Polly.Retry;
using Telegram.Bot.Exceptions;
using MetalSniper.Core.Alerts;

namespace MetalSniper.Operator.Telegram;

/// <summary>
/// Sends alerts to a Telegram chat (<see cref="TelegramOptions.ChatId"/>), or to the log when Telegram is not configured
/// (<see cref="TelegramOptions.Enabled"/> false or no token).
/// <para>
/// <see cref="Raise"/> never blocks on the network and never throws: it puts the alert in a bounded queue (when full, the
/// oldest non-RED alert is dropped; RED ones only when the queue holds nothing else). One send loop, started by
/// <see cref="StartAsync"/>, delivers the queue in order at no more than <see cref="TelegramOptions.MessagesPerSecond"/>
/// (retries included), retrying 5xx, network errors and timeouts with a jittered exponential backoff and a 429 after exactly
/// Telegram's <c>retry_after</c>, up to <see cref="TelegramOptions.MaxAttempts"/> attempts. Other 4xx answers (bad chat id,
/// revoked token) are not retried. Failures are counted and logged, never thrown (<see cref="Status"/>).
/// </para>
/// </summary>
/// <remarks>
/// Lifecycle: construct, <see cref="StartAsync"/> once, then <see cref="StopAsync"/> (delivers what is queued until its token
/// fires) and/or <see cref="DisposeAsync"/> (stops at once). Alerts raised before the start wait in the queue; alerts still
/// queued at the stop are counted in <see cref="Dropped"/>.
/// </remarks>
public sealed class TelegramNotifier : IAlertSink, IHostedService, IAsyncDisposable
{
    private readonly TelegramBotConnection _api;
    private readonly TelegramOptions _options;
    private readonly ILogger<TelegramNotifier> _logger;
    private readonly TokenBucket _bucket;
    private readonly ResiliencePipeline _pipeline;
    private readonly Lock _gate = new();
    private readonly Queue<(long Sequence, Alert Alert)> _red = new();
    private readonly Queue<(long Sequence, Alert Alert)> _other = new();
    private readonly Channel<byte> _wake = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeProvider _clock;

    // Guarded by _gate.
    private long _sequence;
    private bool _full;
    private long _droppedWhileFull;
    private bool _undeliveredReported;
    private Task? _loop;

    // Touched by the send loop only.
    private Alert? _inFlight;
    private int _attempt;

    private long _sent;
    private long _logged;
    private long _failed;
    private long _dropped;
    private long _retries;
    private long _filtered;
    private volatile ErrorNote? _lastError;
    private volatile bool _completing;
    private int _disposed;

    /// <summary>Creates the notifier; nothing is sent before <see cref="StartAsync"/>.</summary>
    /// <param name="api">The Bot API client (its options and token decide Telegram or log).</param>
    /// <param name="clock">The wall clock: rate limit, backoff, timeouts (never the replay clock).</param>
    /// <param name="logger">Logger.</param>
    public TelegramNotifier(TelegramBotConnection api, WallClock clock, ILogger<TelegramNotifier> logger)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(logger);
        _api = api;
        _options = api.Options;
        _logger = logger;
        _clock = clock.Provider;
        ToTelegram = api.IsConfigured;
        _bucket = new TokenBucket(_options.MessagesPerSecond, capacity: 1, _clock);
        var builder = new ResiliencePipelineBuilder { TimeProvider = _clock };
        if (_options.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = _options.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = TimeSpan.FromMinutes(1),
                // 5xx, 429, network errors and timeouts; other answers (400 bad chat, 401 revoked token) are final.
                ShouldHandle = args => ValueTask.FromResult(TelegramBotConnection.IsTransient(args.Outcome.Exception)),
                // A 429 waits what Telegram asks (body, else header); anything else takes the backoff (null).
                DelayGenerator = args => ValueTask.FromResult(TelegramBotConnection.RetryAfter(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    OnRetry(args.Outcome.Exception, args.AttemptNumber, args.RetryDelay);
                    return default;
                },
            });
        }

        _pipeline = builder.Build();
    }

    /// <summary>True when alerts go to Telegram; false when they go to the log (disabled or no token).</summary>
    public bool ToTelegram { get; }

    /// <summary>Alerts Telegram accepted.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Alerts written to the log instead (Telegram not configured).</summary>
    public long Logged => Interlocked.Read(ref _logged);

    /// <summary>Alerts given up: attempts exhausted, a non-retryable answer, or a fault.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Alerts dropped from a full queue, or still queued when the notifier stopped.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Attempts repeated after a failure (over all alerts).</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Alerts below <see cref="TelegramOptions.MinimumLevel"/>, ignored.</summary>
    public long Filtered => Interlocked.Read(ref _filtered);

    /// <summary>Alerts waiting in the queue (the one being sent excluded).</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _red.Count + _other.Count;
            }
        }
    }

    /// <summary>The last delivery error (redacted: never the token), or null.</summary>
    public string? LastError => _lastError?.Text;

    /// <summary>When <see cref="LastError"/> happened (wall clock).</summary>
    public DateTimeOffset? LastErrorAtUtc => _lastError?.AtUtc;

    /// <summary>All counters at once, for the health API.</summary>
    public TelegramNotifierStatus Status()
    {
        var last = _lastError;
        return new TelegramNotifierStatus(ToTelegram, Sent, Logged, Failed, Dropped, Retries, Filtered, Queued, last?.Text, last?.AtUtc);
    }

    /// <inheritdoc />
    public void Raise(Alert alert)
    {
        if (alert is null)
        {
            return;
        }

        try
        {
            if (alert.Level < _options.MinimumLevel)
            {
                Interlocked.Increment(ref _filtered);
                return;
            }

            if (!ToTelegram)
            {
                _logger.AlertToLog(LogLevelOf(alert.Level), alert.Level, alert.Kind, alert.Text);
                Interlocked.Increment(ref _logged);
                return;
            }

            if (Enqueue(alert))
            {
                _logger.QueueFull(_options.QueueCapacity);
            }

            _wake.Writer.TryWrite(0);
        }
        catch (Exception e)
        {
            // Never into the caller (trading); counted and shown in the health status instead, like Serilog's SelfLog.
            Interlocked.Increment(ref _failed);
            SetLastError("alert sink fault: " + _api.Describe(e));
        }
    }

    /// <summary>Starts the send loop (once); with Telegram not configured, says where alerts go instead.</summary>
    /// <param name="cancellationToken">Unused: starting does not wait.</param>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!ToTelegram)
        {
            _logger.NotifierToLog(_options.Enabled ? LogLevel.Warning : LogLevel.Information, _api.NotConfiguredReason ?? "?");
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

        _logger.NotifierToTelegram(_options.ChatId, _options.MessagesPerSecond, _options.MinimumLevel);
        return Task.CompletedTask;
    }

    /// <summary>Delivers what is queued until <paramref name="cancellationToken"/> fires, then stops the loop.</summary>
    /// <param name="cancellationToken">The stop deadline.</param>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task? loop;
        lock (_gate)
        {
            loop = _loop;
        }

        if (loop is null || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        _completing = true;
        _wake.Writer.TryWrite(0);
        try
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The deadline: what is left is counted and logged as undelivered below.
            await _stop.CancelAsync().ConfigureAwait(false);
            await loop.ConfigureAwait(false);
        }

        ReportUndelivered();
    }

    /// <summary>Stops the send loop at once; queued alerts are counted as dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        Task? loop;
        lock (_gate)
        {
            loop = _loop;
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        ReportUndelivered();
        _stop.Dispose();
    }

    /// <summary>"🔴 RED KillSwitch · 14:03:12 UTC" and the text on the next line.</summary>
    internal static string Format(Alert alert) =>
        string.Create(CultureInfo.InvariantCulture, $"{Marker(alert.Level)} {alert.Kind} · {alert.AtUtc.UtcDateTime:HH:mm:ss} UTC\n{alert.Text}");

    /// <summary>The level marker that starts a message.</summary>
    internal static string Marker(AlertLevel level) => level switch
    {
        AlertLevel.Red => "🔴 RED",
        AlertLevel.Yellow => "🟡 YELLOW",
        _ => "ℹ️ INFO",
    };

    private static LogLevel LogLevelOf(AlertLevel level) => level switch
    {
        AlertLevel.Red => LogLevel.Error,
        AlertLevel.Yellow => LogLevel.Warning,
        _ => LogLevel.Information,
    };

    /// <summary>Queues the alert, dropping the oldest non-RED one when full; true when this starts a full spell (log once).</summary>
    private bool Enqueue(Alert alert)
    {
        lock (_gate)
        {
            var dropped = false;
            var enqueue = true;
            if (_red.Count + _other.Count >= _options.QueueCapacity)
            {
                dropped = true;
                if (_other.Count > 0)
                {
                    _other.Dequeue();
                }
                else if (alert.Level != AlertLevel.Red)
                {
                    enqueue = false; // The queue is all RED: the newcomer is the oldest non-RED there is.
                }
                else
                {
                    _red.Dequeue();
                }
            }

            if (enqueue)
            {
                (alert.Level == AlertLevel.Red ? _red : _other).Enqueue((_sequence++, alert));
            }

            if (!dropped)
            {
                return false;
            }

            Interlocked.Increment(ref _dropped);
            _droppedWhileFull++;
            var first = !_full;
            _full = true;
            return first;
        }
    }

    /// <summary>The oldest queued alert, RED or not; <paramref name="droppedWhileFull"/> is set when the queue has drained to half after a full spell.</summary>
    private bool TryDequeue(out Alert alert, out long? droppedWhileFull)
    {
        lock (_gate)
        {
            droppedWhileFull = null;
            Queue<(long Sequence, Alert Alert)>? from = (_red.Count, _other.Count) switch
            {
                (0, 0) => null,
                (0, _) => _other,
                (_, 0) => _red,
                _ => _red.Peek().Sequence < _other.Peek().Sequence ? _red : _other,
            };
            if (from is null)
            {
                alert = null!;
                return false;
            }

            alert = from.Dequeue().Alert;
            if (_full && _red.Count + _other.Count <= _options.QueueCapacity / 2)
            {
                _full = false;
                droppedWhileFull = _droppedWhileFull;
                _droppedWhileFull = 0;
            }

            return true;
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!TryDequeue(out var alert, out var droppedWhileFull))
                {
                    if (_completing)
                    {
                        return;
                    }

                    await _wake.Reader.ReadAsync(stop).ConfigureAwait(false);
                    continue;
                }

                if (droppedWhileFull is { } count)
                {
                    _logger.QueueDrained(Queued, count);
                }

                await DeliverAsync(alert, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A bug in the loop itself: logged and counted; the loop goes on after a pause so it cannot spin.
                Interlocked.Increment(ref _failed);
                SetLastError("send loop fault: " + _api.Describe(e));
                _logger.NotifierFault(AlertLevel.Info, "(loop)", _api.DescribeWithStack(e));
                await Task.Delay(TimeSpan.FromSeconds(1), _clock, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task DeliverAsync(Alert alert, CancellationToken stop)
    {
        _inFlight = alert;
        _attempt = 0;
        try
        {
            await _pipeline.ExecuteAsync(
                static (state, token) => state.Self.AttemptAsync(state.Text, token),
                (Self: this, Text: Format(alert)),
                stop).ConfigureAwait(false);
            Interlocked.Increment(ref _sent);
            _logger.AlertSent(alert.Level, alert.Kind, _attempt);
        }
        catch (Exception e) when (e is ApiRequestException or HttpRequestException or TimeoutException)
        {
            // Telegram refused it (not retryable), or the attempts ran out.
            Fail(alert, _api.ErrorText(e));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref _dropped); // In flight when the notifier stopped.
            throw;
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _failed);
            SetLastError($"{alert.Level} {alert.Kind}: {_api.Describe(e)}");
            _logger.NotifierFault(alert.Level, alert.Kind, _api.DescribeWithStack(e));
        }
        finally
        {
            _inFlight = null;
        }
    }

    private async ValueTask AttemptAsync(string text, CancellationToken cancellationToken)
    {
        await _bucket.TakeAsync(cancellationToken).ConfigureAwait(false);
        _attempt++;
        await _api.SendMessageAsync(_options.ChatId, text, cancellationToken).ConfigureAwait(false);
    }

    private void OnRetry(Exception? exception, int attemptNumber, TimeSpan delay)
    {
        Interlocked.Increment(ref _retries);
        var error = exception is null ? "no result" : _api.ErrorText(exception);
        SetLastError(error);
        var alert = _inFlight;
        _logger.AlertRetrying(alert?.Level ?? AlertLevel.Info, alert?.Kind ?? "?", attemptNumber + 1, error, delay);
    }

    private void Fail(Alert alert, string error)
    {
        Interlocked.Increment(ref _failed);
        SetLastError($"{alert.Level} {alert.Kind}: {error}");
        _logger.AlertFailed(alert.Level, alert.Kind, _attempt, error);
    }

    private void SetLastError(string text) => _lastError = new ErrorNote(_api.Redact(text), _clock.GetUtcNow());

    private void ReportUndelivered()
    {
        int count;
        lock (_gate)
        {
            if (_undeliveredReported)
            {
                return;
            }

            _undeliveredReported = true;
            count = _red.Count + _other.Count;
            _red.Clear();
            _other.Clear();
        }

        if (count > 0)
        {
            Interlocked.Add(ref _dropped, count);
            _logger.Undelivered(count);
        }
    }

    private sealed record ErrorNote(string Text, DateTimeOffset AtUtc);
}

/// <summary>The notifier's counters at one moment (for the health API).</summary>
/// <param name="ToTelegram">True: alerts go to Telegram; false: to the log.</param>
/// <param name="Sent">Alerts Telegram accepted.</param>
/// <param name="Logged">Alerts written to the log instead of Telegram.</param>
/// <param name="Failed">Alerts given up after their attempts, or on a non-retryable answer or a fault.</param>
/// <param name="Dropped">Alerts dropped from the full queue or left queued at the stop.</param>
/// <param name="Retries">Repeated attempts.</param>
/// <param name="Filtered">Alerts below the minimum level.</param>
/// <param name="Queued">Alerts waiting.</param>
/// <param name="LastError">The last error, redacted; null if none.</param>
/// <param name="LastErrorAtUtc">When it happened.</param>
public sealed record TelegramNotifierStatus(
    bool ToTelegram, long Sent, long Logged, long Failed, long Dropped, long Retries, long Filtered, int Queued, string? LastError, DateTimeOffset? LastErrorAtUtc);
