namespace MetalSniper.Judges.Validation;

/// <summary>One labelled sample in time: the decision it belongs to, when it was decided, and when its label was known.</summary>
/// <param name="DecisionId">The decision (unique per sample).</param>
/// <param name="DecidedUtc">The decision's moment: every feature is as of this time or earlier.</param>
/// <param name="LabelKnownUtc">When the label's outcome was complete (the trade that followed closed): the end of its horizon.</param>
public sealed record Sample(string DecisionId, DateTimeOffset DecidedUtc, DateTimeOffset LabelKnownUtc);

/// <summary>One walk-forward fold: indices into the sample list, in time order.</summary>
/// <param name="Number">1-based fold number.</param>
/// <param name="Train">Training samples: all decided before the test period, purged of any whose label is not known before it starts.</param>
/// <param name="Test">Test samples of the fold's period.</param>
/// <param name="Purged">Training candidates dropped because their label horizon reaches into the test period.</param>
public sealed record Fold(int Number, IReadOnlyList<int> Train, IReadOnlyList<int> Test, int Purged);

/// <summary>A named research rule a split breaks; the pipeline refuses it (non-zero exit) with the offending samples.</summary>
/// <param name="rule">The rule's name, e.g. <c>split-not-ordered-in-time</c>.</param>
/// <param name="offending">The offending samples' decision ids.</param>
/// <param name="detail">What is wrong, in words.</param>
public sealed class LeakageException(string rule, IReadOnlyList<string> offending, string detail)
    : Exception($"refused by rule {rule}: {detail} (offending: {string.Join(", ", offending.Take(10))}{(offending.Count > 10 ? $", … {offending.Count} in all" : "")})")
{
    /// <summary>The rule's name.</summary>
    public string Rule { get; } = rule;

    /// <summary>The offending samples.</summary>
    public IReadOnlyList<string> Offending { get; } = offending;
}

/// <summary>
/// Purged, embargoed walk-forward splits (López de Prado, <i>Advances in Financial Machine Learning</i>, ch. 7): the
/// samples are cut in time into <c>folds + 1</c> consecutive blocks; fold k tests on block k and trains on everything
/// before it, minus the samples whose label horizon reaches into the test block (purge) and minus those decided within
/// the embargo before it. The future never trains the past. <see cref="Check"/> refuses a split that breaks a rule, by name.
/// </summary>
public static class WalkForward
{
    /// <summary>The rule: samples must be in time order (by decision time, ties by id) before splitting.</summary>
    public const string NotOrdered = "split-not-ordered-in-time";

    /// <summary>The rule: a training sample's label horizon must end before its test period starts (purge).</summary>
    public const string HorizonCrossesSplit = "label-horizon-crosses-split";

    /// <summary>The rule: a training sample must be decided at least the embargo before the test period.</summary>
    public const string InsideEmbargo = "inside-embargo";

    /// <summary>The rule: a decision appears in one fold's train and test, or twice in the samples.</summary>
    public const string DecisionInTwoFolds = "same-decision-in-two-folds";

    /// <summary>The rule: a label known before its decision is not a label of that decision.</summary>
    public const string LabelBeforeDecision = "label-before-decision";

    /// <summary>Builds the folds.</summary>
    /// <param name="samples">The samples, in time order.</param>
    /// <param name="folds">Number of test folds (≥ 1).</param>
    /// <param name="embargo">Gap between the last training decision and the test period.</param>
    /// <exception cref="LeakageException">The samples break a rule (named).</exception>
    /// <exception cref="ArgumentException">Too few samples for the folds.</exception>
    public static IReadOnlyList<Fold> Split(IReadOnlyList<Sample> samples, int folds, TimeSpan embargo)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(embargo.Ticks);
        CheckSamples(samples);
        var blocks = folds + 1;
        if (samples.Count < blocks * 2)
        {
            throw new ArgumentException($"{samples.Count} samples cannot make {folds} walk-forward folds (at least {blocks * 2})", nameof(samples));
        }

        var result = new List<Fold>(folds);
        for (var k = 1; k <= folds; k++)
        {
            var start = samples.Count * k / blocks;
            var end = samples.Count * (k + 1) / blocks;
            var testStart = samples[start].DecidedUtc;
            var train = new List<int>();
            var purged = 0;
            for (var i = 0; i < start; i++)
            {
                if (samples[i].LabelKnownUtc >= testStart || samples[i].DecidedUtc > testStart - embargo)
                {
                    purged++;
                    continue;
                }

                train.Add(i);
            }

            var fold = new Fold(k, train, [.. Enumerable.Range(start, end - start)], purged);
            Check(samples, fold, embargo);
            result.Add(fold);
        }

        return result;
    }

    /// <summary>Refuses a fold that breaks a rule: training after or inside the test period, a horizon crossing, the embargo, a shared decision.</summary>
    /// <exception cref="LeakageException">The fold breaks a rule (named, with the offending samples).</exception>
    public static void Check(IReadOnlyList<Sample> samples, Fold fold, TimeSpan embargo)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(fold);
        if (fold.Test.Count == 0)
        {
            return;
        }

        var testStart = fold.Test.Min(i => samples[i].DecidedUtc);
        var testIds = fold.Test.Select(i => samples[i].DecisionId).ToHashSet(StringComparer.Ordinal);
        var shared = fold.Train.Select(i => samples[i].DecisionId).Where(testIds.Contains).ToList();
        if (shared.Count > 0)
        {
            throw new LeakageException(DecisionInTwoFolds, shared, $"fold {fold.Number} trains and tests on the same decisions");
        }

        var future = fold.Train.Where(i => samples[i].DecidedUtc >= testStart).Select(i => samples[i].DecisionId).ToList();
        if (future.Count > 0)
        {
            throw new LeakageException(NotOrdered, future, $"fold {fold.Number} trains on decisions taken at or after its test period starts ({testStart:O})");
        }

        var crossing = fold.Train.Where(i => samples[i].LabelKnownUtc >= testStart).Select(i => samples[i].DecisionId).ToList();
        if (crossing.Count > 0)
        {
            throw new LeakageException(HorizonCrossesSplit, crossing, $"fold {fold.Number} trains on labels not known before its test period starts ({testStart:O}): purge them");
        }

        var embargoed = fold.Train.Where(i => samples[i].DecidedUtc > testStart - embargo).Select(i => samples[i].DecisionId).ToList();
        if (embargoed.Count > 0)
        {
            throw new LeakageException(InsideEmbargo, embargoed, $"fold {fold.Number} trains on decisions within the {embargo} embargo before its test period");
        }
    }

    private static void CheckSamples(IReadOnlyList<Sample> samples)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var twice = samples.Where(s => !seen.Add(s.DecisionId)).Select(s => s.DecisionId).ToList();
        if (twice.Count > 0)
        {
            throw new LeakageException(DecisionInTwoFolds, twice, "the same decision appears more than once in the samples");
        }

        var early = samples.Where(s => s.LabelKnownUtc < s.DecidedUtc).Select(s => s.DecisionId).ToList();
        if (early.Count > 0)
        {
            throw new LeakageException(LabelBeforeDecision, early, "labels complete before their decisions were taken");
        }

        var unordered = new List<string>();
        for (var i = 1; i < samples.Count; i++)
        {
            var (a, b) = (samples[i - 1], samples[i]);
            if (b.DecidedUtc < a.DecidedUtc || (b.DecidedUtc == a.DecidedUtc && string.CompareOrdinal(b.DecisionId, a.DecisionId) < 0))
            {
                unordered.Add(b.DecisionId);
            }
        }

        if (unordered.Count > 0)
        {
            throw new LeakageException(NotOrdered, unordered, "samples are not in time order (a shuffled split would train on the future)");
        }
    }
}
