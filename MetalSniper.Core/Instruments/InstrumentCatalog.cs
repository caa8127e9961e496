using MetalSniper.Core.Money;

namespace MetalSniper.Core.Instruments;

/// <summary>Looks up instruments by symbol.</summary>
public interface IInstrumentCatalog
{
    /// <summary>Returns the instrument for a symbol.</summary>
    /// <exception cref="KeyNotFoundException">The symbol is unknown.</exception>
    Instrument Get(string symbol);

    /// <summary>Looks up an instrument without throwing.</summary>
    bool TryGet(string symbol, out Instrument instrument);

    /// <summary>All known instruments.</summary>
    IReadOnlyCollection<Instrument> All { get; }
}

/// <summary>
/// The instruments MetalSniper knows: spot gold and silver (IB CMDTY, quoted in USD per troy
/// ounce), the dual-listed stocks on JSE (ZAc), LSE (GBp), AEX (EUR) and NYSE ADRs (USD), and
/// the FX pairs used to compare them. Immutable once built.
/// </summary>
public sealed class InstrumentCatalog : IInstrumentCatalog
{
    private readonly Dictionary<string, Instrument> _bySymbol;

    /// <summary>Creates a catalog from a list of instruments.</summary>
    /// <exception cref="ArgumentException">Two instruments share a symbol.</exception>
    public InstrumentCatalog(IEnumerable<Instrument> instruments)
    {
        _bySymbol = new Dictionary<string, Instrument>(StringComparer.OrdinalIgnoreCase);
        foreach (var instrument in instruments)
        {
            if (!_bySymbol.TryAdd(instrument.Symbol, instrument))
            {
                throw new ArgumentException($"instrument symbols must be unique, '{instrument.Symbol}' appears twice", nameof(instruments));
            }
        }
    }

    /// <summary>The default catalog (metals, dual listings, FX).</summary>
    public static InstrumentCatalog CreateDefault()
    {
        static Instrument Metal(string symbol, decimal tick) =>
            new(symbol, SecurityType.Commodity, Venues.Metals, Currency.Usd, PriceUnit.Major(Currency.Usd), tick, 1m, 1m, 1m);
        static Instrument Stock(string symbol, string venue, PriceUnit unit, decimal tick) =>
            new(symbol, SecurityType.Stock, venue, unit.Currency, unit, tick, 1m, 1m, 1m);
        static Instrument Fx(string pair, decimal tick) =>
            new(pair, SecurityType.Forex, Venues.IdealPro, new Currency(pair[3..]), PriceUnit.Major(new Currency(pair[3..])), tick, 1m, 1m, 1m);

        return new InstrumentCatalog(
        [
            Metal("XAUUSD", 0.01m),
            Metal("XAGUSD", 0.001m),
            Stock("AGL.JO", Venues.Jse, PriceUnit.SouthAfricanCents, 0.01m),
            Stock("AAL.L", Venues.Lse, PriceUnit.Pence, 0.0001m),
            Stock("BTI.JO", Venues.Jse, PriceUnit.SouthAfricanCents, 0.01m),
            Stock("BATS.L", Venues.Lse, PriceUnit.Pence, 0.0001m),
            Stock("GLN.JO", Venues.Jse, PriceUnit.SouthAfricanCents, 0.01m),
            Stock("GLEN.L", Venues.Lse, PriceUnit.Pence, 0.0001m),
            Stock("MNP.JO", Venues.Jse, PriceUnit.SouthAfricanCents, 0.01m),
            Stock("MNDI.L", Venues.Lse, PriceUnit.Pence, 0.0001m),
            Stock("RDSA.AS", Venues.Aex, PriceUnit.Major(Currency.Eur), 0.001m),
            Stock("RDSA.L", Venues.Lse, PriceUnit.Pence, 0.0001m),
            Stock("BP", Venues.Nyse, PriceUnit.Major(Currency.Usd), 0.01m),
            Stock("BP.L", Venues.Lse, PriceUnit.Pence, 0.0001m),
            Fx("USDZAR", 0.0001m),
            Fx("GBPUSD", 0.00001m),
            Fx("EURUSD", 0.00001m),
        ]);
    }

    /// <inheritdoc />
    public IReadOnlyCollection<Instrument> All => _bySymbol.Values;

    /// <inheritdoc />
    public Instrument Get(string symbol) =>
        _bySymbol.TryGetValue(symbol, out var instrument)
            ? instrument
            : throw new KeyNotFoundException($"unknown instrument '{symbol}'; known: {string.Join(", ", _bySymbol.Keys.Order(StringComparer.Ordinal))}");

    /// <inheritdoc />
    public bool TryGet(string symbol, out Instrument instrument) => _bySymbol.TryGetValue(symbol, out instrument!);
}

/// <summary>Venue codes used by instruments and trading sessions.</summary>
public static class Venues
{
    /// <summary>OTC spot metals (XAUUSD, XAGUSD), ~24×5 with a daily break at 17:00 New York.</summary>
    public const string Metals = "METALS";

    /// <summary>London Stock Exchange.</summary>
    public const string Lse = "LSE";

    /// <summary>Johannesburg Stock Exchange.</summary>
    public const string Jse = "JSE";

    /// <summary>Euronext Amsterdam.</summary>
    public const string Aex = "AEX";

    /// <summary>New York Stock Exchange.</summary>
    public const string Nyse = "NYSE";

    /// <summary>IB's FX venue, 24×5.</summary>
    public const string IdealPro = "IDEALPRO";
}
