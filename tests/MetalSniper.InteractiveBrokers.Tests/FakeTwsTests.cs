using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using MetalSniper.FakeTws;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>
/// Self-tests of the fake TWS with a raw socket client written here (not our client library), against the byte layouts of
/// TWS-PROTOCOL.md §2.1, §4 and the behaviour of §10.
/// </summary>
public sealed class FakeTwsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private static FakeTwsOptions Options(Action<OptionsBuilder>? configure = null)
    {
        var builder = new OptionsBuilder();
        configure?.Invoke(builder);
        return new FakeTwsOptions
        {
            TimeProvider = builder.Clock ?? new FakeTimeProvider(T0),
            WallClock = builder.WallClock ?? TimeProvider.System,
            HandshakeOrder = builder.HandshakeOrder,
            FirstNextValidId = builder.FirstNextValidId,
            DisconnectOnPacingViolation = builder.DisconnectOnPacing,
            FillSlices = builder.FillSlices,
            Accounts = ["DU1234567"],
        };
    }

    private static async Task<FakeTwsRawClient> ReadyClientAsync(FakeTwsServer server, int clientId = 7)
    {
        var client = await FakeTwsRawClient.ConnectAsync(server.Port, clientId);
        await client.WaitForAsync(f => f[0] == "4" && f[3] == "2158", what: "the last farm notice");
        return client;
    }

    private static Task WaitUntilAsync(Func<bool> condition, [CallerArgumentExpression(nameof(condition))] string? what = null) =>
        Eventually.Until(condition, what, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(5));

    private static string Hex(string text) => Convert.ToHexString(Encoding.ASCII.GetBytes(text));

    [Fact]
    public async Task Handshake_ExampleBytes_AnswerVersionTimeAccountsNextIdAndFarmNotices()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await FakeTwsRawClient.OpenAsync(server.Port);

        // §2.1 example: "API\0" + length 9 + "v176..176".
        await client.SendBytesAsync(Convert.FromHexString("41504900" + "00000009" + "763137362E2E313736"));
        await client.ReadVersionReplyAsync();
        client.VersionReplyBytes.ShouldBe(Convert.FromHexString("0000001A" + Hex("176\0") + Hex("20260501 12:00:00 UTC\0")));

        client.StartReading();
        await client.SendBytesAsync(Convert.FromHexString("00000008" + "3731003200370000"));
        await client.WaitForAsync(f => f[0] == "4" && f[3] == "2158");

        var frames = client.Frames;
        Convert.ToHexString(FakeTwsRawClient.Frame(frames[0])).ShouldBe("0000000F" + Hex("15\01\0DU1234567\0"));
        Convert.ToHexString(FakeTwsRawClient.Frame(frames[1])).ShouldBe("00000006" + Hex("9\01\01\0"));
        frames.Skip(2).Select(f => string.Join('|', f)).ShouldBe(
        [
            "4|2|-1|2104|Market data farm connection is OK:usfarm|",
            "4|2|-1|2106|HMDS data farm connection is OK:ushmds|",
            "4|2|-1|2158|Sec-def data farm connection is OK:secdefnj|",
        ]);
        server.ConnectedClientIds.ShouldBe([7]);
        server.Requests.Single().ToString().ShouldBe("71|2|7|");
    }

    [Theory]
    [InlineData("v100..193", "176")]
    [InlineData("v176", "176")]
    [InlineData("v157..178", "176")]
    [InlineData("v176..176 +PACEAPI", "176")]
    [InlineData("v176..176\0", "176")]
    [InlineData("v100..150", "150")]
    public async Task Handshake_VersionString_NegotiatesMinOfClientMaxAnd176(string versionText, string expected)
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await FakeTwsRawClient.ConnectAsync(server.Port, clientId: null, versionText);

        client.VersionReply[0].ShouldBe(expected);
        client.VersionReply[1].ShouldBe("20260501 12:00:00 UTC");
    }

    [Fact]
    public async Task Handshake_ClientMinimumAbove176_IsClosedWithoutReply()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await FakeTwsRawClient.OpenAsync(server.Port);
        await client.SendHandshakeAsync("v177..180");

        await Should.ThrowAsync<EndOfStreamException>(client.ReadVersionReplyAsync());
    }

    [Fact]
    public async Task Handshake_ClientMinimumAbove176_WithAnswerOption_GetsTheServerVersionAnyway()
    {
        await using var server = await FakeTwsServer.StartAsync(new FakeTwsOptions { ServerVersion = 170, AnswerBelowClientMinimum = true });
        await using var client = await FakeTwsRawClient.ConnectAsync(server.Port, clientId: null, "v176..176");

        client.VersionReply[0].ShouldBe("170");
    }

    [Fact]
    public async Task Handshake_NextValidIdFirstOption_SendsNextValidIdBeforeManagedAccounts()
    {
        await using var server = await FakeTwsServer.StartAsync(Options(o =>
        {
            o.HandshakeOrder = HandshakeOrder.NextValidIdFirst;
            o.FirstNextValidId = 42;
        }));
        await using var client = await ReadyClientAsync(server);

        string.Join('|', client.Frames[0]).ShouldBe("9|1|42");
        string.Join('|', client.Frames[1]).ShouldBe("15|1|DU1234567");
    }

    [Fact]
    public async Task DuplicateClientId_GetsError326_ThenTheSocketCloses()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var first = await ReadyClientAsync(server, clientId: 7);
        await using var second = await FakeTwsRawClient.ConnectAsync(server.Port, clientId: 7);

        var error = await second.WaitForErrorAsync(326);
        error[2].ShouldBe("-1");
        await second.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        second.Frames.ShouldNotContain(f => f[0] == "9");

        await using var third = await ReadyClientAsync(server, clientId: 8);
        server.ConnectedClientIds.Order().ShouldBe([7, 8]);
    }

    [Fact]
    public async Task SplitWrites_FramesArriveInPieces_AndStillDecode()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        server.SplitWrites = true;
        await using var client = await ReadyClientAsync(server);

        await client.SendAsync("49", "1");
        var time = await client.WaitForAsync("49");

        time[2].ShouldBe(T0.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        client.Chunks.ShouldContain(c => c.FramesCompleted == 0, "some reads must end inside a frame");
        client.Frames.Count(f => f[0] == "4").ShouldBe(3);
    }

    [Fact]
    public async Task CoalesceWrites_SeveralFramesArriveInOneRead()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        server.CoalesceWrites = true;
        await using var client = await ReadyClientAsync(server);

        client.Chunks.ShouldContain(c => c.FramesCompleted >= 2);
        client.Frames.Count.ShouldBe(5);
    }

    [Fact]
    public async Task Requests_TooFewFieldsOrBadNumbers_GetError320Or321_UnknownIdsAreSkipped()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);

        await client.SendAsync("9", "8", "5");
        var tooFew = await client.WaitForErrorAsync(320);
        tooFew[2].ShouldBe("5");

        await client.SendAsync("62", "1", "x12", "All", "NetLiquidation");
        (await client.WaitForErrorAsync(321))[4].ShouldContain("x12");

        var before = client.Count;
        await client.SendAsync("999", "1", "whatever");
        await client.SendAsync("49", "1");
        await client.WaitForAsync("49", from: before);
        client.Frames.Skip(before).Select(f => f[0]).ShouldBe(["49"]);
        server.Requests.ShouldContain(r => r.MessageId == 999);
        server.InternalErrors.ShouldBeEmpty();
    }

    [Fact]
    public async Task ContractDetails_StoqeyStyleEmptyNumericFields_ResolveXauusd_UnknownOrWrongExchangeGet200()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);

        // Captured from @stoqey/ib (§9.4): empty conId, strike and includeExpired.
        await client.SendAsync("9|8|11||XAUUSD|CMDTY|||||SMART||USD||||||".Split('|')[..19]);
        var details = await client.WaitForAsync("10");
        await client.WaitForAsync("52", 2, "11");

        details.Length.ShouldBe(40);
        details[1].ShouldBe("11");
        details[2].ShouldBe("XAUUSD");
        details[3].ShouldBe("CMDTY");
        details[12].ShouldBe("69067924");
        details[16].ShouldBe("SMART,IBCMDTY");

        await client.SendAsync("9|8|12|0|XAUUSD|CMDTY||0.0|||IDEALPRO||USD|||0|||".Split('|')[..19]);
        (await client.WaitForErrorAsync(200))[2].ShouldBe("12");
        await client.SendAsync("9|8|13|0|NOPE|STK||0.0|||SMART||USD|||0|||".Split('|')[..19]);
        await client.WaitForAsync(f => f[0] == "4" && f[2] == "13" && f[3] == "200");
    }

    [Fact]
    public async Task MarketData_Subscription_GetsParamsTypeAndTicks_UntilCancelled_SnapshotEnds()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);

        // Official client's reqMktData at 176 (§4.1).
        await client.SendAsync("1|11|1001|0|AAPL|STK||0.0|||SMART|NASDAQ|USD|||0||0|0|".Split('|')[..20]);
        (await client.WaitForAsync("81")).ShouldBe(["81", "1001", "0.01", "SMART", "3"]);
        (await client.WaitForAsync("58")).ShouldBe(["58", "1", "1001", "1"]);

        var mark = client.Count;
        server.SetQuote("AAPL", 150.0, 150.1, last: 150.05, size: 300m);
        await client.WaitForAsync(f => f[0] == "2" && f[3] == "5", from: mark);
        client.Frames.Skip(mark).Select(f => string.Join('|', f)).ShouldBe(
        [
            "1|6|1001|1|150|300|0", "2|6|1001|0|300",
            "1|6|1001|2|150.1|300|0", "2|6|1001|3|300",
            "1|6|1001|4|150.05|300|0", "2|6|1001|5|300",
        ]);

        await client.SendAsync("2", "2", "1001");
        await server.WaitForRequestAsync(r => r.MessageId == 2, TimeSpan.FromSeconds(5));
        var afterCancel = client.Count;
        server.SetQuote("AAPL", 151.0, 151.1);
        await client.SendAsync("1|11|1002|0|AAPL|STK||0.0|||SMART|NASDAQ|USD|||0||1|0|".Split('|')[..20]);
        await client.WaitForAsync("57", 2, "1002");
        client.Frames.Skip(afterCancel).ShouldNotContain(f => f[0] == "1" && f[2] == "1001");
        client.Frames.Skip(afterCancel).ShouldContain(f => f[0] == "1" && f[2] == "1002" && f[3] == "1" && f[4] == "151");
    }

    [Fact]
    public async Task OrderLifecycle_LimitRests_ModifyFills_CancelGoesPendingThenCancelled_UnknownCancelGets10147()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        server.SetQuote("XAUUSD", 2350.0, 2350.5);
        FakeTwsOrders.OfficialStkLmt.Split('|')[..115].Length.ShouldBe(115);

        await client.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 1, "LMT", lmtPrice: 2300, orderRef: "ref-1"));
        var open = await client.WaitForAsync("5", 1, "1");
        var status = await client.WaitForAsync("3", 1, "1");
        open.Length.ShouldBe(128);
        (open[3], open[13], open[14], open[15], open[16], open[23], open[24], open[86]).ShouldBe(("XAUUSD", "BUY", "1", "LMT", "2300", "ref-1", "7", "Submitted"));
        var permId = open[25];
        string.Join('|', status).ShouldBe($"3|1|Submitted|0|1|0|{permId}|0|0|7||0");

        var mark = client.Count;
        await client.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 1, "LMT", lmtPrice: 2351, orderRef: "ref-1"));
        var exec = await client.WaitForAsync("11", from: mark);
        var filled = await client.WaitForAsync(f => f[0] == "3" && f[2] == "Filled", from: mark);
        var commission = await client.WaitForAsync("59", from: mark);
        client.Frames.Skip(mark).First(f => f[0] == "5")[16].ShouldBe("2351");
        exec.Length.ShouldBe(31);
        (exec[1], exec[2], exec[3], exec[4], exec[18], exec[19], exec[20], exec[21], exec[22], exec[24], exec[25], exec[26])
            .ShouldBe(("-1", "1", "69067924", "XAUUSD", "BOT", "1", "2350.5", permId, "7", "1", "2350.5", "ref-1"));
        exec[15].ShouldBe("20260501 12:00:00 UTC");
        string.Join('|', filled).ShouldBe($"3|1|Filled|1|0|2350.5|{permId}|0|2350.5|7||0");
        (commission[2], commission[3], commission[4]).ShouldBe((exec[14], "1", "USD"));

        await client.SendAsync(FakeTwsOrders.Xauusd(2, "BUY", 1, "LMT", lmtPrice: 2000));
        await client.WaitForAsync("3", 1, "2");
        mark = client.Count;
        await client.SendAsync("4", "1", "2", "");
        await client.WaitForErrorAsync(202, mark);
        client.Frames.Skip(mark).Select(f => f[0] == "3" ? f[2] : f[0] == "4" ? $"{f[2]}:{f[3]}" : f[0])
            .ShouldBe(["PendingCancel", "Cancelled", "2:202"]);

        await client.SendAsync("4", "1", "99", "");
        (await client.WaitForErrorAsync(10147))[2].ShouldBe("99");
        await client.SendAsync("4", "1", "1", "");
        (await client.WaitForErrorAsync(10148))[2].ShouldBe("1");
        server.Positions.Single().ShouldBe(new FakePosition("DU1234567", "XAUUSD", 69067924, 1m, 2350.5, 0));
    }

    [Fact]
    public async Task FillSlices_MarketOrderFillsInThreeExecutions_WithCumulativeQuantities()
    {
        await using var server = await FakeTwsServer.StartAsync(Options(o => o.FillSlices = 3));
        await using var client = await ReadyClientAsync(server);
        server.SetQuote("XAUUSD", 2350.0, 2350.5);

        await client.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 3, "MKT"));
        await client.WaitForAsync(f => f[0] == "3" && f[2] == "Filled");

        client.Frames.Where(f => f[0] == "11").Select(f => (f[19], f[24])).ShouldBe([("1", "1"), ("1", "2"), ("1", "3")]);
        client.Frames.Where(f => f[0] == "3").Select(f => $"{f[2]}:{f[3]}/{f[4]}")
            .ShouldBe(["Submitted:0/3", "Submitted:1/2", "Submitted:2/1", "Filled:3/0"]);
        client.Frames.Where(f => f[0] == "11").Select(f => f[14]).Distinct().Count().ShouldBe(3);
    }

    [Fact]
    public async Task FillWhileDisconnected_IsRecoveredThroughReqExecutions_AfterReconnect()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        server.SetQuote("XAUUSD", 2350.0, 2350.5);
        await using (var before = await ReadyClientAsync(server))
        {
            await before.SendAsync(FakeTwsOrders.Xauusd(3, "BUY", 1, "LMT", lmtPrice: 2340, orderRef: "intent-77"));
            await before.WaitForAsync("3", 1, "3");
            await server.DropAllConnectionsAsync();
            await before.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        }

        server.SetQuote("XAUUSD", 2339.0, 2339.5);
        server.Executions.Single().Price.ShouldBe(2339.5);

        await using var after = await ReadyClientAsync(server);
        await after.SendAsync("5", "1");
        await after.WaitForAsync("53");
        after.Frames.ShouldNotContain(f => f[0] == "5");

        await after.SendAsync("7|3|1003|0||||||".Split('|')[..10]);
        var exec = await after.WaitForAsync("11");
        await after.WaitForAsync("55", 2, "1003");
        (exec[1], exec[2], exec[20], exec[26]).ShouldBe(("1003", "3", "2339.5", "intent-77"));
        after.Frames.ShouldContain(f => f[0] == "59" && f[2] == exec[14]);

        await after.SendAsync("61", "1");
        var position = await after.WaitForAsync("61");
        (position[2], position[3], position[14], position[15]).ShouldBe(("DU1234567", "69067924", "1", "2339.5"));
        await after.WaitForAsync("62");
    }

    [Fact]
    public async Task SimulatedRestart_RollsBackNextValidId_KeepsOpenOrders_AndAReusedIdOfAnotherOrderGets103()
    {
        await using var server = await FakeTwsServer.StartAsync(Options(o => o.FirstNextValidId = 5));
        server.SetQuote("XAUUSD", 2350.0, 2350.5);
        await using (var before = await ReadyClientAsync(server))
        {
            await before.SendAsync(FakeTwsOrders.Xauusd(5, "BUY", 1, "LMT", lmtPrice: 2300));
            await before.WaitForAsync("3", 1, "5");
        }

        await server.SimulateRestartAsync(nextValidId: 1);
        await using var after = await ReadyClientAsync(server);

        after.Frames.ShouldContain(f => string.Join('|', f) == "9|1|1");
        await after.SendAsync("5", "1");
        await after.WaitForAsync("53");
        after.Frames.Where(f => f[0] == "5").Select(f => (f[1], f[86])).ShouldBe([("5", "Submitted")]);

        await after.SendAsync(FakeTwsOrders.Xauusd(5, "SELL", 1, "LMT", lmtPrice: 2400));
        (await after.WaitForErrorAsync(103))[2].ShouldBe("5");
        await after.SendAsync(FakeTwsOrders.Xauusd(1, "SELL", 1, "LMT", lmtPrice: 2400));
        (await after.WaitForAsync("3", 1, "1"))[2].ShouldBe("Submitted");
    }

    [Fact]
    public async Task Pacing_MoreThan50MessagesInOneSecond_GetsError100_AndOptionallyDisconnects()
    {
        var frozen = new FakeTimeProvider(T0);
        await using var server = await FakeTwsServer.StartAsync(Options(o =>
        {
            o.WallClock = frozen;
            o.DisconnectOnPacing = true;
        }));
        await using var client = await ReadyClientAsync(server);

        for (var i = 0; i < 50; i++)
        {
            await client.SendAsync("49", "1");
        }

        await WaitUntilAsync(() => client.Frames.Count(f => f[0] == "49") == 50);
        client.Frames.ShouldNotContain(f => f[0] == "4" && f[3] == "100");

        await client.SendAsync("49", "1");
        var error = await client.WaitForErrorAsync(100);
        error[4].ShouldContain("max=50");
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task StopOrders_TriggerWhenABarCrosses_FillAtTheStop_OrAtTheOpenOnAGap()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        server.SetQuote("XAUUSD", 2350.0, 2350.5);

        await client.SendAsync(FakeTwsOrders.Xauusd(1, "SELL", 1, "STP", auxPrice: 2340));
        await client.SendAsync(FakeTwsOrders.Xauusd(2, "SELL", 1, "STP", auxPrice: 2330));
        (await client.WaitForAsync("3", 1, "1"))[2].ShouldBe("PreSubmitted");
        (await client.WaitForAsync("3", 1, "2"))[2].ShouldBe("PreSubmitted");

        server.LoadBars("XAUUSD",
        [
            new FakeBar(T0, 2345, 2346, 2338, 2341),
            new FakeBar(T0.AddMinutes(15), 2320, 2325, 2318, 2322),
        ]);
        server.StepBar("XAUUSD").ShouldBeTrue();
        server.FindOrder(7, 1)!.AvgFillPrice.ShouldBe(2340);
        server.FindOrder(7, 2)!.Status.ShouldBe("PreSubmitted");
        server.GetQuote("XAUUSD").ShouldBe((2341.0, 2341.0, 2341.0));

        server.StepBar("XAUUSD").ShouldBeTrue();
        server.FindOrder(7, 2)!.AvgFillPrice.ShouldBe(2320);
        server.StepBar("XAUUSD").ShouldBeFalse();
        await client.WaitForAsync(f => f[0] == "3" && f[1] == "2" && f[2] == "Filled");
        server.Positions.Single().Quantity.ShouldBe(-2m);
    }

    [Fact]
    public async Task Bracket_ChildrenWaitForTransmit_ParentFillActivatesThem_TakeProfitFillCancelsStopLoss()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        server.SetQuote("XAUUSD", 2350.0, 2350.5);

        await client.SendAsync(FakeTwsOrders.Xauusd(10, "BUY", 1, "LMT", lmtPrice: 2345, transmit: false));
        await client.SendAsync(FakeTwsOrders.Xauusd(11, "SELL", 1, "LMT", lmtPrice: 2360, transmit: false, parentId: 10));
        await server.WaitForRequestAsync(r => r.MessageId == 3 && r.Fields[1] == "11", TimeSpan.FromSeconds(5));
        await server.FlushAsync();
        server.SentFrames.ShouldNotContain(f => f.MessageId == 5 || f.MessageId == 3);
        server.FindOrder(7, 10)!.Status.ShouldBe("Untransmitted");

        await client.SendAsync(FakeTwsOrders.Xauusd(12, "SELL", 1, "STP", auxPrice: 2330, transmit: true, parentId: 10));
        await client.WaitForAsync("3", 1, "12");
        client.Frames.Where(f => f[0] == "3").Select(f => $"{f[1]}:{f[2]}").ShouldBe(["10:Submitted", "11:PreSubmitted", "12:PreSubmitted"]);
        client.Frames.Where(f => f[0] == "5").Select(f => f[58]).ShouldBe(["0", "10", "10"]);

        var mark = client.Count;
        server.SetQuote("XAUUSD", 2344.0, 2344.5);
        await client.WaitForAsync(f => f[0] == "3" && f[1] == "11" && f[2] == "Submitted", from: mark);
        server.FindOrder(7, 10)!.Status.ShouldBe("Filled");
        server.FindOrder(7, 12)!.Status.ShouldBe("PreSubmitted");

        server.SetQuote("XAUUSD", 2361.0, 2361.5);
        await client.WaitForAsync(f => f[0] == "4" && f[2] == "12" && f[3] == "202");
        server.FindOrder(7, 11)!.AvgFillPrice.ShouldBe(2361);
        server.FindOrder(7, 12)!.Status.ShouldBe("Cancelled");
        server.Positions.Single().Quantity.ShouldBe(0m);
        server.Positions.Single().RealizedPnl.ShouldBe(16.5, 1e-9);
    }

    [Fact]
    public async Task OcaGroup_AFillCancelsTheOtherMembers()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        server.SetQuote("XAUUSD", 2350.0, 2350.5);

        await client.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 1, "LMT", lmtPrice: 2340, ocaGroup: "oca-1"));
        await client.SendAsync(FakeTwsOrders.Xauusd(2, "BUY", 1, "STP", auxPrice: 2360, ocaGroup: "oca-1"));
        await client.WaitForAsync("3", 1, "2");
        server.SetQuote("XAUUSD", 2339.0, 2339.5);

        await client.WaitForAsync(f => f[0] == "4" && f[2] == "2" && f[3] == "202");
        server.FindOrder(7, 1)!.Status.ShouldBe("Filled");
        server.FindOrder(7, 2)!.Status.ShouldBe("Cancelled");
    }

    [Fact]
    public async Task Rejects_NextOrderAndRule_GetError201AndCancelled_OrderSizeZeroGets434()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        server.RejectNextOrder("Insufficient margin");
        server.SetRejectRule(o => o.TotalQuantity > 100 ? "Size above the fat-finger limit" : null);

        await client.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 1, "LMT", lmtPrice: 2300));
        var rejected = await client.WaitForErrorAsync(201);
        (rejected[2], rejected[4]).ShouldBe(("1", "Order rejected - reason:Insufficient margin"));
        (await client.WaitForAsync("3", 1, "1"))[2].ShouldBe("Cancelled");

        await client.SendAsync(FakeTwsOrders.Xauusd(2, "BUY", 500, "LMT", lmtPrice: 2300));
        await client.WaitForAsync(f => f[0] == "4" && f[2] == "2" && f[3] == "201");
        await client.SendAsync(FakeTwsOrders.Xauusd(3, "BUY", 0, "LMT", lmtPrice: 2300));
        (await client.WaitForErrorAsync(434))[2].ShouldBe("3");
        await client.SendAsync(FakeTwsOrders.Xauusd(4, "BUY", 5, "LMT", lmtPrice: 2300));
        (await client.WaitForAsync("3", 1, "4"))[2].ShouldBe("Submitted");
    }

    [Fact]
    public async Task GlobalCancel_CancelsEveryClientsOrders()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var one = await ReadyClientAsync(server, 1);
        await using var two = await ReadyClientAsync(server, 2);
        server.SetQuote("XAUUSD", 2350.0, 2350.5);
        await one.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 1, "LMT", lmtPrice: 2300));
        await two.SendAsync(FakeTwsOrders.Xauusd(1, "SELL", 1, "LMT", lmtPrice: 2400));
        await one.WaitForAsync("3", 1, "1");
        await two.WaitForAsync("3", 1, "1");

        await one.SendAsync("58", "1");

        await one.WaitForAsync(f => f[0] == "3" && f[2] == "Cancelled");
        await two.WaitForAsync(f => f[0] == "3" && f[2] == "Cancelled");
        server.Orders.Select(o => o.Status).ShouldAllBe(s => s == "Cancelled");
    }

    [Fact]
    public async Task OpenOrders_NoneDeltaNeutralVariant_Has136Fields_AndCompletedOrdersHave97()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        server.OpenOrderDeltaNeutralNone = true;
        server.SetQuote("XAUUSD", 2350.0, 2350.5);

        await client.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 1, "LMT", lmtPrice: 2300, orderRef: "a"));
        var open = await client.WaitForAsync("5", 1, "1");
        open.Length.ShouldBe(136);
        (open[62], open[68], open[94]).ShouldBe(("None", "?", "Submitted"));

        await client.SendAsync(FakeTwsOrders.Xauusd(2, "BUY", 1, "MKT", orderRef: "b"));
        await client.WaitForAsync(f => f[0] == "3" && f[1] == "2" && f[2] == "Filled");
        await client.SendAsync("4", "1", "1", "");
        await client.WaitForErrorAsync(202);

        await client.SendAsync("99", "1");
        await client.WaitForAsync("102");
        var completed = client.Frames.Where(f => f[0] == "101").ToList();
        completed.Select(f => f.Length).ShouldAllBe(n => n == 97);
        completed.Select(f => (f[22], f[73], f[83], f[91])).ShouldBe([("b", "Filled", "1", "Filled Size: 1"), ("a", "Cancelled", "0", "Cancelled by Trader")]);
        completed[0][90].ShouldBe("20260501 12:00:00 UTC");
    }

    [Fact]
    public async Task HistoricalData_KeepUpToDate_AggregatesStepsToTheRequestedBarSize_AndRealTimeBarsFollow()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        server.LoadBars("XAUUSD", Enumerable.Range(0, 6).Select(i =>
            new FakeBar(T0.AddMinutes(i), 2350 + i, 2351 + i, 2349 + i, 2350.5 + i)));
        server.StepBar("XAUUSD");
        server.StepBar("XAUUSD");

        await client.SendAsync("20|1005|0|XAUUSD|CMDTY||0.0|||SMART||USD|||0||5 mins|1 D|1|MIDPOINT|1|1|".Split('|')[..23]);
        await client.SendAsync("50|3|1006|0|XAUUSD|CMDTY||0.0|||SMART||USD|||5|MIDPOINT|0|".Split('|')[..19]);
        var history = await client.WaitForAsync("17");
        await server.WaitForRequestAsync(50, TimeSpan.FromSeconds(5));
        string.Join('|', history).ShouldBe(
            "17|1005|20260430 12:05:00 UTC|20260501 12:05:00 UTC|1|20260501 12:00:00 UTC|2350|2352|2349|2351.5|-1|-1|-1");

        var mark = client.Count;
        (await server.StepAllAsync(4)).ShouldBe(4);
        await WaitUntilAsync(() => client.Frames.Skip(mark).Count(f => f[0] is "90" or "50") == 8, "4 updates and 4 real-time bars");
        var updates = client.Frames.Skip(mark).Where(f => f[0] == "90").Select(f => string.Join('|', f)).ToList();
        updates.ShouldBe(
        [
            "90|1005|-1|20260501 12:00:00 UTC|2350|2352.5|2353|2349|-1|-1",
            "90|1005|-1|20260501 12:00:00 UTC|2350|2353.5|2354|2349|-1|-1",
            "90|1005|-1|20260501 12:00:00 UTC|2350|2354.5|2355|2349|-1|-1",
            "90|1005|-1|20260501 12:05:00 UTC|2355|2355.5|2356|2354|-1|-1",
        ]);
        client.Frames.Skip(mark).Where(f => f[0] == "50").Select(f => f[3])
            .ShouldBe(Enumerable.Range(2, 4).Select(i => T0.AddMinutes(i).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)));
        server.GetQuote("XAUUSD").Last.ShouldBe(2355.5);
    }

    [Fact]
    public async Task Account_SummaryAndUpdates_ReflectAFill()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        server.SetQuote("XAUUSD", 2350.0, 2350.5);
        await client.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 1, "MKT"));
        await client.WaitForAsync(f => f[0] == "3" && f[2] == "Filled");

        await client.SendAsync("62", "1", "1004", "All", "NetLiquidation,TotalCashValue,BuyingPower");
        await client.WaitForAsync("64", 2, "1004");
        var summary = client.Frames.Where(f => f[0] == "63").ToDictionary(f => f[4], f => (f[5], f[6]));
        summary["TotalCashValue"].ShouldBe(("997648.50", "USD"));
        summary["NetLiquidation"].ShouldBe(("999998.75", "USD"));
        summary.Keys.Order().ShouldBe(["BuyingPower", "NetLiquidation", "TotalCashValue"]);

        await client.SendAsync("6", "2", "1", "DU1234567");
        await client.WaitForAsync("54", 2, "DU1234567");
        var portfolio = client.Frames.Single(f => f[0] == "7");
        portfolio.Length.ShouldBe(20);
        (portfolio[2], portfolio[13], portfolio[14], portfolio[16], portfolio[19]).ShouldBe(("69067924", "1", "2350.25", "2350.5", "DU1234567"));
        client.Frames.ShouldContain(f => f[0] == "8" && f[2] == "12:00");
    }

    [Fact]
    public async Task HalfOpen_StopsReadingAndReplying_UntilEnded()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);

        server.GoHalfOpen();
        await client.SendAsync("49", "1");
        await Task.Delay(Quiet);
        client.Frames.ShouldNotContain(f => f[0] == "49");
        server.Requests.ShouldNotContain(r => r.MessageId == 49);

        server.EndHalfOpen();
        await client.WaitForAsync("49");
    }

    [Fact]
    public async Task RefuseConnections_NewConnectionsAreRefused_ThenAcceptedAgain_ExistingOnesStay()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var existing = await ReadyClientAsync(server, 1);

        server.RefuseConnectionsFor(TimeSpan.FromSeconds(1));
        var refused = await Should.ThrowAsync<SocketException>(FakeTwsRawClient.OpenAsync(server.Port));
        refused.SocketErrorCode.ShouldBe(SocketError.ConnectionRefused);

        var deadline = DateTime.UtcNow.AddSeconds(5);
        FakeTwsRawClient? again = null;
        while (again is null)
        {
            try
            {
                again = await ReadyClientAsync(server, 2);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }

        await using (again)
        {
            await existing.SendAsync("49", "1");
            await existing.WaitForAsync("49");
            server.ConnectedClientIds.Order().ShouldBe([1, 2]);
        }
    }

    [Fact]
    public async Task SystemNotices_ReachEveryConnectedClient()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var one = await ReadyClientAsync(server, 1);
        await using var two = await ReadyClientAsync(server, 2);

        server.SendSystemNotice(1100);
        server.SendSystemNotice(1102);

        foreach (var client in new[] { one, two })
        {
            (await client.WaitForErrorAsync(1100))[2].ShouldBe("-1");
            (await client.WaitForErrorAsync(1102))[4].ShouldContain("data maintained");
        }
    }

    [Fact]
    public async Task Housekeeping_ReqIdsManagedAccountsAndCurrentTime_AreAnswered()
    {
        var clock = new FakeTimeProvider(T0);
        await using var server = await FakeTwsServer.StartAsync(Options(o =>
        {
            o.Clock = clock;
            o.FirstNextValidId = 100;
        }));
        await using var client = await ReadyClientAsync(server);

        await client.SendAsync("8", "1", "1");
        await client.SendAsync("17", "1");
        clock.Advance(TimeSpan.FromSeconds(90));
        await client.SendAsync("49", "1");

        (await client.WaitForAsync("49"))[2].ShouldBe((T0.ToUnixTimeSeconds() + 90).ToString(CultureInfo.InvariantCulture));
        client.Frames.Count(f => string.Join('|', f) == "9|1|100").ShouldBe(2);
        client.Frames.Count(f => string.Join('|', f) == "15|1|DU1234567").ShouldBe(2);
    }

    [Fact]
    public async Task ReqExecutions_FilterByTimeSymbolSideAndClient_ReturnsOnlyMatchingFills()
    {
        var clock = new FakeTimeProvider(T0);
        await using var server = await FakeTwsServer.StartAsync(Options(o => o.Clock = clock));
        await using var client = await ReadyClientAsync(server);
        server.SetQuote("XAUUSD", 2350.0, 2350.5);
        server.SetQuote("XAGUSD", 30.0, 30.05);
        await client.SendAsync(FakeTwsOrders.Xauusd(1, "BUY", 1, "MKT"));
        await client.WaitForAsync(f => f[0] == "3" && f[1] == "1" && f[2] == "Filled");
        clock.Advance(TimeSpan.FromHours(1));
        await client.SendAsync(FakeTwsOrders.Build(2, "XAGUSD", "CMDTY", "SMART", "USD", "SELL", 10, "MKT"));
        await client.WaitForAsync(f => f[0] == "3" && f[1] == "2" && f[2] == "Filled");

        async Task<string[]> QueryAsync(int reqId, string clientId, string time, string symbol, string side)
        {
            var mark = client.Count;
            await client.SendAsync("7", "3", reqId.ToString(CultureInfo.InvariantCulture), clientId, "", time, symbol, "", "", side);
            await client.WaitForAsync("55", 2, reqId.ToString(CultureInfo.InvariantCulture), mark);
            return [.. client.Frames.Skip(mark).Where(f => f[0] == "11").Select(f => f[4])];
        }

        (await QueryAsync(10, "", "", "", "")).ShouldBe(["XAUUSD", "XAGUSD"]);
        (await QueryAsync(11, "", "20260501-12:30:00", "", "")).ShouldBe(["XAGUSD"]);
        (await QueryAsync(12, "", "20260501 12:30:00 UTC", "", "")).ShouldBe(["XAGUSD"]);
        (await QueryAsync(13, "", "", "XAUUSD", "")).ShouldBe(["XAUUSD"]);
        (await QueryAsync(14, "", "", "", "SELL")).ShouldBe(["XAGUSD"]);
        (await QueryAsync(15, "8", "", "", "")).ShouldBeEmpty();
        await client.SendAsync("7", "3", "16", "", "", "yesterday", "", "", "", "");
        (await client.WaitForErrorAsync(321))[2].ShouldBe("16");
    }

    [Fact]
    public async Task Reconnect_SameClientIdRightAfterTheClientClosed_IsAcceptedNot326()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        for (var i = 0; i < 5; i++)
        {
            await using var client = await ReadyClientAsync(server);
            client.Frames.ShouldNotContain(f => f[0] == "4" && f[3] == "326");
        }

        server.SentFrames.ShouldNotContain(f => f.ErrorCode == 326);
    }

    [Fact]
    public async Task AutoPace_StepsLoadedBarsOnTheWallClock_AndKeepUpToDateSubscribersGetThem()
    {
        await using var server = await FakeTwsServer.StartAsync(Options());
        await using var client = await ReadyClientAsync(server);
        await client.SendAsync("20|7|0|XAGUSD|CMDTY||0.0|||SMART||USD|||0||1 min|1 D|1|MIDPOINT|2|1|".Split('|')[..23]);
        await client.WaitForAsync("17");
        server.LoadBars("XAGUSD", Enumerable.Range(0, 10).Select(i => new FakeBar(T0.AddMinutes(i), 30 + i * 0.1, 30.5 + i * 0.1, 29.5 + i * 0.1, 30.2 + i * 0.1)));

        server.StartAutoPace(barsPerSecond: 200);
        await WaitUntilAsync(() => server.PendingBars("XAGUSD") == 0, "all bars stepped");
        server.StopAutoPace();
        await server.FlushAsync();

        await WaitUntilAsync(() => client.Frames.Count(f => f[0] == "90") == 10, "ten updates");
        client.Frames.Where(f => f[0] == "90").Select(f => f[3])
            .ShouldBe(Enumerable.Range(0, 10).Select(i => T0.AddMinutes(i).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)));
        server.GetQuote("XAGUSD").Last!.Value.ShouldBe(31.1, 1e-9);
    }

    [Fact]
    public void Options_OutOfRange_AreAllReportedAtOnce()
    {
        var options = new FakeTwsOptions { ServerVersion = 201, FillSlices = 0, PacingLimitPerSecond = 0, TimeZoneId = "Nowhere/Void" };

        var error = Should.Throw<ArgumentException>(options.Validate);

        error.Message.ShouldContain("ServerVersion must be 100..176");
        error.Message.ShouldContain("FillSlices must be >= 1");
        error.Message.ShouldContain("PacingLimitPerSecond");
        error.Message.ShouldContain("Nowhere/Void");
    }

    private sealed class OptionsBuilder
    {
        public TimeProvider? Clock { get; set; }

        public TimeProvider? WallClock { get; set; }

        public HandshakeOrder HandshakeOrder { get; set; }

        public int FirstNextValidId { get; set; } = 1;

        public bool DisconnectOnPacing { get; set; }

        public int FillSlices { get; set; } = 1;
    }
}
