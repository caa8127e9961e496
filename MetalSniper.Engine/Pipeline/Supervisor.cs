using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel.Halts;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using MetalSniper.Engine.Alerts;
using MetalSniper.Core.Alerts;

namespace MetalSniper.Engine.Pipeline;

/// <summary>Restarts of faulted services (section <c>Supervision</c>).</summary>
public sealed class SupervisionOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Supervision";

    /// <summary>Faults of one service within <see cref="CrashLoopWindow"/> that make a crash loop (kill switch L2, RED alert, non-zero exit). Default 3.</summary>
    [Range(1, 100)]
    public int CrashLoopFaults { get; set; } = 3;

    /// <summary>The crash-loop window. Default 10 minutes.</summary>
    public TimeSpan CrashLoopWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>First restart delay; doubles with each restart (with jitter). Default 1 s.</summary>
    public TimeSpan RestartDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest restart delay. Default 30 s.</summary>
    public TimeSpan MaxRestartDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Free space the database's disk must have at preflight, in MB. Default 200.</summary>
    [Range(0, 10_000_000)]
    public int MinFreeDiskMegabytes { get; set; } = 200;
}

/// <summary>What a supervised service is doing (shown in health and logs).</summary>
public enum ComponentState
{
    /// <summary>Not yet running.</summary>
    Starting,

    /// <summary>Running.</summary>
    Ready,

    /// <summary>Faulted and waiting to be restarted.</summary>
    Degraded,

    /// <summary>Faulted for good (a crash loop, or a service that cannot restart).</summary>
    Faulted,

    /// <summary>Finished (its input ended) or stopped.</summary>
    Stopped,
}

/// <summary>
/// Internal supervision of the pipeline's services. In the service, a faulted service is restarted with exponential
/// backoff and jitter (Polly); every fault is recorded as a restart, journaled through its alert and counted. The
/// <see cref="SupervisionOptions.CrashLoopFaults"/>-th fault within the window is a crash loop: the kill switch is
/// latched at L2 (persisted), a RED alert is raised, the fault is recorded and the host stops, so the process exits
/// non-zero (the default host would exit 0). A replay, and a service that cannot restart, fail at the first fault.
/// </summary>
public sealed class Supervisor(
    IOptions<SupervisionOptions> options,
    KillSwitch killSwitch,
    AlertHub alerts,
    RunContext run,
    WallClock wallClock,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    ILogger<Supervisor> logger)
{
    private readonly ConcurrentDictionary<string, ComponentState> _states = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<DateTimeOffset>> _faults = new(StringComparer.Ordinal);
    private long _restarts;

    /// <summary>Every supervised service and its state.</summary>
    public IReadOnlyDictionary<string, ComponentState> States => new SortedDictionary<string, ComponentState>(_states, StringComparer.Ordinal);

    /// <summary>Restarts so far.</summary>
    public long Restarts => Interlocked.Read(ref _restarts);

    /// <summary>Runs <paramref name="body"/> under supervision until it ends, the host stops, or it faults for good (then rethrows).</summary>
    /// <param name="name">The service ("brain", "hands", "ingest").</param>
    /// <param name="body">The service body; a restart calls it again.</param>
    /// <param name="restartable">False for a service whose restart could repeat or lose work (a replayed feed).</param>
    /// <param name="stoppingToken">The host's stop.</param>
    public async Task RunAsync(string name, Func<CancellationToken, Task> body, bool restartable, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var o = options.Value;
        var restarts = restartable && run.Mode == RunMode.Service;
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = wallClock.Provider }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(restarts && args.Outcome.Exception is { } e && !(e is OperationCanceledException && stoppingToken.IsCancellationRequested) && !CrashLoop(name, e)),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = o.RestartDelay,
                MaxDelay = o.MaxRestartDelay,
                OnRetry = args =>
                {
                    Interlocked.Increment(ref _restarts);
                    _states[name] = ComponentState.Degraded;
                    alerts.Raise(AlertLevel.Yellow, "ServiceRestart", $"{name} failed ({args.Outcome.Exception!.GetType().Name}: {args.Outcome.Exception.Message}); restart {args.AttemptNumber + 1} in {args.RetryDelay.TotalSeconds:0.0} s");
                    logger.LogError(args.Outcome.Exception, "{Service} faulted; restarting in {Delay} (restart {Attempt})", name, args.RetryDelay, args.AttemptNumber + 1);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

        try
        {
            await pipeline.ExecuteAsync(async ct =>
            {
                _states[name] = ComponentState.Ready;
                await body(ct).ConfigureAwait(false);
            }, stoppingToken).ConfigureAwait(false);
            _states[name] = ComponentState.Stopped;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _states[name] = ComponentState.Stopped;
            throw;
        }
        catch (Core.MarketData.DataFileException e)
        {
            // The user's data file, not the process: one line naming the file and its defect, no trace, no fault alert; the host
            // stops and exits with the data-error code.
            _states[name] = ComponentState.Stopped;
            logger.LogError("{Service} stopped by a data error: {Message}", name, e.Message);
            run.RecordDataError(name, e);
            run.PipelineDrained.TrySetException(e);
            lifetime.StopApplication();
        }
        catch (Exception e)
        {
            _states[name] = ComponentState.Faulted;
            Fatal(name, e, restarts);
            throw;
        }
    }

    /// <summary>Marks the service's fault and tells whether it makes a crash loop.</summary>
    private bool CrashLoop(string name, Exception e)
    {
        var o = options.Value;
        var now = wallClock.Provider.GetUtcNow();
        var faults = _faults.GetOrAdd(name, _ => new ConcurrentQueue<DateTimeOffset>());
        faults.Enqueue(now);
        while (faults.TryPeek(out var t) && now - t > o.CrashLoopWindow)
        {
            faults.TryDequeue(out _);
        }

        logger.LogError("{Service} fault {Count} within {Window}: {Message}", name, faults.Count, o.CrashLoopWindow, e.Message);
        return faults.Count >= o.CrashLoopFaults;
    }

    private void Fatal(string name, Exception e, bool wasRestartable)
    {
        var o = options.Value;
        if (wasRestartable)
        {
            var reason = $"crash loop: {name} faulted {o.CrashLoopFaults} times within {o.CrashLoopWindow} (last: {e.GetType().Name}: {e.Message})";
            try
            {
                killSwitch.Escalate(KillLevel.Flatten, "supervisor", reason, clock.GetUtcNow());
            }
            catch (Exception halt) when (halt is HaltStoreWriteException or HaltStoreTamperedException)
            {
                logger.LogCritical(halt, "Crash loop: the kill switch could not be recorded at L2 (in force in memory)");
            }

            alerts.Raise(AlertLevel.Red, "CrashLoop", reason);
            logger.LogCritical(e, "Crash loop of {Service}: kill switch L2, stopping the host", name);
        }
        else
        {
            logger.LogCritical(e, "{Service} failed; stopping the host", name);
        }

        run.RecordFault(name, e);
        run.PipelineDrained.TrySetException(e);
        lifetime.StopApplication();
    }
}
