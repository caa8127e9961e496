using System.IO.Compression;
using System.Text;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Backtest;

namespace MetalSniper.Backtest.Tests;

public sealed class IngestTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ms-ingest-");

    public void Dispose() => _dir.Delete(true);

    private string WriteGz(string name, string content)
    {
        var path = Path.Combine(_dir.FullName, name);
        using var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest);
        gz.Write(Encoding.UTF8.GetBytes(content));
        return path;
    }

    private static async Task<(List<Bar> Accepted, List<BarRejected> Rejected, IngestCounters Counters)> Ingest(IMarketDataSource source)
    {
        var counters = new IngestCounters();
        var validator = new BarValidator(InstrumentCatalog.CreateDefault(), counters);
        var accepted = new List<Bar>();
        var rejected = new List<BarRejected>();
        await foreach (var r in source.StreamAsync(CancellationToken.None))
        {
            var bar = validator.Validate(r, DateTimeOffset.UnixEpoch, out var why);
            if (bar is null)
            {
                rejected.Add(why!);
            }
            else
            {
                accepted.Add(bar);
            }
        }

        return (accepted, rejected, counters);
    }

    [Fact]
    public async Task Ingest_CraftedBadFile_RejectsEachBadLineWithItsTypedReasonAndKeepsTheGoodOnes()
    {
        var path = WriteGz("bad_m15.csv.gz", """
            time,open,high,low,close,volume
            2026-01-05T10:00:00Z,2000.0,2001.0,1999.0,2000.5,0
            2026-01-05T10:15:00Z,NaN,2001.0,1999.0,2000.5,0
            2026-01-05T10:30:00Z,2000.0,Infinity,1999.0,2000.5,0
            2026-01-05T10:45:00Z,2000.0,2001.0,-5,2000.5,0
            2026-01-05T11:00:00Z,2000.0,1998.0,1999.0,1998.5,0
            2026-01-05T11:15:00Z,2003.0,2001.0,1999.0,2000.5,0
            2026-01-05T11:30:00Z,2000.0,2001.0,1999.0,2000.5,0
            2026-01-05T11:30:00Z,2000.0,2001.0,1999.0,2000.5,0
            2026-01-05T11:00:00Z,2000.0,2001.0,1999.0,2000.5,0
            2026-01-05T11:45:00Z,2000.0,2001.0,1999.0
            2026-01-05 12:00:00,2000.0,2001.0,1999.0,2000.5,0
            2026-01-05T12:15:00Z,abc,2001.0,1999.0,2000.5,0
            2026-01-05T12:30:00Z,2000.0,2001.0,1999.0,2000.5,-1
            2026-01-05T12:45:00Z,0,2001.0,0,2000.5,0
            2026-01-05T13:00:00Z,2000.0,2002.0,1999.5,2001.5,7
            """);
        var source = new ReplayMarketDataSource([new ReplayFile("XAUUSD", path, TimeSpan.FromMinutes(15), 0.01m)], TimeProvider.System, 0);

        var (accepted, rejected, counters) = await Ingest(source);

        accepted.Select(b => b.OpenTimeUtc.ToString("HH:mm")).ShouldBe(["10:00", "11:30", "13:00"]);
        counters.Read.ShouldBe(15);
        counters.Accepted.ShouldBe(3);
        counters.Rejected.ShouldBe(12);
        var byReason = counters.RejectedByReason();
        byReason[BarRejectReason.NotANumber].ShouldBe(1);
        byReason[BarRejectReason.Infinite].ShouldBe(1);
        byReason[BarRejectReason.NonPositivePrice].ShouldBe(2);
        byReason[BarRejectReason.HighBelowLow].ShouldBe(1);
        byReason[BarRejectReason.OutsideEnvelope].ShouldBe(1);
        byReason[BarRejectReason.DuplicateTimestamp].ShouldBe(1);
        byReason[BarRejectReason.OutOfOrderTimestamp].ShouldBe(1);
        byReason[BarRejectReason.MalformedLine].ShouldBe(1);
        byReason[BarRejectReason.UnparseableTimestamp].ShouldBe(1);
        byReason[BarRejectReason.UnparseableNumber].ShouldBe(1);
        byReason[BarRejectReason.NegativeVolumeOrSpread].ShouldBe(1);
        rejected.ShouldAllBe(r => r.Source == "bad_m15.csv.gz" && r.Line > 1 && r.Detail.Length > 0);
        rejected.Single(r => r.Reason == BarRejectReason.DuplicateTimestamp).Line.ShouldBe(9);
    }

    [Fact]
    public async Task Ingest_MinorUnitQuotes_AreNormalisedToMajorUnits()
    {
        var path = WriteGz("aal.csv.gz", "time,open,high,low,close,volume\n2024-01-02T08:00:00Z,2500,2510,2490,2505,1000\n");
        var (accepted, _, _) = await Ingest(new ReplayMarketDataSource([new ReplayFile("AAL.L", path, TimeSpan.FromDays(1), 0.01m)], TimeProvider.System, 0));
        var bar = accepted.ShouldHaveSingleItem();
        bar.Close.ShouldBe(25.05m); // GBp → GBP
        bar.High.ShouldBe(25.10m);
    }

    [Fact]
    public async Task Replay_RealMetalsFiles_StreamMergedInTimeOrderWithNothingRejected()
    {
        var source = new ReplayMarketDataSource(
        [
            new ReplayFile("XAUUSD", TestPaths.SharedDataFile("metals/xauusd_m15_utc.csv.gz"), TimeSpan.FromMinutes(15), 0.01m),
            new ReplayFile("XAGUSD", TestPaths.SharedDataFile("metals/xagusd_m15_utc.csv.gz"), TimeSpan.FromMinutes(15), 0.01m),
        ], TimeProvider.System, 0);
        var (accepted, rejected, _) = await Ingest(source);

        // Row counts from ../shared/data/README.md.
        accepted.Count(b => b.Symbol == "XAUUSD").ShouldBe(23_270);
        accepted.Count(b => b.Symbol == "XAGUSD").ShouldBe(23_608);
        rejected.ShouldBeEmpty();
        for (var i = 1; i < accepted.Count; i++)
        {
            accepted[i].OpenTimeUtc.ShouldBeGreaterThanOrEqualTo(accepted[i - 1].OpenTimeUtc);
        }

        accepted[0].OpenTimeUtc.ShouldBe(new DateTimeOffset(2025, 6, 13, 12, 30, 0, TimeSpan.Zero));
    }

    [Fact]
    public async Task Replay_M1FileSpreadPoints_BecomeSpreadInPriceUnits()
    {
        var source = new ReplayMarketDataSource([new ReplayFile("XAUUSD", TestPaths.SharedDataFile("metals/xauusd_m1_utc.csv.gz"), TimeSpan.FromMinutes(1), 0.01m)],
            TimeProvider.System, 0, null, new DateTimeOffset(2026, 3, 24, 14, 10, 0, TimeSpan.Zero));
        var (accepted, _, _) = await Ingest(source);
        accepted.Count.ShouldBe(10);
        accepted.ShouldAllBe(b => b.Spread > 0m && b.Spread < 5m);
        source.OutsideWindow.ShouldBeGreaterThan(60_000);
    }

    [Fact]
    public void Replay_MissingFile_FailsLoudlyAtConstruction() =>
        Should.Throw<FileNotFoundException>(() => new ReplayMarketDataSource([new ReplayFile("XAUUSD", "/nope/x.csv.gz", TimeSpan.FromMinutes(15), 0.01m)], TimeProvider.System, 0));
}
