using MetalSniper.Core.MarketData;
using MetalSniper.Engine.Pipeline;

namespace MetalSniper.Engine.Services;

/// <summary>
/// The causal replay scheduler (<c>replay</c>, <c>bench</c>, <c>sweep</c>): runs ingest → brain → hands → simulated
/// broker → sentinel in causal order on one logical thread, calling the same components the service runs on its threads
/// (as the backtest engines of LEAN and NautilusTrader do). Per bar: the ingest boundary validates the record; the brain
/// hands the bar to the hands and, whenever it waits for the broker's view of a bar, the hands run now
/// (<see cref="ExecutionService.PumpAsync"/>): they apply the bar at the simulated broker, move the clock, sweep the
/// sentinel inline when risk is on (<see cref="Sentinel.RiskSentinel.SweepInline"/>), take its priority lane first and
/// then the brain's commands. The order in which every component sees every event is exactly the order the threaded
/// pipeline guarantees, without a thread hand-off or a sentinel handshake per bar, so a replay is as deterministic as
/// before and many times faster. The service keeps its threads and its independent sentinel.
/// </summary>
public sealed class ReplayScheduler(
    IMarketDataSource source,
    IngestBoundary boundary,
    SignalService brain,
    ExecutionService hands,
    TimeProvider clock,
    RunContext run,
    Supervisor supervisor,
    ILogger<ReplayScheduler> logger) : PipelineService(run, supervisor)
{
    /// <inheritdoc />
    protected override string ServiceName => "replay";

    /// <inheritdoc />
    /// <remarks>A replay re-read from its start would repeat work: a fault is final (the run can be resumed with its id).</remarks>
    protected override bool Restartable => false;

    /// <inheritdoc />
    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        if (Run.Mode != RunMode.Replay || !source.IsReplay)
        {
            throw new InvalidOperationException("the causal replay scheduler runs recorded data in a replay only; the service runs its own threads");
        }

        brain.RunInline(hands.PumpAsync);
        logger.LogInformation("Replay scheduler reading {Source}: ingest, brain, hands, simulated broker and sentinel in causal order on one thread", source.Name);
        await foreach (var record in source.StreamAsync(stoppingToken).ConfigureAwait(false))
        {
            var bar = await boundary.AcceptAsync(record, IngestBoundary.ReceivedAt(record, replay: true, clock), stoppingToken).ConfigureAwait(false);
            if (bar is not null)
            {
                await brain.OnReplayBarAsync(bar, stoppingToken).ConfigureAwait(false);
            }
        }

        boundary.Finish(source.Name);
        await brain.CompleteReplayAsync(hands.CompleteReplayAsync, stoppingToken).ConfigureAwait(false);
    }
}
