namespace MetalSniper.Sentinel;

/// <summary>Today's P&amp;L in the base currency as the sentinel last computed it; null when unknown.</summary>
public interface IDayPnlView
{
    /// <summary>
    /// Realized + unrealized − commissions since the start of the trading day containing
    /// <paramref name="nowUtc"/>, base currency; null when unknown.
    /// </summary>
    decimal? DayPnlAt(DateTimeOffset nowUtc);
}
