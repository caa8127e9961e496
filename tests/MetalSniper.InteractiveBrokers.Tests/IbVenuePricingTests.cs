using MetalSniper.Core.Instruments;
using MetalSniper.Core.Orders;
using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Adapters;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Connection;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.InteractiveBrokers.Tests;

/// <summary>
/// The dual-listing venues through <see cref="IbOrderGateway"/>, <see cref="IbContractBook"/> and <see cref="IbQuoteBook"/>
/// against the fake TWS on 127.0.0.1: prices leave in the venue's unit (LSE pence, JSE cents: contract details' price
/// magnifier 100; AEB EUR and NYSE USD: 1), come back in our major units, and an instrument without agreeing contract
/// details is refused.
/// </summary>
public sealed class IbVenuePricingTests
{
    private const string Account = "DU1234567";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly InstrumentCatalog Catalog = InstrumentCatalog.CreateDefault();

    private sealed class Rig : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly List<OrderEvent> _events = [];
        private readonly List<(string Text, bool Red)> _problems = [];
        private readonly Lock _gate = new();
        private Task _run = Task.CompletedTask;
        private Task _pump = Task.CompletedTask;
        private int _sequence;

        private Rig(FakeTwsServer server, IbSession session, IbOrderGateway gateway)
        {
            Server = server;
            Session = session;
            Gateway = gateway;
        }

        public FakeTwsServer Server { get; }

        public IbSession Session { get; }

        public IbOrderGateway Gateway { get; }

        public IReadOnlyList<OrderEvent> Events
        {
            get
            {
                lock (_gate)
                {
                    return [.. _events];
                }
            }
        }

        public IReadOnlyList<(string Text, bool Red)> Problems
        {
            get
            {
                lock (_gate)
                {
                    return [.. _problems];
                }
            }
        }

        public static async Task<Rig> StartAsync(IReadOnlyList<FakeContract>? contracts = null)
        {
            var server = await FakeTwsServer.StartAsync(new FakeTwsOptions { Accounts = [Account], Contracts = contracts });
            var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);
            var settings = new IbSessionSettings("127.0.0.1", server.Port, 7, Account, Wait, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), Wait, 1);
            var machine = new IbConnectionStateMachine(TimeSpan.Zero, [], TimeZoneInfo.Utc);
            var session = new IbSession(settings, client, machine, TimeProvider.System, NullLogger<IbSession>.Instance);
            var gateway = new IbOrderGateway(session, Catalog, "paper", (40, 10), [], TimeProvider.System, NullLogger<IbOrderGateway>.Instance);
            var rig = new Rig(server, session, gateway);
            gateway.Problem += (text, red) =>
            {
                lock (rig._gate)
                {
                    rig._problems.Add((text, red));
                }
            };
            rig._pump = Task.Run(async () =>
            {
                await foreach (var e in gateway.Events.ReadAllAsync(rig._stop.Token))
                {
                    lock (rig._gate)
                    {
                        rig._events.Add(e);
                    }
                }
            });
            rig._run = session.RunAsync(rig._stop.Token);
            await Eventually.Until(() => gateway.Reconciliations > 0 && machine.State(TimeProvider.System.GetUtcNow()) == IbConnectionState.FullyLive,
                "the gateway to reconcile and the link to be fully live", Wait);
            return rig;
        }

        public async Task<ClientOrderId> SubmitAsync(string symbol, OrderSide side, decimal quantity, OrderType type, decimal price, OrderPurpose purpose = OrderPurpose.Entry,
            TimeInForce timeInForce = TimeInForce.Day)
        {
            var id = new ClientOrderId($"venue-{Interlocked.Increment(ref _sequence)}-{symbol}");
            var order = new SubmitOrder(id, "d-" + id.Value, symbol, side, quantity, type, type == OrderType.Limit ? price : null, type == OrderType.Stop ? price : null,
                purpose, DateTimeOffset.UtcNow, timeInForce, "test");
            order.EnsureValid();
            await Gateway.SubmitAsync(order, CancellationToken.None);
            return id;
        }

        public async Task<T> WaitForAsync<T>(ClientOrderId id, Func<T, bool>? also = null)
            where T : OrderEvent
        {
            T? found = null;
            await Eventually.Until(() => (found = Events.OfType<T>().FirstOrDefault(e => e.ClientOrderId == id && (also is null || also(e)))) is not null,
                () => $"{typeof(T).Name} for {id}; events so far: {string.Join(" | ", Events.Where(e => e.ClientOrderId == id))}", Wait);
            return found!;
        }

        public async Task<FakeOrderSnapshot> FakeOrderAsync(ClientOrderId id)
        {
            FakeOrderSnapshot? found = null;
            await Eventually.Until(() => (found = Server.Orders.FirstOrDefault(o => o.OrderRef == id.Value)) is not null, $"the fake to hold order {id}", Wait);
            return found!;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(Wait);
            try
            {
                await _pump.WaitAsync(Wait);
            }
            catch (OperationCanceledException)
            {
                // the pump ends with the test
            }

            await Session.DisposeAsync();
            await Server.DisposeAsync();
            _stop.Dispose();
        }
    }

    /// <summary>
    /// Per venue: a buy limit and a sell stop are sent in IB's unit (rounded to the contract's tick), the limit fills, the stop
    /// triggers, and fills, open orders and positions come back in major units of the instrument's currency.
    /// </summary>
    [Theory]
    //           symbol     fake key  limit (major) wire limit  stop (major)  wire stop  quote 1 (no fill)   quote 2: limit fills  quote 3: stop fills  fill 1    fill 2
    [InlineData("AAL.L", "AAL", "12.3456", 1234.56, "12.00", 1200.0, 1230.0, 1240.0, 1234.5, 1199.5, "12.345", "11.995")]
    [InlineData("AGL.JO", "AGL", "456.78", 45678.0, "440.004", 44000.0, 45000.0, 45700.0, 45670.0, 43990.0, "456.70", "439.90")]
    [InlineData("RDSA.AS", "RDSA", "24.5678", 24.568, "23.5", 23.5, 24.0, 24.6, 24.55, 23.45, "24.55", "23.45")]
    [InlineData("BP", "BP", "35.123", 35.12, "34", 34.0, 35.0, 35.2, 35.10, 33.95, "35.10", "33.95")]
    public async Task Gateway_LimitAndStopOrders_GoOutInTheVenuesUnit_AndFillsOpenOrdersAndPositionsComeBackInMajorUnits(
        string symbol, string key, string limitMajor, double wireLimit, string stopMajor, double wireStop,
        double bid1, double ask1, double ask2, double bid3, string fill1Major, string fill2Major)
    {
        await using var rig = await Rig.StartAsync();
        var limit = decimal.Parse(limitMajor, System.Globalization.CultureInfo.InvariantCulture);
        var stop = decimal.Parse(stopMajor, System.Globalization.CultureInfo.InvariantCulture);
        rig.Server.SetQuote(key, bid1, ask1);

        var buy = await rig.SubmitAsync(symbol, OrderSide.Buy, 10m, OrderType.Limit, limit);
        var sell = await rig.SubmitAsync(symbol, OrderSide.Sell, 4m, OrderType.Stop, stop, OrderPurpose.ProtectiveStop);

        (await rig.FakeOrderAsync(buy)).LmtPrice.ShouldBe(wireLimit);
        (await rig.FakeOrderAsync(sell)).AuxPrice.ShouldBe(wireStop);
        await rig.WaitForAsync<OrderAccepted>(buy);
        await rig.WaitForAsync<OrderAccepted>(sell);
        var open = await rig.Gateway.GetOpenOrdersAsync(CancellationToken.None);
        open.Single(o => o.ClientOrderId == buy).LimitPrice.ShouldBe(decimal.Parse(wireLimit.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture) / Factor(symbol));
        open.Single(o => o.ClientOrderId == sell).StopPrice.ShouldBe(decimal.Parse(wireStop.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture) / Factor(symbol));

        rig.Server.SetQuote(key, bid1, ask2);
        var filled = await rig.WaitForAsync<OrderFilled>(buy);
        rig.Server.SetQuote(key, bid3, Math.Max(bid3, Math.Min(ask2, bid1)));
        var stopped = await rig.WaitForAsync<OrderFilled>(sell);

        filled.Fill.Price.ShouldBe(decimal.Parse(fill1Major, System.Globalization.CultureInfo.InvariantCulture));
        stopped.Fill.Price.ShouldBe(decimal.Parse(fill2Major, System.Globalization.CultureInfo.InvariantCulture));
        filled.Fill.Symbol.ShouldBe(symbol);
        var position = (await rig.Gateway.GetPositionsAsync(CancellationToken.None)).ShouldHaveSingleItem();
        position.Symbol.ShouldBe(symbol);
        position.Quantity.ShouldBe(6m);
        position.AveragePrice.ShouldBe(decimal.Parse(fill1Major, System.Globalization.CultureInfo.InvariantCulture));
        rig.Problems.ShouldBeEmpty();
    }

    /// <summary>An order for the opening auction goes out as IB's market-on-open (MKT, time in force OPG) or limit-on-open (LMT, OPG).</summary>
    [Theory]
    [InlineData(OrderType.Market, "MKT")]
    [InlineData(OrderType.Limit, "LMT")]
    public async Task Gateway_AtTheOpenOrder_GoesOutWithTimeInForceOpg(OrderType type, string wireType)
    {
        await using var rig = await Rig.StartAsync();

        var id = await rig.SubmitAsync("RDSA.L", OrderSide.Buy, 100m, type, 23.00m, timeInForce: TimeInForce.AtTheOpen);

        var sent = await rig.FakeOrderAsync(id);
        (sent.OrderType, sent.Tif).ShouldBe((wireType, "OPG"));
    }

    [Theory]
    [InlineData(TimeInForce.Gtc, "GTC")]
    [InlineData(TimeInForce.Day, "DAY")]
    [InlineData(TimeInForce.AtTheOpen, "OPG")]
    public void TifCode_EveryTimeInForce_HasItsIbCode_InThePlaceOrderFrame(TimeInForce tif, string code)
    {
        using var m = InteractiveBrokers.Wire.TwsRequests.PlaceOrder(21, new InteractiveBrokers.Wire.TwsContract { Symbol = "RDSA", SecType = "STK", Exchange = "LSE", PrimaryExchange = "LSE", Currency = "GBP" },
            new InteractiveBrokers.Wire.TwsOrder { Action = "BUY", TotalQuantity = 100, OrderType = "MKT", Tif = IbOrderGateway.TifCode(tif) });

        var f = m.Fields();
        (f[16], f[17], f[18], f[21]).ShouldBe(("BUY", "100", "MKT", code));
    }

    /// <summary>A pair order per venue combination: both legs accepted and filled at IB, each fill in its own currency's major units.</summary>
    [Theory]
    //          buy leg    key    limit    bid     ask     fill      sell leg   key       limit   bid      ask      fill
    [InlineData("AGL.JO", "AGL", "460.00", 45900.0, 45950.0, "459.50", "AAL.L", "AAL", "12.30", 1234.0, 1236.0, "12.34")]
    [InlineData("RDSA.AS", "RDSA", "24.60", 24.50, 24.55, "24.55", "RDSA.L", "RDSA.L", "21.00", 2105.0, 2107.0, "21.05")]
    [InlineData("BP", "BP", "35.20", 35.05, 35.10, "35.10", "BP.L", "BP.L", "5.80", 582.5, 583.0, "5.825")]
    [InlineData("USDZAR", "USD.ZAR", "18.3", 18.2450, 18.2460, "18.246", "GBPUSD", "GBP.USD", "1.26", 1.2650, 1.2652, "1.265")]
    public async Task Gateway_PairOrder_BothLegsAcceptedAndFilled_InTheirOwnCurrencies(
        string buySymbol, string buyKey, string buyLimit, double buyBid, double buyAsk, string buyFill,
        string sellSymbol, string sellKey, string sellLimit, double sellBid, double sellAsk, string sellFill)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        await using var rig = await Rig.StartAsync();
        rig.Server.SetQuote(buyKey, buyBid, buyAsk);
        rig.Server.SetQuote(sellKey, sellBid, sellAsk);
        var quantity = Catalog.Get(buySymbol).SecurityType == SecurityType.Forex ? 10_000m : 10m;

        var buy = await rig.SubmitAsync(buySymbol, OrderSide.Buy, quantity, OrderType.Limit, decimal.Parse(buyLimit, inv));
        var sell = await rig.SubmitAsync(sellSymbol, OrderSide.Sell, quantity, OrderType.Limit, decimal.Parse(sellLimit, inv));

        await rig.WaitForAsync<OrderAccepted>(buy);
        await rig.WaitForAsync<OrderAccepted>(sell);
        var buyFilled = await rig.WaitForAsync<OrderFilled>(buy, f => f.LeavesQuantity == 0m);
        var sellFilled = await rig.WaitForAsync<OrderFilled>(sell, f => f.LeavesQuantity == 0m);
        buyFilled.Fill.Price.ShouldBe(decimal.Parse(buyFill, inv));
        sellFilled.Fill.Price.ShouldBe(decimal.Parse(sellFill, inv));
        buyFilled.Fill.Side.ShouldBe(OrderSide.Buy);
        sellFilled.Fill.Side.ShouldBe(OrderSide.Sell);
        var positions = await rig.Gateway.GetPositionsAsync(CancellationToken.None);
        positions.Single(p => p.Symbol == buySymbol).AveragePrice.ShouldBe(decimal.Parse(buyFill, inv));
        positions.Single(p => p.Symbol == sellSymbol).AveragePrice.ShouldBe(decimal.Parse(sellFill, inv));
        positions.Single(p => p.Symbol == sellSymbol).Quantity.ShouldBe(-quantity);
        rig.Events.OfType<OrderRejected>().ShouldBeEmpty();
    }

    [Fact]
    public async Task Gateway_ContractDetailsMissing_RefusesTheOrderWithTheReason_AndRaisesARedProblem()
    {
        await using var rig = await Rig.StartAsync([.. FakeContracts.Default.Where(c => c != FakeContracts.AalLse)]);
        rig.Gateway.Contracts.TryGet("AAL.L", out _, out var why).ShouldBeFalse();
        why.ShouldBe("no contract details for AAL.L: IB error 200 No security definition has been found for the request");

        var id = await rig.SubmitAsync("AAL.L", OrderSide.Sell, 10m, OrderType.Limit, 12.30m);

        var rejected = await rig.WaitForAsync<OrderRejected>(id);
        rejected.Reason.ShouldBe("not sent to IB: no contract details for AAL.L: IB error 200 No security definition has been found for the request");
        rig.Problems.ShouldContain(p => p.Red && p.Text.Contains("AAL.L", StringComparison.Ordinal) && p.Text.Contains("refused", StringComparison.Ordinal));
        rig.Server.Requests.Where(r => r.MessageId == 3).ShouldBeEmpty();
        rig.Events.OfType<OrderAccepted>().ShouldBeEmpty();
    }

    [Fact]
    public async Task Gateway_PriceMagnifierDisagreesWithTheCatalog_RefusesTheOrder_NeverGuesses()
    {
        var notMagnified = FakeContracts.AalLse with { PriceMagnifier = 1 };
        await using var rig = await Rig.StartAsync([.. FakeContracts.Default.Select(c => c == FakeContracts.AalLse ? notMagnified : c)]);

        var id = await rig.SubmitAsync("AAL.L", OrderSide.Buy, 10m, OrderType.Limit, 12.30m);

        var rejected = await rig.WaitForAsync<OrderRejected>(id);
        rejected.Reason.ShouldBe("not sent to IB: IB contract details for AAL.L disagree with our catalog: priceMagnifier 1, but our catalog quotes AAL.L in GBp (100 per GBP), "
            + "so IB's prices would be off by a factor of 100; AAL.L is refused (no orders, no data)");
        rig.Server.Requests.Where(r => r.MessageId == 3).ShouldBeEmpty();
        // The other leg's venue is unaffected.
        rig.Gateway.Contracts.TryGet("AGL.JO", out var agl, out _).ShouldBeTrue();
        agl.PriceMagnifier.ShouldBe(100);
    }

    [Fact]
    public async Task ContractBook_AfterConnect_KeepsMagnifierTickLongNameAndMarketRules_PerVenue()
    {
        await using var rig = await Rig.StartAsync();
        var book = rig.Gateway.Contracts;

        Info(book, "AAL.L").ShouldSatisfyAllConditions(
            i => i.PriceMagnifier.ShouldBe(100), i => i.MinTick.ShouldBe(0.01m), i => i.LongName.ShouldBe("ANGLO AMERICAN PLC"),
            i => i.MarketRuleIds.ShouldBe("26"), i => i.Contract.Exchange.ShouldBe("LSE"), i => i.Contract.ConId.ShouldBe(FakeContracts.AalLse.ConId));
        Info(book, "AGL.JO").ShouldSatisfyAllConditions(i => i.PriceMagnifier.ShouldBe(100), i => i.MinTick.ShouldBe(1m), i => i.Reported.Currency.ShouldBe("ZAR"));
        Info(book, "RDSA.AS").ShouldSatisfyAllConditions(i => i.PriceMagnifier.ShouldBe(1), i => i.Contract.Exchange.ShouldBe("AEB"), i => i.Reported.Currency.ShouldBe("EUR"));
        Info(book, "BP").ShouldSatisfyAllConditions(i => i.PriceMagnifier.ShouldBe(1), i => i.Contract.PrimaryExchange.ShouldBe("NYSE"), i => i.Reported.Currency.ShouldBe("USD"));
        Info(book, "BP.L").ShouldSatisfyAllConditions(i => i.PriceMagnifier.ShouldBe(100), i => i.Reported.ConId.ShouldBe(FakeContracts.BpLse.ConId));
        Info(book, "USDZAR").ShouldSatisfyAllConditions(i => i.PriceMagnifier.ShouldBe(1), i => i.Contract.Exchange.ShouldBe("IDEALPRO"), i => i.Reported.Currency.ShouldBe("ZAR"));
        book.Known.Count.ShouldBe(Catalog.All.Count);

        static IbContractInfo Info(IbContractBook book, string symbol) => book.TryGet(symbol, out var info, out var why) ? info : throw new ShouldAssertException(why);
    }

    [Fact]
    public async Task QuoteBook_TwoLegs_CarryTheirOwnObservationTimes_InMajorUnits()
    {
        var start = new DateTimeOffset(2026, 12, 7, 9, 30, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        await using var server = await FakeTwsServer.StartAsync(new FakeTwsOptions { Accounts = [Account] });
        var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);
        var settings = new IbSessionSettings("127.0.0.1", server.Port, 7, Account, Wait, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), Wait, 1);
        await using var session = new IbSession(settings, client, new IbConnectionStateMachine(TimeSpan.Zero, [], TimeZoneInfo.Utc), clock, NullLogger<IbSession>.Instance);
        var contracts = new IbContractBook(session, Catalog, ["AGL.JO", "AAL.L"], clock, NullLogger<IbContractBook>.Instance);
        var quotes = new IbQuoteBook(session, contracts, ["AGL.JO", "AAL.L"], NullLogger<IbQuoteBook>.Instance);
        var changes = new List<IbQuote>();
        quotes.QuoteChanged += q =>
        {
            lock (changes)
            {
                changes.Add(q);
            }
        };
        using var stop = new CancellationTokenSource();
        var run = session.RunAsync(stop.Token);
        try
        {
            await Eventually.Until(() => server.Requests.Count(r => r.MessageId == 1) == 2, "both legs subscribed with reqMktData", Wait);

            clock.SetUtcNow(start.AddSeconds(1));
            server.SetQuote("AGL", 45900.0, 45950.0);
            await Eventually.Until(() => quotes.TryGetQuote("AGL.JO", out var q) && q.IsTwoSided, "the JSE leg's quote", Wait);
            clock.SetUtcNow(start.AddSeconds(4));
            server.SetQuote("AAL", 1234.0, 1236.0);
            await Eventually.Until(() => quotes.TryGetQuote("AAL.L", out var q) && q.IsTwoSided, "the LSE leg's quote", Wait);

            quotes.TryGetQuote("AGL.JO", out var jse).ShouldBeTrue();
            quotes.TryGetQuote("AAL.L", out var lse).ShouldBeTrue();
            jse.ShouldSatisfyAllConditions(q => q.Bid.ShouldBe(459.00m), q => q.Ask.ShouldBe(459.50m), q => q.ObservedAtUtc.ShouldBe(start.AddSeconds(1)),
                q => q.BidObservedAtUtc.ShouldBe(start.AddSeconds(1)), q => q.AskObservedAtUtc.ShouldBe(start.AddSeconds(1)), q => q.TimeSource.ShouldBe(IbQuoteTimeSource.Received));
            lse.ShouldSatisfyAllConditions(q => q.Bid.ShouldBe(12.34m), q => q.Ask.ShouldBe(12.36m), q => q.ObservedAtUtc.ShouldBe(start.AddSeconds(4)), q => q.Delayed.ShouldBeFalse());
            (lse.ObservedAtUtc!.Value - jse.ObservedAtUtc!.Value).ShouldBe(TimeSpan.FromSeconds(3));
            lock (changes)
            {
                changes.ShouldContain(q => q.Symbol == "AAL.L" && q.Ask == 12.36m);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(Wait);
        }
    }

    [Fact]
    public async Task MarketData_LseBars_StayInPenceForIngest_AndAnInstrumentWithADisagreeingMagnifierIsNotSubscribed()
    {
        var contracts = FakeContracts.Default.Select(c => c == FakeContracts.BpLse ? c with { PriceMagnifier = 1 } : c).ToList();
        await using var server = await FakeTwsServer.StartAsync(new FakeTwsOptions { Accounts = [Account], Contracts = contracts });
        var client = new TwsClient(ClientTestHarness.FastOptions(), TimeProvider.System, NullLogger<TwsClient>.Instance);
        var settings = new IbSessionSettings("127.0.0.1", server.Port, 7, Account, Wait, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), Wait, 1);
        await using var session = new IbSession(settings, client, new IbConnectionStateMachine(TimeSpan.Zero, [], TimeZoneInfo.Utc), TimeProvider.System, NullLogger<IbSession>.Instance);
        var source = new IbMarketDataSource(session, Catalog, ["AAL.L", "BP.L"], TimeSpan.FromMinutes(1), NullLogger<IbMarketDataSource>.Instance);
        var problems = new List<string>();
        source.Problem += p =>
        {
            lock (problems)
            {
                problems.Add(p);
            }
        };
        var t0 = new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.Zero);
        server.LoadBars("AAL", [new FakeBar(t0, 1234.5, 1236.0, 1233.0, 1235.0), new FakeBar(t0.AddMinutes(1), 1235.0, 1237.5, 1234.0, 1236.5), new FakeBar(t0.AddMinutes(2), 1236.5, 1238.0, 1236.0, 1237.0)]);
        using var stop = new CancellationTokenSource();
        var run = session.RunAsync(stop.Token);
        try
        {
            await server.WaitForRequestAsync(20, Wait);
            await server.StepAllAsync(3);
            await using var stream = source.StreamAsync(stop.Token).GetAsyncEnumerator(stop.Token);
            (await stream.MoveNextAsync().AsTask().WaitAsync(Wait)).ShouldBeTrue();

            var bar = stream.Current.ShouldBeOfType<MetalSniper.Core.MarketData.RawBarRecord>().Bar;
            bar.Symbol.ShouldBe("AAL.L");
            bar.Open.ShouldBe(1234.5);
            bar.Close.ShouldBe(1235.0);
            Catalog.Get("AAL.L").QuoteUnit.ToMajor((decimal)bar.Open).ShouldBe(12.345m);
            server.Requests.Count(r => r.MessageId == 20).ShouldBe(1);
            lock (problems)
            {
                problems.ShouldContain("IB bars of BP.L not subscribed: IB contract details for BP.L disagree with our catalog: priceMagnifier 1, but our catalog quotes BP.L in GBp "
                    + "(100 per GBP), so IB's prices would be off by a factor of 100; BP.L is refused (no orders, no data)");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(Wait);
        }
    }

    [Theory]
    [InlineData(100, "0.01", "12.3456", 1234.56)]
    [InlineData(100, "1", "440.004", 44000.0)]
    [InlineData(100, "1", "440.005", 44001.0)]
    [InlineData(1, "0.001", "24.5675", 24.568)]
    [InlineData(1, "0.01", "35.125", 35.13)]
    public void PriceConverter_ToIbPrice_MultipliesByTheMagnifier_AndRoundsToTheTickInIbsUnit(int magnifier, string tick, string major, double expected)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var converter = new IbPriceConverter(Catalog.Get("AAL.L"), magnifier, decimal.Parse(tick, inv));

        converter.ToIbPrice(decimal.Parse(major, inv)).ShouldBe(expected);
    }

    [Fact]
    public void PriceConverter_Inbound_DividesPricesByTheMagnifier_ButNotTheAverageCost()
    {
        var converter = new IbPriceConverter(Catalog.Get("AAL.L"), 100, 0.01m);

        converter.ToMajor(1234.5).ShouldBe(12.345m);
        converter.ToQuoteUnit(1234.5).ShouldBe(1234.5); // RawBar stays in GBp: ingest divides by the quote unit
        IbPriceConverter.AverageCostToMajor(12.345, 1m).ShouldBe(12.345m);
        Should.Throw<ArgumentOutOfRangeException>(() => converter.ToIbPrice(0m));
        Should.Throw<ArgumentOutOfRangeException>(() => new IbPriceConverter(Catalog.Get("AAL.L"), 0, 0.01m));
    }

    private static decimal Factor(string symbol) => Catalog.Get(symbol).QuoteUnit.UnitsPerMajor;
}
