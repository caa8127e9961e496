namespace MetalSniper.Engine.Pipeline;

/// <summary>Which broker, account and mode this process uses: in the start-up banner, the health API and every alert.</summary>
/// <param name="Describe">The current description, e.g. "paper · IB DU1234567 at 127.0.0.1:4002 (client 17) FULLY_LIVE".</param>
public sealed record BrokerIdentity(Func<string> Describe)
{
    /// <summary>True once our books were reconciled with the broker at least once (systemd READY waits for it). The simulated broker: at once.</summary>
    public Func<bool> Reconciled { get; init; } = () => true;
}
