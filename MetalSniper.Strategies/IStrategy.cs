using MetalSniper.Core.Decisions;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;

namespace MetalSniper.Strategies;

/// <summary>
/// What a strategy can see and do. Every action takes a decision first: the signal service
/// records the decision before any order it causes leaves.
/// </summary>
public interface IStrategyContext
{
    /// <summary>Clock time (replay time in replay).</summary>
    DateTimeOffset NowUtc { get; }

    /// <summary>Our position in a symbol, as of the fills the brain has seen.</summary>
    PositionSnapshot Position(string symbol);

    /// <summary>True when new entries and adds are allowed (no halt). A halt also stops signals that would re-enter.</summary>
    bool EntriesAllowed { get; }

    /// <summary>True when the symbol's venue is in a trading session at <paramref name="utc"/>.</summary>
    bool IsMarketOpen(string symbol, DateTimeOffset utc);

    /// <summary>End of the current session of the symbol's venue, or null when closed.</summary>
    DateTimeOffset? SessionEnd(string symbol, DateTimeOffset utc);

    /// <summary>Expected exit cost per unit in price units (half spread + slippage + commission per unit) at a price.</summary>
    decimal ExitCostPerUnit(string symbol, decimal price);

    /// <summary>Records a decision and returns its id. The decision's event time is the bar's close time.</summary>
    string Decide(string symbol, DecisionKind kind, DecisionOutcome outcome, string reason, IReadOnlyDictionary<string, string> inputs, DateTimeOffset eventTimeUtc);

    /// <summary>
    /// Sends an order that belongs to <paramref name="decisionId"/>; returns its client order id. <paramref name="timeInForce"/>
    /// defaults to good-till-cancelled; a decision on a daily close uses <see cref="TimeInForce.AtTheOpen"/> (the next
    /// opening auction, IB OPG), which the market-hours gate lets out only while the venue is closed.
    /// </summary>
    ClientOrderId Submit(string decisionId, string symbol, OrderSide side, decimal quantity, OrderType type, decimal? limitPrice, decimal? stopPrice, OrderPurpose purpose, DateTimeOffset decisionTimeUtc,
        TimeInForce timeInForce = TimeInForce.Gtc);

    /// <summary>Cancels a working order.</summary>
    void Cancel(string decisionId, ClientOrderId order, string reason);

    /// <summary>Modifies a working order.</summary>
    void Modify(string decisionId, ClientOrderId order, decimal? newStopPrice, decimal? newQuantity);
}

/// <summary>A trading strategy run by the signal service (the brain). Single-threaded: called from one loop.</summary>
public interface IStrategy
{
    /// <summary>A short name ("metals").</summary>
    string Name { get; }

    /// <summary>The symbols it trades.</summary>
    IReadOnlyCollection<string> Symbols { get; }

    /// <summary>
    /// Called with every order event of this strategy's orders, in the order the broker produced
    /// them, before the next bar is evaluated.
    /// </summary>
    void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context);

    /// <summary>Called with each completed bar of one of <see cref="Symbols"/>.</summary>
    void OnBar(Bar bar, IStrategyContext context);
}
