using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using MetalSniper.Core.Instruments;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;
using Microsoft.Extensions.Logging;

namespace MetalSniper.InteractiveBrokers.Adapters;

/// <summary>
/// What IB's contract details say about one of our instruments (contractDetails (10), TWS-PROTOCOL.md §4.4), kept once they
/// agree with our catalog.
/// </summary>
/// <param name="Symbol">Our symbol (AAL.L).</param>
/// <param name="Contract">The contract to send: our mapping (<see cref="IbContracts.For"/>) with IB's conId ([12]).</param>
/// <param name="Reported">The contract as IB reported it ([2]–[12], [14], [20]).</param>
/// <param name="PriceMagnifier">[17] priceMagnifier: IB units per major unit (100 for LSE pence and JSE cents).</param>
/// <param name="MinTick">[13] minTick, in IB's unit for the contract (pence for LSE).</param>
/// <param name="LongName">[19] longName.</param>
/// <param name="MarketRuleIds">[34] marketRuleIds (CSV, one per valid exchange), as IB gives them.</param>
/// <param name="ValidExchanges">[16] validExchanges (CSV).</param>
/// <param name="Prices">The converter between our major units and IB's unit for this contract.</param>
/// <param name="ResolvedAtUtc">When the answer arrived (session clock, UTC).</param>
public sealed record IbContractInfo(string Symbol, TwsContract Contract, TwsContract Reported, int PriceMagnifier, decimal MinTick, string LongName, string MarketRuleIds,
    string ValidExchanges, IbPriceConverter Prices, DateTimeOffset ResolvedAtUtc);

/// <summary>
/// Contract details per instrument, requested (<c>reqContractDetails</c>, TWS-PROTOCOL.md §4.1) for every instrument of
/// the book after every handshake — before the handlers registered after it (the gateway's reconciliation, the market
/// data subscriptions) run — and again on demand (<see cref="ResolveAsync"/>, <see cref="RequestRefresh"/>).
/// <para>Fails closed: an instrument is usable (<see cref="TryGet"/>) only when IB answered with exactly one contract
/// whose symbol, security type, currency and listing exchange are the ones we asked for, with a positive minTick, and
/// whose priceMagnifier equals our catalog's quote unit (<see cref="PriceUnit.UnitsPerMajor"/>: 100 for GBp/ZAc, 1
/// otherwise). No answer (error 200, a timeout), an ambiguous answer or a disagreement leaves it refused with the reason
/// (and a <see cref="Problem"/>); nothing is guessed. A known-good answer is kept when a later refresh merely times out
/// (contract details do not change within a day); a later definite answer replaces it.</para>
/// Thread-safe.
/// </summary>
public sealed class IbContractBook
{
    private readonly IbSession _session;
    private readonly IInstrumentCatalog _instruments;
    private readonly TimeProvider _clock;
    private readonly ILogger<IbContractBook> _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, IbContractInfo> _known = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _refused = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<int, PendingRequest> _pending = [];

    /// <summary>Creates the book; it requests the details of <paramref name="symbols"/> on every connect of <paramref name="session"/>.</summary>
    /// <param name="session">The IB session.</param>
    /// <param name="instruments">Our catalog.</param>
    /// <param name="symbols">The instruments to resolve (those the host trades or streams).</param>
    /// <param name="clock">Clock (resolve times).</param>
    /// <param name="logger">Logger.</param>
    /// <exception cref="KeyNotFoundException">A symbol is not in the catalog.</exception>
    public IbContractBook(IbSession session, IInstrumentCatalog instruments, IEnumerable<string> symbols, TimeProvider clock, ILogger<IbContractBook> logger)
    {
        _session = session ?? throw new ArgumentNullException(nameof(session));
        _instruments = instruments ?? throw new ArgumentNullException(nameof(instruments));
        ArgumentNullException.ThrowIfNull(symbols);
        _clock = clock ?? throw new ArgumentNullException(nameof(clock));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        Symbols = [.. symbols.Select(s => instruments.Get(s).Symbol).Distinct(StringComparer.OrdinalIgnoreCase)];
        foreach (var s in Symbols)
        {
            _refused[s] = $"no contract details for {s} yet (requested after the next handshake)";
        }

        session.EventReceived += OnEvent;
        session.Connected += ResolveAllAsync;
    }

    /// <summary>The instruments this book resolves.</summary>
    public IReadOnlyList<string> Symbols { get; }

    /// <summary>Raised when an instrument cannot be used (no answer, ambiguous, disagreeing with the catalog): the text says which and why.</summary>
    public event Action<string>? Problem;

    /// <summary>The instruments resolved so far.</summary>
    public IReadOnlyCollection<IbContractInfo> Known
    {
        get
        {
            lock (_gate)
            {
                return [.. _known.Values];
            }
        }
    }

    /// <summary>The details of <paramref name="symbol"/>, or why it is refused.</summary>
    public bool TryGet(string symbol, [NotNullWhen(true)] out IbContractInfo? info, [NotNullWhen(false)] out string? refusal)
    {
        ArgumentNullException.ThrowIfNull(symbol);
        lock (_gate)
        {
            if (_known.TryGetValue(symbol, out info))
            {
                refusal = null;
                return true;
            }

            refusal = _refused.TryGetValue(symbol, out var why) ? why : $"{symbol} is not among the instruments whose IB contract details are kept ({string.Join(", ", Symbols)})";
            return false;
        }
    }

    /// <summary>
    /// Requests the details of <paramref name="symbol"/> now and records the outcome; returns the details, or null when refused
    /// (the reason is then in <see cref="TryGet"/> and was raised as a <see cref="Problem"/>).
    /// </summary>
    /// <exception cref="TwsNotConnectedException">Not connected.</exception>
    public async Task<IbContractInfo?> ResolveAsync(string symbol, CancellationToken cancellationToken)
    {
        var instrument = _instruments.Get(symbol);
        var wanted = IbContracts.For(instrument);
        var reqId = _session.NextRequestId();
        var pending = new PendingRequest();
        lock (_gate)
        {
            _pending[reqId] = pending;
        }

        string? error;
        List<TwsContractDetails> details;
        var timeout = _session.Settings.ReconcileTimeout;
        try
        {
            _session.Client.Send(TwsRequests.ReqContractDetails(reqId, wanted));
            error = await pending.Done.Task.WaitAsync(timeout, _clock, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                details = [.. pending.Details];
            }
        }
        catch (TimeoutException)
        {
            return Refuse(instrument.Symbol, string.Create(CultureInfo.InvariantCulture,
                $"no contract details for {instrument.Symbol}: no complete answer within {timeout.TotalSeconds:0} s (unknown, not empty)"), keepKnown: true);
        }
        catch (LinkLostException e)
        {
            return Refuse(instrument.Symbol, $"no contract details for {instrument.Symbol}: {e.Message}", keepKnown: true);
        }
        finally
        {
            lock (_gate)
            {
                _pending.Remove(reqId);
            }
        }

        if (details.Count == 0)
        {
            return Refuse(instrument.Symbol, error is null
                ? $"no contract details for {instrument.Symbol}: IB answered with none"
                : $"no contract details for {instrument.Symbol}: {error}", keepKnown: false);
        }

        if (details.Count > 1)
        {
            return Refuse(instrument.Symbol, string.Create(CultureInfo.InvariantCulture,
                $"contract details for {instrument.Symbol} are ambiguous: IB answered with {details.Count} contracts (conIds {string.Join(", ", details.Select(d => d.Contract.ConId))})"), keepKnown: false);
        }

        var d = details[0];
        if (Disagreement(instrument, wanted, d) is { } why)
        {
            return Refuse(instrument.Symbol, $"IB contract details for {instrument.Symbol} disagree with our catalog: {why}; {instrument.Symbol} is refused (no orders, no data)", keepKnown: false);
        }

        var info = new IbContractInfo(instrument.Symbol, wanted with { ConId = d.Contract.ConId }, d.Contract, d.PriceMagnifier, (decimal)d.MinTick, d.LongName, d.MarketRuleIds,
            d.ValidExchanges, new IbPriceConverter(instrument, d.PriceMagnifier, (decimal)d.MinTick), _clock.GetUtcNow());
        lock (_gate)
        {
            _known[instrument.Symbol] = info;
            _refused.Remove(instrument.Symbol);
        }

        _logger.LogInformation("IB contract details of {Symbol}: conId {ConId} {Exchange}/{Primary} {Currency}, priceMagnifier {Magnifier}, minTick {MinTick}, {LongName}, market rules {Rules}",
            instrument.Symbol, d.Contract.ConId, d.Contract.Exchange, d.Contract.PrimaryExchange, d.Contract.Currency, d.PriceMagnifier, d.MinTick, d.LongName, d.MarketRuleIds);
        return info;
    }

    /// <summary>
    /// Requests <paramref name="symbol"/>'s details again in the background (after an order was refused for want of them);
    /// a failure is logged and raised as a <see cref="Problem"/>, never lost.
    /// </summary>
    public void RequestRefresh(string symbol)
    {
        if (!_session.Client.IsConnected)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await ResolveAsync(symbol, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Not lost: logged and raised; the instrument stays refused until a later request succeeds.
                _logger.LogWarning("IB contract details of {Symbol} not requested again: {Message}", symbol, e.Message);
                Problem?.Invoke($"IB contract details of {symbol} could not be requested again: {e.Message}");
            }
        });
    }

    /// <summary>Why IB's details are not the contract our catalog means, or null when they agree.</summary>
    private static string? Disagreement(Instrument instrument, TwsContract wanted, TwsContractDetails d)
    {
        var c = d.Contract;
        var problems = new List<string>();
        if (!string.Equals(c.Symbol, wanted.Symbol, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"symbol {c.Symbol}, expected {wanted.Symbol}");
        }

        if (!string.Equals(c.SecType, wanted.SecType, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"secType {c.SecType}, expected {wanted.SecType}");
        }

        if (!string.Equals(c.Currency, wanted.Currency, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"currency {c.Currency}, expected {wanted.Currency}");
        }

        if (wanted.SecType == "STK")
        {
            var listing = wanted.PrimaryExchange.Length > 0 ? wanted.PrimaryExchange : wanted.Exchange;
            if (!string.Equals(c.PrimaryExchange, listing, StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"primary exchange '{c.PrimaryExchange}', expected {listing}");
            }
        }

        if (!(double.IsFinite(d.MinTick) && d.MinTick > 0))
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"minTick {d.MinTick} is not a positive price increment"));
        }

        var unit = instrument.QuoteUnit;
        if (d.PriceMagnifier != unit.UnitsPerMajor)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"priceMagnifier {d.PriceMagnifier}, but our catalog quotes {instrument.Symbol} in {unit.Name} ({unit.UnitsPerMajor} per {instrument.Currency.Code}), so IB's prices would be off by a factor of {(d.PriceMagnifier > 0 ? (double)unit.UnitsPerMajor / d.PriceMagnifier : double.NaN)}"));
        }

        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    private IbContractInfo? Refuse(string symbol, string reason, bool keepKnown)
    {
        lock (_gate)
        {
            if (keepKnown && _known.ContainsKey(symbol))
            {
                _logger.LogWarning("{Reason}; the details known since {At} stay in use", reason, _known[symbol].ResolvedAtUtc);
                return _known[symbol];
            }

            _known.Remove(symbol);
            _refused[symbol] = reason;
        }

        _logger.LogError("{Reason}", reason);
        Problem?.Invoke(reason);
        return null;
    }

    private async Task ResolveAllAsync(CancellationToken ct)
    {
        var outcomes = await Task.WhenAll(Symbols.Select(async s =>
        {
            try
            {
                return await ResolveAsync(s, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TwsNotConnectedException or TwsSendQueueFullException)
            {
                return Refuse(s, $"no contract details for {s}: the request was not sent ({e.Message})", keepKnown: true);
            }
        })).ConfigureAwait(false);
        _logger.LogInformation("IB contract details: {Known} of {Count} instruments usable", outcomes.Count(o => o is not null), Symbols.Count);
    }

    private void OnEvent(TwsEvent e)
    {
        lock (_gate)
        {
            switch (e)
            {
                case ContractDetailsEvent d when _pending.TryGetValue(d.ReqId, out var p):
                    p.Details.Add(d.Details);
                    break;
                case ContractDetailsEndEvent end when _pending.TryGetValue(end.ReqId, out var p):
                    p.Done.TrySetResult(null);
                    break;
                case ErrorEvent err when err.Code is < 2100 or >= 2200 && _pending.TryGetValue(err.Id, out var p):
                    p.Done.TrySetResult(string.Create(CultureInfo.InvariantCulture, $"IB error {err.Code} {err.Message}"));
                    break;
                case DisconnectedEvent lost:
                    foreach (var p in _pending.Values)
                    {
                        p.Done.TrySetException(new LinkLostException($"the link went down before the answer was complete ({lost.Reason}): unknown, not empty"));
                    }

                    break;
            }
        }
    }

    /// <summary>One reqContractDetails in flight: the details so far, and its end (null) or IB's error text.</summary>
    private sealed class PendingRequest
    {
        public List<TwsContractDetails> Details { get; } = [];

        public TaskCompletionSource<string?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The link went down while a request was in flight.</summary>
    private sealed class LinkLostException(string message) : Exception(message);
}
