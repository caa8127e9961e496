using System.Globalization;
using System.Text;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;

namespace MetalSniper.Operator;

/// <summary>
/// The service's operator console: what Telegram and the operator window show and do. Reads only immutable
/// views (the kill state, the sentinel's book, the execution side's published marks); kill and resume go
/// through the kill switch and its halts store like the CLI's.
/// </summary>
public sealed class OperatorConsole(
    KillSwitch killSwitch,
    RiskSentinel sentinel,
    MetalSniper.Engine.Services.ExecutionService hands,
    RunContext run,
    IInstrumentCatalog instruments,
    TimeProvider clock,
    AccountCurrency account,
    BrokerIdentity broker,
    ShadowFills? shadowFills = null,
    ITelegramHealth? telegram = null) : IOperatorConsole
{
    /// <summary>The account's base currency (ISO code): every P&amp;L figure the console and the window show is in it.</summary>
    public string BaseCurrency => account.Base.Code;

    /// <summary>Mode, broker and account ("paper · IB DU1234567 at 127.0.0.1:4002 (client 17) FULLY_LIVE").</summary>
    public string Mode => broker.Describe();

    /// <summary>The open positions with their latest mark and unrealized P&amp;L (instrument currency).</summary>
    public IReadOnlyList<PositionRow> Positions()
    {
        var marks = hands.Marks;
        return [.. sentinel.Book.Positions.Where(p => !p.IsFlat).Select(p =>
        {
            var mark = marks.TryGetValue(p.Symbol, out var m) ? m : (decimal?)null;
            var unrealized = mark is { } px ? p.Unrealized(px, instruments.Get(p.Symbol).Multiplier) : (decimal?)null;
            return new PositionRow(p.Symbol, p.Quantity, p.AveragePrice, p.Currency.Code, mark, unrealized, p.RealizedPnlNet);
        })];
    }

    /// <inheritdoc />
    public string StatusText()
    {
        var now = clock.GetUtcNow();
        var state = killSwitch.State;
        var level = state.Level(now);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"MetalSniper {Mode}, run {run.RunId}\n");
        sb.Append(inv, $"kill level L{(int)level}{(level == KillLevel.Running ? "" : ": " + state.Describe(now))}\n");
        sb.Append(inv, $"day P&L {(sentinel.DayPnl is { } d ? d.ToString("N2", inv) + " " + account.Base.Code : "unknown")}; equity P&L {run.Trades.Snapshot().EquityPnl:N2} {account.Base.Code}\n");
        sb.Append(inv, $"bars {run.BarsProcessed:N0}, decisions {run.Decisions:N0}, orders {run.OrdersSent:N0} (denied {run.OrdersDenied:N0}), fills {run.Fills:N0}\n");
        if (shadowFills is not null)
        {
            sb.Append(shadowFills.Summary().Describe()).Append('\n');
        }

        if (telegram is not null)
        {
            sb.Append(telegram.Health().Describe()).Append('\n');
        }

        sb.Append(inv, $"market time {now:yyyy-MM-dd HH:mm} UTC; faults {run.Faults.Count}");
        return sb.ToString();
    }

    /// <summary>The phone's health (<see cref="ITelegramHealth"/>); disabled when the notifier is not part of this host (replays).</summary>
    public TelegramHealth TelegramHealth() => telegram?.Health() ?? new TelegramHealth(false, true, 0, 0, null, null);

    /// <inheritdoc />
    public OperatorSnapshot Snapshot()
    {
        var now = clock.GetUtcNow();
        var positions = Positions();
        var (trades, equity, _) = run.Trades.Snapshot();
        return new OperatorSnapshot(
            $"L{(int)killSwitch.Level(now)}",
            account.Base.Code,
            sentinel.DayPnl,
            equity,
            [.. trades.GroupBy(t => t.Currency.Code, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new CurrencyAmount(g.Key, g.Sum(t => t.NetPnl)))],
            [.. positions.Where(p => p.Unrealized is not null).GroupBy(p => p.Currency, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new CurrencyAmount(g.Key, g.Sum(p => p.Unrealized!.Value)))],
            positions);
    }

    /// <inheritdoc />
    public string PositionsText()
    {
        var rows = Positions();
        if (rows.Count == 0)
        {
            return "no open positions";
        }

        var inv = CultureInfo.InvariantCulture;
        return string.Join('\n', rows.Select(r => string.Create(inv,
            $"{r.Symbol} {r.Quantity:0.####} @ {r.AveragePrice:0.#####} {r.Currency}, last {(r.Mark is { } m ? m.ToString("0.#####", inv) : "?")}, unrealized {(r.Unrealized is { } u ? u.ToString("N2", inv) : "?")}")));
    }

    /// <summary>
    /// The service's status in one log line: kill level (and why, when not L0), equity P&amp;L and the day's P&amp;L (net, base
    /// currency), each open position with its quantity, average price and unrealized P&amp;L (gross, instrument currency), the
    /// market time (UTC) and the broker connection. The caller adds the feed's lag and the counts.
    /// </summary>
    public string StatusLine()
    {
        var now = clock.GetUtcNow();
        var state = killSwitch.State;
        var level = state.Level(now);
        var inv = CultureInfo.InvariantCulture;
        var ccy = account.Base.Code;
        var rows = Positions();
        var positions = rows.Count == 0
            ? "flat"
            : string.Join(", ", rows.Select(r => string.Create(inv,
                $"{r.Symbol} {r.Quantity:+0.####;-0.####} @ {r.AveragePrice:0.#####} (unrealized {(r.Unrealized is { } u ? u.ToString("N2", inv) + " " + r.Currency : "unpriced")})")));
        var kill = level == KillLevel.Running ? "L0" : string.Create(inv, $"L{(int)level} ({state.Describe(now)})");
        var day = sentinel.DayPnl is { } d ? d.ToString("N2", inv) : "unknown";
        return string.Create(inv,
            $"kill {kill} · equity P&L {run.Trades.Snapshot().EquityPnl:N2} {ccy} net (day {day}) · positions {positions} · market {now:yyyy-MM-dd HH:mm}Z · broker {broker.Connection()}");
    }

    /// <inheritdoc />
    public OperatorReply Kill(int level, string reason, string source)
    {
        if (level is not (1 or 2))
        {
            return new OperatorReply(false, $"level must be 1 or 2, was {level}");
        }

        try
        {
            var raised = killSwitch.Escalate((KillLevel)level, source, string.IsNullOrWhiteSpace(reason) ? "operator" : reason, clock.GetUtcNow());
            return new OperatorReply(true, raised ? $"kill switch latched at L{level}" : $"already latched at L{(int)killSwitch.State.LatchedLevel}");
        }
        catch (Exception e) when (e is HaltStoreWriteException or HaltStoreTamperedException)
        {
            return new OperatorReply(false, "kill switch: " + e.Message);
        }
    }

    /// <inheritdoc />
    public OperatorReply Resume(string? confirmation, string reason, string source)
    {
        killSwitch.Refresh();
        var now = clock.GetUtcNow();
        var state = killSwitch.State;
        if (confirmation is null)
        {
            return new OperatorReply(true, $"state: L{(int)state.Level(now)} {state.Describe(now)}; to resume, confirm with code {state.ConfirmationCode}");
        }

        try
        {
            killSwitch.Resume(source, string.IsNullOrWhiteSpace(reason) ? "operator" : reason, confirmation, now);
            return new OperatorReply(true, $"resumed: latch at L0; effective L{(int)killSwitch.Level(now)}");
        }
        catch (InvalidOperationException e)
        {
            return new OperatorReply(false, "not resumed: " + e.Message);
        }
        catch (Exception e) when (e is HaltStoreWriteException or HaltStoreTamperedException)
        {
            return new OperatorReply(false, "not resumed: " + e.Message);
        }
    }
}

/// <summary>A position for the operator: quantity, average price and mark in major units of <paramref name="Currency"/>, P&amp;L in the same currency.</summary>
/// <param name="Symbol">Instrument.</param>
/// <param name="Quantity">Signed quantity.</param>
/// <param name="AveragePrice">Average entry price.</param>
/// <param name="Currency">Currency.</param>
/// <param name="Mark">Latest price, when known.</param>
/// <param name="Unrealized">Unrealized P&amp;L gross at the mark (before the commissions and carry paid on the open quantity).</param>
/// <param name="RealizedNet">Realized P&amp;L net: gross − every commission − every carry charge (borrow, storage) of the instrument.</param>
public sealed record PositionRow(string Symbol, decimal Quantity, decimal AveragePrice, string Currency, decimal? Mark, decimal? Unrealized, decimal RealizedNet);
