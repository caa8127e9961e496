namespace MetalSniper.Operator.Telegram;

/// <summary>
/// A token bucket on a <see cref="TimeProvider"/>: <paramref name="ratePerSecond"/> tokens a second, at most
/// <paramref name="capacity"/> saved up (1: no bursts, evenly spaced). It starts full. One consumer only (not thread-safe).
/// A take that may borrow (<c>mayBorrow</c>) leaves as soon as no token is owed, and leaves one owed: the next takes pay it
/// back, so over any stretch the rate is kept but for that one message.
/// </summary>
internal sealed class TokenBucket(double ratePerSecond, double capacity, TimeProvider clock)
{
    // A timer may wake a hair before the float arithmetic says a whole token is there.
    private const double Slack = 1e-6;

    private readonly double _capacity = capacity;
    private double _tokens = capacity;
    private long _stamp = clock.GetTimestamp();

    /// <summary>Waits for a token and takes it.</summary>
    /// <param name="mayBorrow">True: leave as soon as no token is owed (the bucket holds 0 or more), owing at most one after it.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    public async ValueTask TakeAsync(bool mayBorrow, CancellationToken cancellationToken)
    {
        var needed = mayBorrow ? 0 : 1;
        while (true)
        {
            var now = clock.GetTimestamp();
            _tokens = Math.Min(_capacity, _tokens + (clock.GetElapsedTime(_stamp, now).TotalSeconds * ratePerSecond));
            _stamp = now;
            if (_tokens >= needed - Slack)
            {
                _tokens -= 1;
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds((needed - _tokens) / ratePerSecond), clock, cancellationToken).ConfigureAwait(false);
        }
    }
}
