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
/// A record of the tamper-evident halts store: every record carries the SHA-256 of the previous
/// record and its own (<see cref="HaltChain"/>). Times UTC.
/// </summary>
/// <param name="Sequence">1-based position in the chain (the whole table, all scopes).</param>
/// <param name="Draft">The content.</param>
/// <param name="RecordedUtc">Wall-clock time the store wrote it.</param>
/// <param name="PreviousHash">Hash of record <c>Sequence − 1</c> (64 zeros for the first).</param>
/// <param name="Hash">SHA-256 (lower-case hex) of the previous hash and the canonical content.</param>
public sealed record HaltRecord(long Sequence, HaltDraft Draft, DateTimeOffset RecordedUtc, string PreviousHash, string Hash);

/// <summary>The outcome of verifying the chain.</summary>
/// <param name="Records">Records checked.</param>
/// <param name="FirstBadSequence">The first sequence number whose record does not verify (null when the chain is intact).</param>
/// <param name="Problem">What is wrong with it.</param>
public sealed record HaltChainVerification(long Records, long? FirstBadSequence, string? Problem)
{
    /// <summary>True when every record verified.</summary>
    public bool IsIntact => FirstBadSequence is null;
}

/// <summary>
/// The hash chain of the halts store: <c>hash = SHA-256(previousHash ‖ '\n' ‖ canonical content)</c>,
/// the canonical content being the fields joined by '\n' in a fixed order with invariant formats
/// (times as round-trip "O" UTC strings). Editing, deleting, inserting or reordering a record breaks
/// the chain at that record.
/// </summary>
public static class HaltChain
{
    /// <summary>The previous hash of the first record.</summary>
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>The hash of a record with the given content.</summary>
    public static string ComputeHash(long sequence, HaltDraft draft, DateTimeOffset recordedUtc, string previousHash)
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
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>Creates the next record after <paramref name="previous"/> (null: the first record).</summary>
    public static HaltRecord Next(HaltRecord? previous, HaltDraft draft, DateTimeOffset recordedUtc)
    {
        var sequence = (previous?.Sequence ?? 0) + 1;
        var prevHash = previous?.Hash ?? Genesis;
        return new HaltRecord(sequence, draft, recordedUtc, prevHash, ComputeHash(sequence, draft, recordedUtc, prevHash));
    }

    /// <summary>Verifies records in sequence order: contiguous sequence numbers from 1, each previous hash linking, each hash matching its content.</summary>
    public static HaltChainVerification Verify(IEnumerable<HaltRecord> records)
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

            var actual = ComputeHash(r.Sequence, r.Draft, r.RecordedUtc, r.PreviousHash);
            if (!string.Equals(actual, r.Hash, StringComparison.Ordinal))
            {
                return new HaltChainVerification(count, r.Sequence, $"record {r.Sequence} content does not match its hash (edited)");
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
