using System.ComponentModel.DataAnnotations;

namespace MetalSniper.Strategies.Metals;

/// <summary>
/// Parameters of the metals strategy (configuration section <c>Strategies:Metals</c>). Prices and
/// distances are in the instrument's price units (USD per troy ounce); ATR multiples use the
/// strategy's ATR on the traded bar interval.
/// </summary>
public sealed class MetalsStrategyOptions : IValidatableObject
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Strategies:Metals";

    /// <summary>Whether the strategy runs. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Symbols traded (appsettings.json lists XAUUSD and XAGUSD). Required: a collection default would be appended to by configuration binding.</summary>
    [MinLength(1)]
    public string[] Symbols { get; set; } = [];

    /// <summary>ATR period in bars (Wilder). Default 14, range 2–500.</summary>
    [Range(2, 500)]
    public int AtrPeriod { get; set; } = 14;

    /// <summary>Long ATR period for the compression test. Default 96 (one day of 15-minute bars), range 2–5000.</summary>
    [Range(2, 5000)]
    public int LongAtrPeriod { get; set; } = 96;

    /// <summary>The hedge opens only when ATR/long ATR ≤ this (a quiet market before an expansion). Default 0.9; ≥ 10 disables the test.</summary>
    [Range(0.05, 100.0)]
    public decimal CompressionRatio { get; set; } = 0.9m;

    /// <summary>Each leg's initial stop distance, in ATRs: this is 1R. Default 1.5, range 0.1–20.</summary>
    [Range(0.1, 20.0)]
    public decimal StopAtr { get; set; } = 1.5m;

    /// <summary>Risk per leg (1R) in USD; sets the quantity. Default 250, range 1–1,000,000.</summary>
    [Range(1.0, 1_000_000.0)]
    public decimal RiskPerTradeUsd { get; set; } = 250m;

    /// <summary>Cap on each leg's notional (quantity × price) in USD, whatever the ATR says: a quiet 15-minute ATR must not size a position that one gap can ruin. Default 50,000, range 100–100,000,000.</summary>
    [Range(100.0, 100_000_000.0)]
    public decimal MaxNotionalUsd { get; set; } = 50_000m;

    /// <summary>Cap on the whole position's notional after adds, in USD. Default 100,000, range 100–100,000,000.</summary>
    [Range(100.0, 100_000_000.0)]
    public decimal MaxPositionNotionalUsd { get; set; } = 100_000m;

    /// <summary>Bars after which an undecided hedge (neither leg killed) is cancelled. Default 16, range 1–10,000.</summary>
    [Range(1, 10_000)]
    public int HedgeExpiryBars { get; set; } = 16;

    /// <summary>R multiple at which the survivor's stop moves to breakeven. Default 1.0, range 0.1–20.</summary>
    [Range(0.1, 20.0)]
    public decimal BreakevenAtR { get; set; } = 1.0m;

    /// <summary>Trailing stop distance from the extreme since entry, in ATRs (chandelier). Default 3.0, range 0.1–50.</summary>
    [Range(0.1, 50.0)]
    public decimal TrailAtr { get; set; } = 3.0m;

    /// <summary>Smallest stop move sent to the broker, in ATRs (fewer modifications). Default 0.25, range 0–10.</summary>
    [Range(0.0, 10.0)]
    public decimal MinStopStepAtr { get; set; } = 0.25m;

    /// <summary>Fast EMA period for the turn test. Default 8.</summary>
    [Range(2, 1000)]
    public int FastEma { get; set; } = 8;

    /// <summary>Slow EMA period for the turn test. Default 34 (must exceed <see cref="FastEma"/>).</summary>
    [Range(3, 5000)]
    public int SlowEma { get; set; } = 34;

    /// <summary>Consecutive bars the turn must hold before the survivor exits (noise filter). Default 2, range 1–100.</summary>
    [Range(1, 100)]
    public int TurnConfirmBars { get; set; } = 2;

    /// <summary>Maximum adds per trade. Default 2, range 0–10.</summary>
    [Range(0, 10)]
    public int MaxAdds { get; set; } = 2;

    /// <summary>Price progress, in R, beyond the last entry before an add is considered. Default 1.0, range 0.1–20.</summary>
    [Range(0.1, 20.0)]
    public decimal AddSpacingR { get; set; } = 1.0m;

    /// <summary>Size of an add as a fraction of the initial quantity. Default 0.5, range 0.01–5.</summary>
    [Range(0.01, 5.0)]
    public decimal AddFraction { get; set; } = 0.5m;

    /// <summary>Bars to wait after a trade before a new hedge. Default 4, range 0–10,000.</summary>
    [Range(0, 10_000)]
    public int CooldownBars { get; set; } = 4;

    /// <summary>No hedge opens with less than this left in the session. Default 02:00:00.</summary>
    public TimeSpan MinSessionRemaining { get; set; } = TimeSpan.FromHours(2);

    /// <summary>The position is closed this long before a closure longer than the daily break (weekend, holiday). Default 00:30:00.</summary>
    public TimeSpan FlattenBeforeClosure { get; set; } = TimeSpan.FromMinutes(30);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SlowEma <= FastEma)
        {
            yield return new ValidationResult($"SlowEma must be > FastEma, was {SlowEma} ≤ {FastEma}", [nameof(SlowEma)]);
        }

        if (LongAtrPeriod <= AtrPeriod)
        {
            yield return new ValidationResult($"LongAtrPeriod must be > AtrPeriod, was {LongAtrPeriod} ≤ {AtrPeriod}", [nameof(LongAtrPeriod)]);
        }

        if (MinSessionRemaining < TimeSpan.Zero || FlattenBeforeClosure < TimeSpan.Zero)
        {
            yield return new ValidationResult("MinSessionRemaining and FlattenBeforeClosure must be ≥ 0", [nameof(MinSessionRemaining), nameof(FlattenBeforeClosure)]);
        }

        if (Symbols.Distinct(StringComparer.OrdinalIgnoreCase).Count() != Symbols.Length)
        {
            yield return new ValidationResult($"Symbols must be unique, were [{string.Join(", ", Symbols)}]", [nameof(Symbols)]);
        }
    }
}
