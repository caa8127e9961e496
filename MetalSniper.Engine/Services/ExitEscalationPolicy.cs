using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Configuration;

namespace MetalSniper.Engine.Services;

/// <summary>The steps of an escalating exit or flatten, in order.</summary>
public enum ExitEscalationStep
{
    /// <summary>A limit at the mid (bid+ask)/2, rounded a tick away from the market.</summary>
    Mid,

    /// <summary>A limit at the touch: the bid for a sell, the ask for a buy.</summary>
    Touch,

    /// <summary>The rest at the market (a new order, sent once the limit's cancel is confirmed).</summary>
    Market,
}

/// <summary>
/// The rules of the exit escalation (<see cref="ExitEscalationOptions"/>): which orders escalate, at what price each step works
/// and when the next step is due. Pure: the execution service owns the orders and the clock, this decides. Prices in major
/// units of the instrument currency.
/// </summary>
/// <param name="options">The validated options.</param>
public sealed class ExitEscalationPolicy(ExitEscalationOptions options)
{
    /// <summary>The options it applies.</summary>
    public ExitEscalationOptions Options { get; } = options ?? throw new ArgumentNullException(nameof(options));

    /// <summary>
    /// True when <paramref name="order"/> escalates: escalation on (and, against the simulated broker, on for it too), a market
    /// order, a strategy exit or a risk flatten, not for an opening auction. Entries, adds and protective stops never escalate.
    /// </summary>
    /// <param name="order">The order as the source sent it.</param>
    /// <param name="simulatedBroker">The gateway is the simulated broker (it matches orders against bars itself).</param>
    public bool Applies(SubmitOrder order, bool simulatedBroker)
    {
        ArgumentNullException.ThrowIfNull(order);
        return Options.Enabled && (!simulatedBroker || Options.WithSimulatedBroker)
            && order.Type == OrderType.Market
            && order.Purpose is OrderPurpose.Exit or OrderPurpose.RiskFlatten
            && order.TimeInForce != TimeInForce.AtTheOpen;
    }

    /// <summary>
    /// The limit price of <paramref name="step"/> for a <paramref name="side"/> order, or null when the quote cannot price it
    /// (none, a bid or ask ≤ 0, a crossed book) — the order then goes on at the market. The mid is rounded to the tick away from
    /// the market (up for a sell, down for a buy), so it never crosses the mid; the touch is the bid (sell) or the ask (buy).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The market step (it has no limit) or a tick size ≤ 0.</exception>
    public static decimal? LimitPrice(ExitEscalationStep step, OrderSide side, Quote? quote, decimal tickSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tickSize);
        if (quote is null || quote.Bid <= 0m || quote.Ask <= 0m || quote.Ask < quote.Bid)
        {
            return null;
        }

        return step switch
        {
            ExitEscalationStep.Mid => side == OrderSide.Sell ? Math.Ceiling(quote.Mid / tickSize) * tickSize : Math.Floor(quote.Mid / tickSize) * tickSize,
            ExitEscalationStep.Touch => side == OrderSide.Sell ? quote.Bid : quote.Ask,
            _ => throw new ArgumentOutOfRangeException(nameof(step), step, "the market step has no limit price"),
        };
    }

    /// <summary>The step due after <paramref name="current"/> once it has worked since <paramref name="sinceUtc"/>, or null when its wait is not over (or it is the last).</summary>
    public ExitEscalationStep? Due(ExitEscalationStep current, DateTimeOffset sinceUtc, DateTimeOffset nowUtc) => current switch
    {
        ExitEscalationStep.Mid when nowUtc - sinceUtc >= Options.MidWait => ExitEscalationStep.Touch,
        ExitEscalationStep.Touch when nowUtc - sinceUtc >= Options.TouchWait => ExitEscalationStep.Market,
        _ => null,
    };
}
