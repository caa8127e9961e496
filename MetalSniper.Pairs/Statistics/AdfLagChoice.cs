namespace MetalSniper.Pairs.Statistics;

/// <summary>
/// How the number of lagged differences in the ADF regression is chosen (statsmodels' <c>autolag</c> argument of
/// <c>adfuller</c>). The automatic rules search lags 0..maxLag, all fitted on the common sample that the largest lag
/// leaves (so the criteria are comparable), then refit the chosen lag on its own, longer sample.
/// </summary>
public enum AdfLagChoice
{
    /// <summary>Minimise Akaike's criterion −2·llf + 2·k (statsmodels "AIC", the default).</summary>
    Aic,

    /// <summary>Minimise Schwarz's criterion −2·llf + ln(n)·k (statsmodels "BIC").</summary>
    Bic,

    /// <summary>
    /// General to specific (statsmodels "t-stat"): start at maxLag and drop the last lag until its |t| ≥ 1.6448536269514722
    /// (a 5 % one-sided normal test); 0 lags when none is significant.
    /// </summary>
    TStat,

    /// <summary>No search: exactly maxLag lags (statsmodels <c>autolag=None</c>).</summary>
    Fixed,
}
