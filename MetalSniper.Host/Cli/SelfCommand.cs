using System.Reflection;

namespace MetalSniper.Host.Cli;

/// <summary>
/// How to start another process of this same application: the file to execute and the arguments that come before the
/// command's own. A published apphost (<c>metalsniper</c>, <c>metalsniper.exe</c>, also what <c>dotnet run</c> starts) or a
/// single-file app runs itself: <see cref="Environment.ProcessPath"/>. Started through the muxer (<c>dotnet metalsniper.dll</c>,
/// <c>dotnet exec …</c>) the process path is <c>dotnet</c>, so the child gets <c>dotnet exec &lt;entry assembly&gt;</c>.
/// </summary>
/// <param name="FileName">The executable.</param>
/// <param name="PrefixArguments">Arguments before the command (e.g. <c>exec /path/metalsniper.dll</c>).</param>
public sealed record SelfCommand(string FileName, IReadOnlyList<string> PrefixArguments)
{
    /// <summary>This process's own command.</summary>
    /// <exception cref="InvalidOperationException">The process path or entry assembly is unknown.</exception>
    public static SelfCommand Current() => Resolve(Environment.ProcessPath, Assembly.GetEntryAssembly()?.Location);

    /// <summary>Resolves the command from a process path and the entry assembly's location (empty for a single-file app).</summary>
    /// <exception cref="InvalidOperationException">The process path is unknown, or it is the muxer and the entry assembly is unknown.</exception>
    public static SelfCommand Resolve(string? processPath, string? entryAssemblyPath)
    {
        if (string.IsNullOrEmpty(processPath))
        {
            throw new InvalidOperationException("the path of this process's executable is unknown (Environment.ProcessPath is null): cannot start a child of the same application");
        }

        if (!string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return new SelfCommand(processPath, []);
        }

        if (string.IsNullOrEmpty(entryAssemblyPath))
        {
            throw new InvalidOperationException($"started by '{processPath}' but the entry assembly's path is unknown: cannot start a child of the same application");
        }

        return new SelfCommand(processPath, ["exec", entryAssemblyPath]);
    }

    /// <summary>The whole command line for the arguments, as a list (the executable first).</summary>
    public IReadOnlyList<string> With(IEnumerable<string> arguments) => [FileName, .. PrefixArguments, .. arguments];

    /// <summary>Quotes one argument for a POSIX shell (for the sweep's <c>commands.txt</c>); plain words stay as they are.</summary>
    public static string ShellQuote(string argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        return argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%".Contains(c, StringComparison.Ordinal))
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
