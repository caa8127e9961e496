using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MetalSniper.Core.Alerts;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;

namespace MetalSniper.Persistence.Tests;

/// <summary>
/// The journal's and the writers' JSON: the generated metadata serves every record type it declares (it once did not: the
/// options were built before the generated context existed, and every entry went through reflection), and it writes exactly
/// what reflection wrote, so journals written before and after read the same.
/// </summary>
public sealed class RecordJsonTests
{
    private static readonly DateTimeOffset T = new(2025, 9, 8, 14, 15, 0, TimeSpan.Zero);
    private static readonly ClientOrderId Id = new("r1-B-O0000001");

    public static TheoryData<string> DeclaredTypes()
    {
        var data = new TheoryData<string>();
        foreach (var a in typeof(RecordJsonContext).GetCustomAttributesData().Where(a => a.AttributeType == typeof(JsonSerializableAttribute)))
        {
            data.Add(((Type)a.ConstructorArguments[0].Value!).AssemblyQualifiedName!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DeclaredTypes))]
    public void EveryDeclaredRecordType_IsServedByTheGeneratedMetadata_NotByReflection(string typeName)
    {
        var type = Type.GetType(typeName, throwOnError: true)!;

        var info = RecordJson.Combined.GetTypeInfo(type);

        info.OriginatingResolver.ShouldBeOfType<RecordJsonContext>($"{type.Name} must be serialized by the generated metadata");
    }

    [Fact]
    public void TheJournalsPayloads_AreWrittenExactlyAsReflectionWroteThem()
    {
        var reflection = new JsonSerializerOptions
        {
            WriteIndented = false,
            Converters = { new JsonStringEnumConverter() },
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        var submit = new SubmitOrder(Id, "r1-B-D0000001", "XAUUSD", OrderSide.Buy, 20m, OrderType.Stop, null, 3633.5m, OrderPurpose.Entry, T, TimeInForce.Gtc, "strategy:metals");
        object[] payloads =
        [
            new DecisionRecord("r1-B-D0000001", "strategy:metals", "XAUUSD", DecisionKind.OpenHedge, DecisionOutcome.Taken, "spread \"wide\" < 3 — ok",
                new Dictionary<string, string> { ["atr"] = "1.25", ["z"] = "-0.5" }, T, T.AddMilliseconds(3), "hedge"),
            submit,
            new ModifyOrder(Id, "r1-B-D0000002", 3620.4m, null, 20m),
            new CancelOrder(Id, "r1-B-D0000003", "turn"),
            new OrderAccepted(Id, "5001/123", T, T.AddMilliseconds(1)),
            new OrderModified(Id, 3620.4m, null, 20m, T, T),
            new OrderFilled(Id, new Fill("0001f4e8.01", Id, "XAUUSD", OrderSide.Sell, 20m, 3620.4m, new Money(1.09m, Currency.Usd), T), 0m, T, T),
            new OrderCancelled(Id, "withdrawn", T, T),
            new OrderRejected(Id, "no", T, T),
            new Alert(AlertLevel.Red, "KillSwitch", "rapid-loss L2", T),
        ];

        foreach (var payload in payloads)
        {
            var generated = JsonSerializer.Serialize(payload, payload.GetType(), RecordJson.Combined);
            var reflected = JsonSerializer.Serialize(payload, payload.GetType(), reflection);
            generated.ShouldBe(reflected, payload.GetType().Name);
        }
    }
}
