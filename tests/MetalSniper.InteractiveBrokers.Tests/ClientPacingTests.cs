using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>The token-bucket pacer on a manual clock, and the writer's priority lane and rate cap on a real loopback socket.</summary>
public sealed class ClientPacingTests
{
    /// <summary>A clock that only moves when told to (the pacer reads timestamps only).</summary>
    private static FakeTimeProvider ManualClock() => new(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero));

    private static List<double> Saturate(TwsPacer pacer, FakeTimeProvider clock, TimeSpan duration, Func<int, bool?> whatToTry, List<double>? priorityTimes = null)
    {
        // Every 1 ms: whatToTry(step) says priority (true), normal (false) or nothing (null). Normal traffic sends as many messages as
        // the pacer allows; a priority step sends one message when priorityTimes is given (single risk messages), else as many as allowed.
        var sent = new List<double>();
        var step = TimeSpan.FromMilliseconds(1);
        for (var i = 0; i * step < duration; i++)
        {
            while (whatToTry(i) is { } priority && pacer.TryAcquire(priority, out _))
            {
                sent.Add(i * step.TotalSeconds);
                if (priority && priorityTimes is not null)
                {
                    priorityTimes.Add(i * step.TotalSeconds);
                    break;
                }
            }

            clock.Advance(step);
        }

        return sent;
    }

    private static int MaxInAnyWindow(List<double> times, double window)
    {
        var max = 0;
        var start = 0;
        for (var end = 0; end < times.Count; end++)
        {
            while (times[end] - times[start] >= window)
            {
                start++;
            }

            max = Math.Max(max, end - start + 1);
        }

        return max;
    }

    [Fact]
    public void Pacer_RateCapHolds_InEveryOneSecondWindow_WithBothLanesSaturated()
    {
        var clock = ManualClock();
        var pacer = new TwsPacer(45, 10, 0.1, clock);
        var sent = Saturate(pacer, clock, TimeSpan.FromSeconds(10), i => i % 2 == 0);

        MaxInAnyWindow(sent, 1.0).ShouldBeLessThanOrEqualTo(50);
        sent.Count.ShouldBeInRange(445, 455); // 45/s × 10 s + the initial burst (3.5 + 1 tokens)
    }

    [Fact]
    public void Pacer_NormalTraffic_NeverUsesTheReservedShare()
    {
        var clock = ManualClock();
        var pacer = new TwsPacer(45, 10, 0.1, clock);
        var sent = Saturate(pacer, clock, TimeSpan.FromSeconds(10), _ => false);

        sent.Count.ShouldBeInRange(349, 354); // 35/s × 10 s + 3.5 burst: the 10/s reserve stays untouched
        pacer.ReservedTokens.ShouldBe(1, 1e-9); // full
        MaxInAnyWindow(sent, 1.0).ShouldBeLessThanOrEqualTo(39);
    }

    [Fact]
    public void Pacer_PriorityGetsTheReservedRate_WhileNormalTrafficSaturatesItsShare()
    {
        var clock = ManualClock();
        var pacer = new TwsPacer(45, 10, 0.1, clock);
        var priorityTimes = new List<double>();
        // Normal traffic tries every millisecond; a priority message every 100 ms (10/s, the reserved rate).
        var sent = Saturate(pacer, clock, TimeSpan.FromSeconds(10), i => i % 100 == 50 ? true : false, priorityTimes);

        priorityTimes.Count.ShouldBe(100); // every single priority attempt got a token at once
        (sent.Count - priorityTimes.Count).ShouldBeInRange(349, 354); // normal keeps its full 35/s
        MaxInAnyWindow(sent, 1.0).ShouldBeLessThanOrEqualTo(50);
    }

    [Fact]
    public void Pacer_PriorityMayUseTheWholeRate_WhenItNeedsIt()
    {
        var clock = ManualClock();
        var pacer = new TwsPacer(45, 10, 0.1, clock);
        var sent = Saturate(pacer, clock, TimeSpan.FromSeconds(4), _ => true);
        sent.Count.ShouldBeInRange(180, 185); // 45/s: reserved + normal tokens
    }

    [Fact]
    public void Pacer_ReportsHowLongToWait()
    {
        var clock = ManualClock();
        var pacer = new TwsPacer(20, 5, 0, clock);
        pacer.TryAcquire(false, out _).ShouldBeTrue();
        pacer.TryAcquire(false, out var wait).ShouldBeFalse();
        wait.ShouldBe(TimeSpan.FromSeconds(1.0 / 15), TimeSpan.FromMilliseconds(0.01));
        pacer.TryAcquire(true, out _).ShouldBeTrue(); // the reserved token
        pacer.TryAcquire(true, out var priorityWait).ShouldBeFalse();
        priorityWait.ShouldBe(TimeSpan.FromSeconds(1.0 / 15), TimeSpan.FromMilliseconds(0.01)); // the sooner of the two buckets
        clock.Advance(wait);
        pacer.TryAcquire(false, out _).ShouldBeTrue();
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(45, 45)]
    [InlineData(45, -1)]
    [InlineData(double.NaN, 1)]
    public void Pacer_RejectsBadRates(double total, double reserved)
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new TwsPacer(total, reserved, 0.1, TimeProvider.System));
    }

    [Fact]
    public void Options_ValidateReportsEveryErrorAtOnce()
    {
        var ex = Should.Throw<ArgumentException>(() => new TwsClientOptions
        {
            MessagesPerSecond = 60, ReservedMessagesPerSecond = 70, HeartbeatInterval = TimeSpan.Zero, MaxSendQueueDepth = 0,
        }.Validate());
        ex.Message.ShouldContain("MessagesPerSecond must be in (0, 50], was 60");
        ex.Message.ShouldContain("ReservedMessagesPerSecond");
        ex.Message.ShouldContain("HeartbeatInterval");
        ex.Message.ShouldContain("MaxSendQueueDepth");
    }

    [Fact]
    public async Task Writer_PriorityMessage_OvertakesQueuedNormalMessages_OnTheWire()
    {
        var options = ClientTestHarness.FastOptions();
        options.MessagesPerSecond = 20;
        options.ReservedMessagesPerSecond = 5;
        options.HeartbeatInterval = TimeSpan.FromMinutes(1); // keep probes out of the request log
        await using var h = await ClientTestHarness.StartAsync(options: options);
        var before = h.Server.RequestCount;

        for (var i = 0; i < 30; i++)
        {
            h.Client.Send(TwsRequests.ReqCurrentTime());
        }

        h.Client.SendQueueDepth.ShouldBeGreaterThan(20);
        h.Client.Send(TwsRequests.CancelOrder(999_999), priority: true);

        var cancel = await h.Server.WaitForRequestAsync(4, ClientTestHarness.Wait);
        var normalBeforeCancel = h.Server.Requests.Skip(before).TakeWhile(r => r.MessageId != 4).Count();
        normalBeforeCancel.ShouldBeLessThanOrEqualTo(5); // only what the burst let through before the cancel was queued
        cancel.Fields.ShouldBe(["4", "1", "999999", ""]);
        (await h.WaitForAsync<ErrorEvent>(e => e.Id == 999_999)).Code.ShouldBe(TwsErrorCode.CancelTargetNotFound);
    }

    [Fact]
    public async Task Writer_RateCapHolds_OnALoopbackSocket_AndTheFakeSeesNoPacingViolation()
    {
        var options = ClientTestHarness.FastOptions();
        options.HeartbeatInterval = TimeSpan.FromMinutes(1);
        await using var h = await ClientTestHarness.StartAsync(new FakeTwsOptions { PacingLimitPerSecond = 50 }, options);
        var before = h.Server.RequestCount;
        const int n = 90;
        for (var i = 0; i < n; i++)
        {
            h.Client.Send(TwsRequests.ReqCurrentTime());
        }

        await h.WaitForCountAsync<CurrentTimeEvent>(n, timeout: TimeSpan.FromSeconds(10));
        var times = h.Server.Requests.Skip(before).Select(r => (r.ReceivedAt - DateTimeOffset.UnixEpoch).TotalSeconds).ToList();
        times.Count.ShouldBe(n);
        MaxInAnyWindow(times, 1.0).ShouldBeLessThanOrEqualTo(50);
        (times[^1] - times[0]).ShouldBeGreaterThan(1.5); // 90 messages at 35/s (normal share) need ~2.5 s
        h.All<ErrorEvent>(e => e.Code == TwsErrorCode.PacingViolation).ShouldBeEmpty();
        h.Client.MessagesSent.ShouldBeGreaterThanOrEqualTo(n + 1);
        h.Client.SendQueueDepth.ShouldBe(0);
    }
}
