using Microsoft.Extensions.Logging;
using System.Globalization;
using System.Threading.Channels;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Adapters;

/// <summary>
/// The order gateway to Interactive Brokers (IB-NOTES.md, TWS-PROTOCOL.md §4.5, §7, §8.5). A dumb pipe with IB's rules:
/// <list type="bullet">
/// <item><b>Identity.</b> Our client order id goes in <c>orderRef</c> (persisted by the execution side before the
/// order reaches this gateway) and is the key for every callback; IB's numeric order id (from the client's counter,
/// which never rolls back within the process even when <c>nextValidId</c> does) and the <c>permId</c> are mapped when
/// known. A client order id is sent once: a repeat is refused, never re-sent. After a restart the earlier runs' working
/// orders (and our book as they left it) are handed over from the database (<see cref="EarlierRunState"/>): they are ours
/// again — matched by orderRef, cancelled by their IB id, their fills while we were down recovered — never external.</item>
/// <item><b>Reconciliation</b> after every handshake, before any order: open orders (ours are re-mapped by orderRef;
/// others are reported as external), executions (fills that happened while the link was down are recovered,
/// each execution once), positions against what we booked (the first reconciliation of a process adopts IB's
/// positions; later ones must agree) and the account summary. A query that times out is unknown, never empty: the
/// reconciliation fails and orders stay refused (DATA_ONLY) until it succeeds; a mismatch is a RED problem.</item>
/// <item><b>Readiness</b> (<see cref="SubmissionBlocked"/>): the connection state machine — entries only when
/// FULLY_LIVE, risk exits also while warming up or degraded, nothing in DATA_ONLY or inside a reset window.</item>
/// <item><b>Fills</b>: an execution is reported once its commission report arrived (or after a grace period with
/// commission 0 and a warning); executions are de-duplicated by execId across reconnects and restarts.</item>
/// <item><b>Prices in the venue's unit</b> (<see cref="IbContractBook"/>, <see cref="IbPriceConverter"/>): an order is sent only
/// for an instrument whose contract details IB answered and which agree with our catalog (priceMagnifier = the catalog's
/// quote unit); otherwise it is refused with the reason and a <see cref="Problem"/>. Outbound limit/stop prices are our
/// major-unit prices × the magnifier rounded to the contract's minTick (12.3456 GBP → 1234.56 pence); execution and
/// open-order prices ÷ the magnifier; positions' average cost is IB's per-unit cost in the contract currency (not
/// magnified) ÷ the multiplier.</item>
/// </list>
/// Thread-safe: requests come from the execution thread, callbacks from the session's event loop.
/// </summary>
public sealed class IbOrderGateway : IOrderGateway
{
    private static readonly TimeSpan CommissionGrace = TimeSpan.FromSeconds(3);
    private readonly IbSession _session;
    private readonly IInstrumentCatalog _instruments;
    private readonly TimeProvider _clock;
    private readonly ILogger<IbOrderGateway> _logger;
    private readonly Channel<OrderEvent> _events = Channel.CreateUnbounded<OrderEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly Lock _gate = new();
    private readonly Dictionary<ClientOrderId, IbOrder> _orders = [];
    private readonly Dictionary<int, IbOrder> _byIbId = [];
    private readonly HashSet<string> _executions;
    private readonly Dictionary<string, (ExecDetailsEvent Exec, IbOrder Order, DateTimeOffset At)> _awaitingCommission = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CommissionReportEvent> _commissions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, decimal> _netFilled = new(StringComparer.Ordinal);
    private readonly Dictionary<string, decimal> _adopted = new(StringComparer.Ordinal);
    private readonly (int PerSecond, int Reserved) _limit;
    private readonly IbContractBook _contracts;
    private readonly SemaphoreSlim _reconciling = new(1, 1);
    private readonly bool _resumedEarlierRun;
    private bool _reconciledOnce;

    /// <summary>Creates the gateway on <paramref name="session"/>.</summary>
    /// <param name="session">The IB session (this gateway reconciles on its every connect).</param>
    /// <param name="instruments">Our instruments (contracts come from them).</param>
    /// <param name="mode">"paper" or "live" (for the name and the logs).</param>
    /// <param name="messageLimit">Messages per second the execution side may use for orders and the share reserved for risk messages (below the client's wire pacer, which also carries data requests and heartbeats).</param>
    /// <param name="knownExecutionIds">Executions already booked (from the database): never reported again.</param>
    /// <param name="clock">Clock.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="earlier">
    /// What the earlier runs against this broker left open (database): their working orders are taken over (identified at IB
    /// by their orderRef = client order id, cancelled by their IB order id), and our book as they left it is the one the first
    /// reconciliation compares with IB's; null: nothing (a first start).
    /// </param>
    /// <param name="contracts">
    /// The contract details book shared with the market data side; null: the gateway keeps its own over every instrument of
    /// <paramref name="instruments"/> (its problems are raised through <see cref="Problem"/>, RED). It must have been created
    /// before this gateway so that its details are requested before the reconciliation on every connect. The own book's problems
    /// are raised as yellow (it covers instruments that may not be traded); an order refused for want of details is red.
    /// </param>
    public IbOrderGateway(IbSession session, IInstrumentCatalog instruments, string mode, (int PerSecond, int Reserved) messageLimit, IEnumerable<string> knownExecutionIds,
        TimeProvider clock, ILogger<IbOrderGateway> logger, IbContractBook? contracts = null, EarlierRunState? earlier = null)
    {
        _session = session ?? throw new ArgumentNullException(nameof(session));
        _instruments = instruments ?? throw new ArgumentNullException(nameof(instruments));
        _clock = clock;
        _logger = logger;
        _limit = messageLimit;
        _executions = new HashSet<string>(knownExecutionIds ?? [], StringComparer.Ordinal);
        Name = "ib-" + mode;
        if (contracts is null)
        {
            contracts = new IbContractBook(session, instruments, instruments.All.Select(i => i.Symbol), clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<IbContractBook>.Instance);
            // Yellow: the book covers every catalog instrument, traded or not; an order refused for want of details is RED (SubmitAsync).
            contracts.Problem += text => Problem?.Invoke(text, false);
        }

        _contracts = contracts;
        earlier ??= EarlierRunState.None;
        _resumedEarlierRun = !earlier.IsEmpty;
        TakeOver(earlier);
        session.EventReceived += OnEvent;
        session.Connected += ReconcileAsync;
        session.Restored += ReconcileAsync;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ChannelReader<OrderEvent> Events => _events.Reader;

    /// <inheritdoc />
    public (int PerSecond, int ReservedForRisk)? MessageLimit => _limit;

    /// <summary>
    /// True once the first reconciliation of the process compared our book with IB's positions: the fills recovered and
    /// the positions adopted by it are on <see cref="Events"/> before this turns true.
    /// </summary>
    public bool BookReconciled
    {
        get
        {
            lock (_gate)
            {
                return _reconciledOnce;
            }
        }
    }

    /// <summary>Reconciliations that succeeded.</summary>
    public int Reconciliations { get; private set; }

    /// <summary>Fills recovered by reconciliation (they happened while the link was down).</summary>
    public int RecoveredFills { get; private set; }

    /// <summary>The last reconciliation's outcome, for the health API.</summary>
    public string LastReconciliation { get; private set; } = "not yet";

    /// <summary>True when the last reconciliation succeeded (false before the first and after a failed one).</summary>
    public bool LastReconciliationOk { get; private set; }

    /// <summary>The contract details (price magnifier, min tick) orders are priced with.</summary>
    public IbContractBook Contracts => _contracts;

    /// <summary>Raised for what the operator must hear about: external orders or fills, a reconciliation mismatch or failure, an order refused for want of (agreeing) contract details.</summary>
    public event Action<string, bool>? Problem;

    /// <inheritdoc />
    /// <remarks>The link's state, warm-up and quiet windows are judged on the gateway's (wall) clock, whatever the caller's clock says (a replayed feed runs on market time).</remarks>
    public string? SubmissionBlocked(SubmitOrder order, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(order);
        return _session.Machine.SubmissionBlocked(OpensRisk(order), _clock.GetUtcNow());
    }

    /// <inheritdoc />
    public ValueTask SubmitAsync(SubmitOrder order, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            if (_orders.ContainsKey(order.ClientOrderId))
            {
                Emit(new OrderRequestRejected(order.ClientOrderId, "submit", $"duplicate client order id {order.ClientOrderId}: the first order is unchanged, nothing re-sent", now, now));
                return ValueTask.CompletedTask;
            }

            if (SubmissionBlocked(order, now) is { } blocked)
            {
                Emit(new OrderRejected(order.ClientOrderId, "not sent to IB: " + blocked, now, now));
                return ValueTask.CompletedTask;
            }

            if (!_contracts.TryGet(order.Symbol, out var details, out var refusal))
            {
                Emit(new OrderRejected(order.ClientOrderId, "not sent to IB: " + refusal, now, now));
                Problem?.Invoke($"order {order.ClientOrderId} ({order.Purpose} {order.Side} {order.Quantity} {order.Symbol}) refused: {refusal}", true);
                _contracts.RequestRefresh(order.Symbol);
                return ValueTask.CompletedTask;
            }

            TwsOrder wire;
            try
            {
                wire = ToTws(order, details.Prices);
            }
            catch (ArgumentOutOfRangeException e)
            {
                Emit(new OrderRejected(order.ClientOrderId, $"not sent to IB: a price cannot be put in IB's unit for {order.Symbol}: {e.Message}", now, now));
                return ValueTask.CompletedTask;
            }

            var ib = new IbOrder(order, _session.Client.NextOrderId(), details.Contract, details.Prices);
            _orders[order.ClientOrderId] = ib;
            _byIbId[ib.IbId] = ib;
            try
            {
                _session.Client.Send(TwsRequests.PlaceOrder(ib.IbId, details.Contract, wire), priority: !OpensRisk(order));
            }
            catch (Exception e) when (e is TwsNotConnectedException or TwsSendQueueFullException)
            {
                ib.Terminal = true;
                Emit(new OrderRejected(order.ClientOrderId, $"not sent to IB: {e.Message}", now, now));
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask CancelAsync(CancelOrder cancel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cancel);
        lock (_gate)
        {
            if (!_orders.TryGetValue(cancel.ClientOrderId, out var ib) || ib.Terminal)
            {
                return ValueTask.CompletedTask;
            }

            if (ib.IbId == 0)
            {
                // An order of an earlier run that was never acknowledged: IB's id for it is known only once IB lists it.
                var at = _clock.GetUtcNow();
                Emit(new OrderRequestRejected(cancel.ClientOrderId, "cancel", "not sent to IB: its IB order id is not known yet (an earlier run's order, awaiting reconciliation)", at, at));
                return ValueTask.CompletedTask;
            }

            try
            {
                _session.Client.Send(TwsRequests.CancelOrder(ib.IbId), priority: true);
            }
            catch (Exception e) when (e is TwsNotConnectedException or TwsSendQueueFullException)
            {
                var now = _clock.GetUtcNow();
                Emit(new OrderRequestRejected(cancel.ClientOrderId, "cancel", $"not sent to IB: {e.Message}", now, now));
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ModifyAsync(ModifyOrder modify, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modify);
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            if (!_orders.TryGetValue(modify.ClientOrderId, out var ib) || ib.Terminal)
            {
                Emit(new OrderRequestRejected(modify.ClientOrderId, "modify", "the order is not working at IB", now, now));
                return ValueTask.CompletedTask;
            }

            if (_session.Machine.State(now) is Connection.IbConnectionState.DataOnly or Connection.IbConnectionState.Disconnected)
            {
                Emit(new OrderRequestRejected(modify.ClientOrderId, "modify", $"not sent to IB: {_session.Machine.State(now)} (reconciling)", now, now));
                return ValueTask.CompletedTask;
            }

            if (!Resolve(ib))
            {
                Emit(new OrderRequestRejected(modify.ClientOrderId, "modify", $"not sent to IB: no contract details for {ib.Order.Symbol} yet", now, now));
                return ValueTask.CompletedTask;
            }

            var changed = ib.Order with
            {
                StopPrice = modify.NewStopPrice ?? ib.Order.StopPrice,
                LimitPrice = modify.NewLimitPrice ?? ib.Order.LimitPrice,
                Quantity = modify.NewQuantity ?? ib.Order.Quantity,
            };
            try
            {
                // A modify is placeOrder with the same id and every field (TWS-PROTOCOL.md §7).
                _session.Client.Send(TwsRequests.PlaceOrder(ib.IbId, ib.Contract!, ToTws(changed, ib.Prices!)), priority: !OpensRisk(changed));
                ib.PendingModify = changed;
            }
            catch (Exception e) when (e is TwsNotConnectedException or TwsSendQueueFullException or ArgumentOutOfRangeException)
            {
                Emit(new OrderRequestRejected(modify.ClientOrderId, "modify", $"not sent to IB: {e.Message}", now, now));
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<BrokerPosition>> GetPositionsAsync(CancellationToken cancellationToken)
    {
        var items = await _session.CollectAsync(TwsRequests.ReqPositions(), e => e is PositionEvent, e => e is PositionEndEvent, _session.Settings.ReconcileTimeout, "IB positions", cancellationToken).ConfigureAwait(false);
        TrySend(TwsRequests.CancelPositions());
        var result = new List<BrokerPosition>();
        foreach (var p in items.Cast<PositionEvent>().Where(p => p.Account == _session.Account && p.Position != 0m))
        {
            var symbol = IbContracts.SymbolOf(p.Contract, _instruments);
            if (symbol is null)
            {
                Problem?.Invoke($"IB position in {p.Contract.Symbol} {p.Contract.SecType} {p.Contract.Currency} ({p.Position}) is not one of our instruments: external", false);
                continue;
            }

            result.Add(new BrokerPosition(symbol, p.Position, IbPriceConverter.AverageCostToMajor(p.AvgCost, _instruments.Get(symbol).Multiplier)));
        }

        return result;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<BrokerOrder>> GetOpenOrdersAsync(CancellationToken cancellationToken)
    {
        var items = await _session.CollectAsync(TwsRequests.ReqOpenOrders(), e => e is OpenOrderEvent, e => e is OpenOrderEndEvent, _session.Settings.ReconcileTimeout, "IB open orders", cancellationToken).ConfigureAwait(false);
        var result = new List<BrokerOrder>();
        foreach (var o in items.Cast<OpenOrderEvent>())
        {
            var ours = IbContracts.SymbolOf(o.Contract, _instruments);
            var symbol = ours ?? o.Contract.Symbol;
            var type = o.Order.OrderType switch { TwsOrderType.Limit => OrderType.Limit, TwsOrderType.Stop => OrderType.Stop, _ => OrderType.Market };
            decimal? limit, stop;
            string? refusal = null;
            if (ours is not null && _contracts.TryGet(ours, out var details, out refusal))
            {
                limit = o.Order.LmtPrice is { } l ? details.Prices.ToMajor(l) : null;
                stop = o.Order.AuxPrice is { } a ? details.Prices.ToMajor(a) : null;
            }
            else
            {
                // Without (agreeing) contract details IB's unit is unknown: no price rather than a price off by 100.
                limit = null;
                stop = null;
                if (ours is not null)
                {
                    Problem?.Invoke($"IB open order {o.OrderId} in {ours}: its prices are not shown ({refusal})", false);
                }
            }

            result.Add(new BrokerOrder(new ClientOrderId(o.Order.OrderRef.Length > 0 ? o.Order.OrderRef : $"ib:{o.OrderId}"), symbol, o.Order.Action == TwsOrderAction.Buy ? OrderSide.Buy : OrderSide.Sell,
                o.Order.TotalQuantity, o.Order.FilledQuantity ?? 0m, type, limit, stop, o.State.Status is "Submitted" or "PreSubmitted" ? OrderStatus.Working : OrderStatus.PendingSubmit));
        }

        return result;
    }

    /// <summary>Orders of earlier runs taken over from the database (issue 18 item 1).</summary>
    public int ResumedOrders { get; private set; }

    /// <summary>
    /// Takes over what the earlier runs left: our book (the baseline the first reconciliation compares with IB's) and their
    /// working orders, mapped by client order id (= orderRef) and by the IB order id they were sent under, so their
    /// openOrder, orderStatus, executions and cancels are ours again. Both are reported on <see cref="Events"/> first,
    /// before anything IB says in this run.
    /// </summary>
    private void TakeOver(EarlierRunState earlier)
    {
        var now = _clock.GetUtcNow();
        foreach (var p in earlier.Positions.Where(p => p.Quantity != 0m))
        {
            _adopted[p.Symbol] = p.Quantity;
            Emit(new BookPositionRestored(p.Symbol, p.Quantity, p.AveragePrice, earlier.RecordedUtc, now));
        }

        foreach (var r in earlier.Orders)
        {
            var ibId = 0;
            long permId = 0;
            var parts = r.BrokerOrderId.Split('/');
            if (parts.Length >= 1 && int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var id))
            {
                ibId = id;
            }

            if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var perm))
            {
                permId = perm;
            }

            var ib = new IbOrder(r.Order, ibId, null, null)
            {
                PermId = permId,
                CumQty = r.FilledQuantity,
                Accepted = r.Status is OrderStatus.Working or OrderStatus.PartiallyFilled,
                Resumed = true,
            };
            _orders[r.Order.ClientOrderId] = ib;
            if (ibId != 0)
            {
                _byIbId[ibId] = ib;
            }

            ResumedOrders++;
            _logger.LogWarning("IB order {ClientOrderId} of an earlier run ({Purpose} {Side} {Quantity} {Symbol} {Type}, IB id {BrokerOrderId}, {Status}) taken over: its status comes from IB's reconciliation",
                r.Order.ClientOrderId, r.Order.Purpose, r.Order.Side, r.Order.Quantity, r.Order.Symbol, r.Order.Type, r.BrokerOrderId, r.Status);
            Emit(r with { EventTimeUtc = now, ReceivedAtUtc = now });
        }
    }

    /// <summary>The contract and price converter of a taken-over order, from the contract book (requested on every connect, before reconciliation); false while unknown.</summary>
    private bool Resolve(IbOrder ib)
    {
        if (ib.Prices is not null && ib.Contract is not null)
        {
            return true;
        }

        if (!_contracts.TryGet(ib.Order.Symbol, out var details, out _))
        {
            return false;
        }

        ib.Contract = details.Contract;
        ib.Prices = details.Prices;
        return true;
    }

    /// <summary>Reports executions whose commission report never came (after a grace period, with commission 0). Called by the host's timer.</summary>
    public void FlushOverdueFills()
    {
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            foreach (var (execId, pending) in _awaitingCommission.Where(p => now - p.Value.At > CommissionGrace).ToList())
            {
                _logger.LogWarning("IB execution {ExecId} of {ClientOrderId}: no commission report within {Grace} s; booked with commission 0", execId, pending.Order.Order.ClientOrderId, CommissionGrace.TotalSeconds);
                Problem?.Invoke($"IB execution {execId} of {pending.Order.Order.ClientOrderId}: no commission report within {CommissionGrace.TotalSeconds:0} s; booked with commission 0 (P&L overstated by the missing commission)", false);
                _awaitingCommission.Remove(execId);
                EmitFill(pending.Exec, pending.Order, null, now);
            }
        }
    }

    /// <summary>
    /// Reconciliation after a handshake (TWS-PROTOCOL.md §8.5): open orders, executions, positions, account. Success starts the
    /// warm-up; a timeout or a mismatch keeps orders refused and is reported.
    /// </summary>
    /// <remarks>
    /// Runs after every handshake and every 1101/1102 (the link back with the socket kept up), one at a time. A result that
    /// started before the latest 1101/1102 is stale and ignored (the loop reconciles again). A timeout (unknown, retried) is
    /// a yellow problem; any other failure — a mismatch, an unexpected exception — is RED (alert and journal), and retried.
    /// </remarks>
    private async Task ReconcileAsync(CancellationToken ct)
    {
        var machine = _session.Machine;
        await _reconciling.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            while (!ct.IsCancellationRequested && _session.Client.IsConnected && machine.ReconciliationPending)
            {
                var epoch = machine.ReconciliationEpoch;
                bool ok;
                string detail;
                var timedOut = false;
                try
                {
                    (ok, detail, timedOut) = await ReconcileOnceAsync(ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    _logger.LogError(e, "IB reconciliation threw {Exception}: {Message}", e.GetType().Name, e.Message);
                    (ok, detail) = (false, $"{e.GetType().Name}: {e.Message}");
                }

                if (!machine.OnReconciled(ok, detail, _clock.GetUtcNow(), epoch))
                {
                    _logger.LogWarning("IB reconciliation result ({Outcome}) is stale: the link changed (1101/1102) while it ran; reconciling again", ok ? "ok" : "failed");
                    continue;
                }

                LastReconciliation = (ok ? "ok: " : "FAILED: ") + detail;
                LastReconciliationOk = ok;
                if (ok)
                {
                    Reconciliations++;
                    _logger.LogInformation("IB reconciliation succeeded: {Detail}", detail);
                    return;
                }

                if (timedOut)
                {
                    _logger.LogWarning("IB reconciliation timed out: {Detail}; orders stay refused, retrying in 10 s", detail);
                    Problem?.Invoke("IB reconciliation timed out (unknown, not empty), orders refused, retrying: " + detail, false);
                }
                else
                {
                    _logger.LogError("IB reconciliation failed: {Detail}; orders stay refused, retrying in 10 s", detail);
                    Problem?.Invoke("IB reconciliation failed, orders refused: " + detail, true);
                }

                await Task.Delay(TimeSpan.FromSeconds(10), _clock, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _reconciling.Release();
        }
    }

    private async Task<(bool Ok, string Detail, bool TimedOut)> ReconcileOnceAsync(CancellationToken ct)
    {
        var timeout = _session.Settings.ReconcileTimeout;
        try
        {
            // Open orders: ours are re-mapped by orderRef as they arrive (OnEvent); the rest are external.
            var open = await GetOpenOrdersAsync(ct).ConfigureAwait(false);
            var external = open.Where(o => !IsOurs(o.ClientOrderId)).ToList();
            foreach (var o in external)
            {
                Problem?.Invoke($"IB has an order that is not ours: {o.ClientOrderId} {o.Side} {o.Quantity} {o.Symbol} {o.Type}: booked as external, left alone", false);
            }

            // Executions of the account (IB keeps the current day's): ours not yet reported are recovered by OnEvent.
            var before = RecoveredFills;
            var reqId = _session.NextRequestId();
            await _session.CollectAsync(TwsRequests.ReqExecutions(reqId, new TwsExecutionFilter { AccountCode = _session.Account }),
                e => e is ExecDetailsEvent d && d.ReqId == reqId, e => e is ExecDetailsEndEvent end && end.ReqId == reqId, timeout, "IB executions", ct).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromMilliseconds(200), _clock, ct).ConfigureAwait(false); // commission reports trail the executions
            FlushOverdueFills();

            // Our orders IB no longer lists as open: their end is in the completed orders; one IB has no record of never reached it.
            var resolved = await ResolveMissingOrdersAsync(open, ct).ConfigureAwait(false);

            // Positions against what we booked: the first reconciliation of the process adopts IB's.
            var positions = await GetPositionsAsync(ct).ConfigureAwait(false);
            var mismatches = new List<string>();
            lock (_gate)
            {
                if (!_reconciledOnce)
                {
                    // Our book (the earlier runs' as restored, plus the fills booked or recovered since) against IB's. After a
                    // restart a difference means our record is wrong (a fill we never saw, a trade outside the system): IB's
                    // position is adopted so the sentinel manages what is really held, and it is RED. On a first start (nothing
                    // restored) IB's positions are simply adopted, as before.
                    var symbols = positions.Select(p => p.Symbol).Concat(_netFilled.Keys).Concat(_adopted.Keys).Distinct(StringComparer.Ordinal).ToList();
                    foreach (var s in symbols)
                    {
                        var held = positions.FirstOrDefault(p => p.Symbol == s);
                        var theirs = held?.Quantity ?? 0m;
                        var ours = _adopted.GetValueOrDefault(s) + _netFilled.GetValueOrDefault(s);
                        if (theirs == ours)
                        {
                            continue;
                        }

                        _adopted[s] = theirs - _netFilled.GetValueOrDefault(s);
                        var now = _clock.GetUtcNow();
                        Emit(new BrokerPositionAdopted(s, theirs, held?.AveragePrice ?? 0m, now, now));
                        if (_resumedEarlierRun)
                        {
                            var text = string.Create(CultureInfo.InvariantCulture,
                                $"after the restart our book disagrees with IB in {s}: ours {ours} (the earlier run's book and the fills recovered), IB {theirs}; IB's adopted, check what traded while we were down");
                            _logger.LogError("IB reconciliation: {Problem}", text);
                            Problem?.Invoke(text, true);
                        }
                    }

                    _reconciledOnce = true;
                }
                else
                {
                    var symbols = positions.Select(p => p.Symbol).Concat(_netFilled.Keys).Concat(_adopted.Keys).Distinct(StringComparer.Ordinal);
                    foreach (var s in symbols)
                    {
                        var theirs = positions.FirstOrDefault(p => p.Symbol == s)?.Quantity ?? 0m;
                        var ours = _adopted.GetValueOrDefault(s) + _netFilled.GetValueOrDefault(s);
                        if (theirs != ours)
                        {
                            mismatches.Add(string.Create(CultureInfo.InvariantCulture, $"{s} ours {ours}, IB {theirs}"));
                        }
                    }
                }
            }

            var account = await AccountSummaryAsync(ct).ConfigureAwait(false);
            var detail = string.Create(CultureInfo.InvariantCulture,
                $"{open.Count} open order(s) ({external.Count} external), {RecoveredFills - before} fill(s) recovered, {resolved}, positions [{string.Join(", ", positions.Select(p => $"{p.Symbol} {p.Quantity}"))}], {account}");
            return mismatches.Count == 0 ? (true, detail, false) : (false, "positions differ: " + string.Join("; ", mismatches) + " — " + detail, false);
        }
        catch (Exception e) when (e is TimeoutException or TwsNotConnectedException)
        {
            return (false, e.Message, true);
        }
    }

    /// <summary>
    /// Resolves every order of ours that is neither finished here nor open at IB (TWS-PROTOCOL.md §8.5): a completed order
    /// gives its final status (cancelled or inactive: ended here too; filled: its executions were recovered above); an order
    /// IB has no record of was lost in flight (queued when the link dropped) and is ended as rejected. Loud either way.
    /// </summary>
    private async Task<string> ResolveMissingOrdersAsync(IReadOnlyList<BrokerOrder> open, CancellationToken ct)
    {
        List<IbOrder> missing;
        lock (_gate)
        {
            var openIds = open.Select(o => o.ClientOrderId).ToHashSet();
            missing = _orders.Values.Where(o => !o.Terminal && !openIds.Contains(o.Order.ClientOrderId)).ToList();
        }

        if (missing.Count == 0)
        {
            return "no order to resolve";
        }

        var completed = (await _session.CollectAsync(TwsRequests.ReqCompletedOrders(apiOnly: true), e => e is CompletedOrderEvent, e => e is CompletedOrdersEndEvent,
            _session.Settings.ReconcileTimeout, "IB completed orders", ct).ConfigureAwait(false)).Cast<CompletedOrderEvent>().ToList();
        var now = _clock.GetUtcNow();
        int cancelled = 0, lost = 0, filled = 0;
        lock (_gate)
        {
            foreach (var ib in missing.Where(o => !o.Terminal))
            {
                var done = completed.LastOrDefault(c => c.Order.OrderRef == ib.Order.ClientOrderId.Value);
                var status = done?.State.Status ?? "";
                if (done is null)
                {
                    ib.Terminal = true;
                    lost++;
                    Emit(new OrderRejected(ib.Order.ClientOrderId, "lost: IB lists it neither open nor completed (it never reached IB; queued when the link dropped)", now, now));
                    Problem?.Invoke($"order {ib.Order.ClientOrderId} ({ib.Order.Purpose} {ib.Order.Side} {ib.Order.Quantity} {ib.Order.Symbol}) never reached IB: ended as rejected; check protection", true);
                }
                else if (status is "Filled")
                {
                    filled++;
                    if (ib.CumQty < ib.Order.Quantity)
                    {
                        Problem?.Invoke($"order {ib.Order.ClientOrderId} is Filled at IB but only {ib.CumQty} of {ib.Order.Quantity} were reported as executions", true);
                    }
                }
                else
                {
                    ib.Terminal = true;
                    cancelled++;
                    Emit(status is "Inactive"
                        ? new OrderRejected(ib.Order.ClientOrderId, $"IB reports it {status} ({done.State.CompletedStatus})", now, now)
                        : new OrderCancelled(ib.Order.ClientOrderId, $"ended at IB while we were away: {status} {done.State.CompletedStatus}".TrimEnd(), now, now));
                    Problem?.Invoke($"order {ib.Order.ClientOrderId} ({ib.Order.Purpose} {ib.Order.Symbol}) ended at IB while we were away: {status}", false);
                }
            }
        }

        return $"{missing.Count} order(s) resolved from completed orders ({cancelled} ended, {filled} filled, {lost} lost)";
    }

    private async Task<string> AccountSummaryAsync(CancellationToken ct)
    {
        var reqId = _session.NextRequestId();
        var items = await _session.CollectAsync(TwsRequests.ReqAccountSummary(reqId, "All", "NetLiquidation,TotalCashValue,BuyingPower"),
            e => e is AccountSummaryEvent a && a.ReqId == reqId, e => e is AccountSummaryEndEvent end && end.ReqId == reqId, _session.Settings.ReconcileTimeout, "IB account summary", ct).ConfigureAwait(false);
        TrySend(TwsRequests.CancelAccountSummary(reqId));
        var mine = items.Cast<AccountSummaryEvent>().Where(a => a.Account == _session.Account).ToList();
        return mine.Count == 0 ? $"account {_session.Account}: no summary" : $"account {_session.Account}: " + string.Join(", ", mine.Select(a => $"{a.Tag} {a.Value} {a.Currency}"));
    }

    private void OnEvent(TwsEvent e)
    {
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            switch (e)
            {
                case OpenOrderEvent o:
                    OnOpenOrder(o, now);
                    break;
                case OrderStatusEvent s when _byIbId.TryGetValue(s.OrderId, out var ib):
                    OnStatus(ib, s, now);
                    break;
                case ExecDetailsEvent d:
                    OnExecution(d, now);
                    break;
                case CommissionReportEvent c:
                    _commissions[c.ExecId] = c;
                    if (_awaitingCommission.Remove(c.ExecId, out var pending))
                    {
                        EmitFill(pending.Exec, pending.Order, c, now);
                    }

                    break;
                case ErrorEvent err when err.Id > 0 && _byIbId.TryGetValue(err.Id, out var ib):
                    OnOrderError(ib, err, now);
                    break;
            }
        }
    }

    private void OnOpenOrder(OpenOrderEvent o, DateTimeOffset now)
    {
        IbOrder? ib = null;
        if (o.Order.OrderRef.Length > 0 && _orders.TryGetValue(new ClientOrderId(o.Order.OrderRef), out var byRef))
        {
            ib = byRef;
        }
        else if (_byIbId.TryGetValue(o.OrderId, out var byId) && o.Order.OrderRef.Length == 0)
        {
            ib = byId;
        }

        if (ib is null)
        {
            return; // not ours (reported once per reconciliation)
        }

        if (ib.IbId != o.OrderId)
        {
            _byIbId[o.OrderId] = ib; // the same order under the id IB reports (after a reconnect)
            if (ib.IbId == 0)
            {
                ib.IbId = o.OrderId; // an earlier run's order never acknowledged then: IB's id for it, from now on
            }
        }

        Resolve(ib);

        ib.PermId = o.Order.PermId != 0 ? o.Order.PermId : ib.PermId;
        if (ib.PendingModify is { } changed && ib.Prices is not null && Matches(o.Order, changed, ib.Prices))
        {
            ib.Order = changed;
            ib.PendingModify = null;
            Emit(new OrderModified(ib.Order.ClientOrderId, changed.StopPrice, changed.LimitPrice, changed.Quantity, now, now));
        }

        if (o.State.Status is "Submitted" or "PreSubmitted")
        {
            Accept(ib, now);
        }
    }

    private void OnStatus(IbOrder ib, OrderStatusEvent s, DateTimeOffset now)
    {
        ib.PermId = s.PermId != 0 ? s.PermId : ib.PermId;
        switch (s.Status)
        {
            case "Submitted" or "PreSubmitted":
                Accept(ib, now);
                break;
            case "Cancelled" or "ApiCancelled" when !ib.Terminal && ib.CumQty < ib.Order.Quantity:
                ib.Terminal = true;
                Emit(new OrderCancelled(ib.Order.ClientOrderId, ib.LastError ?? "cancelled at IB", now, now));
                break;
            case "Inactive" when !ib.Terminal:
                ib.Terminal = true;
                Emit(new OrderRejected(ib.Order.ClientOrderId, ib.LastError ?? "IB reports the order inactive", now, now));
                break;
        }
    }

    private void OnOrderError(IbOrder ib, ErrorEvent err, DateTimeOffset now)
    {
        var text = $"IB {err.Code}: {err.Message}";
        if (err.Code is >= 2100 and < 2200)
        {
            _logger.LogInformation("IB notice on order {ClientOrderId}: {Text}", ib.Order.ClientOrderId, text);
            return;
        }

        ib.LastError = text;
        if (err.Code == 202)
        {
            return; // the Cancelled status follows and ends the order
        }

        if (ib.PendingModify is not null)
        {
            ib.PendingModify = null;
            Emit(new OrderRequestRejected(ib.Order.ClientOrderId, "modify", text, now, now));
            return;
        }

        if (err.Code is 10147 or 161 or 10148)
        {
            Emit(new OrderRequestRejected(ib.Order.ClientOrderId, "cancel", text, now, now));
            return;
        }

        if (!ib.Accepted && !ib.Terminal)
        {
            ib.Terminal = true;
            Emit(new OrderRejected(ib.Order.ClientOrderId, text, now, now));
            return;
        }

        _logger.LogWarning("IB error on working order {ClientOrderId}: {Text}", ib.Order.ClientOrderId, text);
    }

    private void OnExecution(ExecDetailsEvent d, DateTimeOffset now)
    {
        var x = d.Execution;
        if (x.AccountNumber.Length > 0 && _session.Account.Length > 0 && x.AccountNumber != _session.Account)
        {
            return;
        }

        if (_executions.Contains(x.ExecId) || _awaitingCommission.ContainsKey(x.ExecId))
        {
            return; // reported before (a reconciliation sees the day's executions again)
        }

        IbOrder? ib = null;
        if (x.OrderRef.Length > 0)
        {
            _orders.TryGetValue(new ClientOrderId(x.OrderRef), out ib);
        }
        else if (x.ClientId == _session.Settings.ClientId)
        {
            _byIbId.TryGetValue(x.OrderId, out ib);
        }

        if (ib is null)
        {
            _executions.Add(x.ExecId);
            Problem?.Invoke($"IB execution {x.ExecId} ({x.Side} {x.Shares} {d.Contract.Symbol} @ {x.Price}, orderRef '{x.OrderRef}') is not of an order of ours (this run's or an earlier one's): external", false);
            return;
        }

        if (d.ReqId != -1)
        {
            RecoveredFills++;
            _logger.LogWarning("IB execution {ExecId} of {ClientOrderId} recovered by reconciliation (it happened while the link was down or before the callback)", x.ExecId, ib.Order.ClientOrderId);
        }

        if (_commissions.TryGetValue(x.ExecId, out var commission))
        {
            EmitFill(d, ib, commission, now);
        }
        else
        {
            _awaitingCommission[x.ExecId] = (d, ib, now);
        }
    }

    private void EmitFill(ExecDetailsEvent d, IbOrder ib, CommissionReportEvent? commission, DateTimeOffset now)
    {
        var x = d.Execution;
        if (_executions.Contains(x.ExecId))
        {
            return;
        }

        if (!Resolve(ib))
        {
            // An earlier run's order before the contract book has its details: the price unit is unknown. Not booked now (not
            // marked as seen either): the next reconciliation's reqExecutions recovers it once the details are in.
            _logger.LogError("IB execution {ExecId} of {ClientOrderId}: no contract details for {Symbol}, its price unit is unknown; left to the next reconciliation", x.ExecId, ib.Order.ClientOrderId, ib.Order.Symbol);
            Problem?.Invoke($"IB execution {x.ExecId} of {ib.Order.ClientOrderId} ({ib.Order.Symbol}) not booked yet: no contract details (price unit unknown); the next reconciliation recovers it", true);
            return;
        }

        _executions.Add(x.ExecId);
        Accept(ib, now);

        var instrument = _instruments.Get(ib.Order.Symbol);
        var side = x.Side == "BOT" ? OrderSide.Buy : OrderSide.Sell;
        var quantity = x.Shares;
        ib.CumQty = Math.Max(ib.CumQty + quantity, x.CumQty);
        var currency = commission is { Currency.Length: 3 } ? new Currency(commission.Currency) : instrument.Currency;
        var fill = new Fill(x.ExecId, ib.Order.ClientOrderId, ib.Order.Symbol, side, quantity, ib.Prices!.ToMajor(x.Price),
            new Money(Math.Round((decimal)(commission?.Commission ?? 0d), 2, MidpointRounding.AwayFromZero), currency), ParseTime(x.Time, now));
        _netFilled[ib.Order.Symbol] = _netFilled.GetValueOrDefault(ib.Order.Symbol) + (side.Sign() * quantity);
        var leaves = Math.Max(0m, ib.Order.Quantity - ib.CumQty);
        if (leaves == 0m)
        {
            ib.Terminal = true;
        }

        Emit(new OrderFilled(ib.Order.ClientOrderId, fill, leaves, fill.EventTimeUtc, now));
    }

    private void Accept(IbOrder ib, DateTimeOffset now)
    {
        if (ib.Accepted)
        {
            return;
        }

        ib.Accepted = true;
        Emit(new OrderAccepted(ib.Order.ClientOrderId, ib.PermId != 0 ? $"{ib.IbId}/{ib.PermId}" : ib.IbId.ToString(CultureInfo.InvariantCulture), now, now));
    }

    private bool IsOurs(ClientOrderId id)
    {
        lock (_gate)
        {
            return _orders.ContainsKey(id);
        }
    }

    private void TrySend(TwsOutgoingMessage message)
    {
        try
        {
            _session.Client.Send(message);
        }
        catch (TwsNotConnectedException e)
        {
            _logger.LogDebug("IB request not sent ({Message})", e.Message);
        }
    }

    /// <summary>Whether IB's openOrder (prices in IB's unit) shows the modified order (prices compared as sent: converted and rounded to the tick).</summary>
    private static bool Matches(TwsOrderInfo reported, SubmitOrder changed, IbPriceConverter prices) =>
        reported.TotalQuantity == changed.Quantity
        && (changed.Type != OrderType.Limit || changed.LimitPrice is null || Near(reported.LmtPrice, prices.ToIbPrice(changed.LimitPrice.Value)))
        && (changed.Type != OrderType.Stop || changed.StopPrice is null || Near(reported.AuxPrice, prices.ToIbPrice(changed.StopPrice.Value)));

    private static bool Near(double? reported, double wanted) => reported is { } r && Math.Abs((decimal)r - (decimal)wanted) < 0.0000001m;

    /// <summary>Our order as IB's, its prices in IB's unit for the contract (<see cref="IbPriceConverter.ToIbPrice"/>).</summary>
    private TwsOrder ToTws(SubmitOrder o, IbPriceConverter prices) => new()
    {
        Action = o.Side == OrderSide.Buy ? TwsOrderAction.Buy : TwsOrderAction.Sell,
        TotalQuantity = o.Quantity,
        OrderType = o.Type switch { OrderType.Limit => TwsOrderType.Limit, OrderType.Stop => TwsOrderType.Stop, _ => TwsOrderType.Market },
        LmtPrice = o.Type == OrderType.Limit ? prices.ToIbPrice(o.LimitPrice!.Value) : null,
        AuxPrice = o.Type == OrderType.Stop ? prices.ToIbPrice(o.StopPrice!.Value) : null,
        Tif = TifCode(o.TimeInForce),
        Account = _session.Account,
        OrderRef = o.ClientOrderId.Value,
        Transmit = true,
        OutsideRth = o.TimeInForce != TimeInForce.AtTheOpen, // an opening-auction order trades in the auction, not outside regular hours
    };

    /// <summary>IB's time in force code: GTC, DAY, or OPG (the opening auction: MKT + OPG is market-on-open, LMT + OPG limit-on-open).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A time in force IB has no code for here.</exception>
    internal static string TifCode(TimeInForce tif) => tif switch
    {
        TimeInForce.Gtc => "GTC",
        TimeInForce.Day => "DAY",
        TimeInForce.AtTheOpen => "OPG",
        _ => throw new ArgumentOutOfRangeException(nameof(tif), tif, "no IB time in force for this value"),
    };

    private static bool OpensRisk(SubmitOrder order) => order.Purpose is OrderPurpose.Entry or OrderPurpose.Add;

    /// <summary>IB execution time: "yyyyMMdd  HH:mm:ss" (local to TWS, optionally with a zone) or "yyyyMMdd-HH:mm:ss" (UTC).</summary>
    private static DateTimeOffset ParseTime(string text, DateTimeOffset fallback)
    {
        var t = text.Trim();
        if (DateTime.TryParseExact(t, "yyyyMMdd-HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var utc))
        {
            return new DateTimeOffset(utc, TimeSpan.Zero);
        }

        var parts = t.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length >= 2 && DateTime.TryParseExact($"{parts[0]} {parts[1]}", "yyyyMMdd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            var zone = parts.Length >= 3 && TimeZoneInfo.TryFindSystemTimeZoneById(parts[2], out var z) ? z : TimeZoneInfo.Utc;
            return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, zone), TimeSpan.Zero);
        }

        return fallback;
    }

    private void Emit(OrderEvent e)
    {
        if (!_events.Writer.TryWrite(e))
        {
            throw new InvalidOperationException("IB gateway event channel is closed");
        }
    }

    private sealed class IbOrder(SubmitOrder order, int ibId, TwsContract? contract, IbPriceConverter? prices)
    {
        /// <summary>The contract's price converter; null for an earlier run's order until the contract book has its details.</summary>
        public IbPriceConverter? Prices { get; set; } = prices;

        public SubmitOrder Order { get; set; } = order;

        /// <summary>IB's order id (0: an earlier run's order never acknowledged, until IB lists it).</summary>
        public int IbId { get; set; } = ibId;

        /// <summary>The contract; null for an earlier run's order until the contract book has its details.</summary>
        public TwsContract? Contract { get; set; } = contract;

        /// <summary>Taken over from an earlier run (database).</summary>
        public bool Resumed { get; init; }

        public long PermId { get; set; }

        public decimal CumQty { get; set; }

        public bool Accepted { get; set; }

        public bool Terminal { get; set; }

        public string? LastError { get; set; }

        public SubmitOrder? PendingModify { get; set; }
    }
}
