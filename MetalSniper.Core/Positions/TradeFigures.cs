using MetalSniper.Core.Money;

namespace MetalSniper.Core.Positions;

/// <summary>
/// The figures of a list of closed trades, with one definition for the replay summary and the operator window: trades, winners
/// (net P&amp;L &gt; 0), gross P&amp;L, commissions, carry and net P&amp;L (sums, in the trades' currency — the base currency after
/// <see cref="ToBase"/>), and the profit factor (sum of winning net P&amp;Ls / |sum of losing net P&amp;Ls|; null without a losing trade).
/// </summary>
/// <param name="Trades">Closed trades (round trips).</param>
/// <param name="Winners">Trades whose net P&amp;L is &gt; 0.</param>
/// <param name="GrossPnl">Sum of the trades' P&amp;L before commissions and carry.</param>
/// <param name="Commissions">Sum of the trades' commissions (every cost line the fills carried).</param>
/// <param name="NetPnl">Sum of the trades' P&amp;L net: gross − commissions − carry.</param>
/// <param name="ProfitFactor">Winning net P&amp;L / |losing net P&amp;L|; null without a losing trade.</param>
public sealed record TradeFigures(int Trades, int Winners, decimal GrossPnl, decimal Commissions, decimal NetPnl, decimal? ProfitFactor)
{
    /// <summary>Sum of the trades' carry (borrow fees and storage paid while they were open).</summary>
    public decimal Carry { get; init; }

    /// <summary>Winners / trades (0..1); null without a trade.</summary>
    public double? WinRate => Trades > 0 ? (double)Winners / Trades : null;

    /// <summary>Computes the figures of <paramref name="trades"/> (all in one currency).</summary>
    public static TradeFigures From(IReadOnlyList<ClosedTrade> trades)
    {
        ArgumentNullException.ThrowIfNull(trades);
        var wins = trades.Where(t => t.NetPnl > 0).Sum(t => t.NetPnl);
        var losses = -trades.Where(t => t.NetPnl < 0).Sum(t => t.NetPnl);
        return new TradeFigures(trades.Count, trades.Count(t => t.NetPnl > 0), trades.Sum(t => t.GrossPnl), trades.Sum(t => t.Commissions), trades.Sum(t => t.NetPnl),
            losses > 0 ? wins / losses : null) { Carry = trades.Sum(t => t.Carry) };
    }

    /// <summary>A trade closed in its instrument's currency, converted to <paramref name="target"/> at the converter's current rate (unchanged when already in it).</summary>
    /// <exception cref="FxRateUnavailableException">No rate converts the trade's currency to <paramref name="target"/>.</exception>
    public static ClosedTrade ToBase(ClosedTrade trade, Currency target, FxConverter fx)
    {
        ArgumentNullException.ThrowIfNull(trade);
        ArgumentNullException.ThrowIfNull(fx);
        return trade.Currency == target ? trade : trade with
        {
            GrossPnl = fx.Convert(new Money.Money(trade.GrossPnl, trade.Currency), target).Amount,
            Commissions = fx.Convert(new Money.Money(trade.Commissions, trade.Currency), target).Amount,
            Carry = fx.Convert(new Money.Money(trade.Carry, trade.Currency), target).Amount,
            Currency = target,
        };
    }

    /// <summary>
    /// Closed trades per UTC day of their close (the day the P&amp;L was realized), oldest first; days without a close are absent.
    /// </summary>
    public static IReadOnlyList<DailyTradePnl> ByCloseDay(IReadOnlyList<ClosedTrade> trades)
    {
        ArgumentNullException.ThrowIfNull(trades);
        return [.. trades.GroupBy(t => DateOnly.FromDateTime(t.ClosedAtUtc.UtcDateTime)).OrderBy(g => g.Key)
            .Select(g => new DailyTradePnl(g.Key, g.Count(), g.Count(t => t.NetPnl > 0), g.Sum(t => t.GrossPnl), g.Sum(t => t.Commissions), g.Sum(t => t.NetPnl))
            {
                Carry = g.Sum(t => t.Carry),
            })];
    }

    /// <summary>
    /// Annualized Sharpe ratio of daily equity P&amp;L changes: <c>mean(Δ) / s(Δ) × √252</c> over UTC days with a mark (the last
    /// mark of each day; the first day's change is from 0), sample standard deviation, no risk-free rate (Sharpe, J. Portfolio
    /// Management 21(1), 1994). Scale-free in the account's capital because it uses P&amp;L changes, not returns. Null with fewer
    /// than 2 days or no variation.
    /// </summary>
    public static double? DailySharpe(IReadOnlyList<(DateTimeOffset TimeUtc, decimal Equity)> curve)
    {
        ArgumentNullException.ThrowIfNull(curve);
        var closes = curve.GroupBy(p => p.TimeUtc.UtcDateTime.Date).OrderBy(g => g.Key).Select(g => (double)g.Last().Equity).ToList();
        if (closes.Count < 2)
        {
            return null;
        }

        var changes = closes.Select((e, i) => e - (i == 0 ? 0d : closes[i - 1])).ToList();
        var mean = changes.Average();
        var sd = Math.Sqrt(changes.Sum(c => (c - mean) * (c - mean)) / (changes.Count - 1));
        return sd > 0 ? mean / sd * Math.Sqrt(252) : null;
    }
}

/// <summary>The trades closed on one UTC day; money in the trades' currency (the base currency in the operator window).</summary>
/// <param name="Day">The UTC day of the closes.</param>
/// <param name="Trades">Trades closed that day.</param>
/// <param name="Winners">Of which net P&amp;L &gt; 0.</param>
/// <param name="GrossPnl">Their P&amp;L before commissions and carry.</param>
/// <param name="Commissions">Their commissions.</param>
/// <param name="NetPnl">Their P&amp;L net: gross − commissions − carry.</param>
public sealed record DailyTradePnl(DateOnly Day, int Trades, int Winners, decimal GrossPnl, decimal Commissions, decimal NetPnl)
{
    /// <summary>Their carry (borrow fees and storage).</summary>
    public decimal Carry { get; init; }
}
