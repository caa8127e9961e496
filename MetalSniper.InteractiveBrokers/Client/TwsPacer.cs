namespace MetalSniper.InteractiveBrokers.Client;

/// <summary>
/// Token-bucket pacer for client → server messages (TWS allows 50 msg/s summed over all clients; TWS-PROTOCOL.md §8.3).
/// Two buckets on one <see cref="TimeProvider"/>: a <b>normal</b> bucket refilled at
/// <c>MessagesPerSecond − ReservedMessagesPerSecond</c> and a <b>reserved</b> bucket refilled at
/// <c>ReservedMessagesPerSecond</c>. Normal messages may only take normal tokens, so the reserved share is never used
/// by normal traffic. Priority (risk) messages take a reserved token first and fall back to a normal token, so they can
/// use the whole rate when they need it. Each bucket holds at most <c>max(1, rate × BurstSeconds)</c> tokens and starts
/// full; over any window of <c>t</c> seconds at most <c>MessagesPerSecond × t + both capacities</c> messages pass
/// (45/s with 0.1 s bursts: ≤ 49.5 in any second). Single consumer (the client's writer loop); not thread-safe.
/// </summary>
public sealed class TwsPacer
{
    // A timer may wake a hair before the float arithmetic says a whole token is there.
    private const double Slack = 1e-9;

    private readonly TimeProvider _time;
    private readonly Bucket _normal;
    private readonly Bucket _reserved;

    /// <summary>Creates a pacer.</summary>
    /// <param name="messagesPerSecond">Total rate (normal + reserved), &gt; 0; default use 45.</param>
    /// <param name="reservedMessagesPerSecond">Share only priority messages may use, 0 ≤ reserved &lt; total.</param>
    /// <param name="burstSeconds">Bucket depth in seconds of its rate (each bucket holds at least 1 token), ≥ 0.</param>
    /// <param name="timeProvider">Clock.</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate or the burst is out of range.</exception>
    public TwsPacer(double messagesPerSecond, double reservedMessagesPerSecond, double burstSeconds, TimeProvider timeProvider)
    {
        if (!(messagesPerSecond > 0) || double.IsInfinity(messagesPerSecond))
        {
            throw new ArgumentOutOfRangeException(nameof(messagesPerSecond), messagesPerSecond, "messages per second must be > 0 and finite");
        }

        if (!(reservedMessagesPerSecond >= 0) || reservedMessagesPerSecond >= messagesPerSecond)
        {
            throw new ArgumentOutOfRangeException(nameof(reservedMessagesPerSecond), reservedMessagesPerSecond,
                $"reserved messages per second must be >= 0 and < the total {messagesPerSecond}");
        }

        if (!(burstSeconds >= 0) || double.IsInfinity(burstSeconds))
        {
            throw new ArgumentOutOfRangeException(nameof(burstSeconds), burstSeconds, "burst seconds must be >= 0 and finite");
        }

        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        var now = _time.GetTimestamp();
        var normalRate = messagesPerSecond - reservedMessagesPerSecond;
        _normal = new Bucket(normalRate, Math.Max(1, normalRate * burstSeconds), now);
        _reserved = new Bucket(reservedMessagesPerSecond, reservedMessagesPerSecond > 0 ? Math.Max(1, reservedMessagesPerSecond * burstSeconds) : 0, now);
        MessagesPerSecond = messagesPerSecond;
        ReservedMessagesPerSecond = reservedMessagesPerSecond;
    }

    /// <summary>Total rate in messages per second.</summary>
    public double MessagesPerSecond { get; }

    /// <summary>The share only priority messages may use, in messages per second.</summary>
    public double ReservedMessagesPerSecond { get; }

    /// <summary>Tokens now in the normal bucket (for diagnostics and tests).</summary>
    public double NormalTokens
    {
        get
        {
            var now = _time.GetTimestamp();
            _normal.Refill(now, _time);
            return _normal.Tokens;
        }
    }

    /// <summary>Tokens now in the reserved bucket (for diagnostics and tests).</summary>
    public double ReservedTokens
    {
        get
        {
            var now = _time.GetTimestamp();
            _reserved.Refill(now, _time);
            return _reserved.Tokens;
        }
    }

    /// <summary>
    /// Takes a token for one message if one is available now.
    /// </summary>
    /// <param name="priority">True for a risk message (may use the reserved share).</param>
    /// <param name="retryAfter">When false is returned: how long until a token this message may use is available.</param>
    /// <returns>True if the message may be sent now.</returns>
    public bool TryAcquire(bool priority, out TimeSpan retryAfter)
    {
        var now = _time.GetTimestamp();
        _normal.Refill(now, _time);
        _reserved.Refill(now, _time);
        if (priority && _reserved.TryTake())
        {
            retryAfter = TimeSpan.Zero;
            return true;
        }

        if (_normal.TryTake())
        {
            retryAfter = TimeSpan.Zero;
            return true;
        }

        var wait = _normal.TimeToOneToken();
        if (priority)
        {
            wait = Math.Min(wait, _reserved.TimeToOneToken());
        }

        // Round up to whole ticks so the caller does not wake a hair early and spin.
        retryAfter = TimeSpan.FromTicks(Math.Max(1, (long)Math.Ceiling(wait * TimeSpan.TicksPerSecond)));
        return false;
    }

    private sealed class Bucket
    {
        private readonly double rate;
        private readonly double capacity;
        private long stamp;

        public Bucket(double rate, double capacity, long stamp)
        {
            this.rate = rate;
            this.capacity = capacity;
            this.stamp = stamp;
            Tokens = capacity;
        }

        public double Tokens { get; private set; }

        public void Refill(long now, TimeProvider time)
        {
            if (now > stamp)
            {
                Tokens = Math.Min(capacity, Tokens + (time.GetElapsedTime(stamp, now).TotalSeconds * rate));
                stamp = now;
            }
        }

        public bool TryTake()
        {
            if (capacity > 0 && Tokens >= 1 - Slack)
            {
                Tokens -= 1;
                return true;
            }

            return false;
        }

        public double TimeToOneToken() => rate <= 0 ? double.PositiveInfinity : Math.Max(0, 1 - Tokens) / rate;
    }
}
