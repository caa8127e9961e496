using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace MetalSniper.Host.Tests;

/// <summary>The service's log as the operator reads it at 3am: one line per event, short sources, a status line on time.</summary>
public sealed partial class ServiceLogTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    [GeneratedRegex(@"^(?<t>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) \[(INF|WRN|ERR|FTL|DBG|VRB)\] (?<src>[A-Za-z0-9_]+): (?<msg>\S.*)$")]
    private static partial Regex OneLine();

    [Fact]
    public async Task ServiceLog_IsOneLinePerEventWithShortSources_AndAStatusLineEveryInterval()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 400;
            j["Operator"]!["StatusLineInterval"] = "00:00:05";
        });
        var (stdout, fileLog) = await RunFor(config, TimeSpan.FromSeconds(18));

        foreach (var log in new[] { stdout, fileLog })
        {
            var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            lines.Length.ShouldBeGreaterThan(10);
            foreach (var line in lines)
            {
                OneLine().IsMatch(line).ShouldBeTrue($"not a one-line event: {line}");
                line.ShouldNotEndWith("{}");
                line.ShouldNotContain("\"EventId\"");
            }
        }

        var status = fileLog.Split('\n').Select(l => OneLine().Match(l)).Where(m => m.Success && m.Groups["msg"].Value.StartsWith("Status: ", StringComparison.Ordinal)).ToList();
        status.Count.ShouldBeGreaterThanOrEqualTo(2, fileLog);
        var times = status.Select(m => DateTimeOffset.Parse(m.Groups["t"].Value, CultureInfo.InvariantCulture)).ToList();
        for (var i = 1; i < times.Count; i++)
        {
            (times[i] - times[i - 1]).ShouldBeLessThan(TimeSpan.FromSeconds(7), "a status line every 5 s");
        }

        var last = status[^1].Groups["msg"].Value;
        foreach (var part in new[] { "kill L", "equity P&L", "USD net", "positions ", "market 2025-", "broker simulated broker", "feed ", "bars ", "fills ", "refused " })
        {
            last.ShouldContain(part);
        }
    }

    [Fact]
    public async Task ServiceLog_WarnsWhenTheBrainCannotFollowItsPace()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 10_000_000; // no host follows this: the scheduler falls behind at once
            j["Operator"]!["BrainLagWarning"] = "00:00:01";
        });
        var (_, fileLog) = await RunFor(config, TimeSpan.FromSeconds(12));
        var warning = fileLog.Split('\n').Where(l => l.Contains("[WRN] StatusLineService: The brain lags its feed: ", StringComparison.Ordinal)).ToList();
        warning.ShouldNotBeEmpty(fileLog);
        warning[0].ShouldContain("s behind its pace");
    }

    private async Task<(string Stdout, string FileLog)> RunFor(string config, TimeSpan time)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "metalsniper.dll");
        var psi = new ProcessStartInfo("dotnet", ["exec", dll, "run", "--config", config, "--db", _env.DatabasePath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _env.Directory.FullName,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await Task.Delay(time);
            if (process.HasExited)
            {
                Assert.Fail($"the service exited early with {process.ExitCode}: {await stderr}");
            }

            SendSignal(process.Id, 15).ShouldBe(0);
            process.WaitForExit(TimeSpan.FromSeconds(30)).ShouldBeTrue("the service did not stop within 30 s of SIGTERM");
            var errors = await stderr;
            process.ExitCode.ShouldBe(0, errors);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var logDir = Path.Combine(_env.Directory.FullName, "log");
        var file = Directory.GetFiles(logDir, "metalsniper-*.log").Single();
        return (await stdout, await File.ReadAllTextAsync(file));
    }
}
