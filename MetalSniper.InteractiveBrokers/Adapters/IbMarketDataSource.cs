using Microsoft.Extensions.Logging;
using System.Globalization;
using System.Threading.Channels;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Adapters;

/// <summary>
/// Live bars from Interactive Brokers: for each instrument a <c>reqHistoricalData</c> with <c>keepUpToDate</c>
/// (TWS-PROTOCOL.md §4.1, §4.6: message 90 updates the bar that is forming) in the strategy's bar size, MIDPOINT
/// (spot metals and FX have no trades). A bar is complete when an update for the next bar time arrives; it is then
/// yielded with its open time and interval, like a recorded bar, and goes through the same validation at ingest.
/// Subscriptions are made anew (new request ids) after every handshake and after 1101 (data lost). The forming bar of
/// the first answer seeds the first update. The complete bars of its history are delivered only after a resume point
/// (<see cref="ResumeAfter"/>: a restart whose brain re-executes the earlier runs gets the bars formed while it was down,
/// in order; after a reconnect, the bars formed while the link was down); without one the history is not delivered.
/// Bars stay in the venue's quote unit (<c>RawBar</c>'s contract: ingest divides by <see cref="Instrument.QuoteUnit"/>); they
/// pass through <see cref="IbPriceConverter.ToQuoteUnit"/>, and only instruments whose contract details agree with the
/// catalog (<see cref="IbContractBook"/>) are subscribed: one without is left out, logged and raised as a <see cref="Problem"/>.
/// </summary>
public sealed class IbMarketDataSource : IMarketDataSource
{
    private readonly IbSession _session;
    private readonly IInstrumentCatalog _instruments;
    private readonly IReadOnlyList<string> _symbols;
    private readonly TimeSpan _interval;
    private readonly ILogger<IbMarketDataSource> _logger;
    private readonly Channel<MarketDataRecord> _records = Channel.CreateUnbounded<MarketDataRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private readonly Dictionary<int, (string Symbol, IbPriceConverter Prices)> _requests = [];
    private readonly IbContractBook _contracts;
    private readonly Dictionary<string, TwsBar> _forming = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastCompleted = new(StringComparer.Ordinal);
    private long _line;

    /// <summary>
    /// Raised when a subscription's first answer arrives, with the close of its last complete bar (symbol; price in major units of
    /// the instrument currency; the bar's close time, UTC; the bar interval): the instrument's price at once, for the sentinel (an
    /// adopted position is valued before the next bar). The history itself is not fed to the strategy. Raised on the session's
    /// reader thread; handlers must not block.
    /// </summary>
    public event Action<string, decimal, DateTimeOffset, TimeSpan>? LastHistoricalClose;

    /// <summary>Creates the source; it subscribes on every connect of <paramref name="session"/>.</summary>
    /// <param name="session">The IB session.</param>
    /// <param name="instruments">Instrument catalog.</param>
    /// <param name="symbols">Symbols to stream.</param>
    /// <param name="interval">Bar size: 1, 5, 15 or 30 minutes, or 1 hour.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="contracts">The contract details book shared with the gateway (created before this source); null: the source keeps its own over <paramref name="symbols"/>.</param>
    /// <exception cref="ArgumentException">A bar size IB does not offer.</exception>
    public IbMarketDataSource(IbSession session, IInstrumentCatalog instruments, IReadOnlyList<string> symbols, TimeSpan interval, ILogger<IbMarketDataSource> logger,
        IbContractBook? contracts = null)
    {
        _session = session ?? throw new ArgumentNullException(nameof(session));
        _instruments = instruments ?? throw new ArgumentNullException(nameof(instruments));
        _symbols = symbols ?? throw new ArgumentNullException(nameof(symbols));
        _interval = interval;
        _logger = logger;
        BarSize = BarSizeSetting(interval);
        if (contracts is null)
        {
            contracts = new IbContractBook(session, instruments, symbols, session.Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<IbContractBook>.Instance);
            contracts.Problem += text => Problem?.Invoke(text);
        }

        _contracts = contracts;
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
    public string Name => "ib:" + string.Join('+', _symbols);

    /// <inheritdoc />
    public bool IsReplay => false;

    /// <summary>Raised when an instrument cannot be streamed (no agreeing contract details, a refused request).</summary>
    public event Action<string>? Problem;

    /// <summary>IB's bar size setting for the interval.</summary>
    public string BarSize { get; }

    /// <summary>
    /// The close time (UTC) of the last bar per symbol that the brain consumed before this process (null: none; the property
    /// null: no history is ever delivered). When set, a subscription's first answer delivers the complete bars of its history
    /// that close after it — or after the last bar this source completed, after a reconnect — in order, before the live updates.
    /// </summary>
    public Func<string, DateTimeOffset?>? ResumeAfter { get; init; }

    /// <summary>History bars delivered (bars formed while the process or the link was down).</summary>
    public long HistoryBarsDelivered { get; private set; }

    /// <inheritdoc />
    public async IAsyncEnumerable<MarketDataRecord> StreamAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var r in _records.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return r;
        }
    }

    /// <summary>IB's bar size text for an interval.</summary>
    /// <exception cref="ArgumentException">Not one of 1, 5, 15, 30 minutes or 1 hour.</exception>
    public static string BarSizeSetting(TimeSpan interval) => interval.TotalMinutes switch
    {
        1 => "1 min",
        5 => "5 mins",
        15 => "15 mins",
        30 => "30 mins",
        60 => "1 hour",
        _ => throw new ArgumentException($"no IB bar size for {interval}", nameof(interval)),
    };

    private Task SubscribeAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            foreach (var reqId in _requests.Keys)
            {
                TrySend(TwsRequests.CancelHistoricalData(reqId));
            }

            _requests.Clear();
            _forming.Clear();
            foreach (var symbol in _symbols)
            {
                if (!_contracts.TryGet(symbol, out var details, out var refusal))
                {
                    _logger.LogError("IB bars of {Symbol} not subscribed: {Reason}", symbol, refusal);
                    Problem?.Invoke($"IB bars of {symbol} not subscribed: {refusal}");
                    continue;
                }

                var reqId = _session.NextRequestId();
                _requests[reqId] = (symbol, details.Prices);
                var duration = _interval >= TimeSpan.FromMinutes(30) ? "2 D" : "1 D";
                TrySend(TwsRequests.ReqHistoricalData(reqId, details.Contract, "", BarSize, duration, false, "MIDPOINT", 2, true));
                _logger.LogInformation("Subscribed {Symbol} {BarSize} MIDPOINT bars (request {ReqId}, keepUpToDate)", symbol, BarSize, reqId);
            }
        }

        return Task.CompletedTask;
    }

    private void OnEvent(TwsEvent e)
    {
        switch (e)
        {
            case HistoricalDataEvent h:
                (string Symbol, decimal Close, DateTimeOffset CloseUtc)? seed = null;
                lock (_gate)
                {
                    if (_requests.TryGetValue(h.ReqId, out var request) && h.Bars.Count > 0)
                    {
                        DeliverHistory(request.Symbol, request.Prices, h.Bars);
                        _forming[request.Symbol] = h.Bars[^1];
                        if (h.Bars.Count >= 2)
                        {
                            // The last complete bar of the history: the price of the instrument now (a restart's adopted positions are
                            // valued at once, not after the next bar), never replayed into the strategy.
                            var last = h.Bars[^2];
                            seed = (request.Symbol, request.Prices.ToMajor(last.Close), Time(last.Date) + _interval);
                        }
                    }
                }

                if (seed is { } price)
                {
                    LastHistoricalClose?.Invoke(price.Symbol, price.Close, price.CloseUtc, _interval);
                }

                break;
            case HistoricalDataUpdateEvent u:
                lock (_gate)
                {
                    if (!_requests.TryGetValue(u.ReqId, out var request))
                    {
                        return;
                    }

                    if (_forming.TryGetValue(request.Symbol, out var forming) && forming.Date != u.Bar.Date && Time(u.Bar.Date) > Time(forming.Date))
                    {
                        Complete(request.Symbol, request.Prices, forming);
                    }

                    _forming[request.Symbol] = u.Bar;
                }

                break;
            case ErrorEvent err when err.Id > 0:
                lock (_gate)
                {
                    if (_requests.TryGetValue(err.Id, out var request))
                    {
                        _logger.LogError("IB market data request {ReqId} for {Symbol} failed: {Code} {Message}", err.Id, request.Symbol, err.Code, err.Message);
                    }
                }

                break;
        }
    }

    /// <summary>The complete bars of a first answer (all but the forming last) that close after the resume point, in order.</summary>
    private void DeliverHistory(string symbol, IbPriceConverter prices, IReadOnlyList<TwsBar> bars)
    {
        if (ResumeAfter is not { } resume)
        {
            return;
        }

        var after = _lastCompleted.TryGetValue(symbol, out var completed) ? completed : resume(symbol);
        if (after is not { } from)
        {
            return; // nothing consumed yet: the strategies start from the live bars
        }

        var delivered = 0;
        for (var i = 0; i < bars.Count - 1; i++)
        {
            if (Time(bars[i].Date) + _interval > from)
            {
                Complete(symbol, prices, bars[i]);
                delivered++;
            }
        }

        if (delivered > 0)
        {
            HistoryBarsDelivered += delivered;
            _logger.LogInformation("{Count} bar(s) of {Symbol} formed after {After:O} delivered from IB's history", delivered, symbol, from);
        }
    }

    private void Complete(string symbol, IbPriceConverter prices, TwsBar bar)
    {
        var open = Time(bar.Date);
        _lastCompleted[symbol] = open + _interval;
        var raw = new RawBar(Name, ++_line, symbol, open, _interval, prices.ToQuoteUnit(bar.Open), prices.ToQuoteUnit(bar.High), prices.ToQuoteUnit(bar.Low), prices.ToQuoteUnit(bar.Close),
            bar.Volume is { } v && v > 0 ? (double)v : 0d, null);
        if (!_records.Writer.TryWrite(new RawBarRecord(raw)))
        {
            throw new InvalidOperationException("IB market data channel is closed");
        }
    }

    /// <summary>Bar time: epoch seconds (formatDate 2) or "yyyyMMdd HH:mm:ss[ zone]" / "yyyyMMdd".</summary>
    private static DateTimeOffset Time(string date)
    {
        var t = date.Trim();
        if (long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch) && t.Length >= 9)
        {
            return DateTimeOffset.FromUnixTimeSeconds(epoch);
        }

        var parts = t.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length >= 2 && DateTime.TryParseExact($"{parts[0]} {parts[1]}", "yyyyMMdd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            var zone = parts.Length >= 3 && TimeZoneInfo.TryFindSystemTimeZoneById(parts[2], out var z) ? z : TimeZoneInfo.Utc;
            return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, zone), TimeSpan.Zero);
        }

        return DateTime.TryParseExact(parts.FirstOrDefault(), "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var day)
            ? new DateTimeOffset(day, TimeSpan.Zero)
            : throw new FormatException($"IB bar time '{date}' is not epoch seconds or yyyyMMdd HH:mm:ss");
    }

    private void TrySend(TwsOutgoingMessage message)
    {
        try
        {
            _session.Client.Send(message);
        }
        catch (Client.TwsNotConnectedException e)
        {
            _logger.LogWarning("IB market data request not sent ({Message}); it is made again on the next connect", e.Message);
        }
    }
}
