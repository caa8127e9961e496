using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using MetalSniper.Operator.Tests;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// The shipped systemd units (deploy/) as systemd itself reads them: <c>systemd-analyze verify</c> (Debian package
/// <c>systemd</c>, installed by test.sh when missing) on the service and its <c>OnFailure=</c> alert unit, rendered into a temp
/// directory whose paths exist; <c>systemd-analyze security --offline=yes</c> scores the sandbox (the score is in the README).
/// Also the alert unit's command (<c>metalsniper alert</c>) against a fake Bot API on 127.0.0.1, and the installer's secrets check.
/// </summary>
public sealed partial class SystemdUnitTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>The highest exposure accepted (measured 1.7 on systemd 252: "OK"; 0 is the best, 10 "UNSAFE").</summary>
    private const double MaxExposure = 2.0;

    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private static string Deploy(string file) => Path.Combine(TestPaths.RepositoryRoot, "deploy", file);

    /// <summary>The unit files with /opt/metalsniper moved into the temp directory (binary, data directory) and the dotnet host this test runs on.</summary>
    private string Render()
    {
        var units = Directory.CreateDirectory(Path.Combine(_env.Directory.FullName, "units")).FullName;
        var prefix = Directory.CreateDirectory(Path.Combine(_env.Directory.FullName, "opt")).FullName;
        Directory.CreateDirectory(Path.Combine(prefix, "bin"));
        Directory.CreateDirectory(Path.Combine(prefix, "var", "log"));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "metalsniper.dll"), Path.Combine(prefix, "bin", "metalsniper.dll"));
        var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "/usr/bin/dotnet";
        File.Exists(dotnet).ShouldBeTrue($"the dotnet host {dotnet}");
        foreach (var name in new[] { "metalsniper.service", "metalsniper-alert@.service" })
        {
            var text = File.ReadAllText(Deploy(name)).Replace("/opt/metalsniper", prefix, StringComparison.Ordinal).Replace("/usr/bin/dotnet", dotnet, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(units, name), text);
        }

        return units;
    }

    private static (int Code, string Out, string Err) Run(string file, params string[] args)
    {
        File.Exists(file).ShouldBeTrue($"{file} is missing (Debian package 'systemd'; test.sh installs it)");
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit(TimeSpan.FromSeconds(60)).ShouldBeTrue($"{file} {string.Join(' ', args)} did not finish");
        return (p.ExitCode, o.Result, e.Result);
    }

    [Fact]
    public void ServiceUnit_AndItsOnFailureAlertUnit_PassSystemdAnalyzeVerify_WithoutAWarning()
    {
        var units = Render();
        // The alert unit is a template: its instance for the service (as OnFailure=metalsniper-alert@%n.service names it).
        var (code, stdout, stderr) = Run("/usr/bin/systemd-analyze", "verify", Path.Combine(units, "metalsniper.service"), Path.Combine(units, "metalsniper-alert@metalsniper.service.service"));
        output.WriteLine($"verify: exit {code} {stdout}{stderr}");
        code.ShouldBe(0, stdout + stderr);
        (stdout + stderr).Trim().ShouldBeEmpty("systemd-analyze verify warned");

        // It does see what it verifies: a unit with a mistake fails.
        var broken = Path.Combine(units, "broken.service");
        File.WriteAllText(broken, File.ReadAllText(Path.Combine(units, "metalsniper.service")).Replace("ExecStart=", "ExecStart=/nonexistent/dotnet-missing #", StringComparison.Ordinal));
        Run("/usr/bin/systemd-analyze", "verify", broken).Code.ShouldNotBe(0);
    }

    [Theory]
    [InlineData("metalsniper.service", "metalsniper.service")]
    [InlineData("metalsniper-alert@metalsniper.service.service", "metalsniper-alert@metalsniper.service.service")]
    public void Unit_SystemdAnalyzeSecurityOffline_ScoresItsExposureAtMost2(string unit, string name)
    {
        var units = Render();
        var (code, stdout, stderr) = Run("/usr/bin/systemd-analyze", "security", "--offline=yes", "--no-pager", Path.Combine(units, unit));
        code.ShouldBe(0, stdout + stderr);
        var match = Exposure().Match(stdout);
        match.Success.ShouldBeTrue("no overall exposure level in: " + stdout + stderr);
        match.Groups["unit"].Value.ShouldBe(name);
        var score = double.Parse(match.Groups["score"].Value, CultureInfo.InvariantCulture);
        output.WriteLine($"{name}: exposure {score.ToString("0.0", CultureInfo.InvariantCulture)} {match.Groups["verdict"].Value}");
        score.ShouldBeLessThanOrEqualTo(MaxExposure, stdout);

        // The sandbox's corner stones, as systemd reads them (✓ passed).
        foreach (var setting in new[] { "ProtectSystem=", "ProtectHome=", "PrivateTmp=", "NoNewPrivileges=", "UMask=", "SystemCallArchitectures=", "RestrictAddressFamilies=~AF_PACKET" })
        {
            stdout.ShouldContain("✓ " + setting);
        }
    }

    [GeneratedRegex(@"Overall exposure level for (?<unit>\S+): (?<score>\d+(\.\d+)?) (?<verdict>\w+)")]
    private static partial Regex Exposure();

    [Fact]
    public void ServiceUnit_RestartsWhenTheBrokerWasUnavailable_ButNotOnConfigurationOrDataErrors_AndAlertsOnFailure()
    {
        var unit = File.ReadAllLines(Deploy("metalsniper.service"));
        string Value(string key) => unit.Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];
        var prevented = Value("RestartPreventExitStatus").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        prevented.ShouldNotContain(Supervision.Preflight.UnavailableExitCode);
        prevented.ShouldBe([Supervision.ExitCodes.Usage, Supervision.ExitCodes.DataError, Supervision.ExitCodes.NoInput, Supervision.Preflight.ClockExitCode, Supervision.ExitCodes.IoError, Supervision.ExitCodes.Config]);
        Value("Restart").ShouldBe("on-failure");
        Value("OnFailure").ShouldBe("metalsniper-alert@%n.service");
        Value("ReadWritePaths").ShouldBe("/opt/metalsniper/var");
        Value("CapabilityBoundingSet").ShouldBe("CAP_SYS_NICE");
        Value("AmbientCapabilities").ShouldBe("CAP_SYS_NICE");
        unit.ShouldNotContain(l => l.StartsWith("MemoryDenyWriteExecute=", StringComparison.Ordinal), "the .NET JIT needs writable-then-executable memory");

        // The data directory the unit opens is where the shipped configuration puts the database, the kill file and the logs.
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "appsettings.json")))!;
        foreach (var path in new[] { config["Persistence"]!["DatabasePath"]!.GetValue<string>(), config["Risk"]!["KillFilePath"]!.GetValue<string>(), config["Serilog"]!["WriteTo"]![0]!["Args"]!["path"]!.GetValue<string>() })
        {
            Path.GetFullPath(path, Value("WorkingDirectory")).ShouldStartWith("/opt/metalsniper/var/", Case.Sensitive, path);
        }
    }

    /// <summary>
    /// The real service in the unit's sandbox without systemd (none is PID 1 here; unit-sandbox.sh applies the unit file's
    /// ProtectSystem=strict and ReadWritePaths=, PrivateTmp, ProtectHome, UMask, NoNewPrivileges, capability bounding and
    /// ambient sets and syscall filter, as an unprivileged user): it starts with the broker down, waits for it, connects and
    /// is ready when the fake TWS comes up, lowers the sentinel's nice value, writes only its data directory (files 0600) and
    /// stops with exit 0 on SIGTERM. Needs root, as CI and the developers' machines run.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Service_InTheUnitsSandbox_WaitsForTheBrokerBecomesReadyAndWritesOnlyItsDataDirectory()
    {
        Environment.UserName.ShouldBe("root", "the sandbox needs root (a mount namespace, setpriv)");
        var prefix = _env.Directory.FullName;
        File.SetUnixFileMode(prefix, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var data = Directory.CreateDirectory(Path.Combine(prefix, "var")).FullName;
        Run("/bin/chown", "nobody", data).Code.ShouldBe(0);
        var twsPort = FreePort();
        var operatorPort = FreePort();
        var config = _env.WriteConfig(j =>
        {
            FakeTwsConfig.UseFakeTws(j, twsPort, 41, "DU2718281");
            j["Broker"]!["InteractiveBrokers"]!["QuietWindows"] = new System.Text.Json.Nodes.JsonArray("00:00-00:00");
            j["Persistence"]!["DatabasePath"] = Path.Combine(data, "metalsniper.db");
            j["Risk"]!["KillFilePath"] = Path.Combine(data, "KILL");
            j["Serilog"]!["WriteTo"]![0]!["Args"]!["path"] = Path.Combine(data, "log", "metalsniper-.log");
            j["Operator"]!["Url"] = $"http://127.0.0.1:{operatorPort}";
        });
        // The chain key as the installer lays it out: outside the writable data directory, the service user's, owner-read-only.
        Run("/bin/chown", "nobody", _env.ChainKeyPath).Code.ShouldBe(0);
        File.SetUnixFileMode(_env.ChainKeyPath, UnixFileMode.UserRead);
        var unit = Path.Combine(prefix, "metalsniper.service");
        File.Copy(Deploy("metalsniper.service"), unit);
        var bin = CopyBinaries(prefix);
        var outside = Directory.GetFileSystemEntries(prefix).Order(StringComparer.Ordinal).ToList();

        var psi = new ProcessStartInfo("/bin/bash", [Path.Combine(TestPaths.RepositoryRoot, "tests", "MetalSniper.Host.Tests", "unit-sandbox.sh"), unit, prefix, data, "nobody", "--",
            "dotnet", "exec", Path.Combine(bin, "metalsniper.dll"), "run", "--config", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = prefix,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Task<string?> Exited() => Task.FromResult(process.HasExited ? $"exited {process.ExitCode}: {stderr.Result} {stdout.Result[Math.Max(0, stdout.Result.Length - 3000)..]}" : null);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{operatorPort}"), Timeout = TimeSpan.FromSeconds(5) };
            async Task<(HttpStatusCode? Code, string Body)> ReadyAsync()
            {
                try
                {
                    using var r = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                    return (r.StatusCode, await r.Content.ReadAsStringAsync());
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return (null, e.Message);
                }
            }

            var last = (Code: (HttpStatusCode?)null, Body: "");
            var sw = Stopwatch.StartNew();
            while (!(last = await ReadyAsync()).Body.Contains("waiting for the broker", StringComparison.Ordinal))
            {
                (await Exited()).ShouldBeNull();
                sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(60), "the sandboxed service never said it waits for the broker: " + last.Body);
                await Task.Delay(200);
            }

            await using var tws = await FakeTws.FakeTwsServer.StartAsync(new FakeTws.FakeTwsOptions { Port = twsPort, Accounts = ["DU2718281"] });
            sw.Restart();
            while ((last = await ReadyAsync()).Code != HttpStatusCode.OK)
            {
                (await Exited()).ShouldBeNull();
                sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(60), "the sandboxed service was not ready after the broker came up: " + last.Body);
                await Task.Delay(200);
            }

            SendSignal(process.Id, 15).ShouldBe(0);
            process.WaitForExit(TimeSpan.FromSeconds(30)).ShouldBeTrue("the sandboxed service did not stop within 30 s of SIGTERM");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var err = await stderr;
        var log = await stdout;
        output.WriteLine(err);
        process.ExitCode.ShouldBe(0, err + log[Math.Max(0, log.Length - 3000)..]);
        err.ShouldContain("unit-sandbox: uid 65534, ");
        err.ShouldContain("system calls allowed (@system-service), others EPERM");
        log.ShouldContain("Risk sentinel thread at nice -10"); // CAP_SYS_NICE, ambient, and nothing else
        log.ShouldNotContain("[ERR]");
        log.ShouldNotContain("[FTL]");
        Directory.GetFileSystemEntries(prefix).Order(StringComparer.Ordinal).ToList().ShouldBe(outside, "the service wrote outside its data directory");
        var db = Path.Combine(data, "metalsniper.db");
        File.GetUnixFileMode(db).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite, "UMask=0077");
    }

    /// <summary>The alert unit's command in the alert unit's sandbox (nothing writable, no capability, the syscall filter, as nobody): it still reaches the chat.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task AlertUnit_InItsSandbox_WithNothingWritable_SendsTheAlert()
    {
        Environment.UserName.ShouldBe("root", "the sandbox needs root (a mount namespace, setpriv)");
        const string token = "515151:sandboxed-alert";
        await using var telegram = await FakeTelegramServer.StartAsync(token);
        var prefix = _env.Directory.FullName;
        File.SetUnixFileMode(prefix, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var config = _env.WriteConfig(j =>
        {
            j["Telegram"]!["Enabled"] = true;
            j["Telegram"]!["ChatId"] = 778;
            j["Telegram"]!["BaseUrl"] = telegram.BaseUrl;
        });
        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var unit = Path.Combine(prefix, "metalsniper-alert@.service");
        File.Copy(Deploy("metalsniper-alert@.service"), unit);
        var bin = CopyBinaries(prefix);
        var psi = new ProcessStartInfo("/bin/bash", [Path.Combine(TestPaths.RepositoryRoot, "tests", "MetalSniper.Host.Tests", "unit-sandbox.sh"), unit, prefix, "-", "nobody", "--",
            "dotnet", "exec", Path.Combine(bin, "metalsniper.dll"), "alert", "--config", config, "--level", "Red", "--source", "systemd", "metalsniper.service failed (sandboxed alert)"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = prefix,
        };
        psi.Environment["TELEGRAM_BOT_TOKEN"] = token;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        output.WriteLine(await stderr + await stdout);
        process.ExitCode.ShouldBe(0, await stderr + await stdout);
        (await stderr).ShouldContain("unit-sandbox: uid 65534, ");
        telegram.Messages.ShouldHaveSingleItem().Text.ShouldContain("metalsniper.service failed (sandboxed alert)");
    }

    /// <summary>The binaries inside the installation (as /opt/metalsniper/bin), readable by the unprivileged user wherever the repository is.</summary>
    private static string CopyBinaries(string prefix)
    {
        var bin = Path.Combine(prefix, "bin");
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(bin, Path.GetRelativePath(AppContext.BaseDirectory, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        Run("/bin/chmod", "-R", "a+rX", bin).Code.ShouldBe(0);
        return bin;
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task AlertCommand_SendsARedAlertWithSystemdsFailureDetails_ToTheTelegramChat()
    {
        const string token = "424242:systemd-alert-test";
        await using var telegram = await FakeTelegramServer.StartAsync(token);
        var config = _env.WriteConfig(j =>
        {
            j["Telegram"]!["Enabled"] = true;
            j["Telegram"]!["ChatId"] = 777;
            j["Telegram"]!["BaseUrl"] = telegram.BaseUrl;
            j["Telegram"]!["RetryBaseDelay"] = "00:00:00.05";
        });
        telegram.FailSends(1, 500); // one transient failure: the command retries like the service

        // The alert unit's own command line, as systemd splits it, for the instance OnFailure= starts (%i = the failed unit);
        // the configuration is found in the working directory, as WorkingDirectory= gives it.
        var execStart = File.ReadAllLines(Deploy("metalsniper-alert@.service")).Single(l => l.StartsWith("ExecStart=", StringComparison.Ordinal))["ExecStart=".Length..];
        var words = UnitWords().Matches(execStart.Replace("%i", "metalsniper.service", StringComparison.Ordinal))
            .Select(m => m.Groups["q"].Success ? m.Groups["q"].Value : m.Value).ToList();
        words[0].ShouldBe("/usr/bin/dotnet");
        words[1].ShouldBe("/opt/metalsniper/bin/metalsniper.dll");
        File.Exists(Path.Combine(_env.Directory.FullName, "appsettings.json")).ShouldBeTrue(config);
        var (code, stdout, stderr) = await AlertAsync(null, token, new Dictionary<string, string>
        {
            ["MONITOR_UNIT"] = "metalsniper.service",
            ["MONITOR_SERVICE_RESULT"] = "exit-code",
            ["MONITOR_EXIT_CODE"] = "exited",
            ["MONITOR_EXIT_STATUS"] = "65",
        }, [.. words.Skip(2)]);
        output.WriteLine(stdout + stderr);
        code.ShouldBe(0, stdout + stderr);
        var sent = telegram.Messages.ShouldHaveSingleItem();
        sent.ChatId.ShouldBe(777);
        sent.Text.ShouldContain("metalsniper.service failed: it is down or restarting; see journalctl -u metalsniper.service");
        sent.Text.ShouldContain("unit metalsniper.service, service result exit-code, exit code exited, exit status 65");
        sent.Text.ShouldContain("RED", Case.Insensitive);
        telegram.Attempts.Count.ShouldBe(2);
    }

    [Fact]
    public async Task AlertCommand_WhenTelegramDoesNotAnswer_Exits69_NamingTheAlert()
    {
        var config = _env.WriteConfig(j =>
        {
            j["Telegram"]!["Enabled"] = true;
            j["Telegram"]!["ChatId"] = 777;
            j["Telegram"]!["BaseUrl"] = FakeTelegramServer.ClosedPortUrl();
            j["Telegram"]!["MaxAttempts"] = 2;
            j["Telegram"]!["RetryBaseDelay"] = "00:00:00.05";
        });
        var (code, stdout, stderr) = await AlertAsync(config, "1:x", [], "alert", "--timeout", "20", "the", "service", "failed");
        code.ShouldBe(Supervision.Preflight.UnavailableExitCode, stdout + stderr);
        stderr.ShouldContain("the service failed");
    }

    /// <summary>A word of a unit's command line: a double-quoted string (group q, without the quotes) or a run of non-blanks.</summary>
    [GeneratedRegex("\"(?<q>[^\"]*)\"|\\S+")]
    private static partial Regex UnitWords();

    /// <summary>Runs <c>metalsniper ARGS</c> (with <c>--config</c> when given) in the test directory, with the token and the variables in its environment.</summary>
    private async Task<(int Code, string Out, string Err)> AlertAsync(string? config, string token, Dictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "metalsniper.dll"), .. args, .. config is null ? Array.Empty<string>() : ["--config", config]])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _env.Directory.FullName,
        };
        psi.Environment["TELEGRAM_BOT_TOKEN"] = token;
        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        return (p.ExitCode, await o, await e);
    }

    [Theory]
    [InlineData("TELEGRAM_BOT_TOKEN=123:abc\nOPERATOR_API_TOKEN=0f3c\n", 0, "")]
    [InlineData("", 2, "TELEGRAM_BOT_TOKEN OPERATOR_API_TOKEN")]
    [InlineData("# TELEGRAM_BOT_TOKEN=123:abc\nTELEGRAM_BOT_TOKEN=\nOPERATOR_API_TOKEN=0f3c\n", 2, "TELEGRAM_BOT_TOKEN")]
    [InlineData("TELEGRAM_BOT_TOKEN=123:abc\n", 2, "OPERATOR_API_TOKEN")]
    public void Installer_StartsTheServiceOnlyWithEveryRequiredSecret(string secrets, int expected, string missing)
    {
        var file = Path.Combine(_env.Directory.FullName, "env");
        File.WriteAllText(file, secrets);
        var (code, stdout, stderr) = Run("/bin/bash", Deploy("install-systemd.sh"), "--check-secrets", file);
        code.ShouldBe(expected, stdout + stderr);
        if (missing.Length > 0)
        {
            stdout.ShouldContain("missing or empty in " + file + ": " + missing);
        }
    }
}
