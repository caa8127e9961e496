using System.Runtime.InteropServices;

namespace MetalSniper.Sentinel;

/// <summary>
/// Raises the calling thread's scheduling priority. On Windows <see cref="ThreadPriority.AboveNormal"/>
/// takes effect by itself. On Linux .NET leaves every thread at the process's policy and nice value,
/// and a thread woken while both cores run other work can wait a whole scheduler slice (about 3–4 ms
/// under EEVDF) before it runs. The sentinel therefore sets its own thread with <c>sched_setattr</c>
/// (man 2 sched_setattr): a short custom slice (<c>sched_runtime</c> = 0.1 ms, Linux ≥ 6.12: a waking
/// task with a shorter slice may preempt the running one; no privilege needed) and a lower nice value
/// (needs CAP_SYS_NICE; skipped without it). The effect is measured by <c>metalsniper bench --sentinel</c>.
/// </summary>
public static class ThreadPriorityBoost
{
    private const int SysSchedSetattrX64 = 314;
    private const int SysSchedSetattrArm64 = 274;
    private const uint SchedOther = 0;

    /// <summary>Tries to shorten the calling thread's slice and lower its nice value (Linux only).</summary>
    /// <param name="nice">Nice value (−20..19; negative needs CAP_SYS_NICE).</param>
    /// <param name="sliceNanoseconds">EEVDF slice (<c>sched_runtime</c>): short for a thread that mostly sleeps and must run the moment it wakes (the sentinel); 0 keeps the default, better for a thread that is often busy (the execution side).</param>
    /// <returns>What could not be applied (null when everything was, or when not on Linux).</returns>
    public static string? TryBoostCurrentThread(int nice, ulong sliceNanoseconds = 100_000)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var number = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => SysSchedSetattrX64,
            Architecture.Arm64 => SysSchedSetattrArm64,
            _ => -1,
        };
        if (number < 0)
        {
            return $"sched_setattr is not wired for {RuntimeInformation.ProcessArchitecture}";
        }

        var tid = GetTid();
        var attr = new SchedAttr { Size = (uint)Marshal.SizeOf<SchedAttr>(), Policy = SchedOther, Nice = nice, Runtime = sliceNanoseconds };
        if (SchedSetattr(number, tid, ref attr, 0) == 0)
        {
            return null;
        }

        var first = Marshal.GetLastPInvokeError();

        // Without CAP_SYS_NICE a negative nice is refused: keep the short slice at the current nice.
        attr.Nice = 0;
        if (SchedSetattr(number, tid, ref attr, 0) == 0)
        {
            return $"nice {nice} refused (errno {first}: grant CAP_SYS_NICE to lower it); slice {sliceNanoseconds / 1000.0:0.#} µs applied";
        }

        return $"sched_setattr(tid {tid}) failed with errno {first} then {Marshal.GetLastPInvokeError()}; the thread keeps the default slice and nice";
    }

    /// <summary>struct sched_attr, SCHED_ATTR_SIZE_VER0 (48 bytes) plus utilization clamps (VER1, 56 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct SchedAttr
    {
        public uint Size;
        public uint Policy;
        public ulong Flags;
        public int Nice;
        public uint Priority;
        public ulong Runtime;
        public ulong Deadline;
        public ulong Period;
        public uint UtilMin;
        public uint UtilMax;
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code; these signatures are blittable.
    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static extern int SchedSetattr(long number, int tid, ref SchedAttr attr, uint flags);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetTid();
#pragma warning restore SYSLIB1054
}
