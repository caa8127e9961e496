namespace MetalSniper.Engine.Pipeline;

/// <summary>The judges of this process as the operator sees them (<c>/api/status</c>, the dashboard): models in use and refused ones.</summary>
/// <param name="InUse">One line per judge in use, e.g. "Entry v2 (ee49a134aeb6) Shadow".</param>
/// <param name="Refused">One line per judge configured on whose model was refused at load (with the rule); that judge is off.</param>
public sealed record JudgeStatus(IReadOnlyList<string> InUse, IReadOnlyList<string> Refused)
{
    /// <summary>One line per judge: those in use, then the refused ones prefixed "REFUSED: " (the replay summary's section).</summary>
    public IReadOnlyList<string> Lines() => [.. InUse, .. Refused.Select(r => "REFUSED: " + r)];
}
