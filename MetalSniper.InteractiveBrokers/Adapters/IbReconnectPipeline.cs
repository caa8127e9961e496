using MetalSniper.InteractiveBrokers.Client;
using Polly;
using Polly.Retry;

namespace MetalSniper.InteractiveBrokers.Adapters;

/// <summary>
/// The reconnect backoff of <see cref="IbSession"/> as a Polly retry pipeline: a failed connect
/// (<see cref="TwsConnectionException"/>, error 326 included) is retried after an exponentially growing delay
/// starting near the minimum and capped at the maximum, with Polly's decorrelated jitter so many clients do not
/// reconnect in step; retries go on until the token is cancelled. Delays run on the injected <see cref="TimeProvider"/>.
/// Any other exception, and cancellation, end the execution at once.
/// </summary>
public static class IbReconnectPipeline
{
    /// <summary>Builds the pipeline.</summary>
    /// <param name="minDelay">Base delay (the median of the first delay); must be ≥ 0 and ≤ <paramref name="maxDelay"/>.</param>
    /// <param name="maxDelay">Longest delay; must be &gt; 0.</param>
    /// <param name="clock">The clock the delays run on.</param>
    /// <param name="onRetry">
    /// Called once per failed attempt before its delay: the attempt number (1 for the first failure), the delay before
    /// the next try and the failure. It runs on the connecting task; an exception from it ends the execution.
    /// </param>
    /// <param name="randomizer">Jitter source returning values in [0, 1); null: Polly's shared random (tests pass a seeded one).</param>
    /// <exception cref="ArgumentOutOfRangeException">A delay is out of range.</exception>
    public static ResiliencePipeline Create(TimeSpan minDelay, TimeSpan maxDelay, TimeProvider clock, Action<int, TimeSpan, TwsConnectionException> onRetry,
        Func<double>? randomizer = null)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(onRetry);
        if (minDelay < TimeSpan.Zero || maxDelay <= TimeSpan.Zero || minDelay > maxDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(minDelay), minDelay,
                $"reconnect delays must satisfy 0 <= min <= max and max > 0, were min {minDelay.TotalSeconds} s, max {maxDelay.TotalSeconds} s");
        }

        var options = new RetryStrategyOptions
        {
            Name = "ib-reconnect",
            ShouldHandle = new PredicateBuilder().Handle<TwsConnectionException>(),
            MaxRetryAttempts = int.MaxValue, // Polly's "retry forever": only cancellation ends it
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = minDelay,
            MaxDelay = maxDelay,
            OnRetry = args =>
            {
                onRetry(args.AttemptNumber + 1, args.RetryDelay, (TwsConnectionException)args.Outcome.Exception!);
                return ValueTask.CompletedTask;
            },
        };
        if (randomizer is not null)
        {
            options.Randomizer = randomizer;
        }

        return new ResiliencePipelineBuilder { Name = "ib-reconnect", TimeProvider = clock }.AddRetry(options).Build();
    }
}
