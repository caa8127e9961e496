namespace MetalSniper.Sentinel.Breakers;

/// <summary>The circuit breakers, in the order they are evaluated on one observation.</summary>
public enum BreakerName
{
    /// <summary>Drawdown from the peak including open P&amp;L.</summary>
    Drawdown,

    /// <summary>Consecutive losing trades (net P&amp;L &lt; 0).</summary>
    ConsecutiveLosses,

    /// <summary>Rolling per-trade Sharpe below its floor.</summary>
    SharpeFloor,

    /// <summary>Signed notional imbalance of a pair's two legs.</summary>
    LegImbalance,

    /// <summary>An FX rate in use that is too old or has no as-of time.</summary>
    StaleFx,
}

/// <summary>The stable text form of a breaker name: halts-store keys (<c>breaker:drawdown</c>), decision kinds, logs.</summary>
public static class BreakerNames
{
    /// <summary>The kebab-case label: drawdown, consecutive-losses, sharpe-floor, leg-imbalance, stale-fx.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined breaker.</exception>
    public static string Label(this BreakerName name) => name switch
    {
        BreakerName.Drawdown => "drawdown",
        BreakerName.ConsecutiveLosses => "consecutive-losses",
        BreakerName.SharpeFloor => "sharpe-floor",
        BreakerName.LegImbalance => "leg-imbalance",
        BreakerName.StaleFx => "stale-fx",
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not a breaker"),
    };

    /// <summary>The halts-store key of a breaker's pause: <c>breaker:{label}</c>.</summary>
    public static string HaltKey(this BreakerName name) => "breaker:" + name.Label();
}
