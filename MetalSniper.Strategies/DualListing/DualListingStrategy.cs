using System.Globalization;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Sessions;
using MetalSniper.Pairs.Backtest;
using MetalSniper.Pairs.Model;
using MetalSniper.Pairs.Signals;

namespace MetalSniper.Strategies.DualListing;

/// <summary>
/// The dual-listing arbitrage in the service: the same <see cref="PairSignal"/> as the daily backtest, fed by the bars of
/// both listings (each price observed at its bar's close time) and the FX bars of the path between them. A pair is judged
/// once per new pair of observations, when the next bar of any of its symbols arrives (so two bars that close at the same
/// instant are both in, and the FX snapshot that follows the closes is applied first): the both-open rule first (both
/// observed while both venues were open, within the tolerance, the FX rate fresh) — otherwise a "not comparable" decision
/// with both observation times — then the signal. Both legs of an entry or exit are one decision, sized by notional in
/// the base currency; a leg for a venue that is closed goes to its next opening auction (<see cref="TimeInForce.AtTheOpen"/>).
/// When one leg fills and the other does not within <see cref="DualListingStrategyOptions.LegTimeout"/>, the filled leg is
/// unwound (a <see cref="DecisionKind.PairLegUnwind"/> decision). Single-threaded (the brain's loop).
/// </summary>
public sealed class DualListingStrategy : IStrategy
{
    private readonly DualListingStrategyOptions _options;
    private readonly DualListingOptions _pairsOptions;
    private readonly IInstrumentCatalog _instruments;
    private readonly BothOpenRule _rule;
    private readonly Currency _base;
    private readonly FxRateTable _fx = new();
    private readonly FxConverter _converter;
    private readonly List<PairState> _pairs;
    private readonly Dictionary<string, (decimal Price, DateTimeOffset ObservedUtc)> _last = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _fxSymbols = new(StringComparer.OrdinalIgnoreCase);
    private DateTimeOffset _pendingUntil = DateTimeOffset.MinValue;

    /// <summary>Creates the strategy.</summary>
    /// <param name="options">The service's settings (FX symbols, leg timeout, FX age).</param>
    /// <param name="pairs">The pairs and the signal (section <c>DualListing</c>, shared with the backtest).</param>
    /// <param name="instruments">The catalog: every leg and FX symbol must be in it.</param>
    /// <param name="sessions">The exchange calendar (the both-open rule and the opening-auction choice).</param>
    /// <param name="baseCurrency">The account's base currency (notional sizing).</param>
    /// <exception cref="ArgumentException">The options are invalid or a symbol is unknown.</exception>
    public DualListingStrategy(DualListingStrategyOptions options, DualListingOptions pairs, IInstrumentCatalog instruments, ITradingSessions sessions, Currency baseCurrency)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentNullException.ThrowIfNull(instruments);
        pairs.Validate();
        _options = options;
        _pairsOptions = pairs;
        _instruments = instruments;
        _base = baseCurrency;
        _rule = new BothOpenRule(sessions, TimeSpan.FromSeconds(pairs.BothOpenToleranceSeconds));
        _converter = new FxConverter(_fx);
        _pairs = [.. pairs.Pairs.Where(p => p.Value.Enabled).OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => new PairState(new PairDefinition(p.Key, p.Value.Company, p.Value.A.ToListing(), p.Value.B.ToListing()), p.Value.A.ToCosts().Borrowable, p.Value.B.ToCosts().Borrowable, new PairSignal(pairs.Signal())))];
        foreach (var p in _pairs)
        {
            foreach (var leg in new[] { p.Pair.A, p.Pair.B })
            {
                if (!instruments.TryGet(leg.Symbol, out var i) || i.SecurityType != SecurityType.Stock || !string.Equals(i.Exchange, leg.Venue, StringComparison.OrdinalIgnoreCase))
                {
                    throw new ArgumentException($"pair {p.Pair.Name}: {leg.Symbol} on {leg.Venue} is not a stock of the instrument catalog on that venue");
                }
            }
        }

        foreach (var fx in options.FxSymbols)
        {
            if (!instruments.TryGet(fx, out var i) || i.SecurityType != SecurityType.Forex)
            {
                throw new ArgumentException($"FX symbol {fx} is not a currency pair of the instrument catalog");
            }

            _fxSymbols.Add(fx);
        }

        Symbols = [.. _pairs.SelectMany(p => new[] { p.Pair.A.Symbol, p.Pair.B.Symbol }).Concat(_fxSymbols).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    /// <inheritdoc />
    public string Name => "dual-listing";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Symbols { get; }

    /// <inheritdoc />
    public void OnBar(Bar bar, IStrategyContext context)
    {
        ArgumentNullException.ThrowIfNull(bar);
        ArgumentNullException.ThrowIfNull(context);
        if (_fxSymbols.Contains(bar.Symbol))
        {
            // FX first: the snapshot that follows the closes is the rate their comparison uses.
            _fx.Set(new FxRate(new Currency(bar.Symbol[..3]), new Currency(bar.Symbol[3..]), bar.Close, bar.CloseTimeUtc));
        }

        if (bar.CloseTimeUtc > _pendingUntil)
        {
            foreach (var p in _pairs.Where(p => p.Dirty))
            {
                p.Dirty = false;
                Evaluate(p, context);
            }
        }

        CheckLegTimeouts(context);
        if (_fxSymbols.Contains(bar.Symbol))
        {
            return;
        }

        _last[bar.Symbol] = (bar.Close, bar.CloseTimeUtc);
        _pendingUntil = bar.CloseTimeUtc;
        foreach (var p in _pairs.Where(p => p.Has(bar.Symbol)))
        {
            p.Dirty = _last.ContainsKey(p.Pair.A.Symbol) && _last.ContainsKey(p.Pair.B.Symbol);
        }
    }

    /// <inheritdoc />
    public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
    {
        ArgumentNullException.ThrowIfNull(orderEvent);
        ArgumentNullException.ThrowIfNull(context);
        foreach (var p in _pairs)
        {
            if (p.InFlight is not { } f || !f.Legs.TryGetValue(orderEvent.ClientOrderId, out var leg))
            {
                continue;
            }

            switch (orderEvent)
            {
                case OrderFilled filled:
                    leg.Filled += filled.Fill.Side == OrderSide.Buy ? filled.Fill.Quantity : -filled.Fill.Quantity;
                    break;
                case OrderCancelled or OrderRejected or OrderDenied:
                    leg.Failed = true;
                    break;
                default:
                    return;
            }

            Settle(p, f, context);
            return;
        }
    }

    private void Evaluate(PairState p, IStrategyContext context)
    {
        var (pa, ta) = _last[p.Pair.A.Symbol];
        var (pb, tb) = _last[p.Pair.B.Symbol];
        if (p.LastEvaluated == (ta, tb))
        {
            return;
        }

        p.LastEvaluated = (ta, tb);
        var later = ta > tb ? ta : tb;
        if (p.InFlight is null)
        {
            // The book is the truth for the legs (the kill switch or the sentinel may have flattened them): this strategy is
            // the only one trading these symbols.
            p.HeldA = context.Position(p.Pair.A.Symbol).Quantity;
            p.HeldB = context.Position(p.Pair.B.Symbol).Quantity;
            if (p.Signal.Held != PairDirection.Flat && p.HeldA == 0 && p.HeldB == 0)
            {
                context.Decide(Label(p), DecisionKind.PositionClosedExternally, DecisionOutcome.Taken,
                    $"pair {p.Pair.Name}: both legs are flat: closed outside the strategy (kill switch or sentinel)", new Dictionary<string, string>(StringComparer.Ordinal), later);
                p.Signal.Closed();
            }
        }

        var verdict = _rule.Check(p.Pair, new PriceObservation(p.Pair.A.Symbol, pa, PriceUnit.Major(p.Pair.A.Currency), ta), new PriceObservation(p.Pair.B.Symbol, pb, PriceUnit.Major(p.Pair.B.Currency), tb));
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["a"] = $"{pa.ToString(CultureInfo.InvariantCulture)} {p.Pair.A.Currency} at {ta:O}",
            ["b"] = $"{pb.ToString(CultureInfo.InvariantCulture)} {p.Pair.B.Currency} at {tb:O}",
            ["both_open_rule"] = verdict.Reason,
        };
        var why = verdict.Comparable ? FxProblem(p.Pair.A.Currency, p.Pair.B.Currency, later) : verdict.Reason;
        if (why is not null)
        {
            context.Decide(Label(p), DecisionKind.PairNotComparable, DecisionOutcome.Denied, why, inputs, later);
            return;
        }

        var fx = _converter.Convert(new Money(1m, p.Pair.A.Currency), p.Pair.B.Currency).Amount;
        inputs["fx"] = $"{p.Pair.A.Currency}{p.Pair.B.Currency} {fx.ToString(CultureInfo.InvariantCulture)} as of {_converter.RateAsOf(p.Pair.A.Currency, p.Pair.B.Currency):O}";
        var aInB = (double)(p.Pair.A.PerShareMajor(pa) * fx);
        var bPs = (double)p.Pair.B.PerShareMajor(pb);
        inputs["premium"] = ((aInB / bPs) - 1).ToString("R", CultureInfo.InvariantCulture);
        var action = p.Signal.Observe(aInB, bPs);
        foreach (var kv in action.Inputs())
        {
            inputs[kv.Key] = kv.Value;
        }

        if (action.Kind == PairActionKind.None || p.InFlight is not null)
        {
            return;
        }

        var kind = action.Kind switch
        {
            PairActionKind.Enter => DecisionKind.PairEntry,
            PairActionKind.Exit => DecisionKind.PairExit,
            PairActionKind.Stop => DecisionKind.PairStop,
            _ => DecisionKind.PairRetire,
        };
        if (action.Kind == PairActionKind.Retire && p.Signal.Held == PairDirection.Flat)
        {
            context.Decide(Label(p), kind, DecisionOutcome.Taken, action.Reason, inputs, later);
            return;
        }

        if (action.Kind == PairActionKind.Enter)
        {
            Enter(p, action, pa, pb, inputs, later, context);
            return;
        }

        // Close both legs: the quantities held by this pair.
        var id = context.Decide(Label(p), kind, DecisionOutcome.Taken, action.Reason, inputs, later);
        Send(p, id, kind, -p.HeldA, -p.HeldB, context);
    }

    private void Enter(PairState p, PairAction action, decimal pa, decimal pb, Dictionary<string, string> inputs, DateTimeOffset at, IStrategyContext context)
    {
        var shortA = action.Direction == PairDirection.ShortALongB;
        if (!(shortA ? p.BorrowableA : p.BorrowableB) || !context.EntriesAllowed)
        {
            var reason = context.EntriesAllowed ? $"the short leg {(shortA ? p.Pair.A.Symbol : p.Pair.B.Symbol)} is not borrowable" : "entries halted";
            context.Decide(Label(p), DecisionKind.PairEntry, DecisionOutcome.Denied, $"{action.Reason}; refused: {reason}", inputs, at);
            return;
        }

        var fxA = _converter.Convert(new Money(1m, p.Pair.A.Currency), _base).Amount;
        var fxB = _converter.Convert(new Money(1m, p.Pair.B.Currency), _base).Amount;
        var ia = _instruments.Get(p.Pair.A.Symbol);
        var ib = _instruments.Get(p.Pair.B.Symbol);
        var qa = ia.RoundQuantityDown(_pairsOptions.NotionalPerLeg / (pa * fxA));
        var qb = ib.RoundQuantityDown(_pairsOptions.NotionalPerLeg * (decimal)Math.Abs(action.Statistics!.HedgeRatio) / (pb * fxB));
        inputs["notional_per_leg"] = $"{_pairsOptions.NotionalPerLeg.ToString(CultureInfo.InvariantCulture)} {_base}";
        if (qa < ia.MinimumQuantity || qb < ib.MinimumQuantity)
        {
            context.Decide(Label(p), DecisionKind.PairEntry, DecisionOutcome.Denied, $"{action.Reason}; refused: the notional buys less than the minimum of a leg", inputs, at);
            return;
        }

        inputs["fx_exposure_after"] = Exposure(p, shortA ? -qa : qa, shortA ? qb : -qb, pa * fxA, pb * fxB);
        var id = context.Decide(Label(p), DecisionKind.PairEntry, DecisionOutcome.Taken, action.Reason, inputs, at);
        p.Entering = action.Direction;
        Send(p, id, DecisionKind.PairEntry, shortA ? -qa : qa, shortA ? qb : -qb, context);
    }

    private void Send(PairState p, string decisionId, DecisionKind kind, decimal qa, decimal qb, IStrategyContext context)
    {
        var flight = new InFlight(decisionId, kind, context.NowUtc);
        var purpose = kind == DecisionKind.PairEntry ? OrderPurpose.Entry : OrderPurpose.Exit;
        foreach (var (listing, q) in new[] { (p.Pair.A, qa), (p.Pair.B, qb) })
        {
            if (q == 0)
            {
                continue;
            }

            var tif = context.IsMarketOpen(listing.Symbol, context.NowUtc) ? TimeInForce.Day : TimeInForce.AtTheOpen;
            var id = context.Submit(decisionId, listing.Symbol, q > 0 ? OrderSide.Buy : OrderSide.Sell, Math.Abs(q), OrderType.Market, null, null, purpose, context.NowUtc, tif);
            flight.Legs[id] = new LegOrder(listing.Symbol, q);
        }

        p.InFlight = flight.Legs.Count > 0 ? flight : null;
    }

    private void Settle(PairState p, InFlight f, IStrategyContext context)
    {
        foreach (var leg in f.Legs.Values)
        {
            if (leg.Symbol == p.Pair.A.Symbol)
            {
                p.HeldA += leg.Filled - leg.Booked;
            }
            else
            {
                p.HeldB += leg.Filled - leg.Booked;
            }

            leg.Booked = leg.Filled;
        }

        var done = f.Legs.Values.All(l => l.Filled == l.Quantity);
        var failed = f.Legs.Values.Any(l => l.Failed && l.Filled != l.Quantity);
        if (done)
        {
            p.InFlight = null;
            if (f.Kind == DecisionKind.PairEntry)
            {
                p.Signal.Opened(p.Entering);
            }
            else if (f.Kind != DecisionKind.PairLegUnwind)
            {
                p.Signal.Closed();
            }

            return;
        }

        if (failed && f.Legs.Values.All(l => l.Failed || l.Filled == l.Quantity))
        {
            Unwind(p, f, "a leg was refused or cancelled", context);
        }
    }

    private void CheckLegTimeouts(IStrategyContext context)
    {
        foreach (var p in _pairs)
        {
            if (p.InFlight is { } f && context.NowUtc - f.SentUtc > _options.LegTimeout)
            {
                Unwind(p, f, $"not all legs filled within {_options.LegTimeout}", context);
            }
        }
    }

    /// <summary>One leg in and the other not: cancel what is working and take the filled legs back out (a decision).</summary>
    private void Unwind(PairState p, InFlight f, string why, IStrategyContext context)
    {
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["legs"] = string.Join("; ", f.Legs.Select(l => $"{l.Value.Symbol} {l.Value.Filled.ToString(CultureInfo.InvariantCulture)}/{l.Value.Quantity.ToString(CultureInfo.InvariantCulture)}{(l.Value.Failed ? " refused" : "")}")),
            ["of_decision"] = f.DecisionId,
        };
        var what = f.Kind is DecisionKind.PairEntry or DecisionKind.PairLegUnwind ? "the filled legs are unwound" : "the working legs are cancelled; the rest of the exit is retried on the next comparison";
        var id = context.Decide(Label(p), DecisionKind.PairLegUnwind, DecisionOutcome.Taken, $"pair {p.Pair.Name}: {why}: {what}", inputs, context.NowUtc);
        foreach (var (order, leg) in f.Legs.Where(l => !l.Value.Failed && l.Value.Filled != l.Value.Quantity))
        {
            context.Cancel(id, order, "pair leg unwind");
        }

        p.InFlight = null;
        if (f.Kind is DecisionKind.PairEntry or DecisionKind.PairLegUnwind)
        {
            // Everything the entry filled goes back out (again, for an unwind that did not complete); the pair stays flat.
            Send(p, id, DecisionKind.PairLegUnwind, -p.HeldA, -p.HeldB, context);
        }
    }

    private string Exposure(PairState adding, decimal qa, decimal qb, decimal aBase, decimal bBase)
    {
        var byCurrency = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        void Add(Currency c, decimal v) => byCurrency[c.Code] = byCurrency.GetValueOrDefault(c.Code) + v;
        foreach (var p in _pairs)
        {
            if (_last.TryGetValue(p.Pair.A.Symbol, out var a) && p.HeldA != 0 && _converter.TryConvert(new Money(p.HeldA * a.Price, p.Pair.A.Currency), _base, out var ea))
            {
                Add(p.Pair.A.Currency, ea.Amount);
            }

            if (_last.TryGetValue(p.Pair.B.Symbol, out var b) && p.HeldB != 0 && _converter.TryConvert(new Money(p.HeldB * b.Price, p.Pair.B.Currency), _base, out var eb))
            {
                Add(p.Pair.B.Currency, eb.Amount);
            }
        }

        Add(adding.Pair.A.Currency, qa * aBase);
        Add(adding.Pair.B.Currency, qb * bBase);
        return string.Join(", ", byCurrency.Where(kv => kv.Key != _base.Code).Select(kv => $"{kv.Key} {Math.Round(kv.Value, 2).ToString(CultureInfo.InvariantCulture)} {_base}"));
    }

    private string? FxProblem(Currency a, Currency b, DateTimeOffset at)
    {
        foreach (var c in new[] { b, _base })
        {
            if (a == c)
            {
                continue;
            }

            var asOf = _converter.RateAsOf(a, c);
            if (asOf is null)
            {
                return $"not comparable: no FX rate {a}{c} yet (fails closed)";
            }

            if (asOf != DateTimeOffset.MaxValue && at - asOf.Value > _options.MaxFxAge)
            {
                return $"not comparable: FX {a}{c} of {asOf:O} is older than {_options.MaxFxAge} at {at:O} (fails closed)";
            }
        }

        return null;
    }

    private static string Label(PairState p) => $"{p.Pair.A.Symbol}/{p.Pair.B.Symbol}";

    private sealed class PairState(PairDefinition pair, bool borrowableA, bool borrowableB, PairSignal signal)
    {
        public PairDefinition Pair { get; } = pair;

        public bool BorrowableA { get; } = borrowableA;

        public bool BorrowableB { get; } = borrowableB;

        public PairSignal Signal { get; } = signal;

        public bool Dirty { get; set; }

        public (DateTimeOffset, DateTimeOffset) LastEvaluated { get; set; }

        public InFlight? InFlight { get; set; }

        public PairDirection Entering { get; set; }

        public decimal HeldA { get; set; }

        public decimal HeldB { get; set; }

        public bool Has(string symbol) => string.Equals(symbol, Pair.A.Symbol, StringComparison.OrdinalIgnoreCase) || string.Equals(symbol, Pair.B.Symbol, StringComparison.OrdinalIgnoreCase);
    }

    private sealed class InFlight(string decisionId, DecisionKind kind, DateTimeOffset sentUtc)
    {
        public string DecisionId { get; } = decisionId;

        public DecisionKind Kind { get; } = kind;

        public DateTimeOffset SentUtc { get; } = sentUtc;

        public Dictionary<ClientOrderId, LegOrder> Legs { get; } = [];
    }

    private sealed class LegOrder(string symbol, decimal quantity)
    {
        public string Symbol { get; } = symbol;

        public decimal Quantity { get; } = quantity;

        public decimal Filled { get; set; }

        public decimal Booked { get; set; }

        public bool Failed { get; set; }
    }
}

/// <summary>
/// The dual-listing strategy's settings in the service (section <c>Strategies:DualListing</c>); the pairs and the signal
/// are the top-level <c>DualListing</c> section, shared with the daily backtest.
/// </summary>
public sealed class DualListingStrategyOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Strategies:DualListing";

    /// <summary>Off by default: the embedded default replays the metals only (the stock data is daily and of other years).</summary>
    public bool Enabled { get; set; }

    /// <summary>The FX pairs fed to the strategy (the paths between the legs and to the base currency).</summary>
    public List<string> FxSymbols { get; set; } = [];

    /// <summary>
    /// How long both legs of a pair order may take to fill before the filled leg is unwound. Default 4 days: on daily data
    /// the legs go to the next opening auctions, a weekend and a holiday later at worst; live on quotes, set minutes.
    /// </summary>
    public TimeSpan LegTimeout { get; set; } = TimeSpan.FromDays(4);

    /// <summary>The oldest FX rate a comparison accepts. Default 4 days (daily snapshots over a weekend).</summary>
    public TimeSpan MaxFxAge { get; set; } = TimeSpan.FromDays(4);
}
