namespace MetalSniper.Judges.Evaluation;

/// <summary>One bin of a reliability table: predictions in [<see cref="From"/>, <see cref="To"/>) and what happened.</summary>
/// <param name="From">Lower edge of the predicted probability.</param>
/// <param name="To">Upper edge.</param>
/// <param name="Count">Samples in the bin.</param>
/// <param name="MeanPredicted">Mean predicted probability in the bin.</param>
/// <param name="ObservedRate">Share of positive labels in the bin.</param>
public sealed record ReliabilityBin(double From, double To, int Count, double MeanPredicted, double ObservedRate);

/// <summary>
/// Scores of probabilistic predictions against 0/1 labels: ROC AUC (Mann–Whitney rank-sum, ties averaged), log-loss
/// (natural log, probabilities clipped to [1e−15, 1 − 1e−15] as scikit-learn does), Brier score (mean squared error of
/// the probability) and a reliability table. Each throws <see cref="ArgumentException"/> on empty or mismatched input,
/// a label not 0/1, or a probability outside [0, 1] / not finite.
/// </summary>
public static class Metrics
{
    /// <summary>The area under the ROC curve; 0.5 is chance. Undefined (throws) when only one class is present.</summary>
    public static double Auc(ReadOnlySpan<double> p, ReadOnlySpan<int> y)
    {
        Check(p, y);
        var n = p.Length;
        var order = new int[n];
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
        }

        var scores = p.ToArray();
        Array.Sort(order, (a, b) => scores[a].CompareTo(scores[b]));
        var ranks = new double[n];
        for (var i = 0; i < n;)
        {
            var j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]])
            {
                j++;
            }

            for (var k = i; k <= j; k++)
            {
                ranks[order[k]] = ((i + j) / 2.0) + 1;
            }

            i = j + 1;
        }

        double pos = 0, sum = 0;
        for (var i = 0; i < n; i++)
        {
            if (y[i] == 1)
            {
                pos++;
                sum += ranks[i];
            }
        }

        var neg = n - pos;
        if (pos == 0 || neg == 0)
        {
            throw new ArgumentException("AUC needs both classes among the labels", nameof(y));
        }

        return (sum - (pos * (pos + 1) / 2)) / (pos * neg);
    }

    /// <summary>The mean negative log-likelihood of the labels.</summary>
    public static double LogLoss(ReadOnlySpan<double> p, ReadOnlySpan<int> y)
    {
        Check(p, y);
        double s = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var q = Math.Clamp(p[i], 1e-15, 1 - 1e-15);
            s -= y[i] == 1 ? Math.Log(q) : Math.Log(1 - q);
        }

        return s / p.Length;
    }

    /// <summary>The Brier score: mean (p − y)².</summary>
    public static double Brier(ReadOnlySpan<double> p, ReadOnlySpan<int> y)
    {
        Check(p, y);
        double s = 0;
        for (var i = 0; i < p.Length; i++)
        {
            s += (p[i] - y[i]) * (p[i] - y[i]);
        }

        return s / p.Length;
    }

    /// <summary>A reliability table of <paramref name="bins"/> equal-width probability bins (empty bins left out).</summary>
    public static IReadOnlyList<ReliabilityBin> Reliability(ReadOnlySpan<double> p, ReadOnlySpan<int> y, int bins = 10)
    {
        Check(p, y);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var count = new int[bins];
        var sumP = new double[bins];
        var sumY = new double[bins];
        for (var i = 0; i < p.Length; i++)
        {
            var b = Math.Min(bins - 1, (int)(p[i] * bins));
            count[b]++;
            sumP[b] += p[i];
            sumY[b] += y[i];
        }

        var table = new List<ReliabilityBin>();
        for (var b = 0; b < bins; b++)
        {
            if (count[b] > 0)
            {
                table.Add(new ReliabilityBin((double)b / bins, (double)(b + 1) / bins, count[b], sumP[b] / count[b], sumY[b] / count[b]));
            }
        }

        return table;
    }

    private static void Check(ReadOnlySpan<double> p, ReadOnlySpan<int> y)
    {
        if (p.IsEmpty || p.Length != y.Length)
        {
            throw new ArgumentException($"need as many predictions as labels, and at least one: {p.Length} and {y.Length}");
        }

        for (var i = 0; i < p.Length; i++)
        {
            if (!double.IsFinite(p[i]) || p[i] < 0 || p[i] > 1)
            {
                throw new ArgumentException($"prediction {i} is {p[i]}: probabilities are finite and in [0, 1]");
            }

            if (y[i] is not (0 or 1))
            {
                throw new ArgumentException($"label {i} is {y[i]}: labels are 0 or 1");
            }
        }
    }
}

/// <summary>
/// A fitted calibration, as stored in a model's manifest: enough to re-create the <see cref="Calibrator"/> exactly.
/// </summary>
/// <param name="Method"><c>"identity"</c> (no calibration), <c>"platt"</c> or <c>"isotonic"</c>.</param>
/// <param name="A">Platt's slope A in p' = 1 / (1 + exp(A·logit(p) + B)); null for the other methods.</param>
/// <param name="B">Platt's offset B; null for the other methods.</param>
/// <param name="X">Isotonic breakpoints: raw probabilities, non-decreasing; null for the other methods.</param>
/// <param name="Y">Isotonic values at the breakpoints: calibrated probabilities, non-decreasing; null for the other methods.</param>
public sealed record CalibrationDescription(string Method, double? A = null, double? B = null, IReadOnlyList<double>? X = null, IReadOnlyList<double>? Y = null)
{
    /// <summary>True when both describe the same calibration (same method, same parameters, same breakpoints bit for bit).</summary>
    public bool SameAs(CalibrationDescription other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Method == other.Method && Nullable.Equals(A, other.A) && Nullable.Equals(B, other.B)
            && (X ?? []).SequenceEqual(other.X ?? []) && (Y ?? []).SequenceEqual(other.Y ?? []);
    }
}

/// <summary>
/// Probability calibration fitted on validation data only, applied to later data.
/// <see cref="Platt"/>: p' = 1 / (1 + exp(A·logit(p) + B)), fitted by Newton's method on the log-loss with Platt's (1999)
/// smoothed targets. <see cref="Isotonic"/>: a non-decreasing step function by pool-adjacent-violators (Zadrozny and
/// Elkan, 2002), interpolated linearly between fitted points and clamped at the ends. <see cref="Identity"/>: none.
/// A calibrator is described by its <see cref="Description"/> (to store) and re-created by <see cref="FromDescription"/>,
/// which gives the same outputs bit for bit. Immutable.
/// </summary>
public sealed class Calibrator
{
    private readonly double _a;
    private readonly double _b;
    private readonly double[] _xs;
    private readonly double[] _ys;

    private Calibrator(CalibrationDescription description)
    {
        Description = description;
        switch (description.Method)
        {
            case "identity":
                _xs = _ys = [];
                Method = "identity";
                break;
            case "platt":
                (_a, _b) = (description.A ?? double.NaN, description.B ?? double.NaN);
                if (!double.IsFinite(_a) || !double.IsFinite(_b) || description.X is not null || description.Y is not null)
                {
                    throw new ArgumentException($"a platt calibration needs finite A and B and no breakpoints; it has A {description.A}, B {description.B}", nameof(description));
                }

                _xs = _ys = [];
                Method = FormattableString.Invariant($"platt (A {_a:0.####}, B {_b:0.####})");
                break;
            case "isotonic":
                _xs = description.X?.ToArray() ?? [];
                _ys = description.Y?.ToArray() ?? [];
                if (_xs.Length == 0 || _xs.Length != _ys.Length || description.A is not null || description.B is not null)
                {
                    throw new ArgumentException($"an isotonic calibration needs as many values as breakpoints, at least one, and no A/B; it has {_xs.Length} and {_ys.Length}", nameof(description));
                }

                for (var i = 0; i < _xs.Length; i++)
                {
                    if (!double.IsFinite(_xs[i]) || _ys[i] is not (>= 0 and <= 1) || (i > 0 && (_xs[i] < _xs[i - 1] || _ys[i] < _ys[i - 1])))
                    {
                        throw new ArgumentException($"isotonic breakpoint {i} ({_xs[i]} → {_ys[i]}) is not finite, not a probability, or not non-decreasing", nameof(description));
                    }
                }

                Method = $"isotonic ({_xs.Length} steps)";
                break;
            default:
                throw new ArgumentException($"unknown calibration method '{description.Method}' (identity, platt or isotonic)", nameof(description));
        }
    }

    /// <summary>"identity", "platt" or "isotonic", with its fitted parameters (for display).</summary>
    public string Method { get; }

    /// <summary>What to store to re-create this calibrator with <see cref="FromDescription"/>.</summary>
    public CalibrationDescription Description { get; }

    /// <summary>No calibration: the raw probability, clamped to [0, 1].</summary>
    public static Calibrator Identity() => new(new CalibrationDescription("identity"));

    /// <summary>Re-creates a calibrator from its <see cref="Description"/>; it gives the same outputs as the one described.</summary>
    /// <exception cref="ArgumentException">An unknown method, or parameters that do not fit it (missing, not finite, breakpoints not non-decreasing).</exception>
    public static Calibrator FromDescription(CalibrationDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        return new Calibrator(description);
    }

    /// <summary>The calibrated probability of a raw prediction.</summary>
    public double Apply(double p) => Math.Clamp(Map(Math.Clamp(p, 0, 1)), 0, 1);

    private double Map(double q)
    {
        switch (Description.Method)
        {
            case "platt":
                var c = Math.Clamp(q, 1e-12, 1 - 1e-12);
                return 1 / (1 + Math.Exp((_a * Math.Log(c / (1 - c))) + _b));
            case "isotonic":
                var (xs, ys) = (_xs, _ys);
                if (q <= xs[0])
                {
                    return ys[0];
                }

                if (q >= xs[^1])
                {
                    return ys[^1];
                }

                var k = Array.BinarySearch(xs, q);
                if (k >= 0)
                {
                    return ys[k];
                }

                k = ~k;
                var (x0, x1, y0, y1) = (xs[k - 1], xs[k], ys[k - 1], ys[k]);
                return x1 == x0 ? y1 : y0 + ((y1 - y0) * (q - x0) / (x1 - x0));
            default:
                return q;
        }
    }

    /// <summary>Fits Platt scaling.</summary>
    /// <exception cref="ArgumentException">Bad input (see <see cref="Metrics"/>) or a single class.</exception>
    public static Calibrator Platt(ReadOnlySpan<double> p, ReadOnlySpan<int> y)
    {
        _ = Metrics.Brier(p, y); // validates the input
        double pos = 0;
        foreach (var l in y)
        {
            pos += l;
        }

        var neg = y.Length - pos;
        if (pos == 0 || neg == 0)
        {
            throw new ArgumentException("calibration needs both classes among the labels", nameof(y));
        }

        var (hi, lo) = ((pos + 1) / (pos + 2), 1 / (neg + 2));
        var f = new double[p.Length];
        var t = new double[p.Length];
        for (var i = 0; i < p.Length; i++)
        {
            var q = Math.Clamp(p[i], 1e-12, 1 - 1e-12);
            f[i] = Math.Log(q / (1 - q));
            t[i] = y[i] == 1 ? hi : lo;
        }

        // Newton's method with step halving (Lin, Lin and Weng's 2007 note on Platt's algorithm): the log-likelihood's
        // Hessian is −[[Σwf², Σwf], [Σwf, Σw]] and its gradient −Σ(t − s)(f, 1), with s = 1 / (1 + exp(A·f + B)).
        double Loss(double a0, double b0)
        {
            double l = 0;
            for (var i = 0; i < f.Length; i++)
            {
                var z = (a0 * f[i]) + b0;
                // log(1 + e^z) computed stably; the loss of target t is t·log(1+e^z) + (1−t)·(log(1+e^z) − z).
                var log1pExp = z > 0 ? z + Math.Log(1 + Math.Exp(-z)) : Math.Log(1 + Math.Exp(z));
                l += (t[i] * log1pExp) + ((1 - t[i]) * (log1pExp - z));
            }

            return l;
        }

        double a = -1, b = 0;
        var loss = Loss(a, b);
        for (var iter = 0; iter < 100; iter++)
        {
            double g1 = 0, g2 = 0, h11 = 1e-12, h22 = 1e-12, h21 = 0;
            for (var i = 0; i < f.Length; i++)
            {
                var s = 1 / (1 + Math.Exp((a * f[i]) + b));
                var d = t[i] - s;
                g1 += d * f[i];
                g2 += d;
                var w = s * (1 - s);
                h11 += w * f[i] * f[i];
                h22 += w;
                h21 += w * f[i];
            }

            var det = (h11 * h22) - (h21 * h21);
            if (Math.Abs(det) < 1e-300)
            {
                break;
            }

            var da = -((h22 * g1) - (h21 * g2)) / det;
            var db = -((h11 * g2) - (h21 * g1)) / det;
            var step = 1.0;
            var improved = false;
            while (step > 1e-10)
            {
                var next = Loss(a + (step * da), b + (step * db));
                if (next < loss + 1e-12)
                {
                    (a, b, loss, improved) = (a + (step * da), b + (step * db), next, true);
                    break;
                }

                step /= 2;
            }

            if (!improved || (Math.Abs(step * da) < 1e-10 && Math.Abs(step * db) < 1e-10))
            {
                break;
            }
        }

        return new Calibrator(new CalibrationDescription("platt", A: a, B: b));
    }

    /// <summary>Fits isotonic regression.</summary>
    /// <exception cref="ArgumentException">Bad input (see <see cref="Metrics"/>).</exception>
    public static Calibrator Isotonic(ReadOnlySpan<double> p, ReadOnlySpan<int> y)
    {
        _ = Metrics.Brier(p, y);
        var scores = p.ToArray();
        var labels = y.ToArray();
        var order = Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ToArray();
        var blocks = new List<(double X, double Y, double W)>();
        foreach (var i in order)
        {
            blocks.Add((scores[i], labels[i], 1));
            while (blocks.Count > 1 && blocks[^2].Y > blocks[^1].Y)
            {
                var (b1, b2) = (blocks[^2], blocks[^1]);
                var w = b1.W + b2.W;
                blocks.RemoveAt(blocks.Count - 1);
                blocks[^1] = (((b1.X * b1.W) + (b2.X * b2.W)) / w, ((b1.Y * b1.W) + (b2.Y * b2.W)) / w, w);
            }
        }

        // Pooled means can round a hair below their neighbour's; the stored steps are made non-decreasing explicitly.
        var xs = blocks.Select(b => b.X).ToArray();
        var ys = blocks.Select(b => Math.Clamp(b.Y, 0, 1)).ToArray();
        for (var i = 1; i < xs.Length; i++)
        {
            (xs[i], ys[i]) = (Math.Max(xs[i], xs[i - 1]), Math.Max(ys[i], ys[i - 1]));
        }

        return new Calibrator(new CalibrationDescription("isotonic", X: xs, Y: ys));
    }
}
