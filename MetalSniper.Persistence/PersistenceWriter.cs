using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Dapper;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Persistence;

/// <summary>A write for the batched writer. Producers enqueue in causal order (decision, then order, then fill), so foreign keys hold inside each batch.</summary>
public abstract record PersistCommand;

/// <summary>Start of a run.</summary>
/// <remarks>Every start of a run is an attempt (the first, or a resume after a crash); the run row is written once.</remarks>
public sealed record PersistRunStarted(string RunId, DateTimeOffset StartedUtc, string Mode, string Source, string Broker) : PersistCommand
{
    /// <summary>1 for a new run; 2, 3, ... for resumes of the same run.</summary>
    public int Attempt { get; init; } = 1;
}

/// <summary>End of a run.</summary>
public sealed record PersistRunEnded(string RunId, DateTimeOffset EndedUtc, string ExitStatus) : PersistCommand;

/// <summary>
/// Where a service run on a replayed feed stands (table <c>feed_marks</c>): before the record at index <paramref name="Records"/>
/// (that many records taken from the feed), the kill switch had applied the halts store up to <paramref name="HaltSequence"/>.
/// A restart re-executes the run deterministically up to its last mark (without pacing) and applies the operator's halts
/// records (CLI kill and resume, kill file) at the marks where they first took effect. A later mark at the same index
/// replaces the earlier one (the higher sequence wins).
/// </summary>
/// <param name="RunId">The run.</param>
/// <param name="Records">Records (bars and refused lines) taken from the feed before the mark.</param>
/// <param name="LastBarCloseUtc">Close time (UTC) of the last bar taken, null before the first.</param>
/// <param name="HaltSequence">The last halts-store record the kill switch had applied.</param>
/// <param name="ConfigHash">The configuration's fingerprint (a run resumes only under the configuration it started with).</param>
/// <param name="RecordedUtc">Wall-clock time of the mark.</param>
public sealed record PersistFeedMark(string RunId, long Records, DateTimeOffset? LastBarCloseUtc, long HaltSequence, string ConfigHash, DateTimeOffset RecordedUtc) : PersistCommand;

/// <summary>
/// A run that stopped cleanly before its data ended and stays open to be resumed (a service run on a replayed feed): its
/// status is written, its end is not.
/// </summary>
public sealed record PersistRunPaused(string RunId, string Status) : PersistCommand;

/// <summary>A decision.</summary>
public sealed record PersistDecision(string RunId, DecisionRecord Decision) : PersistCommand;

/// <summary>A new order, written before it is sent (or with status Denied when a gate refused it).</summary>
public sealed record PersistOrder(string RunId, SubmitOrder Order, OrderStatus Status, string? Reason, DateTimeOffset CreatedUtc) : PersistCommand
{
    /// <summary>The sequence of the order's entry in the decision journal (written before the order).</summary>
    public long? JournalSequence { get; init; }
}

/// <summary>An order status change.</summary>
public sealed record PersistOrderStatus(ClientOrderId ClientOrderId, OrderStatus Status, string? Reason, string? BrokerOrderId, decimal? StopPrice, decimal? LimitPrice, decimal? Quantity, DateTimeOffset UpdatedUtc) : PersistCommand;

/// <summary>An execution.</summary>
public sealed record PersistFill(Fill Fill, DateTimeOffset ReceivedUtc) : PersistCommand;

/// <summary>One cost line of a fill: its kind (Commission, StampDuty, TransferTax, Spread, FxConversion, BorrowFee), in the currency charged and in the base currency.</summary>
public sealed record PersistFillCost(string ExecutionId, string Kind, Money Amount, Money AmountBase) : PersistCommand;

/// <summary>
/// One day's carry on one position (table <c>carry_costs</c>): a borrow fee on a short or storage on a long spot-metal
/// position held over the daily cut. Not a fill cost: it belongs to no execution, so it has its own table keyed by run,
/// symbol and accrual day (a re-executed run writes it once).
/// </summary>
public sealed record PersistCarryCost(string RunId, Core.Costs.CarryCharge Charge) : PersistCommand;

/// <summary>The latest position of a symbol.</summary>
public sealed record PersistPosition(string RunId, PositionSnapshot Position, DateTimeOffset UpdatedUtc) : PersistCommand;

/// <summary>A pre-trade gate's refusal of an order (the order itself is persisted first with status Denied).</summary>
public sealed record PersistGateDenial(string RunId, SubmitOrder Order, GateDenial Denial, DateTimeOffset AtUtc) : PersistCommand;

/// <summary>A record refused at the ingest boundary.</summary>
public sealed record PersistRejection(string RunId, BarRejected Rejection) : PersistCommand;

/// <summary>
/// One input of the brain on a live feed (a bar handed to the strategies or an order event applied), recorded before the
/// decisions it leads to (<see cref="BrainInputs"/>).
/// </summary>
/// <param name="RunId">The run.</param>
/// <param name="Input">The input.</param>
public sealed record PersistBrainInput(string RunId, BrainInput Input) : PersistCommand;

/// <summary>A marker: completes when everything enqueued before it is committed.</summary>
public sealed record PersistFlush(TaskCompletionSource Done) : PersistCommand;

/// <summary>
/// The one batched writer: a bounded queue (full-mode Wait: producers slow down, nothing is
/// dropped) drained by a single loop that commits up to <c>MaxBatchSize</c> commands per
/// transaction with prepared statements. A failed commit is fatal: it is logged, the error is
/// kept in <see cref="Fault"/> and the writer stops accepting work (never a silent loss).
/// </summary>
public sealed class PersistenceWriter : IAsyncDisposable
{
    // The decision inputs and gate values are string maps (no enums): the generated metadata serializes them without reflection.
    private static readonly JsonSerializerOptions Json = RecordJson.Combined;
    private readonly Database _database;
    private readonly int _maxBatch;
    private readonly ILogger<PersistenceWriter> _logger;
    private readonly Channel<PersistCommand> _queue;
    private readonly Task _loop;
    private readonly Action<Exception> _onFault;
    private readonly TimeSpan _linger;
    private readonly int _capacity;
    private int _flushRequested;
    private long _queued;
    private long _committed;
    private long _batches;
    private Exception? _fault;

    /// <summary>Creates the writer and starts its loop.</summary>
    /// <param name="database">The database.</param>
    /// <param name="maxBatchSize">Largest transaction.</param>
    /// <param name="capacity">Queue capacity.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="onFault">Called once, from the writer loop, when a commit fails (the host stops trading).</param>
    /// <param name="linger">
    /// How long the loop lets commands gather after a wake before it commits them (zero: at once, the service). A replay
    /// lingers, so its rows go in a few large transactions and the writer does not wake once per row.
    /// </param>
    public PersistenceWriter(Database database, int maxBatchSize, int capacity, ILogger<PersistenceWriter> logger, Action<Exception> onFault, TimeSpan linger = default)
    {
        _linger = linger;
        _onFault = onFault;
        _database = database;
        _maxBatch = maxBatchSize;
        _logger = logger;
        _capacity = capacity;
        // A single-reader unbounded channel: the reader dequeues without taking the channel's lock, so a writer draining a
        // large batch never contends with the producers (a bounded channel locks on every read and write). The bound is
        // kept by counting (see EnqueueAsync).
        _queue = Channel.CreateUnbounded<PersistCommand>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
        _loop = Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Commands committed so far.</summary>
    public long Committed => Interlocked.Read(ref _committed);

    /// <summary>Transactions committed so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>The error that stopped the writer, if any.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>The database written to.</summary>
    public Database Database => _database;

    /// <summary>
    /// Enqueues a command; waits (polling every millisecond) while the queue holds its capacity, so a producer slows down
    /// and nothing is dropped. The bound is soft by at most one command per concurrent producer.
    /// </summary>
    /// <exception cref="InvalidOperationException">The writer has failed or is closed.</exception>
    public ValueTask EnqueueAsync(PersistCommand command, CancellationToken cancellationToken)
    {
        if (Interlocked.Read(ref _queued) < _capacity)
        {
            Write(command);
            return ValueTask.CompletedTask;
        }

        return Slow(command, cancellationToken);

        async ValueTask Slow(PersistCommand c, CancellationToken ct)
        {
            while (Interlocked.Read(ref _queued) >= _capacity)
            {
                if (_queue.Reader.Completion.IsCompleted)
                {
                    Write(c); // throws: closed
                }

                await Task.Delay(1, ct).ConfigureAwait(false);
            }

            Write(c);
        }
    }

    /// <summary>Enqueues without waiting (for the sentinel thread, which must never block). False when the queue is full or closed: the caller must treat that as a failure.</summary>
    public bool TryEnqueue(PersistCommand command)
    {
        if (Interlocked.Read(ref _queued) >= _capacity || !_queue.Writer.TryWrite(command))
        {
            return false;
        }

        Interlocked.Increment(ref _queued);
        return true;
    }

    private void Write(PersistCommand command)
    {
        if (!_queue.Writer.TryWrite(command))
        {
            throw new InvalidOperationException("the persistence writer is closed" + (Fault is { } f ? ": " + f.Message : ""));
        }

        Interlocked.Increment(ref _queued);
    }

    /// <summary>Waits until everything enqueued so far is committed.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _flushRequested, 1);
        await EnqueueAsync(new PersistFlush(done), cancellationToken).ConfigureAwait(false);
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops accepting commands, commits what is queued and waits for the loop. Idempotent. A
    /// failure of the loop is not rethrown here: it was logged, reported through the fault callback
    /// and is kept in <see cref="Fault"/>.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
    }

    private async Task Loop()
    {
        await using var connection = _database.OpenConnection();
        using var statements = new Statements(connection);
        var batch = new List<PersistCommand>(_maxBatch);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                // A flush asked for (the end of a replay, a service start) is served at once, not after the linger.
                if (_linger > TimeSpan.Zero && !reader.Completion.IsCompleted && Interlocked.Read(ref _queued) < _maxBatch && Volatile.Read(ref _flushRequested) == 0)
                {
                    await Task.Delay(_linger).ConfigureAwait(false);
                }

                Interlocked.Exchange(ref _flushRequested, 0);

                while (batch.Count < _maxBatch && reader.TryRead(out var c))
                {
                    batch.Add(c);
                }

                Interlocked.Add(ref _queued, -batch.Count);
                var taken = batch.Count;
                Coalesce(batch);

                lock (_database.WriteGate)
                {
                    using var tx = connection.BeginTransaction();
                    statements.Bind(tx);
                    foreach (var c in batch)
                    {
                        statements.Apply(c);
                    }

                    tx.Commit();
                }

                Interlocked.Add(ref _committed, taken);
                Interlocked.Increment(ref _batches);
                foreach (var c in batch)
                {
                    if (c is PersistFlush f)
                    {
                        f.Done.TrySetResult();
                    }
                }

                batch.Clear();
            }
        }
        catch (Exception e)
        {
            Volatile.Write(ref _fault, e);
            _queue.Writer.TryComplete(e);
            _logger.LogCritical(e, "Persistence writer failed; {Pending} command(s) of the failed batch were not committed", batch.Count);
            foreach (var c in batch.Concat(Drain(reader)))
            {
                (c as PersistFlush)?.Done.TrySetException(e);
            }

            _onFault(e);
        }
    }

    /// <summary>
    /// Drops the writes of a batch that a later write of the same batch makes pointless, keeping the end state and the
    /// causal order: of several position upserts of one symbol only the last is written; several status updates of one
    /// order become one, at the place of the last, folded as applying them in turn would (status and time of the last;
    /// reason, broker id, stop, limit and quantity the latest one given). A fill makes three or four writes; in a replay's
    /// large batches this removes about a fifth of the statements.
    /// </summary>
    private static void Coalesce(List<PersistCommand> batch)
    {
        HashSet<(string RunId, string Symbol)>? positions = null;
        Dictionary<ClientOrderId, int>? statuses = null;
        var dropped = false;
        for (var i = batch.Count - 1; i >= 0; i--)
        {
            switch (batch[i])
            {
                case PersistPosition p when !(positions ??= []).Add((p.RunId, p.Position.Symbol)):
                    batch[i] = null!;
                    dropped = true;
                    break;
                case PersistOrderStatus s:
                    if ((statuses ??= []).TryGetValue(s.ClientOrderId, out var later))
                    {
                        var l = (PersistOrderStatus)batch[later];
                        batch[later] = l with
                        {
                            Reason = l.Reason ?? s.Reason,
                            BrokerOrderId = l.BrokerOrderId ?? s.BrokerOrderId,
                            StopPrice = l.StopPrice ?? s.StopPrice,
                            LimitPrice = l.LimitPrice ?? s.LimitPrice,
                            Quantity = l.Quantity ?? s.Quantity,
                        };
                        batch[i] = null!;
                        dropped = true;
                    }
                    else
                    {
                        statuses[s.ClientOrderId] = i;
                    }

                    break;
            }
        }

        if (dropped)
        {
            batch.RemoveAll(c => c is null);
        }
    }

    private static IEnumerable<PersistCommand> Drain(ChannelReader<PersistCommand> reader)
    {
        while (reader.TryRead(out var c))
        {
            yield return c;
        }
    }

    private static string D(decimal v) => v.ToString(CultureInfo.InvariantCulture);

    private static string? D(decimal? v) => v?.ToString(CultureInfo.InvariantCulture);

    private static string T(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);

    /// <summary>Prepared statements of the writer connection.</summary>
    private sealed class Statements : IDisposable
    {
        private readonly SqliteConnection _c;
        private readonly SqliteRawStatement _decision;
        private readonly SqliteRawStatement _order;
        private readonly SqliteRawStatement _fill;
        private readonly SqliteRawStatement _status;
        private readonly SqliteRawStatement _position;
        private readonly SqliteRawStatement _denial;
        private readonly SqliteRawStatement _rejection;
        private readonly SqliteRawStatement _fillCost;
        private readonly SqliteRawStatement _carry;
        private readonly SqliteRawStatement _input;
        private SqliteTransaction? _tx;

        public Statements(SqliteConnection connection)
        {
            _c = connection;
            _decision = Prepare("INSERT OR IGNORE INTO decisions(decision_id, run_id, source, symbol, kind, outcome, reason, inputs_json, event_utc, recorded_utc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)", 10);
            _order = Prepare("""
                INSERT OR IGNORE INTO orders(client_order_id, decision_id, run_id, symbol, side, quantity, order_type, limit_price, stop_price, purpose, time_in_force, source, status, status_reason, decision_utc, created_utc, updated_utc, journal_seq)
                VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$16,$17)
                """, 17);
            _fill = Prepare("INSERT OR IGNORE INTO fills(execution_id, client_order_id, symbol, side, quantity, price, commission, commission_ccy, event_utc, received_utc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)", 10);
            _status = Prepare("""
                UPDATE orders SET status=$1, status_reason=COALESCE($2, status_reason), broker_order_id=COALESCE($3, broker_order_id),
                  stop_price=COALESCE($4, stop_price), limit_price=COALESCE($5, limit_price), quantity=COALESCE($6, quantity), updated_utc=$7
                WHERE client_order_id=$8
                """, 8);
            _position = Prepare("""
                INSERT INTO positions(run_id, symbol, currency, quantity, average_price, realized_pnl_gross, commissions, carry, updated_utc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
                ON CONFLICT(run_id, symbol) DO UPDATE SET quantity=excluded.quantity, average_price=excluded.average_price, realized_pnl_gross=excluded.realized_pnl_gross,
                  commissions=excluded.commissions, carry=excluded.carry, updated_utc=excluded.updated_utc
                """, 9);
            _carry = Prepare("INSERT OR IGNORE INTO carry_costs(run_id, symbol, day, cut_utc, kind, quantity, mark, notional_usd, rate_annual, amount_usd) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)", 10);
            _denial = Prepare("INSERT OR IGNORE INTO gate_denials(run_id, client_order_id, decision_id, gate, reason, detail, values_json, at_utc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)", 8);
            _fillCost = Prepare("INSERT OR IGNORE INTO fill_costs(execution_id, kind, amount, currency, amount_base, base_currency) VALUES ($1,$2,$3,$4,$5,$6)", 6);
            _input = Prepare("INSERT OR IGNORE INTO brain_inputs(run_id, seq, kind, symbol, utc, levels, payload) VALUES ($1,$2,$3,$4,$5,$6,$7)", 7);
            _rejection = Prepare("INSERT OR IGNORE INTO ingest_rejections(run_id, source, line, symbol, reason, detail) VALUES ($1,$2,$3,$4,$5,$6)", 6);
        }

        /// <summary>The transaction the next records go into (the record statements run in the connection's transaction; Dapper's need it named).</summary>
        public void Bind(SqliteTransaction tx) => _tx = tx;

        public void Apply(PersistCommand command)
        {
            var tx = _tx;
            switch (command)
            {
                case PersistDecision { Decision: var d } pd:
                    Run(_decision, d.DecisionId, pd.RunId, d.Source, d.Symbol, d.KindLabel, d.Outcome.ToString(), d.Reason, JsonSerializer.Serialize(d.Inputs, Json), T(d.EventTimeUtc), T(d.RecordedAtUtc));
                    break;
                case PersistOrder { Order: var o } po:
                    Run(_order, o.ClientOrderId.Value, o.DecisionId, po.RunId, o.Symbol, o.Side.ToString(), D(o.Quantity), o.Type.ToString(), D(o.LimitPrice), D(o.StopPrice),
                        o.Purpose.ToString(), o.TimeInForce.ToString(), o.Source, po.Status.ToString(), po.Reason, T(o.DecisionTimeUtc), T(po.CreatedUtc), po.JournalSequence);
                    break;
                case PersistFill { Fill: var f } pf:
                    Run(_fill, f.ExecutionId, f.ClientOrderId.Value, f.Symbol, f.Side.ToString(), D(f.Quantity), D(f.Price), D(f.Commission.Amount), f.Commission.Currency.Code, T(f.EventTimeUtc), T(pf.ReceivedUtc));
                    break;
                case PersistFillCost fc:
                    Run(_fillCost, fc.ExecutionId, fc.Kind, D(fc.Amount.Amount), fc.Amount.Currency.Code, D(fc.AmountBase.Amount), fc.AmountBase.Currency.Code);
                    break;
                case PersistOrderStatus s:
                    var changed = Run(_status, s.Status.ToString(), s.Reason, s.BrokerOrderId, D(s.StopPrice), D(s.LimitPrice), D(s.Quantity), T(s.UpdatedUtc), s.ClientOrderId.Value);
                    if (changed != 1)
                    {
                        throw new InvalidOperationException($"order status update for unknown order {s.ClientOrderId} ({s.Status})");
                    }

                    break;
                case PersistPosition { Position: var p } pp:
                    Run(_position, pp.RunId, p.Symbol, p.Currency.Code, D(p.Quantity), D(p.AveragePrice), D(p.RealizedPnlGross), D(p.Commissions), D(p.Carry), T(pp.UpdatedUtc));
                    break;
                case PersistCarryCost { Charge: var cc } pc:
                    Run(_carry, pc.RunId, cc.Symbol, cc.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), T(cc.CutUtc), cc.Kind.ToString(), D(cc.Quantity), D(cc.Mark), D(cc.NotionalUsd), D(cc.RateAnnual), D(cc.AmountUsd));
                    break;
                case PersistGateDenial gd:
                    Run(_denial, gd.RunId, gd.Order.ClientOrderId.Value, gd.Order.DecisionId, gd.Denial.Gate, gd.Denial.Reason.ToString(), gd.Denial.Detail, JsonSerializer.Serialize(gd.Denial.Values, Json), T(gd.AtUtc));
                    break;
                case PersistRejection { Rejection: var r } pr:
                    Run(_rejection, pr.RunId, r.Source, r.Line, r.Symbol, r.Reason.ToString(), r.Detail);
                    break;
                case PersistRunStarted rs:
                    _c.Execute("INSERT OR IGNORE INTO runs(run_id, started_utc, mode, source, broker) VALUES (@id,@started,@mode,@source,@broker)",
                        new { id = rs.RunId, started = T(rs.StartedUtc), mode = rs.Mode, source = rs.Source, broker = rs.Broker }, tx);
                    _c.Execute("INSERT INTO run_attempts(run_id, attempt, started_utc) VALUES (@id,@attempt,@started)", new { id = rs.RunId, attempt = rs.Attempt, started = T(rs.StartedUtc) }, tx);
                    if (rs.Attempt > 1)
                    {
                        // A resumed run is running again: the status its last attempt left (a clean stop) no longer holds.
                        _c.Execute("UPDATE runs SET exit_status=NULL WHERE run_id=@id AND ended_utc IS NULL", new { id = rs.RunId }, tx);
                    }

                    break;
                case PersistRunEnded re:
                    _c.Execute("UPDATE runs SET ended_utc=@ended, exit_status=@status WHERE run_id=@id", new { ended = T(re.EndedUtc), status = re.ExitStatus, id = re.RunId }, tx);
                    break;
                case PersistFeedMark fm:
                    _c.Execute("""
                        INSERT INTO feed_marks(run_id, records, last_bar_close_utc, halt_sequence, config_hash, recorded_utc) VALUES (@id,@records,@last,@seq,@hash,@at)
                        ON CONFLICT(run_id, records) DO UPDATE SET halt_sequence=MAX(halt_sequence, excluded.halt_sequence), recorded_utc=excluded.recorded_utc
                        """, new { id = fm.RunId, records = fm.Records, last = fm.LastBarCloseUtc is { } l ? T(l) : null, seq = fm.HaltSequence, hash = fm.ConfigHash, at = T(fm.RecordedUtc) }, tx);
                    break;
                case PersistRunPaused rp:
                    _c.Execute("UPDATE runs SET exit_status=@status WHERE run_id=@id AND ended_utc IS NULL", new { status = rp.Status, id = rp.RunId }, tx);
                    break;
                case PersistBrainInput { Input: var bi } pbi:
                    Run(_input, pbi.RunId, bi.Sequence, bi.Kind, bi.Symbol, T(bi.Utc), bi.Levels, bi.Payload);
                    break;
                case PersistFlush:
                    break;
                default:
                    throw new InvalidOperationException($"unknown persistence command {command.GetType().Name}");
            }
        }

        public void Dispose()
        {
            _decision.Dispose();
            _order.Dispose();
            _fill.Dispose();
            _status.Dispose();
            _position.Dispose();
            _denial.Dispose();
            _rejection.Dispose();
            _fillCost.Dispose();
            _carry.Dispose();
            _input.Dispose();
        }

        // A null value is NULL (as DBNull.Value).
        private SqliteRawStatement Prepare(string sql, int parameters) => new(_c, sql, parameters, nullIsNull: true);

        private static int Run(SqliteRawStatement statement, params ReadOnlySpan<object?> values) => statement.Run(values);
    }
}
