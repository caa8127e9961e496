using System.Globalization;
using System.Text;
using MetalSniper.Core.Alerts;
using MetalSniper.Engine.Pipeline;

namespace MetalSniper.Operator.Telegram;

/// <summary>
/// The periodic digest to the phone: every <see cref="TelegramOptions.DigestInterval"/> (wall clock) one message with the
/// kill level, the P&amp;L (day and equity in the base currency, realised and unrealised per currency), the open positions,
/// and the fills, breaker trips and halts since the previous digest (<see cref="TelegramNotifier.TakeTally"/>). It goes
/// through the notifier's queue (<see cref="TelegramNotifier.RaiseDigest"/>): always sent, whatever
/// <see cref="TelegramOptions.MinimumLevel"/> says, behind every YELLOW and RED. It is also the operator's proof, every
/// interval, that the service and its phone link are alive, so it is sent when nothing happened too.
/// </summary>
/// <remarks>
/// Does nothing when Telegram is not configured or the interval is 0. Lifecycle: <see cref="StartAsync"/> once, then
/// <see cref="StopAsync"/> and/or <see cref="DisposeAsync"/>. A fault while building one digest is logged and counted
/// (<see cref="Faults"/>); the next one is tried at the next interval.
/// </remarks>
public sealed class TelegramDigest : IHostedService, IAsyncDisposable
{
    /// <summary>Positions listed in one digest; more are counted on one line.</summary>
    internal const int MaxPositions = 20;

    private readonly TelegramNotifier _notifier;
    private readonly IOperatorConsole _console;
    private readonly TelegramOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<TelegramDigest> _logger;
    private readonly IAlertSink _alerts;
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private DateTimeOffset _since;
    private long _sent;
    private long _faults;

    /// <summary>Creates the digest; nothing is sent before <see cref="StartAsync"/>.</summary>
    /// <param name="api">The Bot API client (its options: interval, enabled).</param>
    /// <param name="notifier">Where the digest is queued, and the tally of alerts since the last digest.</param>
    /// <param name="console">The figures (<see cref="IOperatorConsole.Snapshot"/>).</param>
    /// <param name="clock">The wall clock (never the replay clock).</param>
    /// <param name="logger">Logger.</param>
    /// <param name="alerts">Where a digest that cannot be built is reported (a YELLOW <c>DigestFault</c>: the phone is missing its summary).</param>
    public TelegramDigest(TelegramBotConnection api, TelegramNotifier notifier, IOperatorConsole console, WallClock clock, ILogger<TelegramDigest> logger, IAlertSink alerts)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(notifier);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(logger);
        _options = api.Options;
        _notifier = notifier;
        _console = console;
        _clock = clock.Provider;
        _logger = logger;
        _alerts = alerts;
    }

    /// <summary>Digests queued so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Digests that could not be built (logged).</summary>
    public long Faults => Interlocked.Read(ref _faults);

    /// <summary>Starts the timer when Telegram is configured and <see cref="TelegramOptions.DigestInterval"/> is not 0.</summary>
    /// <param name="cancellationToken">Unused: starting does not wait.</param>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var interval = _options.DigestInterval;
        if (!_notifier.ToTelegram || interval <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        lock (_gate)
        {
            if (_timer is not null)
            {
                return Task.CompletedTask;
            }

            _since = _clock.GetUtcNow();
            _timer = _clock.CreateTimer(static state => ((TelegramDigest)state!).Tick(), this, interval, interval);
        }

        _logger.DigestStarted(interval);
        return Task.CompletedTask;
    }

    /// <summary>Stops the timer (no digest at the stop: the service's stop alert says what matters then).</summary>
    /// <param name="cancellationToken">Unused.</param>
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        ITimer? timer;
        lock (_gate)
        {
            timer = _timer;
            _timer = null;
        }

        if (timer is not null)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The digest text (the notifier adds the "📊 DIGEST · HH:mm:ss UTC" line):
    /// <code>
    /// since 13:00 UTC: 12 fills, 1 breaker trip, 0 halts
    /// not sent singly: ServiceResumed 1, Shadow 1
    /// kill level L0
    /// P&amp;L: day +123.45 USD, equity +456.78 USD
    /// realised +400.00 USD; unrealised +56.78 USD
    /// positions (1):
    /// XAUUSD +20 @ 2400.1 USD, last 2403, unrealised +58.00
    /// </code>
    /// </summary>
    /// <param name="snapshot">The figures.</param>
    /// <param name="tally">What happened since <paramref name="sinceUtc"/>.</param>
    /// <param name="sinceUtc">The previous digest (or the start).</param>
    public static string Format(OperatorSnapshot snapshot, DigestTally tally, DateTimeOffset sinceUtc)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(tally);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"since {sinceUtc.UtcDateTime:HH:mm} UTC: {Count(tally.Fills, "fill")}, {Count(tally.BreakerTrips, "breaker trip")}, {Count(tally.Halts, "halt")}\n");
        if (tally.Unsent is { Count: > 0 } unsent)
        {
            sb.Append("not sent singly: ").AppendJoin(", ", unsent.OrderBy(u => u.Key, StringComparer.Ordinal).Select(u => string.Create(inv, $"{u.Key} {u.Value}"))).Append('\n');
        }

        sb.Append(inv, $"kill level {snapshot.KillLevel}\n");
        sb.Append(inv, $"P&L: day {(snapshot.DayPnl is { } day ? Signed(day) + " " + snapshot.BaseCurrency : "unknown")}, equity {Signed(snapshot.EquityPnl)} {snapshot.BaseCurrency}\n");
        sb.Append(inv, $"realised {Amounts(snapshot.Realized)}; unrealised {Amounts(snapshot.Unrealized)}\n");
        if (snapshot.Positions.Count == 0)
        {
            sb.Append("no open positions");
            return sb.ToString();
        }

        sb.Append(inv, $"positions ({snapshot.Positions.Count}):");
        foreach (var p in snapshot.Positions.Take(MaxPositions))
        {
            sb.Append(inv, $"\n{p.Symbol} {p.Quantity:+0.####;-0.####} @ {p.AveragePrice:0.#####} {p.Currency}, last {(p.Mark is { } m ? m.ToString("0.#####", inv) : "?")}, unrealised {(p.Unrealized is { } u ? Signed(u) : "?")}");
        }

        if (snapshot.Positions.Count > MaxPositions)
        {
            sb.Append(inv, $"\n… and {snapshot.Positions.Count - MaxPositions} more");
        }

        return sb.ToString();
    }

    /// <summary>Builds and queues one digest now (the timer's callback).</summary>
    internal void Tick()
    {
        lock (_gate)
        {
            try
            {
                var now = _clock.GetUtcNow();
                var text = Format(_console.Snapshot(), _notifier.TakeTally(), _since);
                _since = now;
                _notifier.RaiseDigest(text);
                Interlocked.Increment(ref _sent);
            }
            catch (Exception e)
            {
                // On a timer thread: logged, counted and alerted (the operator is missing a summary); the next interval tries again.
                Interlocked.Increment(ref _faults);
                _logger.DigestFault(e.ToString());
                _alerts.Raise(new Alert(AlertLevel.Yellow, "DigestFault", $"the Telegram digest could not be built ({e.GetType().Name}: {e.Message}); the next one is tried in {_options.DigestInterval}", _clock.GetUtcNow()));
            }
        }
    }

    private static string Count(long n, string what) => string.Create(CultureInfo.InvariantCulture, $"{n} {what}{(n == 1 ? "" : "s")}");

    private static string Signed(decimal amount) => amount.ToString("+#,##0.00;-#,##0.00;0.00", CultureInfo.InvariantCulture);

    private static string Amounts(IReadOnlyList<CurrencyAmount> amounts) =>
        amounts.Count == 0 ? "0.00" : string.Join(", ", amounts.Select(a => Signed(a.Amount) + " " + a.Currency));
}
