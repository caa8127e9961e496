using System.Globalization;
using System.Text.Json;
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
public sealed class SimulatedBrokerStore : IDisposable
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    private readonly SqliteConnection _connection;

    /// <summary>Opens (creating when needed) the store.</summary>
    /// <param name="path">The file.</param>
    /// <param name="durable">True: fsync every commit.</param>
    public SimulatedBrokerStore(string path, bool durable)
    {
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
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>Loads a session (empty when new).</summary>
    public BrokerSessionState Load(string session)
    {
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
            orders.Where(o => o.Status == nameof(OrderStatus.Working)).Select(o => JsonSerializer.Deserialize<SubmitOrder>(o.Json, Json)
                ?? throw new InvalidDataException($"order {o.Id} of session {session} in {Path} does not parse")).ToList(),
            fills,
            head?.Executions ?? 0,
            head?.Bars ?? 0,
            messages);
    }

    /// <summary>Writes what one request or one bar changed, in one transaction.</summary>
    /// <param name="session">The session.</param>
    /// <param name="message">The request received (null for a bar).</param>
    /// <param name="submitted">The order of a submit that was not a duplicate (its row is created: working when accepted, else rejected).</param>
    /// <param name="events">What the broker answered (status changes, modifications, executions).</param>
    /// <param name="barsSeen">Bars matched so far.</param>
    /// <param name="executionSequence">The execution counter after this change.</param>
    /// <param name="nowUtc">Receive time.</param>
    public void Record(string session, BrokerMessage? message, SubmitOrder? submitted, IReadOnlyList<OrderEvent> events, long barsSeen, long executionSequence, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(events);
        using var tx = _connection.BeginTransaction();
        if (message is not null)
        {
            _connection.Execute("INSERT INTO broker_messages(session, seq, kind, client_order_id, outcome, bars_seen, received_utc) VALUES (@session,@seq,@kind,@id,@outcome,@bars,@at)",
                new { session, seq = message.Sequence, kind = message.Kind, id = message.ClientOrderId, outcome = message.Outcome, bars = barsSeen, at = T(nowUtc) }, tx);
        }

        if (submitted is not null)
        {
            var status = events.Any(e => e is OrderAccepted) ? OrderStatus.Working : OrderStatus.Rejected;
            _connection.Execute("INSERT INTO broker_orders(session, client_order_id, arrival, order_json, status) VALUES (@session,@id,@arrival,@json,@status)",
                new { session, id = submitted.ClientOrderId.Value, arrival = message?.Sequence ?? 0, json = JsonSerializer.Serialize(submitted, Json), status = status.ToString() }, tx);
        }

        foreach (var e in events)
        {
            switch (e)
            {
                case OrderCancelled c:
                    SetStatus(session, c.ClientOrderId, OrderStatus.Cancelled, tx);
                    break;
                case OrderModified m:
                    var json = _connection.ExecuteScalar<string>("SELECT order_json FROM broker_orders WHERE session=@session AND client_order_id=@id", new { session, id = m.ClientOrderId.Value }, tx)
                        ?? throw new InvalidOperationException($"modified order {m.ClientOrderId} has no row");
                    var order = JsonSerializer.Deserialize<SubmitOrder>(json, Json)! with { StopPrice = m.StopPrice, LimitPrice = m.LimitPrice, Quantity = m.Quantity };
                    _connection.Execute("UPDATE broker_orders SET order_json=@json WHERE session=@session AND client_order_id=@id",
                        new { session, id = m.ClientOrderId.Value, json = JsonSerializer.Serialize(order, Json) }, tx);
                    break;
                case OrderFilled { Fill: var f } filled:
                    _connection.Execute("""
                        INSERT INTO broker_fills(session, execution_id, client_order_id, symbol, side, quantity, price, commission, commission_ccy, event_utc)
                        VALUES (@session,@exec,@id,@symbol,@side,@qty,@price,@commission,@ccy,@at)
                        """, new
                    {
                        session, exec = f.ExecutionId, id = f.ClientOrderId.Value, symbol = f.Symbol, side = f.Side.ToString(), qty = D(f.Quantity), price = D(f.Price),
                        commission = D(f.Commission.Amount), ccy = f.Commission.Currency.Code, at = T(f.EventTimeUtc),
                    }, tx);
                    if (filled.LeavesQuantity == 0m)
                    {
                        SetStatus(session, f.ClientOrderId, OrderStatus.Filled, tx);
                    }

                    break;
            }
        }

        _connection.Execute("""
            INSERT INTO broker_sessions(session, bars_seen, execution_sequence, updated_utc) VALUES (@session,@bars,@exec,@at)
            ON CONFLICT(session) DO UPDATE SET bars_seen=excluded.bars_seen, execution_sequence=excluded.execution_sequence, updated_utc=excluded.updated_utc
            """, new { session, bars = barsSeen, exec = executionSequence, at = T(nowUtc) }, tx);
        tx.Commit();
    }

    /// <summary>The broker's positions of a session (signed quantity per symbol, non-zero only), from its executions.</summary>
    public IReadOnlyDictionary<string, decimal> Positions(string session) =>
        _connection.Query<(string Symbol, string Side, string Qty)>("SELECT symbol, side, quantity FROM broker_fills WHERE session=@session", new { session })
            .GroupBy(f => f.Symbol, StringComparer.Ordinal)
            .Select(g => (g.Key, Quantity: g.Sum(f => (f.Side == nameof(OrderSide.Buy) ? 1 : -1) * Dec(f.Qty))))
            .Where(p => p.Quantity != 0m)
            .ToDictionary(p => p.Key, p => p.Quantity, StringComparer.Ordinal);

    /// <summary>Requests received and client order ids submitted more than once in a session (a resend the broker refused as a duplicate counts).</summary>
    public (long Requests, long SubmittedTwice) RequestCounts(string session) =>
        (_connection.ExecuteScalar<long>("SELECT COUNT(*) FROM broker_messages WHERE session=@session", new { session }),
         _connection.ExecuteScalar<long>("SELECT COUNT(*) FROM (SELECT client_order_id FROM broker_messages WHERE session=@session AND kind='submit' GROUP BY client_order_id HAVING COUNT(*) > 1)", new { session }));

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    private void SetStatus(string session, ClientOrderId id, OrderStatus status, SqliteTransaction tx)
    {
        if (_connection.Execute("UPDATE broker_orders SET status=@status WHERE session=@session AND client_order_id=@id", new { session, id = id.Value, status = status.ToString() }, tx) != 1)
        {
            throw new InvalidOperationException($"simulated broker: order {id} of session {session} has no row to mark {status}");
        }
    }

    private static string T(DateTimeOffset t) => t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static string D(decimal d) => d.ToString(CultureInfo.InvariantCulture);

    private static decimal Dec(string s) => decimal.Parse(s, NumberStyles.Number, CultureInfo.InvariantCulture);
}
