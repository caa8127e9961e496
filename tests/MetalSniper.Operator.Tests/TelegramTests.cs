using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using MetalSniper.Operator.Telegram;
using MetalSniper.Engine.Pipeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MetalSniper.Core.Alerts;

namespace MetalSniper.Operator.Tests;

/// <summary>
/// The Telegram notifier and command poller against a fake Bot API on 127.0.0.1 (real HTTP). Every test ends by checking that
/// no captured log entry holds the token or its secret part.
/// </summary>
public sealed class TelegramTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private const string Token = "123456:SECRET-TOKEN-abc";
    private const string Secret = "SECRET-TOKEN-abc";
    private const long AlertChat = -100_200_300;
    private const long Operator = 42;
    private const long Stranger = 666;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly CapturingLoggerProvider _logs = new();
    private readonly WallClock _wall = new(TimeProvider.System);
    private readonly List<IAsyncDisposable> _asyncDisposables = [];
    private readonly List<IDisposable> _disposables = [];
    private FakeTelegramServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeTelegramServer.StartAsync(Token);

    public async Task DisposeAsync()
    {
        foreach (var d in Enumerable.Reverse(_asyncDisposables))
        {
            await d.DisposeAsync();
        }

        foreach (var d in Enumerable.Reverse(_disposables))
        {
            d.Dispose();
        }

        await _server.DisposeAsync();
        _logs.DisposeFactory();
        AssertNoTokenInLogs();
    }

    // ---- Notifier: delivery, rate, retries, queue -------------------------------------------------------------------

    [Fact]
    public async Task Notifier_QueuedAlerts_LeaveMostUrgentFirst_WithLevelMarkers()
    {
        var notifier = Notifier(Api());

        // Queued before the start: the loop finds all three and sends RED, then YELLOW, then INFO.
        notifier.Raise(Alert(AlertLevel.Info, "Fill", "bought 2 oz XAUUSD @ 2400.10"));
        notifier.Raise(Alert(AlertLevel.Yellow, "BreakerTrip", "3 consecutive losses"));
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "L2: daily loss 2000 USD"));
        await notifier.StartAsync(CancellationToken.None);

        var messages = await WaitForMessages(3);
        messages.ShouldAllBe(m => m.ChatId == AlertChat && m.DisableWebPagePreview);
        messages[0].Text.ShouldStartWith("🔴 RED KillSwitch");
        messages[0].Text.ShouldContain("L2: daily loss 2000 USD");
        messages[1].Text.ShouldStartWith("🟡 YELLOW BreakerTrip");
        messages[2].Text.ShouldStartWith("ℹ️ INFO Fill");
        messages[2].Text.ShouldContain("bought 2 oz XAUUSD @ 2400.10");
        await Eventually.Until(() => notifier.Sent == 3);
        notifier.Status().ShouldBe(new TelegramNotifierStatus(true, 3, 0, 0, 0, 0, 0, 0, null, null));
        _server.WrongTokenRequests.ShouldBe(0);
    }

    [Fact]
    public async Task Notifier_FiveAlertsAtTwoPerSecond_AreSpacedHalfASecondApart()
    {
        var notifier = Notifier(Api(o => o.MessagesPerSecond = 2));
        await notifier.StartAsync(CancellationToken.None);

        var raisedAt = _server.Now;
        for (var i = 0; i < 5; i++)
        {
            notifier.Raise(Alert(AlertLevel.Info, "Fill", $"fill {i}"));
        }

        var messages = await WaitForMessages(5);
        messages.Select(m => m.Text[(m.Text.LastIndexOf('\n') + 1)..]).ShouldBe(["fill 0", "fill 1", "fill 2", "fill 3", "fill 4"]);
        var gaps = messages.Zip(messages.Skip(1), (a, b) => (b.At - a.At).TotalSeconds).ToList();
        gaps.ShouldAllBe(g => g >= 0.4, $"gaps {string.Join(", ", gaps)}"); // 0.5 s at the client; arrivals jitter a little
        (messages[^1].At - raisedAt).TotalSeconds.ShouldBeInRange(2.0, 4.0);    // the fifth token exists 2 s after the first
    }

    [Fact]
    public async Task Notifier_429_WaitsRetryAfterFromTheBody_BeforeTheHeader()
    {
        _server.FailSends(1, 429, retryAfterBody: 1, retryAfterHeader: 3);
        var notifier = Notifier(Api());
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "L2"));

        await WaitForMessages(1);
        var attempts = _server.Attempts;
        attempts.Select(a => a.Status).ShouldBe([429, 200]);
        (attempts[1].At - attempts[0].At).TotalSeconds.ShouldBeInRange(0.98, 1.9); // 1 s from the body, not 3 s from the header
        await Eventually.Until(() => notifier.Sent == 1);
        notifier.Retries.ShouldBe(1);
        notifier.Failed.ShouldBe(0);
        _logs.WithEvent(7106).ShouldHaveSingleItem().Value("Delay").ShouldBe(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Notifier_429WithoutParameters_WaitsTheRetryAfterHeader()
    {
        _server.FailSends(1, 429, retryAfterBody: null, retryAfterHeader: 1);
        var notifier = Notifier(Api());
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Yellow, "Disconnect", "broker link down"));

        await WaitForMessages(1);
        var attempts = _server.Attempts;
        (attempts[1].At - attempts[0].At).TotalSeconds.ShouldBeInRange(0.98, 1.9);
        await Eventually.Until(() => notifier.Sent == 1);
        notifier.Retries.ShouldBe(1);
    }

    [Fact]
    public async Task Notifier_ServerErrors_AreRetriedWithBackoff_UntilDelivered()
    {
        _server.FailSends(2, 500);
        var notifier = Notifier(Api());
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Red, "CrashLoop", "3 restarts in 5 min"));

        await WaitForMessages(1);
        _server.Attempts.Select(a => a.Status).ShouldBe([500, 500, 200]);
        await Eventually.Until(() => notifier.Sent == 1);
        notifier.Retries.ShouldBe(2);
        notifier.Failed.ShouldBe(0);
        notifier.LastError.ShouldNotBeNull().ShouldContain("500");
    }

    [Fact]
    public async Task Notifier_AfterMaxAttempts_CountsFailed_AndKeepsDeliveringLaterAlerts()
    {
        _server.FailSends(3, 500);
        var notifier = Notifier(Api(o => o.MaxAttempts = 3));
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Red, "Lost", "never arrives"));
        notifier.Raise(Alert(AlertLevel.Info, "Later", "arrives"));

        var messages = await WaitForMessages(1);
        messages[0].Text.ShouldStartWith("ℹ️ INFO Later");
        _server.Attempts.Count.ShouldBe(4);
        await Eventually.Until(() => notifier.Sent == 1);
        notifier.Failed.ShouldBe(1);
        notifier.Retries.ShouldBe(2);
        var failed = _logs.WithEvent(7107).ShouldHaveSingleItem();
        failed.Level.ShouldBe(LogLevel.Warning);
        failed.Value("Level").ShouldBe(AlertLevel.Red);
        failed.Value("Kind").ShouldBe("Lost");
        failed.Value("Attempts").ShouldBe(3);
    }

    [Fact]
    public async Task Notifier_429WithOneAttempt_IsNotRetriedBehindTheRateLimit()
    {
        // Telegram.Bot retries a 429 itself by default (up to 3 times, retry_after ≤ 60 s): switched off, retries are ours.
        _server.FailSends(1, 429, retryAfterBody: 1);
        var notifier = Notifier(Api(o => o.MaxAttempts = 1));
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "L2"));

        await Eventually.Until(() => notifier.Failed == 1);
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // a library retry would arrive after retry_after (1 s)
        _server.Attempts.Select(a => a.Status).ShouldBe([429]);
        notifier.Retries.ShouldBe(0);
        notifier.LastError.ShouldNotBeNull().ShouldContain("429");
    }

    [Fact]
    public async Task Notifier_HtmlBadGateway_IsRetried_UntilDelivered()
    {
        // Not the Bot API's JSON (a proxy's error page): still an answer with a status, and a 5xx is worth another try.
        _server.FailSends(1, 502, html: true);
        var notifier = Notifier(Api());
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Yellow, "Disconnect", "broker link down"));

        await WaitForMessages(1);
        _server.Attempts.Select(a => a.Status).ShouldBe([502, 200]);
        await Eventually.Until(() => notifier.Sent == 1);
        notifier.Retries.ShouldBe(1);
        notifier.LastError.ShouldNotBeNull().ShouldContain("502");
    }

    [Fact]
    public async Task Notifier_LongText_ArrivesCutBelowTelegramsLimit()
    {
        var notifier = Notifier(Api());
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Info, "Report", new string('x', 10_000)));

        var message = (await WaitForMessages(1)).Single();
        message.Text.Length.ShouldBe(TelegramBotConnection.MaxTextLength);
        message.Text.ShouldStartWith("ℹ️ INFO Report");
        message.Text.ShouldEndWith("…");
    }

    [Fact]
    public async Task Notifier_BadRequest_IsNotRetried()
    {
        _server.FailSends(1, 400);
        var notifier = Notifier(Api());
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Info, "Fill", "x"));

        await Eventually.Until(() => notifier.Failed == 1);
        notifier.Retries.ShouldBe(0);
        _server.Attempts.Count.ShouldBe(1);
    }

    [Fact]
    public async Task Notifier_Raise_NeverBlocks_WhenTelegramIsUnreachable_AndDropsTheOldest()
    {
        var notifier = Notifier(Api(o => o.BaseUrl = FakeTelegramServer.ClosedPortUrl()));
        await notifier.StartAsync(CancellationToken.None);

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 10_000; i++)
        {
            notifier.Raise(Alert(AlertLevel.Info, "Fill", $"fill {i}"));
        }

        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(1));
        notifier.Queued.ShouldBeLessThanOrEqualTo(1000);
        notifier.Dropped.ShouldBeGreaterThanOrEqualTo(8990); // all but the queue and the few the loop took
        _logs.WithEvent(7103).Count().ShouldBe(1); // one warning for the whole burst
        await Eventually.Until(() => notifier.Retries >= 2);  // connection refused, retried
        notifier.LastError.ShouldNotBeNull();

        clock.Restart();
        await notifier.DisposeAsync();
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(2));
        notifier.Sent.ShouldBe(0);
        (notifier.Dropped + notifier.Failed).ShouldBe(10_000);
        notifier.Queued.ShouldBe(0);
    }

    [Fact]
    public async Task Notifier_FullQueue_DropsTheOldestNonRed_AndKeepsRed()
    {
        var notifier = Notifier(Api(o => o.QueueCapacity = 3));

        // Not started: the queue fills. R1 I1 I2 | I3 drops I1 | R2 drops I2 | I4 drops I3 → R1 R2 I4.
        foreach (var (level, kind) in new[] { (AlertLevel.Red, "R1"), (AlertLevel.Info, "I1"), (AlertLevel.Info, "I2"), (AlertLevel.Info, "I3"), (AlertLevel.Red, "R2"), (AlertLevel.Info, "I4") })
        {
            notifier.Raise(Alert(level, kind, kind));
        }

        notifier.Dropped.ShouldBe(3);
        notifier.Queued.ShouldBe(3);
        await notifier.StartAsync(CancellationToken.None);

        var messages = await WaitForMessages(3);
        messages.Select(m => m.Text.Split(' ')[2]).ShouldBe(["R1", "R2", "I4"]);
    }

    [Fact]
    public async Task Notifier_QueueFullOfRed_DropsAnArrivingNonRed_ThenTheOldestRed()
    {
        var notifier = Notifier(Api(o => o.QueueCapacity = 2));

        foreach (var (level, kind) in new[] { (AlertLevel.Red, "R1"), (AlertLevel.Red, "R2"), (AlertLevel.Yellow, "Y1"), (AlertLevel.Red, "R3") })
        {
            notifier.Raise(Alert(level, kind, kind));
        }

        notifier.Dropped.ShouldBe(2);
        notifier.DroppedRed.ShouldBe(1);
        var loud = _logs.WithEvent(7110).ShouldHaveSingleItem(); // a RED never goes silently
        loud.Level.ShouldBe(LogLevel.Error);
        loud.Value("Kind").ShouldBe("R1");
        notifier.Health().LastError.ShouldNotBeNull().ShouldContain("RED R1 dropped");
        await notifier.StartAsync(CancellationToken.None);

        var messages = await WaitForMessages(2);
        messages.Select(m => m.Text.Split(' ')[2]).ShouldBe(["R2", "R3"]);
    }

    // ---- Notifier: priority, digest, health ---------------------------------------------------------------------

    [Fact]
    public async Task Notifier_RedRaisedBehindAFloodOfInfo_ReachesTheChatNext_WithinTwoSeconds()
    {
        // Telegram's real pace (one message a second to a chat) and 200 INFO waiting: first in, first out would make the RED
        // wait more than three minutes.
        var notifier = Notifier(Api(o => o.MessagesPerSecond = 1));
        await notifier.StartAsync(CancellationToken.None);
        for (var i = 0; i < 200; i++)
        {
            notifier.Raise(Alert(AlertLevel.Info, "Fill", $"fill {i}"));
        }

        await WaitForMessages(2); // the flood is being delivered
        var before = _server.Messages.Count;
        var raisedAt = _server.Now;
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "L2: daily loss 2000 USD"));

        await Eventually.Until(() => _server.Messages.Any(m => m.Text.StartsWith("🔴 RED", StringComparison.Ordinal)), "the RED at the fake Bot API", Patience);
        var messages = _server.Messages;
        var red = messages.Select((m, i) => (m, i)).Single(x => x.m.Text.StartsWith("🔴 RED KillSwitch", StringComparison.Ordinal));
        output.WriteLine($"RED raised after {before} INFO sent: message #{red.i + 1}, {(red.m.At - raisedAt).TotalMilliseconds:0} ms after it was raised; {notifier.Queued} INFO still queued behind it");
        (red.m.At - raisedAt).ShouldBeLessThan(TimeSpan.FromSeconds(2));
        // Next after what was already sent, or after the one INFO possibly on the wire when it was raised: never later.
        red.i.ShouldBeLessThanOrEqualTo(before + 1, string.Join(" | ", messages.Skip(before).Take(4).Select(m => m.Text.Split('\n')[0])));
        notifier.Queued.ShouldBeGreaterThan(150); // the INFO backlog is still there, behind it
        notifier.Dropped.ShouldBe(0);
        notifier.Failed.ShouldBe(0);
    }

    [Fact]
    public async Task Notifier_RedDoesNotWaitForThePace_TheMessagesAfterItPayItBack_ASecondRedWaitsForTheFirstsDebt()
    {
        // One message a second: an INFO takes the only token; a RED raised right after it leaves at once, owing one.
        var notifier = Notifier(Api(o => o.MessagesPerSecond = 1));
        await notifier.StartAsync(CancellationToken.None);
        notifier.Raise(Alert(AlertLevel.Info, "Fill", "I1"));
        await WaitForMessages(1);
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "R1"));
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "R2"));
        notifier.Raise(Alert(AlertLevel.Info, "Fill", "I2"));

        var messages = await WaitForMessages(4);
        messages.Select(m => m.Text[(m.Text.LastIndexOf('\n') + 1)..]).ShouldBe(["I1", "R1", "R2", "I2"]);
        var gaps = messages.Zip(messages.Skip(1), (a, b) => (b.At - a.At).TotalSeconds).ToList();
        var shown = string.Join(", ", gaps.Select(g => g.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)));
        output.WriteLine($"gaps I1→R1→R2→I2: {shown} s");
        gaps[0].ShouldBeLessThan(0.9, shown);              // the RED did not wait for the INFO's second (it borrowed it)
        gaps[1].ShouldBeGreaterThanOrEqualTo(0.85, shown); // the second RED waits until the first one's debt is paid
        gaps[2].ShouldBeGreaterThanOrEqualTo(1.85, shown); // the INFO waits for a whole token after that RED's debt: the pace is kept
        (messages[3].At - messages[0].At).TotalSeconds.ShouldBeGreaterThanOrEqualTo(2.85, shown); // 4 messages, 3 s of pace
        await Eventually.Until(() => notifier.Sent == 4);
        notifier.Failed.ShouldBe(0);
    }

    [Fact]
    public async Task Notifier_RedRaisedWhileAnInfoWaitsOutRetryAfter_GoesFirst_AfterTheRetryAfter()
    {
        _server.FailSends(1, 429, retryAfterBody: 2);
        var notifier = Notifier(Api());
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Info, "Fill", "I1"));
        await Eventually.Until(() => _server.Attempts.Count == 1, "the 429", Patience);
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "R1"));

        await WaitForMessages(2);
        var attempts = _server.Attempts;
        attempts.Select(a => (a.Status, a.Text.Split('\n')[1])).ShouldBe([(429, "I1"), (200, "R1"), (200, "I1")]);
        (attempts[1].At - attempts[0].At).TotalSeconds.ShouldBeGreaterThanOrEqualTo(1.95); // Telegram's flood control is for the chat: the RED waits it too
        (attempts[1].At - attempts[0].At).TotalSeconds.ShouldBeLessThan(3.5);
        await Eventually.Until(() => notifier.Sent == 2);
        notifier.StepAsides.ShouldBe(1);
        notifier.Retries.ShouldBe(1);
        notifier.Failed.ShouldBe(0);
        _logs.WithEvent(7111).ShouldHaveSingleItem().Value("Kind").ShouldBe("Fill");
    }

    [Fact]
    public async Task Notifier_YellowLeavesBeforeInfo_InArrivalOrderWithinALevel()
    {
        var notifier = Notifier(Api());
        foreach (var (level, kind) in new[] { (AlertLevel.Info, "I1"), (AlertLevel.Yellow, "Y1"), (AlertLevel.Info, "I2"), (AlertLevel.Yellow, "Y2") })
        {
            notifier.Raise(Alert(level, kind, kind));
        }

        notifier.RaiseDigest("D1");
        await notifier.StartAsync(CancellationToken.None);

        var messages = await WaitForMessages(5);
        messages.Select(m => m.Text.Split('\n')[1]).ShouldBe(["Y1", "Y2", "D1", "I1", "I2"]);
        messages[2].Text.ShouldStartWith("📊 DIGEST · ");
    }

    [Fact]
    public async Task Notifier_FullQueue_DropsTheLeastUrgentOldestFirst_CountedAndReported()
    {
        var notifier = Notifier(Api(o => o.QueueCapacity = 3));

        // Not started: I1 Y1 D1 | I2 drops I1 | Y2 drops I2 | I3 (below all queued) drops itself | R1 drops the digest.
        notifier.Raise(Alert(AlertLevel.Info, "I1", "I1"));
        notifier.Raise(Alert(AlertLevel.Yellow, "Y1", "Y1"));
        notifier.RaiseDigest("D1");
        notifier.Raise(Alert(AlertLevel.Info, "I2", "I2"));
        notifier.Raise(Alert(AlertLevel.Yellow, "Y2", "Y2"));
        notifier.Raise(Alert(AlertLevel.Info, "I3", "I3"));
        notifier.Raise(Alert(AlertLevel.Red, "R1", "R1"));

        notifier.Dropped.ShouldBe(4);
        notifier.DroppedRed.ShouldBe(0);
        notifier.Queued.ShouldBe(3);
        notifier.Health().ShouldBe(new TelegramHealth(true, true, 3, 4, null, null)); // reported where the operator looks
        _logs.WithEvent(7103).ShouldHaveSingleItem().Level.ShouldBe(LogLevel.Warning);
        _logs.WithEvent(7110).ShouldBeEmpty();
        await notifier.StartAsync(CancellationToken.None);

        var messages = await WaitForMessages(3);
        messages.Select(m => m.Text.Split('\n')[1]).ShouldBe(["R1", "Y1", "Y2"]);
        await Eventually.Until(() => _logs.WithEvent(7104).Any()); // drained: the count of the spell is logged
        _logs.WithEvent(7104).Single().Value("Dropped").ShouldBe(4L);
    }

    [Fact]
    public async Task Digest_EveryInterval_SummarisesPnlPositionsAndWhatHappened_WhateverTheMinimumLevel()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 13, 0, 0, TimeSpan.Zero));
        var wall = new WallClock(clock);
        var api = Api(o => o.MinimumLevel = AlertLevel.Red, wall: wall);
        var notifier = Notifier(api, wall);
        var console = new FakeOperatorConsole
        {
            Figures = new OperatorSnapshot("L1", "USD", -150m, 420.5m, [new("GBP", -12m), new("USD", 500m)], [new("USD", 58m)],
                [new PositionRow("XAUUSD", 20m, 2400.1m, "USD", 2403m, 58m, 0m), new PositionRow("SHEL.L", -300m, 27.5m, "GBP", null, null, 0m)]),
        };
        await using var digest = new TelegramDigest(api, notifier, console, wall, _logs.Logger<TelegramDigest>(), new CollectedAlerts());
        await notifier.StartAsync(CancellationToken.None);
        await digest.StartAsync(CancellationToken.None);

        // Below the minimum level (Red): not sent, but counted for the digest. A resume (INFO KillSwitch) is not a halt.
        notifier.Raise(Alert(AlertLevel.Info, "Fill", "BUY 20 XAUUSD"));
        notifier.Raise(Alert(AlertLevel.Info, "Fill", "SELL 300 SHEL.L"));
        notifier.Raise(Alert(AlertLevel.Info, "Fill", "SELL 10 XAUUSD"));
        notifier.Raise(Alert(AlertLevel.Yellow, "BreakerTrip", "circuit breaker consecutive-losses L1"));
        notifier.Raise(Alert(AlertLevel.Yellow, "KillSwitch", "feed-stale L1"));
        notifier.Raise(Alert(AlertLevel.Info, "KillSwitch", "resumed"));
        notifier.Filtered.ShouldBe(6);

        clock.Advance(TimeSpan.FromMinutes(59));
        digest.Sent.ShouldBe(0);
        clock.Advance(TimeSpan.FromMinutes(1));
        digest.Sent.ShouldBe(1);

        var first = (await WaitForMessages(1))[0].Text;
        first.ShouldBe("""
            📊 DIGEST · 14:00:00 UTC
            since 13:00 UTC: 3 fills, 1 breaker trip, 1 halt
            not sent singly: BreakerTrip 1, KillSwitch 2
            kill level L1
            P&L: day -150.00 USD, equity +420.50 USD
            realised -12.00 GBP, +500.00 USD; unrealised +58.00 USD
            positions (2):
            XAUUSD +20 @ 2400.1 USD, last 2403, unrealised +58.00
            SHEL.L -300 @ 27.5 GBP, last ?, unrealised ?
            """);

        // The next interval counts from this digest; flat and quiet is still said (the phone's proof of life).
        console.Figures = new OperatorSnapshot("L0", "USD", null, 0m, [], [], []);
        notifier.Raise(Alert(AlertLevel.Info, "Fill", "SELL 10 XAUUSD"));
        clock.Advance(TimeSpan.FromHours(1));
        var second = (await WaitForMessages(2))[1].Text;
        second.ShouldBe("""
            📊 DIGEST · 15:00:00 UTC
            since 14:00 UTC: 1 fill, 0 breaker trips, 0 halts
            kill level L0
            P&L: day unknown, equity 0.00 USD
            realised 0.00; unrealised 0.00
            no open positions
            """);
        digest.Faults.ShouldBe(0);
        _server.Messages.Count.ShouldBe(2);

        // Stopped: no more digests.
        await digest.StopAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromHours(3));
        digest.Sent.ShouldBe(2);
    }

    [Fact]
    public async Task Digest_ThatCannotBeBuilt_IsAYellowAlert_NotALogLineAlone()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 13, 0, 0, TimeSpan.Zero));
        var wall = new WallClock(clock);
        var api = Api(wall: wall);
        var notifier = Notifier(api, wall);
        var alerts = new CollectedAlerts();
        var console = new FakeOperatorConsole { Figures = null! }; // the figures cannot be read
        await using var digest = new TelegramDigest(api, notifier, console, wall, _logs.Logger<TelegramDigest>(), alerts);

        digest.Tick();

        digest.Faults.ShouldBe(1);
        digest.Sent.ShouldBe(0);
        var alert = alerts.Items.ShouldHaveSingleItem();
        (alert.Level, alert.Kind).ShouldBe((AlertLevel.Yellow, "DigestFault"));
        alert.Text.ShouldContain("could not be built");
    }

    [Theory]
    [InlineData(0, true)]     // DigestInterval 0: off
    [InlineData(3600, false)] // Telegram not configured (no token): no digest
    public async Task Digest_IsOff_WithAZeroInterval_OrWithoutTelegram(int intervalSeconds, bool withToken)
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 13, 0, 0, TimeSpan.Zero));
        var wall = new WallClock(clock);
        var api = Api(o => o.DigestInterval = TimeSpan.FromSeconds(intervalSeconds), withToken ? Token : null, wall);
        var notifier = Notifier(api, wall);
        await using var digest = new TelegramDigest(api, notifier, new FakeOperatorConsole(), wall, _logs.Logger<TelegramDigest>(), new CollectedAlerts());
        await notifier.StartAsync(CancellationToken.None);
        await digest.StartAsync(CancellationToken.None);

        clock.Advance(TimeSpan.FromDays(1));

        digest.Sent.ShouldBe(0);
        _logs.WithEvent(7112).ShouldBeEmpty();
    }

    [Fact]
    public async Task Health_TellsEnabledHealthyQueuedDroppedLastSentAndLastError()
    {
        // Disabled, and enabled without a token (alerts to the log only: not healthy, and why).
        Notifier(Api(o => o.Enabled = false)).Health().ShouldBe(new TelegramHealth(false, true, 0, 0, null, null));
        var noToken = Notifier(Api(token: null)).Health();
        (noToken.Enabled, noToken.Healthy).ShouldBe((true, false));
        noToken.LastError.ShouldNotBeNull().ShouldContain("TELEGRAM_BOT_TOKEN is not set");

        // Configured: healthy before anything is sent; a message given up makes it unhealthy; the next one accepted, healthy again.
        _server.FailSends(1, 500);
        var notifier = Notifier(Api(o => o.MaxAttempts = 1));
        notifier.Health().ShouldBe(new TelegramHealth(true, true, 0, 0, null, null));
        await notifier.StartAsync(CancellationToken.None);
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "lost"));
        await Eventually.Until(() => notifier.Failed == 1);
        var failing = notifier.Health();
        (failing.Healthy, failing.LastSentUtc).ShouldBe((false, null));
        failing.LastError.ShouldNotBeNull().ShouldContain("500");

        var before = DateTimeOffset.UtcNow;
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "arrives"));
        await Eventually.Until(() => notifier.Sent == 1);
        var healthy = notifier.Health();
        healthy.Healthy.ShouldBeTrue();
        healthy.LastSentUtc.ShouldNotBeNull().ShouldBeInRange(before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        healthy.LastError.ShouldNotBeNull().ShouldContain("500"); // the last error stays visible after the recovery
        healthy.Describe().ShouldStartWith("telegram: healthy, 0 queued, 0 dropped, last sent ");

        // The JSON the status API and the dashboard read: these names exactly.
        var json = System.Text.Json.JsonSerializer.SerializeToElement(healthy, System.Text.Json.JsonSerializerOptions.Web);
        json.EnumerateObject().Select(p => p.Name).ShouldBe(["enabled", "healthy", "queued", "dropped", "lastSentUtc", "lastError"]);
        json.GetProperty("lastSentUtc").GetDateTimeOffset().ShouldBe(healthy.LastSentUtc.Value);
    }

    [Fact]
    public async Task Notifier_Stop_DeliversWhatIsQueued()
    {
        var notifier = Notifier(Api());
        await notifier.StartAsync(CancellationToken.None);
        notifier.Raise(Alert(AlertLevel.Info, "Stopping", "host stopping"));
        notifier.Raise(Alert(AlertLevel.Info, "Stopping", "last words"));

        using var deadline = new CancellationTokenSource(Patience);
        await notifier.StopAsync(deadline.Token);

        _server.Messages.Count.ShouldBe(2);
        notifier.Sent.ShouldBe(2);
        notifier.Dropped.ShouldBe(0);
    }

    [Fact]
    public async Task Notifier_BelowMinimumLevel_IsFiltered()
    {
        var notifier = Notifier(Api(o => o.MinimumLevel = AlertLevel.Yellow));
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Info, "Fill", "quiet"));
        notifier.Raise(Alert(AlertLevel.Yellow, "Fallback", "loud"));

        var messages = await WaitForMessages(1);
        messages[0].Text.ShouldStartWith("🟡 YELLOW Fallback");
        notifier.Filtered.ShouldBe(1);
    }

    [Theory]
    [InlineData(true, null)]
    [InlineData(true, "")]
    [InlineData(false, Token)]
    public async Task Notifier_WithoutTokenOrDisabled_WritesAlertsToTheLog(bool enabled, string? token)
    {
        var notifier = Notifier(Api(o => o.Enabled = enabled, token));
        await notifier.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Yellow, "ConfigChange", "Risk:DailyLossLimit 2000 → 1500"));

        notifier.ToTelegram.ShouldBeFalse();
        notifier.Logged.ShouldBe(1);
        notifier.Sent.ShouldBe(0);
        var entry = _logs.WithEvent(7100).ShouldHaveSingleItem();
        entry.Level.ShouldBe(LogLevel.Warning);
        entry.Value("Level").ShouldBe(AlertLevel.Yellow);
        entry.Value("Kind").ShouldBe("ConfigChange");
        entry.Value("Text").ShouldBe("Risk:DailyLossLimit 2000 → 1500");
        _logs.WithEvent(7102).ShouldHaveSingleItem().Level.ShouldBe(enabled ? LogLevel.Warning : LogLevel.Information);
        _server.Attempts.ShouldBeEmpty(); // no send loop exists in this mode
    }

    // ---- Command poller ---------------------------------------------------------------------------------------------

    [Fact]
    public async Task Poller_StatusFromAnAllowedUser_GetsTheConsoleText_AndIsAcknowledged()
    {
        var console = new FakeOperatorConsole();
        var poller = Poller(Api(), console);
        var id = _server.AddMessage(Operator, Operator, "/status");
        await poller.StartAsync(CancellationToken.None);

        var reply = (await WaitForMessages(1)).Single();
        reply.ChatId.ShouldBe(Operator);
        reply.Text.ShouldBe("Paper · L0 running · P&L +12.50 USD");
        console.Calls.ShouldBe(["Status"]);
        await Eventually.Until(() => _server.PollOffsets.Contains(id + 1)); // the next poll confirms the update
        _server.PollOffsets[0].ShouldBe(0);
        poller.Commands.ShouldBe(1);
    }

    [Fact]
    public async Task Poller_Positions_GetsThePositionsText()
    {
        var console = new FakeOperatorConsole();
        var poller = Poller(Api(), console);
        _server.AddMessage(Operator, AlertChat, "/positions");
        await poller.StartAsync(CancellationToken.None);

        var reply = (await WaitForMessages(1)).Single();
        reply.ChatId.ShouldBe(AlertChat);
        reply.Text.ShouldBe("XAUUSD +2 oz @ 2400.10, P&L +12.50");
    }

    [Fact]
    public async Task Poller_KillWithLevelAndReason_CallsKill()
    {
        var console = new FakeOperatorConsole();
        var poller = Poller(Api(), console);
        _server.AddMessage(Operator, Operator, "/kill 2 test");
        _server.AddMessage(Operator, Operator, $"/kill@{FakeTelegramServer.BotUsername} 1");
        _server.AddMessage(Operator, Operator, "/kill 3");
        await poller.StartAsync(CancellationToken.None);

        var replies = await WaitForMessages(3);
        console.Calls.ShouldBe(["Kill(2,test,operator:telegram:42)", "Kill(1,telegram,operator:telegram:42)"]);
        replies[0].Text.ShouldBe("Kill switch at L2: test");
        replies[2].Text.ShouldStartWith("Usage: /kill 1|2");
    }

    [Fact]
    public async Task Poller_ResumeThenResumeWithTheCode_CallsResumeWithoutThenWithTheCode()
    {
        var console = new FakeOperatorConsole();
        var poller = Poller(Api(), console);
        _server.AddMessage(Operator, Operator, "/resume");
        await poller.StartAsync(CancellationToken.None);

        var first = (await WaitForMessages(1)).Single();
        first.Text.ShouldContain(FakeOperatorConsole.Code);
        _server.AddMessage(Operator, Operator, $"/resume {FakeOperatorConsole.Code} checked the book");

        var second = (await WaitForMessages(2))[1];
        second.Text.ShouldBe("Resumed: L0");
        console.Calls.ShouldBe([
            "Resume(null,telegram,operator:telegram:42)",
            $"Resume({FakeOperatorConsole.Code},checked the book,operator:telegram:42)",
        ]);
    }

    [Fact]
    public async Task Poller_CommandFromAStranger_IsRefusedWithoutReply_LoggedAndAlertedOncePerHour()
    {
        var console = new FakeOperatorConsole();
        var alerts = new CollectedAlerts();
        var poller = Poller(Api(), console, alerts);
        _server.AddMessage(Stranger, Stranger, "/kill 2 secret-reason");
        _server.AddMessage(Stranger, Stranger, "/resume");
        await poller.StartAsync(CancellationToken.None);

        await Eventually.Until(() => poller.Ignored == 2);
        var alert = alerts.Items.ShouldHaveSingleItem("one alert per stranger an hour, however many attempts");
        alert.Level.ShouldBe(AlertLevel.Yellow);
        alert.Kind.ShouldBe("TelegramStranger");
        alert.Text.ShouldContain($"from user {Stranger}");
        alert.Text.ShouldNotContain("secret-reason");
        console.Calls.ShouldBeEmpty();
        _logs.WithEvent(7125).Count().ShouldBe(2, "each refused attempt is logged");
        var entry = _logs.WithEvent(7125).First();
        entry.Value("UserId").ShouldBe(Stranger);
        entry.Value("Command").ShouldBe("/kill");
        _logs.Entries.ShouldAllBe(e => !e.Everything.Contains("secret-reason"));

        _server.AddMessage(Operator, Operator, "/status"); // the loop goes on
        (await WaitForMessages(1)).Single().ChatId.ShouldBe(Operator);
        console.Calls.ShouldBe(["Status"]);
        _server.Messages.ShouldAllBe(m => m.ChatId != Stranger);
    }

    [Fact]
    public async Task Poller_CommandAddressedToAnotherBot_IsIgnored_OursIsObeyed()
    {
        var console = new FakeOperatorConsole();
        var poller = Poller(Api(), console);
        _server.AddMessage(Operator, Operator, "/kill@OtherBot 2 not for us");
        _server.AddMessage(Operator, Operator, $"/status@{FakeTelegramServer.BotUsername}");
        await poller.StartAsync(CancellationToken.None);

        (await WaitForMessages(1)).Single().ChatId.ShouldBe(Operator);
        poller.BotUsername.ShouldBe(FakeTelegramServer.BotUsername);
        poller.AddressedElsewhere.ShouldBe(1);
        console.Calls.ToArray().ShouldBe(["Status"], customMessage: "the kill addressed to @OtherBot was not executed");
        TelegramCommandPoller.AddressedTo("/kill@OtherBot 2").ShouldBe("OtherBot");
        TelegramCommandPoller.AddressedTo("/status").ShouldBeNull();
        TelegramCommandPoller.AddressedTo("/kill 2 mail me@example.com").ShouldBeNull("an @ in the arguments names no bot");
    }

    /// <summary>Alerts raised, in order.</summary>
    private sealed class CollectedAlerts : IAlertSink
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<Alert> _items = new();

        public IReadOnlyList<Alert> Items => [.. _items];

        public void Raise(Alert alert) => _items.Enqueue(alert);
    }

    [Fact]
    public async Task Poller_UnknownCommand_GetsTheHelpText()
    {
        var console = new FakeOperatorConsole();
        var poller = Poller(Api(), console);
        _server.AddMessage(Operator, Operator, "/flatten everything");
        var last = _server.AddMessage(Operator, Operator, "hello"); // plain text: no answer
        await poller.StartAsync(CancellationToken.None);

        var reply = (await WaitForMessages(1)).Single();
        reply.Text.ShouldStartWith("Unknown command /flatten.");
        reply.Text.ShouldContain("/resume CODE");
        await Eventually.Until(() => _server.PollOffsets.Contains(last + 1));
        _server.Messages.Count.ShouldBe(1);
        console.Calls.ShouldBeEmpty();
    }

    [Fact]
    public async Task Poller_StaleCommand_IsNotExecuted_AndTheSenderIsAskedAgain()
    {
        var console = new FakeOperatorConsole();
        var poller = Poller(Api(), console);
        _server.AddMessage(Operator, Operator, "/kill 2", TimeProvider.System.GetUtcNow().AddHours(-1));
        await poller.StartAsync(CancellationToken.None);

        var reply = (await WaitForMessages(1)).Single();
        reply.Text.ShouldStartWith("Ignored /kill");
        reply.Text.ShouldContain("Send it again");
        console.Calls.ShouldBeEmpty();
        poller.Stale.ShouldBe(1);
    }

    [Fact]
    public async Task Poller_FailedPolls_BackOff_AndRecover()
    {
        _server.FailPolls(2, 500);
        var console = new FakeOperatorConsole();
        var poller = Poller(Api(), console);
        _server.AddMessage(Operator, Operator, "/status");
        await poller.StartAsync(CancellationToken.None);

        (await WaitForMessages(1)).Single().Text.ShouldContain("L0 running");
        poller.PollFailures.ShouldBe(2);
        await Eventually.Until(() => _logs.WithEvent(7124).Any()); // logged by the poll loop, which may still be on its way there
        _logs.WithEvent(7124).ShouldHaveSingleItem();
        poller.IsRunning.ShouldBeTrue();
    }

    [Fact]
    public async Task Poller_429_WaitsRetryAfter_ThenPollsAgain()
    {
        _server.FailPolls(1, 429, retryAfterBody: 1);
        var poller = Poller(Api(), new FakeOperatorConsole());
        _server.AddMessage(Operator, Operator, "/status");
        await poller.StartAsync(CancellationToken.None);

        await WaitForMessages(1);
        var polls = _server.Polls;
        (polls[1].At - polls[0].At).TotalSeconds.ShouldBeInRange(0.98, 1.9); // 1 s from retry_after, not the 50 ms backoff
        poller.PollFailures.ShouldBe(1);
        poller.Polls.ShouldBeGreaterThanOrEqualTo(2); // the 429 was an answer
        _logs.WithEvent(7123).ShouldHaveSingleItem().Value("Delay").ShouldBe(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Poller_FailedPolls_DoubleTheirWait()
    {
        _server.FailPolls(3, 500);
        var poller = Poller(Api(o => o.RetryBaseDelay = TimeSpan.FromMilliseconds(200)), new FakeOperatorConsole());
        await poller.StartAsync(CancellationToken.None);

        await Eventually.Until(() => _server.Polls.Count >= 4);
        _logs.WithEvent(7123).Select(e => e.Value("Delay")).ShouldBe(
            [TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800)]);
        _logs.WithEvent(7123).Select(e => e.Level).ShouldBe([LogLevel.Warning, LogLevel.Debug, LogLevel.Debug]);
        var polls = _server.Polls;
        (polls[3].At - polls[0].At).TotalSeconds.ShouldBeGreaterThanOrEqualTo(1.35); // 0.2 + 0.4 + 0.8 s, arrivals jitter a little
    }

    [Fact]
    public async Task Poller_Stop_EndsAnOpenLongPollPromptly()
    {
        var poller = Poller(Api(o => o.PollTimeoutSeconds = 20), new FakeOperatorConsole());
        await poller.StartAsync(CancellationToken.None);
        await Eventually.Until(() => _server.PollsInProgress == 1);

        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(Patience);
        await poller.StopAsync(deadline.Token);

        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(1));
        poller.IsRunning.ShouldBeFalse();
        poller.PollFailures.ShouldBe(0);
    }

    [Fact]
    public async Task Poller_WithoutToken_DoesNotPoll()
    {
        var poller = Poller(Api(token: null), new FakeOperatorConsole());
        await poller.StartAsync(CancellationToken.None);

        poller.IsRunning.ShouldBeFalse();
        _logs.WithEvent(7120).ShouldHaveSingleItem();
        _server.PollOffsets.ShouldBeEmpty(); // no poll loop was started
    }

    [Theory]
    [InlineData("SECRET-TOKEN-abc")]      // no bot id
    [InlineData("bot:SECRET-TOKEN-abc")]  // a bot id that is not a number
    public async Task Notifier_MalformedToken_WritesAlertsToTheLog_AndSaysWhy(string token)
    {
        var api = Api(token: token);
        var notifier = Notifier(api);
        var poller = Poller(api, new FakeOperatorConsole());
        await notifier.StartAsync(CancellationToken.None);
        await poller.StartAsync(CancellationToken.None);

        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "L2"));

        api.IsConfigured.ShouldBeFalse();
        api.NotConfiguredReason.ShouldBe("TELEGRAM_BOT_TOKEN is not a bot token (<bot id>:<secret>)");
        notifier.ToTelegram.ShouldBeFalse();
        notifier.Logged.ShouldBe(1);
        _logs.WithEvent(7102).ShouldHaveSingleItem().Value("Why").ShouldBe(api.NotConfiguredReason);
        poller.IsRunning.ShouldBeFalse();
        _server.Attempts.ShouldBeEmpty();
        _server.PollOffsets.ShouldBeEmpty();
    }

    // ---- The token ----------------------------------------------------------------------------------------------

    [Fact]
    public async Task Token_NeverAppearsInLogs_OnConnectionRefused_ServerErrors_And429()
    {
        var closed = FakeTelegramServer.ClosedPortUrl();
        var refusedNotifier = Notifier(Api(o => { o.BaseUrl = closed; o.MaxAttempts = 2; }));
        var refusedPoller = Poller(Api(o => o.BaseUrl = closed), new FakeOperatorConsole());
        _server.FailSends(2, 500);
        _server.FailSends(1, 429, retryAfterBody: 0);
        _server.FailPolls(1, 500);
        var notifier = Notifier(Api(o => o.MaxAttempts = 2));
        var poller = Poller(Api(), new FakeOperatorConsole());

        foreach (var service in new IHostedService[] { refusedNotifier, refusedPoller, notifier, poller })
        {
            await service.StartAsync(CancellationToken.None);
        }

        refusedNotifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "refused"));
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "500 twice: failed"));
        notifier.Raise(Alert(AlertLevel.Red, "KillSwitch", "429 then ok"));
        await Eventually.Until(() => refusedNotifier.Failed == 1 && notifier.Failed == 1 && notifier.Sent == 1
            && refusedPoller.PollFailures >= 1 && poller.PollFailures == 1 && _server.PollOffsets.Count >= 2);

        _logs.WithEvent(7106).Count().ShouldBeGreaterThanOrEqualTo(3);  // retries: refused, 500, 429
        _logs.WithEvent(7107).Count().ShouldBe(2);                      // failures: refused, 500
        _logs.WithEvent(7123).Count().ShouldBeGreaterThanOrEqualTo(2);  // poll failures: refused, 500
        _logs.Entries.ShouldContain(e => e.Everything.Contains("127.0.0.1")); // the failures do say where
        refusedNotifier.LastError.ShouldNotBeNull().ShouldNotContain(Secret);
        refusedPoller.LastError.ShouldNotBeNull().ShouldNotContain(Secret);
        AssertNoTokenInLogs();
    }

    [Fact]
    public void Token_Redact_ReplacesTheTokenAndItsSecretPart_RawAndEscaped()
    {
        var api = Api();
        api.Redact($"GET http://x/bot{Token}/getUpdates").ShouldBe("GET http://x/bot***/getUpdates");
        api.Redact($"bot{Uri.EscapeDataString(Token)}").ShouldBe("bot***");
        api.Redact("x 123456%3asecret-token-ABC y").ShouldBe("x *** y");
        api.Redact("secret=SECRET-TOKEN-abc").ShouldBe("secret=***");
        api.Redact("nothing here").ShouldBe("nothing here");
        api.Redact(null).ShouldBe("");
        Api(token: null).Redact("no token").ShouldBe("no token");
        api.Describe(new HttpRequestException($"failed {Token}", new IOException(Secret))).ShouldBe("HttpRequestException: failed *** → IOException: ***");
    }

    // ---- Options and parsing ------------------------------------------------------------------------------------

    [Fact]
    public void TelegramOptions_Defaults_AreValid_AndMistakesAreAllReported()
    {
        Validate(new TelegramOptions()).ShouldBeEmpty();
        var defaults = new TelegramOptions();
        defaults.Enabled.ShouldBeFalse();
        defaults.BaseUrl.ShouldBe("https://api.telegram.org");
        defaults.MessagesPerSecond.ShouldBe(1);
        defaults.PollTimeoutSeconds.ShouldBe(25);
        defaults.QueueCapacity.ShouldBe(1000);
        defaults.MaxAttempts.ShouldBe(5);
        defaults.MinimumLevel.ShouldBe(AlertLevel.Yellow);   // fills and other INFO reach the phone in the digest only
        defaults.DigestInterval.ShouldBe(TimeSpan.FromHours(1));
        Validate(new TelegramOptions { DigestInterval = TimeSpan.Zero }).ShouldBeEmpty(); // 0: no digest

        // DataAnnotations checks the ranges first and the cross-field rules only once those pass (as the strict options validator does).
        var rangeErrors = Validate(new TelegramOptions { MessagesPerSecond = 0, MaxAttempts = 0, QueueCapacity = 0, PollTimeoutSeconds = 100 });
        rangeErrors.Count.ShouldBe(4, string.Join("\n", rangeErrors));
        var errors = Validate(new TelegramOptions
        {
            Enabled = true,
            ChatId = 0,
            BaseUrl = "ftp://api.telegram.org",
            AllowedUserIds = [42, -5],
            MinimumLevel = (AlertLevel)7,
            RetryBaseDelay = TimeSpan.Zero,
            CommandMaxAge = TimeSpan.Zero,
            DigestInterval = TimeSpan.FromSeconds(30),
        });
        errors.Count.ShouldBe(7, string.Join("\n", errors));
        errors.ShouldContain(e => e.Contains("DigestInterval"));
        errors.ShouldContain(e => e.Contains("ChatId must be set"));
        errors.ShouldContain(e => e.Contains("was -5"));

        // Telegram.Bot keeps only the scheme, host and port of its base URL: a path would be dropped without a word.
        Validate(new TelegramOptions { BaseUrl = "https://proxy.example/telegram" }).ShouldHaveSingleItem().ShouldContain("no path");
        Validate(new TelegramOptions { BaseUrl = "http://127.0.0.1:8081/" }).ShouldBeEmpty();
    }

    [Fact]
    public void TelegramOptions_Token_ComesFromTelegramBotToken_Trimmed()
    {
        // The process environment is not touched here: hosts other tests start inherit it.
        TelegramOptions.TokenVariable.ShouldBe("TELEGRAM_BOT_TOKEN");
        TelegramOptions.CleanToken($"  {Token} ").ShouldBe(Token);
        TelegramOptions.CleanToken(" ").ShouldBeNull();
        TelegramOptions.CleanToken(null).ShouldBeNull();
    }

    [Theory]
    [InlineData("/status", "/status")]
    [InlineData("/Kill@MetalSniperBot 2 why", "/kill")]
    [InlineData("/resume\n1a2b3c4d", "/resume")]
    [InlineData("/a\u202Eb{x}", "/a?b?x?")]
    public void TelegramCommandPoller_CommandName_IsLowerCaseWithoutTheBotName_AndSafeToLog(string text, string expected) =>
        TelegramCommandPoller.CommandName(text).ShouldBe(expected);

    [Theory]
    [InlineData("1a2b3c4d", true)]
    [InlineData("1A2B3C4D", true)]
    [InlineData("1a2b3c4", false)]
    [InlineData("1a2b3c4g", false)]
    [InlineData("because", false)]
    public void TelegramCommandPoller_ConfirmationCode_IsEightHexDigits(string word, bool isCode) =>
        TelegramCommandPoller.IsConfirmationCode(word).ShouldBe(isCode);

    [Fact]
    public void TelegramBotConnection_Truncate_CutsLongTextsBelowTelegramsLimit()
    {
        TelegramBotConnection.Truncate("short").ShouldBe("short");
        var cut = TelegramBotConnection.Truncate(new string('x', 10_000));
        cut.Length.ShouldBe(TelegramBotConnection.MaxTextLength);
        cut.ShouldEndWith("…");
    }

    // ---- Helpers ------------------------------------------------------------------------------------------------

    private static Alert Alert(AlertLevel level, string kind, string text) => new(level, kind, text, TimeProvider.System.GetUtcNow());

    private static List<string> Validate(TelegramOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return [.. results.Select(r => r.ErrorMessage ?? "")];
    }

    private async Task<IReadOnlyList<FakeSend>> WaitForMessages(int count)
    {
        await Eventually.Until(() => _server.Messages.Count >= count, $"{count} messages at the fake Bot API", Patience);
        return _server.Messages;
    }

    private void AssertNoTokenInLogs()
    {
        foreach (var entry in _logs.Entries)
        {
            entry.Everything.ShouldNotContain(Secret, Case.Insensitive);
            entry.Everything.ShouldNotContain(Token, Case.Insensitive);
        }
    }

    private TelegramBotConnection Api(Action<TelegramOptions>? edit = null, string? token = Token, WallClock? wall = null)
    {
        var options = new TelegramOptions
        {
            Enabled = true,
            BaseUrl = _server.BaseUrl,
            ChatId = AlertChat,
            AllowedUserIds = [Operator],
            MessagesPerSecond = 30,
            PollTimeoutSeconds = 2,
            RetryBaseDelay = TimeSpan.FromMilliseconds(50),
            MinimumLevel = AlertLevel.Info, // the transport tests send INFO too; the default (Yellow) has its own tests
        };
        edit?.Invoke(options);
        Validate(options).ShouldBeEmpty();
        var api = new TelegramBotConnection(options, token, wall ?? _wall, new SocketsHttpHandler { UseProxy = false });
        _disposables.Add(api);
        return api;
    }

    private TelegramNotifier Notifier(TelegramBotConnection api, WallClock? wall = null)
    {
        var notifier = new TelegramNotifier(api, wall ?? _wall, _logs.Logger<TelegramNotifier>());
        _asyncDisposables.Add(notifier);
        return notifier;
    }

    private TelegramCommandPoller Poller(TelegramBotConnection api, FakeOperatorConsole console, IAlertSink? alerts = null)
    {
        var poller = new TelegramCommandPoller(api, console, _wall, _logs.Logger<TelegramCommandPoller>(), alerts);
        _asyncDisposables.Add(poller);
        return poller;
    }
}
