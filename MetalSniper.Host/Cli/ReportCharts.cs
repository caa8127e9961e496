using System.Globalization;
using System.Net;
using System.Text;
using MetalSniper.Sentinel;
using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Host.Cli;

/// <summary>
/// The report's charts as inline SVG drawn here (no script, no external resource): the equity curve over the underwater
/// (drawdown) curve on one time axis, and the timeline of sentinel/breaker trips and halts with the same axis. Times UTC.
/// </summary>
public static class ReportCharts
{
    /// <summary>Stroke of the equity curve (the report's test looks for this colour in a screenshot; nothing else uses it).</summary>
    public const string EquityColor = "#0b5fff";

    /// <summary>Fill of the underwater area (the report's test looks for this colour; nothing else uses it).</summary>
    public const string DrawdownColor = "#f0443a";

    private const double Width = 1160, Left = 86, Right = 14;
    private const double PlotWidth = Width - Left - Right;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly string[] LanePalette = ["#8250df", "#bf3989", "#9a6700", "#1b7c83", "#6e7781", "#953800", "#4d2d00", "#0550ae"];

    /// <summary>The time axis shared by the charts: first to last mark (at least an hour).</summary>
    /// <param name="FromUtc">Left edge (UTC).</param>
    /// <param name="ToUtc">Right edge (UTC).</param>
    public sealed record TimeAxis(DateTimeOffset FromUtc, DateTimeOffset ToUtc)
    {
        /// <summary>The x coordinate of a time (clamped to the plot).</summary>
        public double X(DateTimeOffset t) => Left + (PlotWidth * Math.Clamp((t - FromUtc).TotalSeconds / Math.Max(1, (ToUtc - FromUtc).TotalSeconds), 0, 1));

        /// <summary>Tick times and labels: month starts (UTC) over spans of 120 days or more, else about ten days.</summary>
        public IEnumerable<(DateTimeOffset At, string Label)> Ticks()
        {
            var span = ToUtc - FromUtc;
            if (span >= TimeSpan.FromDays(120))
            {
                var step = Math.Max(1, (int)Math.Ceiling(span.TotalDays / 30.44 / 14));
                var m = new DateTimeOffset(FromUtc.Year, FromUtc.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
                for (; m <= ToUtc; m = m.AddMonths(step))
                {
                    yield return (m, m.ToString("yyyy-MM", Inv));
                }
            }
            else
            {
                var step = Math.Max(1, (int)Math.Ceiling(span.TotalDays / 10));
                for (var d = new DateTimeOffset(FromUtc.UtcDateTime.Date, TimeSpan.Zero).AddDays(1); d <= ToUtc; d = d.AddDays(step))
                {
                    yield return (d, d.ToString("yyyy-MM-dd", Inv));
                }
            }
        }
    }

    /// <summary>The axis of a curve (one hour wide when there is a single mark).</summary>
    public static TimeAxis AxisOf(IReadOnlyList<EquityMark> curve)
    {
        ArgumentNullException.ThrowIfNull(curve);
        if (curve.Count == 0)
        {
            return new TimeAxis(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddHours(1));
        }

        var from = curve[0].TimeUtc;
        var to = curve[^1].TimeUtc.AddHours(1); // the last mark covers its hour
        return new TimeAxis(from, to);
    }

    /// <summary>
    /// Equity P&amp;L (top) and drawdown below its running peak (bottom), one point per hourly mark, with value and time grids.
    /// The <c>svg</c> element carries <c>data-points</c> (marks drawn) for tests.
    /// </summary>
    public static string EquityAndDrawdown(IReadOnlyList<EquityMark> curve, string currency)
    {
        ArgumentNullException.ThrowIfNull(curve);
        const double eqTop = 26, eqHeight = 300, ddTop = eqTop + eqHeight + 40, ddHeight = 150, height = ddTop + ddHeight + 26;
        var axis = AxisOf(curve);
        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg id=\"equity-chart\" class=\"chart\" viewBox=\"0 0 {Width} {height}\" role=\"img\" data-points=\"{curve.Count}\" aria-label=\"Equity P&amp;L and drawdown ({E(currency)}, hourly marks, UTC)\">");
        sb.Append(Inv, $"<text class=\"title\" x=\"{Left}\" y=\"16\">Equity P&amp;L incl. open positions, net of commissions ({E(currency)}), hourly marks, UTC</text>");
        if (curve.Count == 0)
        {
            sb.Append(Inv, $"<text x=\"{Left + 10}\" y=\"{eqTop + 40}\">no equity marks: the run saw no bar</text></svg>");
            return sb.ToString();
        }

        var eqMin = Math.Min(0m, curve.Min(p => p.Equity));
        var eqMax = Math.Max(0m, curve.Max(p => p.Equity));
        var ddMin = Math.Min(curve.Min(p => p.Drawdown), -1m);
        var (eqLo, eqHi, eqTicks) = NiceScale((double)eqMin, (double)eqMax);
        var (ddLo, _, ddTicks) = NiceScale((double)ddMin, 0);
        double YEq(double v) => eqTop + (eqHeight * (eqHi - v) / (eqHi - eqLo));
        double YDd(double v) => ddTop + (ddHeight * (0 - v) / (0 - ddLo));

        Grid(sb, axis, eqTop, eqHeight, eqTicks.Select(v => (YEq(v), v)), currency);
        Grid(sb, axis, ddTop, ddHeight, ddTicks.Select(v => (YDd(v), v)), currency);
        sb.Append(Inv, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{F(YEq(0))}\" y2=\"{F(YEq(0))}\" stroke=\"#57606a\" stroke-dasharray=\"4 3\"/>");

        // Underwater area, then the equity line on top.
        var area = new StringBuilder();
        area.Append(Inv, $"M{F(axis.X(curve[0].TimeUtc))},{F(YDd(0))}");
        foreach (var p in curve)
        {
            area.Append(Inv, $"L{F(axis.X(p.TimeUtc))},{F(YDd((double)p.Drawdown))}");
        }

        area.Append(Inv, $"L{F(axis.X(curve[^1].TimeUtc))},{F(YDd(0))}Z");
        sb.Append(Inv, $"<path id=\"drawdown-area\" d=\"{area}\" fill=\"{DrawdownColor}\" stroke=\"none\"/>");

        var line = new StringBuilder();
        for (var i = 0; i < curve.Count; i++)
        {
            line.Append(Inv, $"{(i == 0 ? 'M' : 'L')}{F(axis.X(curve[i].TimeUtc))},{F(YEq((double)curve[i].Equity))}");
        }

        if (curve.Count == 1)
        {
            line.Append(Inv, $"L{F(axis.X(curve[0].TimeUtc.AddHours(1)))},{F(YEq((double)curve[0].Equity))}");
        }

        sb.Append(Inv, $"<path id=\"equity-line\" d=\"{line}\" fill=\"none\" stroke=\"{EquityColor}\" stroke-width=\"2.4\" stroke-linejoin=\"round\"/>");
        var low = curve.MinBy(p => p.Drawdown)!;
        var deepest = low.Drawdown < 0 ? string.Create(Inv, $"; deepest hourly mark {low.Drawdown:N0} {E(currency)} at {low.TimeUtc.UtcDateTime:yyyy-MM-dd HH:mm} UTC") : "; never below the peak";
        sb.Append(Inv, $"<text class=\"title\" x=\"{Left}\" y=\"{ddTop - 10}\">Drawdown below the running peak ({E(currency)}){deepest}</text>");

        TimeLabels(sb, axis, ddTop + ddHeight + 16);
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>
    /// The trips of the sentinel and the circuit breakers, one lane per kind (a mark each, its formula in the tooltip), over a
    /// lane of the kill levels the halts store held (pauses from their time to their end or their clear). Same time axis as the equity chart.
    /// </summary>
    public static string TripsTimeline(IReadOnlyList<SentinelTrip> trips, IReadOnlyList<HaltRecord> halts, TimeAxis axis)
    {
        ArgumentNullException.ThrowIfNull(trips);
        ArgumentNullException.ThrowIfNull(halts);
        ArgumentNullException.ThrowIfNull(axis);
        var lanes = trips.Select(t => t.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        const double top = 24, lane = 30;
        var height = top + (lane * (lanes.Count + 1)) + 30;
        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg id=\"trips-timeline\" class=\"chart\" viewBox=\"0 0 {Width} {F(height)}\" role=\"img\" data-trips=\"{trips.Count}\" aria-label=\"Sentinel and breaker trips, UTC\">");
        sb.Append(Inv, $"<text class=\"title\" x=\"{Left}\" y=\"14\">Trips and halts, UTC (hover a mark for its formula)</text>");
        var bottom = top + (lane * (lanes.Count + 1));
        foreach (var (at, label) in axis.Ticks())
        {
            var x = F(axis.X(at));
            sb.Append(Inv, $"<line x1=\"{x}\" x2=\"{x}\" y1=\"{top}\" y2=\"{F(bottom)}\" stroke=\"#eaeef2\"/>");
        }

        // Lane 0: the kill level in force from the halts store.
        sb.Append(Inv, $"<text x=\"{Left - 6}\" y=\"{F(top + 24)}\" text-anchor=\"end\">halts</text>");
        sb.Append(Inv, $"<text x=\"{Left + 4}\" y=\"{F(top + 10)}\">kill level in force (L1 no entries, L2 flatten)</text>");
        sb.Append(Inv, $"<rect x=\"{Left}\" y=\"{F(top + 13)}\" width=\"{PlotWidth}\" height=\"14\" fill=\"#f6f8fa\" stroke=\"#d0d7de\"/>");
        foreach (var (from, to, level, what) in HaltPeriods(halts, axis.ToUtc))
        {
            var x0 = axis.X(from);
            var w = Math.Max(1.5, axis.X(to) - x0);
            sb.Append(Inv, $"<rect x=\"{F(x0)}\" y=\"{F(top + 13)}\" width=\"{F(w)}\" height=\"14\" fill=\"{(level >= KillLevel.Flatten ? "#cf222e" : "#d4a72c")}\" fill-opacity=\"0.55\"><title>{E(what)}</title></rect>");
        }

        for (var i = 0; i < lanes.Count; i++)
        {
            var y = top + (lane * (i + 1));
            var colour = LanePalette[i % LanePalette.Length];
            var count = trips.Count(t => t.Label == lanes[i]);
            sb.Append(Inv, $"<text x=\"{Left - 6}\" y=\"{F(y + 24)}\" text-anchor=\"end\">{count:N0}×</text>");
            sb.Append(Inv, $"<text x=\"{Left + 4}\" y=\"{F(y + 10)}\">{E(lanes[i])}</text>");
            sb.Append(Inv, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{F(y + 20)}\" y2=\"{F(y + 20)}\" stroke=\"#d0d7de\"/>");
            foreach (var t in trips.Where(t => t.Label == lanes[i]))
            {
                sb.Append(Inv, $"<rect class=\"trip-mark\" x=\"{F(axis.X(t.AtUtc) - 1.5)}\" y=\"{F(y + 13)}\" width=\"3\" height=\"14\" fill=\"{colour}\"><title>{t.AtUtc.UtcDateTime:yyyy-MM-dd HH:mm} UTC {E(t.Label)}: {E(t.Detail)}</title></rect>");
            }
        }

        TimeLabels(sb, axis, bottom + 16);
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>
    /// The periods a halt held: a pause from its time to its own end, the next clear of its key or the end of the run,
    /// whichever is first; an escalation until the next resume or the end. Level and description for each.
    /// </summary>
    public static IEnumerable<(DateTimeOffset From, DateTimeOffset To, KillLevel Level, string What)> HaltPeriods(IReadOnlyList<HaltRecord> halts, DateTimeOffset endUtc)
    {
        ArgumentNullException.ThrowIfNull(halts);
        for (var i = 0; i < halts.Count; i++)
        {
            var d = halts[i].Draft;
            if (d.Level < KillLevel.NoEntries || d.Action is not (HaltAction.Pause or HaltAction.Escalate))
            {
                continue;
            }

            var ends = halts.Skip(i + 1).Select(r => r.Draft)
                .Where(n => d.Action == HaltAction.Pause ? n.Action == HaltAction.Clear && n.Key == d.Key : n.Action == HaltAction.Resume)
                .Select(n => n.AtUtc).DefaultIfEmpty(endUtc).First();
            var to = d.UntilUtc is { } u && u < ends ? u : ends;
            yield return (d.AtUtc, to, d.Level, string.Create(Inv, $"#{halts[i].Sequence} {d.Action} {d.Key} L{(int)d.Level} {d.AtUtc.UtcDateTime:yyyy-MM-dd HH:mm} → {to.UtcDateTime:yyyy-MM-dd HH:mm} UTC ({d.Source}): {d.Reason}"));
        }
    }

    private static void Grid(StringBuilder sb, TimeAxis axis, double top, double height, IEnumerable<(double Y, double Value)> ticks, string currency)
    {
        sb.Append(Inv, $"<rect x=\"{Left}\" y=\"{top}\" width=\"{PlotWidth}\" height=\"{height}\" fill=\"none\" stroke=\"#d0d7de\"/>");
        var values = ticks.ToList();
        var step = values.Count > 1 ? Math.Abs(values[1].Value - values[0].Value) : 1;
        var format = "N" + Math.Clamp(-(int)Math.Floor(Math.Log10(step)), 0, 6).ToString(Inv);
        foreach (var (y, v) in values)
        {
            sb.Append(Inv, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{F(y)}\" y2=\"{F(y)}\" stroke=\"#eaeef2\"/>");
            sb.Append(Inv, $"<text x=\"{Left - 6}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{(v == 0 ? 0 : v).ToString(format, Inv)}</text>");
        }

        foreach (var (at, _) in axis.Ticks())
        {
            var x = F(axis.X(at));
            sb.Append(Inv, $"<line x1=\"{x}\" x2=\"{x}\" y1=\"{top}\" y2=\"{F(top + height)}\" stroke=\"#eaeef2\"/>");
        }

        sb.Append(Inv, $"<text x=\"12\" y=\"{F(top + (height / 2))}\" transform=\"rotate(-90 12 {F(top + (height / 2))})\" text-anchor=\"middle\">{E(currency)}</text>");
    }

    private static void TimeLabels(StringBuilder sb, TimeAxis axis, double y)
    {
        foreach (var (at, label) in axis.Ticks())
        {
            var x = axis.X(at);
            if (x > Left + 30 && x < Width - Right - 30)
            {
                sb.Append(Inv, $"<text x=\"{F(x)}\" y=\"{F(y)}\" text-anchor=\"middle\">{label}</text>"); // a label at an edge would be cut
            }
        }

        sb.Append(Inv, $"<text x=\"{Left - 6}\" y=\"{F(y)}\" text-anchor=\"end\">UTC</text>");
    }

    /// <summary>A rounded value range and its grid values (steps of 1, 2 or 5 × 10ⁿ, about five of them).</summary>
    private static (double Low, double High, IReadOnlyList<double> Ticks) NiceScale(double min, double max)
    {
        if (max - min < 1e-9)
        {
            (min, max) = (min - 1, max + 1);
        }

        var rough = (max - min) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        var n = rough / magnitude;
        var step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude;
        var low = Math.Floor(min / step) * step;
        var high = Math.Ceiling(max / step) * step;
        var ticks = new List<double>();
        for (var v = low; v <= high + (step / 2); v += step)
        {
            ticks.Add(Math.Round(v / step) * step);
        }

        return (low, high, ticks);
    }

    private static string F(double v) => v.ToString("0.#", Inv);

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
