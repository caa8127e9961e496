using System.Globalization;
using Dapper;
using MetalSniper.Sentinel.Halts;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Persistence;

/// <summary>The service's halts records its journal has not recorded yet (written while it was down, or just before a crash): journaled at start.</summary>
/// <param name="Records">The records, in sequence order.</param>
public sealed record UnjournaledHaltRecords(IReadOnlyList<HaltRecord> Records)
{
    /// <summary>None.</summary>
    public static UnjournaledHaltRecords None { get; } = new([]);
}

/// <summary>
/// Cross-checks the service's halts store against its decision journal, two files with chains of their own: the service journals
/// every halts record of its scope it applies (<c>Halt</c> entries carry the record's sequence and hash). A store rolled back to an
/// older copy, or rewritten, no longer holds what the journal recorded; a keyed record inserted among records the journal has
/// seen has no entry. Records after the newest journaled one are pending (an operator's kill or resume while the service was
/// down, a crash before the entry): they pass, and the service journals them at start.
/// </summary>
public static class HaltsJournalCrossCheck
{
    /// <summary>Checks <paramref name="records"/> (the whole chain, verified) of <paramref name="scope"/> against the journal at <paramref name="journalPath"/>.</summary>
    /// <param name="records">Every record of the halts store, in sequence order.</param>
    /// <param name="journalPath">The service's journal (a missing file: nothing journaled yet).</param>
    /// <param name="scope">The service's scope.</param>
    /// <param name="pending">The scope's records after the newest journaled one.</param>
    /// <returns>Null when they agree; else the first halts record that does not, and why.</returns>
    /// <exception cref="SqliteException">The journal cannot be read.</exception>
    public static HaltChainVerification? Check(IReadOnlyList<HaltRecord> records, string journalPath, string scope, out UnjournaledHaltRecords pending)
    {
        ArgumentNullException.ThrowIfNull(records);
        return Check(() => records, journalPath, scope, out pending);
    }

    /// <summary>
    /// As the other overload, for a store a running service may be writing to: the journal is read first and the records after it
    /// (<paramref name="readRecords"/>), so that every record the journal has seen is in the records read. A service writes a
    /// record to the store before it journals it; records read the other way round could miss one that was journaled in
    /// between, and an honest store would look truncated.
    /// </summary>
    /// <param name="readRecords">Reads every record of the halts store, in sequence order; called once, after the journal is read.</param>
    /// <param name="journalPath">The service's journal (a missing file: nothing journaled yet).</param>
    /// <param name="scope">The service's scope.</param>
    /// <param name="pending">The scope's records after the newest journaled one.</param>
    /// <returns>Null when they agree; else the first halts record that does not, and why.</returns>
    /// <exception cref="SqliteException">The journal cannot be read.</exception>
    public static HaltChainVerification? Check(Func<IReadOnlyList<HaltRecord>> readRecords, string journalPath, string scope, out UnjournaledHaltRecords pending)
    {
        ArgumentNullException.ThrowIfNull(readRecords);
        ArgumentException.ThrowIfNullOrWhiteSpace(journalPath);
        pending = UnjournaledHaltRecords.None;
        var journaled = new Dictionary<long, (long Entry, string Hash)>();
        if (File.Exists(journalPath))
        {
            using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.GetFullPath(journalPath), Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            c.Open();
            var hasTable = c.ExecuteScalar<long>("SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='journal'") > 0;
            if (hasTable)
            {
                foreach (var (entry, sequence, hash, recordScope) in c.Query<(long, long?, string?, string?)>(
                    "SELECT seq, json_extract(payload, '$.Sequence'), json_extract(payload, '$.Hash'), json_extract(payload, '$.Draft.Scope') FROM journal WHERE kind='Halt' ORDER BY seq"))
                {
                    if (sequence is { } s && hash is not null && string.Equals(recordScope, scope, StringComparison.Ordinal))
                    {
                        // A record applied again (a resumed run meets it again) is journaled again with the same content.
                        journaled.TryAdd(s, (entry, hash));
                    }
                }
            }
        }

        var records = readRecords();
        var bySequence = records.ToDictionary(r => r.Sequence);
        foreach (var (sequence, (entry, hash)) in journaled.OrderBy(kv => kv.Key))
        {
            if (!bySequence.TryGetValue(sequence, out var record))
            {
                return new HaltChainVerification(records.Count, sequence, string.Create(CultureInfo.InvariantCulture,
                    $"halts record {sequence} is missing, but journal entry {entry} recorded it (the store was truncated or rolled back to an older copy)"));
            }

            if (!string.Equals(record.Hash, hash, StringComparison.Ordinal))
            {
                return new HaltChainVerification(records.Count, sequence, string.Create(CultureInfo.InvariantCulture,
                    $"halts record {sequence} is not the record journal entry {entry} recorded (…{ChainKeyring.DigestOf(hash)[^8..]} there, …{ChainKeyring.DigestOf(record.Hash)[^8..]} here): the store was rewritten"));
            }
        }

        var newestJournaled = journaled.Count == 0 ? 0 : journaled.Keys.Max();
        foreach (var r in records)
        {
            if (r.Sequence >= newestJournaled || !string.Equals(r.Draft.Scope, scope, StringComparison.Ordinal) || !ChainKeyring.IsKeyed(r.Hash) || journaled.ContainsKey(r.Sequence))
            {
                continue;
            }

            // Before keys, records an operator wrote while the service was down were never journaled; keyed ones are (at the next start).
            return new HaltChainVerification(records.Count, r.Sequence, string.Create(CultureInfo.InvariantCulture,
                $"halts record {r.Sequence} ({r.Draft.Action} L{(int)r.Draft.Level} by {r.Draft.Source}) has no journal entry, though the journal recorded later records (up to {newestJournaled}): it was inserted"));
        }

        pending = new UnjournaledHaltRecords([.. records.Where(r => r.Sequence > newestJournaled && string.Equals(r.Draft.Scope, scope, StringComparison.Ordinal))]);
        return null;
    }
}
