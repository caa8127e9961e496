using Dapper;
using MetalSniper.Persistence;

namespace MetalSniper.Engine.Pipeline;

/// <summary>
/// Which attempt of its run this process is. Crash-only design: a replay started with the id of a run that
/// never ended (killed, crashed, power cut) is not a new run but the next attempt of the same one. It is
/// recovered by deterministic re-execution from the start of the data: the brain, the sentinel and the kill
/// switch decide again exactly what they decided before (ids come from per-source counters), every write is
/// idempotent (database rows by their ids, journal entries and halts records that already exist are matched,
/// not repeated), and the simulated broker, restored from its own file, is caught up with a shadow copy and
/// receives only the messages it never got (the durable simulated broker (Backtest)).
/// </summary>
/// <param name="RunId">The run.</param>
/// <param name="Attempt">1 for a new run; 2, 3, ... for resumes.</param>
public sealed record RunResume(string RunId, int Attempt)
{
    /// <summary>True when this process resumes an unfinished run.</summary>
    public bool IsResume => Attempt > 1;

    /// <summary>A run id: 1-40 characters, ASCII letters, digits, '-' and '_'.</summary>
    public static bool IsValidRunId(string runId) =>
        runId is { Length: >= 1 and <= 40 } && runId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>Looks the run up in the database.</summary>
    /// <exception cref="RunIdConflictException">The id belongs to a finished run, or to a run of another mode.</exception>
    public static RunResume Detect(Database database, string runId, RunMode mode)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var c = database.OpenConnection();
        var row = c.QuerySingleOrDefault<(string Mode, string? Ended, string? Status)?>("SELECT mode, ended_utc, exit_status FROM runs WHERE run_id=@runId", new { runId });
        if (row is not { } r)
        {
            return new RunResume(runId, 1);
        }

        if (!string.Equals(r.Mode, mode.ToString(), StringComparison.Ordinal))
        {
            throw new RunIdConflictException($"run id '{runId}' belongs to a {r.Mode} run in {database.Path}; a {mode} run cannot resume it");
        }

        if (r.Ended is not null)
        {
            throw new RunIdConflictException($"run '{runId}' already ended at {r.Ended} ({r.Status}) in {database.Path}; give a new --run-id (an ended run is never run again)");
        }

        var attempts = c.ExecuteScalar<int>("SELECT COALESCE(MAX(attempt), 1) FROM run_attempts WHERE run_id=@runId", new { runId });
        return new RunResume(runId, attempts + 1);
    }
}

/// <summary>A run id that cannot be used for this run (it ended, or belongs to another mode).</summary>
public sealed class RunIdConflictException(string message) : Exception(message);
