using MetalSniper.Host.Pipeline;

namespace MetalSniper.Host.Services;

/// <summary>
/// Base of the pipeline's background services: a fault is logged as critical, recorded in the
/// <see cref="RunContext"/> (so the process exits non-zero: it never fails politely) and stops
/// the host.
/// </summary>
public abstract class PipelineService(RunContext run, IHostApplicationLifetime lifetime, ILogger logger) : BackgroundService
{
    /// <summary>The service's name in logs and faults.</summary>
    protected abstract string ServiceName { get; }

    /// <summary>The run.</summary>
    protected RunContext Run => run;

    private volatile bool _running;

    /// <summary>True while the service body runs (heartbeats are only expected then).</summary>
    public bool IsRunning => _running;

    /// <summary>The service body.</summary>
    protected abstract Task RunAsync(CancellationToken stoppingToken);

    /// <inheritdoc />
    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _running = true;
        try
        {
            await RunAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Orderly stop.
        }
        catch (Exception e)
        {
            run.RecordFault(ServiceName, e);
            logger.LogCritical(e, "{Service} failed; stopping the host", ServiceName);
            run.PipelineDrained.TrySetException(e);
            lifetime.StopApplication();
            throw;
        }
        finally
        {
            _running = false;
        }
    }
}
