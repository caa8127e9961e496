using MetalSniper.Host.Cli;

namespace MetalSniper.Host.Tests;

/// <summary>The replay's progress line: its text, its estimate, and that it stays off when the console is redirected.</summary>
public sealed class ReplayProgressTests
{
    [Fact]
    public void Describe_ShowsBarsRateElapsedAndEta()
    {
        ReplayProgressDisplay.Describe(30_000, 0.25, TimeSpan.FromSeconds(10)).ShouldBe("30,000 bars  3,000 bars/s  elapsed 0:10  ETA 0:30");
        ReplayProgressDisplay.Describe(0, null, TimeSpan.Zero).ShouldBe("0 bars  0 bars/s  elapsed 0:00  ETA ?");
        ReplayProgressDisplay.Describe(10, 0, TimeSpan.FromSeconds(1)).ShouldEndWith("ETA ?");
        ReplayProgressDisplay.Describe(1_000_000, 0.5, TimeSpan.FromMinutes(65)).ShouldBe("1,000,000 bars  256 bars/s  elapsed 1:05:00  ETA 1:05:00");
    }

    [Fact]
    public void PipelineFraction_ScalesTheSourcesReadAheadByTheBarsThePipelineHasDone()
    {
        // The source has read 40 % of its input and handed out 20,000 records; the pipeline has done 10,000 of them.
        ReplayProgressDisplay.PipelineFraction(0.4, 20_000, 10_000)!.Value.ShouldBe(0.2, 1e-12);
        ReplayProgressDisplay.PipelineFraction(1, 46_878, 46_878).ShouldBe(1d);
        ReplayProgressDisplay.PipelineFraction(null, 20_000, 10_000).ShouldBeNull();
        ReplayProgressDisplay.PipelineFraction(0.4, 0, 0).ShouldBeNull();
    }

    [Fact]
    public void StartIfInteractive_WithRedirectedOutput_ShowsNothing()
    {
        // Test hosts run with redirected standard output and error, like a pipe, a file or a sweep's child.
        Console.IsOutputRedirected.ShouldBeTrue();
        ReplayProgressDisplay.ConsoleIsInteractive().ShouldBeFalse();
        var display = ReplayProgressDisplay.StartIfInteractive(() => 0, () => null, TimeProvider.System);
        display.ShouldBeNull();
    }
}
