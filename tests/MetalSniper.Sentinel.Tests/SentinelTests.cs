using System.Collections.Concurrent;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Sessions;
using MetalSniper.Core.Time;
using MetalSniper.Sentinel.Breakers;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Sentinel.Tests;

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
        decision.Kind.ShouldBe(DecisionKind.DailyLossFlatten);
        decision.Reason.ShouldContain("-510.00");
        order.DecisionId.ShouldBe(decision.DecisionId);
        halts.Level(clock.GetUtcNow()).ShouldBe(KillLevel.Flatten);
        halts.State.Pauses["daily-loss"].UntilUtc.ShouldBe(new DateTimeOffset(2026, 3, 3, 22, 0, 0, TimeSpan.Zero)); // 17:00 New York
        sentinel.DayPnl.ShouldBe(-510m);
        sentinel.Trips.ShouldHaveSingleItem().Kind.ShouldBe(DecisionKind.DailyLossFlatten);

        // The same book version is not flattened twice.
        var sweeps = sentinel.Sweeps;
        clock.AdvanceTo(T0.AddMinutes(2));
        sentinel.OnPrice("XAUUSD", 1940m, T0.AddMinutes(2));
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
        outbox.Records.First().Kind.ShouldBe(DecisionKind.PnlUnknown);
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

public sealed class SentinelChecksTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 3, 15, 0, 0, TimeSpan.Zero); // Tuesday 10:00 New York

    private sealed class Outbox : ISentinelOutbox
    {
        public ConcurrentQueue<(DecisionRecord Decision, SubmitOrder Order)> Orders { get; } = new();

        public ConcurrentQueue<DecisionRecord> Records { get; } = new();

        public void Send(DecisionRecord decision, SubmitOrder order) => Orders.Enqueue((decision, order));

        public void HaltEntries(DecisionRecord decision) => Records.Enqueue(decision);
    }

    private sealed record Rig(RiskSentinel Sentinel, Outbox Outbox, KillSwitch Kill, ReplayTimeProvider Clock, InMemoryHaltStore Store) : IDisposable
    {
        public void Dispose() => Sentinel.Dispose();

        /// <summary>Replay-style: publish, then sweep inline on this thread (deterministic).</summary>
        public void Sweep(DateTimeOffset at, BookView? book = null, params (string Symbol, decimal Price)[] prices)
        {
            Clock.AdvanceTo(at);
            foreach (var (symbol, price) in prices)
            {
                Sentinel.OnPrice(symbol, price, at);
            }

            if (book is not null)
            {
                Sentinel.OnBook(book);
            }

            Sentinel.SweepInline();
        }
    }

    private static Rig Create(Func<SentinelSettings, SentinelSettings> tune)
    {
        var clock = new ReplayTimeProvider(T0);
        var store = new InMemoryHaltStore();
        var kill = KillSwitch.Restore(store, "test");
        var outbox = new Outbox();
        var settings = tune(new SentinelSettings(100_000m, Currency.Usd, TimeSpan.FromMilliseconds(50), "America/New_York", new TimeOnly(17, 0)));
        var sentinel = new RiskSentinel(settings, InstrumentCatalog.CreateDefault(), new FxConverter(new FxRateTable()), clock, TimeProvider.System, outbox, kill,
            TradingSessionCalendar.CreateDefault(), new IdGenerator("t"), NullLogger<RiskSentinel>.Instance);
        return new Rig(sentinel, outbox, kill, clock, store);
    }

    /// <summary>What a quiet sweep (nothing trips) may allocate on average, in bytes.</summary>
    private const long BytesPerQuietSweep = 192; // measured 128 (1,064 before the sweep stopped allocating its closures, enumerators and scratch)

    private static BookView Long(decimal qty, decimal avg, long version, string symbol = "XAUUSD") =>
        new([new PositionSnapshot(symbol, Currency.Usd, qty, avg, 0m, 0m, T0)], version);

    [Fact]
    public void RapidLoss_WithinTheWindow_CutsEverythingAndPausesAtL2()
    {
        using var rig = Create(s => s with { RapidLossAmount = 300m, RapidLossWindow = TimeSpan.FromMinutes(15), RapidLossPause = TimeSpan.FromHours(1) });
        rig.Sweep(T0, Long(10m, 2000m, 1), ("XAUUSD", 2010m)); // +100
        rig.Sweep(T0.AddMinutes(5), null, ("XAUUSD", 1995m)); // −50: a drop of 150
        rig.Outbox.Orders.ShouldBeEmpty();
        rig.Sweep(T0.AddMinutes(10), null, ("XAUUSD", 1979m)); // −210: a drop of 310 from the peak within 10 minutes
        var (decision, order) = rig.Outbox.Orders.ShouldHaveSingleItem();
        decision.Kind.ShouldBe(DecisionKind.RapidLossCut);
        decision.Reason.ShouldContain("peak 100.00 − equity -210.00 = 310.00");
        order.Purpose.ShouldBe(OrderPurpose.RiskFlatten);
        rig.Kill.Level(T0.AddMinutes(10)).ShouldBe(KillLevel.Flatten);
        rig.Kill.Level(T0.AddMinutes(70)).ShouldBe(KillLevel.Running);
    }

    [Fact]
    public void SweepInline_OnTheCallersThread_TripsAsItsOwnThreadWould_AndIsRefusedOnceThatThreadRuns()
    {
        // The replay scheduler sweeps on its own thread, bar by bar: the same rapid-loss cut as the threaded sweep above.
        using var rig = Create(s => s with { RapidLossAmount = 300m, RapidLossWindow = TimeSpan.FromMinutes(15), RapidLossPause = TimeSpan.FromHours(1) });
        var caller = Environment.CurrentManagedThreadId;
        void Inline(DateTimeOffset at, BookView? book, decimal price)
        {
            rig.Clock.AdvanceTo(at);
            rig.Sentinel.OnPrice("XAUUSD", price, at);
            if (book is not null)
            {
                rig.Sentinel.OnBook(book);
            }

            rig.Sentinel.SweepInline();
        }

        Inline(T0, Long(10m, 2000m, 1), 2010m);
        Inline(T0.AddMinutes(5), null, 1995m);
        rig.Outbox.Orders.ShouldBeEmpty();
        Inline(T0.AddMinutes(10), null, 1979m);
        var (decision, order) = rig.Outbox.Orders.ShouldHaveSingleItem();
        decision.Kind.ShouldBe(DecisionKind.RapidLossCut);
        decision.Reason.ShouldContain("peak 100.00 − equity -210.00 = 310.00");
        order.Purpose.ShouldBe(OrderPurpose.RiskFlatten);
        rig.Kill.Level(T0.AddMinutes(10)).ShouldBe(KillLevel.Flatten);
        rig.Sentinel.Sweeps.ShouldBe(3);
        rig.Sentinel.Thread.ShouldBeNull();
        Environment.CurrentManagedThreadId.ShouldBe(caller);

        // Once the sentinel has a thread of its own, sweeps are its alone.
        rig.Sentinel.Start();
        Should.Throw<InvalidOperationException>(() => rig.Sentinel.SweepInline()).Message.ShouldContain("own thread");
    }

    [Fact]
    public void RapidLoss_SpreadOverMoreThanTheWindow_DoesNotCut()
    {
        using var rig = Create(s => s with { RapidLossAmount = 300m, RapidLossWindow = TimeSpan.FromMinutes(15) });
        rig.Sweep(T0, Long(10m, 2000m, 1), ("XAUUSD", 2010m));
        rig.Sweep(T0.AddMinutes(20), null, ("XAUUSD", 1995m));
        rig.Sweep(T0.AddMinutes(40), null, ("XAUUSD", 1980m));
        rig.Sweep(T0.AddMinutes(60), null, ("XAUUSD", 1965m)); // 450 in an hour, never 300 within 15 minutes
        rig.Outbox.Orders.ShouldBeEmpty();
    }

    [Fact]
    public void WatchdogTrail_RetreatFromTheBestPriceSinceEntry_FlattensThatPositionOnly()
    {
        using var rig = Create(s => s with { WatchdogTrailFraction = 0.02m });
        var book = new BookView([new PositionSnapshot("XAUUSD", Currency.Usd, 10m, 2000m, 0m, 0m, T0), new PositionSnapshot("XAGUSD", Currency.Usd, -100m, 30m, 0m, 0m, T0)], 1);
        rig.Sweep(T0, book, ("XAUUSD", 2000m), ("XAGUSD", 30m));
        rig.Sweep(T0.AddMinutes(15), null, ("XAUUSD", 2100m), ("XAGUSD", 29.9m)); // new best 2100
        rig.Sweep(T0.AddMinutes(30), null, ("XAUUSD", 2060m), ("XAGUSD", 30.2m)); // 1.9 % off the best: holds
        rig.Outbox.Orders.ShouldBeEmpty();
        rig.Sweep(T0.AddMinutes(45), null, ("XAUUSD", 2057m), ("XAGUSD", 30.2m)); // 2.05 % off the best
        var (decision, order) = rig.Outbox.Orders.ShouldHaveSingleItem();
        order.Symbol.ShouldBe("XAUUSD");
        decision.Kind.ShouldBe(DecisionKind.WatchdogTrail);
        decision.Reason.ShouldContain("best 2100");
        rig.Kill.Level(T0.AddMinutes(45)).ShouldBe(KillLevel.Running); // a backstop exit, not a halt
    }

    [Fact]
    public void StaleData_OnAHeldInstrumentWhileItsMarketIsOpen_PausesL1UntilFreshData()
    {
        using var rig = Create(s => s with { StaleDataAfter = TimeSpan.FromMinutes(45) });
        rig.Sweep(T0, Long(10m, 2000m, 1), ("XAUUSD", 2000m));
        rig.Sweep(T0.AddMinutes(30), null, ("XAGUSD", 30m));
        rig.Kill.Level(T0.AddMinutes(30)).ShouldBe(KillLevel.Running);
        rig.Sweep(T0.AddMinutes(50), null, ("XAGUSD", 30m));
        rig.Kill.Level(T0.AddMinutes(50)).ShouldBe(KillLevel.NoEntries);
        rig.Outbox.Records.ShouldContain(r => r.Kind == DecisionKind.StaleData);
        rig.Sweep(T0.AddMinutes(55), null, ("XAUUSD", 2001m));
        rig.Kill.Level(T0.AddMinutes(55)).ShouldBe(KillLevel.Running);
        rig.Store.Records.Select(r => r.Draft.Action).ShouldBe([HaltAction.Pause, HaltAction.Clear]);
    }

    [Fact]
    public void StaleData_AcrossTheDailySessionBreak_IsNotStale()
    {
        using var rig = Create(s => s with { StaleDataAfter = TimeSpan.FromMinutes(45) });
        var close = new DateTimeOffset(2026, 3, 3, 22, 0, 0, TimeSpan.Zero); // 17:00 New York: the metals' daily break
        rig.Sweep(close, Long(10m, 2000m, 1), ("XAUUSD", 2000m));
        rig.Sweep(close.AddMinutes(60), null, ("XAGUSD", 30m)); // 18:00 New York: open again, 60 minutes after the last price but 0 of them open
        rig.Kill.Level(close.AddMinutes(60)).ShouldBe(KillLevel.Running);
    }

    [Fact]
    public void MissedHeartbeat_LatchesTheKillSwitch_WhileTheServiceIsExpectedToBeat()
    {
        long brain = 0;
        var running = true;
        using var rig = Create(s => s with { HeartbeatTimeout = TimeSpan.FromMilliseconds(500) });
        rig.Sentinel.Watch(new HeartbeatWatch("brain", () => Interlocked.Read(ref brain), () => Volatile.Read(ref running), KillLevel.NoEntries));
        rig.Sentinel.Start();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 1000)
        {
            Interlocked.Increment(ref brain);
            Thread.Sleep(20);
        }

        rig.Kill.State.LatchedLevel.ShouldBe(KillLevel.Running);
        var deadline = Environment.TickCount64 + 5000;
        while (rig.Kill.State.LatchedLevel == KillLevel.Running && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(20);
        }

        rig.Kill.State.LatchedLevel.ShouldBe(KillLevel.NoEntries);
        rig.Kill.State.LatchedReason.ShouldContain("missed heartbeat: brain");
        rig.Outbox.Records.ShouldContain(r => r.KindLabel == "MissedHeartbeat:brain");
    }

    [Fact]
    public void KillSwitchAtL2_FlattensWhateverIsOpen()
    {
        using var rig = Create(s => s);
        rig.Sweep(T0, Long(10m, 2000m, 1), ("XAUUSD", 2000m));
        rig.Outbox.Orders.ShouldBeEmpty();
        rig.Kill.Escalate(KillLevel.Flatten, "operator:test", "stop everything", T0);
        rig.Sweep(T0.AddMinutes(1), null, ("XAUUSD", 2001m));
        var (decision, order) = rig.Outbox.Orders.ShouldHaveSingleItem();
        decision.Kind.ShouldBe(DecisionKind.KillSwitchFlatten);
        order.Side.ShouldBe(OrderSide.Sell);

        // While the flatten works at the broker the sentinel does not send another.
        rig.Sweep(T0.AddMinutes(2), Long(10m, 2000m, 2) with { WorkingFlattens = new HashSet<string> { "XAUUSD" } }, ("XAUUSD", 2002m));
        rig.Outbox.Orders.Count.ShouldBe(1);
    }

    /// <summary>Counts log lines by event id (the sentinel's structured messages).</summary>
    private sealed class CountingLogger : Microsoft.Extensions.Logging.ILogger<RiskSentinel>
    {
        public ConcurrentQueue<(int EventId, string Text)> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue((eventId.Id, formatter(state, exception)));
    }

    [Fact]
    public void RefusedL2Flatten_ForAMinute_IsRetriedWithADoublingBackoff_NotOncePerSweep()
    {
        // The gates refuse every flatten (as at L2 with the link down): each refusal publishes a new book version, the
        // position stays. A minute of 50 ms sweeps used to be 1,200 flattens (each an order row, a gate denial and journal
        // entries); with the back-off it is one per doubling step: 0, 50, 150, 350, 750 ms, … 51.15 s — 11 attempts.
        var logger = new CountingLogger();
        var clock = new ReplayTimeProvider(T0);
        var kill = KillSwitch.Restore(new InMemoryHaltStore(), "test");
        var outbox = new Outbox();
        var settings = new SentinelSettings(100_000m, Currency.Usd, TimeSpan.FromMilliseconds(50), "America/New_York", new TimeOnly(17, 0)) { FlattenRetryMaxDelay = TimeSpan.FromSeconds(60) };
        using var sentinel = new RiskSentinel(settings, InstrumentCatalog.CreateDefault(), new FxConverter(new FxRateTable()), clock, TimeProvider.System, outbox, kill,
            TradingSessionCalendar.CreateDefault(), new IdGenerator("t"), logger);
        kill.Escalate(KillLevel.Flatten, "operator:test", "stop everything", T0);

        var version = 1L;
        var sent = new List<DateTimeOffset>();
        for (var at = T0; at < T0.AddMinutes(1); at = at.AddMilliseconds(50))
        {
            clock.AdvanceTo(at);
            sentinel.OnPrice("XAUUSD", 2000m, at);
            var before = outbox.Orders.Count;
            // The refused flatten comes back as a new book version with the position unchanged (ExecutionService.PublishBook).
            sentinel.OnBook(Long(10m, 2000m, ++version));
            sentinel.SweepInline();
            if (outbox.Orders.Count > before)
            {
                sent.Add(at);
            }
        }

        var gaps = sent.Zip(sent.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();
        sent.Count.ShouldBe(11, $"flattens at {string.Join(", ", sent.Select(t => (t - T0).TotalMilliseconds))} ms");
        gaps.ShouldBe([50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600]);
        outbox.Orders.Select(o => o.Decision.Inputs["attempt"]).ShouldBe(Enumerable.Range(1, 11).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        // One log line per attempt (the first says why, each retry counts the unsuccessful ones), never one per sweep.
        var flattenLines = logger.Lines.Where(l => l.EventId is 3001 or 3009).ToList();
        flattenLines.Count.ShouldBe(11);
        flattenLines[^1].Text.ShouldContain("attempt 11: 10 earlier attempt(s) left the position unchanged");

        // The cap: further attempts at most once a minute.
        for (var at = T0.AddMinutes(1); at < T0.AddMinutes(5); at = at.AddMilliseconds(500))
        {
            clock.AdvanceTo(at);
            sentinel.OnBook(Long(10m, 2000m, ++version));
            sentinel.SweepInline();
        }

        outbox.Orders.Count.ShouldBeInRange(14, 15);

        // A position that changed (a partial fill) is flattened at once, with a fresh back-off.
        var count = outbox.Orders.Count;
        clock.AdvanceTo(T0.AddMinutes(5).AddMilliseconds(10));
        sentinel.OnBook(Long(4m, 2000m, ++version));
        sentinel.SweepInline();
        outbox.Orders.Count.ShouldBe(count + 1);
        outbox.Orders.Last().Order.Quantity.ShouldBe(4m);
        outbox.Orders.Last().Decision.Inputs["attempt"].ShouldBe("1");
    }

    [Fact]
    public void BreakerTrip_SetsItsPause_RecordsTheFormula_AndFlattensAtL2()
    {
        var breakers = new CircuitBreakerSettings(MaxDrawdown: 500m, DrawdownLevel: KillLevel.Flatten, MaxConsecutiveLosses: 3, SharpeFloor: -10m, SharpeWindow: 10, SharpeMinTrades: 10,
            MaxLegImbalance: 1_000_000m, Pairs: [], MaxFxRateAge: TimeSpan.FromHours(1), ConfirmObservations: 2, ResetWindow: TimeSpan.FromHours(2), MaxTripsPer24h: 3, DefaultLevel: KillLevel.NoEntries, BaseCurrency: Currency.Usd);
        using var rig = Create(s => s with { Breakers = breakers });
        rig.Sweep(T0, Long(10m, 2000m, 1), ("XAUUSD", 2030m)); // peak +300
        rig.Sweep(T0.AddMinutes(15), null, ("XAUUSD", 1979m)); // −210: drawdown 510, first breach
        rig.Outbox.Orders.ShouldBeEmpty(); // one observation is not enough
        rig.Sweep(T0.AddMinutes(30), null, ("XAUUSD", 1978m)); // confirmed
        var (decision, _) = rig.Outbox.Orders.ShouldHaveSingleItem();
        decision.Kind.ShouldBe(DecisionKind.BreakerFlatten);
        var trip = rig.Outbox.Records.Single(r => r.KindLabel == "Breaker:drawdown");
        trip.Reason.ShouldContain("drawdown = peak 300.00");
        trip.Inputs["level"].ShouldBe("L2");
        rig.Kill.State.Pauses["breaker:drawdown"].UntilUtc.ShouldBe(T0.AddMinutes(150));
    }

    [Fact]
    public void UnknownPnl_DoesNotStopTheL2Flatten()
    {
        using var rig = Create(s => s);
        rig.Kill.Escalate(KillLevel.Flatten, "operator:test", "stop everything", T0);
        rig.Sweep(T0, new BookView([new PositionSnapshot("XAGUSD", Currency.Usd, 100m, 30m, 0m, 0m, T0)], 1)); // no XAGUSD price: P&L unknown
        rig.Sentinel.DayPnl.ShouldBeNull();
        var (decision, order) = rig.Outbox.Orders.ShouldHaveSingleItem();
        decision.Kind.ShouldBe(DecisionKind.KillSwitchFlatten);
        order.Symbol.ShouldBe("XAGUSD");
        order.Side.ShouldBe(OrderSide.Sell);
    }

    [Fact]
    public void StaleDataPause_ForAnInstrumentNoLongerHeld_IsCleared()
    {
        using var rig = Create(s => s with { StaleDataAfter = TimeSpan.FromMinutes(45) });
        rig.Kill.Pause("stale-data:XAUUSD", KillLevel.NoEntries, null, "sentinel", "left over from before a restart", T0);
        rig.Sweep(T0.AddMinutes(1), new BookView([], 1));
        rig.Kill.Level(T0.AddMinutes(1)).ShouldBe(KillLevel.Running);
        rig.Store.Records.Select(r => r.Draft.Action).ShouldBe([HaltAction.Pause, HaltAction.Clear]);
    }

    // RDSA.L daily bars (LSE 08:00–16:30 London; GMT in early March 2026): a bar closing Monday 2026-03-02 16:30 UTC.
    private static readonly DateTimeOffset MondayClose = new(2026, 3, 2, 16, 30, 0, TimeSpan.Zero);
    private static readonly TimeSpan LseSession = TimeSpan.FromHours(8.5);

    private static Rig HeldDailyStock(TimeSpan barInterval)
    {
        var rig = Create(s => s with { StaleDataAfter = TimeSpan.FromMinutes(45), BaseCurrency = Currency.Gbp });
        rig.Clock.AdvanceTo(MondayClose);
        rig.Sentinel.OnPrice("RDSA.L", 23.29m, MondayClose, barInterval);
        rig.Sentinel.OnBook(new BookView([new PositionSnapshot("RDSA.L", Currency.Gbp, 100m, 23m, 0m, 0m, MondayClose)], 1));
        rig.Sentinel.SweepInline();
        return rig;
    }

    private static bool Stale(Rig rig, string symbol = "RDSA.L") => rig.Kill.State.Pauses.ContainsKey("stale-data:" + symbol);

    [Fact]
    public void StaleData_HeldStockWithDailyBars_IsNotStaleBetweenTwoCloses()
    {
        using var rig = HeldDailyStock(LseSession);

        rig.Sweep(MondayClose.AddHours(19.5)); // Tuesday 12:00: four hours of open market without a price
        Stale(rig).ShouldBeFalse();
        rig.Sweep(MondayClose.AddDays(1).AddMinutes(-1)); // Tuesday 16:29, a minute before the next bar
        Stale(rig).ShouldBeFalse();
        rig.Clock.AdvanceTo(MondayClose.AddDays(1));
        rig.Sentinel.OnPrice("RDSA.L", 23.40m, MondayClose.AddDays(1), LseSession); // Tuesday's bar at its close
        rig.Sentinel.SweepInline();
        rig.Sweep(MondayClose.AddDays(1).AddHours(19.5)); // Wednesday 12:00
        Stale(rig).ShouldBeFalse();
        rig.Sentinel.Trips.ShouldBeEmpty();
    }

    [Fact]
    public void StaleData_HeldStockPricedWithoutABarLength_KeepsTheOldLimit_StaleOnTheNextMorning()
    {
        using var rig = HeldDailyStock(TimeSpan.Zero); // a tick or quote: StaleDataAfter alone, as before

        rig.Sweep(MondayClose.AddHours(19.5)); // Tuesday 12:00: 4 h of open market > 45 min
        Stale(rig).ShouldBeTrue();
    }

    [Fact]
    public void StaleData_HeldStockWithDailyBars_TwoClosesWithoutABar_StaleFromTheNextOpen()
    {
        using var rig = HeldDailyStock(LseSession); // limit max(45 min, 2 × 8 h 30) = 17 h of open market

        rig.Sweep(MondayClose.AddDays(2).AddMinutes(-1)); // Wednesday 16:29: Tuesday's bar missing, 16 h 59 of open market
        Stale(rig).ShouldBeFalse();
        rig.Sweep(MondayClose.AddDays(2).AddHours(15.5).AddMinutes(2)); // Thursday 08:02: Tuesday's and Wednesday's sessions passed without a bar
        Stale(rig).ShouldBeTrue();
        rig.Kill.Level(rig.Clock.GetUtcNow()).ShouldBe(KillLevel.NoEntries);
        rig.Outbox.Records.ShouldContain(r => r.Kind == DecisionKind.StaleData && r.Reason.Contains("17:00:00", StringComparison.Ordinal));

        rig.Clock.AdvanceTo(MondayClose.AddDays(3)); // Thursday's bar arrives: fresh again
        rig.Sentinel.OnPrice("RDSA.L", 23.10m, MondayClose.AddDays(3), LseSession);
        rig.Sentinel.SweepInline();
        Stale(rig).ShouldBeFalse();
    }

    [Fact]
    public void StaleData_FifteenMinuteMetalBars_KeepTheFortyFiveMinuteLimit()
    {
        using var rig = Create(s => s with { StaleDataAfter = TimeSpan.FromMinutes(45) });
        rig.Sentinel.OnPrice("XAUUSD", 2000m, T0, TimeSpan.FromMinutes(15));
        rig.Sweep(T0, Long(10m, 2000m, 1));
        rig.Sweep(T0.AddMinutes(45));
        Stale(rig, "XAUUSD").ShouldBeFalse();
        rig.Sweep(T0.AddMinutes(46));
        Stale(rig, "XAUUSD").ShouldBeTrue();
    }

    [Fact]
    public void StaleData_HourlyMetalBars_AllowTwoBars()
    {
        using var rig = Create(s => s with { StaleDataAfter = TimeSpan.FromMinutes(45) });
        rig.Sentinel.OnPrice("XAUUSD", 2000m, T0, TimeSpan.FromHours(1));
        rig.Sweep(T0, Long(10m, 2000m, 1));
        rig.Sweep(T0.AddMinutes(120));
        Stale(rig, "XAUUSD").ShouldBeFalse();
        rig.Sweep(T0.AddMinutes(122));
        Stale(rig, "XAUUSD").ShouldBeTrue();
    }

    [Fact]
    public void SweepInline_AQuietSweepWithEveryCheckOn_AllocatesAlmostNothing()
    {
        // The replay sweeps every bar while a position is open (PERFORMANCE.md #7: ≤ 256 B allocated per bar on the whole hot
        // path). A sweep that trips nothing reuses its scratch: no observation collections, no enumerators, no new snapshot
        // when the day's P&L did not move.
        using var rig = Create(s => s with
        {
            RapidLossAmount = 5_000m,
            WatchdogTrailFraction = 0.5m,
            StaleDataAfter = TimeSpan.FromMinutes(45),
            Breakers = new CircuitBreakerSettings(1_000_000m, KillLevel.Flatten, 3, -100m, 10, 10, 10_000_000m, [("XAUUSD", "XAGUSD")],
                TimeSpan.FromDays(3650), 3, TimeSpan.FromMinutes(30), 3, KillLevel.NoEntries, Currency.Usd),
        });
        BookView book = new(
            [new PositionSnapshot("XAUUSD", Currency.Usd, 10m, 2000m, 0m, 0m, T0), new PositionSnapshot("XAGUSD", Currency.Usd, -500m, 25m, 0m, 0m, T0)], 1);
        rig.Sentinel.OnBook(book);
        const int sweeps = 2_000;
        long allocated = 0;
        for (var i = 0; i < 2 * sweeps; i++)
        {
            var at = T0.AddMinutes(i);
            rig.Clock.AdvanceTo(at);
            rig.Sentinel.OnPrice("XAUUSD", 2000m + (i % 5), at);
            rig.Sentinel.OnPrice("XAGUSD", 25m + (i % 3 / 100m), at);
            var before = GC.GetAllocatedBytesForCurrentThread();
            rig.Sentinel.SweepInline();
            if (i >= sweeps)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - before; // the first half warms up (and crosses a trading day)
            }
        }

        rig.Outbox.Orders.ShouldBeEmpty("nothing trips: the figure is the quiet sweep's");
        rig.Sentinel.Trips.ShouldBeEmpty();
        (allocated / sweeps).ShouldBeLessThanOrEqualTo(BytesPerQuietSweep, $"{allocated / sweeps} B per sweep");
    }
}
