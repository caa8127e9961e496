using System.Globalization;
using MetalSniper.FakeTws;
using MetalSniper.InteractiveBrokers.Bench;
using MetalSniper.InteractiveBrokers.Client;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync(ex.Message + Environment.NewLine + BenchOptions.Usage);
    return 2;
}

if (options.Help)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};

var ct = cts.Token;
var timeline = BenchClock.StartNew();
var gap = TimeSpan.FromMilliseconds(options.GapMs);
var machine = MachineInfo.Read();
Console.WriteLine("MetalSniper tick → placeOrder benchmark (PERFORMANCE.md #2 over real sockets on 127.0.0.1)");
Console.WriteLine(machine.Describe());

// Baselines first (PERFORMANCE.md: ratios are taken against the same run).
var baselineWarmup = Math.Max(100, options.BaselineSamples / 10);
var baselineGap = TimeSpan.FromMilliseconds(1);
var idleWake = LatencyStats.Of(await Baselines.IdleWakeAsync(baselineWarmup, options.BaselineSamples, baselineGap, ct));
var loopback = LatencyStats.Of(await Baselines.LoopbackRoundTripAsync(baselineWarmup, options.BaselineSamples, baselineGap, ct));

// The fake keeps every order it ever saw and its order engine scans them all inside SetQuote, under its lock, on one of
// our two cores: a fresh fake every --fake-segment samples keeps that artefact out of the figures (orders keep fresh ids).
var fakeOptions = new FakeTwsOptions { TimeProvider = timeline, PacingLimitPerSecond = null };
var fakeInternalErrors = 0;

// Phase A: the client's pacer cannot be switched off (TwsClientOptions caps MessagesPerSecond at 50), so it gets its
// loosest settings and a clock whose timestamps run x10 000: ~500 000 msg/s, a 50-token bucket, never waiting.
// Heartbeats are pushed out to 10 min so no probe shares the socket with a sample.
const long PacerSpeedup = 10_000;
var unpacedOptions = new TwsClientOptions
{
    MessagesPerSecond = 50,
    ReservedMessagesPerSecond = 0,
    BurstSeconds = 1,
    HeartbeatInterval = TimeSpan.FromMinutes(10),
    HeartbeatTimeout = TimeSpan.FromMinutes(10),
};
var unpacedTemplate = new PhaseSettings("A: pacer not limiting", 1, options.EffectiveWarmup, options.Samples, gap, options.CancelEach, unpacedOptions,
    timeline.WithPacerSpeedup(PacerSpeedup), 1000.00);
var segments = new List<PhaseResult>();
for (var done = 0; done < options.Samples;)
{
    var size = options.FakeSegment > 0 ? Math.Min(options.FakeSegment, options.Samples - done) : options.Samples;
    var settings = unpacedTemplate with { Samples = size, Warmup = done == 0 ? options.EffectiveWarmup : BenchOptions.SegmentWarmup };
    await using var segmentFake = await FakeTwsServer.StartAsync(fakeOptions, ct);
    segments.Add(await TickToOrderPhase.RunAsync(segmentFake, timeline, settings, ct));
    fakeInternalErrors += segmentFake.InternalErrors.Count;
    done += size;
}

var unpaced = PhaseResult.Merge(segments);

// Phase B: production pacer (defaults: 45 msg/s, 10 reserved for risk, 0.1 s bursts), real clock, orders back to back.
PhaseResult? paced = null;
if (options.PacerSamples > 0)
{
    await using var pacerFake = await FakeTwsServer.StartAsync(fakeOptions, ct);
    paced = await TickToOrderPhase.RunAsync(pacerFake, timeline, new PhaseSettings(
        "B: production pacer, back to back", 2, 0, options.PacerSamples, TimeSpan.Zero, false, new TwsClientOptions(), timeline, 5000.00), ct);
    fakeInternalErrors += pacerFake.InternalErrors.Count;
}

var report = new BenchReport(machine, options, PacerSpeedup, idleWake, loopback, unpaced, paced, fakeInternalErrors, segments.Count);
Console.WriteLine(report.ToText());
if (options.JsonPath is { } path)
{
    await report.WriteJsonAsync(path, ct);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"JSON written to {Path.GetFullPath(path)}"));
}

return report.Failures == 0 ? 0 : 1;
