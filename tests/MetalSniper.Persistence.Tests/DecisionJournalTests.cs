using Dapper;
using MetalSniper.Persistence.Journal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

using MetalSniper.Testing;

namespace MetalSniper.Persistence.Tests;

/// <summary>The decision journal on a real SQLite file in a temp directory: verification, reopening, a broken tail, deleted newest entries.
/// Tampering named by the CLI, the journal of a replay and a SIGKILLed service are in the host tests (JournalTests).</summary>
public sealed class DecisionJournalTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ms-journal-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(true);
    }

    private string JournalPath => Path.Combine(_dir.FullName, "journal.db");

    private TestJournalFile JournalFile => new(JournalPath);

    private DecisionJournal Open(int verifyTail = 10_000) => JournalFile.Open(verifyTail);

    private Task Fill(int entries) => JournalFile.Fill(entries);

    private void Execute(string sql) => JournalFile.Execute(sql);

    [Fact]
    public async Task IntactJournal_Verifies_AndReopensWhereItStopped()
    {
        await Fill(500);
        var v = DecisionJournal.VerifyFile(JournalPath);
        v.IsIntact.ShouldBeTrue(v.Problem);
        v.Entries.ShouldBe(500);
        await using var j = Open();
        j.CommittedSequence.ShouldBe(500);
        (await Task.WhenAll(j.Append(JournalEntryKind.Decision, "D501", "", new { }).Durable.ContinueWith(_ => true))).ShouldAllBe(x => x);
        j.Append(JournalEntryKind.Decision, "D502", "", new { }).Sequence.ShouldBe(502);
    }

    [Fact]
    public async Task BrokenTail_RefusesToOpen_SoNothingTrades()
    {
        await Fill(100);
        Execute("UPDATE journal SET kind='Decision' WHERE seq=99 AND kind<>'Decision'; UPDATE journal SET causation_id='forged' WHERE seq=99");
        var e = Should.Throw<JournalBrokenException>(() => Open());
        e.Verification.FirstBadSequence.ShouldBe(99);
    }

    [Fact]
    public async Task DeletingTheNewestEntries_IsCaughtByTheAnchor()
    {
        await Fill(100);
        Execute("DELETE FROM journal WHERE seq > 95");
        DecisionJournal.VerifyFile(JournalPath).Problem.ShouldNotBeNull().ShouldContain("entries were deleted");
        Should.Throw<JournalBrokenException>(() => Open()).Message.ShouldContain("entries were deleted");
    }

    [Theory]
    [InlineData("", "", "", "{}")]
    [InlineData("Decision", "20250613T000000-abc-B1", "strategy:metals", "{\"reason\":\"stop 2,315.40 → 2,318.90 (ATR × 2.5)\",\"inputs\":{\"close\":\"2320.1\"}}")]
    [InlineData("Alert", "Fill", "", "{\"message\":\"Gold ☀ Ölpreis 金 — a longer payload with multi-byte UTF-8 and\\nescaped newlines\"}")]
    public void ComputeHash_IsSha256OfTheFieldsJoinedByNewlines_InUtf8(string kind, string correlation, string causation, string payload)
    {
        var previous = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("previous"u8));
        var at = new DateTimeOffset(2026, 3, 19, 13, 30, 0, TimeSpan.Zero).AddTicks(1234567);
        foreach (var sequence in new long[] { 1, 42, long.MaxValue })
        {
            var text = string.Join('\n', previous, sequence.ToString(System.Globalization.CultureInfo.InvariantCulture),
                at.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture), kind, correlation, causation, payload);
            var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
            JournalEntry.ComputeHash(previous, sequence, at, kind, correlation, causation, payload).ShouldBe(expected);
        }
    }
}
