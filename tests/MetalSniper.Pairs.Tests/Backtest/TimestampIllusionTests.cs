using Xunit.Abstractions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Pairs.Backtest;
using MetalSniper.Pairs.Costs;
using MetalSniper.Pairs.Data;
using MetalSniper.Pairs.Model;
using MetalSniper.Pairs.Signals;

namespace MetalSniper.Pairs.Tests.Backtest;

/// <summary>
/// The timestamp illusion, planted: two listings of one "true" price (no premium at all, ever), whose closes are 90
/// minutes apart, in a trending market. Comparing same-date closes sees a "premium" that is only the price's move in those
/// 90 minutes — i.i.d., so it "reverts" every day. The naive backtest harvests it; the honest one must find nothing.
/// </summary>
public sealed class TimestampIllusionTests(ITestOutputHelper output)
{
    private static readonly (TimeOnly, TimeOnly) EarlyHours = (new TimeOnly(8, 0), new TimeOnly(15, 0));
    private static readonly (TimeOnly, TimeOnly) LateHours = (new TimeOnly(9, 30), new TimeOnly(16, 30));

    internal static FixedHoursCalendar Calendar() => new(new Dictionary<string, (TimeOnly, TimeOnly)> { ["EARLY"] = EarlyHours, ["LATE"] = LateHours });

    /// <summary>One true price, per minute, every day of <paramref name="days"/> weekdays; each listing's OHLC is the path inside its own session.</summary>
    internal static (DailySeries A, DailySeries B) TwoListingsOfOnePrice(int days, int seed, double drift = 0.000002, double sigma = 0.0004)
    {
        var random = new Random(seed);
        var log = Math.Log(100.0);
        var rowsA = new List<DailyRow>();
        var rowsB = new List<DailyRow>();
        var date = new DateOnly(2021, 1, 4);
        while (rowsA.Count < days)
        {
            var path = new double[24 * 60];
            for (var m = 0; m < path.Length; m++)
            {
                // Box–Muller normal step with a drift: a trending market.
                var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                log += drift + (sigma * z);
                path[m] = Math.Exp(log);
            }

            if (date.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday))
            {
                rowsA.Add(Row(date, path, EarlyHours));
                rowsB.Add(Row(date, path, LateHours));
            }

            date = date.AddDays(1);
        }

        return (new DailySeries("synthetic-early.csv", rowsA), new DailySeries("synthetic-late.csv", rowsB));

        static DailyRow Row(DateOnly d, double[] path, (TimeOnly Open, TimeOnly Close) h)
        {
            var (from, to) = ((h.Open.Hour * 60) + h.Open.Minute, (h.Close.Hour * 60) + h.Close.Minute);
            var slice = path[from..to];
            decimal D(double v) => Math.Round((decimal)v, 4);
            return new DailyRow(d, D(slice[0]), D(slice.Max()), D(slice.Min()), D(slice[^1]));
        }
    }

    internal static PairBacktestInput Input(DailySeries a, DailySeries b)
    {
        var unit = PriceUnit.Major(Currency.Eur);
        var pair = new PairDefinition("illusion", "one true price", new Listing("EARLY.X", "EARLY", unit), new Listing("LATE.Y", "LATE", unit));
        var costs = DefaultCosts.For("AEX");
        return new PairBacktestInput(pair, new PairLegData(pair.A, a, costs), new PairLegData(pair.B, b, costs), new FxBook(new Dictionary<string, DailySeries>()));
    }

    internal static PairBacktestOptions Options() => new()
    {
        BaseCurrency = Currency.Eur,
        NotionalPerLeg = 20_000m,
        Signal = new PairSignalOptions { Lookback = 120, RetestEvery = 20, ZWindow = 40, EntryZ = 2.0, ExitZ = 0.5, StopZ = 4.0, MaxHolding = 10 },
    };

    [Fact]
    public void NaiveBacktest_ClosesNinetyMinutesApart_ShowsAnEdgeThatTheHonestBacktestDoesNot()
    {
        var (a, b) = TwoListingsOfOnePrice(days: 780, seed: 20261207);
        var backtest = new DailyPairBacktest(Calendar(), Options());
        var naive = backtest.Run(Input(a, b), PairBacktestMode.Naive, "T-N");
        var honest = backtest.Run(Input(a, b), PairBacktestMode.Honest, "T-H");

        output.WriteLine($"naive: {naive.Trades.Count} trades, {naive.Winners} winners, gross {naive.Gross:0.00}, net {naive.Net:0.00} EUR");
        output.WriteLine($"honest: {honest.Trades.Count} trades, {honest.Winners} winners, gross {honest.Gross:0.00}, net {honest.Net:0.00} EUR");

        // The naive backtest "finds" a mean-reverting premium and profits from it, net of the same costs.
        var why = $"retired: {string.Join("; ", naive.Retirements)}; skipped: {string.Join("; ", naive.Skipped.Select(k => k.Key + "=" + k.Value))}; tests: {string.Join(" ", naive.Tests.Select(t => $"p={t.PValue:0.000}/hl={t.HalfLife:0.0}"))}";
        naive.Trades.Count.ShouldBeGreaterThan(15, why);
        naive.Net.ShouldBeGreaterThan(0m);
        ((double)naive.Winners / naive.Trades.Count).ShouldBeGreaterThan(0.7);

        // The honest one trades the same signals a session later: the gross edge is gone (within noise) and costs make it a loss.
        honest.Trades.Count.ShouldBeGreaterThan(15);
        var gross = honest.Trades.Select(t => (double)t.Gross).ToArray();
        var mean = gross.Average();
        var se = Math.Sqrt(gross.Sum(g => (g - mean) * (g - mean)) / (gross.Length - 1) / gross.Length);
        mean.ShouldBeLessThan(2 * se, $"honest gross per trade {mean:0.00} ± {se:0.00} EUR: an edge survived the honest timing");
        honest.Net.ShouldBeLessThan(0m);
        ((double)naive.Net).ShouldBeGreaterThan((double)honest.Net + (30 * Math.Abs(mean) + 1));
    }

    [Fact]
    public void HonestBacktest_DecisionsUpToADate_DoNotChangeWhenTheFutureChanges()
    {
        var (a, b) = TwoListingsOfOnePrice(days: 400, seed: 7);
        var cut = a.Rows[250].Date;
        var backtest = new DailyPairBacktest(Calendar(), Options());
        var full = backtest.Run(Input(a, b), PairBacktestMode.Honest, "T");

        // A different future: every row after the cut is replaced by another path's.
        var (a2, b2) = TwoListingsOfOnePrice(days: 400, seed: 8);
        static DailySeries Splice(DailySeries past, DailySeries future, DateOnly cut) =>
            new(past.Path, [.. past.Rows.Where(r => r.Date <= cut), .. future.Rows.Where(r => r.Date > cut)]);
        var other = backtest.Run(Input(Splice(a, a2, cut), Splice(b, b2, cut)), PairBacktestMode.Honest, "T");

        var cutUtc = new DateTimeOffset(cut.ToDateTime(new TimeOnly(16, 30)), TimeSpan.Zero);
        static List<string> Before(PairBacktestResult r, DateTimeOffset t) => [.. r.Ledger.OfType<PairDecisionEntry>()
            .Where(d => d.Decision.EventTimeUtc <= t)
            .Select(d => $"{d.Decision.DecisionId} {d.Decision.Kind} {d.Decision.Reason} {string.Join(",", d.Decision.Inputs.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => i.Key + "=" + i.Value))}")];
        var before = Before(full, cutUtc);
        before.Count.ShouldBeGreaterThan(3);
        Before(other, cutUtc).ShouldBe(before);
        full.Tests.Where(t => t.TestedAt <= 250).ShouldBe(other.Tests.Where(t => t.TestedAt <= 250));
    }

    [Fact]
    public void HonestBacktest_FillsOnTheNextSessionAfterTheDecision_NeverAtTheClosesItDecidedOn()
    {
        var (a, b) = TwoListingsOfOnePrice(days: 300, seed: 11);
        var result = new DailyPairBacktest(Calendar(), Options()).Run(Input(a, b), PairBacktestMode.Honest, "T");
        var decisions = result.Ledger.OfType<PairDecisionEntry>().ToDictionary(d => d.Decision.DecisionId, d => d.Decision.EventTimeUtc);
        var orders = result.Ledger.OfType<PairOrderEntry>().ToDictionary(o => o.Order.ClientOrderId, o => o.Order.DecisionId);
        var fills = result.Ledger.OfType<PairFillEntry>().ToList();
        fills.Count.ShouldBeGreaterThan(10);
        foreach (var f in fills)
        {
            f.Fill.EventTimeUtc.ShouldBeGreaterThan(decisions[orders[f.Fill.ClientOrderId]]);
        }
    }
}
