using System.Collections.Concurrent;
using System.Globalization;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Sessions;
using MetalSniper.Sentinel.Breakers;
using MetalSniper.Sentinel.Halts;
using Microsoft.Extensions.Logging;
using MetalSniper.Core.Time;

namespace MetalSniper.Sentinel;

/// <summary>Sentinel settings (bound from the <c>Risk</c> configuration section by the host). Money in the base currency.</summary>
/// <param name="DailyLossLimit">Loss from the start of the trading day (realized + unrealized, net of commissions) that triggers a flatten and an L2 pause until the next trading day (&gt; 0).</param>
/// <param name="BaseCurrency">Base (account) currency.</param>
/// <param name="SweepInterval">Time-driven sweep period (≤ 1 s).</param>
/// <param name="TradingDayTimeZone">IANA zone of the trading-day boundary.</param>
/// <param name="TradingDayStart">Local time the trading day starts (17:00 New York for metals).</param>
public sealed record SentinelSettings(decimal DailyLossLimit, Currency BaseCurrency, TimeSpan SweepInterval, string TradingDayTimeZone, TimeOnly TradingDayStart)
{
    /// <summary>Rapid-loss cut: a fall of equity P&amp;L by at least this much within <see cref="RapidLossWindow"/> flattens everything (0 = off).</summary>
    public decimal RapidLossAmount { get; init; }

    /// <summary>The rapid-loss look-back (clock time).</summary>
    public TimeSpan RapidLossWindow { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How long entries stay at L2 after a rapid-loss cut.</summary>
    public TimeSpan RapidLossPause { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Watchdog trailing stop: a retreat of this fraction from the best price since the position opened flattens it (0 = off). A backstop wider than any strategy stop.</summary>
    public decimal WatchdogTrailFraction { get; init; }

    /// <summary>
    /// A held instrument whose latest price is older than its limit, counted in open market time (its venue's sessions), sets
    /// an L1 pause until fresh data returns (zero = off). The limit per symbol is max(this, 2 × the symbol's latest bar
    /// length): 15-minute bars keep this value, an LSE daily bar (08:00–16:30) gets 17 h, so it is not stale between two
    /// closes and is stale from the open of the third session when two closes pass without a bar.
    /// </summary>
    public TimeSpan StaleDataAfter { get; init; }

    /// <summary>A registered heartbeat that does not move for this long (wall clock) escalates the kill switch (zero = off).</summary>
    public TimeSpan HeartbeatTimeout { get; init; }

    /// <summary>Linux nice value of the sentinel thread (−20..19; negative needs CAP_SYS_NICE). Default −10. Windows uses AboveNormal.</summary>
    public int LinuxNice { get; init; } = -10;

    /// <summary>Circuit breakers evaluated on every sweep (null = none).</summary>
    public CircuitBreakerSettings? Breakers { get; init; }

    /// <summary>
    /// The longest wait between two flattens of one position when the earlier ones left it unchanged (refused by the
    /// gates, rejected or cancelled by the broker): the wait starts at <see cref="SweepInterval"/> and doubles per attempt
    /// up to this. Default 1 minute.
    /// </summary>
    public TimeSpan FlattenRetryMaxDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Maximum holding time: a position open this long (clock time since its first fill, <see cref="PositionSnapshot.OpenedAtUtc"/>)
    /// is flattened (zero = off), a <see cref="DecisionKind.MaxHoldingTime"/> decision.
    /// </summary>
    public TimeSpan MaxHoldingTime { get; init; }

    /// <summary>
    /// End-of-session exit: a position is flattened once its venue's current session ends within this (clock time, the
    /// exchange calendar's <see cref="ITradingSessions.SessionEnd"/>; for the metals the daily 17:00 New York break, and the
    /// early closes of holidays) — zero = off. A <see cref="DecisionKind.SessionCloseFlatten"/> decision.
    /// </summary>
    public TimeSpan FlattenBeforeSessionClose { get; init; }
}

/// <summary>Our book as the execution service last published it. Immutable; <see cref="Version"/> grows with every fill.</summary>
/// <param name="Positions">Position snapshots.</param>
/// <param name="Version">Monotonic version.</param>
public sealed record BookView(IReadOnlyList<PositionSnapshot> Positions, long Version)
{
    /// <summary>An empty book.</summary>
    public static BookView Empty { get; } = new([], 0);

    /// <summary>Net P&amp;L (base currency) of every closed trade so far, in order (the breakers read the new ones).</summary>
    public IReadOnlyList<decimal> ClosedTradePnls { get; init; } = [];

    /// <summary>Symbols with a risk flatten working at the broker: the sentinel does not send another one while it works.</summary>
    public IReadOnlySet<string> WorkingFlattens { get; init; } = new HashSet<string>();
}

/// <summary>A sentinel intervention.</summary>
/// <param name="Kind">What the sentinel did (DailyLossFlatten, PnlUnknown, Breaker, …).</param>
/// <param name="Subject">Which breaker or silent component, where the kind covers several; null otherwise.</param>
/// <param name="Detail">Formula, inputs and action.</param>
/// <param name="AtUtc">When.</param>
public sealed record SentinelTrip(DecisionKind Kind, string? Subject, string Detail, DateTimeOffset AtUtc)
{
    /// <summary>The kind with its subject, as stored (<c>Breaker:drawdown</c>, <c>DailyLossFlatten</c>).</summary>
    public string Label => DecisionKinds.Label(Kind, Subject);
}

/// <summary>
/// Where the sentinel's orders go: the host records the decision first, then puts the order on the
/// priority lane to the gateway (never behind market data or the brain's orders).
/// </summary>
public interface ISentinelOutbox
{
    /// <summary>Records the decision and enqueues the reduce-only order on the priority lane. Must not block.</summary>
    void Send(DecisionRecord decision, SubmitOrder order);

    /// <summary>
    /// Records a halt decision and takes every working entry and add order off the market at once
    /// (a resting entry stop must not open a position while entries are halted). Must not block.
    /// </summary>
    void HaltEntries(DecisionRecord decision);
}

/// <summary>A heartbeat the sentinel watches: a counter that a live service moves at least once a second, even when idle.</summary>
/// <param name="Name">The service ("brain", "hands").</param>
/// <param name="Read">Reads the counter (lock-free).</param>
/// <param name="Expected">True while the service should be beating (not before it starts, not after it finished).</param>
/// <param name="Level">The kill level a missed heartbeat latches.</param>
public sealed record HeartbeatWatch(string Name, Func<long> Read, Func<bool> Expected, KillLevel Level);

/// <summary>
/// The independent risk sentinel. It runs on its own dedicated thread (not the thread pool) at
/// above-normal priority and shares no lock with the brain: prices arrive through a lock-free
/// queue per symbol, positions through an immutable <see cref="BookView"/> reference, and the kill
/// switch is read as an immutable state. It sweeps on every price of a held instrument (coalesced
/// when prices arrive faster than a sweep; a price read ahead of the clock, as in replay, is used
/// only once the clock reaches it) and at least every <see cref="SentinelSettings.SweepInterval"/>; a replay starts no thread
/// and sweeps inline instead (<see cref="SweepInline"/>).
/// Each sweep enforces, in order: unknown P&amp;L (a held instrument without price or FX rate: L1
/// until known; unknown is never zero); daily-loss flatten (L2 until the next trading day);
/// rapid-loss cut; the circuit breakers; the kill switch at L2 (flatten whatever is open); the
/// watchdog trailing stop per position; stale data on a held instrument (L1 until fresh); missed
/// heartbeats of the brain and the hands (latched escalation). Its orders go to
/// <see cref="ISentinelOutbox"/> (the priority lane) and every intervention is recorded.
/// </summary>
public sealed partial class RiskSentinel : IDayPnlView, IDisposable
{
    private readonly SentinelSettings _settings;
    private readonly IInstrumentCatalog _instruments;
    private readonly FxConverter _fx;
    private readonly TimeProvider _clock;
    private readonly TimeProvider _wallClock;
    private readonly ISentinelOutbox _outbox;
    private readonly KillSwitch _kill;
    private readonly ITradingSessions _sessions;
    private readonly IdGenerator _ids;
    private readonly ILogger _logger;
    private readonly TimeZoneInfo _dayZone;
    private readonly CircuitBreakers? _breakers;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(decimal Price, DateTimeOffset TimeUtc, TimeSpan BarInterval)>> _incoming = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (decimal Price, DateTimeOffset TimeUtc)> _prices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan> _barIntervals = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly ManualResetEventSlim _priorityApplied = new(false);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, long> _flattenSentAtVersion = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FlattenAttempts> _flattenAttempts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Direction, decimal Best)> _watermarks = new(StringComparer.Ordinal);
    private readonly Queue<(DateTimeOffset AtUtc, decimal Pnl)> _recentPnl = new();
    private readonly Dictionary<string, string> _staleKeys = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<SentinelTrip> _trips = new();
    private readonly List<(HeartbeatWatch Watch, long Last, DateTimeOffset ChangedUtc, bool Tripped)> _heartbeats = [];

    // Scratch of the breaker observation, refilled on every sweep (the breakers keep nothing of an observation).
    private readonly Dictionary<string, decimal> _notionals = new(StringComparer.Ordinal);
    private readonly List<FxRateInUse> _rates = [];

    // The price queues of _incoming as an array (symbols are only ever added): a sweep walks it without the concurrent
    // dictionary's enumerator, and refreshes it when a symbol was added.
    private KeyValuePair<string, ConcurrentQueue<(decimal Price, DateTimeOffset TimeUtc, TimeSpan BarInterval)>>[] _queues = [];
    private Thread? _thread;
    private ITimer? _timer;
    private ITimer? _heartbeatTimer;
    private BookView _book = BookView.Empty;
    private volatile HashSet<string> _held = new(StringComparer.Ordinal);
    private int _signalled;
    private long _sweeps;
    private long _loops;
    private long _lastSweepTicks;
    private int _tradesSeen;
    private DateOnly _tradingDay;
    private decimal _dayStartPnl;
    private decimal? _lastPnl = 0m; // the book starts empty: the first day's baseline is 0, not the first sweep's P&L
    private DayPnlSnapshot _dayPnl = new(0m, DateTimeOffset.MaxValue);
    private Exception? _fault;
    private Exception? _storeFault;
    private TradingDayWindow? _dayWindow;

    /// <summary>Creates the sentinel (not started).</summary>
    /// <param name="settings">Limits.</param>
    /// <param name="instruments">Instrument catalog (multipliers, currencies, venues).</param>
    /// <param name="fx">FX conversion (fails closed).</param>
    /// <param name="clock">The trading clock (the replay clock in replay).</param>
    /// <param name="wallClock">Wall clock, for heartbeats (a frozen replay clock must not hide a frozen service).</param>
    /// <param name="outbox">The priority lane.</param>
    /// <param name="killSwitch">The kill switch (pauses and escalations are recorded in its store).</param>
    /// <param name="sessions">Trading sessions (stale data only counts while the market is open).</param>
    /// <param name="ids">Id generator.</param>
    /// <param name="logger">Logger.</param>
    /// <exception cref="ArgumentException">A limit is out of range.</exception>
    public RiskSentinel(SentinelSettings settings, IInstrumentCatalog instruments, FxConverter fx, TimeProvider clock, TimeProvider wallClock, ISentinelOutbox outbox,
        KillSwitch killSwitch, ITradingSessions sessions, IdGenerator ids, ILogger<RiskSentinel> logger)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.DailyLossLimit <= 0m)
        {
            throw new ArgumentException($"daily loss limit must be > 0, was {settings.DailyLossLimit}", nameof(settings));
        }

        if (settings.RapidLossAmount < 0m || settings.WatchdogTrailFraction is < 0m or >= 1m)
        {
            throw new ArgumentException($"rapid-loss amount must be ≥ 0 (was {settings.RapidLossAmount}) and the watchdog trail in [0, 1) (was {settings.WatchdogTrailFraction})", nameof(settings));
        }

        _settings = settings;
        _instruments = instruments;
        _fx = fx;
        _clock = clock;
        _wallClock = wallClock;
        _outbox = outbox;
        _kill = killSwitch;
        _sessions = sessions;
        _ids = ids;
        _logger = logger;
        _dayZone = TimeZoneInfo.FindSystemTimeZoneById(settings.TradingDayTimeZone);
        _breakers = settings.Breakers is { } b ? new CircuitBreakers(b, NextTradingDayStart) : null;
    }

    /// <summary>Sweeps done so far (a heartbeat: it grows at least once per sweep interval while the thread is alive).</summary>
    public long Sweeps => Interlocked.Read(ref _sweeps);

    /// <summary>The book as the sentinel last received it (diagnostics and benchmarks).</summary>
    public BookView Book => Volatile.Read(ref _book);

    /// <summary>Turns of the sentinel's loop (a sweep or a heartbeat check): the process watchdog pings only while this moves.</summary>
    public long Loops => Interlocked.Read(ref _loops);

    /// <summary>Clock time of the last sweep.</summary>
    public DateTimeOffset LastSweepUtc => new(Interlocked.Read(ref _lastSweepTicks), TimeSpan.Zero);

    /// <summary>Today's P&amp;L at the last sweep (base currency; null when unknown).</summary>
    public decimal? DayPnl => Volatile.Read(ref _dayPnl).Value;

    /// <inheritdoc />
    /// <remarks>
    /// A snapshot from an earlier trading day reads as 0: the sentinel sweeps whenever the book changes
    /// and every bar while a position is open, so an old snapshot means the book has been flat and
    /// unchanged since, and equity has not moved. Unknown stays unknown.
    /// </remarks>
    public decimal? DayPnlAt(DateTimeOffset nowUtc)
    {
        var s = Volatile.Read(ref _dayPnl);
        return s.Value is null ? null : nowUtc >= s.ValidUntilUtc ? 0m : s.Value;
    }

    /// <summary>The circuit breakers (null when none are configured).</summary>
    public CircuitBreakers? Breakers => _breakers;

    /// <summary>
    /// Watches a heartbeat: when its counter does not move for <see cref="SentinelSettings.HeartbeatTimeout"/>
    /// of wall time, the kill switch is escalated to the watch's level. Register before <see cref="Start"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The sentinel is already started.</exception>
    public void Watch(HeartbeatWatch watch)
    {
        ArgumentNullException.ThrowIfNull(watch);
        if (_thread is not null)
        {
            throw new InvalidOperationException("register heartbeats before the sentinel starts");
        }

        _heartbeats.Add((watch, watch.Read(), _wallClock.GetUtcNow(), false));
    }

    /// <summary>
    /// Runs one sweep on the caller's thread, seeing everything published so far (prices up to the clock, the book). For
    /// the causal replay scheduler, which runs ingest, brain, hands, simulated broker and sentinel in order on one thread:
    /// there the sentinel's thread is never started, and the hands sweep every bar that has risk on before the next bar
    /// (every bar with risk on is swept, in order, so trips are the same on every run; no thread hand-off).
    /// Its orders are on the priority lane when it returns.
    /// </summary>
    /// <exception cref="InvalidOperationException">The sentinel's own thread is running (sweeps belong to it then).</exception>
    public void SweepInline()
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("the sentinel runs on its own thread; an inline sweep would race it");
        }

        Interlocked.Increment(ref _loops);
        Sweep();
    }

    /// <summary>Every intervention so far.</summary>
    public IReadOnlyList<SentinelTrip> Trips => _trips.ToArray();

    /// <summary>What the OS refused when the sentinel's thread asked for its priority (null: applied or not on Linux). A fallback the host reports.</summary>
    public string? PriorityProblem { get; private set; }

    /// <summary>Waits (bounded) until the thread has asked for its priority; true when it has.</summary>
    public bool WaitForPriority(TimeSpan timeout) => _priorityApplied.Wait(timeout);

    /// <summary>A halt the store could not record (it is in force in memory); the host treats it as fatal.</summary>
    public Exception? StoreFault => Volatile.Read(ref _storeFault);

    /// <summary>The exception that stopped the sentinel thread, if any (the host treats it as fatal).</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>The dedicated thread, for tests and diagnostics.</summary>
    public Thread? Thread => _thread;

    /// <summary>Starts the dedicated thread and the sweep timer.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public void Start()
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("the sentinel is already started");
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "risk-sentinel", Priority = ThreadPriority.AboveNormal };
        _thread.Start();

        // A timer on the trading clock drives sweeps (a replay never starts this thread: it sweeps inline, bar by bar), and
        // a wall-clock timer checks heartbeats (a stalled trading clock must not hide a stalled service).
        _timer = _clock.CreateTimer(static s => ((RiskSentinel)s!).Signal(), this, _settings.SweepInterval, _settings.SweepInterval);
        // The wall-clock beat also keeps the loop turning (and the process watchdog fed) when the market is quiet.
        _heartbeatTimer = _wallClock.CreateTimer(static s => ((RiskSentinel)s!).Signal(), this, _settings.SweepInterval, _settings.SweepInterval);
    }

    /// <summary>
    /// A new price (major units of the instrument currency), lock-free; wakes the sentinel when the
    /// instrument is held. The sentinel uses a price once its event time is not in the future of
    /// its clock: in replay, ingest reads ahead of the broker side, and a position must never be
    /// judged against a price that has not happened yet.
    /// </summary>
    public void OnPrice(string symbol, decimal price, DateTimeOffset eventTimeUtc) => OnPrice(symbol, price, eventTimeUtc, TimeSpan.Zero);

    /// <summary>
    /// A new price from a bar (its close, at its close time) with the bar's length: the stale-data limit of the symbol is
    /// max(<see cref="SentinelSettings.StaleDataAfter"/>, 2 × the length of its latest bar) of open market time, so a daily
    /// bar (one per session) is not stale between two closes. Lock-free, as <see cref="OnPrice(string, decimal, DateTimeOffset)"/>.
    /// </summary>
    /// <param name="symbol">Instrument symbol.</param>
    /// <param name="price">Price, major units of the instrument currency.</param>
    /// <param name="eventTimeUtc">When the price was observed (a bar's close time).</param>
    /// <param name="barInterval">The bar's length (zero for a tick or quote: the limit is then <see cref="SentinelSettings.StaleDataAfter"/>).</param>
    public void OnPrice(string symbol, decimal price, DateTimeOffset eventTimeUtc, TimeSpan barInterval)
    {
        _incoming.GetOrAdd(symbol, static _ => new ConcurrentQueue<(decimal, DateTimeOffset, TimeSpan)>()).Enqueue((price, eventTimeUtc, barInterval));
        if (_held.Contains(symbol) && eventTimeUtc <= _clock.GetUtcNow())
        {
            Signal();
        }
    }

    /// <summary>A new book from the execution service. Lock-free; wakes the sentinel.</summary>
    public void OnBook(BookView book)
    {
        ArgumentNullException.ThrowIfNull(book);
        Volatile.Write(ref _book, book);
        _held = new HashSet<string>(book.Positions.Where(p => !p.IsFlat).Select(p => p.Symbol), StringComparer.Ordinal);
        Signal();
    }

    /// <summary>Stops the thread and waits for it (bounded).</summary>
    public void Stop(TimeSpan timeout)
    {
        _timer?.Dispose();
        _heartbeatTimer?.Dispose();
        _stop.Cancel();
        if (_thread is { IsAlive: true } t && !t.Join(timeout))
        {
            _logger.LogError("Risk sentinel thread did not stop within {Timeout}", timeout);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(5));
        _wake.Dispose();
        _stop.Dispose();
        _priorityApplied.Dispose();
    }

    private void Signal()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            _wake.Release();
        }
    }

    private void Run()
    {
        if (ThreadPriorityBoost.TryBoostCurrentThread(_settings.LinuxNice) is { } problem)
        {
            _logger.LogWarning("Risk sentinel thread priority: {Problem}", problem);
            PriorityProblem = problem;
        }
        else if (OperatingSystem.IsLinux())
        {
            _logger.LogInformation("Risk sentinel thread at nice {Nice} with a 0.1 ms slice", _settings.LinuxNice);
        }

        _priorityApplied.Set();

        try
        {
            while (!_stop.IsCancellationRequested)
            {
                _wake.Wait(_stop.Token);
                Interlocked.Exchange(ref _signalled, 0);
                Interlocked.Increment(ref _loops);
                Sweep();
                CheckHeartbeats(_clock.GetUtcNow());
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Orderly stop.
        }
        catch (Exception e)
        {
            Volatile.Write(ref _fault, e);
            _logger.LogCritical(e, "Risk sentinel thread failed; the host must stop trading");
        }
    }

    /// <summary>One sweep over every position. Runs only on the sentinel thread.</summary>
    private void Sweep()
    {
        // The book first, then the clock: every price up to "now" is then at least as new as the book, so a
        // position is never judged against prices older than itself.
        var book = Volatile.Read(ref _book);
        var now = _clock.GetUtcNow();
        Interlocked.Increment(ref _sweeps);
        Interlocked.Exchange(ref _lastSweepTicks, now.UtcTicks);
        if (_queues.Length != _incoming.Count)
        {
            _queues = _incoming.ToArray();
        }

        foreach (var (symbol, queue) in _queues)
        {
            while (queue.TryPeek(out var px) && px.TimeUtc <= now && queue.TryDequeue(out px))
            {
                _prices[symbol] = (px.Price, px.TimeUtc);
                _barIntervals[symbol] = px.BarInterval;
            }
        }

        var (pnl, unknown) = TotalPnl(book);
        if (unknown is not null)
        {
            // Unknown is not zero: entries stop, and every check that needs P&L waits; the checks that do not
            // (the L2 flatten, the watchdog trail, stale data) still run.
            Volatile.Write(ref _dayPnl, new DayPnlSnapshot(null, DateTimeOffset.MaxValue));
            if (Halt((unknown, now), static (k, s) => k.Pause("pnl-unknown", KillLevel.NoEntries, null, "sentinel", $"P&L cannot be computed ({s.unknown}): unknown is not zero", s.now)))
            {
                Trip(DecisionKind.PnlUnknown, null, $"P&L cannot be computed ({unknown}); entries halted until it is known", now, KillLevel.NoEntries, null);
            }

            CheckKillLevel(book, now);
            CheckWatchdog(book, now);
            CheckStaleData(book, now);
            CheckExitRules(book, now);
            return;
        }

        if (_kill.State.Pauses.ContainsKey("pnl-unknown") && Halt(now, static (k, at) => k.Clear("pnl-unknown", "sentinel", "P&L computable again", at)))
        {
            _logger.LogInformation("Sentinel: P&L is known again; the pnl-unknown pause is cleared");
        }

        // The day's baseline is the equity at the last sweep before the boundary: equity cannot change
        // while flat, and every bar is swept while a position is open, so the baseline does not depend on
        // when the first sweep of the new day happens to run.
        var day = TradingDay(now);
        if (day != _tradingDay)
        {
            _tradingDay = day;
            _dayStartPnl = _lastPnl ?? pnl;
        }

        _lastPnl = pnl;
        var dayPnl = pnl - _dayStartPnl;
        var validUntil = NextTradingDayStart(now);
        // A new snapshot only when it differs (the same value to the last digit of its scale): most sweeps of a flat book repeat it.
        if (Volatile.Read(ref _dayPnl) is not { Value: { } last } snapshot || last != dayPnl || last.Scale != dayPnl.Scale || snapshot.ValidUntilUtc != validUntil)
        {
            Volatile.Write(ref _dayPnl, new DayPnlSnapshot(dayPnl, validUntil));
        }

        var inv = CultureInfo.InvariantCulture;

        if (dayPnl <= -_settings.DailyLossLimit)
        {
            var until = NextTradingDayStart(now);
            var formula = string.Create(inv, $"day P&L = equity P&L {pnl:0.00} − day-start {_dayStartPnl:0.00} = {dayPnl:0.00} {_settings.BaseCurrency} ≤ −{_settings.DailyLossLimit:0.00}");
            var flattened = FlattenAll(book, DecisionKind.DailyLossFlatten, formula, now, new() { ["dayPnl"] = dayPnl.ToString("0.00", inv), ["limit"] = _settings.DailyLossLimit.ToString("0.00", inv) });
            if (Halt((until, formula, now), static (k, s) => k.Pause("daily-loss", KillLevel.Flatten, s.until, "sentinel", s.formula, s.now)) || flattened > 0)
            {
                Trip(DecisionKind.DailyLossFlatten, null, $"{formula}; flatten {flattened} position(s), L2 until {UtcText.Of(until)}", now, KillLevel.Flatten, until);
            }
        }

        CheckRapidLoss(book, pnl, now);
        CheckBreakers(book, pnl, now);
        CheckKillLevel(book, now);
        CheckWatchdog(book, now);
        CheckStaleData(book, now);
        CheckExitRules(book, now);
    }

    /// <summary>
    /// The configured exit rules (issue 18 item 9): a position held for <see cref="SentinelSettings.MaxHoldingTime"/>, or one
    /// whose venue's session ends within <see cref="SentinelSettings.FlattenBeforeSessionClose"/>, is flattened, each a decision
    /// with its reason and the times it saw. Both off (zero) by default.
    /// </summary>
    private void CheckExitRules(BookView book, DateTimeOffset now)
    {
        if (_settings.MaxHoldingTime <= TimeSpan.Zero && _settings.FlattenBeforeSessionClose <= TimeSpan.Zero)
        {
            return;
        }

        var inv = CultureInfo.InvariantCulture;
        for (var i = 0; i < book.Positions.Count; i++)
        {
            var p = book.Positions[i]; // indexed: an interface foreach allocates its enumerator on every sweep
            if (p.IsFlat)
            {
                continue;
            }

            if (_settings.MaxHoldingTime > TimeSpan.Zero && p.OpenedAtUtc is { } opened && now - opened >= _settings.MaxHoldingTime)
            {
                var formula = string.Create(inv, $"maximum holding time: {p.Symbol} {p.Quantity} held since {UtcText.Of(opened)}, {now - opened} ≥ {_settings.MaxHoldingTime}");
                Flatten(book, p, DecisionKind.MaxHoldingTime, formula, now, new()
                {
                    ["openedUtc"] = opened.ToString("O", inv),
                    ["held"] = (now - opened).ToString("c", inv),
                    ["maxHoldingTime"] = _settings.MaxHoldingTime.ToString("c", inv),
                });
                continue;
            }

            if (_settings.FlattenBeforeSessionClose > TimeSpan.Zero)
            {
                var venue = _instruments.Get(p.Symbol).Exchange;
                if (_sessions.IsOpen(venue, now) && _sessions.SessionEnd(venue, now) is { } end && end - now <= _settings.FlattenBeforeSessionClose)
                {
                    var formula = string.Create(inv, $"end of session: {p.Symbol} {p.Quantity}, {venue} closes at {UtcText.Of(end)}, in {end - now} ≤ {_settings.FlattenBeforeSessionClose}");
                    Flatten(book, p, DecisionKind.SessionCloseFlatten, formula, now, new()
                    {
                        ["venue"] = venue,
                        ["sessionEndUtc"] = end.ToString("O", inv),
                        ["flattenBefore"] = _settings.FlattenBeforeSessionClose.ToString("c", inv),
                    });
                }
            }
        }
    }

    /// <summary>At L2, whatever is open is flattened (whoever set L2: operator, kill file, breaker, daily loss).</summary>
    private void CheckKillLevel(BookView book, DateTimeOffset now)
    {
        if (_kill.Level(now) != KillLevel.Flatten)
        {
            return;
        }

        var why = _kill.State.Describe(now);
        var n = FlattenAll(book, DecisionKind.KillSwitchFlatten, "kill switch at L2: " + why, now, new() { ["level"] = "L2" });
        if (n > 0)
        {
            _trips.Enqueue(new SentinelTrip(DecisionKind.KillSwitchFlatten, null, $"flatten {n} position(s): {why}", now));
        }
    }

    /// <summary>
    /// Records a halt. A store that cannot be written leaves the halt in force in memory (the safe side) and
    /// is kept in <see cref="StoreFault"/>, which the host treats as fatal after the flattens already sent.
    /// </summary>
    /// <remarks>
    /// The write is a static lambda over its state, not a closure: a closure over the sweep's time would be allocated
    /// on every sweep (the compiler creates it where the captured variables are declared), halt or none.
    /// </remarks>
    private bool Halt<TState>(TState state, Func<KillSwitch, TState, bool> write)
    {
        try
        {
            return write(_kill, state);
        }
        catch (HaltStoreWriteException e)
        {
            Volatile.Write(ref _storeFault, e);
            _logger.LogCritical(e, "Sentinel: {Message}", e.Message);
            return true;
        }
    }

    private void CheckRapidLoss(BookView book, decimal pnl, DateTimeOffset now)
    {
        if (_settings.RapidLossAmount <= 0m)
        {
            return;
        }

        while (_recentPnl.TryPeek(out var old) && now - old.AtUtc > _settings.RapidLossWindow)
        {
            _recentPnl.Dequeue();
        }

        _recentPnl.Enqueue((now, pnl));
        // The maximum, oldest first (the first of equal values, as Enumerable.Max), without its enumerator.
        var peak = 0m;
        var first = true;
        foreach (var (_, recent) in _recentPnl)
        {
            if (first || recent > peak)
            {
                peak = recent;
                first = false;
            }
        }

        var drop = peak - pnl;
        if (drop < _settings.RapidLossAmount)
        {
            return;
        }

        var inv = CultureInfo.InvariantCulture;
        var formula = string.Create(inv, $"rapid loss = peak {peak:0.00} − equity {pnl:0.00} = {drop:0.00} {_settings.BaseCurrency} within {_settings.RapidLossWindow} ≥ {_settings.RapidLossAmount:0.00}");
        var until = now + _settings.RapidLossPause;
        var n = FlattenAll(book, DecisionKind.RapidLossCut, formula, now, new() { ["drop"] = drop.ToString("0.00", inv), ["window"] = _settings.RapidLossWindow.ToString() });
        if (Halt((until, formula, now), static (k, s) => k.Pause("rapid-loss", KillLevel.Flatten, s.until, "sentinel", s.formula, s.now)) || n > 0)
        {
            Trip(DecisionKind.RapidLossCut, null, $"{formula}; flatten {n} position(s), L2 until {UtcText.Of(until)}", now, KillLevel.Flatten, until);
        }

        _recentPnl.Clear();
        _recentPnl.Enqueue((now, pnl));
    }

    private void CheckBreakers(BookView book, decimal pnl, DateTimeOffset now)
    {
        if (_breakers is null)
        {
            return;
        }

        IReadOnlyList<decimal> newTrades = book.ClosedTradePnls.Count > _tradesSeen ? book.ClosedTradePnls.Skip(_tradesSeen).ToList() : Array.Empty<decimal>();
        _tradesSeen = book.ClosedTradePnls.Count;
        var notionals = _notionals;
        var rates = _rates;
        notionals.Clear();
        rates.Clear();
        for (var i = 0; i < book.Positions.Count; i++)
        {
            var p = book.Positions[i]; // indexed: an interface foreach allocates its enumerator on every sweep
            if (p.IsFlat)
            {
                continue;
            }

            var instrument = _instruments.Get(p.Symbol);
            var price = _prices.TryGetValue(p.Symbol, out var px) ? px.Price : p.AveragePrice;
            if (_fx.TryConvert(new Money(p.Quantity * price * instrument.Multiplier, p.Currency), _settings.BaseCurrency, out var n))
            {
                notionals[p.Symbol] = n.Amount;
            }

            if (p.Currency != _settings.BaseCurrency)
            {
                rates.Add(new FxRateInUse(p.Currency.Code + _settings.BaseCurrency.Code, _fx.RateAsOf(p.Currency, _settings.BaseCurrency)));
            }
        }

        foreach (var trip in _breakers.Observe(new BreakerObservation(now, pnl, newTrades, notionals, rates)))
        {
            // The flatten leaves first, then the record: a slow or failing store must not hold up an exit.
            var key = trip.Breaker.HaltKey();
            var flattened = trip.Level == KillLevel.Flatten ? FlattenAll(book, DecisionKind.BreakerFlatten, trip.Formula, now, new(trip.Inputs)) : 0;
            Halt((key, trip, now), static (k, s) => k.Pause(s.key, s.trip.Level, s.trip.PausedUntilUtc, "breaker", s.trip.Formula, s.now));
            Trip(DecisionKind.Breaker, trip.Breaker.Label(),
                $"{trip.Formula}; L{(int)trip.Level} until {UtcText.Of(trip.PausedUntilUtc)}{(trip.PausedForDay ? " (paused for the day: too many trips in 24 h)" : "")}{(flattened > 0 ? $"; flatten {flattened} position(s)" : "")}",
                now, trip.Level, trip.PausedUntilUtc, trip.Inputs);
        }
    }

    private void CheckWatchdog(BookView book, DateTimeOffset now)
    {
        for (var i = 0; i < book.Positions.Count; i++)
        {
            var p = book.Positions[i]; // indexed: an interface foreach allocates its enumerator on every sweep
            if (p.IsFlat || !_prices.TryGetValue(p.Symbol, out var px))
            {
                _watermarks.Remove(p.Symbol);
                continue;
            }

            var direction = Math.Sign(p.Quantity);
            var best = _watermarks.TryGetValue(p.Symbol, out var w) && w.Direction == direction
                ? (direction > 0 ? Math.Max(w.Best, px.Price) : Math.Min(w.Best, px.Price))
                : (direction > 0 ? Math.Max(p.AveragePrice, px.Price) : Math.Min(p.AveragePrice, px.Price));
            _watermarks[p.Symbol] = (direction, best);
            if (_settings.WatchdogTrailFraction <= 0m)
            {
                continue;
            }

            var retreat = direction * (best - px.Price) / best;
            if (retreat < _settings.WatchdogTrailFraction)
            {
                continue;
            }

            var inv = CultureInfo.InvariantCulture;
            var formula = string.Create(inv, $"watchdog trail: {(direction > 0 ? "long" : "short")} {p.Symbol} best {best} → {px.Price}: retreat {retreat:P2} ≥ {_settings.WatchdogTrailFraction:P2}");
            if (Flatten(book, p, DecisionKind.WatchdogTrail, formula, now, new() { ["best"] = best.ToString(inv), ["price"] = px.Price.ToString(inv) }))
            {
                _trips.Enqueue(new SentinelTrip(DecisionKind.WatchdogTrail, null, formula, now));
            }
        }
    }

    private void CheckStaleData(BookView book, DateTimeOffset now)
    {
        if (_settings.StaleDataAfter <= TimeSpan.Zero)
        {
            return;
        }

        for (var i = 0; i < book.Positions.Count; i++)
        {
            var p = book.Positions[i]; // indexed: an interface foreach allocates its enumerator on every sweep
            var key = StaleKey(p.Symbol);
            var last = _prices.TryGetValue(p.Symbol, out var px) ? px.TimeUtc : (DateTimeOffset?)null;
            var limit = StaleLimit(p.Symbol);
            var stale = !p.IsFlat && (last is null || now - last.Value > limit);
            if (stale)
            {
                // Only an old price costs a look at the calendar: open now, and open long enough since the price.
                var venue = _instruments.Get(p.Symbol).Exchange;
                stale = _sessions.IsOpen(venue, now) && (last is null || OpenTimeSince(venue, last.Value, now, limit) > limit);
            }

            if (stale)
            {
                // The limit (max(StaleDataAfter, 2 × bar)) is in the text; the same text as before for bars no longer than StaleDataAfter / 2.
                var age = last is { } l ? (now - l).ToString() : "never";
                if (Halt((key, reason: $"held {p.Symbol} has no price for {age} (> {limit}) while its market is open", now),
                        static (k, s) => k.Pause(s.key, KillLevel.NoEntries, null, "sentinel", s.reason, s.now)))
                {
                    Trip(DecisionKind.StaleData, null, $"held {p.Symbol}: last price {(last is { } t ? t.ToString("O", CultureInfo.InvariantCulture) : "never")}, age {age} > {limit}; L1 until fresh", now, KillLevel.NoEntries, null);
                }
            }
            else if (_kill.State.Pauses.ContainsKey(key) && Halt((key, reason: p.IsFlat ? "position closed" : "fresh data", now), static (k, s) => k.Clear(s.key, "sentinel", s.reason, s.now)))
            {
                _logger.LogInformation("Sentinel: data for {Symbol} is fresh again (or the position closed); stale-data pause cleared", p.Symbol);
            }
        }

        // A stale-data pause for an instrument no longer held (one restored from before a restart, say) has no condition left.
        foreach (var pause in _kill.State.PauseList)
        {
            if (pause.Key.StartsWith("stale-data:", StringComparison.Ordinal) && !HeldWithStaleKey(book, pause.Key))
            {
                Halt((pause.Key, now), static (k, s) => k.Clear(s.Key, "sentinel", "instrument not held", s.now));
            }
        }
    }

    /// <summary>Whether an open position of <paramref name="book"/> has the stale-data key <paramref name="key"/>.</summary>
    private bool HeldWithStaleKey(BookView book, string key)
    {
        for (var i = 0; i < book.Positions.Count; i++)
        {
            var p = book.Positions[i]; // indexed: an interface foreach allocates its enumerator on every sweep
            if (!p.IsFlat && string.Equals(StaleKey(p.Symbol), key, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private string StaleKey(string symbol)
    {
        if (!_staleKeys.TryGetValue(symbol, out var key))
        {
            key = "stale-data:" + symbol;
            _staleKeys[symbol] = key;
        }

        return key;
    }

    /// <summary>The stale-data limit of a symbol: max(StaleDataAfter, 2 × its latest bar's length) (15-minute bars: 45 min as before; LSE daily: 17 h).</summary>
    private TimeSpan StaleLimit(string symbol)
    {
        var twoBars = _barIntervals.TryGetValue(symbol, out var interval) ? interval * 2 : TimeSpan.Zero;
        return twoBars > _settings.StaleDataAfter ? twoBars : _settings.StaleDataAfter;
    }

    /// <summary>
    /// Market-open time between <paramref name="since"/> and <paramref name="now"/> (1-minute steps,
    /// walking back, stopping once past <paramref name="limit"/>): a session break or a weekend is not staleness.
    /// </summary>
    private TimeSpan OpenTimeSince(string venue, DateTimeOffset since, DateTimeOffset now, TimeSpan limit)
    {
        var open = TimeSpan.Zero;
        var step = TimeSpan.FromMinutes(1);
        for (var (t, n) = (now, 0); t > since && open <= limit && n < 20_000; n++)
        {
            var s = t - since < step ? t - since : step;
            if (_sessions.IsOpen(venue, t - s))
            {
                open += s;
            }

            t -= s;
        }

        return open;
    }

    private void CheckHeartbeats(DateTimeOffset now)
    {
        if (_settings.HeartbeatTimeout <= TimeSpan.Zero)
        {
            return;
        }

        var wall = _wallClock.GetUtcNow();
        for (var i = 0; i < _heartbeats.Count; i++)
        {
            var (watch, last, changed, tripped) = _heartbeats[i];
            var current = watch.Read();
            if (current != last || !watch.Expected())
            {
                _heartbeats[i] = (watch, current, wall, false);
                continue;
            }

            var silent = wall - changed;
            if (silent <= _settings.HeartbeatTimeout || (tripped && _kill.State.LatchedLevel >= watch.Level))
            {
                // Still tripped and still latched: nothing to add. A resume while the service is still silent escalates again.
                continue;
            }

            _heartbeats[i] = (watch, last, changed, true);
            var reason = $"missed heartbeat: {watch.Name} silent for {silent.TotalSeconds:0.0} s (> {_settings.HeartbeatTimeout.TotalSeconds:0.0} s, counter {last})";
            _logger.LogCritical("Sentinel: {Reason}; kill switch to L{Level}", reason, (int)watch.Level);
            if (Halt((watch.Level, reason, now), static (k, s) => k.Escalate(s.Level, "sentinel:heartbeat", s.reason, s.now)))
            {
                Trip(DecisionKind.MissedHeartbeat, watch.Name, reason, now, watch.Level, null);
            }
        }
    }

    /// <summary>Flattens every open position not already being flattened at this book version. Returns how many orders were sent.</summary>
    private int FlattenAll(BookView book, DecisionKind kind, string formula, DateTimeOffset now, Dictionary<string, string> inputs)
    {
        var n = 0;
        for (var i = 0; i < book.Positions.Count; i++)
        {
            var p = book.Positions[i]; // indexed: an interface foreach allocates its enumerator on every sweep
            if (Flatten(book, p, kind, formula, now, inputs))
            {
                n++;
            }
        }

        return n;
    }

    private bool Flatten(BookView book, PositionSnapshot p, DecisionKind kind, string formula, DateTimeOffset now, Dictionary<string, string> inputs)
    {
        // One flatten per position change, and none while an earlier one is still working at the broker.
        if (p.IsFlat || book.WorkingFlattens.Contains(p.Symbol) || (_flattenSentAtVersion.TryGetValue(p.Symbol, out var v) && v >= book.Version))
        {
            return false;
        }

        // A flatten that left the position as it was (refused by the gates, rejected or cancelled by the broker) is tried
        // again only after a back-off: the sweep interval, doubling per attempt up to FlattenRetryMaxDelay. Never once per
        // sweep: each attempt is an order, a gate denial and journal entries. Threaded (the service) the back-off runs on the
        // wall clock; inline (a replay) on market time, so a replay stays the same run after run.
        var at = _thread is null ? now : _wallClock.GetUtcNow();
        // The same position (quantity and average price) as the earlier attempt: that attempt left it unchanged. A later position
        // of the same size is a new one (its average price differs): its first flatten is attempt 1, not a retry.
        if (_flattenAttempts.TryGetValue(p.Symbol, out var tries) && tries.Quantity == p.Quantity && tries.AveragePrice == p.AveragePrice)
        {
            if (at < tries.NotBefore)
            {
                return false;
            }

            tries.Attempts++;
            tries.Delay = TimeSpan.FromTicks(Math.Min(tries.Delay.Ticks * 2, Math.Max(_settings.FlattenRetryMaxDelay.Ticks, _settings.SweepInterval.Ticks)));
            tries.NotBefore = at + tries.Delay;
            LogFlattenRetry(_logger, kind, p.Symbol, p.Quantity, tries.Attempts, tries.Attempts - 1, tries.Delay);
        }
        else
        {
            tries = new FlattenAttempts(p.Quantity, p.AveragePrice) { Attempts = 1, Delay = _settings.SweepInterval, NotBefore = at + _settings.SweepInterval };
            _flattenAttempts[p.Symbol] = tries;
        }

        var decisionId = _ids.NextDecisionId();
        var (_, priceTime) = _prices.TryGetValue(p.Symbol, out var px) ? px : (0m, now);
        var all = new Dictionary<string, string>(inputs)
        {
            ["position"] = p.Quantity.ToString(CultureInfo.InvariantCulture),
            ["averagePrice"] = p.AveragePrice.ToString(CultureInfo.InvariantCulture),
            ["bookVersion"] = book.Version.ToString(CultureInfo.InvariantCulture),
            ["attempt"] = tries.Attempts.ToString(CultureInfo.InvariantCulture),
        };
        var decision = new DecisionRecord(decisionId, "sentinel", p.Symbol, kind, DecisionOutcome.Taken, formula, all, priceTime, now);
        // The quantity is the sentinel's view; the execution service resizes a flatten to the position it holds when the order leaves.
        var order = new SubmitOrder(_ids.NextClientOrderId(), decisionId, p.Symbol, p.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy, Math.Abs(p.Quantity),
            OrderType.Market, null, null, OrderPurpose.RiskFlatten, priceTime, TimeInForce.Gtc, "sentinel");
        _flattenSentAtVersion[p.Symbol] = book.Version;
        _outbox.Send(decision, order);
        if (tries.Attempts == 1)
        {
            LogFlatten(_logger, kind, p.Symbol, p.Quantity, formula);
        }

        return true;
    }

    /// <summary>The flatten attempts on one position while it stays the same — quantity and average price (sentinel thread only).</summary>
    private sealed class FlattenAttempts(decimal quantity, decimal averagePrice)
    {
        public decimal Quantity { get; } = quantity;

        public decimal AveragePrice { get; } = averagePrice;

        public int Attempts { get; set; }

        public TimeSpan Delay { get; set; }

        public DateTimeOffset NotBefore { get; set; }
    }

    private (decimal Pnl, string? Unknown) TotalPnl(BookView book)
    {
        var total = 0m;
        for (var i = 0; i < book.Positions.Count; i++)
        {
            var p = book.Positions[i]; // indexed: an interface foreach allocates its enumerator on every sweep
            var local = p.RealizedPnlNet;
            if (!p.IsFlat)
            {
                if (!_prices.TryGetValue(p.Symbol, out var px))
                {
                    return (0m, $"no price for held {p.Symbol}");
                }

                local += p.Unrealized(px.Price, _instruments.Get(p.Symbol).Multiplier);
            }

            if (!_fx.TryConvert(new Money(local, p.Currency), _settings.BaseCurrency, out var converted))
            {
                return (0m, $"no FX rate {p.Currency}->{_settings.BaseCurrency}");
            }

            total += converted.Amount;
        }

        return (total, null);
    }

    /// <summary>
    /// The trading day containing <paramref name="utc"/>: the day D whose window (start of D, start of D+1] holds it (a
    /// sweep at exactly the boundary, the close of the session's last bar, still belongs to the closing day). The window
    /// of the last answer is kept, so the time-zone conversion runs once a day instead of on every sweep.
    /// </summary>
    private DateOnly TradingDay(DateTimeOffset utc)
    {
        if (Volatile.Read(ref _dayWindow) is { } w && utc > w.FromUtc && utc <= w.UntilUtc)
        {
            return w.Day;
        }

        var local = TimeZoneInfo.ConvertTime(utc.AddTicks(-1), _dayZone).DateTime;
        var day = DateOnly.FromDateTime(local.Add(TimeSpan.FromDays(1) - _settings.TradingDayStart.ToTimeSpan()));
        Volatile.Write(ref _dayWindow, new TradingDayWindow(day, DayStart(day), DayStart(day.AddDays(1))));
        return day;
    }

    /// <summary>The start (UTC) of trading day <paramref name="day"/>: <c>TradingDayStart</c> local time on the calendar day before it.</summary>
    private DateTimeOffset DayStart(DateOnly day)
    {
        var startLocal = day.AddDays(-1).ToDateTime(_settings.TradingDayStart);
        return new DateTimeOffset(startLocal, _dayZone.GetUtcOffset(startLocal)).ToUniversalTime();
    }

    /// <summary>The start (UTC) of the trading day after the one containing <paramref name="utc"/>.</summary>
    public DateTimeOffset NextTradingDayStart(DateTimeOffset utc)
    {
        var day = TradingDay(utc);
        return Volatile.Read(ref _dayWindow) is { } w && w.Day == day ? w.UntilUtc : DayStart(day.AddDays(1));
    }

    /// <summary>A trading day and its window (start, next start], UTC.</summary>
    private sealed record TradingDayWindow(DateOnly Day, DateTimeOffset FromUtc, DateTimeOffset UntilUtc);

    private sealed record DayPnlSnapshot(decimal? Value, DateTimeOffset ValidUntilUtc);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Sentinel {Kind}: flattening {Symbol} {Quantity}: {Formula}")]
    private static partial void LogFlatten(ILogger logger, DecisionKind kind, string symbol, decimal quantity, string formula);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error,
        Message = "Sentinel {Kind}: flattening {Symbol} {Quantity} again, attempt {Attempt}: {Unsuccessful} earlier attempt(s) left the position unchanged (refused or failed); the next attempt no sooner than {Backoff} from now")]
    private static partial void LogFlattenRetry(ILogger logger, DecisionKind kind, string symbol, decimal quantity, int attempt, int unsuccessful, TimeSpan backoff);

    private void Trip(DecisionKind kind, string? subject, string detail, DateTimeOffset now, KillLevel level, DateTimeOffset? until, IReadOnlyDictionary<string, string>? values = null)
    {
        _trips.Enqueue(new SentinelTrip(kind, subject, detail, now));
        var inputs = new Dictionary<string, string>(values ?? new Dictionary<string, string>())
        {
            ["level"] = $"L{(int)level}",
            ["haltedUntilUtc"] = until?.ToString("O", CultureInfo.InvariantCulture) ?? "until cleared",
        };
        _outbox.HaltEntries(new DecisionRecord(_ids.NextDecisionId(), "sentinel", "*", kind, DecisionOutcome.Taken, detail, inputs, now, now, subject));
    }
}
