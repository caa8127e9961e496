namespace MetalSniper.InteractiveBrokers.Bench;

/// <summary>Percentiles (nearest rank) of a latency sample in microseconds.</summary>
internal sealed record LatencyStats(int Count, double P50, double P90, double P99, double P999, double Max, double Mean)
{
    public static LatencyStats Empty { get; } = new(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);

    public static LatencyStats Of(IReadOnlyCollection<double> micros)
    {
        ArgumentNullException.ThrowIfNull(micros);
        if (micros.Count == 0)
        {
            return Empty;
        }

        var sorted = micros.ToArray();
        Array.Sort(sorted);
        return new LatencyStats(sorted.Length, Rank(sorted, 50), Rank(sorted, 90), Rank(sorted, 99), Rank(sorted, 99.9), sorted[^1], sorted.Average());
    }

    private static double Rank(double[] sorted, double percentile)
    {
        var index = (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }
}
