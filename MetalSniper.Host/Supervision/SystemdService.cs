using System.Globalization;
using System.Net.Sockets;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;
using Microsoft.Extensions.Hosting.Systemd;

namespace MetalSniper.Host.Supervision;

/// <summary>
/// The systemd side of the service: <c>READY=1</c> once every hosted service has started and the broker was reconciled (preflight ran before the
/// host was built, and the kill switch and the journal were restored before anything could trade);
/// <c>WATCHDOG=1</c> at half the watchdog interval, but only while the risk sentinel's loop is turning (a frozen
/// sentinel stops the pings and systemd restarts the process); <c>STATUS=</c> lines with the kill level and the
/// counters; <c>STOPPING=1</c> when the stop begins. Starts last, stops first.
/// <para>
/// Until <c>READY=1</c> (the broker unreachable at the start, or a long first reconciliation, or a resumed run re-executing its
/// history) every watchdog ping that goes out (the sentinel turning) also sends <c>EXTEND_TIMEOUT_USEC=</c> of two ping
/// intervals: systemd's start timeout (<c>TimeoutStartSec=</c>) then cannot kill a healthy service that waits, and still
/// kills one that froze while waiting, as the watchdog would. <c>STATUS=</c> says what it waits for.
/// </para>
/// </summary>
/// <remarks>
/// The datagrams go through <see cref="ISystemdNotifier"/> of Microsoft.Extensions.Hosting.Systemd (a no-op when
/// <c>$NOTIFY_SOCKET</c> is not set). The package's <c>UseSystemd()</c>/<c>AddSystemd()</c> is deliberately NOT used:
/// its <see cref="SystemdLifetime"/> sends <c>READY=1</c> as soon as the host has started, before the first
/// reconciliation with the broker, and would tell systemd we are ready while our books may still disagree with the
/// broker's. The host keeps the console lifetime (SIGTERM/Ctrl+C drain) and this service alone decides when
/// <c>READY=1</c> goes out. The package offers nothing for the watchdog, so <see cref="SystemdWatchdog"/> reads
/// <c>$WATCHDOG_USEC</c> itself.
/// </remarks>
public sealed class SystemdService(
    ISystemdNotifier notifier,
    SystemdWatchdog watchdog,
    RiskSentinel sentinel,
    KillSwitch killSwitch,
    RunContext run,
    TimeProvider clock,
    WallClock wallClock,
    IHostApplicationLifetime lifetime,
    BrokerIdentity broker,
    ILogger<SystemdService> logger,
    Engine.Alerts.AlertHub alerts,
    Engine.Services.ReplayScheduler? scheduler = null) : IHostedService, IDisposable
{
    private long _idleTurns;

    private readonly TimeSpan _ping = watchdog.PingInterval;
    private ITimer? _timer;
    private ITimer? _status;
    private ITimer? _ready;
    private int _readySent;
    private long _notifyFailures;
    private long _lastLoops = -1;
    private bool _stalledLogged;

    /// <summary>Watchdog pings sent.</summary>
    public long WatchdogPings { get; private set; }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!notifier.IsEnabled)
        {
            return Task.CompletedTask;
        }

        // READY only once every service started and our books were reconciled with the broker (IB: after the first
        // successful reconciliation; until then systemd's start timeout runs and STATUS says what we wait for).
        lifetime.ApplicationStarted.Register(() => _ready = wallClock.Provider.CreateTimer(_ => NotifyReadyWhenReconciled(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(250)));
        lifetime.ApplicationStopping.Register(() => Send("STOPPING=1\nSTATUS=stopping: draining in-flight orders"));
        _timer = wallClock.Provider.CreateTimer(_ => Watchdog(), null, _ping, _ping);
        _status = wallClock.Provider.CreateTimer(_ => Send("STATUS=" + Status()), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        return Task.CompletedTask;
    }

    private void NotifyReadyWhenReconciled()
    {
        if (Volatile.Read(ref _readySent) != 0)
        {
            return;
        }

        if (!broker.Reconciled())
        {
            Send("STATUS=" + (broker.Waiting() ?? "waiting for the first reconciliation with the broker: " + broker.Describe()));
            return;
        }

        if (Interlocked.Exchange(ref _readySent, 1) == 0)
        {
            _ready?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            Send("READY=1\nSTATUS=" + Status());
            logger.LogInformation("systemd notified READY ({Broker}); watchdog ping every {Ping}", broker.Describe(), _ping);
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _ready?.Dispose();
        _timer?.Dispose();
        _status?.Dispose();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _ready?.Dispose();
        _timer?.Dispose();
        _status?.Dispose();
    }

    private void Watchdog()
    {
        // The sentinel's loop turns at least every sweep interval on the wall clock while its thread lives. On a replayed feed the
        // service runs on the causal scheduler (the sentinel sweeps inline): it turns with every record, and rests only when the
        // data has ended.
        var causal = run.Causal && scheduler is not null;
        var loops = !causal ? sentinel.Loops : scheduler!.Finished ? long.MinValue + ++_idleTurns : scheduler.Heartbeat;
        if (loops == _lastLoops || sentinel.Fault is not null)
        {
            if (!_stalledLogged)
            {
                logger.LogCritical("{What} has not turned since the last watchdog ping ({Loops}); withholding WATCHDOG=1 so systemd restarts the process",
                    causal ? "The causal scheduler (brain, hands, simulated broker and sentinel)" : "Risk sentinel loop", loops);
                _stalledLogged = true;
            }

            return;
        }

        _lastLoops = loops;
        _stalledLogged = false;
        Send("WATCHDOG=1");
        WatchdogPings++;
        if (Volatile.Read(ref _readySent) == 0)
        {
            // Not ready yet but alive: the start timeout moves on with the pings (and stops moving when they stop).
            Send(string.Create(CultureInfo.InvariantCulture, $"EXTEND_TIMEOUT_USEC={(long)(_ping * 2).TotalMicroseconds}"));
        }
    }

    private string Status() => string.Create(CultureInfo.InvariantCulture,
        $"L{(int)killSwitch.Level(clock.GetUtcNow())}, {run.BarsProcessed} bars, {run.OrdersSent} orders, {run.Fills} fills, {run.Faults.Count} faults");

    private void Send(string state)
    {
        // Runs on timer and lifetime callbacks: a send failure must not take the service down (systemd then notices the
        // missing READY or pings by itself), but it is never silent.
        try
        {
            notifier.Notify(new ServiceState(state));
        }
        catch (SocketException e)
        {
            // The first failure of a streak is an alert (systemd may stop the service for missing pings); the rest are counted.
            logger.LogError(e, "sd_notify of {State} failed: {Error}", state.Split('\n')[0], e.SocketErrorCode);
            if (Interlocked.Increment(ref _notifyFailures) == 1)
            {
                alerts.Raise(Core.Alerts.AlertLevel.Yellow, "SystemdNotify", $"sd_notify failed ({e.SocketErrorCode}): systemd may not see the service's readiness or watchdog pings and may restart it");
            }

            return;
        }

        Interlocked.Exchange(ref _notifyFailures, 0);
    }
}

/// <summary>How often the watchdog is pinged: half of systemd's <c>WATCHDOG_USEC</c>, 5 s without it.</summary>
/// <param name="PingInterval">The ping period.</param>
public sealed record SystemdWatchdog(TimeSpan PingInterval)
{
    /// <summary>From the environment.</summary>
    public static SystemdWatchdog FromEnvironment() => new(IntervalFromEnvironment() is { } w ? w / 2 : TimeSpan.FromSeconds(5));

    /// <summary>
    /// The watchdog interval systemd expects pings within (<c>WATCHDOG_USEC</c>), or null. Ours: Microsoft.Extensions.Hosting.Systemd
    /// has no watchdog support.
    /// </summary>
    public static TimeSpan? IntervalFromEnvironment() =>
        long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0
            ? TimeSpan.FromMicroseconds(usec)
            : null;
}
