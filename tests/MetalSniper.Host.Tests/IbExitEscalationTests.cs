using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Orders;
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

    private sealed record Protected(FakeTwsServer Tws, IHost Host, ReplayTimeProvider Clock, HostDatabase Db, MarketTape Tape, HostProbe Probe) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Host.StopAsync(CancellationToken.None);
            Host.Dispose();
            await Tws.DisposeAsync();
        }
    }

    /// <summary>The host on the fake TWS with the escalation on (30 s at the mid, 30 s at the touch), holding 20 oz of gold under a stop.</summary>
    private async Task<Protected> StartProtectedAsync(IStrategy? strategy = null)
    {
        var marketClock = new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
        // A thin touch: fills against the quote take no more than the size quoted there.
        var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions
        {
            TimeProvider = marketClock, Accounts = [Account], FirstNextValidId = 1000, FillsTakeQuoteSize = true, BarQuoteSpread = 0.5,
        });
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
                s.AddSingleton<IReadOnlyList<IStrategy>>([strategy ?? new ProtectedEntryStrategy("XAUUSD", 20m)]);
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
        return new Protected(tws, host, marketClock, db, tape, probe);
    }

    private static decimal IbPosition(FakeTwsServer tws) => tws.Positions.Where(p => p.Account == Account && p.Symbol == "XAUUSD").Sum(p => p.Quantity);

    [Fact]
    public async Task KillSwitchFlatten_LimitAtTheMid_ThenTheTouch_ThenMarket_ThroughPartialFills_EndsFlatAtIb_NeverReversed()
    {
        await using var run = await StartProtectedAsync();
        var (tws, host, clock, db, _, _) = run;

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

    [Fact]
    public async Task StrategyExit_EscalatesToTheMarketThroughPartials_TheStrategySeesOneExitUnderItsOwnId_EndingFilled()
    {
        var strategy = new ExitOnRequestStrategy("XAUUSD", 20m);
        await using var run = await StartProtectedAsync(strategy);
        var (tws, host, clock, db, tape, probe) = run;

        // The strategy decides to exit on the next bar: its stop is cancelled and a market sell of 20 leaves — as a limit at the mid.
        strategy.ExitRequested = true;
        await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "the bar the strategy exits on");
        FakeOrderSnapshot? limit = null;
        await Eventually.Until(() => (limit = tws.Orders.FirstOrDefault(o => o.ClientId == ClientId && o.OrderType == "LMT" && o.Action == "SELL" && o.Status == "Submitted")) is not null,
            "the exit's limit at IB", TimeSpan.FromSeconds(10));
        var quotes = host.Services.GetRequiredService<IQuoteFeed>();
        quotes.TryGetTopOfBook("XAUUSD", out var quote).ShouldBeTrue();
        ((decimal)limit!.LmtPrice!.Value).ShouldBe(Math.Ceiling(quote!.Mid * 100m) / 100m);
        limit.OrderRef.ShouldBe(strategy.ExitOrder);

        // 5 at the mid; the touch then quotes 5 oz; after the mid wait the limit moves there and takes them.
        tws.FillOrder(ClientId, limit.OrderId, 5m, limit.LmtPrice.Value);
        tws.SetQuote("XAUUSD", (double)quote.Bid, (double)quote.Ask, size: 5m);
        clock.AdvanceTo(clock.GetUtcNow() + Wait + TimeSpan.FromSeconds(1));
        await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 10m, "the parts at the mid and the touch in our book", TimeSpan.FromSeconds(10));

        // After the touch wait: cancelled, and the 10 left at the market, which fills once the touch has size again.
        clock.AdvanceTo(clock.GetUtcNow() + Wait + TimeSpan.FromSeconds(1));
        await Eventually.Until(() => tws.Orders.Any(o => o.ClientId == ClientId && o.OrderType == "MKT" && o.Action == "SELL" && o.Status == "Submitted"), "the market order for the rest", TimeSpan.FromSeconds(10));
        tws.SetQuote("XAUUSD", (double)quote.Bid, (double)quote.Ask, size: 100m);
        await Eventually.Until(() => IbPosition(tws) == 0m && db.Positions().GetValueOrDefault("XAUUSD") == 0m, "flat at IB and in our book", TimeSpan.FromSeconds(10));
        await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "a bar after the exit (the brain takes up the broker's reports with the bars)");
        await Eventually.Until(() => strategy.ExitEvents.Any(e => e is OrderFilled { LeavesQuantity: 0m }), () => "the strategy told its exit filled; it was told: " + string.Join("; ", strategy.ExitEvents),
            TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(1));

        // The strategy knows one order: every event of its exit under its id, the fills 5 + 5 + 10, no cancel, the last complete.
        var events = strategy.ExitEvents.ToList();
        output.WriteLine(string.Join("\n", events.Select(e => e.ToString())));
        events.ShouldAllBe(e => e.ClientOrderId.Value == strategy.ExitOrder);
        events.OfType<OrderCancelled>().ShouldBeEmpty("the escalation's cancel reached the strategy as the end of its exit");
        var fills = events.OfType<OrderFilled>().ToList();
        fills.Select(f => (f.Fill.Quantity, f.LeavesQuantity)).ShouldBe([(5m, 15m), (5m, 10m), (10m, 0m)]);
        fills.ShouldAllBe(f => f.Fill.ClientOrderId.Value == strategy.ExitOrder);
        IbPosition(tws).ShouldBe(0m, "the position at IB was reversed");
        db.Scalar<long>("SELECT COUNT(*) FROM decisions WHERE kind='ExitEscalation'").ShouldBe(2);
    }
}

/// <summary>Buys once, protects the position with a stop far below, and exits it at the market on the first bar after <see cref="ExitRequested"/>.</summary>
internal sealed class ExitOnRequestStrategy(string symbol, decimal quantity) : IStrategy
{
    private ClientOrderId? _entry;
    private ClientOrderId? _stop;
    private string? _decision;
    private volatile string? _exit;
    private volatile bool _exitRequested;

    public string Name => "exit-on-request";

    public IReadOnlyCollection<string> Symbols => [symbol];

    /// <summary>Set by the test: exit on the next bar.</summary>
    public bool ExitRequested
    {
        get => _exitRequested;
        set => _exitRequested = value;
    }

    /// <summary>The exit's client order id, once sent.</summary>
    public string? ExitOrder => _exit;

    /// <summary>Every event the strategy was told about its exit.</summary>
    public ConcurrentQueue<OrderEvent> ExitEvents { get; } = new();

    public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
    {
        if (_exit is not null && orderEvent.ClientOrderId.Value == _exit)
        {
            ExitEvents.Enqueue(orderEvent);
            return;
        }

        if (orderEvent.ClientOrderId != _entry)
        {
            return;
        }

        if (orderEvent is OrderRejected or OrderDenied)
        {
            _entry = null;
        }
        else if (orderEvent is OrderFilled { LeavesQuantity: 0m } f && _stop is null)
        {
            _stop = context.Submit(_decision!, symbol, OrderSide.Sell, quantity, OrderType.Stop, null, Math.Round(f.Fill.Price * 0.5m, 2), OrderPurpose.ProtectiveStop, orderEvent.EventTimeUtc);
        }
    }

    public void OnBar(Bar bar, IStrategyContext context)
    {
        if (_stop is { } stop && _exit is null && _exitRequested)
        {
            var d = context.Decide(symbol, DecisionKind.ExitOnTurn, DecisionOutcome.Taken, "test: exit on request", new Dictionary<string, string>(), bar.CloseTimeUtc);
            context.Cancel(d, stop, "test: exit");
            _exit = context.Submit(d, symbol, OrderSide.Sell, quantity, OrderType.Market, null, null, OrderPurpose.Exit, bar.CloseTimeUtc).Value;
            return;
        }

        if (_entry is not null || !context.IsMarketOpen(symbol, bar.CloseTimeUtc))
        {
            return;
        }

        _decision = context.Decide(symbol, DecisionKind.Entry, DecisionOutcome.Taken, "test: a protected position", new Dictionary<string, string>(), bar.CloseTimeUtc);
        _entry = context.Submit(_decision, symbol, OrderSide.Buy, quantity, OrderType.Market, null, null, OrderPurpose.Entry, bar.CloseTimeUtc);
    }
}
