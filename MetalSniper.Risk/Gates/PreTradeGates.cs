using System.Globalization;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;

namespace MetalSniper.Risk.Gates;



/// <summary>What a gate sees about an order at the moment it would leave.</summary>
/// <param name="Order">The order.</param>
/// <param name="Instrument">Its instrument.</param>
/// <param name="Position">Our current position in the instrument.</param>
/// <param name="ProtectiveStops">Working stop orders that reduce the position: (stop price, quantity).</param>
/// <param name="ExitCostPerUnit">Expected exit cost per unit in price units (half spread + slippage + commission per unit).</param>
/// <param name="NowUtc">Clock time (the replay clock in replay).</param>
/// <param name="WorkingReduceQuantity">Quantity of exit and flatten orders already working against the position (unconditional: market and limit), which the position will lose when they fill.</param>
public sealed record PreTradeContext(
    SubmitOrder Order,
    Instrument Instrument,
    PositionSnapshot Position,
    IReadOnlyList<(decimal StopPrice, decimal Quantity)> ProtectiveStops,
    decimal ExitCostPerUnit,
    DateTimeOffset NowUtc,
    decimal WorkingReduceQuantity = 0m)
{
    /// <summary>The latest quote of the instrument (bid/ask in major units of its currency), null when none has arrived.</summary>
    public Quote? Quote { get; init; }

    /// <summary>Every position of the book (for exposure and open-position counts).</summary>
    public IReadOnlyList<PositionSnapshot> Book { get; init; } = [];

    /// <summary>Latest price per symbol (major units of the instrument currency), for notionals.</summary>
    public IReadOnlyDictionary<string, decimal> Marks { get; init; } = new Dictionary<string, decimal>();

    /// <summary>Working entry and add orders per symbol, signed quantity (buy &gt; 0): exposure that may still open.</summary>
    public IReadOnlyDictionary<string, decimal> WorkingEntryQuantity { get; init; } = new Dictionary<string, decimal>();

    /// <summary>True when the order reduces the current position (opposite side, no larger than it).</summary>
    public bool Reduces => Position.Quantity != 0m && Order.Side.Sign() == -Math.Sign(Position.Quantity) && Order.Quantity <= Math.Abs(Position.Quantity);

    /// <summary>True for orders that open or increase risk (entries and adds).</summary>
    public bool OpensRisk => Order.Purpose is OrderPurpose.Entry or OrderPurpose.Add;
}

/// <summary>A hard pre-trade rule, enforced where orders leave (in front of the gateway), never inside a strategy.</summary>
public interface IPreTradeGate
{
    /// <summary>The gate's name, for denials and counters.</summary>
    string Name { get; }

    /// <summary>Returns null to pass, or the denial.</summary>
    GateDenial? Check(PreTradeContext context);

    /// <summary>Told when the order passed every gate and leaves (rate and duplicate gates count it here, never on a denied order).</summary>
    void OnSent(PreTradeContext context)
    {
    }
}

/// <summary>
/// The locked-profit rule where orders leave: an add is allowed only when the existing
/// position's protective stops lock in profit net of exit costs (see <see cref="LockedProfitRule"/>).
/// </summary>
public sealed class LockedProfitGate : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "locked-profit";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Order.Purpose != OrderPurpose.Add)
        {
            return null;
        }

        var p = context.Position;
        if (p.IsFlat || Math.Sign(p.Quantity) != context.Order.Side.Sign())
        {
            return new GateDenial(Name, DenyReason.AddWithoutPosition, string.Create(CultureInfo.InvariantCulture, $"add {context.Order.Side} {context.Order.Quantity} needs a position in the same direction, position is {p.Quantity}"));
        }

        var locked = LockedProfitRule.LockedPnl(p, context.ProtectiveStops, context.ExitCostPerUnit, context.Instrument.Multiplier);
        if (locked is > 0m)
        {
            return null;
        }

        var stops = string.Join(", ", context.ProtectiveStops.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Quantity}@{s.StopPrice}")));
        var detail = locked is null
            ? string.Create(CultureInfo.InvariantCulture, $"position {p.Quantity} @ {p.AveragePrice} is not fully covered by stops [{stops}]")
            : string.Create(CultureInfo.InvariantCulture, $"stops [{stops}] lock {locked:0.00} {p.Currency} ≤ 0 net of exit cost {context.ExitCostPerUnit}/unit on {p.Quantity} @ {p.AveragePrice}");
        return new GateDenial(Name, DenyReason.LockedProfitNotMet, detail);
    }
}

/// <summary>
/// Exits and risk flattens are reduce-only: they may not increase or flip the position, counting
/// the exits already working (two exits racing for one position would otherwise overfill it).
/// </summary>
public sealed class ReduceOnlyGate : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "reduce-only";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = context.Order;
        if (o.Purpose is not (OrderPurpose.Exit or OrderPurpose.RiskFlatten))
        {
            return null;
        }

        var q = context.Position.Quantity;
        var room = Math.Abs(q) - context.WorkingReduceQuantity;
        var reduces = q != 0m && Math.Sign(q) == -o.Side.Sign() && o.Quantity <= room;
        return reduces ? null : new GateDenial(Name, DenyReason.ReduceOnlyViolation,
            string.Create(CultureInfo.InvariantCulture, $"{o.Purpose} {o.Side} {o.Quantity} would not reduce position {q} (exits already working: {context.WorkingReduceQuantity})"));
    }
}

/// <summary>Runs the gates in order; the first denial wins. Counts denials by reason. Thread-safe counters.</summary>
public sealed class PreTradeGatePipeline(IEnumerable<IPreTradeGate> gates)
{
    private readonly IPreTradeGate[] _gates = gates.ToArray();
    private readonly long[] _denials = new long[Enum.GetValues<DenyReason>().Length];

    /// <summary>The gates, in order.</summary>
    public IReadOnlyList<IPreTradeGate> Gates => _gates;

    /// <summary>Evaluates every gate in order; when all pass, tells each gate the order leaves.</summary>
    public GateDenial? Evaluate(PreTradeContext context)
    {
        foreach (var gate in _gates)
        {
            var denial = gate.Check(context);
            if (denial is not null)
            {
                Interlocked.Increment(ref _denials[(int)denial.Reason]);
                return denial;
            }
        }

        foreach (var gate in _gates)
        {
            gate.OnSent(context);
        }

        return null;
    }

    /// <summary>
    /// Asks every gate in order without sending anything (no gate is told the order leaves): whether the order could leave
    /// now. A denial is counted like one of <see cref="Evaluate"/>.
    /// </summary>
    public GateDenial? Check(PreTradeContext context)
    {
        foreach (var gate in _gates)
        {
            var denial = gate.Check(context);
            if (denial is not null)
            {
                Interlocked.Increment(ref _denials[(int)denial.Reason]);
                return denial;
            }
        }

        return null;
    }

    /// <summary>Non-zero denial counts by reason.</summary>
    public IReadOnlyDictionary<DenyReason, long> DenialsByReason() =>
        Enum.GetValues<DenyReason>().Where(r => Interlocked.Read(ref _denials[(int)r]) > 0).ToDictionary(r => r, r => Interlocked.Read(ref _denials[(int)r]));
}
