using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MetalSniper.Host.Cli;

/// <summary>
/// A live progress line for a replay on an interactive terminal (on standard error, so standard output stays the summary):
/// a bar, the share done, bars done, bars/s, elapsed time and ETA. It polls two functions on its own timer (5 Hz) and never
/// touches the pipeline: <c>barsDone</c> (the brain's count, <see cref="Engine.Pipeline.RunContext.BarsProcessed"/>) and
/// <c>fraction</c> (an estimate of the share done, 0–1, or null when unknown: no bar, ETA shown as unknown). Shown only when
/// neither standard output nor standard error is redirected and Spectre.Console detects an interactive ANSI terminal; a pipe,
/// a file, a test or a sweep's child runs get nothing.
/// </summary>
public sealed class ReplayProgressDisplay : IAsyncDisposable
{
    /// <summary>How often the functions are polled and the line redrawn.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    private readonly Func<long> _barsDone;
    private readonly Func<double?> _fraction;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly PeriodicTimer _timer;
    private readonly Task _rendering;
    private string _text = "";

    private ReplayProgressDisplay(IAnsiConsole console, Func<long> barsDone, Func<double?> fraction, TimeProvider time)
    {
        _barsDone = barsDone;
        _fraction = fraction;
        _time = time;
        _started = time.GetTimestamp();
        _timer = new PeriodicTimer(PollInterval, time);
        _rendering = RenderAsync(console);
    }

    /// <summary>Whether this process's console is an interactive terminal on both standard output and standard error.</summary>
    public static bool ConsoleIsInteractive() => !Console.IsOutputRedirected && !Console.IsErrorRedirected;

    /// <summary>Starts the display on standard error when the console is interactive; otherwise returns null (nothing shown).</summary>
    /// <param name="barsDone">Bars the pipeline has done (thread-safe, cheap).</param>
    /// <param name="fraction">Estimated share done, 0–1, or null when unknown (thread-safe, cheap).</param>
    /// <param name="time">The wall clock (elapsed time, bars/s, ETA, the poll timer).</param>
    public static ReplayProgressDisplay? StartIfInteractive(Func<long> barsDone, Func<double?> fraction, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(barsDone);
        ArgumentNullException.ThrowIfNull(fraction);
        ArgumentNullException.ThrowIfNull(time);
        if (!ConsoleIsInteractive())
        {
            return null;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Error),
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
            Interactive = InteractionSupport.Detect,
        });
        return console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi ? new ReplayProgressDisplay(console, barsDone, fraction, time) : null;
    }

    /// <summary>
    /// The text after the bar: bars done, bars/s (average since the display started), elapsed and ETA (from the share done
    /// so far at that average pace; "?" while unknown).
    /// </summary>
    public static string Describe(long barsDone, double? fraction, TimeSpan elapsed)
    {
        var inv = CultureInfo.InvariantCulture;
        var rate = elapsed.TotalSeconds > 0 ? barsDone / elapsed.TotalSeconds : 0;
        var eta = fraction is { } f && f > 0 && f <= 1 ? Clock(TimeSpan.FromSeconds(elapsed.TotalSeconds * (1 - f) / f)) : "?";
        return string.Create(inv, $"{barsDone:N0} bars  {rate:N0} bars/s  elapsed {Clock(elapsed)}  ETA {eta}");
    }

    /// <summary>
    /// The pipeline's share done, from the source's read estimate: the source reads ahead, so its share read is scaled by the
    /// bars the pipeline has done over the records the source has handed out (estimated total = records handed out / share read).
    /// Null while unknown.
    /// </summary>
    /// <param name="fractionRead">The source's share of its input read (0–1), or null.</param>
    /// <param name="recordsYielded">Records the source has handed out.</param>
    /// <param name="barsDone">Bars the pipeline has done.</param>
    public static double? PipelineFraction(double? fractionRead, long recordsYielded, long barsDone) =>
        fractionRead is { } f && recordsYielded > 0 ? Math.Clamp(f * barsDone / recordsYielded, 0d, 1d) : null;

    private static string Clock(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
        : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");

    private async Task RenderAsync(IAnsiConsole console)
    {
        await Task.Yield();
        await new Progress(console, _time) { AutoClear = true, AutoRefresh = false, HideCompleted = false }
            .Columns(new ProgressBarColumn { Width = 20 }, new PercentageColumn(), new TextColumn(() => _text)) // fits 80 columns
            .StartAsync(async context =>
            {
                var task = context.AddTask("replay", autoStart: true, maxValue: 1000);
                do
                {
                    var fraction = _fraction();
                    _text = Describe(_barsDone(), fraction, _time.GetElapsedTime(_started));
                    task.IsIndeterminate = fraction is null;
                    task.Value = Math.Clamp(fraction ?? 0, 0, 1) * 1000;
                    context.Refresh();
                }
                while (await _timer.WaitForNextTickAsync(CancellationToken.None).ConfigureAwait(false));
            }).ConfigureAwait(false);
    }

    /// <summary>Stops the display and clears its line (idempotent). Call before writing anything else to the console.</summary>
    public async Task StopAsync()
    {
        _timer.Dispose(); // the next wait returns false: the loop ends and Spectre clears the line
        await _rendering.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>A column that shows text computed at each redraw.</summary>
    private sealed class TextColumn(Func<string> text) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) => new Text(text());
    }
}
