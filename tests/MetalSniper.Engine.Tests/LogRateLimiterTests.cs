using MetalSniper.Engine.Pipeline;
using Microsoft.Extensions.Time.Testing;

namespace MetalSniper.Engine.Tests;

public sealed class LogRateLimiterTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 7, 3, 0, 0, TimeSpan.Zero));

    [Fact]
    public void FirstLineOfAKind_IsWritten_RepeatsWithinTheWindow_AreHeldBackAndCounted()
    {
        var limiter = new LogRateLimiter(_clock, TimeSpan.FromMinutes(1));
        limiter.ShouldWrite("refused Entry (stale quote)", out var held).ShouldBeTrue();
        held.ShouldBe(0);
        for (var i = 0; i < 2144; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(10));
            limiter.ShouldWrite("refused Entry (stale quote)", out _).ShouldBeFalse();
        }

        limiter.HeldBackTotal.ShouldBe(2144);
        // Another kind is not held back by the first.
        limiter.ShouldWrite("refused Add (max notional)", out held).ShouldBeTrue();
        held.ShouldBe(0);

        _clock.Advance(TimeSpan.FromMinutes(1));
        limiter.ShouldWrite("refused Entry (stale quote)", out held).ShouldBeTrue();
        held.ShouldBe(2144, "the next written line carries the count held back since the last one");
        limiter.ShouldWrite("refused Entry (stale quote)", out _).ShouldBeFalse();
    }

    [Fact]
    public void Drain_ReportsABurstThatStopped_OnlyAfterItsWindow_AndOnce()
    {
        var limiter = new LogRateLimiter(_clock, TimeSpan.FromMinutes(1));
        limiter.ShouldWrite("a", out _).ShouldBeTrue();
        limiter.ShouldWrite("a", out _).ShouldBeFalse();
        limiter.ShouldWrite("a", out _).ShouldBeFalse();
        limiter.ShouldWrite("b", out _).ShouldBeTrue();
        limiter.Drain().ShouldBeEmpty("the window of 'a' has not ended: its next line may still carry the count");

        _clock.Advance(TimeSpan.FromSeconds(61));
        limiter.Drain().ShouldBe([("a", 2L)], "'b' had nothing held back");
        limiter.Drain().ShouldBeEmpty();
        limiter.ShouldWrite("a", out var held).ShouldBeTrue();
        held.ShouldBe(0, "the drained count is not reported twice");
    }
}
