using Microsoft.Extensions.Configuration;
using MetalSniper.Engine.Services;

namespace MetalSniper.Engine.Tests;

/// <summary>The configuration fingerprint the journal service records (that a replay journals changes is in the host tests, ConfigChangeTests).</summary>
public sealed class ConfigFingerprintTests
{
    [Fact]
    public void Fingerprint_MasksSecrets_AndNamesChangedSecretsWithoutTheirValues()
    {
        IConfiguration Config(string token) => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = token,
            ["Risk:DailyLossLimit"] = "2000",
        }).Build();
        var a = ConfigFingerprint.Of(Config("123:SECRET-A"), ["Telegram", "Risk"]);
        var b = ConfigFingerprint.Of(Config("123:SECRET-B"), ["Telegram", "Risk"]);
        a.Settings["Telegram:BotToken"].ShouldStartWith(ConfigFingerprint.Masked);
        a.Settings["Telegram:BotToken"].ShouldNotContain("SECRET");
        var changes = b.ChangesSince(a);
        changes.ShouldBe(["Telegram:BotToken changed (secret)"]);
    }
}
