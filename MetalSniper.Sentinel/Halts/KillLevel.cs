namespace MetalSniper.Sentinel.Halts;

/// <summary>
/// The kill-switch levels (SPEC "Kill switch"): what may still leave the execution side.
/// Higher is stricter; the effective level is the highest of every active halt.
/// </summary>
public enum KillLevel
{
    /// <summary>L0: running; every gate still applies.</summary>
    Running = 0,

    /// <summary>L1: no new entries or adds; exits, protective stops and cancels still run.</summary>
    NoEntries = 1,

    /// <summary>L2: cancel working entries and flatten everything with reduce-only orders; nothing that adds risk leaves.</summary>
    Flatten = 2,
}
