using System.Diagnostics.CodeAnalysis;

namespace MetalSniper.Core.MarketData;

/// <summary>
/// The broker's top of book as the pre-trade gates read it: live, the spread and zero-bid gates must see the broker's
/// bid/ask, not a quote made up from a bar. A side the broker reports without a price (no bid, or IB's −1/0) is a price
/// of 0 here, so the zero-bid gate trips on it.
/// </summary>
public interface IQuoteFeed
{
    /// <summary>The latest top of book of <paramref name="symbol"/>; false when the broker has not quoted both sides on the current link.</summary>
    /// <param name="symbol">Our symbol.</param>
    /// <param name="quote">The quote in major units, its event time that of its older side.</param>
    bool TryGetTopOfBook(string symbol, [NotNullWhen(true)] out Quote? quote);
}
