using System.Net;
using System.Net.Sockets;
using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>Handshake, ready detection, connect failures, disconnects, reconnects and the heartbeat — against <see cref="FakeTwsServer"/> on 127.0.0.1.</summary>
public sealed class ClientConnectionTests
{
    [Theory]
    [InlineData(HandshakeOrder.ManagedAccountsFirst)]
    [InlineData(HandshakeOrder.NextValidIdFirst)]
    public async Task Connect_BecomesReadyOnlyAfterBothNextValidIdAndManagedAccounts_InEitherOrder(HandshakeOrder order)
    {
        await using var h = await ClientTestHarness.StartAsync(new FakeTwsOptions
        {
            HandshakeOrder = order, FirstNextValidId = 1000, Accounts = ["DU1234567", "DU7654321"],
        });

        h.Client.IsConnected.ShouldBeTrue();
        var connected = await h.WaitForAsync<ConnectedEvent>();
        (connected.ServerVersion, connected.ConnectionTime.Length > 0, connected.NextValidOrderId).ShouldBe((176, true, 1000));
        connected.ManagedAccounts.ShouldBe(["DU1234567", "DU7654321"]);
        h.Client.ConnectionInfo.ShouldBe(connected);

        // The ConnectedEvent comes after both handshake messages in the stream.
        var events = h.Events.ToList();
        var readyAt = events.IndexOf(connected);
        events.FindIndex(e => e is NextValidIdEvent).ShouldBeLessThan(readyAt);
        events.FindIndex(e => e is ManagedAccountsEvent).ShouldBeLessThan(readyAt);

        // startApi arrived exactly as 71|2|clientId|"".
        var startApi = await h.Server.WaitForRequestAsync(71, ClientTestHarness.Wait);
        startApi.Fields.ShouldBe(["71", "2", "7", ""]);
        h.Client.NextOrderId().ShouldBe(1000);
        h.Client.NextOrderId().ShouldBe(1001);
    }

    [Fact]
    public async Task Connect_FarmNoticesArriveAsErrorEvents_AfterReady()
    {
        await using var h = await ClientTestHarness.StartAsync();
        var notices = await h.WaitForCountAsync<ErrorEvent>(3, e => e.IsSystemNotice);
        notices.Select(n => n.Code).ShouldBe([2104, 2106, 2158], ignoreOrder: true);
        notices.ShouldAllBe(n => n.IsWarningOrInfo);
    }

    [Fact]
    public async Task Connect_ClientIdInUse_ThrowsClientIdInUseException_AndAnotherIdThenWorks()
    {
        await using var first = await ClientTestHarness.StartAsync();
        await using var second = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);

        var ex = await Should.ThrowAsync<ClientIdInUseException>(() =>
            second.ConnectAsync("127.0.0.1", first.Server.Port, 7, ClientTestHarness.Wait, CancellationToken.None));
        (ex.ClientId, ex.Failure).ShouldBe((7, TwsConnectFailure.ClientIdInUse));
        second.State.ShouldBe(TwsLinkState.Disconnected);

        var ok = await second.ConnectAsync("127.0.0.1", first.Server.Port, 8, ClientTestHarness.Wait, CancellationToken.None);
        ok.ServerVersion.ShouldBe(176);
        first.Client.IsConnected.ShouldBeTrue();
        await second.DisconnectAsync();
    }

    [Theory]
    [InlineData(187)]
    [InlineData(157)]
    public async Task Connect_ServerVersionOtherThan176_IsRejectedWithATypedError(int serverVersion)
    {
        // A scripted server that answers the handshake with another version (as a TWS with a different range would).
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var hello = new byte[17];
            var read = 0;
            while (read < hello.Length)
            {
                read += await socket.ReceiveAsync(hello.AsMemory(read));
            }

            await socket.SendAsync(WireTestFrames.Framed($"{serverVersion}|20260501 12:00:00 EST"));
            var rest = new byte[64];
            return await socket.ReceiveAsync(rest); // 0 = the client hung up without sending startApi
        });
        await using var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);

        var ex = await Should.ThrowAsync<UnsupportedServerVersionException>(() => client.ConnectAsync("127.0.0.1", port, 7, ClientTestHarness.Wait, CancellationToken.None));
        (ex.ServerVersion, ex.Failure).ShouldBe((serverVersion, TwsConnectFailure.UnsupportedServerVersion));
        ex.Message.ShouldContain("must be 176");
        client.State.ShouldBe(TwsLinkState.Disconnected);
        (await server).ShouldBe(0);
    }

    [Fact]
    public async Task Connect_ServerWhoseMaxIsBelowOurMin_ClosesTheSocket_ReportedAsClosedDuringHandshake()
    {
        await using var h = await ClientTestHarness.StartAsync(new FakeTwsOptions { ServerVersion = 170 }, connect: false);
        var ex = await Should.ThrowAsync<TwsConnectionException>(() => h.ConnectAsync());
        ex.Failure.ShouldBe(TwsConnectFailure.ClosedDuringHandshake);
        h.Client.State.ShouldBe(TwsLinkState.Disconnected);
    }

    [Fact]
    public async Task Connect_NothingListening_ThrowsSocketError()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);

        var ex = await Should.ThrowAsync<TwsConnectionException>(() => client.ConnectAsync("127.0.0.1", port, 7, ClientTestHarness.Wait, CancellationToken.None));
        ex.Failure.ShouldBe(TwsConnectFailure.SocketError);
        client.State.ShouldBe(TwsLinkState.Disconnected);
    }

    [Fact]
    public async Task Connect_ServerThatNeverAnswers_TimesOut_AndConnectCanBeRetried()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = listener.AcceptSocketAsync();
        await using var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);

        var ex = await Should.ThrowAsync<TwsConnectionException>(() => client.ConnectAsync("127.0.0.1", port, 7, TimeSpan.FromMilliseconds(300), CancellationToken.None));
        ex.Failure.ShouldBe(TwsConnectFailure.Timeout);
        using var silent = await accepted;

        // The handshake bytes did arrive: "API\0" + framed "v176..176".
        var buffer = new byte[17];
        var read = 0;
        while (read < buffer.Length)
        {
            read += await silent.ReceiveAsync(buffer.AsMemory(read));
        }

        buffer.ShouldBe(TwsRequests.Handshake());
        client.State.ShouldBe(TwsLinkState.Disconnected);
    }

    [Fact]
    public async Task Connect_WhileConnected_IsRefused()
    {
        await using var h = await ClientTestHarness.StartAsync();
        await Should.ThrowAsync<InvalidOperationException>(() => h.ConnectAsync());
        h.Client.IsConnected.ShouldBeTrue();
    }

    [Fact]
    public async Task Send_WhileDisconnected_ThrowsNotConnected()
    {
        await using var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);
        var ex = Should.Throw<TwsNotConnectedException>(() => client.Send(TwsRequests.ReqCurrentTime()));
        ex.State.ShouldBe(TwsLinkState.Disconnected);
        Should.Throw<InvalidOperationException>(() => client.NextOrderId()).Message.ShouldContain("nextValidId");
    }

    [Fact]
    public async Task DroppedSocket_ReportsDisconnected_AndConnectAsyncWorksAgain_WithOrderIdsContinuing()
    {
        await using var h = await ClientTestHarness.StartAsync(new FakeTwsOptions { FirstNextValidId = 50 });
        var used = new[] { h.Client.NextOrderId(), h.Client.NextOrderId(), h.Client.NextOrderId() };
        used.ShouldBe([50, 51, 52]);

        await h.Server.DropAllConnectionsAsync();
        var down = await h.WaitForAsync<DisconnectedEvent>();
        down.Reason.ShouldBe(TwsDisconnectReason.RemoteClosed);
        h.Client.IsConnected.ShouldBeFalse();
        Should.Throw<TwsNotConnectedException>(() => h.Client.Send(TwsRequests.ReqCurrentTime()));

        var again = await h.ConnectAsync();
        h.Client.IsConnected.ShouldBeTrue();
        (await h.WaitForCountAsync<ConnectedEvent>(2)).Count.ShouldBe(2);
        again.NextValidOrderId.ShouldBeGreaterThanOrEqualTo(53);
        h.Client.NextOrderId().ShouldBeGreaterThanOrEqualTo(53);

        // The new session works end to end.
        h.Client.Send(TwsRequests.ReqCurrentTime());
        await h.WaitForAsync<CurrentTimeEvent>();
    }

    [Fact]
    public async Task RestartWithLowerNextValidId_KeepsOurIds_AndRecordsTheRollback()
    {
        await using var h = await ClientTestHarness.StartAsync(new FakeTwsOptions { FirstNextValidId = 100 });
        for (var i = 0; i < 5; i++)
        {
            h.Client.NextOrderId();
        }

        await h.Server.SimulateRestartAsync(nextValidId: 3);
        await h.WaitForAsync<DisconnectedEvent>();
        await h.ConnectAsync();

        var rollback = await h.WaitForAsync<OrderIdRolledBackEvent>();
        (rollback.Received, rollback.Kept).ShouldBe((3, 105));
        h.Client.OrderIdRollbacks.ShouldBe(1);
        h.Client.NextOrderId().ShouldBe(105);
        (await h.WaitForCountAsync<ConnectedEvent>(2))[1].NextValidOrderId.ShouldBe(105);
    }

    [Fact]
    public async Task NextOrderId_IsUniqueAndIncreasing_UnderConcurrency()
    {
        await using var h = await ClientTestHarness.StartAsync(new FakeTwsOptions { FirstNextValidId = 1 });
        var ids = new System.Collections.Concurrent.ConcurrentBag<int>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                ids.Add(h.Client.NextOrderId());
            }
        })));
        ids.Count.ShouldBe(8000);
        ids.Distinct().Count().ShouldBe(8000);
        ids.Min().ShouldBe(1);
        ids.Max().ShouldBe(8000);
    }

    [Fact]
    public async Task HalfOpenLink_IsDetectedByTheHeartbeat_AndReportedAsDisconnected()
    {
        await using var h = await ClientTestHarness.StartAsync();
        await h.WaitForAsync<HeartbeatEvent>(e => e.State == TwsLinkState.Connected && e.LastRoundTrip is not null);

        h.Server.GoHalfOpen();
        var down = await h.WaitForAsync<DisconnectedEvent>();
        down.Reason.ShouldBe(TwsDisconnectReason.HeartbeatTimeout);
        h.Client.IsConnected.ShouldBeFalse();
        h.Server.EndHalfOpen();
    }

    [Fact]
    public async Task Heartbeat_KeepsTickingWhileDisconnected_WithTheDowntime()
    {
        await using var h = await ClientTestHarness.StartAsync();
        await h.Server.DropAllConnectionsAsync();
        var down = await h.WaitForAsync<DisconnectedEvent>();
        var ticks = await h.WaitForCountAsync<HeartbeatEvent>(3, e => e.State == TwsLinkState.Disconnected && e.ReceivedAt > down.ReceivedAt);
        ticks[^1].DisconnectedFor!.Value.ShouldBeGreaterThan(ticks[0].DisconnectedFor!.Value);
    }

    [Fact]
    public async Task Heartbeat_TicksBeforeTheFirstConnect()
    {
        await using var h = await ClientTestHarness.StartAsync(connect: false);
        var tick = await h.WaitForAsync<HeartbeatEvent>();
        tick.State.ShouldBe(TwsLinkState.Disconnected);
        tick.DisconnectedFor.ShouldNotBeNull();
    }

    [Fact]
    public async Task Heartbeat_ProbesWithReqCurrentTime_AndMeasuresTheRoundTrip()
    {
        await using var h = await ClientTestHarness.StartAsync();
        var tick = await h.WaitForAsync<HeartbeatEvent>(e => e.LastRoundTrip is not null);
        tick.LastRoundTrip!.Value.ShouldBeLessThan(TimeSpan.FromSeconds(1));
        (await h.Server.WaitForRequestAsync(49, ClientTestHarness.Wait)).Fields.ShouldBe(["49", "1"]);
        h.Client.PriorityMessagesSent.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task DisconnectAsync_EmitsRequested_AndDisposeCompletesTheEventStream()
    {
        var h = await ClientTestHarness.StartAsync();
        await h.Client.DisconnectAsync();
        (await h.WaitForAsync<DisconnectedEvent>()).Reason.ShouldBe(TwsDisconnectReason.Requested);
        await h.DisposeAsync();
        h.Client.Events.Completion.IsCompleted.ShouldBeTrue();
        await Should.ThrowAsync<ObjectDisposedException>(() => h.ConnectAsync());
    }

    [Fact]
    public async Task MalformedAndUnknownServerFrames_AreReported_AndTheConnectionKeepsWorking()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Server.SendRawFrame(7, ["9", "1", "not-a-number"]).ShouldBeTrue();
        h.Server.SendRawFrame(7, ["3", "10", "Submitted"]).ShouldBeTrue();      // orderStatus with 3 of 12 fields
        h.Server.SendRawFrame(7, ["107", "1", "whatever"]).ShouldBeTrue();      // a message id we do not decode
        h.Client.Send(TwsRequests.ReqCurrentTime());

        await h.WaitForAsync<CurrentTimeEvent>();
        // Seen once under heavy load (four builds on two cores): the current time's reply observed before the two decode
        // errors of the frames sent ahead of it. Wait for the second error instead of assuming the events' order.
        await h.WaitForAsync<DecodeErrorEvent>(e => e.MessageId == 3);
        var errors = h.All<DecodeErrorEvent>();
        errors.Select(e => (e.MessageId, e.Kind)).ShouldBe([(9, TwsDecodeErrorKind.BadNumber), (3, TwsDecodeErrorKind.TooFewFields)]);
        (await h.WaitForAsync<UnknownMessageEvent>()).MessageId.ShouldBe(107);
        h.Client.IsConnected.ShouldBeTrue();
    }

    [Fact]
    public async Task BadLengthPrefixFromTheServer_DropsTheLink_AsAFramingError()
    {
        // A scripted server: a correct handshake, then a frame length above 0xFFFFFF.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            async Task ReceiveExactly(int n)
            {
                var buffer = new byte[n];
                var read = 0;
                while (read < n)
                {
                    read += await socket.ReceiveAsync(buffer.AsMemory(read));
                }
            }

            await ReceiveExactly(17); // "API\0" + framed "v176..176"
            await socket.SendAsync(WireTestFrames.Framed("176|20260501 12:00:00 EST"));
            await ReceiveExactly(12); // startApi 71|2|7|
            await socket.SendAsync(WireTestFrames.Framed("15|1|DU1234567").Concat(WireTestFrames.Framed("9|1|1")).ToArray());
            await socket.SendAsync(new byte[] { 0x01, 0x00, 0x00, 0x00, 0x31, 0x00 });
            var rest = new byte[64];
            while (await socket.ReceiveAsync(rest) > 0)
            {
            }
        });
        var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);
        await using var _ = client;
        await client.ConnectAsync("127.0.0.1", port, 7, ClientTestHarness.Wait, CancellationToken.None);

        using var cts = new CancellationTokenSource(ClientTestHarness.Wait);
        DisconnectedEvent? down = null;
        await foreach (var e in client.Events.ReadAllAsync(cts.Token))
        {
            if (e is DisconnectedEvent d)
            {
                down = d;
                break;
            }
        }

        down.ShouldNotBeNull().Reason.ShouldBe(TwsDisconnectReason.FramingError);
        down.Detail.ShouldContain("16777216");
        client.IsConnected.ShouldBeFalse();
        await server; // the client closed its socket
    }

    [Fact]
    public async Task SplitAndCoalescedServerWrites_DecodeTheSame()
    {
        await using var h = await ClientTestHarness.StartAsync(new FakeTwsOptions { SplitWrites = true });
        h.Client.Send(TwsRequests.ReqContractDetails(1, new TwsContract { Symbol = "XAUUSD", SecType = "CMDTY", Exchange = "SMART", Currency = "USD" }));
        (await h.WaitForAsync<ContractDetailsEvent>()).Details.Contract.ConId.ShouldBe(69067924);

        h.Server.SplitWrites = false;
        h.Server.CoalesceWrites = true;
        h.Client.Send(TwsRequests.ReqContractDetails(2, new TwsContract { Symbol = "XAGUSD", SecType = "CMDTY", Exchange = "SMART", Currency = "USD" }));
        h.Client.Send(TwsRequests.ReqCurrentTime());
        (await h.WaitForAsync<ContractDetailsEvent>(e => e.ReqId == 2)).Details.Contract.ConId.ShouldBe(77124483);
        await h.WaitForAsync<CurrentTimeEvent>();
        h.All<DecodeErrorEvent>().ShouldBeEmpty();
    }
}
