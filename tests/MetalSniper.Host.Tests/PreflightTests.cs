using Dapper;
using MetalSniper.Host.Cli;
using Microsoft.Data.Sqlite;
using MetalSniper.Host.Supervision;
using MetalSniper.Persistence.Journal;

namespace MetalSniper.Host.Tests;

public sealed class PreflightTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public async Task Preflight_OnAFreshMachine_PassesEveryCheck()
    {
        var (code, output, error) = await InProcessCli.RunAsync("preflight", "--config", _env.WriteConfig(), "--db", _env.DatabasePath);
        code.ShouldBe(0, output + error);
        foreach (var check in new[] { "configuration", "database", "disk space", "halts store", "journal", "broker", "model parity", "clock" })
        {
            output.ShouldContain("ok   " + check);
        }
    }

    [Fact]
    public async Task BadConfiguration_Exits78_WithEveryError()
    {
        var config = _env.WriteConfig(j =>
        {
            j["Risk"]!["DailyLosLimit"] = 1;
            j["Supervision"]!["CrashLoopFaults"] = 0;
        });
        var (code, _, error) = await InProcessCli.RunAsync("run", "--config", config, "--db", _env.DatabasePath);
        code.ShouldBe(ExitCodes.Config);
        error.ShouldContain("Risk:DailyLosLimit: unknown key");
        error.ShouldContain("Supervision:CrashLoopFaults");
    }

    /// <summary>Interactive Brokers as the broker, and (as it must be) as the market data source.</summary>
    private static void UseInteractiveBrokers(System.Text.Json.Nodes.JsonObject j, System.Text.Json.Nodes.JsonObject connection)
    {
        j["Broker"] = new System.Text.Json.Nodes.JsonObject { ["Kind"] = "InteractiveBrokers", ["InteractiveBrokers"] = connection };
        j["MarketData"]!["Source"] = "InteractiveBrokers";
    }

    [Theory]
    [InlineData("Live")]
    [InlineData("Paper")]
    public async Task RealBrokerOnReplayedData_Exits78_NamingBothSettings_AndNothingStarts(string mode)
    {
        // A listener on loopback: were the configuration accepted, the broker check would pass and the service would start.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            var config = _env.WriteConfig(j =>
            {
                UseInteractiveBrokers(j, new System.Text.Json.Nodes.JsonObject { ["Host"] = "127.0.0.1", ["Port"] = port });
                j["MarketData"]!["Source"] = "Replay";
                j["Execution"]!["Mode"] = mode;
                if (mode == "Live")
                {
                    j["Execution"]!["LiveTradingOptIn"] = true;
                }
            });
            foreach (var command in new[] { "run", "preflight", "check-config" })
            {
                // Were it accepted, `run` would start the service and never return: the time limit makes that a failure, not a hang.
                var (code, output, error) = await (command == "check-config" ? InProcessCli.RunAsync(command, "--config", config) : InProcessCli.RunAsync(command, "--config", config, "--db", _env.DatabasePath))
                    .WaitAsync(TimeSpan.FromSeconds(60));
                code.ShouldBe(ExitCodes.Config, $"{command}: {output}{error}");
                (output + error).ShouldContain("Broker:Kind is InteractiveBrokers but MarketData:Source is Replay", customMessage: command);
                (output + error).ShouldContain("set MarketData:Source to InteractiveBrokers", customMessage: command);
            }

            File.Exists(_env.DatabasePath).ShouldBeFalse("a refused configuration started something: the database exists");
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public void RealBrokerOnReplayedData_CannotEvenBeBuiltAsAHost()
    {
        // Defence in depth: a host built without the configuration check (as tests and tools do) refuses the pairing too.
        var config = _env.WriteConfig(j => j["Broker"] = new System.Text.Json.Nodes.JsonObject { ["Kind"] = "InteractiveBrokers" });
        var settings = new HostSettings(config, Engine.Pipeline.RunMode.Service, _env.DatabasePath);
        Should.Throw<Microsoft.Extensions.Options.OptionsValidationException>(() => Composition.BuildHost(settings, Composition.LoadConfiguration(settings)))
            .Message.ShouldContain("Broker:Kind is InteractiveBrokers but MarketData:Source is Replay");
    }

    [Theory]
    [InlineData("Simulated", "InteractiveBrokers", true)]
    [InlineData("InteractiveBrokers", "InteractiveBrokers", false)]
    [InlineData("InteractiveBrokers", "Replay", false)]
    [InlineData("Simulated", "Replay", false)]
    public async Task ShadowMode_AcceptsExactlyIbDataWithTheSimulatedBroker_ElseExits78(string brokerKind, string source, bool accepted)
    {
        var config = _env.WriteConfig(j =>
        {
            j["Broker"] = new System.Text.Json.Nodes.JsonObject
            {
                ["Kind"] = brokerKind,
                ["InteractiveBrokers"] = new System.Text.Json.Nodes.JsonObject { ["Host"] = "127.0.0.1", ["Port"] = 4002, ["ClientId"] = 7 },
            };
            j["MarketData"]!["Source"] = source;
            j["MarketData"]!["InteractiveBrokers"] = new System.Text.Json.Nodes.JsonObject { ["BarMinutes"] = 15, ["Symbols"] = new System.Text.Json.Nodes.JsonArray("XAUUSD", "XAGUSD") };
            j["Execution"]!["Mode"] = "Shadow";
        });
        var (code, output, error) = await InProcessCli.RunAsync("check-config", "--config", config);
        if (accepted)
        {
            code.ShouldBe(0, output + error);
            return;
        }

        code.ShouldBe(ExitCodes.Config, output + error);
        error.ShouldContain($"Execution:Mode is Shadow but Broker:Kind is {brokerKind} and MarketData:Source is {source}");
        error.ShouldContain("set Broker:Kind to Simulated and MarketData:Source to InteractiveBrokers");
    }

    [Fact]
    public async Task ShadowModeOnReplayedData_BuiltWithoutTheCheck_RefusesToStart()
    {
        // Defence in depth: shadow mode without IB's live data would be a rehearsal on history that claims to be SHADOW.
        var config = _env.WriteConfig(j => j["Execution"]!["Mode"] = "Shadow");
        var settings = new HostSettings(config, Engine.Pipeline.RunMode.Service, _env.DatabasePath);
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        (await Should.ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync(CancellationToken.None)))
            .Message.ShouldContain("Execution:Mode is Shadow with Broker:Kind Simulated and MarketData:Source Replay");
    }

    [Fact]
    public async Task LiveDataWithTheSimulatedBroker_Exits78_NamingBothSettings()
    {
        var config = _env.WriteConfig(j => j["MarketData"]!["Source"] = "InteractiveBrokers");
        var (code, output, error) = await InProcessCli.RunAsync("check-config", "--config", config);
        code.ShouldBe(ExitCodes.Config, output + error);
        error.ShouldContain("MarketData:Source is InteractiveBrokers but Broker:Kind is Simulated");
    }

    [Fact]
    public async Task BrokerUnreachable_PreflightExits69_NamingHostAndPort()
    {
        // The preflight command fails; the service's start does not (it waits for the broker: BrokerStartWaitTests).
        // A port that was just free on loopback: nothing listens there.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var config = _env.WriteConfig(j => UseInteractiveBrokers(j, new System.Text.Json.Nodes.JsonObject { ["Host"] = "127.0.0.1", ["Port"] = port }));
        var (code, output, error) = await InProcessCli.RunAsync("preflight", "--config", config, "--db", _env.DatabasePath);
        code.ShouldBe(Supervision.Preflight.UnavailableExitCode);
        (output + error).ShouldContain("FAIL broker");
        (output + error).ShouldContain($"Interactive Brokers unreachable at 127.0.0.1:{port}");
    }

    [Fact]
    public async Task AJudgeOnWhoseModelIsMissing_FailsTheModelParityCheck_Exit65_AndNothingStarts()
    {
        var registry = Path.Combine(_env.Directory.FullName, "empty-registry");
        Directory.CreateDirectory(registry);
        var config = _env.WriteConfig(j =>
        {
            j["Judges"]!["Registry"] = registry;
            j["Judges"]!["Entry"]!["Mode"] = "Shadow";
        });
        foreach (var command in new[] { "preflight", "run" })
        {
            var (code, output, error) = await InProcessCli.RunAsync(command, "--config", config, "--db", _env.DatabasePath);
            code.ShouldBe(ExitCodes.DataError, output + error);
            (output + error).ShouldContain("FAIL model parity");
            (output + error).ShouldContain("'model-missing'");
        }
    }

    [Fact]
    public async Task PaperModeOnALivePort_Exits78_FailingClosed()
    {
        var config = _env.WriteConfig(j => UseInteractiveBrokers(j, new System.Text.Json.Nodes.JsonObject { ["Port"] = 4001 }));
        var (code, output, error) = await InProcessCli.RunAsync("preflight", "--config", config, "--db", _env.DatabasePath);
        code.ShouldBe(ExitCodes.Config);
        (output + error).ShouldContain("paper mode but 127.0.0.1:4001 is a live port");
    }

    [Fact]
    public async Task BrokerListening_PassesTheBrokerCheck()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            var config = _env.WriteConfig(j => UseInteractiveBrokers(j, new System.Text.Json.Nodes.JsonObject { ["Port"] = port }));
            var (code, output, error) = await InProcessCli.RunAsync("preflight", "--config", config, "--db", _env.DatabasePath);
            code.ShouldBe(0, output + error);
            output.ShouldContain($"ok   broker");
            output.ShouldContain($"127.0.0.1:{port} accepts connections");
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task UnwritableDatabaseDirectory_Exits74_NamingTheDirectory()
    {
        var db = "/proc/1/metalsniper-preflight-test/test.db"; // a directory nobody (root included) can create
        var (code, _, error) = await InProcessCli.RunAsync("run", "--config", _env.WriteConfig(), "--db", db);
        code.ShouldBe(ExitCodes.IoError);
        error.ShouldContain("FAIL database");
        error.ShouldContain("/proc/1/metalsniper-preflight-test is not writable");
    }

    [Fact]
    public async Task BrokenJournal_Exits65_NamingTheEntry_AndNothingStarts()
    {
        var config = _env.WriteConfig();
        var journal = Path.Combine(_env.Directory.FullName, "journal.db");
        await using (var j = new Persistence.Journal.DecisionJournal(journal, true, 0, 64, TimeSpan.FromMinutes(1), TimeProvider.System, _ => { }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance))
        {
            for (var i = 0; i < 20; i++)
            {
                j.Append(JournalEntryKind.Decision, $"D{i}", "", new { i });
            }

            await j.FlushAsync();
        }

        using (var c = new SqliteConnection($"Data Source={journal};Pooling=False"))
        {
            c.Execute("UPDATE journal SET payload='{\"i\":99}' WHERE seq=7");
        }

        var (code, _, error) = await InProcessCli.RunAsync("run", "--config", config, "--db", _env.DatabasePath);
        code.ShouldBe(ExitCodes.DataError);
        error.ShouldContain("FAIL journal");
        error.ShouldContain("sequence 7");
        using var db = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        db.ExecuteScalar<long>("SELECT COUNT(*) FROM runs").ShouldBe(0); // no run started
    }

    [Fact]
    public async Task FailedPreflight_IsARedAlertInTheJournal_WhenTheJournalIsSound()
    {
        var db = "/proc/1/metalsniper-preflight-test/test.db";
        var config = _env.WriteConfig(j => j["Journal"]!["Path"] = Path.Combine(_env.Directory.FullName, "journal.db"));
        (await InProcessCli.RunAsync("run", "--config", config, "--db", db)).Code.ShouldBe(ExitCodes.IoError);
        using var c = new SqliteConnection($"Data Source={Path.Combine(_env.Directory.FullName, "journal.db")};Pooling=False");
        c.Query<string>("SELECT payload FROM journal WHERE kind='Alert'").ShouldContain(p => p.Contains("\"Kind\":\"Preflight\"") && p.Contains("\"Level\":\"Red\""));
    }
}
