using MetalSniper.Core.MarketData;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Persistence;

namespace MetalSniper.Engine.Services;

/// <summary>
/// The ingest boundary shared by the service's ingest and the replay scheduler: every record passes the
/// <see cref="BarValidator"/>; a refused one is persisted with its typed reason and logged (the first 20 of each
/// reason, then counted only). Not thread-safe: one reader of the source uses it.
/// </summary>
public sealed class IngestBoundary(BarValidator validator, PersistenceWriter writer, RunContext run, ILogger<IngestBoundary> logger)
{
    private const int LoggedRejectionsPerReason = 20;
    private readonly Dictionary<BarRejectReason, int> _logged = [];

    /// <summary>The counters of records read, accepted and refused.</summary>
    public IngestCounters Counters => validator.Counters;

    /// <summary>Validates one record received at <paramref name="receivedAtUtc"/>; null when it was refused (and recorded as such).</summary>
    public async ValueTask<Bar?> AcceptAsync(MarketDataRecord record, DateTimeOffset receivedAtUtc, CancellationToken ct)
    {
        var bar = validator.Validate(record, receivedAtUtc, out var rejected);
        if (bar is not null)
        {
            return bar;
        }

        LogRejection(rejected!);
        await writer.EnqueueAsync(new PersistRejection(run.RunId, rejected!), ct).ConfigureAwait(false);
        return null;
    }

    /// <summary>The source has been read to its end: logs the counts and completes <see cref="RunContext.IngestCompleted"/>.</summary>
    public void Finish(string sourceName)
    {
        var c = validator.Counters;
        logger.LogInformation("Ingest finished {Source}: {Read} read, {Accepted} accepted, {Rejected} rejected", sourceName, c.Read, c.Accepted, c.Rejected);
        run.IngestCompleted.TrySetResult();
    }

    /// <summary>The time a record reaches us: a recorded bar at its close (the replay clock), a live one now.</summary>
    public static DateTimeOffset ReceivedAt(MarketDataRecord record, bool replay, TimeProvider clock) =>
        replay && record is RawBarRecord { Bar: var raw } ? raw.OpenTimeUtc + raw.Interval : clock.GetUtcNow();

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
