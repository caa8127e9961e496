using System.Diagnostics;

namespace MetalSniper.InteractiveBrokers.Bench;

/// <summary>
/// One monotonic timeline for every stamp of the benchmark: <see cref="GetUtcNow"/> is a fixed UTC origin plus
/// <see cref="Stopwatch"/> elapsed time, so the fake's <c>SentAt</c>/<c>ReceivedAt</c>, our client's
/// <c>ReceivedAt</c> and the benchmark's own <see cref="Stopwatch"/> stamps compare to 0.1 µs.
/// <para>
/// <see cref="GetTimestamp"/> may run <c>pacerSpeedup</c> times faster than real time. The client reads that
/// timestamp only for its token-bucket pacer and heartbeat bookkeeping (timers and delays use real time through the
/// base <see cref="TimeProvider.CreateTimer"/>), so a speed-up of 10 000 turns the 50 msg/s ceiling of
/// <c>TwsClientOptions</c> into 500 000 msg/s: the pacer never waits, but its code still runs on every send.
/// </para>
/// </summary>
internal sealed class BenchClock : TimeProvider
{
    private readonly long _start;
    private readonly DateTimeOffset _origin;
    private readonly long _pacerSpeedup;

    private BenchClock(long start, DateTimeOffset origin, long pacerSpeedup)
    {
        _start = start;
        _origin = origin;
        _pacerSpeedup = pacerSpeedup;
    }

    /// <summary>Timestamps run this many times faster than real time (1 = real).</summary>
    public long PacerSpeedup => _pacerSpeedup;

    public override long TimestampFrequency => Stopwatch.Frequency;

    /// <summary>A real-time clock starting now.</summary>
    public static BenchClock StartNew() => new(Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow, 1);

    /// <summary>The same timeline (same <see cref="GetUtcNow"/>), with timestamps <paramref name="speedup"/> times faster.</summary>
    public BenchClock WithPacerSpeedup(long speedup)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(speedup, 1);
        return new BenchClock(_start, _origin, speedup);
    }

    public override DateTimeOffset GetUtcNow() => _origin + Stopwatch.GetElapsedTime(_start);

    public override long GetTimestamp()
    {
        var now = Stopwatch.GetTimestamp();
        return _pacerSpeedup == 1 ? now : _start + ((now - _start) * _pacerSpeedup);
    }

    /// <summary>Microseconds from the origin to a <see cref="Stopwatch"/> timestamp (real time).</summary>
    public double Micros(long stopwatchTimestamp) => Stopwatch.GetElapsedTime(_start, stopwatchTimestamp).Ticks / 10.0;

    /// <summary>Microseconds from the origin to a time read from <see cref="GetUtcNow"/>.</summary>
    public double Micros(DateTimeOffset time) => (time - _origin).Ticks / 10.0;
}
