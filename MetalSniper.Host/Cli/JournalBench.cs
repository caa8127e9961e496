using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MetalSniper.Core.Decisions;
using MetalSniper.Persistence.Journal;
using Microsoft.Extensions.Logging.Abstractions;
using MetalSniper.Host.Supervision;

namespace MetalSniper.Host.Cli;

/// <summary>
/// PERFORMANCE.md #4 (<c>metalsniper bench --journal</c>): the decision journal on this machine's disk, durable
/// (WAL, <c>synchronous=FULL</c>, group commit, SHA-256 chain). A same-run baseline first: the p99 of a 4 KiB
/// write + fsync. Then 100,000 decision-sized entries appended as fast as one producer can: entries/s and the
/// append → durable acknowledgement latency of every entry (p50/p99/p99.9); then the same at a paced 1,000
/// entries/s (a busy trading day's rate), where group commit cannot hide the fsync; then a full verify (entries/s).
/// </summary>
public static class JournalBench
{
    /// <summary>Runs the benchmark in a temporary directory and prints the figures.</summary>
    public static async Task<int> RunAsync(int entries, string? jsonPath, TextWriter output, CancellationToken ct)
    {
        var inv = CultureInfo.InvariantCulture;
        var dir = Directory.CreateTempSubdirectory("metalsniper-journal-bench-");
        try
        {
            var fsync = FsyncBaseline(Path.Combine(dir.FullName, "fsync.bin"), 500);
            output.WriteLine(string.Create(inv, $"baseline: 4 KiB write + fsync on {dir.FullName}: p50 {fsync.P50:0.000} ms, p99 {fsync.P99:0.000} ms"));

            var path = Path.Combine(dir.FullName, "journal.db");
            var decision = new DecisionRecord("bench-D0000001", "strategy:metals", "XAUUSD", DecisionKind.OpenHedge, DecisionOutcome.Taken,
                "compression 0.82 <= 0.90: hedge opened, legs at 3501.20 / 3488.40, 1R = 6.40", new Dictionary<string, string>
                {
                    ["atr"] = "4.27", ["longAtr"] = "5.21", ["close"] = "3494.80", ["quantity"] = "39", ["riskUsd"] = "250.00",
                }, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);
            (double P50, double P99, double P999, double Rate) burst, steady, slow;
            // Keyed as the service's journal is (HMAC-SHA256; a throw-away key: the bench's file is deleted after).
            var keyring = Sentinel.Halts.ChainKeyring.FromKey("bench", System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            await using (var journal = new DecisionJournal(path, durable: true, verifyTail: 0, maxBatch: 1024, TimeSpan.FromSeconds(30), TimeProvider.System, e => { }, NullLogger.Instance, keyring: keyring))
            {
                burst = await Measure(journal, decision, entries, pacePerSecond: 0, ct).ConfigureAwait(false);
                output.WriteLine(string.Create(inv, $"burst : {entries:N0} entries appended flat out: {burst.Rate:N0} entries/s durable (target ≥ 20,000) in {journal.Batches:N0} group commits (ack latency here is queueing: p50 {burst.P50:0.0} ms)"));
                steady = await Measure(journal, decision, 40_000, pacePerSecond: 20_000, ct).ConfigureAwait(false);
                output.WriteLine(string.Create(inv, $"steady: 40,000 entries at 20,000/s: append -> durable p50 {steady.P50:0.000} ms, p99 {steady.P99:0.000} ms (target ≤ 1 ms), p99.9 {steady.P999:0.000} ms (target ≤ 5 ms); ack p99 / fsync p99 = {steady.P99 / fsync.P99:0.00} (gate ≤ 3)"));
                slow = await Measure(journal, decision, 5_000, pacePerSecond: 1_000, ct).ConfigureAwait(false);
                output.WriteLine(string.Create(inv, $"paced : 5,000 entries at 1,000/s: append -> durable p50 {slow.P50:0.000} ms, p99 {slow.P99:0.000} ms, p99.9 {slow.P999:0.000} ms; ack p99 / fsync p99 = {slow.P99 / fsync.P99:0.00}"));
            }

            var verify = DecisionJournal.VerifyFile(path, keyring);
            var verifyRate = verify.Entries / verify.Elapsed.TotalSeconds;
            output.WriteLine(string.Create(inv, $"verify: {verify.Entries:N0} entries in {verify.Elapsed.TotalMilliseconds:0} ms = {verifyRate:N0} entries/s (target ≥ 200,000), intact {verify.IsIntact}"));
            if (jsonPath is not null)
            {
                var doc = new { fsyncP50 = fsync.P50, fsyncP99 = fsync.P99, burst, steady, slow, verifyEntriesPerSecond = verifyRate };
                await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true, IncludeFields = true }), ct).ConfigureAwait(false);
            }

            return verify.IsIntact ? ExitCodes.Ok : ExitCodes.Software;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Appends <paramref name="count"/> entries, flat out or paced in 1 ms ticks (the producer sleeps between ticks, so it
    /// does not take a core from the writer), and measures append → commit from the commit timestamp the journal reports
    /// (not from when a continuation happens to run).
    /// </summary>
    private static async Task<(double P50, double P99, double P999, double Rate)> Measure(DecisionJournal journal, DecisionRecord decision, int count, int pacePerSecond, CancellationToken ct)
    {
        var appendedAt = new long[count];
        var tickets = new Task<long>[count];
        var clock = TimeProvider.System;
        var start = clock.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            if (pacePerSecond > 0)
            {
                var due = start + (long)(i * (double)clock.TimestampFrequency / pacePerSecond);
                while (clock.GetTimestamp() < due)
                {
                    Thread.Sleep(1);
                }
            }

            appendedAt[i] = clock.GetTimestamp();
            tickets[i] = journal.Append(JournalEntryKind.Decision, decision.DecisionId, decision.Source, decision).Durable;
        }

        var committed = await Task.WhenAll(tickets).WaitAsync(ct).ConfigureAwait(false);
        var elapsed = clock.GetElapsedTime(start).TotalSeconds;
        var latencies = new double[count];
        for (var i = 0; i < count; i++)
        {
            latencies[i] = clock.GetElapsedTime(appendedAt[i], committed[i]).TotalMilliseconds;
        }

        Array.Sort(latencies);
        double P(double q) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(q * latencies.Length) - 1)];
        return (P(0.5), P(0.99), P(0.999), count / elapsed);
    }

    private static (double P50, double P99) FsyncBaseline(string path, int n)
    {
        var buffer = new byte[4096];
        var samples = new double[n];
        using (var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            for (var i = 0; i < n; i++)
            {
                var t = Stopwatch.GetTimestamp();
                f.Write(buffer);
                f.Flush(flushToDisk: true);
                samples[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }
        }

        Array.Sort(samples);
        return (samples[n / 2], samples[Math.Min(n - 1, (int)Math.Ceiling(0.99 * n) - 1)]);
    }
}
