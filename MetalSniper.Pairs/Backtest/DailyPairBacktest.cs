using System.Globalization;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Sessions;
using MetalSniper.Pairs.Costs;
using MetalSniper.Pairs.Data;
using MetalSniper.Pairs.Model;
using MetalSniper.Pairs.Signals;

namespace MetalSniper.Pairs.Backtest;

/// <summary>
/// The daily backtest of one dual-listing pair, naive or honest (<see cref="PairBacktestMode"/>). Each date on which both
/// legs have a row and both venues trade is one observation; the premium is leg A per ordinary share converted into leg
/// B's currency over leg B per share. The observation times come from the exchange calendar (each venue's close on that
/// date, half days included) and the FX book (the snapshot's stamp). In honest mode nothing a decision uses is from after
/// its moment: the decision is timed at the first FX snapshot after the later close, and its orders fill on the next date
/// on which both venues open after that moment, at adverse prices within that day's range, with every cost charged.
/// Deterministic: the same inputs give the same trades, ids and ledger.
/// </summary>
public sealed class DailyPairBacktest(IExchangeCalendar calendar, PairBacktestOptions options)
{
    private const string Source = "pairs";

    /// <summary>Runs one pair in one mode.</summary>
    /// <param name="input">The pair's data.</param>
    /// <param name="mode">Naive or honest.</param>
    /// <param name="idTag">The run-scoped id tag of the decisions and orders ("{run}-PANGLO"); letters, digits and dashes.</param>
    /// <exception cref="DailyDataException">The legs share no date.</exception>
    public PairBacktestResult Run(PairBacktestInput input, PairBacktestMode mode, string idTag)
    {
        ArgumentNullException.ThrowIfNull(input);
        var run = new Runner(calendar, options, input, mode, new IdGenerator(idTag));
        return run.Execute();
    }

    private sealed class Runner(IExchangeCalendar calendar, PairBacktestOptions options, PairBacktestInput input, PairBacktestMode mode, IdGenerator ids)
    {
        private readonly PairSignal _signal = new(options.Signal);
        private readonly PairCostCalculator _costs = new(options.BaseCurrency, options.FxCosts);
        private readonly BothOpenRule _rule = new(calendar, options.BothOpenTolerance);
        private readonly List<PairLedgerEntry> _ledger = [];
        private readonly List<PairTrade> _trades = [];
        private readonly List<string> _retirements = [];
        private readonly SortedDictionary<string, int> _skipped = new(StringComparer.Ordinal);
        private readonly Dictionary<Currency, decimal> _maxExposure = [];
        private readonly List<double> _closeGaps = [], _fxGaps = [], _retA = [], _retB = [], _retFx = [];
        private readonly List<double> _sessionMinutes = [];
        private readonly List<double> _lnA = [], _lnB = [];
        private Pending? _pending;
        private OpenTrade? _open;
        private int _observations;

        private PairDefinition Pair => input.Pair;

        private Currency Base => options.BaseCurrency;

        public PairBacktestResult Execute()
        {
            var datesB = new HashSet<DateOnly>(input.B.Series.Rows.Select(r => r.Date));
            var dates = input.A.Series.Rows.Select(r => r.Date).Where(datesB.Contains).ToList();
            if (dates.Count == 0)
            {
                throw new DailyDataException($"pair {Pair.Name}: {input.A.Series.Path} and {input.B.Series.Path} share no date");
            }

            var (first, last) = calendar.Coverage;
            (double A, double B, double Fx)? previous = null;
            foreach (var d in dates)
            {
                if (d < first || d > last)
                {
                    Skip("date outside the exchange calendar's coverage");
                    continue;
                }

                var sa = calendar.Session(Pair.A.Venue, d);
                var sb = calendar.Session(Pair.B.Venue, d);
                if (sa is null || sb is null)
                {
                    Skip($"row on a date the calendar says {(sa is null ? Pair.A.Venue : Pair.B.Venue)} is closed");
                    continue;
                }

                var rowA = input.A.Series.On(d)!;
                var rowB = input.B.Series.On(d)!;
                if (_pending is { } p && mode == PairBacktestMode.Honest && sa.OpenUtc >= p.DecidedUtc && sb.OpenUtc >= p.DecidedUtc)
                {
                    try
                    {
                        Execute(p, d, rowA, rowB, sa, sb);
                        _pending = null;
                    }
                    catch (FxRateStaleException e)
                    {
                        Skip($"FX missing or stale at the fill: {e.Pair}: the orders wait for the next date");
                    }
                }

                var later = sa.CloseUtc > sb.CloseUtc ? sa.CloseUtc : sb.CloseUtc;
                DateTimeOffset decidedUtc;
                decimal fx;
                DateTimeOffset fxObserved;
                try
                {
                    if (mode == PairBacktestMode.Naive)
                    {
                        // The naive join: the FX row of the same date, whatever its time of day.
                        var stamp = input.Fx.StampOf(d);
                        (fx, fxObserved) = input.Fx.Factor(Pair.A.Currency, Pair.B.Currency, stamp);
                        if (fxObserved != stamp)
                        {
                            Skip("no same-date FX row (naive join drops the date)");
                            continue;
                        }

                        decidedUtc = later;
                    }
                    else
                    {
                        if (input.Fx.NextSnapshotAfter(Pair.A.Currency, Pair.B.Currency, later) is not { } next)
                        {
                            Skip("no FX snapshot after the closes (end of the FX data)");
                            continue;
                        }

                        if (next - later > input.Fx.MaxAge)
                        {
                            Skip("FX snapshot after the closes too late (stale): fails closed");
                            continue;
                        }

                        decidedUtc = next;
                        (fx, fxObserved) = input.Fx.Factor(Pair.A.Currency, Pair.B.Currency, next);
                    }
                }
                catch (FxRateStaleException)
                {
                    Skip("FX missing or stale: fails closed");
                    continue;
                }

                var aInB = (double)(Pair.A.PerShareMajor(rowA.Close) * fx);
                var bPs = (double)Pair.B.PerShareMajor(rowB.Close);
                _observations++;
                _closeGaps.Add(Math.Abs((sa.CloseUtc - sb.CloseUtc).TotalMinutes));
                _fxGaps.Add(Math.Abs((fxObserved - later).TotalHours));
                _sessionMinutes.Add(((sa.CloseUtc > sb.CloseUtc ? sa : sb).CloseUtc - (sa.CloseUtc > sb.CloseUtc ? sa : sb).OpenUtc).TotalMinutes);
                if (previous is { } pv)
                {
                    _retA.Add(Math.Log((double)rowA.Close / pv.A));
                    _retB.Add(Math.Log((double)rowB.Close / pv.B));
                    _retFx.Add(Math.Log((double)fx / pv.Fx));
                }

                previous = ((double)rowA.Close, (double)rowB.Close, (double)fx);
                _lnA.Add(Math.Log(aInB));
                _lnB.Add(Math.Log(bPs));
                var action = _signal.Observe(aInB, bPs);
                TrackExposure(d, rowA, rowB, sa.CloseUtc);
                if (action.Kind == PairActionKind.None || _pending is not null)
                {
                    continue;
                }

                var verdict = _rule.Check(Pair, new PriceObservation(Pair.A.Symbol, rowA.Close, Pair.A.Unit, sa.CloseUtc), new PriceObservation(Pair.B.Symbol, rowB.Close, Pair.B.Unit, sb.CloseUtc));
                var inputs = action.Inputs();
                inputs["premium"] = ((aInB / bPs) - 1).ToString("R", CultureInfo.InvariantCulture);
                inputs["a_close"] = $"{rowA.Close.ToString(CultureInfo.InvariantCulture)} {Pair.A.Unit.Name} at {sa.CloseUtc:yyyy-MM-ddTHH:mm:ssZ}";
                inputs["b_close"] = $"{rowB.Close.ToString(CultureInfo.InvariantCulture)} {Pair.B.Unit.Name} at {sb.CloseUtc:yyyy-MM-ddTHH:mm:ssZ}";
                inputs["fx"] = $"{Pair.A.Currency}{Pair.B.Currency} {fx.ToString(CultureInfo.InvariantCulture)} observed {fxObserved:yyyy-MM-ddTHH:mm:ssZ}";
                inputs["both_open_rule"] = verdict.Reason;
                inputs["mode"] = mode.ToString();
                try
                {
                    Decide(action, d, decidedUtc, inputs, rowA, rowB, sa, sb);
                }
                catch (FxRateStaleException e)
                {
                    Skip($"FX missing or stale at the decision: {e.Pair}: fails closed");
                }
            }

            if (_open is { } o && dates.Count > 0)
            {
                // Still open at the end of the data: marked at the last closes, no exit costs (reported as such).
                var d = dates[^1];
                var (ra, rb) = (input.A.Series.On(d)!, input.B.Series.On(d)!);
                var at = calendar.Session(Pair.B.Venue, d)?.CloseUtc ?? input.Fx.StampOf(d);
                var trade = o.Close(Pair.A.Unit.ToMajor(ra.Close), FxToBase(Pair.A.Currency, at), Pair.B.Unit.ToMajor(rb.Close), FxToBase(Pair.B.Currency, at), d, "open at the end (marked at the last closes)", []);
                _trades.Add(trade);
                _open = null;
            }

            return new PairBacktestResult(Pair, mode, Base, dates[0], dates[^1], _observations, _trades, _signal.Tests, _retirements, _skipped, Noise(), _maxExposure, _ledger, Hindsight());
        }

        private void Decide(PairAction action, DateOnly d, DateTimeOffset decidedUtc, Dictionary<string, string> inputs, DailyRow rowA, DailyRow rowB, TradingSession sa, TradingSession sb)
        {
            var (kind, purpose) = action.Kind switch
            {
                PairActionKind.Enter => (DecisionKind.PairEntry, OrderPurpose.Entry),
                PairActionKind.Exit => (DecisionKind.PairExit, OrderPurpose.Exit),
                PairActionKind.Stop => (DecisionKind.PairStop, OrderPurpose.Exit),
                _ => (DecisionKind.PairRetire, OrderPurpose.Exit),
            };
            if (action.Kind == PairActionKind.Retire)
            {
                _retirements.Add($"{d:yyyy-MM-dd}: {action.Reason}");
            }

            decimal qa = 0, qb = 0;
            var outcome = DecisionOutcome.Taken;
            var reason = action.Reason;
            if (action.Kind == PairActionKind.Enter)
            {
                var shortLeg = action.Direction == PairDirection.ShortALongB ? input.A : input.B;
                var fxA = FxToBase(Pair.A.Currency, decidedUtc);
                var fxB = FxToBase(Pair.B.Currency, decidedUtc);
                qa = Math.Floor(options.NotionalPerLeg / (Pair.A.Unit.ToMajor(rowA.Close) * fxA));
                var beta = (decimal)Math.Abs(action.Statistics!.HedgeRatio);
                qb = Math.Floor(options.NotionalPerLeg * beta / (Pair.B.Unit.ToMajor(rowB.Close) * fxB));
                inputs["notional_per_leg"] = $"{options.NotionalPerLeg.ToString(CultureInfo.InvariantCulture)} {Base}";
                if (!shortLeg.Costs.Borrowable)
                {
                    outcome = DecisionOutcome.Denied;
                    reason = $"{reason}; refused: the short leg {shortLeg.Listing.Symbol} is not borrowable";
                }
                else if (qa < 1 || qb < 1)
                {
                    outcome = DecisionOutcome.Denied;
                    reason = $"{reason}; refused: notional {options.NotionalPerLeg} {Base} buys less than one unit of a leg";
                }
            }
            else if (_open is null)
            {
                // A retirement with nothing open is a decision without orders.
                Record(kind, outcome, reason, inputs, decidedUtc);
                return;
            }

            var decisionId = Record(kind, outcome, reason, inputs, decidedUtc);
            if (outcome != DecisionOutcome.Taken)
            {
                return;
            }

            var p = action.Kind == PairActionKind.Enter
                ? new Pending(decisionId, kind, purpose, decidedUtc, action.Direction,
                    action.Direction == PairDirection.LongAShortB ? qa : -qa, action.Direction == PairDirection.LongAShortB ? -qb : qb, action.Z ?? 0, kind.ToString())
                : new Pending(decisionId, kind, purpose, decidedUtc, PairDirection.Flat, -_open!.A.Quantity, -_open.B.Quantity, action.Z ?? 0,
                    action.Kind == PairActionKind.Retire ? "retired" : action.Kind == PairActionKind.Stop ? "stop" : "exit");
            if (mode == PairBacktestMode.Naive)
            {
                Execute(p, d, rowA, rowB, sa, sb);
            }
            else
            {
                _pending = p;
            }
        }

        private string Record(DecisionKind kind, DecisionOutcome outcome, string reason, Dictionary<string, string> inputs, DateTimeOffset at)
        {
            var id = ids.NextDecisionId();
            _ledger.Add(new PairDecisionEntry(new DecisionRecord(id, Source, $"{Pair.A.Symbol}/{Pair.B.Symbol}", kind, outcome, reason, inputs, at, at, Pair.Name)));
            return id;
        }

        private void Execute(Pending p, DateOnly d, DailyRow rowA, DailyRow rowB, TradingSession sa, TradingSession sb)
        {
            // Honest fills are at the open (the opening auction) when both legs have a day range; when either leg's file has
            // closes only, both legs fill at that day's closes (the closing auctions), so the two legs stay as close in time as
            // the data allows.
            var naive = mode == PairBacktestMode.Naive;
            var atOpen = !naive && rowA.HasRange && rowB.HasRange;
            var (atA, atB) = atOpen ? (sa.OpenUtc, sb.OpenUtc) : (sa.CloseUtc, sb.CloseUtc);
            var (fxA, fxB) = (FxToBase(Pair.A.Currency, naive ? input.Fx.StampOf(d) : atA), FxToBase(Pair.B.Currency, naive ? input.Fx.StampOf(d) : atB));
            var pa = FillPrice(input.A, rowA, p.QuantityA > 0, naive, atOpen);
            var pb = FillPrice(input.B, rowB, p.QuantityB > 0, naive, atOpen);
            var costs = new List<CostCharge>();
            costs.AddRange(Fill(p, input.A, p.QuantityA, pa, fxA, atA));
            costs.AddRange(Fill(p, input.B, p.QuantityB, pb, fxB, atB));
            if (p.Kind == DecisionKind.PairEntry)
            {
                _open = new OpenTrade(p.Direction, p.DecidedUtc, d, p.Z,
                    new PairLeg(Pair.A.Symbol, Pair.A.Currency, p.QuantityA, pa, fxA), new PairLeg(Pair.B.Symbol, Pair.B.Currency, p.QuantityB, pb, fxB), costs);
                _signal.Opened(p.Direction);
            }
            else if (_open is { } o)
            {
                // The borrow fee of the short leg, accrued over the calendar days held.
                var shortLeg = o.A.Quantity < 0 ? (o.A, input.A, fxA) : (o.B, input.B, fxB);
                var days = d.DayNumber - o.EnteredOn.DayNumber;
                if (_costs.Borrow(shortLeg.Item1.Symbol, shortLeg.Item1.Currency, shortLeg.Item2.Costs, shortLeg.Item1.Quantity * shortLeg.Item1.EntryPrice, days, x => x * shortLeg.Item3) is { } borrow)
                {
                    costs.Add(borrow);

                    // The borrow fee is a cost line of the short leg's exit fill (the ledger's last fill of that listing).
                    var i = _ledger.FindLastIndex(e => e is PairFillEntry f && f.Fill.Symbol == borrow.Symbol);
                    var exitFill = (PairFillEntry)_ledger[i];
                    _ledger[i] = exitFill with { Costs = [.. exitFill.Costs, borrow] };
                }

                _trades.Add(o.Close(pa, fxA, pb, fxB, d, p.ExitKind, costs));
                _open = null;
                _signal.Closed();
            }
        }

        private IReadOnlyList<CostCharge> Fill(Pending p, PairLegData leg, decimal signedQuantity, decimal price, decimal fxToBase, DateTimeOffset at)
        {
            var side = signedQuantity > 0 ? OrderSide.Buy : OrderSide.Sell;
            var quantity = Math.Abs(signedQuantity);
            var order = new SubmitOrder(ids.NextClientOrderId(), p.DecisionId, leg.Listing.Symbol, side, quantity, OrderType.Market, null, null, p.Purpose, p.DecidedUtc, TimeInForce.Day, Source);
            _ledger.Add(new PairOrderEntry(order, p.DecidedUtc));
            var charges = _costs.ForFill(leg.Listing.Symbol, leg.Listing.Currency, leg.Costs, side, quantity, price, x => x * fxToBase, x => x * FxToBase(Currency.Usd, at));
            var commission = charges.FirstOrDefault(c => c.Kind == PairCostKind.Commission)?.Charged ?? Money.Zero(leg.Listing.Currency);
            _ledger.Add(new PairFillEntry(new Fill($"{order.ClientOrderId.Value}-F1", order.ClientOrderId, leg.Listing.Symbol, side, quantity, price, commission, at), charges));
            return charges;
        }

        /// <summary>The fill price in major units per traded unit.</summary>
        private decimal FillPrice(PairLegData leg, DailyRow row, bool buy, bool naive, bool atOpen)
        {
            var unit = leg.Listing.Unit;
            if (naive)
            {
                return unit.ToMajor(row.Close);
            }

            var f = options.AdverseFraction;
            if (atOpen)
            {
                var open = row.Open!.Value;
                return unit.ToMajor(buy ? open + (f * (row.High!.Value - open)) : open - (f * (open - row.Low!.Value)));
            }

            // At the close: the close moved adversely by f × the mean absolute daily move of the 20 dates before.
            var rows = leg.Series.Rows;
            var i = IndexOf(rows, row.Date);
            var n = 0;
            decimal sum = 0;
            for (var k = Math.Max(1, i - 20); k < i; k++)
            {
                sum += Math.Abs((rows[k].Close / rows[k - 1].Close) - 1m);
                n++;
            }

            var move = n == 0 ? 0.01m : sum / n;
            return unit.ToMajor(row.Close * (buy ? 1m + (f * move) : 1m - (f * move)));
        }

        private static int IndexOf(IReadOnlyList<DailyRow> rows, DateOnly date)
        {
            int lo = 0, hi = rows.Count - 1;
            while (lo <= hi)
            {
                var mid = (lo + hi) / 2;
                var c = rows[mid].Date.CompareTo(date);
                if (c == 0)
                {
                    return mid;
                }

                (lo, hi) = c < 0 ? (mid + 1, hi) : (lo, mid - 1);
            }

            return lo;
        }

        private decimal FxToBase(Currency from, DateTimeOffset at) => input.Fx.Factor(from, Base, at).Factor;

        private void TrackExposure(DateOnly d, DailyRow rowA, DailyRow rowB, DateTimeOffset at)
        {
            if (_open is not { } o)
            {
                return;
            }

            _ = d;
            foreach (var (leg, row, listing) in new[] { (o.A, rowA, Pair.A), (o.B, rowB, Pair.B) })
            {
                if (listing.Currency == Base)
                {
                    continue;
                }

                decimal fx;
                try
                {
                    fx = FxToBase(listing.Currency, at);
                }
                catch (FxRateStaleException)
                {
                    continue; // exposure is a report; a missing rate skips the day's figure (counted below)
                }

                var exposure = leg.Quantity * listing.Unit.ToMajor(row.Close) * fx;
                _maxExposure.TryGetValue(listing.Currency, out var max);
                if (Math.Abs(exposure) > Math.Abs(max))
                {
                    _maxExposure[listing.Currency] = Math.Round(exposure, 2);
                }
            }
        }

        private TimingNoise Noise()
        {
            static double Median(List<double> v)
            {
                if (v.Count == 0)
                {
                    return 0;
                }

                var s = v.OrderBy(x => x).ToArray();
                return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
            }

            static double Std(List<double> v)
            {
                if (v.Count < 2)
                {
                    return 0;
                }

                var m = v.Average();
                return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Count - 1));
            }

            var gap = Median(_closeGaps);
            var fxGap = Median(_fxGaps);
            var session = Math.Max(1, Median(_sessionMinutes));
            var sigma = (Std(_retA) + Std(_retB)) / 2;
            var close = sigma * Math.Sqrt(Math.Min(1, gap / session));
            var fxn = Std(_retFx) * Math.Sqrt(Math.Min(1, fxGap / 24));
            return new TimingNoise(gap, fxGap, close, fxn, Math.Sqrt((close * close) + (fxn * fxn)));
        }

        private PairStatistics? Hindsight()
        {
            if (_lnA.Count < 30)
            {
                return null;
            }

            Statistics.CointegrationResult eg;
            Statistics.HalfLifeResult hl;
            try
            {
                eg = Statistics.EngleGranger.Test([.. _lnA], [.. _lnB]);
                hl = Statistics.HalfLife.Estimate(eg.Residuals);
            }
            catch (ArgumentException)
            {
                return null; // a report figure only: the table shows "-"
            }

            return new PairStatistics(_lnA.Count - 1, eg.HedgeRatio, eg.Intercept, eg.AdfStatistic, eg.PValue, eg.UsedLag, eg.LagRule, hl.IsMeanReverting ? hl.HalfLife : double.PositiveInfinity);
        }

        private void Skip(string why) => _skipped[why] = _skipped.GetValueOrDefault(why) + 1;

        private sealed record Pending(string DecisionId, DecisionKind Kind, OrderPurpose Purpose, DateTimeOffset DecidedUtc, PairDirection Direction, decimal QuantityA, decimal QuantityB, double Z, string ExitKind);

        private sealed record OpenTrade(PairDirection Direction, DateTimeOffset DecidedUtc, DateOnly EnteredOn, double Z, PairLeg A, PairLeg B, List<CostCharge> EntryCosts)
        {
            public PairTrade Close(decimal pa, decimal fxA, decimal pb, decimal fxB, DateOnly on, string kind, IReadOnlyList<CostCharge> exitCosts) =>
                new(Direction, DecidedUtc, EnteredOn, on, kind, A with { ExitPrice = pa, ExitFx = fxA }, B with { ExitPrice = pb, ExitFx = fxB }, [.. EntryCosts, .. exitCosts], Z);
        }
    }
}
