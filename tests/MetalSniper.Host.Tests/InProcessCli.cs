using MetalSniper.Host.Cli;

namespace MetalSniper.Host.Tests;

/// <summary>The real command line (<see cref="Commands.Build"/>) run in the test's process, with its output and error captured.</summary>
internal static class InProcessCli
{
    /// <summary>Parses and runs <paramref name="args"/> as <c>metalsniper</c> would; returns the exit code and what it wrote.</summary>
    public static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Commands.Build(output, error).Parse(args).InvokeAsync();
        return (code, output.ToString(), error.ToString());
    }
}
