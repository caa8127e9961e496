using System.Globalization;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;

namespace MetalSniper.Engine.Pipeline;

/// <summary>The slippage of one symbol's shadow fills against the live quotes: count, mean and max, in price units (major units of its currency).</summary>
/// <param name="Symbol">Our symbol.</param>
/// <param name="Fills">Fills compared with a live quote.</param>
/// <param name="Mean">Mean slippage per unit (positive: worse than the touch).</param>
/// <param name="Max">Largest slippage per unit.</param>
public sealed record ShadowSymbolSlippage(string Symbol, int Fills, decimal Mean, decimal Max);

/// <summary>
/// How the simulated broker's fills of a shadow run compare with the live quotes they were priced from: a buy against
/// the ask, a sell against the bid, at the moment the hands booked the fill. Slippage is positive when the fill was worse
/// than the touch (a buy above the ask, a sell below the bid).
/// </summary>
/// <param name="Fills">Every fill booked.</param>
/// <param name="Quoted">Fills that had a live two-sided quote to compare with.</param>
/// <param name="Unquoted">Fills without one (no quote on the link, or a zero side).</param>
/// <param name="MeanBps">Mean slippage of the quoted fills in basis points of the touch; null when none.</param>
/// <param name="MaxBps">Largest slippage in basis points; null when none.</param>
/// <param name="Symbols">Per symbol, in price units.</param>
public sealed record ShadowFillSummary(int Fills, int Quoted, int Unquoted, decimal? MeanBps, decimal? MaxBps, IReadOnlyList<ShadowSymbolSlippage> Symbols)
{
    /// <summary>One line for the log, the status text and the end-of-run alert.</summary>
    public string Describe()
    {
        var inv = CultureInfo.InvariantCulture;
        if (Quoted == 0)
        {
            return string.Create(inv, $"shadow fills vs live quotes: {Fills} fills, none compared with a live quote ({Unquoted} without one)");
        }

        var symbols = string.Join("; ", Symbols.Select(s => string.Create(inv, $"{s.Symbol} {s.Fills} fills mean {s.Mean:0.#####} max {s.Max:0.#####}")));
        return string.Create(inv, $"shadow fills vs live quotes: {Quoted} of {Fills} fills compared ({Unquoted} without a quote), slippage mean {MeanBps:0.##} bp, max {MaxBps:0.##} bp ({symbols})");
    }
}

/// <summary>
/// Collects the comparison of each shadow fill with the live quote at its fill time (<see cref="ShadowFillSummary"/>).
/// Registered only in <see cref="ExecutionMode.Shadow"/>; the hands record each fill they book. Thread-safe.
/// </summary>
public sealed class ShadowFills
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (int Count, decimal Sum, decimal Max)> _symbols = new(StringComparer.Ordinal);
    private int _fills;
    private int _unquoted;
    private decimal _sumBps;
    private decimal? _maxBps;

    /// <summary>Records one fill and the live quote the book held when it was booked (null: none).</summary>
    /// <param name="fill">The simulated broker's fill.</param>
    /// <param name="quote">The broker's live top of book of the fill's symbol at that moment, or null.</param>
    public void Record(Fill fill, Quote? quote)
    {
        ArgumentNullException.ThrowIfNull(fill);
        var touch = quote is null ? 0m : fill.Side == OrderSide.Buy ? quote.Ask : quote.Bid;
        lock (_gate)
        {
            _fills++;
            if (touch <= 0m)
            {
                _unquoted++;
                return;
            }

            var slippage = fill.Side == OrderSide.Buy ? fill.Price - touch : touch - fill.Price;
            var bps = slippage / touch * 10_000m;
            _sumBps += bps;
            _maxBps = _maxBps is { } m && m >= bps ? m : bps;
            var s = _symbols.GetValueOrDefault(fill.Symbol);
            _symbols[fill.Symbol] = (s.Count + 1, s.Sum + slippage, s.Count == 0 || slippage > s.Max ? slippage : s.Max);
        }
    }

    /// <summary>The comparison so far.</summary>
    public ShadowFillSummary Summary()
    {
        lock (_gate)
        {
            var quoted = _fills - _unquoted;
            return new ShadowFillSummary(_fills, quoted, _unquoted, quoted == 0 ? null : Math.Round(_sumBps / quoted, 4), _maxBps is { } m ? Math.Round(m, 4) : null,
                [.. _symbols.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new ShadowSymbolSlippage(kv.Key, kv.Value.Count, kv.Value.Sum / kv.Value.Count, kv.Value.Max))]);
        }
    }
}
