using MetalSniper.Engine.Pipeline;

namespace MetalSniper.Engine.Services;

/// <summary>
/// Base of the pipeline's background services, run under the <see cref="Supervisor"/>: in the service a
/// fault restarts the body with backoff; a crash loop (or any fault in a replay, or in a service that cannot restart)
/// is recorded in the <see cref="RunContext"/> (so the process exits non-zero: it never fails politely), latches the
/// kill switch for a crash loop, and stops the host.
/// </summary>
public abstract class PipelineService(RunContext run, Supervisor supervisor) : BackgroundService
{
    /// <summary>The service's name in logs and faults.</summary>
    protected abstract string ServiceName { get; }

    /// <summary>The run.</summary>
    protected RunContext Run => run;

    private volatile bool _running;

    /// <summary>True while the service body runs (heartbeats are only expected then).</summary>
    public bool IsRunning => _running;

    /// <summary>The service body. Called again after a fault when <see cref="Restartable"/>.</summary>
    protected abstract Task RunAsync(CancellationToken stoppingToken);

    /// <summary>Whether the body may be run again after a fault. Default true.</summary>
    protected virtual bool Restartable => true;

    /// <inheritdoc />
    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _running = true;
        try
        {
            await supervisor.RunAsync(ServiceName, RunAsync, Restartable, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Orderly stop.
        }
        finally
        {
            _running = false;
        }
    }
}
