using System.Text.Json.Nodes;

namespace MetalSniper.Host.Tests;

/// <summary>Paths of the repository and the shared data, and a temp directory with a config file per test.</summary>
internal sealed class TestEnvironment : IDisposable
{
    public TestEnvironment()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("ms-host-");
    }

    public static string RepositoryRoot { get; } = FindUp(d => File.Exists(Path.Combine(d, "MetalSniper.sln")), "MetalSniper.sln");

    public static string SharedData { get; } = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "data"));

    public DirectoryInfo Directory { get; }

    public string DatabasePath => Path.Combine(Directory.FullName, "test.db");

    /// <summary>Writes the repository's appsettings.json with the data directory made absolute and the edits applied; returns its path.</summary>
    public string WriteConfig(Action<JsonObject>? edit = null)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot, "appsettings.json")))!.AsObject();
        json["MarketData"]!["Replay"]!["DataDirectory"] = SharedData;
        json["Serilog"]!["WriteTo"]![0]!["Args"]!["path"] = Path.Combine(Directory.FullName, "log", "metalsniper-.log");
        json["Operator"]!["Url"] = "http://127.0.0.1:0"; // tests run services side by side: any free port
        edit?.Invoke(json);
        var path = Path.Combine(Directory.FullName, "appsettings.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(true);
    }

    private static string FindUp(Func<string, bool> match, string what)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (match(d.FullName))
            {
                return d.FullName;
            }
        }

        throw new DirectoryNotFoundException($"{what} not found above {AppContext.BaseDirectory}");
    }
}
