using System.Globalization;
using System.Text.Json;
using Dapper;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using Microsoft.Data.Sqlite;

namespace MetalSniper.Persistence;

/// <summary>One input of the brain on a live feed, as table <c>brain_inputs</c> keeps it.</summary>
/// <param name="Sequence">1, 2, … in the order the brain consumed its inputs in its run.</param>
/// <param name="Kind"><see cref="BrainInputs.BarKind"/>, or the order event's type name (<c>OrderFilled</c>, <c>OrderAccepted</c>, …).</param>
/// <param name="Symbol">The bar's symbol, a fill's symbol, or "*" for another order event.</param>
/// <param name="Utc">The bar's close time, or the event's time at the venue.</param>
/// <param name="Levels">The kill level each strategy of the brain saw with this input (comma-separated, in the strategies' order): what their <c>EntriesAllowed</c> answered.</param>
/// <param name="Payload">The bar or the event (JSON).</param>
public sealed record BrainInput(long Sequence, string Kind, string Symbol, DateTimeOffset Utc, string Levels, string Payload);

/// <summary>A decision row as recorded (what a re-execution of the brain must decide again).</summary>
/// <param name="DecisionId">Id.</param>
/// <param name="Source">Who decided.</param>
/// <param name="Symbol">Instrument.</param>
/// <param name="Kind">Kind label.</param>
/// <param name="Outcome">Taken, Vetoed or Denied.</param>
/// <param name="Reason">The reason text.</param>
public sealed record RecordedDecision(string DecisionId, string Source, string Symbol, string Kind, string Outcome, string Reason);

/// <summary>An order row as recorded (prices and quantity as last confirmed: a modification updates them).</summary>
/// <param name="ClientOrderId">Client order id.</param>
/// <param name="DecisionId">The decision that sent it.</param>
/// <param name="Symbol">Instrument.</param>
/// <param name="Side">Buy or Sell.</param>
/// <param name="Quantity">Quantity (invariant text).</param>
/// <param name="OrderType">Market, Limit, Stop, …</param>
/// <param name="LimitPrice">Limit price (invariant text), if any.</param>
/// <param name="StopPrice">Stop price (invariant text), if any.</param>
/// <param name="Purpose">Entry, ProtectiveStop, Exit, …</param>
/// <param name="Source">Who sent it.</param>
public sealed record RecordedOrder(string ClientOrderId, string DecisionId, string Symbol, string Side, string Quantity, string OrderType, string? LimitPrice, string? StopPrice,
    string Purpose, string Source);

/// <summary>
/// The brain's input stream on a live feed (migration 8, table <c>brain_inputs</c>): every bar it handed to the strategies and
/// every order event it applied, in the order it consumed them, written through the batched writer before the decisions they
/// lead to. A restart re-executes the earlier runs' streams through the same brain code, which restores the strategies'
/// indicators, phases and order ids, and the brain's own book, exactly (<c>SignalService</c>). This class encodes, decodes and
/// reads the rows.
/// </summary>
public static class BrainInputs
{
    /// <summary>The kind of a bar input.</summary>
    public const string BarKind = "Bar";

    private static readonly JsonSerializerOptions Json = RecordJson.Combined;

    /// <summary>A bar input.</summary>
    public static BrainInput ForBar(long sequence, Bar bar, string levels)
    {
        ArgumentNullException.ThrowIfNull(bar);
        return new BrainInput(sequence, BarKind, bar.Symbol, bar.CloseTimeUtc, levels, JsonSerializer.Serialize(bar, Json));
    }

    /// <summary>An order event input.</summary>
    public static BrainInput ForEvent(long sequence, OrderEvent orderEvent, string levels)
    {
        ArgumentNullException.ThrowIfNull(orderEvent);
        var symbol = orderEvent is OrderFilled f ? f.Fill.Symbol : "*";
        return new BrainInput(sequence, orderEvent.GetType().Name, symbol, orderEvent.EventTimeUtc, levels, JsonSerializer.Serialize(orderEvent, orderEvent.GetType(), Json));
    }

    /// <summary>The recorded bar or order event.</summary>
    /// <exception cref="InvalidDataException">An unknown kind, or a payload that does not read back: refused, never guessed.</exception>
    public static object Decode(BrainInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var type = input.Kind switch
        {
            BarKind => typeof(Bar),
            nameof(OrderAccepted) => typeof(OrderAccepted),
            nameof(OrderRejected) => typeof(OrderRejected),
            nameof(OrderRequestRejected) => typeof(OrderRequestRejected),
            nameof(OrderCancelled) => typeof(OrderCancelled),
            nameof(OrderModified) => typeof(OrderModified),
            nameof(OrderFilled) => typeof(OrderFilled),
            nameof(OrderDenied) => typeof(OrderDenied),
            _ => throw new InvalidDataException($"brain input {input.Sequence}: unknown kind '{input.Kind}'"),
        };
        try
        {
            return JsonSerializer.Deserialize(input.Payload, type, Json) ?? throw new InvalidDataException($"brain input {input.Sequence} ({input.Kind}): an empty payload");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"brain input {input.Sequence} ({input.Kind}) does not read back: {e.Message}", e);
        }
    }

    /// <summary>
    /// The earlier service runs against <paramref name="broker"/> that recorded inputs, in the order they ran (without
    /// <paramref name="currentRunId"/>).
    /// </summary>
    public static IReadOnlyList<string> EarlierRuns(SqliteConnection connection, string broker, string currentRunId) =>
        [.. connection.Query<string>("""
            SELECT r.run_id FROM runs r
            WHERE r.broker = @broker AND r.mode = 'Service' AND r.run_id <> @currentRunId AND EXISTS (SELECT 1 FROM brain_inputs b WHERE b.run_id = r.run_id)
            ORDER BY r.rowid
            """, new { broker, currentRunId })];

    /// <summary>The recorded inputs of a run, in consumption order.</summary>
    public static IReadOnlyList<BrainInput> Read(SqliteConnection connection, string runId) =>
        [.. connection.Query<(long Seq, string Kind, string Symbol, string Utc, string Levels, string Payload)>(
                "SELECT seq, kind, symbol, utc, levels, payload FROM brain_inputs WHERE run_id=@runId ORDER BY seq", new { runId })
            .Select(r => new BrainInput(r.Seq, r.Kind, r.Symbol, Time(r.Utc), r.Levels, r.Payload))];

    /// <summary>The decisions a run recorded, by id.</summary>
    public static IReadOnlyDictionary<string, RecordedDecision> Decisions(SqliteConnection connection, string runId) =>
        connection.Query<RecordedDecision>("SELECT decision_id AS DecisionId, source AS Source, symbol AS Symbol, kind AS Kind, outcome AS Outcome, reason AS Reason FROM decisions WHERE run_id=@runId",
            new { runId }).ToDictionary(d => d.DecisionId, StringComparer.Ordinal);

    /// <summary>The orders a run recorded, by client order id.</summary>
    public static IReadOnlyDictionary<string, RecordedOrder> Orders(SqliteConnection connection, string runId) =>
        connection.Query<RecordedOrder>("""
            SELECT client_order_id AS ClientOrderId, decision_id AS DecisionId, symbol AS Symbol, side AS Side, quantity AS Quantity, order_type AS OrderType,
                   limit_price AS LimitPrice, stop_price AS StopPrice, purpose AS Purpose, source AS Source
            FROM orders WHERE run_id=@runId
            """, new { runId }).ToDictionary(o => o.ClientOrderId, StringComparer.Ordinal);

    /// <summary>The close time of the last bar per symbol that the brain consumed in the earlier runs against <paramref name="broker"/>.</summary>
    public static IReadOnlyDictionary<string, DateTimeOffset> LastBars(SqliteConnection connection, string broker) =>
        connection.Query<(string Symbol, string Utc)>("""
            SELECT b.symbol, MAX(b.utc) FROM brain_inputs b JOIN runs r ON r.run_id = b.run_id
            WHERE r.broker = @broker AND r.mode = 'Service' AND b.kind = 'Bar'
            GROUP BY b.symbol
            """, new { broker }).ToDictionary(x => x.Symbol, x => Time(x.Utc), StringComparer.Ordinal);

    private static DateTimeOffset Time(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
