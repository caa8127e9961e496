using MetalSniper.Core.Instruments;
using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Adapters;

/// <summary>
/// Our instruments as IB contracts (TWS-PROTOCOL.md §6): spot metals XAUUSD/XAGUSD as <c>CMDTY</c> on <c>SMART</c> in
/// USD (IBCMDTY accepted in replies, never sent); stocks on their home venue under IB's exchange codes — London
/// <c>LSE</c> (GBP), Johannesburg <c>JSE</c> (ZAR), Euronext Amsterdam <c>AEB</c> (EUR; our venue code is AEX, IB's is
/// AEB: IB's own location code list names it <c>STK.EU.AEB</c>) — and NYSE ADRs as <c>SMART</c> with primary exchange
/// <c>NYSE</c> (USD); FX pairs as <c>CASH</c> on <c>IDEALPRO</c> (symbol = base currency, currency = quote currency).
/// Our symbol's suffix (".L", ".JO", ".AS") is the venue, not part of IB's symbol. Prices are not converted here: the
/// unit IB uses for a contract (pence for LSE, cents for JSE) comes from its contract details' price magnifier, and
/// <see cref="IbPriceConverter"/> is the one place that converts (see <see cref="IbContractBook"/>).
/// </summary>
public static class IbContracts
{

    /// <summary>The IB contract of <paramref name="instrument"/>.</summary>
    /// <exception cref="NotSupportedException">A venue IB is not mapped for.</exception>
    public static TwsContract For(Instrument instrument)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        var symbol = instrument.Symbol;
        var dot = symbol.IndexOf('.', StringComparison.Ordinal);
        var root = dot > 0 ? symbol[..dot] : symbol;
        return instrument.SecurityType switch
        {
            SecurityType.Commodity => new TwsContract { Symbol = symbol, SecType = "CMDTY", Exchange = "SMART", Currency = instrument.Currency.Code },
            SecurityType.Forex => new TwsContract { Symbol = symbol[..3], SecType = "CASH", Exchange = "IDEALPRO", Currency = symbol[3..] },
            SecurityType.Stock => instrument.Exchange switch
            {
                Venues.Nyse => new TwsContract { Symbol = root, SecType = "STK", Exchange = "SMART", PrimaryExchange = "NYSE", Currency = instrument.Currency.Code },
                Venues.Lse or Venues.Jse => new TwsContract { Symbol = root, SecType = "STK", Exchange = instrument.Exchange, Currency = instrument.Currency.Code },
                Venues.Aex => new TwsContract { Symbol = root, SecType = "STK", Exchange = IbExchangeCodes.EuronextAmsterdam, Currency = instrument.Currency.Code },
                _ => throw new NotSupportedException($"no IB contract mapping for venue {instrument.Exchange} ({symbol})"),
            },
            _ => throw new NotSupportedException($"no IB contract mapping for {instrument.SecurityType} ({symbol})"),
        };
    }

    /// <summary>
    /// Our symbol for a contract IB reports (positions, executions, open orders), or null when it is not one of
    /// <paramref name="instruments"/> (then it is booked as external).
    /// </summary>
    public static string? SymbolOf(TwsContract contract, IInstrumentCatalog instruments)
    {
        ArgumentNullException.ThrowIfNull(contract);
        ArgumentNullException.ThrowIfNull(instruments);
        foreach (var i in instruments.All)
        {
            var c = For(i);
            var sameSymbol = string.Equals(c.Symbol, contract.Symbol, StringComparison.OrdinalIgnoreCase);
            var sameType = string.Equals(c.SecType, contract.SecType, StringComparison.OrdinalIgnoreCase);
            var sameCurrency = contract.Currency.Length == 0 || string.Equals(c.Currency, contract.Currency, StringComparison.OrdinalIgnoreCase);
            var sameVenue = c.SecType != "STK" || contract.Exchange.Length == 0 || contract.Exchange is "SMART"
                || string.Equals(c.Exchange, contract.Exchange, StringComparison.OrdinalIgnoreCase)
                || (c.PrimaryExchange.Length > 0 && (string.Equals(c.PrimaryExchange, contract.PrimaryExchange, StringComparison.OrdinalIgnoreCase)
                    // position (61) and updatePortfolio (7) carry the listing exchange in their exchange slot (no primaryExchange): NYSE for a SMART-routed ADR.
                    || string.Equals(c.PrimaryExchange, contract.Exchange, StringComparison.OrdinalIgnoreCase)));
            if (sameSymbol && sameType && sameCurrency && sameVenue)
            {
                return i.Symbol;
            }
        }

        return null;
    }
}

/// <summary>IB's exchange codes where they differ from our venue codes.</summary>
public static class IbExchangeCodes
{
    /// <summary>Euronext Amsterdam at IB (our <see cref="Venues.Aex"/>); IB's location code <c>STK.EU.AEB</c>.</summary>
    public const string EuronextAmsterdam = "AEB";
}
