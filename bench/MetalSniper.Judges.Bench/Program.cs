using System.Runtime.InteropServices;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using MetalSniper.Judges.Bench;
using MetalSniper.Judges.XgBoost;

// Usage: dotnet run -c Release --project bench/MetalSniper.Judges.Bench -- [--quick] [--only latency|decision|training]
// In-process (the judges run inside the host's process); --quick uses BenchmarkDotNet's short run (3 iterations).
var quick = args.Contains("--quick");
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
if (only is not (null or "latency" or "decision" or "training") || args.Any(a => a.StartsWith("--", StringComparison.Ordinal) && a is not ("--quick" or "--only")))
{
    Console.Error.WriteLine("usage: MetalSniper.Judges.Bench [--quick] [--only latency|decision|training]");
    return 2;
}

Console.WriteLine($"MetalSniper judge benchmark: XGBoost {XgbBooster.LibraryVersion}, {RuntimeInformation.FrameworkDescription}, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}");
var artifacts = Path.Combine(Path.GetTempPath(), "metalsniper-judges-bench");
var inProcess = InProcessEmitToolchain.Instance;
if (only is null or "latency")
{
    var job = (quick ? Job.ShortRun : Job.Default).WithToolchain(inProcess);
    BenchmarkRunner.Run<JudgeLatency>(DefaultConfig.Instance.AddJob(job).AddDiagnoser(MemoryDiagnoser.Default).WithArtifactsPath(artifacts));
}

if (only is null or "decision")
{
    var job = (quick ? Job.ShortRun : Job.Default).WithToolchain(inProcess);
    BenchmarkRunner.Run<JudgeDecision>(DefaultConfig.Instance.AddJob(job).AddDiagnoser(MemoryDiagnoser.Default)
        .AddColumn(BenchmarkDotNet.Columns.StatisticColumn.P95, BenchmarkDotNet.Columns.StatisticColumn.Max).WithArtifactsPath(artifacts));
}

if (only is null or "training")
{
    var job = Job.Default.WithStrategy(RunStrategy.Monitoring).WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(quick ? 3 : 5).WithToolchain(inProcess);
    BenchmarkRunner.Run<JudgeTraining>(DefaultConfig.Instance.AddJob(job).WithArtifactsPath(artifacts));
}

return 0;
