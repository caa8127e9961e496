using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Pipeline;
using MetalSniper.FakeTws;
using MetalSniper.Host.Configuration;
using MetalSniper.InteractiveBrokers.Connection;
using MetalSniper.Operator;
using MetalSniper.Operator.Window;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// The full host on Interactive Brokers against the fake TWS on 127.0.0.1, through the operator window's real HTTP
/// endpoints: readiness tells the truth about the link, the reconciliation and the kill switch, and the link rides
/// through 1100 → 1102 with the socket kept up.
/// </summary>
public sealed class IbHostHealthTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 17;
    private const string Account = "DU1234567";
    private const int WarmupSeconds = 3;
    private static readonly TimeSpan LinkLimit = TimeSpan.FromSeconds(30);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private sealed record Running(FakeTwsServer Tws, IHost Host, HostProbe Probe, HttpClient Http) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Host.StopAsync(CancellationToken.None);
            Host.Dispose();
            await Tws.DisposeAsync();
        }
    }

    private async Task<Running> StartAsync()
    {
        var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions { Accounts = [Account], FirstNextValidId = 1000, FarmNoticesOnConnect = [2104, 2106, 2158] });
        var from = new DateTimeOffset(2025, 9, 8, 0, 0, 0, TimeSpan.Zero);
        _ = MarketTape.Metals15(tws, from, from.AddDays(1));
        var config = _env.WriteConfig(j =>
        {
            FakeTwsConfig.UseFakeTws(j, tws.Port, ClientId, Account, WarmupSeconds);
            j["Risk"]!["HeartbeatTimeout"] = "00:00:00"; // no bars are stepped here: the brain stays idle on purpose
        });
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                // The default quiet window (23:40-00:10 New York) would refuse every order when the test runs then.
                s.PostConfigure<BrokerOptions>(o => o.InteractiveBrokers.QuietWindows = ["00:00-00:00"]);
                s.AddSingleton(new OperatorToken(null));
            },
        };
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var probe = new HostProbe(host, () => tws.RequestCount);
        await host.StartAsync(CancellationToken.None);
        var address = host.Services.GetRequiredService<OperatorWindowService>().Address.ShouldNotBeNull();
        return new Running(tws, host, probe, new HttpClient { BaseAddress = address });
    }

    private static async Task<(HttpStatusCode Code, JsonElement Body)> ReadyAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/health/ready");
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static string Reasons(JsonElement body) => string.Join(" | ", body.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));

    private static SubmitOrder Entry(DateTimeOffset now) =>
        new(new ClientOrderId("health-probe-1"), "D-probe", "XAUUSD", OrderSide.Buy, 1m, OrderType.Market, null, null, OrderPurpose.Entry, now, TimeInForce.Gtc, "test");

    [Fact]
    public async Task Readiness_Is503WithTheReasons_UntilTheIbLinkIsFullyLive_AndWhileItIsDegraded_OrTheKillSwitchIsAtL2()
    {
        await using var run = await StartAsync();
        var (tws, host, probe, http) = run;

        // Reconciled and warming up: entries still refused, so not ready, and the reason names the link's state.
        await probe.WaitForStateAsync(IbConnectionState.ReconnectWarmup, 0, LinkLimit, "start-up");
        var (code, body) = await ReadyAsync(http);
        if (probe.Session.Machine.State(TimeProvider.System.GetUtcNow()) == IbConnectionState.ReconnectWarmup)
        {
            code.ShouldBe(HttpStatusCode.ServiceUnavailable, body.ToString());
            Reasons(body).ShouldContain("broker-link: RECONNECT_WARMUP");
        }

        // Fully live: ready, and the status names the real connection.
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
        (code, body) = await ReadyAsync(http);
        code.ShouldBe(HttpStatusCode.OK, body.ToString());
        var connection = (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("connection").GetString();
        connection.ShouldBe($"Interactive Brokers 127.0.0.1:{tws.Port} client {ClientId}, account {Account}, link FULLY_LIVE");
        body.GetProperty("components").EnumerateArray().ShouldContain(c => c.GetProperty("name").GetString() == "reconciliation" && c.GetProperty("ok").GetBoolean());

        // 1100 with the socket kept up: the link is degraded, entries refused: not ready.
        var changes = probe.Changes.Count;
        tws.SendError(ClientId, -1, 1100, "Connectivity between IB and Trader Workstation has been lost.");
        await probe.WaitForStateAsync(IbConnectionState.ExecutionDegraded, changes, LinkLimit, "1100");
        (code, body) = await ReadyAsync(http);
        code.ShouldBe(HttpStatusCode.ServiceUnavailable, body.ToString());
        Reasons(body).ShouldContain("broker-link: EXECUTION_DEGRADED: 1100");
        (await http.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("connection").GetString()!.ShouldEndWith("link EXECUTION_DEGRADED");

        // 1102: reconciled again, warmed up, fully live: ready again.
        tws.SendError(ClientId, -1, 1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.");
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, changes, LinkLimit, "after 1102");
        (code, body) = await ReadyAsync(http);
        code.ShouldBe(HttpStatusCode.OK, body.ToString());

        // Kill switch L2: orders refused (flatten only): not ready, with the reason.
        host.Services.GetRequiredService<OperatorConsole>().Kill(2, "test: readiness at L2", "test").Ok.ShouldBeTrue();
        (code, body) = await ReadyAsync(http);
        code.ShouldBe(HttpStatusCode.ServiceUnavailable, body.ToString());
        Reasons(body).ShouldContain("kill-switch: L2");
        output.WriteLine(body.ToString());
    }

    [Fact]
    public async Task After1102_AReconciliationThatFindsOtherPositions_IsARedAlertInTheJournal_AndReadinessSaysSo()
    {
        await using var run = await StartAsync();
        var (tws, host, probe, http) = run;
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");

        // While the link is lost, a position appears at IB that our book does not have (a fill we never heard of, booked
        // manually in TWS): the reconciliation after 1102 must not pass it over.
        var changes = probe.Changes.Count;
        tws.SendError(ClientId, -1, 1100, "Connectivity between IB and Trader Workstation has been lost.");
        await probe.WaitForStateAsync(IbConnectionState.ExecutionDegraded, changes, LinkLimit, "1100");
        tws.SetPosition(Account, "XAUUSD", 7m, 2000.0);
        tws.SendError(ClientId, -1, 1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.");
        await Eventually.Until(() => probe.Gateway.LastReconciliation.StartsWith("FAILED", StringComparison.Ordinal), "the reconciliation after 1102 to fail", LinkLimit);

        probe.Session.Machine.State(TimeProvider.System.GetUtcNow()).ShouldBe(IbConnectionState.DataOnly, "orders must stay refused after a failed reconciliation");
        var (code, body) = await ReadyAsync(http);
        code.ShouldBe(HttpStatusCode.ServiceUnavailable, body.ToString());
        Reasons(body).ShouldContain("reconciliation: FAILED: positions differ: XAUUSD ours 0, IB 7");
        Reasons(body).ShouldContain("broker-link: DATA_ONLY");
        var alerts = await http.GetFromJsonAsync<JsonElement>("/api/alerts");
        alerts.EnumerateArray().ShouldContain(a => a.GetProperty("level").GetString() == "Red" && a.GetProperty("text").GetString()!.Contains("IB reconciliation failed, orders refused: positions differ"),
            alerts.ToString());
        await host.Services.GetRequiredService<MetalSniper.Persistence.Journal.DecisionJournal>().FlushAsync();
        new HostDatabase(_env.DatabasePath).QueryJournal<string>("SELECT payload FROM journal WHERE kind='Alert'")
            .ShouldContain(p => p.Contains("IB reconciliation failed", StringComparison.Ordinal) && p.Contains("Red", StringComparison.Ordinal));
    }

    [Fact]
    public async Task After1100Then1102_WithTheSocketKeptUp_TheLinkReconcilesWarmsUpAndIsFullyLive_AndEntriesPassAgain()
    {
        await using var run = await StartAsync();
        var (tws, _, probe, _) = run;
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
        probe.Gateway.SubmissionBlocked(Entry(TimeProvider.System.GetUtcNow()), TimeProvider.System.GetUtcNow()).ShouldBeNull();
        var reconciliations = probe.Gateway.Reconciliations;
        var connections = tws.ConnectionCount;

        var changes = probe.Changes.Count;
        tws.SendError(ClientId, -1, 1100, "Connectivity between IB and Trader Workstation has been lost.");
        await probe.WaitForStateAsync(IbConnectionState.ExecutionDegraded, changes, LinkLimit, "1100");
        probe.Gateway.SubmissionBlocked(Entry(TimeProvider.System.GetUtcNow()), TimeProvider.System.GetUtcNow()).ShouldNotBeNull("an entry passed while the link was lost");

        var requestsAt1102 = tws.RequestCount;
        tws.SendError(ClientId, -1, 1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.");
        await probe.WaitForStateAsync(IbConnectionState.ReconnectWarmup, changes, LinkLimit, "reconciliation after 1102");
        var live = await probe.WaitForStateAsync(IbConnectionState.FullyLive, changes, LinkLimit, "warm-up after 1102");
        output.WriteLine(HostProbe.Describe(probe.Changes.Skip(changes)));

        probe.Changes.Skip(changes).Select(c => c.To).ShouldBe(
            [IbConnectionState.ExecutionDegraded, IbConnectionState.DataOnly, IbConnectionState.ReconnectWarmup, IbConnectionState.FullyLive]);
        tws.ConnectionCount.ShouldBe(connections, "the socket was meant to stay up: no reconnect may have done the work");
        probe.Gateway.Reconciliations.ShouldBe(reconciliations + 1);
        // The reconciliation asked IB again (open orders, executions, positions) after the 1102.
        tws.Requests.Skip(requestsAt1102).Select(r => r.MessageId).ShouldContain(7, "no reqExecutions after 1102");
        probe.Gateway.SubmissionBlocked(Entry(TimeProvider.System.GetUtcNow()), TimeProvider.System.GetUtcNow()).ShouldBeNull("entries are still refused after the link came back");
        live.Reason.ShouldContain("warm-up");
    }
}
