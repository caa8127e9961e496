using MetalSniper.Core.Instruments;

namespace MetalSniper.Core.Costs;

/// <summary>
/// Expected cost of exiting one unit at a price, in price units: half the spread + slippage +
/// commission per unit (rate × price; the per-order minimum is not spread over units). Used by
/// the locked-profit rule in the strategy and in the gate, so both judge "net of costs" alike.
/// </summary>
public sealed class CostEstimator(IInstrumentCatalog instruments, IReadOnlyDictionary<string, CostModel> costs, int slippageTicks)
{
    /// <summary>Exit cost per unit at <paramref name="price"/>.</summary>
    /// <exception cref="KeyNotFoundException">No cost model for the symbol (fail closed: no guessed zero cost).</exception>
    public decimal ExitCostPerUnit(string symbol, decimal price)
    {
        if (!costs.TryGetValue(symbol, out var c))
        {
            throw new KeyNotFoundException($"no cost model for {symbol}: exit costs cannot be estimated");
        }

        var instrument = instruments.Get(symbol);
        return (c.DefaultSpread / 2m) + (slippageTicks * instrument.TickSize) + (price * c.CommissionRate);
    }
}

/// <summary>Per-instrument cost model of the simulated broker.</summary>
/// <param name="DefaultSpread">Bid/ask spread in price units used when a bar carries none (USD per ounce for metals).</param>
/// <param name="CommissionRate">Commission as a fraction of notional (IB tiered metals: gold 0.00015 = 1.5 bp, silver 0.0003 = 3.0 bp).</param>
/// <param name="MinimumCommission">Minimum commission per order, in the instrument currency (IB: USD 2.00).</param>
public sealed record CostModel(decimal DefaultSpread, decimal CommissionRate, decimal MinimumCommission);
