using System.Globalization;
using System.Text.Json.Nodes;
using Dapper;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Tests;

/// <summary>The base currency comes from <c>Account:BaseCurrency</c> everywhere: summary, equity, breakers, sentinel, gates.</summary>
public sealed class BaseCurrencyTests : IDisposable
{
    private const decimal EurUsd = 1.25m; // 1 EUR = 1.25 USD: a round rate makes the conversion easy to check

    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private string Config(string baseCurrency, JsonArray? rates) => _env.WriteConfig(j =>
    {
        j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-01T00:00:00Z";
        j["MarketData"]!["Replay"]!["ToUtc"] = "2025-11-01T00:00:00Z";
        j["Account"]!["BaseCurrency"] = baseCurrency;
        j["Account"]!["FxRates"] = rates ?? [];
        j["Risk"]!["Breakers"]!["MaxFxRateAge"] = "90.00:00:00"; // a configured rate ages like any other; the window is two months
    });

    [Fact]
    public async Task Replay_EuroBaseCurrency_ReportsEveryAmountInEuroConvertedFromTheUsdInstruments()
    {
        var config = Config("EUR", [new JsonObject { ["Pair"] = "EURUSD", ["Rate"] = EurUsd, ["AsOfUtc"] = "2025-08-29T21:00:00Z" }]);
        var errors = new StringWriter();
        var (code, s) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Error), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, errors.ToString());
        s.ShouldNotBeNull();
        s.Currency.ShouldBe("EUR");
        s.Trades.ShouldBeGreaterThan(10);
        var text = s.Render();
        text.ShouldContain($"{s.RealizedNetPnl.ToString("N2", CultureInfo.InvariantCulture)} EUR");
        text.ShouldNotContain(" USD");

        // Our positions are kept in the instruments' currency (USD); the summary's realized P&L is the same money in EUR.
        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False");
        c.Open();
        c.Execute($"ATTACH DATABASE '{Path.Combine(Path.GetDirectoryName(_env.DatabasePath)!, "replay-halts.db")}' AS halts"); // a replay's halts store, beside the database
        var rows = c.Query<(string Currency, string Realized, string Commissions, string Carry)>("SELECT currency, realized_pnl_gross, commissions, carry FROM positions").ToList();
        rows.ShouldNotBeEmpty();
        rows.ShouldAllBe(r => r.Currency == "USD");
        var netUsd = rows.Sum(r => decimal.Parse(r.Realized, CultureInfo.InvariantCulture) - decimal.Parse(r.Commissions, CultureInfo.InvariantCulture) - decimal.Parse(r.Carry, CultureInfo.InvariantCulture));
        s.OpenPositions.ShouldBeEmpty("the window ends flat, so the positions' net is the closed trades' net");
        s.RealizedNetPnl.ShouldBe(netUsd / EurUsd, 0.01m);

        // Breaker and sentinel formulas name the base currency, never a hard-coded USD.
        var reasons = c.Query<string>("SELECT reason FROM halts.replay_halts").ToList();
        reasons.ShouldNotBeEmpty();
        reasons.ShouldAllBe(r => !r.Contains("USD"));
        reasons.ShouldContain(r => r.Contains("EUR"));
    }

    [Fact]
    public async Task Replay_EuroBaseCurrencyWithoutARate_IsRefusedAtStartNamingTheMissingConversion()
    {
        var config = Config("EUR", null);
        var errors = new StringWriter();
        var (code, s) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Error), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.Config);
        s.ShouldBeNull();
        errors.ToString().ShouldContain("XAUUSD trades in USD and no rate in Account:FxRates converts USD to EUR");
    }
}
