using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;

namespace MetalSniper.Core.Positions;

/// <summary>
/// A position in one instrument: signed quantity, average price of the open quantity, realized P&amp;L gross (before
/// commissions and carry), and the commissions and carry paid, all in the instrument currency.
/// </summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Currency">Instrument currency (P&amp;L unit).</param>
/// <param name="Quantity">Signed quantity: + long, − short.</param>
/// <param name="AveragePrice">Average price of the open quantity (0 when flat), major units.</param>
/// <param name="RealizedPnlGross">Cumulative realized P&amp;L gross: before commissions and carry, in <paramref name="Currency"/>.</param>
/// <param name="Commissions">Cumulative commissions, in <paramref name="Currency"/>.</param>
/// <param name="OpenedAtUtc">When the current open quantity was opened (null when flat).</param>
public sealed record PositionSnapshot(
    string Symbol,
    Currency Currency,
    decimal Quantity,
    decimal AveragePrice,
    decimal RealizedPnlGross,
    decimal Commissions,
    DateTimeOffset? OpenedAtUtc)
{
    /// <summary>Cumulative carry (borrow fees and storage, <see cref="Costs.CarryCharge"/>) paid on this instrument, in <see cref="Currency"/> (≥ 0, a cost).</summary>
    public decimal Carry { get; init; }

    /// <summary>Commissions paid on the quantity open now (since it was opened; 0 when flat), in <see cref="Currency"/>.</summary>
    public decimal OpenCommissions { get; init; }

    /// <summary>Carry paid on the quantity open now (since it was opened; 0 when flat), in <see cref="Currency"/>.</summary>
    public decimal OpenCarry { get; init; }

    /// <summary>Realized P&amp;L net: <see cref="RealizedPnlGross"/> − <see cref="Commissions"/> − <see cref="Carry"/> (every cost paid, open quantity not marked).</summary>
    public decimal RealizedPnlNet => RealizedPnlGross - Commissions - Carry;

    /// <summary>True when no quantity is open.</summary>
    public bool IsFlat => Quantity == 0m;

    /// <summary>Unrealized P&amp;L at <paramref name="mark"/>: quantity × (mark − average) × multiplier, in the instrument currency.</summary>
    public decimal Unrealized(decimal mark, decimal multiplier) => Quantity * (mark - AveragePrice) * multiplier;
}

/// <summary>A completed round trip: from flat to flat (or through a flip), with P&amp;L gross and net of its commissions and carry.</summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Currency">Instrument currency.</param>
/// <param name="Direction">+1 long, −1 short.</param>
/// <param name="OpenedAtUtc">First fill of the trade.</param>
/// <param name="ClosedAtUtc">Fill that made it flat.</param>
/// <param name="MaxQuantity">Largest absolute quantity held during the trade.</param>
/// <param name="GrossPnl">Realized P&amp;L before commissions.</param>
/// <param name="Commissions">Commissions paid during the trade.</param>
public sealed record ClosedTrade(
    string Symbol,
    Currency Currency,
    int Direction,
    DateTimeOffset OpenedAtUtc,
    DateTimeOffset ClosedAtUtc,
    decimal MaxQuantity,
    decimal GrossPnl,
    decimal Commissions)
{
    /// <summary>Carry (borrow fees and storage) paid while the trade was open, in <see cref="Currency"/> (≥ 0).</summary>
    public decimal Carry { get; init; }

    /// <summary>P&amp;L net: <see cref="GrossPnl"/> − <see cref="Commissions"/> − <see cref="Carry"/>.</summary>
    public decimal NetPnl => GrossPnl - Commissions - Carry;
}

/// <summary>
/// Our book of positions, built from fills: average price, realized and unrealized P&amp;L in the
/// instrument currency and in the base currency (through <see cref="FxConverter"/>, which fails
/// closed). Not thread-safe: owned by the execution service; others read immutable snapshots.
/// </summary>
public sealed class PositionBook(IInstrumentCatalog instruments, Currency baseCurrency)
{
    private readonly Dictionary<string, State> _positions = new(StringComparer.Ordinal);
    private readonly List<ClosedTrade> _closedTrades = [];
    private IReadOnlyList<PositionSnapshot>? _all;

    /// <summary>The base (account) currency.</summary>
    public Currency BaseCurrency => baseCurrency;

    /// <summary>True when any instrument has an open quantity.</summary>
    public bool HasOpenPositions
    {
        get
        {
            foreach (var s in _positions.Values)
            {
                if (s.Quantity != 0m)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Completed round trips in order of completion.</summary>
    public IReadOnlyList<ClosedTrade> ClosedTrades => _closedTrades;

    /// <summary>Applies a fill. Returns the trade it completed, if any.</summary>
    /// <exception cref="ArgumentException">The fill's quantity or price is not positive, or its commission is not in the instrument currency.</exception>
    public ClosedTrade? Apply(Fill fill)
    {
        ArgumentNullException.ThrowIfNull(fill);
        if (fill.Quantity <= 0m || fill.Price <= 0m)
        {
            throw new ArgumentException($"fill quantity and price must be > 0, were {fill.Quantity} @ {fill.Price} ({fill.ExecutionId})", nameof(fill));
        }

        var instrument = instruments.Get(fill.Symbol);
        if (fill.Commission.Currency != instrument.Currency)
        {
            throw new ArgumentException($"commission must be in the instrument currency {instrument.Currency}, was {fill.Commission.Currency} ({fill.ExecutionId})", nameof(fill));
        }

        if (!_positions.TryGetValue(fill.Symbol, out var s))
        {
            s = new State(instrument);
            _positions.Add(fill.Symbol, s);
        }

        _all = null;
        return s.Apply(fill, _closedTrades);
    }

    /// <summary>The snapshot of one instrument's position (flat when never traded).</summary>
    public PositionSnapshot Get(string symbol) =>
        _positions.TryGetValue(symbol, out var s) ? s.Snapshot() : new PositionSnapshot(symbol, instruments.Get(symbol).Currency, 0m, 0m, 0m, 0m, null);

    /// <summary>Snapshots of every instrument ever traded (the same list until the next fill).</summary>
    public IReadOnlyList<PositionSnapshot> Snapshot() => _all ??= Array.AsReadOnly(_positions.Values.Select(s => s.Snapshot()).ToArray());

    /// <summary>
    /// Charges one day's carry (<see cref="Costs.CarryCharge"/>) to the position it was charged on: the instrument's carry and
    /// that of the trade open now. Its amount is in the instrument currency.
    /// </summary>
    /// <exception cref="InvalidOperationException">The charge is for an instrument without an open position, or negative.</exception>
    public void ApplyCarry(Costs.CarryCharge charge)
    {
        ArgumentNullException.ThrowIfNull(charge);
        if (!_positions.TryGetValue(charge.Symbol, out var s) || s.Quantity == 0m || charge.AmountUsd < 0m)
        {
            throw new InvalidOperationException($"a carry charge of {charge.AmountUsd} on {charge.Symbol} ({charge.Day:yyyy-MM-dd}) needs an open position and a non-negative amount");
        }

        _all = null;
        s.ApplyCarry(charge.AmountUsd);
    }

    /// <summary>
    /// Total P&amp;L net of every cost in the base currency: realized gross − commissions − carry + unrealized at
    /// the given marks. Fails closed: throws when a mark of an open position or an FX rate is missing.
    /// </summary>
    /// <exception cref="InvalidOperationException">An open position has no mark.</exception>
    /// <exception cref="FxRateUnavailableException">A currency cannot be converted to the base currency.</exception>
    public Money.Money NetPnlInBase(IReadOnlyDictionary<string, decimal> marks, FxConverter fx)
    {
        ArgumentNullException.ThrowIfNull(marks);
        ArgumentNullException.ThrowIfNull(fx);
        var total = Money.Money.Zero(baseCurrency);
        foreach (var s in _positions.Values)
        {
            var snap = s.Snapshot();
            var local = snap.RealizedPnlNet;
            if (!snap.IsFlat)
            {
                if (!marks.TryGetValue(snap.Symbol, out var mark))
                {
                    throw new InvalidOperationException($"no mark price for open position {snap.Symbol} {snap.Quantity}: P&L cannot be computed");
                }

                local += snap.Unrealized(mark, s.Instrument.Multiplier);
            }

            total += fx.Convert(new Money.Money(local, snap.Currency), baseCurrency);
        }

        return total;
    }

    private sealed class State(Instrument instrument)
    {
        private decimal _quantity;
        private decimal _averagePrice;
        private decimal _realized;
        private decimal _commissions;
        private decimal _carry;
        private decimal _tradeCarry;
        private DateTimeOffset? _openedAt;
        private decimal _tradeRealized;
        private decimal _tradeCommissions;
        private decimal _tradeMaxQuantity;
        private int _tradeDirection;
        private PositionSnapshot? _snapshot;

        public Instrument Instrument => instrument;

        public decimal Quantity => _quantity;

        // Snapshots are immutable: one is made per change, not per question (every bar, gate and sweep asks).
        public PositionSnapshot Snapshot() => _snapshot ??= new(instrument.Symbol, instrument.Currency, _quantity, _averagePrice, _realized, _commissions, _openedAt)
        {
            Carry = _carry,
            OpenCommissions = _quantity == 0m ? 0m : _tradeCommissions,
            OpenCarry = _quantity == 0m ? 0m : _tradeCarry,
        };

        public void ApplyCarry(decimal amount)
        {
            _snapshot = null;
            _carry += amount;
            _tradeCarry += amount;
        }

        public ClosedTrade? Apply(Fill fill, List<ClosedTrade> closed)
        {
            _snapshot = null;
            var signed = fill.Side.Sign() * fill.Quantity;
            _commissions += fill.Commission.Amount;
            _tradeCommissions += fill.Commission.Amount;
            ClosedTrade? completed = null;

            if (_quantity == 0m || Math.Sign(_quantity) == Math.Sign(signed))
            {
                if (_quantity == 0m)
                {
                    _openedAt = fill.EventTimeUtc;
                    _tradeDirection = Math.Sign(signed);
                }

                var newQty = _quantity + signed;
                _averagePrice = ((_averagePrice * Math.Abs(_quantity)) + (fill.Price * fill.Quantity)) / Math.Abs(newQty);
                _quantity = newQty;
            }
            else
            {
                var closing = Math.Min(Math.Abs(_quantity), fill.Quantity);
                var pnl = closing * (fill.Price - _averagePrice) * Math.Sign(_quantity) * instrument.Multiplier;
                _realized += pnl;
                _tradeRealized += pnl;
                var remainder = fill.Quantity - closing;
                _quantity += Math.Sign(signed) * closing;
                if (_quantity == 0m)
                {
                    // Commission of a flipping fill is charged to the trade it closes.
                    completed = new ClosedTrade(instrument.Symbol, instrument.Currency, _tradeDirection, _openedAt!.Value, fill.EventTimeUtc, _tradeMaxQuantity, _tradeRealized, _tradeCommissions)
                    {
                        Carry = _tradeCarry,
                    };
                    closed.Add(completed);
                    _tradeRealized = 0m;
                    _tradeCommissions = 0m;
                    _tradeCarry = 0m;
                    _tradeMaxQuantity = 0m;
                    _averagePrice = 0m;
                    _openedAt = null;
                    if (remainder > 0m)
                    {
                        _quantity = Math.Sign(signed) * remainder;
                        _averagePrice = fill.Price;
                        _openedAt = fill.EventTimeUtc;
                        _tradeDirection = Math.Sign(signed);
                    }
                }
            }

            _tradeMaxQuantity = Math.Max(_tradeMaxQuantity, Math.Abs(_quantity));
            return completed;
        }
    }
}
