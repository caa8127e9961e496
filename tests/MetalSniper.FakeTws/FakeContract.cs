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

    /// <summary>The key used by the market methods (<see cref="FakeTwsServer.SetQuote"/>): the local symbol for CASH ("EUR.USD"), the symbol otherwise.</summary>
    public string Key => SecType == "CASH" ? LocalSymbol : Symbol;

    /// <summary>The multiplier as a number (1 when empty).</summary>
    public double MultiplierValue =>
        double.TryParse(Multiplier, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var m) && m > 0 ? m : 1.0;
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

    /// <summary>Anglo American on the London Stock Exchange (GBP).</summary>
    public static FakeContract AalLse { get; } = new(4661173, "AAL", "STK", "SMART", "LSE", "GBP", "AAL", "AAL", 0.01,
        "ANGLO AMERICAN PLC", "SMART,LSE,BATEUK,CHIXUK,TRQXUK", "Europe/London")
    { MarketName = "AAL", StockType = "COMMON", SessionOpen = "0800", SessionClose = "1630" };

    /// <summary>Anglo American on the Johannesburg Stock Exchange (ZAR).</summary>
    public static FakeContract AglJse { get; } = new(39612421, "AGL", "STK", "SMART", "JSE", "ZAR", "AGL", "AGL", 0.01,
        "ANGLO AMERICAN PLC", "SMART,JSE", "Africa/Johannesburg")
    { MarketName = "AGL", StockType = "COMMON", SessionOpen = "0900", SessionClose = "1700" };

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
        [Xauusd, Xagusd, Aapl, EurUsd, GbpUsd, UsdZar, EsZ6, AalLse, AglJse, ShellAeb, BpNyse];
}
