using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MetalSniper.Host.Supervision;
using MetalSniper.Operator;

namespace MetalSniper.Host.Cli;

/// <summary>
/// <c>metalsniper status</c>: asks the running service's operator window (<c>Operator:Url</c>, or <c>--url</c>) for
/// <c>/health/ready</c> and <c>/api/status</c> and prints them as a few lines — readiness and why not, kill level, broker
/// connection, P&amp;L, counters, and the phone's health (Telegram). Exit 0 when the service answered (ready or not),
/// 69 when nothing answers at that address, 78 on a bad configuration.
/// </summary>
internal static class StatusCommand
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Runs the command.</summary>
    /// <param name="settings">Where the configuration is (for <c>Operator:Url</c>).</param>
    /// <param name="url">The operator window's address; null: <c>Operator:Url</c>.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    public static async Task<int> RunAsync(HostSettings settings, string? url, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (url is null)
        {
            var code = Commands.LoadValidated(settings, error, out var configuration);
            if (code != ExitCodes.Ok)
            {
                return code;
            }

            url = (configuration!.GetSection(OperatorOptions.SectionName).Get<OperatorOptions>() ?? new OperatorOptions()).Url;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var address) || address.Scheme != Uri.UriSchemeHttp)
        {
            error.WriteLine($"--url '{url}' is not an absolute http:// URL");
            return ExitCodes.Usage;
        }

        using var http = new HttpClient { BaseAddress = address, Timeout = Timeout };
        JsonElement ready;
        JsonElement status;
        try
        {
            // 503 is an answer too (not ready, with the reasons).
            using (var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative), cancellationToken).ConfigureAwait(false))
            {
                ready = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken).ConfigureAwait(false);
            }

            status = await http.GetFromJsonAsync<JsonElement>(new Uri("/api/status", UriKind.Relative), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
        {
            error.WriteLine($"the service's operator window at {address} does not answer ({e.GetType().Name}: {e.Message}); is 'metalsniper run' up, and Operator:Enabled?");
            return Preflight.UnavailableExitCode;
        }

        output.WriteLine(Render(ready, status));
        return ExitCodes.Ok;
    }

    /// <summary>The lines printed for a <c>/health/ready</c> and an <c>/api/status</c> answer.</summary>
    internal static string Render(JsonElement ready, JsonElement status)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"MetalSniper {Text(status, "mode")}, run {Text(status, "runId")}\n");
        var isReady = ready.TryGetProperty("ready", out var r) && r.ValueKind == JsonValueKind.True;
        sb.Append(isReady ? "ready: yes" : "ready: NO");
        if (!isReady && ready.TryGetProperty("reasons", out var reasons) && reasons.ValueKind == JsonValueKind.Array)
        {
            sb.Append(" — ").AppendJoin("; ", reasons.EnumerateArray().Select(x => x.GetString()));
        }

        if (ready.TryGetProperty("degraded", out var degraded) && degraded.ValueKind == JsonValueKind.Array && degraded.GetArrayLength() > 0)
        {
            sb.Append("; degraded: ").AppendJoin("; ", degraded.EnumerateArray().Select(x => x.GetString()));
        }

        sb.Append('\n');
        var killReason = Text(status, "killReason");
        sb.Append(inv, $"kill level {Text(status, "killLevel")}{(killReason.Length > 0 ? ": " + killReason : "")}\n");
        sb.Append(inv, $"connection: {Text(status, "connection")}\n");
        var currency = Text(status, "currency");
        sb.Append(inv, $"day P&L {Money(status, "dayPnl")} {currency}; equity P&L {Money(status, "equityPnl")} {currency}; max drawdown {Money(status, "maxDrawdown")} {currency}\n");
        sb.Append(inv, $"bars {Number(status, "bars")}, decisions {Number(status, "decisions")}, orders {Number(status, "ordersSent")} (denied {Number(status, "ordersDenied")}), fills {Number(status, "fills")}\n");
        var telegram = status.TryGetProperty("telegram", out var t) && t.ValueKind == JsonValueKind.Object
            ? t.Deserialize<TelegramHealth>(JsonSerializerOptions.Web)
            : null;
        sb.Append(telegram?.Describe() ?? "telegram: unknown (not in the service's answer)");
        return sb.ToString();
    }

    private static string Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString() ?? "",
            JsonValueKind.Null => "?",
            _ => v.GetRawText(),
        } : "?";

    private static string Money(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDecimal().ToString("+#,##0.00;-#,##0.00;0.00", CultureInfo.InvariantCulture) : "unknown";

    private static string Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64().ToString("N0", CultureInfo.InvariantCulture) : "?";
}
