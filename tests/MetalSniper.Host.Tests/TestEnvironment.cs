using System.Text.Json.Nodes;

namespace MetalSniper.Host.Tests;

/// <summary>A temp directory with a config file per test (the repository's appsettings.json pointed at ../shared/data); paths come from <see cref="TestPaths"/>.</summary>
internal sealed class TestEnvironment : IDisposable
{
    public TestEnvironment()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("ms-host-");
    }

    public DirectoryInfo Directory { get; }

    public string DatabasePath => Path.Combine(Directory.FullName, "test.db");

    /// <summary>The chain key file of the test's database: the one a replay or the embedded service creates beside it, and the one a
    /// configuration with a real broker names (<see cref="WriteConfig"/> sets <c>Persistence:ChainKeyFile</c> to it).</summary>
    public string ChainKeyPath => Path.Combine(Directory.FullName, "chain.key");

    /// <summary>The chain keys of the test's database (created when there are none yet).</summary>
    public Sentinel.Halts.ChainKeyring ChainKeys => Sentinel.Halts.ChainKeyring.LoadOrCreate(ChainKeyPath, TimeProvider.System);

    /// <summary>Writes the repository's appsettings.json with the data directory made absolute and the edits applied; returns its path.</summary>
    public string WriteConfig(Action<JsonObject>? edit = null)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "appsettings.json")))!.AsObject();
        json["MarketData"]!["Replay"]!["DataDirectory"] = TestPaths.SharedData;
        json["Serilog"]!["WriteTo"]![0]!["Args"]!["path"] = Path.Combine(Directory.FullName, "log", "metalsniper-.log");
        json["Operator"]!["Url"] = "http://127.0.0.1:0"; // tests run services side by side: any free port
        edit?.Invoke(json);
        // The service with a real broker needs a configured chain key (exit 78 without): the test's own, unless the edit set one.
        if (json["Broker"]?["Kind"]?.GetValue<string>() == "InteractiveBrokers" && json["Persistence"]?["ChainKeyFile"] is null)
        {
            _ = ChainKeys;
            json["Persistence"]!["ChainKeyFile"] = ChainKeyPath;
        }

        var path = Path.Combine(Directory.FullName, "appsettings.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(true);
    }
}
