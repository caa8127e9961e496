using System.Text.Json;
using System.Text.Json.Nodes;
using MetalSniper.Core.Time;
using MetalSniper.Engine.Pipeline;
using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Adapters;
using MetalSniper.InteractiveBrokers.Connection;
using MetalSniper.Operator.Window;
using MetalSniper.Strategies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Issue 18 item 10 (the quote gate reads IB's bid/ask, not a quote made up from a bar) and item 11 (shadow mode: the
/// service on IB's live data, every order to the simulated broker, none to IB), on the fake TWS over loopback.
/// </summary>
public sealed class IbShadowAndQuoteTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 23;
    private const string Account = "DU7654321";
    private static readonly TimeSpan LinkLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(15);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private sealed record Running(FakeTwsServer Tws, IHost Host, HostProbe Probe, HostDatabase Db, MarketTape Tape) : IAsyncDisposable
    {
        private bool _stopped;

        /// <summary>Stops the host once (a host's services are not stopped twice).</summary>
        public async Task StopAsync()
        {
            if (!_stopped)
            {
                _stopped = true;
                await Host.StopAsync(CancellationToken.None);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            Host.Dispose();
            await Tws.DisposeAsync();
        }
    }

    /// <summary>The host on the fake TWS with a strategy that buys 20 oz of gold (and protects it with a stop) as soon as it may.</summary>
    private async Task<Running> StartAsync(bool shadow, double barQuoteSpread)
    {
        var marketClock = new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions { TimeProvider = marketClock, Accounts = [Account], FirstNextValidId = 1000, BarQuoteSpread = barQuoteSpread });
        var from = new DateTimeOffset(2025, 9, 8, 0, 0, 0, TimeSpan.Zero);
        var tape = MarketTape.Metals15(tws, from, from.AddDays(3));
        var config = _env.WriteConfig(j =>
        {
            // Shadow: the simulated broker takes the orders; the IB section still says where the market data comes from.
            FakeTwsConfig.UseFakeTws(j, tws.Port, ClientId, Account, brokerKind: shadow ? "Simulated" : "InteractiveBrokers");
            j["Broker"]!["InteractiveBrokers"]!["QuietWindows"] = new JsonArray("00:00-00:00");
            if (shadow)
            {
                j["Execution"] = new JsonObject { ["Mode"] = "Shadow" };
            }

            FakeTwsConfig.LetSteppedTradesRun(j);
        });
        Configuration.ConfigurationCheck.Validate(Composition.LoadConfiguration(new HostSettings(config, RunMode.Service))).ShouldBeEmpty();
        var strategy = new ProtectedEntryStrategy("XAUUSD", 20m);
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton(marketClock);
                s.AddSingleton<TimeProvider>(marketClock);
                s.AddSingleton<IReadOnlyList<IStrategy>>([strategy]);
            },
        };
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var probe = new HostProbe(host, () => tws.RequestCount);
        await host.StartAsync(CancellationToken.None);
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
        await Eventually.Until(() => tws.Requests.Count(r => r.ClientId == ClientId && r.MessageId == 20) >= 2, "the bar subscriptions");
        await Eventually.Until(() => tws.Requests.Count(r => r.ClientId == ClientId && r.MessageId == 1) >= 2, "the quote subscriptions (reqMktData)");
        await tws.FlushAsync();
        return new Running(tws, host, probe, new HostDatabase(_env.DatabasePath), tape);
    }

    [Fact]
    public async Task WideSpreadFromIb_DeniesTheEntryWithTheSpreadGatesReason_AndNoOrderReachesIb()
    {
        // IB quotes gold 60 wide around each close (≈1.6 % of ~3 600): over Risk:Gates:MaxSpreadFraction (0.5 %). The bars
        // themselves carry no spread: a quote made up from them would pass.
        await using var run = await StartAsync(shadow: false, barQuoteSpread: 60);
        var (tws, _, probe, db, tape) = run;
        while (db.Scalar<long>("SELECT COUNT(*) FROM gate_denials") == 0)
        {
            tape.Remaining.ShouldBeGreaterThan(0, "the strategy's entry was never judged");
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "stepping to the entry");
        }

        var denial = db.Query<(string Gate, string Reason, string Detail)>("SELECT gate, reason, detail FROM gate_denials ORDER BY id LIMIT 1").Single();
        output.WriteLine($"{denial.Gate} {denial.Reason}: {denial.Detail}");
        denial.Gate.ShouldBe("quote");
        denial.Reason.ShouldBe("SpreadTooWide");
        denial.Detail.ShouldContain("> max");
        await tws.FlushAsync();
        PlacedOrder.From(tws.Requests, ClientId).ShouldBeEmpty("an entry left despite IB's wide spread");
    }

    [Fact]
    public async Task NoBidFromIb_DeniesTheEntryAsAZeroBid_AndNoOrderReachesIb()
    {
        // IB withdraws gold's bid (tickPrice BID −1): the bars go on as before, a quote made up from them would pass.
        await using var run = await StartAsync(shadow: false, barQuoteSpread: 0.2);
        var (tws, _, probe, db, tape) = run;
        tws.WithdrawBid("XAUUSD");
        while (db.Scalar<long>("SELECT COUNT(*) FROM gate_denials") == 0)
        {
            tape.Remaining.ShouldBeGreaterThan(0, "the strategy's entry was never judged");
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "stepping to the entry");
        }

        var denial = db.Query<(string Gate, string Reason, string Detail)>("SELECT gate, reason, detail FROM gate_denials ORDER BY id LIMIT 1").Single();
        output.WriteLine($"{denial.Gate} {denial.Reason}: {denial.Detail}");
        denial.Gate.ShouldBe("quote");
        denial.Reason.ShouldBe("ZeroBid");
        await tws.FlushAsync();
        PlacedOrder.From(tws.Requests, ClientId).ShouldBeEmpty("an entry left while IB had no bid");
    }

    [Fact]
    public async Task ShadowMode_TradesOnIbDataWithTheSimulatedBroker_NoPlaceOrderReachesTheFakeTws_AndEverythingSaysShadow()
    {
        await using var run = await StartAsync(shadow: true, barQuoteSpread: 0.2);
        var (tws, host, probe, db, tape) = run;
        host.Services.GetService<IbOrderGateway>().ShouldBeNull("shadow mode built an IB order gateway");

        // The strategy enters, its entry fills at the simulated broker, and it places its protective stop there.
        while (db.Scalar<long>("SELECT COUNT(*) FROM fills") == 0 || db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE purpose='ProtectiveStop'") == 0)
        {
            tape.Remaining.ShouldBeGreaterThan(0, "the strategy never traded in shadow mode");
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "stepping to the shadow trade");
        }

        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 20m, "the shadow position in our book");
        await tws.FlushAsync();
        tws.Requests.Where(r => r.MessageId == 3).ShouldBeEmpty("a placeOrder reached the TWS connection in shadow mode");
        tws.Orders.ShouldBeEmpty("the fake TWS holds an order in shadow mode");
        tws.Requests.Where(r => r.MessageId is 4 or 7).ShouldBeEmpty("a cancel or an execution query reached IB in shadow mode");

        // The banner, the status API, the dashboard's mode and every alert say SHADOW.
        var identity = host.Services.GetRequiredService<BrokerIdentity>().Describe();
        identity.ShouldStartWith("SHADOW");
        var alerts = host.Services.GetRequiredService<MetalSniper.Engine.Alerts.AlertHub>().Recent(100);
        alerts.ShouldNotBeEmpty();
        alerts.ShouldAllBe(a => a.Text.Contains("SHADOW"));
        alerts.ShouldContain(a => a.Kind == "Fill");

        var address = host.Services.GetRequiredService<OperatorWindowService>().Address.ShouldNotBeNull();
        using var http = new HttpClient { BaseAddress = address };
        using var status = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/status", UriKind.Relative)));
        output.WriteLine(status.RootElement.ToString());
        status.RootElement.GetProperty("mode").GetString().ShouldStartWith("SHADOW");
        status.RootElement.GetProperty("connection").GetString()!.ShouldContain("SHADOW");
        var shadow = status.RootElement.GetProperty("shadow");
        shadow.GetProperty("fills").GetInt32().ShouldBeGreaterThan(0);
        shadow.GetProperty("quoted").GetInt32().ShouldBeGreaterThan(0, "no shadow fill was compared with IB's live quote");
        shadow.GetProperty("summary").GetString()!.ShouldContain("slippage mean");

        // The summary compares each fill with the bid/ask IB quoted when it was booked.
        var summary = host.Services.GetRequiredService<ShadowFills>().Summary();
        output.WriteLine(summary.Describe());
        summary.Symbols.ShouldContain(s => s.Symbol == "XAUUSD" && s.Fills > 0);
        summary.MaxBps.ShouldNotBeNull();
        (summary.MaxBps!.Value >= summary.MeanBps!.Value).ShouldBeTrue();

        // On stop the summary is logged and alerted (journaled, SHADOW in its text).
        await run.StopAsync();
        db.QueryJournal<string>("SELECT payload FROM journal WHERE kind='Alert'").ShouldContain(p => p.Contains("SHADOW run ended: shadow fills vs live quotes"));
    }
}
