using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Dapper;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Every cost in the replay summary, on the real eight-year hourly XAUUSD/XAGUSD files (2018-03 → 2026-05), a run that ends
/// with a short XAUUSD position open: the commissions are every fill's, the borrow fees and storage are every carry row's,
/// each carry row is priced from the mark known at its cut, and net = gross − commissions − carry to the cent.
/// </summary>
public sealed class CarryAndNetPnlTests : IDisposable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private static decimal D(string s) => decimal.Parse(s, NumberStyles.Float, Inv);

    [Fact]
    public async Task HourlyReplayEndingWithAPositionOpen_SummaryCostsEqualTheDatabase_AndNetIsGrossMinusEveryCostToTheCent()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["Files"] = new JsonArray(
                new JsonObject { ["Symbol"] = "XAUUSD", ["Path"] = "metals/xauusd_h1_utc.csv.gz", ["IntervalMinutes"] = 60 },
                new JsonObject { ["Symbol"] = "XAGUSD", ["Path"] = "metals/xagusd_h1_utc.csv.gz", ["IntervalMinutes"] = 60 });
            j["Risk"]!["Gates"]!["MaxQuoteAge"] = "02:00:00"; // hourly metal bars
            j["Risk"]!["StaleDataAfter"] = "03:00:00";
        });
        var errors = new StringWriter();
        var (code, s) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Error), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, errors.ToString());
        s.ShouldNotBeNull();

        using var c = new SqliteConnection($"Data Source={_env.DatabasePath};Pooling=False;Mode=ReadOnly");
        c.Open();
        var fillCommissions = c.Query<string>("SELECT commission FROM fills").Sum(D);
        var carryRows = c.Query<(string Symbol, string Day, string CutUtc, string Kind, string Quantity, string Mark, string Notional, string Rate, string Amount)>(
            "SELECT symbol, day, cut_utc, kind, quantity, mark, notional_usd, rate_annual, amount_usd FROM carry_costs").ToList();
        var positions = c.Query<(string Symbol, string Quantity, string Gross, string Commissions, string Carry)>(
            "SELECT symbol, quantity, realized_pnl_gross, commissions, carry FROM positions").ToList();

        // The run ends with a position open, and the summary shows it with what it has paid.
        var open = s.OpenPositions.ShouldHaveSingleItem();
        positions.Single(p => D(p.Quantity) != 0m).Symbol.ShouldBe(open.Symbol);
        open.CommissionsPaid.ShouldBeGreaterThan(0m);
        open.CarryPaid.ShouldBeGreaterThan(0m);

        // Every cost paid is in the summary: commissions = SUM(fills) (the open position's fills included), carry = SUM(carry_costs).
        s.Commissions.ShouldBe(fillCommissions);
        s.Commissions.ShouldBe(positions.Sum(p => D(p.Commissions)));
        (s.Commissions - s.ClosedTradeCommissions).ShouldBe(open.CommissionsPaid);
        var carry = carryRows.Sum(r => D(r.Amount));
        s.CarryCosts.ShouldBe(carry);
        s.CarryCosts.ShouldBe(positions.Sum(p => D(p.Carry)));
        s.Carry.Borrow.ShouldBe(carryRows.Where(r => r.Kind == "Borrow").Sum(r => D(r.Amount)));
        s.Carry.Storage.ShouldBe(carryRows.Where(r => r.Kind == "Storage").Sum(r => D(r.Amount)));
        s.Carry.Borrow.ShouldBeGreaterThan(0m);
        s.Carry.Storage.ShouldBeGreaterThan(0m);

        // Net = gross − commissions − carry, to the cent, from the database; and it is the equity the run marked last.
        var grossRealized = positions.Sum(p => D(p.Gross));
        Math.Round(s.RealizedGrossPnl, 2).ShouldBe(Math.Round(grossRealized, 2));
        Math.Round(s.NetPnl, 2).ShouldBe(Math.Round(grossRealized + s.UnrealizedGrossPnl - fillCommissions - carry, 2));
        Math.Round(s.NetPnl, 2).ShouldBe(Math.Round(s.EquityPnl, 2));
        Math.Round(s.RealizedNetPnl, 2).ShouldBe(Math.Round(s.RealizedGrossPnl - s.ClosedTradeCommissions - s.ClosedTradeCarry, 2));
        Math.Round(s.ClosedTrades.Sum(t => t.NetPnl), 2).ShouldBe(Math.Round(s.RealizedNetPnl, 2));

        // Each carry row: |quantity| × the close of the last bar that closed at or before its cut (no look-ahead), × the rate
        // (borrow: benchmark of its day + 1 %; storage 0.10 %), / 360, to the cent.
        var closes = new Dictionary<string, (DateTimeOffset[] CloseUtc, decimal[] Close)>
        {
            ["XAUUSD"] = Bars("metals/xauusd_h1_utc.csv.gz"),
            ["XAGUSD"] = Bars("metals/xagusd_h1_utc.csv.gz"),
        };
        var benchmark = Configuration.CarryOptions.DefaultBenchmark;
        foreach (var r in carryRows)
        {
            var cut = DateTimeOffset.Parse(r.CutUtc, Inv);
            var (times, prices) = closes[r.Symbol];
            var i = Array.BinarySearch(times, cut);
            i = i >= 0 ? i : ~i - 1;
            D(r.Mark).ShouldBe(prices[i], $"{r.Symbol} {r.Day}: the mark must be the close known at the cut {r.CutUtc}");
            D(r.Notional).ShouldBe(Math.Abs(D(r.Quantity)) * D(r.Mark));
            var day = DateOnly.ParseExact(r.Day, "yyyy-MM-dd", Inv);
            var expectedRate = r.Kind == "Borrow" ? benchmark.Last(b => b.EffectiveFrom <= day).AnnualRate + 0.01m : 0.001m;
            (r.Kind == "Borrow").ShouldBe(D(r.Quantity) < 0m);
            D(r.Rate).ShouldBe(expectedRate);
            D(r.Amount).ShouldBe(Math.Round(D(r.Notional) * expectedRate / 360m, 2, MidpointRounding.AwayFromZero));
        }

        // The summary names each figure gross or net and lists the open position and the carry per symbol.
        var text = s.Render();
        foreach (var label in new[] { "Realized P&L gross", "Commissions", "Carry (borrow + storage)", "Realized P&L net", "Unrealized P&L gross (open at end)", "Net P&L (after every cost, open marked)" })
        {
            text.ShouldContain("  " + label + " ");
        }

        text.ShouldContain(s.Commissions.ToString("N2", Inv) + " USD (every fill");
        text.ShouldContain("open positions at the end");
        text.ShouldContain("  " + open.Symbol + " ");
        text.ShouldContain("XAUUSD Borrow");
        text.ShouldContain("XAGUSD Storage");
    }

    /// <summary>The bars of a recorded hourly file: close time (open + 1 h) and close, in file order.</summary>
    private static (DateTimeOffset[] CloseUtc, decimal[] Close) Bars(string relative)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(TestPaths.SharedDataFile(relative)), CompressionMode.Decompress));
        reader.ReadLine(); // time,open,high,low,close,volume
        var times = new List<DateTimeOffset>();
        var closes = new List<decimal>();
        while (reader.ReadLine() is { } line)
        {
            var f = line.Split(',');
            times.Add(DateTimeOffset.Parse(f[0], Inv).AddHours(1));
            closes.Add(D(f[4]));
        }

        return ([.. times], [.. closes]);
    }
}
