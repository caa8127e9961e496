using System.Globalization;
using Dapper;
using MetalSniper.Backtest;
using MetalSniper.Core.Costs;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Engine.Configuration;
using MetalSniper.Host.Configuration;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Cli;

/// <summary>
/// What one fill of the run paid, reconstructed from the record: the fill and its order (type, final stop/limit price)
/// from the run's database, the bar it filled on from the recorded data (re-read through the same ingest validation),
/// and the configured cost model, applying the simulated broker's fill rule. Money in the base currency.
/// </summary>
/// <param name="ExecutionId">The fill's execution id.</param>
/// <param name="Symbol">Instrument.</param>
/// <param name="OrderType">Market, Stop or Limit.</param>
/// <param name="Purpose">The order's purpose (Entry, ProtectiveStop, Exit, RiskFlatten, …).</param>
/// <param name="Side">Buy or Sell.</param>
/// <param name="Quantity">Filled quantity.</param>
/// <param name="Price">Recorded fill price (instrument currency per unit).</param>
/// <param name="BarCloseUtc">Close time (UTC) of the bar the fill happened on: when the fill was knowable (the fill's <c>event_utc</c>).</param>
/// <param name="Commission">Commission, base currency.</param>
/// <param name="Spread">Half spread paid against the bar's mid reference price, base currency (0 when not reproduced).</param>
/// <param name="Slippage">Slippage paid beyond the half spread (ticks, and tick rounding), base currency (0 when not reproduced).</param>
/// <param name="NotCharged">Spread and slippage the cap at the bar's high/low left uncharged, base currency.</param>
/// <param name="Reproduced">True when the fill rule applied to the recorded bar and order gives exactly the recorded price.</param>
public sealed record FillCost(string ExecutionId, string Symbol, string OrderType, string Purpose, OrderSide Side, decimal Quantity, decimal Price,
    DateTimeOffset BarCloseUtc, decimal Commission, decimal Spread, decimal Slippage, decimal NotCharged, bool Reproduced)
{
    /// <summary>True when the fill price was capped at the bar's high or low.</summary>
    public bool Capped => NotCharged != 0m;
}

/// <summary>Costs of a group of fills (one instrument and order type, or the total), base currency.</summary>
/// <param name="Symbol">Instrument ("all" for the total).</param>
/// <param name="OrderType">Order type ("all" for an instrument's or the overall total).</param>
/// <param name="Fills">Fills in the group.</param>
/// <param name="Notional">Σ |price × quantity × multiplier|, base currency.</param>
/// <param name="Commissions">Commissions, base currency.</param>
/// <param name="Spread">Half spreads paid, base currency.</param>
/// <param name="Slippage">Slippage paid, base currency.</param>
/// <param name="NotCharged">Spread/slippage not charged because of the cap at the bar's range, base currency.</param>
/// <param name="CappedFills">Fills whose price was capped.</param>
/// <param name="Unreproduced">Fills whose price the fill rule did not reproduce (their spread/slippage is not counted).</param>
public sealed record CostLine(string Symbol, string OrderType, int Fills, decimal Notional, decimal Commissions, decimal Spread, decimal Slippage, decimal NotCharged,
    int CappedFills, int Unreproduced)
{
    /// <summary>Sums the fills of a group.</summary>
    public static CostLine Of(string symbol, string orderType, IReadOnlyCollection<(FillCost Fill, decimal Notional)> fills)
    {
        ArgumentNullException.ThrowIfNull(fills);
        return new CostLine(symbol, orderType, fills.Count, fills.Sum(f => f.Notional), fills.Sum(f => f.Fill.Commission), fills.Sum(f => f.Fill.Spread),
            fills.Sum(f => f.Fill.Slippage), fills.Sum(f => f.Fill.NotCharged), fills.Count(f => f.Fill.Capped), fills.Count(f => !f.Fill.Reproduced));
    }
}

/// <summary>The costs of the run broken down, with how they were obtained.</summary>
/// <param name="Lines">Per instrument and order type, then per instrument (<c>OrderType</c> "all").</param>
/// <param name="Total">Every fill of the run.</param>
/// <param name="SlippageTicks">Configured adverse slippage on market and stop fills, in ticks.</param>
/// <param name="Models">The configured cost model per symbol with the instrument's tick size.</param>
/// <param name="BarsWithSpread">Fills whose bar carried its own spread (the rest used the configured default).</param>
/// <param name="NotChargedUnconverted">The amount not charged because of the cap, in each instrument's currency summed over instruments without
/// conversion: the unit of the simulated broker's own counter (<see cref="ReplaySummary.CappedByEnvelope"/>), to compare with it.</param>
public sealed record CostBreakdown(IReadOnlyList<CostLine> Lines, CostLine Total, int SlippageTicks, IReadOnlyDictionary<string, (CostModel Model, decimal TickSize, string Currency)> Models,
    int BarsWithSpread, decimal NotChargedUnconverted);

/// <summary>Reconstructs what every fill of a finished run paid (see <see cref="FillCost"/>).</summary>
public static class FillCostReconstruction
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Reads the run's fills and the bars they filled on, and prices each one's costs.</summary>
    /// <param name="databasePath">The run's SQLite database.</param>
    /// <param name="runId">The run.</param>
    /// <param name="configuration">The validated configuration the run used (data files, cost model, account currency and FX rates).</param>
    /// <param name="cancellationToken">Stops reading the data.</param>
    /// <exception cref="SqliteException">The database cannot be read.</exception>
    /// <exception cref="FileNotFoundException">A recorded data file is missing.</exception>
    public static async Task<(IReadOnlyList<FillCost> Fills, CostBreakdown Breakdown)> ReconstructAsync(string databasePath, string runId, IConfiguration configuration,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var broker = configuration.GetSection(SimulatedBrokerOptions.SectionName).Get<SimulatedBrokerOptions>() ?? new SimulatedBrokerOptions();
        var costs = broker.Costs.ToDictionary(kv => kv.Key, kv => new CostModel(kv.Value.DefaultSpread, kv.Value.CommissionRate, kv.Value.MinimumCommission), StringComparer.OrdinalIgnoreCase);
        var account = configuration.GetSection(AccountOptions.SectionName).Get<AccountOptions>() ?? new AccountOptions();
        var baseCurrency = new Currency(account.BaseCurrency);
        var fx = new FxConverter(account.CreateFxRateTable());
        var instruments = InstrumentCatalog.CreateDefault();

        var rows = ReadFills(databasePath, runId);
        var needed = rows.Select(r => (r.Symbol, r.BarCloseUtc)).ToHashSet();
        var bars = await ReadBarsAsync(configuration, instruments, needed, cancellationToken).ConfigureAwait(false);

        var fills = new List<(FillCost Fill, decimal Notional)>(rows.Count);
        var withSpread = 0;
        var notChargedUnconverted = 0m;
        foreach (var r in rows)
        {
            var instrument = instruments.Get(r.Symbol);
            decimal ToBase(decimal amount, Currency currency) => currency == baseCurrency ? amount : fx.Convert(new Money(amount, currency), baseCurrency).Amount;
            var commission = ToBase(r.Commission, new Currency(r.CommissionCurrency));
            var notional = ToBase(Math.Abs(r.Price * r.Quantity * instrument.Multiplier), instrument.Currency);
            var (spread, slippage, notCharged, reproduced) = (0m, 0m, 0m, false);
            if (bars.TryGetValue((r.Symbol, r.BarCloseUtc), out var bar) && costs.TryGetValue(r.Symbol, out var cost) && Enum.TryParse<OrderType>(r.OrderType, out var type)
                && BarTriggers.TryTrigger(type, r.Side, r.LimitPrice, r.StopPrice, bar, out var reference))
            {
                withSpread += bar.Spread is null ? 0 : 1;
                // The simulated broker's rule (SimulatedOrderGateway.Fill): reference ± (half spread + slippage), a limit never worse than
                // its limit, rounded to the tick, then capped at the bar's [low, high].
                var halfSpread = (bar.Spread ?? cost.DefaultSpread) / 2m;
                var slip = type == OrderType.Limit ? 0m : broker.SlippageTicks * instrument.TickSize;
                var sign = r.Side.Sign();
                var price = reference + (sign * (halfSpread + slip));
                if (type == OrderType.Limit)
                {
                    price = r.Side == OrderSide.Buy ? Math.Min(price, r.LimitPrice!.Value) : Math.Max(price, r.LimitPrice!.Value);
                }

                var uncapped = instrument.RoundToTick(price);
                var capped = Math.Clamp(uncapped, bar.Low, bar.High);
                reproduced = capped == r.Price;
                if (reproduced)
                {
                    // Paid per unit against the mid reference; the half spread counts first, so the cap and the tick rounding
                    // come off the slippage first.
                    var paid = sign * (r.Price - reference);
                    var units = r.Quantity * instrument.Multiplier;
                    spread = ToBase(Math.Clamp(paid, 0m, halfSpread) * units, instrument.Currency);
                    slippage = ToBase(Math.Max(0m, paid - halfSpread) * units, instrument.Currency);
                    notChargedUnconverted += Math.Abs(uncapped - capped) * units;
                    notCharged = ToBase(Math.Abs(uncapped - capped) * units, instrument.Currency);
                }
            }

            fills.Add((new FillCost(r.ExecutionId, r.Symbol, r.OrderType, r.Purpose, r.Side, r.Quantity, r.Price, r.BarCloseUtc, commission, spread, slippage, notCharged, reproduced), notional));
        }

        var lines = new List<CostLine>();
        foreach (var bySymbol in fills.GroupBy(f => f.Fill.Symbol, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            lines.AddRange(bySymbol.GroupBy(f => f.Fill.OrderType, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => CostLine.Of(bySymbol.Key, g.Key, g.ToList())));
            lines.Add(CostLine.Of(bySymbol.Key, "all", bySymbol.ToList()));
        }

        var models = costs.Where(kv => instruments.TryGet(kv.Key, out _)).ToDictionary(kv => kv.Key, kv => (kv.Value, instruments.Get(kv.Key).TickSize, instruments.Get(kv.Key).Currency.Code), StringComparer.Ordinal);
        return (fills.Select(f => f.Fill).ToList(), new CostBreakdown(lines, CostLine.Of("all", "all", fills), broker.SlippageTicks, models, withSpread, notChargedUnconverted));
    }

    private sealed record FillRow(string ExecutionId, string Symbol, OrderSide Side, decimal Quantity, decimal Price, decimal Commission, string CommissionCurrency,
        DateTimeOffset BarCloseUtc, string OrderType, decimal? LimitPrice, decimal? StopPrice, string Purpose);

    private static List<FillRow> ReadFills(string databasePath, string runId)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        static decimal? N(string? s) => s is null ? null : decimal.Parse(s, NumberStyles.Number | NumberStyles.AllowExponent, Inv);
        return c.Query<(string Id, string Symbol, string Side, string Quantity, string Price, string Commission, string Ccy, string At, string Type, string? Limit, string? Stop, string Purpose)>("""
                SELECT f.execution_id, f.symbol, f.side, f.quantity, f.price, f.commission, f.commission_ccy, f.event_utc, o.order_type, o.limit_price, o.stop_price, o.purpose
                FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
                WHERE o.run_id = @runId ORDER BY f.rowid
                """, new { runId })
            .Select(r => new FillRow(r.Id, r.Symbol, Enum.Parse<OrderSide>(r.Side), N(r.Quantity)!.Value, N(r.Price)!.Value, N(r.Commission)!.Value, r.Ccy,
                DateTimeOffset.Parse(r.At, Inv, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal), r.Type, N(r.Limit), N(r.Stop), r.Purpose))
            .ToList();
    }

    /// <summary>The bars the pipeline accepted at the given (symbol, close time) keys: the run's files and window, through the ingest validator.</summary>
    private static async Task<Dictionary<(string Symbol, DateTimeOffset CloseUtc), Bar>> ReadBarsAsync(IConfiguration configuration, IInstrumentCatalog instruments,
        HashSet<(string Symbol, DateTimeOffset CloseUtc)> needed, CancellationToken cancellationToken)
    {
        var bars = new Dictionary<(string, DateTimeOffset), Bar>();
        if (needed.Count == 0)
        {
            return bars;
        }

        var o = (configuration.GetSection(MarketDataOptions.SectionName).Get<MarketDataOptions>() ?? new MarketDataOptions()).Replay;
        var directory = Path.GetFullPath(o.DataDirectory);
        var files = Composition.ReplayFiles(o, directory, instruments);
        var source = new ReplayMarketDataSource(files, TimeProvider.System, 0, o.FromUtc, o.ToUtc, o.Files.Any(f => f.Daily) ? new Calendars.ExchangeCalendar() : null);
        var validator = new BarValidator(instruments, new IngestCounters());
        await foreach (var record in source.StreamAsync(cancellationToken).ConfigureAwait(false))
        {
            if (validator.Validate(record, DateTimeOffset.UnixEpoch, out _) is { } bar && needed.Contains((bar.Symbol, bar.CloseTimeUtc)))
            {
                bars[(bar.Symbol, bar.CloseTimeUtc)] = bar;
            }
        }

        return bars;
    }
}
