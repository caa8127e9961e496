using MetalSniper.Host.Persistence;
using MetalSniper.Host.Pipeline;

namespace MetalSniper.Host.Services;

/// <summary>
/// Opens the run in the database on start and closes it on stop: the run-ended record is
/// written after every other service stopped (it is registered first, so it stops last), then the
/// writer commits everything queued and closes.
/// </summary>
public sealed class PersistenceService(PersistenceWriter writer, RunContext run, WallClock wallClock, MetalSniper.Core.MarketData.IMarketDataSource source, MetalSniper.Core.Orders.IOrderGateway gateway, ILogger<PersistenceService> logger) : IHostedService
{
    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await writer.EnqueueAsync(new PersistRunStarted(run.RunId, wallClock.Provider.GetUtcNow(), run.Mode.ToString(), source.Name, gateway.Name), cancellationToken).ConfigureAwait(false);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Database {Path} open (schema v{Version}), run {RunId}", writer.Database.Path, writer.Database.SchemaVersion(), run.RunId);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var status = run.Faults.Count == 0 ? "ok" : "faulted: " + string.Join("; ", run.Faults.Select(f => $"{f.Service}: {f.Error.Message}"));
        if (writer.Fault is null)
        {
            await writer.EnqueueAsync(new PersistRunEnded(run.RunId, wallClock.Provider.GetUtcNow(), status), CancellationToken.None).ConfigureAwait(false);
        }

        await writer.DisposeAsync().ConfigureAwait(false);
        if (writer.Fault is { } fault)
        {
            logger.LogCritical(fault, "Database closed after a failed commit: {Committed} records committed in {Batches} transactions", writer.Committed, writer.Batches);
        }
        else
        {
            logger.LogInformation("Database closed: {Committed} records in {Batches} transactions", writer.Committed, writer.Batches);
        }
    }
}

