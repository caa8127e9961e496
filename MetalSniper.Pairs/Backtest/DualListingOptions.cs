using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Pairs.Costs;
using MetalSniper.Pairs.Data;
using MetalSniper.Pairs.Model;
using MetalSniper.Pairs.Signals;

namespace MetalSniper.Pairs.Backtest;

/// <summary>One listing of a configured pair (configuration section <c>DualListing:Pairs:{name}:A</c> / <c>:B</c>).</summary>
public sealed class ListingOptions
{
    /// <summary>Our symbol (AGL.JO, AAL.L, RDSA.AS, BP).</summary>
    public string Symbol { get; set; } = "";

    /// <summary>Venue code: JSE, LSE, AEX, NYSE.</summary>
    public string Venue { get; set; } = "";

    /// <summary>Quote unit: ZAc, GBp, EUR, USD.</summary>
    public string Unit { get; set; } = "";

    /// <summary>Ordinary shares per traded unit (the ADR ratio; 1 for ordinary shares).</summary>
    public decimal SharesPerUnit { get; set; } = 1m;

    /// <summary>The daily file, relative to <see cref="DualListingOptions.DataDirectory"/>.</summary>
    public string File { get; set; } = "";

    /// <summary>The close column: "close" or "adj_close".</summary>
    public string Column { get; set; } = "close";

    /// <summary>False when the listing cannot be borrowed (the pair is then never short this leg).</summary>
    public bool Borrowable { get; set; } = true;

    /// <summary>Annual borrow fee (fraction), or null for the venue's default.</summary>
    public decimal? BorrowFeeAnnual { get; set; }

    /// <summary>Half spread in basis points, or null for the venue's default.</summary>
    public decimal? HalfSpreadBps { get; set; }

    /// <summary>The listing as a model value.</summary>
    /// <exception cref="ArgumentException">The unit is unknown or the ratio not positive.</exception>
    public Listing ToListing() => new(Symbol, Venue.ToUpperInvariant(), UnitOf(Unit), SharesPerUnit > 0 ? SharesPerUnit : throw new ArgumentException($"{Symbol}: SharesPerUnit must be > 0, was {SharesPerUnit}"));

    /// <summary>The listing's costs: the venue defaults with this listing's overrides.</summary>
    public ListingCosts ToCosts()
    {
        var d = DefaultCosts.For(Venue);
        return d with { Borrowable = Borrowable, BorrowFeeAnnual = BorrowFeeAnnual ?? d.BorrowFeeAnnual, HalfSpreadBps = HalfSpreadBps ?? d.HalfSpreadBps };
    }

    /// <summary>The price unit of a unit name (ZAc, GBp, or an ISO currency code for major units).</summary>
    /// <exception cref="ArgumentException">The name is not a unit.</exception>
    public static PriceUnit UnitOf(string name) => name switch
    {
        "ZAc" => PriceUnit.SouthAfricanCents,
        "GBp" or "GBX" => PriceUnit.Pence,
        { Length: 3 } when name.All(char.IsAsciiLetterUpper) => PriceUnit.Major(new Currency(name)),
        _ => throw new ArgumentException($"unknown price unit '{name}' (ZAc, GBp, or a currency code such as EUR)"),
    };
}

/// <summary>One configured pair (<c>DualListing:Pairs:{name}</c>).</summary>
public sealed class PairOptions
{
    /// <summary>False to leave the pair out.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The company.</summary>
    public string Company { get; set; } = "";

    /// <summary>Leg A (converted into B's currency).</summary>
    public ListingOptions A { get; set; } = new();

    /// <summary>Leg B.</summary>
    public ListingOptions B { get; set; } = new();

    /// <summary>FX pair (six letters) → daily file relative to the data directory, for the path between the legs and to the base currency.</summary>
    public Dictionary<string, string> Fx { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// The dual-listing strategy's configuration (section <c>DualListing</c>): data, sizing, the signal, and the pairs. The
/// default five cover the four exchanges: Anglo American (AGL.JO/AAL.L), Glencore (GLN.JO/GLEN.L), BAT (BTI.JO/BATS.L),
/// Shell A (RDSA.AS/RDSA.L) and BP (BP ADR/BP.L); Mondi and Rio Tinto are configured but disabled.
/// </summary>
public sealed class DualListingOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "DualListing";

    /// <summary>The directory of the daily files (the data README's <c>dual_listed/</c>).</summary>
    public string DataDirectory { get; set; } = "../shared/data/dual_listed";

    /// <summary>Notional of each leg at entry, base currency.</summary>
    public decimal NotionalPerLeg { get; set; } = 20_000m;

    /// <summary>Honest fills: fraction of the way from the open to the adverse extreme.</summary>
    public decimal AdverseFraction { get; set; } = 0.25m;

    /// <summary>The both-open rule's tolerance, seconds.</summary>
    public double BothOpenToleranceSeconds { get; set; } = 60;

    /// <summary>The oldest FX snapshot a conversion accepts, days.</summary>
    public double MaxFxAgeDays { get; set; } = 4;

    /// <summary>Observations in the cointegration window.</summary>
    public int Lookback { get; set; } = 120;

    /// <summary>Re-test every this many observations.</summary>
    public int RetestEvery { get; set; } = 20;

    /// <summary>The z-score's reference window.</summary>
    public int ZWindow { get; set; } = 40;

    /// <summary>Entry |z|.</summary>
    public double EntryZ { get; set; } = 2.0;

    /// <summary>Exit |z|.</summary>
    public double ExitZ { get; set; } = 0.5;

    /// <summary>Stop |z|.</summary>
    public double StopZ { get; set; } = 4.0;

    /// <summary>Time stop, observations.</summary>
    public int MaxHolding { get; set; } = 20;

    /// <summary>Retire above this Engle–Granger p-value.</summary>
    public double MaxPValue { get; set; } = 0.10;

    /// <summary>Retire above this half-life, observations.</summary>
    public double MaxHalfLife { get; set; } = 20;

    /// <summary>The pairs by name; the defaults are merged with configuration key by key.</summary>
    public Dictionary<string, PairOptions> Pairs { get; set; } = Defaults();

    /// <summary>The signal options.</summary>
    public PairSignalOptions Signal() => new()
    {
        Lookback = Lookback, RetestEvery = RetestEvery, ZWindow = ZWindow, EntryZ = EntryZ, ExitZ = ExitZ, StopZ = StopZ,
        MaxHolding = MaxHolding, MaxPValue = MaxPValue, MaxHalfLife = MaxHalfLife,
    };

    /// <summary>The backtest options in <paramref name="baseCurrency"/>.</summary>
    public PairBacktestOptions Backtest(Currency baseCurrency) => new()
    {
        Signal = Signal(), BaseCurrency = baseCurrency, NotionalPerLeg = NotionalPerLeg, AdverseFraction = AdverseFraction,
        BothOpenTolerance = TimeSpan.FromSeconds(BothOpenToleranceSeconds),
    };

    /// <summary>Checks the options (called on start).</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public void Validate()
    {
        Signal().Validate();
        if (NotionalPerLeg <= 0 || AdverseFraction is < 0 or > 1 || BothOpenToleranceSeconds <= 0 || MaxFxAgeDays <= 0)
        {
            throw new ArgumentException($"DualListing: NotionalPerLeg > 0 ({NotionalPerLeg}), 0 ≤ AdverseFraction ≤ 1 ({AdverseFraction}), BothOpenToleranceSeconds > 0, MaxFxAgeDays > 0");
        }

        foreach (var (name, p) in Pairs.Where(p => p.Value.Enabled))
        {
            foreach (var leg in new[] { p.A, p.B })
            {
                if (string.IsNullOrWhiteSpace(leg.Symbol) || string.IsNullOrWhiteSpace(leg.File))
                {
                    throw new ArgumentException($"DualListing:Pairs:{name}: each leg needs Symbol and File");
                }

                _ = leg.ToListing();
                _ = leg.ToCosts();
            }

            if (p.Fx.Count == 0 && p.A.ToListing().Currency != p.B.ToListing().Currency)
            {
                throw new ArgumentException($"DualListing:Pairs:{name}: the legs trade in different currencies but no Fx files are configured");
            }
        }
    }

    /// <summary>Loads the enabled pairs' data (files relative to <see cref="DataDirectory"/>, itself relative to <paramref name="root"/>).</summary>
    /// <exception cref="DailyDataException">A file is missing or malformed.</exception>
    public IReadOnlyList<PairBacktestInput> Load(string root)
    {
        var dir = Path.GetFullPath(Path.Combine(root, DataDirectory));
        var cache = new Dictionary<string, DailySeries>(StringComparer.Ordinal);
        DailySeries Read(string file, CloseColumn column)
        {
            var path = Path.Combine(dir, file);
            var key = path + "|" + column;
            return cache.TryGetValue(key, out var s) ? s : cache[key] = DailySeriesReader.Read(path, column);
        }

        static CloseColumn Col(string c) => c.Equals("adj_close", StringComparison.OrdinalIgnoreCase) ? CloseColumn.AdjustedClose : CloseColumn.Close;
        var list = new List<PairBacktestInput>();
        foreach (var (name, p) in Pairs.Where(p => p.Value.Enabled).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var fx = p.Fx.ToDictionary(kv => kv.Key, kv => Read(kv.Value, CloseColumn.Close), StringComparer.OrdinalIgnoreCase);
            var pair = new PairDefinition(name, p.Company, p.A.ToListing(), p.B.ToListing());
            list.Add(new PairBacktestInput(pair,
                new PairLegData(pair.A, Read(p.A.File, Col(p.A.Column)), p.A.ToCosts()),
                new PairLegData(pair.B, Read(p.B.File, Col(p.B.Column)), p.B.ToCosts()),
                new FxBook(fx, TimeSpan.FromDays(MaxFxAgeDays))));
        }

        return list;
    }

    /// <summary>The default pairs (data README §2 for files, units and ADR ratios).</summary>
    public static Dictionary<string, PairOptions> Defaults()
    {
        static ListingOptions L(string symbol, string venue, string unit, string file, string column = "close", decimal ratio = 1m) =>
            new() { Symbol = symbol, Venue = venue, Unit = unit, File = file, Column = column, SharesPerUnit = ratio };
        Dictionary<string, string> Fx(params (string Pair, string File)[] f) => f.ToDictionary(x => x.Pair, x => x.File, StringComparer.OrdinalIgnoreCase);
        var fx1520 = Fx(("GBPUSD", "fx/GBPUSD_2015-07_2020-06.csv"), ("EURUSD", "fx/EURUSD_2015-07_2020-06.csv"), ("USDZAR", "fx/USDZAR_derived_close_2014-01_2024-07.csv"));
        var fx1626 = Fx(("GBPUSD", "fx/GBPUSD_2016-01_2026-01.csv"), ("USDZAR", "fx/USDZAR_2016-01_2026-01.csv"));
        return new(StringComparer.OrdinalIgnoreCase)
        {
            // Raw LSE OHLC exists for 2015-07..2020-06 only: Anglo uses it (both legs with a day range).
            ["anglo"] = new() { Company = "Anglo American plc", A = L("AGL.JO", "JSE", "ZAc", "jse/AGL.JO.csv"), B = L("AAL.L", "LSE", "GBp", "lse/AAL.L_2015-07_2020-06.csv"), Fx = new(fx1520, StringComparer.OrdinalIgnoreCase) },
            ["glencore"] = new() { Company = "Glencore plc", A = L("GLN.JO", "JSE", "ZAc", "jse/GLN.JO.csv"), B = L("GLEN.L", "LSE", "GBp", "lse/GLEN.L_adjclose.csv", "adj_close"), Fx = new(fx1626, StringComparer.OrdinalIgnoreCase) },
            ["bat"] = new() { Company = "British American Tobacco plc", A = L("BTI.JO", "JSE", "ZAc", "jse/BTI.JO.csv"), B = L("BATS.L", "LSE", "GBp", "lse/BATS.L_adjclose.csv", "adj_close"), Fx = new(fx1626, StringComparer.OrdinalIgnoreCase) },
            ["shell-a"] = new() { Company = "Royal Dutch Shell plc, A shares", A = L("RDSA.AS", "AEX", "EUR", "aex/RDSa.AS_2015-07_2020-06.csv"), B = L("RDSA.L", "LSE", "GBp", "lse/RDSa.L_2015-07_2020-06.csv"), Fx = new(fx1520, StringComparer.OrdinalIgnoreCase) },
            ["bp"] = new() { Company = "BP plc", A = L("BP", "NYSE", "USD", "nyse_adr/BP_2015-01_2024-03.csv", ratio: 6m), B = L("BP.L", "LSE", "GBp", "lse/BP.L_2015-07_2020-06.csv"), Fx = new(fx1520, StringComparer.OrdinalIgnoreCase) },
            ["mondi"] = new() { Enabled = false, Company = "Mondi plc", A = L("MNP.JO", "JSE", "ZAc", "jse/MNP.JO.csv"), B = L("MNDI.L", "LSE", "GBp", "lse/MNDI.L_adjclose.csv", "adj_close"), Fx = new(fx1626, StringComparer.OrdinalIgnoreCase) },
            ["rio"] = new() { Enabled = false, Company = "Rio Tinto plc", A = L("RIO", "NYSE", "USD", "nyse_adr/RIO_2015-01_2024-03.csv"), B = L("RIO.L", "LSE", "GBp", "lse/RIO.L_2015-07_2020-06.csv"), Fx = new(fx1520, StringComparer.OrdinalIgnoreCase) },
        };
    }
}
