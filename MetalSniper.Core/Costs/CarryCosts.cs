using System.Globalization;

namespace MetalSniper.Core.Costs;

/// <summary>What a carry charge is for.</summary>
public enum CarryKind
{
    /// <summary>Borrow fee on a short spot-metal position: (USD benchmark + spread) a year on its value.</summary>
    Borrow,

    /// <summary>Storage on a long spot-metal position: a flat rate a year on its value.</summary>
    Storage,
}

/// <summary>A USD benchmark rate that applies from a day on (until the next entry of the schedule).</summary>
/// <param name="EffectiveFrom">First accrual day (the cut's New York date) the rate applies to.</param>
/// <param name="AnnualRate">Annual rate as a fraction (0.05375 = 5.375 % a year).</param>
public sealed record BenchmarkRate(DateOnly EffectiveFrom, decimal AnnualRate);

/// <summary>
/// One day's carry on one position, as the broker charges it at the daily cut.
/// <c>AmountUsd = NotionalUsd × RateAnnual / DayCountBasis</c>, rounded to the cent (away from zero), always ≥ 0 (a cost).
/// </summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Day">The accrual day: the date (in the cut's time zone) of the cut the position was held over.</param>
/// <param name="CutUtc">The cut instant (UTC).</param>
/// <param name="Kind">Borrow (short) or storage (long).</param>
/// <param name="Quantity">Signed quantity held at the cut (instrument units, ounces for metals).</param>
/// <param name="Mark">The last price known at the cut (major units, the close of the last bar closing at or before it).</param>
/// <param name="NotionalUsd">|quantity| × mark × multiplier, in the instrument currency (USD for the metals).</param>
/// <param name="RateAnnual">The annual rate applied, as a fraction (borrow: benchmark + spread; storage: the storage rate).</param>
/// <param name="AmountUsd">The day's charge, in the instrument currency (USD for the metals), rounded to the cent.</param>
public sealed record CarryCharge(string Symbol, DateOnly Day, DateTimeOffset CutUtc, CarryKind Kind, decimal Quantity, decimal Mark, decimal NotionalUsd, decimal RateAnnual, decimal AmountUsd);

/// <summary>
/// The carry IB charges on spot metals (XAUUSD, XAGUSD, secType CMDTY), accrued once a day for every position held over the
/// daily cut. Source: IBKR's metals commission page ("Gold USD/oz. (Loco London) and Silver USD/oz. (Loco London)",
/// interactivebrokers.com/en/pricing/commissions-metals.php, as also published at interactivebrokers.co.in and
/// interactivebrokers.com.au): <em>storage cost 0.10 % per annum</em> on long positions, and a <em>borrow fee of BM + 1 %</em>
/// on short positions for balances up to USD 1,000,000 (BM + 0.5 % to 10 M, BM + 0.3 % above; this model uses the first tier,
/// the strategy's positions are far below it), with IB's worked examples <c>storage = 1900 × 500 × 0.1 % / 360</c> and
/// <c>borrow = 1900 × 500 × (5.08 + 1) % / 360</c> per day. The day count is therefore actual/360 (IB's convention for USD
/// interest): each calendar day the position is held over the cut is one day, weekends and holidays included (Friday's
/// position pays Friday, Saturday and Sunday at Friday's mark). BM is IBKR's USD benchmark (the Fed Funds effective rate),
/// taken from a dated schedule as of each accrual day.
/// </summary>
public sealed class CarryCostModel
{
    private readonly BenchmarkRate[] _schedule;

    /// <summary>Creates the model.</summary>
    /// <param name="borrowSpreadAnnual">Spread over the benchmark of the borrow fee, as an annual fraction (IB tier I: 0.01).</param>
    /// <param name="storageRateAnnual">Storage rate, as an annual fraction of the long position's value (IB: 0.001).</param>
    /// <param name="dayCountBasis">Days in the year of the day count (IB USD: 360).</param>
    /// <param name="benchmark">The USD benchmark schedule, ascending by date, rates in [-0.05, 0.25].</param>
    /// <exception cref="ArgumentException">A rate is out of its range, the basis is not 360 or 365, or the schedule is empty or not ascending.</exception>
    public CarryCostModel(decimal borrowSpreadAnnual, decimal storageRateAnnual, int dayCountBasis, IReadOnlyList<BenchmarkRate> benchmark)
    {
        ArgumentNullException.ThrowIfNull(benchmark);
        var problems = Check(borrowSpreadAnnual, storageRateAnnual, dayCountBasis, benchmark);
        if (problems.Count > 0)
        {
            throw new ArgumentException("carry cost model: " + string.Join("; ", problems), nameof(benchmark));
        }

        BorrowSpreadAnnual = borrowSpreadAnnual;
        StorageRateAnnual = storageRateAnnual;
        DayCountBasis = dayCountBasis;
        _schedule = [.. benchmark];
    }

    /// <summary>Spread over the benchmark of the borrow fee (annual fraction).</summary>
    public decimal BorrowSpreadAnnual { get; }

    /// <summary>Storage rate (annual fraction of the long position's value).</summary>
    public decimal StorageRateAnnual { get; }

    /// <summary>Days in the year of the day count (actual/<c>DayCountBasis</c>).</summary>
    public int DayCountBasis { get; }

    /// <summary>The benchmark schedule, ascending.</summary>
    public IReadOnlyList<BenchmarkRate> Benchmark => _schedule;

    /// <summary>
    /// What is wrong with these settings (empty when nothing): spreads and rates within [0, 0.10], the basis 360 or 365, the
    /// schedule non-empty, strictly ascending by date, every rate within [-0.05, 0.25] (sane bounds for a USD overnight rate).
    /// </summary>
    public static IReadOnlyList<string> Check(decimal borrowSpreadAnnual, decimal storageRateAnnual, int dayCountBasis, IReadOnlyList<BenchmarkRate> benchmark)
    {
        ArgumentNullException.ThrowIfNull(benchmark);
        var problems = new List<string>();
        var inv = CultureInfo.InvariantCulture;
        if (borrowSpreadAnnual is < 0m or > 0.10m)
        {
            problems.Add(string.Create(inv, $"BorrowSpreadAnnual {borrowSpreadAnnual} is not within [0, 0.10] (an annual fraction: 0.01 = 1 %)"));
        }

        if (storageRateAnnual is < 0m or > 0.10m)
        {
            problems.Add(string.Create(inv, $"StorageRateAnnual {storageRateAnnual} is not within [0, 0.10] (an annual fraction: 0.001 = 0.10 %)"));
        }

        if (dayCountBasis is not (360 or 365))
        {
            problems.Add(string.Create(inv, $"DayCountBasis {dayCountBasis} is not 360 or 365"));
        }

        if (benchmark.Count == 0)
        {
            problems.Add("Benchmark: the schedule is empty (give at least one dated rate)");
        }

        for (var i = 0; i < benchmark.Count; i++)
        {
            var b = benchmark[i];
            if (b.AnnualRate is < -0.05m or > 0.25m)
            {
                problems.Add(string.Create(inv, $"Benchmark[{i}] {b.EffectiveFrom:yyyy-MM-dd}: rate {b.AnnualRate} is not within [-0.05, 0.25] (an annual fraction: 0.0533 = 5.33 %)"));
            }

            if (i > 0 && b.EffectiveFrom <= benchmark[i - 1].EffectiveFrom)
            {
                problems.Add(string.Create(inv, $"Benchmark[{i}] {b.EffectiveFrom:yyyy-MM-dd} is not after Benchmark[{i - 1}] {benchmark[i - 1].EffectiveFrom:yyyy-MM-dd} (dates must ascend)"));
            }
        }

        return problems;
    }

    /// <summary>The benchmark as of <paramref name="day"/>: the latest entry effective on or before it.</summary>
    /// <exception cref="InvalidOperationException">The day is before the schedule's first entry (no rate is guessed).</exception>
    public decimal BenchmarkOn(DateOnly day)
    {
        if (day < _schedule[0].EffectiveFrom)
        {
            throw new InvalidOperationException($"no USD benchmark rate for {day:yyyy-MM-dd}: the schedule starts {_schedule[0].EffectiveFrom:yyyy-MM-dd} (SimulatedBroker:Carry:Benchmark)");
        }

        var lo = 0;
        var hi = _schedule.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (_schedule[mid].EffectiveFrom <= day)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return _schedule[lo].AnnualRate;
    }

    /// <summary>
    /// One day's charge on a position of <paramref name="quantity"/> held over the cut of <paramref name="day"/> at
    /// <paramref name="mark"/>; null when flat. The amount is never negative: a negative benchmark below the spread charges 0.
    /// </summary>
    public CarryCharge? Charge(string symbol, DateOnly day, DateTimeOffset cutUtc, decimal quantity, decimal mark, decimal multiplier)
    {
        if (quantity == 0m)
        {
            return null;
        }

        var kind = quantity < 0m ? CarryKind.Borrow : CarryKind.Storage;
        var rate = kind == CarryKind.Borrow ? BenchmarkOn(day) + BorrowSpreadAnnual : StorageRateAnnual;
        var notional = Math.Abs(quantity) * mark * multiplier;
        var amount = Math.Max(0m, Math.Round(notional * rate / DayCountBasis, 2, MidpointRounding.AwayFromZero));
        return new CarryCharge(symbol, day, cutUtc, kind, quantity, mark, notional, rate, amount);
    }
}

/// <summary>
/// The daily cut of carry accrual and what is due at it: a fixed local time in a time zone (default 17:00 America/New_York,
/// the metals' daily break and the trading-day roll of the sentinel). Fed with the close time of every bar before that bar
/// is applied, it returns the cuts passed since the previous bar; for each, the caller charges the positions as they stood
/// (every bar closing at or before the cut applied, none after) at the marks known then. No look-ahead: a bar that closes
/// after the cut is never seen by its charge. Not thread-safe (the execution service's loop).
/// </summary>
public sealed class CarryAccrual
{
    private readonly TimeZoneInfo _zone;
    private readonly TimeOnly _cutLocal;
    private DateOnly? _lastDay;

    // The cut after _lastDay's (UTC): a bar closing at or before it passes no new cut, so most bars cost one comparison
    // instead of two time-zone conversions.
    private DateTimeOffset _nextCutUtc;

    /// <summary>Creates the accrual clock.</summary>
    /// <param name="model">The rates.</param>
    /// <param name="timeZone">IANA time zone of the cut (America/New_York).</param>
    /// <param name="cutLocal">Local time of the cut (17:00).</param>
    /// <exception cref="TimeZoneNotFoundException">Unknown time zone.</exception>
    public CarryAccrual(CarryCostModel model, string timeZone, TimeOnly cutLocal)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        _cutLocal = cutLocal;
    }

    /// <summary>The rates.</summary>
    public CarryCostModel Model { get; }

    /// <summary>The cut (UTC) of local date <paramref name="day"/>.</summary>
    public DateTimeOffset CutUtc(DateOnly day)
    {
        var local = day.ToDateTime(_cutLocal);
        return new DateTimeOffset(local, _zone.GetUtcOffset(local)).ToUniversalTime();
    }

    /// <summary>
    /// The cuts strictly before <paramref name="barCloseUtc"/> not yet returned, oldest first (the first call only starts the
    /// clock: nothing was held before the first bar). Call with every bar's close time, in order, before the bar is applied.
    /// </summary>
    public IReadOnlyList<(DateOnly Day, DateTimeOffset CutUtc)> CutsBefore(DateTimeOffset barCloseUtc)
    {
        // No cut strictly before the bar's close since the last one returned: the day below would not move past _lastDay.
        if (_lastDay is not null && barCloseUtc <= _nextCutUtc)
        {
            return [];
        }

        // The latest local date whose cut is strictly before the bar's close.
        var localNow = TimeZoneInfo.ConvertTime(barCloseUtc, _zone);
        var day = DateOnly.FromDateTime(localNow.DateTime);
        if (CutUtc(day) >= barCloseUtc)
        {
            day = day.AddDays(-1);
        }

        if (_lastDay is not { } last)
        {
            _lastDay = day;
            _nextCutUtc = CutUtc(day.AddDays(1));
            return [];
        }

        if (day <= last)
        {
            return [];
        }

        var cuts = new List<(DateOnly, DateTimeOffset)>();
        for (var d = last.AddDays(1); d <= day; d = d.AddDays(1))
        {
            cuts.Add((d, CutUtc(d)));
        }

        _lastDay = day;
        _nextCutUtc = CutUtc(day.AddDays(1));
        return cuts;
    }

    /// <summary>The charges of one cut for the positions held then, at the marks known then (a held position without a mark throws: no guessed price).</summary>
    /// <exception cref="InvalidOperationException">An open position has no mark.</exception>
    /// <param name="day">The accrual day.</param>
    /// <param name="cutUtc">Its cut.</param>
    /// <param name="positions">The positions held at the cut: symbol and signed quantity (flat ones are skipped).</param>
    /// <param name="marks">The last price of each symbol known at the cut.</param>
    /// <param name="multiplier">The contract multiplier of a symbol.</param>
    public IReadOnlyList<CarryCharge> ChargesAt(DateOnly day, DateTimeOffset cutUtc, IEnumerable<(string Symbol, decimal Quantity)> positions, IReadOnlyDictionary<string, decimal> marks, Func<string, decimal> multiplier)
    {
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(marks);
        ArgumentNullException.ThrowIfNull(multiplier);
        var charges = new List<CarryCharge>();
        foreach (var p in positions.Where(p => p.Quantity != 0m).OrderBy(p => p.Symbol, StringComparer.Ordinal))
        {
            if (!marks.TryGetValue(p.Symbol, out var mark))
            {
                throw new InvalidOperationException($"no mark for {p.Symbol} {p.Quantity} at the carry cut {cutUtc:O}: its carry cannot be charged");
            }

            if (Model.Charge(p.Symbol, day, cutUtc, p.Quantity, mark, multiplier(p.Symbol)) is { } c)
            {
                charges.Add(c);
            }
        }

        return charges;
    }
}
