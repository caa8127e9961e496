namespace MetalSniper.Core.Orders;

/// <summary>Whether orders go to a paper account or to real money (section <c>Execution:Mode</c>).</summary>
public enum ExecutionMode
{
    /// <summary>Paper trading (the default): a paper account (IB: DU…/DF…) or the simulated broker.</summary>
    Paper,

    /// <summary>Real money: needs both live opt-ins and a live-capable broker.</summary>
    Live,
}
