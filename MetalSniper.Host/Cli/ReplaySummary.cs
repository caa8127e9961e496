using System.Globalization;
using System.Text;
using Dapper;
using MetalSniper.Core.MarketData;
using MetalSniper.Persistence;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Risk.Gates;
using MetalSniper.Sentinel;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Money;
using MetalSniper.Core.Time;

namespace MetalSniper.Host.Cli;

/// <summary>
/// The figures of a finished replay, money in the base currency (USD by default). One definition of each P&amp;L figure:
/// <list type="bullet">
/// <item><see cref="RealizedGrossPnl"/>: the closed trades' P&amp;L before any cost;</item>
/// <item><see cref="Commissions"/>: every fill's commission (the sum over the run's <c>fills</c>, open positions included);</item>
/// <item><see cref="CarryCosts"/>: every borrow fee and storage charge (the sum over the run's <c>carry_costs</c>);</item>
/// <item><see cref="RealizedNetPnl"/>: the closed trades' P&amp;L after their own commissions and carry;</item>
/// <item><see cref="UnrealizedGrossPnl"/>: the positions open at the end, marked at their last price, before any cost;</item>
/// <item><see cref="NetPnl"/>: realized gross + unrealized gross − every commission − every carry charge (the final equity P&amp;L).</item>
/// </list>
/// </summary>
public sealed record ReplaySummary(
    string RunId,
    string Source,
    string DatabasePath,
    long BarsRead,
    long BarsAccepted,
    long BarsRejected,
    IReadOnlyDictionary<BarRejectReason, long> RejectedByReason,
    long BarsEvaluated,
    long Decisions,
    IReadOnlyDictionary<string, long> DecisionsByKind,
    long OrdersSent,
    long OrdersDenied,
    IReadOnlyDictionary<DenyReason, long> DenialsByReason,
    long OrdersRejected,
    long Fills,
    int Trades,
    int WinningTrades,
    decimal RealizedNetPnl,
    decimal Commissions,
    decimal EquityPnl,
    decimal MaxDrawdown,
    decimal? ProfitFactor,
    IReadOnlyList<SentinelTrip> SentinelTrips,
    TimeSpan WallTime)
{
    /// <summary>Fills whose price the simulated broker capped at the bar's high/low, and the spread/slippage (USD) not charged because of it.</summary>
    public (long Fills, decimal Cost) CappedByEnvelope { get; init; }

    /// <summary>The database check after the run: integrity, fills and orders of the run, and orphans (any run).</summary>
    public (string Integrity, long Fills, long OrphanFills, long Orders, long OrphanOrders) DatabaseCheck { get; init; }

    /// <summary>Every record this run wrote to the halts store (its own scope): pauses, clears and escalations, in order.</summary>
    public IReadOnlyList<Sentinel.Halts.HaltRecord> HaltRecords { get; init; } = [];

    /// <summary>Host build and start (configuration, database open and migration, services started) before the first bar.</summary>
    public TimeSpan StartupTime { get; init; }

    /// <summary>The base currency (ISO code) of every P&amp;L, commission and drawdown figure above.</summary>
    public required string Currency { get; init; }

    /// <summary>Every closed trade (round trip) in closing order, converted to the base currency.</summary>
    public IReadOnlyList<Core.Positions.ClosedTrade> ClosedTrades { get; init; } = [];

    /// <summary>The equity curve (equity P&amp;L incl. open, base currency): the last mark of every market hour, oldest first.</summary>
    public IReadOnlyList<(DateTimeOffset TimeUtc, decimal Equity)> EquityCurve { get; init; } = [];

    /// <summary>
    /// Annualized Sharpe ratio of daily equity P&amp;L changes: <c>mean(Δ) / s(Δ) × √252</c> over UTC days with a mark, sample
    /// standard deviation, no risk-free rate (Sharpe, J. Portfolio Management 21(1), 1994). Scale-free in the account's capital
    /// because it uses P&amp;L changes, not returns. Null with fewer than 2 days or no variation.
    /// </summary>
    public double? Sharpe => DailySharpe(EquityCurve);

    /// <summary>Computes <see cref="Sharpe"/> from an hourly equity curve (<see cref="Core.Positions.TradeFigures.DailySharpe"/>: the last mark of each UTC day; the first day's change is from 0).</summary>
    public static double? DailySharpe(IReadOnlyList<(DateTimeOffset TimeUtc, decimal Equity)> curve) => Core.Positions.TradeFigures.DailySharpe(curve);

    /// <summary>Accepted bars per wall-clock second of the pipeline (start-up excluded; see <see cref="StartupTime"/>).</summary>
    public double BarsPerSecond => WallTime.TotalSeconds > 0 ? BarsAccepted / WallTime.TotalSeconds : 0;

    /// <summary>The judges of the run: each model in use (version, hash, mode) and each refused one (rule), one line each.</summary>
    public IReadOnlyList<string> Judges { get; init; } = [];

    /// <summary>The closed trades' P&amp;L before commissions and carry (base currency).</summary>
    public decimal RealizedGrossPnl { get; init; }

    /// <summary>The closed trades' own commissions (base currency); the rest of <see cref="Commissions"/> was paid on the positions open at the end.</summary>
    public decimal ClosedTradeCommissions { get; init; }

    /// <summary>The closed trades' own carry (base currency); the rest of <see cref="CarryCosts"/> was paid on the positions open at the end.</summary>
    public decimal ClosedTradeCarry { get; init; }

    /// <summary>Every carry charge of the run (table <c>carry_costs</c>), per symbol and kind, with totals.</summary>
    public CarrySummary Carry { get; init; } = CarrySummary.Empty;

    /// <summary>Every borrow fee and storage charge of the run (base currency): <see cref="CarrySummary.Total"/>.</summary>
    public decimal CarryCosts => Carry.Total;

    /// <summary>The positions open at the end of the run, marked at their last price.</summary>
    public IReadOnlyList<OpenPositionAtEnd> OpenPositions { get; init; } = [];

    /// <summary>The open positions' P&amp;L at their last marks, before any cost (base currency).</summary>
    public decimal UnrealizedGrossPnl => OpenPositions.Sum(p => p.UnrealizedGrossBase);

    /// <summary>Net P&amp;L after every cost, open positions marked: realized gross + unrealized gross − commissions − carry (base currency).</summary>
    public decimal NetPnl => RealizedGrossPnl + UnrealizedGrossPnl - Commissions - CarryCosts;

    /// <summary>
    /// Collects the figures from the finished run: the trades from the run, the costs from what the run recorded (every fill's
    /// commission, every carry charge), the open positions from the book the execution service last published, marked at
    /// <paramref name="marks"/>.
    /// </summary>
    /// <exception cref="FxRateUnavailableException">A trade's or a cost's currency cannot be converted to the base currency.</exception>
    /// <exception cref="InvalidOperationException">A position open at the end has no mark.</exception>
    public static ReplaySummary From(RunContext run, IngestCounters ingest, PreTradeGatePipeline gates, RiskSentinel sentinel, string source, Database database, TimeSpan wall,
        AccountCurrency account, FxConverter fx, IReadOnlyDictionary<string, decimal> marks, Core.Instruments.IInstrumentCatalog instruments)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(fx);
        ArgumentNullException.ThrowIfNull(marks);
        ArgumentNullException.ThrowIfNull(instruments);
        var (closed, equity, maxDd) = run.Trades.Snapshot();
        // Trades close in their instrument's currency; the summary, like the equity curve, is in the base currency.
        var trades = closed.Select(t => Core.Positions.TradeFigures.ToBase(t, account.Base, fx)).ToList();
        var figures = Core.Positions.TradeFigures.From(trades);
        decimal ToBase(decimal amount, Currency currency) => fx.Convert(new Money(amount, currency), account.Base).Amount;
        var (commissions, carry) = RecordedCosts(database, run.RunId, ToBase);
        var open = sentinel.Book.Positions.Where(p => !p.IsFlat).OrderBy(p => p.Symbol, StringComparer.Ordinal).Select(p =>
        {
            var mark = marks.TryGetValue(p.Symbol, out var m) ? m : throw new InvalidOperationException($"no last mark for {p.Symbol}, open at the end of the run");
            var unrealized = p.Unrealized(mark, instruments.Get(p.Symbol).Multiplier);
            return new OpenPositionAtEnd(p.Symbol, p.Currency.Code, p.Quantity, p.AveragePrice, mark, unrealized, ToBase(unrealized, p.Currency), p.OpenCommissions, p.OpenCarry, p.OpenedAtUtc);
        }).ToList();
        return new ReplaySummary(run.RunId, source, database.Path, ingest.Read, ingest.Accepted, ingest.Rejected, ingest.RejectedByReason(), run.BarsProcessed,
            run.Decisions, run.DecisionsByKind, run.OrdersSent, run.OrdersDenied, gates.DenialsByReason(), run.OrdersRejected, run.Fills,
            figures.Trades, figures.Winners, figures.NetPnl, commissions, equity, maxDd,
            figures.ProfitFactor, sentinel.Trips, wall)
        {
            Currency = account.Base.Code, EquityCurve = run.Equity.Points(), ClosedTrades = trades,
            RealizedGrossPnl = figures.GrossPnl, ClosedTradeCommissions = figures.Commissions, ClosedTradeCarry = figures.Carry, Carry = carry, OpenPositions = open,
        };
    }

    /// <summary>
    /// The costs the run recorded, in the base currency: the commission of every fill of its orders (<c>fills</c>), and every
    /// carry charge (<c>carry_costs</c>) per symbol and kind. Summed as decimals (the columns are text), never as SQLite reals.
    /// </summary>
    public static (decimal Commissions, CarrySummary Carry) RecordedCosts(Database database, string runId, Func<decimal, Currency, decimal> toBase)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(toBase);
        using var c = database.OpenConnection();
        var commissions = c.Query<(string Amount, string Currency)>(
                "SELECT f.commission, f.commission_ccy FROM fills f JOIN orders o ON o.client_order_id=f.client_order_id WHERE o.run_id=@runId", new { runId })
            .GroupBy(r => r.Currency, StringComparer.Ordinal)
            .Sum(g => toBase(g.Sum(r => Parse(r.Amount)), new Core.Money.Currency(g.Key)));
        var lines = c.Query<(string Symbol, string Kind, string Amount, string Day)>("SELECT symbol, kind, amount_usd, day FROM carry_costs WHERE run_id=@runId", new { runId })
            .GroupBy(r => (r.Symbol, r.Kind))
            .OrderBy(g => g.Key.Symbol, StringComparer.Ordinal).ThenBy(g => g.Key.Kind, StringComparer.Ordinal)
            .Select(g => new CarryLine(g.Key.Symbol, Enum.Parse<Core.Costs.CarryKind>(g.Key.Kind), g.Count(), toBase(g.Sum(r => Parse(r.Amount)), Core.Money.Currency.Usd)))
            .ToList();
        return (commissions, new CarrySummary(lines));
    }

    private static decimal Parse(string text) => decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Checks the database of the run: integrity, every fill joined to its order and decision.</summary>
    public static (string Integrity, long Fills, long OrphanFills, long Orders, long OrphanOrders) CheckDatabase(Database database, string runId)
    {
        using var c = database.OpenConnection();
        var integrity = c.ExecuteScalar<string>("PRAGMA integrity_check") ?? "?";
        var fills = c.ExecuteScalar<long>("SELECT COUNT(*) FROM fills f JOIN orders o ON o.client_order_id=f.client_order_id WHERE o.run_id=@runId", new { runId });
        var orphanFills = c.ExecuteScalar<long>("SELECT COUNT(*) FROM fills f LEFT JOIN orders o ON o.client_order_id=f.client_order_id LEFT JOIN decisions d ON d.decision_id=o.decision_id WHERE d.decision_id IS NULL");
        var orders = c.ExecuteScalar<long>("SELECT COUNT(*) FROM orders WHERE run_id=@runId", new { runId });
        var orphanOrders = c.ExecuteScalar<long>("SELECT COUNT(*) FROM orders o LEFT JOIN decisions d ON d.decision_id=o.decision_id WHERE d.decision_id IS NULL");
        return (integrity, fills, orphanFills, orders, orphanOrders);
    }

    /// <summary>Our positions against the simulated broker's own records after the run, and how the run got there.</summary>
    public BrokerReconciliation? BrokerCheck { get; init; }

    /// <summary>Compares the run's positions (our database) with the simulated broker's (its own file).</summary>
    public static BrokerReconciliation CheckBroker(Database database, Backtest.DurableSimulatedBroker broker, Engine.Pipeline.RunResume resume)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(resume);
        using var c = database.OpenConnection();
        var ours = c.Query<(string Symbol, string Quantity)>("SELECT symbol, quantity FROM positions WHERE run_id=@run", new { run = resume.RunId })
            .Select(p => (p.Symbol, Quantity: decimal.Parse(p.Quantity, NumberStyles.Number, CultureInfo.InvariantCulture)))
            .Where(p => p.Quantity != 0m)
            .ToDictionary(p => p.Symbol, p => p.Quantity, StringComparer.Ordinal);
        var theirs = broker.Store.Positions(resume.RunId);
        var (requests, twice) = broker.Store.RequestCounts(resume.RunId);
        static string Show(IReadOnlyDictionary<string, decimal> p) => p.Count == 0 ? "flat" : string.Join(", ", p.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Key} {x.Value}")));
        var agree = ours.Count == theirs.Count && ours.All(p => theirs.TryGetValue(p.Key, out var q) && q == p.Value);
        return new BrokerReconciliation(agree, Show(ours), Show(theirs), requests, twice, resume.Attempt, broker.RequestsMatched);
    }

    /// <summary>
    /// The report as an aligned plain-text table (the same on a terminal, in a pipe and in a file): the key figures first (realized
    /// P&amp;L gross, commissions, carry, realized P&amp;L net, unrealized P&amp;L gross, net P&amp;L; max drawdown, profit factor,
    /// Sharpe, trades and win rate, throughput), the carry per symbol and kind, the positions open at the end, then the run, the
    /// data and what the pipeline did, every sentinel and breaker trip with its formula, every halts record of the run, and the timings.
    /// </summary>
    public string Render()
    {
        var inv = CultureInfo.InvariantCulture;
        // (section title, null) starts a section; (label, value) is a row. Labels form the first column.
        var rows = new List<(string Label, string? Value)>();
        void Section(string title) => rows.Add((title, null));
        void Row(string label, string value) => rows.Add((label, value));
        string Money(decimal amount) => string.Create(inv, $"{amount:N2} {Currency}");

        Section("key figures");
        Row("Realized P&L gross", Money(RealizedGrossPnl) + " (closed trades, before any cost)");
        Row("Commissions", Money(Commissions) + string.Create(inv, $" (every fill; {ClosedTradeCommissions:N2} in closed trades, {Commissions - ClosedTradeCommissions:N2} on positions open at the end)"));
        Row("Carry (borrow + storage)", Money(CarryCosts) + string.Create(inv, $" (borrow {Carry.Borrow:N2}, storage {Carry.Storage:N2}; {ClosedTradeCarry:N2} in closed trades, {CarryCosts - ClosedTradeCarry:N2} on positions open at the end)"));
        Row("Realized P&L net", Money(RealizedNetPnl) + " (closed trades, after their commissions and carry)");
        Row("Unrealized P&L gross (open at end)", Money(UnrealizedGrossPnl) + string.Create(inv, $" ({OpenPositions.Count} position(s), at their last marks)"));
        Row("Net P&L (after every cost, open marked)", Money(NetPnl) + " (realized gross + unrealized gross − commissions − carry)");
        Row("max drawdown (incl. open)", Money(MaxDrawdown));
        Row("profit factor", ProfitFactor is { } pf ? pf.ToString("0.00", inv) : "n/a (no losing trade)");
        Row("Sharpe (daily, annualized)", Sharpe is { } sr ? sr.ToString("0.00", inv) : "n/a");
        Row("trades (round trips)", string.Create(inv, $"{Trades:N0}, {(Trades > 0 ? 100.0 * WinningTrades / Trades : 0):0.0} % winners ({WinningTrades:N0}, by net P&L)"));
        Row("throughput", BarsPerSecond.ToString("N0", inv) + " bars/s (full pipeline)");

        Section("carry costs");
        if (Carry.Lines.Count == 0)
        {
            Row("charges", "none (no position held over a daily cut, or SimulatedBroker:Carry off)");
        }

        foreach (var l in Carry.Lines)
        {
            Row(string.Create(inv, $"  {l.Symbol} {l.Kind}"), string.Create(inv, $"{l.Amount:N2} {Currency} over {l.Days:N0} position-day(s)"));
        }

        Section("open positions at the end");
        if (OpenPositions.Count == 0)
        {
            Row("positions", "flat");
        }

        foreach (var p in OpenPositions)
        {
            Row("  " + p.Symbol, string.Create(inv,
                $"{p.Quantity:+0.####;-0.####} @ {p.AveragePrice:0.#####} since {UtcText.Of(p.OpenedAtUtc, "an unknown time")}, last mark {p.LastMark:0.#####}; unrealized P&L gross {p.UnrealizedGross:N2} {p.Currency}; paid so far: commissions {p.CommissionsPaid:N2}, carry {p.CarryPaid:N2} {p.Currency}"));
        }

        Section("run");
        Row("run", RunId);
        Row("source", Source);
        Row("database", DatabasePath);
        Row("database check", string.Create(inv, $"integrity {DatabaseCheck.Integrity}; {DatabaseCheck.Orders:N0} orders and {DatabaseCheck.Fills:N0} fills of this run, {DatabaseCheck.OrphanOrders + DatabaseCheck.OrphanFills} without their decision/order"));
        if (BrokerCheck is { } b)
        {
            Row("broker reconciliation", string.Create(inv, $"{(b.PositionsAgree ? "positions agree" : "POSITIONS DIFFER")}: ours {b.Ours}; broker {b.Theirs}; {b.Requests:N0} requests, {b.SubmittedTwice} client order id(s) submitted twice"));
            if (b.Attempt > 1)
            {
                Row("resumed", string.Create(inv, $"attempt {b.Attempt}: re-executed from the start; {b.RequestsAnsweredAgain:N0} requests the broker had answered before the crash were answered by its shadow"));
            }
        }

        Section("data and activity");
        Row("bars read", BarsRead.ToString("N0", inv));
        Row("bars accepted", BarsAccepted.ToString("N0", inv));
        Row("bars rejected", BarsRejected.ToString("N0", inv) + (RejectedByReason.Count == 0 ? "" : " (" + string.Join(", ", RejectedByReason.Select(kv => $"{kv.Key}: {kv.Value}")) + ")"));
        Row("bars evaluated by the brain", BarsEvaluated.ToString("N0", inv));
        Row("decisions", Decisions.ToString("N0", inv));
        foreach (var (kind, n) in DecisionsByKind)
        {
            Row("  " + kind, n.ToString("N0", inv));
        }

        Row("orders sent", OrdersSent.ToString("N0", inv));
        Row("orders denied by gates", OrdersDenied.ToString("N0", inv) + (DenialsByReason.Count == 0 ? "" : " (" + string.Join(", ", DenialsByReason.Select(kv => $"{kv.Key}: {kv.Value}")) + ")"));
        Row("orders rejected by broker", OrdersRejected.ToString("N0", inv));
        Row("fills", Fills.ToString("N0", inv));
        Row("costs capped by bar range", string.Create(inv, $"{CappedByEnvelope.Cost:N2} (instrument currency, not converted) on {CappedByEnvelope.Fills:N0} fills (never filled outside high/low; this spread/slippage was not charged)"));

        if (Judges.Count > 0)
        {
            Section("judges");
            foreach (var j in Judges)
            {
                Row("  " + (j.StartsWith("REFUSED", StringComparison.Ordinal) ? "REFUSED" : "in use"), j);
            }
        }

        Section("sentinel and breaker trips");
        Row("trips", SentinelTrips.Count.ToString(inv) + (SentinelTrips.Count == 0 ? "" : " (time UTC, formula)"));
        foreach (var t in SentinelTrips)
        {
            Row("  " + t.Label, $"{UtcText.Of(t.AtUtc)} {t.Detail}");
        }

        Row("halts store", string.Create(inv, $"{HaltRecords.Count} record(s) of this run (tamper-evident chain)"));
        foreach (var r in HaltRecords)
        {
            var d = r.Draft;
            Row(string.Create(inv, $"  #{r.Sequence} {d.Action}"), string.Create(inv,
                $"{UtcText.Of(d.AtUtc)} {d.Key} L{(int)d.Level}{(d.UntilUtc is { } u ? $" until {UtcText.Of(u)}" : d.Action == Sentinel.Halts.HaltAction.Pause ? " until cleared" : "")} ({d.Source})"));
        }

        Section("timing");
        Row("start-up", StartupTime.TotalSeconds.ToString("0.000", inv) + " s");
        Row("pipeline wall time", WallTime.TotalSeconds.ToString("0.000", inv) + " s (first bar to last order processed and persisted)");

        // The first column's width depends on the labels only (never on a value), so two runs with the same figures print the same lines.
        var width = Math.Max(30, rows.Max(r => r.Label.Length));
        var rule = new string('─', width) + "  " + new string('─', 44);
        var sb = new StringBuilder();
        sb.Append("MetalSniper replay summary\n");
        foreach (var (label, value) in rows)
        {
            if (value is null)
            {
                sb.Append('\n').Append(("  " + label.PadRight(width) + (label == "key figures" ? $"  ({Currency}; gross = before costs, net = after them)" : "")).TrimEnd()).Append('\n');
                sb.Append("  ").Append(rule).Append('\n');
                continue;
            }

            sb.Append("  ").Append(label.PadRight(width)).Append("  ").Append(value).Append('\n');
        }

        return sb.ToString();
    }
}

/// <summary>A position open at the end of a run.</summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Currency">Instrument currency (ISO code) of the amounts below except <paramref name="UnrealizedGrossBase"/>.</param>
/// <param name="Quantity">Signed quantity.</param>
/// <param name="AveragePrice">Average price of the open quantity (major units).</param>
/// <param name="LastMark">The last price known at the end (the close of its last bar).</param>
/// <param name="UnrealizedGross">Quantity × (mark − average) × multiplier, before any cost, in <paramref name="Currency"/>.</param>
/// <param name="UnrealizedGrossBase"><paramref name="UnrealizedGross"/> in the base currency.</param>
/// <param name="CommissionsPaid">Commissions of the fills that built the open quantity, in <paramref name="Currency"/>.</param>
/// <param name="CarryPaid">Carry charged on it so far, in <paramref name="Currency"/>.</param>
/// <param name="OpenedAtUtc">When it was opened (UTC).</param>
public sealed record OpenPositionAtEnd(string Symbol, string Currency, decimal Quantity, decimal AveragePrice, decimal LastMark, decimal UnrealizedGross, decimal UnrealizedGrossBase,
    decimal CommissionsPaid, decimal CarryPaid, DateTimeOffset? OpenedAtUtc);

/// <summary>The carry of one symbol and kind over a run.</summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Kind">Borrow (shorts) or storage (longs).</param>
/// <param name="Days">Position-days charged (rows of <c>carry_costs</c>).</param>
/// <param name="Amount">Their sum, in the base currency.</param>
public sealed record CarryLine(string Symbol, Core.Costs.CarryKind Kind, int Days, decimal Amount);

/// <summary>Every carry charge of a run, per symbol and kind, in the base currency.</summary>
/// <param name="Lines">One line per symbol and kind.</param>
public sealed record CarrySummary(IReadOnlyList<CarryLine> Lines)
{
    /// <summary>No carry.</summary>
    public static CarrySummary Empty { get; } = new([]);

    /// <summary>Borrow fees (short positions).</summary>
    public decimal Borrow => Lines.Where(l => l.Kind == Core.Costs.CarryKind.Borrow).Sum(l => l.Amount);

    /// <summary>Storage (long positions).</summary>
    public decimal Storage => Lines.Where(l => l.Kind == Core.Costs.CarryKind.Storage).Sum(l => l.Amount);

    /// <summary>Borrow + storage.</summary>
    public decimal Total => Borrow + Storage;
}

/// <summary>Our positions against the simulated broker's own records at the end of a run.</summary>
/// <param name="PositionsAgree">True when every symbol's quantity is the same on both sides.</param>
/// <param name="Ours">Our positions (from the database).</param>
/// <param name="Theirs">The broker's (from its own file).</param>
/// <param name="Requests">Requests the broker received over the whole run (all attempts).</param>
/// <param name="SubmittedTwice">Client order ids the broker received more than one submit for (must be 0).</param>
/// <param name="Attempt">Which attempt of the run finished it.</param>
/// <param name="RequestsAnsweredAgain">Requests of this attempt the shadow answered (the broker had them before the crash).</param>
public sealed record BrokerReconciliation(bool PositionsAgree, string Ours, string Theirs, long Requests, long SubmittedTwice, int Attempt, long RequestsAnsweredAgain);
