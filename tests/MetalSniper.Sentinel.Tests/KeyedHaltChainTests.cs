using System.Security.Cryptography;
using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Sentinel.Tests;

/// <summary>The kill switch on a keyed halts chain (HMAC-SHA256, key outside the store): a forged record — inserted with a recomputed
/// plain SHA-256 hash, or with a wrong key — never lowers the level, at restore or when a running switch picks it up.</summary>
public sealed class KeyedHaltChainTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 3, 15, 0, 0, TimeSpan.Zero);
    private static readonly ChainKeyring Keys = ChainKeyring.FromKey("k1", RandomNumberGenerator.GetBytes(32), keyedSince: Now.AddDays(-1));

    private static HaltDraft ForgedResume => new("service", HaltAction.Resume, KillLevel.Running, "kill", "operator:cli", "forged", Now.AddMinutes(1), null);

    [Fact]
    public void KeyedStore_WritesKeyedRecords_AndTheConfirmationCodeIsHexOfTheDigest()
    {
        var store = new InMemoryHaltStore(keyring: Keys);
        var kill = KillSwitch.Restore(store, "service");
        kill.Escalate(KillLevel.Flatten, "operator:cli", "stop", Now);
        store.Records[0].Hash.ShouldStartWith("hmac:k1:");
        kill.State.ConfirmationCode.ShouldBe(ChainKeyring.DigestOf(store.Records[0].Hash)[..8]);
        HaltChain.Verify(store.Records, Keys).IsIntact.ShouldBeTrue();
        HaltChain.Verify(store.Records).KeyMissing.ShouldBeTrue();

        kill.Resume("operator:cli", "reviewed", kill.State.ConfirmationCode, Now.AddMinutes(5));
        KillSwitch.Restore(store, "service").Level(Now.AddMinutes(6)).ShouldBe(KillLevel.Running);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("wrong key")]
    public void ForgedResumeAfterL2_NeverGivesL0_NeitherAtRestoreNorOnARunningSwitchsRefresh(string forgery)
    {
        var store = new InMemoryHaltStore(keyring: Keys);
        var running = KillSwitch.Restore(store, "service");
        running.Escalate(KillLevel.Flatten, "operator:cli", "stop", Now);
        var tail = store.Records[^1];
        var forged = HaltChain.Next(tail, ForgedResume, Now.AddMinutes(1),
            forgery == "plain" ? null : ChainKeyring.FromKey("k1", RandomNumberGenerator.GetBytes(32)));
        store.Append(ForgedResume, 0);
        store.Replace(1, forged);

        var e = Should.Throw<HaltStoreTamperedException>(() => KillSwitch.Restore(store, "service"));
        e.Verification.FirstBadSequence.ShouldBe(2);
        e.Verification.Problem.ShouldNotBeNull().ShouldContain(forgery == "plain" ? "downgrade" : "does not match its hash");

        Should.Throw<HaltStoreTamperedException>(running.Refresh);
        running.Level(Now.AddMinutes(2)).ShouldBe(KillLevel.Flatten);
    }
}
