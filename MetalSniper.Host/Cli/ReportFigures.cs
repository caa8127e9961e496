namespace MetalSniper.Host.Cli;

/// <summary>One hourly mark of the equity curve with its drawdown (underwater) figure.</summary>
/// <param name="TimeUtc">Start of the market hour the mark belongs to (UTC; the value is the last mark of that hour).</param>
/// <param name="Equity">Equity P&amp;L including open positions, net of commissions, in the base currency.</param>
/// <param name="Drawdown">Equity minus its running peak (≤ 0), base currency; the peak starts at 0, the equity before the first trade.</param>
public sealed record EquityMark(DateTimeOffset TimeUtc, decimal Equity, decimal Drawdown);

/// <summary>The P&amp;L of one calendar month (UTC) from the equity curve.</summary>
/// <param name="Year">Calendar year (UTC).</param>
/// <param name="Month">Calendar month 1–12 (UTC).</param>
/// <param name="EndEquity">Equity P&amp;L at the month's last hourly mark, base currency.</param>
/// <param name="Pnl">Month-end equity minus the previous month-end's (the first month: minus 0), base currency; includes the change in open P&amp;L.</param>
/// <param name="TradesClosed">Round trips closed in the month (by close time, UTC).</param>
/// <param name="ClosedNetPnl">Net P&amp;L of those round trips, base currency.</param>
public sealed record MonthlyPnl(int Year, int Month, decimal EndEquity, decimal Pnl, int TradesClosed, decimal ClosedNetPnl)
{
    /// <summary>The month as <c>yyyy-MM</c>.</summary>
    public string Label => $"{Year:D4}-{Month:D2}";
}

/// <summary>The figures of the report derived from the equity curve and the closed trades (pure functions, no I/O).</summary>
public static class ReportFigures
{
    /// <summary>
    /// The underwater curve: each hourly mark with its distance below the running peak of equity P&amp;L. The peak starts at
    /// 0 (flat before the first trade), as the run's own max drawdown does.
    /// </summary>
    public static IReadOnlyList<EquityMark> Underwater(IReadOnlyList<(DateTimeOffset TimeUtc, decimal Equity)> curve)
    {
        ArgumentNullException.ThrowIfNull(curve);
        var peak = 0m;
        var marks = new List<EquityMark>(curve.Count);
        foreach (var (t, e) in curve)
        {
            peak = Math.Max(peak, e);
            marks.Add(new EquityMark(t, e, e - peak));
        }

        return marks;
    }

    /// <summary>
    /// P&amp;L per calendar month (UTC): the month's last hourly mark minus the previous month's (0 before the first month),
    /// with the round trips closed in the month. Months without a mark (no data) are left out.
    /// </summary>
    public static IReadOnlyList<MonthlyPnl> Monthly(IReadOnlyList<(DateTimeOffset TimeUtc, decimal Equity)> curve, IReadOnlyList<Core.Positions.ClosedTrade> trades)
    {
        ArgumentNullException.ThrowIfNull(curve);
        ArgumentNullException.ThrowIfNull(trades);
        var byMonth = trades.GroupBy(t => (t.ClosedAtUtc.UtcDateTime.Year, t.ClosedAtUtc.UtcDateTime.Month))
            .ToDictionary(g => g.Key, g => (Count: g.Count(), Net: g.Sum(t => t.NetPnl)));
        var months = new List<MonthlyPnl>();
        var previous = 0m;
        foreach (var g in curve.GroupBy(p => (p.TimeUtc.UtcDateTime.Year, p.TimeUtc.UtcDateTime.Month)).OrderBy(g => g.Key))
        {
            var end = g.Last().Equity;
            var closed = byMonth.GetValueOrDefault(g.Key);
            months.Add(new MonthlyPnl(g.Key.Year, g.Key.Month, end, end - previous, closed.Count, closed.Net));
            previous = end;
        }

        return months;
    }
}
