using System.Globalization;
using Microsoft.Extensions.Logging;

namespace MetalSniper.FakeTws;

public sealed partial class FakeTwsServer
{
    private readonly Dictionary<(int ClientId, int OrderId), FakeOrder> _orders = [];
    private readonly List<FakeOrder> _completed = [];
    private readonly List<ExecutionRecord> _executions = [];
    private readonly Queue<string> _rejectNext = new();
    private Func<FakeOrderSnapshot, string?>? _rejectRule;
    private long _nextPermId;
    private long _orderSequence;
    private long _execSequence;
    private readonly List<(FakeTwsSession Session, int OrderId)> _heldCancels = [];
    private bool _holdCancels;

    /// <summary>
    /// While true, cancelOrder requests are received (and logged) but not answered: the order stays working, as at an
    /// exchange that is slow to confirm a cancel. <see cref="ReleaseCancels"/> answers them in order.
    /// </summary>
    public bool HoldCancels
    {
        get
        {
            lock (_gate)
            {
                return _holdCancels;
            }
        }

        set
        {
            lock (_gate)
            {
                _holdCancels = value;
            }
        }
    }

    /// <summary>Cancel requests held so far (not yet answered).</summary>
    public int HeldCancels
    {
        get
        {
            lock (_gate)
            {
                return _heldCancels.Count;
            }
        }
    }

    /// <summary>Stops holding cancels and answers the held ones now, in order (an order finished meanwhile gets error 10148).</summary>
    public void ReleaseCancels()
    {
        lock (_gate)
        {
            _holdCancels = false;
            foreach (var (session, orderId) in _heldCancels)
            {
                HandleCancelOrder(session, orderId);
            }

            _heldCancels.Clear();
        }
    }

    /// <summary>Every order the engine holds (open, untransmitted and finished), ordered by placement.</summary>
    public IReadOnlyList<FakeOrderSnapshot> Orders
    {
        get
        {
            lock (_gate)
            {
                return [.. _orders.Values.OrderBy(o => o.Sequence).Select(o => o.Snapshot())];
            }
        }
    }

    /// <summary>Every execution so far, in order.</summary>
    public IReadOnlyList<FakeExecution> Executions
    {
        get
        {
            lock (_gate)
            {
                return [.. _executions.Select(e => e.Execution)];
            }
        }
    }

    /// <summary>The order a client placed with <paramref name="orderId"/>, or null.</summary>
    public FakeOrderSnapshot? FindOrder(int clientId, int orderId)
    {
        lock (_gate)
        {
            return _orders.TryGetValue((clientId, orderId), out var order) ? order.Snapshot() : null;
        }
    }

    /// <summary>Rejects the next new order (error 201 with this reason, then orderStatus Cancelled). Calls queue up.</summary>
    public void RejectNextOrder(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        lock (_gate)
        {
            _rejectNext.Enqueue(reason);
        }
    }

    /// <summary>A rule applied to every new order: return a reason to reject it (error 201), or null to accept. Null clears the rule.</summary>
    public void SetRejectRule(Func<FakeOrderSnapshot, string?>? rule)
    {
        lock (_gate)
        {
            _rejectRule = rule;
        }
    }

    /// <summary>
    /// Fills (part of) a working order now at <paramref name="price"/>, regardless of the market: execDetails, commissionReport,
    /// orderStatus and openOrder go to the owner if connected; positions and account values change.
    /// </summary>
    /// <exception cref="InvalidOperationException">The order does not exist or is not working, or the quantity exceeds what remains.</exception>
    public void FillOrder(int clientId, int orderId, decimal quantity, double price)
    {
        lock (_gate)
        {
            if (!_orders.TryGetValue((clientId, orderId), out var order) || !IsWorking(order))
            {
                throw new InvalidOperationException($"order {clientId}/{orderId} is not a working order");
            }

            if (quantity <= 0 || quantity > order.Remaining)
            {
                throw new InvalidOperationException($"fill quantity must be in (0, {order.Remaining}], was {quantity}");
            }

            FillLocked(order, quantity, price);
            RunEngineLocked(_markets[order.Contract.Key]);
        }
    }

    /// <summary>Cancels a working order from the TWS side (orderStatus Cancelled + error 202 with the reason), as an exchange or TWS would.</summary>
    /// <exception cref="InvalidOperationException">The order does not exist or is already finished.</exception>
    public void CancelOrderFromServer(int clientId, int orderId, string reason = "")
    {
        lock (_gate)
        {
            if (!_orders.TryGetValue((clientId, orderId), out var order) || order.IsTerminal)
            {
                throw new InvalidOperationException($"order {clientId}/{orderId} is not open");
            }

            CancelLocked(order, reason, pendingFirst: false);
        }
    }

    private void HandlePlaceOrder(FakeTwsSession session, RequestReader r, int orderId, int fieldCount)
    {
        var query = ReadContract(r);
        r.String("secIdType");
        r.String("secId");
        var action = r.String("action");
        var quantity = r.Decimal("totalQuantity");
        var orderType = r.String("orderType");
        var lmtPrice = r.Double("lmtPrice");
        var auxPrice = r.Double("auxPrice");
        var tif = r.String("tif");
        var ocaGroup = r.String("ocaGroup");
        var account = r.String("account");
        var openClose = r.String("openClose");
        r.Int("origin");
        var orderRef = r.String("orderRef");
        var transmit = r.Bool("transmit");
        var parentId = r.Int("parentId");
        r.Bool("blockOrder");
        r.Bool("sweepToFill");
        r.Int("displaySize");
        r.Int("triggerMethod");
        var outsideRth = r.Bool("outsideRth");
        r.Bool("hidden");
        if (string.Equals(query.SecType, "BAG", StringComparison.OrdinalIgnoreCase))
        {
            throw new TwsRequestException(321, "Error validating request: combo (BAG) orders are not supported by the fake TWS");
        }

        r.String("sharesAllocation");
        r.Double("discretionaryAmt");
        r.String("goodAfterTime");
        r.String("goodTillDate");
        r.String("faGroup");
        r.String("faMethod");
        r.String("faPercentage");
        if (session.NegotiatedVersion < 177)
        {
            r.String("faProfile");
        }

        r.String("modelCode");
        r.Int("shortSaleSlot");
        r.String("designatedLocation");
        r.Int("exemptCode");
        var ocaType = r.Int("ocaType");
        r.String("rule80A");
        r.String("settlingFirm");
        r.Bool("allOrNone");
        r.Int("minQty");
        r.Double("percentOffset");
        r.Bool("eTradeOnly");
        r.Bool("firmQuoteOnly");
        r.Double("nbboPriceCap");
        r.Int("auctionStrategy");
        r.Double("startingPrice");
        r.Double("stockRefPrice");
        r.Double("delta");
        r.Double("stockRangeLower");
        r.Double("stockRangeUpper");
        r.Bool("overridePercentageConstraints");
        r.Double("volatility");
        r.Int("volatilityType");
        var deltaNeutralOrderType = r.String("deltaNeutralOrderType");
        r.Double("deltaNeutralAuxPrice");
        if (deltaNeutralOrderType.Length > 0)
        {
            r.Skip(8, "deltaNeutral order fields");
        }

        r.Int("continuousUpdate");
        r.Int("referencePriceType");
        r.Double("trailStopPrice");
        r.Double("trailingPercent");
        r.Int("scaleInitLevelSize");
        r.Int("scaleSubsLevelSize");
        var scalePriceIncrement = r.Double("scalePriceIncrement");
        if (scalePriceIncrement is > 0)
        {
            r.Skip(7, "scale fields");
        }

        r.String("scaleTable");
        r.String("activeStartTime");
        r.String("activeStopTime");
        if (r.String("hedgeType").Length > 0)
        {
            r.String("hedgeParam");
        }

        r.Bool("optOutSmartRouting");
        r.String("clearingAccount");
        r.String("clearingIntent");
        r.Bool("notHeld");
        if (r.Bool("deltaNeutralContractPresent"))
        {
            r.Skip(3, "deltaNeutralContract");
        }

        if (r.String("algoStrategy").Length > 0)
        {
            r.Skip(2 * r.Int("algoParamsCount"), "algoParam");
        }

        r.String("algoId");
        var whatIf = r.Bool("whatIf");
        r.String("orderMiscOptions");
        r.Bool("solicited");
        r.Bool("randomizeSize");
        r.Bool("randomizePrice");
        if (orderType == "PEG BENCH")
        {
            r.Skip(5, "pegBench fields");
        }

        if (r.Int("conditionsCount") > 0)
        {
            throw new TwsRequestException(321, "Error validating request: order conditions are not supported by the fake TWS");
        }

        r.String("adjustedOrderType");
        r.Double("triggerPrice");
        r.Double("lmtPriceOffset");
        r.Double("adjustedStopPrice");
        r.Double("adjustedStopLimitPrice");
        r.Double("adjustedTrailingAmount");
        r.Int("adjustableTrailingUnit");
        r.String("extOperator");
        r.String("softDollarTier.name");
        r.String("softDollarTier.value");
        r.Double("cashQty");
        r.String("mifid2DecisionMaker");
        r.String("mifid2DecisionAlgo");
        r.String("mifid2ExecutionTrader");
        r.String("mifid2ExecutionAlgo");
        r.Bool("dontUseAutoPriceForHedge");
        r.Bool("isOmsContainer");
        r.Bool("discretionaryUpToLimitPrice");
        r.String("usePriceMgmtAlgo");
        r.Int("duration");
        r.Int("postToAts");
        r.Bool("autoCancelParent");
        r.String("advancedErrorOverride");
        r.String("manualOrderTime");
        if (r.Remaining > 0)
        {
            _logger.LogDebug("Fake TWS: placeOrder {OrderId} has {Extra} fields after manualOrderTime ({Count} in all), ignored", orderId, r.Remaining, fieldCount);
        }

        if (action is not ("BUY" or "SELL" or "SSHORT"))
        {
            throw new TwsRequestException(321, $"Error validating request: action must be BUY, SELL or SSHORT, was '{action}'");
        }

        if (quantity is not > 0)
        {
            SendErrorLocked(session, orderId, 434, "The order size cannot be zero.");
            return;
        }

        if (account.Length == 0)
        {
            if (Options.Accounts.Count > 1)
            {
                SendErrorLocked(session, orderId, 435, "You must specify an account.");
                return;
            }

            account = Options.Accounts[0];
        }

        var contract = ResolveOrError(session, orderId, query);
        if (contract is null)
        {
            return;
        }

        var request = new FakeOrder
        {
            ClientId = session.ClientId,
            OrderId = orderId,
            Contract = contract,
            Action = action == "SSHORT" ? "SELL" : action,
            TotalQuantity = quantity.Value,
            OrderType = orderType,
            LmtPrice = lmtPrice,
            AuxPrice = auxPrice,
            Tif = tif,
            OcaGroup = ocaGroup,
            OcaType = ocaType,
            Account = account,
            OpenClose = openClose,
            OrderRef = orderRef,
            Transmit = transmit,
            ParentId = parentId,
            OutsideRth = outsideRth,
        };

        if (whatIf)
        {
            request.Status = "PreSubmitted";
            Send(session, Frames.OpenOrder(request, OpenOrderDeltaNeutralNone, whatIf: true));
            return;
        }

        if (_orders.TryGetValue((session.ClientId, orderId), out var existing))
        {
            ModifyLocked(session, existing, request);
            return;
        }

        PlaceNewLocked(session, request);
    }

    private string? ValidateOrderShape(FakeOrder order)
    {
        if (order.Account.Length > 0 && !Options.Accounts.Contains(order.Account))
        {
            return $"Account {order.Account} is not a managed account";
        }

        return order.OrderType switch
        {
            "MKT" => null,
            "LMT" => order.LmtPrice is > 0 ? null : "LMT order needs a positive limit price",
            "STP" => order.AuxPrice is > 0 ? null : "STP order needs a positive stop price (auxPrice)",
            "STP LMT" => order.LmtPrice is > 0 && order.AuxPrice is > 0 ? null : "STP LMT order needs a limit price and a stop price",
            _ => $"order type '{order.OrderType}' is not supported by the fake TWS (MKT, LMT, STP, STP LMT)",
        };
    }

    private void PlaceNewLocked(FakeTwsSession session, FakeOrder order)
    {
        order.Sequence = ++_orderSequence;
        _nextValidId = Math.Max(_nextValidId, order.OrderId + 1);
        var reason = ValidateOrderShape(order);
        if (reason is null && order.ParentId != 0 && !_orders.ContainsKey((order.ClientId, order.ParentId)))
        {
            reason = $"parent order {order.ParentId} not found";
        }

        if (reason is null && _rejectNext.Count > 0)
        {
            reason = _rejectNext.Dequeue();
        }

        reason ??= _rejectRule?.Invoke(order.Snapshot());
        _orders[(order.ClientId, order.OrderId)] = order;
        if (reason is not null)
        {
            order.PermId = _nextPermId++;
            order.Status = "Cancelled";
            CompleteLocked(order, "Rejected: " + reason);
            _logger.LogInformation("Fake TWS: order {ClientId}/{OrderId} rejected: {Reason}", order.ClientId, order.OrderId, reason);
            SendErrorLocked(session, order.OrderId, 201, "Order rejected - reason:" + reason);
            Send(session, Frames.OrderStatus(order));
            return;
        }

        if (!order.Transmit)
        {
            order.Held = true;
            order.Status = "Untransmitted";
            _logger.LogDebug("Fake TWS: order {ClientId}/{OrderId} held (transmit=0)", order.ClientId, order.OrderId);
            return;
        }

        TransmitGroupLocked(order);
    }

    private void ModifyLocked(FakeTwsSession session, FakeOrder existing, FakeOrder request)
    {
        if (existing.Contract.ConId != request.Contract.ConId || existing.Action != request.Action)
        {
            SendErrorLocked(session, request.OrderId, 103, "Duplicate order id");
            return;
        }

        if (existing.Status == "Filled")
        {
            SendErrorLocked(session, request.OrderId, 104, "Can't modify a filled order.");
            return;
        }

        if (existing.IsTerminal)
        {
            SendErrorLocked(session, request.OrderId, 103, "Duplicate order id");
            return;
        }

        if (request.TotalQuantity < existing.Filled)
        {
            SendErrorLocked(session, request.OrderId, 321, $"Error validating request: quantity {request.TotalQuantity} is below the filled {existing.Filled}");
            return;
        }

        var reason = ValidateOrderShape(request);
        if (reason is not null)
        {
            SendErrorLocked(session, request.OrderId, 201, "Order rejected - reason:" + reason);
            return;
        }

        existing.TotalQuantity = request.TotalQuantity;
        existing.OrderType = request.OrderType;
        existing.LmtPrice = request.LmtPrice;
        existing.AuxPrice = request.AuxPrice;
        existing.Tif = request.Tif;
        existing.OutsideRth = request.OutsideRth;
        existing.OcaGroup = request.OcaGroup;
        existing.OcaType = request.OcaType;
        if (request.OrderRef.Length > 0)
        {
            existing.OrderRef = request.OrderRef;
        }

        _logger.LogInformation("Fake TWS: order {ClientId}/{OrderId} modified: {Quantity} {Type} lmt {Lmt} aux {Aux}", existing.ClientId, existing.OrderId, existing.TotalQuantity, existing.OrderType, existing.LmtPrice, existing.AuxPrice);
        if (existing.Held)
        {
            if (request.Transmit)
            {
                existing.Transmit = true;
                TransmitGroupLocked(existing);
            }

            return;
        }

        if (existing.IsStop && !existing.Triggered && existing.Status == "Submitted")
        {
            existing.Status = "PreSubmitted";
        }

        SendToClient(existing.ClientId, Frames.OpenOrder(existing, OpenOrderDeltaNeutralNone));
        SendToClient(existing.ClientId, Frames.OrderStatus(existing));
        RunEngineLocked(_markets[existing.Contract.Key]);
    }

    /// <summary>Transmits an order and its held bracket relatives: the parent first, then the children in id order (§7, §10.4).</summary>
    private void TransmitGroupLocked(FakeOrder order)
    {
        var root = order.ParentId != 0 && _orders.TryGetValue((order.ClientId, order.ParentId), out var parent) ? parent : order;
        var group = new List<FakeOrder>();
        if (root.Held || root == order)
        {
            group.Add(root);
        }

        group.AddRange(_orders.Values
            .Where(o => o.ClientId == root.ClientId && o.ParentId == root.OrderId && o != root && (o.Held || o == order))
            .OrderBy(o => o.OrderId));
        if (!group.Contains(order))
        {
            group.Add(order);
        }

        foreach (var member in group)
        {
            member.Held = false;
            member.Transmit = true;
            member.PermId = _nextPermId++;
            member.Status = InitialStatus(member);
            _logger.LogInformation("Fake TWS: order {ClientId}/{OrderId} accepted ({Action} {Quantity} {Symbol} {Type}) permId {PermId} {Status}", member.ClientId, member.OrderId, member.Action, member.TotalQuantity, member.Contract.Key, member.OrderType, member.PermId, member.Status);
            SendToClient(member.ClientId, Frames.OpenOrder(member, OpenOrderDeltaNeutralNone));
            SendToClient(member.ClientId, Frames.OrderStatus(member));
        }

        RunEngineLocked(_markets[order.Contract.Key]);
        foreach (var other in group.Select(m => m.Contract.Key).Distinct().Where(k => k != order.Contract.Key))
        {
            RunEngineLocked(_markets[other]);
        }
    }

    private string InitialStatus(FakeOrder order)
    {
        if (order.ParentId != 0 && _orders.TryGetValue((order.ClientId, order.ParentId), out var parent) && parent.Status != "Filled")
        {
            return "PreSubmitted";
        }

        return order.IsStop && !order.Triggered ? "PreSubmitted" : "Submitted";
    }

    private bool IsWorking(FakeOrder order) =>
        !order.Held && !order.IsTerminal && order.PermId != 0 && order.Status != "PendingCancel"
        && (order.ParentId == 0 || !_orders.TryGetValue((order.ClientId, order.ParentId), out var parent) || parent.Status == "Filled");

    private void HandleCancelOrder(FakeTwsSession session, int orderId)
    {
        if (_holdCancels)
        {
            _heldCancels.Add((session, orderId));
            return;
        }

        if (!_orders.TryGetValue((session.ClientId, orderId), out var order))
        {
            SendErrorLocked(session, orderId, 10147, $"OrderId {orderId} that needs to be cancelled is not found.");
            return;
        }

        if (order.IsTerminal)
        {
            SendErrorLocked(session, orderId, 10148, $"OrderId {orderId} that needs to be cancelled cannot be cancelled, state: {order.Status}.");
            return;
        }

        CancelLocked(order, "", pendingFirst: true);
    }

    private void HandleGlobalCancel()
    {
        foreach (var order in _orders.Values.Where(o => !o.IsTerminal).OrderBy(o => o.Sequence).ToList())
        {
            if (!order.IsTerminal)
            {
                CancelLocked(order, "", pendingFirst: true);
            }
        }
    }

    /// <summary>PendingCancel (optional) → Cancelled + error 202; children of a cancelled parent go too (§4.5).</summary>
    private void CancelLocked(FakeOrder order, string reason, bool pendingFirst)
    {
        if (pendingFirst && !order.Held)
        {
            order.Status = "PendingCancel";
            SendToClient(order.ClientId, Frames.OrderStatus(order));
        }

        order.Status = "Cancelled";
        order.Held = false;
        CompleteLocked(order, "Cancelled by Trader");
        _logger.LogInformation("Fake TWS: order {ClientId}/{OrderId} cancelled {Reason}", order.ClientId, order.OrderId, reason);
        SendToClient(order.ClientId, Frames.OrderStatus(order));
        SendErrorToClient(order.ClientId, order.OrderId, 202, "Order Canceled - reason:" + reason);
        foreach (var child in _orders.Values.Where(o => o.ClientId == order.ClientId && o.ParentId == order.OrderId && !o.IsTerminal).ToList())
        {
            CancelLocked(child, "parent order cancelled", pendingFirst: false);
        }
    }

    private void CompleteLocked(FakeOrder order, string completedStatus)
    {
        order.CompletedTime = Now;
        order.CompletedStatus = completedStatus;
        _completed.Add(order);
    }

    private void HandleOpenOrders(FakeTwsSession session, bool all)
    {
        foreach (var order in _orders.Values.Where(o => !o.Held && !o.IsTerminal && (all || o.ClientId == session.ClientId)).OrderBy(o => o.Sequence))
        {
            Send(session, Frames.OpenOrder(order, OpenOrderDeltaNeutralNone));
            Send(session, Frames.OrderStatus(order));
        }

        Send(session, new FrameBuilder(53).Add(1));
    }

    private void HandleCompletedOrders(FakeTwsSession session, bool apiOnly)
    {
        _ = apiOnly; // every order in the fake is an API order
        foreach (var order in _completed)
        {
            Send(session, Frames.CompletedOrder(order, FormatConnectionTime(order.CompletedTime ?? Now)));
        }

        Send(session, new FrameBuilder(102));
    }

    private void HandleReqExecutions(FakeTwsSession session, RequestReader r, int reqId)
    {
        var clientId = r.Int("filter.clientId");
        var account = r.String("filter.acctCode");
        var timeText = r.String("filter.time");
        var symbol = r.String("filter.symbol");
        var secType = r.String("filter.secType");
        var exchange = r.String("filter.exchange");
        var side = r.String("filter.side");
        DateTimeOffset? since = timeText.Length == 0 ? null : ParseFilterTime(timeText);
        foreach (var record in _executions)
        {
            var e = record.Execution;
            var visible = session.ClientId == 0 || e.ClientId == session.ClientId;
            var matches = visible
                && (clientId == 0 || e.ClientId == clientId)
                && (account.Length == 0 || string.Equals(e.Account, account, StringComparison.OrdinalIgnoreCase))
                && (since is null || e.Time >= since)
                && (symbol.Length == 0 || string.Equals(record.Contract.Symbol, symbol, StringComparison.OrdinalIgnoreCase))
                && (secType.Length == 0 || string.Equals(record.Contract.SecType, secType, StringComparison.OrdinalIgnoreCase))
                && (exchange.Length == 0 || ExchangeAccepted(record.Contract, exchange))
                && (side.Length == 0 || SideMatches(side, e.Side));
            if (matches)
            {
                Send(session, Frames.ExecDetails(reqId, record, FormatConnectionTime(e.Time)));
                Send(session, Frames.CommissionReport(record, Options.BaseCurrency));
            }
        }

        Send(session, new FrameBuilder(55).Add(1).Add(reqId));
    }

    private static bool SideMatches(string filter, string side) => filter.ToUpperInvariant() switch
    {
        "BUY" or "BOT" => side == "BOT",
        "SELL" or "SLD" or "SSHORT" => side == "SLD",
        _ => false,
    };

    /// <summary>Parses an execution filter time: "yyyyMMdd HH:mm:ss" (server zone, optional " TZ") or UTC "yyyyMMdd-HH:mm:ss" (§4.1).</summary>
    private DateTimeOffset ParseFilterTime(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length >= 17 && trimmed[8] == '-'
            && DateTime.TryParseExact(trimmed[..17], "yyyyMMdd-HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var utc))
        {
            return new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc));
        }

        if (trimmed.Length >= 17
            && DateTime.TryParseExact(trimmed[..17], "yyyyMMdd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            var zone = _timeZone;
            var suffix = trimmed[17..].Trim();
            if (suffix.Length > 0)
            {
                try
                {
                    zone = TimeZoneInfo.FindSystemTimeZoneById(suffix);
                }
                catch (TimeZoneNotFoundException)
                {
                    throw new TwsRequestException(321, $"Error validating request: unknown time zone in execution filter time '{text}'");
                }
            }

            return new DateTimeOffset(local, zone.GetUtcOffset(local));
        }

        throw new TwsRequestException(321, $"Error validating request: execution filter time must be 'yyyyMMdd HH:mm:ss [TZ]' or 'yyyyMMdd-HH:mm:ss', was '{text}'");
    }

    /// <summary>Matches every working order of a contract against its quote until nothing more fills (fills may activate children).</summary>
    private void RunEngineLocked(MarketState market)
    {
        for (var pass = 0; pass < 100; pass++)
        {
            var filledAny = false;
            foreach (var order in WorkingOrders(market.Contract))
            {
                if (!IsWorking(order))
                {
                    continue;
                }

                var price = MatchQuote(order, market);
                if (price is { } p)
                {
                    var quantity = order.Remaining;
                    if (Options.FillsTakeQuoteSize)
                    {
                        // A thin touch: no more than the size quoted there, used up by the fills against it.
                        quantity = Math.Min(quantity, order.IsBuy ? market.AskLeft : market.BidLeft);
                        if (quantity <= 0m)
                        {
                            continue;
                        }

                        if (order.IsBuy)
                        {
                            market.AskLeft -= quantity;
                        }
                        else
                        {
                            market.BidLeft -= quantity;
                        }
                    }

                    FillLocked(order, quantity, p);
                    filledAny = true;
                }
            }

            if (!filledAny)
            {
                return;
            }
        }

        _logger.LogWarning("Fake TWS: order engine for {Symbol} did not settle within 100 passes", market.Contract.Key);
    }

    private List<FakeOrder> WorkingOrders(FakeContract contract) =>
        [.. _orders.Values.Where(o => o.Contract.ConId == contract.ConId && IsWorking(o)).OrderBy(o => o.Sequence)];

    /// <summary>The fill price of an order against a quote, or null; untriggered stops that trigger without filling turn Submitted.</summary>
    private double? MatchQuote(FakeOrder order, MarketState market)
    {
        // A market-on-open order (time in force OPG) waits for the opening auction: the next bar's open, never the quote.
        if (order.Tif == "OPG")
        {
            return null;
        }

        var buyPrice = market.Ask ?? market.Last;
        var sellPrice = market.Bid ?? market.Last;
        var touch = order.IsBuy ? buyPrice : sellPrice;
        if (touch is not { } t)
        {
            return null;
        }

        if (order.IsStop && !order.Triggered)
        {
            var stop = order.AuxPrice!.Value;
            var triggered = order.IsBuy ? t >= stop : t <= stop;
            if (!triggered)
            {
                return null;
            }

            order.Triggered = true;
            if (order.OrderType == "STP")
            {
                return t;
            }

            if (!LimitMarketable(order, t))
            {
                order.Status = "Submitted";
                SendToClient(order.ClientId, Frames.OrderStatus(order));
                return null;
            }

            return t;
        }

        return order.OrderType switch
        {
            "MKT" or "STP" => t,
            "LMT" or "STP LMT" => LimitMarketable(order, t) ? t : null,
            _ => null,
        };
    }

    private static bool LimitMarketable(FakeOrder order, double touch) =>
        order.IsBuy ? touch <= order.LmtPrice!.Value : touch >= order.LmtPrice!.Value;

    /// <summary>Runs orders against a bar's range: stops trigger when the range crosses, filling at the stop or at the open on a gap; limits fill at the limit or at a better open.</summary>
    private void RunEngineOnBarLocked(MarketState market, FakeBar bar)
    {
        foreach (var order in WorkingOrders(market.Contract))
        {
            if (!IsWorking(order))
            {
                continue;
            }

            double? price = null;
            if (order.IsStop && !order.Triggered)
            {
                var stop = order.AuxPrice!.Value;
                double? triggerAt = order.IsBuy
                    ? (bar.Open >= stop ? bar.Open : bar.High >= stop ? stop : null)
                    : (bar.Open <= stop ? bar.Open : bar.Low <= stop ? stop : null);
                if (triggerAt is { } at)
                {
                    order.Triggered = true;
                    if (order.OrderType == "STP" || LimitMarketable(order, at))
                    {
                        price = at;
                    }
                    else
                    {
                        order.Status = "Submitted";
                        SendToClient(order.ClientId, Frames.OrderStatus(order));
                    }
                }
            }
            else if (order.OrderType is "MKT" or "STP")
            {
                price = bar.Open;
            }
            else
            {
                var limit = order.LmtPrice!.Value;
                price = order.IsBuy
                    ? (bar.Open <= limit ? bar.Open : bar.Low <= limit ? limit : null)
                    : (bar.Open >= limit ? bar.Open : bar.High >= limit ? limit : null);
            }

            if (price is { } p)
            {
                FillLocked(order, order.Remaining, p);
            }
        }
    }

    /// <summary>Fills <paramref name="quantity"/> of an order in <see cref="FillSlices"/> executions, then handles OCA, brackets and completion.</summary>
    private void FillLocked(FakeOrder order, decimal quantity, double price)
    {
        var firstFill = order.Filled == 0;
        foreach (var slice in Slices(quantity, FillSlices))
        {
            ExecuteLocked(order, slice, price);
        }

        if (firstFill)
        {
            var siblings = _orders.Values.Where(o => o != order && !o.IsTerminal && (
                    (order.OcaGroup.Length > 0 && o.OcaGroup == order.OcaGroup && o.Account == order.Account)
                    || (order.ParentId != 0 && o.ClientId == order.ClientId && o.ParentId == order.ParentId)))
                .ToList();
            foreach (var sibling in siblings.Where(s => !s.IsTerminal))
            {
                CancelLocked(sibling, "OCA group " + (order.OcaGroup.Length > 0 ? order.OcaGroup : "bracket") + " filled", pendingFirst: false);
            }
        }

        if (order.Remaining == 0)
        {
            CompleteLocked(order, "Filled Size: " + TwsText.Decimal(order.Filled));
            foreach (var child in _orders.Values.Where(o => o.ClientId == order.ClientId && o.ParentId == order.OrderId && !o.IsTerminal && !o.Held).OrderBy(o => o.OrderId).ToList())
            {
                child.Status = InitialStatus(child);
                SendToClient(child.ClientId, Frames.OrderStatus(child));
                SendToClient(child.ClientId, Frames.OpenOrder(child, OpenOrderDeltaNeutralNone));
            }
        }
    }

    private static IEnumerable<decimal> Slices(decimal quantity, int count)
    {
        var whole = decimal.Truncate(quantity) == quantity;
        var n = Math.Max(1, Math.Min(count, whole ? (int)Math.Min(quantity, int.MaxValue) : count));
        var slice = whole ? decimal.Floor(quantity / n) : quantity / n;
        var given = 0m;
        for (var i = 0; i < n - 1; i++)
        {
            given += slice;
            yield return slice;
        }

        yield return quantity - given;
    }

    private void ExecuteLocked(FakeOrder order, decimal quantity, double price)
    {
        var before = order.Filled;
        order.Filled += quantity;
        order.AvgFillPrice = (double)(((decimal)order.AvgFillPrice * before + (decimal)price * quantity) / order.Filled);
        order.LastFillPrice = price;
        order.Status = order.Remaining == 0 ? "Filled" : "Submitted";
        var signed = order.IsBuy ? quantity : -quantity;
        var realized = ApplyPositionLocked(order.Account, order.Contract, signed, price);
        var commission = Options.CommissionPerExecution;
        _cash[order.Account] = _cash.GetValueOrDefault(order.Account) - signed * (decimal)price * (decimal)order.Contract.ValueMultiplier - (decimal)commission;
        var execution = new FakeExecution(
            $"0000e0d5.{++_execSequence:x8}.01.01", order.OrderId, order.ClientId, order.PermId, order.Account, order.Contract.Key,
            order.IsBuy ? "BOT" : "SLD", quantity, price, order.Filled, order.AvgFillPrice, order.OrderRef, Now, commission,
            realized is { } pnl ? pnl - commission : null);
        var record = new ExecutionRecord(execution, order.Contract);
        _executions.Add(record);
        _logger.LogInformation("Fake TWS: fill {ExecId} order {ClientId}/{OrderId} {Side} {Quantity} {Symbol} @ {Price} (cum {Cum})", execution.ExecId, order.ClientId, order.OrderId, execution.Side, quantity, order.Contract.Key, price, order.Filled);
        SendToClient(order.ClientId, Frames.ExecDetails(-1, record, FormatConnectionTime(execution.Time)));
        SendToClient(order.ClientId, Frames.OrderStatus(order));
        SendToClient(order.ClientId, Frames.OpenOrder(order, OpenOrderDeltaNeutralNone));
        SendToClient(order.ClientId, Frames.CommissionReport(record, Options.BaseCurrency));
        PushPositionLocked(order.Account, order.Contract);
    }
}

/// <summary>An order inside the engine (mutable; guarded by the server lock).</summary>
internal sealed class FakeOrder
{
    public required int ClientId { get; init; }

    public required int OrderId { get; init; }

    public required FakeContract Contract { get; init; }

    public required string Action { get; init; }

    public long PermId { get; set; }

    public long Sequence { get; set; }

    public decimal TotalQuantity { get; set; }

    public string OrderType { get; set; } = "MKT";

    public double? LmtPrice { get; set; }

    public double? AuxPrice { get; set; }

    public string Tif { get; set; } = "";

    public string OcaGroup { get; set; } = "";

    public int OcaType { get; set; }

    public string Account { get; set; } = "";

    public string OpenClose { get; set; } = "";

    public string OrderRef { get; set; } = "";

    public bool Transmit { get; set; } = true;

    public int ParentId { get; set; }

    public bool OutsideRth { get; set; }

    public bool Held { get; set; }

    public bool Triggered { get; set; }

    public string Status { get; set; } = "PendingSubmit";

    public decimal Filled { get; set; }

    public double AvgFillPrice { get; set; }

    public double LastFillPrice { get; set; }

    public DateTimeOffset? CompletedTime { get; set; }

    public string CompletedStatus { get; set; } = "";

    public bool IsBuy => Action == "BUY";

    public bool IsStop => OrderType is "STP" or "STP LMT";

    public bool IsTerminal => Status is "Filled" or "Cancelled" or "ApiCancelled" or "Inactive";

    public decimal Remaining => TotalQuantity - Filled;

    public FakeOrderSnapshot Snapshot() => new(
        ClientId, OrderId, PermId, Contract.Key, Action, TotalQuantity, OrderType, LmtPrice, AuxPrice, Status, Filled, AvgFillPrice,
        OrderRef, ParentId, OcaGroup, Account, Tif);
}

/// <summary>An execution with its contract.</summary>
internal sealed record ExecutionRecord(FakeExecution Execution, FakeContract Contract);
