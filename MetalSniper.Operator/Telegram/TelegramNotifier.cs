using System.Collections.Concurrent;
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
/// <see cref="Raise"/> never blocks on the network and never throws: it puts the alert in a bounded priority queue. One send
/// loop, started by <see cref="StartAsync"/>, always takes the most urgent alert waiting — RED, then YELLOW, then the digest
/// (<see cref="RaiseDigest"/>), then INFO; oldest first within a rank — so a RED never waits behind a backlog: it waits at
/// most for the message already on the wire. The loop sends no more than <see cref="TelegramOptions.MessagesPerSecond"/>
/// (retries included) but for a RED, which leaves at once unless another RED has just done so and owes one message to the
/// pace (Telegram allows short bursts over its one message a second in a chat; the messages after the RED pay it back), retries 5xx, network errors and timeouts with a
/// jittered exponential backoff and a 429 after exactly Telegram's <c>retry_after</c> (no message at all leaves before it
/// has passed), up to <see cref="TelegramOptions.MaxAttempts"/> attempts per alert. An alert waiting for a token, a
/// <c>retry_after</c> or its retry backoff steps aside when a more urgent one arrives (it goes back to the head of its rank,
/// its attempts kept); a request already sent is never abandoned. Other 4xx answers (bad chat id, revoked token) are not
/// retried. Failures are counted and logged, never thrown (<see cref="Status"/>, <see cref="Health"/>).
/// </para>
/// <para>
/// When the queue is full (<see cref="TelegramOptions.QueueCapacity"/>) the lowest-ranked, oldest alert goes — the newcomer
/// itself when it ranks below everything queued. Every drop is counted in <see cref="Dropped"/>; a RED goes only when the
/// queue holds nothing but REDs, and each such drop is logged as an error.
/// </para>
/// </summary>
/// <remarks>
/// Lifecycle: construct, <see cref="StartAsync"/> once, then <see cref="StopAsync"/> (delivers what is queued until its token
/// fires) and/or <see cref="DisposeAsync"/> (stops at once). Alerts raised before the start wait in the queue; alerts still
/// queued at the stop are counted in <see cref="Dropped"/>.
/// </remarks>
public sealed class TelegramNotifier : IAlertSink, ITelegramHealth, IHostedService, IAsyncDisposable
{
    /// <summary>The <see cref="Alert.Kind"/> of a digest (<see cref="RaiseDigest"/>).</summary>
    public const string DigestKind = "Digest";

    /// <summary>The <see cref="Alert.Kind"/> of a fill (counted for the digest).</summary>
    private const string FillKind = "Fill";

    // Queue ranks, least urgent first.
    private const int InfoRank = 0;
    private const int DigestRank = 1;
    private const int YellowRank = 2;
    private const int RedRank = 3;
    private const int Ranks = 4;

    private readonly TelegramBotConnection _api;
    private readonly TelegramOptions _options;
    private readonly ILogger<TelegramNotifier> _logger;
    private readonly TokenBucket _bucket;
    private readonly ResiliencePipeline _pipeline;
    private readonly Lock _gate = new();
    private readonly LinkedList<Entry>[] _queues = [new(), new(), new(), new()];
    private readonly Channel<byte> _wake = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, long> _unsent = new(StringComparer.Ordinal); // Kinds filtered since the last tally, fills aside.

    // Guarded by _gate.
    private long _sequence;
    private int _count;
    private bool _full;
    private long _droppedWhileFull;
    private bool _undeliveredReported;
    private Task? _loop;
    private Entry? _current;                 // The alert the loop is delivering (null between alerts).
    private CancellationTokenSource? _yield; // Cancelled when a more urgent alert arrives while _current waits.

    // Touched by the send loop only.
    private int _attempt;

    private long _sent;
    private long _logged;
    private long _failed;
    private long _dropped;
    private long _droppedRed;
    private long _retries;
    private long _filtered;
    private long _stepAsides;
    private long _notBeforeTicks;   // UTC ticks before which nothing is sent (a 429's retry_after); 0: none.
    private long _lastSentTicks;    // UTC ticks of the last accepted message; 0: none yet.
    private long _tallyFills;
    private long _tallyTrips;
    private long _tallyHalts;
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
                // 5xx, 429, network errors and timeouts; other answers (400 bad chat, 401 revoked token) are final. The attempt
                // count is the alert's own, across the times it stepped aside for a more urgent one.
                ShouldHandle = args => ValueTask.FromResult(TelegramBotConnection.IsTransient(args.Outcome.Exception) && _attempt < _options.MaxAttempts),
                // A 429 waits what Telegram asks (body, else header); anything else takes the backoff (null).
                DelayGenerator = args => ValueTask.FromResult(TelegramBotConnection.RetryAfter(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    OnRetry(args.Outcome.Exception, args.RetryDelay);
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

    /// <summary>Alerts dropped from a full queue, or still queued when the notifier stopped (REDs included).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>REDs among <see cref="Dropped"/>: only from a queue full of REDs, or left at the stop (each logged as an error).</summary>
    public long DroppedRed => Interlocked.Read(ref _droppedRed);

    /// <summary>Attempts repeated after a failure (over all alerts).</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Alerts below <see cref="TelegramOptions.MinimumLevel"/>, ignored (they still count in the digest's tally).</summary>
    public long Filtered => Interlocked.Read(ref _filtered);

    /// <summary>Times an alert waiting for a token, a <c>retry_after</c> or its backoff stepped aside for a more urgent one.</summary>
    public long StepAsides => Interlocked.Read(ref _stepAsides);

    /// <summary>Alerts waiting in the queue (the one being sent excluded).</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>When Telegram last accepted a message (wall clock, UTC); null before the first.</summary>
    public DateTimeOffset? LastSentUtc => Interlocked.Read(ref _lastSentTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

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
    /// <remarks>
    /// The phone's health in a few fields (<c>/health/ready</c>, <c>/api/status</c>, the CLI, the dashboard). Enabled is what the
    /// configuration asks (<see cref="TelegramOptions.Enabled"/>). Enabled and configured: healthy unless the last delivery
    /// error (a failed attempt, a RED dropped) is newer than the last message Telegram accepted. Enabled without a usable
    /// token: not healthy (alerts go to the log only), the reason as the last error. Disabled: healthy, nothing to report.
    /// </remarks>
    public TelegramHealth Health()
    {
        if (!_options.Enabled)
        {
            return new TelegramHealth(false, true, 0, Dropped, null, null);
        }

        if (!ToTelegram)
        {
            return new TelegramHealth(true, false, 0, Dropped, null, "alerts go to the log only: " + (_api.NotConfiguredReason ?? "not configured"));
        }

        var last = _lastError;
        var sent = LastSentUtc;
        var healthy = last is null || (sent is { } s && s >= last.AtUtc);
        return new TelegramHealth(true, healthy, Queued, Dropped, sent, last?.Text);
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
            Tally(alert);
            if (alert.Level < _options.MinimumLevel)
            {
                Interlocked.Increment(ref _filtered);
                if (alert.Kind != FillKind)
                {
                    _unsent.AddOrUpdate(alert.Kind, 1, static (_, n) => n + 1);
                }

                return;
            }

            Offer(alert, RankOf(alert.Level));
        }
        catch (Exception e)
        {
            // Never into the caller (trading); counted and shown in the health status instead, like Serilog's SelfLog.
            SetLastError("alert sink fault: " + _api.Describe(e));
            Interlocked.Increment(ref _failed);
        }
    }

    /// <summary>
    /// Queues a periodic digest: sent whatever <see cref="TelegramOptions.MinimumLevel"/> says, ranked below every YELLOW and
    /// RED and above every INFO; with Telegram not configured it goes to the log. Never blocks, never throws.
    /// </summary>
    /// <param name="text">The digest (<see cref="TelegramDigest.Format"/>).</param>
    public void RaiseDigest(string text)
    {
        try
        {
            Offer(new Alert(AlertLevel.Info, DigestKind, text ?? "", _clock.GetUtcNow()), DigestRank);
        }
        catch (Exception e)
        {
            SetLastError("alert sink fault: " + _api.Describe(e));
            Interlocked.Increment(ref _failed);
        }
    }

    /// <summary>
    /// What the notifier saw since the last call (every alert raised, those below the minimum level included): fills,
    /// circuit-breaker trips, kill-switch latches and pauses, and the other alerts not sent singly (below the minimum
    /// level) by kind; the counts restart at zero.
    /// </summary>
    public DigestTally TakeTally()
    {
        var unsent = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var kind in _unsent.Keys)
        {
            if (_unsent.TryRemove(kind, out var n))
            {
                unsent[kind] = n;
            }
        }

        return new(Interlocked.Exchange(ref _tallyFills, 0), Interlocked.Exchange(ref _tallyTrips, 0), Interlocked.Exchange(ref _tallyHalts, 0), unsent);
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

    /// <summary>"🔴 RED KillSwitch · 14:03:12 UTC" and the text on the next line; a digest is "📊 DIGEST · 14:00:00 UTC".</summary>
    internal static string Format(Alert alert) => alert.Kind == DigestKind && alert.Level == AlertLevel.Info
        ? string.Create(CultureInfo.InvariantCulture, $"📊 DIGEST · {alert.AtUtc.UtcDateTime:HH:mm:ss} UTC\n{alert.Text}")
        : string.Create(CultureInfo.InvariantCulture, $"{Marker(alert.Level)} {alert.Kind} · {alert.AtUtc.UtcDateTime:HH:mm:ss} UTC\n{alert.Text}");

    /// <summary>The level marker that starts a message.</summary>
    internal static string Marker(AlertLevel level) => level switch
    {
        AlertLevel.Red => "🔴 RED",
        AlertLevel.Yellow => "🟡 YELLOW",
        _ => "ℹ️ INFO",
    };

    private static int RankOf(AlertLevel level) => level switch
    {
        AlertLevel.Red => RedRank,
        AlertLevel.Yellow => YellowRank,
        _ => InfoRank,
    };

    private static LogLevel LogLevelOf(AlertLevel level) => level switch
    {
        AlertLevel.Red => LogLevel.Error,
        AlertLevel.Yellow => LogLevel.Warning,
        _ => LogLevel.Information,
    };

    private void Tally(Alert alert)
    {
        switch (alert.Kind)
        {
            case FillKind:
                Interlocked.Increment(ref _tallyFills);
                break;
            case "BreakerTrip" when alert.Level > AlertLevel.Info:
                Interlocked.Increment(ref _tallyTrips);
                break;
            case "KillSwitch" when alert.Level > AlertLevel.Info:
                Interlocked.Increment(ref _tallyHalts);
                break;
        }
    }

    /// <summary>To the queue (Telegram) or the log (not configured).</summary>
    private void Offer(Alert alert, int rank)
    {
        if (!ToTelegram)
        {
            _logger.AlertToLog(LogLevelOf(alert.Level), alert.Level, alert.Kind, alert.Text);
            Interlocked.Increment(ref _logged);
            return;
        }

        var (fullSpell, droppedRed) = Enqueue(alert, rank);
        if (fullSpell)
        {
            _logger.QueueFull(_options.QueueCapacity);
        }

        if (droppedRed is not null)
        {
            SetLastError($"RED {droppedRed.Kind} dropped: the alert queue is full of REDs");
            _logger.RedDropped(droppedRed.Kind, droppedRed.Text, _options.QueueCapacity);
        }

        _wake.Writer.TryWrite(0);
    }

    /// <summary>
    /// Queues the alert; when full, drops the lowest-ranked oldest one (the newcomer if it ranks below all queued). Returns
    /// whether this starts a full spell (log once) and the RED dropped, if one was. A more urgent alert than the one the
    /// loop is waiting to send makes that one step aside.
    /// </summary>
    private (bool FullSpell, Alert? DroppedRed) Enqueue(Alert alert, int rank)
    {
        lock (_gate)
        {
            Alert? droppedRed = null;
            var dropped = false;
            var enqueue = true;
            if (_count >= _options.QueueCapacity)
            {
                dropped = true;
                var lowest = Array.FindIndex(_queues, q => q.Count > 0);
                if (lowest < 0 || rank < lowest)
                {
                    enqueue = false; // The newcomer ranks below everything queued: it is the one to go.
                    droppedRed = rank == RedRank ? alert : null;
                }
                else
                {
                    var victim = _queues[lowest].First!.Value;
                    _queues[lowest].RemoveFirst();
                    _count--;
                    droppedRed = lowest == RedRank ? victim.Alert : null;
                }
            }

            if (enqueue)
            {
                _queues[rank].AddLast(new Entry(_sequence++, alert, rank, 0));
                _count++;
                if (_current is { } current && rank > current.Rank && _yield is { IsCancellationRequested: false } yield)
                {
                    // Asynchronously: the cancellation callbacks (the loop's continuations) must not run on the caller's thread.
                    _ = yield.CancelAsync();
                }
            }

            if (droppedRed is not null)
            {
                Interlocked.Increment(ref _droppedRed);
            }

            if (!dropped)
            {
                return (false, null);
            }

            Interlocked.Increment(ref _dropped);
            _droppedWhileFull++;
            var first = !_full;
            _full = true;
            return (first, droppedRed);
        }
    }

    /// <summary>
    /// The most urgent queued alert, made current with a fresh step-aside token; <paramref name="droppedWhileFull"/> is set when
    /// the queue has drained to half after a full spell.
    /// </summary>
    private bool TryDequeue(out Entry entry, out CancellationToken yield, out long? droppedWhileFull)
    {
        lock (_gate)
        {
            droppedWhileFull = null;
            yield = default;
            var top = Array.FindLastIndex(_queues, q => q.Count > 0);
            if (top < 0)
            {
                entry = null!;
                return false;
            }

            entry = _queues[top].First!.Value;
            _queues[top].RemoveFirst();
            _count--;
            _current = entry;
            _yield = new CancellationTokenSource();
            yield = _yield.Token;
            if (_full && _count <= _options.QueueCapacity / 2)
            {
                _full = false;
                droppedWhileFull = _droppedWhileFull;
                _droppedWhileFull = 0;
            }

            return true;
        }
    }

    /// <summary>Ends the current alert; with <paramref name="stepAside"/> it goes back to the head of its rank with its attempts.</summary>
    private void Release(Entry entry, bool stepAside)
    {
        lock (_gate)
        {
            if (stepAside)
            {
                _queues[entry.Rank].AddFirst(entry with { Attempts = _attempt });
                _count++;
            }

            _current = null;
            _yield?.Dispose();
            _yield = null;
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!TryDequeue(out var entry, out var yield, out var droppedWhileFull))
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

                var stepAside = false;
                try
                {
                    stepAside = await DeliverAsync(entry, yield, stop).ConfigureAwait(false);
                }
                finally
                {
                    Release(entry, stepAside);
                }

                if (stepAside)
                {
                    Interlocked.Increment(ref _stepAsides);
                    _logger.AlertSteppedAside(entry.Alert.Level, entry.Alert.Kind, _attempt);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A bug in the loop itself: logged and counted; the loop goes on after a pause so it cannot spin.
                SetLastError("send loop fault: " + _api.Describe(e));
                Interlocked.Increment(ref _failed);
                _logger.NotifierFault(AlertLevel.Info, "(loop)", _api.DescribeWithStack(e));
                await Task.Delay(TimeSpan.FromSeconds(1), _clock, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Delivers one alert; true when it stepped aside for a more urgent one (to be queued again), false when done.</summary>
    private async Task<bool> DeliverAsync(Entry entry, CancellationToken yield, CancellationToken stop)
    {
        var alert = entry.Alert;
        _attempt = entry.Attempts;
        using var waits = CancellationTokenSource.CreateLinkedTokenSource(stop, yield);
        try
        {
            await _pipeline.ExecuteAsync(
                static (state, token) => state.Self.AttemptAsync(state.Text, state.Red, token, state.Stop),
                (Self: this, Text: Format(alert), Red: alert.Level == AlertLevel.Red, Stop: stop),
                waits.Token).ConfigureAwait(false);
            // The time first: whoever sees the count sees the health that goes with it.
            Interlocked.Exchange(ref _lastSentTicks, _clock.GetUtcNow().UtcTicks);
            Interlocked.Increment(ref _sent);
            _logger.AlertSent(alert.Level, alert.Kind, _attempt);
            return false;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref _dropped); // In flight when the notifier stopped.
            if (alert.Level == AlertLevel.Red)
            {
                Interlocked.Increment(ref _droppedRed);
            }

            throw;
        }
        catch (Exception e) when (yield.IsCancellationRequested && (e is OperationCanceledException || TelegramBotConnection.IsTransient(e)) && _attempt < _options.MaxAttempts)
        {
            // A more urgent alert arrived while this one waited (a token, a retry_after, its backoff): it goes first.
            return true;
        }
        catch (Exception e) when (e is ApiRequestException or HttpRequestException or TimeoutException)
        {
            // Telegram refused it (not retryable), or the attempts ran out.
            Fail(alert, _api.ErrorText(e));
            return false;
        }
        catch (Exception e)
        {
            SetLastError($"{alert.Level} {alert.Kind}: {_api.Describe(e)}");
            Interlocked.Increment(ref _failed);
            _logger.NotifierFault(alert.Level, alert.Kind, _api.DescribeWithStack(e));
            return false;
        }
    }

    /// <summary>
    /// One attempt: waits out a 429's <c>retry_after</c> and a token of the rate limit (both may be cut short by
    /// <paramref name="waits"/>: a more urgent alert), then sends on <paramref name="stop"/> only (a request on the wire is
    /// never abandoned for another alert: it could arrive twice). A RED (<paramref name="red"/>) may borrow the token:
    /// it waits out a <c>retry_after</c> (Telegram's flood control refuses everything) but not the pace.
    /// </summary>
    private async ValueTask AttemptAsync(string text, bool red, CancellationToken waits, CancellationToken stop)
    {
        while (Interlocked.Read(ref _notBeforeTicks) is var ticks and > 0 && new DateTimeOffset(ticks, TimeSpan.Zero) - _clock.GetUtcNow() is { Ticks: > 0 } wait)
        {
            await Task.Delay(wait, _clock, waits).ConfigureAwait(false);
        }

        await _bucket.TakeAsync(red, waits).ConfigureAwait(false);
        _attempt++;
        try
        {
            await _api.SendMessageAsync(_options.ChatId, text, stop).ConfigureAwait(false);
        }
        catch (ApiRequestException e) when (TelegramBotConnection.RetryAfter(e) is { } retryAfter)
        {
            // Telegram's flood control is for the whole chat: no message at all leaves before it has passed.
            var until = (_clock.GetUtcNow() + retryAfter).UtcTicks;
            long seen;
            do
            {
                seen = Interlocked.Read(ref _notBeforeTicks);
            }
            while (seen < until && Interlocked.CompareExchange(ref _notBeforeTicks, until, seen) != seen);

            throw;
        }
    }

    private void OnRetry(Exception? exception, TimeSpan delay)
    {
        Interlocked.Increment(ref _retries);
        var error = exception is null ? "no result" : _api.ErrorText(exception);
        SetLastError(error);
        Entry? current;
        lock (_gate)
        {
            current = _current;
        }

        _logger.AlertRetrying(current?.Alert.Level ?? AlertLevel.Info, current?.Alert.Kind ?? "?", _attempt + 1, error, delay);
    }

    private void Fail(Alert alert, string error)
    {
        SetLastError($"{alert.Level} {alert.Kind}: {error}"); // Before the count: whoever sees the count sees the error.
        Interlocked.Increment(ref _failed);
        _logger.AlertFailed(alert.Level, alert.Kind, _attempt, error);
    }

    private void SetLastError(string text) => _lastError = new ErrorNote(_api.Redact(text), _clock.GetUtcNow());

    private void ReportUndelivered()
    {
        int count;
        int red;
        lock (_gate)
        {
            if (_undeliveredReported)
            {
                return;
            }

            _undeliveredReported = true;
            count = _count;
            red = _queues[RedRank].Count;
            foreach (var queue in _queues)
            {
                queue.Clear();
            }

            _count = 0;
        }

        if (count > 0)
        {
            Interlocked.Add(ref _dropped, count);
            Interlocked.Add(ref _droppedRed, red);
            _logger.Undelivered(count, red);
        }
    }

    /// <summary>A queued alert: its arrival order, rank and the attempts already made (when it stepped aside).</summary>
    private sealed record Entry(long Sequence, Alert Alert, int Rank, int Attempts);

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

/// <summary>What the notifier saw between two digests (<see cref="TelegramNotifier.TakeTally"/>).</summary>
/// <param name="Fills">Fill alerts (one per fill).</param>
/// <param name="BreakerTrips">Circuit-breaker trips (YELLOW or RED <c>BreakerTrip</c> alerts).</param>
/// <param name="Halts">Kill-switch latches and pauses (YELLOW or RED <c>KillSwitch</c> alerts; resumes are INFO and not counted).</param>
/// <param name="Unsent">Other alerts below the minimum level (not sent singly), count per kind; null: none.</param>
public sealed record DigestTally(long Fills, long BreakerTrips, long Halts, IReadOnlyDictionary<string, long>? Unsent = null);
