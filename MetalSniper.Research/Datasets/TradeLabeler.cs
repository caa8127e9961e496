using System.Globalization;
using MetalSniper.Features;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Verdicts;

namespace MetalSniper.Research.Datasets;

/// <summary>What the fill prices and commissions of a run include: a label is only as net as its fills.</summary>
/// <param name="Description">For the manifest ("simulated broker: half spread 0.15 USD, slippage 1 tick").</param>
/// <param name="SpreadIncluded">Fill prices include half the bid/ask spread.</param>
/// <param name="SlippageIncluded">Fill prices include slippage.</param>
public sealed record CostBasis(string Description, bool SpreadIncluded, bool SlippageIncluded);

/// <summary>
/// One labelled decision of a judge's dataset.
/// </summary>
/// <param name="DecisionId">The decision (one row per decision, ever).</param>
/// <param name="Symbol">Our symbol.</param>
/// <param name="Judge">Which judge the row trains.</param>
/// <param name="DecisionUtc">When the decision was taken (UTC).</param>
/// <param name="Features">What the judge saw, as recorded on the decision row.</param>
/// <param name="FeatureCode">The feature code hash prefix recorded with the features.</param>
/// <param name="LabelStartUtc">Start of the label's horizon (the decision: nothing before it counts).</param>
/// <param name="LabelEndUtc">When the label became known (the trade's last fill, or the hedge's withdrawal).</param>
/// <param name="Label">1 for the positive class (entry: the trade made money net; add: the add made money net; exit: exiting now beat holding, net).</param>
/// <param name="NetR">The outcome in R, net of costs (entry: trade P&amp;L / initial risk; add: add P&amp;L / its risk; exit: (exit now − hold) per unit / R).</param>
/// <param name="NetPnl">The outcome in the instrument's currency, net (entry and add; for exit, per the position at the review).</param>
/// <param name="Commission">Commissions inside <paramref name="NetPnl"/> (instrument currency).</param>
public sealed record LabeledRow(string DecisionId, string Symbol, JudgeKind Judge, DateTimeOffset DecisionUtc, FeatureVector Features, string FeatureCode,
    DateTimeOffset LabelStartUtc, DateTimeOffset LabelEndUtc, int Label, double NetR, decimal NetPnl, decimal Commission);

/// <summary>Rows that could not be labelled, with why (the manifest counts them; they are not silently dropped).</summary>
/// <param name="DecisionId">The decision.</param>
/// <param name="Judge">Which judge.</param>
/// <param name="Why">The reason (e.g. the trade was still open when the data ended).</param>
public sealed record UnlabeledDecision(string DecisionId, JudgeKind Judge, string Why);

/// <summary>
/// Labels a run's judged decisions from what followed them, net of every cost the fills carry. Trades are rebuilt from
/// the fills of each symbol: a trade starts when the position leaves zero and ends when it returns to zero.
/// <list type="bullet">
/// <item><b>Entry</b> (OpenHedge, Taken): the net R multiple of the trade the hedge opened = (Σ fill cash flows − commissions)
/// / (R × quantity × multiplier), R and quantity from the decision; a hedge withdrawn without a fill is 0 R. Label: net R &gt; 0.</item>
/// <item><b>Add</b> (Add, Taken, filled): dir × q × (average exit price of the trade after the add − add price) × multiplier −
/// the add's commission − its share of the exit commissions. Label: &gt; 0.</item>
/// <item><b>Exit</b> (ExitReview): per unit of the position at the review, exiting now = dir × close − the exit cost per unit the
/// brain saw (half spread + slippage + commission); holding = dir × the trade's later average exit price − exit commission per
/// unit. Label: exiting now is better. The close stands for the next bar's open (24-hour markets: the gap is noise of mean ~0).</item>
/// </list>
/// </summary>
public static class TradeLabeler
{
    /// <summary>Labels the decisions of a run.</summary>
    /// <param name="history">The run.</param>
    /// <param name="multiplier">The contract multiplier of a symbol.</param>
    /// <returns>Labelled rows per judge, and the decisions that could not be labelled.</returns>
    public static (IReadOnlyList<LabeledRow> Rows, IReadOnlyList<UnlabeledDecision> Unlabeled) Label(DecisionHistory history, Func<string, decimal> multiplier)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(multiplier);
        var trades = RebuildTrades(history.Fills);
        var rows = new List<LabeledRow>();
        var unlabeled = new List<UnlabeledDecision>();
        var bySymbolDecisions = history.Decisions.GroupBy(d => d.Symbol).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var d in history.Decisions)
        {
            var judge = d.Kind switch
            {
                "OpenHedge" when d.Outcome == "Taken" => JudgeKind.Entry,
                "Add" when d.Outcome == "Taken" => JudgeKind.Add,
                "ExitReview" => JudgeKind.Exit,
                _ => (JudgeKind?)null,
            };
            if (judge is not { } j)
            {
                continue;
            }

            var features = FeatureVector.FromInputs(d.Inputs);
            if (features is null)
            {
                unlabeled.Add(new(d.DecisionId, j, "the decision carries no features (recorded before the judges existed)"));
                continue;
            }

            var code = d.Inputs.GetValueOrDefault(FeatureVector.CodeKey, "");
            var m = multiplier(d.Symbol);
            var symbolTrades = trades.GetValueOrDefault(d.Symbol) ?? [];
            var result = j switch
            {
                JudgeKind.Entry => LabelEntry(d, symbolTrades, bySymbolDecisions[d.Symbol], m),
                JudgeKind.Add => LabelAdd(d, symbolTrades, m),
                _ => LabelExit(d, symbolTrades, m),
            };
            if (result.Why is not null)
            {
                unlabeled.Add(new(d.DecisionId, j, result.Why));
                continue;
            }

            rows.Add(new LabeledRow(d.DecisionId, d.Symbol, j, d.EventUtc, features, code, d.EventUtc, result.End, result.NetR > 0 ? 1 : 0, result.NetR, result.NetPnl, result.Commission));
        }

        return (rows, unlabeled);
    }

    /// <summary>A rebuilt trade: the fills from the position leaving zero to its return to zero.</summary>
    /// <param name="Symbol">Our symbol.</param>
    /// <param name="Fills">Its fills, in order.</param>
    /// <param name="Closed">True when the position returned to zero (false: open at the end of the data).</param>
    public sealed record Trade(string Symbol, IReadOnlyList<RecordedFill> Fills, bool Closed)
    {
        /// <summary>The decision of the first fill's order (the entry).</summary>
        public string OpeningDecisionId => Fills[0].DecisionId;

        /// <summary>First fill time.</summary>
        public DateTimeOffset StartUtc => Fills[0].EventUtc;

        /// <summary>Last fill time.</summary>
        public DateTimeOffset EndUtc => Fills[^1].EventUtc;
    }

    /// <summary>Rebuilds the trades of each symbol from its fills.</summary>
    public static IReadOnlyDictionary<string, List<Trade>> RebuildTrades(IReadOnlyList<RecordedFill> fills)
    {
        var result = new Dictionary<string, List<Trade>>(StringComparer.Ordinal);
        foreach (var group in fills.GroupBy(f => f.Symbol, StringComparer.Ordinal))
        {
            var list = new List<Trade>();
            var current = new List<RecordedFill>();
            var position = 0m;
            foreach (var f in group)
            {
                var after = position + f.SignedQuantity;
                if (position != 0m && after != 0m && Math.Sign(after) != Math.Sign(position))
                {
                    // A reversal: the part that closes ends this trade, the rest opens the next (same order, same decision).
                    var closing = f with { SignedQuantity = -position, Commission = f.Commission * Math.Abs(position / f.SignedQuantity) };
                    current.Add(closing);
                    list.Add(new Trade(group.Key, current, true));
                    current = [f with { SignedQuantity = after, Commission = f.Commission - closing.Commission }];
                    position = after;
                    continue;
                }

                current.Add(f);
                position = after;
                if (position == 0m)
                {
                    list.Add(new Trade(group.Key, current, true));
                    current = [];
                }
            }

            if (current.Count > 0)
            {
                list.Add(new Trade(group.Key, current, false));
            }

            result[group.Key] = list;
        }

        return result;
    }

    private readonly record struct Outcome(string? Why, DateTimeOffset End, double NetR, decimal NetPnl, decimal Commission)
    {
        public static Outcome Unlabeled(string why) => new(why, default, 0, 0, 0);
    }

    private static Outcome LabelEntry(RecordedDecision d, List<Trade> trades, List<RecordedDecision> symbolDecisions, decimal multiplier)
    {
        var r = Input(d, "r");
        var quantity = Input(d, "quantity");
        var risk = r * quantity * multiplier;
        if (risk <= 0m)
        {
            return Outcome.Unlabeled("no positive initial risk (r × quantity) on the decision");
        }

        var trade = trades.FirstOrDefault(t => t.OpeningDecisionId == d.DecisionId);
        if (trade is null)
        {
            // Withdrawn without a fill: nothing gained, nothing paid. Known when the hedge was withdrawn.
            var withdrawn = symbolDecisions.FirstOrDefault(x => x.EventUtc >= d.EventUtc && x.DecisionId != d.DecisionId && x.Kind is "HedgeExpired" or "HedgeAborted");
            return withdrawn is null
                ? Outcome.Unlabeled("the hedge neither filled nor was withdrawn before the data ended")
                : new Outcome(null, withdrawn.EventUtc, 0, 0m, 0m);
        }

        if (!trade.Closed)
        {
            return Outcome.Unlabeled("the trade was still open when the data ended");
        }

        var commission = trade.Fills.Sum(f => f.Commission);
        var pnl = -trade.Fills.Sum(f => f.SignedQuantity * f.Price) * multiplier - commission;
        return new Outcome(null, trade.EndUtc, (double)(pnl / risk), pnl, commission);
    }

    private static Outcome LabelAdd(RecordedDecision d, List<Trade> trades, decimal multiplier)
    {
        var trade = trades.FirstOrDefault(t => t.Fills.Any(f => f.DecisionId == d.DecisionId && f.Purpose == "Add"));
        if (trade is null)
        {
            return Outcome.Unlabeled("the add never filled");
        }

        if (!trade.Closed)
        {
            return Outcome.Unlabeled("the trade was still open when the data ended");
        }

        var addFills = trade.Fills.Where(f => f.DecisionId == d.DecisionId && f.Purpose == "Add").ToList();
        var q = addFills.Sum(f => f.SignedQuantity);
        var addPrice = addFills.Sum(f => f.SignedQuantity * f.Price) / q;
        var after = addFills[^1].EventUtc;
        var (exitPrice, exitCommissionPerUnit) = ExitAfter(trade, after, Math.Sign(q));
        var r = Input(d, "r");
        var commission = addFills.Sum(f => f.Commission) + (exitCommissionPerUnit * Math.Abs(q));
        var pnl = (q * (exitPrice - addPrice) * multiplier) - commission;
        var risk = r * Math.Abs(q) * multiplier;
        return risk <= 0m
            ? Outcome.Unlabeled("no positive risk (r) on the add decision")
            : new Outcome(null, trade.EndUtc, (double)(pnl / risk), pnl, commission);
    }

    private static Outcome LabelExit(RecordedDecision d, List<Trade> trades, decimal multiplier)
    {
        var trade = trades.FirstOrDefault(t => t.StartUtc <= d.EventUtc && (!t.Closed || t.EndUtc >= d.EventUtc) && t.Fills.Any(f => f.EventUtc <= d.EventUtc));
        if (trade is null)
        {
            return Outcome.Unlabeled("no open trade at the review");
        }

        if (!trade.Closed)
        {
            return Outcome.Unlabeled("the trade was still open when the data ended");
        }

        var dir = (int)Input(d, "direction");
        var close = Input(d, "close");
        var exitCost = Input(d, "exitCostPerUnit");
        var r = Input(d, "r");
        var position = Math.Abs(Input(d, "position"));
        if (dir is not (1 or -1) || r <= 0m || position <= 0m)
        {
            return Outcome.Unlabeled("the review lacks direction, R or position");
        }

        var (exitPrice, exitCommissionPerUnit) = ExitAfter(trade, d.EventUtc, dir);
        var now = (dir * close) - exitCost;
        var hold = (dir * exitPrice) - exitCommissionPerUnit;
        var advantage = now - hold;
        return new Outcome(null, trade.EndUtc, (double)(advantage / r), advantage * position * multiplier, exitCommissionPerUnit * position);
    }

    /// <summary>Average price and commission per unit of the trade's fills after <paramref name="after"/> that reduce a position of direction <paramref name="dir"/>.</summary>
    private static (decimal Price, decimal CommissionPerUnit) ExitAfter(Trade trade, DateTimeOffset after, int dir)
    {
        var exits = trade.Fills.Where(f => f.EventUtc >= after && Math.Sign(f.SignedQuantity) == -dir).ToList();
        var q = exits.Sum(f => Math.Abs(f.SignedQuantity));
        return q == 0m ? (trade.Fills[^1].Price, 0m) : (exits.Sum(f => Math.Abs(f.SignedQuantity) * f.Price) / q, exits.Sum(f => f.Commission) / q);
    }

    private static decimal Input(RecordedDecision d, string name) =>
        d.Inputs.TryGetValue(name, out var s) && decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 0m;
}
