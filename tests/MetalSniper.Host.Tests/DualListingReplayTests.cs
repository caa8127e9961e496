using Dapper;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;
using MetalSniper.Testing;
using Microsoft.Data.Sqlite;
using System.Text.Json.Nodes;

namespace MetalSniper.Host.Tests;

public sealed class DualListingReplayTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private async Task<(int Code, string Output, string Errors)> Run(Action<JsonObject>? edit = null, params string[] extra)
    {
        var config = _env.WriteConfig(j =>
        {
            j["DualListing"] = new JsonObject { ["DataDirectory"] = TestPaths.SharedDataFile("dual_listed") };
            edit?.Invoke(j);
        });
        var output = new StringWriter();
        var errors = new StringWriter();
        var code = await Commands.Build(output, errors).Parse(["replay", "--strategy", "dual-listing", "--config", config, "--db", _env.DatabasePath, "--run-id", "pairs-test", .. extra]).InvokeAsync();
        return (code, output.ToString(), errors.ToString());
    }

    [Fact]
    public async Task ReplayDualListing_DefaultFivePairs_PrintsStatisticsNaiveAndHonestPnlAndRecordsFillsInBothCurrencies()
    {
        var (code, output, errors) = await Run();
        code.ShouldBe(ExitCodes.Ok, errors + output);
        foreach (var pair in new[] { "anglo", "glencore", "bat", "shell-a", "bp" })
        {
            output.ShouldContain(pair);
        }

        output.ShouldContain("ADF");
        output.ShouldContain("half-life");
        output.ShouldContain("naive net");
        output.ShouldContain("honest net");
        output.ShouldContain("timing noise");
        output.ShouldContain("stamp/STT");

        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        // Every fill joins to its order and its decision; the fills are in each leg's own currency (commission currency).
        var currencies = c.Query<string>("""
            SELECT DISTINCT f.commission_ccy FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
            JOIN decisions d ON d.decision_id = o.decision_id WHERE d.run_id = 'pairs-test' AND d.kind LIKE 'Pair%' ORDER BY 1
            """).ToList();
        currencies.ShouldBe(["EUR", "GBP", "USD", "ZAR"]);
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM fills f LEFT JOIN orders o ON o.client_order_id = f.client_order_id WHERE o.decision_id IS NULL").ShouldBe(0);
        // London purchases pay stamp duty, Johannesburg purchases the transfer tax; every fill has its cost lines.
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM fill_costs fc JOIN fills f USING(execution_id) WHERE fc.kind = 'StampDuty' AND (f.side <> 'Buy' OR f.symbol NOT LIKE '%.L')").ShouldBe(0);
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM fill_costs WHERE kind = 'StampDuty'").ShouldBeGreaterThan(0);
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM fill_costs WHERE kind = 'TransferTax'").ShouldBeGreaterThan(0);
        c.ExecuteScalar<long>("SELECT COUNT(*) FROM fills f WHERE NOT EXISTS (SELECT 1 FROM fill_costs fc WHERE fc.execution_id = f.execution_id AND fc.kind = 'Commission')").ShouldBe(0);
    }

    [Fact]
    public async Task ReplayDualListing_TwoRuns_GiveTheSameReport()
    {
        var (c1, o1, e1) = await Run();
        c1.ShouldBe(ExitCodes.Ok, e1);
        File.Delete(_env.DatabasePath);
        var (c2, o2, _) = await Run();
        c2.ShouldBe(ExitCodes.Ok);
        static string Stable(string s) => string.Join('\n', s.Split('\n').Where(l => !l.StartsWith("Dual-listing arbitrage:", StringComparison.Ordinal)));
        Stable(o2).ShouldBe(Stable(o1));
    }

    [Fact]
    public async Task ReplayDualListing_AMissingFile_IsADataErrorNamingIt()
    {
        var (code, _, errors) = await Run(j => j["DualListing"]!["Pairs"] = new JsonObject { ["anglo"] = new JsonObject { ["A"] = new JsonObject { ["File"] = "jse/NOPE.csv" } } });
        code.ShouldBe(ExitCodes.NoInput);
        errors.ShouldContain("NOPE.csv: no such file");
    }

    [Fact]
    public async Task ReplayDualListing_AnUnknownUnit_IsAConfigurationError()
    {
        var (code, _, errors) = await Run(j => j["DualListing"]!["Pairs"] = new JsonObject { ["bp"] = new JsonObject { ["B"] = new JsonObject { ["Unit"] = "pence" } } });
        code.ShouldBe(ExitCodes.Config);
        errors.ShouldContain("unknown price unit 'pence'");
    }
}
