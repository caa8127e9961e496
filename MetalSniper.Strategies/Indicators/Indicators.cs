namespace MetalSniper.Strategies.Indicators;

/// <summary>
/// Average true range with Wilder's smoothing (J. Welles Wilder, "New Concepts in Technical
/// Trading Systems", 1978): the first value is the simple mean of the first N true ranges, then
/// ATR = (ATR·(N−1) + TR) / N. Prices in the instrument's price units.
/// </summary>
public sealed class AverageTrueRange(int period)
{
    private readonly int _period = period > 0 ? period : throw new ArgumentOutOfRangeException(nameof(period), period, "ATR period must be > 0");
    private decimal? _previousClose;
    private decimal _sum;
    private int _count;

    /// <summary>The current ATR, or null until <c>period</c> bars were seen.</summary>
    public decimal? Value { get; private set; }

    /// <summary>Adds a completed bar.</summary>
    public void Add(decimal high, decimal low, decimal close)
    {
        var tr = _previousClose is { } pc ? Math.Max(high, pc) - Math.Min(low, pc) : high - low;
        _previousClose = close;
        if (_count < _period)
        {
            _sum += tr;
            if (++_count == _period)
            {
                Value = _sum / _period;
            }

            return;
        }

        Value = ((Value!.Value * (_period - 1)) + tr) / _period;
    }
}

/// <summary>Exponential moving average, α = 2/(N+1), seeded with the simple mean of the first N values.</summary>
public sealed class ExponentialMovingAverage(int period)
{
    private readonly int _period = period > 0 ? period : throw new ArgumentOutOfRangeException(nameof(period), period, "EMA period must be > 0");
    private decimal _sum;
    private int _count;

    /// <summary>The current value, or null until <c>period</c> values were seen.</summary>
    public decimal? Value { get; private set; }

    /// <summary>Adds a value.</summary>
    public void Add(decimal value)
    {
        if (_count < _period)
        {
            _sum += value;
            if (++_count == _period)
            {
                Value = _sum / _period;
            }

            return;
        }

        var alpha = 2m / (_period + 1);
        Value += alpha * (value - Value!.Value);
    }
}
