using System.Text.Json;
using System.Text.Json.Serialization;

namespace MetalSniper.Host.Cli;

/// <summary>
/// The figures of a finished replay in machine-readable form (<c>replay --summary-json FILE</c>, one per sweep run). Money is
/// in <see cref="Currency"/> (the account's base currency), rounded to cents, each figure named gross (before costs) or net
/// (after them) as in <see cref="ReplaySummary"/>; times in seconds.
/// </summary>
/// <param name="RunId">The run id.</param>
/// <param name="Source">The market data source (the replayed files).</param>
/// <param name="Currency">ISO code of every money figure.</param>
/// <param name="BarsRead">Records read from the data.</param>
/// <param name="BarsAccepted">Bars accepted by validation.</param>
/// <param name="BarsRejected">Bars rejected by validation.</param>
/// <param name="Decisions">Decisions recorded.</param>
/// <param name="OrdersSent">Orders that passed the gates.</param>
/// <param name="OrdersDenied">Orders refused by a pre-trade gate.</param>
/// <param name="Fills">Executions.</param>
/// <param name="Trades">Closed trades (round trips).</param>
/// <param name="WinningTrades">Trades with a positive net P&amp;L.</param>
/// <param name="WinRate">Winning trades / trades (0–1); null without trades.</param>
/// <param name="RealizedNetPnl">Realized P&amp;L of the closed trades after their commissions and carry.</param>
/// <param name="Commissions">Commissions of every fill of the run (open positions included).</param>
/// <param name="EquityPnl">Equity P&amp;L at the end, open positions marked, after every cost.</param>
/// <param name="MaxDrawdown">Peak-to-trough of the equity curve, open P&amp;L included (positive).</param>
/// <param name="ProfitFactor">Gross wins / gross losses of the closed trades; null without a losing trade.</param>
/// <param name="Sharpe">Annualized Sharpe ratio of daily equity P&amp;L changes (<see cref="ReplaySummary.Sharpe"/>); null when undefined.</param>
/// <param name="SentinelTrips">Sentinel and breaker trips.</param>
/// <param name="StartupSeconds">Host build and start, before the first bar.</param>
/// <param name="WallSeconds">Pipeline wall time (first bar to last order persisted).</param>
/// <param name="BarsPerSecond">Accepted bars per second of pipeline wall time.</param>
public sealed record ReplayFigures(
    string RunId,
    string Source,
    string Currency,
    long BarsRead,
    long BarsAccepted,
    long BarsRejected,
    long Decisions,
    long OrdersSent,
    long OrdersDenied,
    long Fills,
    int Trades,
    int WinningTrades,
    double? WinRate,
    decimal RealizedNetPnl,
    decimal Commissions,
    decimal EquityPnl,
    decimal MaxDrawdown,
    decimal? ProfitFactor,
    double? Sharpe,
    int SentinelTrips,
    double StartupSeconds,
    double WallSeconds,
    double BarsPerSecond)
{
    /// <summary>The closed trades' P&amp;L before any cost.</summary>
    public decimal RealizedGrossPnl { get; init; }

    /// <summary>Borrow fees (short spot-metal positions held over the daily cut).</summary>
    public decimal CarryBorrow { get; init; }

    /// <summary>Storage (long spot-metal positions held over the daily cut).</summary>
    public decimal CarryStorage { get; init; }

    /// <summary>The positions open at the end, marked, before any cost.</summary>
    public decimal UnrealizedGrossPnl { get; init; }

    /// <summary>Net P&amp;L after every cost, open positions marked: realized gross + unrealized gross − commissions − carry.</summary>
    public decimal NetPnl { get; init; }

    /// <summary>The JSON shape of the figures (camelCase, indented).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // Files for programs and people, never embedded in HTML: '+' and non-ASCII text stay readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Takes the figures of a summary.</summary>
    public static ReplayFigures From(ReplaySummary s)
    {
        ArgumentNullException.ThrowIfNull(s);
        static decimal Cents(decimal d) => Math.Round(d, 2, MidpointRounding.AwayFromZero);
        return new ReplayFigures(s.RunId, s.Source, s.Currency, s.BarsRead, s.BarsAccepted, s.BarsRejected, s.Decisions, s.OrdersSent, s.OrdersDenied, s.Fills,
            s.Trades, s.WinningTrades, s.Trades > 0 ? Math.Round((double)s.WinningTrades / s.Trades, 4) : null,
            Cents(s.RealizedNetPnl), Cents(s.Commissions), Cents(s.EquityPnl), Cents(s.MaxDrawdown), s.ProfitFactor is { } pf ? Math.Round(pf, 4) : null,
            s.Sharpe is { } sr && double.IsFinite(sr) ? Math.Round(sr, 4) : null, s.SentinelTrips.Count,
            Math.Round(s.StartupTime.TotalSeconds, 3), Math.Round(s.WallTime.TotalSeconds, 3), Math.Round(s.BarsPerSecond, 0))
        {
            RealizedGrossPnl = Cents(s.RealizedGrossPnl),
            CarryBorrow = Cents(s.Carry.Borrow),
            CarryStorage = Cents(s.Carry.Storage),
            UnrealizedGrossPnl = Cents(s.UnrealizedGrossPnl),
            NetPnl = Cents(s.NetPnl),
        };
    }

    /// <summary>Writes the figures as JSON, atomically (a reader never sees half a file); creates the directory.</summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public void WriteJson(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json));
        File.Move(temporary, full, overwrite: true);
    }

    /// <summary>Reads figures written by <see cref="WriteJson"/>.</summary>
    /// <exception cref="JsonException">The file is not such JSON.</exception>
    public static ReplayFigures ReadJson(string path) =>
        JsonSerializer.Deserialize<ReplayFigures>(File.ReadAllText(path), Json) ?? throw new JsonException($"'{path}' holds null, not replay figures");
}
