using System.Threading.Channels;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;

namespace MetalSniper.Engine.Pipeline;

/// <summary>A command for the execution service (the hands). Imperative names.</summary>
public abstract record ExecutionCommand;

/// <summary>Apply a completed bar at the broker side: the simulated broker matches working orders against it; marks update. Sent by the brain before it evaluates the bar.</summary>
public sealed record ApplyBar(Bar Bar) : ExecutionCommand;

/// <summary>
/// Submit an order (through the pre-trade gates to the gateway). When <paramref name="Decision"/> is given (risk-lane
/// orders from the sentinel, which never waits on the database), the hands persist it before the order.
/// </summary>
public sealed record SubmitCommand(SubmitOrder Order, Core.Decisions.DecisionRecord? Decision = null) : ExecutionCommand;

/// <summary>Persist a halt decision and cancel every working entry and add order (risk lane: sentinel trips).</summary>
public sealed record HaltEntries(Core.Decisions.DecisionRecord Decision) : ExecutionCommand;

/// <summary>Cancel a working order.</summary>
public sealed record CancelCommand(CancelOrder Cancel) : ExecutionCommand;

/// <summary>Modify a working order.</summary>
public sealed record ModifyCommand(ModifyOrder Modify) : ExecutionCommand;

/// <summary>What the hands tell the brain (order events and bar watermarks; not a broker's execution report). Past tense.</summary>
public abstract record ExecutionFeedback;

/// <summary>An order event from the gateway, or a gate denial of ours (<see cref="OrderDenied"/>).</summary>
/// <param name="Event">The event.</param>
/// <param name="Source">Who sent the order.</param>
/// <param name="EarlierRun">The order is an earlier run's, taken over by the hands at start: the brain applies the event only when its
/// re-execution of the earlier runs gave one of its strategies that order.</param>
public sealed record OrderEventReported(OrderEvent Event, string? Source, bool EarlierRun = false) : ExecutionFeedback;

/// <summary>Watermark: every broker event caused by the bar that closed at <paramref name="BarCloseUtc"/> has been reported.</summary>
public sealed record BarApplied(string Symbol, DateTimeOffset BarCloseUtc) : ExecutionFeedback;

/// <summary>
/// The channels that join the services:
/// <list type="bullet">
/// <item><see cref="Bars"/>: ingest → brain, bounded, full mode Wait (lossless backpressure).</item>
/// <item><see cref="Commands"/>: brain → hands, bounded, full mode Wait (the brain may wait; the hands never do).</item>
/// <item><see cref="RiskCommands"/>: sentinel → hands, the priority lane: unbounded (the sentinel never blocks), always drained before <see cref="Commands"/>.</item>
/// <item><see cref="Reports"/>: hands → brain, unbounded (the hands never block on the brain; its length is bounded by what the brain itself sent).</item>
/// </list>
/// </summary>
public sealed class PipelineChannels(int barCapacity, int commandCapacity)
{
    /// <summary>Capacity of <see cref="Bars"/>.</summary>
    public int BarCapacity => barCapacity;

    /// <summary>Ingest → brain.</summary>
    public Channel<Bar> Bars { get; } = Channel.CreateBounded<Bar>(new BoundedChannelOptions(barCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });

    /// <summary>Brain → hands.</summary>
    public Channel<ExecutionCommand> Commands { get; } = Channel.CreateBounded<ExecutionCommand>(new BoundedChannelOptions(commandCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });

    /// <summary>Sentinel → hands (priority lane).</summary>
    /// <remarks>Synchronous continuations: the writer (the sentinel's thread) wakes the execution thread directly, without a thread-pool hop.</remarks>
    public Channel<ExecutionCommand> RiskCommands { get; } = Channel.CreateUnbounded<ExecutionCommand>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = true });

    /// <summary>Hands → brain.</summary>
    public Channel<ExecutionFeedback> Reports { get; } = Channel.CreateUnbounded<ExecutionFeedback>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
}
