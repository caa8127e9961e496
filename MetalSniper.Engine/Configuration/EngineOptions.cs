using System.ComponentModel.DataAnnotations;

namespace MetalSniper.Engine.Configuration;

/// <summary>Risk limits: the sentinel, the kill switch, the pre-trade gates and the circuit breakers (section <c>Risk</c>). Money in the base currency.</summary>
public sealed class RiskOptions : IValidatableObject
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Risk";

    /// <summary>Daily loss (realized + unrealized, net of commissions, base currency) that flattens everything and pauses at L2 until the next trading day. Default 2000, range 1–10,000,000.</summary>
    [Range(1.0, 10_000_000.0)]
    public decimal DailyLossLimit { get; set; } = 2000m;

    /// <summary>Sentinel time-driven sweep period in milliseconds (≤ 1000). Default 250.</summary>
    [Range(10, 1000)]
    public int SweepIntervalMilliseconds { get; set; } = 250;

    /// <summary>IANA time zone of the trading-day boundary. Default America/New_York.</summary>
    [Required]
    public string TradingDayTimeZone { get; set; } = "America/New_York";

    /// <summary>Local start of the trading day (metals roll at 17:00 New York). Default 17:00.</summary>
    public TimeOnly TradingDayStart { get; set; } = new(17, 0);

    /// <summary>Rapid-loss cut: equity falling this much within <see cref="RapidLossWindow"/> flattens everything (0 = off). Default 1500.</summary>
    [Range(0.0, 10_000_000.0)]
    public decimal RapidLossAmount { get; set; } = 1500m;

    /// <summary>Rapid-loss look-back. Default 15 minutes.</summary>
    public TimeSpan RapidLossWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>L2 pause after a rapid-loss cut. Default 1 hour.</summary>
    public TimeSpan RapidLossPause { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The longest wait between two risk flattens of one position when the earlier ones left it unchanged (refused by the
    /// gates, rejected by the broker): the wait starts at the sweep interval and doubles per attempt up to this. Default
    /// 1 minute; 1 second to 1 hour.
    /// </summary>
    public TimeSpan FlattenRetryMaxDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Exit rule: the sentinel flattens a position held this long (clock time since its first fill; market time in a replay),
    /// whatever the strategy holds it for. 0 = off (default: the golden replay has no such rule); at most 365 days.
    /// </summary>
    public TimeSpan MaxHoldingTime { get; set; }

    /// <summary>
    /// Exit rule: the sentinel flattens a position once its venue's current session ends within this (the exchange calendar's
    /// session end: for the metals the daily 17:00 New York break and holiday early closes; for stocks the close). A flatten
    /// decided on a bar's close fills at the next bar's open in a replay, so a value of at least two bars leaves it inside the
    /// session. 0 = off (default); at most 12 hours.
    /// </summary>
    public TimeSpan FlattenBeforeSessionClose { get; set; }

    /// <summary>
    /// Sentinel watchdog trailing stop as a fraction of the best price since entry (0 = off). A backstop wider than the
    /// strategy's trail: at 2 % it cut ten positions the strategy would have held through 2025-26 metals volatility
    /// (−3,000 USD over the year); at 4 % it fires three times. Default 0.04 (4 %).
    /// </summary>
    [Range(0.0, 0.5)]
    public decimal WatchdogTrailFraction { get; set; } = 0.04m;

    /// <summary>
    /// A held instrument without a price for this long while its market is open pauses entries (L1) until fresh data returns.
    /// Per symbol the limit is max(this, 2 × the symbol's last bar interval) of open market time, so daily bars (one per
    /// session) are not stale between two closes. Default 45 minutes (three 15-minute bars of the embedded replay); use
    /// seconds for a live tick feed; 0 = off.
    /// </summary>
    public TimeSpan StaleDataAfter { get; set; } = TimeSpan.FromMinutes(45);

    /// <summary>A brain or hands heartbeat silent this long (wall time) escalates the kill switch: brain → L1, hands → L2. Default 10 s.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The kill file: while it exists the kill switch is escalated to the level it contains ("1" or "2"; anything else → 2). Relative to the working directory. Default <c>var/KILL</c>.</summary>
    [Required]
    public string KillFilePath { get; set; } = "var/KILL";

    /// <summary>Broker messages per second the execution side may send (IB allows 50). Default 45.</summary>
    [Range(1, 50)]
    public int BrokerMessagesPerSecond { get; set; } = 45;

    /// <summary>The share of <see cref="BrokerMessagesPerSecond"/> reserved for risk orders (flattens, protective stops, cancels); entries never use it. Default 10.</summary>
    [Range(1, 49)]
    public int ReservedRiskMessagesPerSecond { get; set; } = 10;

    /// <summary>Pre-trade gate limits.</summary>
    [Required]
    public GateOptions Gates { get; set; } = new();

    /// <summary>Circuit breakers.</summary>
    [Required]
    public BreakerOptions Breakers { get; set; } = new();

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (FlattenRetryMaxDelay < TimeSpan.FromSeconds(1) || FlattenRetryMaxDelay > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult($"FlattenRetryMaxDelay must be between 00:00:01 and 01:00:00 (was {FlattenRetryMaxDelay})", [nameof(FlattenRetryMaxDelay)]);
        }

        if (MaxHoldingTime < TimeSpan.Zero || MaxHoldingTime > TimeSpan.FromDays(365))
        {
            yield return new ValidationResult($"MaxHoldingTime must be between 0 (off) and 365 days (was {MaxHoldingTime})", [nameof(MaxHoldingTime)]);
        }

        if (FlattenBeforeSessionClose < TimeSpan.Zero || FlattenBeforeSessionClose > TimeSpan.FromHours(12))
        {
            yield return new ValidationResult($"FlattenBeforeSessionClose must be between 0 (off) and 12 hours (was {FlattenBeforeSessionClose})", [nameof(FlattenBeforeSessionClose)]);
        }

        if (RapidLossWindow <= TimeSpan.Zero || RapidLossPause < TimeSpan.Zero || StaleDataAfter < TimeSpan.Zero || HeartbeatTimeout < TimeSpan.Zero)
        {
            yield return new ValidationResult("RapidLossWindow must be > 0; RapidLossPause, StaleDataAfter and HeartbeatTimeout ≥ 0", [nameof(RapidLossWindow)]);
        }

        if (HeartbeatTimeout > TimeSpan.Zero && HeartbeatTimeout < TimeSpan.FromSeconds(2))
        {
            yield return new ValidationResult($"HeartbeatTimeout {HeartbeatTimeout} is shorter than two idle heartbeats (1 s each); use ≥ 2 s or 0 to disable", [nameof(HeartbeatTimeout)]);
        }

        if (ReservedRiskMessagesPerSecond >= BrokerMessagesPerSecond)
        {
            yield return new ValidationResult($"ReservedRiskMessagesPerSecond ({ReservedRiskMessagesPerSecond}) must be below BrokerMessagesPerSecond ({BrokerMessagesPerSecond})", [nameof(ReservedRiskMessagesPerSecond)]);
        }
    }
}

/// <summary>Pre-trade gate limits (section <c>Risk:Gates</c>). Money in the base currency.</summary>
public sealed class GateOptions : IValidatableObject
{
    /// <summary>Instruments with an open position at once. Default 2.</summary>
    [Range(1, 1000)]
    public int MaxOpenPositions { get; set; } = 2;

    /// <summary>Largest absolute position per symbol, instrument units (oz, shares). Unlisted symbols: exposure caps only.</summary>
    public Dictionary<string, decimal> MaxPositionQuantity { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Σ |notional| cap after an entry, counting working entries. Default 250,000.</summary>
    [Range(1.0, 1_000_000_000.0)]
    public decimal MaxGrossExposure { get; set; } = 250_000m;

    /// <summary>|Σ signed notional| cap after an entry, counting working entries. Default 200,000.</summary>
    [Range(1.0, 1_000_000_000.0)]
    public decimal MaxNetExposure { get; set; } = 200_000m;

    /// <summary>Oldest quote an entry may rely on. Default 30 minutes (the embedded replay's bars are 15 minutes); use seconds live.</summary>
    public TimeSpan MaxQuoteAge { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Largest (ask − bid) / mid for an entry. Default 0.005 (0.5 %).</summary>
    [Range(0.0, 1.0)]
    public decimal MaxSpreadFraction { get; set; } = 0.005m;

    /// <summary>Fat-finger band: largest |price − last| / last. Default 0.05 (5 %).</summary>
    [Range(0.0001, 1.0)]
    public decimal FatFingerBand { get; set; } = 0.05m;

    /// <summary>Entries, adds and exits per <see cref="OrderRateWindow"/>. Default 30.</summary>
    [Range(1, 100_000)]
    public int MaxOrdersPerWindow { get; set; } = 30;

    /// <summary>Rolling window of the order-rate throttle. Default 1 minute.</summary>
    public TimeSpan OrderRateWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Least time between two entry decisions of one source on one instrument. Default 5 minutes.</summary>
    public TimeSpan SourceCooldown { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest entry/add quantity per order, per symbol. Unlisted symbols: notional only.</summary>
    public Dictionary<string, decimal> MaxOrderQuantity { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Largest entry/add notional per order. Default 150,000.</summary>
    [Range(1.0, 1_000_000_000.0)]
    public decimal MaxOrderNotional { get; set; } = 150_000m;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxQuoteAge <= TimeSpan.Zero || OrderRateWindow <= TimeSpan.Zero || SourceCooldown < TimeSpan.Zero)
        {
            yield return new ValidationResult("MaxQuoteAge and OrderRateWindow must be > 0 and SourceCooldown ≥ 0", [nameof(MaxQuoteAge)]);
        }

        foreach (var (symbol, q) in MaxPositionQuantity.Concat(MaxOrderQuantity))
        {
            if (q <= 0m)
            {
                yield return new ValidationResult($"quantity limit for {symbol} must be > 0, was {q}", [nameof(MaxPositionQuantity)]);
            }
        }
    }
}

/// <summary>Circuit breakers (section <c>Risk:Breakers</c>). Money in the base currency.</summary>
public sealed class BreakerOptions : IValidatableObject
{
    /// <summary>Whether the breakers run. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Drawdown from the peak of equity P&amp;L including open positions that trips. Default 6000.</summary>
    [Range(1.0, 1_000_000_000.0)]
    public decimal MaxDrawdown { get; set; } = 6000m;

    /// <summary>Kill level the drawdown breaker sets (1 or 2). Default 2.</summary>
    [Range(1, 2)]
    public int DrawdownLevel { get; set; } = 2;

    /// <summary>Consecutive losing trades that trip. Default 10.</summary>
    [Range(1, 1000)]
    public int MaxConsecutiveLosses { get; set; } = 10;

    /// <summary>Per-trade Sharpe floor (mean / sample sd of the window's net P&amp;Ls). Default −0.5.</summary>
    [Range(-100.0, 100.0)]
    public decimal SharpeFloor { get; set; } = -0.5m;

    /// <summary>Trades in the rolling Sharpe window. Default 30.</summary>
    [Range(2, 10_000)]
    public int SharpeWindow { get; set; } = 30;

    /// <summary>Warm-up: trades needed since the last reset before the Sharpe breaker can trip. Default 20.</summary>
    [Range(2, 10_000)]
    public int SharpeMinTrades { get; set; } = 20;

    /// <summary>Largest |signed notional A + signed notional B| of a configured pair. Default 10,000.</summary>
    [Range(1.0, 1_000_000_000.0)]
    public decimal MaxLegImbalance { get; set; } = 10_000m;

    /// <summary>Pairs watched by the leg-imbalance breaker, as "LEGA/LEGB" (the dual-listing arbitrage's legs).</summary>
    public List<string> Pairs { get; set; } = [];

    /// <summary>Oldest FX rate a position may be valued with. Default 10 minutes.</summary>
    public TimeSpan MaxFxRateAge { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Consecutive breaching observations before drawdown, imbalance and stale-FX trip. Default 3.</summary>
    [Range(1, 1000)]
    public int ConfirmObservations { get; set; } = 3;

    /// <summary>Pause after a trip, then the breaker resets. Default 4 hours.</summary>
    public TimeSpan ResetWindow { get; set; } = TimeSpan.FromHours(4);

    /// <summary>The Nth trip within 24 h pauses until the next trading day. Default 3.</summary>
    [Range(1, 1000)]
    public int MaxTripsPer24h { get; set; } = 3;

    /// <summary>Kill level of consecutive-loss, Sharpe, imbalance and stale-FX trips (1 or 2). Default 1.</summary>
    [Range(1, 2)]
    public int DefaultLevel { get; set; } = 1;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SharpeMinTrades > SharpeWindow)
        {
            yield return new ValidationResult($"SharpeMinTrades ({SharpeMinTrades}) must be ≤ SharpeWindow ({SharpeWindow})", [nameof(SharpeMinTrades)]);
        }

        if (ResetWindow <= TimeSpan.Zero || MaxFxRateAge <= TimeSpan.Zero)
        {
            yield return new ValidationResult("ResetWindow and MaxFxRateAge must be > 0", [nameof(ResetWindow)]);
        }

        foreach (var pair in Pairs.Where(p => p.Split('/') is not { Length: 2 } parts || parts.Any(string.IsNullOrWhiteSpace)))
        {
            yield return new ValidationResult($"pair '{pair}' must be written LEGA/LEGB", [nameof(Pairs)]);
        }
    }
}

/// <summary>Execution mode (section <c>Execution</c>).</summary>
public sealed class ExecutionOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Execution";

    /// <summary>The environment variable that must say <c>yes</c> for live trading, besides <see cref="LiveTradingOptIn"/>.</summary>
    public const string LiveConfirmVariable = "METALSNIPER_LIVE_TRADING_CONFIRMED";

    /// <summary><c>Paper</c> (default), <c>Live</c>, or <c>Shadow</c> (the broker's live data, orders to the simulated broker only).</summary>
    [EnumDataType(typeof(Core.Orders.ExecutionMode))]
    public Core.Orders.ExecutionMode Mode { get; set; } = Core.Orders.ExecutionMode.Paper;

    /// <summary>The configuration half of the live opt-in. Default false.</summary>
    public bool LiveTradingOptIn { get; set; }

    /// <summary>How exits and flattens work their way out: limit at the mid, then at the touch, then market (<c>Execution:ExitEscalation</c>).</summary>
    [Required]
    public ExitEscalationOptions ExitEscalation { get; set; } = new();
}

/// <summary>
/// The exit escalation (section <c>Execution:ExitEscalation</c>): a market exit or risk flatten leaves as a limit at the mid
/// (bid+ask)/2, rounded a tick away from the market; after <see cref="MidWait"/> it is modified to a limit at the touch (the
/// bid for a sell, the ask for a buy); after <see cref="TouchWait"/> more it is cancelled and, once the cancel is confirmed, what
/// is left of the position (never more) leaves as a market order. Waits are measured on the host's clock (market time in a
/// replay). Protective stops are not escalated: they stay stop orders.
/// </summary>
public sealed class ExitEscalationOptions : IValidatableObject
{
    /// <summary>Escalate exits and flattens (true) or send them as market orders at once (false). Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Also against the simulated broker (replay, paper on recorded data). Default false: the simulated broker fills a resting
    /// limit whenever a bar trades through it, without queue position or the touch inside the bar, so a limit at the mid would
    /// fill there more often than in a market (an optimistic bias), and the golden replay keeps its market exits.
    /// </summary>
    public bool WithSimulatedBroker { get; set; }

    /// <summary>How long the limit at the mid works before it moves to the touch. Default 10 s; 0 to 1 hour.</summary>
    public TimeSpan MidWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the limit at the touch works before the rest goes at the market. Default 10 s; 0 to 1 hour.</summary>
    public TimeSpan TouchWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MidWait < TimeSpan.Zero || MidWait > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult($"MidWait must be between 0 and 1 hour, was {MidWait}", [nameof(MidWait)]);
        }

        if (TouchWait < TimeSpan.Zero || TouchWait > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult($"TouchWait must be between 0 and 1 hour, was {TouchWait}", [nameof(TouchWait)]);
        }
    }
}

/// <summary>The account (section <c>Account</c>).</summary>
public sealed class AccountOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Account";

    /// <summary>Base currency (ISO 4217) of P&amp;L, equity, limits, exposure and breakers. Default USD.</summary>
    [RegularExpression("^[A-Z]{3}$")]
    public string BaseCurrency { get; set; } = "USD";

    /// <summary>
    /// FX rates loaded into the FX table at start, for converting instrument currencies to <see cref="BaseCurrency"/> when
    /// no feed supplies them. Every traded instrument whose currency is not the base needs a path (direct, inverse, or a
    /// cross through USD), checked at start. A rate is as old as its <see cref="FxRateOptions.AsOfUtc"/>: the stale-FX
    /// breaker (<c>Risk:Breakers:MaxFxRateAge</c>) judges it like any other.
    /// </summary>
    public List<FxRateOptions> FxRates { get; set; } = [];

    /// <summary>A new FX table holding <see cref="FxRates"/> (validated options: six-letter pairs, positive rates, an as-of time).</summary>
    public Core.Money.FxRateTable CreateFxRateTable()
    {
        var table = new Core.Money.FxRateTable();
        foreach (var rate in FxRates)
        {
            table.Set(rate.ToFxRate());
        }

        return table;
    }
}

/// <summary>One configured FX rate (<c>Account:FxRates</c>): <see cref="Rate"/> units of the quote currency per one unit of the base.</summary>
public sealed class FxRateOptions
{
    /// <summary>The pair, base then quote, e.g. <c>EURUSD</c> (1 EUR = Rate USD).</summary>
    [RegularExpression("^[A-Z]{6}$")]
    public string Pair { get; set; } = "";

    /// <summary>Units of the quote currency per one unit of the base; finite and &gt; 0.</summary>
    [Range(typeof(decimal), "0.000000001", "1000000000")]
    public decimal Rate { get; set; }

    /// <summary>When the rate was observed (UTC). Required: a rate without a time would be judged as old as year 1.</summary>
    [Required]
    public DateTimeOffset? AsOfUtc { get; set; }

    /// <summary>The rate as the FX table keeps it.</summary>
    /// <exception cref="InvalidOperationException">The options were not validated (no <see cref="AsOfUtc"/>).</exception>
    public Core.Money.FxRate ToFxRate() => new(new Core.Money.Currency(Pair[..3]), new Core.Money.Currency(Pair[3..]), Rate,
        AsOfUtc ?? throw new InvalidOperationException($"Account:FxRates {Pair}: no AsOfUtc"));
}
