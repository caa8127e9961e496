using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;

namespace MetalSniper.InteractiveBrokers.Bench;

/// <summary>Hardware and runtime description printed with every run.</summary>
internal sealed record MachineInfo(string Cpu, int Cores, string Os, string Runtime, string Gc, int MinWorkerThreads)
{
    public static MachineInfo Read()
    {
        var cpu = RuntimeInformation.ProcessArchitecture.ToString();
        if (File.Exists("/proc/cpuinfo"))
        {
            var model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (model is not null && model.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0)
            {
                cpu = model[(colon + 1)..].Trim() + " (" + cpu + ")";
            }
        }

        ThreadPool.GetMinThreads(out var minWorkers, out _);
        var gc = (GCSettings.IsServerGC ? "server" : "workstation") + (GCSettings.LatencyMode == GCLatencyMode.Interactive ? ", concurrent" : ", " + GCSettings.LatencyMode);
        return new MachineInfo(cpu, Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, gc, minWorkers);
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"machine: {Cpu}, {Cores} cores, {Os}; {Runtime}; GC {Gc}; thread-pool min workers {MinWorkerThreads}");
}
