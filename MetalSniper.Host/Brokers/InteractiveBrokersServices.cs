using System.Globalization;
using Dapper;
using MetalSniper.Core.Instruments;
using MetalSniper.Core.MarketData;
using MetalSniper.Core.Orders;
using MetalSniper.Host.Configuration;
using MetalSniper.Persistence;
using MetalSniper.InteractiveBrokers.Adapters;
using MetalSniper.InteractiveBrokers.Client;
using MetalSniper.InteractiveBrokers.Connection;
using Microsoft.Extensions.Options;
using MetalSniper.Engine.Configuration;
using MetalSniper.Persistence.Journal;
using MetalSniper.Strategies.Metals;

namespace MetalSniper.Host.Brokers;

/// <summary>Registration of the Interactive Brokers session, order gateway and market data source.</summary>
public static class InteractiveBrokersServices
{
    /// <summary>
    /// Registers the IB session (one connection for the process), its hosted service and the order gateway; and the live
    /// bar source and top-of-book quotes (<see cref="IbQuoteBook"/>, the gates' <see cref="IQuoteFeed"/>) when
    /// <c>MarketData:Source</c> is InteractiveBrokers.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="liveMarketData">True when the bars come from IB.</param>
    /// <param name="orders">
    /// False in shadow mode: no <see cref="IbOrderGateway"/> is registered at all (no reconciliation, no order can reach the
    /// TWS connection); the session carries market data only.
    /// </param>
    public static void Add(IServiceCollection services, bool liveMarketData, bool orders = true)
    {
        services.AddSingleton(sp =>
        {
            var ib = sp.GetRequiredService<IOptions<BrokerOptions>>().Value.InteractiveBrokers;
            var risk = sp.GetRequiredService<IOptions<RiskOptions>>().Value;
            var wall = sp.GetRequiredService<Engine.Pipeline.WallClock>().Provider;
            var client = new TwsClient(new TwsClientOptions
            {
                // One configured budget (Risk:BrokerMessagesPerSecond, validated ≤ 50, IB's limit) for the wire pacer and the
                // hands' order budget below: the hands keep their orders within it, the pacer holds every message to it.
                MessagesPerSecond = risk.BrokerMessagesPerSecond,
                ReservedMessagesPerSecond = risk.ReservedRiskMessagesPerSecond,
                HeartbeatInterval = TimeSpan.FromSeconds(ib.HeartbeatSeconds),
                HeartbeatTimeout = TimeSpan.FromSeconds(ib.HeartbeatSeconds * 2),
            }, wall, sp.GetRequiredService<ILogger<TwsClient>>());
            var windows = ib.EffectiveQuietWindows.Select(w => InteractiveBrokersOptions.TryParseWindow(w, out var a, out var b) ? (a, b) : throw new OptionsValidationException(nameof(InteractiveBrokersOptions), typeof(InteractiveBrokersOptions), [$"QuietWindows: '{w}'"])).ToList();
            var machine = new IbConnectionStateMachine(TimeSpan.FromSeconds(ib.ReconnectWarmupSeconds), windows, TimeZoneInfo.FindSystemTimeZoneById(ib.QuietWindowTimeZone));
            return new IbSession(new IbSessionSettings(ib.Host, ib.Port, ib.ClientId, ib.Account, TimeSpan.FromSeconds(ib.ConnectTimeoutSeconds),
                TimeSpan.FromSeconds(ib.ReconnectMinDelaySeconds), TimeSpan.FromSeconds(ib.ReconnectMaxDelaySeconds), TimeSpan.FromSeconds(ib.ReconcileTimeoutSeconds), ib.MarketDataType,
                // Shadow counts as paper: it rehearses on a paper account's session (IB shares the live subscriptions with it).
                Paper: sp.GetRequiredService<IOptions<ExecutionOptions>>().Value.Mode != Core.Orders.ExecutionMode.Live),
                client, machine, wall, sp.GetRequiredService<ILogger<IbSession>>());
        });
        // One contract book for the gateway and the market data: contract details (price magnifier, tick, listing) of every
        // instrument this host trades, requested on each connect; an instrument without valid details is refused (fail closed).
        services.AddSingleton(sp =>
        {
            var metals = sp.GetRequiredService<IOptions<MetalsStrategyOptions>>().Value;
            var dual = sp.GetRequiredService<IOptions<Strategies.DualListing.DualListingStrategyOptions>>().Value;
            var pairs = sp.GetRequiredService<IOptions<Pairs.Backtest.DualListingOptions>>().Value;
            var symbols = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
            if (metals.Enabled)
            {
                symbols.UnionWith(metals.Symbols);
            }

            if (dual.Enabled)
            {
                symbols.UnionWith(pairs.Pairs.Values.Where(p => p.Enabled).SelectMany(p => new[] { p.A.Symbol, p.B.Symbol }));
                symbols.UnionWith(dual.FxSymbols);
            }

            if (liveMarketData)
            {
                symbols.UnionWith(sp.GetRequiredService<IOptions<MarketDataOptions>>().Value.InteractiveBrokers.EffectiveSymbols);
            }

            return new IbContractBook(sp.GetRequiredService<IbSession>(), sp.GetRequiredService<IInstrumentCatalog>(), symbols, sp.GetRequiredService<Engine.Pipeline.WallClock>().Provider,
                sp.GetRequiredService<ILogger<IbContractBook>>());
        });
        if (orders)
        {
            AddOrderGateway(services);
        }

        // A broker down at the start is waited for (alerted YELLOW, then RED), never a reason to exit.
        services.AddSingleton(sp => new BrokerStartWait(sp.GetRequiredService<IbSession>(), sp.GetRequiredService<Core.Alerts.IAlertSink>(),
            TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<BrokerOptions>>().Value.InteractiveBrokers.StartupUnreachableRedSeconds),
            sp.GetRequiredService<Engine.Pipeline.WallClock>().Provider));
        services.AddHostedService(sp => new IbSessionService(sp.GetRequiredService<IbSession>(), sp.GetService<IbOrderGateway>(), sp.GetRequiredService<IbContractBook>(),
            sp.GetService<IbQuoteBook>(), sp.GetRequiredService<Persistence.Journal.DecisionJournal>(), sp.GetRequiredService<Engine.Alerts.AlertHub>(),
            sp.GetRequiredService<Engine.Pipeline.WallClock>(), sp.GetRequiredService<ILogger<IbSessionService>>(), sp.GetRequiredService<BrokerStartWait>()));
        if (liveMarketData)
        {
            services.AddSingleton<IMarketDataSource>(sp =>
            {
                var md = sp.GetRequiredService<IOptions<MarketDataOptions>>().Value.InteractiveBrokers;
                // Issue 18: a brain that re-executes the earlier runs (the IB broker) gets the bars formed while the process was down.
                var resume = sp.GetService<Engine.Pipeline.BrainInputLog>() is { } log ? LastConsumedBars(log) : null;
                var source = new IbMarketDataSource(sp.GetRequiredService<IbSession>(), sp.GetRequiredService<IInstrumentCatalog>(), md.EffectiveSymbols, TimeSpan.FromMinutes(md.BarMinutes),
                    sp.GetRequiredService<ILogger<IbMarketDataSource>>(), sp.GetRequiredService<IbContractBook>())
                {
                    ResumeAfter = resume is null ? null : symbol => resume.TryGetValue(symbol, out var at) ? at : null,
                };
                // Issue 18 item 7: a restart's adopted positions are priced at once, from the last complete bar of the subscription's history.
                var sentinel = sp.GetRequiredService<Sentinel.RiskSentinel>();
                source.LastHistoricalClose += (symbol, close, closeUtc, interval) => sentinel.OnPrice(symbol, close, closeUtc, interval);
                return source;
            });

            // The broker's bid/ask of every instrument of the contract book, for the quote gate (spread, zero bid, age).
            services.AddSingleton(sp =>
            {
                var contracts = sp.GetRequiredService<IbContractBook>();
                return new IbQuoteBook(sp.GetRequiredService<IbSession>(), contracts, contracts.Symbols, sp.GetRequiredService<ILogger<IbQuoteBook>>());
            });
            services.AddSingleton<IQuoteFeed>(sp => sp.GetRequiredService<IbQuoteBook>());
        }
    }

    /// <summary>The close time of the last bar per symbol the brain consumed in the earlier runs against the log's broker.</summary>
    private static IReadOnlyDictionary<string, DateTimeOffset> LastConsumedBars(Engine.Pipeline.BrainInputLog log)
    {
        using var c = log.Database.OpenConnection();
        return Persistence.BrainInputs.LastBars(c, log.Broker);
    }

    private static void AddOrderGateway(IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var execution = sp.GetRequiredService<IOptions<ExecutionOptions>>().Value;
            var risk = sp.GetRequiredService<IOptions<RiskOptions>>().Value;
            using var c = sp.GetRequiredService<Database>().OpenConnection();
            var known = c.Query<string>("SELECT execution_id FROM fills").ToList();
            var mode = execution.Mode == Core.Orders.ExecutionMode.Live ? "live" : "paper";
            var wall = sp.GetRequiredService<Engine.Pipeline.WallClock>().Provider;
            // Issue 18 item 1: the earlier runs' working orders and our book as they left them are ours again after a restart.
            var earlier = EarlierRuns.Load(c, "ib-" + mode, wall.GetUtcNow());
            return new IbOrderGateway(sp.GetRequiredService<IbSession>(), sp.GetRequiredService<IInstrumentCatalog>(), mode,
                (risk.BrokerMessagesPerSecond, risk.ReservedRiskMessagesPerSecond), known, wall,
                sp.GetRequiredService<ILogger<IbOrderGateway>>(), sp.GetRequiredService<IbContractBook>(), earlier);
        });
        services.AddSingleton<IOrderGateway>(sp => sp.GetRequiredService<IbOrderGateway>());
    }

    /// <summary>The identity text of a shadow process: "SHADOW · simulated broker · IB data DU… at host:port (client N) STATE".</summary>
    public static string DescribeShadow(IServiceProvider sp)
    {
        ArgumentNullException.ThrowIfNull(sp);
        var ib = sp.GetRequiredService<IOptions<BrokerOptions>>().Value.InteractiveBrokers;
        var session = sp.GetRequiredService<IbSession>();
        var account = session.Account.Length > 0 ? session.Account : ib.Account.Length > 0 ? ib.Account : "account not yet known";
        return string.Create(CultureInfo.InvariantCulture,
            $"SHADOW · simulated broker (no order reaches IB) · IB data {account} at {ib.Host}:{ib.Port} (client {ib.ClientId}) {StateName(session.Machine.State(session.Clock.GetUtcNow()))}");
    }

    /// <summary>The identity text of an IB process.</summary>
    public static string Describe(IServiceProvider sp)
    {
        var ib = sp.GetRequiredService<IOptions<BrokerOptions>>().Value.InteractiveBrokers;
        var mode = sp.GetRequiredService<IOptions<ExecutionOptions>>().Value.Mode == Core.Orders.ExecutionMode.Live ? "LIVE" : "paper";
        var session = sp.GetRequiredService<IbSession>();
        var account = session.Account.Length > 0 ? session.Account : ib.Account.Length > 0 ? ib.Account : "account not yet known";
        return string.Create(CultureInfo.InvariantCulture, $"{mode} · IB {account} at {ib.Host}:{ib.Port} (client {ib.ClientId}) {session.Machine.State(TimeProvider.System.GetUtcNow())}");
    }

    /// <summary>The broker connection as the status API names it: "Interactive Brokers host:port client N, account A, link STATE".</summary>
    public static string DescribeConnection(IServiceProvider sp)
    {
        ArgumentNullException.ThrowIfNull(sp);
        var ib = sp.GetRequiredService<IOptions<BrokerOptions>>().Value.InteractiveBrokers;
        var session = sp.GetRequiredService<IbSession>();
        var account = session.Account.Length > 0 ? session.Account : ib.Account.Length > 0 ? ib.Account + " (not yet confirmed)" : "not yet known";
        var now = session.Clock.GetUtcNow();
        return string.Create(CultureInfo.InvariantCulture, $"Interactive Brokers {ib.Host}:{ib.Port} client {ib.ClientId}, account {account}, link {StateName(session.Machine.State(now))}");
    }

    /// <summary>
    /// The broker side of readiness: the link must be FULLY_LIVE (DISCONNECTED, DATA_ONLY, RECONNECT_WARMUP and
    /// EXECUTION_DEGRADED refuse new orders) and the last reconciliation must have succeeded.
    /// </summary>
    public static IReadOnlyList<Engine.Pipeline.BrokerCheck> Readiness(IServiceProvider sp)
    {
        ArgumentNullException.ThrowIfNull(sp);
        var session = sp.GetRequiredService<IbSession>();
        var now = session.Clock.GetUtcNow();
        var state = session.Machine.State(now);
        var link = state == IbConnectionState.FullyLive
            ? new Engine.Pipeline.BrokerCheck("broker-link", true, StateName(state))
            : new Engine.Pipeline.BrokerCheck("broker-link", false, sp.GetService<BrokerStartWait>()?.Describe() is { } waiting
                ? $"{StateName(state)}: {waiting}"
                : $"{StateName(state)}: {session.Machine.Reason} (new orders refused)");
        if (sp.GetService<IbOrderGateway>() is not { } gateway)
        {
            return [link]; // shadow: no IB orders, nothing to reconcile
        }

        var reconciled = gateway.Reconciliations > 0 && gateway.LastReconciliationOk;
        var reconciliation = new Engine.Pipeline.BrokerCheck("reconciliation", reconciled,
            reconciled ? gateway.LastReconciliation : $"{gateway.LastReconciliation} ({gateway.Reconciliations} succeeded so far; orders refused until one succeeds)");
        return [link, reconciliation];
    }

    /// <summary>The state as the logs and the journal spell it (FULLY_LIVE, DATA_ONLY, …).</summary>
    public static string StateName(IbConnectionState state) => state switch
    {
        IbConnectionState.Disconnected => "DISCONNECTED",
        IbConnectionState.DataOnly => "DATA_ONLY",
        IbConnectionState.ReconnectWarmup => "RECONNECT_WARMUP",
        IbConnectionState.FullyLive => "FULLY_LIVE",
        IbConnectionState.ExecutionDegraded => "EXECUTION_DEGRADED",
        _ => state.ToString(),
    };
}

/// <summary>
/// Runs the IB session for the life of the host: connection and reconnection, reconciliation, the state machine. Its
/// state changes are journaled (<c>BrokerLink</c>) and alerted (a lost link RED once per disconnection, restored and
/// FULLY_LIVE as info), as are the gateway's problems (external orders or fills, reconciliation failures, client id in use).
/// It also books executions whose commission report never came, once a second. In shadow mode there is no order gateway
/// (<paramref name="gateway"/> null): the session carries market data only.
/// </summary>
/// <param name="session">The IB session.</param>
/// <param name="gateway">The IB order gateway; null in shadow mode.</param>
/// <param name="contracts">The contract details book.</param>
/// <param name="quotes">The top-of-book quotes (their problems are alerted); null without live IB data.</param>
/// <param name="journal">The decision journal.</param>
/// <param name="alerts">The alert hub.</param>
/// <param name="wallClock">The wall clock.</param>
/// <param name="logger">Logger.</param>
/// <param name="startWait">Watches the first connection: the broker unreachable at the start is waited for and alerted; null: not watched.</param>
public sealed class IbSessionService(IbSession session, IbOrderGateway? gateway, IbContractBook contracts, IbQuoteBook? quotes, Persistence.Journal.DecisionJournal journal,
    Engine.Alerts.AlertHub alerts, Engine.Pipeline.WallClock wallClock, ILogger<IbSessionService> logger, BrokerStartWait? startWait = null)
    : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        startWait?.Start();
        session.Machine.Changed += OnChanged;
        session.Problem += OnProblem;
        if (gateway is not null)
        {
            gateway.Problem += OnGatewayProblem;
        }
        else
        {
            // Shadow: no IB order exists to reconcile; each (re)connect and 1101/1102 is "reconciled" at once, so the link
            // reports its real state (warm-up, FULLY_LIVE, EXECUTION_DEGRADED) as in any other mode.
            session.Connected += NothingToReconcileAsync;
            session.Restored += NothingToReconcileAsync;
        }

        contracts.Problem += OnContractProblem;
        if (quotes is not null)
        {
            quotes.Problem += OnContractProblem;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), wallClock.Provider);
        var flusher = Task.Run(async () =>
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    gateway?.FlushOverdueFills();
                    session.Machine.State(wallClock.Provider.GetUtcNow()); // lets the warm-up end on time (and be journaled)
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A tick that fails must not end the loop unnoticed (overdue fills would stay unbooked): loud, and the next tick tries again.
                    logger.LogError(e, "IB housekeeping tick failed: {Message}", e.Message);
                    alerts.Raise(Core.Alerts.AlertLevel.Red, "Broker", "IB housekeeping failed (overdue fills, warm-up): " + e.Message);
                }
            }
        }, stoppingToken);
        try
        {
            await session.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            startWait?.Dispose();
            session.Machine.Changed -= OnChanged;
            session.Problem -= OnProblem;
            if (gateway is not null)
            {
                gateway.Problem -= OnGatewayProblem;
            }
            else
            {
                session.Connected -= NothingToReconcileAsync;
                session.Restored -= NothingToReconcileAsync;
            }

            contracts.Problem -= OnContractProblem;
            if (quotes is not null)
            {
                quotes.Problem -= OnContractProblem;
            }
            try
            {
                await flusher.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                logger.LogDebug("IB fill flusher stopped");
            }
        }
    }

    private Task NothingToReconcileAsync(CancellationToken cancellationToken)
    {
        session.Machine.OnReconciled(true, "shadow mode: no IB orders, executions or positions of ours to reconcile", wallClock.Provider.GetUtcNow(), session.Machine.ReconciliationEpoch);
        return Task.CompletedTask;
    }

    private void OnChanged(IbStateChange change)
    {
        journal.Append(JournalEntryKind.BrokerLink, change.To.ToString(), change.From.ToString(), change);
        var level = change.To switch
        {
            IbConnectionState.ExecutionDegraded => Core.Alerts.AlertLevel.Red,
            IbConnectionState.DataOnly when change.From == IbConnectionState.ExecutionDegraded => Core.Alerts.AlertLevel.Yellow,
            _ => Core.Alerts.AlertLevel.Info,
        };
        alerts.Raise(level, "BrokerLink", $"IB link {change.From} -> {change.To}: {change.Reason}");
    }

    private void OnProblem(string text) => alerts.Raise(Core.Alerts.AlertLevel.Red, "Broker", text);

    private void OnGatewayProblem(string text, bool red) => alerts.Raise(red ? Core.Alerts.AlertLevel.Red : Core.Alerts.AlertLevel.Yellow, "Broker", text);

    /// <summary>An instrument refused for missing or disagreeing contract details, or whose quotes were refused: no order or data for it until fixed (RED).</summary>
    private void OnContractProblem(string text)
    {
        logger.LogError("IB contract details: {Problem}", text);
        alerts.Raise(Core.Alerts.AlertLevel.Red, "Broker", text);
    }
}
