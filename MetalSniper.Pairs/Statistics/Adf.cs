using System.Globalization;
using MathNet.Numerics.LinearAlgebra;

namespace MetalSniper.Pairs.Statistics;

/// <summary>The outcome of an Augmented Dickey–Fuller test (see <see cref="Adf.Test"/>).</summary>
/// <param name="Statistic">τ: the t-ratio of γ, the coefficient on x_{t−1} (negative values argue against a unit root).</param>
/// <param name="PValue">MacKinnon (1994) approximate p-value of τ with N = 1 (<see cref="MacKinnon.PValue"/>); in [0, 1].</param>
/// <param name="UsedLag">The number of lagged differences in the final regression.</param>
/// <param name="NObs">Observations in the final regression: series length − 1 − <paramref name="UsedLag"/>.</param>
/// <param name="Critical1">1 % critical value, MacKinnon (2010) at T = <paramref name="NObs"/>.</param>
/// <param name="Critical5">5 % critical value, likewise.</param>
/// <param name="Critical10">10 % critical value, likewise.</param>
/// <param name="LagRule">How the lag was chosen, in words, e.g. "AIC over 0..27 lags (maxlag = ceil(12·(nobs/100)^¼))".</param>
/// <param name="Regression">The deterministic terms used.</param>
/// <param name="LagChoice">The lag rule used.</param>
/// <param name="MaxLag">The largest lag searched (or the fixed lag).</param>
public sealed record AdfResult(
    double Statistic,
    double PValue,
    int UsedLag,
    int NObs,
    double Critical1,
    double Critical5,
    double Critical10,
    string LagRule,
    AdfRegression Regression = AdfRegression.Constant,
    AdfLagChoice LagChoice = AdfLagChoice.Aic,
    int MaxLag = 0);

/// <summary>
/// The Augmented Dickey–Fuller unit-root test (Dickey and Fuller 1979; Said and Dickey 1984), with the semantics of
/// statsmodels' <c>statsmodels.tsa.stattools.adfuller</c> (cross-checked against statsmodels 0.13.5 in the tests).
/// </summary>
public static class Adf
{
    /// <summary>Fewer observations give no usable unit-root inference; the test refuses them.</summary>
    public const int MinimumObservations = 20;

    /// <summary>The 5 % one-sided standard-normal quantile the t-stat lag rule stops at (statsmodels' constant).</summary>
    public const double TStatStop = 1.6448536269514722;

    /// <summary>
    /// Tests <paramref name="series"/> (levels, oldest first) for a unit root. The regression is
    /// Δx_t = [c] + [δ·t] + γ·x_{t−1} + Σ_{i=1..p} φ_i·Δx_{t−i} + ε_t (OLS, MathNet QR), τ = γ̂ / se(γ̂), H0: γ = 0 (unit root).
    /// Lag choice p: for <see cref="AdfLagChoice.Aic"/>, <see cref="AdfLagChoice.Bic"/> and <see cref="AdfLagChoice.TStat"/>
    /// every p in 0..maxLag is fitted on the same sample (the last n − 1 − maxLag differences) and the best p is then
    /// refitted on its own sample (n − 1 − p differences); <see cref="AdfLagChoice.Fixed"/> uses p = maxLag.
    /// Default maxLag = min(⌈12·(n/100)^¼⌉, ⌊n/2⌋ − d − 1), d = number of deterministic terms (Schwert 1989, the rule
    /// statsmodels computes). Uses only the values given: to test "as of" a date, pass only the values up to it.
    /// </summary>
    /// <param name="series">The levels, oldest first; at least <see cref="MinimumObservations"/> finite, not all equal.</param>
    /// <param name="regression">Deterministic terms (default: constant).</param>
    /// <param name="lagChoice">Lag rule (default AIC).</param>
    /// <param name="maxLag">Largest lag searched, or the lag for <see cref="AdfLagChoice.Fixed"/>; null for the default above.</param>
    /// <exception cref="ArgumentException">
    /// Too short, NaN/∞, constant, maxLag &lt; 0 or &gt; ⌊n/2⌋ − d − 1, or a degenerate regression (exact fit, collinear).
    /// </exception>
    public static AdfResult Test(
        ReadOnlySpan<double> series,
        AdfRegression regression = AdfRegression.Constant,
        AdfLagChoice lagChoice = AdfLagChoice.Aic,
        int? maxLag = null)
    {
        SeriesGuard.RequireUsable(series, MinimumObservations, nameof(series), "an ADF test");
        var n = series.Length;
        var deterministic = regression switch
        {
            AdfRegression.None => 0,
            AdfRegression.Constant => 1,
            AdfRegression.ConstantTrend => 2,
            _ => throw new ArgumentException($"unknown regression {regression}", nameof(regression)),
        };
        if (!Enum.IsDefined(lagChoice))
        {
            throw new ArgumentException($"unknown lag choice {lagChoice}", nameof(lagChoice));
        }

        var ceiling = n / 2 - deterministic - 1;
        int searched;
        var defaulted = maxLag is null;
        if (maxLag is { } given)
        {
            if (given < 0 || given > ceiling)
            {
                throw new ArgumentException(
                    $"maxLag must be in 0..{ceiling} (⌊n/2⌋ − {deterministic} deterministic terms − 1, n = {n}), was {given}", nameof(maxLag));
            }

            searched = given;
        }
        else
        {
            searched = Math.Min(DefaultMaxLag(n), ceiling);
        }

        var diff = new double[n - 1];
        for (var t = 0; t < n - 1; t++)
        {
            diff[t] = series[t + 1] - series[t];
        }

        var levels = series.ToArray();
        int usedLag;
        if (lagChoice == AdfLagChoice.Fixed)
        {
            usedLag = searched;
        }
        else
        {
            // Common sample: the regression rows the largest lag leaves; column layout [deterministic…, level, lag 1…maxLag].
            var (design, y) = Design(levels, diff, searched, searched, deterministic);
            var fits = new LinearRegressionResult[searched + 1];
            for (var p = 0; p <= searched; p++)
            {
                fits[p] = LinearRegression.Fit(design.SubMatrix(0, design.RowCount, 0, deterministic + 1 + p), y, $"ADF regression with {p} lags");
            }

            usedLag = Choose(fits, lagChoice);
        }

        var (finalDesign, finalY) = Design(levels, diff, usedLag, usedLag, deterministic);
        var fit = LinearRegression.Fit(finalDesign, finalY, $"ADF regression with {usedLag} lags");
        var statistic = fit.TValue(deterministic);
        if (!double.IsFinite(statistic))
        {
            throw new ArgumentException($"series gives a non-finite ADF statistic ({statistic}); the regression is degenerate", nameof(series));
        }

        var critical = MacKinnon.CriticalValues(regression, 1, fit.NObs);
        return new AdfResult(
            statistic,
            MacKinnon.PValue(statistic, regression, 1),
            usedLag,
            fit.NObs,
            critical.OnePercent,
            critical.FivePercent,
            critical.TenPercent,
            LagRule(lagChoice, searched, defaulted),
            regression,
            lagChoice,
            searched);
    }

    /// <summary>⌈12·(n/100)^¼⌉, Schwert's (1989) rule of thumb for the largest ADF lag, as statsmodels computes it (before its cap).</summary>
    /// <param name="n">The series length (levels).</param>
    public static int DefaultMaxLag(int n) => (int)Math.Ceiling(12.0 * Math.Pow(n / 100.0, 0.25));

    private static int Choose(LinearRegressionResult[] fits, AdfLagChoice lagChoice)
    {
        if (lagChoice == AdfLagChoice.TStat)
        {
            // General to specific: the first lag (from the top) whose own coefficient, the last column, is significant.
            for (var p = fits.Length - 1; p > 0; p--)
            {
                var last = fits[p];
                if (Math.Abs(last.TValue(last.K - 1)) >= TStatStop)
                {
                    return p;
                }
            }

            return 0;
        }

        // Smallest criterion; on a tie the fewer lags (statsmodels takes min over (criterion, lag) pairs).
        var best = 0;
        var bestValue = Criterion(fits[0], lagChoice);
        for (var p = 1; p < fits.Length; p++)
        {
            var value = Criterion(fits[p], lagChoice);
            if (value < bestValue)
            {
                best = p;
                bestValue = value;
            }
        }

        return best;
    }

    private static double Criterion(LinearRegressionResult fit, AdfLagChoice lagChoice) => lagChoice == AdfLagChoice.Bic ? fit.Bic : fit.Aic;

    /// <summary>
    /// Rows t = trim … n − 2 (0-based index into the differences): y = Δx_{t+1} = diff[t]; columns: the deterministic terms
    /// (1, and the trend 1, 2, … over the rows), the level x_t, then diff[t − 1] … diff[t − lags].
    /// </summary>
    private static (Matrix<double> Design, Vector<double> Y) Design(double[] levels, double[] diff, int trim, int lags, int deterministic)
    {
        var rows = diff.Length - trim;
        var design = Matrix<double>.Build.Dense(rows, deterministic + 1 + lags);
        var y = Vector<double>.Build.Dense(rows);
        for (var r = 0; r < rows; r++)
        {
            var t = r + trim;
            y[r] = diff[t];
            if (deterministic >= 1)
            {
                design[r, 0] = 1.0;
            }

            if (deterministic >= 2)
            {
                design[r, 1] = r + 1;
            }

            design[r, deterministic] = levels[t];
            for (var i = 1; i <= lags; i++)
            {
                design[r, deterministic + i] = diff[t - i];
            }
        }

        return (design, y);
    }

    private static string LagRule(AdfLagChoice lagChoice, int maxLag, bool defaulted)
    {
        var bound = defaulted
            ? string.Create(CultureInfo.InvariantCulture, $" (maxlag = min(ceil(12·(nobs/100)^¼), nobs/2 − d − 1) = {maxLag}, Schwert 1989)")
            : string.Empty;
        return lagChoice switch
        {
            AdfLagChoice.Aic => $"AIC over 0..{maxLag} lags{bound}, common sample, refitted with the chosen lag",
            AdfLagChoice.Bic => $"BIC over 0..{maxLag} lags{bound}, common sample, refitted with the chosen lag",
            AdfLagChoice.TStat => $"t-stat from {maxLag} down to 0 lags{bound}: the first lag with |t| ≥ 1.645",
            _ => $"fixed at {maxLag} lags{bound}",
        };
    }
}
