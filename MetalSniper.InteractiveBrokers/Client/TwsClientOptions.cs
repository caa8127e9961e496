namespace MetalSniper.InteractiveBrokers.Client;

/// <summary>
/// Options of <see cref="TwsClient"/>. Defaults follow TWS-PROTOCOL.md §8.3 (pacing) and §8.4 (heartbeat) and
/// PERFORMANCE.md (a reserved slice of ≥ 10 msg/s for the risk sentinel). Validate with <see cref="Validate"/>
/// (the client's constructor does).
/// </summary>
public sealed class TwsClientOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Tws";

    /// <summary>Total outgoing messages per second (normal + reserved). Default 45; range (0, 50].</summary>
    public double MessagesPerSecond { get; set; } = 45;

    /// <summary>Share of <see cref="MessagesPerSecond"/> that only priority (risk) messages may use. Default 10; range [0, MessagesPerSecond).</summary>
    public double ReservedMessagesPerSecond { get; set; } = 10;

    /// <summary>Token-bucket depth in seconds of each bucket's rate (each holds ≥ 1 token). Default 0.1; range [0, 1].</summary>
    public double BurstSeconds { get; set; } = 0.1;

    /// <summary>Most normal messages that may wait in the send queue; more throws. Priority messages are never refused. Default 10 000; ≥ 1.</summary>
    public int MaxSendQueueDepth { get; set; } = 10_000;

    /// <summary>Heartbeat period: a reqCurrentTime probe while connected, a heartbeat event in every state. Default 5 s; range [10 ms, 10 min].</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A probe unanswered for this long means the link is half-open: the client drops the socket (reason
    /// <see cref="TwsDisconnectReason.HeartbeatTimeout"/>). Default 10 s; range [10 ms, 10 min].
    /// </summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Checks every option and reports every error at once.</summary>
    /// <exception cref="ArgumentException">One or more options are out of range (all listed in the message).</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (!(MessagesPerSecond > 0 && MessagesPerSecond <= 50))
        {
            errors.Add($"MessagesPerSecond must be in (0, 50], was {MessagesPerSecond}");
        }

        if (!(ReservedMessagesPerSecond >= 0 && ReservedMessagesPerSecond < MessagesPerSecond))
        {
            errors.Add($"ReservedMessagesPerSecond must be in [0, MessagesPerSecond={MessagesPerSecond}), was {ReservedMessagesPerSecond}");
        }

        if (!(BurstSeconds >= 0 && BurstSeconds <= 1))
        {
            errors.Add($"BurstSeconds must be in [0, 1], was {BurstSeconds}");
        }

        if (MaxSendQueueDepth < 1)
        {
            errors.Add($"MaxSendQueueDepth must be >= 1, was {MaxSendQueueDepth}");
        }

        var min = TimeSpan.FromMilliseconds(10);
        var max = TimeSpan.FromMinutes(10);
        if (HeartbeatInterval < min || HeartbeatInterval > max)
        {
            errors.Add($"HeartbeatInterval must be in [{min}, {max}], was {HeartbeatInterval}");
        }

        if (HeartbeatTimeout < min || HeartbeatTimeout > max)
        {
            errors.Add($"HeartbeatTimeout must be in [{min}, {max}], was {HeartbeatTimeout}");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid TwsClientOptions: " + string.Join("; ", errors));
        }
    }
}
