using System.Globalization;
using System.IO.Compression;
using Dapper;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Tests;

/// <summary>
/// Nothing a decision uses may be from after its moment, tested on the whole pipeline: the real metals year replayed
/// twice, the second time with every price after a cut-off changed; every decision before the cut-off — kind, outcome,
/// reason and every input, the judges' features among them — is identical.
/// </summary>
public sealed class NoFutureTests : IDisposable
{
    private static readonly DateTimeOffset Cut = new(2025, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public async Task ChangingEveryPriceAfterADate_ChangesNoDecisionBeforeIt_FeaturesIncluded()
    {
        var altered = Path.Combine(_env.Directory.FullName, "data");
        Directory.CreateDirectory(Path.Combine(altered, "metals"));
        foreach (var file in new[] { "metals/xauusd_m15_utc.csv.gz", "metals/xagusd_m15_utc.csv.gz" })
        {
            Alter(TestPaths.SharedDataFile(file), Path.Combine(altered, file));
        }

        var original = await Decisions(_env.WriteConfig(), "original.db");
        var changed = await Decisions(_env.WriteConfig(j => j["MarketData"]!["Replay"]!["DataDirectory"] = altered), "changed.db");
        var before = original.Where(d => d.Event < Cut).ToList();
        before.Count.ShouldBeGreaterThan(4_000);
        before.ShouldContain(d => d.Inputs.Contains("f.compression", StringComparison.Ordinal));
        changed.Where(d => d.Event < Cut).ShouldBe(before);
        // The change is real: decisions after the cut differ.
        changed.Where(d => d.Event >= Cut).ShouldNotBe(original.Where(d => d.Event >= Cut));
    }

    private async Task<List<(DateTimeOffset Event, string Kind, string Outcome, string Reason, string Inputs)>> Decisions(string config, string db)
    {
        var path = Path.Combine(_env.Directory.FullName, Path.GetFileNameWithoutExtension(db), db);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var error = new StringWriter();
        var (code, _) = await Commands.RunReplayAsync(new HostSettings(config, RunMode.Replay, path, Serilog.Events.LogEventLevel.Error), error, CancellationToken.None);
        code.ShouldBe(ExitCodes.Ok, error.ToString());
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        return [.. c.Query<(string Event, string Kind, string Outcome, string Reason, string Inputs)>("SELECT event_utc, kind, outcome, reason, inputs_json FROM decisions ORDER BY event_utc, decision_id")
            .Select(d => (DateTimeOffset.Parse(d.Event, CultureInfo.InvariantCulture), d.Kind, d.Outcome, d.Reason, d.Inputs))];
    }

    /// <summary>Copies a bar file, raising every price of a bar that opens at or after the cut by 3 %.</summary>
    private static void Alter(string from, string to)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(from), CompressionMode.Decompress));
        using var writer = new StreamWriter(new GZipStream(File.Create(to), CompressionLevel.Fastest));
        writer.WriteLine(reader.ReadLine());
        while (reader.ReadLine() is { } line)
        {
            var f = line.Split(',');
            if (DateTimeOffset.Parse(f[0], CultureInfo.InvariantCulture) >= Cut)
            {
                for (var i = 1; i <= 4; i++)
                {
                    f[i] = Math.Round(decimal.Parse(f[i], CultureInfo.InvariantCulture) * 1.03m, 3).ToString(CultureInfo.InvariantCulture);
                }
            }

            writer.WriteLine(string.Join(',', f));
        }
    }
}
