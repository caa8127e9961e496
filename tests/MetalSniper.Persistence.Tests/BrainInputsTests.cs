using Dapper;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Persistence.Tests;

/// <summary>Migration 8 on a real SQLite file: the brain's input stream on a live feed is written once per (run, sequence) and reads back exactly.</summary>
public sealed class BrainInputsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ms-brain-inputs-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Delete(true);
    }

    [Fact]
    public async Task BarsAndEveryOrderEventKind_AreWrittenOnceInOrder_AndDecodeToEqualRecords()
    {
        var db = new Database(Path.Combine(_dir.FullName, "b.db"), TimeProvider.System);
        var t = new DateTimeOffset(2025, 9, 8, 14, 15, 0, TimeSpan.Zero);
        var id = new ClientOrderId("r1-B-O0000001");
        object[] items =
        [
            new Bar("XAUUSD", t, TimeSpan.FromMinutes(15), 3630.12m, 3633.5m, 3629.01m, 3632.255m, 0m, null, t.AddMinutes(15).AddMilliseconds(7)),
            new OrderAccepted(id, "5001/123", t.AddMinutes(15), t.AddMinutes(15)),
            new OrderModified(id, 3620.4m, null, 20m, t.AddMinutes(16), t.AddMinutes(16)),
            new OrderFilled(id, new Fill("0001f4e8.01", id, "XAUUSD", OrderSide.Sell, 20m, 3620.4m, new Money(1.09m, Currency.Usd), t.AddMinutes(17)), 0m, t.AddMinutes(17), t.AddMinutes(18)),
            new OrderCancelled(id, "withdrawn", t, t),
            new OrderRejected(id, "no", t, t),
            new OrderRequestRejected(id, "modify", "too late", t, t),
            new OrderDenied(id, new GateDenial("quote", DenyReason.SpreadTooWide, "spread 3 > 1") { Values = new Dictionary<string, string> { ["spread"] = "3" } }, t, t),
        ];
        var inputs = items.Select((item, i) => item is Bar b ? BrainInputs.ForBar(i + 1, b, "0") : BrainInputs.ForEvent(i + 1, (OrderEvent)item, "0,2")).ToList();
        await using (var w = new PersistenceWriter(db, 100, 100, NullLogger<PersistenceWriter>.Instance, e => throw e))
        {
            await w.EnqueueAsync(new PersistRunStarted("r1", t, "Service", "ib:XAUUSD", "ib-paper"), CancellationToken.None);
            foreach (var input in inputs.Concat(inputs))
            {
                await w.EnqueueAsync(new PersistBrainInput("r1", input), CancellationToken.None); // the second time: ignored
            }
        }

        using var c = db.OpenConnection();
        var read = BrainInputs.Read(c, "r1");
        read.ShouldBe(inputs);
        read.Select(BrainInputs.Decode).Select(Describe).ShouldBe(items.Select(Describe));
        BrainInputs.EarlierRuns(c, "ib-paper", "r2").ShouldBe(["r1"]);
        BrainInputs.EarlierRuns(c, "ib-live", "r2").ShouldBeEmpty();
        BrainInputs.LastBars(c, "ib-paper").ShouldBe(new Dictionary<string, DateTimeOffset> { ["XAUUSD"] = t.AddMinutes(15) });
    }

    [Fact]
    public void AnUnknownKindOrAPayloadThatDoesNotReadBack_IsRefused_NeverGuessed()
    {
        Should.Throw<InvalidDataException>(() => BrainInputs.Decode(new BrainInput(1, "OrderTeleported", "*", DateTimeOffset.UnixEpoch, "0", "{}")));
        Should.Throw<InvalidDataException>(() => BrainInputs.Decode(new BrainInput(2, "Bar", "XAUUSD", DateTimeOffset.UnixEpoch, "0", "{not json")));
    }

    /// <summary>Records compare by value, but a dictionary inside (a denial's values) by reference: compared as JSON-ish text instead.</summary>
    private static string Describe(object o) => o is OrderDenied d ? $"{d with { Denial = d.Denial with { Values = new Dictionary<string, string>() } }} {string.Join(",", d.Denial.Values)}" : o.ToString()!;
}
