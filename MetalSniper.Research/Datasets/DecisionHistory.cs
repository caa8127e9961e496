using System.Globalization;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Research.Datasets;

/// <summary>A recorded decision (a row of <c>decisions</c>).</summary>
/// <param name="DecisionId">Id.</param>
/// <param name="Symbol">Our symbol.</param>
/// <param name="Kind">Decision kind label ("OpenHedge", "Add", "ExitReview" …).</param>
/// <param name="Outcome">Taken, Vetoed or Denied.</param>
/// <param name="Inputs">What the decision saw (the features among them).</param>
/// <param name="EventUtc">The decision's event time (the bar's close), UTC.</param>
public sealed record RecordedDecision(string DecisionId, string Symbol, string Kind, string Outcome, IReadOnlyDictionary<string, string> Inputs, DateTimeOffset EventUtc);

/// <summary>A recorded fill with the decision and purpose of its order.</summary>
/// <param name="ExecutionId">Broker execution id.</param>
/// <param name="DecisionId">The decision of the fill's order.</param>
/// <param name="Purpose">The order's purpose (Entry, Add, ProtectiveStop, Exit …).</param>
/// <param name="Symbol">Our symbol.</param>
/// <param name="SignedQuantity">+ bought, − sold (units).</param>
/// <param name="Price">Fill price, major units of the instrument's currency; the simulated broker's prices include half the spread and the slippage.</param>
/// <param name="Commission">Commission, in <paramref name="CommissionCurrency"/>.</param>
/// <param name="CommissionCurrency">ISO code.</param>
/// <param name="EventUtc">
/// When the fill was knowable, UTC: the fill's <c>received_utc</c> (when our side learned of it; in a replay the close of the
/// bar it filled in, which is also its <c>event_utc</c>, the as-of time of the fill at the broker). Labels and purges key on
/// this time.
/// </param>
public sealed record RecordedFill(string ExecutionId, string DecisionId, string Purpose, string Symbol, decimal SignedQuantity, decimal Price, decimal Commission, string CommissionCurrency, DateTimeOffset EventUtc);

/// <summary>One run's decisions and fills, read from the trading database.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Broker">The run's broker description (from <c>runs</c>).</param>
/// <param name="Ended">True when the run ended (a run still going has no final labels).</param>
/// <param name="Decisions">Decisions in event-time order.</param>
/// <param name="Fills">Fills in execution order.</param>
public sealed record DecisionHistory(string RunId, string Broker, bool Ended, IReadOnlyList<RecordedDecision> Decisions, IReadOnlyList<RecordedFill> Fills)
{
    /// <summary>Reads a run (the latest when <paramref name="runId"/> is null).</summary>
    /// <param name="databasePath">The SQLite trading database.</param>
    /// <param name="runId">The run, or null for the most recently started.</param>
    /// <exception cref="FileNotFoundException">No database at that path.</exception>
    /// <exception cref="InvalidOperationException">The run is not in the database.</exception>
    public static DecisionHistory Load(string databasePath, string? runId)
    {
        if (!File.Exists(databasePath))
        {
            throw new FileNotFoundException($"no trading database at {databasePath}", databasePath);
        }

        using var c = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=False");
        c.Open();
        runId ??= c.ExecuteScalar<string?>("SELECT run_id FROM runs ORDER BY started_utc DESC, rowid DESC LIMIT 1")
            ?? throw new InvalidOperationException($"{databasePath} holds no run");
        var run = c.QuerySingleOrDefault<(string Broker, string? Ended)?>("SELECT broker, ended_utc FROM runs WHERE run_id=@runId", new { runId })
            ?? throw new InvalidOperationException($"run '{runId}' is not in {databasePath}");
        var decisions = c.Query<(string Id, string Symbol, string Kind, string Outcome, string Inputs, string Event)>(
                "SELECT decision_id, symbol, kind, outcome, inputs_json, event_utc FROM decisions WHERE run_id=@runId ORDER BY event_utc, rowid", new { runId })
            .Select(d => new RecordedDecision(d.Id, d.Symbol, d.Kind, d.Outcome, JsonSerializer.Deserialize<Dictionary<string, string>>(d.Inputs) ?? [], Time(d.Event)))
            .ToList();
        var fills = c.Query<(string Exec, string Decision, string Purpose, string Symbol, string Side, string Qty, string Price, string Commission, string Ccy, string Event)>(
                """
                SELECT f.execution_id, o.decision_id, o.purpose, f.symbol, f.side, f.quantity, f.price, f.commission, f.commission_ccy, f.received_utc
                FROM fills f JOIN orders o USING (client_order_id) WHERE o.run_id=@runId ORDER BY f.received_utc, f.rowid
                """, new { runId })
            .Select(f => new RecordedFill(f.Exec, f.Decision, f.Purpose, f.Symbol,
                (f.Side == "Buy" ? 1 : -1) * decimal.Parse(f.Qty, CultureInfo.InvariantCulture), decimal.Parse(f.Price, CultureInfo.InvariantCulture),
                decimal.Parse(f.Commission, CultureInfo.InvariantCulture), f.Ccy, Time(f.Event)))
            .ToList();
        return new DecisionHistory(runId, run.Broker, run.Ended is not null, decisions, fills);
    }

    private static DateTimeOffset Time(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
