namespace MetalSniper.Core.Money;

/// <summary>
/// An amount of money in a major currency unit. Arithmetic between different currencies throws:
/// convert with <see cref="FxConverter"/> first, which fails closed when a rate is missing.
/// </summary>
/// <param name="Amount">The amount in major units of <paramref name="Currency"/>.</param>
/// <param name="Currency">The currency of the amount.</param>
public readonly record struct Money(decimal Amount, Currency Currency)
{
    /// <summary>Zero in the given currency.</summary>
    public static Money Zero(Currency currency) => new(0m, currency);

    /// <summary>Adds two amounts of the same currency.</summary>
    /// <exception cref="InvalidOperationException">The currencies differ.</exception>
    public static Money operator +(Money left, Money right)
    {
        EnsureSameCurrency(left, right);
        return new Money(left.Amount + right.Amount, left.Currency);
    }

    /// <summary>Subtracts two amounts of the same currency.</summary>
    /// <exception cref="InvalidOperationException">The currencies differ.</exception>
    public static Money operator -(Money left, Money right)
    {
        EnsureSameCurrency(left, right);
        return new Money(left.Amount - right.Amount, left.Currency);
    }

    /// <summary>Negates the amount.</summary>
    public static Money operator -(Money value) => new(-value.Amount, value.Currency);

    /// <summary>Scales the amount.</summary>
    public static Money operator *(Money value, decimal factor) => new(value.Amount * factor, value.Currency);

    /// <inheritdoc />
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Amount:0.00} {Currency}");

    private static void EnsureSameCurrency(Money left, Money right)
    {
        if (left.Currency != right.Currency)
        {
            throw new InvalidOperationException($"money arithmetic needs one currency, was {left.Currency} and {right.Currency}; convert first");
        }
    }
}
