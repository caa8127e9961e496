using Dapper;
using MetalSniper.Persistence.Journal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Testing;

/// <summary>A durable decision journal in a file of the test's own directory: open it, fill it, tamper with it in SQL.</summary>
public sealed class TestJournalFile(string path)
{
    public string Path => path;

    /// <summary>Opens the journal (durable, tail verified); a writer fault fails the test.</summary>
    public DecisionJournal Open(int verifyTail = 10_000) =>
        new(path, durable: true, verifyTail, 256, TimeSpan.FromSeconds(30), TimeProvider.System, e => throw new InvalidOperationException("journal fault in test", e), NullLogger.Instance);

    /// <summary>Appends <paramref name="entries"/> entries (every third an order, the rest decisions) and waits until they are durable.</summary>
    public async Task Fill(int entries)
    {
        await using var j = Open();
        JournalTicket last = default;
        for (var i = 1; i <= entries; i++)
        {
            last = j.Append(i % 3 == 0 ? JournalEntryKind.OrderSubmitted : JournalEntryKind.Decision, $"D{i}", $"C{i}", new { Index = i, Reason = "test entry" });
        }

        await last.Durable;
    }

    /// <summary>Runs SQL against the journal file directly (the insider's edit).</summary>
    public void Execute(string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Execute(sql);
    }
}
