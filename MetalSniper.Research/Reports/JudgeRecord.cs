using System.Globalization;
using MetalSniper.Judges.Registry;
using MetalSniper.Research.Datasets;

namespace MetalSniper.Research.Reports;

/// <summary>What one judge model said in a run, and what it was worth by the labels of what followed.</summary>
/// <param name="Judge">Which judge.</param>
/// <param name="Version">Model version.</param>
/// <param name="ModelHash">Model hash.</param>
/// <param name="Mode">Shadow or Active.</param>
/// <param name="Verdicts">Verdicts given.</param>
/// <param name="Negative">Vetoes (entry, add) or exit recommendations (exit).</param>
/// <param name="NegativeLabelled">Of those, the ones whose outcome is known (a shadow veto's trade was still taken); for the exit judge, the trades (first recommendation of each).</param>
/// <param name="NegativeNetPnl">Entry/add: the net P&amp;L of the vetoed decisions' trades (skipping them would have changed the P&amp;L by minus this). Exit: what exiting at the first recommendation of each trade would have gained over holding it to the strategy's exit (ignoring the trades an earlier exit would have made room for).</param>
/// <param name="Positive">Allows.</param>
/// <param name="PositiveNetPnl">Entry/add: net P&amp;L of the allowed decisions' outcomes. Exit: the gain of exiting at the allowed reviews (kept, so not realised).</param>
public sealed record JudgeRecord(JudgeKind Judge, string Version, string ModelHash, string Mode, int Verdicts, int Negative, int NegativeLabelled, decimal NegativeNetPnl, int Positive, decimal PositiveNetPnl)
{
    /// <summary>The effect of obeying the judge, by the labels: entry/add: −(P&amp;L of the vetoed); exit: the gain of the recommended exits.</summary>
    public decimal WouldHaveChanged => Judge == JudgeKind.Exit ? NegativeNetPnl : -NegativeNetPnl;

    /// <summary>Reads every verdict of a run and scores it with <see cref="TradeLabeler"/>.</summary>
    /// <param name="history">The run.</param>
    /// <param name="multiplier">Contract multiplier per symbol.</param>
    public static IReadOnlyList<JudgeRecord> Of(DecisionHistory history, Func<string, decimal> multiplier)
    {
        ArgumentNullException.ThrowIfNull(history);
        var (rows, _) = TradeLabeler.Label(history, multiplier);
        var labels = rows.ToDictionary(r => (r.DecisionId, r.Judge), r => r);
        var records = new List<JudgeRecord>();
        foreach (var (judge, role) in Enum.GetValues<JudgeKind>().SelectMany(j => new[] { (j, ""), (j, "candidate.") }))
        {
            var prefix = "judge." + ModelRegistry.JudgeName(judge) + "." + role;
            var judged = history.Decisions
                .Where(d => d.Inputs.ContainsKey(prefix + "verdict"))
                .GroupBy(d => (Version: d.Inputs[prefix + "model"], Hash: d.Inputs[prefix + "modelHash"], Mode: d.Inputs[prefix + "mode"] + (role.Length > 0 ? " (candidate)" : "")));
            foreach (var g in judged)
            {
                var negative = g.Where(d => d.Inputs[prefix + "verdict"] != "Allow").ToList();
                var positive = g.Where(d => d.Inputs[prefix + "verdict"] == "Allow").ToList();
                var negLabels = negative.Select(d => labels.GetValueOrDefault((d.DecisionId, judge))).Where(r => r is not null).ToList();
                if (judge == JudgeKind.Exit)
                {
                    // Obeying ends the trade at its first recommended exit: later reviews of the same trade would never happen.
                    negLabels = [.. negLabels.GroupBy(r => (r!.Symbol, r.LabelEndUtc)).Select(t => t.OrderBy(r => r!.DecisionUtc).First())];
                }

                var posLabels = positive.Select(d => labels.GetValueOrDefault((d.DecisionId, judge))).Where(r => r is not null).ToList();
                records.Add(new JudgeRecord(judge, g.Key.Version, g.Key.Hash, g.Key.Mode, g.Count(), negative.Count, negLabels.Count, negLabels.Sum(r => r!.NetPnl),
                    positive.Count, posLabels.Sum(r => r!.NetPnl)));
            }
        }

        return records;
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var ic = CultureInfo.InvariantCulture;
        var name = ModelRegistry.JudgeName(Judge);
        var (neg, pos) = Judge == JudgeKind.Exit ? ("recommended exits", "holds") : ("vetoes", "allows");
        return string.Create(ic, $"{name} {Version} ({ModelHash[..Math.Min(12, ModelHash.Length)]}) {Mode}: {Verdicts:N0} verdicts: {Negative:N0} {neg} ({NegativeLabelled:N0} with a known outcome), {Positive:N0} {pos}; ")
            + (Judge == JudgeKind.Exit
                ? string.Create(ic, $"exiting where it said would have gained {NegativeNetPnl:N2} over holding; at the holds exiting would have gained {PositiveNetPnl:N2}")
                : string.Create(ic, $"the vetoed netted {NegativeNetPnl:N2} (obeying: {WouldHaveChanged:+#,0.00;-#,0.00;0.00}), the allowed {PositiveNetPnl:N2}"));
    }
}
