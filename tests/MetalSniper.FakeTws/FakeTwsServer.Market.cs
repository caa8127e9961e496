using System.Globalization;
using Microsoft.Extensions.Logging;

namespace MetalSniper.FakeTws;

public sealed partial class FakeTwsServer
{
    private readonly List<FakeContract> _contracts = [];
    private readonly Dictionary<string, MarketState> _markets = new(StringComparer.OrdinalIgnoreCase);
    private ITimer? _autoPaceTimer;

    /// <summary>The contract table (§10.5).</summary>
    public IReadOnlyList<FakeContract> Contracts
    {
        get
        {
            lock (_gate)
            {
                return [.. _contracts];
            }
        }
    }

    /// <summary>Adds a contract to the table (reqContractDetails, orders and market methods then know it).</summary>
    /// <exception cref="ArgumentException">A contract with the same conId or key exists.</exception>
    public void AddContract(FakeContract contract)
    {
        ArgumentNullException.ThrowIfNull(contract);
        lock (_gate)
        {
            AddContractLocked(contract);
        }
    }

    /// <summary>
    /// Sets the current quote of a symbol, pushes bid/ask/last ticks (tickPrice + tickSize, §4.3) to its reqMktData
    /// subscribers and re-runs the order engine against it.
    /// </summary>
    /// <param name="symbol">Contract key ("XAUUSD", "EUR.USD", "AAPL") or IB symbol.</param>
    /// <param name="bid">Bid price.</param>
    /// <param name="ask">Ask price.</param>
    /// <param name="last">Last trade price; null leaves it unset (CASH/CMDTY have none).</param>
    /// <param name="size">Size of every tick; null uses <see cref="FakeTwsOptions.DefaultQuoteSize"/>.</param>
    /// <exception cref="ArgumentException">The symbol is unknown, or a price is not finite and positive, or bid &gt; ask.</exception>
    public void SetQuote(string symbol, double bid, double ask, double? last = null, decimal? size = null)
    {
        if (!(double.IsFinite(bid) && bid > 0 && double.IsFinite(ask) && ask > 0) || bid > ask || last is { } l && !(double.IsFinite(l) && l > 0))
        {
            throw new ArgumentException($"quote must have finite positive prices and bid <= ask, was bid {bid}, ask {ask}, last {last}");
        }

        lock (_gate)
        {
            var market = MarketFor(symbol);
            SetQuoteLocked(market, bid, ask, last, size ?? Options.DefaultQuoteSize);
        }
    }

    /// <summary>
    /// IB has no bid for a symbol (a one-sided market): while withdrawn, every BID tick the fake sends for it carries price
    /// −1 and size 0, as TWS does, whatever quote or bar comes; the order engine keeps its own bid. Pushes the ticks now.
    /// </summary>
    /// <param name="symbol">Contract key or IB symbol.</param>
    /// <param name="withdrawn">True to withdraw the bid, false to quote it again.</param>
    /// <exception cref="ArgumentException">The symbol is unknown.</exception>
    public void WithdrawBid(string symbol, bool withdrawn = true)
    {
        lock (_gate)
        {
            var market = MarketFor(symbol);
            market.BidWithdrawn = withdrawn;
            foreach (var session in ReadySessions)
            {
                foreach (var subscription in session.MarketData.Values.Where(s => s.Contract.ConId == market.Contract.ConId))
                {
                    SendQuoteTicks(session, subscription.ReqId, market);
                }
            }
        }
    }

    /// <summary>The current quote of a symbol: (bid, ask, last), each null when unset.</summary>
    /// <exception cref="ArgumentException">The symbol is unknown.</exception>
    public (double? Bid, double? Ask, double? Last) GetQuote(string symbol)
    {
        lock (_gate)
        {
            var market = MarketFor(symbol);
            return (market.Bid, market.Ask, market.Last);
        }
    }

    /// <summary>Queues bars for a symbol; <see cref="StepBar"/>, <see cref="StepAllAsync"/> or auto-pace release them one at a time.</summary>
    /// <exception cref="ArgumentException">The symbol is unknown, or a bar is malformed (high &lt; low, open/close outside the range, non-positive price).</exception>
    public void LoadBars(string symbol, IEnumerable<FakeBar> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        var list = bars.ToList();
        foreach (var bar in list)
        {
            if (!(bar.Low > 0 && bar.High >= bar.Low && bar.Open >= bar.Low && bar.Open <= bar.High && bar.Close >= bar.Low && bar.Close <= bar.High))
            {
                throw new ArgumentException($"bar at {bar.StartUtc:O} must satisfy 0 < low <= open, close <= high, was O {bar.Open} H {bar.High} L {bar.Low} C {bar.Close}", nameof(bars));
            }
        }

        lock (_gate)
        {
            var market = MarketFor(symbol);
            foreach (var bar in list)
            {
                market.Pending.Enqueue(bar);
            }
        }
    }

    /// <summary>Number of loaded bars not yet stepped for a symbol.</summary>
    /// <exception cref="ArgumentException">The symbol is unknown.</exception>
    public int PendingBars(string symbol)
    {
        lock (_gate)
        {
            return MarketFor(symbol).Pending.Count;
        }
    }

    /// <summary>
    /// Releases the next loaded bar of a symbol: runs the order engine against the bar's range (stops trigger when the range
    /// crosses, fill at the stop or at the open on a gap), sends historicalDataUpdate (90) to keepUpToDate subscribers at their
    /// bar size, realtimeBar (50) to reqRealTimeBars subscribers, then sets the quote from the close (± half
    /// <see cref="FakeTwsOptions.BarQuoteSpread"/>) and pushes ticks.
    /// </summary>
    /// <returns>False when no bar was pending.</returns>
    /// <exception cref="ArgumentException">The symbol is unknown.</exception>
    public bool StepBar(string symbol)
    {
        lock (_gate)
        {
            return StepBarLocked(MarketFor(symbol));
        }
    }

    /// <summary>Steps every symbol that has pending bars, <paramref name="steps"/> times, then waits until the frames are written.</summary>
    /// <returns>The number of bars stepped.</returns>
    public async Task<int> StepAllAsync(int steps = 1, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var stepped = 0;
        for (var i = 0; i < steps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (_gate)
            {
                stepped += StepAllLocked();
            }
        }

        await FlushAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        return stepped;
    }

    /// <summary>Steps all symbols with pending bars automatically, <paramref name="barsPerSecond"/> times per wall-clock second.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rate is not in (0, 10000].</exception>
    public void StartAutoPace(double barsPerSecond)
    {
        if (!(barsPerSecond > 0 && barsPerSecond <= 10_000))
        {
            throw new ArgumentOutOfRangeException(nameof(barsPerSecond), barsPerSecond, "bars per second must be in (0, 10000]");
        }

        var period = TimeSpan.FromSeconds(1 / barsPerSecond);
        lock (_gate)
        {
            _autoPaceTimer?.Dispose();
            _autoPaceTimer = WallClock.CreateTimer(_ => AutoPaceTick(), null, period, period);
        }
    }

    /// <summary>Stops <see cref="StartAutoPace"/>.</summary>
    public void StopAutoPace()
    {
        lock (_gate)
        {
            _autoPaceTimer?.Dispose();
            _autoPaceTimer = null;
        }
    }

    private void AutoPaceTick()
    {
        try
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    StepAllLocked();
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RecordInternalError(ex);
            _logger.LogError(ex, "Fake TWS: auto-pace step failed");
        }
    }

    private int StepAllLocked()
    {
        var stepped = 0;
        foreach (var market in _markets.Values.Where(m => m.Pending.Count > 0).ToList())
        {
            if (StepBarLocked(market))
            {
                stepped++;
            }
        }

        return stepped;
    }

    private void AddContractLocked(FakeContract contract)
    {
        if (_contracts.Any(c => c.ConId == contract.ConId) || _markets.ContainsKey(contract.Key))
        {
            throw new ArgumentException($"contract conId {contract.ConId} / key '{contract.Key}' is already in the table", nameof(contract));
        }

        _contracts.Add(contract);
        _markets[contract.Key] = new MarketState(contract);
    }

    private MarketState MarketFor(string symbol)
    {
        if (_markets.TryGetValue(symbol, out var market))
        {
            return market;
        }

        var bySymbol = _markets.Values.Where(m => string.Equals(m.Contract.Symbol, symbol, StringComparison.OrdinalIgnoreCase)).ToList();
        return bySymbol.Count == 1
            ? bySymbol[0]
            : throw new ArgumentException($"unknown or ambiguous symbol '{symbol}'; known keys: {string.Join(", ", _markets.Keys.Order(StringComparer.Ordinal))}", nameof(symbol));
    }

    private List<FakeContract> MatchContracts(ContractQuery q)
    {
        static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
        if (q.ConId > 0)
        {
            return [.. _contracts.Where(c => c.ConId == q.ConId && (q.Exchange.Length == 0 || ExchangeAccepted(c, q.Exchange)))];
        }

        if (q.Symbol.Length == 0 && q.LocalSymbol.Length == 0)
        {
            return [];
        }

        return [.. _contracts.Where(c =>
            (q.Symbol.Length == 0 || Same(c.Symbol, q.Symbol))
            && (q.LocalSymbol.Length == 0 || Same(c.LocalSymbol, q.LocalSymbol))
            && (q.SecType.Length == 0 || Same(c.SecType, q.SecType))
            && (q.Currency.Length == 0 || Same(c.Currency, q.Currency))
            && (q.Exchange.Length == 0 || ExchangeAccepted(c, q.Exchange))
            && (q.PrimaryExchange.Length == 0 || Same(c.PrimaryExchange, q.PrimaryExchange) || ExchangeAccepted(c, q.PrimaryExchange))
            && (q.LastTradeDateOrContractMonth.Length == 0 || c.LastTradeDateOrContractMonth.StartsWith(q.LastTradeDateOrContractMonth, StringComparison.Ordinal))
            && (q.TradingClass.Length == 0 || Same(c.TradingClass, q.TradingClass))
            && (q.Multiplier.Length == 0 || (double.TryParse(q.Multiplier, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) && m == c.MultiplierValue)))];
    }

    private static bool ExchangeAccepted(FakeContract contract, string exchange) =>
        string.Equals(contract.Exchange, exchange, StringComparison.OrdinalIgnoreCase)
        || string.Equals(contract.PrimaryExchange, exchange, StringComparison.OrdinalIgnoreCase)
        || contract.ValidExchanges.Split(',').Contains(exchange, StringComparer.OrdinalIgnoreCase);

    private void HandleReqMktData(FakeTwsSession session, RequestReader reader, int reqId)
    {
        var query = ReadContract(reader);
        if (string.Equals(query.SecType, "BAG", StringComparison.OrdinalIgnoreCase))
        {
            var legs = reader.Int("comboLegsCount");
            reader.Skip(4 * legs, "comboLeg");
        }

        if (reader.Bool("deltaNeutralContractPresent"))
        {
            reader.Skip(3, "deltaNeutralContract");
        }

        reader.String("genericTickList");
        var snapshot = reader.Bool("snapshot");
        reader.Bool("regulatorySnapshot");
        reader.String("mktDataOptions");
        if (!snapshot && session.MarketData.ContainsKey(reqId))
        {
            SendErrorLocked(session, reqId, 322, $"Error processing request:-'bW' : cause - Duplicate ticker id:{reqId}");
            return;
        }

        var contract = ResolveOrError(session, reqId, query);
        if (contract is null)
        {
            return;
        }

        var market = _markets[contract.Key];
        Send(session, new FrameBuilder(81).Add(reqId).Add(contract.MinTick).Add(contract.Exchange).Add(3));
        Send(session, new FrameBuilder(58).Add(1).Add(reqId).Add(session.MarketDataType));
        SendQuoteTicks(session, reqId, market);
        if (snapshot)
        {
            Send(session, new FrameBuilder(57).Add(1).Add(reqId));
            return;
        }

        session.MarketData[reqId] = new MarketDataSubscription(reqId, contract);
    }

    private void HandleCancelMktData(FakeTwsSession session, int reqId)
    {
        if (!session.MarketData.Remove(reqId))
        {
            SendErrorLocked(session, reqId, 300, $"Can't find EId with tickerId:{reqId}");
        }
    }

    private void SendQuoteTicks(FakeTwsSession session, int reqId, MarketState market)
    {
        var delayed = session.MarketDataType >= 3;
        void Tick(double? price, int priceType, int sizeType, decimal size, bool withdrawn = false)
        {
            if (withdrawn)
            {
                Send(session, new FrameBuilder(1).Add(6).Add(reqId).Add(delayed ? priceType + 65 : priceType).Add(-1.0).Add(0m).Add(0));
                return;
            }

            if (price is not { } p)
            {
                return;
            }

            Send(session, new FrameBuilder(1).Add(6).Add(reqId).Add(delayed ? priceType + 65 : priceType).Add(p).Add(size).Add(0));
            Send(session, new FrameBuilder(2).Add(6).Add(reqId).Add(delayed ? DelayedSize(sizeType) : sizeType).Add(size));
        }

        Tick(market.Bid, 1, 0, market.BidSize, market.BidWithdrawn);
        Tick(market.Ask, 2, 3, market.AskSize);
        Tick(market.Last, 4, 5, market.LastSize);
    }

    private static int DelayedSize(int sizeType) => sizeType switch
    {
        0 => 69,
        3 => 70,
        5 => 71,
        _ => sizeType,
    };

    private void SetQuoteLocked(MarketState market, double bid, double ask, double? last, decimal size)
    {
        market.Bid = bid;
        market.Ask = ask;
        market.BidSize = size;
        market.AskSize = size;
        market.BidLeft = size;
        market.AskLeft = size;
        if (last is not null)
        {
            market.Last = last;
            market.LastSize = size;
        }

        foreach (var session in ReadySessions)
        {
            foreach (var subscription in session.MarketData.Values.Where(s => s.Contract.ConId == market.Contract.ConId))
            {
                SendQuoteTicks(session, subscription.ReqId, market);
            }
        }

        RunEngineLocked(market);
        PushPortfolioValuesLocked(market.Contract);
    }

    private bool StepBarLocked(MarketState market)
    {
        if (!market.Pending.TryDequeue(out var bar))
        {
            return false;
        }

        market.Stepped.Add(bar);
        RunEngineOnBarLocked(market, bar);
        foreach (var session in ReadySessions)
        {
            foreach (var sub in session.Historical.Values.Where(s => s.Contract.ConId == market.Contract.ConId))
            {
                var bucket = Floor(bar.StartUtc, sub.BarSize);
                sub.Current = sub.Current is { } current && current.Start == bucket
                    ? current with
                    {
                        High = Math.Max(current.High, bar.High),
                        Low = Math.Min(current.Low, bar.Low),
                        Close = bar.Close,
                        Volume = current.Volume + bar.Volume,
                        Count = current.Count + 1,
                    }
                    : new AggregatedBar(bucket, bar.Open, bar.High, bar.Low, bar.Close, bar.Volume, 1);
                var b = sub.Current;
                var trades = IsTrades(sub.WhatToShow);
                Send(session, new FrameBuilder(90).Add(sub.ReqId).Add(trades ? b.Count : -1).Add(FormatBarDate(b.Start, sub.BarSize, sub.FormatDate))
                    .Add(b.Open).Add(b.Close).Add(b.High).Add(b.Low).Add(trades ? Wap(b) : -1.0).Add(trades ? b.Volume : -1m));
            }

            foreach (var sub in session.RealTimeBars.Values.Where(s => s.Contract.ConId == market.Contract.ConId))
            {
                var trades = IsTrades(sub.WhatToShow);
                Send(session, new FrameBuilder(50).Add(3).Add(sub.ReqId).Add(bar.StartUtc.ToUnixTimeSeconds())
                    .Add(bar.Open).Add(bar.High).Add(bar.Low).Add(bar.Close).Add(trades ? bar.Volume : -1m)
                    .Add(trades ? (bar.High + bar.Low + bar.Close) / 3 : -1.0).Add(trades ? 1 : -1));
            }
        }

        var half = Options.BarQuoteSpread / 2;
        var bid = Math.Max(bar.Close - half, market.Contract.MinTick);
        SetQuoteLocked(market, bid, bar.Close + half, bar.Close, Options.DefaultQuoteSize);
        return true;
    }

    private static bool IsTrades(string whatToShow) => string.Equals(whatToShow, "TRADES", StringComparison.OrdinalIgnoreCase);

    private static double Wap(AggregatedBar bar) => (bar.High + bar.Low + bar.Close) / 3;

    private static DateTimeOffset Floor(DateTimeOffset time, TimeSpan size)
    {
        var ticks = time.UtcTicks - (time.UtcTicks % size.Ticks);
        return new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    private void HandleReqHistoricalData(FakeTwsSession session, RequestReader reader, int reqId)
    {
        var query = ReadContract(reader);
        reader.Bool("includeExpired");
        var endDateTime = reader.String("endDateTime");
        var barSizeText = reader.String("barSizeSetting");
        var durationText = reader.String("durationStr");
        reader.Int("useRTH");
        var whatToShow = reader.String("whatToShow");
        var formatDate = reader.Int("formatDate");
        if (string.Equals(query.SecType, "BAG", StringComparison.OrdinalIgnoreCase))
        {
            var legs = reader.Int("comboLegsCount");
            reader.Skip(4 * legs, "comboLeg");
        }

        var keepUpToDate = reader.Bool("keepUpToDate");
        reader.String("chartOptions");
        if (!TryParseBarSize(barSizeText, out var barSize))
        {
            throw new TwsRequestException(321, $"Error validating request:-'bS' : cause - Historical data bar size setting is invalid: '{barSizeText}'");
        }

        if (!TryParseDuration(durationText, out var duration))
        {
            throw new TwsRequestException(321, $"Error validating request:-'bS' : cause - Historical data duration is invalid: '{durationText}'");
        }

        if (keepUpToDate && endDateTime.Length > 0)
        {
            throw new TwsRequestException(321, "Error validating request:-'bS' : cause - End date not supported with live updates");
        }

        var contract = ResolveOrError(session, reqId, query);
        if (contract is null)
        {
            return;
        }

        var market = _markets[contract.Key];
        var bars = Aggregate(market.Stepped, barSize);
        var end = bars.Count > 0 ? bars[^1].Start + barSize : Now;
        var start = end - duration;
        bars = [.. bars.Where(b => b.Start >= start)];
        var trades = IsTrades(whatToShow);
        var frame = new FrameBuilder(17).Add(reqId).Add(FormatBarDate(start, TimeSpan.FromSeconds(1), 1)).Add(FormatBarDate(end, TimeSpan.FromSeconds(1), 1)).Add(bars.Count);
        foreach (var b in bars)
        {
            frame.Add(FormatBarDate(b.Start, barSize, formatDate)).Add(b.Open).Add(b.High).Add(b.Low).Add(b.Close)
                .Add(trades ? b.Volume : -1m).Add(trades ? (decimal)Wap(b) : -1m).Add(trades ? b.Count : -1);
        }

        Send(session, frame);
        if (keepUpToDate)
        {
            session.Historical[reqId] = new HistoricalSubscription(reqId, contract, barSize, whatToShow, formatDate)
            {
                Current = bars.Count > 0 ? bars[^1] : null,
            };
        }
    }

    private void HandleReqRealTimeBars(FakeTwsSession session, RequestReader reader, int reqId)
    {
        var query = ReadContract(reader);
        var barSize = reader.Int("barSize");
        var whatToShow = reader.String("whatToShow");
        reader.Bool("useRTH");
        reader.String("realTimeBarsOptions");
        if (barSize != 5)
        {
            throw new TwsRequestException(321, $"Error validating request:-'bX' : cause - Invalid bar size: {barSize} (only 5 seconds)");
        }

        var contract = ResolveOrError(session, reqId, query);
        if (contract is not null)
        {
            session.RealTimeBars[reqId] = new RealTimeBarsSubscription(reqId, contract, whatToShow);
        }
    }

    private static List<AggregatedBar> Aggregate(IEnumerable<FakeBar> bars, TimeSpan size)
    {
        var result = new List<AggregatedBar>();
        foreach (var bar in bars)
        {
            var bucket = Floor(bar.StartUtc, size);
            if (result.Count > 0 && result[^1].Start == bucket)
            {
                var c = result[^1];
                result[^1] = c with { High = Math.Max(c.High, bar.High), Low = Math.Min(c.Low, bar.Low), Close = bar.Close, Volume = c.Volume + bar.Volume, Count = c.Count + 1 };
            }
            else
            {
                result.Add(new AggregatedBar(bucket, bar.Open, bar.High, bar.Low, bar.Close, bar.Volume, 1));
            }
        }

        return result;
    }

    /// <summary>formatDate 2 → epoch seconds; daily bars → "yyyyMMdd"; intraday → "yyyyMMdd HH:mm:ss TZ" (§4.6).</summary>
    private string FormatBarDate(DateTimeOffset time, TimeSpan barSize, int formatDate)
    {
        if (formatDate == 2)
        {
            return time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        var local = TimeZoneInfo.ConvertTime(time, _timeZone);
        return barSize >= TimeSpan.FromDays(1)
            ? local.ToString("yyyyMMdd", CultureInfo.InvariantCulture)
            : local.ToString("yyyyMMdd HH:mm:ss", CultureInfo.InvariantCulture) + " " + ZoneName;
    }

    /// <summary>Parses a bar size setting ("5 secs", "1 min", "15 mins", "1 hour", "1 day", "1 week", "1 month").</summary>
    internal static bool TryParseBarSize(string text, out TimeSpan size)
    {
        size = default;
        var parts = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            return false;
        }

        TimeSpan? unit = parts[1].ToLowerInvariant() switch
        {
            "sec" or "secs" => TimeSpan.FromSeconds(1),
            "min" or "mins" => TimeSpan.FromMinutes(1),
            "hour" or "hours" => TimeSpan.FromHours(1),
            "day" or "days" => TimeSpan.FromDays(1),
            "week" or "weeks" => TimeSpan.FromDays(7),
            "month" or "months" => TimeSpan.FromDays(30),
            _ => null,
        };
        if (unit is null)
        {
            return false;
        }

        size = unit.Value * n;
        return true;
    }

    /// <summary>Parses a duration string ("60 S", "1 D", "2 W", "1 M", "1 Y").</summary>
    internal static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        var parts = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            return false;
        }

        TimeSpan? unit = parts[1] switch
        {
            "S" => TimeSpan.FromSeconds(1),
            "D" => TimeSpan.FromDays(1),
            "W" => TimeSpan.FromDays(7),
            "M" => TimeSpan.FromDays(31),
            "Y" => TimeSpan.FromDays(366),
            _ => null,
        };
        if (unit is null)
        {
            return false;
        }

        duration = unit.Value * n;
        return true;
    }
}

/// <summary>Market state of one contract: current quote and its bars.</summary>
internal sealed class MarketState(FakeContract contract)
{
    public FakeContract Contract { get; } = contract;

    public double? Bid { get; set; }

    /// <summary>True while the fake reports no bid (BID ticks at −1) whatever <see cref="Bid"/> is.</summary>
    public bool BidWithdrawn { get; set; }

    public double? Ask { get; set; }

    public double? Last { get; set; }

    public decimal BidSize { get; set; }

    public decimal AskSize { get; set; }

    public decimal LastSize { get; set; }

    /// <summary>Size still available at the bid for fills since the last quote (<see cref="FakeTwsOptions.FillsTakeQuoteSize"/>).</summary>
    public decimal BidLeft { get; set; }

    /// <summary>Size still available at the ask for fills since the last quote.</summary>
    public decimal AskLeft { get; set; }

    public Queue<FakeBar> Pending { get; } = new();

    public List<FakeBar> Stepped { get; } = [];

    /// <summary>Mark price: last, else mid, else null.</summary>
    public double? Mark => Last ?? (Bid is { } b && Ask is { } a ? (b + a) / 2 : Bid ?? Ask);
}
