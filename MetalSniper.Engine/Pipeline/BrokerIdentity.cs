namespace MetalSniper.Engine.Pipeline;

/// <summary>Which broker, account and mode this process uses: in the start-up banner, the health API and every alert.</summary>
/// <param name="Describe">The current description, e.g. "paper · IB DU1234567 at 127.0.0.1:4002 (client 17) FULLY_LIVE".</param>
public sealed record BrokerIdentity(Func<string> Describe)
{
    /// <summary>True once our books were reconciled with the broker at least once (systemd READY waits for it). The simulated broker: at once.</summary>
    public Func<bool> Reconciled { get; init; } = () => true;

    /// <summary>
    /// The broker connection as the status API names it, e.g. "Interactive Brokers 127.0.0.1:4002 client 17, account DU1234567,
    /// link FULLY_LIVE". The simulated broker: "simulated broker (embedded)".
    /// </summary>
    public Func<string> Connection { get; init; } = () => "simulated broker (embedded)";

    /// <summary>
    /// While the broker could not be reached since the start, what the wait looks like (systemd's <c>STATUS=</c>), e.g. "waiting
    /// for the broker: IB at 127.0.0.1:4002 unreachable for 42 s since the start (…), retrying with backoff"; null otherwise
    /// (and always for the simulated broker).
    /// </summary>
    public Func<string?> Waiting { get; init; } = static () => null;

    /// <summary>
    /// What the broker side contributes to readiness (<c>/health/ready</c>): each check false when the system cannot act
    /// through the broker (the link not fully up, reconciliation not done or failed). The simulated broker: always able.
    /// </summary>
    public Func<IReadOnlyList<BrokerCheck>> Readiness { get; init; } = static () => [];
}

/// <summary>One readiness check of the broker side.</summary>
/// <param name="Name">Component name in <c>/health/ready</c> ("broker-link", "reconciliation").</param>
/// <param name="Ok">True when this part lets the system act.</param>
/// <param name="Detail">The state and, when not ok, why.</param>
public sealed record BrokerCheck(string Name, bool Ok, string Detail);
