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
/// <item>Partial fills (off unless <c>maxVolumeParticipation</c> is set): an order fills at most that fraction of the bar's
/// <see cref="Bar.Volume"/>, shared by all of the symbol's orders that trigger on the bar (nearest the open first), rounded
/// down to the instrument's quantity step; the rest stays working to the next bar(s), a triggered stop and a market order
/// as market orders at the next open, a limit at its limit. A bar without volume (0: unknown) caps nothing. The volume is
/// taken as instrument units: for MT5 tick volume (a count of price updates, not traded size) the cap is a heuristic of
/// liquidity, not a measured one, and the recorded 15-minute metals files carry no volume at all. Each partial is an
/// execution of its own; the per-order minimum commission is charged once per order (the first executions pay up to it,
/// later ones only the rate), as IB charges it.</item>
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
    private readonly decimal? _maxVolumeParticipation;

    /// <summary>Creates the simulated broker.</summary>
    /// <param name="instruments">Instrument catalog.</param>
    /// <param name="costs">Cost model per symbol; an instrument without one is rejected at submission.</param>
    /// <param name="slippageTicks">Adverse slippage in ticks on market and stop fills (≥ 0).</param>
    /// <param name="clock">Clock for receive times.</param>
    /// <param name="executionIdPrefix">Prefix of execution ids, unique per broker session (the run id), so ids never repeat across runs.</param>
    /// <param name="baseCurrency">The simulated account's base currency (<c>Account:BaseCurrency</c>).</param>
    /// <param name="maxVolumeParticipation">
    /// The largest fraction (0, 1] of a bar's volume the orders of its symbol may fill on that bar, or null for complete fills
    /// (<c>SimulatedBroker:MaxVolumeParticipation</c>). See the class remarks for what the volume of the recorded data means.
    /// </param>
    public SimulatedOrderGateway(IInstrumentCatalog instruments, IReadOnlyDictionary<string, CostModel> costs, int slippageTicks, TimeProvider clock, string executionIdPrefix, Currency baseCurrency,
        decimal? maxVolumeParticipation = null)
    {
        if (maxVolumeParticipation is { } participation && (participation <= 0m || participation > 1m))
        {
            throw new ArgumentOutOfRangeException(nameof(maxVolumeParticipation), participation, "the volume participation must be in (0, 1], or null for complete fills");
        }

        _maxVolumeParticipation = maxVolumeParticipation;
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
        var filled = new Dictionary<ClientOrderId, (decimal Quantity, decimal Notional, decimal Commission)>();
        foreach (var f in fills)
        {
            _book.Apply(f);
            var sum = filled.GetValueOrDefault(f.ClientOrderId);
            filled[f.ClientOrderId] = (sum.Quantity + f.Quantity, sum.Notional + (f.Price * f.Quantity * _instruments.Get(f.Symbol).Multiplier), sum.Commission + f.Commission.Amount);
        }

        // A partly filled order resumes with what it filled (and the commission it paid) and works on as a market order if it
        // was one or a triggered stop (a stop fills partly only once triggered).
        _working.AddRange(working.Select(o => filled.TryGetValue(o.ClientOrderId, out var done)
            ? new WorkingOrder(o) { Filled = done.Quantity, Notional = done.Notional, CommissionCharged = done.Commission, Triggered = o.Type == OrderType.Stop }
            : new WorkingOrder(o)));

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
        var problem = changed.Quantity <= w.Filled
            ? string.Create(CultureInfo.InvariantCulture, $"quantity {changed.Quantity} is not above the {w.Filled} already filled")
            : Check(changed);
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
        Task.FromResult<IReadOnlyList<BrokerOrder>>(_working.Select(w => new BrokerOrder(w.Order.ClientOrderId, w.Order.Symbol, w.Order.Side, w.Order.Quantity, w.Filled, w.Order.Type, w.Order.LimitPrice, w.Order.StopPrice,
            w.Filled > 0m ? OrderStatus.PartiallyFilled : OrderStatus.Working)).ToArray());

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

            if (TryTrigger(w, bar, out var reference))
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
        // The bar's volume the symbol's orders may still take on this bar (null: no cap).
        decimal? available = _maxVolumeParticipation is { } participation && bar.Volume > 0m ? participation * bar.Volume : null;
        foreach (var (w, reference) in triggered)
        {
            var remaining = w.Order.Quantity - w.Filled;
            var quantity = remaining;
            if (available is { } room)
            {
                var step = _instruments.Get(w.Order.Symbol).QuantityStep;
                var allowed = step > 0m ? Math.Floor(room / step) * step : room;
                quantity = Math.Min(remaining, allowed);
                if (quantity < remaining && quantity < _instruments.Get(w.Order.Symbol).MinimumQuantity)
                {
                    quantity = 0m;
                }
            }

            if (w.Order.Type == OrderType.Stop)
            {
                w.Triggered = true; // from here on a market order, partly filled or not
            }

            if (quantity <= 0m)
            {
                continue; // the bar's volume is taken: the order works on to the next bar
            }

            available -= quantity;
            w.Filled += quantity;
            if (w.Filled == w.Order.Quantity)
            {
                _working.Remove(w);
            }

            Fill(w, bar, reference, quantity);
        }
    }

    private static bool TryTrigger(WorkingOrder w, Bar bar, out decimal reference)
    {
        var o = w.Order;
        // A stop that triggered on an earlier bar and filled only partly is a market order now: the rest fills at the open.
        return w.Triggered
            ? BarTriggers.TryTrigger(OrderType.Market, o.Side, null, null, bar, out reference)
            : BarTriggers.TryTrigger(o.Type, o.Side, o.LimitPrice, o.StopPrice, bar, out reference);
    }

    private void Fill(WorkingOrder w, Bar bar, decimal reference, decimal quantity)
    {
        var o = w.Order;
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
            _costsCappedByEnvelope += Math.Abs(uncapped - price) * quantity * instrument.Multiplier;
        }

        // The order's commission is max(minimum, rate × its notional so far); each execution pays what that adds (a complete
        // fill: exactly max(minimum, rate × notional)).
        w.Notional += price * quantity * instrument.Multiplier;
        var owed = Math.Round(Math.Max(cost.MinimumCommission, w.Notional * cost.CommissionRate), 2, MidpointRounding.AwayFromZero);
        var commission = Math.Max(0m, owed - w.CommissionCharged);
        w.CommissionCharged += commission;
        var now = _clock.GetUtcNow();
        var executionId = string.Create(CultureInfo.InvariantCulture, $"{_executionPrefix}-X{++_executionSequence:D8}");
        // As of the bar's close: inside a bar the path is unknown, so the fill is knowable only once the bar is complete (its
        // open time would date the fill before anything about it could be known, one bar ahead for whatever keys on it).
        var fill = new Fill(executionId, o.ClientOrderId, o.Symbol, o.Side, quantity, price, new Core.Money.Money(commission, instrument.Currency), bar.CloseTimeUtc);
        _book.Apply(fill);
        Emit(new OrderFilled(o.ClientOrderId, fill, o.Quantity - w.Filled, bar.CloseTimeUtc, now));
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

        /// <summary>Quantity filled so far (instrument units).</summary>
        public decimal Filled { get; set; }

        /// <summary>Notional filled so far (instrument currency), for the per-order minimum commission.</summary>
        public decimal Notional { get; set; }

        /// <summary>Commission charged so far (instrument currency).</summary>
        public decimal CommissionCharged { get; set; }

        /// <summary>A stop that has triggered: its rest fills as a market order.</summary>
        public bool Triggered { get; set; }
    }
}
