using System.Text.Json.Nodes;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Time;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Engine.Services;
using MetalSniper.FakeTws;
using MetalSniper.Host.Configuration;
using MetalSniper.InteractiveBrokers.Connection;
using MetalSniper.Operator;
using MetalSniper.Strategies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Issue 18 item 9 on the fake TWS: a flatten works its way out — a limit at the mid, modified to the touch after the mid
/// wait, then cancelled and replaced at the market after the touch wait — through partial fills on the way, and ends flat at
/// IB, never reversed: each step sends only what is left.
/// </summary>
public sealed class IbExitEscalationTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 19;
    private const string Account = "DU1234567";
    private static readonly TimeSpan LinkLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private sealed record Protected(FakeTwsServer Tws, IHost Host, ReplayTimeProvider Clock, HostDatabase Db) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Host.StopAsync(CancellationToken.None);
            Host.Dispose();
            await Tws.DisposeAsync();
        }
    }

    /// <summary>The host on the fake TWS with the escalation on (30 s at the mid, 30 s at the touch), holding 20 oz of gold under a stop.</summary>
    private async Task<Protected> StartProtectedAsync()
    {
        var marketClock = new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
        // A thin touch: fills against the quote take no more than the size quoted there.
        var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions { TimeProvider = marketClock, Accounts = [Account], FirstNextValidId = 1000, FillsTakeQuoteSize = true });
        var from = new DateTimeOffset(2025, 9, 8, 0, 0, 0, TimeSpan.Zero);
        var tape = MarketTape.Metals15(tws, from, from.AddDays(3));
        var config = _env.WriteConfig(j =>
        {
            FakeTwsConfig.UseFakeTws(j, tws.Port, ClientId, Account);
            FakeTwsConfig.LetSteppedTradesRun(j);
            j["Execution"]!["ExitEscalation"] = new JsonObject { ["Enabled"] = true, ["MidWait"] = "00:00:30", ["TouchWait"] = "00:00:30" };
        });
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton(marketClock);
                s.AddSingleton<TimeProvider>(marketClock);
                s.PostConfigure<BrokerOptions>(o => o.InteractiveBrokers.QuietWindows = ["00:00-00:00"]);
                s.AddSingleton<IReadOnlyList<IStrategy>>([new ProtectedEntryStrategy("XAUUSD", 20m)]);
            },
        };
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var probe = new HostProbe(host, () => tws.RequestCount);
        var db = new HostDatabase(_env.DatabasePath);
        await host.StartAsync(CancellationToken.None);
        await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
        await Eventually.Until(() => tws.Requests.Count(r => r.ClientId == ClientId && r.MessageId == 20) >= 2, "the bar subscriptions");
        await tws.FlushAsync();
        while (!tws.Orders.Any(o => o.ClientId == ClientId && o.OrderType == "STP" && o.Status is "Submitted" or "PreSubmitted"))
        {
            tape.Remaining.ShouldBeGreaterThan(0, "the strategy never had its protected position");
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "stepping to the protected position");
        }

        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 20m, "our book to hold the 20 oz");
        return new Protected(tws, host, marketClock, db);
    }

    private static decimal IbPosition(FakeTwsServer tws) => tws.Positions.Where(p => p.Account == Account && p.Symbol == "XAUUSD").Sum(p => p.Quantity);

    [Fact]
    public async Task KillSwitchFlatten_LimitAtTheMid_ThenTheTouch_ThenMarket_ThroughPartialFills_EndsFlatAtIb_NeverReversed()
    {
        await using var run = await StartProtectedAsync();
        var (tws, host, clock, db) = run;

        // A quote around the last price, 5 oz at the touch: bid − 0.25, ask + 0.25 (mid = the mark).
        var mark = host.Services.GetRequiredService<ExecutionService>().Marks["XAUUSD"];
        var (bid, ask) = (mark - 0.25m, mark + 0.25m);
        tws.SetQuote("XAUUSD", (double)bid, (double)ask, size: 5m);
        var quotes = host.Services.GetRequiredService<IQuoteFeed>();
        await Eventually.Until(() => quotes.TryGetTopOfBook("XAUUSD", out var q) && q.Bid == bid && q.Ask == ask, "the host to see the quote");

        host.Services.GetRequiredService<OperatorConsole>().Kill(2, "test: flatten through the escalation", "test").Ok.ShouldBeTrue();

        // Step 1: a sell limit at the mid for the whole position (the stop cancelled first).
        FakeOrderSnapshot? limit = null;
        await Eventually.Until(() => (limit = tws.Orders.FirstOrDefault(o => o.ClientId == ClientId && o.OrderType == "LMT" && o.Action == "SELL" && o.Status == "Submitted")) is not null,
            "the flatten's limit at IB", TimeSpan.FromSeconds(10));
        output.WriteLine($"step 1: {limit}");
        ((decimal)limit!.LmtPrice!.Value).ShouldBe(mark);
        limit.TotalQuantity.ShouldBe(20m);
        tws.Orders.Single(o => o.ClientId == ClientId && o.OrderType == "STP").Status.ShouldBe("Cancelled");

        // A buyer takes 5 oz at the mid; nothing moves before the mid wait is over.
        tws.FillOrder(ClientId, limit.OrderId, 5m, (double)mark);
        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 15m, "the part filled at the mid in our book", TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        ((decimal)tws.FindOrder(ClientId, limit.OrderId)!.LmtPrice!.Value).ShouldBe(mark, "the limit moved before the mid wait was over");

        // Step 2: after the mid wait, the same order is modified to the touch (the bid), its size unchanged (IB's total); it
        // takes the 5 oz quoted there and 10 are left.
        clock.AdvanceTo(clock.GetUtcNow() + Wait + TimeSpan.FromSeconds(1));
        await Eventually.Until(() => (decimal)tws.FindOrder(ClientId, limit.OrderId)!.LmtPrice!.Value == bid, "the limit modified to the touch", TimeSpan.FromSeconds(10));
        tws.FindOrder(ClientId, limit.OrderId)!.TotalQuantity.ShouldBe(20m);
        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 10m, "the part filled at the touch in our book", TimeSpan.FromSeconds(10));

        // Step 3: after the touch wait, the limit is cancelled and only the 10 oz left go at the market; the touch is empty,
        // then quotes 4 oz, then plenty: the market order fills in two parts.
        var placedBefore = PlacedOrder.From(tws.Requests, ClientId).Count;
        clock.AdvanceTo(clock.GetUtcNow() + Wait + TimeSpan.FromSeconds(1));
        PlacedOrder? market = null;
        await Eventually.Until(() => (market = PlacedOrder.From(tws.Requests, ClientId).Skip(placedBefore).FirstOrDefault(p => p.OrderId != limit.OrderId)) is not null,
            "the market order for the rest", TimeSpan.FromSeconds(10));
        output.WriteLine($"step 3: {market}");
        market!.OrderType.ShouldBe("MKT");
        tws.FindOrder(ClientId, limit.OrderId)!.Status.ShouldBe("Cancelled");
        await Eventually.Until(() => tws.FindOrder(ClientId, market.OrderId) is { Status: "Submitted" }, "the market order working at IB", TimeSpan.FromSeconds(10));
        tws.FindOrder(ClientId, market.OrderId)!.TotalQuantity.ShouldBe(10m);
        tws.SetQuote("XAUUSD", (double)bid, (double)ask, size: 4m);
        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 6m, "the market order's first part in our book", TimeSpan.FromSeconds(10));
        tws.SetQuote("XAUUSD", (double)bid, (double)ask, size: 100m);
        await Eventually.Until(() => IbPosition(tws) == 0m, "IB's position flat after the market step", TimeSpan.FromSeconds(10));
        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 0m, "our book flat", TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(2)); // room for an order too many
        await tws.FlushAsync();

        PlacedOrder.From(tws.Requests, ClientId).Skip(placedBefore).Where(p => p.OrderId != limit.OrderId).ShouldHaveSingleItem("an order too many after the market step");
        IbPosition(tws).ShouldBe(0m, "the position at IB was reversed");
        tws.Executions.Where(e => e.Symbol == "XAUUSD" && e.Side == "SLD").Sum(e => e.Shares).ShouldBe(20m);

        // Recorded: two escalation decisions (to the touch, to the market) with their prices; the limit's row cancelled at the
        // touch price, the market row filled, both for the one flatten decision's position.
        var steps = db.Query<(string Reason, string Inputs)>("SELECT reason, inputs_json FROM decisions WHERE kind='ExitEscalation' ORDER BY rowid");
        steps.Count.ShouldBe(2);
        steps[0].Inputs.ShouldContain("\"step\":\"Touch\"");
        steps[0].Reason.ShouldContain("limit to the touch");
        steps[1].Inputs.ShouldContain("\"step\":\"Market\"");
        var flattens = db.Query<(string Type, string? Limit, string Quantity, string Status)>(
            "SELECT order_type, limit_price, quantity, status FROM orders WHERE purpose='RiskFlatten' ORDER BY rowid");
        flattens.Select(f => (f.Type, f.Status)).ShouldBe([("Limit", "Cancelled"), ("Market", "Filled")]);
        decimal.Parse(flattens[0].Limit!, System.Globalization.CultureInfo.InvariantCulture).ShouldBe(bid);
        decimal.Parse(flattens[1].Quantity, System.Globalization.CultureInfo.InvariantCulture).ShouldBe(10m);
        // Fills: 5 at the mid, 5 at the touch, 4 + 6 at the market.
        db.Query<string>("SELECT f.quantity FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id WHERE o.purpose='RiskFlatten' ORDER BY f.rowid")
            .Select(q => decimal.Parse(q, System.Globalization.CultureInfo.InvariantCulture)).ShouldBe([5m, 5m, 4m, 6m]);
    }
}
