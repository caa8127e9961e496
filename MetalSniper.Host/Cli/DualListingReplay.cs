using System.Diagnostics;
using System.Globalization;
using System.Text;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Sessions;
using MetalSniper.Host.Configuration;
using MetalSniper.Host.Supervision;
using MetalSniper.Pairs.Backtest;
using MetalSniper.Pairs.Costs;
using MetalSniper.Pairs.Data;
using MetalSniper.Persistence;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Host.Cli;

/// <summary>
/// <c>metalsniper replay --strategy dual-listing</c>: the daily backtest of the configured pairs (section
/// <c>DualListing</c>), each run twice — naive (same-date closes, filled at those closes) and honest (decided after both
/// closes and the next FX snapshot, filled on the next session at adverse prices, every cost) — printed side by side with
/// the statistics, the timing noise and the retirements. The honest run's decisions, orders, fills and cost lines are
/// recorded in the database under one run id, each fill joined to its order and decision.
/// </summary>
internal static class DualListingReplay
{
    /// <summary>The run's figures (what the command prints and tests read).</summary>
    /// <param name="RunId">The run id in the database.</param>
    /// <param name="Results">Per pair: the naive and the honest result.</param>
    public sealed record Outcome(string RunId, IReadOnlyList<(PairBacktestResult Naive, PairBacktestResult Honest)> Results);

    /// <summary>Runs the pairs, records the honest run and prints the report. Returns the exit code.</summary>
    public static async Task<int> RunAsync(HostSettings settings, IExchangeCalendar calendar, TimeProvider clock, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var code = Commands.LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        var options = new DualListingOptions();
        configuration!.GetSection("DualListing").Bind(options);
        var account = new Engine.Configuration.AccountOptions();
        configuration.GetSection(Engine.Configuration.AccountOptions.SectionName).Bind(account);
        var persistence = new PersistenceOptions();
        configuration.GetSection(PersistenceOptions.SectionName).Bind(persistence);
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            error.WriteLine($"configuration error: {e.Message}");
            return ExitCodes.Config;
        }

        IReadOnlyList<PairBacktestInput> inputs;
        try
        {
            inputs = options.Load(Environment.CurrentDirectory);
        }
        catch (DailyDataException e)
        {
            error.WriteLine($"data error: {e.Message}");
            return e.Missing ? ExitCodes.NoInput : ExitCodes.DataError;
        }

        if (inputs.Count == 0)
        {
            error.WriteLine("data error: no pair is enabled (DualListing:Pairs:*:Enabled): nothing to replay");
            return ExitCodes.DataError;
        }

        var stopwatch = Stopwatch.StartNew();
        var baseCurrency = new Currency(account.BaseCurrency);
        var backtest = new DailyPairBacktest(calendar, options.Backtest(baseCurrency));
        var runId = settings.RunId ?? $"pairs-{clock.GetUtcNow():yyyyMMddTHHmmssfff}";
        var results = new List<(PairBacktestResult, PairBacktestResult)>();
        try
        {
            foreach (var input in inputs)
            {
                var tag = $"{runId}-P{new string([.. input.Pair.Name.Where(char.IsAsciiLetterOrDigit)]).ToUpperInvariant()}";
                results.Add((backtest.Run(input, PairBacktestMode.Naive, tag + "N"), backtest.Run(input, PairBacktestMode.Honest, tag)));
            }
        }
        catch (DailyDataException e)
        {
            error.WriteLine($"data error: {e.Message}");
            return ExitCodes.DataError;
        }

        var outcome = new Outcome(runId, results);
        try
        {
            await RecordAsync(persistence.DatabasePath, outcome, clock, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            error.WriteLine($"I/O error: the database '{persistence.DatabasePath}' could not be written: {e.Message}");
            return ExitCodes.IoError;
        }

        await output.WriteAsync(Render(outcome, options, baseCurrency, Path.GetFullPath(persistence.DatabasePath), stopwatch.Elapsed)).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>Records the honest runs' ledgers: the run, then decisions, orders (filled), fills and their cost lines.</summary>
    public static async Task RecordAsync(string databasePath, Outcome outcome, TimeProvider clock, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(databasePath));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var database = new Database(databasePath, clock);
        Exception? fault = null;
        await using var writer = new PersistenceWriter(database, 4096, 1 << 20, NullLogger<PersistenceWriter>.Instance, e => fault = e);
        var first = outcome.Results.Select(r => r.Honest.From).DefaultIfEmpty().Min();
        var started = new DateTimeOffset(first.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        await writer.EnqueueAsync(new PersistRunStarted(outcome.RunId, started, "Replay", "dual-listing daily", "simulated (daily pair backtest)"), cancellationToken).ConfigureAwait(false);
        DateTimeOffset last = started;
        foreach (var (_, honest) in outcome.Results)
        {
            foreach (var entry in honest.Ledger)
            {
                PersistCommand command = entry switch
                {
                    PairDecisionEntry d => new PersistDecision(outcome.RunId, d.Decision),
                    PairOrderEntry o => new PersistOrder(outcome.RunId, o.Order, OrderStatus.Filled, null, o.PlacedUtc),
                    PairFillEntry f => new PersistFill(f.Fill, f.Fill.EventTimeUtc),
                    _ => throw new InvalidOperationException($"unknown ledger entry {entry.GetType().Name}"),
                };
                await writer.EnqueueAsync(command, cancellationToken).ConfigureAwait(false);
                if (entry is PairFillEntry fill)
                {
                    last = fill.Fill.EventTimeUtc > last ? fill.Fill.EventTimeUtc : last;
                    foreach (var c in fill.Costs)
                    {
                        await writer.EnqueueAsync(new PersistFillCost(fill.Fill.ExecutionId, c.Kind.ToString(), c.Charged, c.InBase), cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }

        await writer.EnqueueAsync(new PersistRunEnded(outcome.RunId, last, "completed"), cancellationToken).ConfigureAwait(false);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (fault is not null)
        {
            throw new IOException($"the database writer failed: {fault.Message}", fault);
        }
    }

    /// <summary>The printed report.</summary>
    public static string Render(Outcome outcome, DualListingOptions options, Currency baseCurrency, string databasePath, TimeSpan wall)
    {
        var ic = CultureInfo.InvariantCulture;
        string M(decimal v) => v.ToString("#,##0.00;-#,##0.00;0.00", ic);
        string P(double v) => v.ToString("0.000", ic);
        var sb = new StringBuilder();
        sb.AppendLine(ic, $"Dual-listing arbitrage: {outcome.Results.Count} pairs, daily data, P&L in {baseCurrency}, {M(options.NotionalPerLeg)} {baseCurrency} per leg (run {outcome.RunId}, {wall.TotalSeconds:0.0} s)");
        sb.AppendLine(ic, $"  signal: Engle–Granger on {options.Lookback} observations re-tested every {options.RetestEvery}; z over the {options.ZWindow} before; entry |z| ≥ {options.EntryZ}, exit ≤ {options.ExitZ}, stop ≥ {options.StopZ} or {options.MaxHolding} days; retire at p > {options.MaxPValue} or half-life > {options.MaxHalfLife}");
        sb.AppendLine("  naive  = premium from same-date closes and the same-date FX row, filled at those closes (costs charged too)");
        sb.AppendLine(ic, $"  honest = decided after both closes and the next FX snapshot; filled on the next date both venues trade, {options.AdverseFraction:0.##} of the way from the open to the adverse extreme");
        sb.AppendLine(ic, $"           (when a leg's file has closes only: both legs at that date's closes moved adversely by {options.AdverseFraction:0.##} × the mean daily move); every cost");
        sb.AppendLine();
        var stats = new TextTable("pair", "legs", "period", ">obs", ">ADF", ">p", ">lag", ">half-life", ">tests passed", ">close gap", ">FX gap", ">timing noise 1σ");
        foreach (var (_, h) in outcome.Results)
        {
            var hs = h.Hindsight;
            var passed = h.Tests.Count(t => t.PValue <= options.MaxPValue && t.HalfLife <= options.MaxHalfLife);
            stats.Add(h.Pair.Name, $"{h.Pair.A.Symbol} ({h.Pair.A.Unit.Name}) / {h.Pair.B.Symbol} ({h.Pair.B.Unit.Name})", $"{h.From:yyyy-MM-dd}..{h.To:yyyy-MM-dd}",
                h.Observations.ToString(ic), hs is null ? "-" : hs.AdfStatistic.ToString("0.00", ic), hs is null ? "-" : P(hs.PValue), hs is null ? "-" : hs.UsedLag.ToString(ic),
                hs is null ? "-" : double.IsPositiveInfinity(hs.HalfLife) ? "inf" : hs.HalfLife.ToString("0.0", ic) + " d",
                $"{passed}/{h.Tests.Count}", $"{h.Noise.CloseGapMinutes:0} min", $"{h.Noise.FxGapHours:0.0} h", $"{h.Noise.Total * 100:0.00} %");
        }

        sb.AppendLine("Statistics (ADF/p/lag/half-life over the whole period, in hindsight, for the report only; decisions use the re-tests, each on data up to its moment; ADF lag by AIC, MacKinnon p-value for 2 variables)");
        sb.Append(stats.Render());
        sb.AppendLine();
        var pnl = new TextTable("pair", ">naive trades", ">naive win %", ">naive net", ">honest trades", ">honest win %", ">gross", ">commission", ">stamp/STT", ">spread", ">FX conv.", ">borrow", ">honest net");
        decimal naiveTotal = 0, honestTotal = 0;
        foreach (var (n, h) in outcome.Results)
        {
            var c = h.CostsByKind;
            naiveTotal += n.Net;
            honestTotal += h.Net;
            pnl.Add(h.Pair.Name, n.Trades.Count.ToString(ic), Pct(n.Winners, n.Trades.Count), M(n.Net), h.Trades.Count.ToString(ic), Pct(h.Winners, h.Trades.Count), M(h.Gross),
                M(-c[PairCostKind.Commission]), M(-(c[PairCostKind.StampDuty] + c[PairCostKind.TransferTax])), M(-c[PairCostKind.Spread]), M(-c[PairCostKind.FxConversion]), M(-c[PairCostKind.BorrowFee]), M(h.Net));
        }

        pnl.Add("total", "", "", M(naiveTotal), "", "", "", "", "", "", "", "", M(honestTotal));
        sb.AppendLine(ic, $"P&L ({baseCurrency}; costs negative)");
        sb.Append(pnl.Render());
        sb.AppendLine();
        sb.AppendLine("Retirements and skipped dates (honest run)");
        foreach (var (_, h) in outcome.Results)
        {
            sb.AppendLine(ic, $"  {h.Pair.Name}: {(h.Retirements.Count == 0 ? "not retired" : string.Join("; ", h.Retirements))}");
            foreach (var (why, count) in h.Skipped)
            {
                sb.AppendLine(ic, $"    skipped {count}: {why}");
            }

            if (h.MaxFxExposure.Count > 0)
            {
                sb.AppendLine(ic, $"    largest FX exposure of the open pair: {string.Join(", ", h.MaxFxExposure.OrderBy(e => e.Key.Code, StringComparer.Ordinal).Select(e => $"{e.Key} {M(e.Value)} {baseCurrency}"))}");
            }
        }

        sb.AppendLine();
        sb.AppendLine(ic, $"Recorded: {databasePath} run {outcome.RunId} (decisions, orders, fills in each leg's currency, fill_costs)");
        return sb.ToString();

        static string Pct(int k, int n) => n == 0 ? "-" : (100.0 * k / n).ToString("0", CultureInfo.InvariantCulture);
    }
}
