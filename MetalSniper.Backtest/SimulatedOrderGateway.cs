using System.Globalization;
using System.Threading.Channels;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Costs;

namespace MetalSniper.Backtest;



/// <summary>
/// A simulated broker that fills orders from bars. The fill model:
/// <list type="bullet">
/// <item>No look-ahead: an order is matched only against bars that open at or after its
/// <see cref="SubmitOrder.DecisionTimeUtc"/> (a decision on bar t fills on bar t+1 or later).</item>
/// <item>Bar prices are treated as mid prices. Buys pay half the spread, sells receive half the
/// spread; the spread is the bar's own (<c>spread_points</c>) or the configured default.</item>
/// <item>Market orders fill at the open of the next bar ± half spread ± slippage.</item>
/// <item>At-the-open orders (<see cref="TimeInForce.AtTheOpen"/>, IB OPG) are matched only against the first bar of their
/// symbol opening at or after the decision: the market-hours gate lets them out only while the venue is closed, so that is
/// the first bar of the next session, and its open is the opening auction's price. A market-on-open order fills there like
/// a market order (half spread, slippage); a limit-on-open fills at the open when the open is at or better than its limit,
/// otherwise it is cancelled (IB cancels an OPG order the auction did not fill). A stop cannot be at the open.</item>
/// <item>Stop orders trigger when the bar trades through the stop; a bar that opens beyond the stop
/// (a gap) fills at the open, not at the stop; then half spread and slippage are added.</item>
/// <item>Limit orders fill at the limit or better (the open when it is better), half spread included, no slippage.</item>
/// <item>No fill is ever outside the bar's [low, high]: costs that would push a price past the
/// envelope are capped at it.</item>
/// <item>IB-like commissions: rate × notional with a per-order minimum, in the instrument currency.</item>
/// <item>Orders fill completely (the metals files carry no traded volume to size partial fills).</item>
/// </list>
/// It keeps its own position book (the broker side), separate from ours, for reconciliation.
/// Not thread-safe: driven by the execution service's single loop.
/// </summary>
public sealed class SimulatedOrderGateway : IBarMatchingGateway
{
    private readonly IInstrumentCatalog _instruments;
    private readonly IReadOnlyDictionary<string, CostModel> _costs;
    private readonly int _slippageTicks;
    private readonly TimeProvider _clock;
    private readonly Channel<OrderEvent> _events = Channel.CreateUnbounded<OrderEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly List<WorkingOrder> _working = [];
    private readonly HashSet<ClientOrderId> _seen = [];
    private readonly PositionBook _book;
    private readonly string _executionPrefix;
    private long _executionSequence;
    private decimal _costsCappedByEnvelope;
    private long _fillsCappedByEnvelope;

    /// <summary>Creates the simulated broker.</summary>
    /// <param name="instruments">Instrument catalog.</param>
    /// <param name="costs">Cost model per symbol; an instrument without one is rejected at submission.</param>
    /// <param name="slippageTicks">Adverse slippage in ticks on market and stop fills (≥ 0).</param>
    /// <param name="clock">Clock for receive times.</param>
    /// <param name="executionIdPrefix">Prefix of execution ids, unique per broker session (the run id), so ids never repeat across runs.</param>
    /// <param name="baseCurrency">The simulated account's base currency (<c>Account:BaseCurrency</c>).</param>
    public SimulatedOrderGateway(IInstrumentCatalog instruments, IReadOnlyDictionary<string, CostModel> costs, int slippageTicks, TimeProvider clock, string executionIdPrefix, Currency baseCurrency)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(executionIdPrefix);
        _executionPrefix = executionIdPrefix;
        ArgumentOutOfRangeException.ThrowIfNegative(slippageTicks);
        _instruments = instruments;
        _costs = costs;
        _slippageTicks = slippageTicks;
        _clock = clock;
        _book = new PositionBook(instruments, baseCurrency);
    }

    /// <inheritdoc />
    public string Name => "simulated";

    /// <inheritdoc />
    public ChannelReader<OrderEvent> Events => _events.Reader;

    /// <summary>
    /// Spread and slippage that could not be charged because the fill price was capped at the bar's
    /// high/low, in instrument currency (summed over instruments; all USD for metals). An optimistic
    /// bias of the fill model, reported rather than hidden.
    /// </summary>
    public decimal CostsCappedByEnvelope => _costsCappedByEnvelope;

    /// <summary>Fills whose price was capped at the bar's high/low.</summary>
    public long FillsCappedByEnvelope => _fillsCappedByEnvelope;

    /// <summary>Executions so far (the number in the newest execution id).</summary>
    public long ExecutionSequence => _executionSequence;

    /// <summary>
    /// Restores the broker's own state from its records (crash recovery of a persisted simulated broker): every
    /// client order id it ever accepted, the orders still working, its executions (its positions follow from them)
    /// and the execution counter. Only on a fresh instance.
    /// </summary>
    /// <exception cref="InvalidOperationException">The instance has already been used.</exception>
    public void Restore(IEnumerable<ClientOrderId> seen, IEnumerable<SubmitOrder> working, IEnumerable<Fill> fills, long executionSequence)
    {
        ArgumentNullException.ThrowIfNull(seen);
        ArgumentNullException.ThrowIfNull(working);
        ArgumentNullException.ThrowIfNull(fills);
        if (_seen.Count != 0 || _executionSequence != 0)
        {
            throw new InvalidOperationException("the simulated broker can only be restored before it is used");
        }

        _seen.UnionWith(seen);
        _working.AddRange(working.Select(o => new WorkingOrder(o)));
        foreach (var f in fills)
        {
            _book.Apply(f);
        }

        _executionSequence = executionSequence;
    }

    /// <summary>The broker's own position book (not ours).</summary>
    public IReadOnlyList<PositionSnapshot> BrokerPositions => _book.Snapshot();

    /// <inheritdoc />
    public ValueTask SubmitAsync(SubmitOrder order, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        var now = _clock.GetUtcNow();
        if (!_seen.Add(order.ClientOrderId))
        {
            Emit(new OrderRequestRejected(order.ClientOrderId, "submit", $"duplicate client order id {order.ClientOrderId}: the first order is unchanged", now, now));
            return ValueTask.CompletedTask;
        }

        var problem = Check(order);
        if (problem is not null)
        {
            Emit(new OrderRejected(order.ClientOrderId, problem, now, now));
            return ValueTask.CompletedTask;
        }

        _working.Add(new WorkingOrder(order));
        Emit(new OrderAccepted(order.ClientOrderId, "SIM-" + order.ClientOrderId.Value, now, now));
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask CancelAsync(CancelOrder cancel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cancel);
        var i = _working.FindIndex(w => w.Order.ClientOrderId == cancel.ClientOrderId);
        if (i >= 0)
        {
            _working.RemoveAt(i);
            var now = _clock.GetUtcNow();
            Emit(new OrderCancelled(cancel.ClientOrderId, cancel.Reason, now, now));
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ModifyAsync(ModifyOrder modify, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modify);
        var w = _working.Find(x => x.Order.ClientOrderId == modify.ClientOrderId);
        var now = _clock.GetUtcNow();
        if (w is null)
        {
            Emit(new OrderRequestRejected(modify.ClientOrderId, "modify", "the order is not working", now, now));
            return ValueTask.CompletedTask;
        }

        var changed = w.Order with
        {
            StopPrice = modify.NewStopPrice ?? w.Order.StopPrice,
            LimitPrice = modify.NewLimitPrice ?? w.Order.LimitPrice,
            Quantity = modify.NewQuantity ?? w.Order.Quantity,
        };
        var problem = Check(changed);
        if (problem is not null)
        {
            Emit(new OrderRequestRejected(modify.ClientOrderId, "modify", problem, now, now));
            return ValueTask.CompletedTask;
        }

        w.Order = changed;
        Emit(new OrderModified(changed.ClientOrderId, changed.StopPrice, changed.LimitPrice, changed.Quantity, now, now));
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<BrokerPosition>> GetPositionsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<BrokerPosition>>(_book.Snapshot().Where(p => !p.IsFlat).Select(p => new BrokerPosition(p.Symbol, p.Quantity, p.AveragePrice)).ToArray());

    /// <inheritdoc />
    public Task<IReadOnlyList<BrokerOrder>> GetOpenOrdersAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<BrokerOrder>>(_working.Select(w => new BrokerOrder(w.Order.ClientOrderId, w.Order.Symbol, w.Order.Side, w.Order.Quantity, 0m, w.Order.Type, w.Order.LimitPrice, w.Order.StopPrice, OrderStatus.Working)).ToArray());

    /// <inheritdoc />
    /// <remarks>The fill model keeps nothing outside memory: nothing to flush.</remarks>
    public void FlushRecords()
    {
    }

    /// <inheritdoc />
    public void OnBar(Bar bar)
    {
        ArgumentNullException.ThrowIfNull(bar);
        if (_working.Count == 0)
        {
            return;
        }

        List<(WorkingOrder Order, decimal Trigger)>? triggered = null;
        List<WorkingOrder>? missedTheOpen = null;
        foreach (var w in _working)
        {
            var o = w.Order;
            if (o.Symbol != bar.Symbol || bar.OpenTimeUtc < o.DecisionTimeUtc)
            {
                continue; // other instrument, or a bar that was already under way when the order was decided
            }

            if (o.TimeInForce == TimeInForce.AtTheOpen)
            {
                // The opening auction: this bar's open, or never.
                var marketable = o.Type == OrderType.Market || (o.Side == OrderSide.Buy ? bar.Open <= o.LimitPrice : bar.Open >= o.LimitPrice);
                if (marketable)
                {
                    (triggered ??= []).Add((w, bar.Open));
                }
                else
                {
                    (missedTheOpen ??= []).Add(w);
                }

                continue;
            }

            if (TryTrigger(o, bar, out var reference))
            {
                (triggered ??= []).Add((w, reference));
            }
        }

        if (missedTheOpen is not null)
        {
            var now = _clock.GetUtcNow();
            foreach (var w in missedTheOpen)
            {
                _working.Remove(w);
                Emit(new OrderCancelled(w.Order.ClientOrderId, string.Create(CultureInfo.InvariantCulture,
                    $"limit-on-open {w.Order.Side} {w.Order.LimitPrice} not marketable at the open {bar.Open} of {bar.Symbol} ({bar.OpenTimeUtc:O}): cancelled, as IB cancels an unfilled OPG order"), now, now));
            }
        }

        if (triggered is null)
        {
            return;
        }

        // Inside one bar the path is unknown: take the order whose trigger is nearest the open first.
        triggered.Sort((a, b) => Math.Abs(a.Trigger - bar.Open).CompareTo(Math.Abs(b.Trigger - bar.Open)));
        foreach (var (w, reference) in triggered)
        {
            _working.Remove(w);
            Fill(w.Order, bar, reference);
        }
    }

    private static bool TryTrigger(SubmitOrder o, Bar bar, out decimal reference) =>
        BarTriggers.TryTrigger(o.Type, o.Side, o.LimitPrice, o.StopPrice, bar, out reference);

    private void Fill(SubmitOrder o, Bar bar, decimal reference)
    {
        var instrument = _instruments.Get(o.Symbol);
        var cost = _costs[o.Symbol];
        var halfSpread = (bar.Spread ?? cost.DefaultSpread) / 2m;
        var slippage = o.Type == OrderType.Limit ? 0m : _slippageTicks * instrument.TickSize;
        var sign = o.Side.Sign();
        var price = reference + (sign * (halfSpread + slippage));
        if (o.Type == OrderType.Limit)
        {
            // A limit never fills worse than its limit.
            price = o.Side == OrderSide.Buy ? Math.Min(price, o.LimitPrice!.Value) : Math.Max(price, o.LimitPrice!.Value);
        }

        var uncapped = instrument.RoundToTick(price);
        price = Math.Clamp(uncapped, bar.Low, bar.High);
        if (price != uncapped)
        {
            _fillsCappedByEnvelope++;
            _costsCappedByEnvelope += Math.Abs(uncapped - price) * o.Quantity * instrument.Multiplier;
        }

        var notional = price * o.Quantity * instrument.Multiplier;
        var commission = Math.Round(Math.Max(cost.MinimumCommission, notional * cost.CommissionRate), 2, MidpointRounding.AwayFromZero);
        var now = _clock.GetUtcNow();
        var executionId = string.Create(CultureInfo.InvariantCulture, $"{_executionPrefix}-X{++_executionSequence:D8}");
        var fill = new Fill(executionId, o.ClientOrderId, o.Symbol, o.Side, o.Quantity, price, new Core.Money.Money(commission, instrument.Currency), bar.OpenTimeUtc);
        _book.Apply(fill);
        Emit(new OrderFilled(o.ClientOrderId, fill, 0m, bar.OpenTimeUtc, now));
    }

    private string? Check(SubmitOrder order)
    {
        if (!_instruments.TryGet(order.Symbol, out var instrument))
        {
            return $"unknown instrument {order.Symbol}";
        }

        if (!_costs.ContainsKey(order.Symbol))
        {
            return $"no cost model configured for {order.Symbol}";
        }

        try
        {
            order.EnsureValid();
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }

        if (order.TimeInForce == TimeInForce.AtTheOpen && order.Type == OrderType.Stop)
        {
            return $"a stop order cannot be for the opening auction (time in force {order.TimeInForce}): market or limit only";
        }

        if (order.Quantity < instrument.MinimumQuantity || order.Quantity % instrument.QuantityStep != 0m)
        {
            return $"quantity {order.Quantity} is below the minimum {instrument.MinimumQuantity} or not a multiple of {instrument.QuantityStep}";
        }

        return null;
    }

    private void Emit(OrderEvent e)
    {
        if (!_events.Writer.TryWrite(e))
        {
            throw new InvalidOperationException("simulated broker event channel is closed");
        }
    }

    private sealed class WorkingOrder(SubmitOrder order)
    {
        public SubmitOrder Order { get; set; } = order;
    }
}
