namespace MetalSniper.Core.MarketData;

/// <summary>
/// A user's data file that cannot be read as what it claims to be: not gzip, empty, a wrong header, a header and no rows, a
/// malformed CSV. A data error (sysexits 65), never a fault of the process: the host stops with one line naming the file and
/// the defect, without a stack trace and without a fault alert. A defective row in a readable file is not this: it is
/// rejected and counted by the ingest boundary.
/// </summary>
public sealed class DataFileException : Exception
{
    /// <summary>Creates the error for <paramref name="filePath"/>.</summary>
    /// <param name="filePath">The file (as configured, usually absolute).</param>
    /// <param name="defect">What is wrong with it; the file's path is prefixed unless the text already names it.</param>
    /// <param name="inner">The reader's own exception, if any.</param>
    public DataFileException(string filePath, string defect, Exception? inner = null)
        : base(defect.Contains(filePath, StringComparison.Ordinal) ? defect : $"data file '{filePath}': {defect}", inner)
    {
        FilePath = filePath;
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }
}
