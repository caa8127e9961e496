using System.Text.Json;
using MetalSniper.Judges.Evaluation;
using MetalSniper.Judges.Registry;

namespace MetalSniper.Judges.Tests;

/// <summary>A calibrator is stored as its description and re-created with identical outputs.</summary>
public sealed class CalibrationPersistenceTests
{
    /// <summary>Skewed raw probabilities (the truth is p², so calibration has work to do), with ties.</summary>
    private static (double[] P, int[] Y) Validation(int n, int seed)
    {
        var r = new Random(seed);
        var p = new double[n];
        var y = new int[n];
        for (var i = 0; i < n; i++)
        {
            p[i] = i % 10 == 0 ? 0.5 : r.NextDouble();
            y[i] = r.NextDouble() < p[i] * p[i] ? 1 : 0;
        }

        return (p, y);
    }

    /// <summary>Raw probabilities to compare at: a fine grid, the ends, outside [0, 1], and every isotonic breakpoint with its neighbours.</summary>
    private static IEnumerable<double> Probes(Calibrator c)
    {
        for (var i = 0; i <= 10_000; i++)
        {
            yield return i / 10_000.0;
        }

        foreach (var x in new[] { -0.5, 1.5, 1e-300, 1 - 1e-16 })
        {
            yield return x;
        }

        foreach (var x in c.Description.X ?? [])
        {
            yield return x;
            yield return Math.BitDecrement(x);
            yield return Math.BitIncrement(x);
        }
    }

    private static Calibrator RoundTrip(Calibrator c)
    {
        var json = JsonSerializer.Serialize(c.Description, JudgesJsonContext.Default.CalibrationDescription);
        return Calibrator.FromDescription(JsonSerializer.Deserialize(json, JudgesJsonContext.Default.CalibrationDescription)!);
    }

    [Fact]
    public void PlattCalibrator_RoundTrippedThroughJson_GivesBitIdenticalOutputs()
    {
        var (p, y) = Validation(3_000, 1);
        var fitted = Calibrator.Platt(p, y);
        var back = RoundTrip(fitted);
        back.Description.SameAs(fitted.Description).ShouldBeTrue();
        back.Method.ShouldBe(fitted.Method);
        fitted.Description.A.ShouldNotBeNull();
        foreach (var q in Probes(fitted))
        {
            BitConverter.DoubleToInt64Bits(back.Apply(q)).ShouldBe(BitConverter.DoubleToInt64Bits(fitted.Apply(q)), $"at {q:R}");
        }
    }

    [Fact]
    public void IsotonicCalibrator_RoundTrippedThroughJson_GivesBitIdenticalOutputs()
    {
        var (p, y) = Validation(3_000, 2);
        var fitted = Calibrator.Isotonic(p, y);
        fitted.Description.X!.Count.ShouldBeGreaterThan(5);
        var back = RoundTrip(fitted);
        back.Description.SameAs(fitted.Description).ShouldBeTrue();
        foreach (var q in Probes(fitted))
        {
            BitConverter.DoubleToInt64Bits(back.Apply(q)).ShouldBe(BitConverter.DoubleToInt64Bits(fitted.Apply(q)), $"at {q:R}");
        }
    }

    [Fact]
    public void IdentityCalibrator_RoundTrips_AndLeavesProbabilitiesAlone()
    {
        var back = RoundTrip(Calibrator.Identity());
        back.Method.ShouldBe("identity");
        back.Apply(0.37).ShouldBe(0.37);
        back.Apply(1.2).ShouldBe(1.0);
    }

    [Fact]
    public void ADescriptionThatDoesNotFitItsMethod_IsRefused()
    {
        Should.Throw<ArgumentException>(() => Calibrator.FromDescription(new CalibrationDescription("magic"))).Message.ShouldContain("unknown calibration method 'magic'");
        Should.Throw<ArgumentException>(() => Calibrator.FromDescription(new CalibrationDescription("platt", A: -1))).Message.ShouldContain("finite A and B");
        Should.Throw<ArgumentException>(() => Calibrator.FromDescription(new CalibrationDescription("isotonic", X: [0.2, 0.1], Y: [0.1, 0.2]))).Message.ShouldContain("non-decreasing");
        Should.Throw<ArgumentException>(() => Calibrator.FromDescription(new CalibrationDescription("isotonic", X: [0.1, 0.2], Y: [0.1]))).Message.ShouldContain("as many values as breakpoints");
    }
}
