using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>Contract details, market data, bars, orders, fills, executions, positions and account data: our client against <see cref="FakeTwsServer"/>.</summary>
public sealed class ClientTradingTests
{
    private static readonly TwsContract Gold = new() { Symbol = "XAUUSD", SecType = "CMDTY", Exchange = "SMART", Currency = "USD" };
    private static readonly TwsContract GoldById = new() { ConId = 69067924, Exchange = "SMART" };

    private static TwsOrder Limit(string action, decimal qty, double price, string orderRef = "", bool transmit = true, int parentId = 0) =>
        new() { Action = action, TotalQuantity = qty, OrderType = TwsOrderType.Limit, LmtPrice = price, Tif = "GTC", Account = "DU1234567", OrderRef = orderRef, Transmit = transmit, ParentId = parentId };

    [Fact]
    public async Task ContractDetails_ResolveXauusd_AndAnUnknownContractGivesError200()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Client.Send(TwsRequests.ReqContractDetails(11, Gold));
        var details = (await h.WaitForAsync<ContractDetailsEvent>(e => e.ReqId == 11)).Details;
        await h.WaitForAsync<ContractDetailsEndEvent>(e => e.ReqId == 11);
        (details.Contract.ConId, details.Contract.Symbol, details.Contract.SecType, details.MinTick).ShouldBe((69067924, "XAUUSD", "CMDTY", 0.01));
        details.ValidExchanges.ShouldContain("IBCMDTY");
        details.TimeZoneId.ShouldNotBeEmpty();
        details.TradingHours.ShouldNotBeEmpty();
        details.LongName.ShouldNotBeEmpty();

        h.Client.Send(TwsRequests.ReqContractDetails(12, new TwsContract { Symbol = "NOPE", SecType = "STK", Exchange = "SMART", Currency = "USD" }));
        (await h.WaitForAsync<ErrorEvent>(e => e.Id == 12)).Code.ShouldBe(TwsErrorCode.NoSecurityDefinition);
        h.All<DecodeErrorEvent>().ShouldBeEmpty();
    }

    [Fact]
    public async Task MarketData_StreamsBidAskWithSyntheticSizes_AndStopsAfterCancel()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Client.Send(TwsRequests.ReqMarketDataType(1));
        h.Client.Send(TwsRequests.ReqMktData(21, GoldById));
        (await h.WaitForAsync<TickReqParamsEvent>(e => e.ReqId == 21)).MinTick.ShouldBe(0.01);
        (await h.WaitForAsync<MarketDataTypeEvent>(e => e.ReqId == 21)).MarketDataType.ShouldBe(1);

        h.Server.SetQuote("XAUUSD", 2340.10, 2340.50, size: 7m);
        var bid = await h.WaitForAsync<TickPriceEvent>(e => e.ReqId == 21 && e.TickType == TwsTickType.Bid && e.Price == 2340.10);
        var ask = await h.WaitForAsync<TickPriceEvent>(e => e.ReqId == 21 && e.TickType == TwsTickType.Ask && e.Price == 2340.50);
        (bid.Size, ask.Size).ShouldBe(((decimal?)7m, (decimal?)7m));
        (await h.WaitForCountAsync<TickSizeEvent>(2, e => e.ReqId == 21 && e.Synthetic)).Select(e => e.TickType).ShouldContain(TwsTickType.AskSize);
        await h.WaitForAsync<TickSizeEvent>(e => e.ReqId == 21 && !e.Synthetic && e.TickType == TwsTickType.BidSize && e.Size == 7m);

        h.Client.Send(TwsRequests.CancelMktData(21));
        h.Client.Send(TwsRequests.ReqIds());
        await h.WaitForCountAsync<NextValidIdEvent>(2); // the cancel was processed
        h.Server.SetQuote("XAUUSD", 2341.00, 2341.40);
        h.Client.Send(TwsRequests.ReqIds());
        await h.WaitForCountAsync<NextValidIdEvent>(3); // any tick of the new quote would have come before this reply
        h.All<TickPriceEvent>(e => e.Price == 2341.00).ShouldBeEmpty();
    }

    [Fact]
    public async Task LimitOrder_PlaceModifyCancel_ProducesOpenOrderStatusAndError202()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Server.SetQuote("XAUUSD", 2340.10, 2340.50);
        var id = h.Client.NextOrderId();
        h.Client.Send(TwsRequests.PlaceOrder(id, GoldById, Limit("BUY", 2, 2300.00, "ms-lmt-1")));

        var open = await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == id);
        (open.Contract.ConId, open.Order.Action, open.Order.TotalQuantity, open.Order.OrderType, open.Order.LmtPrice).ShouldBe((69067924, "BUY", 2m, "LMT", (double?)2300.00));
        (open.Order.OrderRef, open.Order.Account, open.Order.Tif, open.Order.ClientId).ShouldBe(("ms-lmt-1", "DU1234567", "GTC", 7));
        open.Order.PermId.ShouldBeGreaterThan(0);
        var status = await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == id);
        status.Status.ShouldBeOneOf("PreSubmitted", "Submitted");
        (status.Remaining, status.PermId).ShouldBe((2m, open.Order.PermId));

        // Modify = same id, new price.
        h.Client.Send(TwsRequests.PlaceOrder(id, GoldById, Limit("BUY", 2, 2310.00, "ms-lmt-1")));
        await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == id && e.Order.LmtPrice == 2310.00);
        h.Server.FindOrder(7, id)!.LmtPrice.ShouldBe(2310.00);

        h.Client.Send(TwsRequests.CancelOrder(id), priority: true);
        await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == id && e.Status == "Cancelled");
        (await h.WaitForAsync<ErrorEvent>(e => e.Id == id)).Code.ShouldBe(TwsErrorCode.OrderCancelled);
        h.All<DecodeErrorEvent>().ShouldBeEmpty();
    }

    [Fact]
    public async Task MarketOrder_Fills_WithExecDetailsCommissionAndFilledStatus_ThenExecutionsPositionsAndCompletedOrders()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Server.SetQuote("XAUUSD", 2340.10, 2340.50);
        var id = h.Client.NextOrderId();
        h.Client.Send(TwsRequests.PlaceOrder(id, GoldById, new TwsOrder { Action = "BUY", TotalQuantity = 3, OrderType = "MKT", Account = "DU1234567", OrderRef = "ms-mkt-1" }));

        var fill = await h.WaitForAsync<ExecDetailsEvent>(e => e.Execution.OrderId == id);
        fill.ReqId.ShouldBe(-1);
        (fill.Contract.ConId, fill.Execution.Side, fill.Execution.Shares, fill.Execution.Price, fill.Execution.OrderRef).ShouldBe((69067924, "BOT", 3m, 2340.50, "ms-mkt-1"));
        (fill.Execution.ClientId, fill.Execution.CumQty, fill.Execution.AccountNumber).ShouldBe((7, 3m, "DU1234567"));
        var commission = await h.WaitForAsync<CommissionReportEvent>(e => e.ExecId == fill.Execution.ExecId);
        commission.Commission.ShouldNotBeNull();
        var filled = await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == id && e.Status == "Filled");
        (filled.Filled, filled.Remaining, filled.AvgFillPrice, filled.PermId).ShouldBe((3m, 0m, 2340.50, fill.Execution.PermId));

        h.Client.Send(TwsRequests.ReqExecutions(31, new TwsExecutionFilter { ClientId = 7 }));
        (await h.WaitForAsync<ExecDetailsEvent>(e => e.ReqId == 31)).Execution.ExecId.ShouldBe(fill.Execution.ExecId);
        await h.WaitForAsync<ExecDetailsEndEvent>(e => e.ReqId == 31);

        h.Client.Send(TwsRequests.ReqPositions());
        var position = await h.WaitForAsync<PositionEvent>(e => e.Contract.ConId == 69067924);
        (position.Account, position.Position).ShouldBe(("DU1234567", 3m));
        position.AvgCost.ShouldBe(2340.50, 1e-6);
        await h.WaitForAsync<PositionEndEvent>();
        h.Client.Send(TwsRequests.CancelPositions());

        h.Client.Send(TwsRequests.ReqCompletedOrders(apiOnly: true));
        var completed = await h.WaitForAsync<CompletedOrderEvent>(e => e.Order.PermId == fill.Execution.PermId);
        (completed.State.Status, completed.Order.OrderRef, completed.Order.FilledQuantity, completed.Contract.ConId).ShouldBe(("Filled", "ms-mkt-1", (decimal?)3m, 69067924));
        await h.WaitForAsync<CompletedOrdersEndEvent>();
        h.All<DecodeErrorEvent>().ShouldBeEmpty();
    }

    [Fact]
    public async Task StopAndStopLimitOrders_AreAcceptedWithTheirTriggerPrices()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Server.SetQuote("XAUUSD", 2340.10, 2340.50);
        var stp = h.Client.NextOrderId();
        var stpLmt = h.Client.NextOrderId();
        h.Client.Send(TwsRequests.PlaceOrder(stp, GoldById, new TwsOrder { Action = "SELL", TotalQuantity = 1, OrderType = "STP", AuxPrice = 2300, Tif = "GTC", OutsideRth = true }), priority: true);
        h.Client.Send(TwsRequests.PlaceOrder(stpLmt, GoldById, new TwsOrder { Action = "SELL", TotalQuantity = 1, OrderType = "STP LMT", AuxPrice = 2300, LmtPrice = 2295 }));

        var a = await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == stp);
        (a.Order.OrderType, a.Order.AuxPrice, a.Order.OutsideRth).ShouldBe(("STP", (double?)2300, true));
        var b = await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == stpLmt);
        (b.Order.OrderType, b.Order.AuxPrice, b.Order.LmtPrice).ShouldBe(("STP LMT", (double?)2300, (double?)2295));

        // The stop triggers when the market falls through it.
        h.Server.SetQuote("XAUUSD", 2290.00, 2290.40);
        (await h.WaitForAsync<ExecDetailsEvent>(e => e.Execution.OrderId == stp)).Execution.Side.ShouldBe("SLD");
    }

    [Fact]
    public async Task Bracket_IsHeldUntilTheLastChildTransmits_AndChildrenWorkAfterTheParentFills()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Server.SetQuote("XAUUSD", 2340.10, 2340.50);
        var parent = h.Client.NextOrderId();
        var takeProfit = h.Client.NextOrderId();
        var stopLoss = h.Client.NextOrderId();
        h.Client.Send(TwsRequests.PlaceOrder(parent, GoldById, Limit("BUY", 1, 2330.00, "ms-br", transmit: false)));
        h.Client.Send(TwsRequests.PlaceOrder(takeProfit, GoldById, Limit("SELL", 1, 2400.00, "ms-br-tp", transmit: false, parentId: parent)));
        h.Client.Send(TwsRequests.ReqCurrentTime());
        await h.WaitForAsync<CurrentTimeEvent>();
        h.All<OpenOrderEvent>(e => e.OrderId == parent).ShouldBeEmpty(); // held: nothing transmitted yet

        h.Client.Send(TwsRequests.PlaceOrder(stopLoss, GoldById, new TwsOrder
        {
            Action = "SELL", TotalQuantity = 1, OrderType = "STP", AuxPrice = 2300.00, Tif = "GTC", Account = "DU1234567", ParentId = parent, Transmit = true,
        }));
        await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == parent);
        (await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == takeProfit)).Order.ParentId.ShouldBe(parent);
        (await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == stopLoss)).Order.ParentId.ShouldBe(parent);

        h.Server.SetQuote("XAUUSD", 2329.00, 2329.50);
        await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == parent && e.Status == "Filled");
        h.Server.FindOrder(7, takeProfit)!.Status.ShouldBeOneOf("PreSubmitted", "Submitted");
        h.Server.FindOrder(7, stopLoss)!.Status.ShouldBeOneOf("PreSubmitted", "Submitted");
    }

    [Fact]
    public async Task OcaGroup_FillOfOne_CancelsTheOther()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Server.SetQuote("XAUUSD", 2340.10, 2340.50);
        var a = h.Client.NextOrderId();
        var b = h.Client.NextOrderId();
        h.Client.Send(TwsRequests.PlaceOrder(a, GoldById, Limit("SELL", 1, 2350.00) with { OcaGroup = "oca-1", OcaType = 1 }));
        h.Client.Send(TwsRequests.PlaceOrder(b, GoldById, new TwsOrder { Action = "SELL", TotalQuantity = 1, OrderType = "STP", AuxPrice = 2320, OcaGroup = "oca-1", OcaType = 1 }));
        (await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == a)).Order.OcaGroup.ShouldBe("oca-1");
        await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == b);

        h.Server.SetQuote("XAUUSD", 2351.00, 2351.40);
        await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == a && e.Status == "Filled");
        await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == b && e.Status == "Cancelled");
    }

    [Fact]
    public async Task RejectedOrder_GivesError201_AndCancelledStatus()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Server.RejectNextOrder("insufficient margin");
        var id = h.Client.NextOrderId();
        h.Client.Send(TwsRequests.PlaceOrder(id, GoldById, Limit("BUY", 1, 2000)));
        var error = await h.WaitForAsync<ErrorEvent>(e => e.Id == id);
        error.Code.ShouldBe(TwsErrorCode.OrderRejected);
        error.Message.ShouldContain("insufficient margin");
        await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == id && e.Status is "Cancelled" or "Inactive");
    }

    [Fact]
    public async Task OpenOrders_InTheRealTwsNoneVariant_DecodeAndEndWithOpenOrderEnd_AndGlobalCancelCancelsAll()
    {
        await using var h = await ClientTestHarness.StartAsync(new FakeTwsOptions { OpenOrderDeltaNeutralNone = true });
        h.Server.SetQuote("XAUUSD", 2340.10, 2340.50);
        var ids = new[] { h.Client.NextOrderId(), h.Client.NextOrderId() };
        foreach (var id in ids)
        {
            h.Client.Send(TwsRequests.PlaceOrder(id, GoldById, Limit("BUY", 1, 2200 + id)));
        }

        (await h.WaitForAsync<OpenOrderEvent>(e => e.OrderId == ids[1])).Order.DeltaNeutralOrderType.ShouldBe("None");
        h.Client.Send(TwsRequests.ReqOpenOrders());
        await h.WaitForAsync<OpenOrderEndEvent>();
        h.Client.Send(TwsRequests.ReqAllOpenOrders());
        await h.WaitForCountAsync<OpenOrderEndEvent>(2);
        h.All<OpenOrderEvent>(e => e.OrderId == ids[0]).Count.ShouldBeGreaterThanOrEqualTo(3);

        h.Client.Send(TwsRequests.ReqGlobalCancel(), priority: true);
        await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == ids[0] && e.Status == "Cancelled");
        await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == ids[1] && e.Status == "Cancelled");
        h.All<DecodeErrorEvent>().ShouldBeEmpty();
    }

    [Fact]
    public async Task AccountSummary_AndAccountUpdates_Arrive_WithTheirEndMarkers()
    {
        await using var h = await ClientTestHarness.StartAsync();
        h.Client.Send(TwsRequests.ReqAccountSummary(41, "All", "NetLiquidation,TotalCashValue,BuyingPower"));
        var summary = await h.WaitForCountAsync<AccountSummaryEvent>(3, e => e.ReqId == 41);
        summary.Select(s => s.Tag).ShouldBe(["NetLiquidation", "TotalCashValue", "BuyingPower"], ignoreOrder: true);
        summary.ShouldAllBe(s => s.Account == "DU1234567");
        await h.WaitForAsync<AccountSummaryEndEvent>(e => e.ReqId == 41);
        h.Client.Send(TwsRequests.CancelAccountSummary(41));

        h.Server.SetQuote("XAUUSD", 2340.10, 2340.50);
        var id = h.Client.NextOrderId();
        h.Client.Send(TwsRequests.PlaceOrder(id, GoldById, new TwsOrder { Action = "SELL", TotalQuantity = 2, OrderType = "MKT" }));
        await h.WaitForAsync<OrderStatusEvent>(e => e.OrderId == id && e.Status == "Filled");

        h.Client.Send(TwsRequests.ReqAccountUpdates(true, "DU1234567"));
        await h.WaitForAsync<UpdateAccountValueEvent>(e => e.Key == "NetLiquidation" && e.AccountName == "DU1234567");
        var portfolio = await h.WaitForAsync<UpdatePortfolioEvent>(e => e.Contract.ConId == 69067924);
        (portfolio.Position, portfolio.AccountName).ShouldBe((-2m, "DU1234567"));
        await h.WaitForAsync<UpdateAccountTimeEvent>();
        (await h.WaitForAsync<AccountDownloadEndEvent>()).Account.ShouldBe("DU1234567");
        h.All<DecodeErrorEvent>().ShouldBeEmpty();
    }

    [Fact]
    public async Task HistoricalData_WithKeepUpToDate_AndRealTimeBars_FollowTheSteppedBars()
    {
        await using var h = await ClientTestHarness.StartAsync();
        var t0 = new DateTimeOffset(2026, 5, 1, 13, 0, 0, TimeSpan.Zero);
        h.Server.LoadBars("XAUUSD", Enumerable.Range(0, 6).Select(i => new FakeBar(t0.AddSeconds(5 * i), 2340 + i, 2341 + i, 2339 + i, 2340.5 + i)));
        await h.Server.StepAllAsync(4);

        h.Client.Send(TwsRequests.ReqHistoricalData(51, GoldById, "", "5 secs", "60 S", useRth: false, "MIDPOINT", formatDate: 2, keepUpToDate: true));
        h.Client.Send(TwsRequests.ReqRealTimeBars(52, GoldById, "MIDPOINT", useRth: false));
        var history = await h.WaitForAsync<HistoricalDataEvent>(e => e.ReqId == 51);
        history.Bars.Count.ShouldBe(4);
        history.Bars[0].ShouldBe(new TwsBar(t0.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), 2340, 2341, 2339, 2340.5, -1m, -1m, -1));
        h.Client.Send(TwsRequests.ReqCurrentTime());
        await h.WaitForAsync<CurrentTimeEvent>();

        await h.Server.StepAllAsync(1);
        var update = await h.WaitForAsync<HistoricalDataUpdateEvent>(e => e.ReqId == 51);
        (update.Bar.Open, update.Bar.High, update.Bar.Low, update.Bar.Close).ShouldBe((2344.0, 2345.0, 2343.0, 2344.5));
        var bar = await h.WaitForAsync<RealTimeBarEvent>(e => e.ReqId == 52);
        (bar.BarStart, bar.Open, bar.Close, bar.Volume).ShouldBe((t0.AddSeconds(20), 2344.0, 2344.5, (decimal?)-1m));

        h.Client.Send(TwsRequests.CancelHistoricalData(51));
        h.Client.Send(TwsRequests.CancelRealTimeBars(52));
        h.All<DecodeErrorEvent>().ShouldBeEmpty();
    }
}
