using System.Globalization;
using Serilog.Core;
using Serilog.Events;

namespace MetalSniper.Host.Supervision;

/// <summary>
/// Gives every log event the two properties the one-line log format prints (<see cref="Template"/>):
/// <c>UtcTimestamp</c>, the event's time in UTC (Serilog's own <c>Timestamp</c> is local time, so a literal <c>Z</c> after it
/// lies on a host whose time zone is not UTC), and <c>LogSource</c>, the short name of the logging class
/// (<c>ExecutionService</c>, not <c>MetalSniper.Engine.Services.ExecutionService</c>; a generic argument list is dropped).
/// </summary>
public sealed class OperatorLogEnricher : ILogEventEnricher
{
    /// <summary>
    /// The one-line format of the service's console and file log: UTC time to the millisecond, the level in three letters, the
    /// short source and the message; no property bag (every value an operator needs is in the message). An exception adds
    /// its own lines after the event.
    /// </summary>
    public const string Template = "{UtcTimestamp:yyyy-MM-ddTHH:mm:ss.fffZ} [{Level:u3}] {LogSource}: {Message:lj}{NewLine}{Exception}";

    /// <inheritdoc />
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        ArgumentNullException.ThrowIfNull(propertyFactory);
        // The file sink's renderer quotes scalars that are neither strings nor numbers (enums, TimeSpan, Uri: "Exit", "00:00:05")
        // even in a literal {Message:lj}; as invariant text they read as the console shows them.
        List<LogEventProperty>? plain = null;
        foreach (var (key, value) in logEvent.Properties)
        {
            if (value is ScalarValue { Value: Enum or TimeSpan or Uri or DateTimeOffset or DateTime } scalar)
            {
                (plain ??= []).Add(new LogEventProperty(key, new ScalarValue(scalar.Value switch
                {
                    DateTimeOffset t => t.ToString("O", CultureInfo.InvariantCulture),
                    DateTime t => t.ToString("O", CultureInfo.InvariantCulture),
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    var other => other.ToString(),
                })));
            }
        }

        foreach (var property in plain ?? [])
        {
            logEvent.AddOrUpdateProperty(property);
        }

        logEvent.AddOrUpdateProperty(new LogEventProperty("UtcTimestamp", new ScalarValue(logEvent.Timestamp.UtcDateTime)));
        var source = logEvent.Properties.TryGetValue("SourceContext", out var context) && context is ScalarValue { Value: string name }
            ? ShortName(name)
            : "host";
        logEvent.AddOrUpdateProperty(new LogEventProperty("LogSource", new ScalarValue(source)));
    }

    /// <summary>The last segment of a full type name, without a generic argument list: <c>A.B.C`1[[X]]</c> → <c>C</c>.</summary>
    /// <param name="fullName">A type's full name (Serilog's <c>SourceContext</c>).</param>
    public static string ShortName(string fullName)
    {
        ArgumentNullException.ThrowIfNull(fullName);
        var end = fullName.IndexOfAny(['`', '[', '<']);
        var name = end >= 0 ? fullName[..end] : fullName;
        var dot = name.LastIndexOf('.');
        var plus = name.LastIndexOf('+');
        var start = Math.Max(dot, plus) + 1;
        return start < name.Length ? name[start..] : name;
    }
}
