using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace MetalSniper.Pairs.Statistics;

/// <summary>
/// A multi-regressor ordinary least-squares fit y = X·β + ε (the helper under <see cref="Ols"/>, <see cref="Adf"/> and
/// <see cref="HalfLife"/>). Solved by a thin Householder QR of X (MathNet.Numerics): β = R⁻¹·Qᵀ·y; the classical
/// covariance is s²·(XᵀX)⁻¹ = s²·R⁻¹·R⁻ᵀ with s² = SSR / (n − k). The log-likelihood and the information criteria are
/// those statsmodels' <c>OLS</c> reports (profile Gaussian likelihood; k counts every column, constant included).
/// </summary>
internal sealed record LinearRegressionResult(double[] Coefficients, double[] StandardErrors, double[] Residuals, double Ssr, int NObs, int K)
{
    /// <summary>t-value of coefficient <paramref name="i"/>: β_i / se(β_i).</summary>
    public double TValue(int i) => Coefficients[i] / StandardErrors[i];

    /// <summary>Profile Gaussian log-likelihood −n/2·(ln 2π + ln(SSR/n) + 1).</summary>
    public double LogLikelihood => -NObs / 2.0 * (Math.Log(2.0 * Math.PI) + Math.Log(Ssr / NObs) + 1.0);

    /// <summary>Akaike: −2·llf + 2·k.</summary>
    public double Aic => -2.0 * LogLikelihood + 2.0 * K;

    /// <summary>Schwarz: −2·llf + ln(n)·k.</summary>
    public double Bic => -2.0 * LogLikelihood + Math.Log(NObs) * K;
}

/// <summary>Fits <see cref="LinearRegressionResult"/>; refuses a rank-deficient design or an exact fit.</summary>
internal static class LinearRegression
{
    /// <summary>
    /// Fits y (length n) on the n×k design <paramref name="x"/>. Throws <see cref="ArgumentException"/> when n ≤ k, when a
    /// column is (numerically) a combination of the others, or when the fit is exact to rounding (‖e‖ ≤ 1e-10·‖y‖:
    /// standard errors and t-ratios would be noise or NaN) unless <paramref name="exactFitAllowed"/> (then the coefficients
    /// stand and the standard errors are ~0).
    /// </summary>
    public static LinearRegressionResult Fit(Matrix<double> x, Vector<double> y, string what, bool exactFitAllowed = false)
    {
        var n = x.RowCount;
        var k = x.ColumnCount;
        if (y.Count != n)
        {
            throw new ArgumentException($"{what}: y has {y.Count} rows but the design has {n}");
        }

        if (n <= k)
        {
            throw new ArgumentException($"{what}: needs more observations than regressors (n > k), was n = {n}, k = {k}");
        }

        var qr = x.QR(QRMethod.Thin);
        var r = qr.R;
        var largest = 0.0;
        for (var i = 0; i < k; i++)
        {
            largest = Math.Max(largest, Math.Abs(r[i, i]));
        }

        // Rank tolerance modelled on numpy's matrix_rank (there on singular values, here on |R_ii|): max|R_ii| · max(n, k) · ε.
        var tolerance = largest * Math.Max(n, k) * 2.220446049250313e-16;
        for (var i = 0; i < k; i++)
        {
            if (!(Math.Abs(r[i, i]) > tolerance))
            {
                throw new ArgumentException(
                    $"{what}: the regressors are collinear (column {i} of {k} adds nothing), so the coefficients are not identified");
            }
        }

        var beta = qr.Solve(y);
        var residuals = y - x * beta;
        var ssr = residuals.DotProduct(residuals);
        // "Exact" to rounding: the residual norm is at most 1e-10 of the norm of y (a straight line through the data
        // leaves ~1e-16; real daily prices leave far more than 1e-4).
        var yy = y.DotProduct(y);
        if (!double.IsFinite(ssr) || (!exactFitAllowed && ssr <= 1e-20 * yy))
        {
            throw new ArgumentException(
                $"{what}: the regression fits exactly (sum of squared residuals {ssr}); standard errors and the test statistic are undefined");
        }

        var scale = ssr / (n - k);
        var rInverse = r.Inverse();
        var se = new double[k];
        for (var i = 0; i < k; i++)
        {
            var sum = 0.0;
            for (var j = i; j < k; j++)
            {
                sum += rInverse[i, j] * rInverse[i, j];
            }

            se[i] = Math.Sqrt(scale * sum);
        }

        return new LinearRegressionResult(beta.ToArray(), se, residuals.ToArray(), ssr, n, k);
    }
}
