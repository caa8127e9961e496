using System.ComponentModel.DataAnnotations;

namespace MetalSniper.Host.Configuration;

/// <summary>Which broker the system trades through (section <c>Broker</c>).</summary>
public sealed class BrokerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Broker";

    /// <summary>The broker: <c>Simulated</c> (default, the embedded paper broker). Interactive Brokers arrives with its own issue.</summary>
    [AllowedValues("Simulated")]
    public string Kind { get; set; } = "Simulated";
}

/// <summary>Where market data comes from (section <c>MarketData</c>).</summary>
public sealed class MarketDataOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "MarketData";

    /// <summary>The source: <c>Replay</c> (default: recorded real data).</summary>
    [AllowedValues("Replay")]
    public string Source { get; set; } = "Replay";

    /// <summary>Replay settings.</summary>
    [Required]
    public ReplayOptions Replay { get; set; } = new();

    /// <summary>Capacity of the ingest → brain bar channel. Full-mode policy: Wait (backpressure: ingest slows down, nothing is dropped). Default 8192, range 16–1,048,576.</summary>
    [Range(16, 1_048_576)]
    public int ChannelCapacity { get; set; } = 8192;
}

/// <summary>Replay of recorded files.</summary>
public sealed class ReplayOptions : IValidatableObject
{
    /// <summary>Directory of the recorded data; relative paths resolve against the working directory. Default <c>../shared/data</c>.</summary>
    [Required]
    public string DataDirectory { get; set; } = "../shared/data";

    /// <summary>Bars per wall-clock second; 0 = as fast as the pipeline goes. Default 0 for <c>replay</c>; the <c>run</c> service uses <see cref="ServicePaceBarsPerSecond"/>.</summary>
    [Range(0.0, 10_000_000.0)]
    public double PaceBarsPerSecond { get; set; }

    /// <summary>Pace of the <c>run</c> service when it replays (so it behaves like a live feed). Default 2000 bars/s.</summary>
    [Range(0.0, 10_000_000.0)]
    public double ServicePaceBarsPerSecond { get; set; } = 2000;

    /// <summary>Replay only bars opening at or after this UTC time (ISO-8601). Default: the start of the files.</summary>
    public DateTimeOffset? FromUtc { get; set; }

    /// <summary>Replay only bars opening before this UTC time (ISO-8601). Default: the end of the files.</summary>
    public DateTimeOffset? ToUtc { get; set; }

    /// <summary>The files to replay (merged by time).</summary>
    [MinLength(1)]
    public List<ReplayFileOptions> Files { get; set; } = [];

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (FromUtc is { } from && ToUtc is { } to && to <= from)
        {
            yield return new ValidationResult($"ToUtc ({to:O}) must be after FromUtc ({from:O})", [nameof(ToUtc)]);
        }

        if (Files.Select(f => f.Symbol).Distinct(StringComparer.OrdinalIgnoreCase).Count() != Files.Count)
        {
            yield return new ValidationResult("each symbol may appear in one replay file only", [nameof(Files)]);
        }
    }
}

/// <summary>One replayed file.</summary>
public sealed class ReplayFileOptions
{
    /// <summary>Instrument symbol (must be in the instrument catalog).</summary>
    [Required]
    public string Symbol { get; set; } = "";

    /// <summary>Path relative to <see cref="ReplayOptions.DataDirectory"/> (or absolute).</summary>
    [Required]
    public string Path { get; set; } = "";

    /// <summary>Bar interval in minutes. Range 1–1440.</summary>
    [Range(1, 1440)]
    public int IntervalMinutes { get; set; } = 15;

    /// <summary>Price value of one <c>spread_points</c> unit. Default 0.01 (MT5 XAUUSD points).</summary>
    [Range(0.0, 1000.0)]
    public decimal SpreadPointSize { get; set; } = 0.01m;
}

/// <summary>The simulated broker's cost model (section <c>SimulatedBroker</c>).</summary>
public sealed class SimulatedBrokerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "SimulatedBroker";

    /// <summary>Adverse slippage on market and stop fills, in ticks. Default 1, range 0–1000.</summary>
    [Range(0, 1000)]
    public int SlippageTicks { get; set; } = 1;

    /// <summary>Costs per symbol.</summary>
    [Required]
    public Dictionary<string, SimulatedCostOptions> Costs { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Costs of one instrument at the simulated broker.</summary>
public sealed class SimulatedCostOptions
{
    /// <summary>Spread in price units when a bar carries none (USD/oz). Range 0–1000.</summary>
    [Range(0.0, 1000.0)]
    public decimal DefaultSpread { get; set; }

    /// <summary>Commission as a fraction of notional (IB tiered metals: gold 0.00015, silver 0.0003). Range 0–0.01.</summary>
    [Range(0.0, 0.01)]
    public decimal CommissionRate { get; set; }

    /// <summary>Minimum commission per order, instrument currency (IB: 2.00 USD). Range 0–1000.</summary>
    [Range(0.0, 1000.0)]
    public decimal MinimumCommission { get; set; }
}

/// <summary>Risk limits of the first-version sentinel (section <c>Risk</c>).</summary>
public sealed class RiskOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Risk";

    /// <summary>Daily loss (realized + unrealized, net of commissions, base currency) that flattens everything. Default 2000, range 1–10,000,000.</summary>
    [Range(1.0, 10_000_000.0)]
    public decimal DailyLossLimit { get; set; } = 2000m;

    /// <summary>Sentinel time-driven sweep period in milliseconds (≤ 1000). Default 250.</summary>
    [Range(10, 1000)]
    public int SweepIntervalMilliseconds { get; set; } = 250;

    /// <summary>IANA time zone of the trading-day boundary. Default America/New_York.</summary>
    [Required]
    public string TradingDayTimeZone { get; set; } = "America/New_York";

    /// <summary>Local start of the trading day (metals roll at 17:00 New York). Default 17:00.</summary>
    public TimeOnly TradingDayStart { get; set; } = new(17, 0);
}

/// <summary>The account (section <c>Account</c>).</summary>
public sealed class AccountOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Account";

    /// <summary>Base currency for P&amp;L and limits. Default USD.</summary>
    [RegularExpression("^[A-Z]{3}$")]
    public string BaseCurrency { get; set; } = "USD";
}

/// <summary>SQLite persistence (section <c>Persistence</c>).</summary>
public sealed class PersistenceOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Persistence";

    /// <summary>Database file; relative paths resolve against the working directory. Default <c>var/metalsniper.db</c>.</summary>
    [Required]
    public string DatabasePath { get; set; } = "var/metalsniper.db";

    /// <summary>Largest batch the writer commits in one transaction. Default 1000, range 1–100,000.</summary>
    [Range(1, 100_000)]
    public int MaxBatchSize { get; set; } = 1000;

    /// <summary>Capacity of the writer's queue. Full-mode policy: Wait (producers slow down; nothing is dropped). Default 65536.</summary>
    [Range(16, 10_000_000)]
    public int QueueCapacity { get; set; } = 65536;
}
