namespace MetalSniper.FakeTws;

/// <summary>
/// A thread-safe append-only log that tests can read and wait on. Predicates run outside the log's lock (so they may read
/// the server), possibly on the server's threads; they must be pure.
/// </summary>
internal sealed class WaitableLog<T>(TimeProvider wallClock, string name)
{
    private readonly Lock _lock = new();
    private readonly List<T> _items = [];
    private readonly List<Waiter> _waiters = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    public IReadOnlyList<T> Snapshot()
    {
        lock (_lock)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        Waiter[] waiters;
        lock (_lock)
        {
            _items.Add(item);
            if (_waiters.Count == 0)
            {
                return;
            }

            waiters = [.. _waiters];
        }

        foreach (var waiter in waiters)
        {
            if (!waiter.Completion.Task.IsCompleted && waiter.Predicate(item) && waiter.Completion.TrySetResult(item))
            {
                Remove(waiter);
            }
        }
    }

    /// <summary>
    /// Returns the first item at or after index <paramref name="skip"/> (already logged or future) that matches; throws
    /// <see cref="TimeoutException"/> after the wall-clock timeout.
    /// </summary>
    public async Task<T> WaitAsync(Func<T, bool> predicate, TimeSpan timeout, int skip, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var waiter = new Waiter(predicate, new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously));
        T[] existing;
        lock (_lock)
        {
            existing = [.. _items.Skip(skip)];
            _waiters.Add(waiter);
        }

        foreach (var item in existing)
        {
            if (predicate(item))
            {
                waiter.Completion.TrySetResult(item);
                break;
            }
        }

        try
        {
            return await waiter.Completion.Task.WaitAsync(timeout, wallClock, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"no matching {name} within {timeout.TotalMilliseconds:0} ms; {Count} logged", ex);
        }
        finally
        {
            Remove(waiter);
        }
    }

    private void Remove(Waiter waiter)
    {
        lock (_lock)
        {
            _waiters.Remove(waiter);
        }
    }

    private sealed record Waiter(Func<T, bool> Predicate, TaskCompletionSource<T> Completion);
}
