using System.Globalization;
using Dapper;
using MetalSniper.Host.Cli;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Supervision;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Issue 18 item 9 through the whole host on two real months of 15-minute metals (replay, simulated broker, real SQLite): the
/// configured exit rules close what they must as recorded sentinel decisions, and exits escalating against the simulated
/// broker (when switched on for it) end flat without ever reversing a position.
/// </summary>
public sealed class ExitRulesReplayTests(ITestOutputHelper output) : IDisposable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private async Task<(ReplaySummary Summary, SqliteConnection Db)> ReplayAsync(Action<System.Text.Json.Nodes.JsonObject> edit)
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-01T00:00:00Z";
            j["MarketData"]!["Replay"]!["ToUtc"] = "2025-11-01T00:00:00Z";
            edit(j);
        });
        var errors = new StringWriter();
        var (code, summary) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Error), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, errors.ToString());
        var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        c.Open();
        return (summary!, c);
    }

    /// <summary>Walks every fill in order: no fill of an exit or a flatten may grow a position or turn it over.</summary>
    private static void NoExitEverReversedOrGrewAPosition(SqliteConnection c)
    {
        var positions = new Dictionary<string, decimal>();
        foreach (var (symbol, side, quantity, purpose, id) in c.Query<(string, string, string, string, string)>(
                     "SELECT f.symbol, f.side, f.quantity, o.purpose, o.client_order_id FROM fills f JOIN orders o USING(client_order_id) ORDER BY f.rowid"))
        {
            var before = positions.GetValueOrDefault(symbol);
            var after = before + ((side == "Buy" ? 1 : -1) * decimal.Parse(quantity, Inv));
            positions[symbol] = after;
            if (purpose is "Exit" or "RiskFlatten")
            {
                (Math.Abs(after) <= Math.Abs(before) && (after == 0 || Math.Sign(after) == Math.Sign(before)))
                    .ShouldBeTrue($"{purpose} {id} took {symbol} from {before} to {after}");
            }
        }

        foreach (var (symbol, qty) in c.Query<(string, string)>("SELECT symbol, quantity FROM positions"))
        {
            decimal.Parse(qty, Inv).ShouldBe(positions.GetValueOrDefault(symbol), $"the book of {symbol} is not the sum of its fills");
        }
    }

    [Fact]
    public async Task Replay_MaxHoldingTime_NoTradeOutlivesItUnlessTheRuleFired_EachAFilledSentinelFlatten()
    {
        var limit = TimeSpan.FromHours(12);
        var (s, c) = await ReplayAsync(j => j["Risk"]!["MaxHoldingTime"] = "12:00:00");
        using var _ = c;
        var fired = c.Query<(string Symbol, string EventUtc, string Reason)>("SELECT symbol, event_utc, reason FROM decisions WHERE kind='MaxHoldingTime' AND source='sentinel'").ToList();
        output.WriteLine($"{s.Trades} trades, {fired.Count} maximum-holding-time flattens");
        fired.ShouldNotBeEmpty("the rule never fired in two months (the strategy holds trades for days)");
        fired.ShouldAllBe(f => f.Reason.StartsWith("maximum holding time:", StringComparison.Ordinal));
        c.Query<string>("""
            SELECT o.status FROM orders o JOIN decisions d USING(decision_id) WHERE d.kind='MaxHoldingTime'
            """).ShouldContain("Filled");

        // A trade held past the limit by more than a bar was held there only because the rule fired and its flatten waited for
        // the market (a session break, a weekend): a MaxHoldingTime decision of its symbol lies between its limit and its close.
        var moments = fired.Select(f => (f.Symbol, At: DateTimeOffset.Parse(f.EventUtc, Inv))).ToList();
        foreach (var t in s.ClosedTrades.Where(t => t.ClosedAtUtc - t.OpenedAtUtc > limit + TimeSpan.FromMinutes(15)))
        {
            moments.ShouldContain(m => m.Symbol == t.Symbol && m.At >= t.OpenedAtUtc + limit && m.At <= t.ClosedAtUtc,
                $"{t.Symbol} trade {t.OpenedAtUtc:O} → {t.ClosedAtUtc:O} outlived {limit} without the rule firing");
        }

        NoExitEverReversedOrGrewAPosition(c);
    }

    [Fact]
    public async Task Replay_FlattenBeforeSessionClose_ClosesPositionsBeforeTheDailyBreak_AsRecordedSentinelDecisions()
    {
        var (s, c) = await ReplayAsync(j => j["Risk"]!["FlattenBeforeSessionClose"] = "00:30:00");
        using var _ = c;
        var fired = c.Query<(string Inputs, string Reason)>("SELECT inputs_json, reason FROM decisions WHERE kind='SessionCloseFlatten' AND source='sentinel'").ToList();
        output.WriteLine($"{s.Trades} trades, {fired.Count} end-of-session flattens");
        fired.ShouldNotBeEmpty();
        fired.ShouldAllBe(f => f.Reason.StartsWith("end of session:", StringComparison.Ordinal) && f.Inputs.Contains("sessionEndUtc", StringComparison.Ordinal));
        c.Query<string>("SELECT o.status FROM orders o JOIN decisions d USING(decision_id) WHERE d.kind='SessionCloseFlatten'").ShouldContain("Filled");
        NoExitEverReversedOrGrewAPosition(c);
    }

    [Fact]
    public async Task Replay_EscalationSwitchedOnForTheSimulatedBroker_ExitsRestAtTheMid_StepOnToTheMarket_NeverReverseAPosition()
    {
        var (s, c) = await ReplayAsync(j => j["Execution"]!["ExitEscalation"]!["WithSimulatedBroker"] = true);
        using var _ = c;
        var steps = c.Query<(string Step, long N)>("SELECT json_extract(inputs_json, '$.step'), COUNT(*) FROM decisions WHERE kind='ExitEscalation' GROUP BY 1").ToDictionary(x => x.Step, x => x.N);
        var limits = c.ExecuteScalar<long>("SELECT COUNT(*) FROM orders WHERE purpose IN ('Exit','RiskFlatten') AND order_type='Limit'");
        output.WriteLine($"{s.Trades} trades; exits as limits {limits}; steps {string.Join(", ", steps.Select(kv => $"{kv.Key} {kv.Value}"))}");
        limits.ShouldBeGreaterThan(0);
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM orders WHERE purpose IN ('Exit','RiskFlatten') AND order_type='Market' AND status <> 'Filled' AND status <> 'Cancelled'").ShouldBe(0);
        steps.GetValueOrDefault("Touch").ShouldBeGreaterThan(0);
        // Every market step's order leaves only after its limit's cancel was confirmed and is never larger than what that limit left.
        foreach (var (limitQty, filled, marketQty) in c.Query<(string, string, string)>("""
                     SELECT l.quantity, COALESCE((SELECT SUM(CAST(f.quantity AS REAL)) FROM fills f WHERE f.client_order_id = l.client_order_id), 0), m.quantity
                     FROM decisions d
                     JOIN orders l ON l.client_order_id = json_extract(d.inputs_json, '$.order')
                     JOIN orders m ON m.decision_id = d.decision_id
                     WHERE d.kind = 'ExitEscalation' AND json_extract(d.inputs_json, '$.step') = 'Market'
                     """))
        {
            decimal.Parse(marketQty, Inv).ShouldBeLessThanOrEqualTo(decimal.Parse(limitQty, Inv) - decimal.Parse(filled, Inv));
        }

        c.ExecuteScalar<long>("PRAGMA foreign_key_check").ShouldBe(0);
        NoExitEverReversedOrGrewAPosition(c);
    }
}
