using System.Reflection;
using ArchUnitNET.Domain;
using ArchUnitNET.Domain.Extensions;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using static ArchUnitNET.Fluent.ArchRuleDefinition;
using ArchAssembly = System.Reflection.Assembly;

namespace MetalSniper.Architecture.Tests;

/// <summary>
/// The room cards' rules (each project's README): which of our projects each project may reference, the three risk
/// layers unable to reach the layer above, nothing reaching the host, and no import loop between namespaces.
/// Checked twice: on the compiled references (what the project files allow) and on the type-level dependencies
/// that ArchUnitNET reads from the IL (what the code actually uses).
/// </summary>
public sealed class ArchitectureTests
{
    /// <summary>Every production project of ours and the projects of ours it may reference directly.</summary>
    internal static readonly IReadOnlyDictionary<string, string[]> Allowed = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["MetalSniper.Core"] = [],
        ["MetalSniper.Sentinel"] = ["MetalSniper.Core"],
        ["MetalSniper.Risk"] = ["MetalSniper.Core", "MetalSniper.Sentinel"],
        ["MetalSniper.Strategies"] = ["MetalSniper.Core", "MetalSniper.Pairs", "MetalSniper.Features", "MetalSniper.Judges"],
        ["MetalSniper.Features"] = ["MetalSniper.Core"],
        ["MetalSniper.Pairs"] = ["MetalSniper.Core"],
        ["MetalSniper.Calendars"] = ["MetalSniper.Core"],
        ["MetalSniper.Persistence"] = ["MetalSniper.Core", "MetalSniper.Sentinel"],
        ["MetalSniper.Backtest"] = ["MetalSniper.Core"],
        ["MetalSniper.InteractiveBrokers"] = ["MetalSniper.Core"],
        ["MetalSniper.Engine"] = ["MetalSniper.Core", "MetalSniper.Sentinel", "MetalSniper.Risk", "MetalSniper.Strategies", "MetalSniper.Persistence"],
        ["MetalSniper.Operator"] = ["MetalSniper.Core", "MetalSniper.Sentinel", "MetalSniper.Persistence", "MetalSniper.Engine"],
        // Veto-only judges see Core only (no gateway, no strategy context); features see Core only; research is offline (the CLI only).
        ["MetalSniper.Judges"] = ["MetalSniper.Core"],
        ["MetalSniper.Research"] = ["MetalSniper.Core", "MetalSniper.Features", "MetalSniper.Judges"],
        ["metalsniper"] = ["MetalSniper.Core", "MetalSniper.Sentinel", "MetalSniper.Risk", "MetalSniper.Strategies", "MetalSniper.Persistence", "MetalSniper.Backtest",
            "MetalSniper.InteractiveBrokers", "MetalSniper.Engine", "MetalSniper.Operator", "MetalSniper.Judges", "MetalSniper.Pairs", "MetalSniper.Calendars", "MetalSniper.Features", "MetalSniper.Research"],
    };

    /// <summary>The production assemblies: the host's executable and everything of ours it references, transitively.</summary>
    internal static readonly ArchAssembly[] Production = LoadProduction();

    private static readonly ArchUnitNET.Domain.Architecture Loaded = new ArchLoader().LoadAssemblies(Production).Build();

    private static ArchAssembly[] LoadProduction()
    {
        var seen = new Dictionary<string, ArchAssembly>(StringComparer.Ordinal);
        var queue = new Queue<ArchAssembly>([typeof(Host.Cli.Commands).Assembly]);
        while (queue.TryDequeue(out var a))
        {
            if (!seen.TryAdd(a.GetName().Name!, a))
            {
                continue;
            }

            foreach (var r in a.GetReferencedAssemblies().Where(IsOurs))
            {
                queue.Enqueue(ArchAssembly.Load(r));
            }
        }

        return [.. seen.Values.OrderBy(a => a.GetName().Name, StringComparer.Ordinal)];
    }

    private static bool IsOurs(AssemblyName n) => n.Name is { } s && (s.StartsWith("MetalSniper.", StringComparison.Ordinal) || s == "metalsniper");

    public static TheoryData<string> ProductionNames() => [.. Production.Select(a => a.GetName().Name!)];

    [Fact]
    public void Production_HasEveryRoomOfTheDesign()
    {
        Production.Select(a => a.GetName().Name).ShouldBe(
            ["metalsniper", "MetalSniper.Backtest", "MetalSniper.Calendars", "MetalSniper.Core", "MetalSniper.Engine", "MetalSniper.InteractiveBrokers",
             "MetalSniper.Operator", "MetalSniper.Pairs", "MetalSniper.Persistence", "MetalSniper.Risk", "MetalSniper.Sentinel", "MetalSniper.Strategies",
             "MetalSniper.Features", "MetalSniper.Judges", "MetalSniper.Research"], ignoreOrder: true);
    }

    [Theory]
    [MemberData(nameof(ProductionNames))]
    public void Project_ReferencesOnlyTheProjectsItsRoomCardAllows(string project)
    {
        Allowed.ContainsKey(project).ShouldBeTrue($"{project} is not in the architecture table: give it a room card and its allowed references");
        var assembly = Production.Single(a => a.GetName().Name == project);
        var forbidden = assembly.GetReferencedAssemblies().Where(IsOurs).Select(r => r.Name!).Except(Allowed[project]).Order().ToList();
        forbidden.ShouldBeEmpty($"{project} references projects its room card forbids");
    }

    [Theory]
    [MemberData(nameof(ProductionNames))]
    public void Project_TypesDependOnlyOnTheProjectsItsRoomCardAllows(string project)
    {
        var self = Production.Single(a => a.GetName().Name == project);
        var others = Production.Where(a => a != self && !Allowed[project].Contains(a.GetName().Name!)).ToArray();
        if (others.Length == 0)
        {
            return;
        }

        Types().That().ResideInAssembly(self)
            .Should().NotDependOnAny(Types().That().ResideInAssembly(others[0], others[1..]))
            .Because($"the room card of {project} allows only {string.Join(", ", Allowed[project].DefaultIfEmpty("nothing of ours"))}")
            .Check(Loaded);
    }

    [Fact]
    public void Sentinel_TheBottomRiskLayer_ReachesNothingAboveIt() =>
        Types().That().ResideInAssembly(Assembly("MetalSniper.Sentinel"))
            .Should().NotDependOnAny(Types().That().ResideInAssembly(Assembly("MetalSniper.Risk"), Assembly("MetalSniper.Strategies"), Assembly("MetalSniper.Engine"), Assembly("metalsniper")))
            .Check(Loaded);

    [Fact]
    public void Risk_TheHardRules_ReachNoStrategyEngineOrHost() =>
        Types().That().ResideInAssembly(Assembly("MetalSniper.Risk"))
            .Should().NotDependOnAny(Types().That().ResideInAssembly(Assembly("MetalSniper.Strategies"), Assembly("MetalSniper.Engine"), Assembly("MetalSniper.Operator"), Assembly("metalsniper")))
            .Check(Loaded);

    [Fact]
    public void Strategies_NeverDependOnTheOrderGateway() =>
        Types().That().ResideInAssembly(Assembly("MetalSniper.Strategies"))
            .Should().NotDependOnAny(Types().That().HaveFullName(typeof(Core.Orders.IOrderGateway).FullName!))
            .Check(Loaded);

    [Fact]
    public void WireClient_NeverSeesCore()
    {
        // Only the adapters translate between the TWS wire and our domain; the client, the codec and the connection
        // state machine are a standalone IB library.
        var offenders = Loaded.Types
            .Where(t => t.Namespace.FullName is "MetalSniper.InteractiveBrokers.Wire" or "MetalSniper.InteractiveBrokers.Client" or "MetalSniper.InteractiveBrokers.Connection")
            .SelectMany(t => t.Dependencies.Select(d => (From: t.FullName, To: d.Target.FullName)))
            .Where(d => d.To.StartsWith("MetalSniper.Core.", StringComparison.Ordinal))
            .Distinct()
            .ToList();
        offenders.ShouldBeEmpty();
    }

    [Fact]
    public void Projects_ImportEachOtherInNoLoop()
    {
        var graph = Production.ToDictionary(a => a.GetName().Name!, a => a.GetReferencedAssemblies().Where(IsOurs).Select(r => r.Name!).ToList(), StringComparer.Ordinal);
        Cycles(graph).ShouldBeEmpty();
    }

    [Fact]
    public void Namespaces_ImportEachOtherInNoLoop()
    {
        // Type-level dependencies between our namespaces (compiler-generated types count for the namespace they sit in).
        var graph = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var t in Loaded.Types.Where(t => t.Namespace.FullName.StartsWith("MetalSniper", StringComparison.Ordinal)))
        {
            var from = t.Namespace.FullName;
            if (!graph.TryGetValue(from, out var edges))
            {
                graph[from] = edges = [];
            }

            edges.AddRange(t.Dependencies.Select(d => d.Target.Namespace?.FullName ?? string.Empty).Where(n => n != from && n.StartsWith("MetalSniper", StringComparison.Ordinal)));
        }

        Cycles(graph).ShouldBeEmpty();
    }

    /// <summary>The strongly connected components with more than one node (Tarjan), each as "a → b → … ".</summary>
    internal static List<string> Cycles(IReadOnlyDictionary<string, List<string>> graph)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>();
        var next = 0;

        void Visit(string v)
        {
            index[v] = low[v] = next++;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in graph.TryGetValue(v, out var e) ? e.Distinct() : [])
            {
                if (!index.ContainsKey(w))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                {
                    low[v] = Math.Min(low[v], index[w]);
                }
            }

            if (low[v] == index[v])
            {
                var component = new List<string>();
                string w;
                do
                {
                    w = stack.Pop();
                    onStack.Remove(w);
                    component.Add(w);
                }
                while (w != v);
                if (component.Count > 1)
                {
                    component.Sort(StringComparer.Ordinal);
                    result.Add(string.Join(" ↔ ", component));
                }
            }
        }

        foreach (var v in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(v))
            {
                Visit(v);
            }
        }

        return result;
    }

    [Fact]
    public void Cycles_FindsALoopAndIgnoresAChain()
    {
        Cycles(new Dictionary<string, List<string>> { ["a"] = ["b"], ["b"] = ["c"], ["c"] = [] }).ShouldBeEmpty();
        Cycles(new Dictionary<string, List<string>> { ["a"] = ["b"], ["b"] = ["c"], ["c"] = ["a"], ["d"] = ["a"] }).ShouldBe(["a ↔ b ↔ c"]);
    }

    [Fact]
    public void PublicTypesOfLibraries_AreSealedOrAbstractOrInterfaces()
    {
        var offenders = Production.Where(a => a.GetName().Name != "metalsniper")
            .SelectMany(a => a.GetExportedTypes())
            .Where(t => t.IsClass && !t.IsSealed && !t.IsAbstract && !t.IsNested)
            .Where(t => !t.Assembly.GetExportedTypes().Any(d => d.BaseType == t)) // a base of a small exception family is open by design
            .Select(t => t.FullName)
            .ToList();
        offenders.ShouldBeEmpty();
    }

    private static ArchUnitNET.Domain.Assembly Assembly(string name) => Loaded.Assemblies.Single(a => a.Name == name || a.FullName.StartsWith(name + ",", StringComparison.Ordinal));
}
