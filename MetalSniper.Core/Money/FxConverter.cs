using System.Collections.Concurrent;

namespace MetalSniper.Core.Money;

/// <summary>
/// An FX rate: <see cref="Rate"/> units of <see cref="Quote"/> per one unit of <see cref="Base"/>
/// (USDZAR 18.3 means 1 USD = 18.3 ZAR), as of <see cref="AsOfUtc"/>.
/// </summary>
public sealed record FxRate(Currency Base, Currency Quote, decimal Rate, DateTimeOffset AsOfUtc)
{
    /// <summary>The pair name, for example USDZAR.</summary>
    public string Pair => Base.Code + Quote.Code;
}

/// <summary>Raised when a conversion needs a rate that is not known. Never read as a rate of 1.0.</summary>
public sealed class FxRateUnavailableException(Currency from, Currency to)
    : InvalidOperationException($"no FX rate to convert {from} to {to}: conversion fails closed (a missing rate is never 1.0)")
{
    /// <summary>The source currency.</summary>
    public Currency From { get; } = from;

    /// <summary>The target currency.</summary>
    public Currency To { get; } = to;
}

/// <summary>Supplies the latest known FX rates.</summary>
public interface IFxRateProvider
{
    /// <summary>The latest rate for Base/Quote exactly as quoted, or null when none is known.</summary>
    FxRate? GetRate(Currency @base, Currency quote);
}

/// <summary>
/// A thread-safe table of FX rates fed by market data or configuration. Only direct quotes are
/// stored; the converter derives inverses and crosses through USD.
/// </summary>
public sealed class FxRateTable : IFxRateProvider
{
    private readonly ConcurrentDictionary<(Currency, Currency), FxRate> _rates = new();

    /// <summary>Stores or replaces a rate.</summary>
    /// <exception cref="ArgumentException">The rate is not a finite positive number.</exception>
    public void Set(FxRate rate)
    {
        ArgumentNullException.ThrowIfNull(rate);
        if (rate.Rate <= 0m)
        {
            throw new ArgumentException($"FX rate must be > 0, was {rate.Rate} for {rate.Pair}", nameof(rate));
        }

        _rates[(rate.Base, rate.Quote)] = rate;
    }

    /// <inheritdoc />
    public FxRate? GetRate(Currency @base, Currency quote) => _rates.TryGetValue((@base, quote), out var r) ? r : null;
}

/// <summary>
/// Converts money between currencies. Tries the direct quote, its inverse, then a cross through
/// USD. Fails closed with <see cref="FxRateUnavailableException"/> when no path exists.
/// </summary>
public sealed class FxConverter(IFxRateProvider rates)
{
    /// <summary>Converts <paramref name="money"/> to <paramref name="target"/>.</summary>
    /// <exception cref="FxRateUnavailableException">No rate (direct, inverse or via USD) is known.</exception>
    public Money Convert(Money money, Currency target)
    {
        if (!TryGetFactor(money.Currency, target, out var factor))
        {
            throw new FxRateUnavailableException(money.Currency, target);
        }

        return new Money(money.Amount * factor, target);
    }

    /// <summary>Converts without throwing; false when no rate is known (the caller must fail closed).</summary>
    public bool TryConvert(Money money, Currency target, out Money converted)
    {
        if (TryGetFactor(money.Currency, target, out var factor))
        {
            converted = new Money(money.Amount * factor, target);
            return true;
        }

        converted = default;
        return false;
    }

    /// <summary>
    /// The as-of time (UTC) of the rate a conversion from <paramref name="from"/> to <paramref name="to"/>
    /// would use: the oldest rate on the path (direct, inverse or via USD); null when no path exists.
    /// Same currency: <see cref="DateTimeOffset.MaxValue"/> (never stale).
    /// </summary>
    public DateTimeOffset? RateAsOf(Currency from, Currency to)
    {
        if (from == to)
        {
            return DateTimeOffset.MaxValue;
        }

        var direct = rates.GetRate(from, to) ?? rates.GetRate(to, from);
        if (direct is not null)
        {
            return direct.AsOfUtc;
        }

        var usd = Currency.Usd;
        var a = rates.GetRate(from, usd) ?? rates.GetRate(usd, from);
        var b = rates.GetRate(usd, to) ?? rates.GetRate(to, usd);
        return from != usd && to != usd && a is not null && b is not null ? (a.AsOfUtc < b.AsOfUtc ? a.AsOfUtc : b.AsOfUtc) : null;
    }

    private bool TryGetFactor(Currency from, Currency to, out decimal factor)
    {
        if (from == to)
        {
            factor = 1m;
            return true;
        }

        if (TryDirect(from, to, out factor))
        {
            return true;
        }

        var usd = Currency.Usd;
        if (from != usd && to != usd && TryDirect(from, usd, out var a) && TryDirect(usd, to, out var b))
        {
            factor = a * b;
            return true;
        }

        factor = 0m;
        return false;
    }

    private bool TryDirect(Currency from, Currency to, out decimal factor)
    {
        var direct = rates.GetRate(from, to);
        if (direct is not null)
        {
            factor = direct.Rate;
            return true;
        }

        var inverse = rates.GetRate(to, from);
        if (inverse is not null)
        {
            factor = 1m / inverse.Rate;
            return true;
        }

        factor = 0m;
        return false;
    }
}
