using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Sessions;
using MetalSniper.Persistence;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Strategies;
using MetalSniper.Core.Costs;
using MetalSniper.Persistence.Journal;
using MetalSniper.Core.Money;

namespace MetalSniper.Engine.Services;

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
    private readonly WorkingOrderView _working = new();
    private readonly WallClock _wallClock;
    private readonly Persistence.Journal.DecisionJournal _journal;
    private Task? _idleBeat;
    private Func<CancellationToken, ValueTask>? _pump;
    private long _heartbeat;
    private long _barsSent;
    private long _barsApplied;

    /// <summary>Creates the brain.</summary>
    public SignalService(
        IReadOnlyList<IStrategy> strategies,
        PipelineChannels channels,
        PersistenceWriter writer,
        IInstrumentCatalog instruments,
        ITradingSessions sessions,
        AccountCurrency account,
        KillSwitch killSwitch,
        CostEstimator costs,
        IdGenerator ids,
        TimeProvider clock,
        WallClock wallClock,
        Persistence.Journal.DecisionJournal journal,
        RunContext run,
        Supervisor supervisor,
        ILogger<SignalService> logger)
        : base(run, supervisor)
    {
        _channels = channels;
        _writer = writer;
        _strategies = strategies;
        _book = new PositionBook(instruments, account.Base);
        _logger = logger;
        _wallClock = wallClock;
        _journal = journal;
        // Each strategy has its own id sequence: the first keeps "{run}-B" (the ids of a one-strategy run are unchanged), the
        // others add their name ("{run}-BDUALLISTING-D…"), so two strategies can never issue the same decision or order id.
        _contexts = _strategies.Select((s, i) => new StrategyContext(this, "strategy:" + s.Name, instruments, sessions, killSwitch, costs,
            ids.ForSource(i == 0 ? "B" : "B" + new string([.. s.Name.Where(char.IsAsciiLetter)]).ToUpperInvariant()), clock, run.Causal)).ToArray();
    }

    /// <summary>A heartbeat of the brain: grows with every bar evaluated and at least once a second while idle.</summary>
    public long Heartbeat => Interlocked.Read(ref _heartbeat);

    /// <inheritdoc />
    protected override string ServiceName => "signal";

    /// <inheritdoc />
    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var bars = _channels.Bars.Reader;
        var commands = _channels.Commands.Writer;
        _logger.LogInformation("Brain running {Count} strategies: {Strategies}", _strategies.Count, string.Join(", ", _strategies.Select(s => s.Name)));
        var ended = false;
        try
        {
            while (await WaitForBarsAsync(bars, stoppingToken).ConfigureAwait(false))
            {
                while (!stoppingToken.IsCancellationRequested && bars.TryRead(out var bar))
                {
                    await OnBarAsync(bar, stoppingToken).ConfigureAwait(false);
                }
            }

            // The data ended: take the broker's view of the last bar, so late fills reach the strategies
            // while their reactions can still be sent.
            await DrainUntilAppliedAsync(_barsSent, stoppingToken).ConfigureAwait(false);
            ended = true;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            ended = true;
            throw;
        }
        finally
        {
            // Whatever was decided is recorded and handed over, even when stopping. After a fault the lane to the
            // hands stays open: the supervisor may restart the brain, which goes on from the next bar.
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (ended)
            {
                commands.TryComplete();
            }
        }

        // Acknowledgements of the last commands, until the hands close the report lane.
        await foreach (var report in _channels.Reports.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            Process(report);
        }

        DropUnsentCommands();

        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Commands decided after the lane to the hands closed cannot be sent: dropped, loudly (their decisions are recorded).</summary>
    private void DropUnsentCommands()
    {
        var unsent = _pending.OfType<ExecutionCommand>().Count();
        if (unsent > 0)
        {
            _logger.LogWarning("{Count} command(s) decided after the pipeline closed were not sent (their decisions are recorded)", unsent);
            _pending.RemoveAll(p => p is ExecutionCommand);
        }
    }

    /// <summary>Waits for bars, beating the heartbeat once a second while idle (a quiet market is not a dead brain).</summary>
    private async ValueTask<bool> WaitForBarsAsync(System.Threading.Channels.ChannelReader<Bar> bars, CancellationToken ct)
    {
        var wait = bars.WaitToReadAsync(ct);
        if (wait.IsCompleted)
        {
            return await wait.ConfigureAwait(false);
        }

        // One idle timer at a time, reused until it fires: waits for bars are frequent, idle seconds are not.
        var task = wait.AsTask();
        while (!task.IsCompleted)
        {
            _idleBeat ??= Task.Delay(TimeSpan.FromSeconds(1), _wallClock.Provider, ct);
            await Task.WhenAny(task, _idleBeat).ConfigureAwait(false);
            if (_idleBeat.IsCompleted)
            {
                ct.ThrowIfCancellationRequested();
                _idleBeat = null;
                Interlocked.Increment(ref _heartbeat);
            }
        }

        return await task.ConfigureAwait(false);
    }

    private async ValueTask OnBarAsync(Bar bar, CancellationToken ct)
    {
        var commands = _channels.Commands.Writer;
        var apply = new ApplyBar(bar);
        if (!commands.TryWrite(apply))
        {
            await commands.WriteAsync(apply, ct).ConfigureAwait(false);
        }

        _barsSent++;

        // Before a decision on bar t the brain has consumed every broker report up to bar t-1 (usually already
        // there: no wait), and up to bar t itself when the bar could fill one of our orders. Reports are thus
        // consumed at fixed points of the data, never "whenever they happen to arrive", and a replay makes
        // identical decisions every time. What the sentinel does on bar t (a halt, a flatten) reaches the brain
        // with bar t+1; meanwhile the gates where orders leave already enforce it (entry halt, reduce-only
        // counting the working flatten), so nothing the brain sends in between can act against it.
        var mustSeeThisBar = _working.CouldFill(bar);
        await DrainUntilAppliedAsync(mustSeeThisBar ? _barsSent : _barsSent - 1, ct).ConfigureAwait(false);

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

    private async ValueTask DrainUntilAppliedAsync(long appliedCount, CancellationToken ct)
    {
        var reports = _channels.Reports.Reader;
        while (_barsApplied < appliedCount)
        {
            if (!reports.TryRead(out var r))
            {
                if (_pump is { } pump)
                {
                    // The causal scheduler: the hands run now, on this thread, and produce the reports waited for.
                    await pump(ct).ConfigureAwait(false);
                    if (!reports.TryRead(out r))
                    {
                        throw new InvalidOperationException($"replay scheduler: the hands processed every command but reported {_barsApplied} applied bar(s) of the {appliedCount} the brain waits for");
                    }
                }
                else
                {
                    r = await reports.ReadAsync(ct).ConfigureAwait(false);
                }
            }

            Process(r);
        }
    }

    /// <summary>
    /// Runs the brain under the causal replay scheduler instead of its own loop: whenever it waits for the broker's view of a
    /// bar, <paramref name="pumpHands"/> runs the hands on the same thread. Then <see cref="OnReplayBarAsync"/> per bar and
    /// <see cref="CompleteReplayAsync"/> at the end take the place of <see cref="RunAsync"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The brain's own loop is running.</exception>
    public void RunInline(Func<CancellationToken, ValueTask> pumpHands)
    {
        ArgumentNullException.ThrowIfNull(pumpHands);
        if (IsRunning)
        {
            throw new InvalidOperationException("the brain runs its own loop; it cannot also run under the replay scheduler");
        }

        _pump = pumpHands;
        _logger.LogInformation("Brain running {Count} strategies inline (causal replay scheduler): {Strategies}", _strategies.Count, string.Join(", ", _strategies.Select(s => s.Name)));
    }

    /// <summary>One bar under the causal replay scheduler: the same steps as the brain's loop takes for a bar.</summary>
    public ValueTask OnReplayBarAsync(Bar bar, CancellationToken ct) =>
        _pump is null ? throw new InvalidOperationException("call RunInline first") : OnBarAsync(bar, ct);

    /// <summary>
    /// The end of the data under the causal replay scheduler: takes the broker's view of the last bar, records and hands over
    /// what was decided, closes the lane to the hands, lets them finish (<paramref name="completeHands"/>) and consumes their
    /// last reports, as the end of <see cref="RunAsync"/> does.
    /// </summary>
    public async ValueTask CompleteReplayAsync(Func<CancellationToken, ValueTask> completeHands, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(completeHands);
        await DrainUntilAppliedAsync(_barsSent, ct).ConfigureAwait(false);
        await FlushAsync(ct).ConfigureAwait(false);
        _channels.Commands.Writer.TryComplete();
        await completeHands(ct).ConfigureAwait(false);
        while (_channels.Reports.Reader.TryRead(out var report))
        {
            Process(report);
        }

        DropUnsentCommands();

        await FlushAsync(ct).ConfigureAwait(false);
    }

    private void Process(ExecutionFeedback report)
    {
        if (report is BarApplied)
        {
            _barsApplied++;
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

        _working.Apply(e);

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
        var handed = 0;
        try
        {
            foreach (var item in _pending)
            {
                switch (item)
                {
                    case DecisionRecord d:
                        // Every intent and veto is journaled before the commands it causes leave the brain.
                        _journal.Append(JournalEntryKind.Decision, d.DecisionId, d.Source, d);
                        await _writer.EnqueueAsync(new PersistDecision(Run.RunId, d), ct).ConfigureAwait(false);
                        Run.CountDecision(d);
                        break;
                    case ExecutionCommand c:
                        if (!commands.TryWrite(c))
                        {
                            await commands.WriteAsync(c, ct).ConfigureAwait(false);
                        }

                        _working.Sent(c);
                        break;
                }

                handed++;
            }
        }
        finally
        {
            // Only what was handed over leaves the queue: an interrupted flush never repeats a record or a command.
            _pending.RemoveRange(0, handed);
        }
    }

    /// <summary>
    /// The brain's view of the orders it has working at the broker: enough to know, conservatively,
    /// whether a bar could fill one of them. A market order, an order with a modification or cancel
    /// not yet confirmed, or a stop/limit the bar trades through all mean "could fill": the brain
    /// then waits for the broker's view of the bar. Every other bar streams through without a
    /// round trip, and decisions still see every fill that happened before them.
    /// </summary>
    private sealed class WorkingOrderView
    {
        private readonly Dictionary<ClientOrderId, Entry> _orders = [];

        public void Sent(ExecutionCommand command)
        {
            switch (command)
            {
                case SubmitCommand { Order: var o }:
                    _orders[o.ClientOrderId] = new Entry(o) { Unconfirmed = true };
                    break;
                case ModifyCommand { Modify: var m } when _orders.TryGetValue(m.ClientOrderId, out var e):
                    e.Unconfirmed = true;
                    break;
                case CancelCommand { Cancel: var c } when _orders.TryGetValue(c.ClientOrderId, out var e):
                    e.Unconfirmed = true;
                    break;
            }
        }

        public void Apply(OrderEvent e)
        {
            if (!_orders.TryGetValue(e.ClientOrderId, out var entry))
            {
                return;
            }

            switch (e)
            {
                case OrderFilled { LeavesQuantity: 0m } or OrderCancelled or OrderRejected or OrderDenied:
                    _orders.Remove(e.ClientOrderId);
                    break;
                case OrderModified m:
                    entry.Order = entry.Order with { StopPrice = m.StopPrice, LimitPrice = m.LimitPrice, Quantity = m.Quantity };
                    entry.Unconfirmed = false;
                    break;
                case OrderAccepted:
                    entry.Unconfirmed = false;
                    break;
            }
        }

        public bool CouldFill(Bar bar)
        {
            foreach (var e in _orders.Values)
            {
                if (e.Order.Symbol == bar.Symbol
                    && (e.Unconfirmed || BarTriggers.TryTrigger(e.Order.Type, e.Order.Side, e.Order.LimitPrice, e.Order.StopPrice, bar, out _)))
                {
                    return true;
                }
            }

            return false;
        }

        private sealed class Entry(SubmitOrder order)
        {
            public SubmitOrder Order { get; set; } = order;

            public bool Unconfirmed { get; set; }
        }
    }

    /// <summary>The strategies' window on the world; actions queue up in order and leave at the next flush.</summary>
    private sealed class StrategyContext(
        SignalService owner,
        string source,
        IInstrumentCatalog instruments,
        ITradingSessions sessions,
        KillSwitch killSwitch,
        CostEstimator costs,
        IdGenerator ids,
        TimeProvider clock,
        bool replay) : IStrategyContext
    {
        public DateTimeOffset EventTime { get; set; }

        public DateTimeOffset NowUtc => EventTime;

        public bool EntriesAllowed => killSwitch.State.LevelSeenBefore(EventTime) == KillLevel.Running;

        public PositionSnapshot Position(string symbol) => owner._book.Get(symbol);

        public bool IsMarketOpen(string symbol, DateTimeOffset utc) => sessions.IsOpen(instruments.Get(symbol).Exchange, utc);

        public DateTimeOffset? SessionEnd(string symbol, DateTimeOffset utc) => sessions.SessionEnd(instruments.Get(symbol).Exchange, utc);

        public decimal ExitCostPerUnit(string symbol, decimal price) => costs.ExitCostPerUnit(symbol, price);

        public string Decide(string symbol, DecisionKind kind, DecisionOutcome outcome, string reason, IReadOnlyDictionary<string, string> inputs, DateTimeOffset eventTimeUtc)
        {
            var id = ids.NextDecisionId();
            // A fast replay's clock is moved by the broker side, which lags the brain by a variable amount: there the
            // decision is recorded at its event time, so a re-executed replay records exactly the same decision.
            owner._pending.Add(new DecisionRecord(id, source, symbol, kind, outcome, reason, inputs, eventTimeUtc, replay ? EventTime : clock.GetUtcNow()));
            return id;
        }

        public ClientOrderId Submit(string decisionId, string symbol, OrderSide side, decimal quantity, OrderType type, decimal? limitPrice, decimal? stopPrice, OrderPurpose purpose, DateTimeOffset decisionTimeUtc,
            TimeInForce timeInForce = TimeInForce.Gtc)
        {
            var id = ids.NextClientOrderId();
            var order = new SubmitOrder(id, decisionId, symbol, side, quantity, type, limitPrice, stopPrice, purpose, decisionTimeUtc, timeInForce, source);
            order.EnsureValid();
            owner._pending.Add(new SubmitCommand(order));
            return id;
        }

        public void Cancel(string decisionId, ClientOrderId order, string reason) => owner._pending.Add(new CancelCommand(new CancelOrder(order, decisionId, reason)));

        public void Modify(string decisionId, ClientOrderId order, decimal? newStopPrice, decimal? newQuantity) =>
            owner._pending.Add(new ModifyCommand(new ModifyOrder(order, decisionId, newStopPrice, null, newQuantity)));
    }
}
