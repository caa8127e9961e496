using System.Data;
using Dapper;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Persistence;

/// <summary>
/// The SQLite database: WAL, foreign keys on, versioned schema migrations applied in order on
/// open (each in its own transaction, recorded in <c>schema_version</c>). One writer connection
/// belongs to <see cref="PersistenceWriter"/>; readers open their own connections.
/// </summary>
public sealed class Database
{
    /// <summary>
    /// Held by this process's writers (the batched writer, the halts store) around each write transaction: they queue on it
    /// and wake as soon as the other commits, instead of meeting SQLite's busy handler, which backs off by sleeping
    /// (1, 2, 5, 10 … ms) and made every halt the sentinel recorded during a large batch wait milliseconds. Other processes
    /// (the CLI's <c>kill</c>) still meet the busy timeout.
    /// </summary>
    public Lock WriteGate { get; } = new();

    private static readonly (int Version, string Description, string Sql)[] Migrations =
    [
        (1, "runs, decisions, orders, fills, positions, ingest rejections", """
            CREATE TABLE runs (
                run_id        TEXT PRIMARY KEY,
                started_utc   TEXT NOT NULL,
                ended_utc     TEXT,
                mode          TEXT NOT NULL,
                source        TEXT NOT NULL,
                broker        TEXT NOT NULL,
                exit_status   TEXT
            );
            CREATE TABLE decisions (
                decision_id   TEXT PRIMARY KEY,
                run_id        TEXT NOT NULL REFERENCES runs(run_id),
                source        TEXT NOT NULL,
                symbol        TEXT NOT NULL,
                kind          TEXT NOT NULL,
                outcome       TEXT NOT NULL CHECK (outcome IN ('Taken','Vetoed','Denied')),
                reason        TEXT NOT NULL,
                inputs_json   TEXT NOT NULL,
                event_utc     TEXT NOT NULL,
                recorded_utc  TEXT NOT NULL
            );
            CREATE INDEX ix_decisions_run ON decisions(run_id, event_utc);
            CREATE TABLE orders (
                client_order_id TEXT PRIMARY KEY,
                decision_id     TEXT NOT NULL REFERENCES decisions(decision_id),
                run_id          TEXT NOT NULL REFERENCES runs(run_id),
                symbol          TEXT NOT NULL,
                side            TEXT NOT NULL CHECK (side IN ('Buy','Sell')),
                quantity        TEXT NOT NULL,
                order_type      TEXT NOT NULL,
                limit_price     TEXT,
                stop_price      TEXT,
                purpose         TEXT NOT NULL,
                time_in_force   TEXT NOT NULL,
                source          TEXT NOT NULL,
                status          TEXT NOT NULL,
                status_reason   TEXT,
                broker_order_id TEXT,
                decision_utc    TEXT NOT NULL,
                created_utc     TEXT NOT NULL,
                updated_utc     TEXT NOT NULL
            );
            CREATE INDEX ix_orders_decision ON orders(decision_id);
            CREATE TABLE fills (
                execution_id    TEXT PRIMARY KEY,
                client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
                symbol          TEXT NOT NULL,
                side            TEXT NOT NULL,
                quantity        TEXT NOT NULL,
                price           TEXT NOT NULL,
                commission      TEXT NOT NULL,
                commission_ccy  TEXT NOT NULL,
                event_utc       TEXT NOT NULL,
                received_utc    TEXT NOT NULL
            );
            CREATE INDEX ix_fills_order ON fills(client_order_id);
            CREATE TABLE positions (
                run_id          TEXT NOT NULL REFERENCES runs(run_id),
                symbol          TEXT NOT NULL,
                currency        TEXT NOT NULL,
                quantity        TEXT NOT NULL,
                average_price   TEXT NOT NULL,
                realized_pnl    TEXT NOT NULL,
                commissions     TEXT NOT NULL,
                updated_utc     TEXT NOT NULL,
                PRIMARY KEY (run_id, symbol)
            );
            CREATE TABLE ingest_rejections (
                id        INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id    TEXT NOT NULL REFERENCES runs(run_id),
                source    TEXT NOT NULL,
                line      INTEGER NOT NULL,
                symbol    TEXT NOT NULL,
                reason    TEXT NOT NULL,
                detail    TEXT NOT NULL
            );
            """),
        (2, "tamper-evident halts stores (service, replays), gate denials", HaltsTable("halts") + HaltsTable("replay_halts") + """
            CREATE TABLE gate_denials (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id          TEXT NOT NULL REFERENCES runs(run_id),
                client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
                decision_id     TEXT NOT NULL,
                gate            TEXT NOT NULL,
                reason          TEXT NOT NULL,
                detail          TEXT NOT NULL,
                values_json     TEXT NOT NULL,
                at_utc          TEXT NOT NULL
            );
            CREATE INDEX ix_gate_denials_run ON gate_denials(run_id, reason);
            """),
        (3, "orders carry the sequence of their journal entry", """
            ALTER TABLE orders ADD COLUMN journal_seq INTEGER;
            """),
        (4, "run attempts (a crashed replay resumes under its run id); writes a re-execution repeats are idempotent", """
            CREATE TABLE run_attempts (
                run_id        TEXT NOT NULL REFERENCES runs(run_id),
                attempt       INTEGER NOT NULL CHECK (attempt >= 1),
                started_utc   TEXT NOT NULL,
                PRIMARY KEY (run_id, attempt)
            );
            INSERT INTO run_attempts(run_id, attempt, started_utc) SELECT run_id, 1, started_utc FROM runs;
            CREATE UNIQUE INDEX ux_gate_denials_order ON gate_denials(client_order_id);
            CREATE UNIQUE INDEX ux_ingest_rejections_line ON ingest_rejections(run_id, source, line, reason);
            """),
        (5, "every cost line of a fill (commission, stamp duty, transfer tax, spread, FX conversion, borrow) in its currency and the base", """
            CREATE TABLE fill_costs (
                execution_id  TEXT NOT NULL REFERENCES fills(execution_id),
                kind          TEXT NOT NULL,
                amount        TEXT NOT NULL,
                currency      TEXT NOT NULL,
                amount_base   TEXT NOT NULL,
                base_currency TEXT NOT NULL,
                PRIMARY KEY (execution_id, kind)
            );
            """),
        (6, "feed marks: how far a service run on a replayed feed got, and which halts records it had applied there (a restart resumes the run)", """
            CREATE TABLE feed_marks (
                run_id             TEXT NOT NULL REFERENCES runs(run_id),
                records            INTEGER NOT NULL CHECK (records >= 0),
                last_bar_close_utc TEXT,
                halt_sequence      INTEGER NOT NULL CHECK (halt_sequence >= 0),
                config_hash        TEXT NOT NULL,
                recorded_utc       TEXT NOT NULL,
                PRIMARY KEY (run_id, records)
            );
            """),
        (7, "carry costs (borrow fees on shorts, storage on longs of spot metals, one row per position and accrual day); positions name their P&L gross and carry their carry", """
            CREATE TABLE carry_costs (
                run_id        TEXT NOT NULL REFERENCES runs(run_id),
                symbol        TEXT NOT NULL,
                day           TEXT NOT NULL,
                cut_utc       TEXT NOT NULL,
                kind          TEXT NOT NULL CHECK (kind IN ('Borrow','Storage')),
                quantity      TEXT NOT NULL,
                mark          TEXT NOT NULL,
                notional_usd  TEXT NOT NULL,
                rate_annual   TEXT NOT NULL,
                amount_usd    TEXT NOT NULL,
                PRIMARY KEY (run_id, symbol, day)
            );
            ALTER TABLE positions RENAME COLUMN realized_pnl TO realized_pnl_gross;
            ALTER TABLE positions ADD COLUMN carry TEXT NOT NULL DEFAULT '0';
            """),
        (8, "the brain's input stream on a live feed (every bar it handed a strategy and every order event it applied, in consumption order): a restart re-executes it", """
            CREATE TABLE brain_inputs (
                run_id   TEXT NOT NULL REFERENCES runs(run_id),
                seq      INTEGER NOT NULL CHECK (seq >= 1),
                kind     TEXT NOT NULL,
                symbol   TEXT NOT NULL,
                utc      TEXT NOT NULL,
                levels   TEXT NOT NULL,
                payload  TEXT NOT NULL,
                PRIMARY KEY (run_id, seq)
            );
            """),
    ];

    /// <summary>A hash-chained halts table (the service's and the replays' have the same shape).</summary>
    private static string HaltsTable(string name) => $"""
        CREATE TABLE {name} (
            seq           INTEGER PRIMARY KEY,
            scope         TEXT NOT NULL,
            action        TEXT NOT NULL CHECK (action IN ('Escalate','Resume','Pause','Clear')),
            level         INTEGER NOT NULL CHECK (level BETWEEN 0 AND 2),
            key           TEXT NOT NULL,
            source        TEXT NOT NULL,
            reason        TEXT NOT NULL,
            at_utc        TEXT NOT NULL,
            until_utc     TEXT,
            recorded_utc  TEXT NOT NULL,
            prev_hash     TEXT NOT NULL,
            hash          TEXT NOT NULL
        );
        CREATE INDEX ix_{name}_scope ON {name}(scope, seq);

        """;

    /// <summary>Opens (creating when needed) the database at <paramref name="path"/> and applies pending migrations.</summary>
    /// <param name="path">Database file.</param>
    /// <param name="clock">Clock for migration timestamps.</param>
    /// <exception cref="InvalidOperationException">The file holds a schema newer than this build knows.</exception>
    public Database(string path, TimeProvider clock)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        ConnectionString = new SqliteConnectionStringBuilder { DataSource = Path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, ForeignKeys = true }.ToString();
        using var connection = OpenConnection();
        connection.Execute("PRAGMA journal_mode=WAL;");
        Migrate(connection, clock);
    }

    /// <summary>Opens an existing database (the CLI: a kill must reach the database the service uses, never a new empty one).</summary>
    /// <exception cref="FileNotFoundException">No database file at <paramref name="path"/>.</exception>
    public static Database OpenExisting(string path, TimeProvider clock)
    {
        var full = System.IO.Path.GetFullPath(path);
        return File.Exists(full)
            ? new Database(full, clock)
            : throw new FileNotFoundException($"no database at {full}: is this the path the service uses (Persistence:DatabasePath, --db, working directory)?", full);
    }

    /// <summary>Full path of the database file.</summary>
    public string Path { get; }

    /// <summary>Connection string (foreign keys on).</summary>
    public string ConnectionString { get; }

    /// <summary>Latest schema version this build knows.</summary>
    public static int LatestVersion => Migrations[^1].Version;

    /// <summary>Opens a new connection with foreign keys on and a busy timeout.</summary>
    public SqliteConnection OpenConnection()
    {
        var c = new SqliteConnection(ConnectionString);
        c.Open();
        c.Execute("PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL;");
        return c;
    }

    /// <summary>The schema version in the file.</summary>
    public int SchemaVersion()
    {
        using var c = OpenConnection();
        return c.ExecuteScalar<int>("SELECT COALESCE(MAX(version),0) FROM schema_version");
    }

    private static void Migrate(SqliteConnection connection, TimeProvider clock)
    {
        connection.Execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_utc TEXT NOT NULL);");
        var current = connection.ExecuteScalar<int>("SELECT COALESCE(MAX(version),0) FROM schema_version");
        if (current > LatestVersion)
        {
            throw new InvalidOperationException($"database schema version {current} is newer than this build knows ({LatestVersion}); refusing to run against it");
        }

        foreach (var (version, description, sql) in Migrations.Where(m => m.Version > current))
        {
            using var tx = connection.BeginTransaction(IsolationLevel.Serializable);
            connection.Execute(sql, transaction: tx);
            connection.Execute("INSERT INTO schema_version(version, description, applied_utc) VALUES (@version, @description, @applied)",
                new { version, description, applied = clock.GetUtcNow().ToString("O") }, tx);
            tx.Commit();
        }
    }
}
