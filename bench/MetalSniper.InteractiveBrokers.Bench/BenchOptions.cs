using System.Globalization;

namespace MetalSniper.InteractiveBrokers.Bench;

/// <summary>Command-line options.</summary>
internal sealed record BenchOptions
{
    public int Samples { get; init; } = 2000;

    public int? Warmup { get; init; }

    public double GapMs { get; init; } = 1.0;

    public bool CancelEach { get; init; } = true;

    public int PacerSamples { get; init; } = 100;

    public int BaselineSamples { get; init; } = 2000;

    public int FakeSegment { get; init; } = 1000;

    /// <summary>Samples discarded at the start of every segment after the first (new connection, new fake).</summary>
    public const int SegmentWarmup = 10;

    public string? JsonPath { get; init; }

    public bool Help { get; init; }

    /// <summary>Warm-up samples: as given, else 10 % of the samples (at least 100), as PERFORMANCE.md asks.</summary>
    public int EffectiveWarmup => Warmup ?? Math.Max(100, Samples / 10);

    public const string Usage = """
        MetalSniper.InteractiveBrokers.Bench: PERFORMANCE.md #2 over real sockets (fake TWS tick → our placeOrder bytes)
          --samples N           measured samples of the unpaced phase (default 2000; PERFORMANCE.md wants >= 10000 for p99.9)
          --warmup N            samples discarded first (default 10 % of --samples, at least 100)
          --gap-ms X            idle time before each tick, after the previous sample settled (default 1; 0 = back to back)
          --no-cancel           keep every order working in the fake instead of cancelling it after it arrived
          --pacer-samples N     samples of the production-pacer phase, back to back (default 100; 0 skips it)
          --baseline-samples N  samples of each baseline (idle wake, loopback RTT) (default 2000)
          --fake-segment N      a fresh fake TWS (and connection) every N samples (default 1000; 0 = one fake for all):
                                the fake keeps every order and scans them all on each quote, which would skew the figures
          --json PATH           also write the figures as JSON
        """;

    /// <exception cref="ArgumentException">An unknown option or a bad value.</exception>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            o = name switch
            {
                "--samples" => o with { Samples = PositiveInt(name, Value()) },
                "--warmup" => o with { Warmup = NonNegativeInt(name, Value()) },
                "--gap-ms" => o with { GapMs = NonNegativeDouble(name, Value()) },
                "--no-cancel" => o with { CancelEach = false },
                "--pacer-samples" => o with { PacerSamples = NonNegativeInt(name, Value()) },
                "--baseline-samples" => o with { BaselineSamples = PositiveInt(name, Value()) },
                "--fake-segment" => o with { FakeSegment = NonNegativeInt(name, Value()) },
                "--json" => o with { JsonPath = Value() },
                "--help" or "-h" => o with { Help = true },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        if (o.EffectiveWarmup + (o.FakeSegment > 0 ? Math.Min(o.FakeSegment, o.Samples) : o.Samples) > 100_000)
        {
            throw new ArgumentException("--warmup + samples per fake segment must be <= 100000 (each sample needs a unique bid in the fake's price grid)");
        }

        if (o.PacerSamples > 100_000)
        {
            throw new ArgumentException("--pacer-samples must be <= 100000");
        }

        return o;
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"{name} must be a positive integer, was '{value}'");

    private static int NonNegativeInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"{name} must be an integer >= 0, was '{value}'");

    private static double NonNegativeDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && double.IsFinite(v)
            ? v
            : throw new ArgumentException($"{name} must be a number >= 0, was '{value}'");
}
