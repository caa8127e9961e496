using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using MetalSniper.Core.Alerts;
using MetalSniper.Engine.Alerts;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Cli;
using MetalSniper.Operator;
using MetalSniper.Operator.Telegram;
using MetalSniper.Operator.Window;
using MetalSniper.Strategies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// The phone's health where the operator looks — <c>/health/ready</c>, <c>/api/status</c> (object <c>telegram</c>) and
/// <c>metalsniper status</c> — on the service with a real position, Telegram enabled and its Bot API unreachable (a closed
/// port on 127.0.0.1); and the digest's figures from the real operator console.
/// </summary>
public sealed class TelegramHealthTests(ITestOutputHelper log) : IDisposable
{
    private const string BotToken = "123456:HOST-TEST-SECRET-xyz";
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public async Task UnreachableTelegram_IsDegradedNotUnready_InHealthStatusApiAndCli_AndTheDigestShowsTheRealPosition()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 200;
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-02T12:00:00Z";
            j["Risk"]!["HeartbeatTimeout"] = "00:00:00"; // the brain is frozen on purpose here
        });
        var freezer = new FreezingStrategy("XAUUSD", 20m);
        var telegram = new TelegramOptions { Enabled = true, ChatId = 1, BaseUrl = ClosedPortUrl(), RetryBaseDelay = TimeSpan.FromMilliseconds(50) };
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton<IReadOnlyList<IStrategy>>([freezer]);
                s.AddSingleton(new OperatorToken("test-operator-token-1234"));
                // The token is read from the environment, which tests must not touch: the connection is built here instead.
                s.AddSingleton(sp => new TelegramBotConnection(telegram, BotToken, sp.GetRequiredService<WallClock>()));
            },
        };
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        await host.StartAsync(CancellationToken.None);
        try
        {
            var address = host.Services.GetRequiredService<OperatorWindowService>().Address.ShouldNotBeNull();
            freezer.Frozen.Wait(TimeSpan.FromSeconds(30)).ShouldBeTrue("the position never opened");
            host.Services.GetRequiredService<AlertHub>().Raise(AlertLevel.Red, "KillSwitch", "test: an alert the phone cannot get");
            var notifier = host.Services.GetRequiredService<TelegramNotifier>();
            await Eventually.Until(() => notifier.LastError is not null, "a failed attempt to the closed port");

            using var http = new HttpClient { BaseAddress = address };
            var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            var readyJson = await ready.Content.ReadFromJsonAsync<JsonElement>();
            ready.StatusCode.ShouldBe(HttpStatusCode.OK, readyJson.ToString()); // the system can act without the phone
            readyJson.GetProperty("degraded").EnumerateArray().ShouldHaveSingleItem().GetString().ShouldStartWith("telegram: ");
            readyJson.GetProperty("telegram").GetProperty("healthy").GetBoolean().ShouldBeFalse();

            var status = await http.GetFromJsonAsync<JsonElement>(new Uri("/api/status", UriKind.Relative));
            var t = status.GetProperty("telegram");
            t.EnumerateObject().Select(p => p.Name).ShouldBe(["enabled", "healthy", "queued", "dropped", "lastSentUtc", "lastError"]);
            t.GetProperty("enabled").GetBoolean().ShouldBeTrue();
            t.GetProperty("healthy").GetBoolean().ShouldBeFalse();
            t.GetProperty("queued").GetInt32().ShouldBeGreaterThanOrEqualTo(0);
            t.GetProperty("dropped").GetInt64().ShouldBe(0);
            t.GetProperty("lastSentUtc").ValueKind.ShouldBe(JsonValueKind.Null);
            var lastError = t.GetProperty("lastError").GetString().ShouldNotBeNull();
            lastError.ShouldContain("sendMessage");
            lastError.ShouldNotContain("HOST-TEST-SECRET", Case.Insensitive);

            using var output = new StringWriter(CultureInfo.InvariantCulture);
            using var errors = new StringWriter(CultureInfo.InvariantCulture);
            var code = await Commands.Build(output, errors).Parse(["status", "--url", address.ToString()]).InvokeAsync();
            code.ShouldBe(0, errors.ToString());
            var text = output.ToString();
            log.WriteLine(text);
            text.ShouldContain("ready: yes; degraded: telegram: ");
            text.ShouldContain("kill level L0");
            text.ShouldContain("telegram: DEGRADED, ");
            text.ShouldContain("last sent never; last error: ");

            // The digest's figures come from the real console: the frozen XAUUSD position, in the account's currency.
            var snapshot = host.Services.GetRequiredService<IOperatorConsole>().Snapshot();
            (snapshot.KillLevel, snapshot.BaseCurrency).ShouldBe(("L0", "USD"));
            snapshot.Positions.ShouldContain(p => p.Symbol == "XAUUSD" && p.Quantity == 20m);
            var digest = TelegramDigest.Format(snapshot, new DigestTally(1, 0, 0), DateTimeOffset.UnixEpoch);
            log.WriteLine(digest);
            digest.ShouldContain("\nXAUUSD +20 @ ");
        }
        finally
        {
            freezer.Release.Set();
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }
    }

    [Fact]
    public async Task StatusCommand_WithNothingListening_Exits69_AndSaysWhere()
    {
        var url = ClosedPortUrl();
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var errors = new StringWriter(CultureInfo.InvariantCulture);

        var code = await Commands.Build(output, errors).Parse(["status", "--url", url]).InvokeAsync();

        code.ShouldBe(69);
        errors.ToString().ShouldContain($"operator window at {url}/ does not answer");
        output.ToString().ShouldBeEmpty();
    }

    private static string ClosedPortUrl()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}");
    }
}
