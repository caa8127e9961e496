using MetalSniper.Core.Orders;

namespace MetalSniper.Core.Tests;

public sealed class BrokerMessageBudgetTests
{
    [Fact]
    public void Entries_CannotConsumeTheReservedShare_RiskMessagesStillGoOut()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 3, 15, 0, 0, TimeSpan.Zero));
        var budget = new BrokerMessageBudget(45, 10, clock);
        var sent = 0;
        while (budget.TryAcquire(risk: false, out _))
        {
            sent++;
        }

        sent.ShouldBe(35); // the general share only
        budget.TryAcquire(risk: false, out var wait).ShouldBeFalse();
        wait.ShouldBeGreaterThan(TimeSpan.Zero);
        wait.ShouldBeLessThanOrEqualTo(TimeSpan.FromSeconds(1.0 / 35));

        for (var i = 0; i < 10; i++)
        {
            budget.TryAcquire(risk: true, out _).ShouldBeTrue($"risk message {i + 1} of the reserved 10");
        }

        budget.ReservedUsed.ShouldBe(10);
        budget.TryAcquire(risk: true, out _).ShouldBeFalse();
    }

    [Fact]
    public void Budget_RefillsWithTime_UpToOneSecondOfRate()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 3, 15, 0, 0, TimeSpan.Zero));
        var budget = new BrokerMessageBudget(45, 10, clock);
        while (budget.TryAcquire(risk: false, out _))
        {
        }

        clock.Advance(TimeSpan.FromMilliseconds(100)); // 3.5 general tokens
        Enumerable.Range(0, 5).Count(_ => budget.TryAcquire(risk: false, out TimeSpan _)).ShouldBe(3);
        clock.Advance(TimeSpan.FromMinutes(5));
        Enumerable.Range(0, 100).Count(_ => budget.TryAcquire(risk: false, out TimeSpan _)).ShouldBe(35); // capped at one second's worth
    }

    [Fact]
    public void ReservedShare_MustBeBelowTheTotal() =>
        Should.Throw<ArgumentOutOfRangeException>(() => new BrokerMessageBudget(10, 10, TimeProvider.System));
}
