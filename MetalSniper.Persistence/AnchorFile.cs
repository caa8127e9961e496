using System.Globalization;
using System.Text;

namespace MetalSniper.Persistence;

/// <summary>
/// The anchor of a hash chain kept in a database: a small file beside it holding "sequence hash" of a recent
/// record. Deleting the newest records leaves a chain that still links; only something outside the database can
/// tell. Shared by the halts store and the decision journal.
/// </summary>
internal static class AnchorFile
{
    /// <summary>
    /// Checks the anchor at <paramref name="path"/> against a chain that ends at <paramref name="lastSequence"/>:
    /// the anchor must not be newer than the chain, and the record at its sequence must carry its hash.
    /// </summary>
    /// <param name="path">The anchor file (a missing file passes: the chain is new or predates anchors).</param>
    /// <param name="lastSequence">The chain's newest sequence.</param>
    /// <param name="hashAt">The hash of the record at a sequence, or null when there is none.</param>
    /// <param name="what">How the chain's end is described ("the chain", "the journal").</param>
    /// <param name="item">One record ("record", "entry").</param>
    /// <param name="items">Records ("records", "entries").</param>
    /// <returns>Null when it holds; else (the first bad sequence, what is wrong).</returns>
    public static (long Sequence, string Problem)? Check(string path, long lastSequence, Func<long, string?> hashAt, string what, string item, string items)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        if (Read(path) is not { } anchor)
        {
            return (0, $"the anchor {path} is unreadable");
        }

        if (lastSequence < anchor.Sequence)
        {
            return (lastSequence + 1, $"{what} ends at {item} {lastSequence} but its anchor says {item} {anchor.Sequence} was written ({items} were deleted)");
        }

        return string.Equals(hashAt(anchor.Sequence), anchor.Hash, StringComparison.Ordinal)
            ? null
            : (anchor.Sequence, $"{item} {anchor.Sequence} does not carry the hash its anchor recorded");
    }

    /// <summary>Writes the anchor (through a temporary file and a rename, so it is never half written).</summary>
    /// <param name="path">The anchor file.</param>
    /// <param name="sequence">The record's sequence.</param>
    /// <param name="hash">Its hash.</param>
    /// <param name="flush">Fsync the file before the rename.</param>
    /// <param name="neverBackwards">Keep a newer anchor another process wrote meanwhile.</param>
    public static void Write(string path, long sequence, string hash, bool flush, bool neverBackwards)
    {
        if (neverBackwards && Read(path) is { } existing && existing.Sequence > sequence)
        {
            return;
        }

        var temp = path + ".tmp";
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            f.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{sequence} {hash}")));
            if (flush)
            {
                f.Flush(flushToDisk: true);
            }
        }

        File.Move(temp, path, overwrite: true);
    }

    private static (long Sequence, string Hash)? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        return File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var s, var h]
            && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            ? (seq, h)
            : null;
    }
}
