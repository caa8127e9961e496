using System.Diagnostics.CodeAnalysis;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging;

namespace MetalSniper.InteractiveBrokers.Adapters;

/// <summary>Where a quote side's observation time comes from.</summary>
public enum IbQuoteTimeSource
{
    /// <summary>
    /// The time our session received the tick (the session's <see cref="TimeProvider"/>, UTC): <c>tickPrice</c> (1) carries no
    /// exchange time (TWS-PROTOCOL.md §4.3; LAST_TIMESTAMP (45) is for trades only). Tick-by-tick <c>BidAsk</c> data, which does
    /// carry one, is not part of our protocol subset.
    /// </summary>
    Received,
}

/// <summary>
/// The latest bid and ask of one instrument as IB streamed them, in our major units (IB's price ÷ the contract's price
/// magnifier), each side with the time it was observed, so a rule comparing two legs (both venues open, both quotes fresh)
/// can compare their ages.
/// </summary>
/// <param name="Symbol">Our symbol.</param>
/// <param name="Bid">Best bid in major units of the instrument's currency; null when IB has none (or sent −1).</param>
/// <param name="Ask">Best ask in major units; null when IB has none.</param>
/// <param name="BidObservedAtUtc">When the bid (or its absence) was observed, UTC; null before the first bid tick.</param>
/// <param name="AskObservedAtUtc">When the ask (or its absence) was observed, UTC; null before the first ask tick.</param>
/// <param name="TimeSource">What the observation times are (<see cref="IbQuoteTimeSource.Received"/>).</param>
/// <param name="Delayed">True when IB sent delayed ticks (66/67: market data type 3/4), not live ones.</param>
public sealed record IbQuote(string Symbol, decimal? Bid, decimal? Ask, DateTimeOffset? BidObservedAtUtc, DateTimeOffset? AskObservedAtUtc, IbQuoteTimeSource TimeSource, bool Delayed)
{
    /// <summary>True when both sides have a price.</summary>
    public bool IsTwoSided => Bid is not null && Ask is not null;

    /// <summary>The quote's observation time: that of its older side (a two-sided quote is as old as its staler side); null until both sides were seen.</summary>
    public DateTimeOffset? ObservedAtUtc => BidObservedAtUtc is { } b && AskObservedAtUtc is { } a ? (b < a ? b : a) : null;
}

/// <summary>Latest IB quotes per instrument, in major units, with their observation times (for the both-open rule of pair trading).</summary>
public interface IIbQuoteBook
{
    /// <summary>The instruments quoted.</summary>
    IReadOnlyList<string> Symbols { get; }

    /// <summary>The latest quote of <paramref name="symbol"/>; false when none was received on the current link.</summary>
    bool TryGetQuote(string symbol, [NotNullWhen(true)] out IbQuote? quote);

    /// <summary>Raised on the session's event loop after every bid or ask tick (handlers must not block).</summary>
    event Action<IbQuote>? QuoteChanged;
}

/// <summary>
/// <see cref="IIbQuoteBook"/> over <c>reqMktData</c> (TWS-PROTOCOL.md §4.1, §4.3): one streaming subscription per instrument,
/// made anew (new request ids) after every handshake and after 1101 (data lost); BID (1) / ASK (2) and their delayed twins
/// (66/67) update the quote, converted by the contract's price magnifier (<see cref="IbPriceConverter.ToMajor"/>). Only
/// instruments whose contract details agree with the catalog (<see cref="IbContractBook"/>) are subscribed; one without is
/// left out, logged and raised as a <see cref="Problem"/>. Quotes are forgotten when the link drops: a quote from a dead
/// link is not a live quote. Thread-safe.
/// </summary>
public sealed class IbQuoteBook : IIbQuoteBook, Core.MarketData.IQuoteFeed
{
    private readonly IbSession _session;
    private readonly IbContractBook _contracts;
    private readonly ILogger<IbQuoteBook> _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, (string Symbol, IbPriceConverter Prices)> _requests = [];
    private readonly Dictionary<string, IbQuote> _quotes = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates the book; it subscribes <paramref name="symbols"/> on every connect of <paramref name="session"/>.</summary>
    /// <param name="session">The IB session (its clock stamps the quotes).</param>
    /// <param name="contracts">The contract details book (created before this one, so its details are requested first on every connect).</param>
    /// <param name="symbols">Instruments to quote; each must be one of <paramref name="contracts"/>' symbols.</param>
    /// <param name="logger">Logger.</param>
    /// <exception cref="ArgumentException">A symbol the contract book does not resolve.</exception>
    public IbQuoteBook(IbSession session, IbContractBook contracts, IEnumerable<string> symbols, ILogger<IbQuoteBook> logger)
    {
        _session = session ?? throw new ArgumentNullException(nameof(session));
        _contracts = contracts ?? throw new ArgumentNullException(nameof(contracts));
        ArgumentNullException.ThrowIfNull(symbols);
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        Symbols = [.. symbols.Distinct(StringComparer.OrdinalIgnoreCase)];
        foreach (var s in Symbols.Where(s => !contracts.Symbols.Contains(s, StringComparer.OrdinalIgnoreCase)))
        {
            throw new ArgumentException($"{s} is not among the contract book's instruments ({string.Join(", ", contracts.Symbols)})", nameof(symbols));
        }

        session.EventReceived += OnEvent;
        session.Connected += SubscribeAsync;
        session.Machine.ResubscribeNeeded += why =>
        {
            if (why == "1101")
            {
                _ = SubscribeAsync(CancellationToken.None);
            }
        };
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Symbols { get; }

    /// <inheritdoc />
    public event Action<IbQuote>? QuoteChanged;

    /// <summary>Raised when an instrument cannot be quoted (no agreeing contract details, a refused request).</summary>
    public event Action<string>? Problem;

    /// <inheritdoc />
    public bool TryGetQuote(string symbol, [NotNullWhen(true)] out IbQuote? quote)
    {
        ArgumentNullException.ThrowIfNull(symbol);
        lock (_gate)
        {
            return _quotes.TryGetValue(symbol, out quote);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Both sides must have been observed on the current link; a side IB reported without a price (−1 or 0) reads as 0, so
    /// the quote gate refuses it as a zero bid (or an invalid market), never as no quote at all. The event time is the
    /// older side's observation time (<see cref="IbQuote.ObservedAtUtc"/>).
    /// </remarks>
    public bool TryGetTopOfBook(string symbol, [NotNullWhen(true)] out Core.MarketData.Quote? quote)
    {
        quote = null;
        if (!TryGetQuote(symbol, out var q) || q.ObservedAtUtc is not { } observed)
        {
            return false;
        }

        var newer = q.BidObservedAtUtc > q.AskObservedAtUtc ? q.BidObservedAtUtc!.Value : q.AskObservedAtUtc!.Value;
        quote = new Core.MarketData.Quote(q.Symbol, q.Bid ?? 0m, q.Ask ?? 0m, observed, newer);
        return true;
    }

    private Task SubscribeAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            foreach (var reqId in _requests.Keys)
            {
                TrySend(TwsRequests.CancelMktData(reqId));
            }

            _requests.Clear();
            _quotes.Clear();
            foreach (var symbol in Symbols)
            {
                if (!_contracts.TryGet(symbol, out var details, out var refusal))
                {
                    _logger.LogError("IB quotes of {Symbol} not subscribed: {Reason}", symbol, refusal);
                    Problem?.Invoke($"IB quotes of {symbol} not subscribed: {refusal}");
                    continue;
                }

                var reqId = _session.NextRequestId();
                _requests[reqId] = (symbol, details.Prices);
                TrySend(TwsRequests.ReqMktData(reqId, details.Contract));
                _logger.LogInformation("Subscribed {Symbol} quotes (request {ReqId}, priceMagnifier {Magnifier})", symbol, reqId, details.PriceMagnifier);
            }
        }

        return Task.CompletedTask;
    }

    private void OnEvent(TwsEvent e)
    {
        IbQuote? changed = null;
        lock (_gate)
        {
            switch (e)
            {
                case TickPriceEvent t when _requests.TryGetValue(t.ReqId, out var request):
                    changed = OnTick(request.Symbol, request.Prices, t);
                    break;
                case ErrorEvent err when err.Id > 0 && err.Code is < 2100 or >= 2200 && _requests.TryGetValue(err.Id, out var request):
                    _logger.LogError("IB quote request {ReqId} for {Symbol} failed: {Code} {Message}", err.Id, request.Symbol, err.Code, err.Message);
                    Problem?.Invoke($"IB quotes of {request.Symbol}: IB error {err.Code} {err.Message}");
                    break;
                case DisconnectedEvent:
                    _quotes.Clear();
                    break;
            }
        }

        if (changed is not null)
        {
            QuoteChanged?.Invoke(changed);
        }
    }

    private IbQuote? OnTick(string symbol, IbPriceConverter prices, TickPriceEvent t)
    {
        var delayed = t.TickType is TwsTickType.DelayedBid or TwsTickType.DelayedAsk;
        var isBid = t.TickType is TwsTickType.Bid or TwsTickType.DelayedBid;
        var isAsk = t.TickType is TwsTickType.Ask or TwsTickType.DelayedAsk;
        if (!isBid && !isAsk)
        {
            return null;
        }

        var now = _session.Clock.GetUtcNow();
        decimal? price = t.Price > 0 && double.IsFinite(t.Price) ? prices.ToMajor(t.Price) : null; // −1 / 0: no price on that side
        var q = _quotes.TryGetValue(symbol, out var old) ? old : new IbQuote(symbol, null, null, null, null, IbQuoteTimeSource.Received, delayed);
        q = isBid ? q with { Bid = price, BidObservedAtUtc = now, Delayed = delayed } : q with { Ask = price, AskObservedAtUtc = now, Delayed = delayed };
        _quotes[symbol] = q;
        return q;
    }

    private void TrySend(TwsOutgoingMessage message)
    {
        try
        {
            _session.Client.Send(message);
        }
        catch (TwsNotConnectedException e)
        {
            _logger.LogWarning("IB quote request not sent ({Message}); it is made again on the next connect", e.Message);
        }
    }
}
