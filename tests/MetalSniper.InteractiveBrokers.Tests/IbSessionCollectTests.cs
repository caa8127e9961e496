using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Adapters;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Connection;
using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>
/// <see cref="IbSession.CollectAsync"/> (request/response correlation over the session's event stream) against the fake
/// TWS on 127.0.0.1; the session's clock is a <see cref="FakeTimeProvider"/>, so a timeout happens when the test says.
/// </summary>
public sealed class IbSessionCollectTests
{
    private const string Account = "DU1234567";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private sealed class Rig : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private Task _run = Task.CompletedTask;

        private Rig(FakeTwsServer server, IbSession session, FakeTimeProvider clock)
        {
            Server = server;
            Session = session;
            Clock = clock;
        }

        public FakeTwsServer Server { get; }

        public IbSession Session { get; }

        public FakeTimeProvider Clock { get; }

        public static async Task<Rig> StartAsync()
        {
            var server = await FakeTwsServer.StartAsync(new FakeTwsOptions { Accounts = [Account] });
            var clock = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
            var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);
            var settings = new IbSessionSettings("127.0.0.1", server.Port, 7, Account, Wait, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), Wait, 1);
            var machine = new IbConnectionStateMachine(TimeSpan.Zero, [], TimeZoneInfo.Utc);
            var rig = new Rig(server, new IbSession(settings, client, machine, clock, NullLogger<IbSession>.Instance), clock);
            rig._run = rig.Session.RunAsync(rig._stop.Token);
            await Eventually.Until(() => rig.Session.Connections > 0 && rig.Session.Client.IsConnected, "the session to connect to the fake",
                TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(5));

            return rig;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(Wait);
            await Session.DisposeAsync();
            await Server.DisposeAsync();
            _stop.Dispose();
        }
    }

    private static Task<IReadOnlyList<TwsEvent>> PositionsAsync(IbSession session, Func<TwsEvent, bool> isEnd) =>
        session.CollectAsync(TwsRequests.ReqPositions(), e => e is PositionEvent, isEnd, Wait, "IB positions", CancellationToken.None);

    [Fact]
    public async Task CollectAsync_AnswerWithEndMarker_ReturnsTheItemsWithoutTheMarker()
    {
        await using var rig = await Rig.StartAsync();
        rig.Server.SetPosition(Account, "XAUUSD", 3m, 2350.0);

        var items = await PositionsAsync(rig.Session, e => e is PositionEndEvent).WaitAsync(Wait);

        items.ShouldHaveSingleItem().ShouldBeOfType<PositionEvent>().Position.ShouldBe(3m);
    }

    [Fact]
    public async Task CollectAsync_NoEndMarker_TimesOutOnTheSessionClock_AsUnknownNotEmpty()
    {
        await using var rig = await Rig.StartAsync();
        rig.Server.SetPosition(Account, "XAUUSD", 3m, 2350.0);
        var events = new List<TwsEvent>();
        var positionEnd = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        rig.Session.EventReceived += e =>
        {
            if (e is PositionEndEvent)
            {
                positionEnd.TrySetResult();
            }
        };

        var pending = PositionsAsync(rig.Session, _ => false);
        await positionEnd.Task.WaitAsync(Wait); // the whole answer was seen, yet the query waits for its (absent) marker
        pending.IsCompleted.ShouldBeFalse();
        rig.Clock.Advance(Wait);

        var error = await Should.ThrowAsync<TimeoutException>(pending.WaitAsync(Wait));
        error.Message.ShouldBe("IB positions: no complete answer within 5 s (1 items so far): unknown, not empty");
    }

    [Fact]
    public async Task CollectAsync_LinkLostBeforeTheEndMarker_FailsAsUnknownNotEmpty()
    {
        await using var rig = await Rig.StartAsync();

        var pending = PositionsAsync(rig.Session, _ => false);
        await rig.Server.WaitForRequestAsync(61, Wait);
        await rig.Server.DropAllConnectionsAsync();

        var error = await Should.ThrowAsync<TimeoutException>(pending.WaitAsync(Wait));
        error.Message.ShouldStartWith("IB positions: the link went down before the answer was complete (0 items so far)");
    }
}
