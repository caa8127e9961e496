using System.Globalization;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Engine.Services;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MetalSniper.Operator;

/// <summary>
/// The service's heartbeat in its log: every <see cref="OperatorOptions.StatusLineInterval"/> (wall clock) one line with the
/// kill level, equity, positions, market time, feed lag, broker and what happened since the last line; the repeats that
/// <see cref="LogRateLimiter"/> held back and that no later line reported; and a warning when the brain falls behind its feed
/// by more than <see cref="OperatorOptions.BrainLagWarning"/> (once per status interval while it lasts, and one line when it
/// caught up). It reads only published, thread-safe views; it never touches the trading path.
/// </summary>
public sealed class StatusLineService(
    OperatorConsole console,
    RunContext run,
    PipelineChannels channels,
    LogRateLimiter limiter,
    WallClock wallClock,
    IOptions<OperatorOptions> options,
    ILogger<StatusLineService> logger,
    ReplayScheduler? scheduler = null) : BackgroundService
{
    /// <summary>How often the lag is looked at (wall clock).</summary>
    private static readonly TimeSpan LagCheck = TimeSpan.FromSeconds(5);

    private long _lastBars;
    private long _lastFills;
    private long _lastDenied;
    private DateTimeOffset? _lagWarnedUtc;

    /// <summary>Lines written so far (tests and the operator window).</summary>
    public long Lines { get; private set; }

    /// <summary>
    /// How far the brain is behind its feed now: behind the pace of a replayed feed (the causal service), or the bars queued for
    /// the brain (the threaded pipeline); null when it keeps up or the feed gives no measure.
    /// </summary>
    public string? Lag()
    {
        if (scheduler is not null)
        {
            if (scheduler.CatchingUp || scheduler.Finished)
            {
                return null;
            }

            var behind = scheduler.BehindPace;
            return behind >= options.Value.BrainLagWarning ? string.Create(CultureInfo.InvariantCulture, $"{behind.TotalSeconds:0.0} s behind its pace") : null;
        }

        var queued = QueuedBars();
        return queued > channels.BarCapacity / 4 ? string.Create(CultureInfo.InvariantCulture, $"{queued} bars queued for the brain (capacity {channels.BarCapacity})") : null;
    }

    /// <summary>Bars waiting for the brain (the threaded pipeline's channel).</summary>
    private int QueuedBars() => channels.Bars.Reader.CanCount ? channels.Bars.Reader.Count : 0;

    /// <summary>The status line as it is logged now (also advances the "since the last line" counts).</summary>
    public string Compose()
    {
        var inv = CultureInfo.InvariantCulture;
        var bars = run.BarsProcessed;
        var fills = run.Fills;
        var denied = run.OrdersDenied;
        string feed;
        if (scheduler is not null)
        {
            feed = scheduler.CatchingUp ? "catching up (re-executing the run's history)"
                : scheduler.Finished ? "replayed data ended"
                : string.Create(inv, $"lag {scheduler.BehindPace.TotalSeconds:0.0} s");
        }
        else
        {
            feed = string.Create(inv, $"{QueuedBars()} bar(s) queued");
        }

        var line = string.Create(inv,
            $"{console.StatusLine()} · feed {feed} · bars {bars:N0} (+{bars - _lastBars:N0}) fills {fills:N0} (+{fills - _lastFills:N0}) refused {denied:N0} (+{denied - _lastDenied:N0}) · faults {run.Faults.Count}");
        _lastBars = bars;
        _lastFills = fills;
        _lastDenied = denied;
        return line;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.StatusLineInterval;
        var clock = wallClock.Provider;
        var nextStatus = clock.GetUtcNow() + interval;
        var check = new[] { interval, LagCheck, options.Value.BrainLagWarning / 2 }.Min();
        using var timer = new PeriodicTimer(check, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var now = clock.GetUtcNow();
                CheckLag(now, interval);
                if (now < nextStatus - check / 2)
                {
                    // Half a tick of tolerance: a timer that fires a hair early must not push the line a whole tick late.
                    continue;
                }

                nextStatus += interval;
                if (nextStatus <= now)
                {
                    nextStatus = now + interval;
                }

                foreach (var (kind, count) in limiter.Drain())
                {
                    logger.LogWarning("{Count} more like \"{Kind}\" held back from the log in the last {Window} (each recorded in the database and the journal)",
                        count, kind, limiter.Window);
                }

                logger.LogInformation("Status: {Status}", Compose());
                Lines++;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private void CheckLag(DateTimeOffset now, TimeSpan interval)
    {
        var lag = Lag();
        if (lag is null)
        {
            if (_lagWarnedUtc is not null)
            {
                logger.LogInformation("The brain caught up with its feed");
                _lagWarnedUtc = null;
            }

            return;
        }

        if (_lagWarnedUtc is { } warned && now - warned < interval)
        {
            return;
        }

        _lagWarnedUtc = now;
        logger.LogWarning("The brain lags its feed: {Lag}; its decisions come later than the data (warned again every {Interval} while it lasts)", lag, interval);
    }
}
