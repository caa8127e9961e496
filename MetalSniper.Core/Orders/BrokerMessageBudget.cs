namespace MetalSniper.Core.Orders;

/// <summary>
/// The broker's message budget (IB: 50 messages/s per client; we plan 45) as two token buckets: a
/// general bucket at (total − reserved) msg/s that every message may use, and a reserved bucket at
/// <c>reserved</c> msg/s that only risk messages (flattens, protective stops, cancels) may use, so
/// entries can never consume the share the sentinel needs. Each bucket holds at most one second of
/// its rate. Clock: the <see cref="TimeProvider"/>'s monotonic timestamp. Not thread-safe: one
/// owner (the execution side) sends.
/// </summary>
public sealed class BrokerMessageBudget
{
    private readonly TimeProvider _clock;
    private readonly double _generalRate;
    private readonly double _reservedRate;
    private double _general;
    private double _reserved;
    private long _last;

    /// <summary>Creates a full budget.</summary>
    /// <param name="messagesPerSecond">Total messages per second (&gt; reserved).</param>
    /// <param name="reservedForRisk">Messages per second only risk messages may use (&gt; 0).</param>
    /// <param name="clock">Clock for refills.</param>
    /// <exception cref="ArgumentOutOfRangeException">Reserved ≤ 0 or ≥ total.</exception>
    public BrokerMessageBudget(int messagesPerSecond, int reservedForRisk, TimeProvider clock)
    {
        if (reservedForRisk <= 0 || reservedForRisk >= messagesPerSecond)
        {
            throw new ArgumentOutOfRangeException(nameof(reservedForRisk), reservedForRisk, $"the reserved share must be in 1..{messagesPerSecond - 1}");
        }

        _clock = clock;
        _generalRate = messagesPerSecond - reservedForRisk;
        _reservedRate = reservedForRisk;
        _general = _generalRate;
        _reserved = _reservedRate;
        _last = clock.GetTimestamp();
    }

    /// <summary>Messages sent through the reserved share so far.</summary>
    public long ReservedUsed { get; private set; }

    /// <summary>Messages refused so far (the caller waited or denied).</summary>
    public long Refused { get; private set; }

    /// <summary>Takes one message from the budget: a risk message from the reserved bucket first, then the general one; any other message from the general bucket only.</summary>
    /// <param name="risk">True for risk messages.</param>
    /// <param name="retryAfter">When refused, how long until a token is available for this kind of message.</param>
    /// <returns>True when the message may be sent now.</returns>
    public bool TryAcquire(bool risk, out TimeSpan retryAfter)
    {
        Refill();
        if (risk && _reserved >= 1.0)
        {
            _reserved -= 1.0;
            ReservedUsed++;
            retryAfter = TimeSpan.Zero;
            return true;
        }

        if (_general >= 1.0)
        {
            _general -= 1.0;
            retryAfter = TimeSpan.Zero;
            return true;
        }

        Refused++;
        var wait = (1.0 - _general) / _generalRate;
        if (risk)
        {
            wait = Math.Min(wait, (1.0 - _reserved) / _reservedRate);
        }

        retryAfter = TimeSpan.FromSeconds(wait);
        return false;
    }

    private void Refill()
    {
        var now = _clock.GetTimestamp();
        var elapsed = _clock.GetElapsedTime(_last, now).TotalSeconds;
        _last = now;
        _general = Math.Min(_generalRate, _general + (elapsed * _generalRate));
        _reserved = Math.Min(_reservedRate, _reserved + (elapsed * _reservedRate));
    }
}
