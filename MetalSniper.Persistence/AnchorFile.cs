using System.Globalization;
using System.Text;
using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Persistence;

/// <summary>What is wrong with a chain's end as its anchor sees it.</summary>
/// <param name="Sequence">The first bad sequence.</param>
/// <param name="Problem">What is wrong.</param>
/// <param name="KeyMissing">True when the anchor is keyed and cannot be checked without the chain key.</param>
internal sealed record AnchorProblem(long Sequence, string Problem, bool KeyMissing = false);

/// <summary>
/// The anchor of a hash chain kept in a database: a small file beside it holding "sequence hash" of a recent
/// record. Deleting the newest records leaves a chain that still links; only something outside the database can
/// tell. Shared by the halts store and the decision journal. With a <see cref="ChainKeyring"/> the anchor also carries an
/// HMAC of its sequence and hash ("sequence hash mac"), so it cannot be rewritten to fit a truncated chain without the key; a
/// keyed chain (its newest record keyed) needs a keyed anchor — a missing or plain one is a replaced anchor. The stores write
/// a keyed anchor for their current end when they are opened with a key, before their first keyed record.
/// </summary>
internal static class AnchorFile
{
    private const string MacLabel = "metalsniper-anchor";

    /// <summary>
    /// Checks the anchor at <paramref name="path"/> against a chain that ends at <paramref name="lastSequence"/>:
    /// the anchor must not be newer than the chain, and the record at its sequence must carry its hash.
    /// </summary>
    /// <param name="path">The anchor file (a missing file passes when the chain is not keyed: the chain is new or predates anchors).</param>
    /// <param name="lastSequence">The chain's newest sequence.</param>
    /// <param name="hashAt">The hash of the record at a sequence, or null when there is none.</param>
    /// <param name="what">How the chain's end is described ("the chain", "the journal").</param>
    /// <param name="item">One record ("record", "entry").</param>
    /// <param name="items">Records ("records", "entries").</param>
    /// <param name="keyring">The chain keys (null: none configured).</param>
    /// <param name="chainKeyed">True when the chain's newest record is keyed.</param>
    /// <returns>Null when it holds; else the first bad sequence and what is wrong.</returns>
    public static AnchorProblem? Check(string path, long lastSequence, Func<long, string?> hashAt, string what, string item, string items, ChainKeyring? keyring = null, bool chainKeyed = false)
    {
        if (!File.Exists(path))
        {
            return chainKeyed ? new AnchorProblem(lastSequence, $"the anchor {path} is missing but {what} is keyed (the anchor was deleted)") : null;
        }

        if (Read(path) is not { } anchor)
        {
            return new AnchorProblem(0, $"the anchor {path} is unreadable");
        }

        if (anchor.Mac is { } mac)
        {
            if (!ChainKeyring.IsKeyed(mac))
            {
                return new AnchorProblem(0, $"the anchor {path} is unreadable");
            }

            if (ChainKeyring.Admit(mac, "", DateTimeOffset.MinValue, keyring, $"the anchor {path}") is { } refused)
            {
                return new AnchorProblem(anchor.Sequence, refused.Problem, refused.KeyMissing);
            }

            if (!ChainKeyring.SameHash(mac, Mac(anchor.Sequence, anchor.Hash, keyring!, ChainKeyring.KeyIdOf(mac))))
            {
                return new AnchorProblem(anchor.Sequence, $"the anchor {path} does not match its MAC (forged or edited)");
            }
        }
        else if (chainKeyed)
        {
            return new AnchorProblem(anchor.Sequence, $"the anchor {path} is not keyed but {what} is (the anchor was replaced)");
        }

        if (lastSequence < anchor.Sequence)
        {
            return new AnchorProblem(lastSequence + 1, $"{what} ends at {item} {lastSequence} but its anchor says {item} {anchor.Sequence} was written ({items} were deleted)");
        }

        var expected = anchor.Sequence == 0 ? HaltChain.Genesis : hashAt(anchor.Sequence);
        return string.Equals(expected, anchor.Hash, StringComparison.Ordinal)
            ? null
            : new AnchorProblem(anchor.Sequence, $"{item} {anchor.Sequence} does not carry the hash its anchor recorded");
    }

    /// <summary>True when the anchor at <paramref name="path"/> exists and carries a MAC.</summary>
    public static bool IsKeyed(string path) => Read(path) is { Mac: not null };

    /// <summary>Writes the anchor (through a temporary file and a rename, so it is never half written).</summary>
    /// <param name="path">The anchor file.</param>
    /// <param name="sequence">The record's sequence (0 with <see cref="HaltChain.Genesis"/>: an empty chain).</param>
    /// <param name="hash">Its hash.</param>
    /// <param name="flush">Fsync the file before the rename.</param>
    /// <param name="neverBackwards">Keep a newer anchor another process wrote meanwhile.</param>
    /// <param name="keyring">When given, the anchor carries an HMAC of its sequence and hash with the signing key.</param>
    public static void Write(string path, long sequence, string hash, bool flush, bool neverBackwards, ChainKeyring? keyring = null)
    {
        if (neverBackwards && Read(path) is { } existing && existing.Sequence > sequence)
        {
            return;
        }

        var temp = path + ".tmp";
        var text = string.Create(CultureInfo.InvariantCulture, $"{sequence} {hash}") + (keyring is null ? "" : " " + Mac(sequence, hash, keyring, null));
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            f.Write(Encoding.ASCII.GetBytes(text));
            if (flush)
            {
                f.Flush(flushToDisk: true);
            }
        }

        File.Move(temp, path, overwrite: true);
    }

    private static string Mac(long sequence, string hash, ChainKeyring keyring, string? keyId) =>
        keyring.Sign(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{MacLabel}\n{sequence}\n{hash}")), keyId);

    private static (long Sequence, string Hash, string? Mac)? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var parts = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts is [var s, var h, ..] && parts.Length <= 3
            && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            ? (seq, h, parts.Length == 3 ? parts[2] : null)
            : null;
    }
}
