using System.Collections.Concurrent;
using System.Globalization;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using Microsoft.Extensions.Logging;

namespace MetalSniper.Risk.Sentinel;

/// <summary>Sentinel settings (bound from the <c>Risk</c> configuration section by the host).</summary>
/// <param name="DailyLossLimit">Loss from the start of the trading day (realized + unrealized, net of commissions) that triggers a flatten, in the base currency (&gt; 0).</param>
/// <param name="BaseCurrency">Base (account) currency.</param>
/// <param name="SweepInterval">Time-driven sweep period (≤ 1 s).</param>
/// <param name="TradingDayTimeZone">IANA zone of the trading-day boundary.</param>
/// <param name="TradingDayStart">Local time the trading day starts (17:00 New York for metals).</param>
/// <param name="SweepOnRequestOnly">
/// Replay: sweep only when the execution service asks (<see cref="RiskSentinel.RequestSweep"/>) after
/// applying a bar, never on a price, book or timer signal in between, so every sweep sees a
/// consistent state and trips are the same on every run. Live: false.
/// </param>
public sealed record SentinelSettings(decimal DailyLossLimit, Currency BaseCurrency, TimeSpan SweepInterval, string TradingDayTimeZone, TimeOnly TradingDayStart, bool SweepOnRequestOnly = false);

/// <summary>Our book as the execution service last published it. Immutable; <see cref="Version"/> grows with every fill.</summary>
/// <param name="Positions">Position snapshots.</param>
/// <param name="Version">Monotonic version.</param>
public sealed record BookView(IReadOnlyList<PositionSnapshot> Positions, long Version)
{
    /// <summary>An empty book.</summary>
    public static BookView Empty { get; } = new([], 0);
}

/// <summary>A sentinel intervention.</summary>
/// <param name="Kind">DailyLossFlatten, PnlUnknown.</param>
/// <param name="Detail">Formula, inputs and action.</param>
/// <param name="AtUtc">When.</param>
public sealed record SentinelTrip(string Kind, string Detail, DateTimeOffset AtUtc);

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

/// <summary>
/// The independent risk sentinel. It runs on its own dedicated thread (not the thread pool) at
/// above-normal priority and shares no lock with the brain: prices arrive through a lock-free
/// latest-price table, positions through an immutable <see cref="BookView"/> reference.
/// It sweeps on every price of a held instrument (coalesced when prices arrive faster than a
/// sweep; a price read ahead of the clock, as in replay, is swept when the clock reaches it) and
/// at least every <see cref="SentinelSettings.SweepInterval"/> of the <see cref="TimeProvider"/>. First version: daily-loss limit → flatten everything with
/// reduce-only market orders and halt entries until the next trading day. An unknown P&amp;L
/// (missing price or FX rate of a held instrument) halts entries: it is never read as zero.
/// </summary>
public sealed class RiskSentinel : IDisposable
{
    private readonly SentinelSettings _settings;
    private readonly IInstrumentCatalog _instruments;
    private readonly FxConverter _fx;
    private readonly TimeProvider _clock;
    private readonly ISentinelOutbox _outbox;
    private readonly TradingHalts _halts;
    private readonly IdGenerator _ids;
    private readonly ILogger _logger;
    private readonly TimeZoneInfo _dayZone;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(decimal Price, DateTimeOffset TimeUtc)>> _incoming = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (decimal Price, DateTimeOffset TimeUtc)> _prices = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, long> _flattenSentAtVersion = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<SentinelTrip> _trips = new();
    private Thread? _thread;
    private ITimer? _timer;
    private BookView _book = BookView.Empty;
    private volatile HashSet<string> _held = new(StringComparer.Ordinal);
    private int _signalled;
    private long _sweeps;
    private long _lastSweepTicks;
    private long _requestedSweeps;
    private long _completedSweeps;
    private DateOnly _tradingDay;
    private decimal _dayStartPnl;
    private decimal? _lastPnl = 0m; // the book starts empty: the first day's baseline is 0, not the first sweep's P&L
    private Exception? _fault;

    /// <summary>Creates the sentinel (not started).</summary>
    public RiskSentinel(SentinelSettings settings, IInstrumentCatalog instruments, FxConverter fx, TimeProvider clock, ISentinelOutbox outbox, TradingHalts halts, IdGenerator ids, ILogger<RiskSentinel> logger)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.DailyLossLimit <= 0m)
        {
            throw new ArgumentException($"daily loss limit must be > 0, was {settings.DailyLossLimit}", nameof(settings));
        }

        _settings = settings;
        _instruments = instruments;
        _fx = fx;
        _clock = clock;
        _outbox = outbox;
        _halts = halts;
        _ids = ids;
        _logger = logger;
        _dayZone = TimeZoneInfo.FindSystemTimeZoneById(settings.TradingDayTimeZone);
    }

    /// <summary>Sweeps done so far (a heartbeat: it grows at least once per sweep interval while the thread is alive).</summary>
    public long Sweeps => Interlocked.Read(ref _sweeps);

    /// <summary>Clock time of the last sweep.</summary>
    public DateTimeOffset LastSweepUtc => new(Interlocked.Read(ref _lastSweepTicks), TimeSpan.Zero);

    /// <summary>
    /// Asks for a sweep that sees everything published so far (prices, book) and returns its ticket
    /// for <see cref="WaitForSweep"/>. Replay uses it after each applied bar so that the simulated
    /// broker never runs ahead of the sentinel while risk is on: every bar is swept, and trips are
    /// deterministic.
    /// </summary>
    public long RequestSweep()
    {
        var ticket = Interlocked.Increment(ref _requestedSweeps);
        Signal();
        return ticket;
    }

    /// <summary>
    /// Waits until the sweep of <paramref name="ticket"/> (or a later one) has completed; its orders,
    /// if any, are then already on the priority lane. Spins and yields without sleeping; bounded.
    /// </summary>
    /// <returns>False when the timeout passed or the sentinel has failed (the caller must treat it as a fault).</returns>
    public bool WaitForSweep(long ticket, TimeSpan timeout)
    {
        var wall = TimeProvider.System;
        var start = wall.GetTimestamp();
        var spinner = default(SpinWait);
        while (Interlocked.Read(ref _completedSweeps) < ticket)
        {
            if (Fault is not null || wall.GetElapsedTime(start) > timeout)
            {
                return false;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        return true;
    }

    /// <summary>Every intervention so far.</summary>
    public IReadOnlyList<SentinelTrip> Trips => _trips.ToArray();

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
        if (!_settings.SweepOnRequestOnly)
        {
            _timer = _clock.CreateTimer(static s => ((RiskSentinel)s!).Signal(), this, _settings.SweepInterval, _settings.SweepInterval);
        }
    }

    /// <summary>
    /// A new price (major units of the instrument currency), lock-free; wakes the sentinel when the
    /// instrument is held. The sentinel uses a price once its event time is not in the future of
    /// its clock: in replay, ingest reads ahead of the broker side, and a position must never be
    /// judged against a price that has not happened yet.
    /// </summary>
    public void OnPrice(string symbol, decimal price, DateTimeOffset eventTimeUtc)
    {
        _incoming.GetOrAdd(symbol, static _ => new ConcurrentQueue<(decimal, DateTimeOffset)>()).Enqueue((price, eventTimeUtc));
        if (!_settings.SweepOnRequestOnly && _held.Contains(symbol) && eventTimeUtc <= _clock.GetUtcNow())
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
        if (!_settings.SweepOnRequestOnly)
        {
            Signal();
        }
    }

    /// <summary>Stops the thread and waits for it (bounded).</summary>
    public void Stop(TimeSpan timeout)
    {
        _timer?.Dispose();
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
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                _wake.Wait(_stop.Token);
                Interlocked.Exchange(ref _signalled, 0);
                var ticket = Interlocked.Read(ref _requestedSweeps);
                Sweep(_clock.GetUtcNow());
                Interlocked.Exchange(ref _completedSweeps, ticket);
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
    private void Sweep(DateTimeOffset now)
    {
        Interlocked.Increment(ref _sweeps);
        Interlocked.Exchange(ref _lastSweepTicks, now.UtcTicks);
        foreach (var (symbol, queue) in _incoming)
        {
            while (queue.TryPeek(out var px) && px.TimeUtc <= now && queue.TryDequeue(out px))
            {
                _prices[symbol] = px;
            }
        }

        var book = Volatile.Read(ref _book);

        var (pnl, unknown) = TotalPnl(book);
        if (unknown is not null)
        {
            var halt = NextTradingDayStart(now);
            if (_halts.Current(now) is null)
            {
                _halts.HaltEntries($"sentinel: P&L unknown ({unknown})", now, halt);
                Trip("PnlUnknown", $"P&L cannot be computed ({unknown}); entries halted until {halt:O}", now, halt);
            }

            return;
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
        if (dayPnl > -_settings.DailyLossLimit)
        {
            return;
        }

        var toFlatten = book.Positions.Where(p => !p.IsFlat && (!_flattenSentAtVersion.TryGetValue(p.Symbol, out var v) || v < book.Version)).ToList();
        var until = NextTradingDayStart(now);
        var formula = string.Create(CultureInfo.InvariantCulture,
            $"day P&L = equity P&L {pnl:0.00} − day-start {_dayStartPnl:0.00} = {dayPnl:0.00} {_settings.BaseCurrency} ≤ −{_settings.DailyLossLimit:0.00}");
        if (_halts.Current(now) is null || toFlatten.Count > 0)
        {
            _halts.HaltEntries("sentinel: daily loss limit: " + formula, now, until);
            Trip("DailyLossFlatten", $"{formula}; flatten {toFlatten.Count} position(s), entries halted until {until:O}", now, until);
        }

        foreach (var p in toFlatten)
        {
            var decisionId = _ids.NextDecisionId();
            var (_, priceTime) = _prices.TryGetValue(p.Symbol, out var px) ? px : (0m, now);
            var inputs = new Dictionary<string, string>
            {
                ["dayPnl"] = dayPnl.ToString("0.00", CultureInfo.InvariantCulture),
                ["limit"] = _settings.DailyLossLimit.ToString("0.00", CultureInfo.InvariantCulture),
                ["position"] = p.Quantity.ToString(CultureInfo.InvariantCulture),
                ["averagePrice"] = p.AveragePrice.ToString(CultureInfo.InvariantCulture),
                ["bookVersion"] = book.Version.ToString(CultureInfo.InvariantCulture),
            };
            var decision = new DecisionRecord(decisionId, "sentinel", p.Symbol, "DailyLossFlatten", DecisionOutcome.Taken, formula, inputs, priceTime, now);
            // The quantity is the sentinel's view; the execution service resizes a flatten to the position it holds when the order leaves.
            var order = new SubmitOrder(_ids.NextClientOrderId(), decisionId, p.Symbol, p.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy, Math.Abs(p.Quantity),
                OrderType.Market, null, null, OrderPurpose.RiskFlatten, priceTime, TimeInForce.Gtc, "sentinel");
            _flattenSentAtVersion[p.Symbol] = book.Version;
            _outbox.Send(decision, order);
            _logger.LogWarning("Sentinel flattening {Symbol} {Quantity}: {Formula}", p.Symbol, p.Quantity, formula);
        }
    }

    private (decimal Pnl, string? Unknown) TotalPnl(BookView book)
    {
        var total = 0m;
        foreach (var p in book.Positions)
        {
            var local = p.RealizedPnl - p.Commissions;
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

    private DateOnly TradingDay(DateTimeOffset utc)
    {
        // A sweep at exactly the boundary (the close of the session's last bar) still belongs to the closing day.
        var local = TimeZoneInfo.ConvertTime(utc.AddTicks(-1), _dayZone).DateTime;
        return DateOnly.FromDateTime(local.Add(TimeSpan.FromDays(1) - _settings.TradingDayStart.ToTimeSpan()));
    }

    private DateTimeOffset NextTradingDayStart(DateTimeOffset utc)
    {
        var nextDay = TradingDay(utc).AddDays(1);
        var startLocal = nextDay.AddDays(-1).ToDateTime(_settings.TradingDayStart);
        return new DateTimeOffset(startLocal, _dayZone.GetUtcOffset(startLocal)).ToUniversalTime();
    }

    private void Trip(string kind, string detail, DateTimeOffset now, DateTimeOffset haltedUntil)
    {
        _trips.Enqueue(new SentinelTrip(kind, detail, now));
        var inputs = new Dictionary<string, string> { ["haltedUntilUtc"] = haltedUntil.ToString("O", CultureInfo.InvariantCulture) };
        _outbox.HaltEntries(new DecisionRecord(_ids.NextDecisionId(), "sentinel", "*", kind, DecisionOutcome.Taken, detail, inputs, now, now));
    }
}
