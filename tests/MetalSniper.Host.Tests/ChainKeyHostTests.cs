using System.Globalization;
using Dapper;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;
using MetalSniper.Persistence.Journal;
using MetalSniper.Sentinel.Halts;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Tests;

/// <summary>
/// The keyed chains through the host and the CLI: a replay keys its journal with a key file it creates beside the database,
/// <c>journal verify</c> and <c>halts</c> need that key (a clear "cannot be verified" without it, exit 78, never "intact"), a row
/// rewritten with a recomputed plain SHA-256 chain and anchor is named (exit 65), a forged Resume after L2 fails the halts check and
/// the preflight the service runs before it starts, the service with a real broker needs a configured key file, a key file its
/// group can read is refused, and the key is never logged.
/// </summary>
public sealed class ChainKeyHostTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public async Task Replay_KeysItsJournal_JournalVerifyNeedsTheKey_ARewrittenPlainChainIsNamed_AndTheKeyIsNeverLogged()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-01T00:00:00Z";
            j["MarketData"]!["Replay"]!["ToUtc"] = "2025-09-20T00:00:00Z";
        });
        var errors = new StringWriter();
        var (code, _) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Debug), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, errors.ToString());
        File.Exists(_env.ChainKeyPath).ShouldBeTrue("the replay creates its key file beside the database");
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(_env.ChainKeyPath).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        var journal = Path.Combine(_env.Directory.FullName, "journal-replay.db");
        using (var c = new SqliteConnection($"Data Source={journal};Pooling=False"))
        {
            c.ExecuteScalar<long>("SELECT COUNT(*) FROM journal WHERE hash NOT LIKE 'hmac:k1:%'").ShouldBe(0);
        }

        var verify = await InProcessCli.RunAsync("journal", "verify", "--path", journal, "--config", config, "--db", _env.DatabasePath);
        verify.Code.ShouldBe(0, verify.Out + verify.Err);
        verify.Out.ShouldContain("chain intact");

        // The key and its file never reach the log, the journal or the database.
        var secret = File.ReadAllLines(_env.ChainKeyPath).Single(l => l.StartsWith("k1 ", StringComparison.Ordinal))[3..];
        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(_env.Directory.FullName, "*", SearchOption.AllDirectories).Where(f => f != _env.ChainKeyPath))
        {
            File.ReadAllText(file, System.Text.Encoding.Latin1).ShouldNotContain(secret, Case.Insensitive, file);
        }

        // Without the key: it says the entries cannot be verified (78), not "intact".
        File.Move(_env.ChainKeyPath, _env.ChainKeyPath + ".away");
        var noKey = await InProcessCli.RunAsync("journal", "verify", "--path", journal, "--config", config, "--db", _env.DatabasePath);
        noKey.Code.ShouldBe(ExitCodes.Config);
        noKey.Err.ShouldContain("cannot be verified without the chain key");
        noKey.Err.ShouldContain("Persistence:ChainKeyFile");
        noKey.Out.ShouldNotContain("intact");
        var withOption = await InProcessCli.RunAsync("journal", "verify", "--path", journal, "--config", config, "--db", _env.DatabasePath, "--chain-key", _env.ChainKeyPath + ".away");
        withOption.Code.ShouldBe(0, withOption.Out + withOption.Err);
        File.Move(_env.ChainKeyPath + ".away", _env.ChainKeyPath);

        // The insider rewrites a row and recomputes the whole chain and the anchor as plain SHA-256: named, exit 65.
        using (var c = new SqliteConnection($"Data Source={journal};Pooling=False"))
        {
            c.Execute("UPDATE journal SET payload='{\"forged\":true}' WHERE seq=10");
            var prev = JournalEntry.Genesis;
            long last = 0;
            foreach (var r in c.Query<(long Seq, string At, string Kind, string Corr, string Caus, string Payload)>("SELECT seq, at_utc, kind, correlation_id, causation_id, payload FROM journal ORDER BY seq").ToList())
            {
                var hash = JournalEntry.ComputeHash(prev, r.Seq, DateTimeOffset.Parse(r.At, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal), r.Kind, r.Corr, r.Caus, r.Payload);
                c.Execute("UPDATE journal SET prev_hash=@prev, hash=@hash WHERE seq=@seq", new { prev, hash, seq = r.Seq });
                prev = hash;
                last = r.Seq;
            }

            File.WriteAllText(journal + ".anchor", string.Create(CultureInfo.InvariantCulture, $"{last} {prev}"));
        }

        var tampered = await InProcessCli.RunAsync("journal", "verify", "--path", journal, "--config", config, "--db", _env.DatabasePath);
        tampered.Code.ShouldBe(ExitCodes.DataError);
        tampered.Out.ShouldContain("BROKEN at sequence 1");
        tampered.Out.ShouldContain("after chain keys were in use");
    }

    [Fact]
    public async Task ForgedResumeAfterL2_WithARecomputedPlainChain_FailsTheHaltsCheck_AndThePreflightBeforeAnyStart()
    {
        var config = _env.WriteConfig();
        _ = new MetalSniper.Persistence.Database(_env.DatabasePath, TimeProvider.System);
        _ = _env.ChainKeys; // the key the service would create beside the database: the CLI finds it there
        (await InProcessCli.RunAsync("kill", "--level", "2", "--reason", "stop everything", "--config", config, "--db", _env.DatabasePath)).Code.ShouldBe(0);

        using (var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False"))
        {
            var (seq, prev) = c.QuerySingle<(long, string)>("SELECT seq, hash FROM halts ORDER BY seq DESC LIMIT 1");
            prev.ShouldStartWith("hmac:");
            var draft = new HaltDraft("service", HaltAction.Resume, KillLevel.Running, "kill", "operator:cli", "forged", DateTimeOffset.UtcNow, null);
            var recorded = DateTimeOffset.UtcNow;
            var hash = HaltChain.ComputeHash(seq + 1, draft, recorded, prev);
            c.Execute("""
                INSERT INTO halts(seq, scope, action, level, key, source, reason, at_utc, until_utc, recorded_utc, prev_hash, hash)
                VALUES (@next, 'service', 'Resume', 0, 'kill', 'operator:cli', 'forged', @at, NULL, @recorded, @prev, @hash)
                """, new { next = seq + 1, at = draft.AtUtc.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), recorded = recorded.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), prev, hash });
            File.WriteAllText(_env.DatabasePath + ".halts.anchor", string.Create(CultureInfo.InvariantCulture, $"{seq + 1} {hash}"));
        }

        var halts = await InProcessCli.RunAsync("halts", "--config", config, "--db", _env.DatabasePath);
        halts.Code.ShouldBe(ExitCodes.DataError);
        halts.Out.ShouldContain("BROKEN at sequence 2");
        halts.Out.ShouldContain("downgrade");

        var preflight = await InProcessCli.RunAsync("preflight", "--config", config, "--db", _env.DatabasePath);
        preflight.Code.ShouldBe(ExitCodes.DataError, preflight.Out + preflight.Err);
        preflight.Out.ShouldContain("FAIL halts store");
        preflight.Out.ShouldContain("sequence 2");
    }

    [Fact]
    public async Task TheServiceWithARealBroker_WithoutAChainKeyFile_IsAConfigurationError_NamingTheSetting()
    {
        var config = _env.WriteConfig(j =>
        {
            j["Broker"] = new System.Text.Json.Nodes.JsonObject
            {
                ["Kind"] = "InteractiveBrokers",
                ["InteractiveBrokers"] = new System.Text.Json.Nodes.JsonObject { ["Host"] = "127.0.0.1", ["Port"] = 1, ["ConnectTimeoutSeconds"] = 1 },
            };
            j["MarketData"]!["Source"] = "InteractiveBrokers";
            j["Persistence"]!["ChainKeyFile"] = "";
        });
        var (code, output, error) = await InProcessCli.RunAsync("preflight", "--config", config, "--db", _env.DatabasePath);
        code.ShouldBe(ExitCodes.Config, output + error);
        output.ShouldContain("FAIL chain key");
        output.ShouldContain("Persistence:ChainKeyFile is required");
        File.Exists(_env.ChainKeyPath).ShouldBeFalse("no key is made up for the service with a real broker");
    }

    [Fact]
    public async Task AConfiguredKeyFileItsGroupCanRead_IsRefusedOnStart_WithAClearError()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        _ = _env.ChainKeys;
        File.SetUnixFileMode(_env.ChainKeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var config = _env.WriteConfig(j => j["Persistence"]!["ChainKeyFile"] = _env.ChainKeyPath);
        var (code, output, error) = await InProcessCli.RunAsync("check-config", "--config", config);
        code.ShouldBe(ExitCodes.Config, output + error);
        (output + error).ShouldContain("ChainKeyFile");
        (output + error).ShouldContain("accessible to its group or to others");
        (output + error).ShouldContain("chmod 600");
    }
}
