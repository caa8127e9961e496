using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Sessions;
using MetalSniper.Host.Persistence;
using MetalSniper.Host.Pipeline;
using MetalSniper.Risk;
using MetalSniper.Strategies;

namespace MetalSniper.Host.Services;

/// <summary>
/// The brain: runs the strategies on each bar and turns their intents into recorded decisions and
/// commands for the hands. For each bar it first hands the bar to the execution service; when a
/// strategy has orders working at the broker it waits for the broker's view of that bar (fills
/// caused by it) before evaluating, so a decision always sees every fill that happened before it
/// and replay is deterministic. Decisions are persisted before the commands they cause are sent.
/// Allowed to be slow: nothing else waits on it.
/// </summary>
public sealed class SignalService : PipelineService
{
    private readonly PipelineChannels _channels;
    private readonly PersistenceWriter _writer;
    private readonly IReadOnlyList<IStrategy> _strategies;
    private readonly IReadOnlyList<StrategyContext> _contexts;
    private readonly PositionBook _book;
    private readonly ILogger<SignalService> _logger;
    private readonly List<object> _pending = [];
    private long _heartbeat;
    private Bar? _lastSent;
    private (string, DateTimeOffset)? _lastApplied;

    /// <summary>Creates the brain.</summary>
    public SignalService(
        IEnumerable<IStrategy> strategies,
        PipelineChannels channels,
        PersistenceWriter writer,
        IInstrumentCatalog instruments,
        ITradingSessions sessions,
        TradingHalts halts,
        CostEstimator costs,
        IdGenerator ids,
        TimeProvider clock,
        RunContext run,
        IHostApplicationLifetime lifetime,
        ILogger<SignalService> logger)
        : base(run, lifetime, logger)
    {
        _channels = channels;
        _writer = writer;
        _strategies = strategies.ToArray();
        _book = new PositionBook(instruments, Core.Money.Currency.Usd);
        _logger = logger;
        _contexts = _strategies.Select(s => new StrategyContext(this, "strategy:" + s.Name, instruments, sessions, halts, costs, ids, clock)).ToArray();
    }

    /// <summary>Bars evaluated (a heartbeat of the brain).</summary>
    public long Heartbeat => Interlocked.Read(ref _heartbeat);

    /// <inheritdoc />
    protected override string ServiceName => "signal";

    /// <inheritdoc />
    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var bars = _channels.Bars.Reader;
        var commands = _channels.Commands.Writer;
        _logger.LogInformation("Brain running {Count} strategies: {Strategies}", _strategies.Count, string.Join(", ", _strategies.Select(s => s.Name)));
        try
        {
            while (await bars.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (!stoppingToken.IsCancellationRequested && bars.TryRead(out var bar))
                {
                    await OnBarAsync(bar, stoppingToken).ConfigureAwait(false);
                }
            }

            // The data ended: take the broker's view of the last bar, so late fills reach the strategies
            // while their reactions can still be sent.
            while (_lastSent is { } last && _lastApplied != (last.Symbol, last.CloseTimeUtc))
            {
                Process(await _channels.Reports.Reader.ReadAsync(stoppingToken).ConfigureAwait(false));
            }
        }
        finally
        {
            // Whatever was decided is recorded and handed over, even when stopping.
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
            commands.TryComplete();
        }

        // Acknowledgements of the last commands, until the hands close the report lane.
        await foreach (var report in _channels.Reports.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            Process(report);
        }

        var unsent = _pending.OfType<ExecutionCommand>().Count();
        if (unsent > 0)
        {
            _logger.LogWarning("{Count} command(s) decided after the pipeline closed were not sent (their decisions are recorded)", unsent);
            _pending.RemoveAll(p => p is ExecutionCommand);
        }

        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private async ValueTask OnBarAsync(Bar bar, CancellationToken ct)
    {
        var commands = _channels.Commands.Writer;
        var apply = new ApplyBar(bar);
        _lastSent = bar;
        if (!commands.TryWrite(apply))
        {
            await commands.WriteAsync(apply, ct).ConfigureAwait(false);
        }

        var mustWait = false;
        foreach (var s in _strategies)
        {
            mustWait |= s.HasWorkingOrders && s.Symbols.Contains(bar.Symbol);
        }

        if (mustWait)
        {
            await DrainUntilAppliedAsync(bar, ct).ConfigureAwait(false);
        }
        else
        {
            while (_channels.Reports.Reader.TryRead(out var r))
            {
                Process(r);
            }
        }

        for (var i = 0; i < _strategies.Count; i++)
        {
            var s = _strategies[i];
            if (s.Symbols.Contains(bar.Symbol))
            {
                _contexts[i].EventTime = bar.CloseTimeUtc;
                s.OnBar(bar, _contexts[i]);
            }
        }

        await FlushAsync(ct).ConfigureAwait(false);
        Run.CountBar();
        Interlocked.Increment(ref _heartbeat);
    }

    private async ValueTask DrainUntilAppliedAsync(Bar bar, CancellationToken ct)
    {
        var reports = _channels.Reports.Reader;
        while (true)
        {
            if (!reports.TryRead(out var r))
            {
                r = await reports.ReadAsync(ct).ConfigureAwait(false);
            }

            Process(r);
            if (_lastApplied == (bar.Symbol, bar.CloseTimeUtc))
            {
                return;
            }
        }
    }

    private void Process(ExecutionReport report)
    {
        if (report is BarApplied a)
        {
            _lastApplied = (a.Symbol, a.BarCloseUtc);
            return;
        }

        if (report is not OrderEventReported { Event: var e })
        {
            return;
        }

        if (e is OrderFilled f)
        {
            _book.Apply(f.Fill);
        }

        for (var i = 0; i < _strategies.Count; i++)
        {
            _contexts[i].EventTime = e.EventTimeUtc > _contexts[i].EventTime ? e.EventTimeUtc : _contexts[i].EventTime;
            _strategies[i].OnOrderEvent(e, _contexts[i]);
        }
    }

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var commands = _channels.Commands.Writer;
        foreach (var item in _pending)
        {
            switch (item)
            {
                case DecisionRecord d:
                    await _writer.EnqueueAsync(new PersistDecision(Run.RunId, d), ct).ConfigureAwait(false);
                    Run.CountDecision(d);
                    break;
                case ExecutionCommand c:
                    if (!commands.TryWrite(c))
                    {
                        await commands.WriteAsync(c, ct).ConfigureAwait(false);
                    }

                    break;
            }
        }

        _pending.Clear();
    }

    /// <summary>The strategies' window on the world; actions queue up in order and leave at the next flush.</summary>
    private sealed class StrategyContext(
        SignalService owner,
        string source,
        IInstrumentCatalog instruments,
        ITradingSessions sessions,
        TradingHalts halts,
        CostEstimator costs,
        IdGenerator ids,
        TimeProvider clock) : IStrategyContext
    {
        public DateTimeOffset EventTime { get; set; }

        public DateTimeOffset NowUtc => EventTime;

        public bool EntriesAllowed => halts.Current(EventTime) is null;

        public PositionSnapshot Position(string symbol) => owner._book.Get(symbol);

        public bool IsMarketOpen(string symbol, DateTimeOffset utc) => sessions.IsOpen(instruments.Get(symbol).Exchange, utc);

        public DateTimeOffset? SessionEnd(string symbol, DateTimeOffset utc) => sessions.SessionEnd(instruments.Get(symbol).Exchange, utc);

        public decimal ExitCostPerUnit(string symbol, decimal price) => costs.ExitCostPerUnit(symbol, price);

        public string Decide(string symbol, string kind, DecisionOutcome outcome, string reason, IReadOnlyDictionary<string, string> inputs, DateTimeOffset eventTimeUtc)
        {
            var id = ids.NextDecisionId();
            owner._pending.Add(new DecisionRecord(id, source, symbol, kind, outcome, reason, inputs, eventTimeUtc, clock.GetUtcNow()));
            return id;
        }

        public ClientOrderId Submit(string decisionId, string symbol, OrderSide side, decimal quantity, OrderType type, decimal? limitPrice, decimal? stopPrice, OrderPurpose purpose, DateTimeOffset decisionTimeUtc)
        {
            var id = ids.NextClientOrderId();
            var order = new SubmitOrder(id, decisionId, symbol, side, quantity, type, limitPrice, stopPrice, purpose, decisionTimeUtc, TimeInForce.Gtc, source);
            order.EnsureValid();
            owner._pending.Add(new PlaceOrder(order));
            return id;
        }

        public void Cancel(string decisionId, ClientOrderId order, string reason) => owner._pending.Add(new RequestCancel(new CancelOrder(order, decisionId, reason)));

        public void Modify(string decisionId, ClientOrderId order, decimal? newStopPrice, decimal? newQuantity) =>
            owner._pending.Add(new RequestModify(new ModifyOrder(order, decisionId, newStopPrice, null, newQuantity)));
    }
}
