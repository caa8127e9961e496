using MetalSniper.Core.Instruments;
using MetalSniper.Core.Simulation;

namespace MetalSniper.Host.Pipeline;

/// <summary>
/// Expected cost of exiting one unit at a price, in price units: half the spread + slippage +
/// commission per unit (rate × price; the per-order minimum is not spread over units). Used by
/// the locked-profit rule in the strategy and in the gate, so both judge "net of costs" alike.
/// </summary>
public sealed class CostEstimator(IInstrumentCatalog instruments, IReadOnlyDictionary<string, SimulatedCostModel> costs, int slippageTicks)
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
