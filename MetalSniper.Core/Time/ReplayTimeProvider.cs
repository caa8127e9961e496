namespace MetalSniper.Core.Time;

/// <summary>
/// A <see cref="TimeProvider"/> whose "now" is driven by the data being replayed: the execution
/// service advances it to each bar's close time as the broker side applies the bar (the venue's
/// "now"; ingest may read ahead of it), so every component that reads the clock (the sentinel's
/// sweep timer, decision timestamps) sees replay time and the replay runs as fast as the pipeline
/// can go. Timers fire on the advancing thread when their due time is
/// passed; a periodic timer that missed several periods fires once (coalesced). Time never goes
/// backwards. Thread-safe.
/// </summary>
public sealed class ReplayTimeProvider : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ReplayTimer> _timers = [];
    private long _utcTicks;

    /// <summary>Starts the clock at <paramref name="startUtc"/>.</summary>
    public ReplayTimeProvider(DateTimeOffset startUtc) => _utcTicks = startUtc.UtcTicks;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _utcTicks), TimeSpan.Zero);

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => Interlocked.Read(ref _utcTicks);

    /// <inheritdoc />
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>
    /// Moves the clock forward to <paramref name="utc"/> and fires timers that fall due.
    /// A time earlier than now is ignored (the clock is monotonic).
    /// </summary>
    public void AdvanceTo(DateTimeOffset utc)
    {
        List<ReplayTimer>? due = null;
        lock (_gate)
        {
            if (utc.UtcTicks <= _utcTicks)
            {
                return;
            }

            Interlocked.Exchange(ref _utcTicks, utc.UtcTicks);
            foreach (var t in _timers)
            {
                if (t.DueTicks is { } d && d <= utc.UtcTicks)
                {
                    (due ??= []).Add(t);
                    t.Reschedule(utc.UtcTicks);
                }
            }
        }

        if (due is not null)
        {
            foreach (var t in due)
            {
                t.Fire();
            }
        }
    }

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new ReplayTimer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
            timer.Change(dueTime, period, _utcTicks);
        }

        return timer;
    }

    private void Remove(ReplayTimer timer)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class ReplayTimer(ReplayTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private long _periodTicks;

        public long? DueTicks { get; private set; }

        public void Change(TimeSpan dueTime, TimeSpan period, long nowTicks)
        {
            _periodTicks = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
            DueTicks = dueTime == Timeout.InfiniteTimeSpan ? null : nowTicks + Math.Max(0, dueTime.Ticks);
        }

        public void Reschedule(long nowTicks) => DueTicks = _periodTicks > 0 ? nowTicks + _periodTicks : null;

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                Change(dueTime, period, owner._utcTicks);
            }

            return true;
        }

        public void Dispose() => owner.Remove(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
