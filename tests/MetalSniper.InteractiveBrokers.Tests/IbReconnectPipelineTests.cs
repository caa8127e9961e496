using System.Diagnostics;
using MetalSniper.InteractiveBrokers.Adapters;
using MetalSniper.InteractiveBrokers.Client;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>The session's reconnect backoff (a Polly retry pipeline) on a <see cref="FakeTimeProvider"/>: no real waiting.</summary>
public sealed class IbReconnectPipelineTests
{
    private static readonly TimeSpan Min = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(60);

    /// <summary>Records every retry; the connect attempt is given by the test.</summary>
    private sealed class Probe
    {
        private int _attempts;

        public List<(int Attempt, TimeSpan Delay, TwsConnectionException Failure)> Retries { get; } = [];

        public int Attempts => Volatile.Read(ref _attempts);

        public void OnRetry(int attempt, TimeSpan delay, TwsConnectionException failure)
        {
            lock (Retries)
            {
                Retries.Add((attempt, delay, failure));
            }
        }

        public void Attempted() => Interlocked.Increment(ref _attempts);
    }

    private static TwsConnectionException Refused() => new(TwsConnectFailure.SocketError, "connection refused on 127.0.0.1:4002");

    /// <summary>Moves the fake clock past each pending delay (every delay is at most <see cref="Max"/>) until <paramref name="attempts"/> were made.</summary>
    private static async Task DriveUntilAsync(FakeTimeProvider clock, Probe probe, int attempts)
    {
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 10);
        while (probe.Attempts < attempts)
        {
            var before = probe.Attempts;
            clock.Advance(Max);
            if (probe.Attempts == before)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException($"only {probe.Attempts} of {attempts} connect attempts within 10 s");
                }

                await Task.Delay(1);
            }
        }
    }

    private static async Task<List<TimeSpan>> DelaysOfFailedConnectsAsync(int failures, int seed)
    {
        var clock = new FakeTimeProvider();
        var probe = new Probe();
        var random = new Random(seed);
        var pipeline = IbReconnectPipeline.Create(Min, Max, clock, probe.OnRetry, random.NextDouble);
        using var stop = new CancellationTokenSource();
        var run = pipeline.ExecuteAsync(_ =>
        {
            probe.Attempted();
            throw Refused();
        }, stop.Token).AsTask();
        await DriveUntilAsync(clock, probe, failures);
        await stop.CancelAsync();
        clock.Advance(Max);
        await Should.ThrowAsync<OperationCanceledException>(run);
        lock (probe.Retries)
        {
            probe.Retries.Select(r => r.Attempt).ShouldBe(Enumerable.Range(1, probe.Retries.Count));
            return [.. probe.Retries.Take(failures).Select(r => r.Delay)];
        }
    }

    [Fact]
    public async Task ReconnectPipeline_FailedConnects_BackOffExponentiallyWithJitter_UpToTheCap()
    {
        var delays = await DelaysOfFailedConnectsAsync(12, seed: 7);

        delays.ShouldAllBe(d => d > TimeSpan.Zero && d <= Max);
        delays[0].ShouldBeLessThan(Min * 1.4); // jittered around the base delay
        // Exponential: the wait before the sixth try is at least eight base delays (decorrelated jitter keeps the running
        // total within [2^(n-1), 2^n]·tanh(…)/1.4 base delays), and by the twelfth the delays have reached the cap.
        delays.Take(5).Aggregate(TimeSpan.Zero, (a, b) => a + b).ShouldBeGreaterThanOrEqualTo(Min * 8);
        delays.Max().ShouldBe(Max);

        (await DelaysOfFailedConnectsAsync(12, seed: 8)).ShouldNotBe(delays); // jittered: another random source, other delays
    }

    [Fact]
    public async Task ReconnectPipeline_RetriesUntilCancelled_NotAfterAFixedCount()
    {
        var clock = new FakeTimeProvider();
        var probe = new Probe();
        var pipeline = IbReconnectPipeline.Create(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), clock, probe.OnRetry);
        using var stop = new CancellationTokenSource();
        var run = pipeline.ExecuteAsync(_ =>
        {
            probe.Attempted();
            throw new ClientIdInUseException(17, "client id is already in use");
        }, stop.Token).AsTask();

        await DriveUntilAsync(clock, probe, 200);
        run.IsCompleted.ShouldBeFalse();
        await stop.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(run);
        probe.Retries.Count.ShouldBeGreaterThanOrEqualTo(199);
        probe.Retries.ShouldAllBe(r => r.Failure is ClientIdInUseException);
    }

    [Fact]
    public async Task ReconnectPipeline_ConnectSucceedsAfterFailures_ReturnsItsResult()
    {
        var clock = new FakeTimeProvider();
        var probe = new Probe();
        var pipeline = IbReconnectPipeline.Create(Min, Max, clock, probe.OnRetry);
        var run = pipeline.ExecuteAsync(_ =>
        {
            probe.Attempted();
            return probe.Attempts < 3 ? throw Refused() : ValueTask.FromResult("connected");
        }, CancellationToken.None).AsTask();

        await DriveUntilAsync(clock, probe, 3);

        (await run.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBe("connected");
        probe.Retries.Select(r => r.Attempt).ShouldBe([1, 2]);
    }

    [Fact]
    public async Task ReconnectPipeline_OtherException_IsNotRetried()
    {
        var probe = new Probe();
        var pipeline = IbReconnectPipeline.Create(Min, Max, new FakeTimeProvider(), probe.OnRetry);

        await Should.ThrowAsync<InvalidOperationException>(pipeline.ExecuteAsync(_ =>
        {
            probe.Attempted();
            throw new InvalidOperationException("a bug, not a refused connect");
        }, CancellationToken.None).AsTask());

        probe.Attempts.ShouldBe(1);
        probe.Retries.ShouldBeEmpty();
    }

    [Fact]
    public void ReconnectPipeline_MinAboveMax_IsRefused() =>
        Should.Throw<ArgumentOutOfRangeException>(() => IbReconnectPipeline.Create(Max, Min, TimeProvider.System, (_, _, _) => { }))
            .Message.ShouldContain("min <= max");
}
