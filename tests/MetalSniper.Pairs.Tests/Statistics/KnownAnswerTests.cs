using MetalSniper.Pairs.Statistics;

namespace MetalSniper.Pairs.Tests.Statistics;

public sealed class KnownAnswerTests
{
    [Fact]
    public void Adf_SeededRandomWalk_IsNotStationary()
    {
        var walk = Simulated.RandomWalk(1000, seed: 20261207);

        var adf = Adf.Test(walk);

        adf.PValue.ShouldBeGreaterThan(0.1);
        adf.Statistic.ShouldBeGreaterThan(adf.Critical10);
    }

    [Fact]
    public void Adf_ManySeededRandomWalks_RejectAtFivePercentAboutFivePercentOfTheTime()
    {
        // Under the null the p-value is roughly uniform: of 200 walks about 10 reject at 5 % (binomial sd ≈ 3).
        var rejections = Enumerable.Range(1, 200).Count(seed => Adf.Test(Simulated.RandomWalk(400, seed)).PValue < 0.05);

        rejections.ShouldBeInRange(2, 22);
    }

    [Fact]
    public void Adf_SeededAr1WithPhiHalf_IsStationary()
    {
        var adf = Adf.Test(Simulated.Ar1(1000, seed: 7, phi: 0.5));

        adf.PValue.ShouldBeLessThan(0.01);
        adf.Statistic.ShouldBeLessThan(adf.Critical1);
    }

    [Fact]
    public void HalfLife_LongAr1WithPhiHalf_IsOneObservation()
    {
        // φ = 0.5: −ln 2 / ln 0.5 = 1 exactly; with 20 000 points se(φ̂) ≈ 0.006, so se(half-life) ≈ 0.02.
        var result = HalfLife.Estimate(Simulated.Ar1(20_000, seed: 11, phi: 0.5, start: 3.0));

        result.IsMeanReverting.ShouldBeTrue();
        result.Phi.ShouldBe(0.5, 0.02);
        result.B.ShouldBe(result.Phi - 1.0, 1e-15);
        result.HalfLife.ShouldBe(1.0, 0.06);
        result.N.ShouldBe(19_999);
        result.Mean!.Value.ShouldBe(0.0, 0.05);
    }

    [Fact]
    public void HalfLife_Ar1WithPhiPoint9AroundAMean_RecoversHalfLifeAndMean()
    {
        // s_t − 5 = 0.9·(s_{t−1} − 5) + ε: half-life −ln 2 / ln 0.9 ≈ 6.58 observations, mean 5.
        var s = Simulated.Ar1(20_000, seed: 12, phi: 0.9).Select(v => v + 5.0).ToArray();

        var result = HalfLife.Estimate(s);

        result.HalfLife.ShouldBe(-Math.Log(2) / Math.Log(0.9), 0.5);
        result.Mean!.Value.ShouldBe(5.0, 0.2);
    }

    [Fact]
    public void HalfLife_ExplosiveSeries_IsInfiniteAndNotMeanReverting()
    {
        var result = HalfLife.Estimate(Simulated.Ar1(300, seed: 13, phi: 1.02, start: 1.0));

        result.B.ShouldBeGreaterThanOrEqualTo(0.0);
        result.IsMeanReverting.ShouldBeFalse();
        double.IsPositiveInfinity(result.HalfLife).ShouldBeTrue();
        result.Mean.ShouldBeNull();
    }

    [Fact]
    public void EngleGranger_RandomWalkAndTwiceItPlusStationaryNoise_IsCointegratedWithHedgeRatioTwo()
    {
        var x = Simulated.RandomWalk(1000, seed: 21);
        var noise = Simulated.Ar1(1000, seed: 22, phi: 0.3);
        var y = x.Zip(noise, (a, u) => 2.0 * a + u).ToArray();

        var result = EngleGranger.Test(y, x);

        result.HedgeRatio.ShouldBe(2.0, 0.02);
        result.PValue.ShouldBeLessThan(0.01);
        result.AdfStatistic.ShouldBeLessThan(result.Critical1);
        result.N.ShouldBe(1000);
        result.Residuals.Length.ShouldBe(1000);
    }

    [Fact]
    public void EngleGranger_IndependentRandomWalks_AreNotCointegrated()
    {
        var result = EngleGranger.Test(Simulated.RandomWalk(1000, seed: 31), Simulated.RandomWalk(1000, seed: 32));

        result.PValue.ShouldBeGreaterThan(0.05);
        result.AdfStatistic.ShouldBeGreaterThan(result.Critical5);
    }

    [Fact]
    public void Ols_NoisyLine_MatchesTheClosedFormEstimatesAndStandardError()
    {
        var x = Simulated.RandomWalk(500, seed: 41);
        var e = Simulated.Noise(500, seed: 42, sd: 0.5);
        var y = x.Zip(e, (a, u) => 3.0 + 1.5 * a + u).ToArray();

        var fit = Ols.Fit(y, x);

        // Closed form: β = Sxy / Sxx, α = ȳ − β·x̄, se(β) = sqrt(s² / Sxx), s² = SSR / (n − 2).
        var mx = x.Average();
        var my = y.Average();
        var sxx = x.Sum(v => (v - mx) * (v - mx));
        var sxy = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum();
        var beta = sxy / sxx;
        var alpha = my - beta * mx;
        var ssr = x.Zip(y, (a, b) => Math.Pow(b - alpha - beta * a, 2)).Sum();
        fit.Slope.ShouldBe(beta, 1e-10);
        fit.Intercept.ShouldBe(alpha, 1e-8);
        fit.SlopeStandardError.ShouldBe(Math.Sqrt(ssr / (500 - 2) / sxx), 1e-12);
        fit.RSquared.ShouldBe(1.0 - ssr / y.Sum(v => (v - my) * (v - my)), 1e-12);
        fit.Residuals.Length.ShouldBe(500);
        fit.N.ShouldBe(500);
    }

    [Fact]
    public void MacKinnon_AsymptoticFivePercentCriticalValues_HavePValuesNearFivePercent()
    {
        // The 1994 distribution functions and the 2010 critical values are separate fits; they agree to about ±0.005.
        foreach (var (regression, variables) in new[] { (AdfRegression.None, 1), (AdfRegression.Constant, 1), (AdfRegression.ConstantTrend, 1), (AdfRegression.Constant, 2), (AdfRegression.ConstantTrend, 2) })
        {
            var critical = MacKinnon.CriticalValues(regression, variables);
            MacKinnon.PValue(critical.FivePercent, regression, variables).ShouldBe(0.05, 0.005, $"{regression} N={variables}");
            MacKinnon.PValue(critical.OnePercent, regression, variables).ShouldBe(0.01, 0.003, $"{regression} N={variables}");
        }
    }

    [Fact]
    public void MacKinnon_FiniteSampleCriticalValues_AreFurtherOutThanAsymptoticOnes()
    {
        var asymptotic = MacKinnon.CriticalValues(AdfRegression.Constant, 1);
        var small = MacKinnon.CriticalValues(AdfRegression.Constant, 1, nobs: 100);

        asymptotic.FivePercent.ShouldBe(-2.86154, 1e-12);
        small.FivePercent.ShouldBeLessThan(asymptotic.FivePercent);
        small.FivePercent.ShouldBe(-2.86154 - 2.8903 / 100 - 4.234 / 1e4 - 40.040 / 1e6, 1e-12);
    }
}
