using System.Reflection;

namespace MetalSniper.Host.Tests;

/// <summary>The room cards' rules: Core references nothing of ours; Risk and Strategies only Core; nothing references Host.</summary>
public sealed class ArchitectureTests
{
    private static string[] OurReferences(Assembly a) =>
        a.GetReferencedAssemblies().Select(r => r.Name!).Where(n => n.StartsWith("MetalSniper", StringComparison.Ordinal)).Order().ToArray();

    [Fact]
    public void Core_ReferencesNothingOfOurs() =>
        OurReferences(typeof(Core.Orders.SubmitOrder).Assembly).ShouldBeEmpty();

    [Fact]
    public void Risk_ReferencesCoreOnly_NeverStrategies() =>
        OurReferences(typeof(Sentinel.Halts.KillSwitch).Assembly).ShouldBe(["MetalSniper.Core"]);

    [Fact]
    public void Strategies_ReferenceCoreOnly_NeverRisk() =>
        OurReferences(typeof(Strategies.IStrategy).Assembly).ShouldBe(["MetalSniper.Core"]);

    [Fact]
    public void InteractiveBrokers_ReferencesCoreOnly_NeverRiskOrStrategies() =>
        OurReferences(typeof(InteractiveBrokers.Client.TwsClient).Assembly).ShouldBe(["MetalSniper.Core"]);

    [Fact]
    public void PublicTypesOfLibraries_AreSealedOrAbstractOrInterfaces()
    {
        var offenders = new[] { typeof(Core.Orders.SubmitOrder).Assembly, typeof(Sentinel.Halts.KillSwitch).Assembly, typeof(Strategies.IStrategy).Assembly, typeof(InteractiveBrokers.Client.TwsClient).Assembly }
            .SelectMany(a => a.GetExportedTypes())
            .Where(t => t.IsClass && !t.IsSealed && !t.IsAbstract && !t.IsNested)
            .Where(t => !t.Assembly.GetExportedTypes().Any(d => d.BaseType == t)) // a base of a small exception family is open by design
            .Select(t => t.FullName)
            .ToList();
        offenders.ShouldBeEmpty();
    }
}
