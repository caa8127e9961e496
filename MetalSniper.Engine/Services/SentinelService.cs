using MetalSniper.Engine.Alerts;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel;

namespace MetalSniper.Engine.Services;

/// <summary>
/// The sentinel's path to the gateway: its decisions and orders go on the priority lane (never
/// behind market data or the brain), and the hands persist the decision before the order. Never blocks.
/// </summary>
public sealed class SentinelOutbox(PipelineChannels channels, ILogger<SentinelOutbox> logger) : ISentinelOutbox
{
    /// <inheritdoc />
    public void Send(DecisionRecord decision, SubmitOrder order)
    {
        if (!channels.RiskCommands.Writer.TryWrite(new SubmitCommand(order, decision)))
        {
            logger.LogCritical("Risk lane closed: sentinel order {ClientOrderId} for {Symbol} could not be sent", order.ClientOrderId, order.Symbol);
        }
    }

    /// <inheritdoc />
    public void HaltEntries(DecisionRecord decision)
    {
        if (!channels.RiskCommands.Writer.TryWrite(new HaltEntries(decision)))
        {
            logger.LogCritical("Risk lane closed: sentinel decision {Kind} could not be recorded: {Reason}", decision.Kind, decision.Reason);
        }
    }
}

/// <summary>Starts and stops the sentinel's dedicated thread with the host; a sentinel fault stops the host with a non-zero exit.</summary>
public sealed class SentinelService(RiskSentinel sentinel, SignalService brain, ExecutionService hands, AlertHub alerts, WallClock wallClock, RunContext run, IHostApplicationLifetime lifetime, ILogger<SentinelService> logger) : IHostedService, IDisposable
{
    private ITimer? _watch;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _watch = wallClock.Provider.CreateTimer(_ => Check(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        if (run.Causal)
        {
            // A replay, and the service on a replayed feed, sweep on the causal scheduler's thread, bar by bar
            // (RiskSentinel.SweepInline); no thread, no heartbeats: a stalled scheduler stalls the simulated market with it.
            logger.LogInformation("Risk sentinel sweeps inline on the replay scheduler");
            return Task.CompletedTask;
        }

        // Missed heartbeats: a frozen brain cannot manage its positions (L1); frozen hands cannot even send a flatten (L2).
        sentinel.Watch(new HeartbeatWatch("brain", () => brain.Heartbeat, () => brain.IsRunning, Sentinel.Halts.KillLevel.NoEntries));
        sentinel.Watch(new HeartbeatWatch("hands", () => hands.Heartbeat, () => hands.IsRunning, Sentinel.Halts.KillLevel.Flatten));
        sentinel.Start();
        if (sentinel.WaitForPriority(TimeSpan.FromSeconds(1)) && sentinel.PriorityProblem is { } problem)
        {
            alerts.Fallback("risk sentinel", "thread priority not fully applied: " + problem);
        }

        logger.LogInformation("Risk sentinel started on dedicated thread {Thread}", sentinel.Thread?.Name);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _watch?.Dispose();
        sentinel.Stop(TimeSpan.FromSeconds(5));
        Check();
        logger.LogInformation("Risk sentinel stopped after {Sweeps} sweeps", sentinel.Sweeps);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose() => _watch?.Dispose();

    private void Check()
    {
        foreach (var fault in new[] { sentinel.Fault, sentinel.StoreFault })
        {
            if (fault is not null && run.Faults.All(f => f.Error != fault))
            {
                run.RecordFault("sentinel", fault);
                lifetime.StopApplication();
            }
        }
    }
}
