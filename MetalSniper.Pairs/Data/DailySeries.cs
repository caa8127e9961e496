using System.Globalization;

namespace MetalSniper.Pairs.Data;

/// <summary>
/// One trading date of a daily file: prices in the file's quote unit (ZAc, GBp, EUR, USD, or an FX rate). Open, high and
/// low are null when the file has a close only (Yahoo adjusted-close files). The envelope is clamped on read:
/// <c>high = max(o, h, l, c)</c>, <c>low = min(o, h, l, c)</c> (the data README's advice for Yahoo's JSE and FX rows).
/// </summary>
/// <param name="Date">The venue's trading date (no time of day in the file).</param>
/// <param name="Open">Opening price, or null.</param>
/// <param name="High">Highest price (clamped), or null.</param>
/// <param name="Low">Lowest price (clamped), or null.</param>
/// <param name="Close">Closing price (or the snapshot, for Yahoo FX rows).</param>
public sealed record DailyRow(DateOnly Date, decimal? Open, decimal? High, decimal? Low, decimal Close)
{
    /// <summary>True when the row has a day range (open, high, low).</summary>
    public bool HasRange => Open is not null && High is not null && Low is not null;
}

/// <summary>Which column of a daily file is the close (raw <c>close</c> or Yahoo's <c>adj_close</c>).</summary>
public enum CloseColumn
{
    /// <summary>The <c>close</c> column (raw, or split-adjusted only for the NYSE ADR files).</summary>
    Close,

    /// <summary>The <c>adj_close</c> column; open/high/low are then scaled by adj_close/close so the range stays consistent.</summary>
    AdjustedClose,
}

/// <summary>A daily series read from one file, in date order, with its source path.</summary>
/// <param name="Path">The file it was read from.</param>
/// <param name="Rows">Rows in strictly increasing date order.</param>
public sealed record DailySeries(string Path, IReadOnlyList<DailyRow> Rows)
{
    private Dictionary<DateOnly, DailyRow>? _byDate;

    /// <summary>The row of <paramref name="date"/>, or null when the file has none.</summary>
    public DailyRow? On(DateOnly date)
    {
        _byDate ??= Rows.ToDictionary(r => r.Date);
        return _byDate.TryGetValue(date, out var r) ? r : null;
    }
}

/// <summary>
/// Raised when a daily file cannot be used: missing, empty, wrong header, a malformed or non-positive value, or dates not
/// strictly increasing. The message names the file, the line and the defect (data error, sysexits 65; 66 when missing).
/// </summary>
public sealed class DailyDataException(string message, bool missing = false) : Exception(message)
{
    /// <summary>True when the file does not exist (sysexits 66) rather than being malformed (65).</summary>
    public bool Missing { get; } = missing;
}

/// <summary>
/// Reads the daily files of <c>../shared/data/dual_listed</c> (data README §2): <c>date,open,high,low,close[,adj_close][,volume]</c>,
/// <c>date,adj_close</c> or <c>date,close</c>; dates <c>YYYY-MM-DD</c>, invariant decimals.
/// </summary>
public static class DailySeriesReader
{
    /// <summary>Reads a daily file.</summary>
    /// <param name="path">The CSV file.</param>
    /// <param name="column">Which close to use when the file has both.</param>
    /// <exception cref="DailyDataException">The file is missing or malformed (the message names file, line and defect).</exception>
    public static DailySeries Read(string path, CloseColumn column = CloseColumn.Close)
    {
        if (!File.Exists(path))
        {
            throw new DailyDataException($"{path}: no such file", missing: true);
        }

        using var reader = new StreamReader(path);
        var header = reader.ReadLine();
        if (string.IsNullOrWhiteSpace(header))
        {
            throw new DailyDataException($"{path}: empty file (a header 'date,…,close' is expected)");
        }

        var names = header.Trim().Split(',').Select(h => h.Trim().ToLowerInvariant()).ToArray();
        int Col(string n) => Array.IndexOf(names, n);
        if (Col("date") != 0)
        {
            throw new DailyDataException($"{path}: line 1: the first column must be 'date', header was '{header}'");
        }

        var (iOpen, iHigh, iLow, iClose, iAdj) = (Col("open"), Col("high"), Col("low"), Col("close"), Col("adj_close"));
        var closeIndex = column == CloseColumn.AdjustedClose ? iAdj : (iClose >= 0 ? iClose : iAdj);
        if (closeIndex < 0)
        {
            throw new DailyDataException($"{path}: line 1: no '{(column == CloseColumn.AdjustedClose ? "adj_close" : "close")}' column in header '{header}'");
        }

        var hasRange = iOpen >= 0 && iHigh >= 0 && iLow >= 0;
        var rows = new List<DailyRow>();
        var lineNo = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (line.Length == 0)
            {
                continue;
            }

            var f = line.Split(',');
            if (f.Length != names.Length)
            {
                throw new DailyDataException($"{path}: line {lineNo}: {f.Length} fields, the header has {names.Length}");
            }

            if (!DateOnly.TryParseExact(f[0], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                throw new DailyDataException($"{path}: line {lineNo}: date '{f[0]}' is not YYYY-MM-DD");
            }

            if (rows.Count > 0 && date <= rows[^1].Date)
            {
                throw new DailyDataException($"{path}: line {lineNo}: date {date:yyyy-MM-dd} is not after {rows[^1].Date:yyyy-MM-dd} (dates must be strictly increasing)");
            }

            var close = Price(path, lineNo, names[closeIndex], f[closeIndex]);
            decimal? open = null, high = null, low = null;
            if (hasRange)
            {
                open = Price(path, lineNo, "open", f[iOpen]);
                high = Price(path, lineNo, "high", f[iHigh]);
                low = Price(path, lineNo, "low", f[iLow]);
                if (column == CloseColumn.AdjustedClose && iClose >= 0)
                {
                    // Scale the raw range onto the adjusted close so the envelope stays consistent.
                    var factor = close / Price(path, lineNo, "close", f[iClose]);
                    (open, high, low) = (open * factor, high * factor, low * factor);
                }

                var c = close;
                (high, low) = (Math.Max(Math.Max(high.Value, low.Value), Math.Max(open.Value, c)), Math.Min(Math.Min(high.Value, low.Value), Math.Min(open.Value, c)));
            }

            rows.Add(new DailyRow(date, open, high, low, close));
        }

        if (rows.Count == 0)
        {
            throw new DailyDataException($"{path}: header only, no rows (nothing to replay)");
        }

        return new DailySeries(path, rows);
    }

    private static decimal Price(string path, int line, string name, string text)
    {
        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
        {
            throw new DailyDataException($"{path}: line {line}: {name} '{text}' is not a number");
        }

        return v > 0m ? v : throw new DailyDataException($"{path}: line {line}: {name} {text} is not > 0");
    }
}
