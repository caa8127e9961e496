using System.Collections.Concurrent;

namespace MetalSniper.Engine.Pipeline;

/// <summary>
/// Runs an async loop on a thread of its own: a single-threaded <see cref="SynchronizationContext"/>
/// whose continuations queue to that thread, never to the thread pool. The execution side (the hands)
/// runs here, so a flatten the sentinel puts on the priority lane reaches the gateway without waiting
/// for a pool thread (a saturated brain or a blocked strategy can keep the pool busy). The thread asks
/// the OS for a short scheduling slice like the sentinel's (<see cref="MetalSniper.Sentinel.ThreadPriorityBoost"/>).
/// </summary>
public static class DedicatedThread
{
    /// <summary>Runs <paramref name="body"/> on a new dedicated thread and completes when it does (with its exception, if any).</summary>
    /// <param name="name">Thread name (shown by the OS and debuggers).</param>
    /// <param name="body">The loop. Its awaits must not use <c>ConfigureAwait(false)</c>, or it leaves the thread.</param>
    /// <param name="onPriority">Told what the priority request did (null: fully applied).</param>
    public static Task RunAsync(string name, Func<Task> body, Action<string?> onPriority)
    {
        ArgumentNullException.ThrowIfNull(body);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            onPriority(MetalSniper.Sentinel.ThreadPriorityBoost.TryBoostCurrentThread(-10));
            var context = new Context();
            SynchronizationContext.SetSynchronizationContext(context);
            Task task;
            try
            {
                task = body();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
                return;
            }

            task.ContinueWith(_ => context.Complete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            context.Pump();
            if (task.IsCanceled)
            {
                done.TrySetCanceled();
            }
            else if (task.Exception is { } e)
            {
                done.TrySetException(e.InnerExceptions);
            }
            else
            {
                done.TrySetResult();
            }
        })
        { IsBackground = true, Name = name, Priority = ThreadPriority.AboveNormal };
        thread.Start();
        return done.Task;
    }

    private sealed class Context : SynchronizationContext
    {
        private readonly ConcurrentQueue<(SendOrPostCallback Callback, object? State)> _queue = new();
        private readonly SemaphoreSlim _signal = new(0);
        private volatile bool _completed;

        public override void Post(SendOrPostCallback d, object? state)
        {
            _queue.Enqueue((d, state));
            _signal.Release();
        }

        public override void Send(SendOrPostCallback d, object? state) =>
            throw new NotSupportedException("the execution thread accepts posted work only");

        public override SynchronizationContext CreateCopy() => this;

        public void Complete()
        {
            _completed = true;
            _signal.Release();
        }

        public void Pump()
        {
            while (true)
            {
                while (_queue.TryDequeue(out var item))
                {
                    item.Callback(item.State);
                }

                if (_completed && _queue.IsEmpty)
                {
                    return;
                }

                _signal.Wait();
            }
        }
    }
}
