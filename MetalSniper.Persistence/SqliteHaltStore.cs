using System.Data;
using System.Globalization;
using Dapper;
using MetalSniper.Sentinel.Halts;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Persistence;

/// <summary>
/// The halts store in the <c>halts</c> table of the database: one hash chain (HMAC-SHA256 with a key outside the database when
/// given a <see cref="ChainKeyring"/>; plain SHA-256 before keys) over every record
/// (all scopes), appended inside <c>BEGIN IMMEDIATE</c> so the CLI and the running service can both
/// append, with <c>synchronous=FULL</c> so an acknowledged record survives a power cut (a replay's
/// store uses <c>NORMAL</c>: its records are committed in order but not fsynced one by one). The new
/// record links to the stored tail, which is checked first: a tampered tail refuses the append.
/// Thread-safe (one connection behind a lock; appends are rare).
/// </summary>
public sealed class SqliteHaltStore : IHaltStore, IDisposable
{
    /// <summary>The service's chain (restored on every start; the CLI acts on it).</summary>
    public const string ServiceTable = "halts";

    /// <summary>The replays' chain: a backtest never touches the service's chain or its confirmation code.</summary>
    public const string ReplayTable = "replay_halts";

    private readonly Database _database;
    private static readonly TimeSpan TrailingAnchorInterval = TimeSpan.FromSeconds(1);
    private long _anchorWrittenAt;
    private HaltRecord? _unanchored;
    private readonly bool _durable;
    private readonly SqliteConnection _connection;
    private readonly TimeProvider _wallClock;
    private readonly Lock _gate = new();
    private readonly string _table;
    private readonly string _anchorPath;
    private readonly ChainKeyring? _keyring;
    private readonly Dictionary<string, SqliteCommand> _queries = new(StringComparer.Ordinal);
    private SqliteRawStatement? _insert;

    /// <summary>Opens the store on <paramref name="database"/>.</summary>
    /// <param name="database">The database.</param>
    /// <param name="wallClock">Clock for <see cref="HaltRecord.RecordedUtc"/>.</param>
    /// <param name="durable">True (the service, the CLI): every append is fsynced before it returns. False (a fast replay): committed without a per-record fsync.</param>
    /// <param name="table"><see cref="ServiceTable"/> or <see cref="ReplayTable"/>.</param>
    /// <remarks>
    /// Truncation (deleting the newest records) leaves a chain that still links, so the store also keeps an
    /// anchor outside the database, <c>{database}.{table}.anchor</c> ("sequence hash" of the newest record it
    /// wrote, fsynced); a chain shorter than its anchor, or whose record at the anchor's sequence has another
    /// hash, does not verify.
    /// </remarks>
    /// <param name="keyring">
    /// The chain keys: new records are HMAC-SHA256 with its signing key and the anchor carries a MAC. When the anchor is not keyed
    /// yet, the whole chain is verified and, when intact, a keyed anchor is written for its end before any keyed record. Null: plain
    /// SHA-256 records (a keyed chain then refuses appends: they would downgrade it).
    /// </param>
    public SqliteHaltStore(Database database, TimeProvider wallClock, bool durable = true, string table = ServiceTable, ChainKeyring? keyring = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        if (table is not (ServiceTable or ReplayTable))
        {
            throw new ArgumentException($"unknown halts table '{table}'", nameof(table));
        }

        _wallClock = wallClock;
        _database = database;
        _table = table;
        _anchorPath = database.Path + "." + table + ".anchor";
        _connection = database.OpenConnection();
        _durable = durable;
        // A replay's store never checkpoints the WAL itself (its commits sit on the replay's hot path; the batched writer's
        // connection checkpoints, off that path).
        _connection.Execute(durable ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;");
        _keyring = keyring;
        if (keyring is not null && !AnchorFile.IsKeyed(_anchorPath) && Verify() is { IsIntact: true })
        {
            // Before the first keyed record: from now on the anchor is keyed, so a keyed chain without a keyed anchor is a replaced one.
            // A chain that does not verify is left as it is, for the kill switch's restore to refuse and name.
            lock (_gate)
            {
                var tail = Query($"SELECT {Columns} FROM {_table} ORDER BY seq DESC LIMIT 1").SingleOrDefault();
                AnchorFile.Write(_anchorPath, tail?.Sequence ?? 0, tail?.Hash ?? HaltChain.Genesis, flush: durable, neverBackwards: true, keyring);
            }
        }
    }

    /// <inheritdoc />
    public ChainKeyring? Keyring => _keyring;

    /// <summary>The anchor file beside the database.</summary>
    public string AnchorPath => _anchorPath;

    /// <inheritdoc />
    public IReadOnlyList<HaltRecord> Append(HaltDraft draft, long afterSequence, string? expectedTailHash = null)
    {
        ArgumentNullException.ThrowIfNull(draft);
        lock (_gate)
        lock (_database.WriteGate)
        {
            using var begin = _connection.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.ExecuteNonQuery();
            try
            {
                var tail = Query($"SELECT {Columns} FROM {_table} ORDER BY seq DESC LIMIT 1").SingleOrDefault();
                if (tail is not null && HaltChain.Check(tail, _keyring) is { } bad)
                {
                    throw new HaltStoreTamperedException(bad with { Problem = $"{bad.Problem} (the tail a new record would link to)" });
                }

                CheckAnchor(tail);
                if (expectedTailHash is not null && !string.Equals(tail?.Hash ?? HaltChain.Genesis, expectedTailHash, StringComparison.Ordinal))
                {
                    throw new HaltStoreChangedException($"the last record is now #{tail?.Sequence} …{(tail is null ? "" : ChainKeyring.DigestOf(tail.Hash)[^8..])}, not the one confirmed");
                }

                var record = HaltChain.Next(tail, draft, _wallClock.GetUtcNow(), _keyring);
                _insert ??= new SqliteRawStatement(_connection, $"""
                    INSERT INTO {_table}(seq, scope, action, level, key, source, reason, at_utc, until_utc, recorded_utc, prev_hash, hash)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                    """, 12, nullIsNull: true);
                _insert.Run(record.Sequence, draft.Scope, draft.Action.ToString(), (long)draft.Level, draft.Key, draft.Source, draft.Reason,
                    T(draft.AtUtc), draft.UntilUtc is { } u ? T(u) : null, T(record.RecordedUtc), record.PreviousHash, record.Hash);
                var since = Query($"SELECT {Columns} FROM {_table} WHERE seq > $1 ORDER BY seq", afterSequence);
                using var commit = _connection.CreateCommand();
                commit.CommandText = "COMMIT";
                commit.ExecuteNonQuery();
                WriteAnchor(record);
                return since;
            }
            catch
            {
                using var rollback = _connection.CreateCommand();
                rollback.CommandText = "ROLLBACK";
                rollback.ExecuteNonQuery();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<HaltRecord> ReadSince(long afterSequence)
    {
        lock (_gate)
        {
            var max = _connection.ExecuteScalar<long?>($"SELECT MAX(seq) FROM {_table}") ?? 0;
            if (max < afterSequence)
            {
                throw new HaltStoreTamperedException(new HaltChainVerification(max, max + 1, $"the chain ends at record {max} but record {afterSequence} was read before (records were deleted)"));
            }

            for (var attempt = 1; ; attempt++)
            {
                var records = Query($"SELECT {Columns} FROM {_table} WHERE seq > $1 ORDER BY seq", afterSequence);
                try
                {
                    CheckAnchor(max == 0 ? null : afterSequence == 0 ? records.LastOrDefault() : Query($"SELECT {Columns} FROM {_table} WHERE seq = $1", max).SingleOrDefault());
                    return records;
                }
                catch (HaltStoreTamperedException) when (attempt < 3 && (_connection.ExecuteScalar<long?>($"SELECT MAX(seq) FROM {_table}") ?? 0) > max)
                {
                    // Another process (the service, the CLI) appended and anchored a record after this read: the anchor is newer
                    // than the chain as read, not than the chain. Read again; a chain really shorter than its anchor stays so.
                    max = _connection.ExecuteScalar<long?>($"SELECT MAX(seq) FROM {_table}") ?? 0;
                }
            }
        }
    }

    /// <summary>Verifies the whole chain, and that it is not shorter than its anchor.</summary>
    public HaltChainVerification Verify()
    {
        try
        {
            return HaltChain.Verify(ReadSince(0), _keyring);
        }
        catch (HaltStoreTamperedException e)
        {
            return e.Verification;
        }
    }

    /// <summary>The anchor must not be newer than the chain, and the record at its sequence must carry its hash.</summary>
    private void CheckAnchor(HaltRecord? tail)
    {
        var last = tail?.Sequence ?? 0;
        var problem = AnchorFile.Check(_anchorPath, last,
            seq => seq == last ? tail?.Hash : Query($"SELECT {Columns} FROM {_table} WHERE seq = $1", seq).SingleOrDefault()?.Hash, "the chain", "record", "records",
            _keyring, ChainKeyring.IsKeyed(tail?.Hash));
        if (problem is { } p)
        {
            throw new HaltStoreTamperedException(new HaltChainVerification(last, p.Sequence, p.Problem) { KeyMissing = p.KeyMissing });
        }
    }

    /// <summary>
    /// Anchors the newest record, fsynced; never moves the anchor back (another process may have written a newer one). A
    /// replay's store (not durable) lets the anchor trail the chain, as the journal's does: rewritten at most once a second
    /// and on dispose, without fsync (a file rename costs ~1.5 ms here, and the sentinel appends on the replay's thread). A
    /// trailing anchor still catches truncation below it; it only ever has to be no newer than the chain.
    /// </summary>
    private void WriteAnchor(HaltRecord record)
    {
        if (!_durable && _wallClock.GetElapsedTime(_anchorWrittenAt) < TrailingAnchorInterval)
        {
            _unanchored = record;
            return;
        }

        AnchorFile.Write(_anchorPath, record.Sequence, record.Hash, flush: _durable, neverBackwards: true, _keyring);
        _unanchored = null;
        _anchorWrittenAt = _wallClock.GetTimestamp();
    }

    /// <inheritdoc />
    /// <remarks>A replay's store anchors its newest record first.</remarks>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_unanchored is { } record)
            {
                AnchorFile.Write(_anchorPath, record.Sequence, record.Hash, flush: false, neverBackwards: true, _keyring);
                _unanchored = null;
            }
        }

        _insert?.Dispose();
        foreach (var query in _queries.Values)
        {
            query.Dispose();
        }

        _connection.Dispose();
    }

    // Every record's columns, in the order Query reads them.
    private const string Columns = "seq, scope, action, level, key, source, reason, at_utc, until_utc, recorded_utc, prev_hash, hash";

    /// <summary>
    /// The records <paramref name="sql"/> selects (<see cref="Columns"/>; <c>$1</c> is <paramref name="p"/> when given), read
    /// through a statement prepared once per store: an append reads the tail and the records since, on the replay's thread,
    /// and an ad hoc query's preparation and mapping cost more than the append itself. Callers hold <c>_gate</c> (or construct).
    /// </summary>
    private List<HaltRecord> Query(string sql, long? p = null)
    {
        if (!_queries.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            if (p is not null)
            {
                command.Parameters.Add(new SqliteParameter("$1", DBNull.Value));
            }

            command.Prepare();
            _queries.Add(sql, command);
        }

        if (p is { } value)
        {
            command.Parameters[0].Value = value;
        }

        var records = new List<HaltRecord>();
        using var r = command.ExecuteReader();
        while (r.Read())
        {
            records.Add(new HaltRecord(r.GetInt64(0),
                new HaltDraft(r.GetString(1), Enum.Parse<HaltAction>(r.GetString(2)), (KillLevel)r.GetInt64(3), r.GetString(4), r.GetString(5), r.GetString(6),
                    P(r.GetString(7)), r.IsDBNull(8) ? null : P(r.GetString(8))),
                P(r.GetString(9)), r.GetString(10), r.GetString(11)));
        }

        return records;
    }

    private static string T(DateTimeOffset t) => t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset P(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
