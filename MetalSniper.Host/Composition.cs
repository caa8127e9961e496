using System.Globalization;
using MetalSniper.Core.Decisions;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Money;
using MetalSniper.Core.Orders;
using MetalSniper.Backtest;
using MetalSniper.Calendars;
using MetalSniper.Core.Sessions;
using MetalSniper.Core.Time;
using MetalSniper.Host.Configuration;
using MetalSniper.Persistence;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Engine.Services;
using MetalSniper.Sentinel.Breakers;
using MetalSniper.Risk.Gates;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;
using MetalSniper.Strategies;
using MetalSniper.Strategies.Metals;
using Microsoft.Extensions.Options;
using Serilog;
using MetalSniper.Core.Costs;
using MetalSniper.Engine.Configuration;
using MetalSniper.Operator;
using MetalSniper.Operator.Window;

namespace MetalSniper.Host;

/// <summary>How to build a host: where the configuration is, overrides from the command line, the mode.</summary>
/// <param name="ConfigPath">The appsettings.json to load (null: ./appsettings.json, else the one beside the executable).</param>
/// <param name="Mode">Service or replay.</param>
/// <param name="DatabasePathOverride">Overrides <c>Persistence:DatabasePath</c>.</param>
/// <param name="ConsoleLogLevel">Minimum level on the console.</param>
/// <param name="ExtraSettings">Further key/value overrides (tests, CLI).</param>
public sealed record HostSettings(
    string? ConfigPath,
    RunMode Mode,
    string? DatabasePathOverride = null,
    Serilog.Events.LogEventLevel ConsoleLogLevel = Serilog.Events.LogEventLevel.Information,
    IReadOnlyDictionary<string, string?>? ExtraSettings = null)
{
    /// <summary>
    /// The run id to use (letters, digits, '-', '_'; at most 40 characters). Null: a new one from the time and a
    /// random suffix. A replay given the id of an unfinished run resumes it (<see cref="Engine.Pipeline.RunResume"/>).
    /// </summary>
    public string? RunId { get; init; }

    /// <summary>Runs after the standard registrations: replaces or decorates services (tests swap in strategies or wrap the gateway).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }
}

/// <summary>Scopes of the kill-switch state in the halts store.</summary>
public static class KillSwitchScopes
{
    /// <summary>The trading service (<c>run</c>): restored on every start, changed by the CLI's <c>kill</c> and <c>resume</c>.</summary>
    public const string Service = "service";
}

/// <summary>Composition root: configuration, logging and the service graph. Program.cs stays thin.</summary>
public static class Composition
{
    /// <summary>Largest transaction of a replay's writers (a backtest is re-runnable: it writes in few, large transactions).</summary>
    private const int ReplayBatch = 16_384;

    /// <summary>How long a replay's writers let rows gather before a commit (fewer wake-ups competing with the replay for a core).</summary>
    private static readonly TimeSpan ReplayLinger = TimeSpan.FromMilliseconds(25);

    /// <summary>Loads configuration: the JSON file, then environment variables prefixed <c>METALSNIPER_</c> (<c>METALSNIPER_Risk__DailyLossLimit</c>), then explicit overrides.</summary>
    /// <exception cref="FileNotFoundException">No configuration file was found.</exception>
    public static IConfigurationRoot LoadConfiguration(HostSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var path = ResolveConfigPath(settings.ConfigPath);
        var builder = new ConfigurationBuilder()
            .AddJsonFile(path, optional: false, reloadOnChange: false)
            .AddEnvironmentVariables("METALSNIPER_");
        var overrides = new Dictionary<string, string?>(settings.ExtraSettings ?? new Dictionary<string, string?>());
        if (settings.DatabasePathOverride is not null)
        {
            overrides[$"{PersistenceOptions.SectionName}:DatabasePath"] = settings.DatabasePathOverride;
        }

        return builder.AddInMemoryCollection(overrides).Build();
    }

    /// <summary>Finds the configuration file.</summary>
    public static string ResolveConfigPath(string? configPath)
    {
        if (configPath is not null)
        {
            return File.Exists(configPath) ? Path.GetFullPath(configPath) : throw new FileNotFoundException($"configuration file '{configPath}' not found", configPath);
        }

        foreach (var candidate in new[] { Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), Path.Combine(AppContext.BaseDirectory, "appsettings.json") })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("no appsettings.json in the working directory or beside the executable; pass --config");
    }

    /// <summary>Builds the host for a validated configuration.</summary>
    public static IHost BuildHost(HostSettings settings, IConfigurationRoot configuration)
    {
        ArgumentNullException.ThrowIfNull(settings);

        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Configuration.AddConfiguration(configuration);
        builder.Services.Configure<HostOptions>(o =>
        {
            o.ShutdownTimeout = TimeSpan.FromSeconds(30);
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost;
        });
        ConfigureLogging(builder, settings);
        // A replay is a backtest: always the simulated broker on recorded data, whatever the broker section says.
        var broker = settings.Mode == RunMode.Service ? configuration[$"{BrokerOptions.SectionName}:Kind"] ?? "Simulated" : "Simulated";
        var source = settings.Mode == RunMode.Service ? configuration[$"{MarketDataOptions.SectionName}:Source"] ?? "Replay" : "Replay";
        var configHash = new ConfigHash(Engine.Services.ConfigFingerprint.Of(configuration, OptionSections.TopLevel).Hash);
        var causalService = settings.Mode == RunMode.Service && source == "Replay"
            && (configuration.GetSection(MarketDataOptions.SectionName).GetSection("Replay").GetValue<ServiceScheduler?>(nameof(ReplayOptions.ServiceScheduler)) ?? ServiceScheduler.Causal) == ServiceScheduler.Causal;
        var runId = settings.RunId;
        ResumeRefusal? refusal = null;
        if (causalService && runId is null)
        {
            // The service on a replayed feed resumes the run it left open on this database (a clean stop or a crash), under the same configuration.
            var path = configuration.GetSection(PersistenceOptions.SectionName).GetValue<string>(nameof(PersistenceOptions.DatabasePath)) ?? new PersistenceOptions().DatabasePath;
            var (resumable, reason) = FeedMarks.FindResumable(new Database(path, TimeProvider.System), configHash.Hash);
            runId = resumable;
            refusal = reason is null ? null : new ResumeRefusal(reason);
        }

        AddMetalSniper(builder.Services, settings.Mode, runId, broker, source, causalService);
        builder.Services.AddSingleton(configHash);
        if (refusal is not null)
        {
            builder.Services.AddSingleton(refusal);
        }

        settings.ConfigureServices?.Invoke(builder.Services);
        builder.Services.AddSingleton<IHostLifetime, Microsoft.Extensions.Hosting.Internal.ConsoleLifetime>();
        if (settings.Mode == RunMode.Service && OperatingSystem.IsWindows())
        {
            // Started by the Service Control Manager (sc.exe create …): the Windows-service lifetime (start/stop from the SCM,
            // stop = the same graceful drain as Ctrl+C). Registered after the console lifetime so it wins; it activates only
            // when the SCM started the process (not under nssm, which runs us as a console child). Its event-log provider
            // stays unused: Serilog is the logger factory.
            builder.Services.AddWindowsService();
        }

        return builder.Build();
    }

    private static void ConfigureLogging(HostApplicationBuilder builder, HostSettings settings)
    {
        // A replay's (and a benchmark's) standard output is its report: its console log lines go to standard error. The service
        // (run) logs to standard output as before (journald and nssm capture it).
        var logger = new LoggerConfiguration()
            .ReadFrom.Configuration(builder.Configuration)
            .Enrich.FromLogContext()
            .Enrich.With(new Supervision.OperatorLogEnricher())
            .Filter.ByExcluding(Supervision.OperatorLogEnricher.IsHandledStartupFailure)
            .WriteTo.Console(restrictedToMinimumLevel: settings.ConsoleLogLevel, formatProvider: CultureInfo.InvariantCulture,
                outputTemplate: Supervision.OperatorLogEnricher.Template,
                standardErrorFromLevel: settings.Mode == RunMode.Replay ? Serilog.Events.LogEventLevel.Verbose : null)
            .CreateLogger();
        // Serilog.Extensions.Hosting: Serilog becomes the host's ILoggerFactory (no Microsoft.Extensions.Logging providers in
        // between; the Serilog section alone decides levels and sinks) and the logger is flushed and disposed with the host.
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(logger, dispose: true);
    }

    /// <summary>
    /// The simulated broker's carry on spot metals (<c>SimulatedBroker:Carry</c>): the execution service charges it at every
    /// daily cut. Registered only where the simulated broker fills the orders; on IB, IB charges it. The factory returns null
    /// when <c>Enabled</c> is false (the execution service's parameter is optional).
    /// </summary>
    private static void AddSimulatedCarry(IServiceCollection services) =>
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<SimulatedBrokerOptions>>().Value.Carry.CreateAccrual()!);

    /// <summary>
    /// Registers the pipeline. The order of hosted services is the start order; they stop in reverse:
    /// ingest, brain, hands (draining every queued command while the sentinel still watches), sentinel,
    /// database.
    /// </summary>
    /// <param name="services">The container.</param>
    /// <param name="mode">Service or replay.</param>
    /// <param name="runIdOverride">The run id (a replay's --run-id, or the service run being resumed); null: a new one.</param>
    /// <param name="brokerKind"><c>Simulated</c> or <c>InteractiveBrokers</c>.</param>
    /// <param name="marketDataSource"><c>Replay</c> or <c>InteractiveBrokers</c>.</param>
    /// <param name="causalService">The service on a replayed feed runs on the causal scheduler (<see cref="ReplayOptions.ServiceScheduler"/>).</param>
    public static void AddMetalSniper(IServiceCollection services, RunMode mode, string? runIdOverride = null, string brokerKind = "Simulated", string marketDataSource = "Replay", bool causalService = false)
    {
        OptionSections.Accept(new StrictOptionsRegistration(services));
        services.AddSingleton<Engine.Pipeline.Supervisor>();

        var runId = runIdOverride ?? TimeProvider.System.GetUtcNow().ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture) + "-" + Convert.ToHexString(Guid.NewGuid().ToByteArray(), 0, 3).ToLowerInvariant();
        var causal = mode == RunMode.Replay || causalService;
        services.AddSingleton(new RunContext(runId, mode) { Causal = causal });
        services.AddSingleton(new WallClock(TimeProvider.System));
        services.AddSingleton(new IdGenerator(runId));
        services.AddSingleton(sp => RunResume.Detect(sp.GetRequiredService<Database>(), runId, mode));

        // Replay time comes from the data; a live source would register TimeProvider.System here.
        services.AddSingleton<ReplayTimeProvider>(_ => new ReplayTimeProvider(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        // A live feed runs on the system clock; recorded data on the clock the data moves.
        var liveData = marketDataSource == "InteractiveBrokers";
        services.AddSingleton<TimeProvider>(sp => liveData ? TimeProvider.System : sp.GetRequiredService<ReplayTimeProvider>());

        services.AddSingleton<IInstrumentCatalog>(_ => InstrumentCatalog.CreateDefault());
        // One exchange calendar (holidays and half days, 2007–2028) answers both contracts.
        services.AddSingleton<ExchangeCalendar>();
        services.AddSingleton<IExchangeCalendar>(sp => sp.GetRequiredService<ExchangeCalendar>());
        services.AddSingleton<ITradingSessions>(sp => sp.GetRequiredService<ExchangeCalendar>());
        // Configured rates (Account:FxRates) seed the table; a feed, where there is one, replaces them.
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<AccountOptions>>().Value.CreateFxRateTable());
        services.AddSingleton(sp => new AccountCurrency(new Currency(sp.GetRequiredService<IOptions<AccountOptions>>().Value.BaseCurrency)));
        services.AddSingleton<IFxRateProvider>(sp => sp.GetRequiredService<FxRateTable>());
        services.AddSingleton<FxConverter>();
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<MarketDataOptions>>().Value;
            return new PipelineChannels(o.ChannelCapacity, 4096);
        });

        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<PersistenceOptions>>().Value;
            return new Database(o.DatabasePath, sp.GetRequiredService<WallClock>().Provider);
        });
        // The keys of the journal's and the halts store's chains, outside the database: the service with a real broker must be
        // given a key file (exit 78 without); everything else uses (and first creates) one beside the database.
        services.AddSingleton(sp =>
        {
            var keyring = ChainKeys.ForRun(sp.GetRequiredService<IOptions<PersistenceOptions>>().Value, mode, brokerKind, sp.GetRequiredService<WallClock>().Provider);
            sp.GetRequiredService<ILogger<ChainKeyring>>().Log(mode == RunMode.Service ? LogLevel.Information : LogLevel.Debug, "Journal and halts store keyed with HMAC-SHA256: {Keyring}", keyring.ToString());
            return keyring;
        });
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<PersistenceOptions>>().Value;
            var run = sp.GetRequiredService<RunContext>();
            var lifetime = sp.GetRequiredService<IHostApplicationLifetime>();
            // A replay (re-runnable) writes off the hot path in large transactions; the service commits as rows come.
            return new PersistenceWriter(sp.GetRequiredService<Database>(), mode == RunMode.Replay ? Math.Max(o.MaxBatchSize, ReplayBatch) : o.MaxBatchSize, o.QueueCapacity,
                sp.GetRequiredService<ILogger<PersistenceWriter>>(), e =>
            {
                // Nothing may trade unrecorded: a failed commit stops the host with a non-zero exit.
                run.RecordFault("persistence", e);
                run.PipelineDrained.TrySetException(e);
                lifetime.StopApplication();
            }, mode == RunMode.Replay ? ReplayLinger : TimeSpan.Zero);
        });

        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<JournalOptions>>().Value;
            var db = sp.GetRequiredService<IOptions<PersistenceOptions>>().Value;
            var run = sp.GetRequiredService<RunContext>();
            var lifetime = sp.GetRequiredService<IHostApplicationLifetime>();
            var path = o.Resolve(db.DatabasePath, mode);
            var journal = new Persistence.Journal.DecisionJournal(path, durable: mode == RunMode.Service, o.VerifyTailEntries, mode == RunMode.Replay ? Math.Max(o.MaxBatch, ReplayBatch) : o.MaxBatch,
                TimeSpan.FromSeconds(o.CheckpointSeconds), sp.GetRequiredService<WallClock>().Provider, e =>
                {
                    // Nothing may happen unrecorded: a failed journal commit stops the host with a non-zero exit.
                    run.RecordFault("journal", e);
                    run.PipelineDrained.TrySetException(e);
                    lifetime.StopApplication();
                }, sp.GetRequiredService<ILogger<Persistence.Journal.DecisionJournal>>(), mode == RunMode.Replay ? ReplayLinger : TimeSpan.Zero, serializeOnWriter: mode == RunMode.Replay,
                keyring: sp.GetRequiredService<ChainKeyring>());
            var resume = sp.GetRequiredService<RunResume>();
            if (resume.IsResume)
            {
                // Re-execution meets the entries of the earlier attempts again: they are matched, not repeated.
                journal.MatchEarlierEntriesOf(runId);
            }

            return journal;
        });
        // A replay's alerts carry the market time they happened at (the replay clock): the same replay raises the same
        // alerts, so a resumed replay meets its earlier alerts in the journal instead of repeating them.
        // The service on a replayed feed likewise (a resumed run meets its earlier alerts and does not send them again).
        services.AddSingleton(sp => new Engine.Alerts.AlertHub(sp.GetRequiredService<Persistence.Journal.DecisionJournal>(),
            causal ? sp.GetRequiredService<TimeProvider>() : sp.GetRequiredService<WallClock>().Provider, sp.GetRequiredService<ILogger<Engine.Alerts.AlertHub>>())
        {
            // Every alert says which account and mode it is about.
            Identity = mode == RunMode.Service ? () => sp.GetRequiredService<BrokerIdentity>().Describe() : null,
        });
        services.AddSingleton<Core.Alerts.IAlertSink>(sp => sp.GetRequiredService<Engine.Alerts.AlertHub>());

        services.AddSingleton<IngestCounters>();
        services.AddSingleton<BarValidator>();
        if (!liveData)
        {
            services.AddSingleton<IMarketDataSource>(sp => CreateReplaySource(sp, mode));
        }

        services.AddSingleton<IReadOnlyDictionary<string, CostModel>>(sp =>
            sp.GetRequiredService<IOptions<SimulatedBrokerOptions>>().Value.Costs.ToDictionary(
                kv => kv.Key, kv => new CostModel(kv.Value.DefaultSpread, kv.Value.CommissionRate, kv.Value.MinimumCommission), StringComparer.OrdinalIgnoreCase));
        services.AddSingleton(sp => new CostEstimator(sp.GetRequiredService<IInstrumentCatalog>(), sp.GetRequiredService<IReadOnlyDictionary<string, CostModel>>(),
            sp.GetRequiredService<IOptions<SimulatedBrokerOptions>>().Value.SlippageTicks));
        // The simulated broker keeps its own side in its own file beside the database and is restored from it on start.
        services.AddSingleton(sp =>
        {
            var database = sp.GetRequiredService<Database>();
            var store = new Backtest.SimulatedBrokerStore(Path.Combine(Path.GetDirectoryName(database.Path)!, "simulated-broker.db"), durable: mode == RunMode.Service);
            return new Backtest.DurableSimulatedBroker(store, runId,
                () => new SimulatedOrderGateway(sp.GetRequiredService<IInstrumentCatalog>(), sp.GetRequiredService<IReadOnlyDictionary<string, CostModel>>(),
                    sp.GetRequiredService<IOptions<SimulatedBrokerOptions>>().Value.SlippageTicks, sp.GetRequiredService<TimeProvider>(), runId,
                    sp.GetRequiredService<AccountCurrency>().Base, sp.GetRequiredService<IOptions<SimulatedBrokerOptions>>().Value.MaxVolumeParticipation),
                recover: sp.GetRequiredService<RunResume>().IsResume, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Backtest.DurableSimulatedBroker>>());
        });
        if (brokerKind == "InteractiveBrokers")
        {
            if (!liveData)
            {
                // ConfigurationCheck refuses this before anything starts; a host built around it must not exist either.
                throw new OptionsValidationException(BrokerOptions.SectionName, typeof(BrokerOptions),
                    [$"Broker:Kind is InteractiveBrokers but MarketData:Source is {marketDataSource}: a real broker must trade on market data from that same broker"]);
            }

            Brokers.InteractiveBrokersServices.Add(services, liveData);
            services.AddSingleton(sp => new BrokerIdentity(() => Brokers.InteractiveBrokersServices.Describe(sp))
            {
                Reconciled = () => sp.GetRequiredService<MetalSniper.InteractiveBrokers.Adapters.IbOrderGateway>().Reconciliations > 0,
                Waiting = () => sp.GetRequiredService<Brokers.BrokerStartWait>().Describe(),
                Connection = () => Brokers.InteractiveBrokersServices.DescribeConnection(sp),
                Readiness = () => Brokers.InteractiveBrokersServices.Readiness(sp),
            });
        }
        else if (liveData)
        {
            // Shadow mode (the only way the configuration check lets IB data meet the simulated broker; a host built without
            // the check refuses to start in any other mode, see ShadowPairing): the IB session, contracts, bars and quotes, and no IB order gateway at
            // all — orders go to the simulated broker and nothing can send one to IB.
            Brokers.InteractiveBrokersServices.Add(services, liveMarketData: true, orders: false);
            services.AddSingleton<IOrderGateway>(sp => sp.GetRequiredService<Backtest.DurableSimulatedBroker>());
            AddSimulatedCarry(services);
            services.AddSingleton<ShadowFills>();
            services.AddSingleton(sp =>
            {
                var execution = sp.GetRequiredService<IOptions<ExecutionOptions>>().Value;
                if (execution.Mode != Core.Orders.ExecutionMode.Shadow)
                {
                    throw new OptionsValidationException(MarketDataOptions.SectionName, typeof(MarketDataOptions),
                        [$"MarketData:Source InteractiveBrokers with Broker:Kind Simulated needs Execution:Mode Shadow (it is {execution.Mode})"]);
                }

                return new BrokerIdentity(() => Brokers.InteractiveBrokersServices.DescribeShadow(sp))
                {
                    Waiting = () => sp.GetRequiredService<Brokers.BrokerStartWait>().Describe(),
                    Connection = () => "simulated broker (embedded, SHADOW: no order reaches IB); market data from " + Brokers.InteractiveBrokersServices.DescribeConnection(sp),
                    Readiness = () => [.. Brokers.InteractiveBrokersServices.Readiness(sp).Where(c => c.Name == "broker-link")],
                };
            });
        }
        else
        {
            services.AddSingleton<IOrderGateway>(sp => sp.GetRequiredService<Backtest.DurableSimulatedBroker>());
            AddSimulatedCarry(services);
            services.AddSingleton(sp => new BrokerIdentity(() => (sp.GetRequiredService<IOptions<ExecutionOptions>>().Value.Mode == Core.Orders.ExecutionMode.Live ? "LIVE" : "paper") + " · simulated broker")
            {
                // A resumed service run is ready (and systemd's READY=1 is sent) once it has re-executed its history.
                Reconciled = () => sp.GetService<FeedMarks>() is not { CatchingUp: true },
                Readiness = () => sp.GetService<FeedMarks>() is { } marks
                    ? [new BrokerCheck("resume", !marks.CatchingUp, marks.CatchingUp
                        ? string.Create(CultureInfo.InvariantCulture, $"re-executing the run's first {marks.CatchUpRecords} records before trading on")
                        : "the run is where it stopped")]
                    : [],
            });
        }

        // The kill switch is restored from the tamper-evident halts store before anything can send an order:
        // the service's state survives restarts; a replay has a scope of its own and never inherits one.
        services.AddSingleton(sp => mode == RunMode.Service
            ? new SqliteHaltStore(sp.GetRequiredService<Database>(), sp.GetRequiredService<WallClock>().Provider, durable: true, SqliteHaltStore.ServiceTable, sp.GetRequiredService<ChainKeyring>())
            // A replay's halts have a file of their own beside the database (like its journal and the simulated broker's store): a
            // halt the sentinel records on the replay's thread never waits for the batched writer's transaction on the database.
            : new SqliteHaltStore(new Database(ReplayHaltsPath(sp.GetRequiredService<Database>()), sp.GetRequiredService<WallClock>().Provider), sp.GetRequiredService<WallClock>().Provider,
                durable: false, SqliteHaltStore.ReplayTable, sp.GetRequiredService<ChainKeyring>()));
        // The service's halts store agrees with its journal (a store rolled back or rewritten does not; a keyed record inserted among
        // journaled ones has no entry): checked before the kill switch is restored, so a record that fails never lowers its level.
        services.AddSingleton(sp => mode == RunMode.Service ? CrossCheckServiceHalts(sp) : UnjournaledHaltRecords.None);
        services.AddSingleton(sp => mode == RunMode.Service && CrossCheckedServiceStore(sp) is var serviceStore
            ? causalService && sp.GetRequiredService<RunResume>().IsResume && FeedMarks.Read(sp.GetRequiredService<Database>(), runId) is { Count: > 0 } marks
                // The service on a replayed feed resuming its run: the state the run started from; its own records are met again as
                // re-execution makes them, the operator's applied again at the feed marks where they first took effect.
                ? KillSwitch.ForCausalResume(serviceStore, KillSwitchScopes.Service, marks[0].HaltSequence)
                // A live feed restores everything; a new run on a replayed feed starts its market time over, so only the latched level
                // comes back (old timed pauses would return when the replay reaches their dates).
                : KillSwitch.Restore(serviceStore, KillSwitchScopes.Service, restorePauses: liveData)
            : sp.GetRequiredService<RunResume>().IsResume
                // A resumed replay re-executes from the start: its kill switch starts fresh and meets its own earlier records again.
                ? KillSwitch.ForReexecution(sp.GetRequiredService<SqliteHaltStore>(), runId)
                : KillSwitch.Restore(sp.GetRequiredService<SqliteHaltStore>(), runId));
        services.AddSingleton(sp =>
        {
            var risk = sp.GetRequiredService<IOptions<RiskOptions>>().Value;
            var g = risk.Gates;
            // Every argument named: two adjacent caps of one type cannot swap without the compiler noticing.
            return new GateLimits(
                BaseCurrency: sp.GetRequiredService<AccountCurrency>().Base,
                MaxOpenPositions: g.MaxOpenPositions,
                MaxPositionQuantity: g.MaxPositionQuantity,
                MaxGrossExposure: g.MaxGrossExposure,
                MaxNetExposure: g.MaxNetExposure,
                MaxQuoteAge: g.MaxQuoteAge,
                MaxSpreadFraction: g.MaxSpreadFraction,
                FatFingerBand: g.FatFingerBand,
                MaxOrdersPerWindow: g.MaxOrdersPerWindow,
                OrderRateWindow: g.OrderRateWindow,
                SourceCooldown: g.SourceCooldown,
                MaxOrderQuantity: g.MaxOrderQuantity,
                MaxOrderNotional: g.MaxOrderNotional,
                DailyLossLimit: risk.DailyLossLimit);
        });
        services.AddSingleton(sp =>
        {
            var execution = sp.GetRequiredService<IOptions<ExecutionOptions>>().Value;
            var broker = sp.GetRequiredService<IOptions<BrokerOptions>>().Value;
            if (mode == RunMode.Service)
            {
                ShadowPairing(sp, shadowPairing: brokerKind != "InteractiveBrokers" && liveData, brokerKind, marketDataSource);
            }

            var envOptIn = string.Equals(Environment.GetEnvironmentVariable(ExecutionOptions.LiveConfirmVariable), "yes", StringComparison.Ordinal);
            return new ExecutionSafety(execution.Mode == Core.Orders.ExecutionMode.Live, execution.LiveTradingOptIn, envOptIn, BrokerIsLiveCapable: brokerKind != "Simulated",
                BrokerPort: brokerKind == "InteractiveBrokers" ? broker.InteractiveBrokers.Port : null);
        });
        services.AddSingleton(sp =>
        {
            var limits = sp.GetRequiredService<GateLimits>();
            var fx = sp.GetRequiredService<FxConverter>();
            IPreTradeGate[] gates =
            [
                new ExecutionModeGate(sp.GetRequiredService<ExecutionSafety>()),
                new BrokerReadinessGate(sp.GetRequiredService<IOrderGateway>()),
                new KillSwitchGate(sp.GetRequiredService<KillSwitch>()),
                new OrderSanityGate(),
                new ReduceOnlyGate(),
                new DailyLossGate(limits, sp.GetRequiredService<RiskSentinel>()),
                new MarketHoursGate(sp.GetRequiredService<ITradingSessions>()),
                new QuoteGate(limits, sp.GetRequiredService<IExchangeCalendar>()),
                new FatFingerGate(limits),
                new MaxOrderSizeGate(limits, fx),
                new PositionLimitGate(limits),
                new ExposureGate(limits, fx, sp.GetRequiredService<IInstrumentCatalog>()),
                new LockedProfitGate(),
                new DuplicateIntentGate(),
                new SourceCooldownGate(limits),
                new OrderRateGate(limits),
            ];
            return new PreTradeGatePipeline(gates);
        });
        services.AddSingleton<ISentinelOutbox, SentinelOutbox>();
        services.AddSingleton(sp =>
        {
            var risk = sp.GetRequiredService<IOptions<RiskOptions>>().Value;
            var baseCurrency = sp.GetRequiredService<AccountCurrency>().Base;
            var b = risk.Breakers;
            var breakers = b.Enabled
                ? new CircuitBreakerSettings(
                    MaxDrawdown: b.MaxDrawdown,
                    DrawdownLevel: (KillLevel)b.DrawdownLevel,
                    MaxConsecutiveLosses: b.MaxConsecutiveLosses,
                    SharpeFloor: b.SharpeFloor,
                    SharpeWindow: b.SharpeWindow,
                    SharpeMinTrades: b.SharpeMinTrades,
                    MaxLegImbalance: b.MaxLegImbalance,
                    Pairs: b.Pairs.Select(p => p.Split('/')).Select(p => (p[0].Trim(), p[1].Trim())).ToList(),
                    MaxFxRateAge: b.MaxFxRateAge,
                    ConfirmObservations: b.ConfirmObservations,
                    ResetWindow: b.ResetWindow,
                    MaxTripsPer24h: b.MaxTripsPer24h,
                    DefaultLevel: (KillLevel)b.DefaultLevel,
                    BaseCurrency: baseCurrency)
                : null;
            var settings = new SentinelSettings(
                DailyLossLimit: risk.DailyLossLimit,
                BaseCurrency: baseCurrency,
                SweepInterval: TimeSpan.FromMilliseconds(risk.SweepIntervalMilliseconds),
                TradingDayTimeZone: risk.TradingDayTimeZone,
                TradingDayStart: risk.TradingDayStart)
            {
                RapidLossAmount = risk.RapidLossAmount,
                RapidLossWindow = risk.RapidLossWindow,
                RapidLossPause = risk.RapidLossPause,
                WatchdogTrailFraction = risk.WatchdogTrailFraction,
                StaleDataAfter = risk.StaleDataAfter,
                HeartbeatTimeout = risk.HeartbeatTimeout,
                Breakers = breakers,
                FlattenRetryMaxDelay = risk.FlattenRetryMaxDelay,
                MaxHoldingTime = risk.MaxHoldingTime,
                FlattenBeforeSessionClose = risk.FlattenBeforeSessionClose,
            };
            return new RiskSentinel(settings, sp.GetRequiredService<IInstrumentCatalog>(), sp.GetRequiredService<FxConverter>(), sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<WallClock>().Provider, sp.GetRequiredService<ISentinelOutbox>(), sp.GetRequiredService<KillSwitch>(), sp.GetRequiredService<ITradingSessions>(),
                sp.GetRequiredService<IdGenerator>().ForSource("S"), sp.GetRequiredService<ILogger<RiskSentinel>>());
        });

        services.AddSingleton(sp => JudgeLoading.CreatePanel(sp.GetRequiredService<IOptions<Judges.Verdicts.JudgesOptions>>().Value, sp.GetRequiredService<Core.Alerts.IAlertSink>(),
            sp.GetRequiredService<WallClock>().Provider, sp.GetRequiredService<ILoggerFactory>().CreateLogger("MetalSniper.Judges")));

        services.AddSingleton(sp =>
        {
            var panel = sp.GetRequiredService<Judges.Verdicts.JudgePanel>();
            return new JudgeStatus(panel.Describe(), panel.Refused);
        });

        services.AddSingleton(sp =>
        {
            var dual = sp.GetRequiredService<IOptions<Strategies.DualListing.DualListingStrategyOptions>>().Value;
            var pairs = sp.GetRequiredService<IOptions<Pairs.Backtest.DualListingOptions>>().Value;
            return new PairsStatus(dual.Enabled
                ? [.. pairs.Pairs.Where(p => p.Value.Enabled).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new PairLegs(p.Key, p.Value.Company, p.Value.A.Symbol, p.Value.B.Symbol))]
                : []);
        });

        services.AddSingleton<IReadOnlyList<IStrategy>>(sp =>
        {
            var metals = sp.GetRequiredService<IOptions<MetalsStrategyOptions>>().Value;
            var dual = sp.GetRequiredService<IOptions<Strategies.DualListing.DualListingStrategyOptions>>().Value;
            var list = new List<IStrategy>();
            if (metals.Enabled)
            {
                list.Add(new MetalsHedgeStrategy(metals, sp.GetRequiredService<IInstrumentCatalog>(), sp.GetRequiredService<Judges.Verdicts.JudgePanel>()));
            }

            if (dual.Enabled)
            {
                list.Add(new Strategies.DualListing.DualListingStrategy(dual, sp.GetRequiredService<IOptions<Pairs.Backtest.DualListingOptions>>().Value,
                    sp.GetRequiredService<IInstrumentCatalog>(), sp.GetRequiredService<ITradingSessions>(), sp.GetRequiredService<AccountCurrency>().Base));
            }

            return list;
        });

        services.AddHostedService<PersistenceService>();
        services.AddSingleton(new Engine.Services.JournaledConfiguration(OptionSections.TopLevel));
        services.AddHostedService<Engine.Services.JournalService>();
        services.AddSingleton<KillSwitchService>();
        services.AddHostedService(sp => sp.GetRequiredService<KillSwitchService>());
        services.AddHostedService<SentinelService>();
        services.AddSingleton(sp => new BookValuation(sp.GetRequiredService<IInstrumentCatalog>(), sp.GetRequiredService<CostEstimator>(),
            sp.GetRequiredService<FxConverter>(), sp.GetRequiredService<AccountCurrency>()));
        services.AddSingleton(sp => new ExecutionRecorders(sp.GetRequiredService<Persistence.Journal.DecisionJournal>(), sp.GetRequiredService<PersistenceWriter>(),
            sp.GetRequiredService<Engine.Alerts.AlertHub>()));
        services.AddSingleton<IngestBoundary>();
        // Repeated refusals of one kind: one log line a minute with the count held back (each is still recorded in full).
        services.AddSingleton(sp => new LogRateLimiter(sp.GetRequiredService<WallClock>().Provider, TimeSpan.FromMinutes(1)));
        services.AddSingleton<ExecutionService>();
        if (mode == RunMode.Service && brokerKind == "InteractiveBrokers" && liveData)
        {
            // Issue 18: the brain on a live feed records its inputs, and a restart re-executes the earlier runs' before trading.
            services.AddSingleton(sp => new BrainInputLog(sp.GetRequiredService<Database>(), sp.GetRequiredService<IOrderGateway>().Name, sp.GetRequiredService<Engine.Alerts.AlertHub>()));
        }

        services.AddSingleton<SignalService>();
        if (causal)
        {
            // A replay, and the service on a replayed feed, run ingest, brain, hands, simulated broker and sentinel in causal order on one thread.
            if (causalService)
            {
                services.AddSingleton(sp => new ServicePace(sp.GetRequiredService<IOptions<MarketDataOptions>>().Value.Replay.ServicePaceBarsPerSecond));
                services.AddSingleton<FeedMarks>();
            }

            services.AddSingleton<ReplayScheduler>();
            services.AddHostedService(sp => sp.GetRequiredService<ReplayScheduler>());
        }
        else
        {
            // The service: each on its own thread, the sentinel independent of them all.
            if (brokerKind != "InteractiveBrokers" && liveData)
            {
                // Shadow: its banner before the hands start, its summary after they drained (before the journal closes).
                services.AddHostedService<Brokers.ShadowModeService>();
            }

            services.AddHostedService(sp => sp.GetRequiredService<ExecutionService>());
            services.AddHostedService(sp => sp.GetRequiredService<SignalService>());
            services.AddHostedService<IngestService>();
        }

        if (mode == RunMode.Service)
        {
            // Alerts and commands over Telegram: the service only (a backtest never messages the operator's phone).
            services.AddSingleton(sp => new Operator.Telegram.TelegramBotConnection(sp.GetRequiredService<IOptions<Operator.Telegram.TelegramOptions>>().Value,
                Operator.Telegram.TelegramOptions.TokenFromEnvironment(), sp.GetRequiredService<WallClock>()));
            services.AddSingleton<Operator.Telegram.TelegramNotifier>();
            services.AddSingleton<Operator.ITelegramHealth>(sp => sp.GetRequiredService<Operator.Telegram.TelegramNotifier>());
            services.AddHostedService<Operator.Telegram.AlertDelivery>();
            services.AddHostedService(sp => sp.GetRequiredService<Operator.Telegram.TelegramNotifier>());
            services.AddHostedService<Operator.Telegram.TelegramCommandPoller>();
            services.AddHostedService<Operator.Telegram.TelegramDigest>();
        }

        // sd_notify through Microsoft.Extensions.Hosting.Systemd's notifier ($NOTIFY_SOCKET; a no-op without it). Not UseSystemd():
        // its lifetime would send READY=1 at host start, before the broker was reconciled (see Supervision.SystemdService).
        services.AddSingleton<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>(_ => new Microsoft.Extensions.Hosting.Systemd.SystemdNotifier());
        services.AddSingleton(_ => Supervision.SystemdWatchdog.FromEnvironment());
        services.AddSingleton(_ => Operator.Window.OperatorToken.FromEnvironment());
        services.AddSingleton<Operator.OperatorConsole>();
        services.AddSingleton<Operator.IOperatorConsole>(sp => sp.GetRequiredService<Operator.OperatorConsole>());
        services.AddSingleton<Operator.Window.TradeLedger>();
        services.AddSingleton<Operator.Window.LogTail>();
        services.AddSingleton<Operator.Window.OperatorWindowService>();
        services.AddHostedService(sp => sp.GetRequiredService<Operator.Window.OperatorWindowService>());
        if (mode == RunMode.Service)
        {
            services.AddHostedService<Operator.StatusLineService>();
            services.AddSingleton<Supervision.SystemdService>();
            services.AddHostedService(sp => sp.GetRequiredService<Supervision.SystemdService>());
        }
    }

    /// <summary>
    /// Defence in depth behind <see cref="ConfigurationCheck"/>, before anything can trade (the gates need it): a service
    /// built without the check (tests, tools) refuses to start in <c>Execution:Mode</c> Shadow with any pairing but the
    /// simulated broker on IB data, and with that pairing in any other mode.
    /// </summary>
    private static void ShadowPairing(IServiceProvider sp, bool shadowPairing, string brokerKind, string marketDataSource)
    {
        var executionMode = sp.GetRequiredService<IOptions<ExecutionOptions>>().Value.Mode;
        if ((executionMode == Core.Orders.ExecutionMode.Shadow) != shadowPairing)
        {
            throw new OptionsValidationException(ExecutionOptions.SectionName, typeof(ExecutionOptions),
                [$"Execution:Mode is {executionMode} with Broker:Kind {brokerKind} and MarketData:Source {marketDataSource}: shadow mode, and only shadow mode, is the simulated broker on InteractiveBrokers data"]);
        }
    }

    /// <summary>The replays' halts store file, beside the database: <c>replay-halts.db</c> (table <c>replay_halts</c>).</summary>
    public static string ReplayHaltsPath(Database database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return Path.Combine(Path.GetDirectoryName(database.Path)!, "replay-halts.db");
    }

    /// <summary>The service's halts store, once <see cref="CrossCheckServiceHalts"/> passed (the kill switch is restored only from a store that agrees with the journal).</summary>
    private static SqliteHaltStore CrossCheckedServiceStore(IServiceProvider sp)
    {
        _ = sp.GetRequiredService<UnjournaledHaltRecords>();
        return sp.GetRequiredService<SqliteHaltStore>();
    }

    /// <summary>Verifies the service's halts chain and cross-checks it against the service's journal.</summary>
    /// <exception cref="HaltStoreTamperedException">The chain does not verify, or disagrees with the journal.</exception>
    private static UnjournaledHaltRecords CrossCheckServiceHalts(IServiceProvider sp)
    {
        var store = sp.GetRequiredService<SqliteHaltStore>();
        var records = store.ReadSince(0);
        var chain = HaltChain.Verify(records, store.Keyring);
        if (!chain.IsIntact)
        {
            throw new HaltStoreTamperedException(chain);
        }

        var journal = sp.GetRequiredService<IOptions<JournalOptions>>().Value.Resolve(sp.GetRequiredService<IOptions<PersistenceOptions>>().Value.DatabasePath, RunMode.Service);
        return HaltsJournalCrossCheck.Check(records, journal, KillSwitchScopes.Service, out var pending) is { } bad
            ? throw new HaltStoreTamperedException(bad)
            : pending;
    }

    private static ReplayMarketDataSource CreateReplaySource(IServiceProvider sp, RunMode mode)
    {
        var o = sp.GetRequiredService<IOptions<MarketDataOptions>>().Value.Replay;
        var directory = Path.GetFullPath(o.DataDirectory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"replay data directory '{directory}' (MarketData:Replay:DataDirectory = '{o.DataDirectory}') does not exist; the recorded data lives in ../shared/data beside the repository");
        }

        var files = ReplayFiles(o, directory, sp.GetRequiredService<IInstrumentCatalog>());
        // The service on the causal scheduler is paced by the scheduler (a resumed run catches up unpaced first).
        var pace = mode == RunMode.Service ? (o.ServiceScheduler == ServiceScheduler.Causal ? 0 : o.ServicePaceBarsPerSecond) : o.PaceBarsPerSecond;
        return new ReplayMarketDataSource(files, sp.GetRequiredService<WallClock>().Provider, pace, o.FromUtc, o.ToUtc, sp.GetRequiredService<IExchangeCalendar>());
    }

    /// <summary>
    /// The configured replay files (<c>MarketData:Replay:Files</c>) as the source reads them: intraday files as they are; a
    /// daily file of a Forex instrument as Yahoo's 00:00-London snapshots, of any other instrument as sessions of its venue.
    /// </summary>
    /// <exception cref="KeyNotFoundException">A symbol is not in the catalog (the configuration check reports it first).</exception>
    public static IReadOnlyList<ReplayFile> ReplayFiles(ReplayOptions options, string directory, IInstrumentCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(catalog);
        return options.Files.Select(f =>
        {
            var path = Path.Combine(directory, f.Path);
            if (!f.Daily)
            {
                return new ReplayFile(f.Symbol, path, TimeSpan.FromMinutes(f.IntervalMinutes), f.SpreadPointSize);
            }

            var column = f.Column == "adj_close" ? DailyPriceColumn.AdjClose : DailyPriceColumn.Close;
            var instrument = catalog.Get(f.Symbol);
            return instrument.SecurityType == SecurityType.Forex
                ? ReplayFile.DailySnapshot(f.Symbol, path, column)
                : ReplayFile.DailySession(f.Symbol, path, instrument.Exchange, column);
        }).ToList();
    }
}
