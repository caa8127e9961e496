using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using MetalSniper.Operator.Telegram;
using MetalSniper.Persistence.Journal;
using MetalSniper.Persistence;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Sentinel.Halts;
using MetalSniper.Sentinel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using MetalSniper.Engine.Alerts;
using MetalSniper.Core.Positions;

namespace MetalSniper.Operator.Window;

/// <summary>
/// The operator window (ASP.NET Core from the shared framework, loopback by default): <c>/health/live</c>,
/// <c>/health/ready</c> (ready once every service started, the journal is healthy, no service faulted, the kill switch
/// is below L2 and the broker can act — its link fully up and its reconciliation done; else 503 with the reasons; an
/// unhealthy Telegram is listed under <c>degraded</c> and in <c>telegram</c> without failing readiness), JSON APIs (<c>/api/status</c>, <c>/api/positions</c>, <c>/api/orders</c>,
/// <c>/api/decisions</c>, <c>/api/journal</c>, <c>/api/alerts</c>, <c>/api/equity</c>, <c>/api/trades</c>, <c>/api/daily</c>, <c>/api/stats</c>,
/// <c>/api/log</c>, and <c>/api/dashboard</c>: all of the dashboard's panels read at one instant of one clock), <c>POST /api/kill</c>
/// and <c>/api/resume</c> guarded by a bearer token from the environment (<see cref="OperatorOptions.TokenVariable"/>;
/// without it both refuse everything), and the dashboard at <c>/</c> (one embedded page, no build step). Runs
/// with the <c>run</c> service only.
/// </summary>
public sealed class OperatorWindowService(
    IOptions<OperatorOptions> options,
    OperatorToken token,
    OperatorConsole console,
    KillSwitch killSwitch,
    RiskSentinel sentinel,
    DecisionJournal journal,
    AlertHub alerts,
    Database database,
    RunContext run,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    BrokerIdentity broker,
    TradeLedger ledger,
    LogTail logTail,
    ILogger<OperatorWindowService> logger) : IHostedService, IAsyncDisposable
{
    private readonly byte[]? _token = token.Value is { Length: > 0 } t ? Encoding.UTF8.GetBytes(t) : null;
    private WebApplication? _app;

    /// <summary>The address it listens on (with the real port when the configuration asked for port 0); null when not running.</summary>
    public Uri? Address { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled || run.Mode != RunMode.Service)
        {
            return;
        }

        if (_token is null)
        {
            alerts.Fallback("operator window", $"no {OperatorOptions.TokenVariable} in the environment: POST /api/kill and /api/resume refuse every request (the CLI and the kill file still work)");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "MetalSniper.Operator" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(options.Value.Url);
        // DNS rebinding: a page on another site whose name resolves to 127.0.0.1 reaches this port with its own Host header. Only
        // the window's own names are served (400 otherwise), besides the bearer token on what changes state.
        var allowedHosts = options.Value.AllowedHostNames();
        builder.Services.AddHostFiltering(o =>
        {
            o.AllowedHosts = allowedHosts;
            o.AllowEmptyHosts = false;
            o.IncludeFailureMessage = false;
        });
        var app = builder.Build();
        app.UseHostFiltering();
        Map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        Address = new Uri(app.Urls.First());
        logger.LogInformation("Operator window on {Url} ({Mode}); kill/resume over HTTP {Guarded}", Address, console.Mode, _token is null ? "DISABLED (no token)" : "need the bearer token");
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/health/live", () => Results.Json(new { status = "live", at = clock.GetUtcNow() }));
        app.MapGet("/health/ready", () =>
        {
            var components = Components();
            var started = lifetime.ApplicationStarted.IsCancellationRequested;
            var ready = started && components.All(c => c.Ok);
            var reasons = components.Where(c => !c.Ok).Select(c => $"{c.Name}: {c.Detail}").Prepend(started ? null : "host: not started yet").OfType<string>().ToList();
            // The phone does not gate readiness (the system can act without it): an unhealthy Telegram shows as degraded.
            var telegram = console.TelegramHealth();
            string[] degraded = telegram.Healthy ? [] : ["telegram: " + (telegram.LastError ?? "not delivering")];
            return Results.Json(new { ready, broker = console.Mode, connection = broker.Connection(), reasons, degraded, telegram, components }, statusCode: ready ? 200 : 503);
        });
        app.MapGet("/api/status", () => Results.Json(Status(clock.GetUtcNow())));
        app.MapGet("/api/positions", () => Results.Json(Positions()));
        app.MapGet("/api/trades", (int? limit) => Results.Json(Trades(ledger.Read(run.RunId), limit ?? 50)));
        app.MapGet("/api/daily", (int? days) => Results.Json(Daily(ledger.Read(run.RunId), days ?? 30)));
        app.MapGet("/api/stats", () => Results.Json(Stats(ledger.Read(run.RunId))));
        app.MapGet("/api/log", async (int? lines, CancellationToken ct) => Results.Json(await logTail.ReadAsync(lines ?? 100, ct).ConfigureAwait(false)));
        app.MapGet("/api/dashboard", async (CancellationToken ct) => Results.Json(await DashboardAsync(ct).ConfigureAwait(false)));
        app.MapGet("/api/orders", (int? limit) => Results.Json(Query(OrdersSql, limit)));
        app.MapGet("/api/decisions", (int? limit) => Results.Json(Query(DecisionsSql, limit)));
        app.MapGet("/api/journal", (int? tail) => Results.Json(journal.Tail(Math.Clamp(tail ?? 50, 1, 1000))));
        app.MapGet("/api/alerts", (int? limit) => Results.Json(alerts.Recent(Math.Clamp(limit ?? 50, 1, 500)).Select(a => new { level = a.Level.ToString(), a.Kind, a.Text, a.AtUtc })));
        app.MapGet("/api/equity", () => Results.Json(run.Equity.Points().Select(p => new { t = p.TimeUtc, equity = p.Equity })));
        app.MapPost("/api/kill", async (HttpRequest request) =>
        {
            if (Refuse(request) is { } refusal)
            {
                return refusal;
            }

            var body = await request.ReadFromJsonAsync<KillRequest>(request.HttpContext.RequestAborted).ConfigureAwait(false);
            if (body is null)
            {
                return Results.BadRequest(new { error = "body must be {\"level\":1|2,\"reason\":\"...\"}" });
            }

            var reply = console.Kill(body.Level, body.Reason ?? "", "operator:http");
            return reply.Ok ? Results.Json(new { reply.Text, state = Status(clock.GetUtcNow()) }) : Results.BadRequest(new { error = reply.Text });
        });
        app.MapPost("/api/resume", async (HttpRequest request) =>
        {
            if (Refuse(request) is { } refusal)
            {
                return refusal;
            }

            var body = await request.ReadFromJsonAsync<ResumeRequest>(request.HttpContext.RequestAborted).ConfigureAwait(false);
            var reply = console.Resume(body?.Confirm, body?.Reason ?? "", "operator:http");
            return reply.Ok ? Results.Json(new { reply.Text, killSwitch.State.ConfirmationCode, state = Status(clock.GetUtcNow()) }) : Results.Json(new { error = reply.Text }, statusCode: 409);
        });
        app.MapGet("/", () => Results.Content(Dashboard.Value, "text/html; charset=utf-8"));
    }

    /// <summary>401 without a valid bearer token; 503 when no token is configured (kill/resume over HTTP disabled).</summary>
    private IResult? Refuse(HttpRequest request)
    {
        if (_token is null)
        {
            return Results.Json(new { error = $"kill/resume over HTTP is disabled: no {OperatorOptions.TokenVariable} configured" }, statusCode: 503);
        }

        var header = request.Headers.Authorization.ToString();
        var given = header.StartsWith("Bearer ", StringComparison.Ordinal) ? Encoding.UTF8.GetBytes(header[7..].Trim()) : [];
        if (CryptographicOperations.FixedTimeEquals(given, _token))
        {
            return null;
        }

        logger.LogWarning("Operator window refused {Method} {Path} from {Remote}: missing or wrong bearer token", request.Method, request.Path, request.HttpContext.Connection.RemoteIpAddress);
        return Results.Json(new { error = "missing or wrong bearer token" }, statusCode: 401);
    }

    private object Status(DateTimeOffset now)
    {
        var state = killSwitch.State;
        var level = state.Level(now);
        var (_, equity, maxDd) = run.Trades.Snapshot();
        return new
        {
            mode = console.Mode,
            currency = console.BaseCurrency,
            runId = run.RunId,
            marketTimeUtc = now,
            killLevel = $"L{(int)level}",
            killReason = state.Describe(now),
            latchedLevel = $"L{(int)state.LatchedLevel}",
            pauses = state.Pauses.Values.Where(p => p.IsActive(now)).Select(p => new { p.Key, level = $"L{(int)p.Level}", p.UntilUtc, p.Reason }),
            connection = broker.Connection(),
            judges = services.GetService<JudgeStatus>() is { } judges ? new { inUse = judges.InUse, refused = judges.Refused } : null,
            pairs = Pairs(),
            dayPnl = sentinel.DayPnl,
            equityPnl = equity,
            maxDrawdown = maxDd,
            bars = run.BarsProcessed,
            decisions = run.Decisions,
            ordersSent = run.OrdersSent,
            ordersDenied = run.OrdersDenied,
            fills = run.Fills,
            journal = new { committed = journal.CommittedSequence, fault = journal.Fault?.Message },
            alerts = new { raised = alerts.Raised, deliveryErrors = alerts.DeliveryErrors, telegram = services.GetService<TelegramNotifier>()?.Status() },
            // The phone's health: enabled, healthy, queued, dropped, lastSentUtc, lastError (the dashboard's Telegram panel).
            telegram = console.TelegramHealth(),
            faults = run.Faults.Select(f => $"{f.Service}: {f.Error.Message}"),
            // Shadow mode only (null otherwise): the simulated fills against the live quotes they were priced from.
            shadow = services.GetService<ShadowFills>()?.Summary() is { } shadow ? new { summary = shadow.Describe(), shadow.Fills, shadow.Quoted, shadow.Unquoted, shadow.MeanBps, shadow.MaxBps, shadow.Symbols } : null,
        };
    }

    private const string OrdersSql = """
        SELECT client_order_id AS clientOrderId, symbol, side, quantity, order_type AS type, purpose, status, limit_price AS limitPrice,
               stop_price AS stopPrice, status_reason AS reason, decision_utc AS decisionUtc FROM orders WHERE run_id=@run ORDER BY rowid DESC LIMIT @limit
        """;

    private const string DecisionsSql = """
        SELECT decision_id AS decisionId, source, symbol, kind, outcome, reason, event_utc AS eventUtc FROM decisions WHERE run_id=@run ORDER BY rowid DESC LIMIT @limit
        """;

    /// <summary>
    /// Every panel of the dashboard read at one instant: the market clock is read once (<c>asOfUtc</c>) and every part below is
    /// read after it, so one poll refreshes all panels together.
    /// </summary>
    private async Task<object> DashboardAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        // A part that cannot be read is named on the page and logged; the other panels still refresh (one bad row must not blank the window at 3 am).
        TradeLedgerSnapshot ledgerSnapshot;
        string? ledgerError = null;
        try
        {
            ledgerSnapshot = ledger.Read(run.RunId);
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or ArgumentException or KeyNotFoundException or FormatException or InvalidOperationException)
        {
            logger.LogWarning(e, "Operator window: the closed trades of run {RunId} cannot be rebuilt from the database", run.RunId);
            ledgerSnapshot = new TradeLedgerSnapshot(console.BaseCurrency, [], TradeFigures.From([]), [], 0);
            ledgerError = e.Message;
        }

        LogTailResult log;
        try
        {
            log = await logTail.ReadAsync(40, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(e, "Operator window: the log file cannot be read");
            log = new LogTailResult(null, [], "the log file cannot be read: " + e.Message);
        }

        return new
        {
            asOfUtc = now,
            ledgerError,
            status = Status(now),
            positions = Positions(),
            orders = Query(OrdersSql, 15),
            decisions = Query(DecisionsSql, 15),
            alerts = alerts.Recent(15).Select(a => new { level = a.Level.ToString(), a.Kind, a.Text, a.AtUtc }),
            equity = run.Equity.Points().Select(p => new { t = p.TimeUtc, equity = p.Equity }),
            trades = Trades(ledgerSnapshot, 20),
            daily = Daily(ledgerSnapshot, 30),
            stats = Stats(ledgerSnapshot),
            log,
        };
    }

    /// <summary>
    /// The open positions, each with its stops: this run's working orders on the symbol that carry a stop price and would reduce
    /// the position (buy stops of a short, sell stops of a long) — protective stops, and a hedged strategy's surviving leg stop.
    /// </summary>
    private IEnumerable<object> Positions()
    {
        using var c = database.OpenConnection();
        var stops = c.Query<(string Symbol, string Side, string Quantity, string StopPrice, string Purpose)>("""
            SELECT symbol, side, quantity, stop_price, purpose FROM orders
            WHERE run_id=@run AND stop_price IS NOT NULL AND status IN ('PendingSubmit','Working','PartiallyFilled') ORDER BY rowid
            """, new { run = run.RunId }).ToLookup(s => s.Symbol, StringComparer.Ordinal);
        return console.Positions().Select(p => new
        {
            p.Symbol, p.Quantity, p.AveragePrice, p.Currency, p.Mark, UnrealizedGross = p.Unrealized, p.RealizedNet,
            stops = stops[p.Symbol].Where(s => s.Side == (p.Quantity > 0 ? "Sell" : "Buy")).Select(s => new
            {
                side = s.Side,
                quantity = decimal.Parse(s.Quantity, NumberStyles.Number, CultureInfo.InvariantCulture),
                stopPrice = decimal.Parse(s.StopPrice, NumberStyles.Number | NumberStyles.AllowExponent, CultureInfo.InvariantCulture),
                purpose = s.Purpose,
            }).ToList(),
        }).ToList();
    }

    /// <summary>The latest <paramref name="limit"/> closed trades, newest first.</summary>
    private static IEnumerable<ClosedTradeRow> Trades(TradeLedgerSnapshot s, int limit) => s.Trades.Reverse().Take(Math.Clamp(limit, 1, 1000)).ToList();

    /// <summary>Closed-trade P&amp;L of the last <paramref name="days"/> UTC days that had a close, oldest first, base currency.</summary>
    private static object Daily(TradeLedgerSnapshot s, int days) => new
    {
        currency = s.Currency,
        basis = "closed trades per UTC day of close; gross = before commissions and carry, net = gross - commissions - carry",
        days = s.Daily.Skip(Math.Max(0, s.Daily.Count - Math.Clamp(days, 1, 3650))).ToList(),
    };

    private object Stats(TradeLedgerSnapshot s)
    {
        var (_, equity, maxDd) = run.Trades.Snapshot();
        var curve = run.Equity.Points();
        var f = s.Figures;
        return new
        {
            currency = s.Currency,
            basis = "closed trades of this run rebuilt from the database (fills, orders, decisions); the replay summary's definitions",
            trades = f.Trades,
            winners = f.Winners,
            winRate = f.WinRate,
            grossPnl = f.GrossPnl,
            commissions = f.Commissions,
            carry = f.Carry,
            netPnl = f.NetPnl,
            netBasis = "netPnl = grossPnl - commissions - carry (borrow fees and storage)",
            profitFactor = f.ProfitFactor,
            profitFactorBasis = "sum of winning net P&L / |sum of losing net P&L|; null without a losing trade",
            sharpe = TradeFigures.DailySharpe(curve),
            sharpeBasis = string.Create(CultureInfo.InvariantCulture, $"daily changes of the equity P&L (net, incl. open) over the {curve.Count} hourly marks the window keeps, annualized (sqrt 252)"),
            equityPnl = equity,
            maxDrawdown = maxDd,
            unconverted = s.Unconverted,
        };
    }

    /// <summary>The pairs of the dual-listing strategy with each leg's position and the latest decision on them; null when the host exposes no pairs state.</summary>
    private object? Pairs()
    {
        if (services.GetService<PairsStatus>() is not { } status)
        {
            return null;
        }

        if (!status.Running)
        {
            return new { running = false, pairs = Array.Empty<object>() };
        }

        var book = console.Positions().ToDictionary(p => p.Symbol, p => p.Quantity, StringComparer.Ordinal);
        using var c = database.OpenConnection();
        return new
        {
            running = true,
            pairs = status.Pairs.Select(p => new
            {
                p.Name,
                p.Company,
                legs = new[] { p.A, p.B }.Select(leg => new { symbol = leg, quantity = book.GetValueOrDefault(leg) }),
                lastDecision = c.QueryFirstOrDefault("""
                    SELECT kind, outcome, reason, event_utc AS eventUtc FROM decisions WHERE run_id=@run AND symbol IN (@a, @b, @label) ORDER BY rowid DESC LIMIT 1
                    """, new { run = run.RunId, a = p.A, b = p.B, label = $"{p.A}/{p.B}" }),
            }).ToList(),
        };
    }

    private List<Component> Components() =>
    [
        new("journal", journal.Fault is null, journal.Fault?.Message ?? $"committed {journal.CommittedSequence}"),
        new("sentinel", sentinel.Fault is null && sentinel.StoreFault is null, sentinel.Fault?.Message ?? sentinel.StoreFault?.Message ?? $"{sentinel.Sweeps} sweeps"),
        KillSwitchComponent(),
        .. broker.Readiness().Select(c => new Component(c.Name, c.Ok, c.Detail)),
        new("services", run.Faults.Count == 0, run.Faults.Count == 0 ? "no faults" : string.Join("; ", run.Faults.Select(f => $"{f.Service}: {f.Error.Message}"))),
        .. services.GetRequiredService<Supervisor>().States.Select(kv => new Component(kv.Key, kv.Value is ComponentState.Ready or ComponentState.Stopped, kv.Value.ToString())),
    ];

    /// <summary>L2 (flatten) refuses every order that is not a risk exit: the system cannot act, so it is not ready.</summary>
    private Component KillSwitchComponent()
    {
        var now = clock.GetUtcNow();
        var level = killSwitch.Level(now);
        return level >= KillLevel.Flatten
            ? new Component("kill-switch", false, $"L{(int)level}: orders refused (flatten only): {killSwitch.State.Describe(now)}")
            : new Component("kill-switch", true, $"L{(int)level}");
    }

    private IEnumerable<dynamic> Query(string sql, int? limit)
    {
        using var c = database.OpenConnection();
        return c.Query(sql, new { run = run.RunId, limit = Math.Clamp(limit ?? 50, 1, 1000) }).ToList();
    }

    private static readonly Lazy<string> Dashboard = new(() =>
    {
        using var stream = typeof(OperatorWindowService).Assembly.GetManifestResourceStream("MetalSniper.Operator.Window.dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is not embedded in the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    });

    private sealed record Component(string Name, bool Ok, string Detail);

    private sealed record KillRequest(int Level, string? Reason);

    private sealed record ResumeRequest(string? Reason, string? Confirm);
}

/// <summary>The bearer token of the operator window's POST endpoints (from <see cref="OperatorOptions.TokenVariable"/>; null: disabled). Never logged.</summary>
/// <param name="Value">The token.</param>
public sealed record OperatorToken(string? Value)
{
    /// <summary>Reads the token from the environment.</summary>
    public static OperatorToken FromEnvironment() => new(Environment.GetEnvironmentVariable(OperatorOptions.TokenVariable));

    /// <inheritdoc />
    public override string ToString() => Value is null ? "OperatorToken(none)" : "OperatorToken(***)";
}
