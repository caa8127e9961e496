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
