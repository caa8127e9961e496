using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MetalSniper.Core.Alerts;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Orders;
using MetalSniper.Sentinel.Halts;

namespace MetalSniper.Persistence;

/// <summary>
/// Compile-time JSON metadata (System.Text.Json source generation) for what the engine journals (Journal/) and persists on every
/// decision, order and fill: no reflection and no code emitted at run time, so a replay's writer does not spend its first
/// seconds generating serializers. Enums as names, as the journal has always written them. Any other payload (an alert's
/// anonymous details, a configuration snapshot) falls back to reflection through <see cref="RecordJson.Combined"/>.
/// </summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true, WriteIndented = false)]
[JsonSerializable(typeof(DecisionRecord))]
[JsonSerializable(typeof(SubmitOrder))]
[JsonSerializable(typeof(CancelOrder))]
[JsonSerializable(typeof(ModifyOrder))]
[JsonSerializable(typeof(OrderAccepted))]
[JsonSerializable(typeof(OrderRejected))]
[JsonSerializable(typeof(OrderRequestRejected))]
[JsonSerializable(typeof(OrderCancelled))]
[JsonSerializable(typeof(OrderModified))]
[JsonSerializable(typeof(OrderFilled))]
[JsonSerializable(typeof(OrderDenied))]
[JsonSerializable(typeof(BrokerPositionAdopted))]
[JsonSerializable(typeof(BookPositionRestored))]
[JsonSerializable(typeof(OrderResumed))]
[JsonSerializable(typeof(Alert))]
[JsonSerializable(typeof(HaltRecord))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(MetalSniper.Core.MarketData.Bar))]
internal sealed partial class RecordJsonContext : JsonSerializerContext;

/// <summary>The journal's and the writers' JSON options.</summary>
/// <remarks>
/// A class of its own, not a static property of <see cref="RecordJsonContext"/>: there its initializer could run before the
/// generated <c>Default</c>'s (the order of static initializers across a partial class's files is the compiler's), and
/// <c>JsonTypeInfoResolver.Combine</c> skips a null resolver, so every record was serialized by reflection (members
/// read through emitted code) instead of by the generated metadata. Here <see cref="RecordJsonContext.Default"/> is complete
/// before it is used (<c>RecordJsonTests</c> checks that the generated metadata serves every record type).
/// </remarks>
internal static class RecordJson
{
    /// <summary>The generated metadata first, reflection for anything else (an alert's anonymous details, a configuration snapshot); enums as names.</summary>
    public static JsonSerializerOptions Combined { get; } = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
        TypeInfoResolver = JsonTypeInfoResolver.Combine(
            RecordJsonContext.Default ?? throw new InvalidOperationException("the generated JSON metadata (RecordJsonContext.Default) is not initialized"),
            new DefaultJsonTypeInfoResolver()),
    };
}
