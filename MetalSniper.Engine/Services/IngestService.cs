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
    BarValidator validator,
    PipelineChannels channels,
    RiskSentinel sentinel,
    PersistenceWriter writer,
    TimeProvider clock,
    RunContext run,
    Supervisor supervisor,
    ILogger<IngestService> logger) : PipelineService(run, supervisor)
{
    private const int LoggedRejectionsPerReason = 20;
    private readonly Dictionary<BarRejectReason, int> _logged = [];

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
                var receivedAt = source.IsReplay && record is RawBarRecord { Bar: var raw } ? raw.OpenTimeUtc + raw.Interval : clock.GetUtcNow();
                var bar = validator.Validate(record, receivedAt, out var rejected);
                if (bar is null)
                {
                    LogRejection(rejected!);
                    await writer.EnqueueAsync(new PersistRejection(Run.RunId, rejected!), stoppingToken).ConfigureAwait(false);
                    continue;
                }

                if (!source.IsReplay || Run.Mode == RunMode.Service)
                {
                    // Live, and the service on a paced replay: the feed is the market. It moves the clock and the
                    // sentinel gets every price straight from ingest, independent of the brain (a frozen brain
                    // does not freeze the market or the sentinel). A fast replay reads ahead of the simulated
                    // broker, so there the execution service moves the clock and hands the sentinel each bar as
                    // the broker side applies it.
                    (clock as ReplayTimeProvider)?.AdvanceTo(bar.CloseTimeUtc);
                    sentinel.OnPrice(bar.Symbol, bar.Close, bar.CloseTimeUtc);
                }

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

            var c = validator.Counters;
            logger.LogInformation("Ingest finished {Source}: {Read} read, {Accepted} accepted, {Rejected} rejected", source.Name, c.Read, c.Accepted, c.Rejected);
            Run.IngestCompleted.TrySetResult();
        }
        finally
        {
            bars.TryComplete();
        }
    }

    private void LogRejection(BarRejected r)
    {
        _logged.TryGetValue(r.Reason, out var n);
        _logged[r.Reason] = n + 1;
        if (n < LoggedRejectionsPerReason)
        {
            HotLog.BarRejected(logger, r.Source, r.Line, r.Symbol, r.Reason, r.Detail);
        }
        else if (n == LoggedRejectionsPerReason)
        {
            logger.LogWarning("Ingest rejected more than {Count} records for {Reason}; further ones are counted and persisted, not logged", LoggedRejectionsPerReason, r.Reason);
        }
    }
}
