namespace MetalSniper.Pairs.Statistics;

/// <summary>Why the last <see cref="RollingZScore.Push"/> did or did not give a score.</summary>
public enum ZScoreStatus
{
    /// <summary>Fewer than <see cref="RollingZScore.Window"/> earlier values yet: no score.</summary>
    WindowFilling,

    /// <summary>A z-score was returned.</summary>
    Scored,

    /// <summary>Every value in the reference window is equal (standard deviation 0): z is undefined, no score.</summary>
    ZeroDispersion,
}

/// <summary>
/// A causal rolling z-score: each new value v_t is scored against the <see cref="Window"/> values strictly before it,
/// z_t = (v_t − mean(v_{t−w} … v_{t−1})) / sd(v_{t−w} … v_{t−1}), sd the sample standard deviation (divisor w − 1).
/// The newest value is NOT in its own reference window (so a jump is measured against the past, not diluted by
/// itself), and nothing after v_t is ever used: appending values never changes an earlier score. Mean and variance are
/// recomputed two-pass over the window on every push (O(w), exact to rounding, no drift; windows are ~20–250).
/// Not thread-safe: one owner pushes.
/// </summary>
public sealed class RollingZScore
{
    private readonly double[] _buffer;
    private int _next;
    private int _filled;

    /// <summary>Creates an empty scorer.</summary>
    /// <param name="window">w, the number of past values each score is measured against; at least 2.</param>
    /// <exception cref="ArgumentException">window &lt; 2.</exception>
    public RollingZScore(int window)
    {
        if (window < 2)
        {
            throw new ArgumentException($"window must be >= 2 (a standard deviation needs two values), was {window}", nameof(window));
        }

        Window = window;
        _buffer = new double[window];
    }

    /// <summary>w, the length of the reference window (values strictly before the one scored).</summary>
    public int Window { get; }

    /// <summary>How many values have been pushed.</summary>
    public long Count { get; private set; }

    /// <summary>Why the last push did or did not give a score.</summary>
    public ZScoreStatus Status { get; private set; } = ZScoreStatus.WindowFilling;

    /// <summary>
    /// Scores <paramref name="value"/> against the previous <see cref="Window"/> values, then adds it to the window.
    /// Returns null while fewer than <see cref="Window"/> values precede it, or when they are all equal
    /// (<see cref="Status"/> says which); never NaN.
    /// </summary>
    /// <param name="value">The newest value (finite).</param>
    /// <exception cref="ArgumentException">NaN or ±∞ (the window is left unchanged).</exception>
    public double? Push(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentException($"value must be finite, was {value} (push #{Count + 1})", nameof(value));
        }

        double? z = null;
        if (_filled < Window)
        {
            Status = ZScoreStatus.WindowFilling;
        }
        else
        {
            z = Score(value);
            Status = z is null ? ZScoreStatus.ZeroDispersion : ZScoreStatus.Scored;
        }

        _buffer[_next] = value;
        _next = (_next + 1) % Window;
        _filled = Math.Min(_filled + 1, Window);
        Count++;
        return z;
    }

    /// <summary>
    /// The whole series scored causally: element t is <see cref="Push"/>'s answer for series[t] after series[0..t−1]
    /// (null for t &lt; <paramref name="window"/> and for windows with zero dispersion).
    /// </summary>
    /// <param name="series">The values, oldest first; at least window + 1 finite values, not all equal.</param>
    /// <param name="window">w, at least 2.</param>
    /// <exception cref="ArgumentException">window &lt; 2, too short (fewer than window + 1), NaN/∞, or a constant series.</exception>
    public static double?[] Compute(ReadOnlySpan<double> series, int window)
    {
        var scorer = new RollingZScore(window);
        SeriesGuard.RequireUsable(series, window + 1, nameof(series), $"a z-score with a {window}-value window (the window plus the value scored)");
        var result = new double?[series.Length];
        for (var t = 0; t < series.Length; t++)
        {
            result[t] = scorer.Push(series[t]);
        }

        return result;
    }

    private double? Score(double value)
    {
        var min = _buffer[0];
        var max = _buffer[0];
        var sum = 0.0;
        foreach (var v in _buffer)
        {
            sum += v;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        if (min == max)
        {
            return null;
        }

        var mean = sum / Window;
        var squares = 0.0;
        foreach (var v in _buffer)
        {
            var d = v - mean;
            squares += d * d;
        }

        var sd = Math.Sqrt(squares / (Window - 1));
        return (value - mean) / sd;
    }
}
