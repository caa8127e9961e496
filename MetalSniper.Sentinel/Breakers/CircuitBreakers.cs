using System.Globalization;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Core.Time;

namespace MetalSniper.Sentinel.Breakers;

/// <summary>
/// The circuit breakers (SPEC "Circuit breakers"): pure logic the risk sentinel feeds with one
/// <see cref="BreakerObservation"/> per sweep. No threads, no I/O, no clock reads: time comes in
/// with each observation. Same settings, same trading-day function and same observations → same trips.
/// <list type="bullet">
/// <item><b>drawdown</b>: <c>peak − equity ≥ MaxDrawdown</c>, where equity is the equity P&amp;L including
/// open P&amp;L and peak its running maximum since the first observation or the last reset
/// (drawdown from the running peak: Magdon-Ismail &amp; Atiya, "Maximum drawdown", Risk 17(10), 2004).
/// Confirmed over <c>ConfirmObservations</c> consecutive observations.</item>
/// <item><b>consecutive-losses</b>: <c>MaxConsecutiveLosses</c> closed trades in a row with net P&amp;L &lt; 0
/// (a trade at ≥ 0 ends the run). Evaluated trade by trade, so batching trades into sweeps does not hide a run.</item>
/// <item><b>sharpe-floor</b>: per-trade Sharpe ratio <c>mean / s</c> of the last <c>SharpeWindow</c> closed-trade
/// net P&amp;Ls (Sharpe, "The Sharpe Ratio", J. Portfolio Management 21(1), 1994, with no risk-free rate and
/// no annualization), <c>s</c> the sample standard deviation with Bessel's correction
/// <c>s = √(Σ(xᵢ − mean)² / (n − 1))</c>; trips when &lt; <c>SharpeFloor</c>, never before <c>SharpeMinTrades</c>
/// trades since the last reset. When <c>s = 0</c> the ratio is read as +∞ if mean ≥ 0 (never trips) and −∞
/// if mean &lt; 0 (always trips). Computed in <see cref="decimal"/> throughout (square root by Newton's method);
/// P&amp;Ls beyond about 10¹⁴ overflow and throw, which the sentinel treats as fatal (fails closed).
/// Evaluated trade by trade.</item>
/// <item><b>leg-imbalance</b>: for each configured pair with at least one leg open (a missing symbol is 0),
/// <c>|nA + nB| &gt; MaxLegImbalance</c> on signed notionals; confirmed per pair.</item>
/// <item><b>stale-fx</b>: a rate in use with no as-of time, or with <c>now − asOf &gt; MaxFxRateAge</c>; confirmed per currency pair.</item>
/// </list>
/// <para>
/// A trip pauses trading until <see cref="BreakerTrip.PausedUntilUtc"/>: <c>now + ResetWindow</c>, or, when the
/// trip is the <c>MaxTripsPer24h</c>-th or later in the trailing 24 h (trips with <c>AtUtc &gt; now − 24 h</c>, all
/// breakers, this one included), the later of <c>nextTradingDayStartUtc(now)</c> and <c>now + ResetWindow</c>.
/// While a pause is active no breaker trips, but every breaker keeps measuring (peak, loss run, Sharpe window,
/// confirmation counters), so a breach that outlasts the pause trips at the first observation after it.
/// At the first observation at or after the end of the pause, the breakers that tripped reset before that
/// observation is evaluated: drawdown peak := its equity; loss run := 0; Sharpe window cleared (warm-up again);
/// their confirmation counters cleared. The other breakers keep their state. Several breakers breaching in the
/// same observation all trip (in the order drawdown, consecutive-losses, sharpe-floor, leg-imbalance, stale-fx),
/// each counting as a trip; the pause then lasts until the latest of their ends, and all of them reset then.
/// </para>
/// <para>
/// <see cref="Observe"/> must be called from one thread (the sentinel's). <see cref="Trips"/>, <see cref="IsPaused"/>,
/// <see cref="ActiveTrips"/> and <see cref="ActiveLevel"/> read an immutable snapshot and may be called from any thread.
/// </para>
/// </summary>
public sealed class CircuitBreakers
{
    /// <summary>The trailing window in which trips are counted against <see cref="CircuitBreakerSettings.MaxTripsPer24h"/>.</summary>
    public static readonly TimeSpan TripCountWindow = TimeSpan.FromHours(24);

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly CircuitBreakerSettings _settings;
    private readonly Func<DateTimeOffset, DateTimeOffset> _nextTradingDayStartUtc;
    private readonly string _currency;
    private readonly (string LegA, string LegB)[] _pairs;
    private readonly int[] _imbalanceStreaks;
    private readonly Queue<decimal> _sharpeWindow;
    private readonly Queue<decimal> _lossRun;
    private readonly HashSet<BreakerName> _toResetAtPauseEnd = [];
    private Dictionary<string, int> _staleStreaks = new(StringComparer.Ordinal);
    private Dictionary<string, int> _staleScratch = new(StringComparer.Ordinal);

    // The stale rates of the current observation (refilled by each; Observe runs on one thread).
    private readonly List<(string Pair, DateTimeOffset? AsOf)> _staleRates = [];
    private BreakerTrip[] _trips = [];
    private DateTimeOffset? _lastObservationUtc;
    private DateTimeOffset _pauseEndUtc = DateTimeOffset.MinValue;
    private decimal? _peak;
    private int _drawdownStreak;
    private int _lossStreak;
    private int _sharpeTradesSinceReset;

    /// <summary>Creates the breakers and validates the settings.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="nextTradingDayStartUtc">Start (UTC) of the trading day after the one containing the given UTC time; used for day pauses.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A setting is out of range; the message names the field.</exception>
    public CircuitBreakers(CircuitBreakerSettings settings, Func<DateTimeOffset, DateTimeOffset> nextTradingDayStartUtc)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(nextTradingDayStartUtc);
        Validate(settings);
        _settings = settings;
        _nextTradingDayStartUtc = nextTradingDayStartUtc;
        _currency = settings.BaseCurrency?.Code ?? "base";
        _pairs = [.. settings.Pairs];
        _imbalanceStreaks = new int[_pairs.Length];
        _sharpeWindow = new Queue<decimal>(settings.SharpeWindow);
        _lossRun = new Queue<decimal>(settings.MaxConsecutiveLosses);
    }

    /// <summary>Every trip so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<BreakerTrip> Trips => Array.AsReadOnly(Volatile.Read(ref _trips));

    /// <summary>
    /// Feeds one sweep's observation and returns the trips it caused (usually empty). Observations must come in
    /// time order (equal times allowed). Not thread-safe: call from the sentinel thread only.
    /// </summary>
    /// <exception cref="ArgumentNullException">The observation or one of its collections is null.</exception>
    /// <exception cref="ArgumentException">The observation is earlier than the previous one, or an FX rate in use is null or names no pair; nothing is changed.</exception>
    public IReadOnlyList<BreakerTrip> Observe(BreakerObservation observation)
    {
        ArgumentNullException.ThrowIfNull(observation);
        ArgumentNullException.ThrowIfNull(observation.NewClosedTradePnls);
        ArgumentNullException.ThrowIfNull(observation.SignedNotionals);
        ArgumentNullException.ThrowIfNull(observation.FxRatesInUse);
        foreach (var rate in observation.FxRatesInUse)
        {
            if (string.IsNullOrWhiteSpace(rate?.Pair))
            {
                throw new ArgumentException("every FX rate in use must name its pair", nameof(observation));
            }
        }

        var now = observation.NowUtc.ToUniversalTime();
        if (_lastObservationUtc is { } last && now < last)
        {
            throw new ArgumentException(string.Create(Inv, $"observation at {now:O} is earlier than the previous one at {last:O}"), nameof(observation));
        }

        _lastObservationUtc = now;

        // End of the pause: the breakers that tripped reset before this observation is evaluated.
        if (_toResetAtPauseEnd.Count > 0 && now >= _pauseEndUtc)
        {
            foreach (var breaker in _toResetAtPauseEnd)
            {
                Reset(breaker, observation.EquityPnl);
            }

            _toResetAtPauseEnd.Clear();
        }

        // Every breaker measures on every observation; only tripping waits for the end of a pause.
        var paused = now < _pauseEndUtc;
        var build = !paused;
        // The list only when something breaches: the sentinel observes on every sweep, and almost every observation is quiet.
        List<Breach>? breaches = null;
        AddIfNotNull(ref breaches, ObserveDrawdown(observation.EquityPnl, build));
        var (loss, sharpe) = ObserveClosedTrades(observation.NewClosedTradePnls, build);
        AddIfNotNull(ref breaches, loss);
        AddIfNotNull(ref breaches, sharpe);
        AddIfNotNull(ref breaches, ObserveImbalance(observation.SignedNotionals, build));
        AddIfNotNull(ref breaches, ObserveStaleFx(now, observation.FxRatesInUse, build));
        if (paused || breaches is null)
        {
            return [];
        }

        return Trip(now, breaches);
    }

    /// <summary>
    /// Whether trading is paused at <paramref name="nowUtc"/> by a trip (<c>AtUtc ≤ now &lt; PausedUntilUtc</c>).
    /// </summary>
    /// <param name="nowUtc">The time asked about (UTC).</param>
    /// <param name="activeTrip">
    /// The active trip whose pause ends last (on a tie, the one with the higher level), or null. Several trips
    /// are active together only when they tripped in the same observation; use <see cref="ActiveLevel"/> for the level to enforce.
    /// </param>
    public bool IsPaused(DateTimeOffset nowUtc, out BreakerTrip? activeTrip)
    {
        activeTrip = null;
        foreach (var t in Volatile.Read(ref _trips))
        {
            if (IsActive(t, nowUtc) && (activeTrip is null || t.PausedUntilUtc > activeTrip.PausedUntilUtc ||
                                        (t.PausedUntilUtc == activeTrip.PausedUntilUtc && t.Level > activeTrip.Level)))
            {
                activeTrip = t;
            }
        }

        return activeTrip is not null;
    }

    /// <summary>The trips whose pause is active at <paramref name="nowUtc"/> (UTC), oldest first.</summary>
    public IReadOnlyList<BreakerTrip> ActiveTrips(DateTimeOffset nowUtc) => [.. Volatile.Read(ref _trips).Where(t => IsActive(t, nowUtc))];

    /// <summary>The highest level among the trips active at <paramref name="nowUtc"/> (UTC); <see cref="KillLevel.Running"/> when none is.</summary>
    public KillLevel ActiveLevel(DateTimeOffset nowUtc)
    {
        var level = KillLevel.Running;
        foreach (var t in Volatile.Read(ref _trips))
        {
            if (IsActive(t, nowUtc) && t.Level > level)
            {
                level = t.Level;
            }
        }

        return level;
    }

    private static bool IsActive(BreakerTrip t, DateTimeOffset nowUtc) => t.AtUtc <= nowUtc && nowUtc < t.PausedUntilUtc;

    private static int IndexOfPair(List<(string Pair, DateTimeOffset? AsOf)> stale, string pair)
    {
        for (var i = 0; i < stale.Count; i++)
        {
            if (string.Equals(stale[i].Pair, pair, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private static void AddIfNotNull(ref List<Breach>? breaches, Breach? breach)
    {
        if (breach is not null)
        {
            (breaches ??= []).Add(breach);
        }
    }

    private void Reset(BreakerName breaker, decimal equity)
    {
        switch (breaker)
        {
            case BreakerName.Drawdown:
                _peak = equity;
                _drawdownStreak = 0;
                break;
            case BreakerName.ConsecutiveLosses:
                _lossStreak = 0;
                _lossRun.Clear();
                break;
            case BreakerName.SharpeFloor:
                _sharpeWindow.Clear();
                _sharpeTradesSinceReset = 0;
                break;
            case BreakerName.LegImbalance:
                Array.Clear(_imbalanceStreaks);
                break;
            case BreakerName.StaleFx:
                _staleStreaks.Clear();
                break;
            default:
                throw new InvalidOperationException("unknown breaker " + breaker);
        }
    }

    private Breach? ObserveDrawdown(decimal equity, bool build)
    {
        var peak = _peak is { } p ? Math.Max(p, equity) : equity;
        _peak = peak;
        var drawdown = peak - equity;
        _drawdownStreak = drawdown >= _settings.MaxDrawdown ? _drawdownStreak + 1 : 0;
        if (!build || _drawdownStreak < _settings.ConfirmObservations)
        {
            return null;
        }

        var formula = string.Create(Inv,
            $"drawdown = peak {Amount(peak)} − equity {Amount(equity)} = {Amount(drawdown)} {_currency} ≥ {Amount(_settings.MaxDrawdown)} (confirmed over {Observations(_drawdownStreak)})");
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["peakEquityPnl"] = Raw(peak),
            ["equityPnl"] = Raw(equity),
            ["drawdown"] = Raw(drawdown),
            ["maxDrawdown"] = Raw(_settings.MaxDrawdown),
            ["consecutiveBreachingObservations"] = Raw(_drawdownStreak),
            ["confirmObservations"] = Raw(_settings.ConfirmObservations),
        };
        return new Breach(BreakerName.Drawdown, _settings.DrawdownLevel, formula, inputs);
    }

    private (Breach? Loss, Breach? Sharpe) ObserveClosedTrades(IReadOnlyList<decimal> pnls, bool build)
    {
        Breach? loss = null;
        Breach? sharpe = null;
        for (var i = 0; i < pnls.Count; i++)
        {
            var pnl = pnls[i]; // indexed: an interface foreach allocates its enumerator on every observation
            // Consecutive losses: a trade at ≥ 0 ends the run; the last MaxConsecutiveLosses losses are kept for the formula.
            if (pnl < 0m)
            {
                _lossStreak++;
                if (_lossRun.Count == _settings.MaxConsecutiveLosses)
                {
                    _lossRun.Dequeue();
                }

                _lossRun.Enqueue(pnl);
            }
            else
            {
                _lossStreak = 0;
                _lossRun.Clear();
            }

            if (build && loss is null && _lossStreak >= _settings.MaxConsecutiveLosses)
            {
                loss = LossBreach();
            }

            // Rolling Sharpe window.
            if (_sharpeWindow.Count == _settings.SharpeWindow)
            {
                _sharpeWindow.Dequeue();
            }

            _sharpeWindow.Enqueue(pnl);
            _sharpeTradesSinceReset++;
            if (build && sharpe is null && _sharpeWindow.Count >= _settings.SharpeMinTrades)
            {
                sharpe = SharpeBreach();
            }
        }

        return (loss, sharpe);
    }

    private Breach LossBreach()
    {
        var run = _lossRun.ToArray();
        var formula = string.Create(Inv,
            $"consecutive losing trades (net P&L < 0) = {_lossStreak} ≥ {_settings.MaxConsecutiveLosses}: last {run.Length} net P&Ls {string.Join("; ", run.Select(Amount))} {_currency}");
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["consecutiveLosses"] = Raw(_lossStreak),
            ["maxConsecutiveLosses"] = Raw(_settings.MaxConsecutiveLosses),
            ["lastLossPnls"] = string.Join(";", run.Select(Raw)),
        };
        return new Breach(BreakerName.ConsecutiveLosses, _settings.DefaultLevel, formula, inputs);
    }

    private Breach? SharpeBreach()
    {
        var window = _sharpeWindow.ToArray();
        var n = window.Length;
        var mean = window.Sum() / n;
        var sumSquares = 0m;
        foreach (var x in window)
        {
            var d = x - mean;
            sumSquares += d * d;
        }

        var sd = Sqrt(sumSquares / (n - 1));
        decimal? ratio = sd == 0m ? null : mean / sd;
        var breached = ratio is { } r ? r < _settings.SharpeFloor : mean < 0m;
        if (!breached)
        {
            return null;
        }

        var floor = _settings.SharpeFloor.ToString("N4", Inv);
        var formula = ratio is { } value
            ? string.Create(Inv, $"per-trade Sharpe = mean {Amount(mean)} / sample sd (n−1) {Amount(sd)} {_currency} = {value.ToString("N4", Inv)} < floor {floor} over the last {n} closed trades (window {_settings.SharpeWindow}, warm-up {_settings.SharpeMinTrades})")
            : string.Create(Inv, $"per-trade Sharpe = mean {Amount(mean)} / sample sd (n−1) 0 {_currency} = −inf (sd = 0 with mean < 0 reads as −inf; with mean ≥ 0 as +inf) < floor {floor} over the last {n} closed trades (window {_settings.SharpeWindow}, warm-up {_settings.SharpeMinTrades})");
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["tradePnls"] = string.Join(";", window.Select(Raw)),
            ["n"] = Raw(n),
            ["mean"] = Raw(mean),
            ["sampleSd"] = Raw(sd),
            ["sharpe"] = ratio is { } v ? Raw(v) : "-inf",
            ["sharpeFloor"] = Raw(_settings.SharpeFloor),
            ["sharpeWindow"] = Raw(_settings.SharpeWindow),
            ["sharpeMinTrades"] = Raw(_settings.SharpeMinTrades),
            ["tradesSinceReset"] = Raw(_sharpeTradesSinceReset),
        };
        return new Breach(BreakerName.SharpeFloor, _settings.DefaultLevel, formula, inputs);
    }

    private Breach? ObserveImbalance(IReadOnlyDictionary<string, decimal> notionals, bool build)
    {
        List<string>? parts = null;
        Dictionary<string, string>? inputs = null;
        for (var i = 0; i < _pairs.Length; i++)
        {
            var (a, b) = _pairs[i];
            var na = notionals.TryGetValue(a, out var va) ? va : 0m;
            var nb = notionals.TryGetValue(b, out var vb) ? vb : 0m;
            if (na == 0m && nb == 0m)
            {
                _imbalanceStreaks[i] = 0; // both legs flat: the pair is not in play
                continue;
            }

            var imbalance = Math.Abs(na + nb);
            _imbalanceStreaks[i] = imbalance > _settings.MaxLegImbalance ? _imbalanceStreaks[i] + 1 : 0;
            if (!build || _imbalanceStreaks[i] < _settings.ConfirmObservations)
            {
                continue;
            }

            parts ??= [];
            inputs ??= new Dictionary<string, string>(StringComparer.Ordinal);
            parts.Add(string.Create(Inv,
                $"imbalance {a}/{b} = |{a} {Amount(na)} + {b} {Amount(nb)}| = {Amount(imbalance)} {_currency} > {Amount(_settings.MaxLegImbalance)} (confirmed over {Observations(_imbalanceStreaks[i])})"));
            var key = a + "/" + b;
            inputs[key + ".notional." + a] = Raw(na);
            inputs[key + ".notional." + b] = Raw(nb);
            inputs[key + ".imbalance"] = Raw(imbalance);
            inputs[key + ".consecutiveBreachingObservations"] = Raw(_imbalanceStreaks[i]);
        }

        if (parts is null || inputs is null)
        {
            return null;
        }

        inputs["maxLegImbalance"] = Raw(_settings.MaxLegImbalance);
        inputs["confirmObservations"] = Raw(_settings.ConfirmObservations);
        return new Breach(BreakerName.LegImbalance, _settings.DefaultLevel, string.Join("; ", parts), inputs);
    }

    private Breach? ObserveStaleFx(DateTimeOffset now, IReadOnlyList<FxRateInUse> rates, bool build)
    {
        // One count per currency pair per observation; a pair listed twice is judged by its worst entry.
        var stale = _staleRates;
        stale.Clear();
        for (var r = 0; r < rates.Count; r++)
        {
            var rate = rates[r];
            if (rate.AsOfUtc is { } asOf && now - asOf <= _settings.MaxFxRateAge)
            {
                continue;
            }

            var i = IndexOfPair(stale, rate.Pair);
            if (i < 0)
            {
                stale.Add((rate.Pair, rate.AsOfUtc));
            }
            else if (stale[i].AsOf is { } seen && (rate.AsOfUtc is null || rate.AsOfUtc < seen))
            {
                stale[i] = (rate.Pair, rate.AsOfUtc);
            }
        }

        _staleScratch.Clear();
        foreach (var (pair, _) in stale)
        {
            _staleScratch[pair] = (_staleStreaks.TryGetValue(pair, out var c) ? c : 0) + 1;
        }

        (_staleStreaks, _staleScratch) = (_staleScratch, _staleStreaks);
        if (!build)
        {
            return null;
        }

        List<string>? parts = null;
        Dictionary<string, string>? inputs = null;
        foreach (var (pair, asOf) in stale)
        {
            var streak = _staleStreaks[pair];
            if (streak < _settings.ConfirmObservations)
            {
                continue;
            }

            parts ??= [];
            inputs ??= new Dictionary<string, string>(StringComparer.Ordinal);
            var maxAge = _settings.MaxFxRateAge.ToString("c", Inv);
            if (asOf is { } t)
            {
                var age = now - t;
                parts.Add(string.Create(Inv, $"stale FX {pair}: age = now {UtcText.Of(now)} − as-of {UtcText.Of(t)} = {age.ToString("c", Inv)} > {maxAge} (confirmed over {Observations(streak)})"));
                inputs[pair + ".asOfUtc"] = t.ToUniversalTime().ToString("O", Inv);
                inputs[pair + ".age"] = age.ToString("c", Inv);
            }
            else
            {
                parts.Add(string.Create(Inv, $"stale FX {pair}: rate missing (no as-of time, read as stale; max age {maxAge}) (confirmed over {Observations(streak)})"));
                inputs[pair + ".asOfUtc"] = "missing";
            }

            inputs[pair + ".consecutiveBreachingObservations"] = Raw(streak);
        }

        if (parts is null || inputs is null)
        {
            return null;
        }

        inputs["maxFxRateAge"] = _settings.MaxFxRateAge.ToString("c", Inv);
        inputs["confirmObservations"] = Raw(_settings.ConfirmObservations);
        return new Breach(BreakerName.StaleFx, _settings.DefaultLevel, string.Join("; ", parts), inputs);
    }

    private IReadOnlyList<BreakerTrip> Trip(DateTimeOffset now, List<Breach> breaches)
    {
        var previous = Volatile.Read(ref _trips);
        var since = now - TripCountWindow;
        var earlierIn24h = 0;
        for (var i = previous.Length - 1; i >= 0 && previous[i].AtUtc > since; i--)
        {
            earlierIn24h++; // trips are in time order: observations are
        }

        DateTimeOffset? nextDay = null;
        var trips = new List<BreakerTrip>(breaches.Count);
        foreach (var breach in breaches)
        {
            var tripsIn24h = earlierIn24h + trips.Count + 1;
            var forDay = tripsIn24h >= _settings.MaxTripsPer24h;
            var until = now + _settings.ResetWindow;
            var formula = breach.Formula;
            var inputs = breach.Inputs;
            if (forDay)
            {
                nextDay ??= _nextTradingDayStartUtc(now).ToUniversalTime();
                if (nextDay.Value > until)
                {
                    until = nextDay.Value;
                }

                formula += string.Create(Inv,
                    $"; trips in 24 h = {tripsIn24h} ≥ {_settings.MaxTripsPer24h} → paused until max(next trading day {UtcText.Of(nextDay.Value)}, now + {_settings.ResetWindow.ToString("c", Inv)}) = {UtcText.Of(until)}");
                inputs["nextTradingDayStartUtc"] = nextDay.Value.ToString("O", Inv);
            }

            inputs["nowUtc"] = now.ToString("O", Inv);
            inputs["level"] = breach.Level.ToString();
            inputs["resetWindow"] = _settings.ResetWindow.ToString("c", Inv);
            inputs["tripsIn24h"] = Raw(tripsIn24h);
            inputs["maxTripsPer24h"] = Raw(_settings.MaxTripsPer24h);
            inputs["pausedForDay"] = forDay ? "true" : "false";
            inputs["pausedUntilUtc"] = until.ToString("O", Inv);
            trips.Add(new BreakerTrip(breach.Breaker, breach.Level, now, until, forDay, formula, inputs.AsReadOnly()));
            _toResetAtPauseEnd.Add(breach.Breaker);
            if (until > _pauseEndUtc)
            {
                _pauseEndUtc = until;
            }
        }

        Volatile.Write(ref _trips, [.. previous, .. trips]);
        return trips.AsReadOnly();
    }

    /// <summary>Square root in decimal: a double seed, then Newton's iteration <c>x ← (x + v/x) / 2</c> to decimal precision.</summary>
    private static decimal Sqrt(decimal v)
    {
        if (v <= 0m)
        {
            return 0m;
        }

        var x = (decimal)Math.Sqrt((double)v);
        if (x <= 0m)
        {
            x = 1m;
        }

        for (var i = 0; i < 64; i++)
        {
            var next = (x + (v / x)) / 2m;
            if (next == x)
            {
                break;
            }

            x = next;
        }

        return x;
    }

    private static string Observations(int n) => n == 1 ? "1 observation" : string.Create(Inv, $"{n} observations");

    private static string Amount(decimal v) => v.ToString("N2", Inv);

    private static string Raw(decimal v) => v.ToString(Inv);

    private static string Raw(int v) => v.ToString(Inv);

    private static void Validate(CircuitBreakerSettings settings)
    {
        var errors = new List<string>();
        void Require(bool ok, string field, string rule, object? value)
        {
            if (!ok)
            {
                errors.Add(string.Create(Inv, $"{nameof(CircuitBreakerSettings)}.{field} must be {rule}, was {value ?? "null"}"));
            }
        }

        static bool IsTripLevel(KillLevel l) => Enum.IsDefined(l) && l != KillLevel.Running;

        Require(settings.MaxDrawdown > 0m, nameof(settings.MaxDrawdown), "> 0 (base currency)", settings.MaxDrawdown);
        Require(IsTripLevel(settings.DrawdownLevel), nameof(settings.DrawdownLevel), "NoEntries or Flatten", settings.DrawdownLevel);
        Require(settings.MaxConsecutiveLosses >= 1, nameof(settings.MaxConsecutiveLosses), ">= 1", settings.MaxConsecutiveLosses);
        Require(settings.SharpeWindow >= 2, nameof(settings.SharpeWindow), ">= 2", settings.SharpeWindow);
        Require(settings.SharpeMinTrades >= 2 && settings.SharpeMinTrades <= settings.SharpeWindow, nameof(settings.SharpeMinTrades),
            string.Create(Inv, $">= 2 and <= SharpeWindow ({settings.SharpeWindow})"), settings.SharpeMinTrades);
        Require(settings.MaxLegImbalance > 0m, nameof(settings.MaxLegImbalance), "> 0 (base currency)", settings.MaxLegImbalance);
        Require(settings.Pairs is not null, nameof(settings.Pairs), "a list (may be empty)", null);
        if (settings.Pairs is not null)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (a, b) in settings.Pairs)
            {
                var pair = $"({a ?? "null"}, {b ?? "null"})";
                if (string.IsNullOrWhiteSpace(a) || string.IsNullOrWhiteSpace(b) || string.Equals(a, b, StringComparison.Ordinal))
                {
                    Require(false, nameof(settings.Pairs), "pairs of two different, non-blank symbols", pair);
                }
                else
                {
                    Require(seen.Add(a + "/" + b) && seen.Add(b + "/" + a), nameof(settings.Pairs), "free of duplicate pairs (in either order)", pair);
                }
            }
        }

        Require(settings.MaxFxRateAge > TimeSpan.Zero, nameof(settings.MaxFxRateAge), "> 0", settings.MaxFxRateAge);
        Require(settings.ConfirmObservations >= 1, nameof(settings.ConfirmObservations), ">= 1", settings.ConfirmObservations);
        Require(settings.ResetWindow > TimeSpan.Zero, nameof(settings.ResetWindow), "> 0", settings.ResetWindow);
        Require(settings.MaxTripsPer24h >= 1, nameof(settings.MaxTripsPer24h), ">= 1", settings.MaxTripsPer24h);
        Require(IsTripLevel(settings.DefaultLevel), nameof(settings.DefaultLevel), "NoEntries or Flatten", settings.DefaultLevel);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(settings));
        }
    }

    /// <summary>A breaker's breach in one observation, before the pause is decided.</summary>
    private sealed record Breach(BreakerName Breaker, KillLevel Level, string Formula, Dictionary<string, string> Inputs);
}
