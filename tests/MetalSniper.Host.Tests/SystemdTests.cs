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
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

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
        var socketPath = Path.Combine(_env.Directory.FullName, "notify.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        var received = new List<(string Message, long At)>();
        var receiving = Task.Run(() =>
        {
            var buffer = new byte[4096];
            while (true)
            {
                int n;
                try
                {
                    n = listener.Receive(buffer);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    return;
                }

                lock (received)
                {
                    received.Add((Encoding.UTF8.GetString(buffer, 0, n), Stopwatch.GetTimestamp()));
                }
            }
        });

        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 5; // few feed prices to race the test's crash price
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-02T12:00:00Z";
            j["Risk"]!["HeartbeatTimeout"] = "00:00:00";
            j["Risk"]!["DailyLossLimit"] = 5000;
        });
        var freezer = new FreezingStrategy("XAUUSD", 20m);
        StallingOutbox? outbox = null;
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton<IReadOnlyList<IStrategy>>([freezer]);
                s.AddSingleton(new SystemdNotifier(socketPath));
                s.AddSingleton(new SystemdWatchdog(TimeSpan.FromMilliseconds(100)));
                s.AddSingleton<ISentinelOutbox>(sp => outbox = new StallingOutbox(ActivatorUtilities.CreateInstance<Engine.Services.SentinelOutbox>(sp)));
            },
        };
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        await host.StartAsync(CancellationToken.None);
        List<string> Messages()
        {
            lock (received)
            {
                return [.. received.Select(r => r.Message)];
            }
        }

        try
        {
            var sw = Stopwatch.StartNew();
            while (Messages().Count(m => m == "WATCHDOG=1") < 5)
            {
                sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(20), "no watchdog pings: " + string.Join(" | ", Messages()));
                await Task.Delay(20);
            }

            freezer.Frozen.Wait(TimeSpan.FromSeconds(30)).ShouldBeTrue();

            // Stall the sentinel's own thread: a crash price makes it flatten, and its send blocks.
            // The price stays down (a feed price arriving in the same sweep could otherwise hide a single crash tick).
            outbox!.Stall = true;
            var sentinel = host.Services.GetRequiredService<RiskSentinel>();
            var marketClock = host.Services.GetRequiredService<TimeProvider>();
            sw.Restart();
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
            sw.Restart();
            while (Messages().Count(m => m == "WATCHDOG=1") == after)
            {
                sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5), "pings did not resume after the stall");
                await Task.Delay(20);
            }
        }
        finally
        {
            outbox?.Release.Set();
            freezer.Release.Set();
            await host.StopAsync(CancellationToken.None);
        }

        var messages = Messages();
        listener.Close();
        await receiving;
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
        var wait = Stopwatch.StartNew();
        while (!lifetime.ApplicationStopping.IsCancellationRequested)
        {
            wait.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(20), "the crash loop did not stop the host");
            await Task.Delay(20);
        }

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
        alerts.ShouldContain(a => a.Contains("\"Kind\":\"CrashLoop\"") && a.Contains("\"Level\":2"));
    }
}
