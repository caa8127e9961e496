using System.Globalization;
using System.Threading.Channels;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Backtest;

namespace MetalSniper.Backtest;

/// <summary>The simulated broker could not be brought back in step with a resumed run.</summary>
public sealed class BrokerRecoveryException(string message) : Exception(message);

/// <summary>
/// The simulated broker with a side of its own that survives crashes: a <see cref="SimulatedOrderGateway"/>
/// (the fill model) whose every request, order, execution and progress is written to its own
/// <see cref="SimulatedBrokerStore"/> before it answers, and which is restored from that store on start.
/// <para>
/// Crash recovery of a resumed replay (the run-resume of the engine (<c>RunResume</c>)): our side re-executes from the start
/// of the data, so until it has caught up with where the broker was, it talks to a <b>shadow</b>: a fresh
/// simulated broker that sees the same requests and bars and answers exactly as the real one did (the fill
/// model is a function of its inputs). Each request the shadow gets is checked against the broker's record
/// of what it received; once the shadow has seen every request and every bar the broker had, the two must
/// hold the same working orders, positions and executions (reconciliation, as against IB: a difference is a
/// <see cref="BrokerRecoveryException"/>), and from then on the real broker takes over. Requests it never got
/// (sent after its last write, lost with the process) reach it then for the first time; a request it did get
/// is never sent to it again, so no client order id is ever submitted twice.
/// </para>
/// Not thread-safe: driven by the execution service's single loop, like the broker it wraps.
/// </summary>
public sealed class DurableSimulatedBroker : IBarMatchingGateway, IDisposable
{
    private readonly SimulatedBrokerStore _store;
    private readonly string _session;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly SimulatedOrderGateway _broker;
    private readonly IReadOnlyList<BrokerMessage> _earlier;
    private readonly long _earlierBars;
    private readonly Channel<OrderEvent> _events = Channel.CreateUnbounded<OrderEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly List<OrderEvent> _drained = [];
    private SimulatedOrderGateway? _shadow;
    private long _messages;
    private long _bars;
    private (long Fills, decimal Cost) _cappedByShadow;

    /// <summary>Opens the broker's session, restoring what it stored.</summary>
    /// <param name="store">The broker's own store.</param>
    /// <param name="session">The session (the run id): a resumed run finds its broker where it was.</param>
    /// <param name="create">Makes a fresh fill model (the real broker and, when recovering, the shadow).</param>
    /// <param name="recover">True for a resumed run: catch up through a shadow first.</param>
    /// <param name="clock">Clock for receive times.</param>
    /// <param name="logger">Logger.</param>
    public DurableSimulatedBroker(SimulatedBrokerStore store, string session, Func<SimulatedOrderGateway> create, bool recover, TimeProvider clock, ILogger<DurableSimulatedBroker> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(create);
        _store = store;
        _session = session;
        _clock = clock;
        _logger = logger;
        var state = store.Load(session);
        _broker = create();
        _broker.Restore(state.Seen, state.Working, state.Fills, state.ExecutionSequence);
        _earlier = state.Messages;
        _earlierBars = state.BarsSeen;
        _messages = state.Messages.Count;
        _bars = state.BarsSeen;
        if (!recover && (state.Messages.Count > 0 || state.BarsSeen > 0))
        {
            throw new BrokerRecoveryException($"the simulated broker already holds session '{session}' ({state.Messages.Count} requests, {state.BarsSeen} bars) in {store.Path}, but the run is not resuming it");
        }

        if (recover)
        {
            _shadow = create();
            _messages = 0;
            _bars = 0;
            logger.LogWarning("Simulated broker session {Session} restored from {Path}: {Requests} requests, {Working} working orders, {Fills} executions, {Bars} bars; catching up through a shadow",
                session, store.Path, state.Messages.Count, state.Working.Count, state.Fills.Count, state.BarsSeen);
        }
    }

    /// <inheritdoc />
    public string Name => "simulated";

    /// <inheritdoc />
    public ChannelReader<OrderEvent> Events => _events.Reader;

    /// <summary>True while a resumed run is still catching up (the shadow answers).</summary>
    public bool Recovering => _shadow is not null;

    /// <summary>Requests of a resumed run that the broker had already answered before the crash (the shadow answered them again; the broker never saw them twice).</summary>
    public long RequestsMatched { get; private set; }

    /// <summary>The broker's own store.</summary>
    public SimulatedBrokerStore Store => _store;

    /// <summary>The session (run id).</summary>
    public string Session => _session;

    /// <inheritdoc cref="SimulatedOrderGateway.FillsCappedByEnvelope"/>
    public long FillsCappedByEnvelope => _cappedByShadow.Fills + (_shadow ?? _broker).FillsCappedByEnvelope;

    /// <inheritdoc cref="SimulatedOrderGateway.CostsCappedByEnvelope"/>
    public decimal CostsCappedByEnvelope => _cappedByShadow.Cost + (_shadow ?? _broker).CostsCappedByEnvelope;

    /// <inheritdoc />
    public ValueTask SubmitAsync(SubmitOrder order, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        return Request("submit", order.ClientOrderId, b => b.SubmitAsync(order, cancellationToken), order);
    }

    /// <inheritdoc />
    public ValueTask CancelAsync(CancelOrder cancel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cancel);
        return Request("cancel", cancel.ClientOrderId, b => b.CancelAsync(cancel, cancellationToken), null);
    }

    /// <inheritdoc />
    public ValueTask ModifyAsync(ModifyOrder modify, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modify);
        return Request("modify", modify.ClientOrderId, b => b.ModifyAsync(modify, cancellationToken), null);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<BrokerPosition>> GetPositionsAsync(CancellationToken cancellationToken) => (_shadow ?? _broker).GetPositionsAsync(cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<BrokerOrder>> GetOpenOrdersAsync(CancellationToken cancellationToken) => (_shadow ?? _broker).GetOpenOrdersAsync(cancellationToken);

    /// <inheritdoc />
    public void OnBar(Bar bar)
    {
        ArgumentNullException.ThrowIfNull(bar);
        CatchUpIfDone();
        _bars++;
        if (_shadow is { } shadow)
        {
            if (_bars > _earlierBars && _messages < _earlier.Count)
            {
                throw Diverged($"bar {_bars} ({bar.Symbol} {bar.OpenTimeUtc:O}) arrives before request {_messages + 1} ({_earlier[(int)_messages].Kind} {_earlier[(int)_messages].ClientOrderId}), which the broker received first");
            }

            shadow.OnBar(bar);
            Forward(shadow);
            return;
        }

        _broker.OnBar(bar);
        Drain(_broker);
        if (_drained.Count > 0)
        {
            _store.Record(_session, null, null, _drained, _bars, _broker.ExecutionSequence, _clock.GetUtcNow());
        }

        Publish();
    }

    /// <inheritdoc />
    public void FlushRecords() => _store.Flush();

    /// <inheritdoc />
    public void Dispose() => _store.Dispose();

    private async ValueTask Request(string kind, ClientOrderId id, Func<SimulatedOrderGateway, ValueTask> send, SubmitOrder? order)
    {
        CatchUpIfDone();
        _messages++;
        if (_shadow is { } shadow)
        {
            // Catching up: the broker answered this request before the crash; the shadow answers it again.
            var earlier = _messages <= _earlier.Count ? _earlier[(int)_messages - 1] : null;
            if (earlier is null || earlier.Kind != kind || earlier.ClientOrderId != id.Value)
            {
                throw Diverged($"request {_messages} is {kind} {id}, but the broker's request {_messages} was {(earlier is null ? "none (it had no more)" : $"{earlier.Kind} {earlier.ClientOrderId}")}");
            }

            RequestsMatched++;
            await send(shadow).ConfigureAwait(false);
            Forward(shadow);
            return;
        }

        await send(_broker).ConfigureAwait(false);
        Drain(_broker);
        var outcome = Outcome(kind, _drained);
        _store.Record(_session, new BrokerMessage(_messages, kind, id.Value, outcome), kind == "submit" && outcome != "duplicate" ? order : null, _drained, _bars, _broker.ExecutionSequence, _clock.GetUtcNow());
        Publish();
    }

    /// <summary>
    /// When the shadow has seen every request and every bar the broker had, the two must agree; then the
    /// broker takes over (the next request or bar is the first it has not seen).
    /// </summary>
    private void CatchUpIfDone()
    {
        if (_shadow is not { } shadow || _messages < _earlier.Count || _bars < _earlierBars)
        {
            return;
        }

        var problems = new List<string>();
        var ours = shadow.GetOpenOrdersAsync(CancellationToken.None).Result.OrderBy(o => o.ClientOrderId.Value, StringComparer.Ordinal).ToList();
        var theirs = _broker.GetOpenOrdersAsync(CancellationToken.None).Result.OrderBy(o => o.ClientOrderId.Value, StringComparer.Ordinal).ToList();
        if (!ours.SequenceEqual(theirs))
        {
            problems.Add($"working orders differ: re-executed [{string.Join(", ", ours.Select(Describe))}], broker [{string.Join(", ", theirs.Select(Describe))}]");
        }

        var ourPositions = shadow.BrokerPositions.Where(p => !p.IsFlat).Select(p => $"{p.Symbol} {p.Quantity.ToString(CultureInfo.InvariantCulture)}").Order(StringComparer.Ordinal).ToList();
        var theirPositions = _broker.BrokerPositions.Where(p => !p.IsFlat).Select(p => $"{p.Symbol} {p.Quantity.ToString(CultureInfo.InvariantCulture)}").Order(StringComparer.Ordinal).ToList();
        if (!ourPositions.SequenceEqual(theirPositions))
        {
            problems.Add($"positions differ: re-executed [{string.Join(", ", ourPositions)}], broker [{string.Join(", ", theirPositions)}]");
        }

        if (shadow.ExecutionSequence != _broker.ExecutionSequence)
        {
            problems.Add($"executions differ: re-executed {shadow.ExecutionSequence}, broker {_broker.ExecutionSequence}");
        }

        if (problems.Count > 0)
        {
            throw new BrokerRecoveryException($"simulated broker session {_session}: reconciliation after catching up failed: {string.Join("; ", problems)}");
        }

        _cappedByShadow = (shadow.FillsCappedByEnvelope, shadow.CostsCappedByEnvelope);
        _shadow = null;
        _logger.LogWarning("Simulated broker session {Session} caught up after {Requests} requests and {Bars} bars: {Working} working orders, positions [{Positions}] agree; the broker takes over",
            _session, _messages, _bars, theirs.Count, string.Join(", ", theirPositions));
    }

    private static string Describe(BrokerOrder o) => string.Create(CultureInfo.InvariantCulture, $"{o.ClientOrderId} {o.Side} {o.Quantity} {o.Type} {o.LimitPrice}/{o.StopPrice}");

    private BrokerRecoveryException Diverged(string what) =>
        new($"simulated broker session {_session}: the resumed run left the path of the run it resumes: {what}");

    private static string Outcome(string kind, List<OrderEvent> events) => events.FirstOrDefault() switch
    {
        OrderAccepted => "accepted",
        OrderRejected => "rejected",
        OrderRequestRejected { Reason: var r } when r.StartsWith("duplicate", StringComparison.Ordinal) => "duplicate",
        OrderRequestRejected => "refused",
        OrderCancelled => "cancelled",
        OrderModified => "modified",
        null when kind == "cancel" => "not working",
        _ => "other",
    };

    private void Drain(SimulatedOrderGateway broker)
    {
        _drained.Clear();
        while (broker.Events.TryRead(out var e))
        {
            _drained.Add(e);
        }
    }

    private void Forward(SimulatedOrderGateway broker)
    {
        Drain(broker);
        Publish();
    }

    private void Publish()
    {
        foreach (var e in _drained)
        {
            if (!_events.Writer.TryWrite(e))
            {
                throw new InvalidOperationException("simulated broker event channel is closed");
            }
        }

        _drained.Clear();
    }
}
