using System.Globalization;
using Dapper;
using MetalSniper.Core.Orders;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Host.Brokers;

/// <summary>
/// What the earlier runs against one broker left open in our database (issue 18 item 1): the orders not finished when
/// their run ended (a SIGTERM leaves the protective stops working at IB; a crash leaves whatever was working) and our last
/// recorded position per symbol. The IB gateway takes both over at start, so a restart neither books our own stops as
/// external nor splits our book from IB's.
/// </summary>
public static class EarlierRuns
{
    /// <summary>Reads the open orders and the last positions of every earlier run whose broker was <paramref name="broker"/>.</summary>
    /// <param name="connection">An open connection to our database.</param>
    /// <param name="broker">The gateway's name as the runs table records it ("ib-paper", "ib-live").</param>
    /// <param name="nowUtc">When they are taken over.</param>
    /// <exception cref="InvalidDataException">A row that cannot be read back (an unknown enum name, a bad number): refused, never guessed.</exception>
    public static EarlierRunState Load(SqliteConnection connection, string broker, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var rows = connection.Query<OrderRow>("""
            SELECT o.client_order_id AS ClientOrderId, o.decision_id AS DecisionId, o.symbol AS Symbol, o.side AS Side, o.quantity AS Quantity,
                   o.order_type AS OrderType, o.limit_price AS LimitPrice, o.stop_price AS StopPrice, o.purpose AS Purpose,
                   o.time_in_force AS TimeInForce, o.source AS Source, o.status AS Status, o.broker_order_id AS BrokerOrderId, o.decision_utc AS DecisionUtc,
                   CAST((SELECT group_concat(f.quantity, ';') FROM fills f WHERE f.client_order_id = o.client_order_id) AS TEXT) AS Fills
            FROM orders o JOIN runs r ON r.run_id = o.run_id
            WHERE r.broker = @broker AND o.status IN ('PendingSubmit','Working','PartiallyFilled')
            ORDER BY o.rowid
            """, new { broker }).ToList();
        var orders = rows.Select(r => ToResumed(r, nowUtc)).ToList();
        var positions = connection.Query<(string Symbol, string Quantity, string AveragePrice, string UpdatedUtc)>("""
            SELECT p.symbol, p.quantity, p.average_price, p.updated_utc
            FROM positions p JOIN runs r ON r.run_id = p.run_id
            WHERE r.broker = @broker
            ORDER BY r.rowid, p.updated_utc
            """, new { broker }).ToList();
        var latest = new Dictionary<string, (decimal Quantity, decimal Average)>(StringComparer.Ordinal);
        var recorded = DateTimeOffset.MinValue;
        foreach (var p in positions)
        {
            latest[p.Symbol] = (Number(p.Quantity, "positions.quantity"), Number(p.AveragePrice, "positions.average_price"));
            var at = DateTimeOffset.Parse(p.UpdatedUtc, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            recorded = at > recorded ? at : recorded;
        }

        return new EarlierRunState(orders, [.. latest.Where(kv => kv.Value.Quantity != 0m).Select(kv => new BrokerPosition(kv.Key, kv.Value.Quantity, kv.Value.Average))], recorded);
    }

    private static OrderResumed ToResumed(OrderRow r, DateTimeOffset nowUtc)
    {
        var filled = (r.Fills ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).Sum(q => Number(q, "fills.quantity"));
        var order = new SubmitOrder(new ClientOrderId(r.ClientOrderId), r.DecisionId, r.Symbol, Enum<OrderSide>(r.Side), Number(r.Quantity, "orders.quantity"), Enum<OrderType>(r.OrderType),
            r.LimitPrice is null ? null : Number(r.LimitPrice, "orders.limit_price"), r.StopPrice is null ? null : Number(r.StopPrice, "orders.stop_price"), Enum<OrderPurpose>(r.Purpose),
            DateTimeOffset.Parse(r.DecisionUtc, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal), Enum<TimeInForce>(r.TimeInForce), r.Source);
        return new OrderResumed(order, Enum<OrderStatus>(r.Status), filled, r.BrokerOrderId ?? "", nowUtc, nowUtc);
    }

    private static decimal Number(string text, string what) =>
        decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new InvalidDataException($"{what}: '{text}' is not a number");

    private static T Enum<T>(string text)
        where T : struct, System.Enum =>
        System.Enum.TryParse<T>(text, ignoreCase: false, out var v) ? v : throw new InvalidDataException($"'{text}' is not a {typeof(T).Name}");

    /// <summary>An orders row as read (a class with setters: Dapper maps each value, whatever type SQLite reports for an empty result).</summary>
    private sealed class OrderRow
    {
        public string ClientOrderId { get; set; } = "";

        public string DecisionId { get; set; } = "";

        public string Symbol { get; set; } = "";

        public string Side { get; set; } = "";

        public string Quantity { get; set; } = "";

        public string OrderType { get; set; } = "";

        public string? LimitPrice { get; set; }

        public string? StopPrice { get; set; }

        public string Purpose { get; set; } = "";

        public string TimeInForce { get; set; } = "";

        public string Source { get; set; } = "";

        public string Status { get; set; } = "";

        public string? BrokerOrderId { get; set; }

        public string DecisionUtc { get; set; } = "";

        public string? Fills { get; set; }
    }
}
