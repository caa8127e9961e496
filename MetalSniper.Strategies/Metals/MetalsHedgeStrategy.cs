using System.Globalization;
using MetalSniper.Core.Decisions;
using MetalSniper.Features;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Verdicts;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;
using MetalSniper.Strategies.Indicators;

namespace MetalSniper.Strategies.Metals;

/// <summary>Where one instrument is in the metals trade cycle.</summary>
public enum MetalsPhase
{
    /// <summary>No legs.</summary>
    Flat,

    /// <summary>Long and short virtual legs open at once; net position zero; each leg's stop is working.</summary>
    Hedged,

    /// <summary>One leg was killed by its stop; the survivor (plus adds) is being managed.</summary>
    Running,
}

/// <summary>
/// The metals strategy (XAUUSD, XAGUSD), first version. Humility about direction:
/// <list type="number">
/// <item><b>Hedged opening.</b> In a quiet market (ATR / long ATR ≤ CompressionRatio) with enough
/// session left, it books a long and a short leg at the bar close P0, each with a stop 1R =
/// StopAtr × ATR away. The legs are virtual: on a netting broker they cancel, so the gateway
/// sees no entry order, only the two leg stops (a buy stop at P0+R, a sell stop at P0−R).</item>
/// <item><b>The market kills the wrong leg.</b> When one stop fills, that leg is dead and the
/// net position is the survivor.</item>
/// <item><b>Hold through noise.</b> The survivor's stop moves to breakeven (net of exit costs) at
/// BreakevenAtR, then trails the extreme since entry by TrailAtr × ATR (chandelier), only ever
/// towards the money, in steps of at least MinStopStepAtr × ATR.</item>
/// <item><b>Exit on a genuine turn.</b> Fast EMA crossed the slow EMA against the position and the
/// close is beyond the slow EMA, for TurnConfirmBars consecutive bars.</item>
/// <item><b>Add only under the locked-profit rule.</b> On a new extreme at least AddSpacingR beyond
/// the last entry, an add is sent only when the existing stop already locks in profit net of
/// costs, and sized so the whole position still cannot lose at the stop.</item>
/// </list>
/// Positions are closed before a closure longer than the daily break (weekends, holidays).
/// </summary>
public sealed class MetalsHedgeStrategy : IStrategy
{
    private const string Source = "strategy:metals";
    private readonly MetalsStrategyOptions _options;
    private readonly IInstrumentCatalog _instruments;
    private readonly Dictionary<string, SymbolState> _states;
    private readonly Dictionary<ClientOrderId, string> _orderSymbols = [];
    private readonly JudgePanel _judges;

    /// <summary>Creates the strategy.</summary>
    /// <param name="options">The strategy's parameters.</param>
    /// <param name="instruments">The instrument catalogue.</param>
    /// <param name="judges">
    /// The judges (issue 15), or null for none. Veto-shaped: the entry and add judges can block or shrink an entry or an
    /// add (EV tiers), the exit judge can recommend an exit; nothing a judge says can open, enlarge or hold a trade.
    /// Every OpenHedge and Add decision records the features the judges see, whether a judge runs or not.
    /// </param>
    public MetalsHedgeStrategy(MetalsStrategyOptions options, IInstrumentCatalog instruments, JudgePanel? judges = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _instruments = instruments;
        _judges = judges ?? JudgePanel.None;
        _states = options.Symbols.ToDictionary(s => s, s => new SymbolState(instruments.Get(s), options), StringComparer.Ordinal);
    }

    /// <inheritdoc />
    public string Name => "metals";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Symbols => _states.Keys;

    /// <summary>The phase of a symbol (for tests and status).</summary>
    public MetalsPhase PhaseOf(string symbol) => _states[symbol].Phase;

    /// <summary>The survivor's current stop price, or null.</summary>
    public decimal? StopOf(string symbol) => _states[symbol].Phase == MetalsPhase.Running ? _states[symbol].Stop : null;

    /// <inheritdoc />
    public void OnOrderEvent(OrderEvent orderEvent, IStrategyContext context)
    {
        ArgumentNullException.ThrowIfNull(orderEvent);
        ArgumentNullException.ThrowIfNull(context);
        if (!_orderSymbols.TryGetValue(orderEvent.ClientOrderId, out var symbol))
        {
            return; // not ours (a sentinel flatten): the position check in OnBar handles its effect
        }

        var s = _states[symbol];
        var id = orderEvent.ClientOrderId;
        switch (orderEvent)
        {
            case OrderFilled f:
                if (f.LeavesQuantity == 0m)
                {
                    _orderSymbols.Remove(id);
                }

                OnFill(s, f, context);
                break;
            case OrderCancelled or OrderRejected or OrderDenied:
                _orderSymbols.Remove(id);
                OnOrderGone(s, id, orderEvent, context);
                break;
            case OrderModified m when id == s.StopOrder && m.StopPrice is { } confirmed:
                s.ConfirmedStop = confirmed;
                break;
            case OrderRequestRejected when id == s.StopOrder:
                // The broker kept the old stop: so does the strategy (the next bar may try again).
                s.Stop = s.ConfirmedStop;
                break;
        }
    }

    /// <inheritdoc />
    public void OnBar(Bar bar, IStrategyContext context)
    {
        ArgumentNullException.ThrowIfNull(bar);
        ArgumentNullException.ThrowIfNull(context);
        if (!_states.TryGetValue(bar.Symbol, out var s))
        {
            return;
        }

        s.Update(bar);
        s.BarsInPhase++;
        if (s.Cooldown > 0)
        {
            s.Cooldown--;
        }

        switch (s.Phase)
        {
            case MetalsPhase.Flat:
                TryOpenHedge(s, bar, context);
                break;
            case MetalsPhase.Hedged:
                ManageHedge(s, bar, context);
                break;
            case MetalsPhase.Running:
                ManageSurvivor(s, bar, context);
                break;
        }
    }

    private void TryOpenHedge(SymbolState s, Bar bar, IStrategyContext ctx)
    {
        if (!s.Ready || s.Cooldown > 0 || !ctx.EntriesAllowed || !ctx.Position(s.Symbol).IsFlat)
        {
            return;
        }

        var t = bar.CloseTimeUtc;
        if (ctx.SessionEnd(s.Symbol, t) is not { } end || end - t < _options.MinSessionRemaining)
        {
            return;
        }

        var atr = s.Atr.Value!.Value;
        var ratio = atr / s.AtrLong.Value!.Value;
        if (ratio > _options.CompressionRatio)
        {
            return;
        }

        var instrument = s.Instrument;
        var r = Math.Max(instrument.TickSize, instrument.RoundToTick(_options.StopAtr * atr));
        var p0 = bar.Close;
        var byRisk = _options.RiskPerTradeUsd / (r * instrument.Multiplier);
        var byNotional = _options.MaxNotionalUsd / (p0 * instrument.Multiplier);
        var quantity = instrument.RoundQuantityDown(Math.Min(byRisk, byNotional));
        var inputs = Inputs(("close", p0), ("atr", atr), ("atrLong", s.AtrLong.Value!.Value), ("compression", ratio), ("r", r), ("quantity", quantity), ("quantityByRisk", Math.Round(byRisk, 4)), ("quantityByNotional", Math.Round(byNotional, 4)), ("riskPerTradeUsd", _options.RiskPerTradeUsd));
        if (quantity < instrument.MinimumQuantity)
        {
            ctx.Decide(s.Symbol, DecisionKind.OpenHedge, DecisionOutcome.Vetoed, string.Create(CultureInfo.InvariantCulture, $"quantity {quantity} for 1R = {r} is below the minimum {instrument.MinimumQuantity}"), inputs, t);
            return;
        }

        var features = s.Features.Snapshot(null);
        Append(inputs, features.ToInputs());
        var judged = "";
        if (_judges.Candidate(JudgeKind.Entry, features.Values, features.AsOfUtc) is { } candidate)
        {
            Append(inputs, candidate.ToInputs(JudgeVerdict.CandidateRole));
        }

        if (_judges.Judge(JudgeKind.Entry, features.Values, features.AsOfUtc) is { } verdict)
        {
            Append(inputs, verdict.ToInputs());
            judged = "; " + verdict.Describe();
            if (verdict.Binding)
            {
                var judgedQuantity = instrument.RoundQuantityDown(quantity * verdict.RiskFraction);
                if (verdict.Kind == VerdictKind.Veto || judgedQuantity < instrument.MinimumQuantity)
                {
                    ctx.Decide(s.Symbol, DecisionKind.OpenHedge, DecisionOutcome.Vetoed, "judge veto: " + verdict.Describe() + string.Create(CultureInfo.InvariantCulture, $" (quantity {quantity} → {judgedQuantity})"), inputs, t);
                    s.Cooldown = _options.CooldownBars;
                    return;
                }

                quantity = judgedQuantity;
            }
        }

        var decision = ctx.Decide(s.Symbol, DecisionKind.OpenHedge, DecisionOutcome.Taken,
            string.Create(CultureInfo.InvariantCulture, $"quiet market (ATR/ATRlong {ratio:0.000} ≤ {_options.CompressionRatio}): long and short {quantity} booked virtually at {p0}, net order 0; leg stops at {p0 + r} / {p0 - r}") + judged, inputs, t);
        s.Phase = MetalsPhase.Hedged;
        s.BarsInPhase = 0;
        s.HedgeEntry = p0;
        s.R = r;
        s.InitialQuantity = quantity;
        s.UpperStop = Track(s, ctx.Submit(decision, s.Symbol, OrderSide.Buy, quantity, OrderType.Stop, null, p0 + r, OrderPurpose.Entry, t));
        s.LowerStop = Track(s, ctx.Submit(decision, s.Symbol, OrderSide.Sell, quantity, OrderType.Stop, null, p0 - r, OrderPurpose.Entry, t));
    }

    private void ManageHedge(SymbolState s, Bar bar, IStrategyContext ctx)
    {
        string? reason = null;
        if (!ctx.EntriesAllowed)
        {
            reason = "entries halted: the undecided hedge is withdrawn";
        }
        else if (s.BarsInPhase >= _options.HedgeExpiryBars)
        {
            reason = string.Create(CultureInfo.InvariantCulture, $"no leg killed within {_options.HedgeExpiryBars} bars: the market did not choose");
        }
        else if (ClosureAhead(s, bar, ctx))
        {
            reason = "closure ahead: the undecided hedge is withdrawn";
        }

        if (reason is null)
        {
            return;
        }

        var decision = ctx.Decide(s.Symbol, DecisionKind.HedgeExpired, DecisionOutcome.Taken, reason, Inputs(("bars", s.BarsInPhase), ("close", bar.Close)), bar.CloseTimeUtc);
        CancelIfWorking(s.UpperStop, decision, reason, ctx);
        CancelIfWorking(s.LowerStop, decision, reason, ctx);
        s.ToFlat(0);
    }

    private void ManageSurvivor(SymbolState s, Bar bar, IStrategyContext ctx)
    {
        var t = bar.CloseTimeUtc;
        var position = ctx.Position(s.Symbol);
        if (s.ExitOrder is not null)
        {
            return; // waiting for the exit fill
        }

        if (position.IsFlat)
        {
            var d = ctx.Decide(s.Symbol, DecisionKind.PositionClosedExternally, DecisionOutcome.Taken, "the position is flat (closed outside the strategy): the trade is over", Inputs(("close", bar.Close)), t);
            CancelIfWorking(s.StopOrder, d, "position closed externally", ctx);
            s.ToFlat(_options.CooldownBars);
            return;
        }

        if (s.StopOrder is null)
        {
            Exit(s, position, bar, ctx, DecisionKind.ExitUnprotected, "the position has no working stop (cancelled or refused): it is closed rather than held unprotected");
            return;
        }

        var dir = s.Direction;
        var newExtreme = dir > 0 ? bar.High > s.Extreme : bar.Low < s.Extreme;
        s.Extreme = dir > 0 ? Math.Max(s.Extreme, bar.High) : Math.Min(s.Extreme, bar.Low);
        var atr = s.Atr.Value!.Value;
        var rMultiple = dir * (bar.Close - s.LegEntry) / s.R;

        if (ClosureAhead(s, bar, ctx))
        {
            Exit(s, position, bar, ctx, DecisionKind.FlattenBeforeClosure, "a closure longer than the daily break is ahead: no position is carried through it");
            return;
        }

        var fast = s.Fast.Value!.Value;
        var slow = s.Slow.Value!.Value;
        s.TurnCount = dir * (fast - slow) < 0m && dir * (bar.Close - slow) < 0m ? s.TurnCount + 1 : 0;
        if (s.TurnCount >= _options.TurnConfirmBars)
        {
            Exit(s, position, bar, ctx, DecisionKind.ExitOnTurn, string.Create(CultureInfo.InvariantCulture, $"genuine turn: fast EMA {fast:0.####} crossed slow EMA {slow:0.####} against the position and the close {bar.Close} held beyond it for {s.TurnCount} bars; R multiple {rMultiple:0.00}"));
            return;
        }

        // Stop management in R multiples: breakeven first, then a volatility-aware trail.
        var exitCost = ctx.ExitCostPerUnit(s.Symbol, bar.Close);
        if (_judges.ReviewsExits && ReviewExit(s, position, bar, ctx, exitCost))
        {
            return;
        }

        var candidate = s.Stop;
        var why = "";
        if (!s.BreakevenDone && rMultiple >= _options.BreakevenAtR)
        {
            candidate = s.Instrument.RoundToTick(s.LegEntry + (dir * exitCost));
            s.BreakevenDone = true;
            why = string.Create(CultureInfo.InvariantCulture, $"breakeven at {rMultiple:0.00}R ≥ {_options.BreakevenAtR}R");
        }

        if (s.BreakevenDone)
        {
            var trail = s.Instrument.RoundToTick(s.Extreme - (dir * _options.TrailAtr * atr));
            if (dir * (trail - candidate) > 0m)
            {
                candidate = trail;
                why = string.Create(CultureInfo.InvariantCulture, $"trail {_options.TrailAtr} ATR ({atr:0.####}) behind extreme {s.Extreme}");
            }
        }

        var tick = s.Instrument.TickSize;
        if (dir * (bar.Close - candidate) < tick)
        {
            candidate = s.Instrument.RoundToTick(bar.Close - (dir * tick)); // a stop stays behind the price
        }

        if (dir * (candidate - s.Stop) > 0m && (dir * (candidate - s.Stop) >= _options.MinStopStepAtr * atr || why.StartsWith("breakeven", StringComparison.Ordinal)))
        {
            var d = ctx.Decide(s.Symbol, DecisionKind.MoveStop, DecisionOutcome.Taken, string.Create(CultureInfo.InvariantCulture, $"{why}: stop {s.Stop} → {candidate}"),
                Inputs(("oldStop", s.Stop), ("newStop", candidate), ("extreme", s.Extreme), ("atr", atr), ("rMultiple", rMultiple), ("legEntry", s.LegEntry), ("r", s.R)), t);
            ctx.Modify(d, s.StopOrder!.Value, candidate, null);
            s.Stop = candidate;
        }

        if (newExtreme)
        {
            TryAdd(s, position, bar, ctx, exitCost);
        }
    }

    private void TryAdd(SymbolState s, PositionSnapshot position, Bar bar, IStrategyContext ctx, decimal exitCost)
    {
        var dir = s.Direction;
        if (s.Adds >= _options.MaxAdds || s.PendingAdd is not null || !ctx.EntriesAllowed
            || dir * (bar.Close - s.LastEntryPrice) < _options.AddSpacingR * s.R)
        {
            return;
        }

        var t = bar.CloseTimeUtc;
        var instrument = s.Instrument;
        var locked = LockedProfitRule.LockedPnl(position, [(s.Stop, Math.Abs(position.Quantity))], exitCost, instrument.Multiplier);
        var inputs = Inputs(("close", bar.Close), ("stop", s.Stop), ("position", position.Quantity), ("averagePrice", position.AveragePrice), ("lockedPnl", locked ?? 0m), ("exitCostPerUnit", exitCost), ("adds", s.Adds), ("r", s.R));
        if (locked is not > 0m)
        {
            ctx.Decide(s.Symbol, DecisionKind.Add, DecisionOutcome.Vetoed, string.Create(CultureInfo.InvariantCulture, $"locked-profit rule: the stop {s.Stop} locks {locked ?? 0m:0.00} ≤ 0 on {position.Quantity} @ {position.AveragePrice:0.####} net of costs; floating gains are the market's money"), inputs, t);
            return;
        }

        // Size the add so that the whole position still cannot lose at the stop.
        var lossPerUnitAtStop = ((dir * (bar.Close - s.Stop)) + exitCost) * instrument.Multiplier;
        var cap = lossPerUnitAtStop > 0m ? locked.Value / lossPerUnitAtStop : decimal.MaxValue / 4;
        var notionalRoom = (_options.MaxPositionNotionalUsd / (bar.Close * instrument.Multiplier)) - Math.Abs(position.Quantity);
        var quantity = instrument.RoundQuantityDown(Math.Min(Math.Min(_options.AddFraction * s.InitialQuantity, cap), Math.Max(0m, notionalRoom)));
        if (quantity < instrument.MinimumQuantity)
        {
            ctx.Decide(s.Symbol, DecisionKind.Add, DecisionOutcome.Vetoed, string.Create(CultureInfo.InvariantCulture, $"add of {quantity} (locked-at-stop cap {cap:0.##}, notional room {notionalRoom:0.##}) is below the minimum {instrument.MinimumQuantity}"), inputs, t);
            return;
        }

        var features = s.Features.Snapshot(TradeStateOf(s, bar));
        Append(inputs, features.ToInputs());
        var judged = "";
        if (_judges.Candidate(JudgeKind.Add, features.Values, features.AsOfUtc) is { } candidate)
        {
            Append(inputs, candidate.ToInputs(JudgeVerdict.CandidateRole));
        }

        if (_judges.Judge(JudgeKind.Add, features.Values, features.AsOfUtc) is { } verdict)
        {
            Append(inputs, verdict.ToInputs());
            judged = "; " + verdict.Describe();
            if (verdict.Binding)
            {
                var judgedQuantity = instrument.RoundQuantityDown(quantity * verdict.RiskFraction);
                if (verdict.Kind == VerdictKind.Veto || judgedQuantity < instrument.MinimumQuantity)
                {
                    ctx.Decide(s.Symbol, DecisionKind.Add, DecisionOutcome.Vetoed, "judge veto: " + verdict.Describe() + string.Create(CultureInfo.InvariantCulture, $" (quantity {quantity} → {judgedQuantity})"), inputs, t);
                    s.LastEntryPrice = bar.Close; // the next add needs another full spacing, as after a taken add
                    return;
                }

                quantity = judgedQuantity;
            }
        }

        var decision = ctx.Decide(s.Symbol, DecisionKind.Add, DecisionOutcome.Taken, string.Create(CultureInfo.InvariantCulture, $"stop {s.Stop} locks {locked:0.00} net of costs; adding {quantity} at a new extreme {s.Extreme}") + judged, inputs, t);
        s.PendingAdd = Track(s, ctx.Submit(decision, s.Symbol, dir > 0 ? OrderSide.Buy : OrderSide.Sell, quantity, OrderType.Market, null, null, OrderPurpose.Add, t));
        s.LastEntryPrice = bar.Close;
    }

    /// <summary>
    /// Has this winner turned? Asked when a trade that has reached +1R closes a bar against the position (a pull-back):
    /// the decision records the features (the exit judge's dataset) and, when an exit judge runs, its verdict.
    /// </summary>
    /// <returns>True when the trade was exited on the judge's recommendation.</returns>
    private bool ReviewExit(SymbolState s, PositionSnapshot position, Bar bar, IStrategyContext ctx, decimal exitCost)
    {
        var dir = s.Direction;
        if (s.PreviousClose is not { } previous || dir * (bar.Close - previous) >= 0m || dir * (s.Extreme - s.LegEntry) < s.R)
        {
            return false;
        }

        var t = bar.CloseTimeUtc;
        var features = s.Features.Snapshot(TradeStateOf(s, bar));
        var inputs = Inputs(("close", bar.Close), ("position", position.Quantity), ("averagePrice", position.AveragePrice), ("stop", s.Stop), ("legEntry", s.LegEntry), ("r", s.R), ("exitCostPerUnit", exitCost), ("direction", dir));
        Append(inputs, features.ToInputs());
        var verdict = _judges.Judge(JudgeKind.Exit, features.Values, features.AsOfUtc);
        if (_judges.Candidate(JudgeKind.Exit, features.Values, features.AsOfUtc) is { } candidate)
        {
            Append(inputs, candidate.ToInputs(JudgeVerdict.CandidateRole));
        }

        if (verdict is not null)
        {
            Append(inputs, verdict.ToInputs());
        }

        if (verdict is { Binding: true, Kind: VerdictKind.RecommendExit })
        {
            Exit(s, position, bar, ctx, DecisionKind.ExitOnJudge, "the exit judge recommends closing: " + verdict.Describe(), inputs);
            return true;
        }

        ctx.Decide(s.Symbol, DecisionKind.ExitReview, DecisionOutcome.Taken, string.Create(CultureInfo.InvariantCulture, $"pull-back of a winner ({dir * (bar.Close - s.LegEntry) / s.R:0.00}R, best {dir * (s.Extreme - s.LegEntry) / s.R:0.00}R): hold") + (verdict is null ? "" : "; " + verdict.Describe()), inputs, t);
        return false;
    }

    private static TradeState TradeStateOf(SymbolState s, Bar bar)
    {
        var dir = s.Direction;
        var r = (double)s.R;
        return new TradeState(dir, (double)(dir * (bar.Close - s.LegEntry)) / r, (double)(dir * (s.Extreme - s.LegEntry)) / r, s.BarsInPhase, (double)(dir * (bar.Close - s.Stop)) / r, s.Adds);
    }

    private static void Append(Dictionary<string, string> inputs, IEnumerable<KeyValuePair<string, string>> entries)
    {
        foreach (var (k, v) in entries)
        {
            inputs[k] = v;
        }
    }

    private void Exit(SymbolState s, PositionSnapshot position, Bar bar, IStrategyContext ctx, DecisionKind kind, string reason, Dictionary<string, string>? inputs = null)
    {
        var d = ctx.Decide(s.Symbol, kind, DecisionOutcome.Taken, reason, inputs ?? Inputs(("close", bar.Close), ("position", position.Quantity), ("stop", s.Stop), ("legEntry", s.LegEntry)), bar.CloseTimeUtc);
        CancelIfWorking(s.StopOrder, d, kind.ToString(), ctx);
        s.StopOrder = null;
        s.ExitOrder = Track(s, ctx.Submit(d, s.Symbol, position.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy, Math.Abs(position.Quantity), OrderType.Market, null, null, OrderPurpose.Exit, bar.CloseTimeUtc));
    }

    private void OnFill(SymbolState s, OrderFilled f, IStrategyContext ctx)
    {
        var id = f.ClientOrderId;
        var position = ctx.Position(s.Symbol);
        if (s.Phase == MetalsPhase.Hedged && (id == s.UpperStop || id == s.LowerStop))
        {
            // The market killed one leg; the other survives with its stop as the protective stop.
            var killedShort = id == s.UpperStop;
            s.Direction = killedShort ? 1 : -1;
            s.StopOrder = killedShort ? s.LowerStop : s.UpperStop;
            s.LegEntry = s.HedgeEntry;
            s.LastEntryPrice = s.HedgeEntry;
            s.Stop = s.HedgeEntry - (s.Direction * s.R);
            s.ConfirmedStop = s.Stop;
            s.Extreme = f.Fill.Price;
            s.Phase = MetalsPhase.Running;
            s.BarsInPhase = 0;
            s.UpperStop = s.LowerStop = null;
            ctx.Decide(s.Symbol, DecisionKind.KillLeg, DecisionOutcome.Taken,
                string.Create(CultureInfo.InvariantCulture, $"{(killedShort ? "short" : "long")} leg stopped at {f.Fill.Price}: the market chose {(killedShort ? "up" : "down")}; survivor {(killedShort ? "long" : "short")} from {s.HedgeEntry} with stop {s.Stop}"),
                Inputs(("fillPrice", f.Fill.Price), ("hedgeEntry", s.HedgeEntry), ("r", s.R), ("position", position.Quantity)), f.EventTimeUtc);
            return;
        }

        if (s.Phase != MetalsPhase.Running)
        {
            return;
        }

        if (id == s.PendingAdd)
        {
            s.PendingAdd = null;
            s.Adds++;
            if (s.StopOrder is { } stop && !position.IsFlat)
            {
                var d = ctx.Decide(s.Symbol, DecisionKind.ResizeStop, DecisionOutcome.Taken, string.Create(CultureInfo.InvariantCulture, $"add {f.Fill.Quantity} filled at {f.Fill.Price}: the stop now covers {Math.Abs(position.Quantity)}"), Inputs(("position", position.Quantity), ("stop", s.Stop)), f.EventTimeUtc);
                ctx.Modify(d, stop, null, Math.Abs(position.Quantity));
            }

            return;
        }

        if ((id == s.StopOrder || id == s.ExitOrder) && f.LeavesQuantity > 0m)
        {
            // A part of the stop or the exit: the rest is still working and closes the rest of the position. Closing "what is
            // left" now would sell it twice and reverse the position (issue 18 item 9: partial fills are not assumed away).
            return;
        }

        if (id == s.StopOrder || id == s.ExitOrder)
        {
            var byStop = id == s.StopOrder;
            s.StopOrder = byStop ? null : s.StopOrder;
            s.ExitOrder = null;
            if (!position.IsFlat)
            {
                // A stop sized before an add filled: close the remainder.
                var d = ctx.Decide(s.Symbol, DecisionKind.ExitResidual, DecisionOutcome.Taken, string.Create(CultureInfo.InvariantCulture, $"position {position.Quantity} left after the {(byStop ? "stop" : "exit")} filled: closing it"), Inputs(("position", position.Quantity)), f.EventTimeUtc);
                CancelIfWorking(s.StopOrder, d, "residual exit", ctx);
                s.StopOrder = null;
                s.ExitOrder = Track(s, ctx.Submit(d, s.Symbol, position.Quantity > 0 ? OrderSide.Sell : OrderSide.Buy, Math.Abs(position.Quantity), OrderType.Market, null, null, OrderPurpose.Exit, f.EventTimeUtc));
                return;
            }

            if (byStop)
            {
                ctx.Decide(s.Symbol, DecisionKind.StoppedOut, DecisionOutcome.Taken, string.Create(CultureInfo.InvariantCulture, $"survivor stopped at {f.Fill.Price} (stop {s.Stop}, leg entry {s.LegEntry}, {s.Direction * (f.Fill.Price - s.LegEntry) / s.R:0.00}R)"), Inputs(("fillPrice", f.Fill.Price), ("stop", s.Stop)), f.EventTimeUtc);
            }

            s.ToFlat(_options.CooldownBars);
        }
    }

    private void OnOrderGone(SymbolState s, ClientOrderId id, OrderEvent e, IStrategyContext ctx)
    {
        if (s.Phase == MetalsPhase.Hedged && (id == s.UpperStop || id == s.LowerStop))
        {
            var other = id == s.UpperStop ? s.LowerStop : s.UpperStop;
            var why = e switch { OrderRejected r => r.Reason, OrderDenied denied => denied.Reason, _ => ((OrderCancelled)e).Reason };
            var d = ctx.Decide(s.Symbol, DecisionKind.HedgeAborted, DecisionOutcome.Taken, "a leg stop is gone (" + why + "): the hedge is withdrawn", Inputs(), e.EventTimeUtc);
            s.UpperStop = s.LowerStop = null;
            CancelIfWorking(other, d, "hedge aborted", ctx);
            s.ToFlat(_options.CooldownBars);
            return;
        }

        if (id == s.PendingAdd)
        {
            s.PendingAdd = null;
        }
        else if (id == s.StopOrder)
        {
            s.StopOrder = null; // cancelled outside the strategy (a risk flatten): OnBar sees the flat position
        }
        else if (id == s.ExitOrder)
        {
            s.ExitOrder = null; // the exit was refused: the next bar retries through the normal checks
        }
    }

    private void CancelIfWorking(ClientOrderId? id, string decisionId, string reason, IStrategyContext ctx)
    {
        if (id is { } x && _orderSymbols.ContainsKey(x))
        {
            ctx.Cancel(decisionId, x, reason);
        }
    }

    private ClientOrderId Track(SymbolState s, ClientOrderId id)
    {
        _orderSymbols[id] = s.Symbol;
        return id;
    }

    private static bool ClosureAhead(SymbolState s, Bar bar, IStrategyContext ctx)
    {
        var t = bar.CloseTimeUtc;
        if (ctx.SessionEnd(s.Symbol, t) is not { } end || end - t > s.Options.FlattenBeforeClosure)
        {
            return false;
        }

        // The daily break lasts about an hour; a venue still closed two hours after the session end is a weekend or holiday.
        return !ctx.IsMarketOpen(s.Symbol, end + TimeSpan.FromHours(2));
    }

    private static Dictionary<string, string> Inputs(params (string Name, decimal Value)[] values)
    {
        var d = new Dictionary<string, string>(values.Length, StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            d[name] = value.ToString(CultureInfo.InvariantCulture);
        }

        return d;
    }

    private sealed class SymbolState(Instrument instrument, MetalsStrategyOptions options)
    {
        public Instrument Instrument { get; } = instrument;

        public MetalsStrategyOptions Options { get; } = options;

        public string Symbol => Instrument.Symbol;

        public AverageTrueRange Atr { get; } = new(options.AtrPeriod);

        public AverageTrueRange AtrLong { get; } = new(options.LongAtrPeriod);

        public ExponentialMovingAverage Fast { get; } = new(options.FastEma);

        public ExponentialMovingAverage Slow { get; } = new(options.SlowEma);

        public bool Ready => Atr.Value is > 0m && AtrLong.Value is > 0m && Fast.Value is not null && Slow.Value is not null;

        public MetalsPhase Phase { get; set; }

        public int BarsInPhase { get; set; }

        public int Cooldown { get; set; }

        public decimal HedgeEntry { get; set; }

        public decimal R { get; set; }

        public decimal InitialQuantity { get; set; }

        public ClientOrderId? UpperStop { get; set; }

        public ClientOrderId? LowerStop { get; set; }

        public int Direction { get; set; }

        public decimal LegEntry { get; set; }

        public decimal LastEntryPrice { get; set; }

        public decimal Stop { get; set; }

        public decimal ConfirmedStop { get; set; }

        public ClientOrderId? StopOrder { get; set; }

        public ClientOrderId? ExitOrder { get; set; }

        public ClientOrderId? PendingAdd { get; set; }

        public decimal Extreme { get; set; }

        public bool BreakevenDone { get; set; }

        public int TurnCount { get; set; }

        public int Adds { get; set; }

        public FeatureBuilder Features { get; } = new();

        public decimal? PreviousClose { get; private set; }

        private decimal? _lastClose;

        public void Update(Bar bar)
        {
            PreviousClose = _lastClose;
            _lastClose = bar.Close;
            Features.Update(bar);
            Atr.Add(bar.High, bar.Low, bar.Close);
            AtrLong.Add(bar.High, bar.Low, bar.Close);
            Fast.Add(bar.Close);
            Slow.Add(bar.Close);
        }

        public void ToFlat(int cooldown)
        {
            Phase = MetalsPhase.Flat;
            BarsInPhase = 0;
            Cooldown = cooldown;
            UpperStop = LowerStop = StopOrder = ExitOrder = PendingAdd = null;
            Direction = 0;
            BreakevenDone = false;
            TurnCount = 0;
            Adds = 0;
        }
    }
}
