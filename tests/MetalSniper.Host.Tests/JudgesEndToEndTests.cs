using System.Text.Json.Nodes;
using Dapper;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;
using MetalSniper.Judges.Registry;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Tests;

/// <summary>
/// The judges end to end on the real metals year, as the README runs them: <c>dataset</c>, <c>train</c> for the three judges
/// (hold-out from 2026-01-01), a replay with the judges on, and a replay with a tampered model.
/// </summary>
public sealed class JudgesEndToEndTests : IDisposable
{
    private static readonly DateTimeOffset ActiveFrom = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private sealed class Alerts : Core.Alerts.IAlertSink
    {
        public List<Core.Alerts.Alert> Raised { get; } = [];

        public void Raise(Core.Alerts.Alert alert) => Raised.Add(alert);
    }

    [Fact]
    public async Task DatasetTrainAndReplay_JudgedDecisionsCarryTheModelHash_ShadowNeverActs_ActiveExitActs_AndATamperedModelIsRefusedLoudly()
    {
        var config = _env.WriteConfig();
        var dataset = Path.Combine(_env.Directory.FullName, "dataset");
        var registry = Path.Combine(_env.Directory.FullName, "models");
        var output = new StringWriter();
        var error = new StringWriter();
        var settings = new HostSettings(config, RunMode.Replay, null, Serilog.Events.LogEventLevel.Error);
        (await JudgesCommands.DatasetAsync(settings, "metals-m15", dataset, null, null, TimeProvider.System, output, error, CancellationToken.None)).ShouldBe(ExitCodes.Ok, error.ToString());
        output.ToString().ShouldContain("rules passed: feature-after-decision");

        foreach (var judge in Enum.GetValues<JudgeKind>())
        {
            JudgesCommands.Train(judge, dataset, registry, ActiveFrom, 4, TimeSpan.FromDays(2), TimeProvider.System, output, error).ShouldBe(ExitCodes.Ok, error.ToString());
            File.Exists(Path.Combine(registry, ModelRegistry.JudgeName(judge), "v1", "model.json")).ShouldBeTrue();
            File.Exists(Path.Combine(registry, ModelRegistry.JudgeName(judge), "v1", "manifest.json")).ShouldBeTrue();
        }

        output.ToString().ShouldContain("HOLD-OUT (touched once, now)");
        var entryHash = new ModelRegistry(registry).Load(JudgeKind.Entry, 1, Features.FeatureBuilder.Names, Features.FeatureBuilder.CodeHash).ModelHash;
        // A candidate: the entry judge trained again on less data (v2), to run in shadow beside v1.
        JudgesCommands.Train(JudgeKind.Entry, dataset, registry, ActiveFrom.AddMonths(-1), 4, TimeSpan.FromDays(2), TimeProvider.System, output, error).ShouldBe(ExitCodes.Ok, error.ToString());
        var candidateHash = new ModelRegistry(registry).Load(JudgeKind.Entry, 2, Features.FeatureBuilder.Names, Features.FeatureBuilder.CodeHash).ModelHash;
        candidateHash.ShouldNotBe(entryHash);

        // The judges on from 2026-01-01 only: the entry judge in Shadow (recorded, never obeyed), exit and add Active.
        var judged = Path.Combine(_env.Directory.FullName, "judged", "judged.db");
        Directory.CreateDirectory(Path.GetDirectoryName(judged)!);
        JsonObject JudgesSection(string entryMode) => new()
        {
            ["Registry"] = registry,
            ["ActiveFromUtc"] = "2026-01-01T00:00:00Z",
            ["Entry"] = new JsonObject { ["Mode"] = entryMode, ["Version"] = "v1", ["Candidate"] = "v2" },
            ["Exit"] = new JsonObject { ["Mode"] = "Active" },
            ["Add"] = new JsonObject { ["Mode"] = "Active" },
        };
        var judgedConfig = _env.WriteConfig(j => j["Judges"] = JudgesSection("Shadow"));
        var (code, summary) = await Commands.RunReplayAsync(new HostSettings(judgedConfig, RunMode.Replay, judged, Serilog.Events.LogEventLevel.Error), error, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, error.ToString());
        summary!.Judges.Count.ShouldBe(4);
        summary.Judges.ShouldContain(j => j.StartsWith("Entry v2", StringComparison.Ordinal) && j.EndsWith("Shadow (candidate)", StringComparison.Ordinal));
        summary.Judges.ShouldContain(j => j.Contains("Entry v1", StringComparison.Ordinal) && j.EndsWith("Shadow", StringComparison.Ordinal));
        var exitHash = new ModelRegistry(registry).Load(JudgeKind.Exit, 1, Features.FeatureBuilder.Names, Features.FeatureBuilder.CodeHash).ModelHash;
        using (var c = new SqliteConnection($"Data Source={judged};Mode=ReadOnly;Pooling=False"))
        {
            var hedges = c.Query<(string Outcome, string Reason, string Inputs, string Event)>("SELECT outcome, reason, inputs_json, event_utc FROM decisions WHERE kind='OpenHedge'").ToList();
            var before = hedges.Where(h => DateTimeOffset.Parse(h.Event) < ActiveFrom).ToList();
            var after = hedges.Where(h => DateTimeOffset.Parse(h.Event) >= ActiveFrom && h.Inputs.Contains("f@asOf", StringComparison.Ordinal)).ToList();
            before.ShouldNotBeEmpty();
            before.ShouldAllBe(h => !h.Inputs.Contains("judge.entry", StringComparison.Ordinal));
            after.ShouldNotBeEmpty();
            after.ShouldAllBe(h => h.Inputs.Contains(entryHash, StringComparison.Ordinal) && h.Inputs.Contains("\"judge.entry.mode\":\"Shadow\"", StringComparison.Ordinal), "every judged decision carries the model hash");
            // Shadow: a veto is recorded on the decision but the hedge is still taken.
            after.ShouldContain(h => h.Inputs.Contains("\"judge.entry.verdict\":\"Veto\"", StringComparison.Ordinal) && h.Outcome == "Taken");
            after.ShouldAllBe(h => !h.Reason.StartsWith("judge veto", StringComparison.Ordinal));

            // Active exit judge: exits on its recommendation, each with its model hash and the features it saw.
            var exits = c.Query<string>("SELECT inputs_json FROM decisions WHERE kind='ExitOnJudge'").ToList();
            exits.ShouldNotBeEmpty();
            exits.ShouldAllBe(i => i.Contains(exitHash, StringComparison.Ordinal) && i.Contains("f.trade_mfe_r", StringComparison.Ordinal) && i.Contains("\"judge.exit.verdict\":\"RecommendExit\"", StringComparison.Ordinal));
            c.ExecuteScalar<long>("SELECT COUNT(*) FROM decisions WHERE kind='ExitOnJudge' AND event_utc < '2026-01-01'").ShouldBe(0);
        }

        // The shadow record: report it, refuse a promotion it does not support, then promote and load "promoted".
        var report = new StringWriter();
        JudgesCommands.Report(judged, null, report, error).ShouldBe(ExitCodes.Ok);
        report.ToString().ShouldContain($"entry v1 ({entryHash[..12]}) Shadow:");
        report.ToString().ShouldContain($"entry v2 ({candidateHash[..12]}) Shadow (candidate):");
        report.ToString().ShouldContain("exit v1");
        var serviceConfig = _env.WriteConfig(j => j["Persistence"]!["DatabasePath"] = Path.Combine(_env.Directory.FullName, "service", "service.db"));
        Directory.CreateDirectory(Path.Combine(_env.Directory.FullName, "service"));
        Commands.LoadValidated(new HostSettings(serviceConfig, RunMode.Service), error, out var serviceConfiguration).ShouldBe(ExitCodes.Ok, error.ToString());
        var refusal = new StringWriter();
        (await JudgesCommands.PromoteAsync(serviceConfiguration!, JudgeKind.Entry, 1, judged, 1_000_000, registry, TimeProvider.System, output, refusal)).ShouldBe(ExitCodes.DataError);
        refusal.ToString().ShouldContain("at least 1000000 are required");
        File.Exists(Path.Combine(registry, "entry", "promoted.json")).ShouldBeFalse();
        (await JudgesCommands.PromoteAsync(serviceConfiguration!, JudgeKind.Entry, 2, judged, 10, registry, TimeProvider.System, output, error)).ShouldBe(ExitCodes.Ok, error.ToString());
        var promoted = JudgeLoading.CreatePanel(new Judges.Verdicts.JudgesOptions { Registry = registry, Entry = new() { Mode = Judges.Verdicts.JudgeMode.Active, Version = "promoted" } },
            new Alerts(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        promoted.Describe().ShouldBe([$"Entry v2 ({candidateHash[..12]}) Active"], "the candidate, promoted on its shadow record");
        Directory.GetFiles(Path.Combine(_env.Directory.FullName, "service")).Any(f => File.ReadAllText(f).Contains("JudgePromoted", StringComparison.Ordinal)).ShouldBeTrue("the promotion is journaled");

        // The model hash is in the journal with the judged decisions.
        Directory.GetFiles(Path.GetDirectoryName(judged)!).Where(f => f.Contains("journal", StringComparison.OrdinalIgnoreCase))
            .Any(f => File.ReadAllText(f).Contains(entryHash, StringComparison.Ordinal)).ShouldBeTrue();

        // Tamper with the entry model: the replay still runs, the entry judge is OFF, and a RED alert names the rule.
        var modelPath = Path.Combine(registry, "entry", "v1", "model.json");
        File.WriteAllText(modelPath, File.ReadAllText(modelPath).Replace("\"trees\":", "\"trees\" :", StringComparison.Ordinal));
        Should.Throw<ModelRefusedException>(() => new ModelRegistry(registry).Load(JudgeKind.Entry, 1, Features.FeatureBuilder.Names, Features.FeatureBuilder.CodeHash)).Rule.ShouldBe(RefusalRules.ModelHashMismatch);
        var tampered = Path.Combine(_env.Directory.FullName, "tampered", "tampered.db");
        Directory.CreateDirectory(Path.GetDirectoryName(tampered)!);
        var errors = new StringWriter();
        var tamperedConfig = _env.WriteConfig(j => j["Judges"] = JudgesSection("Active"));
        var (code2, summary2) = await Commands.RunReplayAsync(new HostSettings(tamperedConfig, RunMode.Replay, tampered, Serilog.Events.LogEventLevel.Error), errors, CancellationToken.None);
        code2.ShouldBe(ExitCodes.Ok, errors.ToString());
        summary2!.Judges.ShouldContain(j => j.Contains("model-hash-mismatch", StringComparison.Ordinal), string.Join(" / ", summary2.Judges));
        summary2.Judges.ShouldContain(j => j.StartsWith("REFUSED: the Entry judge", StringComparison.Ordinal));
        using var t = new SqliteConnection($"Data Source={tampered};Mode=ReadOnly;Pooling=False");
        t.ExecuteScalar<long>("SELECT COUNT(*) FROM decisions WHERE inputs_json LIKE '%\"judge.entry.verdict\"%'").ShouldBe(0, "a refused judge gives no verdict at all");
        t.ExecuteScalar<long>($"SELECT COUNT(*) FROM decisions WHERE inputs_json LIKE '%{entryHash}%'").ShouldBe(0);
        t.ExecuteScalar<long>("SELECT COUNT(*) FROM decisions WHERE inputs_json LIKE '%\"judge.entry.candidate.verdict\"%'").ShouldBeGreaterThan(0, "its candidate (v2, intact) still runs in shadow");
        t.ExecuteScalar<long>("SELECT COUNT(*) FROM decisions WHERE inputs_json LIKE '%judge.exit%'").ShouldBeGreaterThan(0, "the other judges still run");
    }

    [Fact]
    public async Task Dataset_UnknownDataSetOrMissingDatabase_IsAClearError_AndAJudgeWithoutAModelIsOffWithARedAlert()
    {
        var config = _env.WriteConfig();
        var error = new StringWriter();
        (await JudgesCommands.DatasetAsync(new HostSettings(config, RunMode.Replay), "metals-daily", Path.Combine(_env.Directory.FullName, "x"), null, null, TimeProvider.System, new StringWriter(), error, CancellationToken.None))
            .ShouldBe(ExitCodes.Usage);
        error.ToString().ShouldContain("unknown data set");
        (await JudgesCommands.DatasetAsync(new HostSettings(config, RunMode.Replay), "metals-m15", Path.Combine(_env.Directory.FullName, "y"), Path.Combine(_env.Directory.FullName, "none.db"), null, TimeProvider.System, new StringWriter(), error, CancellationToken.None))
            .ShouldBe(ExitCodes.NoInput);
        error.ToString().ShouldContain("no trading database");

        // A judge switched on without a model: off, a RED alert, listed as refused (no silent default).
        var alerts = new Alerts();
        var panel = JudgeLoading.CreatePanel(new Judges.Verdicts.JudgesOptions { Registry = Path.Combine(_env.Directory.FullName, "empty"), Add = new() { Mode = Judges.Verdicts.JudgeMode.Active } },
            alerts, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        panel.Any.ShouldBeFalse();
        panel.Refused.ShouldHaveSingleItem().ShouldContain("'model-missing'");
        alerts.Raised.ShouldHaveSingleItem().Level.ShouldBe(Core.Alerts.AlertLevel.Red);
    }
}
