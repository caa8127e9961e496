namespace MetalSniper.Pairs.Statistics;

/// <summary>
/// The deterministic terms of the Augmented Dickey–Fuller regression Δx_t = [c] + [δ·t] + γ·x_{t−1} + Σ φ_i·Δx_{t−i} + ε_t;
/// the names match statsmodels' <c>regression</c> argument of <c>adfuller</c> ("n", "c", "ct").
/// </summary>
public enum AdfRegression
{
    /// <summary>No constant, no trend (statsmodels "n"; MacKinnon's τ_nc).</summary>
    None,

    /// <summary>A constant only (statsmodels "c", the default; MacKinnon's τ_c).</summary>
    Constant,

    /// <summary>A constant and a linear trend t = 1, 2, …, nobs (statsmodels "ct"; MacKinnon's τ_ct).</summary>
    ConstantTrend,
}
