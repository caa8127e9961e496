using System.Globalization;

namespace MetalSniper.Core.Orders;

/// <summary>Why a pre-trade gate refused an order. Logged, persisted and counted by reason.</summary>
public enum DenyReason
{
    /// <summary>The kill switch is at L1 or above: no new entries or adds.</summary>
    KillSwitchNoEntries,

    /// <summary>The kill switch is at L2: only orders that reduce a position may leave.</summary>
    KillSwitchFlatten,

    /// <summary>An add on a position whose stops do not lock in profit net of costs.</summary>
    LockedProfitNotMet,

    /// <summary>An add with no position to add to.</summary>
    AddWithoutPosition,

    /// <summary>An exit or risk order that would increase or flip the position.</summary>
    ReduceOnlyViolation,

    /// <summary>Live execution without both opt-ins (configuration and environment variable), or a live mode against a paper-only broker.</summary>
    LiveTradingNotEnabled,

    /// <summary>Paper mode pointed at a live port (TWS 7496, IB Gateway 4001): fail closed.</summary>
    PaperModeOnLivePort,

    /// <summary>The broker link cannot take the order now (reconciling, warming up after a reconnect, link lost for an entry, reset window).</summary>
    BrokerNotReady,

    /// <summary>Opening a position in one more instrument than allowed.</summary>
    MaxOpenPositions,

    /// <summary>The position in the instrument would exceed its maximum size.</summary>
    MaxPositionSize,

    /// <summary>Today's loss has reached the daily limit (or is unknown).</summary>
    DailyLossLimit,

    /// <summary>Gross exposure (Σ |notional|, base currency) would exceed its cap.</summary>
    GrossExposureCap,

    /// <summary>Net exposure (|Σ signed notional|, base currency) would exceed its cap.</summary>
    NetExposureCap,

    /// <summary>A notional could not be converted to the base currency: FX fails closed.</summary>
    FxRateUnavailable,

    /// <summary>No quote for the instrument.</summary>
    NoQuote,

    /// <summary>A quote with a non-positive, crossed or non-finite price.</summary>
    InvalidQuote,

    /// <summary>A zero (or negative) bid.</summary>
    ZeroBid,

    /// <summary>The latest quote is older than allowed.</summary>
    StaleQuote,

    /// <summary>The bid/ask spread is wider than allowed.</summary>
    SpreadTooWide,

    /// <summary>A limit or entry stop price too far from the last price (fat finger).</summary>
    FatFingerPrice,

    /// <summary>The instrument's market is closed.</summary>
    MarketClosed,

    /// <summary>Too many orders in the rolling window.</summary>
    OrderRateThrottle,

    /// <summary>The same intent (decision, symbol, side, purpose, type) was already sent.</summary>
    DuplicateIntent,

    /// <summary>A new entry decision from the same source on the same instrument inside the cooldown.</summary>
    SourceCooldown,

    /// <summary>The order is larger than the maximum order size (quantity or notional).</summary>
    MaxOrderSize,

    /// <summary>The order itself is malformed (non-positive quantity or price).</summary>
    InvalidOrder,

    /// <summary>An entry or add for the opening auction (time in force at-the-open, IB OPG) while its venue is already open: it must be sent before the open.</summary>
    AtTheOpenWhileOpen,
}

/// <summary>A gate's refusal: the typed reason and the values it saw.</summary>
/// <param name="Gate">The gate's name.</param>
/// <param name="Reason">The typed reason.</param>
/// <param name="Detail">The rule and the values seen ("locked P&amp;L -12.40 USD ≤ 0 at stop 2350.00, avg 2351.10, qty 50").</param>
public sealed record GateDenial(string Gate, DenyReason Reason, string Detail)
{
    /// <summary>The values the gate saw, by name (invariant culture), for the record.</summary>
    public IReadOnlyDictionary<string, string> Values { get; init; } = new Dictionary<string, string>();
}
