using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace MetalSniper.Host.Tests;

/// <summary>
/// A user's defective data file through the real executable: one line naming the file and the defect, exit 65 (66 when the file is
/// missing), never exit 70, never a stack trace, never a fault alert — for <c>replay</c> and for the <c>run</c> service alike.
/// </summary>
public sealed class DataErrorTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    public static TheoryData<string, string, int, string> Defects => new()
    {
        { "replay", "not gzip", 65, "is not a readable gzip file" },
        { "replay", "empty", 65, "is empty" },
        { "replay", "wrong header", 65, "has no 'time' column" },
        { "replay", "header only", 65, "has a header but no rows" },
        { "replay", "binary", 65, "has no 'time' column" },
        { "replay", "missing", 66, "not found" },
        { "run", "header only", 65, "has a header but no rows" },
        { "run", "not gzip", 65, "is not a readable gzip file" },
    };

    [Theory]
    [MemberData(nameof(Defects))]
    public async Task DefectiveDataFile_IsOneLineDataError_NeverAFault(string verb, string defect, int exitCode, string says)
    {
        var dataDir = Path.Combine(_env.Directory.FullName, "data");
        Directory.CreateDirectory(Path.Combine(dataDir, "metals"));
        File.Copy(TestPaths.SharedDataFile("metals/xagusd_m15_utc.csv.gz"), Path.Combine(dataDir, "metals", "xagusd_m15_utc.csv.gz"));
        var gold = Path.Combine(dataDir, "metals", "xauusd_m15_utc.csv.gz");
        byte[]? content = defect switch
        {
            "not gzip" => Encoding.UTF8.GetBytes("time,open,high,low,close,volume\n"),
            "empty" => [],
            "wrong header" => Gzip("a,b,c\n1,2,3\n"),
            "header only" => Gzip("time,open,high,low,close,volume\n"),
            "binary" => Gzip(Encoding.Latin1.GetString([.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251))])),
            _ => null,
        };
        if (content is not null)
        {
            File.WriteAllBytes(gold, content);
        }

        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["DataDirectory"] = dataDir;
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 1000;
        });
        var dll = Path.Combine(AppContext.BaseDirectory, "metalsniper.dll");
        var psi = new ProcessStartInfo("dotnet", ["exec", dll, verb, "--config", config, "--db", _env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _env.Directory.FullName,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{verb} did not end on a defective file ({defect})");
        }

        var all = await stdout + await stderr;
        process.ExitCode.ShouldBe(exitCode, all);
        all.ShouldContain(says, customMessage: all);
        all.ShouldContain(defect == "missing" ? "xauusd_m15_utc.csv.gz" : gold, customMessage: all);
        all.ShouldNotContain("   at ", customMessage: "a stack trace: " + all);
        all.ShouldNotContain("[FTL]", customMessage: all);
        all.ShouldNotContain("ALERT RED", customMessage: all);
        all.ShouldNotContain("Exception", customMessage: all);
    }

    private static byte[] Gzip(string text)
    {
        using var memory = new MemoryStream();
        using (var gz = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(Encoding.Latin1.GetBytes(text));
        }

        return memory.ToArray();
    }
}
