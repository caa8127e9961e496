using System.ComponentModel.DataAnnotations;

namespace MetalSniper.Host.Configuration;

/// <summary>Which broker the system trades through (section <c>Broker</c>).</summary>
public sealed class BrokerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Broker";

    /// <summary>The broker: <c>Simulated</c> (default, the embedded paper broker) or <c>InteractiveBrokers</c> (TWS / IB Gateway over the socket API).</summary>
    [AllowedValues("Simulated", "InteractiveBrokers")]
    public string Kind { get; set; } = "Simulated";

    /// <summary>Connection to TWS / IB Gateway (used when <see cref="Kind"/> is <c>InteractiveBrokers</c>).</summary>
    [Required]
    public InteractiveBrokersOptions InteractiveBrokers { get; set; } = new();
}

/// <summary>
/// TWS / IB Gateway connection (section <c>Broker:InteractiveBrokers</c>). Ports: IB Gateway 4002 paper, 4001 live;
/// TWS 7497 paper, 7496 live (TWS-PROTOCOL.md §8.1). A paper configuration on a live port fails closed.
/// </summary>
public sealed class InteractiveBrokersOptions : IValidatableObject
{
    /// <summary>Host of TWS / IB Gateway. Default 127.0.0.1 (in docker-compose: the gateway's service name).</summary>
    [Required]
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>API port. Default 4002 (IB Gateway, paper).</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 4002;

    /// <summary>API client id (unique per connection to the same gateway; 0 also binds orders placed in TWS). Default 17.</summary>
    [Range(0, 999_999)]
    public int ClientId { get; set; } = 17;

    /// <summary>The account to trade (e.g. DU1234567 for paper). Empty: the single account the gateway manages (more than one is an error).</summary>
    [RegularExpression("^$|^[A-Z0-9]{4,20}$")]
    public string Account { get; set; } = "";

    /// <summary>Handshake timeout (connect, server version, nextValidId and managedAccounts). Default 10 s.</summary>
    [Range(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>After a (re)connect, entries wait this long in RECONNECT_WARMUP (reconciliation done, data settling) before FULLY_LIVE. Default 60 s.</summary>
    [Range(0, 3600)]
    public int ReconnectWarmupSeconds { get; set; } = 60;

    /// <summary>Base reconnect delay (the median first delay); it grows exponentially per failure up to <see cref="ReconnectMaxDelaySeconds"/>, with Polly's decorrelated jitter. Default 1 s.</summary>
    [Range(0.1, 600)]
    public double ReconnectMinDelaySeconds { get; set; } = 1;

    /// <summary>Longest reconnect delay. Default 60 s.</summary>
    [Range(1, 3600)]
    public double ReconnectMaxDelaySeconds { get; set; } = 60;

    /// <summary>Heartbeat (<c>reqCurrentTime</c>) period; it runs while disconnected too. A reply missing for two periods marks a half-open link. Default 10 s.</summary>
    [Range(1, 600)]
    public int HeartbeatSeconds { get; set; } = 10;

    /// <summary>Reconciliation queries (open orders, completed orders, executions, positions, account) must answer within this. Default 30 s; a timeout is "unknown", never "empty".</summary>
    [Range(1, 600)]
    public int ReconcileTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Windows in which no order is submitted (IB's nightly reset, the gateway's daily restart), "HH:mm-HH:mm" in
    /// <see cref="QuietWindowTimeZone"/>; a window may cross midnight. Default the nightly reset 23:40-00:10 New York.
    /// </summary>
    /// <remarks>Null (not configured): the default. A configured list replaces it (configuration binding would append to a non-empty default).</remarks>
    public List<string>? QuietWindows { get; set; }

    /// <summary>The windows in force: the configured ones, else the nightly reset 23:40-00:10.</summary>
    public IReadOnlyList<string> EffectiveQuietWindows => QuietWindows is { Count: > 0 } configured ? configured : ["23:40-00:10"];

    /// <summary>Time zone of <see cref="QuietWindows"/> (IANA). Default America/New_York.</summary>
    [Required]
    public string QuietWindowTimeZone { get; set; } = "America/New_York";

    /// <summary>Market data type: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen. Default 1.</summary>
    [Range(1, 4)]
    public int MarketDataType { get; set; } = 1;

    /// <summary>
    /// The service started while TWS / IB Gateway was unreachable: it waits for it (YELLOW at once, retrying with backoff, not
    /// ready, no orders) and raises a RED alert when it is still unreachable this many seconds after the start. Default 300 s.
    /// </summary>
    [Range(1, 86_400)]
    public int StartupUnreachableRedSeconds { get; set; } = 300;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ReconnectMaxDelaySeconds < ReconnectMinDelaySeconds)
        {
            yield return new ValidationResult($"ReconnectMaxDelaySeconds ({ReconnectMaxDelaySeconds}) must be at least ReconnectMinDelaySeconds ({ReconnectMinDelaySeconds})", [nameof(ReconnectMaxDelaySeconds)]);
        }

        foreach (var w in EffectiveQuietWindows)
        {
            if (!TryParseWindow(w, out _, out _))
            {
                yield return new ValidationResult($"QuietWindows: '{w}' is not \"HH:mm-HH:mm\"", [nameof(QuietWindows)]);
            }
        }

        if (!TimeZoneInfo.TryFindSystemTimeZoneById(QuietWindowTimeZone, out _))
        {
            yield return new ValidationResult($"QuietWindowTimeZone: unknown time zone '{QuietWindowTimeZone}'", [nameof(QuietWindowTimeZone)]);
        }
    }

    /// <summary>Parses "HH:mm-HH:mm".</summary>
    public static bool TryParseWindow(string text, out TimeOnly start, out TimeOnly end)
    {
        start = end = default;
        var parts = text?.Split('-') ?? [];
        return parts.Length == 2
            && TimeOnly.TryParseExact(parts[0].Trim(), "HH:mm", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out start)
            && TimeOnly.TryParseExact(parts[1].Trim(), "HH:mm", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out end);
    }
}

/// <summary>Where market data comes from (section <c>MarketData</c>).</summary>
public sealed class MarketDataOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "MarketData";

    /// <summary>The source: <c>Replay</c> (default: recorded real data) or <c>InteractiveBrokers</c> (live bars; needs <c>Broker:Kind</c> InteractiveBrokers).</summary>
    [AllowedValues("Replay", "InteractiveBrokers")]
    public string Source { get; set; } = "Replay";

    /// <summary>Live bars from Interactive Brokers (used when <see cref="Source"/> is <c>InteractiveBrokers</c>).</summary>
    [Required]
    public IbMarketDataOptions InteractiveBrokers { get; set; } = new();

    /// <summary>Replay settings.</summary>
    [Required]
    public ReplayOptions Replay { get; set; } = new();

    /// <summary>Capacity of the ingest → brain bar channel. Full-mode policy: Wait (backpressure: ingest slows down, nothing is dropped). Default 8192, range 16–1,048,576.</summary>
    [Range(16, 1_048_576)]
    public int ChannelCapacity { get; set; } = 8192;
}

/// <summary>Live bars from Interactive Brokers (section <c>MarketData:InteractiveBrokers</c>).</summary>
public sealed class IbMarketDataOptions
{
    /// <summary>Symbols to stream (instrument catalog symbols). Null (not configured): XAUUSD and XAGUSD; a configured list replaces the default.</summary>
    public List<string>? Symbols { get; set; }

    /// <summary>The symbols in force.</summary>
    public IReadOnlyList<string> EffectiveSymbols => Symbols is { Count: > 0 } configured ? configured : ["XAUUSD", "XAGUSD"];

    /// <summary>Bar size in minutes: 1, 5, 15, 30 or 60 (the strategy's bars). Default 15.</summary>
    [AllowedValues(1, 5, 15, 30, 60)]
    public int BarMinutes { get; set; } = 15;
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

    /// <summary>
    /// Pace of the <c>run</c> service when it replays (so it behaves like a live feed), in records per wall-clock second.
    /// Default 10: a rehearsal a person can watch (the metals year in about 78 minutes, every fill, trip and status line at
    /// a pace the log, the phone and the dashboard can follow); the causal scheduler gives the same result at any pace.
    /// </summary>
    [Range(0.0, 10_000_000.0)]
    public double ServicePaceBarsPerSecond { get; set; } = 10;

    /// <summary>
    /// How the <c>run</c> service drives a replayed feed. <c>Causal</c> (default): the causal scheduler, paced to
    /// <see cref="ServicePaceBarsPerSecond"/> — the same decisions, fills and P&amp;L on every run whatever the machine's load, and
    /// a restart resumes the run where it stopped (feed position, book, working orders, strategy state, the day's P&amp;L and the
    /// breakers' windows). <c>Threaded</c>: the live pipeline's threads and independent sentinel on the recorded data (a rehearsal
    /// of the live threading; thread timing decides what the brain sees, and every start is a new run).
    /// </summary>
    public ServiceScheduler ServiceScheduler { get; set; } = ServiceScheduler.Causal;

    /// <summary>Replay only bars opening at or after this UTC time (ISO-8601). Default: the start of the files. On bar open time for daily files too (a daily bar opens at its session open).</summary>
    public DateTimeOffset? FromUtc { get; set; }

    /// <summary>Replay only bars opening before this UTC time (ISO-8601). Default: the end of the files.</summary>
    public DateTimeOffset? ToUtc { get; set; }

    /// <summary>The files to replay (merged by bar close time: a bar is delivered once it is complete).</summary>
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

/// <summary>How the <c>run</c> service drives a replayed feed (<see cref="ReplayOptions.ServiceScheduler"/>).</summary>
public enum ServiceScheduler
{
    /// <summary>The causal scheduler, paced: deterministic, and a restart resumes the run.</summary>
    Causal,

    /// <summary>The live pipeline's threads and independent sentinel.</summary>
    Threaded,
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

    /// <summary>Bar interval in minutes of an intraday file. Range 1–1440. Ignored for a daily file (its bars take their times from the calendar).</summary>
    [Range(1, 1440)]
    public int IntervalMinutes { get; set; } = 15;

    /// <summary>Price value of one <c>spread_points</c> unit. Default 0.01 (MT5 XAUUSD points).</summary>
    [Range(0.0, 1000.0)]
    public decimal SpreadPointSize { get; set; } = 0.01m;

    /// <summary>
    /// True for a daily file (first column <c>date</c>, <c>YYYY-MM-DD</c>). Default false (intraday, first column <c>time</c>).
    /// A stock's row becomes one bar from its venue's session open to its session close on that date (exchange calendar:
    /// daylight saving and half days; a row on a closed date is refused with <c>NotATradingDate</c>); an FX pair's row
    /// (a Forex instrument, IDEALPRO) is Yahoo's snapshot near 00:00 Europe/London of its date: a one-minute bar ending then.
    /// </summary>
    public bool Daily { get; set; }

    /// <summary>The close column of a daily file: <c>close</c> (default, raw) or <c>adj_close</c> (Yahoo adjusted; open/high/low scaled by adj_close/close when present).</summary>
    [AllowedValues("close", "adj_close")]
    public string Column { get; set; } = "close";
}

/// <summary>The simulated broker's cost model (section <c>SimulatedBroker</c>).</summary>
public sealed class SimulatedBrokerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "SimulatedBroker";

    /// <summary>Adverse slippage on market and stop fills, in ticks. Default 1, range 0–1000.</summary>
    [Range(0, 1000)]
    public int SlippageTicks { get; set; } = 1;

    /// <summary>
    /// Partial fills: the largest fraction of a bar's volume that the orders of its symbol may fill on that bar; the rest works
    /// on to the next bar(s), market orders too. Null (default) = every triggered order fills completely, as before. A bar
    /// without volume (0, unknown) caps nothing: the recorded 15-minute metals files carry no volume, and where MT5 files do
    /// it is tick volume (a count of price updates, not ounces), so the cap there is a liquidity heuristic, not a measurement.
    /// Range (0, 1].
    /// </summary>
    [Range(0.000001, 1.0)]
    public decimal? MaxVolumeParticipation { get; set; }

    /// <summary>Costs per symbol.</summary>
    [Required]
    public Dictionary<string, SimulatedCostOptions> Costs { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The carry the simulated broker charges on spot metals held over the daily cut (borrow fee on shorts, storage on longs).</summary>
    [Required]
    public CarryOptions Carry { get; set; } = new();
}

/// <summary>
/// Carry on USD spot metals (section <c>SimulatedBroker:Carry</c>), as IB charges it on XAUUSD/XAGUSD (CMDTY): storage 0.10 % a
/// year on longs, a borrow fee of the USD benchmark + 1 % a year on shorts (tier I, balances to USD 1,000,000), each accrued
/// daily on |quantity| × mark at the cut, actual/360 (IBKR metals commissions page: interactivebrokers.com/en/pricing/commissions-metals.php,
/// see <see cref="Core.Costs.CarryCostModel"/>). Charged by the simulated broker path only: on IB, IB charges it.
/// </summary>
public sealed class CarryOptions : IValidatableObject
{
    /// <summary>
    /// The USD benchmark used when <see cref="Benchmark"/> is empty: the midpoint of the FOMC's federal funds target range, from
    /// the day after each decision (federalreserve.gov, "Open Market Operations", policy implementation notes), 2017-12-14 to
    /// 2025-12-11. IBKR's USD benchmark is the Fed Funds effective rate, which has traded inside the range (within about
    /// 0.1 percentage point of its midpoint since 2018); rates after the last entry are held at it.
    /// </summary>
    public static IReadOnlyList<Core.Costs.BenchmarkRate> DefaultBenchmark { get; } =
    [
        new(new DateOnly(2017, 12, 14), 0.01375m),
        new(new DateOnly(2018, 3, 22), 0.01625m),
        new(new DateOnly(2018, 6, 14), 0.01875m),
        new(new DateOnly(2018, 9, 27), 0.02125m),
        new(new DateOnly(2018, 12, 20), 0.02375m),
        new(new DateOnly(2019, 8, 1), 0.02125m),
        new(new DateOnly(2019, 9, 19), 0.01875m),
        new(new DateOnly(2019, 10, 31), 0.01625m),
        new(new DateOnly(2020, 3, 4), 0.01125m),
        new(new DateOnly(2020, 3, 16), 0.00125m),
        new(new DateOnly(2022, 3, 17), 0.00375m),
        new(new DateOnly(2022, 5, 5), 0.00875m),
        new(new DateOnly(2022, 6, 16), 0.01625m),
        new(new DateOnly(2022, 7, 28), 0.02375m),
        new(new DateOnly(2022, 9, 22), 0.03125m),
        new(new DateOnly(2022, 11, 3), 0.03875m),
        new(new DateOnly(2022, 12, 15), 0.04375m),
        new(new DateOnly(2023, 2, 2), 0.04625m),
        new(new DateOnly(2023, 3, 23), 0.04875m),
        new(new DateOnly(2023, 5, 4), 0.05125m),
        new(new DateOnly(2023, 7, 27), 0.05375m),
        new(new DateOnly(2024, 9, 19), 0.04875m),
        new(new DateOnly(2024, 11, 8), 0.04625m),
        new(new DateOnly(2024, 12, 19), 0.04375m),
        new(new DateOnly(2025, 9, 18), 0.04125m),
        new(new DateOnly(2025, 10, 30), 0.03875m),
        new(new DateOnly(2025, 12, 11), 0.03625m),
    ];

    /// <summary>Charge carry in the simulated broker path (default true). Off: no borrow fee and no storage, as before issue "Trust at the edges".</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Spread of the borrow fee over the benchmark, an annual fraction (IB tier I: 0.01 = 1 % a year). Range 0–0.10.</summary>
    public decimal BorrowSpreadAnnual { get; set; } = 0.01m;

    /// <summary>Storage on longs, an annual fraction of the position's value (IB: 0.001 = 0.10 % a year). Range 0–0.10.</summary>
    public decimal StorageRateAnnual { get; set; } = 0.001m;

    /// <summary>Day-count basis: actual/<c>DayCountBasis</c> (IB USD: 360). 360 or 365.</summary>
    public int DayCountBasis { get; set; } = 360;

    /// <summary>Time zone of the daily cut (IANA, default America/New_York).</summary>
    public string CutTimeZone { get; set; } = "America/New_York";

    /// <summary>Local time of the daily cut (default 17:00: the metals' daily break and the trading-day roll).</summary>
    public TimeOnly CutTime { get; set; } = new(17, 0);

    /// <summary>The USD benchmark schedule (annual fractions from a date on, ascending); empty: <see cref="DefaultBenchmark"/>.</summary>
    public List<BenchmarkRateOptions> Benchmark { get; set; } = [];

    /// <summary>Where the benchmark schedule comes from (free text, shown in the configuration; not used in the computation).</summary>
    public string? BenchmarkSource { get; set; }

    /// <summary>The schedule in effect: <see cref="Benchmark"/>, or <see cref="DefaultBenchmark"/> when it is empty.</summary>
    public IReadOnlyList<Core.Costs.BenchmarkRate> EffectiveBenchmark =>
        Benchmark.Count == 0 ? DefaultBenchmark : [.. Benchmark.Select(b => new Core.Costs.BenchmarkRate(b.EffectiveFrom, b.AnnualRate))];

    /// <summary>The model and its daily cut (null when off).</summary>
    public Core.Costs.CarryAccrual? CreateAccrual() => Enabled
        ? new Core.Costs.CarryAccrual(new Core.Costs.CarryCostModel(BorrowSpreadAnnual, StorageRateAnnual, DayCountBasis, EffectiveBenchmark), CutTimeZone, CutTime)
        : null;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var problem in Core.Costs.CarryCostModel.Check(BorrowSpreadAnnual, StorageRateAnnual, DayCountBasis, EffectiveBenchmark))
        {
            yield return new ValidationResult(problem, [nameof(Benchmark)]);
        }

        if (!TimeZoneInfo.TryFindSystemTimeZoneById(CutTimeZone, out _))
        {
            yield return new ValidationResult($"CutTimeZone: unknown time zone '{CutTimeZone}'", [nameof(CutTimeZone)]);
        }
    }
}

/// <summary>One entry of the USD benchmark schedule.</summary>
public sealed class BenchmarkRateOptions
{
    /// <summary>First accrual day (the cut's local date) the rate applies to, yyyy-MM-dd.</summary>
    public DateOnly EffectiveFrom { get; set; }

    /// <summary>Annual rate as a fraction (0.05375 = 5.375 %).</summary>
    public decimal AnnualRate { get; set; }
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

/// <summary>SQLite persistence (section <c>Persistence</c>).</summary>
public sealed class PersistenceOptions : IValidatableObject
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Persistence";

    /// <summary>
    /// The chain key file (a keyring, see <see cref="Sentinel.Halts.ChainKeyring"/>): the HMAC-SHA256 keys of the decision journal,
    /// the halts store and their anchors, kept outside the database. Mode 0600/0400 (a file its group or others can access is
    /// refused). Required for the service with a real broker (<c>Broker:Kind</c> InteractiveBrokers; the install script creates
    /// <c>/etc/metalsniper/chain.key</c>). Empty (default) elsewhere: <c>chain.key</c> in the database's directory, created on first use (0600) —
    /// beside the database, so it protects nothing against whoever can write that directory (see the README).
    /// </summary>
    public string ChainKeyFile { get; set; } = "";

    /// <inheritdoc />
    /// <remarks>A configured key file must exist and be usable (owner-only mode, well formed); its keys are never part of a message.</remarks>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ChainKeyFile.Length == 0)
        {
            yield break;
        }

        string? problem = null;
        try
        {
            Sentinel.Halts.ChainKeyring.Load(ChainKeyFile);
        }
        catch (Sentinel.Halts.ChainKeyException e)
        {
            problem = e.Message;
        }

        if (problem is not null)
        {
            yield return new ValidationResult(problem, [nameof(ChainKeyFile)]);
        }
    }

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

/// <summary>The hash-chained decision journal (section <c>Journal</c>).</summary>
public sealed class JournalOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Journal";

    /// <summary>The journal file. Empty (default): beside the database, <c>journal.db</c> for the service and <c>journal-replay.db</c> for replays.</summary>
    public string Path { get; set; } = "";

    /// <summary>The journal file to use: <see cref="Path"/>, or beside <paramref name="databasePath"/> for the mode.</summary>
    public string Resolve(string databasePath, Engine.Pipeline.RunMode mode) =>
        Path.Length > 0 ? System.IO.Path.GetFullPath(Path)
            : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(databasePath))!, mode == Engine.Pipeline.RunMode.Service ? "journal.db" : "journal-replay.db");

    /// <summary>Entries at the end of the chain verified at every start (the anchor is always checked; <c>journal verify</c> checks all). Default 10,000.</summary>
    [Range(0, 100_000_000)]
    public int VerifyTailEntries { get; set; } = 10_000;

    /// <summary>Largest group commit. Default 1024.</summary>
    [Range(1, 100_000)]
    public int MaxBatch { get; set; } = 1024;

    /// <summary>WAL checkpoint period in seconds (off the commit path). Default 30.</summary>
    [Range(1, 3600)]
    public int CheckpointSeconds { get; set; } = 30;

    /// <summary>The service's journal path for a configuration: <c>Journal:Path</c>, or <c>journal.db</c> beside the database.</summary>
    public static string ServicePath(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var o = configuration.GetSection(JournalOptions.SectionName).Get<JournalOptions>() ?? new JournalOptions();
        var db = configuration.GetSection(PersistenceOptions.SectionName).Get<PersistenceOptions>() ?? new PersistenceOptions();
        return o.Resolve(db.DatabasePath, Engine.Pipeline.RunMode.Service);
    }
}

