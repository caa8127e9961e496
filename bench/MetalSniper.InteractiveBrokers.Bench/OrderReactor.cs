using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Bench;

/// <summary>
/// The "strategy" side of the benchmark: the single reader of <see cref="TwsClient.Events"/>. On the armed sample's bid
/// tickPrice it stamps the read time, builds a far-from-market LMT placeOrder and hands it to
/// <see cref="TwsClient.Send"/> at once, then stamps again. It also reports when the fake's answer to the order (or to
/// its cancel) has fully arrived, so the driver never starts the next sample while the previous one still has traffic
/// on the socket.
/// </summary>
internal sealed class OrderReactor
{
    /// <summary>Price step between samples; every sample's bid is unique within a phase.</summary>
    public const double PriceStep = 0.01;

    private readonly TwsClient _client;
    private readonly TwsContract _contract;
    private readonly string _account;
    private readonly int _reqId;
    private readonly double _priceBase;
    private readonly bool _cancelEach;
    private readonly string _refPrefix;
    private readonly Channel<int> _settled = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<int, int> _errorCodes = [];
    private int _armed = -1;

    public OrderReactor(TwsClient client, TwsContract contract, string account, int reqId, double priceBase, int samples, bool cancelEach, string refPrefix)
    {
        _client = client;
        _contract = contract;
        _account = account;
        _reqId = reqId;
        _priceBase = priceBase;
        _cancelEach = cancelEach;
        _refPrefix = refPrefix;
        IngestedAt = new DateTimeOffset[samples];
        ReadAt = new long[samples];
        SentAt = new long[samples];
        OrderIds = new int[samples];
    }

    /// <summary>Per sample: our reader's receive stamp of the tick frame (client clock = the shared timeline).</summary>
    public DateTimeOffset[] IngestedAt { get; }

    /// <summary>Per sample: Stopwatch stamp when this consumer took the tick event off the channel.</summary>
    public long[] ReadAt { get; }

    /// <summary>Per sample: Stopwatch stamp when <see cref="TwsClient.Send"/> returned (order queued to the writer).</summary>
    public long[] SentAt { get; }

    /// <summary>Per sample: the order id used.</summary>
    public int[] OrderIds { get; }

    /// <summary>Bid ticks that did not belong to the armed sample (initial snapshots, repeats).</summary>
    public int IgnoredTicks { get; private set; }

    /// <summary>Error/notice codes seen (read after <see cref="RunAsync"/> has completed).</summary>
    public IReadOnlyDictionary<int, int> ErrorCodes => _errorCodes;

    /// <summary>Completes when the fake has answered reqMktData (tickReqParams).</summary>
    public Task Subscribed => _subscribed.Task;

    /// <summary>The bid of sample <paramref name="index"/>.</summary>
    public double BidOf(int index) => Math.Round(_priceBase + (index * PriceStep), 2);

    /// <summary>The sample index a bid belongs to.</summary>
    public int IndexOf(double bid) => (int)Math.Round((bid - _priceBase) / PriceStep);

    /// <summary>The orderRef of sample <paramref name="index"/>.</summary>
    public string OrderRefOf(int index) => string.Create(CultureInfo.InvariantCulture, $"{_refPrefix}-{index}");

    /// <summary>Makes the next bid tick of sample <paramref name="index"/> trigger an order.</summary>
    public void Arm(int index) => Volatile.Write(ref _armed, index);

    /// <summary>Reads events until the client is disposed (the channel completes).</summary>
    public async Task RunAsync()
    {
        var reader = _client.Events;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var e))
                {
                    Handle(e);
                }
            }

            _settled.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            // Not swallowed: the driver's waits fail with this exception, and the task faults with it.
            _settled.Writer.TryComplete(ex);
            _subscribed.TrySetException(ex);
            throw;
        }
    }

    /// <summary>Waits until the fake's answer to <paramref name="orderId"/> (its status, or the cancel's 202) has been read.</summary>
    /// <exception cref="TimeoutException">Nothing within <paramref name="timeout"/>.</exception>
    public async Task WaitSettledAsync(int orderId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutCts = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
        try
        {
            int settled;
            do
            {
                settled = await _settled.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
            }
            while (settled != orderId);
        }
        catch (OperationCanceledException ex) when (timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"order {orderId}: no {(_cancelEach ? "cancel confirmation (202)" : "orderStatus")} within {timeout.TotalMilliseconds:0} ms", ex);
        }
    }

    private void Handle(TwsEvent e)
    {
        switch (e)
        {
            case TickPriceEvent tick when tick.ReqId == _reqId && tick.TickType == 1:
                OnBid(tick);
                break;
            case TickReqParamsEvent p when p.ReqId == _reqId:
                _subscribed.TrySetResult();
                break;
            case OrderStatusEvent status when !_cancelEach:
                _settled.Writer.TryWrite(status.OrderId);
                break;
            case ErrorEvent error:
                _errorCodes[error.Code] = _errorCodes.GetValueOrDefault(error.Code) + 1;
                if (error.Code == 202 && _cancelEach)
                {
                    _settled.Writer.TryWrite(error.Id);
                }

                break;
        }
    }

    private void OnBid(TickPriceEvent tick)
    {
        var readAt = Stopwatch.GetTimestamp();
        var armed = Volatile.Read(ref _armed);
        var index = IndexOf(tick.Price);
        if (armed < 0 || index != armed)
        {
            IgnoredTicks++;
            return;
        }

        Volatile.Write(ref _armed, -1);
        var orderId = _client.NextOrderId();
        var order = new TwsOrder
        {
            Action = TwsOrderAction.Buy,
            TotalQuantity = 1m,
            OrderType = TwsOrderType.Limit,
            LmtPrice = Math.Round(tick.Price / 2, 2), // far below the market: never fills
            Tif = "DAY",
            Account = _account,
            OrderRef = OrderRefOf(index),
            OutsideRth = true,
        };
        _client.Send(TwsRequests.PlaceOrder(orderId, _contract, order));
        var sentAt = Stopwatch.GetTimestamp();
        IngestedAt[index] = tick.ReceivedAt;
        ReadAt[index] = readAt;
        SentAt[index] = sentAt;
        OrderIds[index] = orderId;
    }
}
