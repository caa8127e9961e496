using MetalSniper.Backtest;

namespace MetalSniper.Backtest.Tests;

/// <summary>The replay source's read-only progress estimate (for progress displays) over the real metals files.</summary>
public sealed class ReplayProgressEstimateTests
{
    private static ReplayFile[] Metals =>
    [
        new("XAUUSD", TestPaths.SharedDataFile("metals/xauusd_m15_utc.csv.gz"), TimeSpan.FromMinutes(15), 0.01m),
        new("XAGUSD", TestPaths.SharedDataFile("metals/xagusd_m15_utc.csv.gz"), TimeSpan.FromMinutes(15), 0.01m),
    ];

    private static async Task<List<(long Yielded, double? Fraction)>> Samples(ReplayMarketDataSource source)
    {
        var samples = new List<(long, double?)> { (source.RecordsYielded, source.FractionRead) };
        await foreach (var _ in source.StreamAsync(CancellationToken.None))
        {
            samples.Add((source.RecordsYielded, source.FractionRead));
        }

        samples.Add((source.RecordsYielded, source.FractionRead));
        return samples;
    }

    [Fact]
    public async Task FractionRead_WholeYear_RisesWithTheCompressedBytesReadAndIsOneAtTheEnd()
    {
        var samples = await Samples(new ReplayMarketDataSource(Metals, TimeProvider.System, 0));

        samples[0].Fraction.ShouldBeNull(); // nothing read yet
        samples[^1].ShouldBe((46_878L, (double?)1d));
        var during = samples.Skip(1).SkipLast(1).Select(s => s.Fraction).ToList();
        during.ShouldAllBe(f => f != null && f >= 0 && f <= 1); // bytes read so far (the last read-ahead may reach the end of a file)
        during.Where(f => f != null).Select(f => f!.Value).ShouldBeInOrder();
        // Halfway through the records, about halfway through the bytes (the two files are of similar density).
        samples.First(s => s.Yielded >= 23_439).Fraction!.Value.ShouldBeInRange(0.35, 0.65);
    }

    [Fact]
    public async Task FractionRead_WithAWindow_IsTheShareOfTheWindowUpToTheLastBar()
    {
        var from = new DateTimeOffset(2025, 9, 1, 0, 0, 0, TimeSpan.Zero);
        var to = new DateTimeOffset(2025, 10, 1, 0, 0, 0, TimeSpan.Zero);
        var samples = await Samples(new ReplayMarketDataSource(Metals, TimeProvider.System, 0, from, to));

        samples[^1].ShouldBe((4_074L, (double?)1d));
        var middle = samples.First(s => s.Yielded == 2_037).Fraction!.Value;
        middle.ShouldBeInRange(0.4, 0.6); // 15-minute bars of both metals, evenly spread over the month's trading days
        samples.Skip(1).SkipLast(1).Select(s => s.Fraction!.Value).ShouldBeInOrder();
    }
}
