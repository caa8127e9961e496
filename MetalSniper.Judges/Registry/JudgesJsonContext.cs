using System.Text.Json.Serialization;
using MetalSniper.Judges.Evaluation;

namespace MetalSniper.Judges.Registry;

/// <summary>
/// The judges' JSON (source-generated, System.Text.Json): snake_case property names, indented, NaN/±Infinity written as
/// the strings "NaN"/"Infinity"/"-Infinity" (a reference row may have missing features), a required constructor
/// parameter or a null where the type forbids one refused on reading. Doubles and floats are written in their shortest
/// round-trip form, so a value read back is the value written, bit for bit.
/// </summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(CalibrationDescription))]
[JsonSerializable(typeof(ModelManifest))]
public sealed partial class JudgesJsonContext : JsonSerializerContext;
