using MathNet.Numerics.Distributions;
using MathNet.Numerics.Random;

namespace MetalSniper.Pairs.Tests.Statistics;

/// <summary>Seeded simulated series (MathNet Mersenne Twister, standard normal shocks): same numbers on every run.</summary>
internal static class Simulated
{
    public static double[] Noise(int n, int seed, double sd = 1.0)
    {
        var normal = new Normal(0.0, sd, new MersenneTwister(seed));
        var e = new double[n];
        for (var t = 0; t < n; t++)
        {
            e[t] = normal.Sample();
        }

        return e;
    }

    public static double[] RandomWalk(int n, int seed, double start = 100.0) => Ar1(n, seed, phi: 1.0, start);

    /// <summary>s_t = φ·s_{t−1} + ε_t, s_0 = start.</summary>
    public static double[] Ar1(int n, int seed, double phi, double start = 0.0)
    {
        var e = Noise(n, seed);
        var s = new double[n];
        s[0] = start;
        for (var t = 1; t < n; t++)
        {
            s[t] = phi * s[t - 1] + e[t];
        }

        return s;
    }
}
