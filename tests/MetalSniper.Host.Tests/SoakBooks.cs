using System.Globalization;

namespace MetalSniper.Host.Tests;

/// <summary>What the soaks compare: a book as signed quantity per symbol.</summary>
internal static class SoakBooks
{
    /// <summary>Signed quantities (decimal text) summed per symbol, non-zero only, as ordered "SYMBOL qty" lines.</summary>
    public static List<string> Net(IEnumerable<(string Symbol, string Quantity)> rows) =>
        rows.GroupBy(r => r.Symbol, StringComparer.Ordinal)
            .Select(g => (g.Key, Sum: g.Sum(r => decimal.Parse(r.Quantity, NumberStyles.Number, CultureInfo.InvariantCulture))))
            .Where(x => x.Sum != 0m)
            .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Key} {x.Sum:0.########}"))
            .Order(StringComparer.Ordinal)
            .ToList();
}
