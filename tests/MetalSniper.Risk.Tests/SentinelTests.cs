using System.Collections.Concurrent;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Sessions;
using MetalSniper.Core.Time;
using MetalSniper.Risk.Halts;
using MetalSniper.Risk.Sentinel;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Risk.Tests;

public sealed class SentinelTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 3, 15, 0, 0, TimeSpan.Zero); // 10:00 New York

    private sealed class RecordingOutbox : ISentinelOutbox
    {
        public ConcurrentQueue<(DecisionRecord Decision, SubmitOrder Order, int ThreadId, bool PoolThread)> Orders { get; } = new();

        public ConcurrentQueue<DecisionRecord> Records { get; } = new();

        public void Send(DecisionRecord decision, SubmitOrder order) =>
            Orders.Enqueue((decision, order, Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));

        public void HaltEntries(DecisionRecord decision) => Records.Enqueue(decision);
    }

    private static (RiskSentinel Sentinel, RecordingOutbox Outbox, KillSwitch Halts, ReplayTimeProvider Clock) Create(decimal limit, Func<SentinelSettings, SentinelSettings>? tune = null)
    {
        var clock = new ReplayTimeProvider(T0);
        var outbox = new RecordingOutbox();
        var halts = KillSwitch.Restore(new InMemoryHaltStore(), "test");
        var settings = new SentinelSettings(limit, Currency.Usd, TimeSpan.FromMilliseconds(250), "America/New_York", new TimeOnly(17, 0));
        var sentinel = new RiskSentinel(tune?.Invoke(settings) ?? settings, InstrumentCatalog.CreateDefault(), new FxConverter(new FxRateTable()), clock, TimeProvider.System, outbox, halts,
            TradingSessionCalendar.CreateDefault(), new IdGenerator("t"), NullLogger<RiskSentinel>.Instance);
        return (sentinel, outbox, halts, clock);
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = Environment.TickCount64 + 5000;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }

            Thread.Sleep(1);
        }
    }

    [Fact]
    public void Sentinel_DailyLossBreached_FlattensFromItsOwnThreadAndHaltsEntries()
    {
        var (sentinel, outbox, halts, clock) = Create(limit: 500m);
        using var _ = sentinel;
        sentinel.Start();
        sentinel.Thread!.IsThreadPoolThread.ShouldBeFalse();
        sentinel.Thread.Priority.ShouldBe(ThreadPriority.AboveNormal);

        sentinel.OnPrice("XAUUSD", 2000m, T0);
        sentinel.OnBook(new BookView([new PositionSnapshot("XAUUSD", Currency.Usd, 10m, 2000m, 0m, 0m, T0)], 1));
        WaitFor(() => sentinel.Sweeps > 0, "a first sweep");
        outbox.Orders.ShouldBeEmpty();

        clock.AdvanceTo(T0.AddMinutes(1));
        sentinel.OnPrice("XAUUSD", 1949m, T0.AddMinutes(1)); // −510 USD on 10 oz
        WaitFor(() => !outbox.Orders.IsEmpty, "the flatten order");

        var (decision, order, threadId, pool) = outbox.Orders.Single();
        pool.ShouldBeFalse();
        threadId.ShouldBe(sentinel.Thread.ManagedThreadId);
        order.Purpose.ShouldBe(OrderPurpose.RiskFlatten);
        order.Side.ShouldBe(OrderSide.Sell);
        order.Quantity.ShouldBe(10m);
        order.Type.ShouldBe(OrderType.Market);
        decision.Kind.ShouldBe("DailyLossFlatten");
        decision.Reason.ShouldContain("-510.00");
        order.DecisionId.ShouldBe(decision.DecisionId);
        halts.Level(clock.GetUtcNow()).ShouldBe(KillLevel.Flatten);
        halts.State.Pauses["daily-loss"].UntilUtc.ShouldBe(new DateTimeOffset(2026, 3, 3, 22, 0, 0, TimeSpan.Zero)); // 17:00 New York
        sentinel.DayPnl.ShouldBe(-510m);
        sentinel.Trips.ShouldHaveSingleItem().Kind.ShouldBe("DailyLossFlatten");

        // The same book version is not flattened twice.
        clock.AdvanceTo(T0.AddMinutes(2));
        sentinel.OnPrice("XAUUSD", 1940m, T0.AddMinutes(2));
        var sweeps = sentinel.Sweeps;
        WaitFor(() => sentinel.Sweeps > sweeps, "another sweep");
        outbox.Orders.Count.ShouldBe(1);
    }

    [Fact]
    public void Sentinel_SweepsOnTheClockWithoutAnyPrice()
    {
        var (sentinel, _, _, clock) = Create(limit: 500m);
        using var _ = sentinel;
        sentinel.Start();
        var before = sentinel.Sweeps;
        for (var i = 1; i <= 3; i++)
        {
            clock.AdvanceTo(T0.AddSeconds(i));
            WaitFor(() => sentinel.Sweeps >= before + i, $"sweep {i} driven by the clock");
        }
    }

    [Fact]
    public void Sentinel_PriceFromTheFutureOfItsClock_IsNotUsedUntilTheClockGetsThere()
    {
        var (sentinel, outbox, _, clock) = Create(limit: 500m);
        using var _ = sentinel;
        sentinel.Start();
        sentinel.OnPrice("XAUUSD", 2000m, T0);
        sentinel.OnPrice("XAUUSD", 1900m, T0.AddMinutes(15)); // read ahead, as replay ingest does
        sentinel.OnBook(new BookView([new PositionSnapshot("XAUUSD", Currency.Usd, 10m, 2000m, 0m, 0m, T0)], 1));
        WaitFor(() => sentinel.Sweeps > 0, "the sweep after the book arrived");
        var sweeps = sentinel.Sweeps;
        clock.AdvanceTo(T0.AddMinutes(1));
        WaitFor(() => sentinel.Sweeps > sweeps, "a sweep before the price's time");
        outbox.Orders.ShouldBeEmpty();
        clock.AdvanceTo(T0.AddMinutes(15));
        WaitFor(() => !outbox.Orders.IsEmpty, "the flatten once the price is current");
    }

    [Fact]
    public void Sentinel_HeldInstrumentWithoutPrice_HaltsEntriesInsteadOfAssumingZero()
    {
        var (sentinel, outbox, halts, clock) = Create(limit: 500m);
        using var _ = sentinel;
        sentinel.Start();
        sentinel.OnBook(new BookView([new PositionSnapshot("XAGUSD", Currency.Usd, 100m, 30m, 0m, 0m, T0)], 1));
        WaitFor(() => !outbox.Records.IsEmpty, "the unknown-P&L record");
        outbox.Records.First().Kind.ShouldBe("PnlUnknown");
        halts.Level(clock.GetUtcNow()).ShouldBe(KillLevel.NoEntries);
        sentinel.DayPnl.ShouldBeNull();
        outbox.Orders.ShouldBeEmpty();

        // Once the price is known the pause clears by itself.
        sentinel.OnPrice("XAGUSD", 30m, T0);
        sentinel.OnBook(new BookView([new PositionSnapshot("XAGUSD", Currency.Usd, 100m, 30m, 0m, 0m, T0)], 2));
        WaitFor(() => halts.Level(clock.GetUtcNow()) == KillLevel.Running, "the pause to clear");
    }

    [Fact]
    public void Sentinel_NonPositiveLimit_IsRefused() =>
        Should.Throw<ArgumentException>(() => Create(limit: 0m));
}
