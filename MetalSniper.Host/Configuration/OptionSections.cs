using MetalSniper.Engine.Configuration;
using MetalSniper.Operator;
using MetalSniper.Strategies.Metals;

namespace MetalSniper.Host.Configuration;

/// <summary>Something done once per bound options section, with the section's options type (see <see cref="OptionSections"/>).</summary>
public interface IOptionSectionVisitor
{
    /// <summary>Visits one section bound to <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The sealed options class of the section.</typeparam>
    /// <param name="sectionName">The configuration path, e.g. <c>Risk</c> or <c>Strategies:Metals</c>.</param>
    void Visit<T>(string sectionName)
        where T : class, new();
}

/// <summary>
/// The one list of the configuration sections the host binds, each with its options class. Registration
/// (<c>AddStrictOptions</c>), validation (<see cref="ConfigurationCheck"/>) and the journal's configuration fingerprint all
/// read it, so a new section is added in one place.
/// </summary>
public static class OptionSections
{
    /// <summary>Top-level sections read without an options class of ours: Serilog's own, and the parent of the strategies.</summary>
    public static IReadOnlyList<string> Unbound { get; } = ["Strategies", "Serilog"];

    /// <summary>Every top-level section the system reads, bound or not. Anything else in a configuration is an error.</summary>
    public static IReadOnlyList<string> TopLevel { get; } = BuildTopLevel();

    /// <summary>Calls the visitor once per bound section, in a fixed order.</summary>
    public static void Accept(IOptionSectionVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        visitor.Visit<BrokerOptions>(BrokerOptions.SectionName);
        visitor.Visit<MarketDataOptions>(MarketDataOptions.SectionName);
        visitor.Visit<SimulatedBrokerOptions>(SimulatedBrokerOptions.SectionName);
        visitor.Visit<RiskOptions>(RiskOptions.SectionName);
        visitor.Visit<AccountOptions>(AccountOptions.SectionName);
        visitor.Visit<PersistenceOptions>(PersistenceOptions.SectionName);
        visitor.Visit<ExecutionOptions>(ExecutionOptions.SectionName);
        visitor.Visit<JournalOptions>(JournalOptions.SectionName);
        visitor.Visit<OperatorOptions>(OperatorOptions.SectionName);
        visitor.Visit<Operator.Telegram.TelegramOptions>(Operator.Telegram.TelegramOptions.SectionName);
        visitor.Visit<Engine.Pipeline.SupervisionOptions>(Engine.Pipeline.SupervisionOptions.SectionName);
        visitor.Visit<MetalsStrategyOptions>(MetalsStrategyOptions.SectionName);
        visitor.Visit<Strategies.DualListing.DualListingStrategyOptions>(Strategies.DualListing.DualListingStrategyOptions.SectionName);
        visitor.Visit<Pairs.Backtest.DualListingOptions>(Pairs.Backtest.DualListingOptions.SectionName);
        visitor.Visit<Judges.Verdicts.JudgesOptions>(Judges.Verdicts.JudgesOptions.SectionName);
    }

    private static List<string> BuildTopLevel()
    {
        var names = new Names();
        Accept(names);
        return [.. names.List.Select(n => n.Split(':')[0]).Concat(Unbound).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    private sealed class Names : IOptionSectionVisitor
    {
        public List<string> List { get; } = [];

        public void Visit<T>(string sectionName)
            where T : class, new() => List.Add(sectionName);
    }
}
