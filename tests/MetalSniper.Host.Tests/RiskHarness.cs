using System.Collections.Concurrent;
using System.Diagnostics;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Strategies;
using Microsoft.Extensions.DependencyInjection;

namespace MetalSniper.Host.Tests;

/// <summary>The real simulated gateway with a tap: records every order that reaches it and when (wall clock).</summary>
internal sealed class TappedGateway(IBarMatchingGateway inner) : IBarMatchingGateway
{
    public ConcurrentQueue<(SubmitOrder Order, long Timestamp)> Submitted { get; } = new();

    public ConcurrentQueue<(CancelOrder Cancel, long Timestamp)> Cancelled { get; } = new();

    public string Name => inner.Name;

    public System.Threading.Channels.ChannelReader<OrderEvent> Events => inner.Events;

    public (int PerSecond, int ReservedForRisk)? MessageLimit { get; init; }

    public ValueTask SubmitAsync(SubmitOrder order, CancellationToken cancellationToken)
    {
        Submitted.Enqueue((order, Stopwatch.GetTimestamp()));
        return inner.SubmitAsync(order, cancellationToken);
    }

    public ValueTask CancelAsync(CancelOrder cancel, CancellationToken cancellationToken)
    {
        Cancelled.Enqueue((cancel, Stopwatch.GetTimestamp()));
        return inner.CancelAsync(cancel, cancellationToken);
    }

    public ValueTask ModifyAsync(ModifyOrder modify, CancellationToken cancellationToken) => inner.ModifyAsync(modify, cancellationToken);

    public void OnBar(Bar bar) => inner.OnBar(bar);

    public void FlushRecords() => inner.FlushRecords();

    public Task<IReadOnlyList<BrokerOrder>> GetOpenOrdersAsync(CancellationToken cancellationToken) => inner.GetOpenOrdersAsync(cancellationToken);

    public Task<IReadOnlyList<BrokerPosition>> GetPositionsAsync(CancellationToken cancellationToken) => inner.GetPositionsAsync(cancellationToken);

    /// <summary>Replaces the host's gateway registration with a tap around it.</summary>
    public static void Install(IServiceCollection services, Action<TappedGateway> created, Func<IBarMatchingGateway, TappedGateway>? make = null)
    {
        var original = services.Last(d => d.ServiceType == typeof(IOrderGateway));
        services.Remove(original);
        services.AddSingleton<IOrderGateway>(sp =>
        {
            var inner = (IBarMatchingGateway)original.ImplementationFactory!(sp);
            var tap = make?.Invoke(inner) ?? new TappedGateway(inner);
            created(tap);
            return tap;
        });
    }
}

/// <summary>A strategy that buys once and then blocks the brain on its next bar until released: the frozen brain.</summary>
internal sealed class FreezingStrategy(string symbol, decimal quantity) : IStrategy
{
    private bool _submitted;
    private bool _filled;

    public ManualResetEventSlim Frozen { get; } = new();

    public ManualResetEventSlim Release { get; } = new();

    public string Name => "freezer";

    public IReadOnlyCollection<string> Symbols => [symbol];

    /// <summary>Orders of ours the gates or the broker refused (the strategy tries again on the next bar).</summary>
    public int Refused { get; private set; }

    public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
    {
        _filled |= orderEvent is OrderFilled;
        if (orderEvent is OrderRejected or OrderDenied && !_filled)
        {
            // A gate can refuse the first try (a quote gone stale while the feed ran ahead at start-up): try again.
            Refused++;
            _submitted = false;
        }
    }

    public void OnBar(Bar bar, IStrategyContext context)
    {
        if (!_submitted && context.IsMarketOpen(symbol, bar.CloseTimeUtc))
        {
            _submitted = true;
            var d = context.Decide(symbol, DecisionKind.Entry, DecisionOutcome.Taken, "test: open a position, then freeze", new Dictionary<string, string>(), bar.CloseTimeUtc);
            context.Submit(d, symbol, OrderSide.Buy, quantity, OrderType.Market, null, null, OrderPurpose.Entry, bar.CloseTimeUtc);
            return;
        }

        if (_filled && !Frozen.IsSet)
        {
            Frozen.Set();
            Release.Wait(TimeSpan.FromSeconds(60));
        }
    }
}

/// <summary>A strategy that places a burst of resting entry orders on its first open bar (far enough from the market not to fill).</summary>
internal sealed class BurstStrategy(string symbol, int orders) : IStrategy
{
    private bool _done;

    public string Name => "burst";

    public IReadOnlyCollection<string> Symbols => [symbol];

    public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
    {
    }

    public void OnBar(Bar bar, IStrategyContext context)
    {
        if (_done || !context.IsMarketOpen(symbol, bar.CloseTimeUtc))
        {
            return;
        }

        _done = true;
        for (var i = 0; i < orders; i++)
        {
            var d = context.Decide(symbol, DecisionKind.Entry, DecisionOutcome.Taken, $"test: resting entry {i}", new Dictionary<string, string>(), bar.CloseTimeUtc);
            context.Submit(d, symbol, OrderSide.Buy, 1m, OrderType.Limit, Math.Round(bar.Close * 0.97m, 2), null, OrderPurpose.Entry, bar.CloseTimeUtc);
        }
    }
}
