namespace MetalSniper.FakeTws;

/// <summary>
/// One contract the fake knows (TWS-PROTOCOL.md §4.4, §6, §10.5). The values are written into contractDetails (10),
/// openOrder (5), execDetails (11), position (61) and updatePortfolio (7).
/// </summary>
/// <param name="ConId">IB contract id (e.g. XAUUSD 69067924).</param>
/// <param name="Symbol">IB symbol ("XAUUSD", "AAPL", "EUR" for EUR.USD).</param>
/// <param name="SecType">STK, CASH, CMDTY, FUT.</param>
/// <param name="Exchange">The routing exchange written back (SMART, IDEALPRO, CME).</param>
/// <param name="PrimaryExchange">Listing exchange (NASDAQ, LSE, JSE, AEB); empty when none.</param>
/// <param name="Currency">Trading currency.</param>
/// <param name="LocalSymbol">Local symbol ("EUR.USD", "ESZ6").</param>
/// <param name="TradingClass">Trading class ("NMS", "XAUUSD", "ES").</param>
/// <param name="MinTick">Minimum price increment.</param>
/// <param name="LongName">Descriptive name.</param>
/// <param name="ValidExchanges">Exchanges a request may name besides SMART (comma list), e.g. "SMART,IBCMDTY".</param>
/// <param name="TimeZoneId">Exchange time zone as TWS writes it ("US/Eastern", "Europe/London").</param>
public sealed record FakeContract(
    int ConId,
    string Symbol,
    string SecType,
    string Exchange,
    string PrimaryExchange,
    string Currency,
    string LocalSymbol,
    string TradingClass,
    double MinTick,
    string LongName,
    string ValidExchanges,
    string TimeZoneId)
{
    /// <summary>Contract month / last trade date (FUT: "20261218"); empty otherwise.</summary>
    public string LastTradeDateOrContractMonth { get; init; } = "";

    /// <summary>Multiplier as text ("50" for ES); empty for none (valued as 1).</summary>
    public string Multiplier { get; init; } = "";

    /// <summary>Order types listed in contractDetails.</summary>
    public string OrderTypes { get; init; } = "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,DAY,DEACT,DEACTDIS,GAT,GTC,GTD,LIT,LMT,MIT,MKT,NONALGO,OCA,STP,STPLMT,TRAIL,WHATIF";

    /// <summary>Market name ("NMS", "XAUUSD").</summary>
    public string MarketName { get; init; } = "";

    /// <summary>Stock type ("COMMON") or empty.</summary>
    public string StockType { get; init; } = "";

    /// <summary>Minimum order size.</summary>
    public decimal MinSize { get; init; } = 1m;

    /// <summary>Order size increment.</summary>
    public decimal SizeIncrement { get; init; } = 1m;

    /// <summary>Underlying conId (futures).</summary>
    public int UnderConId { get; init; }

    /// <summary>Underlying symbol (futures).</summary>
    public string UnderSymbol { get; init; } = "";

    /// <summary>Underlying security type (futures: "IND").</summary>
    public string UnderSecType { get; init; } = "";

    /// <summary>Daily session open in exchange local time, "HHmm".</summary>
    public string SessionOpen { get; init; } = "0930";

    /// <summary>Daily session close in exchange local time, "HHmm"; before <see cref="SessionOpen"/> means it closes the next day.</summary>
    public string SessionClose { get; init; } = "1600";

    /// <summary>
    /// contractDetails' priceMagnifier ([17], TWS-PROTOCOL.md §4.4): IB price units per unit of <see cref="Currency"/>. 100 for
    /// LSE stocks (quoted, ordered and filled in pence) and JSE stocks (cents), 1 otherwise. Every price the fake quotes, accepts
    /// and fills at is in this unit; money (cash, P&amp;L, position avgCost) is in the currency (see <see cref="ValueMultiplier"/>).
    /// </summary>
    public int PriceMagnifier { get; init; } = 1;

    /// <summary>
    /// The market key when the symbol alone is not unique (a dual listing: "BP.L" for BP on LSE next to the NYSE ADR "BP",
    /// "RDSA.L" next to "RDSA" on AEB); null uses the default key.
    /// </summary>
    public string? MarketKey { get; init; }

    /// <summary>The key used by the market methods (<see cref="FakeTwsServer.SetQuote"/>): <see cref="MarketKey"/> when set, else the local symbol for CASH ("EUR.USD"), the symbol otherwise.</summary>
    public string Key => MarketKey ?? (SecType == "CASH" ? LocalSymbol : Symbol);

    /// <summary>The multiplier as a number (1 when empty).</summary>
    public double MultiplierValue =>
        double.TryParse(Multiplier, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var m) && m > 0 ? m : 1.0;

    /// <summary>Money (in <see cref="Currency"/>) per IB price unit per unit of quantity: multiplier ÷ price magnifier (0.01 GBP per penny for an LSE share).</summary>
    public double ValueMultiplier => MultiplierValue / PriceMagnifier;
}

/// <summary>The default contract table (TWS-PROTOCOL.md §6, §10.5).</summary>
public static class FakeContracts
{
    /// <summary>Spot gold, CMDTY on SMART/IBCMDTY, conId 69067924.</summary>
    public static FakeContract Xauusd { get; } = new(69067924, "XAUUSD", "CMDTY", "SMART", "", "USD", "XAUUSD", "XAUUSD", 0.01,
        "London Gold Spot", "SMART,IBCMDTY", "US/Eastern")
    { MarketName = "XAUUSD", SessionOpen = "1800", SessionClose = "1700" };

    /// <summary>Spot silver, CMDTY on SMART/IBCMDTY, conId 77124483.</summary>
    public static FakeContract Xagusd { get; } = new(77124483, "XAGUSD", "CMDTY", "SMART", "", "USD", "XAGUSD", "XAGUSD", 0.001,
        "London Silver Spot", "SMART,IBCMDTY", "US/Eastern")
    { MarketName = "XAGUSD", SessionOpen = "1800", SessionClose = "1700" };

    /// <summary>Apple on SMART, primary NASDAQ, conId 265598.</summary>
    public static FakeContract Aapl { get; } = new(265598, "AAPL", "STK", "SMART", "NASDAQ", "USD", "AAPL", "NMS", 0.01,
        "APPLE INC", "SMART,AMEX,NYSE,CBOE,ISE,CHX,ARCA,NASDAQ,IEX", "US/Eastern")
    { MarketName = "NMS", StockType = "COMMON" };

    /// <summary>EUR.USD on IDEALPRO, conId 12087792.</summary>
    public static FakeContract EurUsd { get; } = new(12087792, "EUR", "CASH", "IDEALPRO", "", "USD", "EUR.USD", "EUR.USD", 0.00005,
        "European Monetary Union Euro", "IDEALPRO", "US/Eastern")
    { MarketName = "EUR.USD", SessionOpen = "1715", SessionClose = "1700" };

    /// <summary>GBP.USD on IDEALPRO.</summary>
    public static FakeContract GbpUsd { get; } = new(12087797, "GBP", "CASH", "IDEALPRO", "", "USD", "GBP.USD", "GBP.USD", 0.00005,
        "British pound", "IDEALPRO", "US/Eastern")
    { MarketName = "GBP.USD", SessionOpen = "1715", SessionClose = "1700" };

    /// <summary>USD.ZAR on IDEALPRO.</summary>
    public static FakeContract UsdZar { get; } = new(15016251, "USD", "CASH", "IDEALPRO", "", "ZAR", "USD.ZAR", "USD.ZAR", 0.0001,
        "US Dollar", "IDEALPRO", "US/Eastern")
    { MarketName = "USD.ZAR", SessionOpen = "1715", SessionClose = "1700" };

    /// <summary>E-mini S&amp;P 500 December 2026 on CME (ESZ6), multiplier 50.</summary>
    public static FakeContract EsZ6 { get; } = new(551601561, "ES", "FUT", "CME", "", "USD", "ESZ6", "ES", 0.25,
        "E-mini S&P 500", "CME,QBALGO", "US/Central")
    {
        MarketName = "ES", LastTradeDateOrContractMonth = "20261218", Multiplier = "50",
        UnderConId = 11004968, UnderSymbol = "ES", UnderSecType = "IND", SessionOpen = "1700", SessionClose = "1600",
    };

    /// <summary>Anglo American on the London Stock Exchange (GBP, quoted in pence: priceMagnifier 100, minTick 0.01 pence).</summary>
    public static FakeContract AalLse { get; } = Lse(4661173, "AAL", "ANGLO AMERICAN PLC");

    /// <summary>Anglo American on the Johannesburg Stock Exchange (ZAR, quoted in cents: priceMagnifier 100, minTick 1 cent).</summary>
    public static FakeContract AglJse { get; } = Jse(39612421, "AGL", "ANGLO AMERICAN PLC");

    /// <summary>British American Tobacco on LSE (pence).</summary>
    public static FakeContract BatsLse { get; } = Lse(4660831, "BATS", "BRITISH AMERICAN TOBACCO PLC");

    /// <summary>British American Tobacco on JSE (cents).</summary>
    public static FakeContract BtiJse { get; } = Jse(39612435, "BTI", "BRITISH AMERICAN TOBACCO PLC");

    /// <summary>Glencore on LSE (pence).</summary>
    public static FakeContract GlenLse { get; } = Lse(76792991, "GLEN", "GLENCORE PLC");

    /// <summary>Glencore on JSE (cents).</summary>
    public static FakeContract GlnJse { get; } = Jse(98374215, "GLN", "GLENCORE PLC");

    /// <summary>Mondi on LSE (pence).</summary>
    public static FakeContract MndiLse { get; } = Lse(29475317, "MNDI", "MONDI PLC");

    /// <summary>Mondi on JSE (cents).</summary>
    public static FakeContract MnpJse { get; } = Jse(29475351, "MNP", "MONDI PLC");

    /// <summary>Royal Dutch Shell A on Euronext Amsterdam (IB exchange code AEB, EUR, priceMagnifier 1).</summary>
    public static FakeContract RdsaAeb { get; } = new(80793785, "RDSA", "STK", "AEB", "AEB", "EUR", "RDSA", "RDSA", 0.001,
        "ROYAL DUTCH SHELL PLC-A SHS", "AEB,BATEEN,CHIXEN,TRQXEN", "Europe/Amsterdam")
    { MarketName = "RDSA", StockType = "COMMON", SessionOpen = "0900", SessionClose = "1730" };

    /// <summary>Royal Dutch Shell A on LSE (pence); market key "RDSA.L" (the AEB line is "RDSA").</summary>
    public static FakeContract RdsaLse { get; } = Lse(80793831, "RDSA", "ROYAL DUTCH SHELL PLC-A SHS") with { MarketKey = "RDSA.L" };

    /// <summary>BP on LSE (pence); market key "BP.L" (the NYSE ADR is "BP").</summary>
    public static FakeContract BpLse { get; } = Lse(4602345, "BP", "BP PLC") with { MarketKey = "BP.L" };

    /// <summary>Shell on Euronext Amsterdam (IB exchange code AEB, EUR).</summary>
    public static FakeContract ShellAeb { get; } = new(535943437, "SHELL", "STK", "SMART", "AEB", "EUR", "SHELL", "SHELL", 0.001,
        "SHELL PLC", "SMART,AEB,BATEEN,CHIXEN,TRQXEN", "Europe/Amsterdam")
    { MarketName = "SHELL", StockType = "COMMON", SessionOpen = "0900", SessionClose = "1730" };

    /// <summary>BP ADR on NYSE (USD).</summary>
    public static FakeContract BpNyse { get; } = new(4602, "BP", "STK", "SMART", "NYSE", "USD", "BP", "BP", 0.01,
        "BP PLC-SPONS ADR", "SMART,AMEX,NYSE,CBOE,ARCA,NASDAQ,IEX", "US/Eastern")
    { MarketName = "BP", StockType = "ADR" };

    /// <summary>Every default contract.</summary>
    public static IReadOnlyList<FakeContract> Default { get; } =
        [Xauusd, Xagusd, Aapl, EurUsd, GbpUsd, UsdZar, EsZ6, AalLse, AglJse, ShellAeb, BpNyse, BatsLse, BtiJse, GlenLse, GlnJse, MndiLse, MnpJse, RdsaAeb, RdsaLse, BpLse];

    /// <summary>An LSE stock as IB lists it: exchange and primary LSE, GBP, prices in pence (priceMagnifier 100, minTick 0.01 pence).</summary>
    private static FakeContract Lse(int conId, string symbol, string longName) => new(conId, symbol, "STK", "LSE", "LSE", "GBP", symbol, symbol, 0.01,
        longName, "LSE,BATEUK,CHIXUK,TRQXUK", "Europe/London")
    { MarketName = symbol, StockType = "COMMON", SessionOpen = "0800", SessionClose = "1630", PriceMagnifier = 100 };

    /// <summary>A JSE stock as IB lists it: exchange and primary JSE, ZAR, prices in cents (priceMagnifier 100, minTick 1 cent).</summary>
    private static FakeContract Jse(int conId, string symbol, string longName) => new(conId, symbol, "STK", "JSE", "JSE", "ZAR", symbol, symbol, 1.0,
        longName, "JSE", "Africa/Johannesburg")
    { MarketName = symbol, StockType = "COMMON", SessionOpen = "0900", SessionClose = "1700", PriceMagnifier = 100 };
}
