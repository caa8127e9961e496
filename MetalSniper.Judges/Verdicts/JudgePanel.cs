using System.ComponentModel.DataAnnotations;
using System.Globalization;

using MetalSniper.Judges.Registry;

namespace MetalSniper.Judges.Verdicts;

/// <summary>What a judge may say. There is no verdict that opens, enlarges or holds a trade: a judge can only block or shorten.</summary>
public enum VerdictKind
{
    /// <summary>The strategy does what it decided.</summary>
    Allow,

    /// <summary>The entry or add is not taken (recorded as a Vetoed decision with the model hash and the features).</summary>
    Veto,

    /// <summary>The exit judge recommends closing now; the strategy exits through its normal path (every gate still applies).</summary>
    RecommendExit,
}

/// <summary>How a judge's verdicts are used.</summary>
public enum JudgeMode
{
    /// <summary>Not consulted.</summary>
    Off,

    /// <summary>Consulted and recorded on the decision row, never acted on (seed 002: shadow first).</summary>
    Shadow,

    /// <summary>Consulted and obeyed (veto, recommended exit, EV risk fraction).</summary>
    Active,
}

/// <summary>A loaded, parity-checked model as the panel uses it.</summary>
public interface IJudgeModel
{
    /// <summary>The judge it was trained for.</summary>
    JudgeKind Judge { get; }

    /// <summary>Registry version ("v3").</summary>
    string Version { get; }

    /// <summary>SHA-256 (hex) of the model file: goes into every judged decision.</summary>
    string ModelHash { get; }

    /// <summary>Reward:risk of the label on the training data (mean net R of winners / |mean net R of losers|): the RR of EV = p·RR − (1 − p).</summary>
    double RewardRisk { get; }

    /// <summary>Calibrated probability of the label's positive class for one feature row (schema order).</summary>
    double Probability(ReadOnlySpan<float> features);
}

/// <summary>
/// A judge's verdict. Veto-shaped by construction: <see cref="RiskFraction"/> lies in [0, 1] (sizing can only reduce risk
/// below what the strategy and the hard caps allow), an entry or add judge cannot recommend an exit, an exit judge
/// cannot veto, and nothing here names a quantity, a price or an order.
/// </summary>
public sealed record JudgeVerdict
{
    /// <summary>Creates a verdict.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside [0, 1], the probability outside [0, 1], or the kind is not one this judge may give.</exception>
    public JudgeVerdict(JudgeKind judge, VerdictKind kind, double probability, double? expectedValueR, decimal riskFraction, string modelVersion, string modelHash, JudgeMode mode)
    {
        if (riskFraction is < 0m or > 1m)
        {
            throw new ArgumentOutOfRangeException(nameof(riskFraction), riskFraction, "a judge can only reduce risk: the fraction must be in [0, 1]");
        }

        if (double.IsNaN(probability) || probability is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "a probability must be in [0, 1]");
        }

        if ((judge == JudgeKind.Exit && kind == VerdictKind.Veto) || (judge != JudgeKind.Exit && kind == VerdictKind.RecommendExit))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, $"the {judge} judge cannot give {kind}");
        }

        (Judge, Kind, Probability, ExpectedValueR, RiskFraction, ModelVersion, ModelHash, Mode) = (judge, kind, probability, expectedValueR, riskFraction, modelVersion, modelHash, mode);
    }

    /// <summary>Which judge.</summary>
    public JudgeKind Judge { get; }

    /// <summary>The verdict.</summary>
    public VerdictKind Kind { get; }

    /// <summary>Calibrated probability of the label's positive class.</summary>
    public double Probability { get; }

    /// <summary>EV in R = p·RR − (1 − p) (entry and add judges), or null.</summary>
    public double? ExpectedValueR { get; }

    /// <summary>Fraction of the strategy's risk to take, in [0, 1] (1 for an exit judge).</summary>
    public decimal RiskFraction { get; }

    /// <summary>Model version.</summary>
    public string ModelVersion { get; }

    /// <summary>SHA-256 of the model file.</summary>
    public string ModelHash { get; }

    /// <summary>Shadow (recorded only) or Active (obeyed).</summary>
    public JudgeMode Mode { get; }

    /// <summary>True when the strategy must obey it (the judge is Active); a Shadow verdict is only recorded.</summary>
    public bool Binding => Mode == JudgeMode.Active;

    /// <summary>The key prefix of a candidate's entries ("judge.entry.candidate.verdict" …).</summary>
    public const string CandidateRole = "candidate.";

    /// <summary>The entries a judged decision records ("judge.entry.verdict" …), so a veto or an allow can be audited later.</summary>
    /// <param name="role">"" for the slot's own model, <see cref="CandidateRole"/> for a candidate beside it.</param>
    public IEnumerable<KeyValuePair<string, string>> ToInputs(string role = "")
    {
        var p = "judge." + Judge.ToString().ToLowerInvariant() + "." + role;
        var ic = CultureInfo.InvariantCulture;
        yield return new(p + "verdict", Kind.ToString());
        yield return new(p + "mode", Mode.ToString());
        yield return new(p + "p", Probability.ToString("0.######", ic));
        if (ExpectedValueR is { } ev)
        {
            yield return new(p + "ev", ev.ToString("0.######", ic));
        }

        yield return new(p + "riskFraction", RiskFraction.ToString(ic));
        yield return new(p + "model", ModelVersion);
        yield return new(p + "modelHash", ModelHash);
    }

    /// <summary>A one-line description for a decision's reason.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Judge} judge {ModelVersion} ({ModelHash[..Math.Min(12, ModelHash.Length)]}, {Mode}): {Kind}, p {Probability:0.000}{(ExpectedValueR is { } ev ? $", EV {ev:0.000}R" : "")}, risk ×{RiskFraction}");
}

/// <summary>One EV tier: an EV at or above <see cref="MinExpectedValueR"/> takes <see cref="RiskFraction"/> of the base risk.</summary>
public sealed class EvTier
{
    /// <summary>Lower bound of the tier, in R (exclusive of the tier below).</summary>
    public double MinExpectedValueR { get; set; }

    /// <summary>Fraction of the base risk, in (0, 1].</summary>
    public decimal RiskFraction { get; set; } = 1m;
}

/// <summary>One judge's configuration.</summary>
public sealed class JudgeSlotOptions
{
    /// <summary>Off, Shadow or Active.</summary>
    public JudgeMode Mode { get; set; } = JudgeMode.Off;

    /// <summary>Model version in the registry ("v1" or "1"), or "latest".</summary>
    public string Version { get; set; } = "latest";

    /// <summary>
    /// A candidate version run beside this slot's model in shadow (seed 002): its verdicts are recorded on the same decisions
    /// ("judge.&lt;judge&gt;.candidate.*") and never obeyed; <c>judges report</c> compares the two, <c>judges promote</c> needs its
    /// record. Null: none.
    /// </summary>
    public string? Candidate { get; set; }

    /// <summary>Exit judge: recommend an exit when the probability that exiting now beats holding is at least this.</summary>
    public double ExitThreshold { get; set; } = 0.6;
}

/// <summary>The <c>Judges</c> configuration section.</summary>
public sealed class JudgesOptions : IValidatableObject
{
    /// <summary>Section name.</summary>
    public const string SectionName = "Judges";

    /// <summary>The model registry directory (<c>models/&lt;judge&gt;/&lt;version&gt;/</c>), relative to the working directory.</summary>
    public string Registry { get; set; } = "models";

    /// <summary>Judges give verdicts only on decisions at or after this time (UTC; null: always). Research: a judge trained up to a date, active from it.</summary>
    public DateTimeOffset? ActiveFromUtc { get; set; }

    /// <summary>Judges give verdicts only on decisions before this time (UTC; null: always).</summary>
    public DateTimeOffset? ActiveUntilUtc { get; set; }

    /// <summary>Record exit-review decisions (with features) for the exit judge's dataset even when no exit judge runs.</summary>
    public bool RecordExitReviews { get; set; }

    /// <summary>The entry judge.</summary>
    public JudgeSlotOptions Entry { get; set; } = new();

    /// <summary>The exit judge.</summary>
    public JudgeSlotOptions Exit { get; set; } = new();

    /// <summary>The add judge.</summary>
    public JudgeSlotOptions Add { get; set; } = new();

    /// <summary>
    /// EV sizing tiers (seed 004), by ascending <see cref="EvTier.MinExpectedValueR"/>: EV ≤ 0 is always a veto; an EV
    /// below the first tier's bound takes the first tier's fraction. Default: EV in (0, 0.25) R → half risk, ≥ 0.25 R → full.
    /// </summary>
    public List<EvTier> Tiers { get; set; } = [new() { MinExpectedValueR = 0, RiskFraction = 0.5m }, new() { MinExpectedValueR = 0.25, RiskFraction = 1m }];

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) => Problems().Select(p => new ValidationResult(p));

    /// <summary>
    /// A copy with the given slots switched off (their mode only: version, candidate and threshold are kept), every other
    /// setting as here; this instance is not changed. The host uses it for the judges whose model was refused at load.
    /// </summary>
    public JudgesOptions WithSlotsOff(bool entry, bool exit, bool add)
    {
        var copy = (JudgesOptions)MemberwiseClone();
        static JudgeSlotOptions Off(JudgeSlotOptions s) => new() { Mode = JudgeMode.Off, Version = s.Version, Candidate = s.Candidate, ExitThreshold = s.ExitThreshold };
        copy.Entry = entry ? Off(Entry) : Entry;
        copy.Exit = exit ? Off(Exit) : Exit;
        copy.Add = add ? Off(Add) : Add;
        return copy;
    }

    /// <summary>Checks the configuration.</summary>
    /// <returns>Problems, empty when valid.</returns>
    public IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Registry))
        {
            yield return "Judges:Registry is empty";
        }

        if (Exit.ExitThreshold is <= 0 or > 1)
        {
            yield return $"Judges:Exit:ExitThreshold {Exit.ExitThreshold} is not in (0, 1]";
        }

        for (var i = 0; i < Tiers.Count; i++)
        {
            if (Tiers[i].RiskFraction is <= 0m or > 1m)
            {
                yield return $"Judges:Tiers:{i}:RiskFraction {Tiers[i].RiskFraction} is not in (0, 1]: a tier can only reduce risk";
            }

            if (i > 0 && Tiers[i].MinExpectedValueR <= Tiers[i - 1].MinExpectedValueR)
            {
                yield return $"Judges:Tiers must be in ascending MinExpectedValueR (tier {i})";
            }
        }
    }
}

/// <summary>
/// The judges the brain consults. Single-threaded (called from the brain's loop). A slot without a model gives no
/// verdict; a slot whose model failed parity never reaches here (the host refuses it at load, loudly).
/// </summary>
public sealed class JudgePanel
{
    private readonly JudgesOptions _options;
    private readonly IJudgeModel? _entry;
    private readonly IJudgeModel? _exit;
    private readonly IJudgeModel? _add;
    private readonly Dictionary<JudgeKind, IJudgeModel> _candidates = [];

    /// <summary>Creates a panel.</summary>
    /// <param name="options">Modes, thresholds, tiers.</param>
    /// <param name="entry">The entry model (required when the entry slot is not Off).</param>
    /// <param name="exit">The exit model.</param>
    /// <param name="add">The add model.</param>
    /// <exception cref="ArgumentException">A slot is on without a model, or a model is in the wrong slot.</exception>
    public JudgePanel(JudgesOptions options, IJudgeModel? entry, IJudgeModel? exit, IJudgeModel? add)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _entry = Slot(JudgeKind.Entry, options.Entry, entry);
        _exit = Slot(JudgeKind.Exit, options.Exit, exit);
        _add = Slot(JudgeKind.Add, options.Add, add);
    }

    /// <summary>Candidate models run in shadow beside the slots (seed 002), by judge.</summary>
    /// <exception cref="ArgumentException">A candidate sits in another judge's slot.</exception>
    public IReadOnlyDictionary<JudgeKind, IJudgeModel> Candidates
    {
        get => _candidates;
        init
        {
            foreach (var (kind, model) in value)
            {
                _candidates[kind] = model.Judge == kind ? model : throw new ArgumentException($"a {model.Judge} candidate ({model.Version}) cannot sit beside the {kind} judge", nameof(value));
            }
        }
    }

    /// <summary>A panel with every judge off.</summary>
    public static JudgePanel None { get; } = new(new JudgesOptions(), null, null, null);

    /// <summary>Judges that were configured on but whose model was refused at load (rule and details); each one is off and was raised as a RED alert.</summary>
    public IReadOnlyList<string> Refused { get; init; } = [];

    /// <summary>The models in use, one line each ("entry v2 (hash…) Active").</summary>
    public IReadOnlyList<string> Describe() =>
        [.. new[] { (_entry, _options.Entry.Mode.ToString()), (_exit, _options.Exit.Mode.ToString()), (_add, _options.Add.Mode.ToString()) }
            .Concat(_candidates.Values.Select(c => ((IJudgeModel?)c, "Shadow (candidate)")))
            .Where(x => x.Item1 is not null)
            .Select(x => $"{x.Item1!.Judge} {x.Item1.Version} ({x.Item1.ModelHash[..Math.Min(12, x.Item1.ModelHash.Length)]}) {x.Item2}")];

    /// <summary>True when any judge is on (Shadow or Active).</summary>
    public bool Any => _entry is not null || _exit is not null || _add is not null || _candidates.Count > 0;

    /// <summary>True when exit-review decisions are to be recorded (an exit judge is on, or the dataset needs them).</summary>
    public bool ReviewsExits => _exit is not null || _candidates.ContainsKey(JudgeKind.Exit) || _options.RecordExitReviews;

    /// <summary>Asks a judge. Null when that judge is off.</summary>
    /// <param name="judge">Which judge.</param>
    /// <param name="features">The features, schema order.</param>
    /// <param name="decisionUtc">When the decision is taken (the features' as-of time).</param>
    public JudgeVerdict? Judge(JudgeKind judge, ReadOnlySpan<float> features, DateTimeOffset decisionUtc)
    {
        if (decisionUtc < (_options.ActiveFromUtc ?? DateTimeOffset.MinValue) || decisionUtc >= (_options.ActiveUntilUtc ?? DateTimeOffset.MaxValue))
        {
            return null;
        }

        var (model, slot) = judge switch
        {
            JudgeKind.Entry => (_entry, _options.Entry),
            JudgeKind.Exit => (_exit, _options.Exit),
            _ => (_add, _options.Add),
        };
        if (model is null)
        {
            return null;
        }

        return Verdict(judge, model, slot, slot.Mode, features);
    }

    /// <summary>Asks the candidate beside a judge (always a shadow verdict, never obeyed). Null when there is none or outside the active window.</summary>
    /// <param name="judge">Which judge.</param>
    /// <param name="features">The features, schema order.</param>
    /// <param name="decisionUtc">When the decision is taken.</param>
    public JudgeVerdict? Candidate(JudgeKind judge, ReadOnlySpan<float> features, DateTimeOffset decisionUtc)
    {
        if (!_candidates.TryGetValue(judge, out var model)
            || decisionUtc < (_options.ActiveFromUtc ?? DateTimeOffset.MinValue) || decisionUtc >= (_options.ActiveUntilUtc ?? DateTimeOffset.MaxValue))
        {
            return null;
        }

        var slot = judge switch { JudgeKind.Entry => _options.Entry, JudgeKind.Exit => _options.Exit, _ => _options.Add };
        return Verdict(judge, model, slot, JudgeMode.Shadow, features);
    }

    private JudgeVerdict Verdict(JudgeKind judge, IJudgeModel model, JudgeSlotOptions slot, JudgeMode mode, ReadOnlySpan<float> features)
    {
        var p = Math.Clamp(model.Probability(features), 0, 1);
        if (judge == JudgeKind.Exit)
        {
            return new JudgeVerdict(judge, p >= slot.ExitThreshold ? VerdictKind.RecommendExit : VerdictKind.Allow, p, null, 1m, model.Version, model.ModelHash, mode);
        }

        var ev = (p * model.RewardRisk) - (1 - p);
        var fraction = ev <= 0 ? 0m : TierFraction(ev);
        return new JudgeVerdict(judge, fraction == 0m ? VerdictKind.Veto : VerdictKind.Allow, p, ev, fraction, model.Version, model.ModelHash, mode);
    }

    private decimal TierFraction(double ev)
    {
        var fraction = _options.Tiers.Count > 0 ? _options.Tiers[0].RiskFraction : 1m;
        foreach (var tier in _options.Tiers)
        {
            if (ev >= tier.MinExpectedValueR)
            {
                fraction = tier.RiskFraction;
            }
        }

        return Math.Clamp(fraction, 0m, 1m);
    }

    private static IJudgeModel? Slot(JudgeKind kind, JudgeSlotOptions slot, IJudgeModel? model)
    {
        if (slot.Mode == JudgeMode.Off)
        {
            return null;
        }

        if (model is null)
        {
            throw new ArgumentException($"the {kind} judge is {slot.Mode} but has no model", nameof(model));
        }

        return model.Judge == kind ? model : throw new ArgumentException($"a {model.Judge} model ({model.Version}) cannot sit in the {kind} judge's slot", nameof(model));
    }
}

/// <summary>A registry model as the panel uses it: the managed tree walk and the calibration, the reward:risk from its training metrics.</summary>
/// <param name="Model">A model loaded (and parity-checked) by <see cref="ModelRegistry.Load"/>.</param>
public sealed class RegisteredJudge(LoadedJudgeModel Model) : IJudgeModel
{
    /// <summary>The metrics scope and key of the reward:risk written by the trainer.</summary>
    public const string RewardRiskScope = "train";

    /// <summary>The metric's key.</summary>
    public const string RewardRiskKey = "reward_risk";

    /// <inheritdoc />
    public JudgeKind Judge => Model.Manifest.Judge;

    /// <inheritdoc />
    public string Version => "v" + Model.Manifest.Version.ToString(CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public string ModelHash => Model.ModelHash;

    /// <inheritdoc />
    public double RewardRisk =>
        Model.Manifest.Metrics.TryGetValue(RewardRiskScope, out var m) && m.TryGetValue(RewardRiskKey, out var rr) ? rr : 1.0;

    /// <inheritdoc />
    public double Probability(ReadOnlySpan<float> features) => Model.Probability(features);
}
