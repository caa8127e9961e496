using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MetalSniper.Core.Time;
using MetalSniper.FakeTws;
using MetalSniper.Host.Configuration;
using MetalSniper.Engine.Pipeline;
using MetalSniper.InteractiveBrokers.Connection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// The full host, configured for Interactive Brokers on 127.0.0.1, against the fake TWS: the metals strategy trades real
/// recorded bars streamed as keepUpToDate MIDPOINT bars; the link is cut while a hedge's leg stops are working and one
/// of them fills while we are away; later the gateway restarts with nextValidId rolled back.
/// </summary>
public sealed class IbHostTests(ITestOutputHelper output) : IDisposable
{
    private const int ClientId = 17;
    private const string Account = "DU1234567";
    private const int FirstOrderId = 1000;
    private const int WarmupSeconds = 2;
    private const int RecoveryBars = 24;
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan LinkLimit = TimeSpan.FromSeconds(20);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public async Task IbHost_MetalsOnFakeTws_SurvivesADisconnectMidOrderAndAGatewayRestartWithRolledBackIds()
    {
        var total = Stopwatch.StartNew();
        // One market clock for both sides: the host's replay clock (ingest moves it to each bar's close) is also the fake's
        // business clock, so executions are stamped in market time as IB stamps them in real time. Wall-clock things
        // (refusal periods, reconnects, heartbeats, warm-up) stay on the system clock on both sides.
        var marketClock = new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var tws = await FakeTwsServer.StartAsync(new FakeTwsOptions
        {
            TimeProvider = marketClock,
            Accounts = [Account],
            FirstNextValidId = FirstOrderId,
            FarmNoticesOnConnect = [2104, 2106, 2158],
        });
        var from = new DateTimeOffset(2025, 9, 8, 0, 0, 0, TimeSpan.Zero);
        var to = new DateTimeOffset(2025, 9, 27, 0, 0, 0, TimeSpan.Zero);
        var tape = MarketTape.Metals15(tws, from, to);

        var config = _env.WriteConfig(j =>
        {
            FakeTwsConfig.UseFakeTws(j, tws.Port, ClientId, Account, WarmupSeconds);
            // The risk layer has its own tests: here its breakers must not stop the trading this test needs.
            j["Risk"]!["Breakers"]!["Enabled"] = false;
            j["Risk"]!["RapidLossAmount"] = 0;
            j["Risk"]!["DailyLossLimit"] = 20000;
        });
        var settings = new HostSettings(config, RunMode.Service, _env.DatabasePath, Serilog.Events.LogEventLevel.Warning)
        {
            ConfigureServices = s =>
            {
                // Market time follows the recorded bars (ingest advances the replay clock in the service mode): the gates see
                // fresh quotes and open markets. The IB session keeps the wall clock for reconnects, heartbeats and warm-up.
                s.AddSingleton(marketClock);
                s.AddSingleton<TimeProvider>(marketClock);
                // The default quiet window (23:40-00:10 New York, wall clock) would refuse every order when the test runs then:
                // a configured list replaces it; an empty window (start = end) never applies.
                s.PostConfigure<BrokerOptions>(o => o.InteractiveBrokers.QuietWindows = ["00:00-00:00"]);
            },
        };

        using var host = Composition.BuildHost(settings, Composition.LoadConfiguration(settings));
        var probe = new HostProbe(host, () => tws.RequestCount);
        var db = new HostDatabase(_env.DatabasePath);
        await host.StartAsync(CancellationToken.None);
        var hostStopped = false;
        try
        {
            // 1. Start-up: connect, reconcile, warm up, subscribe the two bar streams.
            await tws.WaitForClientAsync(ClientId, LinkLimit);
            await probe.WaitForStateAsync(IbConnectionState.FullyLive, 0, LinkLimit, "start-up");
            await WaitForBarSubscriptionsAsync(tws, 0, "start-up");
            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s: connected, FULLY_LIVE, subscribed");

            // 2. The strategy warms up on real bars and opens a hedge: two leg stops working at IB, acknowledged by us.
            var hedge = await StepUntilHedgeWorkingAsync(tws, tape, probe, db);
            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s: hedge working after {tape.Stepped} bar times (market {tape.LastBarTime:O}): {hedge}");

            // 3. The link is cut while the leg stops work; one fills at IB while we are away.
            var changesAtDrop = probe.Changes.Count;
            var requestsAtDrop = tws.RequestCount;
            var recoveredBefore = probe.Gateway.RecoveredFills;
            tws.RefuseConnectionsFor(TimeSpan.FromSeconds(2.5));
            await tws.DropAllConnectionsAsync();
            tws.ConnectedClientIds.ShouldNotContain(ClientId, "the drop left the host connected");
            tws.FillOrder(ClientId, hedge.Upper.OrderId, hedge.Quantity, hedge.UpperStop);
            var fill = tws.Executions[^1];
            fill.OrderId.ShouldBe(hedge.Upper.OrderId, "the fake booked the fill on another order");
            tws.ConnectedClientIds.ShouldNotContain(ClientId, "the fill must happen while the host is disconnected");
            await probe.WaitForStateAsync(IbConnectionState.ExecutionDegraded, changesAtDrop, LinkLimit, "the forced disconnect");
            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s: dropped; {fill.ExecId} {fill.Side} {fill.Shares} {fill.Symbol} @ {fill.Price} filled while away");

            // Recovery: reconnect, reconcile, warm up; bars keep coming during the warm-up (the strategy may try entries).
            await tws.WaitForClientAsync(ClientId, LinkLimit);
            await WaitForBarSubscriptionsAsync(tws, requestsAtDrop, "after the drop");
            await StepThroughRecoveryAsync(tape, probe, changesAtDrop, "recovery after the drop");
            var live1 = await probe.WaitForStateAsync(IbConnectionState.FullyLive, changesAtDrop, LinkLimit, "recovery after the drop");
            await probe.CatchUpAsync(null, CatchUpLimit, "after the drop's recovery");
            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s: FULLY_LIVE again at {live1.AtUtc:HH:mm:ss.fff}: {PrintChanges(probe, changesAtDrop)}");

            // The fill is ours exactly once, the order is Filled, our position is IB's.
            await Eventually.Until(() => db.Scalar<long>("SELECT COUNT(*) FROM fills WHERE execution_id=@id", new { id = fill.ExecId }) == 1,
                $"the execution {fill.ExecId} that happened while disconnected is not in our fills table after the reconnect");
            db.Scalar<string>("SELECT client_order_id FROM fills WHERE execution_id=@id", new { id = fill.ExecId })
                .ShouldBe(hedge.Upper.OrderRef, "the recovered fill was booked on the wrong order");
            db.Scalar<long>("SELECT COUNT(*) FROM fills WHERE client_order_id=@id", new { id = hedge.Upper.OrderRef })
                .ShouldBe(1, "the filled leg stop has more than one fill row (booked twice?)");
            await Eventually.Until(() => db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = hedge.Upper.OrderRef }) == "Filled",
                $"the leg stop {hedge.Upper.OrderRef} filled while disconnected is not Filled in our orders table");
            (probe.Gateway.RecoveredFills - recoveredBefore).ShouldBeGreaterThanOrEqualTo(1, "the gateway did not recover the fill through reconciliation");
            var deliveries = tws.SentFrames.Where(f => f.MessageId == 11 && f.Fields.Contains(fill.ExecId)).ToList();
            deliveries.ShouldNotBeEmpty($"the fake never reported {fill.ExecId} to the host");
            deliveries.ShouldAllBe(f => f.Fields[1] != "-1", $"{fill.ExecId} reached the host live, not through reqExecutions after the reconnect: the link was not down when it filled");
            await WaitForPositionsAgreeAsync(tws, db, "after the drop's recovery");

            // 4. The gateway restarts, while we hold a position protected by a working stop, and hands out nextValidId from
            // the start again (ids already used). Orders and positions survive the restart at IB.
            var held = await StepUntilProtectedPositionAsync(tws, tape, probe, db);
            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s: before the restart (market {tape.LastBarTime:O}): {held}");
            var placedBeforeRestart = PlacedOrder.From(tws.Requests, ClientId);
            var maxIdBeforeRestart = placedBeforeRestart.Max(p => p.OrderId);
            maxIdBeforeRestart.ShouldBeGreaterThan(FirstOrderId, "a rollback to the first id must go below ids already used");
            var changesAtRestart = probe.Changes.Count;
            var requestsAtRestart = tws.RequestCount;
            var framesAtRestart = tws.SentFrameCount;
            var rollbacksBefore = probe.Session.Client.OrderIdRollbacks;
            await tws.SimulateRestartAsync(FirstOrderId, TimeSpan.FromSeconds(1.5));
            await probe.WaitForStateAsync(IbConnectionState.ExecutionDegraded, changesAtRestart, LinkLimit, "the gateway restart");
            await tws.WaitForClientAsync(ClientId, LinkLimit);
            tws.SentFrames.Skip(framesAtRestart).First(f => f.MessageId == 9).Fields[2]
                .ShouldBe(FirstOrderId.ToString(CultureInfo.InvariantCulture), "the restarted fake did not roll nextValidId back");
            await WaitForBarSubscriptionsAsync(tws, requestsAtRestart, "after the restart");
            await StepThroughRecoveryAsync(tape, probe, changesAtRestart, "recovery after the restart");
            var live2 = await probe.WaitForStateAsync(IbConnectionState.FullyLive, changesAtRestart, LinkLimit, "recovery after the restart");
            await probe.CatchUpAsync(null, CatchUpLimit, "after the restart's recovery");
            probe.Gateway.LastReconciliation.ShouldStartWith("ok", customMessage: "the reconciliation after the restart did not succeed");
            await WaitForPositionsAgreeAsync(tws, db, "after the restart's recovery");
            (probe.Session.Client.OrderIdRollbacks - rollbacksBefore).ShouldBeGreaterThanOrEqualTo(1, "the client never saw the rolled-back nextValidId");
            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s: restarted (nextValidId {FirstOrderId}, ours were up to {maxIdBeforeRestart}); FULLY_LIVE at {live2.AtUtc:HH:mm:ss.fff}: {PrintChanges(probe, changesAtRestart)}");

            // It keeps trading: a new entry reaches IB after the restart.
            var newEntry = await StepUntilNewEntryAsync(tws, tape, probe, db, requestsAtRestart, [.. placedBeforeRestart.Select(p => p.OrderRef)]);
            await probe.CatchUpAsync(null, CatchUpLimit, "after the new entry");
            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s: new entry after the restart: {newEntry} (market {tape.LastBarTime:O})");
            await WaitForPositionsAgreeAsync(tws, db, "after trading on past the restart");

            // 5. A clean stop.
            await host.StopAsync(CancellationToken.None);
            hostStopped = true;
            probe.Run.Faults.ShouldBeEmpty("a service of the host faulted");
            tws.InternalErrors.ShouldBeEmpty("the fake TWS failed internally");

            // The whole conversation, after the fact.
            var placed = PlacedOrder.From(tws.Requests, ClientId);
            var purposes = db.Purposes();
            foreach (var p in placed)
            {
                purposes.ContainsKey(p.OrderRef).ShouldBeTrue($"IB received an order we have no record of: {p}");
            }

            // No duplicate order: one orderRef is one IB order id, one IB order id is one orderRef, nothing sent twice.
            foreach (var byRef in placed.GroupBy(p => p.OrderRef))
            {
                byRef.Select(p => p.OrderId).Distinct().Count().ShouldBe(1, $"orderRef {byRef.Key} reached IB under several order ids: {string.Join(", ", byRef)}");
            }

            foreach (var byId in placed.GroupBy(p => p.OrderId))
            {
                byId.Select(p => p.OrderRef).Distinct().Count().ShouldBe(1, $"IB order id {byId.Key} was used for several of our orders: {string.Join(", ", byId)}");
            }

            foreach (var same in placed.GroupBy(p => string.Join('|', p.Request.Fields)).Where(g => g.Count() > 1))
            {
                throw new ShouldAssertException($"the same placeOrder reached IB {same.Count()} times: {string.Join(", ", same)}");
            }

            var sentErrors = tws.SentFrames.Where(f => f.ErrorCode is 103).ToList();
            sentErrors.ShouldBeEmpty($"IB answered 'duplicate order id' (103): {string.Join("; ", sentErrors)}");

            // New orders after the restart got ids above every id used before it.
            var firstSeen = placed.GroupBy(p => p.OrderId).Select(g => g.First()).ToList();
            var afterRestart = firstSeen.Where(p => p.Index >= requestsAtRestart).ToList();
            afterRestart.ShouldNotBeEmpty("no new order reached IB after the restart");
            foreach (var p in afterRestart)
            {
                p.OrderId.ShouldBeGreaterThan(maxIdBeforeRestart, $"a new order after the restart reused or went below the ids used before it (max {maxIdBeforeRestart}): {p}");
            }

            // No entry reached IB between a loss of the link and FULLY_LIVE, although the strategy tried (bars kept coming).
            var recovering = new[] { (From: requestsAtDrop, To: probe.RequestsAt(live1)), (From: requestsAtRestart, To: probe.RequestsAt(live2)) };
            var entriesInRecovery = firstSeen
                .Where(p => purposes[p.OrderRef] is "Entry" or "Add" && recovering.Any(w => p.Index >= w.From && p.Index < w.To))
                .ToList();
            entriesInRecovery.ShouldBeEmpty($"an entry or add reached IB while the link was recovering (before FULLY_LIVE); recovery windows (request indexes) {string.Join(", ", recovering)}");
            var refusedInRecovery = db.Query<(string Purpose, string Detail)>(
                "SELECT o.purpose, g.detail FROM gate_denials g JOIN orders o ON o.client_order_id = g.client_order_id WHERE g.gate = 'broker-link'");
            refusedInRecovery.ShouldNotBeEmpty("the strategy tried no entry while the link recovered, so 'no entry during recovery' was not exercised (the data window or the pace changed?)");
            foreach (var (purpose, detail) in refusedInRecovery)
            {
                (purpose is "Entry" or "Add").ShouldBeTrue($"the broker-link gate refused a {purpose} order (only entries and adds wait for FULLY_LIVE): {detail}");
                new[] { "RECONNECT_WARMUP", "DATA_ONLY", "EXECUTION_DEGRADED" }.Any(detail.Contains)
                    .ShouldBeTrue($"an order was refused by the broker-link gate outside a recovery: {detail}");
            }

            // Every execution at IB is booked once, and IB's filled orders are Filled with us.
            var executions = tws.Executions.Where(e => e.ClientId == ClientId).ToList();
            var booked = db.Query<(string ExecId, string OrderId, string Quantity)>("SELECT execution_id, client_order_id, quantity FROM fills");
            booked.Select(b => b.ExecId).Order(StringComparer.Ordinal)
                .ShouldBe(executions.Select(e => e.ExecId).Order(StringComparer.Ordinal), "our fills are not exactly IB's executions");
            foreach (var e in executions)
            {
                var b = booked.Single(x => x.ExecId == e.ExecId);
                (b.OrderId, decimal.Parse(b.Quantity, NumberStyles.Float, CultureInfo.InvariantCulture)).ShouldBe((e.OrderRef, e.Shares), $"execution {e.ExecId} was booked differently");
            }

            var statuses = db.Query<(string Id, string Status)>("SELECT client_order_id, status FROM orders").ToDictionary(x => x.Id, x => x.Status, StringComparer.Ordinal);
            foreach (var o in tws.Orders.Where(o => o.ClientId == ClientId && o.Status == "Filled"))
            {
                statuses[o.OrderRef].ShouldBe("Filled", $"IB filled order {o.OrderId} ({o.OrderRef}) but our orders table says otherwise");
            }

            Describe(db.Positions()).ShouldBe(Describe(PositionsAtIb(tws)), "our positions differ from IB's at the end");

            // The link's story is journaled as BrokerLink entries, in the order it happened.
            var expected = new[]
            {
                IbConnectionState.DataOnly, IbConnectionState.ReconnectWarmup, IbConnectionState.FullyLive,
                IbConnectionState.ExecutionDegraded, IbConnectionState.DataOnly, IbConnectionState.ReconnectWarmup, IbConnectionState.FullyLive,
                IbConnectionState.ExecutionDegraded, IbConnectionState.DataOnly, IbConnectionState.ReconnectWarmup, IbConnectionState.FullyLive,
            };
            var observed = probe.Changes.Take(expected.Length).ToList();
            observed.Select(c => c.To).ShouldBe(expected, $"unexpected link states: {HostProbe.Describe(probe.Changes)}");
            var journaled = db.QueryJournal<(string To, string From)>("SELECT correlation_id, causation_id FROM journal WHERE kind='BrokerLink' ORDER BY seq");
            journaled.Take(expected.Length).ShouldBe(observed.Select(c => (c.To.ToString(), c.From.ToString())), "the journal's BrokerLink entries do not tell the link's story");

            output.WriteLine($"{total.Elapsed.TotalSeconds:0.0} s total; {tape.Stepped} bar times stepped; {placed.Count} placeOrder ({firstSeen.Count} orders), {executions.Count} executions, "
                + $"{probe.Gateway.Reconciliations} reconciliations, {probe.Gateway.RecoveredFills} fill(s) recovered, {probe.Session.Client.OrderIdRollbacks} nextValidId rollback(s) ignored, "
                + $"{refusedInRecovery.Count} entries refused by the broker-link gate during recovery; decisions {probe.Run.Decisions}, trades {probe.Run.Trades.Snapshot().Trades.Count}");
        }
        finally
        {
            if (!hostStopped)
            {
                await host.StopAsync(CancellationToken.None);
            }

            PrintTrading(db);
        }
    }

    /// <summary>Our orders and decisions, for the test output (what the strategy did on the way).</summary>
    private void PrintTrading(HostDatabase db)
    {
        try
        {
            foreach (var o in db.Query<(string Id, string Symbol, string Purpose, string Side, string Quantity, string Type, string? Stop, string Status, string? Reason, string? Broker)>(
                "SELECT client_order_id, symbol, purpose, side, quantity, order_type, stop_price, status, status_reason, broker_order_id FROM orders ORDER BY created_utc, client_order_id"))
            {
                output.WriteLine($"  order {o.Id[^8..]} {o.Symbol} {o.Purpose} {o.Side} {o.Quantity} {o.Type} {o.Stop} -> {o.Status} {o.Broker} {o.Reason}");
            }

            foreach (var d in db.Query<(string Kind, string Symbol, string Reason, string At)>("SELECT kind, symbol, reason, event_utc FROM decisions ORDER BY recorded_utc, decision_id"))
            {
                output.WriteLine($"  decision {d.At} {d.Symbol} {d.Kind}: {d.Reason}");
            }
        }
        catch (Microsoft.Data.Sqlite.SqliteException e)
        {
            output.WriteLine($"(no trading record to print: {e.Message})");
        }
    }

    /// <summary>Steps bars until one symbol's hedge has both leg stops working at IB and acknowledged (Working) by us.</summary>
    private static async Task<WorkingHedge> StepUntilHedgeWorkingAsync(FakeTwsServer tws, MarketTape tape, HostProbe probe, HostDatabase db)
    {
        var stepsBefore = tape.Stepped;
        while (true)
        {
            (tape.Stepped - stepsBefore).ShouldBeLessThan(1500, "the metals strategy never had a hedge working at IB");
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "warm-up and trading before the drop");
            var working = tws.Orders.Where(o => o.ClientId == ClientId && o.OrderType == "STP" && o.Status is "Submitted" or "PreSubmitted" && o.Filled == 0m).ToList();
            foreach (var upper in working.Where(o => o.Action == "BUY"))
            {
                var lower = working.FirstOrDefault(o => o.Action == "SELL" && o.Symbol == upper.Symbol && o.TotalQuantity == upper.TotalQuantity && o.AuxPrice < upper.AuxPrice);
                if (lower is null)
                {
                    continue;
                }

                var refs = new[] { upper.OrderRef, lower.OrderRef };
                var rows = db.Query<(string Purpose, string Status)>("SELECT purpose, status FROM orders WHERE client_order_id IN @refs", new { refs });
                if (rows.Count == 2 && rows.All(r => r is ("Entry", "Working")))
                {
                    await tws.FlushAsync();
                    await probe.CatchUpAsync(null, CatchUpLimit, "quiet before the drop");
                    return new WorkingHedge(upper, lower);
                }
            }
        }
    }

    /// <summary>Steps bars until we hold a position at IB with a working stop of ours on its reducing side, acknowledged by us.</summary>
    private static async Task<string> StepUntilProtectedPositionAsync(FakeTwsServer tws, MarketTape tape, HostProbe probe, HostDatabase db)
    {
        var stepsBefore = tape.Stepped;
        while (true)
        {
            foreach (var position in tws.Positions.Where(p => p.Account == Account && p.Quantity != 0m))
            {
                var side = position.Quantity > 0 ? "SELL" : "BUY";
                var stop = tws.Orders.FirstOrDefault(o => o.ClientId == ClientId && o.Symbol == position.Symbol && o.Action == side && o.OrderType == "STP" && o.Status is "Submitted" or "PreSubmitted");
                if (stop is not null && db.Scalar<string>("SELECT status FROM orders WHERE client_order_id=@id", new { id = stop.OrderRef }) == "Working")
                {
                    return string.Create(CultureInfo.InvariantCulture, $"{position.Symbol} {position.Quantity} protected by {stop.Action} STP {stop.AuxPrice} x {stop.TotalQuantity} (id {stop.OrderId})");
                }
            }

            (tape.Stepped - stepsBefore).ShouldBeLessThan(1500, "the strategy never held a position protected by a working stop before the restart");
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "trading before the restart");
        }
    }

    /// <summary>Steps bars until an entry or add we had not sent before reaches IB after <paramref name="skipRequests"/>.</summary>
    private static async Task<PlacedOrder> StepUntilNewEntryAsync(FakeTwsServer tws, MarketTape tape, HostProbe probe, HostDatabase db, int skipRequests, HashSet<string> known)
    {
        var stepsBefore = tape.Stepped;
        while (true)
        {
            var fresh = PlacedOrder.From(tws.Requests, ClientId).Where(p => p.Index >= skipRequests && !known.Contains(p.OrderRef)).ToList();
            if (fresh.Count > 0)
            {
                var purposes = db.Purposes();
                if (fresh.FirstOrDefault(p => purposes.GetValueOrDefault(p.OrderRef) is "Entry" or "Add") is { } entry)
                {
                    return entry;
                }
            }

            (tape.Stepped - stepsBefore).ShouldBeLessThan(1500, "the host never sent a new entry after the gateway restart");
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, "trading after the restart");
        }
    }

    /// <summary>
    /// The market goes on while the link recovers: <see cref="RecoveryBars"/> bar times as soon as the bars are subscribed
    /// again (DATA_ONLY or RECONNECT_WARMUP), so the strategy sees them and tries what it would try. They must all be
    /// evaluated before FULLY_LIVE, or the recovery window would not have been exercised.
    /// </summary>
    private static async Task StepThroughRecoveryAsync(MarketTape tape, HostProbe probe, int changesAtLoss, string why)
    {
        for (var i = 0; i < RecoveryBars; i++)
        {
            await probe.CatchUpAsync(tape.Step(), CatchUpLimit, why);
        }

        probe.Changes.Skip(changesAtLoss).Any(c => c.To == IbConnectionState.FullyLive)
            .ShouldBeFalse($"{why}: FULLY_LIVE came before the {RecoveryBars} recovery bars were evaluated (a {WarmupSeconds} s warm-up was too short for this machine): {HostProbe.Describe(probe.Changes.Skip(changesAtLoss))}");
    }

    private static async Task WaitForBarSubscriptionsAsync(FakeTwsServer tws, int skipRequests, string why)
    {
        await Eventually.Until(() => tws.Requests.Skip(skipRequests).Count(r => r.ClientId == ClientId && r.MessageId == 20) >= 2,
            $"{why}: the host did not subscribe both symbols' keepUpToDate bars (reqHistoricalData)");
        await tws.FlushAsync();
    }

    private static async Task WaitForPositionsAgreeAsync(FakeTwsServer tws, HostDatabase db, string why)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var ib = PositionsAtIb(tws);
            var ours = db.Positions();
            if (ib.Count == ours.Count && ib.All(kv => ours.TryGetValue(kv.Key, out var q) && q == kv.Value))
            {
                return;
            }

            sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(10),
                $"{why}: our positions [{Describe(ours)}] differ from IB's [{Describe(ib)}]");
            await Task.Delay(20);
        }
    }

    private static string Describe(IReadOnlyDictionary<string, decimal> positions) =>
        string.Join(", ", positions.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:0.########}")));

    private static Dictionary<string, decimal> PositionsAtIb(FakeTwsServer tws) =>
        tws.Positions.Where(p => p.Account == Account && p.Quantity != 0m).ToDictionary(p => p.Symbol, p => p.Quantity, StringComparer.Ordinal);

    private static string PrintChanges(HostProbe probe, int skip) => HostProbe.Describe(probe.Changes.Skip(skip));

    private sealed record WorkingHedge(FakeOrderSnapshot Upper, FakeOrderSnapshot Lower)
    {
        public decimal Quantity => Upper.TotalQuantity;

        public double UpperStop => Upper.AuxPrice!.Value;

        public override string ToString() => $"{Upper.Symbol} BUY STP {Upper.AuxPrice} / SELL STP {Lower.AuxPrice} x {Upper.TotalQuantity} (ids {Upper.OrderId}/{Lower.OrderId})";
    }
}
