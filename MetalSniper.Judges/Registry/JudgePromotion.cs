using System.Text.Json;

namespace MetalSniper.Judges.Registry;

/// <summary>
/// A promotion of a judge version after its shadow record (<c>models/&lt;judge&gt;/promoted.json</c>, written by
/// <c>metalsniper judges promote</c>); <c>Judges:&lt;judge&gt;:Version = "promoted"</c> loads it.
/// </summary>
/// <param name="Judge">Judge name ("entry").</param>
/// <param name="Version">Promoted version.</param>
/// <param name="ModelHash">Its model hash (SHA-256 of model.json).</param>
/// <param name="PromotedUtc">When (UTC).</param>
/// <param name="ShadowVerdicts">Its shadow record when promoted.</param>
/// <param name="Database">The trading database the record was counted in.</param>
public sealed record JudgePromotion(string Judge, int Version, string ModelHash, DateTimeOffset PromotedUtc, int ShadowVerdicts, string Database)
{
    /// <summary>The promotion file of a judge in a registry.</summary>
    public static string PathOf(ModelRegistry registry, JudgeKind judge)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return System.IO.Path.Combine(registry.Root, ModelRegistry.JudgeName(judge), "promoted.json");
    }

    /// <summary>Reads a judge's promotion, or null when none was made.</summary>
    /// <exception cref="JsonException">The file is not a promotion.</exception>
    public static JudgePromotion? Read(ModelRegistry registry, JudgeKind judge)
    {
        var path = PathOf(registry, judge);
        return File.Exists(path) ? JsonSerializer.Deserialize<JudgePromotion>(File.ReadAllText(path)) : null;
    }

    /// <summary>Writes the promotion (replacing an earlier one).</summary>
    public void Write(ModelRegistry registry, JudgeKind judge) => File.WriteAllText(PathOf(registry, judge), JsonSerializer.Serialize(this));
}
