using System.ComponentModel.DataAnnotations;

namespace MetalSniper.Operator;

/// <summary>The operator window: health, JSON APIs, kill/resume, the dashboard (section <c>Operator</c>).</summary>
public sealed class OperatorOptions : IValidatableObject
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Operator";

    /// <summary>The environment variable holding the bearer token for <c>POST /api/kill</c> and <c>/api/resume</c> (never in a file). Without it those endpoints refuse everything.</summary>
    public const string TokenVariable = "OPERATOR_API_TOKEN";

    /// <summary>Whether the window runs (with <c>run</c>; replays never open it). Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Where it listens. Default <c>http://127.0.0.1:5080</c>; port 0 picks a free port (tests).</summary>
    [Required]
    public string Url { get; set; } = "http://127.0.0.1:5080";

    /// <summary>Allow a non-loopback address (put a TLS proxy in front). Default false.</summary>
    public bool AllowRemote { get; set; }

    /// <summary>
    /// Further names the window answers to in the HTTP <c>Host</c> header (a TLS proxy's public name). The host of
    /// <see cref="Url"/>, <c>localhost</c>, <c>127.0.0.1</c> and <c>[::1]</c> are always allowed; any other Host header is
    /// refused with 400 (DNS rebinding).
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>Every host name the window answers to (see <see cref="AllowedHosts"/>).</summary>
    public List<string> AllowedHostNames()
    {
        var names = new List<string> { "localhost", "127.0.0.1", "[::1]" };
        if (Uri.TryCreate(Url, UriKind.Absolute, out var uri) && !names.Contains(uri.Host, StringComparer.OrdinalIgnoreCase))
        {
            names.Add(uri.Host);
        }

        names.AddRange(AllowedHosts.Where(h => !string.IsNullOrWhiteSpace(h)));
        return names;
    }

    /// <summary>
    /// How often the service writes its one-line status to the log (wall clock): kill level, equity, positions, market time,
    /// feed lag, broker, counts. Default one minute; between 00:00:05 and 01:00:00.
    /// </summary>
    public TimeSpan StatusLineInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How far the service on a replayed feed may fall behind its pace (wall clock) before a warning that the brain lags its
    /// feed. (The threaded pipeline warns when more than a quarter of the brain's bar queue is full.) Default 5 s; between
    /// 00:00:01 and 01:00:00.
    /// </summary>
    public TimeSpan BrainLagWarning { get; set; } = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (AllowedHosts.Any(h => h.Contains('*', StringComparison.Ordinal)))
        {
            yield return new ValidationResult("AllowedHosts must name hosts: a wildcard would let any site's page reach the window (DNS rebinding)", [nameof(AllowedHosts)]);
        }

        if (StatusLineInterval < TimeSpan.FromSeconds(5) || StatusLineInterval > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult($"StatusLineInterval must be between 00:00:05 and 01:00:00, was {StatusLineInterval}", [nameof(StatusLineInterval)]);
        }

        if (BrainLagWarning < TimeSpan.FromSeconds(1) || BrainLagWarning > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult($"BrainLagWarning must be between 00:00:01 and 01:00:00, was {BrainLagWarning}", [nameof(BrainLagWarning)]);
        }

        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
        {
            yield return new ValidationResult($"Url '{Url}' must be an absolute http:// URL", [nameof(Url)]);
        }
        else if (!AllowRemote && !(uri.IsLoopback || uri.Host is "127.0.0.1" or "[::1]" or "localhost"))
        {
            yield return new ValidationResult($"Url '{Url}' is not a loopback address; set AllowRemote only behind a TLS proxy", [nameof(Url)]);
        }
    }
}
