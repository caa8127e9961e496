using System.Text.Json.Nodes;
using MetalSniper.Host.Cli;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Supervision;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Tests that set <c>METALSNIPER_*</c> environment variables (process-wide) run alone: a replay started in parallel by
/// another test class would read the override into its own configuration.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection
{
    public const string Name = "process environment";
}

[Collection(ProcessEnvironmentCollection.Name)]
public sealed class ConfigurationTests : IDisposable
{
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void RepositoryConfiguration_IsValid()
    {
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(_env.WriteConfig(), RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Ok, errors.ToString());
    }

    [Fact]
    public void BadConfiguration_ReportsEveryErrorAtOnce_WithExitCode78()
    {
        var config = _env.WriteConfig(j =>
        {
            j["Risk"]!["DailyLosLimit"] = 100;                      // typo: unknown key
            j["Risk"]!["SweepIntervalMilliseconds"] = 5000;          // out of range (≤ 1000)
            j["Strategies"]!["Metals"]!["SlowEma"] = 3;              // cross-field rule: must exceed FastEma
            j["Persistance"] = new JsonObject { ["DatabasePath"] = "x" }; // typo: unknown section
            j["SimulatedBroker"]!["Costs"]!["XAUUSD"]!["Comission"] = 1; // typo inside a dictionary entry
            j["MarketData"]!["Replay"]!["Files"]![0]!["IntervalMinutes"] = 0; // out of range inside a list
        });
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(config, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        var text = errors.ToString();
        text.ShouldContain("6 error(s)");
        text.ShouldContain("Risk:DailyLosLimit: unknown key");
        text.ShouldContain("Risk:SweepIntervalMilliseconds");
        text.ShouldContain("SlowEma must be > FastEma");
        text.ShouldContain("Persistance: unknown configuration section");
        text.ShouldContain("SimulatedBroker:Costs:XAUUSD:Comission: unknown key");
        text.ShouldContain("MarketData:Replay:Files:0:IntervalMinutes");
    }

    [Fact]
    public void CarryBenchmarkSchedule_NotAscendingOrOutOfBounds_IsRefusedOnStart_NamingEachEntry()
    {
        var config = _env.WriteConfig(j =>
        {
            var benchmark = j["SimulatedBroker"]!["Carry"]!["Benchmark"]!.AsArray();
            benchmark[3]!["EffectiveFrom"] = "2018-01-01";                  // before the entry above it
            benchmark[5]!["AnnualRate"] = 5.25;                              // a percentage where a fraction belongs
            j["SimulatedBroker"]!["Carry"]!["CutTimeZone"] = "America/NewYork"; // unknown time zone
            j["SimulatedBroker"]!["Carry"]!["StorageRate"] = 0.001;         // typo: unknown key
        });
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(config, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        var text = errors.ToString();
        text.ShouldContain("Benchmark[3] 2018-01-01 is not after Benchmark[2] 2018-06-14 (dates must ascend)");
        text.ShouldContain("Benchmark[5] 2019-08-01: rate 5.25 is not within [-0.05, 0.25]");
        text.ShouldContain("CutTimeZone: unknown time zone 'America/NewYork'");
        text.ShouldContain("SimulatedBroker:Carry:StorageRate: unknown key");
    }

    [Fact]
    public void RiskLimitMistakes_AreConfigurationErrors()
    {
        var config = _env.WriteConfig(j =>
        {
            j["Execution"]!["Mode"] = "Live";                                   // live against the simulated broker
            j["Risk"]!["Gates"]!["MaxSpreadFracton"] = 0.01;                     // typo inside the nested section
            j["Risk"]!["Gates"]!["MaxPositionQuantity"]!["GOLD"] = 10;           // unknown instrument
            j["Risk"]!["Breakers"]!["SharpeMinTrades"] = 50;                     // > SharpeWindow (30)
            j["Risk"]!["ReservedRiskMessagesPerSecond"] = 45;                    // not below the total
        });
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(config, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        var text = errors.ToString();
        text.ShouldContain("Risk:Gates:MaxSpreadFracton: unknown key");
        text.ShouldContain("SharpeMinTrades (50) must be ≤ SharpeWindow (30)");
        text.ShouldContain("ReservedRiskMessagesPerSecond (45) must be below BrokerMessagesPerSecond (45)");

        // Cross-section rules run once each section is valid on its own.
        var cross = _env.WriteConfig(j =>
        {
            j["Execution"]!["Mode"] = "Live";
            j["Risk"]!["Gates"]!["MaxPositionQuantity"]!["GOLD"] = 10;
        });
        errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(cross, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        errors.ToString().ShouldContain("Live needs a live broker");
        errors.ToString().ShouldContain("'GOLD' is not a known instrument");
    }

    [Fact]
    public void CrossSectionMistakes_AreConfigurationErrors()
    {
        var config = _env.WriteConfig(j =>
        {
            j["Strategies"]!["Metals"]!["Symbols"] = new JsonArray("XAUUSD", "XAGUSD", "AAL.L", "NOPE");
            j["Risk"]!["TradingDayTimeZone"] = "Mars/Olympus";
            j["Account"]!["BaseCurrency"] = "EUR";
        });
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(config, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        var text = errors.ToString();
        text.ShouldContain("'AAL.L' has no cost model");
        text.ShouldContain("'AAL.L' has no market data");
        text.ShouldContain("'NOPE' is not a known instrument");
        text.ShouldContain("Mars/Olympus");
        text.ShouldContain("XAUUSD trades in USD and no rate in Account:FxRates converts USD to EUR");
    }

    private static void AddDailyFiles(JsonObject j)
    {
        var files = j["MarketData"]!["Replay"]!["Files"]!.AsArray();
        files.Add(new JsonObject { ["Symbol"] = "RDSA.L", ["Path"] = "dual_listed/lse/RDSa.L_2015-07_2020-06.csv", ["Daily"] = true, ["Column"] = "close" });
        files.Add(new JsonObject { ["Symbol"] = "GBPUSD", ["Path"] = "dual_listed/fx/GBPUSD_2015-07_2020-06.csv", ["Daily"] = true });
        j["Account"]!["FxRates"] = new JsonArray(new JsonObject { ["Pair"] = "GBPUSD", ["Rate"] = 1.29, ["AsOfUtc"] = "2019-11-05T00:00:00Z" });
    }

    [Fact]
    public void DailyReplayFiles_BesideFifteenMinuteMetals_AreValidWithTheRepositoryStaleAndQuoteLimits()
    {
        // StaleDataAfter 45 min and MaxQuoteAge 30 min are far shorter than a daily bar: the sentinel's limit is per symbol
        // (max(StaleDataAfter, 2 × bar)) and the quote-age check looks at the intraday files only.
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(_env.WriteConfig(AddDailyFiles), RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Ok, errors.ToString());
    }

    [Fact]
    public void DailyReplayFile_WithAnUnknownColumn_IsAConfigurationError()
    {
        var config = _env.WriteConfig(j =>
        {
            AddDailyFiles(j);
            j["MarketData"]!["Replay"]!["Files"]![2]!["Column"] = "Close Price";
        });
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(config, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        errors.ToString().ShouldContain("Column");
    }

    [Fact]
    public void MaxQuoteAge_NotLongerThanTheIntradayBars_IsStillAnError_DailyFilesNotCounted()
    {
        var config = _env.WriteConfig(j =>
        {
            AddDailyFiles(j);
            j["Risk"]!["Gates"]!["MaxQuoteAge"] = "00:15:00";
        });
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(config, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        errors.ToString().ShouldContain("MaxQuoteAge: 00:15:00 is not longer than the 00:15:00 bars of metals/xauusd_m15_utc.csv.gz (the longest intraday interval; daily files are not counted)");
    }

    [Fact]
    public void FxRateWithoutAsOfTime_IsAConfigurationError()
    {
        var config = _env.WriteConfig(j => j["Account"]!["FxRates"] = new JsonArray(new JsonObject { ["Pair"] = "EURUSD", ["Rate"] = 1.1 }));
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(config, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        errors.ToString().ShouldContain("Account:FxRates:0:AsOfUtc");
    }

    [Fact]
    public void EnvironmentVariableOverride_IsValidatedToo()
    {
        Environment.SetEnvironmentVariable("METALSNIPER_Risk__DailyLossLimit", "0");
        try
        {
            var errors = new StringWriter();
            Commands.LoadValidated(new HostSettings(_env.WriteConfig(), RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
            errors.ToString().ShouldContain("DailyLossLimit");
        }
        finally
        {
            Environment.SetEnvironmentVariable("METALSNIPER_Risk__DailyLossLimit", null);
        }
    }

    [Fact]
    public async Task MissingDataDirectory_FailsWithNoInputExitCodeAndThePath()
    {
        var config = _env.WriteConfig(j => j["MarketData"]!["Replay"]!["DataDirectory"] = "/nonexistent/metalsniper-data");
        var errors = new StringWriter();
        var (code, summary) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, _env.DatabasePath, Serilog.Events.LogEventLevel.Fatal), errors, CancellationToken.None);
        code.ShouldBe(ExitCodes.NoInput);
        summary.ShouldBeNull();
        errors.ToString().ShouldContain("/nonexistent/metalsniper-data");
    }

    [Fact]
    public void WrongTypedValues_AreEachReported_AndDoNotHideTheOtherErrorsOfTheirSection()
    {
        var config = _env.WriteConfig(j =>
        {
            j["Risk"]!["SweepIntervalMilliseconds"] = "fast";            // not a number
            j["Risk"]!["StaleDataAfter"] = "forty-five minutes";          // not a time span
            j["Risk"]!["DailyLosLimit"] = 100;                            // typo: unknown key, same section
            j["Strategies"]!["Metals"]!["SlowEma"] = 3;                   // cross-field rule in another section
            j["Execution"]!["Mode"] = "Papr";                             // not a defined mode
            j["Operator"]!["StatusLineInterval"] = "00:00:01";            // out of range
        });
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(config, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        var text = errors.ToString();
        text.ShouldContain("6 error(s)", customMessage: text);
        text.ShouldContain("Risk:SweepIntervalMilliseconds: 'fast' is not a whole number");
        text.ShouldContain("Risk:StaleDataAfter: 'forty-five minutes' is not a time span");
        text.ShouldContain("Risk:DailyLosLimit: unknown key");
        text.ShouldContain("SlowEma must be > FastEma");
        text.ShouldContain("Execution:Mode: 'Papr' is not one of Paper, Live");
        text.ShouldContain("Operator:StatusLineInterval");
    }

    [Fact]
    public void JsonSyntaxError_GivesItsLineAndColumn()
    {
        var path = _env.WriteConfig();
        var lines = File.ReadAllLines(path).ToList();
        // WriteConfig writes one line; make it readable, then drop the comma after the first section (line 4).
        var pretty = JsonNode.Parse(File.ReadAllText(path))!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }).Split('\n').ToList();
        pretty[3] = pretty[3].TrimEnd(','); // "  }," closing Broker → "  }"
        File.WriteAllLines(path, pretty);
        lines.ShouldNotBeEmpty();
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(path, RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
        errors.ToString().ShouldContain("line 5, column ", customMessage: errors.ToString());
    }

    [Fact]
    public void MissingConfigFile_IsAConfigurationError()
    {
        var errors = new StringWriter();
        Commands.LoadValidated(new HostSettings(Path.Combine(_env.Directory.FullName, "nope.json"), RunMode.Replay), errors, out _).ShouldBe(ExitCodes.Config);
    }
}
