using MetalSniper.Core.Money;
using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Sentinel.Breakers;

/// <summary>
/// Circuit-breaker settings (SPEC "Circuit breakers"), validated by the <see cref="CircuitBreakers"/>
/// constructor (an <see cref="ArgumentException"/> names the bad field). Money is in the base
/// (account) currency.
/// </summary>
/// <param name="MaxDrawdown">
/// Drawdown (base currency, &gt; 0) from the running peak of the equity P&amp;L, open P&amp;L included, that
/// trips the drawdown breaker: <c>peak − equity ≥ MaxDrawdown</c>.
/// </param>
/// <param name="DrawdownLevel">Kill level a drawdown trip sets (recommended: <see cref="KillLevel.Flatten"/>); not <see cref="KillLevel.Running"/>.</param>
/// <param name="MaxConsecutiveLosses">Consecutive losing closed trades (net P&amp;L &lt; 0) that trip the consecutive-loss breaker (≥ 1).</param>
/// <param name="SharpeFloor">Per-trade Sharpe floor (dimensionless): trips when mean / sample sd of the last <paramref name="SharpeWindow"/> closed-trade net P&amp;Ls is &lt; this.</param>
/// <param name="SharpeWindow">Closed trades in the rolling Sharpe window (≥ 2).</param>
/// <param name="SharpeMinTrades">Warm-up: no Sharpe trip before this many closed trades since the last reset (≥ 2, ≤ <paramref name="SharpeWindow"/>).</param>
/// <param name="MaxLegImbalance">Imbalance (base currency, &gt; 0) of a configured pair, <c>|signed notional A + signed notional B|</c>, above which the pair breaches.</param>
/// <param name="Pairs">Pairs watched by the leg-imbalance breaker (may be empty); legs are symbols, compared ordinally, and must differ.</param>
/// <param name="MaxFxRateAge">A rate in use older than this (&gt; 0) breaches the stale-FX breaker; a missing rate always breaches.</param>
/// <param name="ConfirmObservations">
/// Observation-based breakers (drawdown, leg imbalance, stale FX) trip only after this many consecutive
/// breaching observations (≥ 1), so one bad tick cannot trip them.
/// </param>
/// <param name="ResetWindow">How long a trip pauses trading (&gt; 0) before the tripped breaker resets.</param>
/// <param name="MaxTripsPer24h">
/// The Nth trip (≥ 1) of any breaker within a trailing 24 h pauses until the next trading day instead of
/// for <paramref name="ResetWindow"/>.
/// </param>
/// <param name="DefaultLevel">
/// Kill level set by consecutive-loss, Sharpe, leg-imbalance and stale-FX trips (recommended:
/// <see cref="KillLevel.NoEntries"/>); not <see cref="KillLevel.Running"/>.
/// </param>
/// <param name="BaseCurrency">Base currency, shown in the formulas only (amounts are already in it); null shows "base".</param>
public sealed record CircuitBreakerSettings(
    decimal MaxDrawdown,
    KillLevel DrawdownLevel,
    int MaxConsecutiveLosses,
    decimal SharpeFloor,
    int SharpeWindow,
    int SharpeMinTrades,
    decimal MaxLegImbalance,
    IReadOnlyList<(string LegA, string LegB)> Pairs,
    TimeSpan MaxFxRateAge,
    int ConfirmObservations,
    TimeSpan ResetWindow,
    int MaxTripsPer24h,
    KillLevel DefaultLevel = KillLevel.NoEntries,
    Currency? BaseCurrency = null);

/// <summary>What the sentinel saw in one sweep; <see cref="CircuitBreakers.Observe"/> takes one per sweep, in time order.</summary>
/// <param name="NowUtc">Clock time of the sweep (UTC); never earlier than the previous observation's.</param>
/// <param name="EquityPnl">Equity P&amp;L in the base currency since start: realized + unrealized − commissions.</param>
/// <param name="NewClosedTradePnls">Net P&amp;L (base currency, commissions included) of each trade closed since the previous observation, in closing order.</param>
/// <param name="SignedNotionals">Symbol → signed position notional in the base currency (long &gt; 0, short &lt; 0); a symbol absent or at 0 is flat.</param>
/// <param name="FxRatesInUse">The FX rates needed to value the open positions.</param>
public sealed record BreakerObservation(
    DateTimeOffset NowUtc,
    decimal EquityPnl,
    IReadOnlyList<decimal> NewClosedTradePnls,
    IReadOnlyDictionary<string, decimal> SignedNotionals,
    IReadOnlyList<FxRateInUse> FxRatesInUse);

/// <summary>An FX rate in use to value open positions.</summary>
/// <param name="Pair">The currency pair, e.g. "GBPUSD".</param>
/// <param name="AsOfUtc">When the rate was observed (UTC); null when the rate is missing (treated as stale).</param>
public sealed record FxRateInUse(string Pair, DateTimeOffset? AsOfUtc);

/// <summary>A circuit-breaker trip: what tripped, the level to set, how long trading pauses, and why.</summary>
/// <param name="Breaker">
/// <see cref="BreakerName.Drawdown"/>, <see cref="BreakerName.ConsecutiveLosses"/>,
/// <see cref="BreakerName.SharpeFloor"/>, <see cref="BreakerName.LegImbalance"/> or <see cref="BreakerName.StaleFx"/>.
/// </param>
/// <param name="Level">The kill level to set.</param>
/// <param name="AtUtc">Time of the observation that tripped it (UTC).</param>
/// <param name="PausedUntilUtc">When the pause ends (UTC): <c>AtUtc + ResetWindow</c>, or the later of that and the next trading-day start when <paramref name="PausedForDay"/>.</param>
/// <param name="PausedForDay">True when this trip is the <c>MaxTripsPer24h</c>-th or later within the trailing 24 h.</param>
/// <param name="Formula">The exact formula with its inputs and threshold (invariant culture, amounts with two decimals).</param>
/// <param name="Inputs">Every input value (invariant culture, full precision; times ISO 8601 "O"; spans "c").</param>
public sealed record BreakerTrip(
    BreakerName Breaker,
    KillLevel Level,
    DateTimeOffset AtUtc,
    DateTimeOffset PausedUntilUtc,
    bool PausedForDay,
    string Formula,
    IReadOnlyDictionary<string, string> Inputs);
