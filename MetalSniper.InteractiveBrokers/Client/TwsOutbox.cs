using MetalSniper.InteractiveBrokers.Wire;

namespace MetalSniper.InteractiveBrokers.Client;

/// <summary>
/// The send side of one connection: a priority queue and a normal queue drained by ONE writer loop through a
/// <see cref="TwsPacer"/>. Priority messages go ahead of every queued normal message and may use the reserved tokens;
/// a priority message arriving while the writer waits for a normal token wakes it at once. Each message is written as one
/// buffer (length prefix + fields). Thread-safe for producers; one <see cref="RunAsync"/> at a time.
/// </summary>
internal sealed class TwsOutbox
{
    private readonly Lock _gate = new();
    private readonly Queue<TwsOutgoingMessage> _priority = new();
    private readonly Queue<TwsOutgoingMessage> _normal = new();
    private readonly TwsPacer _pacer;
    private readonly TimeProvider _time;
    private readonly int _maxNormalDepth;
    private TaskCompletionSource? _wake;
    private bool _closed;
    private long _sent;
    private long _prioritySent;

    public TwsOutbox(TwsPacer pacer, TimeProvider timeProvider, int maxNormalDepth)
    {
        _pacer = pacer;
        _time = timeProvider;
        _maxNormalDepth = maxNormalDepth;
    }

    /// <summary>Messages waiting (both queues).</summary>
    public int Depth
    {
        get
        {
            lock (_gate)
            {
                return _priority.Count + _normal.Count;
            }
        }
    }

    /// <summary>Messages written to the stream.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Priority messages written to the stream.</summary>
    public long PrioritySent => Interlocked.Read(ref _prioritySent);

    /// <summary>Called after each message is written (count of all messages written so far by this outbox).</summary>
    public Action<TwsOutgoingMessage, bool>? OnWritten { get; init; }

    /// <summary>Queues a message; ownership passes to the outbox (disposed after writing or on close).</summary>
    /// <returns>False if the outbox is closed (the message is disposed).</returns>
    /// <exception cref="TwsSendQueueFullException">Normal queue full (the message is disposed).</exception>
    public bool Enqueue(TwsOutgoingMessage message, bool priority)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_closed)
            {
                message.Dispose();
                return false;
            }

            if (priority)
            {
                _priority.Enqueue(message);
            }
            else
            {
                if (_normal.Count >= _maxNormalDepth)
                {
                    message.Dispose();
                    throw new TwsSendQueueFullException(_normal.Count, _maxNormalDepth);
                }

                _normal.Enqueue(message);
            }

            wake = _wake;
            _wake = null;
        }

        wake?.TrySetResult();
        return true;
    }

    /// <summary>Closes the outbox: disposes every queued message and stops the writer loop.</summary>
    /// <returns>Number of messages discarded.</returns>
    public int Close()
    {
        TaskCompletionSource? wake;
        int discarded;
        lock (_gate)
        {
            if (_closed)
            {
                return 0;
            }

            _closed = true;
            discarded = _priority.Count + _normal.Count;
            while (_priority.TryDequeue(out var m))
            {
                m.Dispose();
            }

            while (_normal.TryDequeue(out var m))
            {
                m.Dispose();
            }

            wake = _wake;
            _wake = null;
        }

        wake?.TrySetResult();
        return discarded;
    }

    /// <summary>Writes queued messages to <paramref name="stream"/> until closed or cancelled.</summary>
    /// <param name="stream">The socket stream.</param>
    /// <param name="cancellationToken">Stops the loop.</param>
    /// <returns>Completes when closed; faults when a write fails.</returns>
    public async Task RunAsync(Stream stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bool havePriority;
            bool haveAny;
            Task? wakeTask = null;
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                havePriority = _priority.Count > 0;
                haveAny = havePriority || _normal.Count > 0;
                if (!haveAny)
                {
                    wakeTask = WakeTaskLocked();
                }
            }

            if (wakeTask is not null)
            {
                await wakeTask.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (!_pacer.TryAcquire(havePriority, out var retryAfter))
            {
                await WaitForTokenOrPriorityAsync(retryAfter, havePriority, cancellationToken).ConfigureAwait(false);
                continue;
            }

            TwsOutgoingMessage message;
            bool isPriority;
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                // A priority message that arrived after the token was taken still goes first (it may use any token).
                isPriority = _priority.TryDequeue(out message!);
                if (!isPriority)
                {
                    message = _normal.Dequeue();
                }
            }

            try
            {
                await stream.WriteAsync(message.Memory, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                message.Dispose();
            }

            Interlocked.Increment(ref _sent);
            if (isPriority)
            {
                Interlocked.Increment(ref _prioritySent);
            }

            OnWritten?.Invoke(message, isPriority);
        }
    }

    private async Task WaitForTokenOrPriorityAsync(TimeSpan retryAfter, bool waitingForPriority, CancellationToken cancellationToken)
    {
        using var delayCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(retryAfter, _time, delayCts.Token);
        if (waitingForPriority)
        {
            // Already serving a priority message: nothing can overtake it, just wait for the token.
            await delay.ConfigureAwait(false);
            return;
        }

        Task wakeTask;
        lock (_gate)
        {
            wakeTask = WakeTaskLocked();
        }

        var first = await Task.WhenAny(delay, wakeTask).ConfigureAwait(false);
        if (first != delay)
        {
            await delayCts.CancelAsync().ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    private Task WakeTaskLocked()
    {
        _wake ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _wake.Task;
    }
}
