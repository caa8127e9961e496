using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using MetalSniper.Core.MarketData;

namespace MetalSniper.Features;

/// <summary>One feature of the judges' schema.</summary>
/// <param name="Name">Column name (stable; models are bound to names and order).</param>
/// <param name="Type">Value type ("float").</param>
/// <param name="Unit">Unit ("ATR" = multiples of the 14-bar ATR, "ratio", "fraction", "R" = multiples of the trade's initial risk, "bars", "hour", "count").</param>
/// <param name="LookbackBars">How many completed bars, ending at the as-of bar, the value reads (0 for trade state).</param>
/// <param name="Description">What it measures.</param>
public sealed record FeatureSpec(string Name, string Type, string Unit, int LookbackBars, string Description);

/// <summary>
/// The features a judge saw at one decision: values in schema order, and the time they were knowable. Nothing in it
/// is from after <see cref="AsOfUtc"/>: every value reads completed bars whose close time is ≤ it (bars are knowable at
/// their close, <see cref="Bar.CloseTimeUtc"/>) and the trade's state as of the same bar.
/// </summary>
/// <param name="Values">Values in <see cref="FeatureBuilder.Schema"/> order; <see cref="float.NaN"/> = missing (XGBoost's missing value).</param>
/// <param name="AsOfUtc">The close time of the last bar the features read (UTC).</param>
public sealed record FeatureVector(float[] Values, DateTimeOffset AsOfUtc)
{
    /// <summary>Prefix of the feature entries in a decision's inputs ("f.compression" …).</summary>
    public const string InputPrefix = "f.";

    /// <summary>The decision-input key of the as-of time.</summary>
    public const string AsOfKey = "f@asOf";

    /// <summary>The decision-input key of the feature code hash the values were computed with.</summary>
    public const string CodeKey = "f@code";

    /// <summary>
    /// The entries this vector adds to a decision's inputs: one per feature (round-trip float text, "NaN" when missing),
    /// the as-of time (ISO 8601 UTC) and the feature code hash (first 16 hex digits).
    /// </summary>
    public IEnumerable<KeyValuePair<string, string>> ToInputs()
    {
        var schema = FeatureBuilder.Schema;
        for (var i = 0; i < schema.Count; i++)
        {
            yield return new(InputPrefix + schema[i].Name, Values[i].ToString("R", CultureInfo.InvariantCulture));
        }

        yield return new(AsOfKey, AsOfUtc.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        yield return new(CodeKey, FeatureBuilder.CodeHash[..16]);
    }

    /// <summary>Reads a vector back from a decision's inputs (the dataset writer: what the judge saw, not a recomputation).</summary>
    /// <returns>The vector, or null when the decision carries no features.</returns>
    /// <exception cref="FormatException">A feature entry is missing or not a number (names which).</exception>
    public static FeatureVector? FromInputs(IReadOnlyDictionary<string, string> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (!inputs.TryGetValue(AsOfKey, out var asOfText))
        {
            return null;
        }

        var schema = FeatureBuilder.Schema;
        var values = new float[schema.Count];
        for (var i = 0; i < schema.Count; i++)
        {
            if (!inputs.TryGetValue(InputPrefix + schema[i].Name, out var text)
                || !float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
            {
                throw new FormatException($"decision inputs have no numeric feature '{schema[i].Name}'");
            }
        }

        return new FeatureVector(values, DateTimeOffset.Parse(asOfText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal));
    }
}

/// <summary>The trade's state at a decision (exit and add judges); null for an entry (no trade yet).</summary>
/// <param name="Direction">+1 long, −1 short.</param>
/// <param name="RMultiple">(close − leg entry)·direction / R at the as-of bar.</param>
/// <param name="MaxFavorableR">The best R multiple reached so far in the trade (from the extreme).</param>
/// <param name="BarsInTrade">Completed bars since the survivor leg was chosen.</param>
/// <param name="StopDistanceR">(close − stop)·direction / R: how much room the protective stop leaves.</param>
/// <param name="Adds">Adds filled so far.</param>
public sealed record TradeState(int Direction, double RMultiple, double MaxFavorableR, int BarsInTrade, double StopDistanceR, int Adds);

/// <summary>
/// The judges' features, one code path: the live brain and the dataset writer both use this builder (the writer reads
/// what the brain recorded on its decision rows). Streaming, per symbol: <see cref="Update"/> with each completed bar
/// in time order (O(1) per bar, a 96-bar ring), <see cref="Snapshot"/> at a decision. Every market feature is scaled by
/// the bar's own volatility or is a ratio, so a model can be trained on hourly bars and applied to 15-minute bars
/// (whether it transfers is measured, not assumed). Volume is not used: the 15-minute files carry none.
/// </summary>
public sealed class FeatureBuilder
{
    private const int Ring = 96;
    private const int AtrPeriod = 14;
    private const int LongAtrPeriod = 96;

    /// <summary>The schema: names, units and look-backs, in the order of <see cref="FeatureVector.Values"/>.</summary>
    public static IReadOnlyList<FeatureSpec> Schema { get; } =
    [
        new("compression", "float", "ratio", LongAtrPeriod, "ATR(14)/ATR(96), Wilder"),
        new("atr_rel", "float", "fraction", AtrPeriod, "ATR(14) / close"),
        new("ret_1", "float", "ATR", 2, "(close − close 1 bar earlier) / ATR(14)"),
        new("ret_4", "float", "ATR", 5, "(close − close 4 bars earlier) / ATR(14)"),
        new("ret_16", "float", "ATR", 17, "(close − close 16 bars earlier) / ATR(14)"),
        new("ret_64", "float", "ATR", 65, "(close − close 64 bars earlier) / ATR(14)"),
        new("ema_gap", "float", "ATR", 34, "(EMA(8) − EMA(34)) / ATR(14)"),
        new("close_vs_slow", "float", "ATR", 34, "(close − EMA(34)) / ATR(14)"),
        new("range_pos_64", "float", "fraction", 64, "(close − lowest low) / (highest high − lowest low) over 64 bars"),
        new("bar_range", "float", "ATR", 1, "(high − low) / ATR(14) of the as-of bar"),
        new("vol_ratio", "float", "ratio", Ring, "stdev of 1-bar changes over 16 bars / over 96 bars"),
        new("hour_utc", "float", "hour", 0, "hour of the as-of bar's close, UTC"),
        new("weekday", "float", "count", 0, "day of week of the as-of bar's close (0 = Sunday), UTC"),
        new("trade_r", "float", "R", 0, "trade: R multiple at the close (NaN for an entry)"),
        new("trade_mfe_r", "float", "R", 0, "trade: best R multiple reached so far (NaN for an entry)"),
        new("trade_bars", "float", "bars", 0, "trade: bars since the survivor was chosen (NaN for an entry)"),
        new("trade_stop_r", "float", "R", 0, "trade: distance from the close to the stop in R (NaN for an entry)"),
        new("trade_adds", "float", "count", 0, "trade: adds filled so far (NaN for an entry)"),
    ];

    /// <summary>Names in schema order.</summary>
    public static IReadOnlyList<string> Names { get; } = Schema.Select(s => s.Name).ToArray();

    /// <summary>
    /// SHA-256 (hex) of the feature code: the IL of every method of this builder and of <see cref="FeatureVector"/>, and
    /// the schema text. Any change to how a feature is computed changes it, and a model trained on other code is refused
    /// at load (parity).
    /// </summary>
    public static string CodeHash { get; } = ComputeCodeHash();

    private readonly double[] _close = new double[Ring];
    private readonly double[] _high = new double[Ring];
    private readonly double[] _low = new double[Ring];
    private int _count;
    private int _head = -1;
    private double _atr;
    private double _atrLong;
    private double _atrSum;
    private double _atrLongSum;
    private double _fast;
    private double _slow;
    private double _fastSum;
    private double _slowSum;
    private DateTimeOffset _asOf;
    private double _lastRange;

    /// <summary>The close time of the last bar added (UTC); default before the first.</summary>
    public DateTimeOffset AsOfUtc => _asOf;

    /// <summary>True once every market feature has its full look-back (96 bars).</summary>
    public bool Ready => _count >= Ring;

    /// <summary>Adds a completed bar. Bars must come in time order.</summary>
    /// <exception cref="ArgumentException">The bar closes before the previous one.</exception>
    public void Update(Bar bar)
    {
        ArgumentNullException.ThrowIfNull(bar);
        if (_count > 0 && bar.CloseTimeUtc < _asOf)
        {
            throw new ArgumentException($"bar of {bar.Symbol} closing {bar.CloseTimeUtc:O} is before the previous bar ({_asOf:O})", nameof(bar));
        }

        var high = (double)bar.High;
        var low = (double)bar.Low;
        var close = (double)bar.Close;
        var tr = _count > 0 ? Math.Max(high, _close[_head]) - Math.Min(low, _close[_head]) : high - low;
        _head = (_head + 1) % Ring;
        _close[_head] = close;
        _high[_head] = high;
        _low[_head] = low;
        _count++;
        _asOf = bar.CloseTimeUtc;
        _lastRange = high - low;
        Wilder(ref _atr, ref _atrSum, tr, AtrPeriod);
        Wilder(ref _atrLong, ref _atrLongSum, tr, LongAtrPeriod);
        Ema(ref _fast, ref _fastSum, close, 8);
        Ema(ref _slow, ref _slowSum, close, 34);
    }

    /// <summary>The features as of the last bar added; market features are NaN until their look-back is full.</summary>
    /// <param name="trade">The trade's state (exit and add judges), or null for an entry.</param>
    public FeatureVector Snapshot(TradeState? trade)
    {
        var v = new float[Schema.Count];
        Array.Fill(v, float.NaN);
        if (_count > 0)
        {
            var close = _close[_head];
            var atr = _count >= AtrPeriod ? _atr : double.NaN;
            v[0] = _count >= LongAtrPeriod ? (float)(_atr / _atrLong) : float.NaN;
            v[1] = (float)(atr / close);
            v[2] = Change(1, atr);
            v[3] = Change(4, atr);
            v[4] = Change(16, atr);
            v[5] = Change(64, atr);
            v[6] = _count >= 34 ? (float)((_fast - _slow) / atr) : float.NaN;
            v[7] = _count >= 34 ? (float)((close - _slow) / atr) : float.NaN;
            v[8] = RangePosition(64);
            v[9] = (float)(_lastRange / atr);
            v[10] = _count >= Ring ? (float)(StdevOfChanges(16) / StdevOfChanges(Ring - 1)) : float.NaN;
            v[11] = _asOf.UtcDateTime.Hour;
            v[12] = (int)_asOf.UtcDateTime.DayOfWeek;
        }

        if (trade is not null)
        {
            v[13] = (float)trade.RMultiple;
            v[14] = (float)trade.MaxFavorableR;
            v[15] = trade.BarsInTrade;
            v[16] = (float)trade.StopDistanceR;
            v[17] = trade.Adds;
        }

        for (var i = 0; i < v.Length; i++)
        {
            if (float.IsInfinity(v[i]))
            {
                v[i] = float.NaN; // a zero ATR or range: missing, not infinite
            }
        }

        return new FeatureVector(v, _asOf);
    }

    private float Change(int bars, double atr) => _count > bars ? (float)((_close[_head] - _close[Index(bars)]) / atr) : float.NaN;

    private int Index(int barsAgo) => ((_head - barsAgo) % Ring + Ring) % Ring;

    private float RangePosition(int bars)
    {
        if (_count < bars)
        {
            return float.NaN;
        }

        var hi = double.MinValue;
        var lo = double.MaxValue;
        for (var i = 0; i < bars; i++)
        {
            var k = Index(i);
            hi = Math.Max(hi, _high[k]);
            lo = Math.Min(lo, _low[k]);
        }

        return (float)((_close[_head] - lo) / (hi - lo));
    }

    private double StdevOfChanges(int changes)
    {
        double sum = 0, sumSq = 0;
        for (var i = 0; i < changes; i++)
        {
            var d = _close[Index(i)] - _close[Index(i + 1)];
            sum += d;
            sumSq += d * d;
        }

        var mean = sum / changes;
        return Math.Sqrt(Math.Max(0, (sumSq / changes) - (mean * mean)));
    }

    private void Wilder(ref double value, ref double sum, double tr, int period)
    {
        if (_count <= period)
        {
            sum += tr;
            if (_count == period)
            {
                value = sum / period;
            }

            return;
        }

        value = ((value * (period - 1)) + tr) / period;
    }

    private void Ema(ref double value, ref double sum, double x, int period)
    {
        if (_count <= period)
        {
            sum += x;
            if (_count == period)
            {
                value = sum / period;
            }

            return;
        }

        value += 2.0 / (period + 1) * (x - value);
    }

    private static string ComputeCodeHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var type in new[] { typeof(FeatureBuilder), typeof(FeatureVector), typeof(TradeState) })
        {
            const BindingFlags all = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)).OrderBy(m => m.ToString(), StringComparer.Ordinal))
            {
                sha.AppendData(Encoding.UTF8.GetBytes(type.FullName + "::" + method));
                sha.AppendData(method.GetMethodBody()?.GetILAsByteArray() ?? []);
            }
        }

        foreach (var spec in Schema)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(spec.ToString()));
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
