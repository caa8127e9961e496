using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MetalSniper.FakeTws;
using Xunit.Abstractions;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>
/// Installs the pinned @stoqey/ib (conformance/package-lock.json) once per test run with <c>npm ci</c> when node_modules is
/// missing. Concurrent runs on one machine serialise on a file lock in the temp folder.
/// </summary>
public sealed class StoqeyInstallFixture : IAsyncLifetime
{
    private const string PinnedVersion = "1.6.10";

    /// <summary>The conformance folder (package.json, package-lock.json, probe.js).</summary>
    public string Folder { get; private set; } = "";

    /// <summary>Full path of the node executable, once found.</summary>
    public string? Node { get; private set; }

    /// <summary>Why the probe cannot run (node missing, npm ci failed); null when ready.</summary>
    public string? Problem { get; private set; }

    public async Task InitializeAsync()
    {
        Folder = FindConformanceFolder();
        Node = FindOnPath("node");
        if (Node is null)
        {
            Problem = "node is not on PATH: the @stoqey/ib conformance test needs Node.js >= 18 (CI installs it; on a dev machine: apt-get install nodejs npm).";
            return;
        }

        if (IsInstalled())
        {
            return;
        }

        var lockPath = Path.Combine(Path.GetTempPath(), "metalsniper-conformance-npm-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Folder)))[..16] + ".lock");
        await using var fileLock = await AcquireLockAsync(lockPath, TimeSpan.FromMinutes(5));
        if (IsInstalled())
        {
            return;
        }

        var npm = FindOnPath("npm");
        if (npm is null)
        {
            Problem = "npm is not on PATH, so node_modules of the conformance folder cannot be installed (npm ci).";
            return;
        }

        var result = await ConformanceProcess.RunAsync(npm, ["ci", "--no-audit", "--no-fund"], Folder, TimeSpan.FromMinutes(4));
        if (result.ExitCode != 0 || !IsInstalled())
        {
            Problem = $"npm ci in {Folder} failed (exit {result.ExitCode}):\n{result.StdOut}\n{result.StdErr}";
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private bool IsInstalled()
    {
        var manifest = Path.Combine(Folder, "node_modules", "@stoqey", "ib", "package.json");
        if (!File.Exists(manifest))
        {
            return false;
        }

        using var json = JsonDocument.Parse(File.ReadAllText(manifest));
        return json.RootElement.GetProperty("version").GetString() == PinnedVersion;
    }

    private static async Task<FileStream> AcquireLockAsync(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private static string FindConformanceFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[]
                     {
                         Path.Combine(dir.FullName, "conformance"),
                         Path.Combine(dir.FullName, "tests", "MetalSniper.InteractiveBrokers.Tests", "conformance"),
                     })
            {
                if (File.Exists(Path.Combine(candidate, "probe.js")) && File.Exists(Path.Combine(candidate, "package-lock.json")))
                {
                    return candidate;
                }
            }
        }

        // Fallback: next to this source file (the build machine's checkout).
        var besideSource = Path.Combine(Path.GetDirectoryName(SourceFile()) ?? "", "conformance");
        if (File.Exists(Path.Combine(besideSource, "probe.js")))
        {
            return besideSource;
        }

        throw new DirectoryNotFoundException($"conformance/probe.js not found above {AppContext.BaseDirectory} nor in {besideSource}");
    }

    private static string SourceFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;

    internal static string? FindOnPath(string name)
    {
        var names = OperatingSystem.IsWindows() ? new[] { name + ".exe", name + ".cmd" } : [name];
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var file in names)
            {
                var path = Path.Combine(dir, file);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }
}

/// <summary>Runs a child process to completion, collecting its output.</summary>
internal static class ConformanceProcess
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr, bool TimedOut);

    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var timedOut = false;
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        return new Result(process.ExitCode, await stdout, await stderr, timedOut);
    }
}

/// <summary>
/// The independent client @stoqey/ib 1.6.10 against the fake TWS (TWS-PROTOCOL.md §9): stoqey's encoder checks the fake's
/// parser, stoqey's decoder checks the fake's frames. The probe (conformance/probe.js) prints one JSON line per event.
/// </summary>
public sealed class ConformanceStoqeyTests(StoqeyInstallFixture install, ITestOutputHelper output) : IClassFixture<StoqeyInstallFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Stoqey_FullSession_DecodesEveryFrame_AndTheFakeParsesEveryRequest()
    {
        install.Problem.ShouldBeNull();
        await using var server = await FakeTwsServer.StartAsync(new FakeTwsOptions
        {
            TimeProvider = new FakeTimeProvider(T0),
            FirstNextValidId = 1000,
            Accounts = ["DU1234567"],
        });
        server.LoadBars("XAUUSD", Enumerable.Range(0, 5).Select(i =>
            new FakeBar(T0.AddHours(i - 5), 2340 + i, 2345 + i, 2338 + i, 2342 + i)));
        (await server.StepAllAsync(5)).ShouldBe(5);

        // The probe places its first order only on a two-sided quote with a spread: the quote pushed here.
        var pushQuote = Task.Run(async () =>
        {
            await server.WaitForRequestAsync(r => r.MessageId == 1, TimeSpan.FromSeconds(20));
            server.SetQuote("XAUUSD", 2350.10, 2350.50, last: 2350.30);
        });
        var run = await ConformanceProcess.RunAsync(install.Node!, ["probe.js", server.Port.ToString(CultureInfo.InvariantCulture)], install.Folder, TimeSpan.FromSeconds(40));
        await pushQuote.WaitAsync(TimeSpan.FromSeconds(5));
        var events = ParseEvents(run);

        run.TimedOut.ShouldBeFalse("the probe hung");
        run.ExitCode.ShouldBe(0, $"probe failed; last step: {events.LastOrDefault(e => Kind(e) == "step")}");

        // Handshake.
        var serverEvent = Single(events, "server");
        serverEvent.GetProperty("version").GetInt32().ShouldBe(176);
        serverEvent.GetProperty("connectionTime").GetString().ShouldBe("20260501 12:00:00 UTC");
        Single(events, "managedAccounts").GetProperty("accounts").GetString().ShouldBe("DU1234567");
        All(events, "nextValidId").First().GetProperty("orderId").GetInt32().ShouldBe(1000);
        Single(events, "currentTime").GetProperty("time").GetInt64().ShouldBe(T0.ToUnixTimeSeconds());
        All(events, "info").Select(e => e.GetProperty("code").GetInt32()).ShouldBe([2104, 2106, 2158]);

        // Contract details.
        var details = Single(events, "contractDetails");
        details.GetProperty("reqId").GetInt32().ShouldBe(1001);
        details.GetProperty("conId").GetInt32().ShouldBe(69067924);
        details.GetProperty("symbol").GetString().ShouldBe("XAUUSD");
        details.GetProperty("secType").GetString().ShouldBe("CMDTY");
        details.GetProperty("minTick").GetDouble().ShouldBe(0.01);
        details.GetProperty("validExchanges").GetString().ShouldBe("SMART,IBCMDTY");
        details.GetProperty("longName").GetString().ShouldBe("London Gold Spot");
        Single(events, "contractDetailsEnd").GetProperty("reqId").GetInt32().ShouldBe(1001);

        // Market data: params, type, then the pushed quote.
        var tickParams = Single(events, "tickReqParams");
        (tickParams.GetProperty("reqId").GetInt32(), tickParams.GetProperty("bboExchange").GetString(), tickParams.GetProperty("snapshotPermissions").GetInt32())
            .ShouldBe((1002, "SMART", 3));
        // stoqey 1.6.10 reads tickReqParams.minTick with parseInt (the official decoder reads a float), so check the raw tokens.
        All(events, "received").Select(e => string.Join('|', e.GetProperty("tokens").EnumerateArray().Select(t => t.GetString())))
            .ShouldContain("81|1002|0.01|SMART|3");
        Single(events, "marketDataType").GetProperty("marketDataType").GetInt32().ShouldBe(1);
        var prices = All(events, "tickPrice").Where(e => e.GetProperty("reqId").GetInt32() == 1002)
            .Select(e => (e.GetProperty("field").GetInt32(), e.GetProperty("value").GetDouble())).ToList();
        prices.ShouldContain((1, 2350.10));
        prices.ShouldContain((2, 2350.50));
        prices.ShouldContain((4, 2350.30));
        All(events, "tickSize").ShouldContain(e => e.GetProperty("reqId").GetInt32() == 1002 && e.GetProperty("value").GetDouble() == 100);

        // Orders: the LMT rests, is modified, then cancelled; the MKT fills at the ask.
        var lmt = All(events, "openOrder").Where(e => e.GetProperty("orderId").GetInt32() == 1000).ToList();
        lmt.Select(e => e.GetProperty("lmtPrice").GetDouble()).Distinct().ShouldBe([2300.25, 2310.5]);
        lmt.ShouldAllBe(e => e.GetProperty("orderRef").GetString() == "probe-lmt" && e.GetProperty("conId").GetInt32() == 69067924);
        lmt[0].GetProperty("status").GetString().ShouldBe("Submitted");
        lmt[0].GetProperty("permId").GetInt64().ShouldBeGreaterThan(0);
        All(events, "orderStatus").Where(e => e.GetProperty("orderId").GetInt32() == 1000).Select(e => e.GetProperty("status").GetString())
            .ShouldBe(["Submitted", "Submitted", "PendingCancel", "Cancelled"]);
        All(events, "error").Where(e => e.GetProperty("code").GetInt32() == 202).Select(e => e.GetProperty("reqId").GetInt32()).ShouldBe([1000]);

        var filled = All(events, "orderStatus").Single(e => e.GetProperty("orderId").GetInt32() == 1001 && e.GetProperty("status").GetString() == "Filled");
        (filled.GetProperty("filled").GetDouble(), filled.GetProperty("remaining").GetDouble(), filled.GetProperty("avgFillPrice").GetDouble()).ShouldBe((2.0, 0.0, 2350.50));
        var liveFill = All(events, "execDetails").Single(e => e.GetProperty("reqId").GetInt32() == -1);
        (liveFill.GetProperty("orderId").GetInt32(), liveFill.GetProperty("side").GetString(), liveFill.GetProperty("shares").GetDouble(),
            liveFill.GetProperty("price").GetDouble(), liveFill.GetProperty("cumQty").GetDouble(), liveFill.GetProperty("orderRef").GetString(),
            liveFill.GetProperty("acctNumber").GetString(), liveFill.GetProperty("clientId").GetInt32())
            .ShouldBe((1001, "BOT", 2.0, 2350.50, 2.0, "probe-mkt", "DU1234567", 7));
        var execId = liveFill.GetProperty("execId").GetString();
        // One commissionReport with the live fill, one more after the execDetails of reqExecutions.
        All(events, "commissionReport")
            .Select(c => (c.GetProperty("execId").GetString(), c.GetProperty("commission").GetDouble(), c.GetProperty("currency").GetString()))
            .ShouldBe([(execId, 1.0, "USD"), (execId, 1.0, "USD")]);

        // Executions, positions, account summary, open orders, history.
        var execution = All(events, "execDetails").Single(e => e.GetProperty("reqId").GetInt32() == 1003);
        (execution.GetProperty("execId").GetString(), execution.GetProperty("price").GetDouble(), execution.GetProperty("orderRef").GetString())
            .ShouldBe((execId, 2350.50, "probe-mkt"));
        Single(events, "execDetailsEnd").GetProperty("reqId").GetInt32().ShouldBe(1003);
        var position = Single(events, "position");
        (position.GetProperty("account").GetString(), position.GetProperty("conId").GetInt32(), position.GetProperty("pos").GetDouble(), position.GetProperty("avgCost").GetDouble())
            .ShouldBe(("DU1234567", 69067924, 2.0, 2350.50));
        var summary = All(events, "accountSummary").ToDictionary(e => e.GetProperty("tag").GetString()!, e => e.GetProperty("value").GetString());
        summary["TotalCashValue"].ShouldBe("995298.00");
        summary["NetLiquidation"].ShouldBe("999998.60");
        summary.ShouldContainKey("BuyingPower");
        Single(events, "accountSummaryEnd").GetProperty("reqId").GetInt32().ShouldBe(1004);
        Single(events, "openOrderEnd");
        var bars = All(events, "historicalData").ToList();
        bars.Count.ShouldBe(5);
        (bars[0].GetProperty("time").GetString(), bars[0].GetProperty("open").GetDouble(), bars[0].GetProperty("high").GetDouble(),
            bars[0].GetProperty("low").GetDouble(), bars[0].GetProperty("close").GetDouble())
            .ShouldBe(("20260501 07:00:00 UTC", 2340.0, 2345.0, 2338.0, 2342.0));
        bars[4].GetProperty("close").GetDouble().ShouldBe(2346.0);
        Single(events, "historicalDataEnd").GetProperty("marker").GetString()!.ShouldStartWith("finished-");

        // Nothing went wrong on either side.
        var errors = All(events, "error").Where(e => e.GetProperty("code").GetInt32() != 202).Select(e => e.GetRawText()).ToList();
        errors.ShouldBeEmpty("stoqey reported errors (decode errors arrive as code 505)");
        All(events, "timeout").ShouldBeEmpty();
        server.SentFrames.Where(f => f.ErrorCode is 320 or 321 or 322).Select(f => f.ToString()).ShouldBeEmpty();
        server.InternalErrors.ShouldBeEmpty();

        // Every request stoqey sent arrived with exactly the fields it sent (stoqey's encoder vs the fake's parser).
        var sent = All(events, "sent").Select(e => e.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToArray())
            .Where(t => t[0] != "API\0").Select(t => string.Join('|', t)).ToList();
        var received = server.Requests.Select(r => r.ToString()).ToList();
        received.ShouldBe(sent);
        received.Select(r => r.Split('|')[0]).Distinct().Order(StringComparer.Ordinal)
            .ShouldBe(new[] { "1", "2", "3", "4", "5", "7", "9", "20", "49", "61", "62", "63", "64", "71" }.Order(StringComparer.Ordinal));
        server.Requests.Where(r => r.MessageId == 3).ShouldAllBe(r => r.Fields.Count == 115);

        // Every frame the fake sent was seen by stoqey's tokenizer, in order.
        var tokenized = All(events, "received").Select(e => string.Join('|', e.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()))).Skip(1).ToList();
        tokenized.ShouldBe(server.SentFrames.Select(f => f.ToString()).ToList());
    }

    private static string Kind(JsonElement e) => e.GetProperty("event").GetString()!;

    private static IEnumerable<JsonElement> All(IReadOnlyList<JsonElement> events, string kind) => events.Where(e => Kind(e) == kind);

    private static JsonElement Single(IReadOnlyList<JsonElement> events, string kind)
    {
        var matching = All(events, kind).ToList();
        matching.Count.ShouldBe(1, $"expected exactly one '{kind}' event");
        return matching[0];
    }

    private List<JsonElement> ParseEvents(ConformanceProcess.Result run)
    {
        var events = new List<JsonElement>();
        foreach (var line in run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.StartsWith('{'))
            {
                output.WriteLine("probe (not JSON): " + line);
                continue;
            }

            var e = JsonDocument.Parse(line).RootElement.Clone();
            events.Add(e);
            if (Kind(e) is not ("sent" or "received"))
            {
                output.WriteLine(line);
            }
        }

        if (run.StdErr.Length > 0)
        {
            output.WriteLine("probe stderr: " + run.StdErr);
        }

        return events;
    }
}
