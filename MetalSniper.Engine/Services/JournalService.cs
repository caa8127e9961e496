using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel.Halts;
using Microsoft.Data.Sqlite;
using MetalSniper.Engine.Alerts;
using MetalSniper.Persistence.Journal;
using MetalSniper.Core.Alerts;
using MetalSniper.Core.Time;

namespace MetalSniper.Engine.Services;

/// <summary>The effective configuration as journaled: every key with its value, secrets masked, and the hash of it all.</summary>
/// <param name="Hash">SHA-256 (hex) of the sorted <c>key=value</c> lines.</param>
/// <param name="Settings">Key → value (masked where secret).</param>
public sealed record ConfigFingerprint(string Hash, SortedDictionary<string, string> Settings)
{
    /// <summary>What a secret's value is shown as.</summary>
    public const string Masked = "***";

    /// <summary>True for keys whose values are secrets (tokens, passwords, keys).</summary>
    public static bool IsSecret(string key) =>
        key.Contains("token", StringComparison.OrdinalIgnoreCase) || key.Contains("secret", StringComparison.OrdinalIgnoreCase)
        || key.Contains("password", StringComparison.OrdinalIgnoreCase) || key.EndsWith("apikey", StringComparison.OrdinalIgnoreCase);

    /// <summary>Fingerprints the application's sections of <paramref name="configuration"/> (environment noise outside them is left out).</summary>
    public static ConfigFingerprint Of(IConfiguration configuration, IEnumerable<string> sections)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var section in sections)
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null)
                {
                    settings[key] = IsSecret(key) ? Masked + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..8] : value;
                }
            }
        }

        var text = string.Join('\n', settings.Select(kv => kv.Key + "=" + kv.Value));
        return new ConfigFingerprint(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text))), settings);
    }

    /// <summary>Keys added, removed or changed since <paramref name="previous"/>, with old → new values (secrets stay masked).</summary>
    public IReadOnlyList<string> ChangesSince(ConfigFingerprint previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        var changes = new List<string>();
        foreach (var key in Settings.Keys.Union(previous.Settings.Keys).Order(StringComparer.Ordinal))
        {
            var had = previous.Settings.TryGetValue(key, out var old);
            var has = Settings.TryGetValue(key, out var now);
            if (!had)
            {
                changes.Add($"{key} added ({now})");
            }
            else if (!has)
            {
                changes.Add($"{key} removed (was {old})");
            }
            else if (!string.Equals(old, now, StringComparison.Ordinal))
            {
                changes.Add(IsSecret(key) ? $"{key} changed (secret)" : $"{key}: {old} -> {now}");
            }
        }

        return changes;
    }
}

/// <summary>The configuration sections whose values the journal fingerprints at every start (the host's known sections).</summary>
/// <param name="Sections">Section names, e.g. <c>Risk</c>, <c>Broker</c>.</param>
public sealed record JournaledConfiguration(IReadOnlyCollection<string> Sections);

/// <summary>
/// Journals the run's life and what happens outside the pipeline: the run's start and end, the effective
/// configuration (and a YELLOW config-change alert naming the keys that changed since the last run), every
/// kill-switch record (with its alert), and every fault (RED). Starts first among the services that act,
/// stops last.
/// </summary>
public sealed class JournalService(
    DecisionJournal journal,
    AlertHub alerts,
    KillSwitch killSwitch,
    RunContext run,
    RunResume resume,
    IConfiguration configuration,
    JournaledConfiguration journaledConfiguration,
    WallClock wallClock,
    ILogger<JournalService> logger,
    Persistence.UnjournaledHaltRecords? unjournaledHalts = null) : IHostedService
{
    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("Decision journal {Path}: tail of {Entries} entries verified in {Elapsed} ms; next entry {Next}",
            journal.Path, journal.TailVerification.Entries, journal.TailVerification.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture), journal.CommittedSequence + 1);
        journal.Append(JournalEntryKind.RunStarted, run.RunId, "", new { run.RunId, Mode = run.Mode.ToString(), Version = typeof(JournalService).Assembly.GetName().Version?.ToString() });
        if (resume.IsResume)
        {
            // The earlier attempts' entries stay as they are; re-execution matches them and appends only what is new.
            journal.Append(JournalEntryKind.RunResumed, run.RunId, "", new { run.RunId, resume.Attempt, StartedUtc = wallClock.Provider.GetUtcNow() });
            logger.LogWarning("Run {RunId} resumes (attempt {Attempt}): re-executing from the start of the data; {Existing} earlier journal entries to match", run.RunId, resume.Attempt, journal.EntriesToMatch);
        }

        JournalConfiguration();
        if (unjournaledHalts is { Records.Count: > 0 } pending)
        {
            // Halts records the journal has not seen (an operator's kill or resume while the service was down, a crash before the
            // entry): journaled now, so that every record of the store has its entry (the cross-check at the next start relies on it).
            logger.LogWarning("{Count} halts record(s) written while the service was not running (#{First}..#{Last}) are journaled now", pending.Records.Count, pending.Records[0].Sequence, pending.Records[^1].Sequence);
            foreach (var r in pending.Records)
            {
                journal.Append(JournalEntryKind.Halt, r.Draft.Key, r.Draft.Source, r);
            }
        }

        killSwitch.Recorded += OnHalt;
        run.FaultRecorded += OnFault;
        run.DataErrorRecorded += OnDataError;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        killSwitch.Recorded -= OnHalt;
        run.FaultRecorded -= OnFault;
        run.DataErrorRecorded -= OnDataError;
        if (journal.Fault is null)
        {
            journal.Append(JournalEntryKind.RunEnded, run.RunId, "", new
            {
                run.RunId,
                resume.Attempt,
                DataEnded = run.PipelineDrained.Task.IsCompletedSuccessfully,
                Faults = run.Faults.Select(f => $"{f.Service}: {f.Error.Message}").ToArray(),
                journal.EntriesMatched,
            });
            await journal.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        }
    }

    private void JournalConfiguration()
    {
        var now = ConfigFingerprint.Of(configuration, journaledConfiguration.Sections);
        ConfigFingerprint? previous = null;
        using (var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = journal.Path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
        {
            c.Open();
            var json = c.ExecuteScalar<string?>("SELECT payload FROM journal WHERE kind='ConfigLoaded' ORDER BY seq DESC LIMIT 1");
            if (json is not null)
            {
                previous = JsonSerializer.Deserialize<ConfigFingerprint>(json);
            }
        }

        if (previous is not null && previous.Hash != now.Hash)
        {
            var changes = now.ChangesSince(previous);
            journal.Append(JournalEntryKind.ConfigChanged, run.RunId, "", new { Previous = previous.Hash, Current = now.Hash, Changes = changes });
            alerts.Raise(AlertLevel.Yellow, "ConfigChange", $"configuration changed since the last run ({changes.Count} key(s)): {string.Join("; ", changes.Take(20))}{(changes.Count > 20 ? "; …" : "")}");
        }

        journal.Append(JournalEntryKind.ConfigLoaded, run.RunId, "", now);
    }

    private void OnHalt(HaltRecord record)
    {
        var d = record.Draft;
        journal.Append(JournalEntryKind.Halt, d.Key, d.Source, record);
        var (level, text) = d.Action switch
        {
            HaltAction.Escalate => (AlertLevel.Red, $"kill switch latched at L{(int)d.Level} by {d.Source}: {d.Reason}"),
            HaltAction.Resume => (AlertLevel.Info, $"kill switch resumed to L0 by {d.Source}: {d.Reason}"),
            HaltAction.Pause when d.Key.StartsWith("breaker:", StringComparison.Ordinal) => (AlertLevel.Yellow, $"circuit breaker {d.Key[8..]} L{(int)d.Level} until {UtcText.Of(d.UntilUtc, "cleared")}: {d.Reason}"),
            HaltAction.Pause => (d.Level == KillLevel.Flatten ? AlertLevel.Red : AlertLevel.Yellow, $"{d.Key} L{(int)d.Level} until {UtcText.Of(d.UntilUtc, "cleared")}: {d.Reason}"),
            _ => (AlertLevel.Info, $"{d.Key} cleared: {d.Reason}"),
        };
        // The hub's clock: wall time for the service, market time for a replay (the same replay raises the same alerts).
        alerts.Raise(level, d.Key.StartsWith("breaker:", StringComparison.Ordinal) ? "BreakerTrip" : "KillSwitch", text);
    }

    private void OnDataError(string service, Core.MarketData.DataFileException error) =>
        alerts.Raise(AlertLevel.Yellow, "DataError", $"{service} stopped: {error.Message}");

    private void OnFault(string service, Exception error) =>
        alerts.Raise(AlertLevel.Red, "Fault", $"{service} failed: {error.Message}");
}
