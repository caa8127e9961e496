using MetalSniper.Backtest;
using MetalSniper.Calendars;
using MetalSniper.Core.Costs;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Pairs.Backtest;
using MetalSniper.Pairs.Data;
using MetalSniper.Strategies.DualListing;
using MetalSniper.Testing;

namespace MetalSniper.Strategies.Tests;

/// <summary>
/// The dual-listing strategy on the real daily files, in the pipeline's order (the broker applies each bar, the strategy
/// sees the fills, then the bar; its orders reach the real simulated broker and fill from the next bar of their symbol).
/// Bars are stamped with each venue's session from the exchange calendar; FX rows are snapshots at 00:00 London.
/// </summary>
public sealed class DualListingStrategyTests : IStrategyContext
{
    private static readonly ExchangeCalendar Calendar = new();
    private readonly InstrumentCatalog _catalog = InstrumentCatalog.CreateDefault();
    private readonly IdGenerator _ids = new("d");
    private readonly List<Action> _pending = [];
    private readonly SimulatedOrderGateway _gateway;
    private readonly PositionBook _book;
    private DualListingStrategy _strategy = null!;

    public DualListingStrategyTests()
    {
        var zero = new CostModel(0m, 0m, 0m);
        _gateway = new SimulatedOrderGateway(_catalog, _catalog.All.ToDictionary(i => i.Symbol, _ => zero), 0, TimeProvider.System, "d", Currency.Usd);
        _book = new PositionBook(_catalog, Currency.Usd);
    }

    public List<DecisionRecord> Decisions { get; } = [];

    public List<SubmitOrder> Orders { get; } = [];

    public List<Fill> Fills { get; } = [];

    public List<OrderEvent> Events { get; } = [];

    private int Pending() => Orders.Count(o => !Fills.Any(f => f.ClientOrderId == o.ClientOrderId));

    public HashSet<string> DenySymbols { get; } = new(StringComparer.OrdinalIgnoreCase);

    public DateTimeOffset NowUtc { get; private set; }

    public bool EntriesAllowed => true;

    public PositionSnapshot Position(string symbol) => _book.Get(symbol);

    public bool IsMarketOpen(string symbol, DateTimeOffset utc) => Calendar.IsOpen(_catalog.Get(symbol).Exchange, utc);

    public DateTimeOffset? SessionEnd(string symbol, DateTimeOffset utc) => Calendar.SessionEnd(_catalog.Get(symbol).Exchange, utc);

    public decimal ExitCostPerUnit(string symbol, decimal price) => 0m;

    public string Decide(string symbol, DecisionKind kind, DecisionOutcome outcome, string reason, IReadOnlyDictionary<string, string> inputs, DateTimeOffset eventTimeUtc)
    {
        var id = _ids.NextDecisionId();
        Decisions.Add(new DecisionRecord(id, "strategy:dual-listing", symbol, kind, outcome, reason, inputs, eventTimeUtc, NowUtc));
        return id;
    }

    public ClientOrderId Submit(string decisionId, string symbol, OrderSide side, decimal quantity, OrderType type, decimal? limitPrice, decimal? stopPrice, OrderPurpose purpose, DateTimeOffset decisionTimeUtc, TimeInForce timeInForce = TimeInForce.Gtc)
    {
        var order = new SubmitOrder(_ids.NextClientOrderId(), decisionId, symbol, side, quantity, type, limitPrice, stopPrice, purpose, decisionTimeUtc, timeInForce, "strategy:dual-listing");
        Orders.Add(order);
        if (DenySymbols.Contains(symbol))
        {
            var denied = new OrderDenied(order.ClientOrderId, new GateDenial("test", DenyReason.MarketClosed, "denied by the test"), NowUtc, NowUtc);
            _pending.Add(() => _strategy.OnOrderEvent(denied, this));
        }
        else
        {
            _pending.Add(() => _gateway.SubmitAsync(order, default).AsTask().GetAwaiter().GetResult());
        }

        return order.ClientOrderId;
    }

    void IStrategyContext.Cancel(string decisionId, ClientOrderId order, string reason) =>
        _pending.Add(() => _gateway.CancelAsync(new CancelOrder(order, decisionId, reason), default).AsTask().GetAwaiter().GetResult());

    void IStrategyContext.Modify(string decisionId, ClientOrderId order, decimal? newStopPrice, decimal? newQuantity) => throw new NotSupportedException();

    /// <summary>Daily stock bars stamped with the venue's session, and FX snapshot bars, merged by close time.</summary>
    private static List<Bar> Feed(DateOnly from, DateOnly to, params (string Symbol, string File, string Column)[] files)
    {
        var catalog = InstrumentCatalog.CreateDefault();
        var bars = new List<Bar>();
        foreach (var (symbol, file, column) in files)
        {
            var instrument = catalog.Get(symbol);
            var series = DailySeriesReader.Read(TestPaths.SharedDataFile("dual_listed/" + file), column == "adj_close" ? CloseColumn.AdjustedClose : CloseColumn.Close);
            foreach (var r in series.Rows.Where(r => r.Date >= from && r.Date <= to))
            {
                decimal M(decimal? v) => instrument.QuoteUnit.ToMajor(v ?? r.Close);
                if (instrument.SecurityType == SecurityType.Forex)
                {
                    var local = r.Date.ToDateTime(TimeOnly.MinValue);
                    var stamp = new DateTimeOffset(local, TimeZoneInfo.FindSystemTimeZoneById("Europe/London").GetUtcOffset(local)).ToUniversalTime();
                    bars.Add(new Bar(symbol, stamp.AddMinutes(-1), TimeSpan.FromMinutes(1), r.Close, r.Close, r.Close, r.Close, 0m, null, stamp));
                }
                else if (Calendar.Session(instrument.Exchange, r.Date) is { } s)
                {
                    bars.Add(new Bar(symbol, s.OpenUtc, s.CloseUtc - s.OpenUtc, M(r.Open), M(r.High), M(r.Low), M(r.Close), 0m, null, s.CloseUtc));
                }
            }
        }

        return [.. bars.OrderBy(b => b.CloseTimeUtc).ThenBy(b => b.Symbol, StringComparer.Ordinal)];
    }

    private void Run(DualListingOptions pairs, IEnumerable<Bar> bars, string[] fx)
    {
        _strategy = new DualListingStrategy(new DualListingStrategyOptions { Enabled = true, FxSymbols = [.. fx] }, pairs, _catalog, Calendar, Currency.Usd);
        foreach (var bar in bars)
        {
            _gateway.OnBar(bar);
            Deliver();
            NowUtc = bar.CloseTimeUtc;
            _strategy.OnBar(bar, this);
            foreach (var a in _pending.ToList())
            {
                a();
            }

            _pending.Clear();
            Deliver();
        }
    }

    private void Deliver()
    {
        while (_gateway.Events.TryRead(out var e))
        {
            Events.Add(e);
            if (e is OrderFilled f)
            {
                _book.Apply(f.Fill);
                Fills.Add(f.Fill);
            }

            _strategy.OnOrderEvent(e, this);
        }
    }

    private static DualListingOptions Only(params string[] names)
    {
        var o = new DualListingOptions();
        foreach (var (name, p) in o.Pairs)
        {
            p.Enabled = names.Contains(name);
        }

        return o;
    }

    [Fact]
    public void ShellA_AmsterdamAndLondonCloseTogether_TheirClosesAreCompared_AndBothLegsGoToTheNextOpeningAuction()
    {
        var bars = Feed(new DateOnly(2015, 7, 1), new DateOnly(2017, 6, 30),
            ("RDSA.AS", "aex/RDSa.AS_2015-07_2020-06.csv", "close"), ("RDSA.L", "lse/RDSa.L_2015-07_2020-06.csv", "close"),
            ("EURUSD", "fx/EURUSD_2015-07_2020-06.csv", "close"), ("GBPUSD", "fx/GBPUSD_2015-07_2020-06.csv", "close"));
        var options = Only("shell-a");
        options.MaxPValue = 0.5; // keep the pair admitted: this test is about timing and orders, not about the statistics
        options.MaxHalfLife = 100;
        Run(options, bars, ["EURUSD", "GBPUSD"]);

        var entries = Decisions.Where(d => d.Kind == DecisionKind.PairEntry && d.Outcome == DecisionOutcome.Taken).ToList();
        entries.Count.ShouldBeGreaterThan(2, string.Join("\n", Decisions.Take(20).Select(d => $"{d.KindLabel} {d.Reason}")));
        foreach (var e in entries)
        {
            e.Inputs["both_open_rule"].ShouldStartWith("both open, 0 s apart");
            var legs = Orders.Where(o => o.DecisionId == e.DecisionId).ToList();
            legs.Select(o => o.Symbol).ShouldBe(["RDSA.AS", "RDSA.L"], ignoreOrder: true);
            legs.Select(o => o.Side).Distinct().Count().ShouldBe(2);
            legs.ShouldAllBe(o => o.TimeInForce == TimeInForce.AtTheOpen && o.Type == OrderType.Market);
            // Decided when the FX snapshot after the closes arrived (00:00 London), not at the closes themselves.
            e.RecordedAtUtc.ShouldBeGreaterThan(e.EventTimeUtc);
        }

        // Every entry filled on both legs, and every exit too: the book holds one pair at most, one leg long and one short.
        Fills.Count.ShouldBe(Orders.Count(o => Orders.Last() != o || true) - Pending());
        var (a, l) = (_book.Get("RDSA.AS").Quantity, _book.Get("RDSA.L").Quantity);
        (a == 0 && l == 0 || Math.Sign(a) == -Math.Sign(l)).ShouldBeTrue($"RDSA.AS {a}, RDSA.L {l}");
    }

    [Fact]
    public void Anglo_JohannesburgAndLondonCloses_AreNeverComparable_EachDayRecordedWithBothObservationTimes()
    {
        var bars = Feed(new DateOnly(2016, 3, 1), new DateOnly(2016, 6, 30),
            ("AGL.JO", "jse/AGL.JO.csv", "close"), ("AAL.L", "lse/AAL.L_2015-07_2020-06.csv", "close"),
            ("USDZAR", "fx/USDZAR_derived_close_2014-01_2024-07.csv", "close"), ("GBPUSD", "fx/GBPUSD_2015-07_2020-06.csv", "close"));
        Run(Only("anglo"), bars, ["USDZAR", "GBPUSD"]);

        Decisions.ShouldNotBeEmpty();
        Decisions.ShouldAllBe(d => d.Kind == DecisionKind.PairNotComparable && d.Outcome == DecisionOutcome.Denied);
        // Johannesburg closes 30–90 minutes before London: at London's close the JSE is shut (and on a London holiday, the LSE).
        Decisions.ShouldAllBe(d => d.Reason.Contains("was closed") && d.Inputs.ContainsKey("a") && d.Inputs.ContainsKey("b"));
        Decisions.Count(d => d.Reason.Contains("JSE was closed")).ShouldBeGreaterThan(Decisions.Count * 9 / 10);
        Orders.ShouldBeEmpty();
    }

    [Fact]
    public void OneLegRefused_TheOtherLegIsUnwound_AsADecision()
    {
        var bars = Feed(new DateOnly(2015, 7, 1), new DateOnly(2017, 6, 30),
            ("RDSA.AS", "aex/RDSa.AS_2015-07_2020-06.csv", "close"), ("RDSA.L", "lse/RDSa.L_2015-07_2020-06.csv", "close"),
            ("EURUSD", "fx/EURUSD_2015-07_2020-06.csv", "close"), ("GBPUSD", "fx/GBPUSD_2015-07_2020-06.csv", "close"));
        var options = Only("shell-a");
        options.MaxPValue = 0.5;
        options.MaxHalfLife = 100;
        DenySymbols.Add("RDSA.L");
        Run(options, bars, ["EURUSD", "GBPUSD"]);

        var unwinds = Decisions.Where(d => d.Kind == DecisionKind.PairLegUnwind).ToList();
        unwinds.ShouldNotBeEmpty();
        var first = Decisions.First(d => d.Kind == DecisionKind.PairEntry && d.Outcome == DecisionOutcome.Taken);
        var legs = Orders.Where(o => o.DecisionId == first.DecisionId).Select(o => o.ClientOrderId).ToHashSet();
        var trace = string.Join("\n", Events.Where(e => legs.Contains(e.ClientOrderId)).Select(e => e.ToString()));
        unwinds[0].Reason.ShouldContain("refused", customMessage: trace);
        foreach (var u in unwinds)
        {
            Orders.Where(o => o.DecisionId == u.DecisionId).ShouldAllBe(o => o.Symbol == "RDSA.AS");
        }

        // Nothing is left on the Amsterdam leg once its unwinds filled (the last one may still be on its way at the end).
        Math.Abs(_book.Get("RDSA.AS").Quantity).ShouldBeLessThanOrEqualTo(Orders.Where(o => o.Symbol == "RDSA.AS").Max(o => o.Quantity));
        Decisions.Count(d => d.Kind == DecisionKind.PairEntry && d.Outcome == DecisionOutcome.Taken).ShouldBe(unwinds.Count(u => u.Reason.Contains("refused")));
    }
}
