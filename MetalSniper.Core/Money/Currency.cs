namespace MetalSniper.Core.Money;

/// <summary>
/// An ISO-4217 currency code in major units (USD, GBP, ZAR, EUR). Minor quote units such as
/// GBp (pence) and ZAc (cents) are not currencies: they are a <see cref="Instruments.PriceUnit"/>
/// that the ingest boundary converts to the major currency.
/// </summary>
public readonly record struct Currency
{
    /// <summary>Creates a currency from a three-letter upper-case ISO code.</summary>
    /// <exception cref="ArgumentException">The code is not three upper-case ASCII letters.</exception>
    [System.Text.Json.Serialization.JsonConstructor] // a struct reads back through this constructor, not the empty default (the brain's recorded fills)
    public Currency(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.Length != 3 || !code.All(c => c is >= 'A' and <= 'Z'))
        {
            throw new ArgumentException($"currency code must be three upper-case letters (ISO 4217), was '{code}'", nameof(code));
        }

        Code = code;
    }

    /// <summary>The three-letter ISO-4217 code.</summary>
    public string Code { get; }

    /// <summary>US dollar.</summary>
    public static Currency Usd { get; } = new("USD");

    /// <summary>Pound sterling.</summary>
    public static Currency Gbp { get; } = new("GBP");

    /// <summary>South African rand.</summary>
    public static Currency Zar { get; } = new("ZAR");

    /// <summary>Euro.</summary>
    public static Currency Eur { get; } = new("EUR");

    /// <inheritdoc />
    public override string ToString() => Code ?? "???";
}

/// <summary>
/// The account's base currency (configuration <c>Account:BaseCurrency</c>): P&amp;L, equity, drawdown, limits, exposure
/// and breakers are all in it; an instrument's own amounts are converted with the FX table, which fails closed.
/// </summary>
/// <param name="Base">The base currency (ISO 4217 code, e.g. USD, EUR, ZAR).</param>
public sealed record AccountCurrency(Currency Base);
