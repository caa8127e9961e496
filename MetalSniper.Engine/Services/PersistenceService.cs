using MetalSniper.Engine.Alerts;
using MetalSniper.Persistence;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Core.Alerts;

namespace MetalSniper.Engine.Services;

/// <summary>
/// Opens the run in the database on start and closes it on stop: the run-ended record is
/// written after every other service stopped (it is registered first, so it stops last), then the
/// writer commits everything queued and closes.
/// </summary>
public sealed class PersistenceService(PersistenceWriter writer, RunContext run, RunResume resume, AlertHub alerts, WallClock wallClock, MetalSniper.Core.MarketData.IMarketDataSource source, MetalSniper.Core.Orders.IOrderGateway gateway, ILogger<PersistenceService> logger) : IHostedService
{
    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (run.Mode == RunMode.Service)
        {
            ReportUncleanEnds();
        }

        await writer.EnqueueAsync(new PersistRunStarted(run.RunId, wallClock.Provider.GetUtcNow(), run.Mode.ToString(), source.Name, gateway.Name) { Attempt = resume.Attempt }, cancellationToken).ConfigureAwait(false);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Database {Path} open (schema v{Version}), run {RunId} attempt {Attempt}", writer.Database.Path, writer.Database.SchemaVersion(), run.RunId, resume.Attempt);
    }

    /// <summary>
    /// Startup is recovery: a service run that never recorded its end was killed (SIGKILL, OOM, power cut) or
    /// crashed. Each one is closed as such and raised as a RED alert, so a restart after a crash is never silent.
    /// </summary>
    private void ReportUncleanEnds()
    {
        using var c = writer.Database.OpenConnection();
        var now = wallClock.Provider.GetUtcNow();
        var unclean = Dapper.SqlMapper.Query<(string RunId, string Started)>(c,
            "SELECT run_id, started_utc FROM runs WHERE mode='Service' AND ended_utc IS NULL AND run_id <> @current ORDER BY started_utc", new { current = run.RunId }).ToList();
        foreach (var (runId, started) in unclean)
        {
            Dapper.SqlMapper.Execute(c, "UPDATE runs SET ended_utc=@now, exit_status=@status WHERE run_id=@runId",
                new { now = now.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture), status = $"unclean: no end recorded (crash, kill or power loss); closed at the start of run {run.RunId}", runId });
            alerts.Raise(AlertLevel.Red, "UncleanRestart",
                $"the previous service run {runId} (started {started}) ended without a clean stop (crash, kill -9 or power loss); its records up to then are kept, the kill switch and halts were restored, and this run {run.RunId} starts afresh");
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var status = run.Faults.Count == 0 ? "ok" : "faulted: " + string.Join("; ", run.Faults.Select(f => $"{f.Service}: {f.Error.Message}"));
        if (run.Mode == RunMode.Replay && run.Faults.Count == 0 && !run.PipelineDrained.Task.IsCompletedSuccessfully)
        {
            // A replay stopped before its data ended is not finished: it stays open, and the same --run-id resumes it.
            logger.LogWarning("Run {RunId} stopped before its data ended; it stays open (resume it with the same --run-id)", run.RunId);
        }
        else if (writer.Fault is null)
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

