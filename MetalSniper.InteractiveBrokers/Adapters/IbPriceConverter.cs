using MetalSniper.Core.Instruments;

namespace MetalSniper.InteractiveBrokers.Adapters;

/// <summary>
/// The one place where prices cross between our major units (GBP, ZAR, EUR, USD: what every price inside the system
/// is) and the unit IB uses for a contract. The factor is the contract's <c>priceMagnifier</c> from contractDetails
/// (10) field [17] (TWS-PROTOCOL.md §4.4).
/// <para><b>What IB does (decided from its documentation, to be confirmed on the paper account):</b></para>
/// <list type="bullet">
/// <item>IB's <c>ContractDetails.PriceMagnifier</c>: "allows execution and strike prices to be reported consistently
/// with market data, historical data and the order price" (official TWS API docs, <c>ContractDetails</c> class). So one
/// factor covers order prices (placeOrder lmtPrice/auxPrice), market data (tickPrice), historical bars, execution
/// prices (execDetails), openOrder prices and orderStatus fill prices: all are in the magnified unit.</item>
/// <item>LSE stocks whose contract currency is GBP are quoted, ordered and filled in <b>pence</b>, with priceMagnifier
/// 100 (NautilusTrader's IB adapter, <c>IbPriceConverter</c>: "IB reports a magnified contract's prices in a sub-unit
/// of its currency (… LSE stocks in pence), so these are divided by the contract's price magnifier"; ib_insync users
/// see LSE tickers with currency GBP and last prices like 4293.99, bankroll-py/bankroll#31). JSE stocks (ZAR) are
/// treated the same way in cents (magnifier 100) by analogy; AEB (EUR), NYSE ADRs (USD), IDEALPRO FX and spot metals
/// have magnifier 1.</item>
/// <item><b>Position average cost is not magnified</b>: IB reports <c>avgCost</c> (position (61), updatePortfolio (7))
/// in the contract's currency per unit times the multiplier, e.g. GBP for an LSE stock, while its market price is in
/// pence (gloomberb/gloomberb#537, verified against a real IB Gateway portfolio). So <see cref="AverageCostToMajor"/>
/// divides by the multiplier only.</item>
/// </list>
/// The converter is made only for contract details that agree with our catalog (<see cref="IbContractBook"/>):
/// the magnifier equals the instrument's <see cref="PriceUnit.UnitsPerMajor"/> (100 for GBp/ZAc, 1 otherwise), so IB's
/// unit is exactly the venue's quote unit.
/// </summary>
public sealed class IbPriceConverter
{
    /// <summary>Creates the converter for <paramref name="instrument"/>.</summary>
    /// <param name="instrument">Our instrument.</param>
    /// <param name="priceMagnifier">contractDetails' priceMagnifier (IB units per major unit); must be ≥ 1.</param>
    /// <param name="minTick">contractDetails' minTick, in IB's unit for the contract; must be &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A magnifier below 1 or a tick that is not positive.</exception>
    public IbPriceConverter(Instrument instrument, int priceMagnifier, decimal minTick)
    {
        Instrument = instrument ?? throw new ArgumentNullException(nameof(instrument));
        ArgumentOutOfRangeException.ThrowIfLessThan(priceMagnifier, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minTick);
        Factor = priceMagnifier;
        MinTick = minTick;
    }

    /// <summary>Our instrument.</summary>
    public Instrument Instrument { get; }

    /// <summary>IB units per major unit (the contract's price magnifier): 100 for LSE (pence) and JSE (cents), else 1.</summary>
    public int Factor { get; }

    /// <summary>The venue's minimum price increment in IB's unit (contractDetails minTick).</summary>
    public decimal MinTick { get; }

    /// <summary>
    /// An outbound order price (limit, stop, aux) for IB: our major-unit price × <see cref="Factor"/>, rounded to the nearest
    /// <see cref="MinTick"/> (midpoint away from zero). E.g. 12.3456 GBP → 1234.56 (pence) with factor 100 and tick 0.01.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A price that is not positive.</exception>
    public double ToIbPrice(decimal majorPrice)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(majorPrice);
        var ib = majorPrice * Factor;
        var ticks = Math.Round(ib / MinTick, MidpointRounding.AwayFromZero);
        return (double)(ticks * MinTick);
    }

    /// <summary>An inbound price from IB (tick, bar, execution, open order, fill price) in our major units: IB price ÷ <see cref="Factor"/>.</summary>
    public decimal ToMajor(double ibPrice) => (decimal)ibPrice / Factor;

    /// <summary>
    /// An inbound IB price in the venue's quote unit (<see cref="Instrument.QuoteUnit"/>), for <c>RawBar</c>s (ingest divides
    /// by the quote unit itself): IB price ÷ <see cref="Factor"/> × units per major.
    /// </summary>
    public double ToQuoteUnit(double ibPrice) => (double)(ToMajor(ibPrice) * Instrument.QuoteUnit.UnitsPerMajor);

    /// <summary>
    /// IB's position average cost (position (61) avgCost, in the contract's currency per unit, times the multiplier; not
    /// magnified, see the class remarks) in our major units per unit.
    /// </summary>
    public static decimal AverageCostToMajor(double avgCost, decimal multiplier) => (decimal)avgCost / (multiplier == 0m ? 1m : multiplier);
}
