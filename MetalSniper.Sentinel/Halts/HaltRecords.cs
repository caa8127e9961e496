using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MetalSniper.Sentinel.Halts;

/// <summary>What a halts-store record does.</summary>
public enum HaltAction
{
    /// <summary>The latched kill level rises (CLI, kill file, missed heartbeat, crash loop). Only an operator <see cref="Resume"/> lowers it.</summary>
    Escalate,

    /// <summary>The operator lowers the latched level to L0 (explicit and confirmed).</summary>
    Resume,

    /// <summary>A self-lifting halt under a key (daily loss, a breaker trip, stale data): a level until a time, or until cleared when <see cref="HaltDraft.UntilUtc"/> is null.</summary>
    Pause,

    /// <summary>The condition behind a keyed pause ended (fresh data again).</summary>
    Clear,
}

/// <summary>A halt record to append; the store assigns the sequence and the hashes.</summary>
/// <param name="Scope">Whose state it is: <c>service</c> for the trading service (restored on every start), the run id for a replay (never inherited).</param>
/// <param name="Action">What the record does.</param>
/// <param name="Level">The level it sets (for <see cref="HaltAction.Resume"/> and <see cref="HaltAction.Clear"/>: L0).</param>
/// <param name="Key">The pause key ("daily-loss", "breaker:drawdown", "stale-data:XAUUSD"); "kill" for escalations and resumes.</param>
/// <param name="Source">Who: "operator:cli", "kill-file", "sentinel", "breaker".</param>
/// <param name="Reason">Why, with the formula and the values seen.</param>
/// <param name="AtUtc">Clock time (the replay clock in replay).</param>
/// <param name="UntilUtc">When a pause lifts by itself; null for escalations, resumes, clears and pauses that last until cleared.</param>
public sealed record HaltDraft(string Scope, HaltAction Action, KillLevel Level, string Key, string Source, string Reason, DateTimeOffset AtUtc, DateTimeOffset? UntilUtc);

/// <summary>
/// A record of the tamper-evident halts store: every record carries the hash of the previous
/// record and its own (<see cref="HaltChain"/>: HMAC-SHA256 when keyed, plain SHA-256 before keys). Times UTC.
/// </summary>
/// <param name="Sequence">1-based position in the chain (the whole table, all scopes).</param>
/// <param name="Draft">The content.</param>
/// <param name="RecordedUtc">Wall-clock time the store wrote it.</param>
/// <param name="PreviousHash">Hash of record <c>Sequence − 1</c> (64 zeros for the first).</param>
/// <param name="Hash">The hash of the previous hash and the canonical content: <c>hmac:&lt;key id&gt;:&lt;hex&gt;</c> (keyed) or 64 hex digits (plain SHA-256).</param>
public sealed record HaltRecord(long Sequence, HaltDraft Draft, DateTimeOffset RecordedUtc, string PreviousHash, string Hash);

/// <summary>The outcome of verifying the chain.</summary>
/// <param name="Records">Records checked.</param>
/// <param name="FirstBadSequence">The first sequence number whose record does not verify (null when the chain is intact).</param>
/// <param name="Problem">What is wrong with it.</param>
public sealed record HaltChainVerification(long Records, long? FirstBadSequence, string? Problem)
{
    /// <summary>True when every record verified.</summary>
    public bool IsIntact => FirstBadSequence is null;

    /// <summary>True when the chain could not be verified because it is keyed and its key is not configured (not evidence of tampering, but not intact either).</summary>
    public bool KeyMissing { get; init; }
}

/// <summary>
/// The hash chain of the halts store: <c>hash = H(previousHash ‖ '\n' ‖ canonical content)</c>, the canonical content being
/// the fields joined by '\n' in a fixed order with invariant formats (times as round-trip "O" UTC strings). Editing, deleting,
/// inserting or reordering a record breaks the chain at that record. <c>H</c> is versioned by the hash text: plain SHA-256
/// (64 hex digits, the chains written before keys) or HMAC-SHA256 with a key of a <see cref="ChainKeyring"/> outside the
/// database (<c>hmac:&lt;key id&gt;:&lt;hex&gt;</c>); a plain record after a keyed one never verifies (a downgrade), nor one
/// newer than the keyring's <see cref="ChainKeyring.KeyedSince"/>.
/// </summary>
public static class HaltChain
{
    /// <summary>The previous hash of the first record.</summary>
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>The plain SHA-256 hash of a record with the given content (the scheme of chains written before keys).</summary>
    public static string ComputeHash(long sequence, HaltDraft draft, DateTimeOffset recordedUtc, string previousHash) =>
        ComputeHash(sequence, draft, recordedUtc, previousHash, null);

    /// <summary>The hash of a record: HMAC-SHA256 with <paramref name="keyring"/>'s key <paramref name="keyId"/> (default: its signing key), or plain SHA-256 when <paramref name="keyring"/> is null.</summary>
    /// <exception cref="KeyNotFoundException"><paramref name="keyId"/> is not in the keyring.</exception>
    public static string ComputeHash(long sequence, HaltDraft draft, DateTimeOffset recordedUtc, string previousHash, ChainKeyring? keyring, string? keyId = null)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var inv = CultureInfo.InvariantCulture;
        var canonical = string.Join('\n',
            previousHash,
            sequence.ToString(inv),
            draft.Scope,
            draft.Action.ToString(),
            ((int)draft.Level).ToString(inv),
            draft.Key,
            draft.Source,
            draft.Reason,
            draft.AtUtc.UtcDateTime.ToString("O", inv),
            draft.UntilUtc?.UtcDateTime.ToString("O", inv) ?? "",
            recordedUtc.UtcDateTime.ToString("O", inv));
        var bytes = Encoding.UTF8.GetBytes(canonical);
        return keyring is null ? Convert.ToHexStringLower(SHA256.HashData(bytes)) : keyring.Sign(bytes, keyId);
    }

    /// <summary>Creates the next record after <paramref name="previous"/> (null: the first record), plain SHA-256.</summary>
    public static HaltRecord Next(HaltRecord? previous, HaltDraft draft, DateTimeOffset recordedUtc) => Next(previous, draft, recordedUtc, null);

    /// <summary>Creates the next record after <paramref name="previous"/> (null: the first record), keyed with <paramref name="keyring"/>'s signing key (plain when null).</summary>
    public static HaltRecord Next(HaltRecord? previous, HaltDraft draft, DateTimeOffset recordedUtc, ChainKeyring? keyring)
    {
        var sequence = (previous?.Sequence ?? 0) + 1;
        var prevHash = previous?.Hash ?? Genesis;
        return new HaltRecord(sequence, draft, recordedUtc, prevHash, ComputeHash(sequence, draft, recordedUtc, prevHash, keyring));
    }

    /// <summary>
    /// Checks one record on its own (not its link): the scheme rules of <see cref="ChainKeyring.Admit"/> and its hash.
    /// </summary>
    /// <returns>Null when it verifies; else the verification failure at its sequence.</returns>
    public static HaltChainVerification? Check(HaltRecord record, ChainKeyring? keyring, long checkedCount = 1)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (ChainKeyring.Admit(record.Hash, record.PreviousHash, record.RecordedUtc, keyring, $"record {record.Sequence}") is { } refused)
        {
            return new HaltChainVerification(checkedCount, record.Sequence, refused.Problem) { KeyMissing = refused.KeyMissing };
        }

        var actual = ComputeHash(record.Sequence, record.Draft, record.RecordedUtc, record.PreviousHash, ChainKeyring.IsKeyed(record.Hash) ? keyring : null, ChainKeyring.KeyIdOf(record.Hash));
        return ChainKeyring.SameHash(actual, record.Hash)
            ? null
            : new HaltChainVerification(checkedCount, record.Sequence, $"record {record.Sequence} content does not match its hash (edited)");
    }

    /// <summary>Verifies plain SHA-256 records (a chain written without keys); keyed records do not verify without their key.</summary>
    public static HaltChainVerification Verify(IEnumerable<HaltRecord> records) => Verify(records, null);

    /// <summary>
    /// Verifies records in sequence order: contiguous sequence numbers from 1, each previous hash linking, each hash matching its
    /// content under its scheme (plain or keyed with <paramref name="keyring"/>), no plain record after a keyed one.
    /// </summary>
    /// <param name="records">The records, in sequence order.</param>
    /// <param name="keyring">The chain keys (null: none; a keyed record then fails with <see cref="HaltChainVerification.KeyMissing"/>).</param>
    public static HaltChainVerification Verify(IEnumerable<HaltRecord> records, ChainKeyring? keyring)
    {
        ArgumentNullException.ThrowIfNull(records);
        long expected = 1;
        var prevHash = Genesis;
        long count = 0;
        foreach (var r in records)
        {
            count++;
            if (r.Sequence != expected)
            {
                return new HaltChainVerification(count, expected, $"sequence {r.Sequence} found where {expected} was expected (a record was deleted, inserted or reordered)");
            }

            if (!string.Equals(r.PreviousHash, prevHash, StringComparison.Ordinal))
            {
                return new HaltChainVerification(count, r.Sequence, $"record {r.Sequence} does not link to the hash of record {r.Sequence - 1}");
            }

            if (Check(r, keyring, count) is { } bad)
            {
                return bad;
            }

            prevHash = r.Hash;
            expected++;
        }

        return new HaltChainVerification(count, null, null);
    }
}

/// <summary>The tamper-evident halts store. Implementations are durable before they return and safe across processes (the CLI appends while the service runs).</summary>
public interface IHaltStore
{
    /// <summary>
    /// Appends <paramref name="draft"/> durably at the end of the chain and returns every record with a
    /// sequence above <paramref name="afterSequence"/> in order, the new one last (so a caller also
    /// learns what other processes appended since it last looked).
    /// </summary>
    /// <param name="draft">The record.</param>
    /// <param name="afterSequence">The last sequence the caller has seen.</param>
    /// <param name="expectedTailHash">When given, the append happens only if the chain's last record still has this hash (checked inside the store's transaction: an operator's confirmed resume can never land after a change they did not see).</param>
    /// <exception cref="HaltStoreTamperedException">The tail the new record would link to does not verify, or the chain is shorter than its anchor.</exception>
    /// <exception cref="HaltStoreChangedException">The tail is not <paramref name="expectedTailHash"/>.</exception>
    IReadOnlyList<HaltRecord> Append(HaltDraft draft, long afterSequence, string? expectedTailHash = null);

    /// <summary>Records with a sequence above <paramref name="afterSequence"/>, in order.</summary>
    /// <exception cref="HaltStoreTamperedException">The chain holds fewer records than <paramref name="afterSequence"/>, or fewer than its anchor (rows were deleted).</exception>
    IReadOnlyList<HaltRecord> ReadSince(long afterSequence);

    /// <summary>The keys the store signs new records with and verifies keyed records by (null: none; records are plain SHA-256).</summary>
    ChainKeyring? Keyring => null;
}

/// <summary>The chain changed between the operator's look and the append: the confirmation no longer matches what is stored.</summary>
public sealed class HaltStoreChangedException(string message) : Exception(message);

/// <summary>The halts store's chain does not verify: the kill-switch state cannot be trusted, so nothing may trade.</summary>
public sealed class HaltStoreTamperedException(HaltChainVerification verification)
    : Exception($"the halts store does not verify at sequence {verification.FirstBadSequence}: {verification.Problem}; refusing to trade on an untrusted kill-switch state")
{
    /// <summary>The failed verification.</summary>
    public HaltChainVerification Verification { get; } = verification;
}
