using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using MetalSniper.Persistence.Journal;
using MetalSniper.Sentinel.Halts;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Persistence.Tests;

/// <summary>
/// The keyed chains ("Trust at the edges"), on real SQLite files in a temp directory: the journal and the halts store are
/// HMAC-SHA256 with a key outside the database, so an insider who rewrites a row and recomputes a plain SHA-256 chain and
/// anchor no longer gets "intact"; old plain chains still verify; a chain never goes back from keyed to plain; the key file is
/// owner-only and never lands in what the stores write.
/// </summary>
public sealed class ChainKeyTests : IDisposable
{
    private static readonly DateTimeOffset L2At = new(2026, 12, 1, 14, 0, 0, TimeSpan.Zero);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ms-chainkey-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(true);
    }

    private string JournalPath => Path.Combine(_dir.FullName, "journal.db");

    private string DatabasePath => Path.Combine(_dir.FullName, "metalsniper.db");

    private string KeyPath => Path.Combine(_dir.FullName, "chain.key");

    private ChainKeyring Keys() => ChainKeyring.LoadOrCreate(KeyPath, TimeProvider.System);

    private DecisionJournal OpenJournal(ChainKeyring? keyring) =>
        new(JournalPath, durable: true, 10_000, 256, TimeSpan.FromSeconds(30), TimeProvider.System, e => throw new InvalidOperationException("journal fault in test", e), NullLogger.Instance, keyring: keyring);

    private async Task FillJournal(ChainKeyring? keyring, int entries, int from = 1)
    {
        await using var j = OpenJournal(keyring);
        JournalTicket last = default;
        for (var i = from; i < from + entries; i++)
        {
            last = j.Append(JournalEntryKind.Decision, $"D{i}", $"C{i}", new { Index = i, Reason = "test entry" });
        }

        await last.Durable;
    }

    /// <summary>The insider's edit: rewrites row <paramref name="row"/>'s payload and recomputes every hash from <paramref name="from"/> on with plain SHA-256 (no key needed), and the anchor.</summary>
    private void RewriteJournalWithPlainChain(long row, long from)
    {
        using var c = new SqliteConnection($"Data Source={JournalPath};Pooling=False");
        c.Execute("UPDATE journal SET payload='{\"Index\":0,\"Reason\":\"forged\"}' WHERE seq=@row", new { row });
        var rows = c.Query<(long Seq, string At, string Kind, string Corr, string Caus, string Payload, string Prev)>(
            "SELECT seq, at_utc, kind, correlation_id, causation_id, payload, prev_hash FROM journal ORDER BY seq").ToList();
        var prev = from == 1 ? JournalEntry.Genesis : c.ExecuteScalar<string>("SELECT hash FROM journal WHERE seq=@s", new { s = from - 1 })!;
        foreach (var r in rows.Where(r => r.Seq >= from))
        {
            var at = DateTimeOffset.Parse(r.At, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            var hash = JournalEntry.ComputeHash(prev, r.Seq, at, r.Kind, r.Corr, r.Caus, r.Payload);
            c.Execute("UPDATE journal SET prev_hash=@prev, hash=@hash WHERE seq=@seq", new { prev, hash, seq = r.Seq });
            prev = hash;
        }

        File.WriteAllText(JournalPath + ".anchor", string.Create(CultureInfo.InvariantCulture, $"{rows[^1].Seq} {prev}"));
    }

    [Fact]
    public async Task KeyedJournal_VerifiesWithTheKey_AndWithoutItSaysItCannotBeVerified()
    {
        var keys = Keys();
        await FillJournal(keys, 100);

        var withKey = DecisionJournal.VerifyFile(JournalPath, keys);
        withKey.IsIntact.ShouldBeTrue(withKey.Problem);
        withKey.Entries.ShouldBe(100);

        var withoutKey = DecisionJournal.VerifyFile(JournalPath);
        withoutKey.IsIntact.ShouldBeFalse();
        withoutKey.KeyMissing.ShouldBeTrue();
        withoutKey.FirstBadSequence.ShouldBe(1);
        withoutKey.Problem.ShouldNotBeNull().ShouldContain("cannot be verified without the chain key");

        // A writer without the key cannot continue a keyed chain (it would downgrade it).
        Should.Throw<JournalBrokenException>(() => OpenJournal(null)).Verification.KeyMissing.ShouldBeTrue();
    }

    [Theory]
    [InlineData(50, 50)] // rewritten from the edited row on: a plain entry after keyed ones
    [InlineData(50, 1)] // the whole chain rewritten as plain SHA-256: every entry newer than keyed-since
    public async Task RewrittenJournalRow_WithARecomputedPlainChainAndAnchor_StillFailsVerification(long row, long from)
    {
        var keys = Keys();
        await FillJournal(keys, 100);
        DecisionJournal.VerifyFile(JournalPath, keys).IsIntact.ShouldBeTrue();

        RewriteJournalWithPlainChain(row, from);

        // Plain SHA-256 alone, as before keys, would call it intact: the attack the keys stop.
        var v = DecisionJournal.VerifyFile(JournalPath, keys);
        v.IsIntact.ShouldBeFalse();
        v.KeyMissing.ShouldBeFalse();
        v.FirstBadSequence.ShouldBe(from);
        v.Problem.ShouldNotBeNull().ShouldContain(from == 1 ? "after chain keys were in use" : "a downgrade");
        Should.Throw<JournalBrokenException>(() => OpenJournal(keys));
    }

    [Fact]
    public async Task RewrittenJournalRow_RecomputedWithAnotherKeyOfTheSameId_FailsAtThatRow()
    {
        var keys = Keys();
        await FillJournal(keys, 60);
        var forger = ChainKeyring.FromKey(keys.SigningKeyId, RandomNumberGenerator.GetBytes(32));
        using (var c = new SqliteConnection($"Data Source={JournalPath};Pooling=False"))
        {
            c.Execute("UPDATE journal SET payload='{\"Index\":0}' WHERE seq=30");
            var prev = c.ExecuteScalar<string>("SELECT hash FROM journal WHERE seq=29")!;
            foreach (var r in c.Query<(long Seq, string At, string Kind, string Corr, string Caus, string Payload)>("SELECT seq, at_utc, kind, correlation_id, causation_id, payload FROM journal WHERE seq >= 30 ORDER BY seq").ToList())
            {
                var hash = JournalEntry.ComputeHash(prev, r.Seq, DateTimeOffset.Parse(r.At, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal), r.Kind, r.Corr, r.Caus, r.Payload, forger);
                c.Execute("UPDATE journal SET prev_hash=@prev, hash=@hash WHERE seq=@seq", new { prev, hash, seq = r.Seq });
                prev = hash;
            }
        }

        var v = DecisionJournal.VerifyFile(JournalPath, keys);
        v.FirstBadSequence.ShouldBe(30);
        v.Problem.ShouldNotBeNull().ShouldContain("does not match its hash");
    }

    [Fact]
    public async Task PlainEntryAppendedAfterKeyedEntries_IsADowngrade_AndFails()
    {
        var keys = Keys();
        await FillJournal(keys, 20);
        using (var c = new SqliteConnection($"Data Source={JournalPath};Pooling=False"))
        {
            var prev = c.ExecuteScalar<string>("SELECT hash FROM journal WHERE seq=20")!;
            var at = new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero); // even backdated before keyed-since
            var hash = JournalEntry.ComputeHash(prev, 21, at, "Decision", "D21", "", "{}");
            c.Execute("INSERT INTO journal(seq, at_utc, kind, correlation_id, causation_id, payload, prev_hash, hash) VALUES (21, @at, 'Decision', 'D21', '', '{}', @prev, @hash)",
                new { at = at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), prev, hash });
            File.WriteAllText(JournalPath + ".anchor", $"21 {hash}");
        }

        var v = DecisionJournal.VerifyFile(JournalPath, keys);
        v.FirstBadSequence.ShouldBe(21);
        v.Problem.ShouldNotBeNull().ShouldContain("downgrade");
    }

    [Fact]
    public async Task OldPlainJournal_StillVerifies_AndContinuesKeyedOnceAKeyIsConfigured()
    {
        await FillJournal(null, 100);
        File.ReadAllText(JournalPath + ".anchor").Split(' ').Length.ShouldBe(2);
        var keys = Keys(); // created after the old entries: they are older than keyed-since

        var old = DecisionJournal.VerifyFile(JournalPath, keys);
        old.IsIntact.ShouldBeTrue(old.Problem);
        DecisionJournal.VerifyFile(JournalPath).IsIntact.ShouldBeTrue();

        await FillJournal(keys, 10, from: 101);
        var mixed = DecisionJournal.VerifyFile(JournalPath, keys);
        mixed.IsIntact.ShouldBeTrue(mixed.Problem);
        mixed.Entries.ShouldBe(110);
        using (var c = new SqliteConnection($"Data Source={JournalPath};Pooling=False"))
        {
            c.ExecuteScalar<string>("SELECT hash FROM journal WHERE seq=100")!.ShouldNotStartWith("hmac:");
            c.ExecuteScalar<string>("SELECT hash FROM journal WHERE seq=101")!.ShouldStartWith($"hmac:{keys.SigningKeyId}:");
        }

        File.ReadAllText(JournalPath + ".anchor").Split(' ').Length.ShouldBe(3);
        DecisionJournal.VerifyFile(JournalPath).KeyMissing.ShouldBeTrue();
    }

    [Fact]
    public async Task KeyedJournal_WithItsAnchorDeletedOrReplacedByAPlainOne_FailsVerification()
    {
        var keys = Keys();
        await FillJournal(keys, 50);
        using (var c = new SqliteConnection($"Data Source={JournalPath};Pooling=False"))
        {
            c.Execute("DELETE FROM journal WHERE seq > 45");
        }

        var anchor = JournalPath + ".anchor";
        var tail = File.ReadAllText(anchor);
        File.Delete(anchor);
        DecisionJournal.VerifyFile(JournalPath, keys).Problem.ShouldNotBeNull().ShouldContain("the anchor was deleted");

        string hash45;
        using (var c = new SqliteConnection($"Data Source={JournalPath};Pooling=False"))
        {
            hash45 = c.ExecuteScalar<string>("SELECT hash FROM journal WHERE seq=45")!;
        }

        File.WriteAllText(anchor, $"45 {hash45}");
        DecisionJournal.VerifyFile(JournalPath, keys).Problem.ShouldNotBeNull().ShouldContain("the anchor was replaced");

        // The anchor's MAC is over its sequence and hash: moved to the truncated end, it no longer matches.
        File.WriteAllText(anchor, $"45 {hash45} {tail.Split(' ')[2]}");
        DecisionJournal.VerifyFile(JournalPath, keys).Problem.ShouldNotBeNull().ShouldContain("does not match its MAC");
    }

    [Fact]
    public void KeyedHash_IsHmacSha256OfThePlainSchemesCanonicalContent_WithItsKeyId()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var keys = ChainKeyring.FromKey("k7", key);
        var at = new DateTimeOffset(2026, 3, 19, 13, 30, 0, TimeSpan.Zero);
        var text = string.Join('\n', JournalEntry.Genesis, "1", at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), "Decision", "D1", "", "{}");
        JournalEntry.ComputeHash(JournalEntry.Genesis, 1, at, "Decision", "D1", "", "{}", keys)
            .ShouldBe("hmac:k7:" + Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text))));
    }

    [Fact]
    public async Task Sign_ReusingItsMacStates_SequentiallyAndFromManyThreads_EqualsAOneShotHmacPerContentAndKey()
    {
        var k1 = RandomNumberGenerator.GetBytes(32);
        var k2 = RandomNumberGenerator.GetBytes(48);
        File.WriteAllText(KeyPath, $"k1 {Convert.ToHexStringLower(k1)}\nk2 {Convert.ToHexStringLower(k2)}\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var keys = ChainKeyring.Load(KeyPath);
        var contents = Enumerable.Range(0, 200).Select(i => RandomNumberGenerator.GetBytes(1 + (i * 37 % 900))).ToArray();

        string Expected(int i, string id) => $"hmac:{id}:" + Convert.ToHexStringLower(HMACSHA256.HashData(id == "k1" ? k1 : k2, contents[i]));

        for (var i = 0; i < contents.Length; i++)
        {
            keys.Sign(contents[i], "k1").ShouldBe(Expected(i, "k1"));
            keys.Sign(contents[i]).ShouldBe(Expected(i, "k2"), "the signing key is the file's last");
        }

        var signed = await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
            Enumerable.Range(0, contents.Length * 5).Select(n => (n % contents.Length, (n + t) % 2 == 0 ? "k1" : "k2")).Select(x => (x, keys.Sign(contents[x.Item1], x.Item2))).ToList())));
        foreach (var ((i, id), mac) in signed.SelectMany(s => s))
        {
            mac.ShouldBe(Expected(i, id));
        }
    }

    // --- the halts store ---

    private SqliteHaltStore OpenStore(ChainKeyring? keyring) => new(new Database(DatabasePath, TimeProvider.System), TimeProvider.System, durable: true, SqliteHaltStore.ServiceTable, keyring);

    private static HaltDraft Escalate(KillLevel level, DateTimeOffset at) => new("service", HaltAction.Escalate, level, "kill", "operator:cli", "test", at, null);

    private static HaltDraft ResumeDraft(DateTimeOffset at) => new("service", HaltAction.Resume, KillLevel.Running, "kill", "operator:cli", "forged", at, null);

    /// <summary>The insider's edit of the halts table: from <paramref name="from"/> on, every hash recomputed as plain SHA-256; the anchor rewritten to match.</summary>
    private void RecomputeHaltsWithPlainChain(long from)
    {
        using var c = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        var records = ReadRecords(c);
        var prev = from == 1 ? HaltChain.Genesis : records.Single(r => r.Sequence == from - 1).Hash;
        foreach (var r in records.Where(r => r.Sequence >= from))
        {
            var hash = HaltChain.ComputeHash(r.Sequence, r.Draft, r.RecordedUtc, prev);
            c.Execute("UPDATE halts SET prev_hash=@prev, hash=@hash WHERE seq=@seq", new { prev, hash, seq = r.Sequence });
            prev = hash;
        }

        File.WriteAllText(DatabasePath + ".halts.anchor", string.Create(CultureInfo.InvariantCulture, $"{records[^1].Sequence} {prev}"));
    }

    private static List<HaltRecord> ReadRecords(SqliteConnection c) =>
        [.. c.Query<(long Seq, string Scope, string Action, long Level, string Key, string Source, string Reason, string At, string? Until, string Recorded, string Prev, string Hash)>(
            "SELECT seq, scope, action, level, key, source, reason, at_utc, until_utc, recorded_utc, prev_hash, hash FROM halts ORDER BY seq")
            .Select(r => new HaltRecord(r.Seq, new HaltDraft(r.Scope, Enum.Parse<HaltAction>(r.Action), (KillLevel)r.Level, r.Key, r.Source, r.Reason, P(r.At), r.Until is null ? null : P(r.Until)), P(r.Recorded), r.Prev, r.Hash))];

    private static DateTimeOffset P(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private void InsertPlainResumeAfterTail()
    {
        using var c = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        var tail = ReadRecords(c)[^1];
        var draft = ResumeDraft(L2At.AddMinutes(5));
        var recorded = TimeProvider.System.GetUtcNow();
        var forged = new HaltRecord(tail.Sequence + 1, draft, recorded, tail.Hash, HaltChain.ComputeHash(tail.Sequence + 1, draft, recorded, tail.Hash));
        c.Execute("""
            INSERT INTO halts(seq, scope, action, level, key, source, reason, at_utc, until_utc, recorded_utc, prev_hash, hash)
            VALUES (@seq, 'service', 'Resume', 0, 'kill', 'operator:cli', 'forged', @at, NULL, @recorded, @prev, @hash)
            """, new
        {
            seq = forged.Sequence, at = draft.AtUtc.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            recorded = recorded.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), prev = forged.PreviousHash, hash = forged.Hash,
        });
        File.WriteAllText(DatabasePath + ".halts.anchor", string.Create(CultureInfo.InvariantCulture, $"{forged.Sequence} {forged.Hash}"));
    }

    [Theory]
    [InlineData(2L)]
    [InlineData(1L)]
    public void RewrittenHaltsRow_WithARecomputedPlainChainAndAnchor_StillFailsVerification_AndVerifiesWithTheKeyUntouched(long from)
    {
        var keys = Keys();
        using (var store = OpenStore(keys))
        {
            var ks = KillSwitch.Restore(store, "service");
            ks.Escalate(KillLevel.NoEntries, "operator:cli", "first", L2At.AddHours(-1));
            ks.Escalate(KillLevel.Flatten, "operator:cli", "second", L2At);
            store.Verify().IsIntact.ShouldBeTrue();
        }

        using (var c = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            c.Execute("UPDATE halts SET level=1, reason='edited' WHERE seq=2");
        }

        RecomputeHaltsWithPlainChain(from);
        using var reopened = OpenStore(keys);
        var v = reopened.Verify();
        v.IsIntact.ShouldBeFalse();
        v.FirstBadSequence.ShouldBe(from);
        Should.Throw<HaltStoreTamperedException>(() => KillSwitch.Restore(reopened, "service"));
    }

    [Fact]
    public void ForgedResumeAfterL2_InsertedWithARecomputedPlainChain_DoesNotGiveL0OnRestore()
    {
        var keys = Keys();
        using (var store = OpenStore(keys))
        {
            KillSwitch.Restore(store, "service").Escalate(KillLevel.Flatten, "operator:cli", "stop everything", L2At);
        }

        InsertPlainResumeAfterTail();

        using var reopened = OpenStore(keys);
        var e = Should.Throw<HaltStoreTamperedException>(() => KillSwitch.Restore(reopened, "service"));
        e.Verification.FirstBadSequence.ShouldBe(2);
        e.Message.ShouldContain("refusing to trade");
        // And the store refuses to append after it: nothing links to the forged record.
        Should.Throw<HaltStoreTamperedException>(() => reopened.Append(Escalate(KillLevel.Flatten, L2At.AddHours(1)), 0));
    }

    [Fact]
    public void OldPlainHaltsStore_StillRestores_ThenContinuesKeyed_AndAPlainRecordAfterThatIsADowngrade()
    {
        using (var store = OpenStore(null))
        {
            KillSwitch.Restore(store, "service").Escalate(KillLevel.Flatten, "operator:cli", "before keys", L2At);
        }

        var keys = Keys();
        using (var store = OpenStore(keys))
        {
            var ks = KillSwitch.Restore(store, "service");
            ks.State.LatchedLevel.ShouldBe(KillLevel.Flatten);
            ks.Pause("daily-loss", KillLevel.Flatten, L2At.AddDays(1), "sentinel", "keyed now", L2At.AddMinutes(1));
            store.ReadSince(0)[^1].Hash.ShouldStartWith("hmac:");
            store.Verify().IsIntact.ShouldBeTrue();
            ks.State.ConfirmationCode.ShouldBe(ChainKeyring.DigestOf(store.ReadSince(0)[^1].Hash)[..8]);
            ks.State.ConfirmationCode.All(char.IsAsciiHexDigit).ShouldBeTrue();
        }

        // Without the key: the store says it cannot verify (not "intact"), and refuses to append a plain record after keyed ones.
        using (var store = OpenStore(null))
        {
            var v = store.Verify();
            v.IsIntact.ShouldBeFalse();
            v.KeyMissing.ShouldBeTrue();
            Should.Throw<HaltStoreTamperedException>(() => store.Append(ResumeDraft(L2At.AddMinutes(2)), 0)).Verification.KeyMissing.ShouldBeTrue();
        }

        InsertPlainResumeAfterTail();
        using var reopened = OpenStore(keys);
        var downgrade = reopened.Verify();
        downgrade.FirstBadSequence.ShouldBe(3);
        downgrade.Problem.ShouldNotBeNull().ShouldContain("downgrade");
    }

    [Fact]
    public async Task HaltsStoreRolledBackToAnOlderCopy_DisagreesWithTheJournal_NamingTheMissingRecord()
    {
        var keys = Keys();
        var copy = Path.Combine(_dir.FullName, "copy.db");
        var records = new List<HaltRecord>();
        using (var store = OpenStore(keys))
        {
            var ks = KillSwitch.Restore(store, "service");
            ks.Recorded += records.Add;
            ks.Escalate(KillLevel.NoEntries, "operator:cli", "first", L2At.AddHours(-1));
            using (var c = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
            {
                c.Execute($"VACUUM INTO '{copy}'");
            }

            File.Copy(DatabasePath + ".halts.anchor", copy + ".anchor.saved");
            ks.Escalate(KillLevel.Flatten, "operator:cli", "second", L2At);
        }

        await JournalHalts(keys, records);
        using (var store = OpenStore(keys))
        {
            HaltsJournalCrossCheck.Check(store.ReadSince(0), JournalPath, "service", out var pending).ShouldBeNull();
            pending.Records.ShouldBeEmpty();
        }

        // The insider restores the copy taken before the L2 (its keyed chain and anchor are genuine, just old).
        SqliteConnection.ClearAllPools();
        File.Delete(DatabasePath + "-wal");
        File.Delete(DatabasePath + "-shm");
        File.Copy(copy, DatabasePath, overwrite: true);
        File.Copy(copy + ".anchor.saved", DatabasePath + ".halts.anchor", overwrite: true);
        using var rolledBack = OpenStore(keys);
        rolledBack.Verify().IsIntact.ShouldBeTrue();
        var v = HaltsJournalCrossCheck.Check(rolledBack.ReadSince(0), JournalPath, "service", out _).ShouldNotBeNull();
        v.FirstBadSequence.ShouldBe(2);
        v.Problem.ShouldNotBeNull().ShouldContain("rolled back");
    }

    [Fact]
    public async Task CrossCheckOfALiveStore_ReadsTheJournalFirst_SoARecordJournaledWhileTheStoreIsReadIsNotATruncation()
    {
        var keys = Keys();
        using var store = OpenStore(keys);
        var ks = KillSwitch.Restore(store, "service");
        ks.Escalate(KillLevel.NoEntries, "sentinel", "first", L2At);
        await JournalHalts(keys, store.ReadSince(0));
        var before = store.ReadSince(0);

        // A running service writes its next record to the store, then journals it — here between a tool's two reads.
        ks.Escalate(KillLevel.Flatten, "sentinel", "second", L2At.AddMinutes(1));
        await JournalHalts(keys, [store.ReadSince(0)[^1]]);

        // Records read before the journal look truncated (what a tool saw when it read the store first, CI of 2026-12-07) …
        HaltsJournalCrossCheck.Check(before, JournalPath, "service", out _).ShouldNotBeNull().Problem.ShouldNotBeNull().ShouldContain("is missing");
        // … read after it, they agree: every record the journal has seen was in the store before its entry.
        HaltsJournalCrossCheck.Check(() => store.ReadSince(0), JournalPath, "service", out var pending).ShouldBeNull();
        pending.Records.ShouldBeEmpty();
    }

    [Fact]
    public async Task KeyedHaltsRecordWithoutAJournalEntry_AmongJournaledOnes_IsNamed_WhileOneWrittenAfterThemIsPending()
    {
        var keys = Keys();
        var journaled = new List<HaltRecord>();
        using (var store = OpenStore(keys))
        {
            var ks = KillSwitch.Restore(store, "service");
            ks.Escalate(KillLevel.Flatten, "operator:cli", "stop", L2At);
            // Written with the key but never journaled (as a leaked key would allow): a Resume between journaled records.
            ks.Resume("operator:cli", "sneaky", ks.State.ConfirmationCode, L2At.AddMinutes(1));
            ks.Escalate(KillLevel.NoEntries, "operator:cli", "later", L2At.AddMinutes(2));
            var all = store.ReadSince(0);
            journaled.Add(all[0]);
            journaled.Add(all[2]);
            ks.Escalate(KillLevel.Flatten, "operator:cli", "while the service was down", L2At.AddMinutes(3));
        }

        await JournalHalts(keys, journaled);
        using var reopened = OpenStore(keys);
        var v = HaltsJournalCrossCheck.Check(reopened.ReadSince(0), JournalPath, "service", out _).ShouldNotBeNull();
        v.FirstBadSequence.ShouldBe(2);
        v.Problem.ShouldNotBeNull().ShouldContain("Resume");
        v.Problem.ShouldContain("no journal entry");

        // Once the Resume has its entry, the newest record (written while the service was down) is pending, not tampering.
        await JournalHalts(keys, [reopened.ReadSince(0)[1]]);
        HaltsJournalCrossCheck.Check(reopened.ReadSince(0), JournalPath, "service", out var pending).ShouldBeNull();
        pending.Records.Select(r => r.Sequence).ShouldBe([4L]);
    }

    private async Task JournalHalts(ChainKeyring keys, IEnumerable<HaltRecord> records)
    {
        await using var j = OpenJournal(keys);
        JournalTicket last = default;
        foreach (var r in records)
        {
            last = j.Append(JournalEntryKind.Halt, r.Draft.Key, r.Draft.Source, r);
        }

        await last.Durable;
    }

    // --- the key file ---

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, "group or to others")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead, "group or to others")]
    public void KeyFileAccessibleToItsGroupOrOthers_IsRefused_NamingTheFileAndTheFix(UnixFileMode mode, string expected)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        Keys();
        File.SetUnixFileMode(KeyPath, mode);
        var e = Should.Throw<ChainKeyException>(() => ChainKeyring.Load(KeyPath));
        e.Message.ShouldContain(expected);
        e.Message.ShouldContain(KeyPath);
        e.Message.ShouldContain("chmod 600");
    }

    [Fact]
    public void KeyFileLineWrittenTheWrongWayRound_IsRefused_WithoutTheKeyInTheMessage()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        File.WriteAllText(KeyPath, $"{key} k1\n");
        File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var e = Should.Throw<ChainKeyException>(() => ChainKeyring.Load(KeyPath));
        e.Message.ShouldContain("line 1");
        e.Message.ShouldNotContain(key[..16]);
    }

    [Fact]
    public void CreatedKeyFile_IsOwnerOnly_Loads_AndIsNeverOverwritten()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var first = Keys();
        File.GetUnixFileMode(KeyPath).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var text = File.ReadAllText(KeyPath);
        var again = ChainKeyring.LoadOrCreate(KeyPath, TimeProvider.System);
        File.ReadAllText(KeyPath).ShouldBe(text);
        again.SigningKeyId.ShouldBe(first.SigningKeyId);
        again.KeyedSince.ShouldBe(first.KeyedSince);
        first.KeyedSince.ShouldNotBeNull();
    }

    [Fact]
    public async Task KeyringOfSeveralKeys_SignsWithTheLast_AndVerifiesWhatTheEarlierOnesSigned()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var k1 = RandomNumberGenerator.GetBytes(32);
        File.WriteAllText(KeyPath, $"# rotated\nk1 {Convert.ToHexStringLower(k1)}\n");
        File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var before = ChainKeyring.Load(KeyPath);
        await FillJournal(before, 10);

        File.AppendAllText(KeyPath, $"k2 {Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))}\n");
        var rotated = ChainKeyring.Load(KeyPath);
        rotated.SigningKeyId.ShouldBe("k2");
        await FillJournal(rotated, 10, from: 11);
        var v = DecisionJournal.VerifyFile(JournalPath, rotated);
        v.IsIntact.ShouldBeTrue(v.Problem);

        // Dropping k1 before the journal it signed is archived: its entries cannot be verified (and say why).
        File.WriteAllText(KeyPath, File.ReadAllLines(KeyPath).Where(l => !l.StartsWith("k1", StringComparison.Ordinal)).Aggregate("", (a, l) => a + l + "\n"));
        var withoutK1 = DecisionJournal.VerifyFile(JournalPath, ChainKeyring.Load(KeyPath));
        withoutK1.KeyMissing.ShouldBeTrue();
        withoutK1.Problem.ShouldNotBeNull().ShouldContain("key 'k1', which is not in the keyring");
    }

    [Fact]
    public async Task TheKey_NeverAppearsInTheJournal_TheHaltsStore_TheAnchors_OrTheKeyringsDescription()
    {
        var keys = Keys();
        var secret = File.ReadAllLines(KeyPath).Single(l => l.StartsWith("k1 ", StringComparison.Ordinal))[3..];
        await FillJournal(keys, 50);
        using (var store = OpenStore(keys))
        {
            KillSwitch.Restore(store, "service").Escalate(KillLevel.Flatten, "operator:cli", "test", L2At);
        }

        SqliteConnection.ClearAllPools();
        var base64 = Convert.ToBase64String(Convert.FromHexString(secret));
        foreach (var file in Directory.GetFiles(_dir.FullName).Where(f => f != KeyPath))
        {
            var bytes = File.ReadAllBytes(file);
            var text = Encoding.ASCII.GetString(bytes);
            text.Contains(secret, StringComparison.OrdinalIgnoreCase).ShouldBeFalse(file);
            text.Contains(base64, StringComparison.Ordinal).ShouldBeFalse(file);
            bytes.AsSpan().IndexOf(Convert.FromHexString(secret)).ShouldBe(-1, file);
        }

        keys.ToString().ShouldNotContain(secret);
        keys.ToString().ShouldContain(KeyPath);
    }
}
