using MetalSniper.Core.MarketData;
using MetalSniper.Persistence;
using MetalSniper.Core.Time;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel;

namespace MetalSniper.Engine.Services;

/// <summary>
/// Market-data ingest: reads the source, passes every record through the ingest boundary
/// (<see cref="BarValidator"/>), persists and counts refusals by reason, gives each accepted bar's
/// price to the sentinel first (it must not depend on the brain) and then to the brain.
/// </summary>
public sealed class IngestService(
    IMarketDataSource source,
    IngestBoundary boundary,
    PipelineChannels channels,
    RiskSentinel sentinel,
    TimeProvider clock,
    RunContext run,
    Supervisor supervisor,
    ILogger<IngestService> logger) : PipelineService(run, supervisor)
{
    /// <inheritdoc />
    protected override string ServiceName => "ingest";

    /// <inheritdoc />
    /// <remarks>A replayed file would be read again from its start: a fault there is final. A live feed reconnects (issue 5).</remarks>
    protected override bool Restartable => !source.IsReplay;

    /// <inheritdoc />
    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var bars = channels.Bars.Writer;
        try
        {
            logger.LogInformation("Ingest reading {Source}", source.Name);
            await foreach (var record in source.StreamAsync(stoppingToken).ConfigureAwait(false))
            {
                var bar = await boundary.AcceptAsync(record, IngestBoundary.ReceivedAt(record, source.IsReplay, clock), stoppingToken).ConfigureAwait(false);
                if (bar is null)
                {
                    continue;
                }

                // The feed is the market (live, and the service on a paced replay): it moves the clock and the sentinel
                // gets every price straight from ingest, independent of the brain (a frozen brain does not freeze the
                // market or the sentinel). A fast replay does not run here: its causal scheduler (ReplayScheduler) lets
                // the broker side move the clock and hand the sentinel each bar as it applies it.
                (clock as ReplayTimeProvider)?.AdvanceTo(bar.CloseTimeUtc);
                sentinel.OnPrice(bar.Symbol, bar.Close, bar.CloseTimeUtc, bar.Interval);

                if (!bars.TryWrite(bar))
                {
                    // Full (replay reads ahead): let the brain drain half before writing again, so ingest
                    // wakes once per half buffer instead of once per bar (a wake costs ~20-90 µs).
                    while (channels.Bars.Reader.Count > channels.BarCapacity / 2)
                    {
                        await Task.Delay(1, stoppingToken).ConfigureAwait(false);
                    }

                    await bars.WriteAsync(bar, stoppingToken).ConfigureAwait(false);
                }
            }

            boundary.Finish(source.Name);
        }
        finally
        {
            bars.TryComplete();
        }
    }
}
