namespace MetalSniper.Pairs.Statistics;

/// <summary>The outcome of an Engle–Granger two-step cointegration test (see <see cref="EngleGranger.Test"/>).</summary>
/// <param name="HedgeRatio">β of the cointegrating regression y = α + β·x + u (units of y per unit of x).</param>
/// <param name="Intercept">α, in the units of y.</param>
/// <param name="AdfStatistic">τ of the no-constant ADF regression on the residuals u.</param>
/// <param name="PValue">MacKinnon (1994) approximate p-value with N = 2, constant (<see cref="MacKinnon.PValue"/>).</param>
/// <param name="UsedLag">Lagged differences in the residual ADF regression.</param>
/// <param name="Critical1">1 % critical value, MacKinnon (2010), N = 2, constant, at T = <paramref name="N"/> − 1 (as statsmodels' coint).</param>
/// <param name="Critical5">5 % critical value, likewise.</param>
/// <param name="Critical10">10 % critical value, likewise.</param>
/// <param name="LagRule">How the residual ADF lag was chosen, in words.</param>
/// <param name="N">Observations in the cointegrating regression (the length of y and of x; MacKinnon's N is always 2 here).</param>
public sealed record CointegrationResult(
    double HedgeRatio,
    double Intercept,
    double AdfStatistic,
    double PValue,
    int UsedLag,
    double Critical1,
    double Critical5,
    double Critical10,
    string LagRule,
    int N)
{
    /// <summary>u_t = y_t − α − β·x_t (the spread), oldest first, length <see cref="N"/>; set by <see cref="EngleGranger.Test"/>.</summary>
    public double[] Residuals { get; init; } = [];
}

/// <summary>
/// The Engle–Granger (1987) two-step test of no cointegration between two I(1) series, with the semantics of statsmodels'
/// <c>coint(y, x, trend="c", method="aeg")</c> (cross-checked against statsmodels 0.13.5 in the tests).
/// </summary>
public static class EngleGranger
{
    /// <summary>
    /// Step 1: OLS y_t = α + β·x_t + u_t (<see cref="Ols.Fit"/>). Step 2: ADF on û with no deterministic terms
    /// (<see cref="AdfRegression.None"/>: the residuals already have mean zero), lag by <paramref name="lagChoice"/>.
    /// The τ statistic is judged against the Engle–Granger distribution, not Dickey–Fuller's: p-value MacKinnon (1994)
    /// N = 2 with constant, critical values MacKinnon (2010) N = 2 with constant at T = n − 1 (statsmodels' choice, which
    /// follows Stata's egranger). A small p rejects "no cointegration". Uses only the values given (no look-ahead): to
    /// re-test as time moves, call it on the window that ends at the decision time.
    /// </summary>
    /// <param name="y">The first leg, oldest first (e.g. log JSE price in GBP pence).</param>
    /// <param name="x">The second leg, same dates (e.g. log LSE price in GBP pence).</param>
    /// <param name="lagChoice">Lag rule of the residual ADF (default AIC, as coint).</param>
    /// <param name="maxLag">Largest residual ADF lag; null for ⌈12·(n/100)^¼⌉ (capped at ⌊n/2⌋ − 1).</param>
    /// <exception cref="ArgumentException">
    /// Lengths differ, fewer than <see cref="Adf.MinimumObservations"/> observations, NaN/∞, or a constant leg. Legs so
    /// collinear that R² ≥ 1 − 100·√ε are not an error: τ = −∞ and p = 0 are returned, as statsmodels' <c>coint</c> does.
    /// </exception>
    public static CointegrationResult Test(ReadOnlySpan<double> y, ReadOnlySpan<double> x, AdfLagChoice lagChoice = AdfLagChoice.Aic, int? maxLag = null)
    {
        if (y.Length != x.Length)
        {
            throw new ArgumentException($"y and x must have the same length, were {y.Length} and {x.Length}", nameof(x));
        }

        SeriesGuard.RequireUsable(y, Adf.MinimumObservations, nameof(y), "an Engle–Granger test");
        SeriesGuard.RequireUsable(x, Adf.MinimumObservations, nameof(x), "an Engle–Granger test");

        var fit = Ols.Fit(y, x);
        if (fit.RSquared >= 1.0 - 100.0 * Math.Sqrt(2.220446049250313e-16))
        {
            // As statsmodels' coint: the legs move as one (the residuals are numerically nil), τ = −∞ and p = 0.
            var c = MacKinnon.CriticalValues(AdfRegression.Constant, 2, y.Length - 1);
            return new CointegrationResult(fit.Slope, fit.Intercept, double.NegativeInfinity, 0.0, 0, c.OnePercent, c.FivePercent, c.TenPercent,
                $"no ADF: R² = {fit.RSquared:R} ≥ 1 − 100·√ε (the legs move as one; τ = −∞ as statsmodels reports)", fit.N)
            {
                Residuals = fit.Residuals,
            };
        }

        var adf = Adf.Test(fit.Residuals, AdfRegression.None, lagChoice, maxLag);
        var critical = MacKinnon.CriticalValues(AdfRegression.Constant, 2, y.Length - 1);
        return new CointegrationResult(
            fit.Slope,
            fit.Intercept,
            adf.Statistic,
            MacKinnon.PValue(adf.Statistic, AdfRegression.Constant, 2),
            adf.UsedLag,
            critical.OnePercent,
            critical.FivePercent,
            critical.TenPercent,
            adf.LagRule,
            fit.N)
        {
            Residuals = fit.Residuals,
        };
    }
}
