using System.CommandLine;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using MetalSniper.Core.Alerts;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Host.Supervision;
using MetalSniper.Operator.Telegram;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetalSniper.Host.Cli;

/// <summary>
/// <c>alert</c>: sends one alert to the operator's Telegram chat from outside the service, with the service's own sender
/// (<see cref="TelegramNotifier"/>: its rate, retries and backoff, and the token from <c>TELEGRAM_BOT_TOKEN</c>). Its first
/// user is systemd: the unit's <c>OnFailure=</c> starts <c>metalsniper-alert@metalsniper.service</c>, which runs
/// <c>alert --level Red</c> when the service failed for good (or, on systemd 254 and later, each time it failed before a
/// restart). systemd's <c>MONITOR_*</c> variables (the failed unit, its result, exit code and status) are added to the text.
/// </summary>
/// <remarks>
/// Only the configuration's <c>Telegram</c> section is read and validated: a broken configuration elsewhere (perhaps the very
/// reason the service failed) must not stop the alert. Exit codes: 0 sent, or written to standard output because Telegram is
/// not configured (as the service does with its alerts); 69 (EX_UNAVAILABLE) when Telegram did not take it within
/// <c>--timeout</c>; 78 when the Telegram section or the configuration file is unusable; 64 for a bad command line.
/// </remarks>
public static class AlertCommand
{
    /// <summary>The systemd variables an <c>OnFailure=</c> unit's command gets (systemd ≥ 251), in the order they are shown.</summary>
    private static readonly string[] MonitorVariables = ["MONITOR_SERVICE_RESULT", "MONITOR_EXIT_CODE", "MONITOR_EXIT_STATUS", "MONITOR_INVOCATION_ID"];

    /// <summary>Builds the <c>alert</c> command.</summary>
    /// <param name="config">The shared <c>--config</c> option.</param>
    /// <param name="output">Where the outcome is written.</param>
    /// <param name="error">Where failures are written.</param>
    public static Command Build(Option<string?> config, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(config);
        var level = new Option<string>("--level") { Description = "Info, Yellow or Red (default Red)", DefaultValueFactory = _ => "Red" };
        level.AcceptOnlyFromAmong("Info", "Yellow", "Red", "info", "yellow", "red", "INFO", "YELLOW", "RED");
        var source = new Option<string>("--source") { Description = "The alert's kind, as the service's alerts have one (default Operator)", DefaultValueFactory = _ => "Operator" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for Telegram to take the alert, retries included (default 60)", DefaultValueFactory = _ => 60 };
        var text = new Argument<string[]>("text") { Description = "The alert's text (the words are joined by spaces)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("alert", "Send one alert to the operator's Telegram chat (what systemd's OnFailure= unit runs); systemd's MONITOR_* variables are added to the text")
        {
            config, level, source, timeout, text,
        };
        command.SetAction((p, ct) => RunAsync(p.GetValue(config), Enum.Parse<AlertLevel>(p.GetValue(level)!, ignoreCase: true), p.GetValue(source)!, p.GetValue(timeout),
            string.Join(' ', p.GetValue(text)!), output, error, ct));
        return command;
    }

    /// <summary>The alert's text: the given words, the machine, and what systemd says about the failed unit when it says anything.</summary>
    public static string Compose(string text, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var parts = MonitorVariables.Select(v => (Name: v["MONITOR_".Length..].ToLowerInvariant().Replace('_', ' '), Value: environment(v)))
            .Where(x => !string.IsNullOrWhiteSpace(x.Value)).Select(x => $"{x.Name} {x.Value}").ToList();
        var unit = environment("MONITOR_UNIT");
        var systemd = parts.Count == 0 && string.IsNullOrWhiteSpace(unit) ? "" : $" (systemd: {(string.IsNullOrWhiteSpace(unit) ? "" : "unit " + unit + (parts.Count > 0 ? ", " : ""))}{string.Join(", ", parts)})";
        return $"[{Environment.MachineName}] {text}{systemd}";
    }

    private static async Task<int> RunAsync(string? configPath, AlertLevel level, string source, int timeoutSeconds, string text, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (timeoutSeconds is < 1 or > 3600)
        {
            error.WriteLine("error: --timeout must be 1-3600 seconds");
            return ExitCodes.Usage;
        }

        TelegramOptions options;
        try
        {
            var configuration = Composition.LoadConfiguration(new HostSettings(configPath, RunMode.Service, null));
            options = configuration.GetSection(TelegramOptions.SectionName).Get<TelegramOptions>() ?? new TelegramOptions();
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or InvalidOperationException)
        {
            error.WriteLine($"configuration error: {e.Message}; the alert was not sent: {level} {source}: {text}");
            return ExitCodes.Config;
        }

        var problems = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), problems, validateAllProperties: true))
        {
            error.WriteLine($"configuration error in {TelegramOptions.SectionName}: {string.Join("; ", problems.Select(r => r.ErrorMessage))}; the alert was not sent: {level} {source}: {text}");
            return ExitCodes.Config;
        }

        var clock = new WallClock(TimeProvider.System);
        var alert = new Alert(level, source, Compose(text, Environment.GetEnvironmentVariable), clock.Provider.GetUtcNow());
        using var api = new TelegramBotConnection(options, TelegramOptions.TokenFromEnvironment(), clock);
        var notifier = new TelegramNotifier(api, clock, NullLogger<TelegramNotifier>.Instance);
        await using (notifier.ConfigureAwait(false))
        {
            if (!notifier.ToTelegram)
            {
                // As the service does with its alerts when Telegram is off: the text goes where the operator reads the logs (the journal).
                output.WriteLine($"ALERT {alert.Level} {alert.Kind}: {alert.Text}");
                output.WriteLine($"(not sent to Telegram: {api.NotConfiguredReason})");
                return ExitCodes.Ok;
            }

            if (alert.Level < options.MinimumLevel)
            {
                output.WriteLine($"ALERT {alert.Level} {alert.Kind}: {alert.Text}");
                output.WriteLine($"(not sent to Telegram: below {TelegramOptions.SectionName}:MinimumLevel {options.MinimumLevel})");
                return ExitCodes.Ok;
            }

            await notifier.StartAsync(ct).ConfigureAwait(false);
            notifier.Raise(alert);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
            await notifier.StopAsync(deadline.Token).ConfigureAwait(false);
            if (notifier.Sent > 0)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sent to Telegram chat {options.ChatId}: {alert.Level} {alert.Kind}: {alert.Text}"));
                return ExitCodes.Ok;
            }

            error.WriteLine($"Telegram did not take the alert within {timeoutSeconds} s ({notifier.LastError ?? "no answer"}): {alert.Level} {alert.Kind}: {alert.Text}");
            return Preflight.UnavailableExitCode;
        }
    }
}
