using System.Globalization;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Sessions;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;
using MetalSniper.Core.Time;

namespace MetalSniper.Risk.Gates;

/// <summary>Limits the pre-trade gates enforce. Money in the base currency; percentages as fractions (0.05 = 5 %).</summary>
/// <param name="BaseCurrency">Base (account) currency.</param>
/// <param name="MaxOpenPositions">Instruments with an open position at once (global).</param>
/// <param name="MaxPositionQuantity">Largest absolute position per instrument, in instrument units (symbol → quantity); symbols not listed are unlimited here (exposure caps still apply).</param>
/// <param name="MaxGrossExposure">Σ |position notional| cap after the order, counting working entries.</param>
/// <param name="MaxNetExposure">|Σ signed notional| cap after the order, counting working entries.</param>
/// <param name="MaxQuoteAge">A quote older than this (clock time − quote event time) is stale.</param>
/// <param name="MaxSpreadFraction">Largest (ask − bid) / mid for an entry.</param>
/// <param name="FatFingerBand">Largest |price − last| / last for a limit price, or an entry's stop price.</param>
/// <param name="MaxOrdersPerWindow">Entries and adds per <paramref name="OrderRateWindow"/>; orders that reduce risk are exempt.</param>
/// <param name="OrderRateWindow">The rolling window of the throttle.</param>
/// <param name="SourceCooldown">Least time between two entry decisions of one source on one instrument.</param>
/// <param name="MaxOrderQuantity">Largest entry/add quantity per order, per symbol (instrument units); unlisted symbols are limited by notional only.</param>
/// <param name="MaxOrderNotional">Largest entry/add notional per order.</param>
/// <param name="DailyLossLimit">The daily loss limit also enforced at the gate (entries stop the moment the day's loss reaches it, even before the sentinel's flatten arrives).</param>
public sealed record GateLimits(
    Currency BaseCurrency,
    int MaxOpenPositions,
    IReadOnlyDictionary<string, decimal> MaxPositionQuantity,
    decimal MaxGrossExposure,
    decimal MaxNetExposure,
    TimeSpan MaxQuoteAge,
    decimal MaxSpreadFraction,
    decimal FatFingerBand,
    int MaxOrdersPerWindow,
    TimeSpan OrderRateWindow,
    TimeSpan SourceCooldown,
    IReadOnlyDictionary<string, decimal> MaxOrderQuantity,
    decimal MaxOrderNotional,
    decimal DailyLossLimit);

/// <summary>Execution mode safety settings (see IB-NOTES "Ports": paper must never reach a live port).</summary>
/// <param name="LiveMode">True when configured for live trading.</param>
/// <param name="LiveOptInConfigured">The configuration opt-in (<c>Execution:LiveTradingOptIn</c>).</param>
/// <param name="LiveOptInEnvironment">The environment opt-in (variable <c>METALSNIPER_LIVE_TRADING_CONFIRMED=yes</c>, read by the host at start).</param>
/// <param name="BrokerIsLiveCapable">False for the embedded simulated broker (paper only).</param>
/// <param name="BrokerPort">The broker's TCP port, null for the simulated broker.</param>
public sealed record ExecutionSafety(bool LiveMode, bool LiveOptInConfigured, bool LiveOptInEnvironment, bool BrokerIsLiveCapable, int? BrokerPort)
{
    /// <summary>Ports that trade real money: TWS 7496 and IB Gateway 4001.</summary>
    public static IReadOnlySet<int> LivePorts { get; } = new HashSet<int> { 7496, 4001 };
}

/// <summary>
/// The broker link where orders leave: asks the gateway whether it can take the order now (IB: reconciliation done,
/// warm-up over for entries, link up for entries, outside the reset windows). Risk exits pass a degraded link.
/// </summary>
public sealed class BrokerReadinessGate(Core.Orders.IOrderGateway gateway) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "broker-link";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return gateway.SubmissionBlocked(context.Order, context.NowUtc) is { } why
            ? new GateDenial(Name, DenyReason.BrokerNotReady, $"{gateway.Name}: {why}") { Values = new Dictionary<string, string> { ["gateway"] = gateway.Name, ["purpose"] = context.Order.Purpose.ToString() } }
            : null;
    }
}

/// <summary>The kill switch where orders leave: L1 denies entries and adds; L2 lets out only what reduces a position.</summary>
public sealed class KillSwitchGate(KillSwitch killSwitch) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "kill-switch";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var state = killSwitch.State;
        var level = state.Level(context.NowUtc);
        if (level == KillLevel.Running)
        {
            return null;
        }

        var values = new Dictionary<string, string> { ["level"] = $"L{(int)level}", ["why"] = state.Describe(context.NowUtc) };
        if (context.OpensRisk)
        {
            return new GateDenial(Name, level == KillLevel.Flatten ? DenyReason.KillSwitchFlatten : DenyReason.KillSwitchNoEntries,
                $"L{(int)level}: no entries or adds ({values["why"]})") { Values = values };
        }

        if (level == KillLevel.Flatten && !context.Reduces)
        {
            return new GateDenial(Name, DenyReason.KillSwitchFlatten,
                string.Create(CultureInfo.InvariantCulture, $"L2: only reduce-only orders leave; {context.Order.Purpose} {context.Order.Side} {context.Order.Quantity} does not reduce position {context.Position.Quantity} ({values["why"]})")) { Values = values };
        }

        return null;
    }
}

/// <summary>Execution mode and live-trading opt-in; paper mode fails closed on a live port. Applies to every order.</summary>
public sealed class ExecutionModeGate(ExecutionSafety safety) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "execution-mode";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The recorded values are built for a denial only: this gate judges every order, and passes almost all of them.
        Dictionary<string, string> Values() => new()
        {
            ["mode"] = safety.LiveMode ? "live" : "paper",
            ["optInConfig"] = safety.LiveOptInConfigured.ToString(),
            ["optInEnv"] = safety.LiveOptInEnvironment.ToString(),
            ["port"] = safety.BrokerPort?.ToString(CultureInfo.InvariantCulture) ?? "none (simulated)",
        };
        if (!safety.LiveMode)
        {
            return safety.BrokerPort is { } port && ExecutionSafety.LivePorts.Contains(port)
                ? new GateDenial(Name, DenyReason.PaperModeOnLivePort, $"paper mode but the broker port {port} is a live port (7496/4001): fail closed") { Values = Values() }
                : null;
        }

        if (!safety.BrokerIsLiveCapable)
        {
            return new GateDenial(Name, DenyReason.LiveTradingNotEnabled, "live mode against the simulated (paper-only) broker") { Values = Values() };
        }

        return safety.LiveOptInConfigured && safety.LiveOptInEnvironment
            ? null
            : new GateDenial(Name, DenyReason.LiveTradingNotEnabled, $"live trading needs both opt-ins: configuration {safety.LiveOptInConfigured}, environment {safety.LiveOptInEnvironment}") { Values = Values() };
    }
}

/// <summary>Malformed orders (non-positive quantity or price) never leave. Applies to every order.</summary>
public sealed class OrderSanityGate : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "order-sanity";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = context.Order;
        string? problem = o.Quantity <= 0m ? "quantity ≤ 0"
            : o.Type == OrderType.Limit && o.LimitPrice is not > 0m ? "limit price missing or ≤ 0"
            : o.Type == OrderType.Stop && o.StopPrice is not > 0m ? "stop price missing or ≤ 0"
            : o.LimitPrice is <= 0m || o.StopPrice is <= 0m ? "price ≤ 0"
            : null;
        return problem is null ? null : new GateDenial(Name, DenyReason.InvalidOrder,
            string.Create(CultureInfo.InvariantCulture, $"{problem}: {o.Type} {o.Side} {o.Quantity} limit {o.LimitPrice} stop {o.StopPrice}"));
    }
}

/// <summary>Open-position limits for entries and adds: instruments with a position (global) and position size per instrument (counting working entries on the same side).</summary>
public sealed class PositionLimitGate(GateLimits limits) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "position-limits";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.OpensRisk)
        {
            return null;
        }

        var o = context.Order;
        // The distinct open symbols, counted without building a set (this runs for every entry; a book is a handful of
        // snapshots); they are listed for a denial only.
        var book = context.Book;
        var openCount = 0;
        var symbolOpen = false;
        for (var i = 0; i < book.Count; i++)
        {
            if (book[i].IsFlat)
            {
                continue;
            }

            var seen = false;
            for (var j = 0; j < i && !seen; j++)
            {
                seen = !book[j].IsFlat && string.Equals(book[j].Symbol, book[i].Symbol, StringComparison.Ordinal);
            }

            if (!seen)
            {
                openCount++;
                symbolOpen |= string.Equals(book[i].Symbol, o.Symbol, StringComparison.Ordinal);
            }
        }

        if (!symbolOpen && openCount >= limits.MaxOpenPositions)
        {
            var open = context.Book.Where(p => !p.IsFlat).Select(p => p.Symbol).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            return new GateDenial(Name, DenyReason.MaxOpenPositions,
                $"{open.Count} open position(s) [{string.Join(", ", open)}] ≥ max {limits.MaxOpenPositions}; {o.Symbol} would be one more");
        }

        if (limits.MaxPositionQuantity.TryGetValue(o.Symbol, out var max))
        {
            var working = context.WorkingEntryQuantity.TryGetValue(o.Symbol, out var w) ? w : 0m;
            var sameSideWorking = Math.Sign(working) == o.Side.Sign() ? Math.Abs(working) : 0m;
            var after = Math.Abs(context.Position.Quantity + (o.Side.Sign() * o.Quantity)) + sameSideWorking;
            if (after > max)
            {
                return new GateDenial(Name, DenyReason.MaxPositionSize,
                    string.Create(CultureInfo.InvariantCulture, $"|position {context.Position.Quantity} + order {o.Side.Sign() * o.Quantity}| + working same-side entries {sameSideWorking} = {after} > max {max} {o.Symbol}"));
            }
        }

        return null;
    }
}

/// <summary>
/// The daily loss limit at the gate: entries and adds stop once the day's P&amp;L (published by the
/// sentinel: realized + unrealized − commissions since the trading-day start, base currency) is at
/// or below −limit, or unknown.
/// </summary>
public sealed class DailyLossGate(GateLimits limits, IDayPnlView dayPnl) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "daily-loss";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.OpensRisk)
        {
            return null;
        }

        var pnl = dayPnl.DayPnlAt(context.NowUtc);
        if (pnl is null)
        {
            return new GateDenial(Name, DenyReason.DailyLossLimit, "today's P&L is unknown (a held instrument has no price or FX rate): unknown is not zero");
        }

        return pnl <= -limits.DailyLossLimit
            ? new GateDenial(Name, DenyReason.DailyLossLimit, string.Create(CultureInfo.InvariantCulture, $"day P&L {pnl:0.00} {limits.BaseCurrency} ≤ −{limits.DailyLossLimit:0.00}"))
            : null;
    }
}


/// <summary>
/// Gross and net exposure caps for entries and adds, in the base currency, after the order and with
/// every working entry counted as if filled. Notional = |quantity| × price × multiplier, converted
/// with the FX table, which fails closed (no rate → denied, never 1.0).
/// </summary>
public sealed class ExposureGate(GateLimits limits, FxConverter fx, IInstrumentCatalog instruments) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "exposure";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.OpensRisk)
        {
            return null;
        }

        var o = context.Order;
        var quantities = context.Book.Where(p => !p.IsFlat).ToDictionary(p => p.Symbol, p => p.Quantity, StringComparer.Ordinal);
        foreach (var (symbol, working) in context.WorkingEntryQuantity)
        {
            quantities[symbol] = (quantities.TryGetValue(symbol, out var q) ? q : 0m) + working;
        }

        quantities[o.Symbol] = (quantities.TryGetValue(o.Symbol, out var cur) ? cur : 0m) + (o.Side.Sign() * o.Quantity);
        decimal gross = 0m, net = 0m;
        foreach (var (symbol, quantity) in quantities)
        {
            if (quantity == 0m)
            {
                continue;
            }

            var price = context.Marks.TryGetValue(symbol, out var m) ? m : symbol == o.Symbol ? o.LimitPrice ?? o.StopPrice ?? 0m : 0m;
            if (price <= 0m)
            {
                return new GateDenial(Name, DenyReason.NoQuote, $"no price for {symbol} to value its exposure");
            }

            var instrument = instruments.Get(symbol);
            if (!fx.TryConvert(new Money(quantity * price * instrument.Multiplier, instrument.Currency), limits.BaseCurrency, out var notional))
            {
                return new GateDenial(Name, DenyReason.FxRateUnavailable, $"no FX rate {instrument.Currency}->{limits.BaseCurrency} to value {symbol}: FX fails closed");
            }

            gross += Math.Abs(notional.Amount);
            net += notional.Amount;
        }

        // The recorded values are built for a denial only.
        Dictionary<string, string> Values() => new()
        {
            ["gross"] = gross.ToString("0.00", CultureInfo.InvariantCulture),
            ["net"] = net.ToString("0.00", CultureInfo.InvariantCulture),
        };
        if (gross > limits.MaxGrossExposure)
        {
            return new GateDenial(Name, DenyReason.GrossExposureCap, string.Create(CultureInfo.InvariantCulture, $"gross exposure after the order {gross:N2} {limits.BaseCurrency} > cap {limits.MaxGrossExposure:N2}")) { Values = Values() };
        }

        return Math.Abs(net) > limits.MaxNetExposure
            ? new GateDenial(Name, DenyReason.NetExposureCap, string.Create(CultureInfo.InvariantCulture, $"net exposure after the order |{net:N2}| {limits.BaseCurrency} > cap {limits.MaxNetExposure:N2}")) { Values = Values() }
            : null;
    }
}

/// <summary>
/// Quote sanity for entries and adds: a quote must exist, be positive and not crossed, have a
/// non-zero bid, be fresh and have a spread within the limit. Orders that reduce risk pass: a bad
/// quote must never trap a position.
/// </summary>
public sealed class QuoteGate(GateLimits limits, IExchangeCalendar? calendar = null) : IPreTradeGate
{
    /// <summary>
    /// True when the venue has not opened since the quote and is closed now: for an order to the next opening auction the
    /// last close is the last price there is (no newer one can exist), so its age is no reason to refuse.
    /// </summary>
    private bool NoSessionSince(string venue, DateTimeOffset quoteUtc, DateTimeOffset nowUtc)
    {
        if (calendar is null || calendar.IsOpen(venue, nowUtc))
        {
            return false;
        }

        var first = DateOnly.FromDateTime(quoteUtc.UtcDateTime).AddDays(-1);
        var last = DateOnly.FromDateTime(nowUtc.UtcDateTime).AddDays(1);
        var (from, to) = calendar.Coverage;
        for (var d = first < from ? from : first; d <= last && d <= to; d = d.AddDays(1))
        {
            if (calendar.Session(venue, d) is { } s && s.OpenUtc > quoteUtc && s.OpenUtc <= nowUtc)
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public string Name => "quote";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.OpensRisk)
        {
            return null;
        }

        var q = context.Quote;
        if (q is null)
        {
            return new GateDenial(Name, DenyReason.NoQuote, $"no quote for {context.Order.Symbol}");
        }

        var inv = CultureInfo.InvariantCulture;
        var values = new Dictionary<string, string>
        {
            ["bid"] = q.Bid.ToString(inv),
            ["ask"] = q.Ask.ToString(inv),
            ["quoteUtc"] = q.EventTimeUtc.ToString("O", inv),
        };
        if (q.Bid <= 0m)
        {
            return new GateDenial(Name, DenyReason.ZeroBid, string.Create(inv, $"bid {q.Bid} ≤ 0")) { Values = values };
        }

        if (q.Ask <= 0m || q.Ask < q.Bid)
        {
            return new GateDenial(Name, DenyReason.InvalidQuote, string.Create(inv, $"bid {q.Bid} / ask {q.Ask} is not a valid market")) { Values = values };
        }

        var age = context.NowUtc - q.EventTimeUtc;
        if (age > limits.MaxQuoteAge && !(context.Order.TimeInForce == TimeInForce.AtTheOpen && NoSessionSince(context.Instrument.Exchange, q.EventTimeUtc, context.NowUtc)))
        {
            return new GateDenial(Name, DenyReason.StaleQuote, string.Create(inv, $"quote age {age} > max {limits.MaxQuoteAge} (quote {UtcText.Of(q.EventTimeUtc)}, now {UtcText.Of(context.NowUtc)})")) { Values = values };
        }

        var spread = q.Spread / q.Mid;
        return spread > limits.MaxSpreadFraction
            ? new GateDenial(Name, DenyReason.SpreadTooWide, string.Create(inv, $"spread ({q.Ask} − {q.Bid}) / mid {q.Mid:0.#####} = {spread:P3} > max {limits.MaxSpreadFraction:P3}")) { Values = values }
            : null;
    }
}

/// <summary>
/// Fat-finger band: a limit price (any purpose but a risk flatten), or an entry's or add's stop
/// price, further than the band from the last price is refused. Protective stops are exempt: refusing
/// one would unprotect a position.
/// </summary>
public sealed class FatFingerGate(GateLimits limits) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "fat-finger";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = context.Order;
        var price = o.Purpose == OrderPurpose.RiskFlatten ? null : o.LimitPrice ?? (context.OpensRisk ? o.StopPrice : null);
        if (price is not { } p)
        {
            return null;
        }

        var last = context.Quote?.Mid ?? (context.Marks.TryGetValue(o.Symbol, out var m) ? m : (decimal?)null);
        if (last is not > 0m)
        {
            return context.OpensRisk ? new GateDenial(Name, DenyReason.NoQuote, $"no last price for {o.Symbol} to check {p.ToString(CultureInfo.InvariantCulture)} against") : null;
        }

        var distance = Math.Abs(p - last.Value) / last.Value;
        return distance > limits.FatFingerBand
            ? new GateDenial(Name, DenyReason.FatFingerPrice, string.Create(CultureInfo.InvariantCulture, $"|{p} − last {last:0.#####}| / last = {distance:P2} > band {limits.FatFingerBand:P2}"))
            : null;
    }
}

/// <summary>
/// Entries and adds only while the instrument's market is open (trading sessions), except an entry or add for the opening
/// auction (<see cref="TimeInForce.AtTheOpen"/>, IB OPG): that one only while the market is closed (it waits for the next
/// open; IB refuses an OPG order once the auction has passed). Exits pass and rest at the broker, whatever their time in force.
/// </summary>
public sealed class MarketHoursGate(ITradingSessions sessions) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "market-hours";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.OpensRisk)
        {
            return null;
        }

        var venue = context.Instrument.Exchange;
        var open = sessions.IsOpen(venue, context.NowUtc);
        if (context.Order.TimeInForce == TimeInForce.AtTheOpen)
        {
            return open
                ? new GateDenial(Name, DenyReason.AtTheOpenWhileOpen, $"OPG must be sent before the open: {venue} is open at {UtcText.Of(context.NowUtc)}")
                : null;
        }

        return open ? null : new GateDenial(Name, DenyReason.MarketClosed, $"{venue} is closed at {UtcText.Of(context.NowUtc)}");
    }
}

/// <summary>
/// Order-rate throttle: at most N entries and adds per rolling window of the clock. Orders that reduce
/// risk (exits, protective stops, flattens) are never throttled: a burst of entries must not block a
/// way out; the broker message budget keeps a reserved share for them. Single-threaded (the execution side).
/// </summary>
public sealed class OrderRateGate(GateLimits limits) : IPreTradeGate
{
    private readonly Queue<DateTimeOffset> _sent = new();

    /// <inheritdoc />
    public string Name => "order-rate";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (Exempt(context))
        {
            return null;
        }

        Expire(context.NowUtc);
        return _sent.Count >= limits.MaxOrdersPerWindow
            ? new GateDenial(Name, DenyReason.OrderRateThrottle, $"{_sent.Count} orders in the last {limits.OrderRateWindow} ≥ max {limits.MaxOrdersPerWindow}")
            : null;
    }

    /// <inheritdoc />
    public void OnSent(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!Exempt(context))
        {
            _sent.Enqueue(context.NowUtc);
        }
    }

    private static bool Exempt(PreTradeContext c) => !c.OpensRisk;

    private void Expire(DateTimeOffset now)
    {
        while (_sent.TryPeek(out var t) && now - t >= limits.OrderRateWindow)
        {
            _sent.Dequeue();
        }
    }
}

/// <summary>
/// Duplicate intent: an order with the same idempotency key (decision, symbol, side, purpose, type)
/// as one already sent is refused, so a replayed or repeated decision cannot double a position.
/// Keeps the most recent 100,000 keys. Single-threaded (the execution side).
/// </summary>
public sealed class DuplicateIntentGate : IPreTradeGate
{
    private const int Capacity = 100_000;
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    /// <inheritdoc />
    public string Name => "duplicate-intent";

    /// <summary>The idempotency key of an order.</summary>
    public static string IntentKey(SubmitOrder order)
    {
        ArgumentNullException.ThrowIfNull(order);
        return $"{order.DecisionId}|{order.Symbol}|{order.Side}|{order.Purpose}|{order.Type}";
    }

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var key = IntentKey(context.Order);
        return _keys.Contains(key) ? new GateDenial(Name, DenyReason.DuplicateIntent, $"intent {key} was already sent") : null;
    }

    /// <inheritdoc />
    public void OnSent(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var key = IntentKey(context.Order);
        if (_keys.Add(key))
        {
            _order.Enqueue(key);
            if (_order.Count > Capacity)
            {
                _keys.Remove(_order.Dequeue());
            }
        }
    }
}

/// <summary>
/// Per-source cooldown: after an entry decision of a source on an instrument, another entry decision
/// of the same source on the same instrument must wait the cooldown (orders of the same decision,
/// such as the two legs of a hedge, pass). Single-threaded (the execution side).
/// </summary>
public sealed class SourceCooldownGate(GateLimits limits) : IPreTradeGate
{
    private readonly Dictionary<(string Source, string Symbol), (string DecisionId, DateTimeOffset AtUtc)> _last = [];

    /// <inheritdoc />
    public string Name => "source-cooldown";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = context.Order;
        if (limits.SourceCooldown <= TimeSpan.Zero || o.Purpose != OrderPurpose.Entry || !_last.TryGetValue((o.Source, o.Symbol), out var last) || last.DecisionId == o.DecisionId)
        {
            return null;
        }

        var since = context.NowUtc - last.AtUtc;
        return since < limits.SourceCooldown
            ? new GateDenial(Name, DenyReason.SourceCooldown, $"{o.Source} entered {o.Symbol} {since} ago (decision {last.DecisionId}); cooldown {limits.SourceCooldown}")
            : null;
    }

    /// <inheritdoc />
    public void OnSent(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = context.Order;
        if (o.Purpose == OrderPurpose.Entry && (!_last.TryGetValue((o.Source, o.Symbol), out var last) || last.DecisionId != o.DecisionId))
        {
            _last[(o.Source, o.Symbol)] = (o.DecisionId, context.NowUtc);
        }
    }
}

/// <summary>Maximum order size for entries and adds: quantity per symbol and notional in the base currency (FX fails closed).</summary>
public sealed class MaxOrderSizeGate(GateLimits limits, FxConverter fx) : IPreTradeGate
{
    /// <inheritdoc />
    public string Name => "max-order-size";

    /// <inheritdoc />
    public GateDenial? Check(PreTradeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.OpensRisk)
        {
            return null;
        }

        var o = context.Order;
        var inv = CultureInfo.InvariantCulture;
        if (limits.MaxOrderQuantity.TryGetValue(o.Symbol, out var maxQ) && o.Quantity > maxQ)
        {
            return new GateDenial(Name, DenyReason.MaxOrderSize, string.Create(inv, $"quantity {o.Quantity} > max {maxQ} {o.Symbol}"));
        }

        var price = o.LimitPrice ?? o.StopPrice ?? (context.Marks.TryGetValue(o.Symbol, out var m) ? m : 0m);
        if (price <= 0m)
        {
            return new GateDenial(Name, DenyReason.NoQuote, $"no price to value order {o.ClientOrderId}");
        }

        if (!fx.TryConvert(new Money(o.Quantity * price * context.Instrument.Multiplier, context.Instrument.Currency), limits.BaseCurrency, out var notional))
        {
            return new GateDenial(Name, DenyReason.FxRateUnavailable, $"no FX rate {context.Instrument.Currency}->{limits.BaseCurrency}: FX fails closed");
        }

        return notional.Amount > limits.MaxOrderNotional
            ? new GateDenial(Name, DenyReason.MaxOrderSize, string.Create(inv, $"notional {o.Quantity} × {price} × {context.Instrument.Multiplier} = {notional.Amount:N2} {limits.BaseCurrency} > max {limits.MaxOrderNotional:N2}"))
            : null;
    }
}
