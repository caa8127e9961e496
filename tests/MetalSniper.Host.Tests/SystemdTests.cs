using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Orders;
using MetalSniper.Host.Cli;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Supervision;
using MetalSniper.Sentinel;
using MetalSniper.Strategies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Tests that set <c>NOTIFY_SOCKET</c> (process-wide) run alone: Microsoft.Extensions.Hosting.Systemd's notifier reads the
/// variable when it is created, and a service host started in parallel must not pick up this test's socket.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NotifySocketCollection
{
    public const string Name = "NOTIFY_SOCKET";
}

[Collection(NotifySocketCollection.Name)]
public sealed class SystemdTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    /// <summary>The real outbox, with a switch that blocks the calling thread (the sentinel's) on its next send.</summary>
    private sealed class StallingOutbox(ISentinelOutbox inner) : ISentinelOutbox
    {
        public volatile bool Stall;

        public ManualResetEventSlim Release { get; } = new();

        public ManualResetEventSlim Stalled { get; } = new();

        public void Send(DecisionRecord decision, SubmitOrder order)
        {
            if (Stall)
            {
                Stalled.Set();
                Release.Wait(TimeSpan.FromSeconds(60));
            }

            inner.Send(decision, order);
        }

        public void HaltEntries(DecisionRecord decision) => inner.HaltEntries(decision);
    }

    [Fact]
    public async Task NotifySocket_SeesReadyWatchdogAndStoppingInOrder_AndPingsStopWhileTheSentinelIsStalled()
    {
        using var listener = new NotifySocketListener(Path.Combine(_env.Directory.FullName, "notify.sock"));
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 5; // few feed prices to race the test's crash price
            j["MarketData"]!["Replay"]!["ServiceScheduler"] = "Threaded"; // the live pipeline's threads and independent sentinel, on recorded data
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-02T12:00:00Z";
            j["Risk"]!["HeartbeatTimeout"] = "00:00:00";
            j["Risk"]!["DailyLossLimit"] = 5000;
        });
        var freezer = new FreezingStrategy("XAUUSD", 20m);
        StallingOutbox? outbox = null;
        var notifier = listener.CreateNotifier();
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton<IReadOnlyList<IStrategy>>([freezer]);
                s.AddSingleton<ISystemdNotifier>(notifier);
                s.AddSingleton(new SystemdWatchdog(TimeSpan.FromMilliseconds(100)));
                s.AddSingleton<ISentinelOutbox>(sp => outbox = new StallingOutbox(ActivatorUtilities.CreateInstance<Engine.Services.SentinelOutbox>(sp)));
            },
        };
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        await host.StartAsync(CancellationToken.None);
        List<string> Messages() => listener.Messages();

        try
        {
            await Eventually.Until(() => Messages().Count(m => m == "WATCHDOG=1") >= 5, () => "5 watchdog pings: " + string.Join(" | ", Messages()),
                TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(20));

            freezer.Frozen.Wait(TimeSpan.FromSeconds(30)).ShouldBeTrue();

            // Stall the sentinel's own thread: a crash price makes it flatten, and its send blocks.
            // The price stays down (a feed price arriving in the same sweep could otherwise hide a single crash tick).
            outbox!.Stall = true;
            var sentinel = host.Services.GetRequiredService<RiskSentinel>();
            var marketClock = host.Services.GetRequiredService<TimeProvider>();
            var sw = Stopwatch.StartNew();
            while (!outbox.Stalled.IsSet)
            {
                sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(10), "the sentinel never reached its send");
                sentinel.OnPrice("XAUUSD", 1000m, marketClock.GetUtcNow());
                await Task.Delay(10);
            }

            await Task.Delay(150); // a ping already due may still go out
            var before = Messages().Count(m => m == "WATCHDOG=1");
            await Task.Delay(1000); // ten ping intervals
            var after = Messages().Count(m => m == "WATCHDOG=1");
            output.WriteLine($"watchdog pings while stalled: {after - before}");
            after.ShouldBe(before, "the watchdog kept pinging with the sentinel stalled");

            outbox.Release.Set();
            await Eventually.Until(() => Messages().Count(m => m == "WATCHDOG=1") > after, "pings to resume after the stall", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(20));
        }
        finally
        {
            outbox?.Release.Set();
            freezer.Release.Set();
            await host.StopAsync(CancellationToken.None);
        }

        var messages = Messages();
        await listener.CloseAsync();
        output.WriteLine(string.Join(Environment.NewLine, messages.Select(m => m.Replace('\n', ' '))));
        var ready = messages.FindIndex(m => m.StartsWith("READY=1", StringComparison.Ordinal));
        var firstPing = messages.FindIndex(m => m == "WATCHDOG=1");
        var stopping = messages.FindIndex(m => m.StartsWith("STOPPING=1", StringComparison.Ordinal));
        ready.ShouldBeGreaterThanOrEqualTo(0);
        messages[ready].ShouldContain("STATUS=L0");
        firstPing.ShouldBeGreaterThan(ready);
        stopping.ShouldBeGreaterThan(firstPing);
        messages.Skip(stopping + 1).ShouldNotContain("READY=1");
    }
    [Fact]
    public async Task NotifySocket_ReadyWaitsForTheFirstBrokerReconciliation_NotForTheHostStart()
    {
        using var listener = new NotifySocketListener(Path.Combine(_env.Directory.FullName, "notify.sock"));
        var notifier = listener.CreateNotifier();
        var reconciled = false;
        var config = _env.WriteConfig(j => j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 5);
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton<ISystemdNotifier>(notifier);
                s.AddSingleton(new SystemdWatchdog(TimeSpan.FromMilliseconds(100)));
                // A broker whose first reconciliation the test decides (IB: IbOrderGateway.Reconciliations > 0).
                s.AddSingleton(new BrokerIdentity(() => "test broker") { Reconciled = () => Volatile.Read(ref reconciled) });
            },
        };
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        await host.StartAsync(CancellationToken.None);
        try
        {
            // The host has started (ApplicationStarted fired): the waiting STATUS goes out, READY does not.
            await Eventually.Until(() => listener.Messages().Count(m => m.StartsWith("STATUS=waiting for the first reconciliation", StringComparison.Ordinal)) >= 3,
                () => "3 waiting STATUS messages: " + string.Join(" | ", listener.Messages()), TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(20));

            listener.Messages().ShouldNotContain(m => m.StartsWith("READY=1", StringComparison.Ordinal), "READY before the broker was reconciled");
            listener.Messages().ShouldContain("WATCHDOG=1"); // alive (the sentinel turns) but not ready

            Volatile.Write(ref reconciled, true);
            await Eventually.Until(() => listener.Messages().Any(m => m.StartsWith("READY=1", StringComparison.Ordinal)), "READY after the reconciliation",
                TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(20));
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }

        var messages = listener.Messages();
        await listener.CloseAsync();
        output.WriteLine(string.Join(Environment.NewLine, messages.Select(m => m.Replace('\n', ' '))));
        messages.Count(m => m.StartsWith("READY=1", StringComparison.Ordinal)).ShouldBe(1);
        var ready = messages.FindIndex(m => m.StartsWith("READY=1", StringComparison.Ordinal));
        messages[ready].ShouldContain("STATUS=L0");
        messages.FindLastIndex(m => m.StartsWith("STATUS=waiting", StringComparison.Ordinal)).ShouldBeLessThan(ready);
        messages.FindIndex(m => m.StartsWith("STOPPING=1", StringComparison.Ordinal)).ShouldBeGreaterThan(ready);
    }
}

/// <summary>
/// A unix datagram socket standing in for systemd's <c>$NOTIFY_SOCKET</c>: records every datagram, and makes the package's
/// <see cref="SystemdNotifier"/> aimed at it.
/// </summary>
internal sealed class NotifySocketListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly List<string> _received = [];
    private readonly Task _receiving;

    public NotifySocketListener(string path)
    {
        Path = path;
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        _receiving = Task.Run(Receive);
    }

    public string Path { get; }

    /// <summary>The package's notifier, as in production, aimed at this socket: it reads NOTIFY_SOCKET once, when created.</summary>
    public SystemdNotifier CreateNotifier()
    {
        SystemdNotifier notifier;
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", Path);
        try
        {
            notifier = new SystemdNotifier();
        }
        finally
        {
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
        }

        notifier.IsEnabled.ShouldBeTrue();
        return notifier;
    }

    public List<string> Messages()
    {
        lock (_received)
        {
            return [.. _received];
        }
    }

    public async Task CloseAsync()
    {
        _socket.Close();
        await _receiving;
    }

    public void Dispose() => _socket.Dispose();

    private void Receive()
    {
        var buffer = new byte[4096];
        while (true)
        {
            int n;
            try
            {
                n = _socket.Receive(buffer);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_received)
            {
                _received.Add(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
    }
}

/// <summary>A strategy whose code throws on every bar: the brain faults again and again.</summary>
internal sealed class ThrowingStrategy : IStrategy
{
    public int Calls;

    public string Name => "thrower";

    public IReadOnlyCollection<string> Symbols => ["XAUUSD"];

    public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
    {
    }

    public void OnBar(Core.MarketData.Bar bar, IStrategyContext context)
    {
        Interlocked.Increment(ref Calls);
        throw new InvalidOperationException("test: strategy bug");
    }
}

public sealed class SupervisionTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public async Task FaultingService_IsRestartedWithBackoff_ACrashLoopLatchesL2_RaisesRed_AndExitsNonZero()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 200;
            j["Supervision"]!["CrashLoopFaults"] = 3;
            j["MarketData"]!["Replay"]!["ServiceScheduler"] = "Threaded"; // the live pipeline's threads and independent sentinel, on recorded data
            j["Supervision"]!["RestartDelay"] = "00:00:00.2";
        });
        var thrower = new ThrowingStrategy();
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Fatal)
        {
            ConfigureServices = s => s.AddSingleton<IReadOnlyList<IStrategy>>([thrower]),
        };
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var start = Stopwatch.StartNew();
        await host.StartAsync(CancellationToken.None);
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        await Eventually.Until(() => lifetime.ApplicationStopping.IsCancellationRequested, "the crash loop to stop the host", TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(20));

        var elapsed = start.Elapsed;
        await host.StopAsync(CancellationToken.None);

        var run = host.Services.GetRequiredService<RunContext>();
        run.Faults.ShouldContain(f => f.Service == "signal");
        ExitCodes.ForRun(run).ShouldBe(ExitCodes.Software);
        thrower.Calls.ShouldBe(3); // the first try and two restarts
        host.Services.GetRequiredService<Supervisor>().States["signal"].ShouldBe(ComponentState.Faulted);
        elapsed.ShouldBeGreaterThan(TimeSpan.FromSeconds(0.2 + 0.4) * 0.5); // two backoffs (0.2 s, 0.4 s, with jitter)

        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        Dapper.SqlMapper.ExecuteScalar<string>(c, "SELECT level || ' ' || source FROM halts WHERE scope='service' AND action='Escalate'").ShouldBe("2 supervisor");
        using var j = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_env.Directory.FullName, "journal.db")};Pooling=False");
        var alerts = Dapper.SqlMapper.Query<string>(j, "SELECT payload FROM journal WHERE kind='Alert'").ToList();
        alerts.Count(a => a.Contains("\"Kind\":\"ServiceRestart\"")).ShouldBe(2);
        alerts.ShouldContain(a => a.Contains("\"Kind\":\"CrashLoop\"") && a.Contains("\"Level\":\"Red\""));
    }
}
