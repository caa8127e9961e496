namespace MetalSniper.Host.Supervision;

/// <summary>Process exit codes (BSD sysexits.h): a supervisor can tell a bad configuration from a crash.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>Command-line usage error (EX_USAGE).</summary>
    public const int Usage = 64;

    /// <summary>Data error: a tamper-evident record does not verify (EX_DATAERR).</summary>
    public const int DataError = 65;

    /// <summary>Input data missing or unreadable (EX_NOINPUT).</summary>
    public const int NoInput = 66;

    /// <summary>Internal software error: a service faulted (EX_SOFTWARE).</summary>
    public const int Software = 70;

    /// <summary>I/O error: database or files (EX_IOERR).</summary>
    public const int IoError = 74;

    /// <summary>The exit code of a finished service run: 70 when any service failed for good, else 0.</summary>
    public static int ForRun(Engine.Pipeline.RunContext run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.Faults.Count > 0 ? Software : run.DataError is not null ? DataError : Ok;
    }

    /// <summary>Configuration error (EX_CONFIG).</summary>
    public const int Config = 78;
}
