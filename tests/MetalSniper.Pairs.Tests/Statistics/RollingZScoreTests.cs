using MetalSniper.Pairs.Statistics;

namespace MetalSniper.Pairs.Tests.Statistics;

public sealed class RollingZScoreTests
{
    [Fact]
    public void Push_NewestValue_IsScoredAgainstThePreviousWindowOnly()
    {
        var z = new RollingZScore(window: 3);
        z.Push(1.0).ShouldBeNull();
        z.Push(2.0).ShouldBeNull();
        z.Push(3.0).ShouldBeNull();
        z.Status.ShouldBe(ZScoreStatus.WindowFilling);

        // Window {1, 2, 3}: mean 2, sample sd 1, so z(100) = 98. Had 100 been in its own window the answer would be ≈ 0.87.
        z.Push(100.0).ShouldBe(98.0);
        z.Status.ShouldBe(ZScoreStatus.Scored);

        // Now the window is {2, 3, 100}: 1 is gone, 100 is in.
        var mean = (2.0 + 3.0 + 100.0) / 3.0;
        var sd = Math.Sqrt((Math.Pow(2.0 - mean, 2) + Math.Pow(3.0 - mean, 2) + Math.Pow(100.0 - mean, 2)) / 2.0);
        z.Push(4.0)!.Value.ShouldBe((4.0 - mean) / sd, 1e-12);
        z.Count.ShouldBe(5);
    }

    [Fact]
    public void Compute_AppendingFutureValues_DoesNotChangeEarlierScores()
    {
        var series = Simulated.RandomWalk(600, seed: 51);

        var early = RollingZScore.Compute(series.AsSpan(0, 300), window: 60);
        var full = RollingZScore.Compute(series, window: 60);

        for (var t = 0; t < 300; t++)
        {
            full[t].ShouldBe(early[t], $"index {t}");
        }
    }

    [Fact]
    public void Compute_ChangingTheScoredValueOrLater_LeavesEveryEarlierScore()
    {
        var series = Simulated.RandomWalk(400, seed: 52);
        var shocked = (double[])series.Clone();
        for (var t = 250; t < shocked.Length; t++)
        {
            shocked[t] += 1_000.0;
        }

        var before = RollingZScore.Compute(series, window: 20);
        var after = RollingZScore.Compute(shocked, window: 20);

        for (var t = 0; t < 250; t++)
        {
            after[t].ShouldBe(before[t], $"index {t}");
        }

        after[250].ShouldNotBe(before[250]);
    }

    [Fact]
    public void Compute_FirstWindowValues_AreNullThenEveryScoreEqualsAStreamingPush()
    {
        var series = Simulated.RandomWalk(200, seed: 53);
        var streaming = new RollingZScore(window: 25);

        var all = RollingZScore.Compute(series, window: 25);

        for (var t = 0; t < series.Length; t++)
        {
            var pushed = streaming.Push(series[t]);
            all[t].ShouldBe(pushed);
            (pushed is null).ShouldBe(t < 25, $"index {t}");
        }
    }

    [Fact]
    public void Compute_LongSeriesFarFromZero_MatchesATwoPassRecomputation()
    {
        // A level of 1e6 with small moves: a naive running sum of squares would lose digits here.
        var series = Simulated.Ar1(2_000, seed: 54, phi: 0.8).Select(v => 1e6 + v * 1e-3).ToArray();
        const int window = 250;

        var z = RollingZScore.Compute(series, window);

        foreach (var t in new[] { 250, 1_000, 1_999 })
        {
            var past = series[(t - window)..t];
            var mean = past.Average();
            var sd = Math.Sqrt(past.Sum(v => (v - mean) * (v - mean)) / (window - 1));
            z[t]!.Value.ShouldBe((series[t] - mean) / sd, 1e-6);
        }
    }

    [Fact]
    public void Push_WindowOfEqualValues_ReturnsNullWithZeroDispersionNotNaN()
    {
        var z = new RollingZScore(window: 4);
        foreach (var v in new[] { 0.1, 0.1, 0.1, 0.1 })
        {
            z.Push(v);
        }

        z.Push(0.2).ShouldBeNull();
        z.Status.ShouldBe(ZScoreStatus.ZeroDispersion);
    }
}
