namespace MetalSniper.Core.Orders;

/// <summary>Whether orders go to a paper account, to real money, or nowhere but the simulated broker while the market data is live (section <c>Execution:Mode</c>).</summary>
public enum ExecutionMode
{
    /// <summary>Paper trading (the default): a paper account (IB: DU…/DF…) or the simulated broker.</summary>
    Paper,

    /// <summary>Real money: needs both live opt-ins and a live-capable broker.</summary>
    Live,

    /// <summary>
    /// The honest rehearsal: the whole service runs on the broker's live market data (<c>MarketData:Source</c>
    /// InteractiveBrokers) while every order goes to the simulated broker (<c>Broker:Kind</c> Simulated); no order ever
    /// reaches the broker's connection.
    /// </summary>
    Shadow,
}
