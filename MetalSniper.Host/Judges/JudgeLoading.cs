using System.Globalization;
using MetalSniper.Core.Alerts;
using MetalSniper.Features;
using MetalSniper.Judges.Registry;
using MetalSniper.Judges.Verdicts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace MetalSniper.Host;

/// <summary>
/// Builds the brain's judge panel from the <c>Judges</c> section: each judge that is on (Shadow or Active) is loaded from
/// the model registry through <see cref="ModelRegistry.Load"/>, which re-checks parity (model hash, feature schema and
/// feature-code hash, the reference rows through the managed tree walk and the native library). A refused model is never
/// replaced by a default: that judge is off, a RED alert is raised (journaled, on the dashboard and Telegram), and the
/// refusal is listed in <see cref="JudgePanel.Refused"/>.
/// </summary>
public static class JudgeLoading
{
    /// <summary>The panel for these options.</summary>
    /// <param name="options">The Judges section.</param>
    /// <param name="alerts">Where a refusal is raised (RED).</param>
    /// <param name="time">Clock of the registry.</param>
    /// <param name="logger">Log.</param>
    public static JudgePanel CreatePanel(JudgesOptions options, IAlertSink alerts, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(alerts);
        ArgumentNullException.ThrowIfNull(logger);
        var slots = new[] { (Kind: JudgeKind.Entry, Slot: options.Entry), (Kind: JudgeKind.Exit, Slot: options.Exit), (Kind: JudgeKind.Add, Slot: options.Add) };
        if (slots.All(s => s.Slot.Mode == JudgeMode.Off && s.Slot.Candidate is null))
        {
            return new JudgePanel(options, null, null, null); // no judge: no registry is touched (nor created) at start
        }

        var refused = new List<string>();
        var registry = new ModelRegistry(Path.GetFullPath(options.Registry), time);
        IJudgeModel? Load(JudgeKind kind, JudgeSlotOptions slot, bool candidate = false)
        {
            if (candidate ? slot.Candidate is null : slot.Mode == JudgeMode.Off)
            {
                return null;
            }

            var wanted = candidate ? slot.Candidate! : slot.Version;
            var mode = candidate ? "Shadow candidate" : slot.Mode.ToString();
            try
            {
                var version = ResolveVersion(registry, kind, wanted);
                var model = new RegisteredJudge(registry.Load(kind, version, FeatureBuilder.Names, FeatureBuilder.CodeHash));
                logger.LogInformation("Judge {Judge} {Version} loaded ({Mode}): model {ModelHash}, parity passed", kind, model.Version, mode, model.ModelHash);
                return model;
            }
            catch (Exception e) when (e is ModelRefusedException or ModelNotFoundException or IOException or System.Text.Json.JsonException)
            {
                var rule = e is ModelRefusedException r ? r.Rule : "model-missing";
                var text = $"the {kind} judge ({mode}, version {wanted}) is OFF: its model was refused by rule '{rule}': {e.Message}";
                refused.Add(text);
                logger.LogError(e, "Judge {Judge} refused by rule {Rule}: judge off", kind, rule);
                alerts.Raise(new Alert(AlertLevel.Red, "Judges", text, time.GetUtcNow()));
                return null;
            }
        }

        var entry = Load(JudgeKind.Entry, options.Entry);
        var exit = Load(JudgeKind.Exit, options.Exit);
        var add = Load(JudgeKind.Add, options.Add);
        var candidates = new Dictionary<JudgeKind, IJudgeModel>();
        foreach (var (kind, slot) in slots)
        {
            if (Load(kind, slot, candidate: true) is { } c)
            {
                candidates[kind] = c;
            }
        }

        var effective = options.WithSlotsOff(entry is null, exit is null, add is null);
        return new JudgePanel(effective, entry, exit, add) { Refused = refused, Candidates = candidates };
    }

    /// <summary>
    /// Every judge that is on (Shadow, Active, or a Shadow candidate) is loaded from the registry exactly as the service will
    /// load it (<see cref="JudgeLoading.CreatePanel"/>: model hash, feature schema and code hash, the reference rows through the
    /// managed walk and the native library). A refused model fails the preflight (65), so the service does not start with a
    /// judge silently off; a check that cannot run (the registry unreadable, the native library missing) fails too (74 / 70).
    /// With every judge off there is nothing to check, and the line says so. Given to <see cref="Supervision.Preflight.Run"/>.
    /// </summary>
    /// <param name="configuration">The validated configuration.</param>
    /// <param name="wallClock">The registry's clock.</param>
    public static Supervision.PreflightCheck ModelParityCheck(IConfiguration configuration, TimeProvider wallClock)
    {
        var options = configuration.GetSection(MetalSniper.Judges.Verdicts.JudgesOptions.SectionName).Get<MetalSniper.Judges.Verdicts.JudgesOptions>() ?? new();
        var slots = new[] { options.Entry, options.Exit, options.Add };
        var on = slots.Count(s => s.Mode != MetalSniper.Judges.Verdicts.JudgeMode.Off) + slots.Count(s => s.Candidate is not null);
        if (on == 0)
        {
            return new Supervision.PreflightCheck("model parity", true, "no judge on (every Judges slot Off): nothing to check", 0);
        }

        try
        {
            var panel = JudgeLoading.CreatePanel(options, new DiscardedAlerts(), wallClock, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            return panel.Refused.Count > 0
                ? new Supervision.PreflightCheck("model parity", false, string.Join("; ", panel.Refused), Supervision.ExitCodes.DataError)
                : new Supervision.PreflightCheck("model parity", true, string.Create(CultureInfo.InvariantCulture, $"{on} judge model(s) loaded from {options.Registry}, parity passed"), 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Supervision.PreflightCheck("model parity", false, $"cannot run: the model registry {options.Registry} is unreadable: {e.Message}", Supervision.ExitCodes.IoError);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or InvalidOperationException)
        {
            return new Supervision.PreflightCheck("model parity", false, $"cannot run: {e.GetType().Name}: {e.Message}", Supervision.ExitCodes.Software);
        }
    }

    /// <summary>The preflight reports refusals in its own line (the service raises its alerts when it loads the judges itself).</summary>
    private sealed class DiscardedAlerts : Core.Alerts.IAlertSink
    {
        public void Raise(Core.Alerts.Alert alert)
        {
        }
    }

    private static int ResolveVersion(ModelRegistry registry, JudgeKind kind, string version)
    {
        if (string.Equals(version, "promoted", StringComparison.OrdinalIgnoreCase))
        {
            return JudgePromotion.Read(registry, kind)?.Version ?? throw new ModelNotFoundException($"no {ModelRegistry.JudgeName(kind)} version was promoted in {registry.Root}: run 'metalsniper judges promote'");
        }

        if (string.Equals(version, "latest", StringComparison.OrdinalIgnoreCase))
        {
            return registry.Latest(kind) ?? throw new ModelNotFoundException($"the registry {registry.Root} has no {ModelRegistry.JudgeName(kind)} model: run 'metalsniper train --judge {ModelRegistry.JudgeName(kind)}'");
        }

        var text = version.StartsWith('v') || version.StartsWith('V') ? version[1..] : version;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
            ? v
            : throw new ModelNotFoundException($"Judges: version '{version}' is not 'latest', 'promoted', 'vN' or N");
    }
}

/// <summary>A configured judge model that is not in the registry.</summary>
public sealed class ModelNotFoundException(string message) : Exception(message);
