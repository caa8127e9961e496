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

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
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
