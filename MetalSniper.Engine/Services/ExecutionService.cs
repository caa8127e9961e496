using System.Collections.Immutable;
using System.Globalization;
using MetalSniper.Engine.Alerts;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Core.Time;
using MetalSniper.Persistence;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Risk.Gates;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;
using MetalSniper.Core.Costs;
using MetalSniper.Core.Alerts;
using MetalSniper.Persistence.Journal;
using MetalSniper.Engine.Configuration;
using Microsoft.Extensions.Options;

namespace MetalSniper.Engine.Services;

/// <summary>
/// The hands: owns the order gateway and our position book. Drains the sentinel's priority lane
/// before every command of the brain, runs the pre-trade gates where orders leave, persists each
/// order before sending it (write-ahead), keeps the order state machine, applies fills to the book,
/// publishes the book to the sentinel and reports every broker event to the brain. It enforces the
/// kill switch where orders leave: when the level rises to L1 or L2 it takes every working entry
/// and add off the market (an order that reduces the position stays), and the gates refuse what
/// the level forbids. Broker messages are paced by the gateway's message budget, whose reserved
/// share only risk messages use. Its loop wakes at least once a second (a heartbeat the sentinel
/// watches). On stop it drains both lanes and waits (bounded) for every sent order to be
/// acknowledged, so no command is left unprocessed and no order is left in flight.
/// Exits and flattens escalate where they leave (<see cref="ExitEscalationPolicy"/>, issue 18 item 9): a market exit or
/// flatten goes out as a limit at the mid, is modified to the touch after the mid wait, and after the touch wait is cancelled
/// and — once the cancel is confirmed — replaced by a market order for what is left of the position (never more, so a
/// partial fill on the way is never sold twice). Each step is a decision row (<see cref="DecisionKind.ExitEscalation"/>);
/// the source keeps seeing one order: the replacement's events reach it under the id it sent.
/// </summary>
public sealed class ExecutionService(
    IOrderGateway gateway,
    PipelineChannels channels,
    PreTradeGatePipeline gates,
    ExecutionRecorders recorders,
    RiskSentinel sentinel,
    KillSwitch killSwitch,
    IdGenerator ids,
    BookValuation valuation,
    RunContext run,
    TimeProvider clock,
    WallClock wallClock,
    Supervisor supervisor,
    ILogger<ExecutionService> logger,
    IOptions<ExecutionOptions> executionOptions,
    IQuoteFeed? quoteFeed = null,
    ShadowFills? shadowFills = null,
    LogRateLimiter? logLimiter = null,
    CarryAccrual? carry = null) : PipelineService(run, supervisor)
{
    /// <summary>Refusals of one kind (purpose, gate, reason) are logged once a minute with the count held back; each is still recorded in full.</summary>
    private readonly LogRateLimiter _logLimiter = logLimiter ?? new LogRateLimiter(wallClock.Provider, TimeSpan.FromMinutes(1));

    private static readonly TimeSpan IdleBeat = TimeSpan.FromSeconds(1);

    /// <summary>How long a risk flatten waits for the acknowledgements of the cancels of its instrument's working orders (wall clock) before it gives up this attempt.</summary>
    private static readonly TimeSpan FlattenCancelAckTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A cancel already sent is not sent again for this long (wall clock) while the order awaits its acknowledgement; after it, once more (a cancel lost in flight).</summary>
    private static readonly TimeSpan CancelResendAfter = TimeSpan.FromSeconds(30);
    private readonly BrokerMessageBudget? _budget = gateway.MessageLimit is { } limit ? new BrokerMessageBudget(limit.PerSecond, limit.ReservedForRisk, wallClock.Provider) : null;
    private readonly Dictionary<string, Quote> _quotes = new(StringComparer.Ordinal);
    private readonly IdGenerator _killSwitchIds = ids.ForSource("K");
    private readonly IdGenerator _escalationIds = ids.ForSource("E");
    private readonly ExitEscalationPolicy _escalation = new(executionOptions.Value.ExitEscalation);

    // Exits and flattens on their way through the escalation (few at a time), and, per id a source sent, the market order that
    // carries its exit on after the limit was cancelled (a later cancel of that id reaches the replacement).
    private readonly List<OrderState> _escalating = [];
    private readonly Dictionary<ClientOrderId, OrderState> _replacements = [];
    private readonly IdGenerator _restartIds = ids.ForSource("R");

    /// <summary>Cancels of entries asked for (halts, kill levels) while the broker's book was not yet reconciled: done once it is.</summary>
    private readonly List<(string DecisionId, string Reason)> _deferredEntryCancels = [];
    private bool _bookReconciledSeen;

    /// <summary>Taken-over positions are checked for their protection until none is left unprotected (or the attempts run out).</summary>
    private bool _restartProtectionPending;
    private DateTimeOffset _restartProtectionNextTry;
    private readonly Dictionary<string, int> _restartFlattenAttempts = new(StringComparer.Ordinal);

    /// <summary>Symbols of the positions and orders taken over from earlier runs (restored, resumed).</summary>
    private readonly HashSet<string> _takenOver = new(StringComparer.Ordinal);
    private static readonly TimeSpan RestartProtectionRetry = TimeSpan.FromSeconds(2);
    private const int RestartFlattenMaxAttempts = 5;
    private const string RestartSource = "restart";
    private ImmutableList<decimal> _closedTradePnls = [];
    private KillLevel _enforcedLevel;
    private ExecutionCommand? _deferred;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, decimal> _publicMarks = new(StringComparer.Ordinal);
    private long _lastRiskDequeue;
    private readonly PositionBook _book = new(valuation.Instruments, valuation.Account.Base);
    private readonly Dictionary<ClientOrderId, OrderState> _orders = [];

    // The orders not yet terminal, in the order they were placed (an OrderedDictionary keeps that order across removals):
    // every "working orders" question (entries to cancel, protective stops, working flattens) walks these few, not every
    // order of the run.
    private readonly OrderedDictionary<ClientOrderId, OrderState> _live = [];
    private readonly Dictionary<string, decimal> _marks = new(StringComparer.Ordinal);
    private DateTimeOffset _eventTime;
    private long _bookVersion;
    private long _heartbeat;

    /// <summary>Stopwatch timestamp at which the last priority-lane command was taken up (diagnostics: <c>bench --sentinel</c>).</summary>
    public long LastRiskCommandTakenUp => Interlocked.Read(ref _lastRiskDequeue);

    /// <summary>Latest price per symbol (major units), for readers outside the execution thread (the operator window).</summary>
    public IReadOnlyDictionary<string, decimal> Marks => _publicMarks;

    /// <summary>Commands processed (a heartbeat of the hands).</summary>
    public long Heartbeat => Interlocked.Read(ref _heartbeat);

    /// <inheritdoc />
    protected override string ServiceName => "execution";

    /// <inheritdoc />
    /// <remarks>The loop runs on a dedicated thread (<see cref="DedicatedThread"/>); its awaits keep to that thread.</remarks>
    protected override Task RunAsync(CancellationToken stoppingToken) =>
        DedicatedThread.RunAsync("execution", () => RunOnThreadAsync(stoppingToken), problem =>
        {
            if (problem is not null)
            {
                recorders.Alerts.Fallback("execution thread", "priority not fully applied: " + problem);
            }
        });

    private async Task RunOnThreadAsync(CancellationToken stoppingToken)
    {
        var risk = channels.RiskCommands.Reader;
        var normal = channels.Commands.Reader;
        var drainedSignalled = false;
        Task<bool>? riskWait = null, gatewayWait = null, normalWait = null;
        Task? beatWait = null, paceWait = null;
        logger.LogInformation("Execution running against gateway {Gateway}", gateway.Name);
        try
        {
            while (true)
            {
                Interlocked.Increment(ref _heartbeat);
                await EnforceKillLevelAsync(stoppingToken);
                await EscalateExitsAsync(stoppingToken);
                await OnBookReconciledAsync(stoppingToken);
                await ProtectTakenOverPositionsAsync(stoppingToken);
                if (risk.TryRead(out var riskCommand))
                {
                    Interlocked.Exchange(ref _lastRiskDequeue, System.Diagnostics.Stopwatch.GetTimestamp());
                    if (OpensRisk(riskCommand))
                    {
                        await PaceAsync(risk: false, stoppingToken);
                    }

                    await HandleAsync(riskCommand, stoppingToken);
                    continue;
                }

                // An entry or add that finds the general share of the broker budget spent waits here, in order,
                // while the loop keeps serving the priority lane: entries can never hold up a risk message.
                if (_deferred is null && normal.TryRead(out var next))
                {
                    _deferred = next;
                }

                if (_deferred is { } command)
                {
                    if (_budget is not null && OpensRisk(command) && !_budget.TryAcquire(risk: false, out var retryAfter))
                    {
                        paceWait ??= Task.Delay(retryAfter, wallClock.Provider, stoppingToken);
                    }
                    else
                    {
                        _deferred = null;
                        await HandleAsync(command, stoppingToken);
                        continue;
                    }
                }

                if (DrainGateway())
                {
                    continue;
                }

                if (_deferred is null && normal.Completion.IsCompleted && !drainedSignalled)
                {
                    drainedSignalled = true;
                    channels.Reports.Writer.TryComplete();
                    await recorders.Writer.FlushAsync(stoppingToken);
                    logger.LogInformation("Execution drained: the brain's lane is closed and every command was processed");
                    Run.PipelineDrained.TrySetResult();
                }

                stoppingToken.ThrowIfCancellationRequested();
                // At most one outstanding wait per channel: single-reader channels keep a single waiter,
                // and a second WaitToReadAsync while one is pending can lose a wake-up.
                riskWait ??= risk.WaitToReadAsync(stoppingToken).AsTask();
                gatewayWait ??= gateway.Events.WaitToReadAsync(stoppingToken).AsTask();
                if (normalWait is null && !drainedSignalled && _deferred is null)
                {
                    // Until the drain is signalled, always wait on the brain's lane too: on a closed lane the wait
                    // completes at once (false) and the loop signals the drain. Deciding from a second look at
                    // Completion could miss a close that lands between the two looks and wait forever.
                    normalWait = normal.WaitToReadAsync(stoppingToken).AsTask();
                }

                // The idle beat keeps the heartbeat moving and re-checks the kill switch when nothing arrives
                // (one timer at a time, reused until it fires).
                beatWait ??= Task.Delay(IdleBeat, wallClock.Provider, stoppingToken);
                await Task.WhenAny(new[] { riskWait, gatewayWait, normalWait, beatWait, paceWait }.OfType<Task>());
                if (paceWait is { IsCompleted: true })
                {
                    stoppingToken.ThrowIfCancellationRequested();
                    paceWait = null;
                }

                if (beatWait.IsCompleted)
                {
                    stoppingToken.ThrowIfCancellationRequested();
                    beatWait = null;
                }

                riskWait = Completed(riskWait);
                gatewayWait = Completed(gatewayWait);
                normalWait = Completed(normalWait);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Graceful drain: finish every queued command (risk lane first, then a deferred entry) without the stopping token.
            var drained = 0;
            if (_deferred is { } deferred)
            {
                _deferred = null;
                while (risk.TryRead(out var r))
                {
                    await HandleAsync(r, CancellationToken.None);
                    drained++;
                }

                await PaceAsync(risk: false, CancellationToken.None);
                await HandleAsync(deferred, CancellationToken.None);
                drained++;
            }

            while (risk.TryRead(out var c) || normal.TryRead(out c))
            {
                await HandleAsync(c, CancellationToken.None);
                drained++;
            }

            // In-flight orders get a bounded wait for their acknowledgement.
            var deadline = wallClock.Provider.GetTimestamp();
            while (DrainGateway() || (_orders.Values.Any(o => o.Status == OrderStatus.PendingSubmit) && wallClock.Provider.GetElapsedTime(deadline) < TimeSpan.FromSeconds(5)))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), wallClock.Provider, CancellationToken.None);
            }

            channels.Reports.Writer.TryComplete();
            var inFlight = _orders.Values.Count(o => o.Status == OrderStatus.PendingSubmit);
            var working = _orders.Values.Count(o => o.Status is OrderStatus.Working or OrderStatus.PartiallyFilled);
            logger.Log(inFlight == 0 ? LogLevel.Information : LogLevel.Error,
                "Execution stopped: drained {Count} queued command(s); {InFlight} order(s) unacknowledged; {Working} working", drained, inFlight, working);
            throw;
        }
    }

    /// <summary>
    /// The causal replay scheduler's turn of the hands: processes every queued command on the caller's thread, the priority
    /// lane first, enforcing the kill level before each one, exactly as <see cref="RunAsync"/>'s loop takes them, and returns
    /// when both lanes are empty. The scheduler calls it whenever the brain waits for the broker's view of a bar.
    /// </summary>
    /// <exception cref="InvalidOperationException">The service's own loop is running (replay only).</exception>
    public async ValueTask PumpAsync(CancellationToken ct)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("the execution service runs its own loop; the replay scheduler must not pump it");
        }

        var risk = channels.RiskCommands.Reader;
        var normal = channels.Commands.Reader;
        while (true)
        {
            Interlocked.Increment(ref _heartbeat);
            await EnforceKillLevelAsync(ct).ConfigureAwait(false);
            await EscalateExitsAsync(ct).ConfigureAwait(false);
            await OnBookReconciledAsync(ct).ConfigureAwait(false);
            await ProtectTakenOverPositionsAsync(ct).ConfigureAwait(false);
            if (risk.TryRead(out var command) || normal.TryRead(out command))
            {
                if (OpensRisk(command))
                {
                    // Entries and adds take their message from the general share first, as in the service's loop.
                    await PaceAsync(risk: false, ct).ConfigureAwait(false);
                }

                await HandleAsync(command, ct).ConfigureAwait(false);

                continue;
            }

            if (!DrainGateway())
            {
                return;
            }
        }
    }

    /// <summary>
    /// The end of a replay on the causal scheduler, after the brain closed its lane: processes what is left, closes the
    /// report lane, commits everything persisted and signals <see cref="RunContext.PipelineDrained"/>.
    /// </summary>
    public async ValueTask CompleteReplayAsync(CancellationToken ct)
    {
        await PumpAsync(ct).ConfigureAwait(false);
        channels.Reports.Writer.TryComplete();
        // Every record of the run is committed before the replay counts as drained (its wall time includes them): the
        // database, the journal (its hash chain included) and the simulated broker's own store.
        var database = recorders.Writer.FlushAsync(ct);
        var journal = recorders.Journal.FlushAsync().WaitAsync(ct);
        (gateway as IBarMatchingGateway)?.FlushRecords();
        await Task.WhenAll(database, journal).ConfigureAwait(false);
        logger.LogInformation("Execution drained: the brain's lane is closed and every command was processed");
        Run.PipelineDrained.TrySetResult();
    }

    /// <summary>Null when the wait has completed (observing a cancellation or fault rethrows it).</summary>
    private static Task<bool>? Completed(Task<bool>? wait)
    {
        if (wait is not { IsCompleted: true })
        {
            return wait;
        }

        wait.GetAwaiter().GetResult();
        return null;
    }

    private async ValueTask HandleAsync(ExecutionCommand command, CancellationToken ct)
    {
        Interlocked.Increment(ref _heartbeat);
        switch (command)
        {
            case ApplyBar { Bar: var bar }:
                try
                {
                    if (carry is not null)
                    {
                        // Before the bar: the cuts it passes are charged on the book and the marks as they stood at them.
                        AccrueCarry(carry, bar.CloseTimeUtc);
                    }

                    _marks[bar.Symbol] = bar.Close;
                    _publicMarks[bar.Symbol] = bar.Close;
                    var halfSpread = (bar.Spread ?? 0m) / 2m;
                    _quotes[bar.Symbol] = new Quote(bar.Symbol, bar.Close - halfSpread, bar.Close + halfSpread, bar.CloseTimeUtc, clock.GetUtcNow());
                    _eventTime = bar.CloseTimeUtc;
                    var replay = Run.Causal;
                    if (replay)
                    {
                        // In a fast replay the broker side defines "now" and what has happened: the bar is complete
                        // at its close, and its price reaches the sentinel from here (ingest reads ahead).
                        (clock as ReplayTimeProvider)?.AdvanceTo(bar.CloseTimeUtc);
                        sentinel.OnPrice(bar.Symbol, bar.Close, bar.CloseTimeUtc, bar.Interval);
                    }

                    var versionBefore = _bookVersion;
                    if (gateway is IBarMatchingGateway matching)
                    {
                        matching.OnBar(bar);
                    }

                    DrainGateway();
                    if (replay || _book.Snapshot().All(p => p.Quantity == 0m || _marks.ContainsKey(p.Symbol)))
                    {
                        MarkEquity();
                    }
                    else
                    {
                        // A live feed after a restart: a bar of one instrument (IB's history of the bars formed while the process was down
                        // comes symbol by symbol) while a taken-over position in another has no bar yet. The equity curve waits for its
                        // mark; the sentinel's P&L-unknown pause guards the book meanwhile. (A replay always has every mark.)
                        logger.LogDebug("Equity not marked at the bar of {Symbol}: a held position has no mark yet", bar.Symbol);
                    }

                    if (replay && (_bookVersion != versionBefore || _book.HasOpenPositions))
                    {
                        // Replay must not outrun the sentinel while risk is on: the causal scheduler sweeps this bar here, on its
                        // own thread, before the next one (its orders are then first on the priority lane).
                        sentinel.SweepInline();
                    }
                }
                catch (Exception) when (!Run.Causal)
                {
                    // The brain waits for this bar's BarApplied before it decides on the next one: a fault here (the supervisor
                    // restarts the hands) must not leave it waiting forever. The bar is as applied as it will be; the fault goes on.
                    channels.Reports.Writer.TryWrite(new BarApplied(bar.Symbol, bar.CloseTimeUtc));
                    throw;
                }

                channels.Reports.Writer.TryWrite(new BarApplied(bar.Symbol, bar.CloseTimeUtc));
                break;
            case SubmitCommand place:
                await PlaceAsync(place, ct);
                break;
            case HaltEntries halt:
                recorders.Journal.Append(JournalEntryKind.Decision, halt.Decision.DecisionId, halt.Decision.Source, halt.Decision);
                await recorders.Writer.EnqueueAsync(new PersistDecision(Run.RunId, halt.Decision), ct);
                Run.CountDecision(halt.Decision);
                // Entries and adds come off the market; an order that reduces the current position (a hedge leg's
                // stop that now protects the survivor) stays: halting entries must not unprotect a position.
                await CancelEntriesAsync(halt.Decision.DecisionId, "entries halted: " + halt.Decision.KindLabel, ct);
                break;
            case CancelCommand { Cancel: var cancel }:
                if (Current(cancel.ClientOrderId) is { } toCancel && !toCancel.Status.IsTerminal())
                {
                    // The source's cancel wins over an escalation's: the order is not replaced once its cancel is confirmed.
                    toCancel.ReplaceWhenCancelled = false;
                    if (await SendCancelAsync(toCancel, cancel with { ClientOrderId = toCancel.Order.ClientOrderId }, ct))
                    {
                        DrainGateway();
                    }
                }

                break;
            case ModifyCommand { Modify: var modify }:
                if (_orders.TryGetValue(modify.ClientOrderId, out var toModify) && !toModify.Status.IsTerminal())
                {
                    recorders.Journal.Append(JournalEntryKind.ModifyRequested, toModify.Order.DecisionId, modify.ClientOrderId.Value, modify);
                    await PaceAsync(risk: !OpensRisk(toModify.Order) || Reduces(toModify.Order), ct);
                    await gateway.ModifyAsync(modify, ct);
                    DrainGateway();
                }

                break;
            default:
                throw new InvalidOperationException($"unknown execution command {command.GetType().Name}");
        }
    }

    private async ValueTask PlaceAsync(SubmitCommand place, CancellationToken ct)
    {
        var order = place.Order;
        var position = _book.Get(order.Symbol);
        var now = clock.GetUtcNow();
        if (_orders.ContainsKey(order.ClientOrderId))
        {
            // Idempotency: a client order id is sent once. The first order is untouched.
            logger.LogError("Order {ClientOrderId} was submitted twice; the repeat is refused and the first order is unchanged", order.ClientOrderId);
            channels.Reports.Writer.TryWrite(new OrderEventReported(new OrderRequestRejected(order.ClientOrderId, "submit", "duplicate client order id", _eventTime, now), order.Source));
            return;
        }

        if (place.Decision is { } decision)
        {
            recorders.Journal.Append(JournalEntryKind.Decision, decision.DecisionId, decision.Source, decision);
            await recorders.Writer.EnqueueAsync(new PersistDecision(Run.RunId, decision), ct);
            Run.CountDecision(decision);
        }

        if (order.Purpose == OrderPurpose.RiskFlatten)
        {
            var flatten = await PrepareFlattenAsync(order, ct);
            if (flatten is null)
            {
                return;
            }

            (order, position) = flatten.Value;
        }

        var escalating = false;
        if (_escalation.Applies(order, gateway is IBarMatchingGateway)
            && ExitEscalationPolicy.LimitPrice(ExitEscalationStep.Mid, order.Side, QuoteOf(order.Symbol), valuation.Instruments.Get(order.Symbol).TickSize) is { } mid)
        {
            // The first step: the exit rests at the mid (the gates judge the order that leaves).
            order = order with { Type = OrderType.Limit, LimitPrice = mid };
            escalating = true;
        }

        var denial = gates.Evaluate(GateContext(order, position, now, WorkingReduceQuantity(order.Symbol, position)));
        if (denial is not null)
        {
            await RecordDenialAsync(order, denial, now, ct);
            return;
        }

        await SendAsync(order, now, ct, escalating ? ExitEscalationStep.Mid : null);
        if (escalating)
        {
            logger.LogInformation("Exit {ClientOrderId} ({Purpose} {Side} {Quantity} {Symbol}) escalates: a limit at the mid {Limit} first, the touch after {MidWait}, the market after {TouchWait} more",
                order.ClientOrderId, order.Purpose, order.Side, order.Quantity, order.Symbol, order.LimitPrice, _escalation.Options.MidWait, _escalation.Options.TouchWait);
        }

        DrainGateway();
    }

    /// <summary>
    /// Write-ahead and send: the order is journaled, queued for persistence, tracked, paced and sent. <paramref name="step"/>
    /// puts it on the escalation (its clock starts now); <paramref name="reportAs"/> is the id its source knows (a
    /// replacement's).
    /// </summary>
    private async ValueTask<OrderState> SendAsync(SubmitOrder order, DateTimeOffset now, CancellationToken ct, ExitEscalationStep? step, ClientOrderId? reportAs = null)
    {
        // Write-ahead: the order is journaled, then queued for persistence, then sent. The service waits until the
        // journal entry is durable; a risk flatten does not wait for a disk (its entry is already first in the
        // chain and commits with the next group); a replay keeps the order without the fsync.
        var submitted = recorders.Journal.Append(JournalEntryKind.OrderSubmitted, order.DecisionId, order.ClientOrderId.Value, order);
        if (Run.Mode == RunMode.Service && order.Purpose != OrderPurpose.RiskFlatten)
        {
            await submitted.Durable;
        }

        await recorders.Writer.EnqueueAsync(new PersistOrder(Run.RunId, order, OrderStatus.PendingSubmit, null, now) { JournalSequence = submitted.Sequence }, ct);
        var placed = new OrderState(order) { Step = step, StepSinceUtc = now, ReportAs = reportAs };
        _orders[order.ClientOrderId] = placed;
        _live.Add(order.ClientOrderId, placed);
        if (step is not null)
        {
            _escalating.Add(placed);
        }

        if (reportAs is { } origin)
        {
            _replacements[origin] = placed;
        }

        Run.CountOrderSent();
        if (!OpensRisk(order))
        {
            // Entries and adds took their message from the general share before they were handled.
            await PaceAsync(risk: true, ct);
        }

        await gateway.SubmitAsync(order, ct);
        return placed;
    }

    /// <summary>The order that carries <paramref name="id"/> on now: its escalation's market replacement once there is one, else the order itself.</summary>
    private OrderState? Current(ClientOrderId id)
    {
        if (_replacements.TryGetValue(id, out var replacement))
        {
            return replacement;
        }

        return _orders.GetValueOrDefault(id);
    }

    /// <summary>The quote the escalation prices from: live, the broker's top of book; on recorded data, the one the last bar implies.</summary>
    private Quote? QuoteOf(string symbol) =>
        quoteFeed is not null ? (quoteFeed.TryGetTopOfBook(symbol, out var live) ? live : null) : _quotes.GetValueOrDefault(symbol);

    /// <summary>
    /// Moves every escalating exit whose wait is over one step on: the limit at the mid to the touch (a modify of the same
    /// order), the touch to the market (a cancel; the market order for what is left leaves only once the cancel is confirmed,
    /// so a fill of the limit meanwhile is never sold twice). Runs before every command the hands take up and on their idle
    /// beat; with nothing escalating it costs a list count.
    /// </summary>
    private async ValueTask EscalateExitsAsync(CancellationToken ct)
    {
        if (_escalating.Count == 0)
        {
            return;
        }

        var now = clock.GetUtcNow();
        foreach (var state in _escalating.ToList())
        {
            if (!state.ReplaceWhenCancelled && (state.Status.IsTerminal() || state.Step is null))
            {
                _escalating.Remove(state); // filled, cancelled or refused: nothing left to escalate
                continue;
            }

            if (!state.ReplaceWhenCancelled && state.Status is OrderStatus.Working or OrderStatus.PartiallyFilled
                && _escalation.Due(state.Step!.Value, state.StepSinceUtc, now) is { } next)
            {
                await StepAsync(state, next, now, ct);
            }

            if (state.ReplaceWhenCancelled)
            {
                if (state.Status == OrderStatus.Cancelled)
                {
                    _escalating.Remove(state);
                    state.ReplaceWhenCancelled = false;
                    await ReplaceAtMarketAsync(state, ct);
                }
                else if (state.Status.IsTerminal())
                {
                    _escalating.Remove(state); // filled (or refused) before the cancel: nothing to replace
                    state.ReplaceWhenCancelled = false;
                }
                else if (state.CancelSentUtc is null)
                {
                    // The broker refused the cancel (or it could not be sent): ask again.
                    await SendCancelAsync(state, new CancelOrder(state.Order.ClientOrderId, state.EscalationDecisionId ?? state.Order.DecisionId, "exit escalation: to the market"), ct);
                    DrainGateway();
                }
            }
        }
    }

    /// <summary>Takes one escalation step of a working exit: a decision row, then the modify (to the touch) or the cancel (to the market).</summary>
    private async ValueTask StepAsync(OrderState state, ExitEscalationStep next, DateTimeOffset now, CancellationToken ct)
    {
        var order = state.Order;
        var quote = QuoteOf(order.Symbol);
        var touch = next == ExitEscalationStep.Touch ? ExitEscalationPolicy.LimitPrice(next, order.Side, quote, valuation.Instruments.Get(order.Symbol).TickSize) : null;
        if (next == ExitEscalationStep.Touch && touch is null)
        {
            next = ExitEscalationStep.Market; // no quote to price the touch: straight on to the market
        }

        var remaining = order.Quantity - state.Filled;
        var waited = next == ExitEscalationStep.Touch ? _escalation.Options.MidWait : _escalation.Options.TouchWait;
        var reason = next == ExitEscalationStep.Touch
            ? string.Create(CultureInfo.InvariantCulture, $"{order.ClientOrderId} {order.Side} {remaining} of {order.Quantity} {order.Symbol} unfilled at the mid {order.LimitPrice} after {waited}: limit to the touch {touch}")
            : string.Create(CultureInfo.InvariantCulture, $"{order.ClientOrderId} {order.Side} {remaining} of {order.Quantity} {order.Symbol} unfilled at {order.LimitPrice} after {waited}: cancelled, the rest at the market once the cancel is confirmed");
        var decision = new DecisionRecord(_escalationIds.NextDecisionId(), "execution", order.Symbol, DecisionKind.ExitEscalation, DecisionOutcome.Taken, reason,
            new Dictionary<string, string>
            {
                ["order"] = order.ClientOrderId.Value,
                ["step"] = next.ToString(),
                ["from"] = state.Step.ToString()!,
                ["limit"] = (order.LimitPrice ?? 0m).ToString(CultureInfo.InvariantCulture),
                ["newLimit"] = touch?.ToString(CultureInfo.InvariantCulture) ?? "",
                ["quantity"] = order.Quantity.ToString(CultureInfo.InvariantCulture),
                ["filled"] = state.Filled.ToString(CultureInfo.InvariantCulture),
                ["bid"] = quote?.Bid.ToString(CultureInfo.InvariantCulture) ?? "",
                ["ask"] = quote?.Ask.ToString(CultureInfo.InvariantCulture) ?? "",
                ["purpose"] = order.Purpose.ToString(),
            }, _eventTime, now);
        recorders.Journal.Append(JournalEntryKind.Decision, decision.DecisionId, decision.Source, decision);
        await recorders.Writer.EnqueueAsync(new PersistDecision(Run.RunId, decision), ct);
        Run.CountDecision(decision);
        logger.LogInformation("Exit escalation {Step}: {Reason}", next, reason);
        state.Step = next;
        state.StepSinceUtc = now;
        state.EscalationDecisionId = decision.DecisionId;
        if (next == ExitEscalationStep.Touch)
        {
            var modify = new ModifyOrder(order.ClientOrderId, decision.DecisionId, null, touch, null);
            recorders.Journal.Append(JournalEntryKind.ModifyRequested, order.DecisionId, order.ClientOrderId.Value, modify);
            await PaceAsync(risk: true, ct);
            await gateway.ModifyAsync(modify, ct);
            DrainGateway();
            return;
        }

        state.ReplaceWhenCancelled = true;
        await SendCancelAsync(state, new CancelOrder(order.ClientOrderId, decision.DecisionId, "exit escalation: to the market"), ct);
        DrainGateway();
    }

    /// <summary>
    /// The last step, after the limit's cancel was confirmed: a market order for what is left to close — the limit's unfilled
    /// rest, and never more than the position held now less the other exits and flattens working (a flatten: the position).
    /// Nothing left: the source is told its exit ended (cancelled) instead.
    /// </summary>
    private async ValueTask ReplaceAtMarketAsync(OrderState cancelled, CancellationToken ct)
    {
        var order = cancelled.Order;
        var now = clock.GetUtcNow();
        var position = _book.Get(order.Symbol);
        var reducingSide = position.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy;
        var room = position.IsFlat || order.Side != reducingSide ? 0m : Math.Abs(position.Quantity) - WorkingReduceQuantity(order.Symbol, position);
        var quantity = order.Purpose == OrderPurpose.RiskFlatten ? room : Math.Min(order.Quantity - cancelled.Filled, room);
        var reportAs = cancelled.ReportAs ?? order.ClientOrderId;
        if (quantity <= 0m)
        {
            var why = string.Create(CultureInfo.InvariantCulture, $"exit escalation: nothing left to send at the market (position {position.Quantity}, {cancelled.Filled} of {order.Quantity} filled)");
            logger.LogInformation("Exit {ClientOrderId} of {Symbol} ends without a market order: {Reason}", order.ClientOrderId, order.Symbol, why);
            channels.Reports.Writer.TryWrite(new OrderEventReported(new OrderCancelled(reportAs, why, _eventTime, now), order.Source, cancelled.Resumed));

            if (order.Purpose == OrderPurpose.RiskFlatten)
            {
                PublishBook();
            }

            return;
        }

        var replacement = order with
        {
            ClientOrderId = _escalationIds.NextClientOrderId(),
            DecisionId = cancelled.EscalationDecisionId ?? order.DecisionId,
            Type = OrderType.Market,
            LimitPrice = null,
            Quantity = quantity,
            DecisionTimeUtc = _eventTime > order.DecisionTimeUtc ? _eventTime : order.DecisionTimeUtc,
        };
        var denial = gates.Evaluate(GateContext(replacement, position, now, WorkingReduceQuantity(order.Symbol, position)));
        if (denial is not null)
        {
            await RecordDenialAsync(replacement, denial, now, ct, reportAs);
            return;
        }

        logger.LogInformation("Exit {ClientOrderId} escalated to the market: {Replacement} {Side} {Quantity} {Symbol}", reportAs, replacement.ClientOrderId, replacement.Side, quantity, replacement.Symbol);
        await SendAsync(replacement, now, ct, step: null, reportAs);
        DrainGateway();
    }

    /// <summary>
    /// A risk flatten decides first, then acts (issue 18 item 3): the flatten, sized to the position held now, must pass the
    /// gates (the broker link among them) as it would once the instrument's working orders are gone — if it cannot leave,
    /// it is refused and the protective stops stay (the sentinel retries with its back-off). Only then are the working
    /// orders cancelled; a gateway that acknowledges cancels asynchronously (IB) is waited for, up to
    /// <see cref="FlattenCancelAckTimeout"/>, so that a stop filling meanwhile cannot make the flatten reverse the position:
    /// the quantity is re-read from the book after the acknowledgements. Returns null when nothing is to be sent.
    /// </summary>
    private async ValueTask<(SubmitOrder Order, PositionSnapshot Position)?> PrepareFlattenAsync(SubmitOrder order, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var position = _book.Get(order.Symbol);
        if (!position.IsFlat)
        {
            var sized = Resized(order, position);
            var denial = gates.Check(GateContext(sized, position, now, workingReduceQuantity: 0m));
            if (denial is not null)
            {
                await RecordDenialAsync(sized, denial, now, ct);
                return null;
            }
        }

        // A flatten first takes every working order of the instrument off the market, so no stop re-opens it.
        var cancelling = _live.Values.Where(o => o.Order.Symbol == order.Symbol && !o.Status.IsTerminal()).ToList();
        foreach (var w in cancelling)
        {
            // An exit escalating to the market is not replaced: this flatten closes the position.
            w.ReplaceWhenCancelled = false;
            await SendCancelAsync(w, new CancelOrder(w.Order.ClientOrderId, order.DecisionId, "risk flatten"), ct);
        }

        DrainGateway();
        var deadline = wallClock.Provider.GetUtcNow() + FlattenCancelAckTimeout;
        while (cancelling.Any(o => !o.Status.IsTerminal()))
        {
            // A cancel the gateway refused to send will not be acknowledged: no use waiting for it.
            var refused = cancelling.Any(o => !o.Status.IsTerminal() && o.CancelSentUtc is null);
            if (refused || wallClock.Provider.GetUtcNow() >= deadline)
            {
                var open = string.Join(", ", cancelling.Where(o => !o.Status.IsTerminal()).Select(o => $"{o.Order.ClientOrderId} ({o.Order.Purpose} {o.Order.Type} {o.Status})"));
                var reason = refused
                    ? $"not sent: the cancels of {open} could not be sent or were not all acknowledged (a stop still working could fill too and reverse the position)"
                    : $"not sent: the cancels of {open} were not acknowledged within {FlattenCancelAckTimeout.TotalSeconds:0.#} s (a stop still working could fill too and reverse the position)";
                await recorders.Writer.EnqueueAsync(new PersistOrder(Run.RunId, order, OrderStatus.Cancelled, reason, clock.GetUtcNow()), ct);
                logger.LogError("Risk flatten {ClientOrderId} for {Symbol} {Reason}; the sentinel tries again", order.ClientOrderId, order.Symbol, reason);
                recorders.Alerts.Raise(AlertLevel.Red, "RiskFlatten", $"flatten of {order.Symbol} {reason}");
                PublishBook();
                return null;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), wallClock.Provider, ct);
            DrainGateway();
        }

        // A flatten closes the position that exists now (after the cancels, and any fill that came before them), whatever
        // the sender saw when it decided.
        position = _book.Get(order.Symbol);
        if (position.IsFlat)
        {
            await recorders.Writer.EnqueueAsync(new PersistOrder(Run.RunId, order, OrderStatus.Cancelled, "not sent: the position was already flat when the flatten reached the gateway", now), ct);
            logger.LogInformation("Flatten {ClientOrderId} for {Symbol} not sent: already flat", order.ClientOrderId, order.Symbol);
            PublishBook();
            return null;
        }

        return (Resized(order, position), position);
    }

    /// <summary>The flatten sized and sided to close <paramref name="position"/>.</summary>
    private SubmitOrder Resized(SubmitOrder order, PositionSnapshot position)
    {
        var side = position.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy;
        if (side == order.Side && Math.Abs(position.Quantity) == order.Quantity)
        {
            return order;
        }

        logger.LogWarning("Flatten {ClientOrderId} for {Symbol} resized from {Side} {Quantity} to {NewSide} {NewQuantity}: the position changed after the decision",
            order.ClientOrderId, order.Symbol, order.Side, order.Quantity, side, Math.Abs(position.Quantity));
        return order with { Side = side, Quantity = Math.Abs(position.Quantity) };
    }

    /// <summary>
    /// What the gates judge. Gates judge at the clock's "now": in a replay the broker side's time, live (and in the paced
    /// service) the market's, so a quote the brain decided on while it lagged behind the feed reads as stale.
    /// </summary>
    private PreTradeContext GateContext(SubmitOrder order, PositionSnapshot position, DateTimeOffset now, decimal workingReduceQuantity)
    {
        var instrument = valuation.Instruments.Get(order.Symbol);
        var reference = _marks.TryGetValue(order.Symbol, out var m) ? m : order.StopPrice ?? order.LimitPrice ?? 0m;
        return new PreTradeContext(order, instrument, position, ProtectiveStops(order.Symbol, position), valuation.Costs.ExitCostPerUnit(order.Symbol, reference), now,
            workingReduceQuantity)
        {
            // Live, the broker's top of book (a wide spread or a zero bid must trip the quote gate); none yet is no quote.
            // Recorded data, and an opening-auction order (sent only while its venue is closed, where the broker's book is
            // empty or one-sided and the auction, not the touch, sets the price): the quote the last bar implies.
            Quote = quoteFeed is null || order.TimeInForce == TimeInForce.AtTheOpen ? _quotes.GetValueOrDefault(order.Symbol)
                : quoteFeed.TryGetTopOfBook(order.Symbol, out var live) ? live : null,
            Book = _book.Snapshot(),
            Marks = _marks,
            WorkingEntryQuantity = WorkingEntries(),
        };
    }

    /// <summary>Records a refused order: journal, orders and gate_denials rows, the count, a log line and the report to its source.</summary>
    private async ValueTask RecordDenialAsync(SubmitOrder order, GateDenial denial, DateTimeOffset now, CancellationToken ct, ClientOrderId? reportAs = null)
    {
        var deniedEvent = new OrderDenied(order.ClientOrderId, denial, _eventTime, now);
        var reason = deniedEvent.Reason;
        var denied = recorders.Journal.Append(JournalEntryKind.GateDenial, order.DecisionId, order.ClientOrderId.Value, new { Order = order, Denial = denial, denial.Values });
        await recorders.Writer.EnqueueAsync(new PersistOrder(Run.RunId, order, OrderStatus.Denied, reason, now) { JournalSequence = denied.Sequence }, ct);
        await recorders.Writer.EnqueueAsync(new PersistGateDenial(Run.RunId, order, denial, now), ct);
        Run.CountOrderDenied();
        if (_logLimiter.ShouldWrite($"refused {order.Purpose} ({denial.Gate}: {denial.Reason})", out var heldBack))
        {
            HotLog.OrderDenied(logger, order.ClientOrderId, order.Purpose, order.Side, order.Quantity, order.Symbol,
                heldBack == 0 ? reason : string.Create(CultureInfo.InvariantCulture, $"{reason} (+{heldBack} like it held back since the last line)"));
        }

        channels.Reports.Writer.TryWrite(new OrderEventReported(reportAs is { } origin ? deniedEvent with { ClientOrderId = origin } : deniedEvent, order.Source));
        if (order.Purpose == OrderPurpose.RiskFlatten)
        {
            // The sentinel sends one flatten per book version (and backs off while they are refused): a refused one must let it try again.
            logger.LogError("Risk flatten {ClientOrderId} for {Symbol} was refused, its instrument's working orders kept: {Reason}", order.ClientOrderId, order.Symbol, reason);
            PublishBook();
        }
    }

    /// <summary>
    /// The kill switch where orders leave: when the level rises to L1 or above, every working entry and
    /// add that does not reduce the position is cancelled at once (a resting entry stop must not open a
    /// position while halted). The change is recorded as a decision first.
    /// </summary>
    private async ValueTask EnforceKillLevelAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var level = killSwitch.Level(now);
        if (level == _enforcedLevel)
        {
            return;
        }

        var previous = _enforcedLevel;
        _enforcedLevel = level;
        var why = killSwitch.State.Describe(now);
        // The kill switch's change is the event (its alert or the operator's command says it); the execution side only
        // enforces it, so its line is a detail below the default level. A lift is one short line of its own.
        if (level < previous)
        {
            logger.LogInformation("Kill level L{Previous} -> L{Level} at the execution side{Why}", (int)previous, (int)level, why.Length == 0 ? "" : ": " + why);
        }
        else
        {
            logger.LogDebug("Kill level L{Previous} -> L{Level} at the execution side: {Why}", (int)previous, (int)level, why);
        }

        if (level <= previous || level == KillLevel.Running)
        {
            return;
        }

        var decision = new DecisionRecord(_killSwitchIds.NextDecisionId(), "kill-switch", "*", DecisionKind.KillLevel, DecisionOutcome.Taken,
            $"L{(int)previous} -> L{(int)level}: {why}", new Dictionary<string, string> { ["level"] = $"L{(int)level}", ["previous"] = $"L{(int)previous}" }, _eventTime, now);
        recorders.Journal.Append(JournalEntryKind.Decision, decision.DecisionId, decision.Source, decision);
        await recorders.Writer.EnqueueAsync(new PersistDecision(Run.RunId, decision), ct);
        Run.CountDecision(decision);
        await CancelEntriesAsync(decision.DecisionId, $"kill switch L{(int)level}", ct);
    }

    /// <summary>
    /// Cancels every working entry and add that does not reduce the current position (a hedge leg's stop that now protects the
    /// survivor stays). Whether an order reduces the position is judged on the book as the broker holds it: while the gateway
    /// has not reconciled our book yet (after a start, fills made while we were away may still be unreported) the cancels wait
    /// for it (<see cref="OnBookReconciledAsync"/>); otherwise every event the gateway has reported is applied first (a
    /// bar-matching broker's events come with the bars: its order is left as it was).
    /// </summary>
    private async ValueTask CancelEntriesAsync(string decisionId, string reason, CancellationToken ct)
    {
        if (!gateway.BookReconciled)
        {
            logger.LogWarning("Entries to cancel ({Reason}) wait for {Gateway} to reconcile our book: which working order protects a position is judged on the book the broker holds",
                reason, gateway.Name);
            _deferredEntryCancels.Add((decisionId, reason));
            return;
        }

        if (gateway is not IBarMatchingGateway)
        {
            // A broker that reports on its own time (IB): judge on every event it has reported. A bar-matching broker reports
            // only when the hands hand it a bar, so its order of events stays what the replay has always been.
            DrainGateway();
        }

        foreach (var w in _live.Values.Where(o => o.Order.Purpose is OrderPurpose.Entry or OrderPurpose.Add && !o.Status.IsTerminal() && !Reduces(o.Order)).ToList())
        {
            await SendCancelAsync(w, new CancelOrder(w.Order.ClientOrderId, decisionId, reason), ct);
        }

        DrainGateway();
    }

    /// <summary>
    /// Once, when the gateway has reconciled our book for the first time: the cancels of entries that waited for it are made,
    /// and the earlier runs' working entries and adds that do not reduce the position are withdrawn (their strategy state is
    /// gone: this run's strategies start cold and are never told of those orders, so one filling later would open a position
    /// no strategy manages). An earlier run's order that now protects a position (a hedge leg's stop after the other leg
    /// filled while we were down) stays.
    /// </summary>
    private async ValueTask OnBookReconciledAsync(CancellationToken ct)
    {
        if (_bookReconciledSeen || !gateway.BookReconciled)
        {
            return;
        }

        _bookReconciledSeen = true;
        if (_deferredEntryCancels.Count == 0 && _takenOver.Count == 0)
        {
            return; // nothing waited for it and nothing was taken over (a first start, a replay)
        }

        DrainGateway();
        foreach (var (decisionId, reason) in _deferredEntryCancels)
        {
            await CancelEntriesAsync(decisionId, reason, ct);
        }

        _deferredEntryCancels.Clear();
        // Every position now is an earlier run's (this run's strategies start cold and have sent nothing they could hold yet).
        _restartProtectionPending = _takenOver.Count > 0;
        var stale = _live.Values.Where(o => o.Resumed && o.Order.Purpose is OrderPurpose.Entry or OrderPurpose.Add && !o.Status.IsTerminal() && !Reduces(o.Order)).ToList();
        if (stale.Count == 0)
        {
            return;
        }

        var now = clock.GetUtcNow();
        var ids = string.Join(", ", stale.Select(o => o.Order.ClientOrderId.Value));
        var decision = new DecisionRecord(_restartIds.NextDecisionId(), RestartSource, "*", DecisionKind.EarlierRunEntriesWithdrawn, DecisionOutcome.Taken,
            $"{stale.Count} working entry order(s) of earlier runs protect no position now that {gateway.Name} reconciled our book: cancelled ({ids})",
            new Dictionary<string, string> { ["orders"] = ids }, _eventTime, now);
        recorders.Journal.Append(JournalEntryKind.Decision, decision.DecisionId, decision.Source, decision);
        await recorders.Writer.EnqueueAsync(new PersistDecision(Run.RunId, decision), ct);
        Run.CountDecision(decision);
        logger.LogWarning("{Reason}", decision.Reason);
        foreach (var o in stale)
        {
            await SendCancelAsync(o, new CancelOrder(o.Order.ClientOrderId, decision.DecisionId, "an earlier run's entry, withdrawn after the restart"), ct);
        }

        DrainGateway();
    }

    /// <summary>
    /// After a restart, once the book is reconciled: a position taken over from the earlier runs (a symbol whose position was
    /// restored or whose order was resumed; a position adopted from IB on a first start is left to the sentinel) that our
    /// working stops do not cover in full (the process died between a hedge's two legs and the leg that reached IB filled
    /// while we were down; a stop cancelled in TWS meanwhile) is protected again: a protective stop for the uncovered quantity
    /// at the price of the earlier run's latest stop on that side. No strategy of this run knows the position, so nothing else
    /// would. With no such price, or one the market has already crossed (a long's stop at or above the bid), the position is
    /// closed rather than held unprotected, as a strategy closes a position whose stop is gone. The order waits while the
    /// gateway cannot take it (the link warming up) or there is no quote yet, and is retried a few times if refused; then RED.
    /// </summary>
    private async ValueTask ProtectTakenOverPositionsAsync(CancellationToken ct)
    {
        if (!_restartProtectionPending)
        {
            return;
        }

        var wall = wallClock.Provider.GetUtcNow();
        if (wall < _restartProtectionNextTry)
        {
            return;
        }

        _restartProtectionNextTry = wall + RestartProtectionRetry;
        DrainGateway();
        var unprotected = _book.Snapshot().Where(p => p.Quantity != 0m && _takenOver.Contains(p.Symbol) && Covered(p) < Math.Abs(p.Quantity)).ToList();
        if (unprotected.Count == 0)
        {
            _restartProtectionPending = false;
            return;
        }

        var now = clock.GetUtcNow();
        foreach (var p in unprotected)
        {
            if (_live.Values.Any(o => o.Order.Symbol == p.Symbol && o.Order.Purpose is OrderPurpose.RiskFlatten or OrderPurpose.ProtectiveStop && o.Order.Source == RestartSource
                && o.Status == OrderStatus.PendingSubmit))
            {
                continue; // one is on its way
            }

            var attempts = _restartFlattenAttempts.GetValueOrDefault(p.Symbol);
            if (attempts >= RestartFlattenMaxAttempts)
            {
                continue;
            }

            if (quoteFeed is null || !quoteFeed.TryGetTopOfBook(p.Symbol, out var quote))
            {
                logger.LogInformation("Unprotected {Quantity} {Symbol} taken over after the restart: its protection waits for a quote", p.Quantity, p.Symbol);
                continue;
            }

            var covered = Covered(p);
            var uncovered = Math.Abs(p.Quantity) - covered;
            var side = p.Quantity > 0m ? OrderSide.Sell : OrderSide.Buy;
            // The earlier run's latest stop on the reducing side (cancelled, refused or never sent): the protection it meant.
            var meant = _orders.Values.Where(o => o.Resumed && o.Order.Symbol == p.Symbol && o.Order.Type == OrderType.Stop && o.Order.Side == side && o.Order.StopPrice is not null)
                .Select(o => o.Order.StopPrice!.Value).LastOrDefault();
            var usable = meant > 0m && (p.Quantity > 0m ? meant < quote.Bid : meant > quote.Ask);
            var decisionId = _restartIds.NextDecisionId();
            var order = usable
                ? new SubmitOrder(_restartIds.NextClientOrderId(), decisionId, p.Symbol, side, uncovered, OrderType.Stop, null, meant, OrderPurpose.ProtectiveStop, now, TimeInForce.Gtc, RestartSource)
                : new SubmitOrder(_restartIds.NextClientOrderId(), decisionId, p.Symbol, side, Math.Abs(p.Quantity), OrderType.Market, null, null, OrderPurpose.RiskFlatten, now, TimeInForce.Gtc, RestartSource);
            if (gateway.SubmissionBlocked(order, wall) is { } blocked)
            {
                logger.LogInformation("Unprotected {Quantity} {Symbol} taken over after the restart: its protection waits ({Blocked})", p.Quantity, p.Symbol, blocked);
                continue;
            }

            _restartFlattenAttempts[p.Symbol] = ++attempts;
            var what = usable
                ? string.Create(CultureInfo.InvariantCulture, $"protected again by a {side} stop for {uncovered} at {meant}, the earlier run's stop")
                : meant > 0m
                    ? string.Create(CultureInfo.InvariantCulture, $"the earlier run's stop {meant} is already crossed (bid {quote.Bid}, ask {quote.Ask}): closed rather than held unprotected")
                    : "no earlier stop price is known: closed rather than held unprotected";
            var reason = string.Create(CultureInfo.InvariantCulture,
                $"after the restart {p.Quantity} {p.Symbol} (taken over from an earlier run) is covered by working stops for only {covered}: {what} (attempt {attempts} of {RestartFlattenMaxAttempts})");
            var decision = new DecisionRecord(decisionId, RestartSource, p.Symbol, usable ? DecisionKind.RestartProtection : DecisionKind.ExitUnprotected, DecisionOutcome.Taken, reason,
                new Dictionary<string, string>
                {
                    ["position"] = p.Quantity.ToString(CultureInfo.InvariantCulture),
                    ["covered"] = covered.ToString(CultureInfo.InvariantCulture),
                    ["earlierStop"] = meant.ToString(CultureInfo.InvariantCulture),
                    ["bid"] = quote.Bid.ToString(CultureInfo.InvariantCulture),
                    ["ask"] = quote.Ask.ToString(CultureInfo.InvariantCulture),
                }, now, now);
            logger.LogWarning("{Reason}", reason);
            recorders.Alerts.Raise(attempts < RestartFlattenMaxAttempts ? AlertLevel.Yellow : AlertLevel.Red, "UnprotectedAfterRestart", reason);
            await PlaceAsync(new SubmitCommand(order, decision), ct);
        }
    }

    /// <summary>How much of <paramref name="position"/> our working stops on the reducing side cover.</summary>
    private decimal Covered(PositionSnapshot position) =>
        _live.Values.Where(o => o.Order.Symbol == position.Symbol && o.Order.Type == OrderType.Stop && !o.Status.IsTerminal()
                && o.Order.Side.Sign() == -Math.Sign(position.Quantity))
            .Sum(o => o.Order.Quantity - o.Filled);

    /// <summary>
    /// Sends a cancel, journaled first; an order whose cancel is already on its way (sent less than
    /// <see cref="CancelResendAfter"/> ago and not refused) is not cancelled again: a repeated cancel only adds journal
    /// entries and broker messages. Returns whether it was sent.
    /// </summary>
    private async ValueTask<bool> SendCancelAsync(OrderState order, CancelOrder cancel, CancellationToken ct)
    {
        var now = wallClock.Provider.GetUtcNow();
        if (order.CancelSentUtc is { } sent && now - sent < CancelResendAfter)
        {
            order.CancelsSkipped++;
            if (order.CancelsSkipped == 1)
            {
                logger.LogInformation("Cancel of {ClientOrderId} ({Reason}) not sent again: its cancel went out at {SentUtc:O} and awaits the broker's answer", cancel.ClientOrderId, cancel.Reason, sent);
            }

            return false;
        }

        if (order.CancelSentUtc is not null)
        {
            logger.LogWarning("Cancel of {ClientOrderId} sent again: the one sent at {SentUtc:O} has no answer after {Wait} ({Skipped} repeat(s) held back meanwhile)",
                cancel.ClientOrderId, order.CancelSentUtc, CancelResendAfter, order.CancelsSkipped);
        }

        recorders.Journal.Append(JournalEntryKind.CancelRequested, order.Order.DecisionId, cancel.ClientOrderId.Value, cancel);
        await PaceAsync(risk: true, ct);
        order.CancelSentUtc = now;
        order.CancelsSkipped = 0;
        await gateway.CancelAsync(cancel, ct);
        return true;
    }

    /// <summary>Entries and adds: the only orders that may not use the reserved share of the broker budget.</summary>
    private static bool OpensRisk(SubmitOrder order) => order.Purpose is OrderPurpose.Entry or OrderPurpose.Add;

    private static bool OpensRisk(ExecutionCommand command) => command is SubmitCommand { Order: var o } && OpensRisk(o);

    /// <summary>Waits for the broker message budget (risk messages may use the reserved share). No-op for a gateway without a limit.</summary>
    private async ValueTask PaceAsync(bool risk, CancellationToken ct)
    {
        if (_budget is null)
        {
            return;
        }

        while (!_budget.TryAcquire(risk, out var wait))
        {
            await Task.Delay(wait, wallClock.Provider, ct);
        }
    }

    /// <summary>Working entry and add orders per symbol, signed remaining quantity (buy &gt; 0).</summary>
    private Dictionary<string, decimal> WorkingEntries()
    {
        var result = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var o in _live.Values)
        {
            if (o.Order.Purpose is OrderPurpose.Entry or OrderPurpose.Add && !o.Status.IsTerminal() && !Reduces(o.Order))
            {
                result[o.Order.Symbol] = result.GetValueOrDefault(o.Order.Symbol) + (o.Order.Side.Sign() * (o.Order.Quantity - o.Filled));
            }
        }

        return result;
    }

    private bool Reduces(SubmitOrder order)
    {
        var q = _book.Get(order.Symbol).Quantity;
        return q != 0m && order.Side.Sign() == -Math.Sign(q) && order.Quantity <= Math.Abs(q);
    }

    /// <summary>Live orders of <paramref name="symbol"/> on the side that reduces <paramref name="position"/> (none when flat).</summary>
    private IEnumerable<OrderState> ReducingOrders(string symbol, PositionSnapshot position)
    {
        if (position.IsFlat)
        {
            yield break;
        }

        var reducingSide = position.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy;
        foreach (var o in _live.Values)
        {
            if (o.Order.Symbol == symbol && o.Order.Side == reducingSide && !o.Status.IsTerminal())
            {
                yield return o;
            }
        }
    }

    /// <summary>Unconditional exits and flattens already working: the position loses them when they fill.</summary>
    private decimal WorkingReduceQuantity(string symbol, PositionSnapshot position) =>
        ReducingOrders(symbol, position)
            .Where(o => o.Order.Purpose is OrderPurpose.Exit or OrderPurpose.RiskFlatten && o.Order.Type != OrderType.Stop)
            .Sum(o => o.Order.Quantity - o.Filled);

    /// <summary>Working stops that protect the position: (stop price, remaining quantity).</summary>
    private List<(decimal StopPrice, decimal Quantity)> ProtectiveStops(string symbol, PositionSnapshot position) =>
        ReducingOrders(symbol, position)
            .Where(o => o.Order.Type == OrderType.Stop && o.Status is OrderStatus.Working or OrderStatus.PartiallyFilled)
            .Select(o => (o.Order.StopPrice!.Value, o.Order.Quantity - o.Filled))
            .ToList();

    /// <summary>Processes every event the gateway has produced. True when there was at least one.</summary>
    private bool DrainGateway()
    {
        var any = false;
        while (gateway.Events.TryRead(out var e))
        {
            any = true;
            Apply(e);
        }

        return any;
    }

    /// <summary>
    /// A broker may charge a commission in another currency than the instrument's (IB reports some in the account's base
    /// currency): the book keeps one currency per instrument, so it is converted with the FX table at the time. Without a
    /// rate the fill is still booked (it happened), with commission 0, and the gap is alerted RED — never a fault that
    /// would stop the hands.
    /// </summary>
    private Fill InInstrumentCurrency(Fill fill)
    {
        var currency = valuation.Instruments.Get(fill.Symbol).Currency;
        if (valuation.Fx.TryConvert(fill.Commission, currency, out var converted))
        {
            logger.LogInformation("Fill {ExecutionId}: commission {Commission} booked as {Converted} (the instrument's currency)", fill.ExecutionId, fill.Commission, converted);
            return fill with { Commission = new Money(Math.Round(converted.Amount, 6), currency) };
        }

        logger.LogError("Fill {ExecutionId}: commission {Commission} cannot be converted to {Currency}: booked as 0, P&L overstated by it", fill.ExecutionId, fill.Commission, currency);
        recorders.Alerts.Raise(AlertLevel.Red, "Fill", $"commission {fill.Commission} of {fill.ExecutionId} ({fill.Symbol}) cannot be converted to {currency}: booked as 0, P&L overstated by it");
        return fill with { Commission = Money.Zero(currency) };
    }

    private static JournalEntryKind JournalKindOf(OrderEvent e) => e switch
    {
        OrderAccepted => JournalEntryKind.OrderAccepted,
        OrderRejected => JournalEntryKind.OrderRejected,
        OrderRequestRejected => JournalEntryKind.OrderRequestRejected,
        OrderCancelled => JournalEntryKind.OrderCancelled,
        OrderModified => JournalEntryKind.OrderModified,
        OrderFilled => JournalEntryKind.OrderFilled,
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "an order event without a journal kind"),
    };

    private void Apply(OrderEvent e)
    {
        if (e is BrokerPositionAdopted adopted)
        {
            Adopt(adopted);
            return;
        }

        if (e is BookPositionRestored restored)
        {
            Restore(restored);
            return;
        }

        if (e is OrderResumed resumed)
        {
            Resume(resumed);
            return;
        }

        if (e is OrderFilled { Fill: var reported } filled && reported.Commission.Currency != valuation.Instruments.Get(reported.Symbol).Currency)
        {
            e = filled with { Fill = InInstrumentCurrency(reported) };
        }

        if (!_orders.TryGetValue(e.ClientOrderId, out var state))
        {
            logger.LogError("Gateway event {Event} for unknown order {ClientOrderId}; not ours, left to reconciliation", e.GetType().Name, e.ClientOrderId);
            return;
        }

        var now = clock.GetUtcNow();
        recorders.Journal.Append(JournalKindOf(e), state.Order.DecisionId, e.ClientOrderId.Value, e);
        PersistCommand? status = null;
        switch (e)
        {
            case OrderAccepted a:
                state.Status = OrderStatus.Working;
                status = new PersistOrderStatus(e.ClientOrderId, OrderStatus.Working, null, a.BrokerOrderId, null, null, null, now);
                break;
            case OrderRejected r:
                state.Status = OrderStatus.Rejected;
                Run.CountOrderRejected();
                HotLog.OrderRejected(logger, e.ClientOrderId, gateway.Name, r.Reason);
                status = new PersistOrderStatus(e.ClientOrderId, OrderStatus.Rejected, r.Reason, null, null, null, null, now);
                break;
            case OrderRequestRejected rr:
                logger.LogWarning("{Gateway} refused the {Request} of order {ClientOrderId}: {Reason}; the order keeps status {Status}", gateway.Name, rr.Request, e.ClientOrderId, rr.Reason, state.Status);
                if (rr.Request == "cancel")
                {
                    // The cancel did not go out: the next one may.
                    state.CancelSentUtc = null;
                }

                break;
            case OrderCancelled c:
                state.Status = OrderStatus.Cancelled;
                status = new PersistOrderStatus(e.ClientOrderId, OrderStatus.Cancelled, c.Reason, null, null, null, null, now);
                break;
            case OrderModified mod:
                state.Order = state.Order with { StopPrice = mod.StopPrice, LimitPrice = mod.LimitPrice, Quantity = mod.Quantity };
                status = new PersistOrderStatus(e.ClientOrderId, state.Status, null, null, mod.StopPrice, mod.LimitPrice, mod.Quantity, now);
                break;
            case OrderFilled f:
                state.Filled += f.Fill.Quantity;
                state.Status = f.LeavesQuantity == 0m ? OrderStatus.Filled : OrderStatus.PartiallyFilled;
                var trade = _book.Apply(f.Fill);
                if (trade is not null)
                {
                    Run.Trades.Add(trade);
                    if (valuation.Fx.TryConvert(new Money(trade.NetPnl, trade.Currency), valuation.Account.Base, out var inBase))
                    {
                        _closedTradePnls = _closedTradePnls.Add(inBase.Amount);
                    }
                    else
                    {
                        logger.LogError("Closed trade of {Symbol} ({NetPnl} {Currency}) cannot be converted to the base currency: the breakers do not see it", trade.Symbol, trade.NetPnl, trade.Currency);
                    }
                }

                Run.CountFill();
                shadowFills?.Record(f.Fill, quoteFeed is not null && quoteFeed.TryGetTopOfBook(f.Fill.Symbol, out var atFill) ? atFill : null);
                if (Run.Mode == RunMode.Service)
                {
                    recorders.Alerts.Raise(AlertLevel.Info, "Fill", string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"{f.Fill.Side} {f.Fill.Quantity} {f.Fill.Symbol} @ {f.Fill.Price} ({state.Order.Purpose}, {state.Order.Source}); position {_book.Get(f.Fill.Symbol).Quantity}"));
                }

                Enqueue(new PersistFill(f.Fill, now));
                status = new PersistOrderStatus(e.ClientOrderId, state.Status, null, null, null, null, null, now);
                Enqueue(status);
                status = new PersistPosition(Run.RunId, _book.Get(f.Fill.Symbol), now);
                PublishBook();
                break;
        }

        if (state.Status.IsTerminal())
        {
            _live.Remove(e.ClientOrderId);
        }

        // A flatten cancelled to be replaced at the market is not "gone" for the sentinel: its replacement follows.
        var replacing = e is OrderCancelled && state.ReplaceWhenCancelled;
        if (state.Order.Purpose == OrderPurpose.RiskFlatten && e is OrderAccepted or OrderCancelled or OrderRejected && !replacing)
        {
            PublishBook();
        }

        if (status is not null)
        {
            Enqueue(status);
        }

        if (replacing || (state.ReportAs is not null && e is OrderAccepted))
        {
            // The escalation's own business: the source's exit goes on (as the market replacement, already accepted for it).
            return;
        }

        // A replacement speaks for the order its source sent: same id, so the source sees one exit from start to end.
        var toSource = state.ReportAs is { } origin
            ? e is OrderFilled rf ? rf with { ClientOrderId = origin, Fill = rf.Fill with { ClientOrderId = origin } } : e with { ClientOrderId = origin }
            : e;
        // An earlier run's order goes to the brain marked as such: the brain applies it only when its re-execution of the earlier
        // runs gave one of its strategies that order (a live feed); otherwise no strategy of this run knows it, nor the position
        // it protected (the sentinel manages it), and a stop's fill must not read as a new short in the brain's book.
        channels.Reports.Writer.TryWrite(new OrderEventReported(toSource, state.Order.Source, state.Resumed));
    }

    /// <summary>
    /// A position the broker holds that this run has no record of (found at the first reconciliation): our book takes
    /// it over at the broker's average price (no fill row: nothing traded now), it is journaled and alerted, and the
    /// sentinel manages it from here (the strategies do not know it).
    /// </summary>
    private void Adopt(BrokerPositionAdopted a)
    {
        var now = clock.GetUtcNow();
        var current = _book.Get(a.Symbol).Quantity;
        var delta = a.Quantity - current;
        recorders.Journal.Append(JournalEntryKind.PositionAdopted, a.ClientOrderId.Value, gateway.Name, a);
        if (delta == 0m)
        {
            return;
        }

        var instrument = valuation.Instruments.Get(a.Symbol);
        // Flat at the broker: our position is closed at its own average price (no profit or loss invented for what we never saw).
        var price = a.Quantity == 0m ? _book.Get(a.Symbol).AveragePrice : a.AveragePrice;
        _book.Apply(new Fill($"{a.ClientOrderId.Value}:{now.UtcTicks}", a.ClientOrderId, a.Symbol, delta > 0 ? OrderSide.Buy : OrderSide.Sell, Math.Abs(delta), price,
            new Money(0m, instrument.Currency), a.EventTimeUtc));
        recorders.Alerts.Raise(AlertLevel.Yellow, "PositionAdopted", string.Create(CultureInfo.InvariantCulture,
            $"{gateway.Name} holds {a.Quantity} {a.Symbol} @ {a.AveragePrice} that this run has no record of: adopted into our book (was {current}); the sentinel manages it, no strategy does"));
        Enqueue(new PersistPosition(Run.RunId, _book.Get(a.Symbol), now));
        PublishBook();
    }

    /// <summary>
    /// Our position as the earlier runs left it (database), restored before the first reconciliation after a restart: the
    /// book starts where it was, and the reconciliation brings it to the broker's (recovered fills; any other difference RED).
    /// </summary>
    private void Restore(BookPositionRestored r)
    {
        var now = clock.GetUtcNow();
        var delta = r.Quantity - _book.Get(r.Symbol).Quantity;
        recorders.Journal.Append(JournalEntryKind.PositionRestored, r.ClientOrderId.Value, gateway.Name, r);
        _takenOver.Add(r.Symbol);
        if (delta == 0m)
        {
            return;
        }

        var instrument = valuation.Instruments.Get(r.Symbol);
        _book.Apply(new Fill($"{r.ClientOrderId.Value}:{now.UtcTicks}", r.ClientOrderId, r.Symbol, delta > 0 ? OrderSide.Buy : OrderSide.Sell, Math.Abs(delta), r.AveragePrice,
            new Money(0m, instrument.Currency), r.EventTimeUtc));
        logger.LogWarning("Position {Quantity} {Symbol} @ {AveragePrice} of an earlier run restored into our book ({Gateway})", r.Quantity, r.Symbol, r.AveragePrice, gateway.Name);
        Enqueue(new PersistPosition(Run.RunId, _book.Get(r.Symbol), now));
        PublishBook();
    }

    /// <summary>
    /// An earlier run's order the gateway took over (still working when that run ended): it is ours again — its fills are
    /// booked, its end recorded on its own row, and a flatten cancels it first (and waits for the acknowledgement).
    /// </summary>
    private void Resume(OrderResumed r)
    {
        if (_orders.ContainsKey(r.ClientOrderId))
        {
            return;
        }

        recorders.Journal.Append(JournalEntryKind.OrderResumed, r.Order.DecisionId, r.ClientOrderId.Value, r);
        _takenOver.Add(r.Order.Symbol);
        var state = new OrderState(r.Order) { Status = r.Status, Filled = r.FilledQuantity, Resumed = true };
        _orders[r.ClientOrderId] = state;
        if (!state.Status.IsTerminal())
        {
            _live.Add(r.ClientOrderId, state);
            if (_escalation.Options.Enabled && r.Order.Type == OrderType.Limit && r.Order.Purpose is OrderPurpose.Exit or OrderPurpose.RiskFlatten)
            {
                // An exit an earlier run left resting as a limit (its escalation state died with that run): it goes on from the
                // touch step, to the market after the touch wait, instead of resting on forever.
                state.Step = ExitEscalationStep.Touch;
                state.StepSinceUtc = clock.GetUtcNow();
                _escalating.Add(state);
            }
        }

        logger.LogWarning("Order {ClientOrderId} of an earlier run resumed ({Purpose} {Side} {Quantity} {Symbol} {Type}, {Status}, {Filled} filled, broker id {BrokerOrderId})",
            r.ClientOrderId, r.Order.Purpose, r.Order.Side, r.Order.Quantity, r.Order.Symbol, r.Order.Type, r.Status, r.FilledQuantity, r.BrokerOrderId);
    }

    /// <summary>
    /// Publishes our book to the sentinel (after every fill and every change of a working flatten: a new version; after a carry
    /// charge: the same version, because the positions did not change and the sentinel's one-flatten-per-position-change rule
    /// keys on the version).
    /// </summary>
    private void PublishBook(bool positionsChanged = true)
    {
        var flattens = _live.Values.Where(o => o.Order.Purpose == OrderPurpose.RiskFlatten && o.Status is OrderStatus.PendingSubmit or OrderStatus.Working or OrderStatus.PartiallyFilled)
            .Select(o => o.Order.Symbol).ToHashSet(StringComparer.Ordinal);
        sentinel.OnBook(new BookView(_book.Snapshot(), positionsChanged ? ++_bookVersion : _bookVersion) { ClosedTradePnls = _closedTradePnls, WorkingFlattens = flattens });
    }

    /// <summary>
    /// Charges the carry of every daily cut before <paramref name="barCloseUtc"/> (the simulated broker's borrow fee on shorts and
    /// storage on longs of USD spot metals, <see cref="CarryCostModel"/>): each position held at the cut, at the last mark known
    /// then, goes into our book (equity, the trade's net P&amp;L, the sentinel's P&amp;L) and into <c>carry_costs</c>.
    /// </summary>
    private void AccrueCarry(CarryAccrual accrual, DateTimeOffset barCloseUtc)
    {
        var cuts = accrual.CutsBefore(barCloseUtc);
        if (cuts.Count == 0 || !_book.HasOpenPositions)
        {
            return;
        }

        HashSet<string>? charged = null;
        foreach (var (day, cutUtc) in cuts)
        {
            var held = _book.Snapshot().Where(p => !p.IsFlat && valuation.Instruments.Get(p.Symbol) is { SecurityType: SecurityType.Commodity } i && i.Currency == Currency.Usd)
                .Select(p => (p.Symbol, p.Quantity));
            foreach (var charge in accrual.ChargesAt(day, cutUtc, held, _marks, symbol => valuation.Instruments.Get(symbol).Multiplier))
            {
                _book.ApplyCarry(charge);
                Enqueue(new PersistCarryCost(Run.RunId, charge));
                (charged ??= new(StringComparer.Ordinal)).Add(charge.Symbol);
            }
        }

        if (charged is null)
        {
            return;
        }

        var now = clock.GetUtcNow();
        foreach (var symbol in charged.Order(StringComparer.Ordinal))
        {
            Enqueue(new PersistPosition(Run.RunId, _book.Get(symbol), now));
        }

        PublishBook(positionsChanged: false);
    }

    private void Enqueue(PersistCommand command)
    {
        if (!recorders.Writer.TryEnqueue(command))
        {
            // The queue is full: wait for room rather than lose a record (the hands pause; the sentinel's lane keeps its own queue).
            recorders.Writer.EnqueueAsync(command, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }
    }

    private void MarkEquity()
    {
        try
        {
            var equity = _book.NetPnlInBase(_marks, valuation.Fx).Amount;
            Run.Trades.Mark(equity);
            Run.Equity.Add(_eventTime, equity);
        }
        catch (InvalidOperationException e)
        {
            logger.LogError(e, "Equity cannot be marked: {Message}", e.Message);
            throw;
        }
    }

    private sealed class OrderState(SubmitOrder order)
    {
        public SubmitOrder Order { get; set; } = order;

        public OrderStatus Status { get; set; } = OrderStatus.PendingSubmit;

        public decimal Filled { get; set; }

        /// <summary>When (wall clock) a cancel of this order was last sent; null when none is on its way.</summary>
        public DateTimeOffset? CancelSentUtc { get; set; }

        /// <summary>Cancels held back since the last one sent (it was still on its way).</summary>
        public int CancelsSkipped { get; set; }

        /// <summary>An earlier run's order taken over after a restart (its events are not reported to this run's strategies).</summary>
        public bool Resumed { get; init; }

        /// <summary>The escalation step this order works at (null: not escalating).</summary>
        public ExitEscalationStep? Step { get; set; }

        /// <summary>When (host clock) it reached <see cref="Step"/>.</summary>
        public DateTimeOffset StepSinceUtc { get; set; }

        /// <summary>The decision of its latest escalation step.</summary>
        public string? EscalationDecisionId { get; set; }

        /// <summary>Cancelled by the escalation: once the cancel is confirmed, the rest leaves at the market.</summary>
        public bool ReplaceWhenCancelled { get; set; }

        /// <summary>The id its source sent, when this is an escalation's market replacement (its events reach the source under it).</summary>
        public ClientOrderId? ReportAs { get; init; }
    }
}
