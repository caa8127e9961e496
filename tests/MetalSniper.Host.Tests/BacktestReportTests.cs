using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Dapper;
using MetalSniper.Host.Cli;
using MetalSniper.Host.Supervision;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace MetalSniper.Host.Tests;

/// <summary>One real replay of two months (2025-09-01 to 2025-11-01) through the CLI with <c>--report</c>, shared by the report's tests.</summary>
public sealed class ReportedReplayFixture : IAsyncLifetime
{
    private readonly TestEnvironment _env = new();

    public string ReportPath => Path.Combine(_env.Directory.FullName, "report", "backtest.html");

    public string DatabasePath => _env.DatabasePath;

    public string Output { get; private set; } = "";

    public string Errors { get; private set; } = "";

    public int Code { get; private set; }

    public TimeSpan Elapsed { get; private set; }

    public DirectoryInfo Directory => _env.Directory;

    public async Task InitializeAsync()
    {
        var config = _env.WriteConfig(j =>
        {
            j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-01T00:00:00Z";
            j["MarketData"]!["Replay"]!["ToUtc"] = "2025-11-01T00:00:00Z";
        });
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(ReportPath)!);
        var (output, errors) = (new StringWriter(), new StringWriter());
        var sw = Stopwatch.StartNew();
        Code = await Commands.Build(output, errors).Parse(["replay", "--config", config, "--db", _env.DatabasePath, "--report", ReportPath]).InvokeAsync();
        Elapsed = sw.Elapsed;
        (Output, Errors) = (output.ToString(), errors.ToString());
    }

    public Task DisposeAsync()
    {
        _env.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class BacktestReportTests(ReportedReplayFixture run, ITestOutputHelper output) : IClassFixture<ReportedReplayFixture>
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static long Figure(string summary, string label)
    {
        var m = Regex.Match(summary, $@"^  {Regex.Escape(label)}\s+([\d,]+)", RegexOptions.Multiline);
        m.Success.ShouldBeTrue($"'{label}' in the summary:\n{summary}");
        return long.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, Inv);
    }

    private static int Count(string html, string needle) => Regex.Matches(html, Regex.Escape(needle)).Count;

    [Fact]
    public void ReplayWithReport_WritesOneSelfContainedFile_WithEveryTradeMonthTripAndTheCostsReconciled()
    {
        run.Code.ShouldBe(ExitCodes.Ok, run.Errors);
        output.WriteLine($"replay + report: {run.Elapsed.TotalSeconds:0.0} s");
        run.Output.ShouldContain($"report written to {run.ReportPath}");
        var html = File.ReadAllText(run.ReportPath);
        Directory.GetFiles(Path.GetDirectoryName(run.ReportPath)!).ShouldBe([run.ReportPath], "no temporary file left behind");

        // Nothing outside the file: no URL, no script, no stylesheet or image link, and a policy that lets the browser fetch nothing.
        foreach (var external in new[] { "http://", "https://", "//cdn", "<script", "<link", "<img", "<iframe", "src=", "url(", "@import" })
        {
            html.ShouldNotContain(external, Case.Insensitive);
        }

        html.ShouldContain("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");

        // Every round trip, every month of the window, every trip, as the printed summary counts them.
        var trades = Figure(run.Output, "trades (round trips)");
        trades.ShouldBeGreaterThan(50);
        Count(html, "<tr class=\"trade\">").ShouldBe((int)trades);
        Regex.Matches(html, "<tr class=\"month\" data-month=\"([0-9-]+)\">").Select(m => m.Groups[1].Value).ShouldBe(["2025-09", "2025-10"]);
        var trips = Figure(run.Output, "trips");
        trips.ShouldBeGreaterThan(0);
        Count(html, "<tr class=\"trip\">").ShouldBe((int)trips);
        Count(html, "class=\"trip-mark\"").ShouldBe((int)trips);
        // The summary lists each trip under its "trips" row as "    LABEL  DATE TIME DETAIL" (UtcText: "2025-09-10 00:00:00Z"): the same
        // label and time are in the report's table.
        var listed = run.Output.Split('\n').SkipWhile(l => !Regex.IsMatch(l, @"^  trips\s+\d")).Skip(1).TakeWhile(l => l.StartsWith("    ", StringComparison.Ordinal)).ToList();
        listed.Count.ShouldBe((int)trips);
        foreach (var line in listed)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var at = DateTimeOffset.Parse(parts[1] + " " + parts[2], Inv).UtcDateTime.ToString("yyyy-MM-dd HH:mm", Inv);
            html.ShouldContain($"<td class=\"time\">{at}</td><td>{parts[0]}</td>");
        }

        // Money says its currency, times say UTC.
        html.ShouldContain("net P&amp;L (USD)");
        html.ShouldContain("hourly marks, UTC");
        html.ShouldContain("time (UTC)");

        // Spread and slippage are reconstructed for every fill of the run, and the cap at the bar's range agrees with the simulated broker's own counter.
        using var c = new SqliteConnection($"Data Source={run.DatabasePath};Pooling=False");
        var fills = c.ExecuteScalar<long>("SELECT COUNT(*) FROM fills");
        fills.ShouldBe(Figure(run.Output, "fills"));
        html.ShouldContain(string.Create(Inv, $"<li><b>Reproduced</b>: {fills:N0} of {fills:N0} fills come out at exactly their recorded price."));
        html.ShouldContain("<span id=\"capped-check\" class=\"pos\">the reconstruction agrees</span>");
        var commissions = c.ExecuteScalar<double>("SELECT SUM(CAST(commission AS REAL)) FROM fills");
        html.ShouldContain(string.Create(Inv, $"the recorded commission of every fill of the run (the fills table), {commissions:N2} USD"));
        Regex.Match(html, "data-points=\"(\\d+)\"").Groups[1].Value.ShouldNotBe("0");
    }

    [Fact]
    public async Task Report_InHeadlessChromium_DrawsTheEquityCurveAndTheDrawdown_AndAnEmptyChartFailsTheSameCheck()
    {
        File.Exists(Chromium).ShouldBeTrue("Debian's chromium is needed for this test: apt-get install -y chromium (./test.sh installs it)");
        run.Code.ShouldBe(ExitCodes.Ok, run.Errors);
        var html = File.ReadAllText(run.ReportPath);

        var screenshot = Path.Combine(AppContext.BaseDirectory, "backtest-report.png");
        File.Delete(screenshot);
        await Screenshot(run.ReportPath, screenshot);
        output.WriteLine($"screenshot: {screenshot}");
        var drawn = Inspect(Png.Decode(File.ReadAllBytes(screenshot)));
        output.WriteLine($"equity colour in {drawn.EquityColumns} columns and {drawn.EquityRows} rows; drawdown colour in {drawn.DrawdownPixels} pixels");
        // The curve runs across the plot (~1,050 px of 1,280) and up and down it; the legend's swatch alone is 14 px wide.
        drawn.EquityColumns.ShouldBeGreaterThan(800, "the equity curve is not drawn across the chart");
        drawn.EquityRows.ShouldBeGreaterThan(60, "the equity curve does not move");
        drawn.DrawdownPixels.ShouldBeGreaterThan(20_000, "the underwater area is not drawn");

        // The same page with both paths emptied must fail the check: it sees the drawing, not the page around it.
        var empty = Path.Combine(run.Directory.FullName, "empty-chart.html");
        File.WriteAllText(empty, Regex.Replace(html, "(<path id=\"(?:equity-line|drawdown-area)\" d=\")[^\"]*\"", "$1\""));
        var emptyShot = Path.Combine(run.Directory.FullName, "empty-chart.png");
        await Screenshot(empty, emptyShot);
        var none = Inspect(Png.Decode(File.ReadAllBytes(emptyShot)));
        output.WriteLine($"emptied chart: equity colour in {none.EquityColumns} columns, drawdown colour in {none.DrawdownPixels} pixels");
        none.EquityColumns.ShouldBeLessThan(40);
        none.DrawdownPixels.ShouldBeLessThan(500);
    }

    [Fact]
    public async Task ReplayWithReport_ToADirectoryThatDoesNotExist_ExitsWithTheIoCodeAndOneLine()
    {
        var env = new TestEnvironment();
        try
        {
            var config = env.WriteConfig(j =>
            {
                j["MarketData"]!["Replay"]!["FromUtc"] = "2025-09-01T00:00:00Z";
                j["MarketData"]!["Replay"]!["ToUtc"] = "2025-09-04T00:00:00Z";
            });
            var target = Path.Combine(env.Directory.FullName, "no-such-directory", "report.html");
            var (stdout, errors) = (new StringWriter(), new StringWriter());
            var code = await Commands.Build(stdout, errors).Parse(["replay", "--config", config, "--db", env.DatabasePath, "--report", target]).InvokeAsync();
            code.ShouldBe(ExitCodes.IoError);
            stdout.ToString().ShouldContain("MetalSniper replay summary", customMessage: "the summary is still printed");
            var lines = errors.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            lines.Length.ShouldBe(1, errors.ToString());
            lines[0].ShouldStartWith($"error: cannot write the report to {target}: ");
            File.Exists(target).ShouldBeFalse();
        }
        finally
        {
            env.Dispose();
        }
    }

    [Fact]
    public void MonthlyPnl_IsMonthEndEquityMinusThePreviousMonthEnd_AndTheUnderwaterCurveStartsFromAPeakOfZero()
    {
        var t = new DateTimeOffset(2025, 9, 30, 22, 0, 0, TimeSpan.Zero);
        (DateTimeOffset, decimal)[] curve = [(t, -10m), (t.AddHours(1), 5m), (t.AddHours(2), 40m), (t.AddHours(3), 25m), (t.AddDays(31).AddHours(3), 60m)];
        var months = ReportFigures.Monthly(curve, []);
        months.Select(m => (m.Label, m.EndEquity, m.Pnl)).ShouldBe([("2025-09", 5m, 5m), ("2025-10", 25m, 20m), ("2025-11", 60m, 35m)]);
        ReportFigures.Underwater(curve).Select(m => m.Drawdown).ShouldBe([-10m, 0m, 0m, -15m, 0m]);
    }

    private readonly record struct Drawn(int EquityColumns, int EquityRows, long DrawdownPixels);

    /// <summary>Where the screenshot has the equity line's colour (columns and rows touched) and how many pixels have the underwater fill's.</summary>
    private static Drawn Inspect(Png.Image image)
    {
        var equity = Rgb(ReportCharts.EquityColor);
        var drawdown = Rgb(ReportCharts.DrawdownColor);
        var columns = new HashSet<int>();
        var rows = new HashSet<int>();
        long fill = 0;
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                var p = image.Pixel(x, y);
                if (Near(p, equity, 24))
                {
                    columns.Add(x);
                    rows.Add(y);
                }
                else if (Near(p, drawdown, 8))
                {
                    fill++;
                }
            }
        }

        return new Drawn(columns.Count, rows.Count, fill);
    }

    private static (int R, int G, int B) Rgb(string hex) =>
        (int.Parse(hex.AsSpan(1, 2), NumberStyles.HexNumber, Inv), int.Parse(hex.AsSpan(3, 2), NumberStyles.HexNumber, Inv), int.Parse(hex.AsSpan(5, 2), NumberStyles.HexNumber, Inv));

    private static bool Near((int R, int G, int B) a, (int R, int G, int B) b, int tolerance) =>
        Math.Abs(a.R - b.R) <= tolerance && Math.Abs(a.G - b.G) <= tolerance && Math.Abs(a.B - b.B) <= tolerance;

    private static async Task Screenshot(string htmlPath, string pngPath)
    {
        var profile = Directory.CreateTempSubdirectory("ms-chromium-");
        try
        {
            var psi = new ProcessStartInfo(Chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--user-data-dir={profile.FullName}",
                "--hide-scrollbars", "--force-device-scale-factor=1", "--window-size=1280,2000", $"--screenshot={pngPath}", new Uri(htmlPath).AbsoluteUri])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException("chromium did not finish within 60 s: " + await stderr);
            }

            p.ExitCode.ShouldBe(0, await stderr);
            await stdout;
            File.Exists(pngPath).ShouldBeTrue(await stderr);
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    /// <summary>Just enough PNG to read Chromium's screenshots: 8-bit RGB or RGBA, not interlaced (IDAT inflated with zlib, the five row filters undone).</summary>
    private static class Png
    {
        public sealed record Image(int Width, int Height, int BytesPerPixel, byte[] Pixels)
        {
            public (int R, int G, int B) Pixel(int x, int y)
            {
                var i = ((y * Width) + x) * BytesPerPixel;
                return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
            }
        }

        public static Image Decode(byte[] png)
        {
            png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }).ShouldBeTrue("not a PNG");
            int width = 0, height = 0, bpp = 0;
            using var idat = new MemoryStream();
            for (var at = 8; at < png.Length;)
            {
                var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
                var type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
                var data = png.AsSpan(at + 8, length);
                if (type == "IHDR")
                {
                    width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(data);
                    height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    data[8].ShouldBe((byte)8, "bit depth");
                    bpp = data[9] switch { 2 => 3, 6 => 4, var other => throw new NotSupportedException($"PNG colour type {other}") };
                    data[12].ShouldBe((byte)0, "interlace");
                }
                else if (type == "IDAT")
                {
                    idat.Write(data);
                }

                at += 12 + length;
            }

            idat.Position = 0;
            using var inflated = new MemoryStream();
            using (var z = new ZLibStream(idat, CompressionMode.Decompress))
            {
                z.CopyTo(inflated);
            }

            var raw = inflated.ToArray();
            var stride = width * bpp;
            var pixels = new byte[height * stride];
            for (var y = 0; y < height; y++)
            {
                var filter = raw[y * (stride + 1)];
                var src = raw.AsSpan((y * (stride + 1)) + 1, stride);
                var row = pixels.AsSpan(y * stride, stride);
                var up = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : new byte[stride];
                for (var i = 0; i < stride; i++)
                {
                    int a = i >= bpp ? row[i - bpp] : 0, b = up[i], c = i >= bpp ? up[i - bpp] : 0;
                    row[i] = (byte)(src[i] + filter switch
                    {
                        0 => 0,
                        1 => a,
                        2 => b,
                        3 => (a + b) / 2,
                        4 => Paeth(a, b, c),
                        _ => throw new InvalidDataException($"PNG filter {filter}"),
                    });
                }
            }

            return new Image(width, height, bpp, pixels);
        }

        private static int Paeth(int a, int b, int c)
        {
            var p = a + b - c;
            var (pa, pb, pc) = (Math.Abs(p - a), Math.Abs(p - b), Math.Abs(p - c));
            return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
    }
}
