namespace MetalSniper.Pairs.Statistics;

/// <summary>The AR(1)/Ornstein–Uhlenbeck fit of a spread (see <see cref="HalfLife.Estimate"/>).</summary>
/// <param name="Phi">φ = 1 + b, the AR(1) coefficient of s_t on s_{t−1}.</param>
/// <param name="B">b, the slope of Δs_t on s_{t−1} (per observation; negative when the spread mean-reverts).</param>
/// <param name="A">a, the intercept of the fit, in the units of the spread.</param>
/// <param name="HalfLife">
/// Observations for a deviation from the mean to halve: −ln 2 / ln|φ| when |φ| &lt; 1; +∞ when not mean-reverting.
/// </param>
/// <param name="IsMeanReverting">True when −2 &lt; b &lt; 0 (|φ| &lt; 1).</param>
/// <param name="BStandardError">Classical standard error of b.</param>
/// <param name="N">Observations in the fit: the spread's length − 1.</param>
public sealed record HalfLifeResult(double Phi, double B, double A, double HalfLife, bool IsMeanReverting, double BStandardError, int N)
{
    /// <summary>The long-run mean −a/b the spread reverts to (units of the spread); null when not mean-reverting.</summary>
    public double? Mean => IsMeanReverting ? -A / B : null;
}

/// <summary>Half-life of mean reversion from an AR(1) fit (the discrete form of an Ornstein–Uhlenbeck process).</summary>
public static class HalfLife
{
    /// <summary>The shortest spread accepted.</summary>
    public const int MinimumObservations = 10;

    /// <summary>
    /// Fits Δs_t = a + b·s_{t−1} + ε_t by OLS (<see cref="Ols.Fit"/>), so s_t − μ = φ·(s_{t−1} − μ) + ε_t with φ = 1 + b and
    /// μ = −a/b. A deviation decays as φ^h after h observations, and φ^h = ½ gives h = −ln 2 / ln φ (for 0 &lt; φ &lt; 1; this is
    /// the exact discrete-time half-life of the OU process dS = θ(μ − S)dt + σdW sampled once per observation, θ = −ln φ;
    /// the common approximation −ln 2 / b, e.g. Chan, "Algorithmic Trading" (2013) ch. 2, is its first order in b).
    /// For −1 &lt; φ ≤ 0 the deviation flips sign each step and its size decays as |φ|^h, so −ln 2 / ln|φ| (0 at φ = 0).
    /// When b ≥ 0 (φ ≥ 1) or φ ≤ −1 nothing reverts: HalfLife = +∞ and IsMeanReverting = false.
    /// Units: observations of the input (days for daily closes).
    /// </summary>
    /// <param name="spread">The spread, oldest first; at least <see cref="MinimumObservations"/> finite values, not constant.</param>
    /// <exception cref="ArgumentException">Too short, NaN/∞, constant, or a degenerate fit.</exception>
    public static HalfLifeResult Estimate(ReadOnlySpan<double> spread)
    {
        SeriesGuard.RequireUsable(spread, MinimumObservations, nameof(spread), "a half-life estimate");
        var n = spread.Length - 1;
        var lagged = spread[..n];
        var delta = new double[n];
        for (var t = 0; t < n; t++)
        {
            delta[t] = spread[t + 1] - spread[t];
        }

        if (delta.AsSpan().IndexOfAnyExcept(delta[0]) < 0)
        {
            throw new ArgumentException(
                $"spread changes by the same amount ({delta[0]}) every step (a straight line), so there is no AR(1) fit", nameof(spread));
        }

        var fit = Ols.Fit(delta, lagged);
        var b = fit.Slope;
        var phi = 1.0 + b;
        var reverting = b < 0.0 && phi > -1.0;
        var halfLife = !reverting ? double.PositiveInfinity : phi == 0.0 ? 0.0 : -Math.Log(2.0) / Math.Log(Math.Abs(phi));
        return new HalfLifeResult(phi, b, fit.Intercept, halfLife, reverting, fit.SlopeStandardError, n);
    }
}
