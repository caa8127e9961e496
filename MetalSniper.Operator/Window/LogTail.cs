using System.Text;

namespace MetalSniper.Operator.Window;

/// <summary>
/// The last lines of the current rolling log file, for the operator window. The file is the one Serilog's <c>File</c> sink
/// writes (the first <c>File</c> entry under <c>Serilog:WriteTo</c>, also inside a wrapper such as <c>Async</c>): of the files its
/// rolling names match (<c>metalsniper-.log</c> → <c>metalsniper-20261207.log</c>, <c>…_001.log</c>), the one written last.
/// Read without locking out the writer (shared read/write/delete), at most the last 256 KiB, whole lines only.
/// </summary>
public sealed class LogTail(IConfiguration configuration)
{
    /// <summary>The most the tail reads from the end of the file (bytes).</summary>
    public const int MaxBytes = 256 * 1024;

    /// <summary>A longer line is cut to this many characters (with "…").</summary>
    public const int MaxLineLength = 2000;

    /// <summary>The path pattern of the configured file sink (as configured, relative paths against the working directory); null when no file sink is configured.</summary>
    public string? ConfiguredPath => FindFileSinkPath(configuration.GetSection("Serilog:WriteTo"));

    /// <summary>Reads the last <paramref name="lines"/> lines (1..1000) of the current log file.</summary>
    /// <param name="lines">How many lines (clamped to 1..1000).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The file read (null when none) and its last lines, oldest first; a note when there is nothing to read.</returns>
    /// <exception cref="IOException">The file exists but cannot be read.</exception>
    public async Task<LogTailResult> ReadAsync(int lines, CancellationToken cancellationToken)
    {
        lines = Math.Clamp(lines, 1, 1000);
        if (ConfiguredPath is not { } configured)
        {
            return new LogTailResult(null, [], "no Serilog File sink is configured (Serilog:WriteTo)");
        }

        var full = Path.GetFullPath(configured);
        var directory = Path.GetDirectoryName(full)!;
        var prefix = Path.GetFileNameWithoutExtension(full);
        var extension = Path.GetExtension(full);
        var current = Directory.Exists(directory)
            ? new DirectoryInfo(directory).EnumerateFiles(prefix + "*" + extension).OrderByDescending(f => f.LastWriteTimeUtc).ThenByDescending(f => f.Name, StringComparer.Ordinal).FirstOrDefault()
            : null;
        if (current is null)
        {
            return new LogTailResult(null, [], $"no log file yet matching {Path.Combine(directory, prefix + "*" + extension)}");
        }

        var stream = new FileStream(current.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096, FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            var start = Math.Max(0, stream.Length - MaxBytes);
            stream.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[stream.Length - start];
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            var text = Encoding.UTF8.GetString(buffer, 0, read);
            var all = text.Split('\n');
            // The first piece may be the end of a line cut by the 256 KiB window; the last is what follows the final newline (a line being written).
            var whole = all.Skip(start > 0 ? 1 : 0).Take(all.Length - (start > 0 ? 1 : 0) - 1).Select(l => l.TrimEnd('\r'))
                .Select(l => l.Length > MaxLineLength ? l[..MaxLineLength] + "…" : l).ToList();
            return new LogTailResult(current.FullName, whole.Skip(Math.Max(0, whole.Count - lines)).ToList(), null);
        }
    }

    private static string? FindFileSinkPath(IConfigurationSection writeTo)
    {
        foreach (var sink in writeTo.GetChildren())
        {
            if (string.Equals(sink["Name"], "File", StringComparison.OrdinalIgnoreCase) && sink["Args:path"] is { Length: > 0 } path)
            {
                return path;
            }

            // Wrappers (Async, Conditional…) nest their sinks under Args:configure.
            if (FindFileSinkPath(sink.GetSection("Args:configure")) is { } nested)
            {
                return nested;
            }
        }

        return null;
    }
}

/// <summary>The tail of the log.</summary>
/// <param name="File">The file read (absolute path); null when there is none.</param>
/// <param name="Lines">Its last lines, oldest first.</param>
/// <param name="Note">Why there is nothing to show; null when <paramref name="File"/> was read.</param>
public sealed record LogTailResult(string? File, IReadOnlyList<string> Lines, string? Note);
