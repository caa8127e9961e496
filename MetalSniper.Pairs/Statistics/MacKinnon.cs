using MathNet.Numerics.Distributions;

namespace MetalSniper.Pairs.Statistics;

/// <summary>Critical values of a Dickey–Fuller/Engle–Granger τ statistic at the 1 %, 5 % and 10 % levels (reject below).</summary>
/// <param name="OnePercent">The 1 % critical value.</param>
/// <param name="FivePercent">The 5 % critical value.</param>
/// <param name="TenPercent">The 10 % critical value.</param>
public sealed record MacKinnonCriticalValues(double OnePercent, double FivePercent, double TenPercent);

/// <summary>
/// MacKinnon's approximate p-values and critical values for the τ (t-ratio) statistic of the (augmented) Dickey–Fuller test
/// (N = 1 I(1) series) and the Engle–Granger cointegration test (N = 2 series: y and one regressor), for the regressions
/// <see cref="AdfRegression.None"/>, <see cref="AdfRegression.Constant"/> and <see cref="AdfRegression.ConstantTrend"/>.
/// Same method and coefficients as statsmodels' <c>mackinnonp</c> and <c>mackinnoncrit</c>
/// (<c>statsmodels.tsa.adfvalues</c>); the coefficients are the published numbers of the two papers cited on each member.
/// </summary>
public static class MacKinnon
{
    /// <summary>
    /// The approximate asymptotic p-value P(τ ≤ <paramref name="statistic"/>) under the unit-root (no-cointegration) null.
    /// Source: MacKinnon, J.G. (1994), "Approximate asymptotic distribution functions for unit-root and cointegration
    /// tests", Journal of Business &amp; Economic Statistics 12(2), 167–176: the fitted approximate distribution functions
    /// for the τ statistics. p = Φ(γ0 + γ1·τ + γ2·τ²) in the lower tail (τ ≤ τ*) and Φ(γ0 + γ1·τ + γ2·τ² + γ3·τ³) above it;
    /// p = 0 below τ_min and p = 1 above τ_max, the limits of the paper's fit (so a very negative statistic gives exactly 0).
    /// The γ are entered as printed in the paper, i.e. with the published scaling (γ2 × 10⁻² in the lower tail;
    /// γ1, γ2 × 10⁻¹ and γ3 × 10⁻² above τ*), and undone here.
    /// </summary>
    /// <param name="statistic">The τ statistic (finite).</param>
    /// <param name="regression">The deterministic terms of the test regression (for Engle–Granger: those of the cointegrating regression).</param>
    /// <param name="variables">N: 1 for a unit-root test, 2 for Engle–Granger with one regressor.</param>
    /// <returns>A probability in [0, 1].</returns>
    /// <exception cref="ArgumentException">A non-finite statistic, or N other than 1 or 2.</exception>
    public static double PValue(double statistic, AdfRegression regression, int variables = 1)
    {
        if (!double.IsFinite(statistic))
        {
            throw new ArgumentException($"statistic must be finite, was {statistic}", nameof(statistic));
        }

        RequireVariables(variables);
        var i = variables - 1;
        var (star, min, max) = Cutoffs(regression);
        if (statistic > max[i])
        {
            return 1.0;
        }

        if (statistic < min[i])
        {
            return 0.0;
        }

        double z;
        if (statistic <= star[i])
        {
            var g = LowerTail(regression).Slice(3 * i, 3);
            z = g[0] + g[1] * statistic + g[2] * 1e-2 * statistic * statistic;
        }
        else
        {
            var g = Upper(regression).Slice(4 * i, 4);
            z = g[0] + g[1] * 1e-1 * statistic + g[2] * 1e-1 * statistic * statistic + g[3] * 1e-2 * statistic * statistic * statistic;
        }

        return Normal.CDF(0.0, 1.0, z);
    }

    /// <summary>
    /// Finite-sample critical values from MacKinnon's response surfaces C(T) = β∞ + β1/T + β2/T² + β3/T³.
    /// Source: MacKinnon, J.G. (2010), "Critical values for cointegration tests", Queen's Economics Department Working Paper
    /// 1227, the response-surface estimates of its 2010 appendix (τ_nc for N = 1; τ_c and τ_ct for N = 1, 2). There is no
    /// no-constant surface for N ≥ 2 (an Engle–Granger regression without a constant is not tabulated), so that case throws.
    /// </summary>
    /// <param name="regression">The deterministic terms.</param>
    /// <param name="variables">N: 1 for a unit-root test, 2 for Engle–Granger with one regressor.</param>
    /// <param name="nobs">
    /// T, the sample size the surface is evaluated at (adfuller passes the ADF regression's observations; coint passes the
    /// series length − 1); +∞ (the default) gives the asymptotic values β∞.
    /// </param>
    /// <exception cref="ArgumentException">N other than 1 or 2, N = 2 with no constant, or T not &gt; 0.</exception>
    public static MacKinnonCriticalValues CriticalValues(AdfRegression regression, int variables = 1, double nobs = double.PositiveInfinity)
    {
        RequireVariables(variables);
        if (!(nobs > 0.0) || double.IsNaN(nobs))
        {
            throw new ArgumentException($"nobs must be > 0 (or +∞ for the asymptotic values), was {nobs}", nameof(nobs));
        }

        if (regression == AdfRegression.None && variables != 1)
        {
            throw new ArgumentException(
                "MacKinnon (2010) gives no-constant critical values for N = 1 only; an Engle–Granger test needs a constant",
                nameof(regression));
        }

        var table = Surfaces(regression).Slice(12 * (variables - 1), 12);
        var inverse = double.IsPositiveInfinity(nobs) ? 0.0 : 1.0 / nobs;
        return new MacKinnonCriticalValues(Surface(table[..4], inverse), Surface(table.Slice(4, 4), inverse), Surface(table.Slice(8, 4), inverse));
    }

    private static double Surface(ReadOnlySpan<double> b, double inverse) => b[0] + inverse * (b[1] + inverse * (b[2] + inverse * b[3]));

    private static void RequireVariables(int variables)
    {
        if (variables is not (1 or 2))
        {
            throw new ArgumentException($"variables (MacKinnon's N) must be 1 (unit root) or 2 (Engle–Granger, two series), was {variables}", nameof(variables));
        }
    }

    // MacKinnon (1994): τ*, τ_min, τ_max for N = 1, 2 (τ_max for τ_nc, N = 1 is unbounded).
    private static (double[] Star, double[] Min, double[] Max) Cutoffs(AdfRegression regression) => regression switch
    {
        AdfRegression.None => ([-1.04, -1.53], [-19.04, -19.62], [double.PositiveInfinity, 1.51]),
        AdfRegression.Constant => ([-1.61, -2.62], [-18.83, -18.86], [2.74, 0.92]),
        AdfRegression.ConstantTrend => ([-2.89, -3.19], [-16.18, -21.15], [0.7, 0.63]),
        _ => throw new ArgumentException($"unknown regression {regression}", nameof(regression)),
    };

    // MacKinnon (1994), lower tail (τ ≤ τ*): γ0, γ1, γ2 (printed × 10²) for N = 1 then N = 2.
    private static ReadOnlySpan<double> LowerTail(AdfRegression regression) => regression switch
    {
        AdfRegression.None => [0.6344, 1.2378, 3.2496, 1.9129, 1.3857, 3.5322],
        AdfRegression.Constant => [2.1659, 1.4412, 3.8269, 2.92, 1.5012, 3.9796],
        AdfRegression.ConstantTrend => [3.2512, 1.6047, 4.9588, 3.6646, 1.5419, 3.6448],
        _ => throw new ArgumentException($"unknown regression {regression}", nameof(regression)),
    };

    // MacKinnon (1994), above τ*: γ0, γ1 (× 10), γ2 (× 10), γ3 (× 10²) for N = 1 then N = 2.
    private static ReadOnlySpan<double> Upper(AdfRegression regression) => regression switch
    {
        AdfRegression.None => [0.4797, 9.3557, -0.6999, 3.3066, 1.5578, 8.558, -2.083, -3.3549],
        AdfRegression.Constant => [1.7339, 9.3202, -1.2745, -1.0368, 2.1945, 6.4695, -2.9198, -4.2377],
        AdfRegression.ConstantTrend => [2.5261, 6.1654, -3.7956, -6.0285, 2.85, 5.272, -3.6622, -5.1695],
        _ => throw new ArgumentException($"unknown regression {regression}", nameof(regression)),
    };

    // MacKinnon (2010): β∞, β1, β2, β3 at 1 %, 5 %, 10 % for N = 1 then N = 2 (τ_nc: N = 1 only).
    private static ReadOnlySpan<double> Surfaces(AdfRegression regression) => regression switch
    {
        AdfRegression.None =>
        [
            -2.56574, -2.2358, -3.627, 0.0, -1.94100, -0.2686, -3.365, 31.223, -1.61682, 0.2656, -2.714, 25.364,
        ],
        AdfRegression.Constant =>
        [
            -3.43035, -6.5393, -16.786, -79.433, -2.86154, -2.8903, -4.234, -40.040, -2.56677, -1.5384, -2.809, 0.0,
            -3.89644, -10.9519, -33.527, 0.0, -3.33613, -6.1101, -6.823, 0.0, -3.04445, -4.2412, -2.720, 0.0,
        ],
        AdfRegression.ConstantTrend =>
        [
            -3.95877, -9.0531, -28.428, -134.155, -3.41049, -4.3904, -9.036, -45.374, -3.12705, -2.5856, -3.925, -22.380,
            -4.32762, -15.4387, -35.679, 0.0, -3.78057, -9.5106, -12.074, 0.0, -3.49631, -7.0815, -7.538, 21.892,
        ],
        _ => throw new ArgumentException($"unknown regression {regression}", nameof(regression)),
    };
}
