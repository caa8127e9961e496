using System.Globalization;

namespace MetalSniper.Pairs.Statistics;

/// <summary>
/// The input checks every statistic shares: a stated minimum length, finite values only, and no constant series. Each
/// failure is an <see cref="ArgumentException"/> naming the rule and the value seen, so nothing returns NaN silently.
/// </summary>
internal static class SeriesGuard
{
    public static void RequireLength(ReadOnlySpan<double> series, int minimum, string paramName, string purpose)
    {
        if (series.Length < minimum)
        {
            throw new ArgumentException(
                $"{paramName} must have at least {minimum} observations for {purpose}, was {series.Length}", paramName);
        }
    }

    public static void RequireFinite(ReadOnlySpan<double> series, string paramName)
    {
        for (var i = 0; i < series.Length; i++)
        {
            if (!double.IsFinite(series[i]))
            {
                throw new ArgumentException(
                    $"{paramName}[{i}] must be finite, was {series[i].ToString(CultureInfo.InvariantCulture)} (NaN and ±∞ are refused)",
                    paramName);
            }
        }
    }

    public static void RequireNotConstant(ReadOnlySpan<double> series, string paramName)
    {
        for (var i = 1; i < series.Length; i++)
        {
            if (series[i] != series[0])
            {
                return;
            }
        }

        throw new ArgumentException(
            $"{paramName} must not be constant, every one of its {series.Length} values is {series[0].ToString(CultureInfo.InvariantCulture)} " +
            "(no variance: the statistic is undefined)",
            paramName);
    }

    /// <summary>All three checks, in the order length, finite, not constant.</summary>
    public static void RequireUsable(ReadOnlySpan<double> series, int minimum, string paramName, string purpose)
    {
        RequireLength(series, minimum, paramName, purpose);
        RequireFinite(series, paramName);
        RequireNotConstant(series, paramName);
    }
}
