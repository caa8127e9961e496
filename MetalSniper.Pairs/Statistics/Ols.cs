using MathNet.Numerics.LinearAlgebra;

namespace MetalSniper.Pairs.Statistics;

/// <summary>
/// A simple ordinary least-squares fit y_t = α + β·x_t + e_t (or y_t = β·x_t + e_t without intercept).
/// </summary>
/// <param name="Intercept">α, in the units of y; exactly 0 when fitted without intercept.</param>
/// <param name="Slope">β (the hedge ratio when y and x are two legs), units of y per unit of x.</param>
/// <param name="Residuals">e_t = y_t − α − β·x_t, one per observation, in input order (length <paramref name="N"/>).</param>
/// <param name="SlopeStandardError">Classical (homoskedastic) standard error of β: sqrt(s²·[(XᵀX)⁻¹]_ββ), s² = SSR/(N − k).</param>
/// <param name="RSquared">
/// 1 − SSR/TSS. With intercept TSS is centred, Σ(y − ȳ)²; without intercept it is uncentred, Σy², as statsmodels reports it.
/// </param>
/// <param name="N">The number of observations fitted.</param>
public sealed record OlsFit(double Intercept, double Slope, double[] Residuals, double SlopeStandardError, double RSquared, int N);

/// <summary>Ordinary least squares of one series on another (MathNet.Numerics QR; see <see cref="Fit"/>).</summary>
public static class Ols
{
    /// <summary>
    /// Regresses <paramref name="y"/> on <paramref name="x"/> (same length, same time order): y = α + β·x + e by least squares,
    /// solved with a Householder QR decomposition of the design [1, x] (MathNet.Numerics), the textbook OLS estimator
    /// (e.g. Hamilton 1994, "Time Series Analysis", ch. 8). Uses every observation given: pass only the past when
    /// estimating a hedge ratio for a decision.
    /// </summary>
    /// <param name="y">The dependent series; finite, not constant.</param>
    /// <param name="x">The regressor; finite, not constant, same length as <paramref name="y"/>.</param>
    /// <param name="intercept">Whether to fit α (default true); false fits a line through the origin.</param>
    /// <exception cref="ArgumentException">
    /// Lengths differ; fewer than 3 observations (2 without intercept: one more than the coefficients, so that a residual
    /// variance exists); a NaN or ±∞ value; or a constant <paramref name="x"/> or <paramref name="y"/>. An exact fit is
    /// returned as such (residuals and standard error ~0, R² ~1): callers that need a residual variance check for it.
    /// </exception>
    public static OlsFit Fit(ReadOnlySpan<double> y, ReadOnlySpan<double> x, bool intercept = true)
    {
        if (y.Length != x.Length)
        {
            throw new ArgumentException($"y and x must have the same length, were {y.Length} and {x.Length}", nameof(x));
        }

        var k = intercept ? 2 : 1;
        SeriesGuard.RequireUsable(y, k + 1, nameof(y), "an OLS fit");
        SeriesGuard.RequireUsable(x, k + 1, nameof(x), "an OLS fit");

        var n = y.Length;
        var design = Matrix<double>.Build.Dense(n, k);
        for (var t = 0; t < n; t++)
        {
            if (intercept)
            {
                design[t, 0] = 1.0;
            }

            design[t, k - 1] = x[t];
        }

        var yv = Vector<double>.Build.DenseOfArray(y.ToArray());
        var fit = LinearRegression.Fit(design, yv, "OLS of y on x", exactFitAllowed: true);

        var tss = 0.0;
        var mean = 0.0;
        if (intercept)
        {
            for (var t = 0; t < n; t++)
            {
                mean += y[t];
            }

            mean /= n;
        }

        for (var t = 0; t < n; t++)
        {
            var d = y[t] - mean;
            tss += d * d;
        }

        return new OlsFit(
            Intercept: intercept ? fit.Coefficients[0] : 0.0,
            Slope: fit.Coefficients[k - 1],
            Residuals: fit.Residuals,
            SlopeStandardError: fit.StandardErrors[k - 1],
            RSquared: 1.0 - fit.Ssr / tss,
            N: n);
    }
}
