using Dapper;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Operator;
using MetalSniper.Strategies;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>The real simulated gateway whose link can be declared down: then it refuses every submission (the broker-link gate asks it), as IB in DATA_ONLY does.</summary>
internal sealed class SwitchableLinkGateway(IBarMatchingGateway inner) : IBarMatchingGateway
{
    private volatile string? _down;

    public System.Collections.Concurrent.ConcurrentQueue<CancelOrder> Cancels { get; } = new();

    public System.Collections.Concurrent.ConcurrentQueue<SubmitOrder> Submitted { get; } = new();

    /// <summary>Why the link is down; null: up.</summary>
    public string? Down
    {
        get => _down;
        set => _down = value;
    }

    public string Name => inner.Name;

    public System.Threading.Channels.ChannelReader<OrderEvent> Events => inner.Events;

    public (int PerSecond, int ReservedForRisk)? MessageLimit => inner.MessageLimit;

    public string? SubmissionBlocked(SubmitOrder order, DateTimeOffset nowUtc) => _down ?? inner.SubmissionBlocked(order, nowUtc);

    public ValueTask SubmitAsync(SubmitOrder order, CancellationToken cancellationToken)
    {
        Submitted.Enqueue(order);
        return inner.SubmitAsync(order, cancellationToken);
    }

    public ValueTask CancelAsync(CancelOrder cancel, CancellationToken cancellationToken)
    {
        Cancels.Enqueue(cancel);
        return inner.CancelAsync(cancel, cancellationToken);
    }

    public ValueTask ModifyAsync(ModifyOrder modify, CancellationToken cancellationToken) => inner.ModifyAsync(modify, cancellationToken);

    public void OnBar(Bar bar) => inner.OnBar(bar);

    public void FlushRecords() => inner.FlushRecords();

    public Task<IReadOnlyList<BrokerOrder>> GetOpenOrdersAsync(CancellationToken cancellationToken) => inner.GetOpenOrdersAsync(cancellationToken);

    public Task<IReadOnlyList<BrokerPosition>> GetPositionsAsync(CancellationToken cancellationToken) => inner.GetPositionsAsync(cancellationToken);
}

/// <summary>Buys once on its first open bar; once filled, protects the position with a stop far below; then does nothing.</summary>
internal sealed class ProtectedEntryStrategy(string symbol, decimal quantity) : IStrategy
{
    private ClientOrderId? _entry;
    private string? _decision;
    private bool _protected;

    public string Name => "protected-entry";

    public IReadOnlyCollection<string> Symbols => [symbol];

    public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
    {
        if (orderEvent.ClientOrderId != _entry)
        {
            return;
        }

        if (orderEvent is OrderRejected or OrderDenied)
        {
            _entry = null; // refused before it filled (a stale quote at start-up): try again on the next bar
        }
        else if (orderEvent is OrderFilled { Fill: var fill } && !_protected)
        {
            _protected = true;
            context.Submit(_decision!, symbol, OrderSide.Sell, quantity, OrderType.Stop, null, Math.Round(fill.Price * 0.5m, 2), OrderPurpose.ProtectiveStop, orderEvent.EventTimeUtc);
        }
    }

    public void OnBar(Bar bar, IStrategyContext context)
    {
        if (_entry is not null || _protected || !context.IsMarketOpen(symbol, bar.CloseTimeUtc))
        {
            return;
        }

        _decision = context.Decide(symbol, DecisionKind.Entry, DecisionOutcome.Taken, "test: a protected position", new Dictionary<string, string>(), bar.CloseTimeUtc);
        _entry = context.Submit(_decision, symbol, OrderSide.Buy, quantity, OrderType.Market, null, null, OrderPurpose.Entry, bar.CloseTimeUtc);
    }
}

/// <summary>
/// Issue 18 items 4 and 3 through the whole service on the simulated broker with real SQLite: at L2 while the broker link
/// is down every flatten is refused; the sentinel backs off instead of re-issuing it every sweep, and the protective stop
/// stays in place until a flatten can actually leave.
/// </summary>
public sealed class RefusedFlattenTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public async Task RefusedFlattenAtL2_BacksOffToABoundedNumberOfRowsAndLogLines_KeepsTheStop_ThenFlattensWhenTheLinkIsBack()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["ServicePaceBarsPerSecond"] = 5;
            j["MarketData"]!["Replay"]!["ServiceScheduler"] = "Threaded"; // the live pipeline's threads and independent sentinel, on recorded data
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-02T12:00:00Z";
            j["Risk"]!["DailyLossLimit"] = 100000;
            j["Risk"]!["RapidLossAmount"] = 0;
            j["Risk"]!["WatchdogTrailFraction"] = 0;
            j["Risk"]!["SweepIntervalMilliseconds"] = 50;
            j["Risk"]!["FlattenRetryMaxDelay"] = "00:00:02";
            j["Risk"]!["Breakers"]!["Enabled"] = false;
        });
        var strategy = new ProtectedEntryStrategy("XAUUSD", 20m);
        SwitchableLinkGateway? gateway = null;
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Fatal)
        {
            ConfigureServices = s =>
            {
                s.AddSingleton<IReadOnlyList<IStrategy>>([strategy]);
                var original = s.Last(d => d.ServiceType == typeof(IOrderGateway));
                s.Remove(original);
                s.AddSingleton<IOrderGateway>(sp => gateway = new SwitchableLinkGateway((IBarMatchingGateway)original.ImplementationFactory!(sp)));
            },
        };
        var db = new HostDatabase(_env.DatabasePath);
        var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        await host.StartAsync(CancellationToken.None);
        string stopId;
        var refusedFor = TimeSpan.FromSeconds(15);
        try
        {
            await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE purpose='ProtectiveStop' AND status='Working'") == 1
                && db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE purpose='Entry' AND status='Filled'") == 1, "a filled entry with its working stop", TimeSpan.FromSeconds(30));
            stopId = db.Scalar<string>("SELECT client_order_id FROM orders WHERE purpose='ProtectiveStop'");

            // The link goes down, then the operator kills at L2: every flatten is refused for a while.
            gateway!.Down = "link down (test): DATA_ONLY";
            host.Services.GetRequiredService<OperatorConsole>().Kill(2, "test: flatten while the link is down", "test").Ok.ShouldBeTrue();
            await Task.Delay(refusedFor);

            var refused = db.Scalar<long>("SELECT COUNT(*) FROM orders WHERE purpose='RiskFlatten' AND status='Denied'");
            var denials = db.Scalar<long>("SELECT COUNT(*) FROM gate_denials");
            output.WriteLine($"{refused} refused flattens and {denials} gate denials in {refusedFor.TotalSeconds} s of 50 ms sweeps");
            // Back-off 50 ms doubling to 2 s: attempts at 0, .05, .15, .35, .75, 1.55, 3.15 s, then every 2 s: 12 in 15 s
            // (it was one per sweep and per refusal: hundreds to thousands).
            refused.ShouldBeInRange(8, 14);
            denials.ShouldBe(refused);

            // Nothing left: the stop was never cancelled, it still protects the position.
            gateway.Cancels.Where(c => c.ClientOrderId.Value == stopId).ShouldBeEmpty("the stop was cancelled though no flatten could leave");
            db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stopId }).ShouldBe("Working");
            gateway.Submitted.ShouldNotContain(o => o.Purpose == OrderPurpose.RiskFlatten);

            // The link is back: the next attempt cancels the stop, then the flatten leaves and fills.
            gateway.Down = null;
            await Eventually.Until(() => db.Positions().GetValueOrDefault("XAUUSD") == 0m, "the position flattened once the link was back", TimeSpan.FromSeconds(30));
            db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stopId }).ShouldBe("Cancelled");
            gateway.Cancels.Count(c => c.ClientOrderId.Value == stopId).ShouldBe(1, "the stop's cancel was sent more than once");
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }

        // One log line per attempt, not per sweep: the execution side's refusal and the sentinel's retry count.
        var log = string.Join("\n", Directory.GetFiles(Path.Combine(_env.Directory.FullName, "log")).Select(File.ReadAllText));
        var refusedLines = log.Split('\n').Count(l => l.Contains("was refused, its instrument's working orders kept", StringComparison.Ordinal));
        var retryLines = log.Split('\n').Count(l => l.Contains("earlier attempt(s) left the position unchanged", StringComparison.Ordinal));
        output.WriteLine($"log: {refusedLines} refusal lines, {retryLines} retry lines");
        refusedLines.ShouldBeInRange(8, 14);
        retryLines.ShouldBeInRange(7, 15);
    }
}
