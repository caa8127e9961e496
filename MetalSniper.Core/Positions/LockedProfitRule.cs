namespace MetalSniper.Core.Positions;

/// <summary>
/// The locked-profit rule: you may only scale into a position whose profit is already locked in
/// by a stop. "Locked" means: if every protective stop of the position filled at its stop price,
/// the position would close with a profit after exit costs. Floating gains are the market's money.
/// </summary>
public static class LockedProfitRule
{
    /// <summary>
    /// P&amp;L locked in by the stops of a position, net of exit costs, in the instrument currency:
    /// Σ stopQty × (stop − average) × sign × multiplier − |covered qty| × exitCostPerUnit × multiplier.
    /// Quantity not covered by a stop locks nothing: the result is null (rule fails).
    /// </summary>
    /// <param name="position">The existing position (must not be flat).</param>
    /// <param name="stops">Working protective stops on the position: (stop price, quantity).</param>
    /// <param name="exitCostPerUnit">Expected exit cost per unit of quantity in price units (half spread + slippage + commission per unit).</param>
    /// <param name="multiplier">Instrument multiplier.</param>
    /// <returns>The locked P&amp;L net of costs, or null when the position is flat or not fully covered by stops.</returns>
    public static decimal? LockedPnl(PositionSnapshot position, IEnumerable<(decimal StopPrice, decimal Quantity)> stops, decimal exitCostPerUnit, decimal multiplier)
    {
        ArgumentNullException.ThrowIfNull(position);
        ArgumentNullException.ThrowIfNull(stops);
        if (position.IsFlat)
        {
            return null;
        }

        var direction = Math.Sign(position.Quantity);
        var remaining = Math.Abs(position.Quantity);
        var locked = 0m;
        foreach (var (stop, qty) in stops.OrderBy(s => direction * s.StopPrice))
        {
            // Worst stops first: a stop further from the money locks less.
            var take = Math.Min(qty, remaining);
            if (take <= 0m)
            {
                break;
            }

            locked += take * ((stop - position.AveragePrice) * direction - exitCostPerUnit) * multiplier;
            remaining -= take;
        }

        return remaining > 0m ? null : locked;
    }

    /// <summary>True when the stops lock in a strictly positive P&amp;L net of exit costs.</summary>
    public static bool LocksProfit(PositionSnapshot position, IEnumerable<(decimal StopPrice, decimal Quantity)> stops, decimal exitCostPerUnit, decimal multiplier) =>
        LockedPnl(position, stops, exitCostPerUnit, multiplier) is > 0m;
}
