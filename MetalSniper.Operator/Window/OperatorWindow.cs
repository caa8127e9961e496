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

namespace MetalSniper.Operator.Window;

/// <summary>
/// The operator window (ASP.NET Core from the shared framework, loopback by default): <c>/health/live</c>,
/// <c>/health/ready</c> (ready once every service started, the journal is healthy, no service faulted, the kill switch
/// is below L2 and the broker can act — its link fully up and its reconciliation done; else 503 with the reasons; an
/// unhealthy Telegram is listed under <c>degraded</c> and in <c>telegram</c> without failing readiness), JSON APIs (<c>/api/status</c>, <c>/api/positions</c>, <c>/api/orders</c>,
/// <c>/api/decisions</c>, <c>/api/journal</c>, <c>/api/alerts</c>, <c>/api/equity</c>), <c>POST /api/kill</c>
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
        var app = builder.Build();
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
        app.MapGet("/api/status", () => Results.Json(Status()));
        app.MapGet("/api/positions", () => Results.Json(console.Positions()));
        app.MapGet("/api/orders", (int? limit) => Results.Json(Query("""
            SELECT client_order_id AS clientOrderId, symbol, side, quantity, order_type AS type, purpose, status, limit_price AS limitPrice,
                   stop_price AS stopPrice, status_reason AS reason, decision_utc AS decisionUtc FROM orders WHERE run_id=@run ORDER BY rowid DESC LIMIT @limit
            """, limit)));
        app.MapGet("/api/decisions", (int? limit) => Results.Json(Query("""
            SELECT decision_id AS decisionId, source, symbol, kind, outcome, reason, event_utc AS eventUtc FROM decisions WHERE run_id=@run ORDER BY rowid DESC LIMIT @limit
            """, limit)));
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
            return reply.Ok ? Results.Json(new { reply.Text, state = Status() }) : Results.BadRequest(new { error = reply.Text });
        });
        app.MapPost("/api/resume", async (HttpRequest request) =>
        {
            if (Refuse(request) is { } refusal)
            {
                return refusal;
            }

            var body = await request.ReadFromJsonAsync<ResumeRequest>(request.HttpContext.RequestAborted).ConfigureAwait(false);
            var reply = console.Resume(body?.Confirm, body?.Reason ?? "", "operator:http");
            return reply.Ok ? Results.Json(new { reply.Text, killSwitch.State.ConfirmationCode, state = Status() }) : Results.Json(new { error = reply.Text }, statusCode: 409);
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

    private object Status()
    {
        var now = clock.GetUtcNow();
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
