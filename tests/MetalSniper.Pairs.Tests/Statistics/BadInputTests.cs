using MetalSniper.Pairs.Statistics;

namespace MetalSniper.Pairs.Tests.Statistics;

public sealed class BadInputTests
{
    private static readonly double[] Walk = Simulated.RandomWalk(200, seed: 61);

    private static double[] WithNaN(double[] s)
    {
        var copy = (double[])s.Clone();
        copy[17] = double.NaN;
        return copy;
    }

    [Fact]
    public void Adf_TooShort_ThrowsNamingTheMinimum()
    {
        var e = Should.Throw<ArgumentException>(() => Adf.Test(Walk.AsSpan(0, 19)));
        e.Message.ShouldContain("at least 20");
        e.Message.ShouldContain("was 19");
    }

    [Fact]
    public void Adf_NaN_ThrowsNamingTheIndex()
    {
        var e = Should.Throw<ArgumentException>(() => Adf.Test(WithNaN(Walk)));
        e.Message.ShouldContain("series[17]");
        e.Message.ShouldContain("NaN");
    }

    [Fact]
    public void Adf_Infinity_Throws()
    {
        var s = (double[])Walk.Clone();
        s[3] = double.PositiveInfinity;
        Should.Throw<ArgumentException>(() => Adf.Test(s)).Message.ShouldContain("finite");
    }

    [Fact]
    public void Adf_ConstantSeries_Throws()
    {
        Should.Throw<ArgumentException>(() => Adf.Test(Enumerable.Repeat(5.0, 100).ToArray())).Message.ShouldContain("constant");
    }

    [Fact]
    public void Adf_StraightLine_ThrowsRatherThanReturningNaN()
    {
        var line = Enumerable.Range(0, 100).Select(t => 1.0 + 0.5 * t).ToArray();
        Should.Throw<ArgumentException>(() => Adf.Test(line, lagChoice: AdfLagChoice.Fixed, maxLag: 0)).Message.ShouldContain("exactly");
    }

    [Fact]
    public void Adf_MaxLagBeyondHalfTheSample_ThrowsWithTheBound()
    {
        Should.Throw<ArgumentException>(() => Adf.Test(Walk, maxLag: 99)).Message.ShouldContain("0..98");
        Should.Throw<ArgumentException>(() => Adf.Test(Walk, maxLag: -1)).Message.ShouldContain("was -1");
    }

    [Fact]
    public void EngleGranger_TooShortNaNConstantOrUnequalLengths_Throw()
    {
        Should.Throw<ArgumentException>(() => EngleGranger.Test(Walk.AsSpan(0, 10), Walk.AsSpan(0, 10))).Message.ShouldContain("at least 20");
        Should.Throw<ArgumentException>(() => EngleGranger.Test(WithNaN(Walk), Walk)).Message.ShouldContain("NaN");
        Should.Throw<ArgumentException>(() => EngleGranger.Test(Walk, Enumerable.Repeat(1.0, 200).ToArray())).Message.ShouldContain("constant");
        Should.Throw<ArgumentException>(() => EngleGranger.Test(Walk, Walk.AsSpan(0, 199))).Message.ShouldContain("same length");
    }

    [Fact]
    public void EngleGranger_PerfectlyCollinearLegs_AreCointegratedWithTauMinusInfinity_AsStatsmodelsReports()
    {
        var y = Walk.Select(v => 3.0 * v + 1.0).ToArray();
        var r = EngleGranger.Test(y, Walk);
        r.AdfStatistic.ShouldBe(double.NegativeInfinity);
        r.PValue.ShouldBe(0.0);
        r.HedgeRatio.ShouldBe(3.0, 1e-9);
        r.LagRule.ShouldContain("move as one");
    }

    [Fact]
    public void HalfLife_TooShortNaNConstantOrStraightLine_Throw()
    {
        Should.Throw<ArgumentException>(() => HalfLife.Estimate(Walk.AsSpan(0, 9))).Message.ShouldContain("at least 10");
        Should.Throw<ArgumentException>(() => HalfLife.Estimate(WithNaN(Walk))).Message.ShouldContain("NaN");
        Should.Throw<ArgumentException>(() => HalfLife.Estimate(Enumerable.Repeat(2.0, 50).ToArray())).Message.ShouldContain("constant");
        Should.Throw<ArgumentException>(() => HalfLife.Estimate(Enumerable.Range(0, 50).Select(t => 0.25 * t).ToArray())).Message.ShouldContain("straight line");
    }

    [Fact]
    public void Ols_TooShortNaNConstantOrUnequalLengths_Throw()
    {
        Should.Throw<ArgumentException>(() => Ols.Fit([1.0, 2.0], [1.0, 3.0])).Message.ShouldContain("at least 3");
        Should.Throw<ArgumentException>(() => Ols.Fit(WithNaN(Walk), Walk)).Message.ShouldContain("NaN");
        Should.Throw<ArgumentException>(() => Ols.Fit(Walk, Enumerable.Repeat(1.0, 200).ToArray())).Message.ShouldContain("constant");
        Should.Throw<ArgumentException>(() => Ols.Fit(Walk, Walk.AsSpan(0, 100))).Message.ShouldContain("same length");
    }

    [Fact]
    public void RollingZScore_BadWindowNaNPushTooShortOrConstant_Throw()
    {
        Should.Throw<ArgumentException>(() => new RollingZScore(1)).Message.ShouldContain(">= 2");
        var z = new RollingZScore(5);
        Should.Throw<ArgumentException>(() => z.Push(double.NaN)).Message.ShouldContain("finite");
        z.Count.ShouldBe(0);
        Should.Throw<ArgumentException>(() => RollingZScore.Compute(Walk.AsSpan(0, 20), 20)).Message.ShouldContain("at least 21");
        Should.Throw<ArgumentException>(() => RollingZScore.Compute(Enumerable.Repeat(1.0, 50).ToArray(), 20)).Message.ShouldContain("constant");
    }

    [Fact]
    public void MacKinnon_UnsupportedCases_Throw()
    {
        Should.Throw<ArgumentException>(() => MacKinnon.PValue(-3.0, AdfRegression.Constant, variables: 3)).Message.ShouldContain("was 3");
        Should.Throw<ArgumentException>(() => MacKinnon.CriticalValues(AdfRegression.None, variables: 2)).Message.ShouldContain("N = 1 only");
        Should.Throw<ArgumentException>(() => MacKinnon.PValue(double.NaN, AdfRegression.Constant)).Message.ShouldContain("finite");
    }
}
