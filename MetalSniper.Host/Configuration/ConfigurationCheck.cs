using MetalSniper.Strategies.Metals;

namespace MetalSniper.Host.Configuration;

/// <summary>
/// Validates the whole configuration before anything starts and reports every error at once:
/// unknown top-level sections, unknown keys inside known sections, values out of range,
/// cross-field rules and values that do not bind (a number where text was expected).
/// </summary>
public static class ConfigurationCheck
{
    /// <summary>Top-level sections the system reads. Anything else is an error (a typo of a section name must not pass silently).</summary>
    public static IReadOnlyList<string> KnownSections { get; } =
    [
        BrokerOptions.SectionName, MarketDataOptions.SectionName, SimulatedBrokerOptions.SectionName, RiskOptions.SectionName,
        AccountOptions.SectionName, PersistenceOptions.SectionName, "Strategies", "Serilog",
    ];

    /// <summary>Returns every configuration error (empty when valid).</summary>
    public static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        foreach (var section in configuration.GetChildren())
        {
            if (!KnownSections.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{section.Key}: unknown configuration section (known sections: {string.Join(", ", KnownSections)})");
            }
        }

        foreach (var child in configuration.GetSection("Strategies").GetChildren())
        {
            if (!string.Equals(child.Key, "Metals", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"Strategies:{child.Key}: unknown strategy (known: Metals)");
            }
        }

        Check<BrokerOptions>(configuration, BrokerOptions.SectionName, errors);
        Check<MarketDataOptions>(configuration, MarketDataOptions.SectionName, errors);
        Check<SimulatedBrokerOptions>(configuration, SimulatedBrokerOptions.SectionName, errors);
        Check<RiskOptions>(configuration, RiskOptions.SectionName, errors);
        Check<AccountOptions>(configuration, AccountOptions.SectionName, errors);
        Check<PersistenceOptions>(configuration, PersistenceOptions.SectionName, errors);
        Check<MetalsStrategyOptions>(configuration, MetalsStrategyOptions.SectionName, errors);
        return errors;
    }

    private static void Check<T>(IConfiguration configuration, string sectionName, List<string> errors)
        where T : class, new()
    {
        var section = configuration.GetSection(sectionName);
        var options = new T();
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            errors.Add($"{sectionName}: {e.Message}{(e.InnerException is { } inner ? " (" + inner.Message + ")" : "")}");
            return;
        }

        errors.AddRange(OptionsChecks.Check(section, options, sectionName));
    }
}
