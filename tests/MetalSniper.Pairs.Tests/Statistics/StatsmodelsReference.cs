using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MetalSniper.Testing;

namespace MetalSniper.Pairs.Tests.Statistics;

/// <summary>
/// Runs statsmodels_reference.py once (Debian's python3-statsmodels, installed by ./test.sh) on the real Anglo American
/// series and keeps its JSON. Installs nothing: a missing python3/statsmodels is a failure that says to run ./test.sh.
/// </summary>
public sealed class StatsmodelsReference
{
    public const string AngloFile = "dual_listed/merged/anglo_american_AGLJO_AALL_fx_daily.csv";

    public StatsmodelsReference()
    {
        CsvPath = TestPaths.SharedDataFile(AngloFile);
        var script = Path.Combine(TestPaths.RepositoryRoot, "tests", "MetalSniper.Pairs.Tests", "Statistics", "statsmodels_reference.py");
        var python = FindPython()
            ?? throw new InvalidOperationException(
                "python3 with statsmodels is not installed (tried /usr/bin/python3 and python3 on PATH); run ./test.sh, " +
                "which installs Debian's python3-statsmodels, then run the tests again");
        var (code, stdout, stderr) = Run(python, $"\"{script}\" \"{CsvPath}\"", TimeSpan.FromMinutes(3));
        if (code != 0)
        {
            throw new InvalidOperationException($"{python} {script} exited {code}: {stderr}");
        }

        Json = JsonDocument.Parse(stdout).RootElement.Clone();
        Python = python;
        Anglo = AngloSeries.Read(CsvPath);
    }

    public string CsvPath { get; }

    public string Python { get; }

    public JsonElement Json { get; }

    public AngloSeries Anglo { get; }

    public string StatsmodelsVersion => Json.GetProperty("statsmodels").GetString()!;

    private static string? FindPython()
    {
        // Debian's interpreter first: python3-statsmodels installs there, and a pyenv/venv python3 on PATH may not see it.
        foreach (var candidate in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                var (code, _, _) = Run(candidate, "-c \"import statsmodels\"", TimeSpan.FromMinutes(1));
                if (code == 0)
                {
                    return candidate;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed under that name.
            }
        }

        return null;
    }

    private static (int Code, string Stdout, string Stderr) Run(string file, string arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} did not finish within {timeout}");
        }

        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}

/// <summary>The columns of the merged Anglo American file the statistics use, oldest first.</summary>
public sealed record AngloSeries(double[] Premium, double[] JseInGbpPence, double[] LsePence, double[] GbpUsd)
{
    public static AngloSeries Read(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        var premium = Array.IndexOf(header, "premium_jse_over_lse");
        var jse = Array.IndexOf(header, "agl_jo_in_gbp_pence");
        var lse = Array.IndexOf(header, "aal_l_adjclose_gbp_pence");
        var gbpUsd = Array.IndexOf(header, "gbpusd");
        if (premium < 0 || jse < 0 || lse < 0 || gbpUsd < 0)
        {
            throw new InvalidDataException($"{path}: expected columns premium_jse_over_lse, agl_jo_in_gbp_pence, aal_l_adjclose_gbp_pence, gbpusd");
        }

        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
        double Parse(string s) => double.Parse(s, CultureInfo.InvariantCulture);
        return new AngloSeries(
            rows.Select(r => Parse(r[premium])).ToArray(),
            rows.Select(r => Parse(r[jse])).ToArray(),
            rows.Select(r => Parse(r[lse])).ToArray(),
            rows.Select(r => Parse(r[gbpUsd])).ToArray());
    }
}
