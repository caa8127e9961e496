using MetalSniper.Core.Decisions;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Pairs.Costs;
using MetalSniper.Pairs.Data;
using MetalSniper.Pairs.Model;
using MetalSniper.Pairs.Signals;

namespace MetalSniper.Pairs.Backtest;

/// <summary>How a daily pair backtest decides and fills.</summary>
public enum PairBacktestMode
{
    /// <summary>
    /// The illusion: the premium from same-date closes (and the same-date FX row), filled at those very closes. Costs are
    /// charged too, so that the gap to the honest figure is the timing alone.
    /// </summary>
    Naive,

    /// <summary>
    /// Decided only from what was knowable after both closes and the next FX snapshot; executed on the next date both
    /// venues trade, at adverse prices within each leg's day range; every cost charged.
    /// </summary>
    Honest,
}

/// <summary>One listing's data and costs in a pair backtest.</summary>
/// <param name="Listing">The listing.</param>
/// <param name="Series">Its daily rows.</param>
/// <param name="Costs">Its cost table.</param>
public sealed record PairLegData(Listing Listing, DailySeries Series, ListingCosts Costs);

/// <summary>The inputs of one pair's backtest.</summary>
/// <param name="Pair">The pair.</param>
/// <param name="A">Leg A's data.</param>
/// <param name="B">Leg B's data.</param>
/// <param name="Fx">The FX snapshots.</param>
public sealed record PairBacktestInput(PairDefinition Pair, PairLegData A, PairLegData B, FxBook Fx);

/// <summary>Backtest settings shared by the pairs.</summary>
public sealed record PairBacktestOptions
{
    /// <summary>The signal's parameters.</summary>
    public PairSignalOptions Signal { get; init; } = new();

    /// <summary>The account's base currency (P&amp;L and costs are reported in it).</summary>
    public Currency BaseCurrency { get; init; } = Currency.Usd;

    /// <summary>Notional of each leg at entry, in the base currency (leg B is scaled by |hedge ratio|). Default 20,000.</summary>
    public decimal NotionalPerLeg { get; init; } = 20_000m;

    /// <summary>
    /// Honest fills: the fraction of the way from the open to the day's adverse extreme (high for a buy, low for a sell).
    /// Default 0.25. When either leg has closes only, both legs fill at the day's closes moved adversely by this fraction of
    /// each leg's mean absolute daily move over the 20 dates before.
    /// </summary>
    public decimal AdverseFraction { get; init; } = 0.25m;

    /// <summary>FX conversion costs.</summary>
    public FxConversionCosts FxCosts { get; init; } = new();

    /// <summary>The both-open rule's tolerance, used to label each daily comparison (closes of two venues are hours apart).</summary>
    public TimeSpan BothOpenTolerance { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>One leg of a pair trade.</summary>
/// <param name="Symbol">The listing.</param>
/// <param name="Currency">Its currency.</param>
/// <param name="Quantity">Signed units (+ long, − short).</param>
/// <param name="EntryPrice">Entry fill price, major units of <paramref name="Currency"/> per unit.</param>
/// <param name="EntryFx">Base currency per unit of <paramref name="Currency"/> at entry.</param>
/// <param name="ExitPrice">Exit fill price, or null while open.</param>
/// <param name="ExitFx">Base per unit at exit, or null while open.</param>
public sealed record PairLeg(string Symbol, Currency Currency, decimal Quantity, decimal EntryPrice, decimal EntryFx, decimal? ExitPrice = null, decimal? ExitFx = null)
{
    /// <summary>The leg's gross P&amp;L in the base currency: <c>q × (exit × fx_exit − entry × fx_entry)</c> (the FX move on the principal included).</summary>
    public decimal GrossBase => ExitPrice is { } x && ExitFx is { } f ? Quantity * ((x * f) - (EntryPrice * EntryFx)) : 0m;
}

/// <summary>A closed (or still open at the end) pair trade.</summary>
/// <param name="Direction">Long A/short B or the reverse.</param>
/// <param name="DecidedUtc">When the entry was decided.</param>
/// <param name="EnteredOn">The date both legs filled.</param>
/// <param name="ExitedOn">The date both legs were closed, or null when still open at the end.</param>
/// <param name="ExitKind">Exit, stop, retire or end of data.</param>
/// <param name="A">Leg A.</param>
/// <param name="B">Leg B.</param>
/// <param name="Costs">Every cost paid, line by line.</param>
/// <param name="EntryZ">The z-score at the entry decision.</param>
public sealed record PairTrade(PairDirection Direction, DateTimeOffset DecidedUtc, DateOnly EnteredOn, DateOnly? ExitedOn, string ExitKind, PairLeg A, PairLeg B, IReadOnlyList<CostCharge> Costs, double EntryZ)
{
    /// <summary>Gross P&amp;L in the base currency.</summary>
    public decimal Gross => A.GrossBase + B.GrossBase;

    /// <summary>Costs in the base currency.</summary>
    public decimal CostTotal => Costs.Sum(c => c.InBase.Amount);

    /// <summary>Net P&amp;L in the base currency.</summary>
    public decimal Net => Gross - CostTotal;
}

/// <summary>A record the backtest produced for the database (decisions, orders, fills), in the order it happened.</summary>
public abstract record PairLedgerEntry;

/// <summary>A decision.</summary>
public sealed record PairDecisionEntry(DecisionRecord Decision) : PairLedgerEntry;

/// <summary>An order of a decision (the backtest's orders all fill: status Filled).</summary>
public sealed record PairOrderEntry(SubmitOrder Order, DateTimeOffset PlacedUtc) : PairLedgerEntry;

/// <summary>A fill with its cost lines.</summary>
public sealed record PairFillEntry(Fill Fill, IReadOnlyList<CostCharge> Costs) : PairLedgerEntry;

/// <summary>The estimated timing noise of a daily comparison (1σ of the premium error from non-simultaneous prices).</summary>
/// <param name="CloseGapMinutes">Median time between the two closes.</param>
/// <param name="FxGapHours">Median time between the FX snapshot used and the later close.</param>
/// <param name="CloseNoise">1σ from the close gap: σ_daily × √(gap / session length) (random walk, variance spread over the session).</param>
/// <param name="FxNoise">1σ from the FX gap: σ_FX,daily × √(gap / 24 h).</param>
/// <param name="Total">√(close² + FX²), as a fraction of price.</param>
public sealed record TimingNoise(double CloseGapMinutes, double FxGapHours, double CloseNoise, double FxNoise, double Total);

/// <summary>
/// The result of one pair in one mode. <see cref="Hindsight"/> is the Engle–Granger test and half-life over the whole
/// period's observations: a report figure computed after the run, never an input of a decision (the decisions use
/// <see cref="Tests"/>, each on data up to its own moment).
/// </summary>
public sealed record PairBacktestResult(
    PairDefinition Pair,
    PairBacktestMode Mode,
    Currency BaseCurrency,
    DateOnly From,
    DateOnly To,
    int Observations,
    IReadOnlyList<PairTrade> Trades,
    IReadOnlyList<PairStatistics> Tests,
    IReadOnlyList<string> Retirements,
    IReadOnlyDictionary<string, int> Skipped,
    TimingNoise Noise,
    IReadOnlyDictionary<Currency, decimal> MaxFxExposure,
    IReadOnlyList<PairLedgerEntry> Ledger,
    PairStatistics? Hindsight)
{
    /// <summary>Gross P&amp;L, base currency.</summary>
    public decimal Gross => Trades.Sum(t => t.Gross);

    /// <summary>Net P&amp;L, base currency.</summary>
    public decimal Net => Trades.Sum(t => t.Net);

    /// <summary>Costs by line, base currency.</summary>
    public IReadOnlyDictionary<PairCostKind, decimal> CostsByKind =>
        Enum.GetValues<PairCostKind>().ToDictionary(k => k, k => Trades.SelectMany(t => t.Costs).Where(c => c.Kind == k).Sum(c => c.InBase.Amount));

    /// <summary>Trades with a positive net P&amp;L.</summary>
    public int Winners => Trades.Count(t => t.Net > 0);
}
