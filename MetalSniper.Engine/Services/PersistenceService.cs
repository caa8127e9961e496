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
public sealed class PersistenceService(PersistenceWriter writer, RunContext run, RunResume resume, AlertHub alerts, WallClock wallClock, MetalSniper.Core.MarketData.IMarketDataSource source, MetalSniper.Core.Orders.IOrderGateway gateway, ILogger<PersistenceService> logger,
    ResumeRefusal? refusal = null) : IHostedService
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
    /// Startup is recovery: a service run that never recorded its end was killed (SIGKILL, OOM, power cut) or crashed, or stopped
    /// cleanly on a replayed feed before its data ended. The one being resumed is this run; every other is closed as what it was
    /// and raised (RED when it ended uncleanly), so a restart is never silent.
    /// </summary>
    private void ReportUncleanEnds()
    {
        using var c = writer.Database.OpenConnection();
        var now = wallClock.Provider.GetUtcNow();
        var open = Dapper.SqlMapper.Query<(string RunId, string Started, string? Status)>(c,
            "SELECT run_id, started_utc, exit_status FROM runs WHERE mode='Service' AND ended_utc IS NULL AND run_id <> @current ORDER BY started_utc", new { current = run.RunId }).ToList();
        var why = refusal?.Reason ?? "a live feed: this run takes its orders and book over from the broker";
        foreach (var (runId, started, status) in open)
        {
            var clean = status is not null;
            var closing = clean
                ? $"{status}; not resumed ({why}); closed at the start of run {run.RunId}"
                : $"unclean: no end recorded (crash, kill or power loss); not resumed ({why}); closed at the start of run {run.RunId}";
            Dapper.SqlMapper.Execute(c, "UPDATE runs SET ended_utc=@now, exit_status=@status WHERE run_id=@runId",
                new { now = now.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture), status = closing, runId });
            alerts.Raise(clean ? AlertLevel.Yellow : AlertLevel.Red, clean ? "RunNotResumed" : "UncleanRestart", clean
                ? $"the previous service run {runId} (started {started}) stopped cleanly but is not resumed ({why}); this run {run.RunId} starts afresh"
                : $"the previous service run {runId} (started {started}) ended without a clean stop (crash, kill -9 or power loss) and is not resumed ({why}); its records up to then are kept, the kill switch was restored, and this run {run.RunId} starts afresh");
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
        else if (run.Mode == RunMode.Service && run.Causal && run.Faults.Count == 0 && !run.PipelineDrained.Task.IsCompletedSuccessfully && writer.Fault is null)
        {
            var (book, positions) = run.StoppedBeforeDataEndedWith ?? ("flat, stopped in its start-up before its first record", false);
            // The service on a replayed feed stopped cleanly before its data ended: the run stays open and the next start resumes it.
            alerts.Raise(positions ? AlertLevel.Yellow : AlertLevel.Info, "ServiceStopped",
                $"service run {run.RunId} stopped cleanly before its data ended: {book}{(positions ? " — left at the broker as they are, protective stops working" : "")}; the next start resumes the run");
            await writer.EnqueueAsync(new PersistRunPaused(run.RunId, "stopped cleanly before its data ended; resumes on the next start: " + book), CancellationToken.None).ConfigureAwait(false);
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

