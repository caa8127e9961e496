using System.Globalization;
using System.Threading.Channels;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Core.Positions;

namespace MetalSniper.Core.Orders;

/// <summary>
/// When an order triggers on a bar in the simulated broker (bar prices are mid prices). Shared with
/// the brain, which uses it to know whether a bar could fill one of its working orders and so
/// whether it must wait for the broker's view of that bar.
/// </summary>
public static class BarTriggers
{
    /// <summary>
    /// True when the order triggers on <paramref name="bar"/>; <paramref name="reference"/> is the
    /// price it triggers at before costs: the open for market orders and for gaps through a stop or
    /// a limit, otherwise the stop or limit price.
    /// </summary>
    /// <exception cref="InvalidOperationException">An unknown order type.</exception>
    public static bool TryTrigger(OrderType type, OrderSide side, decimal? limitPrice, decimal? stopPrice, Bar bar, out decimal reference)
    {
        ArgumentNullException.ThrowIfNull(bar);
        reference = 0m;
        switch (type)
        {
            case OrderType.Market:
                reference = bar.Open;
                return true;
            case OrderType.Stop when side == OrderSide.Buy:
                if (bar.High < stopPrice!.Value)
                {
                    return false;
                }

                reference = Math.Max(bar.Open, stopPrice.Value); // gap through: the open
                return true;
            case OrderType.Stop:
                if (bar.Low > stopPrice!.Value)
                {
                    return false;
                }

                reference = Math.Min(bar.Open, stopPrice.Value);
                return true;
            case OrderType.Limit when side == OrderSide.Buy:
                if (bar.Low > limitPrice!.Value)
                {
                    return false;
                }

                reference = Math.Min(bar.Open, limitPrice.Value);
                return true;
            case OrderType.Limit:
                if (bar.High < limitPrice!.Value)
                {
                    return false;
                }

                reference = Math.Max(bar.Open, limitPrice.Value);
                return true;
            default:
                throw new InvalidOperationException($"order type {type} is not supported by the simulated broker");
        }
    }
}
