using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Backtest;

/// <summary>A request the simulated broker received, in arrival order (the proof that no order was sent twice).</summary>
/// <param name="Sequence">1, 2, ... per session.</param>
/// <param name="Kind">"submit", "cancel" or "modify".</param>
/// <param name="ClientOrderId">The order it concerns.</param>
/// <param name="Outcome">What the broker did: accepted, rejected, duplicate, cancelled, modified, refused, none.</param>
public sealed record BrokerMessage(long Sequence, string Kind, string ClientOrderId, string Outcome);

/// <summary>Everything the simulated broker keeps of one session (a run), as loaded on start.</summary>
/// <param name="Seen">Every client order id it ever received an order for.</param>
/// <param name="Working">Orders still working, in arrival order.</param>
/// <param name="Fills">Its executions, in order.</param>
/// <param name="ExecutionSequence">The execution counter.</param>
/// <param name="BarsSeen">Bars it had matched against when it last wrote.</param>
/// <param name="Messages">Every request it received, in order.</param>
public sealed record BrokerSessionState(
    IReadOnlyList<ClientOrderId> Seen,
    IReadOnlyList<SubmitOrder> Working,
    IReadOnlyList<Fill> Fills,
    long ExecutionSequence,
    long BarsSeen,
    IReadOnlyList<BrokerMessage> Messages);

/// <summary>
/// The simulated broker's own side, in its own SQLite file (<c>simulated-broker.db</c> beside the database;
/// never our tables): the requests it received, its orders and their state, its executions and, per
/// session, how far it had got. Written before the broker answers (a venue acknowledges what it has
/// stored), one transaction per request or per bar that changed something. WAL; <c>synchronous=FULL</c>
/// for the service, <c>NORMAL</c> for replays (a killed process loses nothing; a power cut may lose the
/// newest replay writes, which re-execution recreates).
/// </summary>
public sealed partial class SimulatedBrokerStore : IDisposable
{
    private const int QueuedBatch = 2048;
    private readonly SqliteConnection _connection;
    private readonly bool _durable;
    private readonly Statements _statements;

    // The current state of the orders this store wrote and that still work, by (session, client order id): a modification
    // applies to it instead of reading the row back and parsing its JSON (touched by the writer only: one commit at a time).
    private readonly Dictionary<(string Session, string Id), SubmitOrder> _working = [];
    private List<Change> _queued = new(QueuedBatch);
    private Task _writing = Task.CompletedTask;
    private Exception? _failure;

    /// <summary>Opens (creating when needed) the store.</summary>
    /// <param name="path">The file.</param>
    /// <param name="durable">True (the service): every change committed and fsynced before the broker answers. False (a replay): changes queued and committed in large transactions off the caller's thread.</param>
    public SimulatedBrokerStore(string path, bool durable)
    {
        _durable = durable;
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        _connection.Open();
        _connection.Execute($"PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA synchronous={(durable ? "FULL" : "NORMAL")};");
        _connection.Execute("""
            CREATE TABLE IF NOT EXISTS broker_sessions (
                session            TEXT PRIMARY KEY,
                bars_seen          INTEGER NOT NULL,
                execution_sequence INTEGER NOT NULL,
                updated_utc        TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS broker_messages (
                session         TEXT NOT NULL,
                seq             INTEGER NOT NULL,
                kind            TEXT NOT NULL CHECK (kind IN ('submit','cancel','modify')),
                client_order_id TEXT NOT NULL,
                outcome         TEXT NOT NULL,
                bars_seen       INTEGER NOT NULL,
                received_utc    TEXT NOT NULL,
                PRIMARY KEY (session, seq)
            );
            CREATE TABLE IF NOT EXISTS broker_orders (
                session         TEXT NOT NULL,
                client_order_id TEXT NOT NULL,
                arrival         INTEGER NOT NULL,
                order_json      TEXT NOT NULL,
                status          TEXT NOT NULL,
                PRIMARY KEY (session, client_order_id)
            );
            CREATE TABLE IF NOT EXISTS broker_fills (
                session         TEXT NOT NULL,
                execution_id    TEXT NOT NULL,
                client_order_id TEXT NOT NULL,
                symbol          TEXT NOT NULL,
                side            TEXT NOT NULL,
                quantity        TEXT NOT NULL,
                price           TEXT NOT NULL,
                commission      TEXT NOT NULL,
                commission_ccy  TEXT NOT NULL,
                event_utc       TEXT NOT NULL,
                PRIMARY KEY (session, execution_id)
            );
            """);
        _statements = new Statements(_connection);
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>Loads a session (empty when new).</summary>
    public BrokerSessionState Load(string session)
    {
        Flush();
        var head = _connection.QuerySingleOrDefault<(long Bars, long Executions)?>("SELECT bars_seen, execution_sequence FROM broker_sessions WHERE session=@session", new { session });
        var orders = _connection.Query<(string Id, string Json, string Status)>("SELECT client_order_id, order_json, status FROM broker_orders WHERE session=@session ORDER BY arrival", new { session }).ToList();
        var fills = _connection.Query<(string Exec, string Id, string Symbol, string Side, string Qty, string Price, string Commission, string Ccy, string At)>(
            "SELECT execution_id, client_order_id, symbol, side, quantity, price, commission, commission_ccy, event_utc FROM broker_fills WHERE session=@session ORDER BY rowid", new { session })
            .Select(f => new Fill(f.Exec, new ClientOrderId(f.Id), f.Symbol, Enum.Parse<OrderSide>(f.Side), Dec(f.Qty), Dec(f.Price), new Money(Dec(f.Commission), new Currency(f.Ccy)), Time(f.At)))
            .ToList();
        var messages = _connection.Query<(long Seq, string Kind, string Id, string Outcome)>("SELECT seq, kind, client_order_id, outcome FROM broker_messages WHERE session=@session ORDER BY seq", new { session })
            .Select(m => new BrokerMessage(m.Seq, m.Kind, m.Id, m.Outcome)).ToList();
        return new BrokerSessionState(
            orders.Select(o => new ClientOrderId(o.Id)).ToList(),
            orders.Where(o => o.Status == nameof(OrderStatus.Working)).Select(o => JsonSerializer.Deserialize(o.Json, BrokerJsonContext.Default.SubmitOrder)
                ?? throw new InvalidDataException($"order {o.Id} of session {session} in {Path} does not parse")).ToList(),
            fills,
            head?.Executions ?? 0,
            head?.Bars ?? 0,
            messages);
    }

    /// <summary>
    /// Writes what one request or one bar changed. A durable store (the service) commits it in its own transaction before
    /// it returns (the broker acknowledges what it has stored). A replay's store queues it and commits queued writes in
    /// large transactions on a background writer, in order (a backtest is re-runnable: a crash may lose the newest queued
    /// writes, and the resumed run's shadow then answers fewer requests before the broker takes over, from the last state it
    /// stored); every read (<see cref="Load"/>, <see cref="Positions"/>, <see cref="RequestCounts"/>) and <see cref="Flush"/>
    /// first waits for the queue. A failed background commit is rethrown by the next call.
    /// </summary>
    /// <param name="session">The session.</param>
    /// <param name="message">The request received (null for a bar).</param>
    /// <param name="submitted">The order of a submit that was not a duplicate (its row is created: working when accepted, else rejected).</param>
    /// <param name="events">What the broker answered (status changes, modifications, executions); copied.</param>
    /// <param name="barsSeen">Bars matched so far.</param>
    /// <param name="executionSequence">The execution counter after this change.</param>
    /// <param name="nowUtc">Receive time.</param>
    /// <exception cref="InvalidOperationException">An earlier background commit failed.</exception>
    public void Record(string session, BrokerMessage? message, SubmitOrder? submitted, IReadOnlyList<OrderEvent> events, long barsSeen, long executionSequence, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(events);
        ThrowIfFailed();
        var change = new Change(session, message, submitted, [.. events], barsSeen, executionSequence, nowUtc);
        if (_durable)
        {
            using var tx = _connection.BeginTransaction();
            Write(change, tx);
            tx.Commit();
            return;
        }

        _queued.Add(change);
        if (_queued.Count >= QueuedBatch)
        {
            StartBackgroundCommit();
        }
    }

    /// <summary>Commits every queued write (replay) and waits for it.</summary>
    /// <exception cref="InvalidOperationException">A background commit failed.</exception>
    public void Flush()
    {
        StartBackgroundCommit();
        _writing.GetAwaiter().GetResult();
        ThrowIfFailed();
    }

    private void StartBackgroundCommit()
    {
        if (_queued.Count == 0)
        {
            return;
        }

        var batch = _queued;
        _queued = new List<Change>(QueuedBatch);
        // One commit at a time, in order: each waits for the one before it.
        _writing = _writing.ContinueWith(_ => Commit(batch), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private void Commit(List<Change> batch)
    {
        if (Volatile.Read(ref _failure) is not null)
        {
            return;
        }

        try
        {
            using var tx = _connection.BeginTransaction();
            for (var i = 0; i < batch.Count; i++)
            {
                // The session row (how far the broker got) holds only the newest values: inside one transaction the last
                // change of each session writes it, the others would be overwritten before anyone could read them.
                Write(batch[i], tx, writeSession: i == batch.Count - 1 || !string.Equals(batch[i + 1].Session, batch[i].Session, StringComparison.Ordinal));
            }

            tx.Commit();
        }
        catch (Exception e) when (e is SqliteException or InvalidOperationException or JsonException)
        {
            Volatile.Write(ref _failure, e);
        }
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _failure) is { } e)
        {
            throw new InvalidOperationException($"the simulated broker's store {Path} failed to commit: {e.Message}", e);
        }
    }

    private void Write(Change c, SqliteTransaction tx, bool writeSession = true)
    {
        var (session, message, submitted, events, barsSeen, executionSequence, nowUtc) = c;
        if (message is not null)
        {
            _statements.Run(tx, _statements.Message, session, message.Sequence, message.Kind, message.ClientOrderId, message.Outcome, barsSeen, T(nowUtc));
        }

        if (submitted is not null)
        {
            var status = events.Any(e => e is OrderAccepted) ? OrderStatus.Working : OrderStatus.Rejected;
            _statements.Run(tx, _statements.Order, session, submitted.ClientOrderId.Value, message?.Sequence ?? 0, JsonSerializer.Serialize(submitted, BrokerJsonContext.Default.SubmitOrder), status.ToString());
            if (status == OrderStatus.Working)
            {
                _working[(session, submitted.ClientOrderId.Value)] = submitted;
            }
        }

        foreach (var e in events)
        {
            switch (e)
            {
                case OrderCancelled cancelled:
                    SetStatus(session, cancelled.ClientOrderId, OrderStatus.Cancelled, tx);
                    break;
                case OrderModified m:
                    var key = (session, m.ClientOrderId.Value);
                    if (!_working.TryGetValue(key, out var before))
                    {
                        // An order an earlier process of this session stored: read back from its row.
                        _statements.SelectOrder.Transaction = tx;
                        _statements.SelectOrder.Parameters[0].Value = session;
                        _statements.SelectOrder.Parameters[1].Value = m.ClientOrderId.Value;
                        var json = _statements.SelectOrder.ExecuteScalar() as string
                            ?? throw new InvalidOperationException($"modified order {m.ClientOrderId} has no row");
                        before = JsonSerializer.Deserialize(json, BrokerJsonContext.Default.SubmitOrder)
                            ?? throw new InvalidDataException($"order {m.ClientOrderId} of session {session} in {Path} does not parse");
                    }

                    var order = before with { StopPrice = m.StopPrice, LimitPrice = m.LimitPrice, Quantity = m.Quantity };
                    _working[key] = order;
                    if (_statements.Run(tx, _statements.OrderJson, JsonSerializer.Serialize(order, BrokerJsonContext.Default.SubmitOrder), session, m.ClientOrderId.Value) != 1)
                    {
                        throw new InvalidOperationException($"modified order {m.ClientOrderId} has no row");
                    }

                    break;
                case OrderFilled { Fill: var f } filled:
                    _statements.Run(tx, _statements.Fill, session, f.ExecutionId, f.ClientOrderId.Value, f.Symbol, f.Side.ToString(), D(f.Quantity), D(f.Price),
                        D(f.Commission.Amount), f.Commission.Currency.Code, T(f.EventTimeUtc));
                    if (filled.LeavesQuantity == 0m)
                    {
                        SetStatus(session, f.ClientOrderId, OrderStatus.Filled, tx);
                    }

                    break;
            }
        }

        if (writeSession)
        {
            _statements.Run(tx, _statements.Session, session, barsSeen, executionSequence, T(nowUtc));
        }
    }

    /// <summary>The broker's positions of a session (signed quantity per symbol, non-zero only), from its executions.</summary>
    public IReadOnlyDictionary<string, decimal> Positions(string session) =>
        FlushThen(() => _connection.Query<(string Symbol, string Side, string Qty)>("SELECT symbol, side, quantity FROM broker_fills WHERE session=@session", new { session })
            .GroupBy(f => f.Symbol, StringComparer.Ordinal)
            .Select(g => (g.Key, Quantity: g.Sum(f => (f.Side == nameof(OrderSide.Buy) ? 1 : -1) * Dec(f.Qty))))
            .Where(p => p.Quantity != 0m)
            .ToDictionary(p => p.Key, p => p.Quantity, StringComparer.Ordinal) as IReadOnlyDictionary<string, decimal>);

    /// <summary>Requests received and client order ids submitted more than once in a session (a resend the broker refused as a duplicate counts).</summary>
    public (long Requests, long SubmittedTwice) RequestCounts(string session) =>
        FlushThen(() => (_connection.ExecuteScalar<long>("SELECT COUNT(*) FROM broker_messages WHERE session=@session", new { session }),
         _connection.ExecuteScalar<long>("SELECT COUNT(*) FROM (SELECT client_order_id FROM broker_messages WHERE session=@session AND kind='submit' GROUP BY client_order_id HAVING COUNT(*) > 1)", new { session })));

    private T FlushThen<T>(Func<T> read)
    {
        Flush();
        return read();
    }

    /// <inheritdoc />
    /// <remarks>Commits what is queued first; a failure to do so is rethrown after the connection is closed (never a silent loss).</remarks>
    public void Dispose()
    {
        try
        {
            Flush();
        }
        finally
        {
            _statements.Dispose();
            _connection.Dispose();
        }
    }

    private void SetStatus(string session, ClientOrderId id, OrderStatus status, SqliteTransaction tx)
    {
        _working.Remove((session, id.Value));
        if (_statements.Run(tx, _statements.Status, status.ToString(), session, id.Value) != 1)
        {
            throw new InvalidOperationException($"simulated broker: order {id} of session {session} has no row to mark {status}");
        }
    }

    /// <summary>One queued change: a request or a bar and what the broker answered.</summary>
    private sealed record Change(string Session, BrokerMessage? Message, SubmitOrder? Submitted, OrderEvent[] Events, long BarsSeen, long ExecutionSequence, DateTimeOffset NowUtc);

    /// <summary>The prepared statements of the store's connection (positional parameters $1…).</summary>
    private sealed class Statements(SqliteConnection connection) : IDisposable
    {
        public SqliteCommand Message { get; } = Prepare(connection, "INSERT INTO broker_messages(session, seq, kind, client_order_id, outcome, bars_seen, received_utc) VALUES ($1,$2,$3,$4,$5,$6,$7)", 7);

        public SqliteCommand Order { get; } = Prepare(connection, "INSERT INTO broker_orders(session, client_order_id, arrival, order_json, status) VALUES ($1,$2,$3,$4,$5)", 5);

        public SqliteCommand Fill { get; } = Prepare(connection, """
            INSERT INTO broker_fills(session, execution_id, client_order_id, symbol, side, quantity, price, commission, commission_ccy, event_utc)
            VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
            """, 10);

        public SqliteCommand Status { get; } = Prepare(connection, "UPDATE broker_orders SET status=$1 WHERE session=$2 AND client_order_id=$3", 3);

        public SqliteCommand OrderJson { get; } = Prepare(connection, "UPDATE broker_orders SET order_json=$1 WHERE session=$2 AND client_order_id=$3", 3);

        public SqliteCommand SelectOrder { get; } = Prepare(connection, "SELECT order_json FROM broker_orders WHERE session=$1 AND client_order_id=$2", 2);

        public SqliteCommand Session { get; } = Prepare(connection, """
            INSERT INTO broker_sessions(session, bars_seen, execution_sequence, updated_utc) VALUES ($1,$2,$3,$4)
            ON CONFLICT(session) DO UPDATE SET bars_seen=excluded.bars_seen, execution_sequence=excluded.execution_sequence, updated_utc=excluded.updated_utc
            """, 4);

        public int Run(SqliteTransaction tx, SqliteCommand command, params object?[] values)
        {
            command.Transaction = tx;
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i] ?? DBNull.Value;
            }

            return command.ExecuteNonQuery();
        }

        public void Dispose()
        {
            Message.Dispose();
            Order.Dispose();
            Fill.Dispose();
            Status.Dispose();
            OrderJson.Dispose();
            SelectOrder.Dispose();
            Session.Dispose();
        }

        private static SqliteCommand Prepare(SqliteConnection c, string sql, int parameters)
        {
            var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            for (var i = 1; i <= parameters; i++)
            {
                cmd.Parameters.Add(new SqliteParameter("$" + i.ToString(CultureInfo.InvariantCulture), null));
            }

            return cmd;
        }
    }

    /// <summary>Compile-time JSON metadata for the stored order (the same JSON as reflection with default options: enums as numbers).</summary>
    [JsonSourceGenerationOptions(WriteIndented = false)]
    [JsonSerializable(typeof(SubmitOrder))]
    private sealed partial class BrokerJsonContext : JsonSerializerContext;

    private static string T(DateTimeOffset t) => t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static string D(decimal d) => d.ToString(CultureInfo.InvariantCulture);

    private static decimal Dec(string s) => decimal.Parse(s, NumberStyles.Number, CultureInfo.InvariantCulture);
}
