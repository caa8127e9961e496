using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel.Halts;
using Microsoft.Extensions.Options;

namespace MetalSniper.Host.Configuration;

/// <summary>
/// Which chain keys (<see cref="ChainKeyring"/>) a run and the tools use: <c>Persistence:ChainKeyFile</c> when set; the service
/// with a real broker refuses to start without it; everything else (replays, the embedded service, tests) uses
/// <c>chain.key</c> in the database's directory (one per data directory, like the replays' journal and halts store beside the
/// database), created on first use, so the first command of the README runs with no install.
/// </summary>
public static class ChainKeys
{
    /// <summary>The setting naming the key file.</summary>
    public const string Setting = PersistenceOptions.SectionName + ":" + nameof(PersistenceOptions.ChainKeyFile);

    /// <summary>The key file used when none is configured: <c>chain.key</c> in the database's directory.</summary>
    public static string DefaultPath(string databasePath) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(databasePath))!, "chain.key");

    /// <summary>The keys of a run (the service or a replay).</summary>
    /// <param name="options">The persistence options.</param>
    /// <param name="mode">The run mode.</param>
    /// <param name="brokerKind"><c>Broker:Kind</c>.</param>
    /// <param name="wallClock">The clock for a new key file's <c>keyed-since</c>.</param>
    /// <exception cref="OptionsValidationException">No key file configured for the service with a real broker, or the key file cannot be used (exit 78).</exception>
    public static ChainKeyring ForRun(PersistenceOptions options, RunMode mode, string brokerKind, TimeProvider wallClock)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            if (options.ChainKeyFile.Length > 0)
            {
                return ChainKeyring.Load(options.ChainKeyFile);
            }

            if (mode == RunMode.Service && string.Equals(brokerKind, "InteractiveBrokers", StringComparison.Ordinal))
            {
                throw new OptionsValidationException(PersistenceOptions.SectionName, typeof(PersistenceOptions),
                    [$"{Setting} is required for the service with Broker:Kind InteractiveBrokers: the journal and the halts store are keyed (HMAC-SHA256) with a key outside the database "
                        + "(deploy/install-systemd.sh creates /etc/metalsniper/chain.key, owner-only; see the README, 'Chain keys')"]);
            }

            return ChainKeyring.LoadOrCreate(DefaultPath(options.DatabasePath), wallClock);
        }
        catch (ChainKeyException e)
        {
            throw new OptionsValidationException(PersistenceOptions.SectionName, typeof(PersistenceOptions), [$"{Setting}: {e.Message}"]);
        }
    }

    /// <summary>
    /// The keys for the tools (<c>journal verify</c>, <c>halts</c>, <c>kill</c>, <c>resume</c>): <paramref name="keyFile"/> or the configured
    /// file, else the default file beside the database when it exists; null when there is none (keyed entries then cannot be verified,
    /// and say so). Never creates a key.
    /// </summary>
    /// <exception cref="ChainKeyException">The key file cannot be used.</exception>
    public static ChainKeyring? ForTools(PersistenceOptions options, string? keyFile = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = keyFile ?? (options.ChainKeyFile.Length > 0 ? options.ChainKeyFile : null);
        if (path is not null)
        {
            return ChainKeyring.Load(path);
        }

        var fallback = DefaultPath(options.DatabasePath);
        return File.Exists(fallback) ? ChainKeyring.Load(fallback) : null;
    }

    /// <summary>What to tell someone whose chain is keyed and who has no key (the CLI's distinct error).</summary>
    public static string MissingKeyAdvice =>
        $"the HMAC entries cannot be verified without the chain key: set {Setting} (or pass --chain-key FILE) to the key file the service uses; this is not a verification";
}
