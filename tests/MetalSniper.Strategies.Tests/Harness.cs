using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Sessions;
using MetalSniper.Backtest;
using MetalSniper.Strategies.Metals;
using MetalSniper.Core.Costs;

namespace MetalSniper.Strategies.Tests;

/// <summary>
/// Drives the real strategy against the real simulated broker, bar by bar, in the pipeline's order:
/// the broker applies the bar (fills), the strategy sees the fills, then evaluates the bar, then its
/// commands reach the broker (and can only fill from the next bar on).
/// </summary>
internal sealed class Harness : IStrategyContext
{
    public static readonly DateTimeOffset Start = new(2026, 3, 3, 10, 0, 0, TimeSpan.Zero); // a Tuesday, metals open
    private static readonly TimeSpan M15 = TimeSpan.FromMinutes(15);
    private readonly InstrumentCatalog _catalog = InstrumentCatalog.CreateDefault();
    private readonly TradingSessionCalendar _sessions = TradingSessionCalendar.CreateDefault();
    private readonly IdGenerator _ids = new("h");
    private readonly List<Action> _pending = [];
    private int _index;
    private decimal _lastClose = 2000m;

    public Harness(MetalsStrategyOptions? options = null, Judges.Verdicts.JudgePanel? judges = null, decimal? maxVolumeParticipation = null)
    {
        Options = options ?? TestOptions();
        Gateway = new SimulatedOrderGateway(_catalog, new Dictionary<string, CostModel> { ["XAUUSD"] = new(0m, 0m, 0m) }, 0, TimeProvider.System, "h", Core.Money.Currency.Usd,
            maxVolumeParticipation);
        Book = new PositionBook(_catalog, Core.Money.Currency.Usd);
        Strategy = new MetalsHedgeStrategy(Options, _catalog, judges);
    }

    public MetalsStrategyOptions Options { get; }

    public MetalsHedgeStrategy Strategy { get; }

    public SimulatedOrderGateway Gateway { get; }

    public PositionBook Book { get; }

    public List<DecisionRecord> Decisions { get; } = [];

    public List<SubmitOrder> Orders { get; } = [];

    public List<OrderEvent> Events { get; } = [];

    public bool Halted { get; set; }

    /// <summary>The volume of the bars made from here on (0: unknown, the broker fills completely).</summary>
    public decimal Volume { get; set; }

    /// <summary>When set, the broker refuses every modification (as IB does at times): the order stays as it was.</summary>
    public bool RefuseModifies { get; set; }

    public DateTimeOffset NowUtc { get; private set; }

    public bool EntriesAllowed => !Halted;

    public static MetalsStrategyOptions TestOptions() => new()
    {
        Symbols = ["XAUUSD"],
        AtrPeriod = 3,
        LongAtrPeriod = 5,
        CompressionRatio = 100m,
        StopAtr = 1m,
        RiskPerTradeUsd = 100m,
        MaxNotionalUsd = 10_000_000m,
        MaxPositionNotionalUsd = 10_000_000m,
        HedgeExpiryBars = 6,
        BreakevenAtR = 1m,
        TrailAtr = 2m,
        MinStopStepAtr = 0m,
        FastEma = 2,
        SlowEma = 4,
        TurnConfirmBars = 2,
        MaxAdds = 1,
        AddSpacingR = 1m,
        AddFraction = 0.5m,
        CooldownBars = 0,
        MinSessionRemaining = TimeSpan.Zero,
        FlattenBeforeClosure = TimeSpan.Zero,
    };

    /// <summary>A bar from the previous close to <paramref name="close"/> with the given extra range.</summary>
    public void Bar(decimal close, decimal? high = null, decimal? low = null, decimal? open = null)
    {
        var o = open ?? _lastClose;
        var bar = new Bar("XAUUSD", Start + (_index++ * M15), M15, o, high ?? Math.Max(o, close) + 1m, low ?? Math.Min(o, close) - 1m, close, Volume, null, Start + (_index * M15));
        _lastClose = close;
        Gateway.OnBar(bar);
        Deliver();
        NowUtc = bar.CloseTimeUtc;
        Strategy.OnBar(bar, this);
        foreach (var a in _pending)
        {
            a();
        }

        _pending.Clear();
        Deliver();
    }

    public void Flat(int bars)
    {
        for (var i = 0; i < bars; i++)
        {
            Bar(2000m, 2001m, 1999m, 2000m);
        }
    }

    public IEnumerable<string> Kinds => Decisions.Select(d => d.KindLabel);

    public PositionSnapshot Position(string symbol) => Book.Get(symbol);

    public bool IsMarketOpen(string symbol, DateTimeOffset utc) => _sessions.IsOpen(_catalog.Get(symbol).Exchange, utc);

    public DateTimeOffset? SessionEnd(string symbol, DateTimeOffset utc) => _sessions.SessionEnd(_catalog.Get(symbol).Exchange, utc);

    public decimal ExitCostPerUnit(string symbol, decimal price) => 0.1m;

    public string Decide(string symbol, DecisionKind kind, DecisionOutcome outcome, string reason, IReadOnlyDictionary<string, string> inputs, DateTimeOffset eventTimeUtc)
    {
        var id = _ids.NextDecisionId();
        Decisions.Add(new DecisionRecord(id, "strategy:metals", symbol, kind, outcome, reason, inputs, eventTimeUtc, NowUtc));
        return id;
    }

    public ClientOrderId Submit(string decisionId, string symbol, OrderSide side, decimal quantity, OrderType type, decimal? limitPrice, decimal? stopPrice, OrderPurpose purpose, DateTimeOffset decisionTimeUtc,
        TimeInForce timeInForce = TimeInForce.Gtc)
    {
        var order = new SubmitOrder(_ids.NextClientOrderId(), decisionId, symbol, side, quantity, type, limitPrice, stopPrice, purpose, decisionTimeUtc, timeInForce, "strategy:metals");
        Orders.Add(order);
        _pending.Add(() => Gateway.SubmitAsync(order, default).AsTask().GetAwaiter().GetResult());
        return order.ClientOrderId;
    }

    public void Cancel(string decisionId, ClientOrderId order, string reason) =>
        _pending.Add(() => Gateway.CancelAsync(new CancelOrder(order, decisionId, reason), default).AsTask().GetAwaiter().GetResult());

    public void Modify(string decisionId, ClientOrderId order, decimal? newStopPrice, decimal? newQuantity) =>
        _pending.Add(() =>
        {
            if (RefuseModifies)
            {
                var refused = new OrderRequestRejected(order, "modify", "refused by the test broker", NowUtc, NowUtc);
                Events.Add(refused);
                Strategy.OnOrderEvent(refused, this);
                return;
            }

            Gateway.ModifyAsync(new ModifyOrder(order, decisionId, newStopPrice, null, newQuantity), default).AsTask().GetAwaiter().GetResult();
        });

    private void Deliver()
    {
        while (Gateway.Events.TryRead(out var e))
        {
            Events.Add(e);
            if (e is OrderFilled f)
            {
                Book.Apply(f.Fill);
            }

            Strategy.OnOrderEvent(e, this);
        }
    }
}
