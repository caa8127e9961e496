using System.Text;

namespace MetalSniper.Host.Cli;

/// <summary>
/// A plain-text table with aligned columns: a header, a rule, the rows. No colours and no wrapping, so it reads the same on a
/// terminal, in a pipe and in a file. The last column is not padded (no trailing spaces).
/// </summary>
internal sealed class TextTable
{
    private readonly string[] _headers;
    private readonly bool[] _rightAligned;
    private readonly List<string[]> _rows = [];

    /// <summary>Columns by header; a header starting with '>' is right-aligned (the '>' is not shown).</summary>
    public TextTable(params string[] headers)
    {
        _rightAligned = [.. headers.Select(h => h.StartsWith('>'))];
        _headers = [.. headers.Select(h => h.TrimStart('>'))];
    }

    /// <summary>Adds a row (missing cells are empty).</summary>
    public TextTable Add(params string[] cells)
    {
        var row = new string[_headers.Length];
        for (var i = 0; i < row.Length; i++)
        {
            row[i] = i < cells.Length ? cells[i] ?? "" : "";
        }

        _rows.Add(row);
        return this;
    }

    /// <summary>Rows added so far.</summary>
    public int Count => _rows.Count;

    /// <summary>Renders the table, each line starting with <paramref name="indent"/>.</summary>
    public string Render(string indent = "  ")
    {
        var widths = _headers.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var sb = new StringBuilder();
        void Line(IReadOnlyList<string> cells)
        {
            var line = new StringBuilder(indent);
            for (var i = 0; i < cells.Count; i++)
            {
                var last = i == cells.Count - 1;
                line.Append(_rightAligned[i] ? cells[i].PadLeft(widths[i]) : last ? cells[i] : cells[i].PadRight(widths[i]));
                if (!last)
                {
                    line.Append("  ");
                }
            }

            sb.Append(line.ToString().TrimEnd()).Append('\n');
        }

        Line(_headers);
        Line([.. widths.Select(w => new string('─', w))]);
        foreach (var row in _rows)
        {
            Line(row);
        }

        return sb.ToString();
    }
}
