using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;

namespace MetalSniper.Pairs.Model;

/// <summary>
/// One listing of a company: where it trades, in which unit its price is quoted, and how many ordinary shares one
/// unit represents (1 for an ordinary line; the ADR ratio for a depositary receipt: 6 for the BP ADR).
/// </summary>
/// <param name="Symbol">Our symbol (AGL.JO, AAL.L, RDSA.AS, BP).</param>
/// <param name="Venue">Venue code (JSE, LSE, AEX, NYSE; see <see cref="Venues"/>).</param>
/// <param name="Unit">Quote unit (ZAc, GBp, EUR, USD).</param>
/// <param name="SharesPerUnit">Ordinary shares per traded unit (ADR ratio; 1 for ordinary shares).</param>
public sealed record Listing(string Symbol, string Venue, PriceUnit Unit, decimal SharesPerUnit = 1m)
{
    /// <summary>The currency of the listing's prices (major units).</summary>
    public Currency Currency => Unit.Currency;

    /// <summary>A quoted price per traded unit as major currency per ordinary share.</summary>
    public decimal PerShareMajor(decimal quoted) => Unit.ToMajor(quoted) / SharesPerUnit;
}

/// <summary>
/// A price as observed: in the listing's quote unit, with the instant it was observed (a close observed at the venue's
/// close, a live quote at its receive/exchange time).
/// </summary>
/// <param name="Symbol">Our symbol.</param>
/// <param name="Price">The price in <paramref name="Unit"/> (ZAc, GBp, EUR, USD per traded unit).</param>
/// <param name="Unit">The quote unit.</param>
/// <param name="ObservedUtc">When the price was observed, UTC.</param>
public sealed record PriceObservation(string Symbol, decimal Price, PriceUnit Unit, DateTimeOffset ObservedUtc);

/// <summary>
/// The FX path between two currencies as a product of quoted rates, for example GBPZAR = GBPUSD × USDZAR (each rate
/// "units of quote per one base"). Each step names a pair the broker quotes (IDEALPRO) or the data holds.
/// </summary>
/// <param name="From">The currency converted from.</param>
/// <param name="To">The currency converted to.</param>
/// <param name="Steps">The quoted pairs used, each possibly inverted (e.g. [GBPUSD, USDZAR] for GBP→ZAR).</param>
public sealed record FxPath(Currency From, Currency To, IReadOnlyList<string> Steps)
{
    /// <summary>Reads a path such as "GBPUSD*USDZAR" or "1/GBPUSD" from configuration.</summary>
    public override string ToString() => $"{From}{To} = {string.Join(" × ", Steps)}";
}

/// <summary>Raised when a conversion needs an FX rate that is missing or older than its limit. Fails closed, never 1.0.</summary>
public sealed class FxRateStaleException(string pair, DateTimeOffset? asOfUtc, DateTimeOffset atUtc, TimeSpan maxAge)
    : InvalidOperationException(asOfUtc is null
        ? $"no {pair} rate known at {atUtc:yyyy-MM-dd HH:mm}Z: conversion fails closed"
        : $"{pair} rate of {asOfUtc:yyyy-MM-dd HH:mm}Z is {(atUtc - asOfUtc.Value).TotalHours:0.#} h old at {atUtc:yyyy-MM-dd HH:mm}Z (limit {maxAge.TotalHours:0.#} h): conversion fails closed")
{
    /// <summary>The pair whose rate is missing or stale.</summary>
    public string Pair { get; } = pair;
}

/// <summary>
/// A dual-listing pair: two listings of one company and the FX that puts them in one currency. Leg A's price is
/// converted into leg B's currency; the premium is <c>A_per_share_in_B_ccy / B_per_share − 1</c>.
/// </summary>
/// <param name="Name">Short name ("anglo").</param>
/// <param name="Company">The company ("Anglo American plc").</param>
/// <param name="A">The first listing (its price is converted).</param>
/// <param name="B">The second listing (the reference currency of the premium).</param>
public sealed record PairDefinition(string Name, string Company, Listing A, Listing B)
{
    /// <summary>The venues of both legs.</summary>
    public (string A, string B) Venues => (A.Venue, B.Venue);
}
