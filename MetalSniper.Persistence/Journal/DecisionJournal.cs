using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Dapper;
using MetalSniper.Sentinel.Halts;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Persistence.Journal;

/// <summary>One entry of the decision journal. Times UTC.</summary>
/// <param name="Sequence">1-based position in the chain.</param>
/// <param name="AtUtc">Wall-clock time of the append.</param>
/// <param name="Kind">What it records ("Decision", "OrderSubmitted", "OrderFilled", "GateDenial", "Halt", "ConfigLoaded", "Fallback", …).</param>
/// <param name="CorrelationId">What ties a chain of events together (the decision id: decision → orders → fills).</param>
/// <param name="CausationId">The direct cause (an order's decision, a fill's order).</param>
/// <param name="Payload">JSON of the recorded object.</param>
/// <param name="PreviousHash">Hash of entry <c>Sequence − 1</c> (64 zeros for the first).</param>
/// <param name="Hash">The hash of the previous hash and the canonical content: HMAC-SHA256 with a chain key (<c>hmac:&lt;key id&gt;:&lt;hex&gt;</c>), or plain SHA-256 (64 hex digits: journals written before keys).</param>
public sealed record JournalEntry(long Sequence, DateTimeOffset AtUtc, string Kind, string CorrelationId, string CausationId, string Payload, string PreviousHash, string Hash)
{
    /// <summary>The previous hash of the first entry.</summary>
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>
    /// <c>SHA-256(previousHash ‖ '\n' ‖ sequence ‖ '\n' ‖ at (round-trip "O") ‖ '\n' ‖ kind ‖ '\n' ‖ correlation ‖ '\n' ‖ causation ‖ '\n' ‖ payload)</c>,
    /// lower-case hex. Any change to a field, or to the order of entries, changes it.
    /// </summary>
    /// <remarks>The fields are encoded into one pooled UTF-8 buffer (no joined string, no per-entry array): the writer hashes
    /// every entry of a replay, so this runs tens of thousands of times a second.</remarks>
    public static string ComputeHash(string previousHash, long sequence, DateTimeOffset atUtc, string kind, string correlationId, string causationId, string payload) =>
        ComputeHash(previousHash, sequence, atUtc, kind, correlationId, causationId, payload, null);

    /// <summary>
    /// The entry's hash over the same canonical content as the plain one: HMAC-SHA256 with <paramref name="keyring"/>'s key
    /// <paramref name="keyId"/> (default: its signing key) as <c>hmac:&lt;key id&gt;:&lt;hex&gt;</c>, or plain SHA-256 when
    /// <paramref name="keyring"/> is null.
    /// </summary>
    /// <exception cref="KeyNotFoundException"><paramref name="keyId"/> is not in the keyring.</exception>
    public static string ComputeHash(string previousHash, long sequence, DateTimeOffset atUtc, string kind, string correlationId, string causationId, string payload, ChainKeyring? keyring, string? keyId = null)
    {
        ArgumentNullException.ThrowIfNull(previousHash);
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(correlationId);
        ArgumentNullException.ThrowIfNull(causationId);
        ArgumentNullException.ThrowIfNull(payload);
        // 20 characters hold any long, 28 the round-trip "O" form of a UTC time.
        Span<char> scratch = stackalloc char[64];
        if (!sequence.TryFormat(scratch, out var seqLength, default, CultureInfo.InvariantCulture)
            || !atUtc.UtcDateTime.TryFormat(scratch[seqLength..], out var atLength, "O", CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("a journal entry's sequence and time did not fit their formatting buffer");
        }

        var seq = scratch[..seqLength];
        var at = scratch.Slice(seqLength, atLength);
        var utf8 = Encoding.UTF8;
        var length = utf8.GetByteCount(previousHash) + utf8.GetByteCount(seq) + utf8.GetByteCount(at) + utf8.GetByteCount(kind)
            + utf8.GetByteCount(correlationId) + utf8.GetByteCount(causationId) + utf8.GetByteCount(payload) + 6;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var n = 0;
            void Put(ReadOnlySpan<char> field, bool separator)
            {
                n += utf8.GetBytes(field, buffer.AsSpan(n));
                if (separator)
                {
                    buffer[n++] = (byte)'\n';
                }
            }

            Put(previousHash, true);
            Put(seq, true);
            Put(at, true);
            Put(kind, true);
            Put(correlationId, true);
            Put(causationId, true);
            Put(payload, false);
            if (keyring is not null)
            {
                return keyring.Sign(buffer.AsSpan(0, n), keyId);
            }

            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(buffer.AsSpan(0, n), hash);
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>True when the hash (plain SHA-256) matches the content and the given previous hash.</summary>
    public bool Verifies(string expectedPreviousHash) => Verifies(expectedPreviousHash, null);

    /// <summary>True when the entry links to <paramref name="expectedPreviousHash"/> and its hash, under its scheme, matches its content (see <see cref="Check"/>).</summary>
    public bool Verifies(string expectedPreviousHash, ChainKeyring? keyring) => Check(expectedPreviousHash, keyring) is null;

    /// <summary>
    /// Checks the entry: it links to <paramref name="expectedPreviousHash"/>, obeys the scheme rules (<see cref="ChainKeyring.Admit"/>:
    /// no plain entry after a keyed one or after the keyring's keyed-since, a keyed one only with its key) and its hash matches.
    /// </summary>
    /// <returns>Null when it verifies; else what is wrong, and whether that is only a missing key.</returns>
    public (string Problem, bool KeyMissing)? Check(string expectedPreviousHash, ChainKeyring? keyring)
    {
        if (!string.Equals(PreviousHash, expectedPreviousHash, StringComparison.Ordinal))
        {
            return ($"entry {Sequence} does not link to entry {Sequence - 1}", false);
        }

        if (ChainKeyring.Admit(Hash, PreviousHash, AtUtc, keyring, $"entry {Sequence}") is { } refused)
        {
            return refused;
        }

        var keyed = ChainKeyring.IsKeyed(Hash);
        return ChainKeyring.SameHash(Hash, ComputeHash(PreviousHash, Sequence, AtUtc, Kind, CorrelationId, CausationId, Payload, keyed ? keyring : null, keyed ? ChainKeyring.KeyIdOf(Hash) : null))
            ? null
            : ($"entry {Sequence} does not match its hash (edited)", false);
    }
}

/// <summary>The result of verifying (part of) the journal.</summary>
/// <param name="Entries">Entries checked.</param>
/// <param name="FirstBadSequence">The first entry that does not verify (null: intact).</param>
/// <param name="Problem">What is wrong there.</param>
/// <param name="Elapsed">How long the check took.</param>
public sealed record JournalVerification(long Entries, long? FirstBadSequence, string? Problem, TimeSpan Elapsed)
{
    /// <summary>True when every entry checked verified.</summary>
    public bool IsIntact => FirstBadSequence is null;

    /// <summary>True when the journal could not be verified because it is keyed and its key is not configured (not intact, but not evidence of tampering either).</summary>
    public bool KeyMissing { get; init; }
}

/// <summary>The journal's chain is broken: the system refuses to trade on it.</summary>
public sealed class JournalBrokenException(JournalVerification verification)
    : Exception($"the decision journal does not verify at sequence {verification.FirstBadSequence}: {verification.Problem}")
{
    /// <summary>The failed verification.</summary>
    public JournalVerification Verification { get; } = verification;
}

/// <summary>A journal entry's place and its durability.</summary>
/// <param name="Sequence">The entry's sequence number (assigned at append, in append order).</param>
/// <param name="Durable">Completes when the entry is committed (fsynced when the journal is durable) with the <see cref="TimeProvider.GetTimestamp"/> of the commit; faults when the journal failed.</param>
public readonly record struct JournalTicket(long Sequence, Task<long> Durable)
{
    /// <summary>True when a resumed run's append met an entry of its earlier attempts (nothing new was written).</summary>
    public bool Matched { get; init; }
}

/// <summary>
/// The hash-chained decision journal (HMAC-SHA256 with a key outside the database when given a <see cref="ChainKeyring"/>; plain SHA-256 before keys): its own SQLite file (WAL; <c>synchronous=FULL</c> for the service so an
/// acknowledged entry survives a power cut), one writer thread that commits whatever has queued up in one
/// transaction (group commit), WAL checkpoints on a timer off the commit path (<c>wal_autocheckpoint=0</c>),
/// and an anchor file beside it ("sequence hash" of the newest committed entry) so deleting the newest entries is
/// caught too. Appends are non-blocking and ordered: the sequence is assigned under a lock in append order, so an
/// entry appended before an action is before it in the chain; callers that must not act before the record is
/// durable (an order at a real broker) await <see cref="JournalTicket.Durable"/>. Opening verifies the tail and
/// refuses a broken chain. A failed commit is fatal: every pending ticket faults and <see cref="Fault"/> is set.
/// </summary>
public sealed class DecisionJournal : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = RecordJson.Combined;
    private readonly string _connectionString;
    private readonly string _anchorPath;
    private readonly bool _durable;
    private readonly int _maxBatch;
    private readonly TimeProvider _wallClock;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = true });
    private readonly Lock _append = new();
    private readonly Thread _writer;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer _checkpoints;
    private readonly Action<Exception> _onFault;
    private readonly ILogger _logger;
    private readonly TimeSpan _linger;
    private readonly bool _serializeOnWriter;
    private readonly ChainKeyring? _keyring;
    private int _flushRequested;
    private static readonly TimeSpan AnchorInterval = TimeSpan.FromMilliseconds(100);
    private long _nextSequence;
    private long _anchorWritten;
    private long _committed;
    private long _batches;
    private Exception? _fault;
    private Dictionary<string, Queue<long>>? _earlier;
    private int _toMatch;
    private long _matched;

    /// <summary>Opens (creating when needed) the journal at <paramref name="path"/>, verifies its tail and starts the writer.</summary>
    /// <param name="path">The journal file.</param>
    /// <param name="durable">True: <c>synchronous=FULL</c> (the service). False: <c>NORMAL</c> (a replay: ordered, not fsynced per commit).</param>
    /// <param name="verifyTail">Entries at the end of the chain verified on open (0: none; the anchor is always checked).</param>
    /// <param name="maxBatch">Largest group commit.</param>
    /// <param name="checkpointInterval">How often the WAL is checkpointed (off the commit path).</param>
    /// <param name="wallClock">Clock for entry times.</param>
    /// <param name="onFault">Called once when a commit fails (the host stops: nothing may happen unrecorded).</param>
    /// <param name="logger">Logger (checkpoint trouble).</param>
    /// <exception cref="JournalBrokenException">The tail or the anchor does not verify.</exception>
    /// <param name="linger">
    /// How long the writer lets entries gather after a wake before it commits them (zero: commit at once, the service's group
    /// commit). A replay lingers so that its entries go in a few large transactions and the writer thread does not wake (and
    /// spin) once per entry, competing with the replay for a core; the chain is the same either way.
    /// </param>
    /// <param name="serializeOnWriter">
    /// True (a replay): payloads are serialized to JSON by the writer thread, off the caller's path; they must then be
    /// immutable (records, as every payload the engine appends is). False: serialized at the append. A resumed run matches
    /// entries at the append and always serializes there.
    /// </param>
    /// <param name="keyring">
    /// The chain keys (outside the database): new entries are HMAC-SHA256 with its signing key, and the anchor carries a MAC; opening
    /// a journal whose anchor is not keyed yet writes a keyed anchor for its current end first. Null: plain SHA-256 entries (a keyed
    /// journal then refuses to open: it would be downgraded).
    /// </param>
    public DecisionJournal(string path, bool durable, int verifyTail, int maxBatch, TimeSpan checkpointInterval, TimeProvider wallClock, Action<Exception> onFault, ILogger logger,
        TimeSpan linger = default, bool serializeOnWriter = false, ChainKeyring? keyring = null)
    {
        _keyring = keyring;
        _linger = linger;
        _serializeOnWriter = serializeOnWriter;
        _logger = logger;
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _anchorPath = Path + ".anchor";
        _durable = durable;
        _maxBatch = maxBatch;
        _wallClock = wallClock;
        _onFault = onFault;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString();
        using (var c = Open())
        {
            c.Execute("PRAGMA journal_mode=WAL;");
            c.Execute("""
                CREATE TABLE IF NOT EXISTS journal (
                    seq            INTEGER PRIMARY KEY,
                    at_utc         TEXT NOT NULL,
                    kind           TEXT NOT NULL,
                    correlation_id TEXT NOT NULL,
                    causation_id   TEXT NOT NULL,
                    payload        TEXT NOT NULL,
                    prev_hash      TEXT NOT NULL,
                    hash           TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS ix_journal_correlation ON journal(correlation_id);
                """);
            var tailCheck = VerifyTail(c, verifyTail);
            if (!tailCheck.Verification.IsIntact)
            {
                throw new JournalBrokenException(tailCheck.Verification);
            }

            if (keyring is not null && !Persistence.AnchorFile.IsKeyed(_anchorPath))
            {
                // Before the first keyed entry: from now on the anchor is keyed, so a keyed chain without a keyed anchor is a replaced one.
                Persistence.AnchorFile.Write(_anchorPath, tailCheck.LastSequence, tailCheck.LastHash, flush: durable, neverBackwards: false, keyring);
            }

            _nextSequence = tailCheck.LastSequence + 1;
            LastHash = tailCheck.LastHash;
            _committed = tailCheck.LastSequence;
            TailVerification = tailCheck.Verification;
        }

        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "journal-writer" };
        _writer.Start();
        _checkpoints = wallClock.CreateTimer(static s => ((DecisionJournal)s!).Checkpoint(), this, checkpointInterval, checkpointInterval);
    }

    /// <summary>The journal file.</summary>
    public string Path { get; }

    /// <summary>The verification done on open.</summary>
    public JournalVerification TailVerification { get; }

    /// <summary>Hash of the newest committed entry.</summary>
    public string LastHash { get; private set; }

    /// <summary>Sequence of the newest committed entry.</summary>
    public long CommittedSequence => Interlocked.Read(ref _committed);

    /// <summary>Group commits so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Entries of earlier attempts still waiting to be met again by a resumed run (0 when not resuming).</summary>
    public int EntriesToMatch => Volatile.Read(ref _toMatch);

    /// <summary>Appends a resumed run met as entries of its earlier attempts (not written again).</summary>
    public long EntriesMatched => Interlocked.Read(ref _matched);

    /// <summary>
    /// For a resumed run that re-executes from the start: loads every entry since the run's first
    /// <c>RunStarted</c>; from now on an append whose kind, correlation, causation and payload equal such an
    /// entry (counted as a multiset) is not written again, and its ticket carries the earlier sequence, already
    /// durable. Everything else is appended as usual, after the earlier entries, so the chain is never rewritten.
    /// </summary>
    /// <param name="runId">The run being resumed.</param>
    /// <returns>The number of earlier entries loaded.</returns>
    public int MatchEarlierEntriesOf(string runId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        using var c = Open();
        var first = c.ExecuteScalar<long?>("SELECT MIN(seq) FROM journal WHERE kind='RunStarted' AND correlation_id=@runId", new { runId });
        var earlier = new Dictionary<string, Queue<long>>(StringComparer.Ordinal);
        var count = 0;
        if (first is { } from)
        {
            foreach (var (seq, kind, correlation, causation, payload) in c.Query<(long, string, string, string, string)>(
                "SELECT seq, kind, correlation_id, causation_id, payload FROM journal WHERE seq >= @from ORDER BY seq", new { from }))
            {
                var key = MatchKey(kind, correlation, causation, payload);
                if (!earlier.TryGetValue(key, out var q))
                {
                    earlier[key] = q = new Queue<long>(1);
                }

                q.Enqueue(seq);
                count++;
            }
        }

        lock (_append)
        {
            _earlier = earlier;
            _toMatch = count;
        }

        return count;
    }

    private static string MatchKey(string kind, string correlation, string causation, string payload) => string.Concat(kind, "\0", correlation, "\0", causation, "\0", payload);

    /// <summary>The failure that stopped the writer, if any.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>
    /// Appends an entry; never blocks on I/O. The payload is serialized to JSON now (the entry records the
    /// object as it was at the append).
    /// </summary>
    /// <exception cref="InvalidOperationException">The journal has failed or is closed.</exception>
    public JournalTicket Append(JournalEntryKind kind, string correlationId, string causationId, object payload)
    {
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a journal entry kind");
        }

        ArgumentNullException.ThrowIfNull(payload);
        var json = payload as string ?? (_serializeOnWriter && Volatile.Read(ref _earlier) is null ? null : Serialize(payload));
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_append)
        {
            if (Fault is { } f)
            {
                throw new InvalidOperationException("the decision journal has failed: " + f.Message, f);
            }

            if (_earlier is { } earlier && earlier.TryGetValue(MatchKey(kind.ToString(), correlationId ?? "", causationId ?? "", json ??= Serialize(payload)), out var matches) && matches.TryDequeue(out var earlierSeq))
            {
                _toMatch--;
                _matched++;
                return new JournalTicket(earlierSeq, Task.FromResult(earlierSeq)) { Matched = true };
            }

            var seq = _nextSequence++;
            if (!_queue.Writer.TryWrite(new Pending(seq, _wallClock.GetUtcNow(), kind.ToString(), correlationId ?? "", causationId ?? "", json, payload, done)))
            {
                throw new InvalidOperationException("the decision journal is closed");
            }

            return new JournalTicket(seq, done.Task);
        }
    }

    /// <summary>Waits until everything appended so far is committed.</summary>
    public Task FlushAsync()
    {
        Interlocked.Exchange(ref _flushRequested, 1);
        var ticket = Append(JournalEntryKind.Flush, "", "", "{}");
        return ticket.Durable;
    }

    /// <summary>The newest <paramref name="count"/> entries, newest first.</summary>
    public IReadOnlyList<JournalEntry> Tail(int count)
    {
        using var c = Open();
        return [.. c.Query<Row>("SELECT * FROM journal ORDER BY seq DESC LIMIT @count", new { count }).Select(r => r.ToEntry())];
    }

    /// <summary>Verifies the whole journal at <paramref name="path"/> (streaming), naming the first bad sequence.</summary>
    /// <param name="path">The journal file.</param>
    /// <param name="keyring">The chain keys (null: none; keyed entries then fail with <see cref="JournalVerification.KeyMissing"/>).</param>
    /// <exception cref="FileNotFoundException">No journal at <paramref name="path"/>.</exception>
    public static JournalVerification VerifyFile(string path, ChainKeyring? keyring = null)
    {
        var start = TimeProvider.System.GetTimestamp();
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"no journal at {full}", full);
        }

        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        long expected = 1;
        var prev = JournalEntry.Genesis;
        long count = 0;
        foreach (var r in c.Query<Row>("SELECT * FROM journal ORDER BY seq", buffered: false))
        {
            count++;
            var e = r.ToEntry();
            if (e.Sequence != expected)
            {
                return new JournalVerification(count, expected, $"entry {e.Sequence} found where {expected} was expected (an entry was deleted, inserted or reordered)", TimeProvider.System.GetElapsedTime(start));
            }

            if (e.Check(prev, keyring) is { } bad)
            {
                return new JournalVerification(count, e.Sequence, bad.Problem, TimeProvider.System.GetElapsedTime(start)) { KeyMissing = bad.KeyMissing };
            }

            prev = e.Hash;
            expected++;
        }

        var anchor = CheckAnchor(full + ".anchor", expected - 1, seq => c.QuerySingleOrDefault<Row>("SELECT * FROM journal WHERE seq=@seq", new { seq })?.ToEntry(), keyring, prev);
        return anchor ?? new JournalVerification(count, null, null, TimeProvider.System.GetElapsedTime(start));
    }

    /// <summary>Verifies the newest <paramref name="tail"/> entries of the journal at <paramref name="path"/> and its anchor, read-only.</summary>
    /// <param name="path">The journal file.</param>
    /// <param name="tail">Entries to check at the end.</param>
    /// <param name="lastEntryUtc">Time of the newest entry (null when empty).</param>
    /// <param name="keyring">The chain keys (null: none; keyed entries then fail with <see cref="JournalVerification.KeyMissing"/>).</param>
    public static JournalVerification VerifyTailOfFile(string path, int tail, out DateTimeOffset? lastEntryUtc, ChainKeyring? keyring = null)
    {
        var full = System.IO.Path.GetFullPath(path);
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        var rows = c.Query<Row>("SELECT * FROM (SELECT * FROM journal ORDER BY seq DESC LIMIT @n) ORDER BY seq", new { n = tail + 1 }).Select(r => r.ToEntry()).ToList();
        lastEntryUtc = rows.Count > 0 ? rows[^1].AtUtc : null;
        var last = rows.Count > 0 ? rows[^1].Sequence : 0;
        var anchor = CheckAnchor(full + ".anchor", last, seq => c.QuerySingleOrDefault<Row>("SELECT * FROM journal WHERE seq=@seq", new { seq })?.ToEntry(), keyring, rows.Count > 0 ? rows[^1].Hash : JournalEntry.Genesis);
        if (anchor is not null)
        {
            return anchor;
        }

        var start = rows.Count > tail ? 1 : 0;
        var prev = start == 1 ? rows[0].Hash : (rows.Count > 0 && rows[0].Sequence == 1 ? JournalEntry.Genesis : null);
        long checkedCount = 0;
        for (var i = start; i < rows.Count; i++)
        {
            checkedCount++;
            var e = rows[i];
            if (i > 0 && e.Sequence != rows[i - 1].Sequence + 1)
            {
                return new JournalVerification(checkedCount, e.Sequence, "the journal's tail does not verify (edited, deleted or reordered)", TimeSpan.Zero);
            }

            if (e.Check(prev ?? e.PreviousHash, keyring) is { } bad)
            {
                return new JournalVerification(checkedCount, e.Sequence, "the journal's tail does not verify: " + bad.Problem, TimeSpan.Zero) { KeyMissing = bad.KeyMissing };
            }

            prev = e.Hash;
        }

        return new JournalVerification(checkedCount, null, null, TimeSpan.Zero);
    }

    /// <summary>Stops taking entries, commits what is queued, stops the writer. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _checkpoints.DisposeAsync().ConfigureAwait(false);
        await _stopped.Task.ConfigureAwait(false);
        Checkpoint();
    }

    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        c.Execute($"PRAGMA busy_timeout=5000; PRAGMA synchronous={(_durable ? "FULL" : "NORMAL")}; PRAGMA wal_autocheckpoint=0;");
        return c;
    }

    private (JournalVerification Verification, long LastSequence, string LastHash) VerifyTail(SqliteConnection c, int tail)
    {
        var start = _wallClock.GetTimestamp();
        var last = c.QuerySingleOrDefault<Row>("SELECT * FROM journal ORDER BY seq DESC LIMIT 1")?.ToEntry();
        var lastSeq = last?.Sequence ?? 0;
        var anchor = CheckAnchor(_anchorPath, lastSeq, seq => c.QuerySingleOrDefault<Row>("SELECT * FROM journal WHERE seq=@seq", new { seq })?.ToEntry(), _keyring, last?.Hash ?? JournalEntry.Genesis);
        if (anchor is not null)
        {
            return (anchor, lastSeq, last?.Hash ?? JournalEntry.Genesis);
        }

        var from = Math.Max(1, lastSeq - tail + 1);
        var rows = c.Query<Row>("SELECT * FROM journal WHERE seq >= @from ORDER BY seq", new { from = from - 1 }).Select(r => r.ToEntry()).ToList();
        var prev = from == 1 ? JournalEntry.Genesis : rows.FirstOrDefault(r => r.Sequence == from - 1)?.Hash;
        var expected = from;
        long checkedCount = 0;
        foreach (var e in rows.Where(r => r.Sequence >= from))
        {
            checkedCount++;
            if (e.Sequence != expected || prev is null)
            {
                return (new JournalVerification(checkedCount, e.Sequence != expected ? expected : e.Sequence, "the journal's tail does not verify (edited, deleted or reordered)", _wallClock.GetElapsedTime(start)), lastSeq, last!.Hash);
            }

            if (e.Check(prev, _keyring) is { } bad)
            {
                return (new JournalVerification(checkedCount, e.Sequence, "the journal's tail does not verify: " + bad.Problem, _wallClock.GetElapsedTime(start)) { KeyMissing = bad.KeyMissing }, lastSeq, last!.Hash);
            }

            prev = e.Hash;
            expected++;
        }

        return (new JournalVerification(checkedCount, null, null, _wallClock.GetElapsedTime(start)), lastSeq, last?.Hash ?? JournalEntry.Genesis);
    }

    private static JournalVerification? CheckAnchor(string anchorPath, long lastSequence, Func<long, JournalEntry?> entryAt, ChainKeyring? keyring, string lastHash) =>
        Persistence.AnchorFile.Check(anchorPath, lastSequence, seq => entryAt(seq)?.Hash, "the journal", "entry", "entries", keyring, ChainKeyring.IsKeyed(lastHash)) is { } p
            ? new JournalVerification(lastSequence, p.Sequence, p.Problem, TimeSpan.Zero) { KeyMissing = p.KeyMissing }
            : null;

    private void WriterLoop()
    {
        var batch = new List<Pending>(_maxBatch);
        try
        {
            using var c = Open();
            using var insert = new SqliteRawStatement(c, "INSERT INTO journal(seq, at_utc, kind, correlation_id, causation_id, payload, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)", 8);

            var reader = _queue.Reader;
            var prev = LastHash;
            while (WaitForEntries(reader))
            {
                // A flush asked for (the end of a replay) is served at once, not after the linger.
                if (_linger > TimeSpan.Zero && !reader.Completion.IsCompleted && Volatile.Read(ref _flushRequested) == 0)
                {
                    Thread.Sleep(_linger);
                }

                Interlocked.Exchange(ref _flushRequested, 0);

                while (batch.Count < _maxBatch && reader.TryRead(out var p))
                {
                    batch.Add(p);
                }

                // Group commit: everything that queued up while the last commit was being made goes in one transaction.
                using (var tx = c.BeginTransaction())
                {
                    foreach (var p in batch)
                    {
                        var payload = p.Payload;
                        var hash = JournalEntry.ComputeHash(prev, p.Sequence, p.AtUtc, p.Kind, p.CorrelationId, p.CausationId, payload, _keyring);
                        insert.Run(p.Sequence, p.AtUtc.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), p.Kind, p.CorrelationId, p.CausationId, payload, prev, hash);
                        prev = hash;
                    }

                    tx.Commit();
                }

                var lastSeq = batch[^1].Sequence;
                LastHash = prev;
                Interlocked.Exchange(ref _committed, lastSeq);
                Interlocked.Increment(ref _batches);
                var committedAt = _wallClock.GetTimestamp();
                foreach (var p in batch)
                {
                    p.Done.TrySetResult(committedAt);
                }

                batch.Clear();

                // The anchor trails the chain (it only has to be no newer than it) and stays off the commit path:
                // rewritten at most every 100 ms, fsynced at each checkpoint.
                if (_wallClock.GetElapsedTime(_anchorWritten) >= AnchorInterval || reader.Completion.IsCompleted)
                {
                    WriteAnchor(lastSeq, prev, flush: false);
                    _anchorWritten = _wallClock.GetTimestamp();
                }
            }

            WriteAnchor(Interlocked.Read(ref _committed), prev, flush: _durable);
            _stopped.TrySetResult();
        }
        catch (Exception e)
        {
            Volatile.Write(ref _fault, e);
            lock (_append)
            {
                _queue.Writer.TryComplete(e);
            }

            foreach (var p in batch)
            {
                p.Done.TrySetException(e);
            }

            while (_queue.Reader.TryRead(out var p))
            {
                p.Done.TrySetException(e);
            }

            _stopped.TrySetResult();
            _onFault(e);
        }
    }

    /// <summary>Blocks until an entry is queued (true) or the queue is completed (false), without spinning on the wait.</summary>
    private static bool WaitForEntries(ChannelReader<Pending> reader)
    {
        var wait = reader.WaitToReadAsync();
        if (wait.IsCompleted)
        {
            return wait.GetAwaiter().GetResult();
        }

        // Task.Wait would spin first; the writer is a background thread and a wake-up of a few microseconds later costs nothing.
        using var woken = new ManualResetEventSlim(false, spinCount: 0);
        var task = wait.AsTask();
        task.ContinueWith(static (_, s) => ((ManualResetEventSlim)s!).Set(), woken, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        woken.Wait();
        return task.GetAwaiter().GetResult();
    }

    private void WriteAnchor(long seq, string hash, bool flush)
    {
        if (seq > 0)
        {
            Persistence.AnchorFile.Write(_anchorPath, seq, hash, flush, neverBackwards: false, _keyring);
        }
    }

    private void Checkpoint()
    {
        try
        {
            using var c = Open();
            c.Execute("PRAGMA wal_checkpoint(PASSIVE);");
            if (_durable && File.Exists(_anchorPath))
            {
                using var f = new FileStream(_anchorPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
                f.Flush(flushToDisk: true);
            }
        }
        catch (Exception e) when (e is SqliteException or IOException)
        {
            // A busy checkpoint (or an anchor being replaced) is retried on the next tick; the WAL keeps every committed entry meanwhile.
            _logger.LogWarning("Journal checkpoint failed, retried on the next tick: {Message}", e.Message);
        }
    }

    private static string Serialize(object payload) => JsonSerializer.Serialize(payload, payload.GetType(), Json);

    /// <summary>An appended entry on its way to the writer; <see cref="Json"/> is null until the writer serializes <see cref="Value"/>.</summary>
    private sealed record Pending(long Sequence, DateTimeOffset AtUtc, string Kind, string CorrelationId, string CausationId, string? Json, object Value, TaskCompletionSource<long> Done)
    {
        public string Payload => Json ?? Serialize(Value);
    }

#pragma warning disable IDE1006, SA1300 // Dapper maps the column names.
    private sealed record Row(long seq, string at_utc, string kind, string correlation_id, string causation_id, string payload, string prev_hash, string hash)
    {
        public JournalEntry ToEntry() => new(seq, DateTimeOffset.Parse(at_utc, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
            kind, correlation_id, causation_id, payload, prev_hash, hash);
    }
#pragma warning restore IDE1006, SA1300
}
