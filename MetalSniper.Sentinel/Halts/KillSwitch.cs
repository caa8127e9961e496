using System.Collections.Immutable;
using MetalSniper.Core.Time;

namespace MetalSniper.Sentinel.Halts;

/// <summary>A keyed, self-lifting halt in force.</summary>
/// <param name="Key">The key ("daily-loss", "breaker:drawdown", "stale-data:XAUUSD").</param>
/// <param name="Level">The level it sets.</param>
/// <param name="SinceUtc">When it began.</param>
/// <param name="UntilUtc">When it lifts by itself; null: until its condition clears.</param>
/// <param name="Source">Who set it.</param>
/// <param name="Reason">Why, with the values seen.</param>
public sealed record ActivePause(string Key, KillLevel Level, DateTimeOffset SinceUtc, DateTimeOffset? UntilUtc, string Source, string Reason)
{
    /// <summary>True while the pause holds at <paramref name="nowUtc"/>: from its start until its end (or until cleared).</summary>
    public bool IsActive(DateTimeOffset nowUtc) => nowUtc >= SinceUtc && (UntilUtc is not { } until || nowUtc < until);
}

/// <summary>An immutable view of the kill switch, safe to read from any thread without a lock.</summary>
/// <param name="LatchedLevel">The latched level: raised automatically, lowered only by a confirmed operator resume.</param>
/// <param name="LatchedReason">Why it was last raised (empty at L0).</param>
/// <param name="LatchedSinceUtc">When it was last raised or resumed.</param>
/// <param name="Pauses">Keyed self-lifting halts (some may have expired; see <see cref="ActivePause.IsActive"/>).</param>
/// <param name="LastSequence">The last store record applied (all scopes).</param>
/// <param name="LastHash">Its hash: the confirmation a resume must quote is derived from it.</param>
public sealed record KillState(KillLevel LatchedLevel, string LatchedReason, DateTimeOffset? LatchedSinceUtc, ImmutableDictionary<string, ActivePause> Pauses, long LastSequence, string LastHash)
{
    // A flat copy of the pauses, made once per Pauses instance: Level is read on every command of the execution
    // side and every decision of the brain. One reference holds both (a "with" copy carries the cache along, so
    // it is checked against the dictionary it was made from).
    private FlatPauses? _flat;

    /// <summary>The effective level at <paramref name="nowUtc"/>: the highest of the latched level and every active pause.</summary>
    public KillLevel Level(DateTimeOffset nowUtc)
    {
        var level = LatchedLevel;
        foreach (var p in Flat())
        {
            if (p.Level > level && p.IsActive(nowUtc))
            {
                level = p.Level;
            }
        }

        return level;
    }

    /// <summary>
    /// The level as it stood just before <paramref name="eventTimeUtc"/>: the latched level (operator,
    /// kill file, heartbeats: never tied to market data), and pauses set strictly earlier. The brain decides on a bar with this view, so a halt the sentinel sets on the sweep of the
    /// same bar reaches it with the next bar on every run (replay stays deterministic); the gates where
    /// orders leave use <see cref="Level"/> and already refuse what the new halt forbids.
    /// </summary>
    public KillLevel LevelSeenBefore(DateTimeOffset eventTimeUtc)
    {
        var level = LatchedLevel;
        foreach (var p in Flat())
        {
            if (p.Level > level && p.SinceUtc < eventTimeUtc && p.IsActive(eventTimeUtc))
            {
                level = p.Level;
            }
        }

        return level;
    }

    /// <summary>Why the effective level is what it is at <paramref name="nowUtc"/> (empty at L0).</summary>
    public string Describe(DateTimeOffset nowUtc)
    {
        var parts = new List<string>();
        if (LatchedLevel > KillLevel.Running)
        {
            parts.Add($"kill switch latched at L{(int)LatchedLevel}: {LatchedReason}");
        }

        parts.AddRange(Pauses.Values.Where(p => p.IsActive(nowUtc)).OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{p.Key} L{(int)p.Level} until {UtcText.Of(p.UntilUtc, "cleared")}: {p.Reason}"));
        return string.Join("; ", parts);
    }

    /// <summary>Every pause (active or expired), flattened once per <see cref="Pauses"/> instance: cheap to read on every sweep.</summary>
    public IReadOnlyList<ActivePause> PauseList => Flat();

    private ActivePause[] Flat()
    {
        var cache = Volatile.Read(ref _flat);
        if (cache is null || !ReferenceEquals(cache.Of, Pauses))
        {
            cache = new FlatPauses(Pauses, [.. Pauses.Values]);
            Volatile.Write(ref _flat, cache);
        }

        return cache.Pauses;
    }

    private sealed record FlatPauses(ImmutableDictionary<string, ActivePause> Of, ActivePause[] Pauses);

    /// <summary>The code an operator must quote to resume: the first 8 hex digits of the last record's hash (its digest, without a keyed hash's scheme prefix), so a confirmation is only valid for the state the operator saw.</summary>
    public string ConfirmationCode => ChainKeyring.DigestOf(LastHash)[..8];
}

/// <summary>
/// The kill switch: L0 running · L1 no new entries (exits, stops and cancels run) · L2 cancel working
/// entries and flatten everything with reduce-only orders. It latches: <see cref="Escalate"/> only
/// raises the level; only <see cref="Resume"/>, an explicit operator command quoting the current
/// confirmation code, lowers it. Self-lifting halts (daily loss until the next trading day, a breaker
/// trip for its reset window, stale data until fresh) are keyed pauses next to the latch; the
/// effective level is the highest of all. Every change is appended to the tamper-evident
/// <see cref="IHaltStore"/> before it takes effect, and <see cref="Restore"/> rebuilds the state from
/// the store (verifying the whole chain) before any order can leave. Readers take the immutable
/// <see cref="State"/> without a lock; writers serialise on a private lock that the brain never takes.
/// A write decides from the state in memory and, in the same store transaction, also applies what
/// other processes appended since (<see cref="Refresh"/> picks those up between writes).
/// </summary>
public sealed class KillSwitch
{
    private readonly IHaltStore _store;
    private readonly Lock _write = new();
    private KillState _state;
    private Queue<HaltRecord>? _earlier;
    private Queue<HaltRecord>? _operatorRecords;
    private string? _divergence;

    private KillSwitch(IHaltStore store, string scope)
    {
        _store = store;
        Scope = scope;
        _state = new KillState(KillLevel.Running, "", null, ImmutableDictionary<string, ActivePause>.Empty.WithComparers(StringComparer.Ordinal), 0, HaltChain.Genesis);
    }

    /// <summary>
    /// Raised for every record of this scope as it is applied (written here or read from another process), on the
    /// applying thread. Handlers must not block (the sentinel may be the caller).
    /// </summary>
    public event Action<HaltRecord>? Recorded;

    /// <summary>Whose state this is (<c>service</c>, or a replay's run id).</summary>
    public string Scope { get; }

    /// <summary>The current state (lock-free).</summary>
    public KillState State => Volatile.Read(ref _state);

    /// <summary>The effective level at <paramref name="nowUtc"/> (lock-free).</summary>
    public KillLevel Level(DateTimeOffset nowUtc) => State.Level(nowUtc);

    /// <summary>
    /// Rebuilds the kill switch of <paramref name="scope"/> from the store after verifying the whole chain.
    /// </summary>
    /// <param name="store">The halts store.</param>
    /// <param name="scope">The scope to restore.</param>
    /// <exception cref="HaltStoreTamperedException">The chain does not verify.</exception>
    /// <param name="restorePauses">
    /// False drops keyed pauses of earlier processes and restores only the latched level: for the service on a
    /// replayed feed, whose market time starts over on every start (an old daily-loss pause would come back
    /// into force when the replay reaches its dates again). Live: true.
    /// </param>
    public static KillSwitch Restore(IHaltStore store, string scope, bool restorePauses = true)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        var ks = new KillSwitch(store, scope);
        var records = ReadVerified(store);

        ks.ApplyAll(records);
        if (!restorePauses)
        {
            ks._state = ks._state with { Pauses = ks._state.Pauses.Clear() };
        }

        return ks;
    }

    /// <summary>
    /// For a run that is re-executed from its start after a crash (a resumed replay): the state starts fresh
    /// (L0, no pauses) while the chain is verified and followed to its end, and the scope's earlier records are
    /// expected again, in order. A write whose draft equals the next expected record takes effect from that
    /// record (no new record is written); the first write that differs ends the matching (it is appended, and
    /// <see cref="ReexecutionDivergence"/> says where re-execution left the earlier path).
    /// </summary>
    /// <exception cref="HaltStoreTamperedException">The chain does not verify.</exception>
    public static KillSwitch ForReexecution(IHaltStore store, string scope)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        var records = ReadVerified(store);

        var ks = new KillSwitch(store, scope);
        if (records.Count > 0)
        {
            ks._state = ks._state with { LastSequence = records[^1].Sequence, LastHash = records[^1].Hash };
        }

        ks._earlier = new Queue<HaltRecord>(records.Where(r => string.Equals(r.Draft.Scope, scope, StringComparison.Ordinal)));
        return ks;
    }

    /// <summary>
    /// For a service run on a replayed feed that resumes after a stop or a crash by deterministic re-execution from its first
    /// record. The state starts as the run's first attempt found it: the latched level of the records up to
    /// <paramref name="startSequence"/> (keyed pauses dropped, as <see cref="Restore"/> does for a replayed feed). The scope's later
    /// records are expected again: those its own sentinel and breakers wrote (<see cref="IsOwnRecord"/>) are met as re-execution
    /// writes them (as in <see cref="ForReexecution"/>); the others — the operator's kill and resume, the kill file, the
    /// supervisor — are outside events that re-execution cannot make again: <see cref="ApplyOperatorRecordsThrough"/> applies them
    /// where the first attempt's feed marks say they took effect, and <see cref="ApplyPendingOperatorRecords"/> applies the rest
    /// (written while the service was down, or after its last mark) when re-execution has caught up.
    /// </summary>
    /// <param name="store">The halts store.</param>
    /// <param name="scope">The service's scope.</param>
    /// <param name="startSequence">The last record the run's first attempt had applied when it started (its first feed mark).</param>
    /// <exception cref="HaltStoreTamperedException">The chain does not verify.</exception>
    public static KillSwitch ForCausalResume(IHaltStore store, string scope, long startSequence)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        ArgumentOutOfRangeException.ThrowIfNegative(startSequence);
        var records = ReadVerified(store);

        var ks = new KillSwitch(store, scope);
        var s = ks._state;
        foreach (var r in records.Where(r => r.Sequence <= startSequence && string.Equals(r.Draft.Scope, scope, StringComparison.Ordinal)))
        {
            s = Effect(s, r.Draft);
        }

        s = s with { Pauses = s.Pauses.Clear() };
        if (records.Count > 0)
        {
            s = s with { LastSequence = records[^1].Sequence, LastHash = records[^1].Hash };
        }

        ks._state = s;
        var later = records.Where(r => r.Sequence > startSequence && string.Equals(r.Draft.Scope, scope, StringComparison.Ordinal)).ToList();
        ks._earlier = new Queue<HaltRecord>(later.Where(r => IsOwnRecord(r.Draft)));
        ks._operatorRecords = new Queue<HaltRecord>(later.Where(r => !IsOwnRecord(r.Draft)));
        return ks;
    }

    /// <summary>
    /// True for a record the run's own risk layer writes from market data (the sentinel, its breakers): re-execution of the same
    /// data writes it again. Everything else (operator, kill file, supervisor) comes from outside the data.
    /// </summary>
    public static bool IsOwnRecord(HaltDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        return draft.Source is "sentinel" or "breaker";
    }

    /// <summary>Operator records (and other outside events) of a resumed run not yet applied again (0 otherwise).</summary>
    public int OperatorRecordsPending
    {
        get
        {
            lock (_write)
            {
                return _operatorRecords?.Count ?? 0;
            }
        }
    }

    /// <summary>
    /// A resumed run's re-execution reached a feed mark: applies, in order, the operator records up to
    /// <paramref name="sequence"/> that the first attempt had applied by then (each raises <see cref="Recorded"/> again, as
    /// when it first took effect). Nothing is written.
    /// </summary>
    /// <returns>The records applied.</returns>
    public int ApplyOperatorRecordsThrough(long sequence)
    {
        lock (_write)
        {
            var applied = new List<HaltRecord>();
            while (_operatorRecords is { Count: > 0 } q && q.Peek().Sequence <= sequence)
            {
                applied.Add(q.Dequeue());
            }

            return ApplyAgain(applied);
        }
    }

    /// <summary>
    /// A resumed run caught up with where its earlier attempt stopped: applies every operator record not applied yet (those written
    /// while the service was down, or after its last feed mark) and ends the re-execution's matching (from now on every write is new).
    /// </summary>
    /// <returns>The records applied.</returns>
    public int ApplyPendingOperatorRecords()
    {
        lock (_write)
        {
            var applied = _operatorRecords is { } q ? q.ToList() : [];
            _operatorRecords?.Clear();
            return ApplyAgain(applied);
        }
    }

    private void ApplyOperatorRecordsBefore(long sequence)
    {
        var applied = new List<HaltRecord>();
        while (_operatorRecords is { Count: > 0 } q && q.Peek().Sequence < sequence)
        {
            applied.Add(q.Dequeue());
        }

        if (applied.Count > 0)
        {
            OperatorRecordsAppliedWithOwn += ApplyAgain(applied);
        }
    }

    /// <summary>Outside records a resumed run applied again just before one of its own records they preceded (not at a feed mark).</summary>
    public int OperatorRecordsAppliedWithOwn { get; private set; }

    private int ApplyAgain(List<HaltRecord> records)
    {
        var s = _state;
        foreach (var r in records)
        {
            s = Effect(s, r.Draft);
        }

        Volatile.Write(ref _state, s);
        foreach (var r in records)
        {
            Recorded?.Invoke(r);
        }

        return records.Count;
    }

    /// <summary>Every record of the store, after verifying the whole chain.</summary>
    /// <exception cref="HaltStoreTamperedException">The chain does not verify.</exception>
    private static IReadOnlyList<HaltRecord> ReadVerified(IHaltStore store)
    {
        var records = store.ReadSince(0);
        var verification = HaltChain.Verify(records, store.Keyring);
        return verification.IsIntact ? records : throw new HaltStoreTamperedException(verification);
    }

    /// <summary>Earlier records of a re-executed run not yet met again (0 otherwise).</summary>
    public int EarlierRecordsPending
    {
        get
        {
            lock (_write)
            {
                return _earlier?.Count ?? 0;
            }
        }
    }

    /// <summary>Null while a re-execution follows its earlier records; else the first write that differed.</summary>
    public string? ReexecutionDivergence => Volatile.Read(ref _divergence);

    /// <summary>Raises the latched level (never lowers it). Recorded before it takes effect.</summary>
    /// <returns>True when the level rose; false when it already was at or above <paramref name="level"/>.</returns>
    public bool Escalate(KillLevel level, string source, string reason, DateTimeOffset nowUtc)
    {
        lock (_write)
        {
            if (level <= _state.LatchedLevel)
            {
                return false;
            }

            AppendOrHoldInMemory(new HaltDraft(Scope, HaltAction.Escalate, level, "kill", source, reason, nowUtc, null));
            return true;
        }
    }

    /// <summary>Sets a keyed self-lifting halt; an active pause of the same key at the same or higher level that lasts at least as long is kept (no record).</summary>
    /// <returns>True when a record was written.</returns>
    public bool Pause(string key, KillLevel level, DateTimeOffset? untilUtc, string source, string reason, DateTimeOffset nowUtc)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        lock (_write)
        {
            if (_state.Pauses.TryGetValue(key, out var p) && p.IsActive(nowUtc) && p.Level >= level
                && (p.UntilUtc is null || (untilUtc is { } u && p.UntilUtc >= u)))
            {
                return false;
            }

            AppendOrHoldInMemory(new HaltDraft(Scope, HaltAction.Pause, level, key, source, reason, nowUtc, untilUtc));
            return true;
        }
    }

    /// <summary>Lifts a keyed pause whose condition ended. No record when the key is not active.</summary>
    public bool Clear(string key, string source, string reason, DateTimeOffset nowUtc)
    {
        // Lock-free no-op path: the sentinel asks on every sweep.
        if (!State.Pauses.ContainsKey(key))
        {
            return false;
        }

        lock (_write)
        {
            if (!_state.Pauses.TryGetValue(key, out var p) || !p.IsActive(nowUtc))
            {
                return false;
            }

            Append(new HaltDraft(Scope, HaltAction.Clear, KillLevel.Running, key, source, reason, nowUtc, null));
            return true;
        }
    }

    /// <summary>
    /// The operator's explicit resume: lowers the latched level to L0 and lifts the pauses that last until
    /// their condition clears (stale data, unknown P&amp;L: the sentinel sets them again at once if the
    /// condition still holds, and a restart may leave one behind that nothing else would lift). Timed pauses
    /// (daily loss, breakers) keep running to their end; <see cref="KillState.Describe"/> lists them.
    /// </summary>
    /// <param name="source">Who ("operator:cli").</param>
    /// <param name="reason">Why (required).</param>
    /// <param name="confirmation">The <see cref="KillState.ConfirmationCode"/> the operator was shown.</param>
    /// <param name="nowUtc">Clock time.</param>
    /// <exception cref="InvalidOperationException">Nothing is latched, or the confirmation does not match the current state (it changed since the operator looked).</exception>
    public void Resume(string source, string reason, string confirmation, DateTimeOffset nowUtc)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        lock (_write)
        {
            Refresh();
            var conditional = _state.Pauses.Values.Where(p => p.UntilUtc is null).Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
            if (_state.LatchedLevel == KillLevel.Running && conditional.Count == 0)
            {
                throw new InvalidOperationException("the kill switch is not latched (L0); nothing to resume" + (_state.Describe(nowUtc) is { Length: > 0 } d ? "; still in force: " + d : ""));
            }

            if (!string.Equals(confirmation, _state.ConfirmationCode, StringComparison.OrdinalIgnoreCase))
            {
                // The refusal never names the code that would have been accepted (a guess must not be answered with the key);
                // the operator sees the state and its code by asking for it (resume without a code).
                throw new InvalidOperationException($"confirmation '{confirmation}' does not match the current state; look at the state again (resume without a code shows it and its code) and confirm what you see");
            }

            var expected = _state.LastHash;
            try
            {
                if (_state.LatchedLevel > KillLevel.Running)
                {
                    ApplyAll(_store.Append(new HaltDraft(Scope, HaltAction.Resume, KillLevel.Running, "kill", source, reason, nowUtc, null), _state.LastSequence, expected));
                    expected = _state.LastHash;
                }

                foreach (var key in conditional)
                {
                    ApplyAll(_store.Append(new HaltDraft(Scope, HaltAction.Clear, KillLevel.Running, key, source, "operator resume: " + reason, nowUtc, null), _state.LastSequence, expected));
                    expected = _state.LastHash;
                }
            }
            catch (HaltStoreChangedException e)
            {
                Refresh();
                throw new InvalidOperationException($"the halts store changed while resuming ({e.Message}); look at the state again (resume without a code shows it and its code)", e);
            }
        }
    }

    /// <summary>Applies records other processes appended since the last look (the CLI's kill and resume).</summary>
    /// <exception cref="HaltStoreTamperedException">A new record does not link to the last known one.</exception>
    public void Refresh()
    {
        lock (_write)
        {
            ApplyAll(_store.ReadSince(_state.LastSequence));
        }
    }

    /// <summary>
    /// Records a halt; when the store cannot be written, the halt still takes effect in memory (halting is
    /// the safe side) and the failure is rethrown as <see cref="HaltStoreWriteException"/> for the caller to raise.
    /// </summary>
    private void AppendOrHoldInMemory(HaltDraft draft)
    {
        try
        {
            Append(draft);
        }
        catch (Exception e) when (e is not HaltStoreTamperedException)
        {
            var s = _state;
            _state = draft.Action == HaltAction.Escalate
                ? s with { LatchedLevel = draft.Level, LatchedReason = $"{draft.Source}: {draft.Reason} (NOT RECORDED: {e.Message})", LatchedSinceUtc = draft.AtUtc }
                : s with { Pauses = s.Pauses.SetItem(draft.Key, new ActivePause(draft.Key, draft.Level, draft.AtUtc, draft.UntilUtc, draft.Source, draft.Reason + " (NOT RECORDED)")) };
            throw new HaltStoreWriteException($"halt {draft.Action} {draft.Key} L{(int)draft.Level} is in force but could not be recorded: {e.Message}", e);
        }
    }

    private void Append(HaltDraft draft)
    {
        if (_earlier is { Count: > 0 } earlier)
        {
            if (earlier.Peek().Draft == draft)
            {
                // Re-execution met its own earlier record: it takes effect again, nothing is written twice. Outside records written
                // before it took effect at the latest when it was written (the store hands back every record since the last one
                // applied): they take effect first, as they did then.
                var met = earlier.Dequeue();
                ApplyOperatorRecordsBefore(met.Sequence);
                Volatile.Write(ref _state, Effect(_state, met.Draft));
                Recorded?.Invoke(met);
                return;
            }

            Volatile.Write(ref _divergence, $"expected record {earlier.Peek().Sequence} ({earlier.Peek().Draft.Action} {earlier.Peek().Draft.Key} at {earlier.Peek().Draft.AtUtc:O}), got {draft.Action} {draft.Key} at {draft.AtUtc:O}");
            earlier.Clear();
        }

        var records = _store.Append(draft, _state.LastSequence);
        if (records.Count == 0 || records[^1].Draft != draft)
        {
            throw new HaltStoreTamperedException(new HaltChainVerification(records.Count, _state.LastSequence + 1, "the store did not return the record just appended"));
        }

        ApplyAll(records);
    }

    private static KillState Effect(KillState s, HaltDraft d) => d.Action switch
    {
        HaltAction.Escalate when d.Level > s.LatchedLevel => s with { LatchedLevel = d.Level, LatchedReason = $"{d.Source}: {d.Reason}", LatchedSinceUtc = d.AtUtc },
        HaltAction.Resume => s with { LatchedLevel = KillLevel.Running, LatchedReason = "", LatchedSinceUtc = d.AtUtc },
        HaltAction.Pause => s with { Pauses = s.Pauses.SetItem(d.Key, new ActivePause(d.Key, d.Level, d.AtUtc, d.UntilUtc, d.Source, d.Reason)) },
        HaltAction.Clear => s with { Pauses = s.Pauses.Remove(d.Key) },
        _ => s,
    };

    private void ApplyAll(IReadOnlyList<HaltRecord> records)
    {
        var applied = new List<HaltRecord>();
        var s = _state;
        foreach (var r in records)
        {
            if (r.Sequence != s.LastSequence + 1 || !string.Equals(r.PreviousHash, s.LastHash, StringComparison.Ordinal))
            {
                throw new HaltStoreTamperedException(new HaltChainVerification(r.Sequence, r.Sequence, $"record {r.Sequence} does not continue the chain at {s.LastSequence} ({ChainKeyring.DigestOf(s.LastHash)[..8]})"));
            }

            if (HaltChain.Check(r, _store.Keyring) is { } bad)
            {
                throw new HaltStoreTamperedException(bad);
            }

            s = s with { LastSequence = r.Sequence, LastHash = r.Hash };
            var d = r.Draft;
            if (!string.Equals(d.Scope, Scope, StringComparison.Ordinal))
            {
                continue;
            }

            applied.Add(r);
            s = Effect(s, d);
        }

        Volatile.Write(ref _state, s);
        foreach (var r in applied)
        {
            Recorded?.Invoke(r);
        }
    }
}

/// <summary>A halt took effect in memory but the halts store could not record it: the host must say so loudly and stop trading.</summary>
public sealed class HaltStoreWriteException(string message, Exception inner) : Exception(message, inner);
