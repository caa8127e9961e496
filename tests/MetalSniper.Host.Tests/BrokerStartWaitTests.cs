using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using MetalSniper.FakeTws;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Issue 19 (systemd): the real service process (<c>run</c>) started with Interactive Brokers configured while nothing listens
/// on the broker's port. It does not exit 69 (which the unit would not restart): it stays up, not ready, alerts (YELLOW at
/// once, RED after <c>StartupUnreachableRedSeconds</c>), tells systemd on a real notify socket that it waits (STATUS=, WATCHDOG=1,
/// EXTEND_TIMEOUT_USEC=, no READY=1), and answers SIGTERM at once with exit 0. When the fake TWS comes up on that port it
/// connects, reconciles and becomes ready by itself (READY=1, <c>/health/ready</c> 200), without a restart.
/// </summary>
public sealed class BrokerStartWaitTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 31;
    private const string Account = "DU3141592";
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    [Fact]
    public async Task BrokerDownAtStart_ServiceWaitsNotReadyAndAlerts_ThenConnectsReconcilesAndIsReadyByItselfWhenTheBrokerComesUp()
    {
        var twsPort = FreePort();
        var operatorPort = FreePort();
        using var notify = new NotifySocketListener(Path.Combine(_env.Directory.FullName, "notify.sock"));
        var db = new HostDatabase(_env.DatabasePath);
        await using var service = Start(twsPort, operatorPort, notify.Path, redSeconds: 3);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{operatorPort}"), Timeout = TimeSpan.FromSeconds(5) };

        // Up, not ready, and saying why: the broker is unreachable and waited for.
        string ready = "";
        await Eventually.Until(() => (ready = ReadyBody(http, out var code)).Contains("waiting for the broker", StringComparison.Ordinal) && code == HttpStatusCode.ServiceUnavailable,
            () => "/health/ready 503 naming the wait: " + ready, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200), service.ExitedWhyAsync);
        output.WriteLine("not ready: " + ready);
        ready.ShouldContain($"127.0.0.1:{twsPort}");

        // YELLOW at once, RED once the configured time has passed; the process is still there.
        await Eventually.Until(() => Alerts(db).Any(a => a.Contains("\"Level\":\"Red\"", StringComparison.Ordinal)), () => "the RED alert: " + string.Join(" | ", Alerts(db)),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200), service.ExitedWhyAsync);
        var alerts = Alerts(db);
        alerts.ShouldContain(a => a.Contains("\"Level\":\"Yellow\"", StringComparison.Ordinal) && a.Contains("IB not reachable at start", StringComparison.Ordinal));
        alerts.ShouldContain(a => a.Contains("\"Level\":\"Red\"", StringComparison.Ordinal) && a.Contains("IB still unreachable", StringComparison.Ordinal));
        alerts.Count(a => a.Contains("\"Kind\":\"BrokerWait\"", StringComparison.Ordinal)).ShouldBe(2, string.Join(" | ", alerts));

        // systemd hears that it waits, alive: STATUS, pings, the start timeout extended; never READY.
        await Eventually.Until(() => notify.Messages().Count(m => m.StartsWith("EXTEND_TIMEOUT_USEC=", StringComparison.Ordinal)) >= 2,
            () => "two start-timeout extensions: " + string.Join(" | ", notify.Messages()), TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100), service.ExitedWhyAsync);
        var before = notify.Messages();
        before.ShouldContain(m => m.StartsWith("STATUS=waiting for the broker: IB at 127.0.0.1:" + twsPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        before.ShouldContain("WATCHDOG=1");
        before.ShouldNotContain(m => m.Contains("READY=1", StringComparison.Ordinal), "READY=1 while the broker was unreachable");
        service.ThrowIfExited();

        // The broker comes up on that port: the same process connects, reconciles and is ready.
        var waitedFor = Stopwatch.StartNew();
        await using var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions { Port = twsPort, Accounts = [Account] });
        await Eventually.Until(() => { ReadyBody(http, out var code); return code == HttpStatusCode.OK; }, () => "/health/ready 200 after the broker came up: " + ReadyBody(http, out _),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200), service.ExitedWhyAsync);
        output.WriteLine($"ready {waitedFor.ElapsedMilliseconds} ms after the fake TWS started");
        await Eventually.Until(() => notify.Messages().Any(m => m.StartsWith("READY=1", StringComparison.Ordinal)), () => "READY=1: " + string.Join(" | ", notify.Messages()),
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), service.ExitedWhyAsync);
        tws.ConnectedClientIds.ShouldContain(ClientId);
        db.Scalar<long>("SELECT COUNT(*) FROM runs").ShouldBe(1, "the service was restarted instead of waiting");
        Alerts(db).ShouldContain(a => a.Contains("\"Level\":\"Info\"", StringComparison.Ordinal) && a.Contains("IB reachable at 127.0.0.1:", StringComparison.Ordinal));

        (await service.StopAsync()).ShouldBe(0);
        var messages = notify.Messages();
        await notify.CloseAsync();
        output.WriteLine(string.Join(Environment.NewLine, messages.Select(m => m.Replace('\n', ' ')).Where(m => !m.StartsWith("WATCHDOG", StringComparison.Ordinal)).Distinct()));
        messages.Count(m => m.StartsWith("READY=1", StringComparison.Ordinal)).ShouldBe(1);
        var readyAt = messages.FindIndex(m => m.StartsWith("READY=1", StringComparison.Ordinal));
        messages.Skip(readyAt).ShouldNotContain(m => m.StartsWith("EXTEND_TIMEOUT_USEC=", StringComparison.Ordinal), "the start timeout was extended after READY");
        messages.FindIndex(m => m.StartsWith("STOPPING=1", StringComparison.Ordinal)).ShouldBeGreaterThan(readyAt);
    }

    [Fact]
    public async Task BrokerDownAtStart_SigtermWhileWaiting_ExitsZeroPromptly()
    {
        var twsPort = FreePort();
        var operatorPort = FreePort();
        await using var service = Start(twsPort, operatorPort, notifySocket: null, redSeconds: 300);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{operatorPort}"), Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.Until(() => ReadyBody(http, out _).Contains("waiting for the broker", StringComparison.Ordinal), "the service waiting for the broker",
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200), service.ExitedWhyAsync);

        var sw = Stopwatch.StartNew();
        var code = await service.StopAsync();
        output.WriteLine($"exit {code} {sw.ElapsedMilliseconds} ms after SIGTERM");
        code.ShouldBe(0);
        sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(10), "SIGTERM while waiting for the broker was not answered promptly");
    }

    private Service Start(int twsPort, int operatorPort, string? notifySocket, int redSeconds)
    {
        var config = _env.WriteConfig(j =>
        {
            FakeTwsConfig.UseFakeTws(j, twsPort, ClientId, Account);
            j["Broker"]!["InteractiveBrokers"]!["StartupUnreachableRedSeconds"] = redSeconds;
            j["Broker"]!["InteractiveBrokers"]!["QuietWindows"] = new System.Text.Json.Nodes.JsonArray("00:00-00:00");
            j["Operator"]!["Url"] = $"http://127.0.0.1:{operatorPort}";
        });
        var psi = new ProcessStartInfo("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "metalsniper.dll"), "run", "--config", config, "--db", _env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _env.Directory.FullName,
        };
        if (notifySocket is not null)
        {
            // What systemd gives a Type=notify service with WatchdogSec=2: the socket, and pings expected within 2 s (one a second).
            psi.Environment["NOTIFY_SOCKET"] = notifySocket;
            psi.Environment["WATCHDOG_USEC"] = "2000000";
        }

        return new Service(Process.Start(psi)!);
    }

    private static string ReadyBody(HttpClient http, out HttpStatusCode? code)
    {
        code = null;
        try
        {
            using var response = http.GetAsync(new Uri("/health/ready", UriKind.Relative)).GetAwaiter().GetResult();
            code = response.StatusCode;
            return response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return "(no answer: " + e.Message + ")";
        }
    }

    private static List<string> Alerts(HostDatabase db)
    {
        if (!File.Exists(db.JournalPath))
        {
            return [];
        }

        try
        {
            return [.. db.QueryJournal<string>("SELECT payload FROM journal WHERE kind='Alert'")];
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            return []; // the journal's schema is being created
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>The service process, its output drained as it comes (a full pipe would block it).</summary>
    private sealed class Service : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _out = new();
        private readonly Task _stdout;
        private readonly Task<string> _stderr;

        public Service(Process process)
        {
            _process = process;
            _stderr = process.StandardError.ReadToEndAsync();
            _stdout = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync() is { } line)
                {
                    lock (_out)
                    {
                        _out.AppendLine(line);
                    }
                }
            });
        }

        public Task<string?> ExitedWhyAsync() => Task.FromResult(_process.HasExited ? $"the service exited with {_process.ExitCode}: {Tail()}" : null);

        public void ThrowIfExited()
        {
            if (_process.HasExited)
            {
                throw new ShouldAssertException($"the service exited with {_process.ExitCode}: {Tail()}");
            }
        }

        /// <summary>SIGTERM, then the exit code (the process must end within 30 s).</summary>
        public async Task<int> StopAsync()
        {
            ThrowIfExited();
            SendSignal(_process.Id, 15).ShouldBe(0);
            _process.WaitForExit(TimeSpan.FromSeconds(30)).ShouldBeTrue("the service did not end within 30 s of SIGTERM");
            await _stdout;
            await _stderr;
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        private string Tail()
        {
            string all;
            lock (_out)
            {
                all = _out.ToString();
            }

            all += _stderr.IsCompleted ? _stderr.Result : "";
            return all.Length > 3000 ? all[^3000..] : all;
        }
    }
}
