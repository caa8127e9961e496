using System.Globalization;
using MetalSniper.Pairs.Statistics;

namespace MetalSniper.Pairs.Signals;

/// <summary>
/// The pair strategy's parameters. Counts are in comparable observations (trading days in the daily backtest).
/// </summary>
public sealed record PairSignalOptions
{
    /// <summary>Observations in the cointegration window (hedge ratio, ADF, half-life). Default 120.</summary>
    public int Lookback { get; init; } = 120;

    /// <summary>Re-test the statistics every this many observations (as time moves, never with future data). Default 20.</summary>
    public int RetestEvery { get; init; } = 20;

    /// <summary>Observations in the z-score's reference window (strictly before the scored one). Default 40.</summary>
    public int ZWindow { get; init; } = 40;

    /// <summary>|z| at or above which a pair opens. Default 2.0.</summary>
    public double EntryZ { get; init; } = 2.0;

    /// <summary>|z| at or below which an open pair closes (the reunion), or a sign change. Default 0.5.</summary>
    public double ExitZ { get; init; } = 0.5;

    /// <summary>|z| at or above which an open pair is stopped (divergence, not convergence). Default 4.0.</summary>
    public double StopZ { get; init; } = 4.0;

    /// <summary>An open pair is stopped after this many observations held (time stop). Default 20.</summary>
    public int MaxHolding { get; init; } = 20;

    /// <summary>Engle–Granger p-value above which the pair is retired (cointegration broken). Default 0.10.</summary>
    public double MaxPValue { get; init; } = 0.10;

    /// <summary>Spread half-life (observations) above which the pair is retired. Default 20.</summary>
    public double MaxHalfLife { get; init; } = 20;

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public void Validate()
    {
        if (Lookback < 30 || RetestEvery < 1 || ZWindow < 10 || ZWindow > Lookback)
        {
            throw new ArgumentException($"pair options: Lookback ≥ 30 ({Lookback}), RetestEvery ≥ 1 ({RetestEvery}), 10 ≤ ZWindow ≤ Lookback ({ZWindow})");
        }

        if (!(EntryZ > ExitZ && ExitZ >= 0 && StopZ > EntryZ) || MaxHolding < 1 || MaxPValue is <= 0 or >= 1 || MaxHalfLife <= 0)
        {
            throw new ArgumentException($"pair options: need 0 ≤ ExitZ ({ExitZ}) < EntryZ ({EntryZ}) < StopZ ({StopZ}), MaxHolding ≥ 1 ({MaxHolding}), 0 < MaxPValue < 1 ({MaxPValue}), MaxHalfLife > 0 ({MaxHalfLife})");
        }
    }
}

/// <summary>Which way a pair is held: long the A listing and short B, or the reverse.</summary>
public enum PairDirection
{
    /// <summary>No position.</summary>
    Flat,

    /// <summary>A is cheap (z ≤ −entry): buy A, sell B.</summary>
    LongAShortB,

    /// <summary>A is rich (z ≥ +entry): sell A, buy B.</summary>
    ShortALongB,
}

/// <summary>What the signal says after an observation.</summary>
public enum PairActionKind
{
    /// <summary>Nothing to do.</summary>
    None,

    /// <summary>Open the pair in <see cref="PairAction.Direction"/>.</summary>
    Enter,

    /// <summary>Close on the reunion.</summary>
    Exit,

    /// <summary>Close on the z-score stop or the time limit.</summary>
    Stop,

    /// <summary>Retire the pair (closing it if open).</summary>
    Retire,
}

/// <summary>The statistics of the last re-test, computed from observations up to and including the one they were tested on.</summary>
/// <param name="TestedAt">The index of the observation the test ended on.</param>
/// <param name="HedgeRatio">β of <c>ln A = α + β ln B</c>.</param>
/// <param name="Intercept">α.</param>
/// <param name="AdfStatistic">Engle–Granger ADF statistic on the residuals.</param>
/// <param name="PValue">MacKinnon p-value (two variables).</param>
/// <param name="UsedLag">The ADF lag chosen.</param>
/// <param name="LagRule">How the lag was chosen.</param>
/// <param name="HalfLife">Half-life of the spread from the AR(1)/OU fit, observations (∞ when not mean-reverting).</param>
public sealed record PairStatistics(int TestedAt, double HedgeRatio, double Intercept, double AdfStatistic, double PValue, int UsedLag, string LagRule, double HalfLife);

/// <summary>The signal's answer to one observation.</summary>
/// <param name="Kind">What to do.</param>
/// <param name="Direction">For <see cref="PairActionKind.Enter"/> the direction to open; otherwise the direction held.</param>
/// <param name="Z">The z-score of the observation (null before the window is full).</param>
/// <param name="Spread">The spread <c>ln A − β ln B − α</c> (null before the first test).</param>
/// <param name="Reason">Why, in words with the figures.</param>
/// <param name="Statistics">The statistics in force.</param>
public sealed record PairAction(PairActionKind Kind, PairDirection Direction, double? Z, double? Spread, string Reason, PairStatistics? Statistics)
{
    /// <summary>The inputs of the decision as text (recorded with it).</summary>
    public Dictionary<string, string> Inputs()
    {
        var i = new Dictionary<string, string>(StringComparer.Ordinal);
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        if (Z is { } z)
        {
            i["z"] = F(z);
        }

        if (Spread is { } s)
        {
            i["spread"] = F(s);
        }

        if (Statistics is { } st)
        {
            i["hedge_ratio"] = F(st.HedgeRatio);
            i["intercept"] = F(st.Intercept);
            i["adf_statistic"] = F(st.AdfStatistic);
            i["adf_p_value"] = F(st.PValue);
            i["adf_lag"] = st.UsedLag.ToString(CultureInfo.InvariantCulture);
            i["adf_lag_rule"] = st.LagRule;
            i["half_life"] = double.IsPositiveInfinity(st.HalfLife) ? "inf" : F(st.HalfLife);
            i["tested_at"] = st.TestedAt.ToString(CultureInfo.InvariantCulture);
        }

        return i;
    }
}

/// <summary>
/// The pair's signal, one code path for the daily backtest and the live strategy. Fed one comparable observation at a
/// time (<c>ln A</c> in B's currency per share, <c>ln B</c> per share); every figure it uses is from that observation or
/// earlier: the statistics are re-tested every <see cref="PairSignalOptions.RetestEvery"/> observations on the last
/// <see cref="PairSignalOptions.Lookback"/> (ending with the current one), and the z-score compares the current spread with
/// the <see cref="PairSignalOptions.ZWindow"/> spreads strictly before it. A pair must pass its first test to be admitted;
/// a failed re-test retires it for good (a decision with the statistics). Not thread-safe: one caller.
/// </summary>
public sealed class PairSignal
{
    private readonly PairSignalOptions _options;
    private readonly List<double> _lnA = [];
    private readonly List<double> _lnB = [];
    private int _sinceTest;

    /// <summary>Creates the signal.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public PairSignal(PairSignalOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>The direction held (as told by <see cref="Opened"/>/<see cref="Closed"/>).</summary>
    public PairDirection Held { get; private set; }

    /// <summary>Observations since the pair was opened.</summary>
    public int HeldFor { get; private set; }

    /// <summary>True once the pair failed a test: no entry ever again.</summary>
    public bool Retired { get; private set; }

    /// <summary>True once the pair passed its first test.</summary>
    public bool Admitted { get; private set; }

    /// <summary>The statistics in force, or null before the first test.</summary>
    public PairStatistics? Statistics { get; private set; }

    /// <summary>Every re-test's statistics, in order.</summary>
    public List<PairStatistics> Tests { get; } = [];

    /// <summary>Observations seen.</summary>
    public int Count => _lnA.Count;

    /// <summary>Feeds one comparable observation and returns what to do.</summary>
    /// <param name="aPerShareInB">Leg A's price per ordinary share converted into leg B's currency (major units), &gt; 0.</param>
    /// <param name="bPerShare">Leg B's price per ordinary share (major units), &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A price is not finite and positive.</exception>
    public PairAction Observe(double aPerShareInB, double bPerShare)
    {
        if (!(aPerShareInB > 0) || !(bPerShare > 0) || double.IsInfinity(aPerShareInB) || double.IsInfinity(bPerShare))
        {
            throw new ArgumentOutOfRangeException(nameof(aPerShareInB), $"pair prices must be finite and > 0, were {aPerShareInB} and {bPerShare}");
        }

        _lnA.Add(Math.Log(aPerShareInB));
        _lnB.Add(Math.Log(bPerShare));
        if (Held != PairDirection.Flat)
        {
            HeldFor++;
        }

        var n = _lnA.Count;
        if (Retired)
        {
            return Held == PairDirection.Flat ? None("retired") : new PairAction(PairActionKind.Retire, Held, null, null, "retired with the pair open: close it", Statistics);
        }

        if (n < _options.Lookback)
        {
            return None($"warming up ({n}/{_options.Lookback})");
        }

        _sinceTest++;
        if (Statistics is null || _sinceTest >= _options.RetestEvery)
        {
            _sinceTest = 0;
            PairStatistics stats;
            try
            {
                stats = Test(n);
            }
            catch (ArgumentException e)
            {
                // A window the statistics cannot test (a constant leg, a straight-line spread) fails the test, loudly.
                Retired = true;
                return new PairAction(PairActionKind.Retire, Held, null, null, $"{(Admitted ? "retired" : "not admitted")}: the statistics cannot be computed: {e.Message}", Statistics);
            }

            Statistics = stats;
            Tests.Add(stats);
            var failed = stats.PValue > _options.MaxPValue
                ? $"cointegration broken: Engle–Granger p = {stats.PValue:0.000} > {_options.MaxPValue:0.00} (ADF {stats.AdfStatistic:0.00}, lag {stats.UsedLag})"
                : stats.HalfLife > _options.MaxHalfLife
                    ? $"half-life {stats.HalfLife:0.0} > {_options.MaxHalfLife:0.#} observations"
                    : null;
            if (failed is not null)
            {
                Retired = true;
                var what = Admitted ? "retired" : "not admitted";
                return new PairAction(PairActionKind.Retire, Held, null, null, $"{what}: {failed}", stats);
            }

            Admitted = true;
        }

        var st = Statistics;
        var spread = Spread(n - 1, st);
        if (n - 1 < _options.ZWindow)
        {
            return new PairAction(PairActionKind.None, Held, null, spread, "z window not full", st);
        }

        // The reference window: the ZWindow spreads strictly before this one, under the statistics in force.
        double sum = 0, sumSq = 0;
        for (var i = n - 1 - _options.ZWindow; i < n - 1; i++)
        {
            var s = Spread(i, st);
            sum += s;
            sumSq += s * s;
        }

        var mean = sum / _options.ZWindow;
        var variance = Math.Max(0, (sumSq - (_options.ZWindow * mean * mean)) / (_options.ZWindow - 1));
        if (variance <= 0)
        {
            return new PairAction(PairActionKind.None, Held, null, spread, "spread constant over the z window", st);
        }

        var z = (spread - mean) / Math.Sqrt(variance);
        var zt = z.ToString("0.00", CultureInfo.InvariantCulture);
        if (Held != PairDirection.Flat)
        {
            var against = Held == PairDirection.ShortALongB ? z : -z;
            if (against >= _options.StopZ)
            {
                return new PairAction(PairActionKind.Stop, Held, z, spread, $"z {zt} beyond the stop {_options.StopZ:0.0}: diverging", st);
            }

            if (HeldFor >= _options.MaxHolding)
            {
                return new PairAction(PairActionKind.Stop, Held, z, spread, $"held {HeldFor} observations ≥ {_options.MaxHolding}: time stop (z {zt})", st);
            }

            if (Math.Abs(z) <= _options.ExitZ || against < 0)
            {
                return new PairAction(PairActionKind.Exit, Held, z, spread, $"reunion: z {zt} inside ±{_options.ExitZ:0.0#}", st);
            }

            return new PairAction(PairActionKind.None, Held, z, spread, $"holding (z {zt})", st);
        }

        if (Math.Abs(z) >= _options.EntryZ && Math.Abs(z) < _options.StopZ)
        {
            var dir = z > 0 ? PairDirection.ShortALongB : PairDirection.LongAShortB;
            var rich = z > 0 ? "A rich" : "A cheap";
            return new PairAction(PairActionKind.Enter, dir, z, spread, $"{rich}: z {zt} beyond ±{_options.EntryZ:0.0}", st);
        }

        return new PairAction(PairActionKind.None, Held, z, spread, $"flat (z {zt})", st);

        PairAction None(string why) => new(PairActionKind.None, Held, null, null, why, Statistics);
    }

    /// <summary>Tells the signal the pair was opened (after both legs filled).</summary>
    public void Opened(PairDirection direction)
    {
        Held = direction;
        HeldFor = 0;
    }

    /// <summary>Tells the signal the pair was closed.</summary>
    public void Closed()
    {
        Held = PairDirection.Flat;
        HeldFor = 0;
    }

    private double Spread(int i, PairStatistics st) => _lnA[i] - (st.HedgeRatio * _lnB[i]) - st.Intercept;

    private PairStatistics Test(int n)
    {
        var from = n - _options.Lookback;
        var a = _lnA.GetRange(from, _options.Lookback).ToArray();
        var b = _lnB.GetRange(from, _options.Lookback).ToArray();
        var eg = EngleGranger.Test(a, b);
        var residuals = new double[a.Length];
        for (var i = 0; i < a.Length; i++)
        {
            residuals[i] = a[i] - (eg.HedgeRatio * b[i]) - eg.Intercept;
        }

        var hl = HalfLife.Estimate(residuals);
        return new PairStatistics(n - 1, eg.HedgeRatio, eg.Intercept, eg.AdfStatistic, eg.PValue, eg.UsedLag, eg.LagRule, hl.IsMeanReverting ? hl.HalfLife : double.PositiveInfinity);
    }
}
