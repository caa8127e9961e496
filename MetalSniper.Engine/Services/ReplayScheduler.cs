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
/// <remarks>
/// The service on a replayed feed (the embedded default: <c>run</c> with no broker configured) runs on this scheduler too, paced
/// to <see cref="ServicePace"/>, so that it gives the same decisions, fills and P&amp;L on every run whatever the machine's load,
/// and a restart resumes it by re-execution (<see cref="FeedMarks"/>). Its kill switch follows the operator's CLI and kill file
/// at record boundaries (about once a second), so that a resume can apply them again at the same place.
/// </remarks>
public sealed class ReplayScheduler(
    IMarketDataSource source,
    IngestBoundary boundary,
    SignalService brain,
    ExecutionService hands,
    TimeProvider clock,
    WallClock wallClock,
    RunContext run,
    Supervisor supervisor,
    ILogger<ReplayScheduler> logger,
    FeedMarks? marks = null,
    KillSwitchService? killSwitchService = null,
    ServicePace? pace = null) : PipelineService(run, supervisor)
{
    private long _records;
    private long _heartbeat;
    private long _behindPaceTicks;
    private bool _finished;

    /// <inheritdoc />
    protected override string ServiceName => "replay";

    /// <inheritdoc />
    /// <remarks>A replay re-read from its start would repeat work: a fault is final (the run can be resumed with its id).</remarks>
    protected override bool Restartable => false;

    /// <summary>
    /// How far the service is behind its pace (wall-clock time): 0 while it keeps up; grows when the host cannot follow the
    /// configured <see cref="ServicePace"/>. A causal run gives the same result behind or not; only its wall-clock timing moves.
    /// </summary>
    public TimeSpan BehindPace => TimeSpan.FromTicks(Interlocked.Read(ref _behindPaceTicks));

    /// <summary>Records taken from the feed so far.</summary>
    public long Records => Interlocked.Read(ref _records);

    /// <summary>Grows with every record (the service's watch on the scheduler: a stalled scheduler is reported).</summary>
    public long Heartbeat => Interlocked.Read(ref _heartbeat);

    /// <summary>True once the scheduler's loop has ended (the data ended, or the service was stopped).</summary>
    public bool Finished => Volatile.Read(ref _finished);

    /// <summary>True while a resumed service run re-executes the part of the feed its earlier attempts had taken.</summary>
    public bool CatchingUp => marks?.CatchingUp ?? false;

    /// <inheritdoc />
    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        if (!Run.Causal || !source.IsReplay)
        {
            throw new InvalidOperationException("the causal replay scheduler runs recorded data only (a replay, or the service on a replayed feed); a live feed runs the service's threads");
        }

        var service = Run.Mode == RunMode.Service;
        if (service && marks is null)
        {
            throw new InvalidOperationException("the service on a replayed feed needs its feed marks (a restart resumes the run)");
        }

        brain.RunInline(hands.PumpAsync);
        logger.LogInformation("Replay scheduler reading {Source}: ingest, brain, hands, simulated broker and sentinel in causal order on one thread{Pace}",
            source.Name, service ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $", paced to {pace?.BarsPerSecond ?? 0} bars/s") : "");
        if (marks is not null)
        {
            await marks.StartAsync(stoppingToken).ConfigureAwait(false);
        }

        // The service finishes the record it has begun when asked to stop (a clean stop leaves no half-handled bar); a replay stops at once.
        var work = service ? CancellationToken.None : stoppingToken;
        var interval = service && pace is { BarsPerSecond: > 0 } p ? 1d / p.BarsPerSecond : 0d;
        var provider = wallClock.Provider;
        long pacedFrom = 0;
        var pacedStart = provider.GetTimestamp();
        DateTimeOffset? lastClose = null;
        var ended = false;
        try
        {
            await foreach (var record in source.StreamAsync(stoppingToken).ConfigureAwait(false))
            {
                if (marks is not null && await marks.BeforeRecordAsync(_records, lastClose, CheckOutside, work).ConfigureAwait(false))
                {
                    // Caught up: pacing starts here.
                    pacedFrom = _records;
                    pacedStart = provider.GetTimestamp();
                }

                if (interval > 0 && !CatchingUp)
                {
                    var due = TimeSpan.FromSeconds((_records - pacedFrom) * interval) - provider.GetElapsedTime(pacedStart);
                    Interlocked.Exchange(ref _behindPaceTicks, due < TimeSpan.Zero ? -due.Ticks : 0);
                    if (due > TimeSpan.FromMilliseconds(2))
                    {
                        await Task.Delay(due, provider, stoppingToken).ConfigureAwait(false);
                    }
                }

                var bar = await boundary.AcceptAsync(record, IngestBoundary.ReceivedAt(record, replay: true, clock), work).ConfigureAwait(false);
                if (bar is not null)
                {
                    await brain.OnReplayBarAsync(bar, work).ConfigureAwait(false);
                    lastClose = bar.CloseTimeUtc;
                }

                Interlocked.Increment(ref _records);
                Interlocked.Increment(ref _heartbeat);
                if (service && stoppingToken.IsCancellationRequested)
                {
                    break;
                }
            }

            ended = !stoppingToken.IsCancellationRequested;
        }
        catch (OperationCanceledException) when (service && stoppingToken.IsCancellationRequested)
        {
            // A clean stop of the service while it waited for the pace: the run stays open and resumes on the next start.
        }

        if (marks is not null)
        {
            if (ended)
            {
                await marks.FinishCatchUpIfNeededAsync(_records, lastClose, CheckOutside, CancellationToken.None).ConfigureAwait(false);
            }

            await marks.StopAsync(_records, lastClose, CancellationToken.None).ConfigureAwait(false);
        }

        Volatile.Write(ref _finished, true);
        if (!ended)
        {
            var (book, positionsOpen) = marks is null ? ("", false) : await marks.DescribeBookAsync(CancellationToken.None).ConfigureAwait(false);
            logger.LogWarning("Service stopped at feed record {Records} (last bar {LastClose:O}) before its data ended: {Book}; the run stays open and the next start resumes it",
                _records, lastClose, book);
            Run.StoppedBeforeDataEnded(book, positionsOpen);
            return;
        }

        boundary.Finish(source.Name);
        await brain.CompleteReplayAsync(hands.CompleteReplayAsync, work).ConfigureAwait(false);
        if (service)
        {
            logger.LogInformation("Service reached the end of its replayed data after {Records} records; it idles until stopped (the next start is a new run)", _records);
        }
    }

    /// <summary>The operator's halts records from other processes (CLI) and the kill file, applied at a record boundary.</summary>
    private void CheckOutside() => killSwitchService?.CheckNow();
}

/// <summary>The pace of the service on a replayed feed (<c>MarketData:Replay:ServicePaceBarsPerSecond</c>), in records per wall-clock second; 0 = unpaced.</summary>
/// <param name="BarsPerSecond">Records per second.</param>
public sealed record ServicePace(double BarsPerSecond);
