namespace MetalSniper.Operator.Telegram;

/// <summary>
/// A token bucket on a <see cref="TimeProvider"/>: <paramref name="ratePerSecond"/> tokens a second, at most
/// <paramref name="capacity"/> saved up (1: no bursts, evenly spaced). It starts full. One consumer only (not thread-safe).
/// </summary>
internal sealed class TokenBucket(double ratePerSecond, double capacity, TimeProvider clock)
{
    // A timer may wake a hair before the float arithmetic says a whole token is there.
    private const double Slack = 1e-6;

    private readonly double _capacity = capacity;
    private double _tokens = capacity;
    private long _stamp = clock.GetTimestamp();

    /// <summary>Waits for a token and takes it.</summary>
    public async ValueTask TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var now = clock.GetTimestamp();
            _tokens = Math.Min(_capacity, _tokens + (clock.GetElapsedTime(_stamp, now).TotalSeconds * ratePerSecond));
            _stamp = now;
            if (_tokens >= 1 - Slack)
            {
                _tokens -= 1;
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds((1 - _tokens) / ratePerSecond), clock, cancellationToken).ConfigureAwait(false);
        }
    }
}
