using System.Globalization;

namespace MetalSniper.Core.Time;

/// <summary>
/// How a time is written in text meant for a person — decision reasons, alerts, log lines, status and summary lines:
/// UTC to the second, <c>2025-11-03 13:30:00Z</c>. Machine-read values (decision inputs, JSON, the database's time
/// columns) keep the round-trip ISO 8601 form ("O").
/// </summary>
public static class UtcText
{
    /// <summary>The custom format, invariant culture: <c>yyyy-MM-dd HH:mm:ss'Z'</c>.</summary>
    public const string Format = "yyyy-MM-dd HH:mm:ss'Z'";

    /// <summary><paramref name="time"/> converted to UTC and written as <see cref="Format"/>.</summary>
    /// <param name="time">Any offset; it is converted to UTC first.</param>
    public static string Of(DateTimeOffset time) => time.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    /// <summary><paramref name="time"/> as <see cref="Of(DateTimeOffset)"/>, or <paramref name="none"/> when it is null.</summary>
    /// <param name="time">A time or null.</param>
    /// <param name="none">The text for null.</param>
    public static string Of(DateTimeOffset? time, string none) => time is { } t ? Of(t) : none;
}
