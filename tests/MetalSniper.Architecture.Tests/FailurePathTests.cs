using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MetalSniper.Architecture.Tests;

/// <summary>
/// "A failure must be loud": no catch block of production code may end in a log line alone (or in nothing). Every
/// catch clause of every production source file is parsed with Roslyn and must do at least one thing besides
/// logging: rethrow or throw, raise an alert, journal, fail a task, reject/deny/trip/escalate, record a fault, return a
/// value that carries the failure (an exit code, an error, a result), or hand the exception on. A catch of an
/// <see cref="OperationCanceledException"/> is a cancellation, not a failure. The few exceptions are listed below,
/// each with its reason; a listed one that no longer exists fails the test so the list cannot rot.
/// </summary>
public sealed class FailurePathTests
{
    /// <summary>Catch blocks allowed to end in a log line alone (or nothing): "file: member" → why.</summary>
    private static readonly IReadOnlyDictionary<string, string> Allowed = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["MetalSniper.Engine/Alerts/AlertHub.cs: Raise"] = "the alert being raised is the loud path: a journal that failed is logged and the alert still goes out; a sink that throws is counted (delivery errors) while the other sinks deliver it",
        ["MetalSniper.Engine/Alerts/AlertHub.cs: Fallback"] = "a fallback whose journal entry failed is still raised as a YELLOW alert right after the catch",
        ["MetalSniper.Engine/Pipeline/Supervisor.cs: Fatal"] = "a kill switch that could not be recorded stays in force in memory; the RED CrashLoop alert follows the catch and the host stops",
        ["MetalSniper.InteractiveBrokers/Adapters/IbMarketDataSource.cs: TrySend"] = "a subscription not sent while the link is down is made again on the next connect; the link loss itself is alerted by the session",
        ["MetalSniper.InteractiveBrokers/Adapters/IbQuoteBook.cs: TrySend"] = "a quote request not sent while the link is down is made again on the next connect; the link loss itself is alerted by the session",
        ["MetalSniper.InteractiveBrokers/Adapters/IbOrderGateway.cs: TrySend"] = "only unsubscriptions (cancelPositions, cancelAccountSummary) go this way: with the link down there is nothing to unsubscribe from",
        ["MetalSniper.InteractiveBrokers/Client/TwsClient.cs: CloseSocket"] = "closing a socket the peer (or we) already closed: nothing left to shut down",
        ["MetalSniper.Judges/XgBoost/Xgb.cs: IsLibraryAvailable"] = "a probe: false is its answer, and the callers turn a missing library into a refused start or a failed preflight",
        ["MetalSniper.Operator/Telegram/TelegramNotifier.cs: DeliverAsync"] = "a send interrupted to let a RED alert jump the queue (or failed transiently) is retried, not dropped",
        ["MetalSniper.Operator/Window/TradeLedger.cs: ReadR"] = "a display column: a decision without an R shows an empty cell",
        ["MetalSniper.Pairs/Backtest/DailyPairBacktest.cs: TrackExposure"] = "a report figure: a day without an FX rate has no exposure figure and is counted in the report",
        ["MetalSniper.Pairs/Backtest/DailyPairBacktest.cs: Hindsight"] = "a report figure: the table shows '-' where the hindsight figure cannot be computed",
        ["MetalSniper.Host/Cli/Commands.cs: JournalPreflightFailure"] = "the failed preflight is already printed and ends the start with its exit code; only its copy in a journal that cannot be opened with the keys at hand is skipped",
        ["MetalSniper.Sentinel/Halts/ChainKeyring.cs: LoadOrCreate"] = "not a failure: another process created the key file first (create-once), and that file is loaded and checked right after",
        ["MetalSniper.Persistence/Journal/DecisionJournal.cs: Checkpoint"] = "a busy WAL checkpoint is retried on the next tick; every committed entry is already durable in the WAL",
    };

    /// <summary>Names of calls that make a failure loud or accounted for (matched on the invoked member's name).</summary>
    private static readonly string[] LoudCalls =
    [
        "Alert", "Raise", "Fallback", "Journal", "Append", "Trip", "Escalate", "Halt", "Reject", "Deny", "Refuse", "Fail", "Fault",
        "SetException", "TrySetException", "TrySetResult", "SetResult", "Record", "Count", "Report", "Exit", "Stop", "Abort",
        "Throw", "Capture", "Complete", "TryComplete", "Error", "Problem", "Dead", "Skip",
    ];

    /// <summary>Receivers of an <c>Add</c> that collect failures for a report (matched on the receiver's text).</summary>
    private static readonly string[] FailureLists = ["error", "problem", "found", "fault", "reject", "skip"];

    [Fact]
    public void NoCatchBlockOfProductionCode_EndsInALogLineAlone()
    {
        var root = RepositoryRoot();
        var silent = new List<string>();
        var seenAllowed = new HashSet<string>(StringComparer.Ordinal);
        var catches = 0;
        foreach (var file in ProductionSources(root))
        {
            var tree = CSharpSyntaxTree.ParseText(File.ReadAllText(file), path: file);
            foreach (var clause in tree.GetRoot().DescendantNodes().OfType<CatchClauseSyntax>())
            {
                catches++;
                if (IsCancellation(clause) || IsLoud(clause))
                {
                    continue;
                }

                var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
                var member = clause.Ancestors().OfType<MemberDeclarationSyntax>().FirstOrDefault() switch
                {
                    MethodDeclarationSyntax m => m.Identifier.Text,
                    ConstructorDeclarationSyntax c => c.Identifier.Text + "..ctor",
                    PropertyDeclarationSyntax p => p.Identifier.Text,
                    { } other => other.Kind().ToString(),
                    null => "?",
                };
                var key = $"{relative}: {member}";
                if (Allowed.ContainsKey(key))
                {
                    seenAllowed.Add(key);
                    continue;
                }

                var line = clause.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                silent.Add($"{relative}:{line} ({member}): {Flatten(clause)}");
            }
        }

        catches.ShouldBeGreaterThan(50, "the scan found too few catch blocks: is it reading the production sources?");
        silent.ShouldBeEmpty($"catch blocks that end in a log line alone (make each failure an alert, a journal entry, a rethrow or a returned error):\n{string.Join("\n", silent)}");
        Allowed.Keys.Except(seenAllowed).ShouldBeEmpty("allowed silent catch blocks that no longer exist: remove them from the list");
    }

    [Fact]
    public void TheScan_FlagsALogOnlyCatch_AndAcceptsALoudOne()
    {
        var quiet = Clause("try { F(); } catch (IOException ex) { logger.LogWarning(ex, \"could not\"); return; }");
        var empty = Clause("try { F(); } catch (Exception) { }");
        var loud = Clause("try { F(); } catch (IOException ex) { logger.LogError(ex, \"x\"); alerts.Raise(AlertLevel.Red, \"x\", ex.Message); }");
        var rethrow = Clause("try { F(); } catch (IOException ex) { logger.LogError(ex, \"x\"); throw; }");
        var cancel = Clause("try { F(); } catch (OperationCanceledException) when (ct.IsCancellationRequested) { }");
        var returned = Clause("try { F(); } catch (FormatException ex) { return new ParseError(ex.Message); }");
        IsLoud(quiet).ShouldBeFalse();
        IsLoud(empty).ShouldBeFalse();
        IsLoud(loud).ShouldBeTrue();
        IsLoud(rethrow).ShouldBeTrue();
        IsCancellation(cancel).ShouldBeTrue();
        IsLoud(returned).ShouldBeTrue();
    }

    private static CatchClauseSyntax Clause(string statement) =>
        CSharpSyntaxTree.ParseText($"class C {{ object M() {{ {statement} return null; }} }}").GetRoot().DescendantNodes().OfType<CatchClauseSyntax>().Single();

    private static bool IsCancellation(CatchClauseSyntax clause) =>
        clause.Declaration?.Type.ToString() is "OperationCanceledException" or "TaskCanceledException" or "System.OperationCanceledException";

    private static bool IsLoud(CatchClauseSyntax clause)
    {
        var block = clause.Block;
        if (block.DescendantNodes().Any(n => n is ThrowStatementSyntax or ThrowExpressionSyntax))
        {
            return true;
        }

        foreach (var invocation in block.DescendantNodes().OfType<InvocationExpressionSyntax>())
        {
            var name = InvokedName(invocation);
            if (IsLogCall(invocation, name))
            {
                continue;
            }

            if (LoudCalls.Any(l => name.Contains(l, StringComparison.Ordinal)))
            {
                return true;
            }

            // A failure added to a list of errors, problems or skips that the caller reports.
            if (name == "Add" && invocation.Expression is MemberAccessExpressionSyntax { Expression: var receiver }
                && FailureLists.Any(l => receiver.ToString().Contains(l, StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        // A value that carries the failure out: a return of anything but nothing, null, default or a bare literal.
        if (block.DescendantNodes().OfType<ReturnStatementSyntax>().Any(r => r.Expression is { } e && !IsTrivial(e)))
        {
            return true;
        }

        // The exception handed on: stored, passed or wrapped (its variable used other than in a log call).
        if (clause.Declaration?.Identifier.Text is { Length: > 0 } ex
            && block.DescendantNodes().OfType<IdentifierNameSyntax>().Any(i => i.Identifier.Text == ex && !InsideLogCall(i)))
        {
            return true;
        }

        // State set for the caller to see (a field, an out parameter, a result variable) other than by a log call.
        return block.DescendantNodes().OfType<AssignmentExpressionSyntax>().Any(a => !InsideLogCall(a));
    }

    private static bool IsTrivial(ExpressionSyntax e) =>
        e is LiteralExpressionSyntax || e.IsKind(SyntaxKind.DefaultExpression);

    private static bool InsideLogCall(SyntaxNode node) =>
        node.Ancestors().OfType<InvocationExpressionSyntax>().Any(i => IsLogCall(i, InvokedName(i)));

    private static bool IsLogCall(InvocationExpressionSyntax invocation, string name) =>
        name.StartsWith("Log", StringComparison.Ordinal) || (invocation.Expression is MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax { Identifier.Text: "Log" or "logger" or "_logger" or "Logger" } });

    private static string InvokedName(InvocationExpressionSyntax invocation) => invocation.Expression switch
    {
        MemberAccessExpressionSyntax m => m.Name.Identifier.Text,
        IdentifierNameSyntax i => i.Identifier.Text,
        GenericNameSyntax g => g.Identifier.Text,
        MemberBindingExpressionSyntax b => b.Name.Identifier.Text,
        _ => invocation.Expression.ToString(),
    };

    private static string Flatten(CatchClauseSyntax clause)
    {
        var text = string.Join(' ', clause.ToString().Split((char[])['\r', '\n', '\t', ' '], StringSplitOptions.RemoveEmptyEntries));
        return text.Length <= 160 ? text : text[..160] + "…";
    }

    private static IEnumerable<string> ProductionSources(string root) =>
        ArchitectureTests.Allowed.Keys
            .Select(p => p == "metalsniper" ? "MetalSniper.Host" : p)
            .SelectMany(p => Directory.EnumerateFiles(Path.Combine(root, p), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MetalSniper.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no MetalSniper.sln above {AppContext.BaseDirectory}");
    }
}
