using MetalSniper.Core.Money;

namespace MetalSniper.Core.Instruments;

/// <summary>The kind of security, named as IB names them (CMDTY, STK, CASH).</summary>
public enum SecurityType
{
    /// <summary>A spot commodity such as XAUUSD (IB secType CMDTY).</summary>
    Commodity,

    /// <summary>An equity or ADR (IB secType STK).</summary>
    Stock,

    /// <summary>A currency pair (IB secType CASH, IDEALPRO).</summary>
    Forex,
}

/// <summary>
/// The unit a venue quotes prices in: a currency and how many quote units make one major unit
/// (1 for USD per ounce, 100 for GBp pence and ZAc cents).
/// </summary>
/// <param name="Name">The display name of the unit, for example "GBp" or "USD".</param>
/// <param name="Currency">The major currency the unit belongs to.</param>
/// <param name="UnitsPerMajor">Quote units per major unit: 1 or 100.</param>
public sealed record PriceUnit(string Name, Currency Currency, int UnitsPerMajor)
{
    /// <summary>A price quoted directly in the major currency.</summary>
    public static PriceUnit Major(Currency currency) => new(currency.Code, currency, 1);

    /// <summary>London pence: 100 GBp = 1 GBP.</summary>
    public static PriceUnit Pence { get; } = new("GBp", Currency.Gbp, 100);

    /// <summary>Johannesburg cents: 100 ZAc = 1 ZAR.</summary>
    public static PriceUnit SouthAfricanCents { get; } = new("ZAc", Currency.Zar, 100);

    /// <summary>True when the quote is in a minor unit that ingest divides away.</summary>
    public bool IsMinor => UnitsPerMajor != 1;

    /// <summary>Converts a quoted price to major currency units.</summary>
    public decimal ToMajor(decimal quoted) => UnitsPerMajor == 1 ? quoted : quoted / UnitsPerMajor;
}

/// <summary>
/// A tradable instrument. Prices inside the system are always in major units of
/// <see cref="Currency"/>; <see cref="QuoteUnit"/> says what the venue sends.
/// </summary>
/// <param name="Symbol">Our symbol (XAUUSD, AGL.JO, AAL.L).</param>
/// <param name="SecurityType">The security type.</param>
/// <param name="Exchange">The venue code used by trading sessions (METALS, LSE, JSE, AEX, NYSE, IDEALPRO).</param>
/// <param name="Currency">The currency of prices and P&amp;L, in major units.</param>
/// <param name="QuoteUnit">The unit the venue quotes in (may be minor: GBp, ZAc).</param>
/// <param name="TickSize">Minimum price increment, in major units of <paramref name="Currency"/>.</param>
/// <param name="Multiplier">Contract multiplier: P&amp;L per unit of price per unit of quantity (1 for spot metals per ounce).</param>
/// <param name="QuantityStep">Minimum quantity increment (ounces for metals, shares for stocks).</param>
/// <param name="MinimumQuantity">Smallest order quantity accepted.</param>
public sealed record Instrument(
    string Symbol,
    SecurityType SecurityType,
    string Exchange,
    Currency Currency,
    PriceUnit QuoteUnit,
    decimal TickSize,
    decimal Multiplier,
    decimal QuantityStep,
    decimal MinimumQuantity)
{
    /// <summary>Rounds a price to the nearest tick.</summary>
    public decimal RoundToTick(decimal price) => Math.Round(price / TickSize, MidpointRounding.AwayFromZero) * TickSize;

    /// <summary>Rounds a quantity down to the quantity step (never up: sizing must not exceed risk).</summary>
    public decimal RoundQuantityDown(decimal quantity) => Math.Floor(quantity / QuantityStep) * QuantityStep;
}
