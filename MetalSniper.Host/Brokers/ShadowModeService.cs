using MetalSniper.Engine.Alerts;
using MetalSniper.Engine.Pipeline;

namespace MetalSniper.Host.Brokers;

/// <summary>
/// Shadow mode's bookends: on start a banner (log warning and an alert) that this process trades the simulated broker on
/// the broker's live data and sends nothing to IB; on stop the summary of the shadow fills against the live quotes they
/// were priced from (<see cref="ShadowFills"/>), logged and alerted. Registered just before the hands, so it stops after
/// they drained and before the journal closes.
/// </summary>
/// <param name="fills">The shadow fill comparison.</param>
/// <param name="broker">The identity ("SHADOW · …").</param>
/// <param name="alerts">The alert hub.</param>
/// <param name="logger">Logger.</param>
public sealed class ShadowModeService(ShadowFills fills, BrokerIdentity broker, AlertHub alerts, ILogger<ShadowModeService> logger) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        logger.LogWarning("SHADOW MODE: live Interactive Brokers market data, every order to the simulated broker, no order is ever sent to IB ({Broker})", broker.Describe());
        alerts.Raise(Core.Alerts.AlertLevel.Info, "Shadow", "SHADOW mode started: live IB data, orders to the simulated broker only (none reaches IB)");
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken)
    {
        var summary = fills.Summary();
        logger.LogInformation("SHADOW summary: {Summary} (fills {Fills}, quoted {Quoted}, mean {MeanBps} bp, max {MaxBps} bp)",
            summary.Describe(), summary.Fills, summary.Quoted, summary.MeanBps, summary.MaxBps);
        alerts.Raise(Core.Alerts.AlertLevel.Info, "Shadow", "SHADOW run ended: " + summary.Describe());
        return Task.CompletedTask;
    }
}
