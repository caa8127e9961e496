namespace MetalSniper.Engine.Pipeline;

/// <summary>
/// The pairs this process trades, as the operator sees them (<c>/api/status</c>, the dashboard): one entry per enabled pair of
/// the dual-listing strategy when that strategy runs; empty when it does not. Configuration only: the window adds each leg's
/// position and the strategy's latest decision on it from the book and the database.
/// </summary>
/// <param name="Pairs">The enabled pairs, by name.</param>
public sealed record PairsStatus(IReadOnlyList<PairLegs> Pairs)
{
    /// <summary>True when the dual-listing strategy runs in this process.</summary>
    public bool Running => Pairs.Count > 0;
}

/// <summary>One pair of listings of the same company.</summary>
/// <param name="Name">The pair's configuration key (e.g. "shell").</param>
/// <param name="Company">The company.</param>
/// <param name="A">Symbol of leg A.</param>
/// <param name="B">Symbol of leg B.</param>
public sealed record PairLegs(string Name, string Company, string A, string B);
