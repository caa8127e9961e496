using System.Collections.Concurrent;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Sessions;
using MetalSniper.Core.Time;
using MetalSniper.Sentinel.Halts;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Sentinel.Tests;

/// <summary>Issue 18 item 9: the configured exit rules — maximum holding time and end of session — as recorded sentinel flattens.</summary>
public sealed class SentinelExitRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 3, 15, 0, 0, TimeSpan.Zero); // Tuesday 10:00 New York

    private sealed class Outbox : ISentinelOutbox
    {
        public ConcurrentQueue<(DecisionRecord Decision, SubmitOrder Order)> Orders { get; } = new();

        public void Send(DecisionRecord decision, SubmitOrder order) => Orders.Enqueue((decision, order));

        public void HaltEntries(DecisionRecord decision)
        {
        }
    }

    private static (RiskSentinel Sentinel, Outbox Outbox, ReplayTimeProvider Clock) Create(Func<SentinelSettings, SentinelSettings> tune)
    {
        var clock = new ReplayTimeProvider(T0);
        var outbox = new Outbox();
        var settings = tune(new SentinelSettings(100_000m, Currency.Usd, TimeSpan.FromMilliseconds(50), "America/New_York", new TimeOnly(17, 0)));
        var sentinel = new RiskSentinel(settings, InstrumentCatalog.CreateDefault(), new FxConverter(new FxRateTable()), clock, TimeProvider.System, outbox,
            KillSwitch.Restore(new InMemoryHaltStore(), "test"), TradingSessionCalendar.CreateDefault(), new IdGenerator("t"), NullLogger<RiskSentinel>.Instance);
        return (sentinel, outbox, clock);
    }

    private static void Sweep(RiskSentinel sentinel, ReplayTimeProvider clock, DateTimeOffset at, BookView? book = null)
    {
        clock.AdvanceTo(at);
        sentinel.OnPrice("XAUUSD", 2000m, at);
        if (book is not null)
        {
            sentinel.OnBook(book);
        }

        sentinel.SweepInline();
    }

    private static BookView Long(decimal qty, DateTimeOffset opened, long version) =>
        new([new PositionSnapshot("XAUUSD", Currency.Usd, qty, 2000m, 0m, 0m, opened)], version);

    [Fact]
    public void MaxHoldingTime_FlattensThePositionOnceItIsHeldThatLong_ARecordedDecisionWithItsTimes()
    {
        var (sentinel, outbox, clock) = Create(s => s with { MaxHoldingTime = TimeSpan.FromHours(4) });
        using var _ = sentinel;
        Sweep(sentinel, clock, T0, Long(10m, T0, 1));
        Sweep(sentinel, clock, T0.AddHours(3).AddMinutes(59));
        outbox.Orders.ShouldBeEmpty();

        Sweep(sentinel, clock, T0.AddHours(4));
        var (decision, order) = outbox.Orders.ShouldHaveSingleItem();
        decision.Kind.ShouldBe(DecisionKind.MaxHoldingTime);
        decision.Source.ShouldBe("sentinel");
        decision.Reason.ShouldContain("maximum holding time: XAUUSD 10 held since 2026-03-03 15:00:00Z");
        decision.Inputs["maxHoldingTime"].ShouldBe("04:00:00");
        (order.Purpose, order.Side, order.Quantity, order.Type).ShouldBe((OrderPurpose.RiskFlatten, OrderSide.Sell, 10m, OrderType.Market));

        Sweep(sentinel, clock, T0.AddHours(4).AddMinutes(1)); // the flatten is on its way (same book): not sent twice
        outbox.Orders.Count.ShouldBe(1);
    }

    [Fact]
    public void FlattenBeforeSessionClose_FlattensOnlyOnceTheVenuesSessionEndsWithinTheWindow()
    {
        var calendar = TradingSessionCalendar.CreateDefault();
        var end = calendar.SessionEnd(Venues.Metals, T0)!.Value; // the metals' daily break
        var (sentinel, outbox, clock) = Create(s => s with { FlattenBeforeSessionClose = TimeSpan.FromMinutes(30) });
        using var _ = sentinel;
        Sweep(sentinel, clock, end.AddMinutes(-31), Long(-5m, T0, 1));
        outbox.Orders.ShouldBeEmpty();

        Sweep(sentinel, clock, end.AddMinutes(-30));
        var (decision, order) = outbox.Orders.ShouldHaveSingleItem();
        decision.Kind.ShouldBe(DecisionKind.SessionCloseFlatten);
        decision.Inputs["sessionEndUtc"].ShouldBe(end.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        decision.Reason.ShouldContain("end of session: XAUUSD -5");
        (order.Side, order.Quantity).ShouldBe((OrderSide.Buy, 5m));
    }

    [Fact]
    public void ExitRulesOff_NeverFlatten_HoweverLongOrCloseToTheEnd()
    {
        var (sentinel, outbox, clock) = Create(s => s);
        using var _ = sentinel;
        var end = TradingSessionCalendar.CreateDefault().SessionEnd(Venues.Metals, T0)!.Value;
        Sweep(sentinel, clock, T0, Long(10m, T0.AddDays(-30), 1));
        Sweep(sentinel, clock, end.AddMinutes(-1));
        outbox.Orders.ShouldBeEmpty();
    }
}
