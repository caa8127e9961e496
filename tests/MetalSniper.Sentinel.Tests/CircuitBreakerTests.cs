using System.Globalization;
using MetalSniper.Core.Money;
using MetalSniper.Sentinel.Breakers;
using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Sentinel.Tests;

public sealed class CircuitBreakerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 3, 15, 0, 0, TimeSpan.Zero); // 10:00 New York; the trading day ends 22:00 UTC
    private static readonly DateTimeOffset NextDayStart = new(2026, 3, 3, 22, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Reset = TimeSpan.FromMinutes(30);

    private static CircuitBreakerSettings Settings(int confirm = 3) => new(
        MaxDrawdown: 1_500m,
        DrawdownLevel: KillLevel.Flatten,
        MaxConsecutiveLosses: 3,
        SharpeFloor: 0.5m,
        SharpeWindow: 10,
        SharpeMinTrades: 10,
        MaxLegImbalance: 50_000m,
        Pairs: [("XAUUSD", "XAGUSD")],
        MaxFxRateAge: TimeSpan.FromMinutes(5),
        ConfirmObservations: confirm,
        ResetWindow: Reset,
        MaxTripsPer24h: 3,
        DefaultLevel: KillLevel.NoEntries,
        BaseCurrency: Currency.Usd);

    /// <summary>17:00 New York (22:00 UTC in March before DST): the next trading-day start after <paramref name="t"/>.</summary>
    private static DateTimeOffset NextTradingDayStart(DateTimeOffset t)
    {
        var start = new DateTimeOffset(t.UtcDateTime.Date.AddHours(22), TimeSpan.Zero);
        return start > t ? start : start.AddDays(1);
    }

    private static CircuitBreakers Create(CircuitBreakerSettings settings) => new(settings, NextTradingDayStart);

    private static BreakerObservation Obs(DateTimeOffset t, decimal equity = 0m, decimal[]? trades = null,
        Dictionary<string, decimal>? notionals = null, FxRateInUse[]? fx = null) =>
        new(t, equity, trades ?? [], notionals ?? [], fx ?? []);

    private static BreakerObservation StaleFx(DateTimeOffset t) => Obs(t, fx: [new FxRateInUse("ZARUSD", null)]);

    [Fact]
    public void Drawdown_IsMeasuredFromTheRunningPeakOfEquityIncludingOpenPnl_NotFromTheStart()
    {
        var breakers = Create(Settings(confirm: 3));
        breakers.Observe(Obs(T0, equity: 0m)).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddMinutes(1), equity: 1_250m)).ShouldBeEmpty(); // the peak is made by open P&L
        breakers.Observe(Obs(T0.AddMinutes(2), equity: -310m)).ShouldBeEmpty(); // only 310 below the start, 1,560 below the peak
        breakers.Observe(Obs(T0.AddMinutes(3), equity: -310m)).ShouldBeEmpty();
        var trip = breakers.Observe(Obs(T0.AddMinutes(4), equity: -310m)).ShouldHaveSingleItem();

        trip.Breaker.ShouldBe(BreakerName.Drawdown);
        trip.Level.ShouldBe(KillLevel.Flatten);
        trip.AtUtc.ShouldBe(T0.AddMinutes(4));
        trip.PausedUntilUtc.ShouldBe(T0.AddMinutes(4) + Reset);
        trip.PausedForDay.ShouldBeFalse();
        trip.Formula.ShouldBe("drawdown = peak 1,250.00 − equity -310.00 = 1,560.00 USD ≥ 1,500.00 (confirmed over 3 observations)");
        trip.Inputs["peakEquityPnl"].ShouldBe("1250");
        trip.Inputs["equityPnl"].ShouldBe("-310");
        trip.Inputs["drawdown"].ShouldBe("1560");
        trip.Inputs["maxDrawdown"].ShouldBe("1500");
        trip.Inputs["consecutiveBreachingObservations"].ShouldBe("3");
        trip.Inputs["confirmObservations"].ShouldBe("3");
        trip.Inputs["pausedUntilUtc"].ShouldBe("2026-03-03T15:34:00.0000000+00:00");
        trip.Inputs["tripsIn24h"].ShouldBe("1");
        breakers.Trips.ShouldHaveSingleItem().ShouldBeSameAs(trip);
    }

    [Fact]
    public void Drawdown_OneBadObservation_DoesNotTrip_TheBreachMustHoldForConsecutiveObservations()
    {
        var breakers = Create(Settings(confirm: 3));
        breakers.Observe(Obs(T0, equity: 1_250m));
        breakers.Observe(Obs(T0.AddSeconds(1), equity: -400m)).ShouldBeEmpty(); // one bad tick
        breakers.Observe(Obs(T0.AddSeconds(2), equity: 1_000m)).ShouldBeEmpty(); // recovered: the count starts again
        breakers.Observe(Obs(T0.AddSeconds(3), equity: -400m)).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddSeconds(4), equity: -400m)).ShouldBeEmpty();
        breakers.Trips.ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddSeconds(5), equity: -400m)).ShouldHaveSingleItem().Breaker.ShouldBe(BreakerName.Drawdown);
    }

    [Fact]
    public void Drawdown_ExactlyAtTheLimit_Trips()
    {
        var breakers = Create(Settings(confirm: 1));
        breakers.Observe(Obs(T0, equity: 100m));
        breakers.Observe(Obs(T0.AddSeconds(1), equity: -1_399.99m)).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddSeconds(2), equity: -1_400m)).ShouldHaveSingleItem().Formula.ShouldContain("= 1,500.00 USD ≥ 1,500.00 (confirmed over 1 observation)");
    }

    [Fact]
    public void ConsecutiveLosses_TripOnTheNthLosingTrade_AndAWinningOrBreakevenTradeEndsTheRun()
    {
        var breakers = Create(Settings());
        breakers.Observe(Obs(T0, trades: [-10m, -20m])).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddMinutes(1), trades: [0m])).ShouldBeEmpty(); // breakeven is not a loss
        breakers.Observe(Obs(T0.AddMinutes(2), trades: [-5m, -6m])).ShouldBeEmpty();

        // The third loss in a row trips even though a winner closes later in the same sweep.
        var trip = breakers.Observe(Obs(T0.AddMinutes(3), trades: [-1_007.5m, 50m])).ShouldHaveSingleItem();

        trip.Breaker.ShouldBe(BreakerName.ConsecutiveLosses);
        trip.Level.ShouldBe(KillLevel.NoEntries);
        trip.Formula.ShouldBe("consecutive losing trades (net P&L < 0) = 3 ≥ 3: last 3 net P&Ls -5.00; -6.00; -1,007.50 USD");
        trip.Inputs["consecutiveLosses"].ShouldBe("3");
        trip.Inputs["maxConsecutiveLosses"].ShouldBe("3");
        trip.Inputs["lastLossPnls"].ShouldBe("-5;-6;-1007.5");
    }

    [Fact]
    public void SharpeFloor_TripsOnMeanOverSampleSd_OnlyAfterTheWarmUp()
    {
        var breakers = Create(Settings() with { SharpeWindow = 4, SharpeMinTrades = 4, MaxConsecutiveLosses = 100 });

        // After 3 trades [10, −5, 6] the Sharpe is 3.667 / 8.145 = 0.45 < 0.5, but the warm-up needs 4 trades.
        breakers.Observe(Obs(T0, trades: [10m, -5m, 6m])).ShouldBeEmpty();

        // [10, −5, 6, −8]: mean 0.75, Σ(x − mean)² = 222.75, s = √(222.75 / 3) = 8.6168, Sharpe 0.0870.
        var trip = breakers.Observe(Obs(T0.AddMinutes(1), trades: [-8m])).ShouldHaveSingleItem();

        trip.Breaker.ShouldBe(BreakerName.SharpeFloor);
        trip.Level.ShouldBe(KillLevel.NoEntries);
        trip.Formula.ShouldBe("per-trade Sharpe = mean 0.75 / sample sd (n−1) 8.62 USD = 0.0870 < floor 0.5000 over the last 4 closed trades (window 4, warm-up 4)");
        trip.Inputs["tradePnls"].ShouldBe("10;-5;6;-8");
        trip.Inputs["n"].ShouldBe("4");
        trip.Inputs["mean"].ShouldBe("0.75");
        decimal.Parse(trip.Inputs["sampleSd"], CultureInfo.InvariantCulture).ShouldBe((decimal)Math.Sqrt(74.25), 1e-12m);
        decimal.Parse(trip.Inputs["sharpe"], CultureInfo.InvariantCulture).ShouldBe(0.75m / (decimal)Math.Sqrt(74.25), 1e-12m);
        trip.Inputs["sharpeFloor"].ShouldBe("0.5");
        trip.Inputs["tradesSinceReset"].ShouldBe("4");
    }

    [Fact]
    public void SharpeFloor_UsesOnlyTheLastWindowOfTrades()
    {
        var breakers = Create(Settings() with { SharpeFloor = 0m, SharpeWindow = 3, SharpeMinTrades = 3, MaxConsecutiveLosses = 100 });
        breakers.Observe(Obs(T0, trades: [-1m, 10m, 11m, 12m])).ShouldBeEmpty();
        var trip = breakers.Observe(Obs(T0.AddMinutes(1), trades: [-40m])).ShouldHaveSingleItem();
        trip.Inputs["tradePnls"].ShouldBe("11;12;-40"); // −1 and 10 have left the window
        trip.Inputs["tradesSinceReset"].ShouldBe("5");
    }

    [Fact]
    public void SharpeFloor_ZeroSd_NegativeMeanReadsAsMinusInfinity_NonNegativeMeanNeverTrips()
    {
        var settings = Settings() with { SharpeFloor = 1_000m, SharpeWindow = 3, SharpeMinTrades = 3, MaxConsecutiveLosses = 100 };
        Create(settings).Observe(Obs(T0, trades: [5m, 5m, 5m, 5m])).ShouldBeEmpty(); // +inf ≥ any floor
        Create(settings).Observe(Obs(T0, trades: [0m, 0m, 0m])).ShouldBeEmpty(); // mean 0 counts as ≥ 0

        var losers = Create(settings with { SharpeFloor = -1_000_000m });
        var trip = losers.Observe(Obs(T0, trades: [-0.1m, -0.1m, -0.1m])).ShouldHaveSingleItem();
        trip.Breaker.ShouldBe(BreakerName.SharpeFloor);
        trip.Formula.ShouldContain("sample sd (n−1) 0 USD = −inf (sd = 0 with mean < 0 reads as −inf; with mean ≥ 0 as +inf) < floor -1,000,000.0000");
        trip.Inputs["sharpe"].ShouldBe("-inf");
        trip.Inputs["sampleSd"].ShouldBe("0");
    }

    [Fact]
    public void LegImbalance_TripsOnTheSignedNotionalSumOfAConfiguredPair()
    {
        var breakers = Create(Settings(confirm: 1));
        breakers.Observe(Obs(T0, notionals: new() { ["XAUUSD"] = 120_000m, ["XAGUSD"] = -100_000m, ["XPTUSD"] = 900_000m })).ShouldBeEmpty(); // hedged; XPTUSD is in no pair
        breakers.Observe(Obs(T0.AddSeconds(1), notionals: new() { ["XAUUSD"] = 0m, ["XAGUSD"] = 0m })).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddSeconds(2), notionals: new() { ["XAUUSD"] = 50_000m })).ShouldBeEmpty(); // one leg open, exactly at the limit

        var trip = breakers.Observe(Obs(T0.AddSeconds(3), notionals: new() { ["XAUUSD"] = 120_000m, ["XAGUSD"] = -40_000m })).ShouldHaveSingleItem();

        trip.Breaker.ShouldBe(BreakerName.LegImbalance);
        trip.Level.ShouldBe(KillLevel.NoEntries);
        trip.Formula.ShouldBe("imbalance XAUUSD/XAGUSD = |XAUUSD 120,000.00 + XAGUSD -40,000.00| = 80,000.00 USD > 50,000.00 (confirmed over 1 observation)");
        trip.Inputs["XAUUSD/XAGUSD.notional.XAUUSD"].ShouldBe("120000");
        trip.Inputs["XAUUSD/XAGUSD.notional.XAGUSD"].ShouldBe("-40000");
        trip.Inputs["XAUUSD/XAGUSD.imbalance"].ShouldBe("80000");
        trip.Inputs["maxLegImbalance"].ShouldBe("50000");
    }

    [Fact]
    public void LegImbalance_SingleOpenLeg_IsTheWholeImbalance()
    {
        var breakers = Create(Settings(confirm: 1));
        var trip = breakers.Observe(Obs(T0, notionals: new() { ["XAGUSD"] = -60_000m })).ShouldHaveSingleItem();
        trip.Formula.ShouldStartWith("imbalance XAUUSD/XAGUSD = |XAUUSD 0.00 + XAGUSD -60,000.00| = 60,000.00 USD > 50,000.00");
    }

    [Fact]
    public void LegImbalance_OneBadObservation_DoesNotTrip()
    {
        var breakers = Create(Settings(confirm: 2));
        var bad = new Dictionary<string, decimal> { ["XAUUSD"] = 120_000m };
        breakers.Observe(Obs(T0, notionals: bad)).ShouldBeEmpty(); // e.g. one leg filled before the other
        breakers.Observe(Obs(T0.AddSeconds(1), notionals: new() { ["XAUUSD"] = 120_000m, ["XAGUSD"] = -118_000m })).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddSeconds(2), notionals: bad)).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddSeconds(3), notionals: bad)).ShouldHaveSingleItem().Formula.ShouldEndWith("(confirmed over 2 observations)");
    }

    [Fact]
    public void StaleFx_OldOrMissingRateTrips_NamingThePairAndItsAge()
    {
        var breakers = Create(Settings(confirm: 1));
        breakers.Observe(Obs(T0, fx: [new FxRateInUse("GBPUSD", T0.AddMinutes(-5))])).ShouldBeEmpty(); // exactly the max age is not stale

        var trip = breakers.Observe(Obs(T0.AddSeconds(1), fx:
        [
            new FxRateInUse("GBPUSD", T0.AddMinutes(-4)),
            new FxRateInUse("ZARUSD", T0.AddMinutes(-6)),
            new FxRateInUse("EURUSD", null),
        ])).ShouldHaveSingleItem();

        trip.Breaker.ShouldBe(BreakerName.StaleFx);
        trip.Level.ShouldBe(KillLevel.NoEntries);
        trip.Formula.ShouldBe(
            "stale FX ZARUSD: age = now 2026-03-03 15:00:01Z − as-of 2026-03-03 14:54:00Z = 00:06:01 > 00:05:00 (confirmed over 1 observation); " +
            "stale FX EURUSD: rate missing (no as-of time, read as stale; max age 00:05:00) (confirmed over 1 observation)");
        trip.Formula.ShouldNotContain("GBPUSD");
        trip.Inputs["ZARUSD.age"].ShouldBe("00:06:01");
        trip.Inputs["ZARUSD.asOfUtc"].ShouldBe("2026-03-03T14:54:00.0000000+00:00");
        trip.Inputs["EURUSD.asOfUtc"].ShouldBe("missing");
        trip.Inputs["maxFxRateAge"].ShouldBe("00:05:00");
    }

    [Fact]
    public void StaleFx_OneStaleObservation_DoesNotTrip()
    {
        var breakers = Create(Settings(confirm: 3));
        breakers.Observe(StaleFx(T0)).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddSeconds(1), fx: [new FxRateInUse("ZARUSD", T0)])).ShouldBeEmpty(); // refreshed
        breakers.Observe(StaleFx(T0.AddSeconds(2))).ShouldBeEmpty();
        breakers.Observe(StaleFx(T0.AddSeconds(3))).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddSeconds(4))).ShouldBeEmpty(); // no longer in use
        breakers.Observe(StaleFx(T0.AddSeconds(5))).ShouldBeEmpty();
        breakers.Observe(StaleFx(T0.AddSeconds(6))).ShouldBeEmpty();
        breakers.Observe(StaleFx(T0.AddSeconds(7))).ShouldHaveSingleItem().Breaker.ShouldBe(BreakerName.StaleFx);
    }

    [Fact]
    public void Trip_PausesForTheResetWindow_WithoutRetripping_ThenTheDrawdownPeakResetsToCurrentEquity()
    {
        var breakers = Create(Settings(confirm: 1));
        breakers.Observe(Obs(T0, equity: 500m));
        var trip = breakers.Observe(Obs(T0.AddMinutes(1), equity: -1_000m)).ShouldHaveSingleItem();
        var end = trip.PausedUntilUtc;
        end.ShouldBe(T0.AddMinutes(31));

        // During the pause nothing trips again, however bad it gets (no trip storm).
        for (var t = T0.AddMinutes(2); t < end; t = t.AddMinutes(1))
        {
            breakers.Observe(Obs(t, equity: -2_600m, trades: [-1m], fx: [new FxRateInUse("ZARUSD", null)])).ShouldBeEmpty();
            breakers.IsPaused(t, out var active).ShouldBeTrue();
            active.ShouldBeSameAs(trip);
        }

        breakers.IsPaused(end, out var none).ShouldBeFalse();
        none.ShouldBeNull();
        breakers.ActiveLevel(end.AddTicks(-1)).ShouldBe(KillLevel.Flatten);
        breakers.ActiveLevel(end).ShouldBe(KillLevel.Running);

        // Reset: the peak is the equity at the end of the pause, so −2,600 is no drawdown any more...
        var drawdown = Create(Settings(confirm: 1));
        drawdown.Observe(Obs(T0, equity: 500m));
        drawdown.Observe(Obs(T0.AddMinutes(1), equity: -1_000m)).ShouldHaveSingleItem();
        drawdown.Observe(Obs(T0.AddMinutes(10), equity: -2_600m)).ShouldBeEmpty();
        drawdown.Observe(Obs(end, equity: -2_600m)).ShouldBeEmpty();
        drawdown.Observe(Obs(end.AddMinutes(1), equity: -2_000m)).ShouldBeEmpty(); // new peak −2,000
        drawdown.Observe(Obs(end.AddMinutes(2), equity: -3_499m)).ShouldBeEmpty();

        // ...and a new drawdown of 1,500 from the new peak trips again.
        var again = drawdown.Observe(Obs(end.AddMinutes(3), equity: -3_500m)).ShouldHaveSingleItem();
        again.Formula.ShouldStartWith("drawdown = peak -2,000.00 − equity -3,500.00 = 1,500.00 USD");
        drawdown.Trips.Count.ShouldBe(2);
    }

    [Fact]
    public void PauseEnd_ResetsOnlyTheTrippedBreaker_OthersKeepTheirState()
    {
        var breakers = Create(Settings(confirm: 1));
        breakers.Observe(Obs(T0, equity: 0m, trades: [-10m, -10m])).ShouldBeEmpty(); // two losses in a row
        breakers.Observe(Obs(T0.AddMinutes(1), equity: -1_600m)).ShouldHaveSingleItem().Breaker.ShouldBe(BreakerName.Drawdown);
        breakers.Observe(Obs(T0.AddMinutes(31), equity: -1_600m)).ShouldBeEmpty();

        // The loss run was not reset by the drawdown trip: the third loss trips.
        var trip = breakers.Observe(Obs(T0.AddMinutes(32), equity: -1_610m, trades: [-10m])).ShouldHaveSingleItem();
        trip.Breaker.ShouldBe(BreakerName.ConsecutiveLosses);
        trip.Inputs["consecutiveLosses"].ShouldBe("3");
    }

    [Fact]
    public void PauseEnd_ResetsTheLossRunAndTheSharpeWarmUp_OfTheBreakersThatTripped()
    {
        var breakers = Create(Settings() with { SharpeFloor = 0m, SharpeWindow = 5, SharpeMinTrades = 3, MaxConsecutiveLosses = 3 });
        var trips = breakers.Observe(Obs(T0, trades: [-10m, -20m, -30m]));
        trips.Select(t => t.Breaker).ShouldBe([BreakerName.ConsecutiveLosses, BreakerName.SharpeFloor]);
        var end = trips.Max(t => t.PausedUntilUtc);

        // After the pause both start again from zero: two more losses are neither a run of 3 nor past the warm-up of 3.
        breakers.Observe(Obs(end, trades: [-5m, -6m])).ShouldBeEmpty();
        var next = breakers.Observe(Obs(end.AddMinutes(1), trades: [-7m]));
        next.Select(t => t.Breaker).ShouldBe([BreakerName.ConsecutiveLosses, BreakerName.SharpeFloor]);
        next[1].Inputs["tradePnls"].ShouldBe("-5;-6;-7");
        next[1].Inputs["tradesSinceReset"].ShouldBe("3");
    }

    [Fact]
    public void TrippedBreaker_MustConfirmAgainAfterItsReset()
    {
        var breakers = Create(Settings(confirm: 2));
        breakers.Observe(StaleFx(T0)).ShouldBeEmpty();
        var first = breakers.Observe(StaleFx(T0.AddMinutes(1))).ShouldHaveSingleItem();
        breakers.Observe(StaleFx(T0.AddMinutes(10))).ShouldBeEmpty();

        // Its confirmation count was cleared at the end of the pause.
        breakers.Observe(StaleFx(first.PausedUntilUtc)).ShouldBeEmpty();
        breakers.Observe(StaleFx(first.PausedUntilUtc.AddSeconds(1))).ShouldHaveSingleItem().Breaker.ShouldBe(BreakerName.StaleFx);
    }

    [Fact]
    public void OtherBreakerBreachingThroughThePause_TripsAtTheFirstObservationAfterIt()
    {
        var breakers = Create(Settings(confirm: 2));
        breakers.Observe(Obs(T0, equity: 0m));
        breakers.Observe(Obs(T0.AddMinutes(1), equity: -1_500m));
        var drawdown = breakers.Observe(Obs(T0.AddMinutes(2), equity: -1_500m)).ShouldHaveSingleItem();
        drawdown.Breaker.ShouldBe(BreakerName.Drawdown);

        // The FX rate goes missing during the pause: confirmed, but not tripped while paused.
        breakers.Observe(Obs(T0.AddMinutes(3), equity: -1_500m, fx: [new FxRateInUse("ZARUSD", null)])).ShouldBeEmpty();
        breakers.Observe(Obs(T0.AddMinutes(4), equity: -1_500m, fx: [new FxRateInUse("ZARUSD", null)])).ShouldBeEmpty();

        var stale = breakers.Observe(Obs(drawdown.PausedUntilUtc, equity: -1_500m, fx: [new FxRateInUse("ZARUSD", null)])).ShouldHaveSingleItem();
        stale.Breaker.ShouldBe(BreakerName.StaleFx);
        stale.Formula.ShouldEndWith("(confirmed over 3 observations)");
    }

    [Fact]
    public void NthTripWithin24h_PausesUntilTheNextTradingDay()
    {
        var breakers = Create(Settings(confirm: 1)); // MaxTripsPer24h = 3
        var first = breakers.Observe(StaleFx(T0)).ShouldHaveSingleItem();
        var second = breakers.Observe(StaleFx(first.PausedUntilUtc)).ShouldHaveSingleItem();
        var third = breakers.Observe(StaleFx(second.PausedUntilUtc)).ShouldHaveSingleItem();

        first.PausedForDay.ShouldBeFalse();
        second.PausedForDay.ShouldBeFalse();
        second.PausedUntilUtc.ShouldBe(T0.AddMinutes(60));
        third.AtUtc.ShouldBe(T0.AddMinutes(60));
        third.PausedForDay.ShouldBeTrue();
        third.PausedUntilUtc.ShouldBe(NextDayStart);
        third.Inputs["tripsIn24h"].ShouldBe("3");
        third.Inputs["pausedForDay"].ShouldBe("true");
        third.Inputs["nextTradingDayStartUtc"].ShouldBe("2026-03-03T22:00:00.0000000+00:00");
        third.Formula.ShouldEndWith("; trips in 24 h = 3 ≥ 3 → paused until max(next trading day 2026-03-03 22:00:00Z, now + 00:30:00) = 2026-03-03 22:00:00Z");

        breakers.Observe(StaleFx(NextDayStart.AddTicks(-1))).ShouldBeEmpty();
        breakers.IsPaused(NextDayStart.AddTicks(-1), out var active).ShouldBeTrue();
        active.ShouldBeSameAs(third);
        breakers.IsPaused(NextDayStart, out _).ShouldBeFalse();

        // Still three trips in the trailing 24 h: the fourth also pauses for the day.
        var fourth = breakers.Observe(StaleFx(NextDayStart)).ShouldHaveSingleItem();
        fourth.PausedForDay.ShouldBeTrue();
        fourth.Inputs["tripsIn24h"].ShouldBe("4");
        fourth.PausedUntilUtc.ShouldBe(NextDayStart.AddDays(1));
    }

    [Fact]
    public void DayPause_IsNeverShorterThanTheResetWindow()
    {
        var breakers = Create(Settings(confirm: 1) with { MaxTripsPer24h = 1 });
        var lateInTheDay = NextDayStart.AddMinutes(-10);
        var trip = breakers.Observe(StaleFx(lateInTheDay)).ShouldHaveSingleItem();
        trip.PausedForDay.ShouldBeTrue();
        trip.PausedUntilUtc.ShouldBe(lateInTheDay + Reset);
    }

    [Fact]
    public void TripsOlderThan24h_AreNotCounted()
    {
        var breakers = Create(Settings(confirm: 1) with { MaxTripsPer24h = 2 });
        breakers.Observe(StaleFx(T0)).ShouldHaveSingleItem().PausedForDay.ShouldBeFalse();

        var dayLater = breakers.Observe(StaleFx(T0.AddHours(24))).ShouldHaveSingleItem(); // the first is exactly 24 h old: out of the window
        dayLater.PausedForDay.ShouldBeFalse();
        dayLater.Inputs["tripsIn24h"].ShouldBe("1");

        var next = breakers.Observe(StaleFx(dayLater.PausedUntilUtc)).ShouldHaveSingleItem();
        next.PausedForDay.ShouldBeTrue();
        next.Inputs["tripsIn24h"].ShouldBe("2");
    }

    [Fact]
    public void SimultaneousBreaches_AllTrip_AndTheActiveLevelIsTheHighest()
    {
        var breakers = Create(Settings(confirm: 1) with { MaxTripsPer24h = 2 });
        breakers.Observe(Obs(T0, equity: 0m));
        var trips = breakers.Observe(Obs(T0.AddMinutes(1), equity: -2_000m, fx: [new FxRateInUse("ZARUSD", null)]));

        trips.Select(t => t.Breaker).ShouldBe([BreakerName.Drawdown, BreakerName.StaleFx]);
        trips[0].PausedForDay.ShouldBeFalse();
        trips[1].PausedForDay.ShouldBeTrue(); // the second trip in 24 h
        breakers.ActiveLevel(T0.AddMinutes(2)).ShouldBe(KillLevel.Flatten);
        breakers.ActiveTrips(T0.AddMinutes(2)).Count.ShouldBe(2);
        breakers.IsPaused(T0.AddMinutes(2), out var active).ShouldBeTrue();
        active.ShouldBeSameAs(trips[1]); // the one whose pause ends last
        breakers.ActiveLevel(T0.AddMinutes(40)).ShouldBe(KillLevel.NoEntries);

        // Both reset when the whole pause is over, not when the shorter one ends.
        breakers.Observe(Obs(T0.AddMinutes(40), equity: -2_000m, fx: [new FxRateInUse("ZARUSD", null)])).ShouldBeEmpty();
        breakers.Observe(Obs(NextDayStart, equity: -2_000m)).ShouldBeEmpty();
    }

    [Fact]
    public void SameObservations_GiveTheSameTrips()
    {
        static List<BreakerTrip> Run()
        {
            var breakers = Create(Settings(confirm: 2) with { SharpeWindow = 4, SharpeMinTrades = 3, SharpeFloor = 0m, MaxTripsPer24h = 8 });
            var rng = new Random(7);
            var equity = 0m;
            for (var i = 0; i < 5_000; i++)
            {
                var t = T0.AddMinutes(i);
                equity += rng.Next(-60, 61);
                decimal[] trades = rng.Next(3) == 0 ? [rng.Next(-110, 91)] : [];
                var gold = rng.Next(60_000, 100_000);
                var silver = i % 97 < rng.Next(0, 4) ? 0 : -gold + rng.Next(-20_000, 20_000); // legging bursts
                var fxAge = i % 89 < rng.Next(0, 4) ? TimeSpan.FromMinutes(10) : TimeSpan.FromSeconds(rng.Next(0, 60)); // stale bursts
                breakers.Observe(Obs(t, equity, trades, new() { ["XAUUSD"] = gold, ["XAGUSD"] = silver },
                    [new FxRateInUse("ZARUSD", rng.Next(200) == 0 ? null : t - fxAge)]));
            }

            return [.. breakers.Trips];
        }

        var a = Run();
        var b = Run();
        a.Count.ShouldBeGreaterThan(5);
        a.Select(t => t.Breaker).Distinct().Count().ShouldBe(5); // every breaker tripped at least once
        a.ShouldContain(t => t.PausedForDay);
        b.Count.ShouldBe(a.Count);
        for (var i = 0; i < a.Count; i++)
        {
            (b[i] with { Inputs = a[i].Inputs }).ShouldBe(a[i]);
            b[i].Inputs.ShouldBe(a[i].Inputs);
        }
    }

    [Fact]
    public void Formulas_UseTheInvariantCulture_WhateverTheThreadCulture()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
            var breakers = Create(Settings(confirm: 1));
            breakers.Observe(Obs(T0, equity: 1_250.5m));
            var trip = breakers.Observe(Obs(T0.AddSeconds(1), equity: -310.25m)).ShouldHaveSingleItem();
            trip.Formula.ShouldStartWith("drawdown = peak 1,250.50 − equity -310.25 = 1,560.75 USD");
            trip.Inputs["equityPnl"].ShouldBe("-310.25");
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Fact]
    public void Observations_OutOfTimeOrderOrWithAnUnnamedFxRate_AreRefused()
    {
        var breakers = Create(Settings());
        breakers.Observe(Obs(T0));
        breakers.Observe(Obs(T0)); // same time is fine
        Should.Throw<ArgumentException>(() => breakers.Observe(Obs(T0.AddTicks(-1))));
        Should.Throw<ArgumentException>(() => breakers.Observe(Obs(T0, fx: [new FxRateInUse(" ", T0)])));
    }

    public static TheoryData<string> BadFields() =>
    [
        nameof(CircuitBreakerSettings.MaxDrawdown),
        nameof(CircuitBreakerSettings.DrawdownLevel),
        nameof(CircuitBreakerSettings.MaxConsecutiveLosses),
        nameof(CircuitBreakerSettings.SharpeWindow),
        nameof(CircuitBreakerSettings.SharpeMinTrades),
        nameof(CircuitBreakerSettings.MaxLegImbalance),
        nameof(CircuitBreakerSettings.Pairs),
        nameof(CircuitBreakerSettings.MaxFxRateAge),
        nameof(CircuitBreakerSettings.ConfirmObservations),
        nameof(CircuitBreakerSettings.ResetWindow),
        nameof(CircuitBreakerSettings.MaxTripsPer24h),
        nameof(CircuitBreakerSettings.DefaultLevel),
    ];

    [Theory]
    [MemberData(nameof(BadFields))]
    public void Settings_OutOfRange_AreRefusedNamingTheField(string field)
    {
        var good = Settings();
        var bad = field switch
        {
            nameof(CircuitBreakerSettings.MaxDrawdown) => good with { MaxDrawdown = 0m },
            nameof(CircuitBreakerSettings.DrawdownLevel) => good with { DrawdownLevel = KillLevel.Running },
            nameof(CircuitBreakerSettings.MaxConsecutiveLosses) => good with { MaxConsecutiveLosses = 0 },
            nameof(CircuitBreakerSettings.SharpeWindow) => good with { SharpeWindow = 1, SharpeMinTrades = 1 },
            nameof(CircuitBreakerSettings.SharpeMinTrades) => good with { SharpeMinTrades = 11 }, // > SharpeWindow 10
            nameof(CircuitBreakerSettings.MaxLegImbalance) => good with { MaxLegImbalance = -1m },
            nameof(CircuitBreakerSettings.Pairs) => good with { Pairs = [("XAUUSD", "XAUUSD")] },
            nameof(CircuitBreakerSettings.MaxFxRateAge) => good with { MaxFxRateAge = TimeSpan.Zero },
            nameof(CircuitBreakerSettings.ConfirmObservations) => good with { ConfirmObservations = 0 },
            nameof(CircuitBreakerSettings.ResetWindow) => good with { ResetWindow = TimeSpan.FromSeconds(-1) },
            nameof(CircuitBreakerSettings.MaxTripsPer24h) => good with { MaxTripsPer24h = 0 },
            nameof(CircuitBreakerSettings.DefaultLevel) => good with { DefaultLevel = (KillLevel)7 },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };

        Should.NotThrow(() => Create(good));
        Should.Throw<ArgumentException>(() => Create(bad)).Message.ShouldContain("CircuitBreakerSettings." + field + " must be");
    }

    [Fact]
    public void Settings_EveryBadFieldIsReportedAtOnce_AndDuplicatePairsAreRefused()
    {
        var e = Should.Throw<ArgumentException>(() => Create(Settings() with { MaxDrawdown = 0m, ConfirmObservations = 0 }));
        e.Message.ShouldContain("MaxDrawdown");
        e.Message.ShouldContain("ConfirmObservations");
        e.ParamName.ShouldBe("settings");

        Should.Throw<ArgumentException>(() => Create(Settings() with { Pairs = [("XAUUSD", "XAGUSD"), ("XAGUSD", "XAUUSD")] }))
            .Message.ShouldContain("duplicate");
        Should.NotThrow(() => Create(Settings() with { Pairs = [] }));
        Should.Throw<ArgumentNullException>(() => new CircuitBreakers(Settings(), null!));
    }
}
