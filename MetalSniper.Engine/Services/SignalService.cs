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
    private readonly KillSwitch _killSwitch;
    private readonly string[] _idTags;
    private readonly BrainInputLog? _inputs;
    private readonly Dictionary<string, DateTimeOffset> _lastBar = new(StringComparer.Ordinal);
    private readonly HashSet<ClientOrderId> _restoredOrders = [];
    private readonly Dictionary<ClientOrderId, ConsumedOrder> _consumed = [];
    private ReexecutionCheck? _check;
    private long _inputSequence;
    private long _barsDropped;
    private bool _restoreStarted;

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
        ILogger<SignalService> logger,
        BrainInputLog? inputs = null)
        : base(run, supervisor)
    {
        _channels = channels;
        _writer = writer;
        _strategies = strategies;
        _book = new PositionBook(instruments, account.Base);
        _logger = logger;
        _wallClock = wallClock;
        _journal = journal;
        _killSwitch = killSwitch;
        _inputs = inputs;
        // Each strategy has its own id sequence: the first keeps "{run}-B" (the ids of a one-strategy run are unchanged), the
        // others add their name ("{run}-BDUALLISTING-D…"), so two strategies can never issue the same decision or order id.
        _idTags = [.. _strategies.Select((s, i) => i == 0 ? "B" : "B" + new string([.. s.Name.Where(char.IsAsciiLetter)]).ToUpperInvariant())];
        _contexts = _strategies.Select((s, i) => new StrategyContext(this, "strategy:" + s.Name, instruments, sessions, killSwitch, costs,
            ids.ForSource(_idTags[i]), clock, run.Causal)).ToArray();
    }

    /// <summary>Bars dropped because the brain had already consumed a bar of that symbol at or after their close (live feed only).</summary>
    public long BarsDropped => Interlocked.Read(ref _barsDropped);

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
            // A live feed: the earlier runs' recorded inputs are re-executed first, before the first live bar and before any
            // command can leave (the strategies' state and the brain's book as the earlier runs left them).
            await RestoreAsync(stoppingToken).ConfigureAwait(false);
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

    /// <summary>
    /// A live feed's start (issue 18): the earlier runs' recorded inputs (table <c>brain_inputs</c>; the runs against the same
    /// broker, in the order they ran) are re-executed through the brain's own bar and order-event paths, each run with its own id
    /// sequences, so the strategies make the same decisions with the same ids again: their indicators, phases and the order ids
    /// they hold come back, and so does the brain's book. Nothing is written again and nothing reaches the hands; every decision
    /// and order made again is compared with its record (a difference is a RED <c>BrainDiverged</c> alert, journaled, and the
    /// run goes on from the re-executed state: refusing to start would leave the positions at the broker without the sentinel
    /// and the kill switch). Then the order events the earlier runs' hands recorded and their brain never consumed (a kill in
    /// between) are delivered, as inputs of this run. The earlier runs' orders that are still working are routed to the brain
    /// from here on (<see cref="OrderEventReported.EarlierRun"/>), so their owner sees their fills and its modifications and
    /// cancels reach the hands.
    /// </summary>
    private async Task RestoreAsync(CancellationToken ct)
    {
        if (_inputs is not { } log || _restoreStarted)
        {
            return;
        }

        _restoreStarted = true;
        var wall = _wallClock.Provider;
        var started = wall.GetTimestamp();
        var startedUtc = wall.GetUtcNow();
        var sources = _contexts.Select(c => c.Source).ToHashSet(StringComparer.Ordinal);
        var own = _contexts.Select(c => c.Ids).ToArray();
        var totals = new ReexecutionTotals();
        long inputs = 0, bars = 0, missed = 0;
        IReadOnlyList<string> runs;
        using (var c = log.Database.OpenConnection())
        {
            runs = BrainInputs.EarlierRuns(c, log.Broker, Run.RunId);
        }

        try
        {
            foreach (var runId in runs)
            {
                ct.ThrowIfCancellationRequested();
                IReadOnlyList<BrainInput> recorded;
                IReadOnlyDictionary<string, RecordedDecision> decisions;
                IReadOnlyDictionary<string, RecordedOrder> orders;
                using (var c = log.Database.OpenConnection())
                {
                    recorded = BrainInputs.Read(c, runId);
                    decisions = BrainInputs.Decisions(c, runId);
                    orders = BrainInputs.Orders(c, runId);
                }

                var runIds = new IdGenerator(runId);
                for (var i = 0; i < _contexts.Count; i++)
                {
                    _contexts[i].Ids = runIds.ForSource(_idTags[i]);
                }

                _check = new ReexecutionCheck(runId, decisions, orders, sources, totals);
                foreach (var input in recorded)
                {
                    var item = BrainInputs.Decode(input);
                    ApplyLevels(input.Levels);
                    if (item is Bar bar)
                    {
                        HandToStrategies(bar);
                        bars++;
                    }
                    else
                    {
                        ApplyEvent((OrderEvent)item);
                    }

                    inputs++;
                    await FlushAsync(ct).ConfigureAwait(false);
                }

                _check.EndOfRun();
                _check = null;
            }

            totals.EndOfRestore();
            for (var i = 0; i < _contexts.Count; i++)
            {
                _contexts[i].Ids = own[i];
            }

            if (runs.Count > 0)
            {
                missed = await DeliverMissedEventsAsync(startedUtc, totals.Unsent, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.Alerts.Raise(Core.Alerts.AlertLevel.Red, "BrainRestoreFailed",
                $"the brain could not re-execute the earlier runs' inputs ({inputs} done): {e.Message}; it goes on from a partly restored state");
            throw;
        }
        finally
        {
            _check = null;
            for (var i = 0; i < _contexts.Count; i++)
            {
                _contexts[i].Ids = own[i];
            }
        }

        var report = new BrainRestoreReport(runs.Count, inputs, bars, totals.DecisionsVerified, totals.OrdersVerified, totals.PricesVerified, totals.NotReexecuted,
            totals.UnrecordedTail, totals.Mismatches, [.. totals.Problems], missed, wall.GetElapsedTime(started), DescribeState());
        log.LastRestore = report;
        if (runs.Count == 0)
        {
            _logger.LogInformation("Brain on a live feed: no earlier run recorded inputs against {Broker}; the strategies start from nothing", log.Broker);
            return;
        }

        var text = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"the brain of run {Run.RunId} restored from {report.Runs} earlier run(s) against {log.Broker}: {report.Inputs} inputs ({report.Bars} bars) re-executed in {report.Took.TotalMilliseconds:0} ms; "
            + $"{report.DecisionsVerified} decisions and {report.OrdersVerified} orders ({report.OrderPricesVerified} with quantity and prices) as recorded, {report.NotReexecuted} of strategies not in this run, "
            + $"{report.UnrecordedTail} made again that their run never recorded, {report.MissedEvents} missed order event(s) delivered, {report.Mismatches} mismatch(es); state: {report.State}");
        _logger.LogInformation("{Restore}", text);
        if (report.Matches)
        {
            log.Alerts.Raise(Core.Alerts.AlertLevel.Info, "BrainRestored", text);
        }
        else
        {
            log.Alerts.Raise(Core.Alerts.AlertLevel.Red, "BrainDiverged",
                text + "; the re-executed decisions differ from the recorded ones (" + string.Join("; ", report.Problems) + "): the strategies go on from the re-executed state (the configuration or the code changed since those runs?)");
        }
    }

    /// <summary>
    /// The order events the earlier runs' hands recorded (our database) that the brain never consumed — the process was killed
    /// after the hands had booked them and before the brain recorded them as inputs — and the orders made again whose run never
    /// recorded them (it ended before: they never left). Delivered now, as inputs of this run (recorded, so a later re-execution
    /// delivers them at the same place): fills by execution id, ends by the final status; an order never recorded is rejected.
    /// Only what was recorded before this run started: what this run's hands find is reported by them.
    /// </summary>
    private async Task<long> DeliverMissedEventsAsync(DateTimeOffset restoreStartedUtc, IReadOnlyCollection<ClientOrderId> unsent, CancellationToken ct)
    {
        var log = _inputs!;
        var now = _wallClock.Provider.GetUtcNow();
        var events = new List<(OrderEvent Event, string Source)>();
        using (var c = log.Database.OpenConnection())
        {
            var runStarted = Dapper.SqlMapper.ExecuteScalar<string?>(c, "SELECT started_utc FROM runs WHERE run_id=@id", new { id = Run.RunId });
            var cutoff = runStarted is null ? restoreStartedUtc
                : DateTimeOffset.Parse(runStarted, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal);
            foreach (var id in _restoredOrders.OrderBy(o => o.Value, StringComparer.Ordinal))
            {
                var order = Dapper.SqlMapper.QuerySingleOrDefault<(string Status, string? Reason, string Quantity, string Source, string UpdatedUtc)?>(c,
                    "SELECT status, status_reason, quantity, source, updated_utc FROM orders WHERE client_order_id=@id", new { id = id.Value });
                var seen = _consumed.TryGetValue(id, out var s) ? s : new ConsumedOrder();
                if (order is not { } o)
                {
                    if (unsent.Contains(id) && !seen.Ended)
                    {
                        events.Add((new OrderRejected(id, "never sent: the run that decided it ended before it was recorded", now, now), _contexts[0].Source));
                    }

                    continue;
                }

                if (seen.Ended)
                {
                    continue;
                }

                var quantity = decimal.Parse(o.Quantity, System.Globalization.CultureInfo.InvariantCulture);
                var filled = seen.Filled;
                foreach (var f in Dapper.SqlMapper.Query<(string ExecId, string Symbol, string Side, string Quantity, string Price, string Commission, string Currency, string EventUtc, string ReceivedUtc)>(c,
                    "SELECT execution_id, symbol, side, quantity, price, commission, commission_ccy, event_utc, received_utc FROM fills WHERE client_order_id=@id ORDER BY rowid", new { id = id.Value }))
                {
                    if (seen.Executions.Contains(f.ExecId) || Utc(f.ReceivedUtc) >= cutoff)
                    {
                        continue;
                    }

                    var q = decimal.Parse(f.Quantity, System.Globalization.CultureInfo.InvariantCulture);
                    filled += q;
                    var at = Utc(f.EventUtc);
                    var fill = new Fill(f.ExecId, id, f.Symbol, Enum.Parse<OrderSide>(f.Side), q, decimal.Parse(f.Price, System.Globalization.CultureInfo.InvariantCulture),
                        new Money(decimal.Parse(f.Commission, System.Globalization.CultureInfo.InvariantCulture), new Currency(f.Currency)), at);
                    events.Add((new OrderFilled(id, fill, Math.Max(0m, quantity - filled), at, now), o.Source));
                }

                if (filled < quantity && Utc(o.UpdatedUtc) < cutoff)
                {
                    switch (o.Status)
                    {
                        case nameof(OrderStatus.Cancelled):
                            events.Add((new OrderCancelled(id, o.Reason ?? "cancelled while the brain was not listening", now, now), o.Source));
                            break;
                        case nameof(OrderStatus.Rejected):
                            events.Add((new OrderRejected(id, o.Reason ?? "rejected while the brain was not listening", now, now), o.Source));
                            break;
                    }
                }
            }
        }

        foreach (var (e, source) in events)
        {
            _logger.LogWarning("Order event {Event} of {ClientOrderId}, recorded by an earlier run's hands and never consumed by its brain, delivered now", e.GetType().Name, e.ClientOrderId);
            Process(new OrderEventReported(e, source));
        }

        await FlushAsync(ct).ConfigureAwait(false);
        return events.Count;

        static DateTimeOffset Utc(string text) =>
            DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal);
    }

    /// <summary>The strategies' state, one part per symbol of a strategy that shows it, and the brain's book.</summary>
    private string DescribeState()
    {
        var parts = new List<string>();
        foreach (var s in _strategies)
        {
            if (s is Strategies.Metals.MetalsHedgeStrategy metals)
            {
                parts.AddRange(metals.Symbols.Order(StringComparer.Ordinal).Select(symbol =>
                    $"{s.Name} {symbol} {metals.PhaseOf(symbol)}" + (metals.StopOf(symbol) is { } stop ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $" stop {stop}") : "")));
            }
        }

        var book = _book.Snapshot().Where(p => p.Quantity != 0m).Select(p => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{p.Quantity} {p.Symbol}")).ToList();
        parts.Add("book " + (book.Count == 0 ? "flat" : string.Join(", ", book)));
        return string.Join("; ", parts);
    }

    /// <summary>What the brain consumed of one order's events (a live feed): its fills by execution id, and whether it ended.</summary>
    private sealed class ConsumedOrder
    {
        public decimal Filled { get; set; }

        public bool Ended { get; set; }

        public HashSet<string> Executions { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>What a restore's re-execution found, over all the earlier runs.</summary>
    private sealed class ReexecutionTotals
    {
        public long DecisionsVerified { get; set; }

        public long OrdersVerified { get; set; }

        public long PricesVerified { get; set; }

        public long NotReexecuted { get; set; }

        public long UnrecordedTail { get; set; }

        public long Mismatches { get; private set; }

        public List<string> Problems { get; } = [];

        public HashSet<ClientOrderId> Unsent { get; } = [];

        /// <summary>Orders modified by a re-executed decision (any run): their record holds the latest prices, not the submitted ones.</summary>
        public HashSet<ClientOrderId> Modified { get; } = [];

        /// <summary>Orders whose record differs from the submission in quantity or prices: fine only when a modification explains it.</summary>
        public List<(SubmitOrder Order, RecordedOrder Recorded)> PricesToExplain { get; } = [];

        public void Mismatch(string problem)
        {
            Mismatches++;
            if (Problems.Count < 5)
            {
                Problems.Add(problem);
            }
        }

        public void EndOfRestore()
        {
            foreach (var (o, r) in PricesToExplain)
            {
                if (!Modified.Contains(o.ClientOrderId))
                {
                    Mismatch(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"order {o.ClientOrderId}: recorded {r.Quantity} @ limit {r.LimitPrice} stop {r.StopPrice}, re-executed {o.Quantity} @ limit {o.LimitPrice} stop {o.StopPrice} and never modified"));
                }
            }
        }
    }

    /// <summary>Compares what the re-execution of one earlier run decides and sends with what that run recorded.</summary>
    private sealed class ReexecutionCheck(string runId, IReadOnlyDictionary<string, RecordedDecision> decisions, IReadOnlyDictionary<string, RecordedOrder> orders,
        HashSet<string> sources, ReexecutionTotals totals)
    {
        private readonly HashSet<string> _made = new(StringComparer.Ordinal);
        private readonly List<string> _unrecorded = [];

        public void Decision(DecisionRecord d)
        {
            _made.Add(d.DecisionId);
            if (!decisions.TryGetValue(d.DecisionId, out var r))
            {
                _unrecorded.Add(d.DecisionId);
                return;
            }

            if (r.Source == d.Source && r.Symbol == d.Symbol && r.Kind == d.KindLabel && r.Outcome == d.Outcome.ToString() && r.Reason == d.Reason)
            {
                totals.DecisionsVerified++;
            }
            else
            {
                totals.Mismatch($"run {runId} decision {d.DecisionId}: recorded {r.Kind} {r.Outcome} {r.Symbol} '{r.Reason}', made again {d.KindLabel} {d.Outcome} {d.Symbol} '{d.Reason}'");
            }
        }

        public void Command(ExecutionCommand command)
        {
            switch (command)
            {
                case ModifyCommand { Modify: var m }:
                    totals.Modified.Add(m.ClientOrderId);
                    break;
                case SubmitCommand { Order: var o }:
                    if (!orders.TryGetValue(o.ClientOrderId.Value, out var r))
                    {
                        totals.Unsent.Add(o.ClientOrderId);
                        return;
                    }

                    // An exit the hands escalate rests as a limit at the mid first: recorded as that limit.
                    var escalated = r.OrderType == nameof(OrderType.Limit) && o.Type == OrderType.Market && o.Purpose is OrderPurpose.Exit or OrderPurpose.RiskFlatten;
                    if (r.DecisionId != o.DecisionId || r.Symbol != o.Symbol || r.Side != o.Side.ToString() || r.Purpose != o.Purpose.ToString() || r.Source != o.Source
                        || (r.OrderType != o.Type.ToString() && !escalated))
                    {
                        totals.Mismatch($"run {runId} order {o.ClientOrderId}: recorded {r.Side} {r.OrderType} {r.Purpose} {r.Symbol} of {r.DecisionId}, made again {o.Side} {o.Type} {o.Purpose} {o.Symbol} of {o.DecisionId}");
                        return;
                    }

                    totals.OrdersVerified++;
                    if (escalated)
                    {
                        return;
                    }

                    if (Number(r.Quantity) == o.Quantity && Number(r.LimitPrice) == o.LimitPrice && Number(r.StopPrice) == o.StopPrice)
                    {
                        totals.PricesVerified++;
                    }
                    else
                    {
                        totals.PricesToExplain.Add((o, r));
                    }

                    break;
            }
        }

        /// <summary>
        /// Every recorded decision of this brain's strategies was made again; a decision made again that was never recorded is
        /// allowed only after the last recorded one of its sequence (the run was killed between recording an input and its decision).
        /// </summary>
        public void EndOfRun()
        {
            foreach (var r in decisions.Values.Where(r => r.Source.StartsWith("strategy:", StringComparison.Ordinal)))
            {
                if (!sources.Contains(r.Source))
                {
                    totals.NotReexecuted++;
                }
                else if (!_made.Contains(r.DecisionId))
                {
                    totals.Mismatch($"run {runId} decision {r.DecisionId} ({r.Kind} {r.Outcome} {r.Symbol} '{r.Reason}') was recorded and not made again");
                }
            }

            foreach (var id in _unrecorded)
            {
                var prefix = id[..(id.LastIndexOf("-D", StringComparison.Ordinal) + 2)];
                var later = decisions.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && string.CompareOrdinal(k, id) > 0).FirstOrDefault();
                if (later is null)
                {
                    totals.UnrecordedTail++;
                }
                else
                {
                    totals.Mismatch($"run {runId} decision {id} was made again but not recorded, while the later {later} was");
                }
            }
        }

        private static decimal? Number(string? text) =>
            text is null ? null : decimal.Parse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
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
        if (_inputs is not null && _lastBar.TryGetValue(bar.Symbol, out var consumed) && bar.CloseTimeUtc <= consumed)
        {
            // A live feed: a bar the brain (this run's, or an earlier run's re-executed) has already consumed, or an older one
            // (a re-subscription's history): the strategies never see a bar twice.
            Interlocked.Increment(ref _barsDropped);
            _logger.LogDebug("Bar {Symbol} closing {Close:O} dropped: the brain consumed {Symbol} up to {Consumed:O}", bar.Symbol, bar.CloseTimeUtc, bar.Symbol, consumed);
            Run.CountBar();
            Interlocked.Increment(ref _heartbeat);
            return;
        }

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

        if (_inputs is not null)
        {
            // Recorded before the decisions it leads to (the same writer queue, in order): a committed decision has its inputs.
            SetBarTime(bar);
            _pending.Add(new PersistBrainInput(Run.RunId, BrainInputs.ForBar(++_inputSequence, bar, SnapshotLevels())));
        }

        HandToStrategies(bar);

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

        if (report is not OrderEventReported { Event: var e } reported)
        {
            return;
        }

        if (reported.EarlierRun && !_restoredOrders.Contains(e.ClientOrderId))
        {
            // An earlier run's order that no strategy of this brain holds (its run was not re-executed: recorded before the
            // brain recorded its inputs, or by a strategy this run does not have): the hands and the sentinel manage it; a
            // stop's fill must not read as a new position in the brain's book.
            return;
        }

        if (_inputs is not null)
        {
            if (_consumed.TryGetValue(e.ClientOrderId, out var seen)
                && ((e is OrderFilled { Fill: var fill } && seen.Executions.Contains(fill.ExecutionId)) || (seen.Ended && e is OrderCancelled or OrderRejected or OrderDenied)))
            {
                // Already delivered after the restore (an earlier run's hands had recorded it); the hands of this run report it too.
                _logger.LogInformation("Order event {Event} of {ClientOrderId} already consumed: not applied twice", e.GetType().Name, e.ClientOrderId);
                return;
            }

            SetEventTime(e);
            _pending.Add(new PersistBrainInput(Run.RunId, BrainInputs.ForEvent(++_inputSequence, e, SnapshotLevels())));
        }

        ApplyEvent(e);
    }

    /// <summary>An order event as the brain applies it: its book, its view of the working orders, then every strategy.</summary>
    private void ApplyEvent(OrderEvent e)
    {
        if (e is OrderFilled f)
        {
            _book.Apply(f.Fill);
        }

        _working.Apply(e);
        if (_inputs is not null)
        {
            if (!_consumed.TryGetValue(e.ClientOrderId, out var seen))
            {
                _consumed[e.ClientOrderId] = seen = new ConsumedOrder();
            }

            if (e is OrderFilled filled)
            {
                seen.Executions.Add(filled.Fill.ExecutionId);
                seen.Filled += filled.Fill.Quantity;
                seen.Ended |= filled.LeavesQuantity == 0m;
            }
            else if (e is OrderCancelled or OrderRejected or OrderDenied)
            {
                seen.Ended = true;
            }
        }

        SetEventTime(e);
        for (var i = 0; i < _strategies.Count; i++)
        {
            _strategies[i].OnOrderEvent(e, _contexts[i]);
        }
    }

    private void SetEventTime(OrderEvent e)
    {
        foreach (var c in _contexts)
        {
            c.EventTime = e.EventTimeUtc > c.EventTime ? e.EventTimeUtc : c.EventTime;
        }
    }

    private void SetBarTime(Bar bar)
    {
        for (var i = 0; i < _strategies.Count; i++)
        {
            if (_strategies[i].Symbols.Contains(bar.Symbol))
            {
                _contexts[i].EventTime = bar.CloseTimeUtc;
            }
        }
    }

    /// <summary>A bar as the brain hands it to the strategies that trade its symbol.</summary>
    private void HandToStrategies(Bar bar)
    {
        SetBarTime(bar);
        for (var i = 0; i < _strategies.Count; i++)
        {
            if (_strategies[i].Symbols.Contains(bar.Symbol))
            {
                _strategies[i].OnBar(bar, _contexts[i]);
            }
        }

        if (_inputs is not null)
        {
            _lastBar[bar.Symbol] = bar.CloseTimeUtc;
        }
    }

    /// <summary>
    /// The kill level each strategy sees with the input in hand (what its <c>EntriesAllowed</c> answers until the next input),
    /// recorded with the input: a re-execution answers exactly what the live run answered, whatever the kill switch says now.
    /// </summary>
    private string SnapshotLevels()
    {
        var levels = new string[_contexts.Count];
        for (var i = 0; i < _contexts.Count; i++)
        {
            var level = _killSwitch.State.LevelSeenBefore(_contexts[i].EventTime);
            _contexts[i].SeenLevel = level;
            levels[i] = ((int)level).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return string.Join(',', levels);
    }

    /// <summary>
    /// The kill levels recorded with an input, back on the strategies. A strategy the recording run did not have (no level for
    /// it) asks the kill switch; a level that does not read back is refused (never read as "running": that would allow entries).
    /// </summary>
    /// <exception cref="InvalidDataException">A recorded level is not a kill level.</exception>
    private void ApplyLevels(string levels)
    {
        var parts = levels.Split(',', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < _contexts.Count; i++)
        {
            if (i >= parts.Length)
            {
                _contexts[i].SeenLevel = null;
            }
            else if (int.TryParse(parts[i], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var l) && Enum.IsDefined((KillLevel)l))
            {
                _contexts[i].SeenLevel = (KillLevel)l;
            }
            else
            {
                throw new InvalidDataException($"brain input kill levels '{levels}': '{parts[i]}' is not a kill level");
            }
        }
    }

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        if (_check is { } check)
        {
            // Re-executing an earlier run: nothing is written again and nothing reaches the hands; every decision and order is
            // compared with its record.
            foreach (var item in _pending)
            {
                switch (item)
                {
                    case DecisionRecord d:
                        check.Decision(d);
                        break;
                    case ExecutionCommand c:
                        if (c is SubmitCommand { Order: var o })
                        {
                            _restoredOrders.Add(o.ClientOrderId);
                        }

                        check.Command(c);
                        _working.Sent(c);
                        break;
                }
            }

            _pending.Clear();
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
                    case PersistCommand p:
                        await _writer.EnqueueAsync(p, ct).ConfigureAwait(false);
                        break;
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

        /// <summary>The kill level recorded with the input in hand (a live feed, and its re-execution); null: asked of the kill switch.</summary>
        public KillLevel? SeenLevel { get; set; }

        /// <summary>The id sequence decisions and orders take (this run's; an earlier run's while it is re-executed).</summary>
        public IdGenerator Ids { get; set; } = ids;

        public string Source => source;

        public DateTimeOffset NowUtc => EventTime;

        public bool EntriesAllowed => (SeenLevel ?? killSwitch.State.LevelSeenBefore(EventTime)) == KillLevel.Running;

        public PositionSnapshot Position(string symbol) => owner._book.Get(symbol);

        public bool IsMarketOpen(string symbol, DateTimeOffset utc) => sessions.IsOpen(instruments.Get(symbol).Exchange, utc);

        public DateTimeOffset? SessionEnd(string symbol, DateTimeOffset utc) => sessions.SessionEnd(instruments.Get(symbol).Exchange, utc);

        public decimal ExitCostPerUnit(string symbol, decimal price) => costs.ExitCostPerUnit(symbol, price);

        public string Decide(string symbol, DecisionKind kind, DecisionOutcome outcome, string reason, IReadOnlyDictionary<string, string> inputs, DateTimeOffset eventTimeUtc)
        {
            var id = Ids.NextDecisionId();
            // A fast replay's clock is moved by the broker side, which lags the brain by a variable amount: there the
            // decision is recorded at its event time, so a re-executed replay records exactly the same decision.
            owner._pending.Add(new DecisionRecord(id, source, symbol, kind, outcome, reason, inputs, eventTimeUtc, replay ? EventTime : clock.GetUtcNow()));
            return id;
        }

        public ClientOrderId Submit(string decisionId, string symbol, OrderSide side, decimal quantity, OrderType type, decimal? limitPrice, decimal? stopPrice, OrderPurpose purpose, DateTimeOffset decisionTimeUtc,
            TimeInForce timeInForce = TimeInForce.Gtc)
        {
            var id = Ids.NextClientOrderId();
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
