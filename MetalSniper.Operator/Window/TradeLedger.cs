using System.Globalization;
using System.Text.Json;
using Dapper;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Persistence;

namespace MetalSniper.Operator.Window;

/// <summary>
/// The closed trades of one run rebuilt from the database (fills → orders → decisions, in the order the fills were written) through
/// the same <see cref="PositionBook"/> the execution side keeps, so a trade here is the trade the replay summary counts; the figures
/// (<see cref="TradeFigures"/>) are the replay summary's. Rebuilt only when the run has a new fill. Thread-safe.
/// </summary>
/// <remarks>
/// Positions an earlier run left (a restart's restored or adopted positions) have no fill of this run: a trade that began
/// before this run started is not rebuilt faithfully (its first fill here looks like an opening one).
/// </remarks>
public sealed class TradeLedger(Database database, IInstrumentCatalog instruments, AccountCurrency account, FxConverter fx)
{
    private readonly Lock _gate = new();
    private (string RunId, long Fills, long LastRow) _key;
    private TradeLedgerSnapshot? _cached;

    /// <summary>The closed trades and their figures for <paramref name="runId"/>, newest trade last.</summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">The database cannot be read.</exception>
    public TradeLedgerSnapshot Read(string runId)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        using var c = database.OpenConnection();
        var (count, last) = c.QuerySingle<(long, long)>(
            "SELECT COUNT(*), COALESCE(MAX(f.rowid), 0) FROM fills f JOIN orders o ON o.client_order_id=f.client_order_id WHERE o.run_id=@runId", new { runId });
        // A carry charge changes a trade's net without a new fill: it is part of the key.
        count += c.ExecuteScalar<long>("SELECT COUNT(*) FROM carry_costs WHERE run_id=@runId", new { runId }) << 32;
        lock (_gate)
        {
            if (_cached is not null && _key == (runId, count, last))
            {
                return _cached;
            }
        }

        var rows = c.Query<FillRow>("""
            SELECT f.execution_id AS ExecutionId, f.client_order_id AS ClientOrderId, f.symbol AS Symbol, f.side AS Side, f.quantity AS Quantity,
                   f.price AS Price, f.commission AS Commission, f.commission_ccy AS CommissionCurrency, f.event_utc AS EventUtc,
                   o.purpose AS Purpose, o.quantity AS OrderQuantity, d.source AS Source, d.kind AS Kind, d.reason AS Reason, d.inputs_json AS Inputs
            FROM fills f JOIN orders o ON o.client_order_id=f.client_order_id JOIN decisions d ON d.decision_id=o.decision_id
            WHERE o.run_id=@runId ORDER BY f.rowid
            """, new { runId }).ToList();
        var carry = c.Query<(string Symbol, string CutUtc, string Day, string Kind, string Quantity, string Mark, string Notional, string Rate, string Amount)>(
            "SELECT symbol, cut_utc, day, kind, quantity, mark, notional_usd, rate_annual, amount_usd FROM carry_costs WHERE run_id=@runId ORDER BY cut_utc, symbol", new { runId })
            .Select(r => new Core.Costs.CarryCharge(r.Symbol, DateOnly.ParseExact(r.Day, "yyyy-MM-dd", CultureInfo.InvariantCulture), Utc(r.CutUtc), Enum.Parse<Core.Costs.CarryKind>(r.Kind),
                Number(r.Quantity), Number(r.Mark), Number(r.Notional), Number(r.Rate), Number(r.Amount)))
            .ToList();
        var snapshot = Build(rows, carry);
        lock (_gate)
        {
            _key = (runId, count, last);
            _cached = snapshot;
        }

        return snapshot;
    }

    private static decimal Number(string text) => decimal.Parse(text, NumberStyles.Number | NumberStyles.AllowExponent, CultureInfo.InvariantCulture);

    private static DateTimeOffset Utc(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    /// <summary>
    /// Replays the fills and the carry charges in the order the execution side applied them: a charge at a cut before every fill
    /// at or after the cut (fills carry their bar's open time; the charge was booked before the first bar closing after the cut).
    /// </summary>
    private TradeLedgerSnapshot Build(List<FillRow> rows, List<Core.Costs.CarryCharge> carry)
    {
        var inv = CultureInfo.InvariantCulture;
        var nextCarry = 0;
        var book = new PositionBook(instruments, account.Base);
        var open = new Dictionary<string, Opening>(StringComparer.Ordinal);
        var trades = new List<ClosedTradeRow>();
        var inBase = new List<ClosedTrade>();
        var unconverted = 0;
        foreach (var r in rows)
        {
            var side = Enum.Parse<OrderSide>(r.Side);
            var quantity = decimal.Parse(r.Quantity, NumberStyles.Number, inv);
            var price = decimal.Parse(r.Price, NumberStyles.Number | NumberStyles.AllowExponent, inv);
            var fill = new Fill(r.ExecutionId, new ClientOrderId(r.ClientOrderId), r.Symbol, side, quantity, price,
                new Money(decimal.Parse(r.Commission, NumberStyles.Number | NumberStyles.AllowExponent, inv), new Currency(r.CommissionCurrency)),
                DateTimeOffset.Parse(r.EventUtc, inv, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal));
            for (; nextCarry < carry.Count && carry[nextCarry].CutUtc <= fill.EventTimeUtc; nextCarry++)
            {
                if (!book.Get(carry[nextCarry].Symbol).IsFlat)
                {
                    book.ApplyCarry(carry[nextCarry]);
                }
            }

            var before = book.Get(r.Symbol).Quantity;
            var signed = side.Sign() * quantity;
            if (!open.TryGetValue(r.Symbol, out var o) || before == 0m)
            {
                o = new Opening(r);
                open[r.Symbol] = o;
            }

            var adding = before == 0m || Math.Sign(before) == Math.Sign(signed);
            var closing = adding ? 0m : Math.Min(Math.Abs(before), quantity);
            if (adding)
            {
                o.Add(quantity, price);
            }
            else
            {
                o.Reduce(closing, price, r);
            }

            var trade = book.Apply(fill);
            if (trade is null)
            {
                continue;
            }

            ClosedTrade? converted;
            try
            {
                converted = TradeFigures.ToBase(trade, account.Base, fx);
                inBase.Add(converted);
            }
            catch (FxRateUnavailableException)
            {
                // Shown without base figures and counted, not guessed: the figures below cover the converted trades only.
                converted = null;
                unconverted++;
            }

            var multiplier = instruments.Get(r.Symbol).Multiplier;
            var risk = o.R is { } rr && rr > 0m ? rr * o.OpeningQuantity * multiplier : (decimal?)null;
            trades.Add(new ClosedTradeRow(trade.Symbol, trade.Direction > 0 ? "long" : "short", trade.OpenedAtUtc, trade.ClosedAtUtc, trade.MaxQuantity,
                o.EntryPrice, o.ExitPrice, trade.Currency.Code, trade.GrossPnl, trade.Commissions, trade.NetPnl,
                converted?.GrossPnl, converted?.NetPnl, risk is { } k ? Math.Round(trade.NetPnl / k, 2) : null,
                o.Entry.Source, $"{o.Entry.Kind}: {o.Entry.Reason}", $"{o.Exit!.Kind} ({o.Exit.Purpose}): {o.Exit.Reason}") { Carry = trade.Carry });

            var remainder = quantity - closing;
            open.Remove(r.Symbol);
            if (remainder > 0m)
            {
                // A flipping fill closes the trade and opens the next at its price.
                var next = new Opening(r);
                next.Add(remainder, price);
                open[r.Symbol] = next;
            }
        }

        return new TradeLedgerSnapshot(account.Base.Code, trades, TradeFigures.From(inBase), TradeFigures.ByCloseDay(inBase), unconverted);
    }

    /// <summary>One fill row as the query returns it (TEXT columns as stored).</summary>
    private sealed record FillRow(string ExecutionId, string ClientOrderId, string Symbol, string Side, string Quantity, string Price, string Commission,
        string CommissionCurrency, string EventUtc, string Purpose, string OrderQuantity, string Source, string Kind, string Reason, string Inputs);

    /// <summary>The open trade of one symbol while the fills are replayed: volume-weighted entry and exit prices and the opening decision.</summary>
    private sealed class Opening(FillRow entry)
    {
        private decimal _entryQuantity;
        private decimal _entryValue;
        private decimal _exitQuantity;
        private decimal _exitValue;

        public FillRow Entry { get; } = entry;

        public FillRow? Exit { get; private set; }

        /// <summary>The opening order's quantity (the size 1R was taken on).</summary>
        public decimal OpeningQuantity { get; } = decimal.Parse(entry.OrderQuantity, NumberStyles.Number, CultureInfo.InvariantCulture);

        /// <summary>The opening decision's <c>r</c> input (price distance of 1R), when it recorded one.</summary>
        public decimal? R { get; } = ReadR(entry.Inputs);

        public decimal EntryPrice => _entryQuantity > 0m ? _entryValue / _entryQuantity : 0m;

        public decimal ExitPrice => _exitQuantity > 0m ? _exitValue / _exitQuantity : 0m;

        public void Add(decimal quantity, decimal price)
        {
            _entryQuantity += quantity;
            _entryValue += quantity * price;
        }

        public void Reduce(decimal quantity, decimal price, FillRow row)
        {
            _exitQuantity += quantity;
            _exitValue += quantity * price;
            Exit = row;
        }

        private static decimal? ReadR(string json)
        {
            try
            {
                using var doc = JsonDocument.Parse(json);
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("r", out var r))
                {
                    return r.ValueKind switch
                    {
                        JsonValueKind.Number => r.GetDecimal(),
                        JsonValueKind.String when decimal.TryParse(r.GetString(), NumberStyles.Number | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var v) => v,
                        _ => null,
                    };
                }

                return null;
            }
            catch (JsonException)
            {
                // A decision's inputs are written by us as JSON; one that is not has no r to show (the R column stays empty).
                return null;
            }
        }
    }
}

/// <summary>The closed trades of a run and their figures, money of the figures in <paramref name="Currency"/> (the base currency).</summary>
/// <param name="Currency">Base currency (ISO code) of <paramref name="Figures"/> and <paramref name="Daily"/>.</param>
/// <param name="Trades">Every closed trade, in closing order.</param>
/// <param name="Figures">Trades, winners, gross/net P&amp;L, commissions and profit factor (the replay summary's definitions), base currency.</param>
/// <param name="Daily">Closed-trade P&amp;L per UTC day of close, base currency.</param>
/// <param name="Unconverted">Trades left out of the figures because their currency has no rate to the base currency.</param>
public sealed record TradeLedgerSnapshot(string Currency, IReadOnlyList<ClosedTradeRow> Trades, TradeFigures Figures, IReadOnlyList<DailyTradePnl> Daily, int Unconverted);

/// <summary>One closed trade (round trip) for the operator.</summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Direction">"long" or "short".</param>
/// <param name="OpenedAtUtc">Its first fill (UTC).</param>
/// <param name="ClosedAtUtc">The fill that made it flat (UTC).</param>
/// <param name="Quantity">Largest absolute quantity held.</param>
/// <param name="EntryPrice">Volume-weighted price of the fills that opened or added, major units of <paramref name="Currency"/>.</param>
/// <param name="ExitPrice">Volume-weighted price of the fills that reduced it.</param>
/// <param name="Currency">Instrument currency of the prices and of the three P&amp;L figures that follow.</param>
/// <param name="GrossPnl">P&amp;L before commissions and carry, instrument currency.</param>
/// <param name="Commissions">Commissions (every cost line of its fills), instrument currency.</param>
/// <param name="NetPnl">P&amp;L net: gross − commissions − carry (<see cref="Carry"/>), instrument currency.</param>
/// <param name="GrossPnlBase">Gross P&amp;L in the base currency; null when no rate converts it.</param>
/// <param name="NetPnlBase">Net P&amp;L in the base currency; null when no rate converts it.</param>
/// <param name="RMultiple">Net P&amp;L / initial risk (the opening decision's <c>r</c> × the opening order's quantity × multiplier); null when the decision recorded no r.</param>
/// <param name="Source">The strategy (or sentinel) whose decision opened it.</param>
/// <param name="EntryReason">The opening decision: kind and reason.</param>
/// <param name="ExitReason">The decision of the last reducing fill: kind, order purpose and reason.</param>
public sealed record ClosedTradeRow(string Symbol, string Direction, DateTimeOffset OpenedAtUtc, DateTimeOffset ClosedAtUtc, decimal Quantity, decimal EntryPrice, decimal ExitPrice,
    string Currency, decimal GrossPnl, decimal Commissions, decimal NetPnl, decimal? GrossPnlBase, decimal? NetPnlBase, decimal? RMultiple, string Source, string EntryReason, string ExitReason)
{
    /// <summary>Borrow fees and storage charged while it was open (table <c>carry_costs</c>), instrument currency.</summary>
    public decimal Carry { get; init; }
}
