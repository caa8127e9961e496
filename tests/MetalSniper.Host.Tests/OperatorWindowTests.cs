using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MetalSniper.Operator;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Strategies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;
using MetalSniper.Operator.Window;

namespace MetalSniper.Host.Tests;

public sealed class OperatorWindowTests(ITestOutputHelper output) : IDisposable
{
    private const string Token = "test-operator-token-1234";
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private async Task<(IHost Host, Uri Address, FreezingStrategy Freezer)> StartAsync(string? token)
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 200;
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-02T12:00:00Z";
            j["Risk"]!["HeartbeatTimeout"] = "00:00:00"; // the brain is frozen on purpose here
        });
        var freezer = new FreezingStrategy("XAUUSD", 20m);
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton<IReadOnlyList<IStrategy>>([freezer]);
                s.AddSingleton(new OperatorToken(token));
            },
        };
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        await host.StartAsync(CancellationToken.None);
        var address = host.Services.GetRequiredService<OperatorWindowService>().Address.ShouldNotBeNull();
        freezer.Frozen.Wait(TimeSpan.FromSeconds(30)).ShouldBeTrue("the position never opened");
        return (host, address, freezer);
    }

    private static async Task StopAsync(IHost host, FreezingStrategy freezer)
    {
        freezer.Release.Set();
        await host.StopAsync(CancellationToken.None);
        host.Dispose();
    }

    [Fact]
    public async Task Health_Apis_AndKillNeedTheBearerToken()
    {
        var (host, address, freezer) = await StartAsync(Token);
        try
        {
            using var http = new HttpClient { BaseAddress = address };
            (await http.GetAsync("/health/live")).StatusCode.ShouldBe(HttpStatusCode.OK);
            var page = await http.GetAsync("/");
            page.StatusCode.ShouldBe(HttpStatusCode.OK, "the embedded dashboard page must be served");
            (await page.Content.ReadAsStringAsync()).ShouldContain("id=\"kill-level\"");
            var ready = await http.GetAsync("/health/ready");
            ready.StatusCode.ShouldBe(HttpStatusCode.OK, await ready.Content.ReadAsStringAsync());

            var positions = await http.GetFromJsonAsync<JsonElement>("/api/positions");
            positions.GetArrayLength().ShouldBeGreaterThan(0, "the run ends holding the metals strategy's survivor (deterministic: the causal scheduler)");
            positions.EnumerateArray().ShouldContain(p => p.GetProperty("symbol").GetString() == "XAUUSD" && p.GetProperty("quantity").GetDecimal() == 20m);
            (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("killLevel").GetString().ShouldBe("L0");
            (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("currency").GetString().ShouldBe("USD"); // Account:BaseCurrency
            var judges = (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("judges");
            (judges.GetProperty("inUse").GetArrayLength(), judges.GetProperty("refused").GetArrayLength()).ShouldBe((0, 0), "every judge is off by default");
            (await (await http.GetAsync("/")).Content.ReadAsStringAsync()).ShouldContain("id=\"judges\"");
            (await http.GetFromJsonAsync<JsonElement>("/api/journal?tail=5")).GetArrayLength().ShouldBe(5);
            (await http.GetFromJsonAsync<JsonElement>("/api/decisions")).EnumerateArray().ShouldContain(d => d.GetProperty("kind").GetString() == "Entry");

            // No token, a wrong token: refused, nothing changes.
            (await http.PostAsJsonAsync("/api/kill", new { level = 2, reason = "no token" })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
            using (var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/kill") { Content = JsonContent.Create(new { level = 2, reason = "wrong token" }) })
            {
                wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token");
                (await http.SendAsync(wrong)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
            }

            (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("killLevel").GetString().ShouldBe("L0");

            // With the token: L1, then the two-step resume.
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            (await http.PostAsJsonAsync("/api/kill", new { level = 1, reason = "test: from the operator window" })).StatusCode.ShouldBe(HttpStatusCode.OK);
            (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("killLevel").GetString().ShouldBe("L1");
            var first = await (await http.PostAsJsonAsync("/api/resume", new { reason = "test" })).Content.ReadFromJsonAsync<JsonElement>();
            var code = first.GetProperty("confirmationCode").GetString()!;
            (await http.PostAsJsonAsync("/api/resume", new { reason = "test", confirm = "00000000" })).StatusCode.ShouldBe(HttpStatusCode.Conflict);
            (await http.PostAsJsonAsync("/api/resume", new { reason = "test", confirm = code })).StatusCode.ShouldBe(HttpStatusCode.OK);
            (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("killLevel").GetString().ShouldBe("L0");
            (await http.GetFromJsonAsync<JsonElement>("/api/alerts")).EnumerateArray().ShouldContain(a => a.GetProperty("kind").GetString() == "KillSwitch");
        }
        finally
        {
            await StopAsync(host, freezer);
        }
    }

    [Fact]
    public async Task Dashboard_WhenTheClosedTradesCannotBeRebuilt_StillServesEveryOtherPanel_AndNamesTheError()
    {
        var (host, address, freezer) = await StartAsync(Token);
        try
        {
            using var http = new HttpClient { BaseAddress = address };
            (await http.GetFromJsonAsync<JsonElement>("/api/dashboard")).GetProperty("ledgerError").ValueKind.ShouldBe(JsonValueKind.Null);

            // A fill row whose price is not a number (a damaged database): the trades cannot be rebuilt.
            var runId = host.Services.GetRequiredService<RunContext>().RunId;
            using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False"))
            {
                c.Open();
                using var insert = c.CreateCommand();
                insert.CommandText = """
                    INSERT INTO fills(execution_id, client_order_id, symbol, side, quantity, price, commission, commission_ccy, event_utc, received_utc)
                    SELECT 'damaged-1', client_order_id, symbol, side, '1', 'not-a-price', '0', 'USD', '2025-09-02T13:00:00Z', '2025-09-02T13:00:00Z'
                    FROM orders WHERE run_id=$run LIMIT 1
                    """;
                insert.Parameters.AddWithValue("$run", runId);
                insert.ExecuteNonQuery().ShouldBe(1);
            }

            var dashboard = await http.GetAsync("/api/dashboard");
            dashboard.StatusCode.ShouldBe(HttpStatusCode.OK);
            var d = await dashboard.Content.ReadFromJsonAsync<JsonElement>();
            d.GetProperty("ledgerError").GetString().ShouldNotBeNullOrEmpty();
            d.GetProperty("trades").GetArrayLength().ShouldBe(0);
            d.GetProperty("positions").EnumerateArray().ShouldContain(p => p.GetProperty("symbol").GetString() == "XAUUSD");
            d.GetProperty("status").GetProperty("killLevel").GetString().ShouldBe("L0");
            (await http.GetAsync("/api/stats")).StatusCode.ShouldBe(HttpStatusCode.InternalServerError, "the single API says it failed");
        }
        finally
        {
            await StopAsync(host, freezer);
        }
    }

    [Fact]
    public async Task ARequestWithAForeignHostHeader_IsRefused_EvenWithTheToken_DnsRebinding()
    {
        var (host, address, freezer) = await StartAsync(token: "t0ken");
        try
        {
            using var http = new HttpClient { BaseAddress = address };
            (await http.GetAsync("/health/live")).StatusCode.ShouldBe(HttpStatusCode.OK);
            foreach (var name in new[] { "localhost", "127.0.0.1", "[::1]" })
            {
                using var own = new HttpRequestMessage(HttpMethod.Get, "/api/status");
                own.Headers.Host = $"{name}:{address.Port}";
                (await http.SendAsync(own)).StatusCode.ShouldBe(HttpStatusCode.OK, name);
            }

            // A page of attacker.example whose name now resolves to 127.0.0.1 (DNS rebinding): its requests carry its own Host.
            using var read = new HttpRequestMessage(HttpMethod.Get, "/api/status");
            read.Headers.Host = $"attacker.example:{address.Port}";
            (await http.SendAsync(read)).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            using var kill = new HttpRequestMessage(HttpMethod.Post, "/api/kill") { Content = JsonContent.Create(new { level = 2, reason = "rebind" }) };
            kill.Headers.Host = "attacker.example";
            kill.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "t0ken");
            (await http.SendAsync(kill)).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetRawText().ShouldNotContain("rebind");
        }
        finally
        {
            await StopAsync(host, freezer);
        }
    }

    [Fact]
    public async Task WithoutAConfiguredToken_KillAndResumeAreDisabled_AndTheFallbackIsAlerted()
    {
        var (host, address, freezer) = await StartAsync(token: null);
        try
        {
            using var http = new HttpClient { BaseAddress = address };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "anything");
            (await http.PostAsJsonAsync("/api/kill", new { level = 2, reason = "x" })).StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
            (await http.GetFromJsonAsync<JsonElement>("/api/alerts")).EnumerateArray().ShouldContain(a => a.GetProperty("kind").GetString() == "Fallback");
        }
        finally
        {
            await StopAsync(host, freezer);
        }
    }

    [Fact]
    public async Task Dashboard_InHeadlessChromium_ShowsThePositionAndTheKillLevel_AndTakesAScreenshot()
    {
        const string chromium = "/usr/bin/chromium";
        File.Exists(chromium).ShouldBeTrue("Debian's chromium is needed for this test: apt-get install -y chromium (.ci/run installs it)");
        var (host, address, freezer) = await StartAsync(Token);
        try
        {
            using (var http = new HttpClient { BaseAddress = address })
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
                (await http.PostAsJsonAsync("/api/kill", new { level = 1, reason = "test: dashboard shows the level" })).EnsureSuccessStatusCode();
            }

            var dom = await Chromium(chromium, "--dump-dom", address);
            dom.ShouldContain("data-loaded=\"true\"", customMessage: "the page's script did not load the APIs");
            dom.ShouldContain("<span id=\"kill-level\" class=\"badge L1\">L1</span>");
            dom.ShouldContain("<td>XAUUSD</td><td class=\"num\">20.0000</td>");
            dom.ShouldContain("paper · simulated broker");
            dom.ShouldContain("<span id=\"equity-ccy\">USD</span>"); // the configured base currency, from /api/status

            var screenshot = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
            File.Delete(screenshot);
            await Chromium(chromium, $"--screenshot={screenshot}", address);
            new FileInfo(screenshot).Length.ShouldBeGreaterThan(10_000);
            output.WriteLine($"screenshot: {screenshot}");
        }
        finally
        {
            await StopAsync(host, freezer);
        }
    }

    /// <summary>
    /// The kill and resume buttons in headless Chromium (PuppeteerSharp over the DevTools protocol, on 127.0.0.1): a kill takes two
    /// clicks (the first only arms it), a wrong token is refused and changes nothing, and resume asks the server for its
    /// confirmation code first and sends that code with the second click.
    /// </summary>
    [Fact]
    public async Task Dashboard_KillAndResumeButtons_TakeTwoClicks_AndResumeSendsTheServersConfirmationCode()
    {
        const string chromium = "/usr/bin/chromium";
        File.Exists(chromium).ShouldBeTrue("Debian's chromium is needed for this test: apt-get install -y chromium (.ci/run installs it)");
        var (host, address, freezer) = await StartAsync(Token);
        var profile = Directory.CreateTempSubdirectory("ms-chromium-");
        try
        {
            using var http = new HttpClient { BaseAddress = address };
            async Task<string> Level() => (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("killLevel").GetString()!;
            var options = new PuppeteerSharp.LaunchOptions
            {
                ExecutablePath = chromium, Headless = true, UserDataDir = profile.FullName,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                DefaultViewport = new PuppeteerSharp.ViewPortOptions { Width = 1400, Height = 1000 },
            };
            await using var browser = await PuppeteerSharp.Puppeteer.LaunchAsync(options);
            await using var page = await browser.NewPageAsync();
            await page.GoToAsync(address.ToString());
            await page.WaitForSelectorAsync("body[data-loaded='true']");
            async Task<string> Text(string id) => await page.EvaluateExpressionAsync<string>($"document.getElementById('{id}').textContent");

            // A wrong token: armed by the first click, refused on the second, nothing changes.
            await page.TypeAsync("#token", "not-the-token");
            await page.ClickAsync("#kill-1");
            (await Text("kill-1")).ShouldBe("Confirm kill L1");
            (await Level()).ShouldBe("L0", "the first click only arms the kill");
            await page.ClickAsync("#kill-1");
            await page.WaitForFunctionAsync("() => document.getElementById('control-msg').textContent.startsWith('refused (HTTP 401)')");
            (await Level()).ShouldBe("L0");

            // The token: two clicks latch L1, and the badge shows it.
            await page.EvaluateExpressionAsync("document.getElementById('token').value = ''");
            await page.TypeAsync("#token", Token);
            await page.TypeAsync("#reason", "test: the dashboard's buttons");
            await page.ClickAsync("#kill-1");
            (await Level()).ShouldBe("L0");
            await page.ClickAsync("#kill-1");
            await page.WaitForFunctionAsync("() => document.getElementById('kill-level').textContent === 'L1'");
            (await Level()).ShouldBe("L1");
            (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("killReason").GetString()!.ShouldContain("test: the dashboard's buttons");

            // Resume: the first click asks the server, which answers with the code; the second sends it back.
            await page.ClickAsync("#resume");
            await page.WaitForFunctionAsync("() => document.getElementById('resume').textContent.startsWith('Confirm resume (code ')");
            var code = host.Services.GetRequiredService<MetalSniper.Sentinel.Halts.KillSwitch>().State.ConfirmationCode;
            (await Text("resume")).ShouldBe($"Confirm resume (code {code})");
            (await Level()).ShouldBe("L1", "asking for the code does not resume");
            await page.ClickAsync("#resume");
            await page.WaitForFunctionAsync("() => document.getElementById('kill-level').textContent === 'L0'");
            (await Level()).ShouldBe("L0");
            (await Text("control-msg")).ShouldStartWith("resumed");

            var screenshot = Path.Combine(AppContext.BaseDirectory, "dashboard-resumed.png");
            await page.ScreenshotAsync(screenshot, new PuppeteerSharp.ScreenshotOptions { FullPage = true });
            output.WriteLine($"screenshot: {screenshot}");
        }
        finally
        {
            await StopAsync(host, freezer);
            profile.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The dashboard after a real service run (the paced replayed feed of the first half of 2019: the metals strategy on hourly
    /// XAUUSD/XAGUSD and the dual-listing strategy on Shell A's two lines, the simulated broker, a real database and log file):
    /// every panel is filled in headless Chromium, the trades table has rows, the daily-profit chart has bars and the equity chart
    /// a UTC time axis; the closed trades the window rebuilds from the database are the execution side's own, figure for figure.
    /// </summary>
    [Fact]
    public async Task Dashboard_AfterAServiceRunOfRecordedData_FillsEveryPanel_InHeadlessChromium_AndTheTradesAreTheBooksOwn()
    {
        const string chromium = "/usr/bin/chromium";
        File.Exists(chromium).ShouldBeTrue("Debian's chromium is needed for this test: apt-get install -y chromium (.ci/run installs it)");
        var config = _env.WriteConfig(j =>
        {
            MetalsAndPairsReplayTests.Configure(j);
            j["MarketData"]!["Replay"]!["ToUtc"] = "2019-07-01T00:00:00Z";
            // Faster than the shipped rehearsal pace (the causal scheduler gives the same run at any pace): the half year in seconds.
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 2000;
        });
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Error)
        {
            ConfigureServices = s => s.AddSingleton(new OperatorToken(Token)),
        };
        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var run = host.Services.GetRequiredService<RunContext>();
        await host.StartAsync(CancellationToken.None);
        try
        {
            await run.PipelineDrained.Task.WaitAsync(TimeSpan.FromMinutes(3));
            run.Faults.ShouldBeEmpty();
            var address = host.Services.GetRequiredService<OperatorWindowService>().Address.ShouldNotBeNull();
            using var http = new HttpClient { BaseAddress = address };

            // The window's trades (rebuilt from fills → orders → decisions) against the execution side's book, in the base currency.
            var account = host.Services.GetRequiredService<MetalSniper.Core.Money.AccountCurrency>();
            var fx = host.Services.GetRequiredService<MetalSniper.Core.Money.FxConverter>();
            var book = MetalSniper.Core.Positions.TradeFigures.From([.. run.Trades.Snapshot().Trades.Select(t => MetalSniper.Core.Positions.TradeFigures.ToBase(t, account.Base, fx))]);
            var stats = await http.GetFromJsonAsync<JsonElement>("/api/stats");
            output.WriteLine($"stats: {stats}");
            book.Trades.ShouldBeGreaterThan(5, "the half year must close trades for the dashboard to show");
            stats.GetProperty("trades").GetInt32().ShouldBe(book.Trades);
            stats.GetProperty("winners").GetInt32().ShouldBe(book.Winners);
            stats.GetProperty("netPnl").GetDecimal().ShouldBe(book.NetPnl);
            stats.GetProperty("grossPnl").GetDecimal().ShouldBe(book.GrossPnl);
            stats.GetProperty("commissions").GetDecimal().ShouldBe(book.Commissions);
            stats.GetProperty("carry").GetDecimal().ShouldBe(book.Carry);
            stats.GetProperty("profitFactor").GetDecimal().ShouldBe(book.ProfitFactor!.Value);
            stats.GetProperty("sharpe").ValueKind.ShouldBe(JsonValueKind.Number);
            var trades = await http.GetFromJsonAsync<JsonElement>("/api/trades?limit=1000");
            trades.GetArrayLength().ShouldBe(book.Trades);
            trades.EnumerateArray().ShouldAllBe(t => t.GetProperty("entryPrice").GetDecimal() > 0m && t.GetProperty("exitPrice").GetDecimal() > 0m);
            trades.EnumerateArray().Select(t => t.GetProperty("symbol").GetString()).ShouldContain("RDSA.AS");
            trades.EnumerateArray().ShouldContain(t => t.GetProperty("rMultiple").ValueKind == JsonValueKind.Number, "the metals strategy records its 1R");
            var daily = await http.GetFromJsonAsync<JsonElement>("/api/daily?days=3650");
            daily.GetProperty("days").EnumerateArray().Sum(d => d.GetProperty("netPnl").GetDecimal()).ShouldBe(book.NetPnl);
            daily.GetProperty("days").EnumerateArray().Sum(d => d.GetProperty("trades").GetInt32()).ShouldBe(book.Trades);
            var log = await http.GetFromJsonAsync<JsonElement>("/api/log?lines=5");
            log.GetProperty("lines").GetArrayLength().ShouldBe(5);
            log.GetProperty("file").GetString()!.ShouldStartWith(Path.Combine(_env.Directory.FullName, "log"));

            var dom = await Chromium(chromium, "--dump-dom", address);
            dom.ShouldContain("data-loaded=\"true\"", customMessage: "the page's script did not load the APIs");
            foreach (var panel in new[] { "stats", "equity", "daily", "positions", "trades", "orders", "decisions", "alerts", "judges", "pairs", "telegram", "control", "log" })
            {
                System.Text.RegularExpressions.Regex.IsMatch(dom, $"<section data-panel=\"{panel}\"[^>]* data-filled=\"true\"").ShouldBeTrue($"the {panel} panel is not filled");
            }

            var tradesTable = dom[dom.IndexOf("<table id=\"trades\">", StringComparison.Ordinal)..];
            tradesTable = tradesTable[..tradesTable.IndexOf("</table>", StringComparison.Ordinal)];
            System.Text.RegularExpressions.Regex.Count(tradesTable, "<tr>").ShouldBe(1 + Math.Min(20, book.Trades), "the header and the latest 20 trades");
            System.Text.RegularExpressions.Regex.Count(dom, "<rect class=\"bar\"").ShouldBeGreaterThan(0, "the daily-profit chart has no bar");
            dom.ShouldContain("<g class=\"x-axis\">");
            System.Text.RegularExpressions.Regex.Count(dom, "<text class=\"tick\"[^>]*>2019-").ShouldBeGreaterThan(2, "the equity chart's time axis has no UTC date ticks");
            dom.ShouldContain("id=\"as-of\"");
            System.Text.RegularExpressions.Regex.IsMatch(dom, "as of 2019-0[67]-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC").ShouldBeTrue("one market-clock time for every panel");
            var positions = await http.GetFromJsonAsync<JsonElement>("/api/positions");
            positions.GetArrayLength().ShouldBeGreaterThan(0, "the run ends holding the metals strategy's survivor (deterministic: the causal scheduler)");
            foreach (var p in positions.EnumerateArray())
            {
                // Every open position of the metals strategy rests behind a stop that would reduce it (the surviving leg's stop).
                var reducing = p.GetProperty("quantity").GetDecimal() > 0 ? "Sell" : "Buy";
                p.GetProperty("stops").EnumerateArray().ShouldContain(s => s.GetProperty("side").GetString() == reducing, $"{p}");
            }

            dom.ShouldContain("shell-a");
            dom.ShouldContain("Royal Dutch Shell");
            dom.ShouldContain("Sharpe (daily, annualized)");
            dom.ShouldContain("profit factor (net)");

            var screenshot = Path.Combine(AppContext.BaseDirectory, "dashboard-run.png");
            File.Delete(screenshot);
            await Chromium(chromium, $"--screenshot={screenshot}", address, "1600,2700");
            new FileInfo(screenshot).Length.ShouldBeGreaterThan(50_000);
            output.WriteLine($"screenshot: {screenshot}");
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<string> Chromium(string chromium, string what, Uri address, string windowSize = "1400,1000")
    {
        var profile = Directory.CreateTempSubdirectory("ms-chromium-");
        try
        {
            var psi = new ProcessStartInfo(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--user-data-dir={profile.FullName}",
                $"--window-size={windowSize}", "--virtual-time-budget=6000", what, address.ToString()])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException("chromium did not finish within 60 s: " + await stderr);
            }

            p.ExitCode.ShouldBe(0, await stderr);
            return await stdout;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
