using System.Globalization;
using System.Net;
using System.Text;
using MetalSniper.Host.Configuration;
using MetalSniper.Host.Supervision;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Cli;

/// <summary>Everything the HTML report of a finished replay shows. Money in the summary's base currency, times UTC.</summary>
/// <param name="Summary">The replay's summary.</param>
/// <param name="Curve">The hourly equity curve with its drawdown below the running peak.</param>
/// <param name="Months">P&amp;L per calendar month (UTC).</param>
/// <param name="Fills">What each fill paid (commission, spread, slippage), reconstructed.</param>
/// <param name="Costs">The costs broken down by instrument and order type.</param>
/// <param name="WindowFromUtc">The configured start of the replayed data (null: the start of the files).</param>
/// <param name="WindowToUtc">The configured end (null: the end of the files).</param>
/// <param name="GeneratedUtc">When the report was written (UTC).</param>
public sealed record BacktestReportData(ReplaySummary Summary, IReadOnlyList<EquityMark> Curve, IReadOnlyList<MonthlyPnl> Months, IReadOnlyList<FillCost> Fills,
    CostBreakdown Costs, DateTimeOffset? WindowFromUtc, DateTimeOffset? WindowToUtc, DateTimeOffset GeneratedUtc);

/// <summary>
/// <c>replay --report FILE.html</c>: a self-contained HTML report of a finished backtest (equity curve and drawdown as
/// inline SVG, monthly P&amp;L with a heat map, costs broken down, trips and halts on a timeline, every trade). No script,
/// no external resource: a Content-Security-Policy of <c>default-src 'none'</c> lets the browser fetch nothing.
/// </summary>
public static class BacktestReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// Collects the report's figures for a finished replay and writes the report to <paramref name="path"/> (a temporary file
    /// beside it, then renamed, so a reader never sees half a report). Prints one line on <paramref name="output"/>, or one line
    /// on <paramref name="error"/> and returns <see cref="ExitCodes.IoError"/> when the file cannot be written or the run's
    /// database read, <see cref="ExitCodes.NoInput"/> when a recorded data file has gone.
    /// </summary>
    public static async Task<int> WriteAsync(string path, ReplaySummary summary, HostSettings settings, TimeProvider clock, TextWriter output, TextWriter error,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            error.WriteLine($"error: --report '{path}' is not a usable path: {e.Message}");
            return ExitCodes.IoError;
        }

        var configuration = Composition.LoadConfiguration(settings); // the replay has just loaded and validated it
        BacktestReportData data;
        try
        {
            data = await CollectAsync(summary, configuration, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException e)
        {
            error.WriteLine($"error: the report cannot read the run's database {summary.DatabasePath}: {e.Message}");
            return ExitCodes.IoError;
        }
        catch (FileNotFoundException e)
        {
            error.WriteLine($"error: the report cannot re-read the recorded data: {e.Message}");
            return ExitCodes.NoInput;
        }

        var temporary = full + ".tmp-" + Environment.ProcessId.ToString(Inv);
        try
        {
            await File.WriteAllTextAsync(temporary, Render(data), new UTF8Encoding(false), cancellationToken).ConfigureAwait(false);
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: cannot write the report to {full}: {e.Message}");
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }

            return ExitCodes.IoError;
        }

        output.WriteLine($"report written to {full}");
        return ExitCodes.Ok;
    }

    /// <summary>Gathers the report's figures: the summary's, the equity curve's, and each fill's costs from the run's database and the recorded bars.</summary>
    /// <exception cref="SqliteException">The run's database cannot be read.</exception>
    /// <exception cref="FileNotFoundException">A recorded data file is missing.</exception>
    public static async Task<BacktestReportData> CollectAsync(ReplaySummary summary, IConfiguration configuration, DateTimeOffset generatedUtc, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(configuration);
        var (fills, costs) = await FillCostReconstruction.ReconstructAsync(summary.DatabasePath, summary.RunId, configuration, cancellationToken).ConfigureAwait(false);
        var replay = (configuration.GetSection(MarketDataOptions.SectionName).Get<MarketDataOptions>() ?? new MarketDataOptions()).Replay;
        return new BacktestReportData(summary, ReportFigures.Underwater(summary.EquityCurve), ReportFigures.Monthly(summary.EquityCurve, summary.ClosedTrades), fills, costs,
            replay.FromUtc, replay.ToUtc, generatedUtc);
    }

    /// <summary>The whole report as one HTML document (UTF-8, inline CSS and SVG, no script).</summary>
    public static string Render(BacktestReportData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var s = data.Summary;
        var ccy = s.Currency;
        var sb = new StringBuilder(64 * 1024);
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.Append(Inv, $"<title>MetalSniper backtest {E(s.RunId)}</title><style>{Stylesheet()}</style></head><body><main>\n");

        Header(sb, data);
        sb.Append("<h2 id=\"equity\">Equity curve and drawdown</h2>\n");
        sb.Append(ReportCharts.EquityAndDrawdown(data.Curve, ccy));
        sb.Append(Inv, $"<div class=\"legend\"><span><span class=\"swatch\" style=\"background:{ReportCharts.EquityColor}\"></span>equity P&amp;L ({E(ccy)})</span><span><span class=\"swatch\" style=\"background:{ReportCharts.DrawdownColor}\"></span>drawdown below the running peak ({E(ccy)})</span></div>");
        sb.Append(Inv, $"<p class=\"note\">{data.Curve.Count:N0} hourly marks: each is the last equity P&amp;L of a market hour (open positions marked to the bar close, commissions and carry deducted), in {E(ccy)}. The peak starts at 0 (flat before the first trade). The run's max drawdown, {Money(s.MaxDrawdown, ccy)}, is measured on every bar, so it can be deeper than the deepest hourly mark.</p>\n");

        Monthly(sb, data);
        Costs(sb, data);
        Trips(sb, data);
        Activity(sb, s);
        Trades(sb, s);

        sb.Append(Inv, $"<footer>Generated by <code>metalsniper replay --report</code> at {Time(data.GeneratedUtc)} UTC. Self-contained: inline CSS and SVG, no script, no external resource (Content-Security-Policy <code>default-src 'none'</code>). Money in {E(ccy)} (the account's base currency) unless a column says otherwise; every time is UTC.</footer>\n");
        sb.Append("</main></body></html>\n");
        return sb.ToString();
    }

    private static void Header(StringBuilder sb, BacktestReportData data)
    {
        var s = data.Summary;
        var ccy = s.Currency;
        var first = data.Curve.Count > 0 ? Time(data.Curve[0].TimeUtc) + " UTC" : "–";
        var last = data.Curve.Count > 0 ? Time(data.Curve[^1].TimeUtc) + " UTC" : "–";
        sb.Append(Inv, $"<h1>Backtest report: run {E(s.RunId)}</h1>\n<p class=\"muted\">{E(s.Source)} · first mark {first}, last mark {last} · money in {E(ccy)} · times UTC</p>\n");
        var paid = data.Costs.Total.Commissions + data.Costs.Total.Spread + data.Costs.Total.Slippage;
        sb.Append("<div class=\"cards\">");
        Card(sb, "Net P&L (after every cost, open marked)", Money(s.NetPnl, ccy), s.NetPnl);
        Card(sb, "Realized P&L gross (closed trades)", Money(s.RealizedGrossPnl, ccy), s.RealizedGrossPnl);
        Card(sb, "Realized P&L net (closed trades)", Money(s.RealizedNetPnl, ccy), s.RealizedNetPnl);
        Card(sb, "Unrealized P&L gross (open at end)", Money(s.UnrealizedGrossPnl, ccy), s.UnrealizedGrossPnl);
        Card(sb, "max drawdown (incl. open)", Money(s.MaxDrawdown, ccy), null);
        Card(sb, "Sharpe (daily, annualized)", s.Sharpe is { } sr ? sr.ToString("0.00", Inv) : "n/a", null);
        Card(sb, "profit factor", s.ProfitFactor is { } pf ? pf.ToString("0.00", Inv) : "n/a", null);
        Card(sb, "trades (winners)", string.Create(Inv, $"{s.Trades:N0} ({(s.Trades > 0 ? 100.0 * s.WinningTrades / s.Trades : 0):0.0} %)"), null);
        Card(sb, "orders sent / denied / fills", string.Create(Inv, $"{s.OrdersSent:N0} / {s.OrdersDenied:N0} / {s.Fills:N0}"), null);
        Card(sb, "costs paid (commission + spread + slippage)", Money(paid, ccy), null);
        Card(sb, "carry paid (borrow + storage)", Money(s.CarryCosts, ccy), null);
        Card(sb, "sentinel and breaker trips", s.SentinelTrips.Count.ToString("N0", Inv), null);
        sb.Append("</div>\n");

        sb.Append("<table class=\"run\"><tbody>");
        Row(sb, "run id", E(s.RunId));
        Row(sb, "data", E(s.Source));
        Row(sb, "window (configured)", $"{(data.WindowFromUtc is { } f ? Time(f) + " UTC" : "start of the files")} → {(data.WindowToUtc is { } t ? Time(t) + " UTC" : "end of the files")}");
        Row(sb, "bars read / accepted / rejected", string.Create(Inv, $"{s.BarsRead:N0} / {s.BarsAccepted:N0} / {s.BarsRejected:N0}"));
        Row(sb, "database", E(s.DatabasePath));
        Row(sb, "database check", E(string.Create(Inv, $"integrity {s.DatabaseCheck.Integrity}; {s.DatabaseCheck.Orders:N0} orders and {s.DatabaseCheck.Fills:N0} fills of this run; {s.DatabaseCheck.OrphanOrders + s.DatabaseCheck.OrphanFills} without their decision/order")));
        if (s.BrokerCheck is { } b)
        {
            Row(sb, "broker reconciliation", E($"{(b.PositionsAgree ? "positions agree" : "POSITIONS DIFFER")}: ours {b.Ours}; broker {b.Theirs}"));
        }

        Row(sb, "currency", E(ccy) + " (Account:BaseCurrency; there is no capital figure, so P&amp;L is in money, not %)");
        sb.Append("</tbody></table>\n");
    }

    private static void Monthly(StringBuilder sb, BacktestReportData data)
    {
        var ccy = data.Summary.Currency;
        sb.Append(Inv, $"<h2 id=\"monthly\">Monthly P&amp;L ({E(ccy)}, calendar months UTC)</h2>\n");
        if (data.Months.Count == 0)
        {
            sb.Append("<p>No equity marks.</p>\n");
            return;
        }

        var max = data.Months.Max(m => Math.Abs(m.Pnl));
        sb.Append("<table class=\"heat\"><thead><tr><th>year</th>");
        foreach (var name in CultureInfo.InvariantCulture.DateTimeFormat.AbbreviatedMonthNames.Take(12))
        {
            sb.Append(Inv, $"<th class=\"num\">{name}</th>");
        }

        sb.Append("<th class=\"num\">year</th></tr></thead><tbody>");
        foreach (var year in data.Months.GroupBy(m => m.Year))
        {
            sb.Append(Inv, $"<tr><th>{year.Key}</th>");
            for (var month = 1; month <= 12; month++)
            {
                var m = year.FirstOrDefault(x => x.Month == month);
                sb.Append(m is null ? "<td></td>" : string.Create(Inv, $"<td style=\"{HeatStyle(m.Pnl, max)}\" title=\"{m.Label}: {Money(m.Pnl, ccy)}\">{m.Pnl:N0}</td>"));
            }

            var total = year.Sum(m => m.Pnl);
            sb.Append(Inv, $"<td class=\"{Sign(total)}\"><b>{total:N0}</b></td></tr>");
        }

        sb.Append("</tbody></table>\n");
        sb.Append(Inv, $"<table class=\"months\"><thead><tr><th>month (UTC)</th><th class=\"num\">P&amp;L ({E(ccy)})</th><th class=\"num\">month-end equity P&amp;L ({E(ccy)})</th><th class=\"num\">trades closed</th><th class=\"num\">their net P&amp;L ({E(ccy)})</th></tr></thead><tbody>");
        foreach (var m in data.Months)
        {
            sb.Append(Inv, $"<tr class=\"month\" data-month=\"{m.Label}\"><td>{m.Label}</td><td class=\"num {Sign(m.Pnl)}\">{m.Pnl:N2}</td><td class=\"num {Sign(m.EndEquity)}\">{m.EndEquity:N2}</td><td class=\"num\">{m.TradesClosed:N0}</td><td class=\"num {Sign(m.ClosedNetPnl)}\">{m.ClosedNetPnl:N2}</td></tr>");
        }

        var last = data.Months[^1];
        sb.Append(Inv, $"<tr class=\"total\"><td>all</td><td class=\"num {Sign(last.EndEquity)}\">{data.Months.Sum(m => m.Pnl):N2}</td><td class=\"num\">{last.EndEquity:N2}</td><td class=\"num\">{data.Months.Sum(m => m.TradesClosed):N0}</td><td class=\"num\">{data.Months.Sum(m => m.ClosedNetPnl):N2}</td></tr>");
        sb.Append("</tbody></table>\n<p class=\"note\">A month's P&amp;L is its last hourly equity mark minus the previous month's (0 before the first): realized and the change in open P&amp;L, net of commissions and carry. Each hourly mark is stamped with the start of its hour and holds the hour's last value, so a month's last mark can include bars up to an hour into the next month. No capital is configured, so these are amounts, not percentages.</p>\n");
    }

    private static void Costs(StringBuilder sb, BacktestReportData data)
    {
        var s = data.Summary;
        var ccy = s.Currency;
        var c = data.Costs;
        sb.Append(Inv, $"<h2 id=\"costs\">Costs ({E(ccy)})</h2>\n");
        sb.Append(Inv, $"<table class=\"costs\"><thead><tr><th>instrument</th><th>order type</th><th class=\"num\">fills</th><th class=\"num\">notional</th><th class=\"num\">commissions</th><th class=\"num\">spread paid</th><th class=\"num\">slippage paid</th><th class=\"num\">total paid</th><th class=\"num\">not charged: capped by bar range</th><th class=\"num\">capped fills</th></tr></thead><tbody>");
        foreach (var l in c.Lines.Append(c.Total))
        {
            var total = l.Symbol == "all" || l.OrderType == "all";
            sb.Append(Inv, $"<tr class=\"{(total ? "total" : "cost")}\"><td>{E(l.Symbol)}</td><td>{E(l.OrderType)}</td><td class=\"num\">{l.Fills:N0}</td><td class=\"num\">{l.Notional:N0}</td><td class=\"num\">{l.Commissions:N2}</td><td class=\"num\">{l.Spread:N2}</td><td class=\"num\">{l.Slippage:N2}</td><td class=\"num\">{l.Commissions + l.Spread + l.Slippage:N2}</td><td class=\"num\">{l.NotCharged:N2}</td><td class=\"num\">{l.CappedFills:N0}</td></tr>");
        }

        sb.Append("</tbody></table>\n");
        var t = c.Total;
        var models = string.Join("; ", c.Models.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(Inv,
            $"{kv.Key}: spread {kv.Value.Model.DefaultSpread} {kv.Value.Currency}, commission {kv.Value.Model.CommissionRate * 10_000m:0.##} bp (minimum {kv.Value.Model.MinimumCommission:0.00} {kv.Value.Currency}), tick {kv.Value.TickSize}")));
        sb.Append("<ul class=\"note\">");
        var open = s.Commissions - s.ClosedTradeCommissions;
        sb.Append(Inv, $"<li><b>Commissions</b> are the recorded commission of every fill of the run (the fills table), {Money(s.Commissions, ccy)}{(t.Commissions == s.Commissions ? "" : string.Create(Inv, $" (<b class=\"neg\">the reconstruction's {Money(t.Commissions, ccy)} differs</b>)"))}; {(open == 0 ? "all of it in the closed round trips" : string.Create(Inv, $"the closed round trips carry {Money(s.ClosedTradeCommissions, ccy)} of it, the other {Money(open, ccy)} belongs to the positions still open at the end"))}.</li>");
        sb.Append(Inv, $"<li><b>Spread and slippage are reconstructed, not recorded</b>: the fills table keeps the price, not the mid it was priced from. For each fill the report takes its order (type, final stop/limit price) from the run's database and the bar it filled on from the recorded data (re-read through the same ingest validation), and applies the simulated broker's rule: the bar is a mid price; the reference is the open (market orders, gaps) or the stop/limit price; buys pay and sells give up half the spread (the bar's own spread on {c.BarsWithSpread:N0} fills, the configured default on the rest) plus {c.SlippageTicks} tick(s) of slippage on market and stop fills; the price is rounded to the tick and capped at the bar's high/low. Spread paid is up to the half spread of the distance from the reference, slippage the rest (the cap and the tick rounding come off the slippage first). Cost model: {E(models)}.</li>");
        sb.Append(Inv, $"<li><b>Reproduced</b>: {t.Fills - t.Unreproduced:N0} of {t.Fills:N0} fills come out at exactly their recorded price{(t.Unreproduced > 0 ? string.Create(Inv, $"; <b class=\"neg\">{t.Unreproduced:N0} do not, and their spread and slippage are not counted above</b>") : "")}.</li>");
        var agree = t.Unreproduced == 0 && t.CappedFills == s.CappedByEnvelope.Fills && c.NotChargedUnconverted == s.CappedByEnvelope.Cost;
        sb.Append(Inv, $"<li><b>Costs capped by bar range</b>: a fill is never priced outside its bar's high/low, so on {t.CappedFills:N0} fills part of the spread and slippage was not charged: {Money(t.NotCharged, ccy)} (an optimistic bias of the fill model). The simulated broker's own counter says {s.CappedByEnvelope.Cost:N2} on {s.CappedByEnvelope.Fills:N0} fills, in the instruments' currencies ({E(string.Join(", ", c.Models.Values.Select(m => m.Currency).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)))}) unconverted; the reconstruction gives {c.NotChargedUnconverted:N2} on {t.CappedFills:N0}: <span id=\"capped-check\" class=\"{(agree ? "pos" : "neg")}\">{(agree ? "the reconstruction agrees" : "the reconstruction differs")}</span>.</li>");
        sb.Append("</ul>\n");
        Carry(sb, s);
        OpenPositions(sb, s);
    }

    private static void Carry(StringBuilder sb, ReplaySummary s)
    {
        var ccy = s.Currency;
        sb.Append(Inv, $"<h3 id=\"carry\">Carry: borrow fees and storage ({E(ccy)})</h3>\n");
        sb.Append("<table class=\"carry\"><thead><tr><th>instrument</th><th>kind</th><th class=\"num\">position-days</th><th class=\"num\">paid</th></tr></thead><tbody>");
        foreach (var l in s.Carry.Lines)
        {
            sb.Append(Inv, $"<tr class=\"carry-line\"><td>{E(l.Symbol)}</td><td>{l.Kind}</td><td class=\"num\">{l.Days:N0}</td><td class=\"num\">{l.Amount:N2}</td></tr>");
        }

        sb.Append(Inv, $"<tr class=\"total\"><td>all</td><td>borrow {s.Carry.Borrow:N2}, storage {s.Carry.Storage:N2}</td><td class=\"num\">{s.Carry.Lines.Sum(l => l.Days):N0}</td><td class=\"num\">{s.CarryCosts:N2}</td></tr></tbody></table>\n");
        sb.Append(Inv, $"<p class=\"note\">As IB charges spot metals (XAUUSD, XAGUSD): storage 0.10 % a year on the value of a long position, a borrow fee of the USD benchmark + 1 % a year on a short one, accrued for every calendar day a position is held over the daily cut (17:00 New York) on |quantity| × the last price known at the cut, actual/360 (IBKR metals commissions page). Every charge is a row of <code>carry_costs</code>; the closed round trips carry {Money(s.ClosedTradeCarry, ccy)} of it, the positions open at the end {Money(s.CarryCosts - s.ClosedTradeCarry, ccy)}.</p>\n");
    }

    private static void OpenPositions(StringBuilder sb, ReplaySummary s)
    {
        sb.Append(Inv, $"<h3 id=\"open\">Open positions at the end: {s.OpenPositions.Count:N0}</h3>\n");
        if (s.OpenPositions.Count == 0)
        {
            sb.Append("<p>Flat.</p>\n");
            return;
        }

        sb.Append("<table class=\"open\"><thead><tr><th>instrument</th><th class=\"num\">quantity</th><th>opened (UTC)</th><th class=\"num\">average price</th><th class=\"num\">last mark</th><th class=\"num\">unrealized P&amp;L gross</th><th class=\"num\">commissions paid</th><th class=\"num\">carry paid</th><th>currency</th></tr></thead><tbody>");
        foreach (var p in s.OpenPositions)
        {
            sb.Append(Inv, $"<tr class=\"open-position\"><td>{E(p.Symbol)}</td><td class=\"num\">{p.Quantity:+0.####;-0.####}</td><td class=\"time\">{(p.OpenedAtUtc is { } o ? Time(o) : "")}</td><td class=\"num\">{p.AveragePrice:0.#####}</td><td class=\"num\">{p.LastMark:0.#####}</td><td class=\"num {Sign(p.UnrealizedGross)}\">{p.UnrealizedGross:N2}</td><td class=\"num\">{p.CommissionsPaid:N2}</td><td class=\"num\">{p.CarryPaid:N2}</td><td>{E(p.Currency)}</td></tr>");
        }

        sb.Append("</tbody></table>\n");
    }

    private static void Trips(StringBuilder sb, BacktestReportData data)
    {
        var s = data.Summary;
        sb.Append(Inv, $"<h2 id=\"trips\">Circuit breakers and sentinel: {s.SentinelTrips.Count:N0} trips, {s.HaltRecords.Count:N0} halts records</h2>\n");
        sb.Append(ReportCharts.TripsTimeline(s.SentinelTrips, s.HaltRecords, ReportCharts.AxisOf(data.Curve)));
        sb.Append("<div class=\"legend\"><span><span class=\"swatch\" style=\"background:#d4a72c\"></span>L1 in force (no entries)</span><span><span class=\"swatch\" style=\"background:#cf222e\"></span>L2 in force (flatten)</span></div>\n");
        if (s.SentinelTrips.Count == 0)
        {
            sb.Append("<p>No trips.</p>\n");
        }
        else
        {
            sb.Append("<table class=\"trips\"><thead><tr><th class=\"num\">#</th><th>time (UTC)</th><th>trip</th><th>formula, values and action</th></tr></thead><tbody>");
            var i = 0;
            foreach (var t in s.SentinelTrips)
            {
                sb.Append(Inv, $"<tr class=\"trip\"><td class=\"num\">{++i}</td><td class=\"time\">{Time(t.AtUtc)}</td><td>{E(t.Label)}</td><td class=\"detail\">{E(t.Detail)}</td></tr>");
            }

            sb.Append("</tbody></table>\n");
        }

        if (s.HaltRecords.Count > 0)
        {
            sb.Append(Inv, $"<details><summary>The {s.HaltRecords.Count:N0} records this run wrote to its tamper-evident halts store</summary><table class=\"halts\"><thead><tr><th class=\"num\">seq</th><th>time (UTC)</th><th>action</th><th>key</th><th>level</th><th>until (UTC)</th><th>source</th><th>reason</th></tr></thead><tbody>");
            foreach (var r in s.HaltRecords)
            {
                var d = r.Draft;
                sb.Append(Inv, $"<tr><td class=\"num\">{r.Sequence}</td><td class=\"time\">{Time(d.AtUtc)}</td><td>{d.Action}</td><td>{E(d.Key)}</td><td>L{(int)d.Level}</td><td class=\"time\">{(d.UntilUtc is { } u ? Time(u) : "")}</td><td>{E(d.Source)}</td><td class=\"detail\">{E(d.Reason)}</td></tr>");
            }

            sb.Append("</tbody></table></details>\n");
        }
    }

    private static void Activity(StringBuilder sb, ReplaySummary s)
    {
        sb.Append("<h2 id=\"activity\">Decisions and gate denials</h2>\n<table class=\"decisions\"><thead><tr><th>decision kind</th><th class=\"num\">count</th></tr></thead><tbody>");
        foreach (var (kind, n) in s.DecisionsByKind.OrderByDescending(kv => kv.Value))
        {
            sb.Append(Inv, $"<tr><td>{E(kind)}</td><td class=\"num\">{n:N0}</td></tr>");
        }

        sb.Append(Inv, $"<tr class=\"total\"><td>all</td><td class=\"num\">{s.Decisions:N0}</td></tr></tbody></table>\n");
        if (s.DenialsByReason.Count > 0)
        {
            sb.Append("<table class=\"denials\"><thead><tr><th>gate denial reason</th><th class=\"num\">orders</th></tr></thead><tbody>");
            foreach (var (reason, n) in s.DenialsByReason.OrderByDescending(kv => kv.Value))
            {
                sb.Append(Inv, $"<tr><td>{reason}</td><td class=\"num\">{n:N0}</td></tr>");
            }

            sb.Append("</tbody></table>\n");
        }
    }

    private static void Trades(StringBuilder sb, ReplaySummary s)
    {
        var ccy = E(s.Currency);
        sb.Append(Inv, $"<h2 id=\"trades\">Trades: {s.ClosedTrades.Count:N0} round trips</h2>\n");
        sb.Append(Inv, $"<table class=\"trades\"><thead><tr><th class=\"num\">#</th><th>instrument</th><th>side</th><th>opened (UTC)</th><th>closed (UTC)</th><th class=\"num\">held</th><th class=\"num\">max quantity</th><th class=\"num\">P&amp;L gross ({ccy})</th><th class=\"num\">commissions ({ccy})</th><th class=\"num\">carry ({ccy})</th><th class=\"num\">P&amp;L net ({ccy})</th><th class=\"num\">cumulative net ({ccy})</th></tr></thead><tbody>");
        var i = 0;
        var cumulative = 0m;
        foreach (var t in s.ClosedTrades)
        {
            cumulative += t.NetPnl;
            sb.Append(Inv, $"<tr class=\"trade\"><td class=\"num\">{++i}</td><td>{E(t.Symbol)}</td><td>{(t.Direction > 0 ? "long" : "short")}</td><td class=\"time\">{Time(t.OpenedAtUtc)}</td><td class=\"time\">{Time(t.ClosedAtUtc)}</td><td class=\"num\">{Held(t.ClosedAtUtc - t.OpenedAtUtc)}</td><td class=\"num\">{t.MaxQuantity:0.####}</td><td class=\"num {Sign(t.GrossPnl)}\">{t.GrossPnl:N2}</td><td class=\"num\">{t.Commissions:N2}</td><td class=\"num\">{t.Carry:N2}</td><td class=\"num {Sign(t.NetPnl)}\">{t.NetPnl:N2}</td><td class=\"num {Sign(cumulative)}\">{cumulative:N2}</td></tr>");
        }

        sb.Append(Inv, $"<tr class=\"total\"><td></td><td colspan=\"6\">all ({s.WinningTrades:N0} winners)</td><td class=\"num\">{s.RealizedGrossPnl:N2}</td><td class=\"num\">{s.ClosedTradeCommissions:N2}</td><td class=\"num\">{s.ClosedTradeCarry:N2}</td><td class=\"num\">{s.RealizedNetPnl:N2}</td><td></td></tr>");
        sb.Append("</tbody></table>\n");
    }

    private static void Card(StringBuilder sb, string key, string value, decimal? signOf) =>
        sb.Append(Inv, $"<div class=\"card\"><div class=\"k\">{E(key)}</div><div class=\"v {(signOf is { } v ? Sign(v) : "")}\">{value}</div></div>");

    private static void Row(StringBuilder sb, string key, string html) => sb.Append(Inv, $"<tr><th>{E(key)}</th><td>{html}</td></tr>");

    /// <summary>White to green (gains) or red (losses), by the size of the month against the largest month.</summary>
    private static string HeatStyle(decimal pnl, decimal max)
    {
        var t = max == 0 ? 0d : Math.Min(1d, (double)(Math.Abs(pnl) / max));
        var (r, g, b) = pnl >= 0 ? (26, 127, 55) : (207, 34, 46);
        int Mix(int c) => (int)Math.Round(255 + ((c - 255) * t));
        return string.Create(Inv, $"background:rgb({Mix(r)},{Mix(g)},{Mix(b)});color:{(t > 0.55 ? "#fff" : "#1f2328")}");
    }

    private static string Held(TimeSpan d) => d.TotalDays >= 1 ? string.Create(Inv, $"{(int)d.TotalDays}d {d.Hours}h") : string.Create(Inv, $"{d.Hours}h {d.Minutes:D2}m");

    private static string Money(decimal amount, string currency) => string.Create(Inv, $"{amount:N2} {E(currency)}");

    private static string Sign(decimal v) => v < 0 ? "neg" : v > 0 ? "pos" : "";

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm", Inv);

    private static string E(string s) => WebUtility.HtmlEncode(s);

    /// <summary>The report's stylesheet, embedded in the assembly (Cli/BacktestReport.css).</summary>
    private static string Stylesheet()
    {
        using var stream = typeof(BacktestReport).Assembly.GetManifestResourceStream("MetalSniper.Host.Cli.BacktestReport.css")
            ?? throw new InvalidOperationException("the embedded resource MetalSniper.Host.Cli.BacktestReport.css is missing from the build");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
