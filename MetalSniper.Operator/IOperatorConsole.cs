namespace MetalSniper.Operator;

/// <summary>The outcome of an operator command, as text for a chat or a page.</summary>
/// <param name="Ok">Whether it was done.</param>
/// <param name="Text">What happened or why not (never a secret).</param>
public sealed record OperatorReply(bool Ok, string Text);

/// <summary>
/// What an operator may see and do from outside the process (Telegram, the HTTP operator window).
/// Implementations are thread-safe and never throw for a refused command (they say why).
/// </summary>
public interface IOperatorConsole
{
    /// <summary>Mode, account, kill level and why, connection state, P&amp;L: a few lines of text.</summary>
    string StatusText();

    /// <summary>Open positions with their P&amp;L: a few lines of text.</summary>
    string PositionsText();

    /// <summary>The figures of the periodic Telegram digest: kill level, P&amp;L and open positions, now.</summary>
    OperatorSnapshot Snapshot();

    /// <summary>Escalates the service's kill switch to <paramref name="level"/> (1 or 2).</summary>
    /// <param name="level">1 or 2.</param>
    /// <param name="reason">Why (recorded).</param>
    /// <param name="source">Who ("operator:telegram:12345", "operator:http").</param>
    OperatorReply Kill(int level, string reason, string source);

    /// <summary>
    /// Two-step resume: without <paramref name="confirmation"/> returns the current state and the code to
    /// confirm with; with the code, lowers the latch to L0 (refused when the state changed since).
    /// </summary>
    OperatorReply Resume(string? confirmation, string reason, string source);
}

/// <summary>An amount of money in one currency.</summary>
/// <param name="Currency">ISO code.</param>
/// <param name="Amount">Major units.</param>
public sealed record CurrencyAmount(string Currency, decimal Amount);

/// <summary>What the operator's digest reports (<see cref="IOperatorConsole.Snapshot"/>).</summary>
/// <param name="KillLevel">"L0", "L1", "L2".</param>
/// <param name="BaseCurrency">The account's base currency (ISO code) of <paramref name="DayPnl"/> and <paramref name="EquityPnl"/>.</param>
/// <param name="DayPnl">Today's P&amp;L in the base currency (the sentinel's), null when unknown.</param>
/// <param name="EquityPnl">The run's mark-to-market P&amp;L net of commissions, base currency.</param>
/// <param name="Realized">Closed trades' P&amp;L net of commissions, per instrument currency (the run's).</param>
/// <param name="Unrealized">Open positions' P&amp;L at their latest marks, per instrument currency (positions without a mark left out).</param>
/// <param name="Positions">The open positions.</param>
public sealed record OperatorSnapshot(
    string KillLevel, string BaseCurrency, decimal? DayPnl, decimal EquityPnl, IReadOnlyList<CurrencyAmount> Realized, IReadOnlyList<CurrencyAmount> Unrealized, IReadOnlyList<PositionRow> Positions);
