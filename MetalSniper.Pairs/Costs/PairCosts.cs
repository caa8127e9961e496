using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;

namespace MetalSniper.Pairs.Costs;

/// <summary>The kinds of cost a pair trade pays, each reported on its own line.</summary>
public enum PairCostKind
{
    /// <summary>Broker commission per order (the venue's schedule).</summary>
    Commission,

    /// <summary>UK stamp duty / SDRT on London purchases.</summary>
    StampDuty,

    /// <summary>South African securities transfer tax on JSE purchases.</summary>
    TransferTax,

    /// <summary>Half the quoted bid/ask spread paid on each fill.</summary>
    Spread,

    /// <summary>Converting the base currency into the leg's currency and back (IDEALPRO commission and half spread).</summary>
    FxConversion,

    /// <summary>The fee for borrowing the shares of the short leg, accrued per calendar day.</summary>
    BorrowFee,
}

/// <summary>
/// One venue's commission schedule: a percentage of trade value with a minimum and a maximum per order, or a per-share
/// rate (US). Amounts are in the venue's currency.
/// </summary>
/// <param name="Currency">The currency of the minimum/maximum and of the charge.</param>
/// <param name="RateOfValue">Commission as a fraction of trade value (0.0005 = 0.05 %).</param>
/// <param name="PerShare">Commission per share (US schedule), in <paramref name="Currency"/>.</param>
/// <param name="Minimum">Minimum per order.</param>
/// <param name="MaximumRateOfValue">Maximum per order as a fraction of trade value (0 = none).</param>
/// <param name="Source">Where the schedule comes from.</param>
public sealed record CommissionSchedule(Currency Currency, decimal RateOfValue, decimal PerShare, decimal Minimum, decimal MaximumRateOfValue, string Source)
{
    /// <summary>The commission of one order of <paramref name="quantity"/> at <paramref name="priceMajor"/> (major units).</summary>
    public Money For(decimal quantity, decimal priceMajor)
    {
        var value = Math.Abs(quantity) * priceMajor;
        var c = Math.Max((value * RateOfValue) + (Math.Abs(quantity) * PerShare), Minimum);
        if (MaximumRateOfValue > 0m)
        {
            c = Math.Min(c, value * MaximumRateOfValue);
        }

        return new Money(Math.Round(c, 2, MidpointRounding.AwayFromZero), Currency);
    }
}

/// <summary>The costs of trading one listing.</summary>
/// <param name="Commission">The venue's commission schedule.</param>
/// <param name="PurchaseTaxRate">Tax on purchases as a fraction of value (UK stamp duty/SDRT 0.005, JSE STT 0.0025, 0 elsewhere).</param>
/// <param name="PurchaseTaxKind">Which cost line the purchase tax is (stamp duty or transfer tax).</param>
/// <param name="HalfSpreadBps">Half the typical bid/ask spread, in basis points of price.</param>
/// <param name="Borrowable">False when the listing cannot be borrowed: a pair whose short leg would be this listing is not traded.</param>
/// <param name="BorrowFeeAnnual">Annual borrow fee as a fraction of the short notional (0.003 = 0.3 % a year), accrued per calendar day / 360.</param>
public sealed record ListingCosts(CommissionSchedule Commission, decimal PurchaseTaxRate, PairCostKind PurchaseTaxKind, decimal HalfSpreadBps, bool Borrowable, decimal BorrowFeeAnnual);

/// <summary>
/// IB's FX conversion on IDEALPRO: 0.20 basis points of trade value, minimum USD 2.00 per conversion (IB "Spot Currencies"
/// commissions, interactivebrokers.com/en/pricing/commissions-spot-currencies.php), plus half the interbank spread.
/// </summary>
/// <param name="RateOfValue">Commission as a fraction of value (0.00002 = 0.2 bp).</param>
/// <param name="MinimumUsd">Minimum per conversion, USD.</param>
/// <param name="HalfSpreadBps">Half the FX spread paid, basis points.</param>
public sealed record FxConversionCosts(decimal RateOfValue = 0.00002m, decimal MinimumUsd = 2m, decimal HalfSpreadBps = 0.5m);

/// <summary>A cost paid, in the currency it was charged in and in the base currency at the time.</summary>
/// <param name="Kind">The cost line.</param>
/// <param name="Symbol">The listing it was paid on.</param>
/// <param name="Charged">The amount in the currency it was charged in.</param>
/// <param name="InBase">The amount in the account's base currency at the time.</param>
public sealed record CostCharge(PairCostKind Kind, string Symbol, Money Charged, Money InBase);

/// <summary>
/// The default cost table per venue. Commissions are IB's published <em>fixed</em> schedules (the plan a small account
/// starts on): United Kingdom 0.05 % of value, minimum GBP 3.00; Euronext 0.05 %, minimum EUR 3.00; United States USD 0.005
/// per share, minimum USD 1.00, maximum 1 % of value (interactivebrokers.com/en/pricing/commissions-stocks.php and
/// …-stocks-europe.php). The JSE is not on IB's published stock schedules: 0.10 % minimum ZAR 50 is an assumption of a
/// local broker's rate, stated as such. Taxes: UK stamp duty/SDRT 0.5 % on purchases of London shares (HMRC, Stamp Duty
/// Reserve Tax); South African securities transfer tax 0.25 % on purchases (Securities Transfer Tax Act 25 of 2007);
/// no transaction tax on Euronext Amsterdam or on NYSE ADRs in the secondary market. Half spreads are typical large-cap
/// values and borrow fees general-collateral rates (0.30 % a year): both assumptions, configurable per listing.
/// </summary>
public static class DefaultCosts
{
    /// <summary>The default costs of a listing on <paramref name="venue"/>.</summary>
    /// <exception cref="ArgumentException">The venue has no default cost table.</exception>
    public static ListingCosts For(string venue) => venue.ToUpperInvariant() switch
    {
        "LSE" => new(new CommissionSchedule(Currency.Gbp, 0.0005m, 0m, 3m, 0m, "IB fixed, United Kingdom"), 0.005m, PairCostKind.StampDuty, 5m, true, 0.003m),
        "JSE" => new(new CommissionSchedule(Currency.Zar, 0.001m, 0m, 50m, 0m, "assumed local-broker rate (JSE is not on IB's published schedule)"), 0.0025m, PairCostKind.TransferTax, 7.5m, true, 0.003m),
        "AEX" => new(new CommissionSchedule(Currency.Eur, 0.0005m, 0m, 3m, 0m, "IB fixed, Euronext"), 0m, PairCostKind.TransferTax, 5m, true, 0.003m),
        "NYSE" => new(new CommissionSchedule(Currency.Usd, 0m, 0.005m, 1m, 0.01m, "IB fixed, United States"), 0m, PairCostKind.TransferTax, 5m, true, 0.003m),
        _ => throw new ArgumentException($"no default cost table for venue {venue}; configure its costs", nameof(venue)),
    };
}

/// <summary>Charges the cost lines of fills and holdings (one code path for the backtest and the report).</summary>
/// <param name="baseCurrency">The account's base currency.</param>
/// <param name="fx">FX conversion costs.</param>
public sealed class PairCostCalculator(Currency baseCurrency, FxConversionCosts fx)
{
    /// <summary>The base currency.</summary>
    public Currency Base { get; } = baseCurrency;

    /// <summary>
    /// The costs of one fill of <paramref name="quantity"/> units at <paramref name="priceMajor"/> (major units of the listing's
    /// currency, before the spread): commission, purchase tax on buys, the half spread, and the FX conversion of the value
    /// when the listing's currency is not the base.
    /// </summary>
    /// <param name="symbol">The listing.</param>
    /// <param name="currency">The listing's currency.</param>
    /// <param name="costs">The listing's cost table.</param>
    /// <param name="side">Buy or sell.</param>
    /// <param name="quantity">Units traded (positive).</param>
    /// <param name="priceMajor">Fill price in major units.</param>
    /// <param name="toBase">Converts an amount of the listing's currency into the base currency at the time (fails closed).</param>
    /// <param name="usdToBase">Converts USD into the base currency at the time (for the FX minimum).</param>
    public IReadOnlyList<CostCharge> ForFill(string symbol, Currency currency, ListingCosts costs, OrderSide side, decimal quantity, decimal priceMajor,
        Func<decimal, decimal> toBase, Func<decimal, decimal> usdToBase)
    {
        ArgumentNullException.ThrowIfNull(costs);
        ArgumentNullException.ThrowIfNull(toBase);
        ArgumentNullException.ThrowIfNull(usdToBase);
        var value = Math.Abs(quantity) * priceMajor;
        var list = new List<CostCharge>(5);
        void Add(PairCostKind kind, Money m)
        {
            if (m.Amount != 0m)
            {
                var inBase = m.Currency == Base ? m.Amount : m.Currency == currency ? toBase(m.Amount) : m.Currency == Currency.Usd ? usdToBase(m.Amount) : throw new InvalidOperationException($"cost in {m.Currency} cannot be converted here");
                list.Add(new CostCharge(kind, symbol, m, new Money(Math.Round(inBase, 2, MidpointRounding.AwayFromZero), Base)));
            }
        }

        var commission = costs.Commission.For(quantity, priceMajor);
        Add(PairCostKind.Commission, commission.Currency == currency || commission.Currency == Currency.Usd ? commission : throw new InvalidOperationException($"{symbol}: commission schedule in {commission.Currency} but the listing trades in {currency}"));
        if (side == OrderSide.Buy && costs.PurchaseTaxRate > 0m)
        {
            Add(costs.PurchaseTaxKind, new Money(Math.Round(value * costs.PurchaseTaxRate, 2, MidpointRounding.AwayFromZero), currency));
        }

        Add(PairCostKind.Spread, new Money(Math.Round(value * costs.HalfSpreadBps / 10_000m, 2, MidpointRounding.AwayFromZero), currency));
        if (currency != Base)
        {
            var valueBase = toBase(value);
            var fee = Math.Max(valueBase * fx.RateOfValue, usdToBase(fx.MinimumUsd)) + (valueBase * fx.HalfSpreadBps / 10_000m);
            list.Add(new CostCharge(PairCostKind.FxConversion, symbol, new Money(Math.Round(fee, 2, MidpointRounding.AwayFromZero), Base), new Money(Math.Round(fee, 2, MidpointRounding.AwayFromZero), Base)));
        }

        return list;
    }

    /// <summary>The borrow fee of holding a short of <paramref name="shortValueMajor"/> for <paramref name="calendarDays"/> days (annual rate / 360 per day).</summary>
    public CostCharge? Borrow(string symbol, Currency currency, ListingCosts costs, decimal shortValueMajor, int calendarDays, Func<decimal, decimal> toBase)
    {
        ArgumentNullException.ThrowIfNull(costs);
        ArgumentNullException.ThrowIfNull(toBase);
        if (calendarDays <= 0 || costs.BorrowFeeAnnual <= 0m)
        {
            return null;
        }

        var fee = Math.Round(Math.Abs(shortValueMajor) * costs.BorrowFeeAnnual * calendarDays / 360m, 2, MidpointRounding.AwayFromZero);
        return fee == 0m ? null : new CostCharge(PairCostKind.BorrowFee, symbol, new Money(fee, currency), new Money(Math.Round(toBase(fee), 2, MidpointRounding.AwayFromZero), Base));
    }
}
