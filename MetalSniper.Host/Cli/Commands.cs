using System.CommandLine;
using System.Diagnostics;
using MetalSniper.Core.MarketData;
using MetalSniper.Host.Configuration;
using MetalSniper.Host.Persistence;
using MetalSniper.Host.Pipeline;
using MetalSniper.Risk.Gates;
using MetalSniper.Risk.Sentinel;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Serilog.Events;

namespace MetalSniper.Host.Cli;

/// <summary>The command line: <c>run</c> (the service), <c>replay</c>, <c>check-config</c>, <c>bench</c>.</summary>
public static class Commands
{
    /// <summary>Builds the root command.</summary>
    public static RootCommand Build(TextWriter output, TextWriter error)
    {
        var config = new Option<string?>("--config") { Description = "Path of appsettings.json (default: ./appsettings.json, then the one beside the executable)" };
        var db = new Option<string?>("--db") { Description = "SQLite database file (overrides Persistence:DatabasePath)" };
        var verbose = new Option<bool>("--verbose") { Description = "Informational logs on the console during a replay" };

        var root = new RootCommand("MetalSniper: an autonomous gold/silver trading system (see README.md)");

        var run = new Command("run", "Run the service until SIGTERM/Ctrl+C (with no broker configured: the simulated broker on a paced replay of the recorded data)") { config, db };
        run.SetAction((p, ct) => RunServiceAsync(new HostSettings(p.GetValue(config), RunMode.Service, p.GetValue(db)), error));
        root.Add(run);

        var replay = new Command("replay", "Push the whole recorded data set through the same services as fast as possible and print a summary") { config, db, verbose };
        replay.SetAction(async (p, ct) =>
        {
            var settings = new HostSettings(p.GetValue(config), RunMode.Replay, p.GetValue(db), p.GetValue(verbose) ? LogEventLevel.Information : LogEventLevel.Warning);
            var (code, summary) = await RunReplayAsync(settings, error, ct).ConfigureAwait(false);
            if (summary is not null)
            {
                await output.WriteAsync(summary.Render()).ConfigureAwait(false);
            }

            return code;
        });
        root.Add(replay);

        var check = new Command("check-config", "Validate the configuration and print every error") { config };
        check.SetAction(p =>
        {
            var code = LoadValidated(new HostSettings(p.GetValue(config), RunMode.Replay), error, out _);
            if (code == ExitCodes.Ok)
            {
                output.WriteLine("configuration ok");
            }

            return code;
        });
        root.Add(check);

        var runs = new Option<int>("--runs") { Description = "Repetitions of each scenario (median reported)", DefaultValueFactory = _ => 3 };
        var json = new Option<string?>("--json") { Description = "Write the results as JSON to this file" };
        var bench = new Command("bench", "Measure full-pipeline replay throughput on the real data (PERFORMANCE.md #1) and print the figures") { config, runs, json };
        bench.SetAction((p, ct) => Bench.RunAsync(new HostSettings(p.GetValue(config), RunMode.Replay, null, LogEventLevel.Error), p.GetValue(runs), p.GetValue(json), output, error, ct));
        root.Add(bench);
        return root;
    }

    /// <summary>Loads and validates configuration; prints every error. Returns an exit code.</summary>
    public static int LoadValidated(HostSettings settings, TextWriter error, out IConfigurationRoot? configuration)
    {
        configuration = null;
        try
        {
            configuration = Composition.LoadConfiguration(settings);
        }
        catch (FileNotFoundException e)
        {
            error.WriteLine($"configuration error: {e.Message}");
            return ExitCodes.Config;
        }
        catch (InvalidDataException e)
        {
            error.WriteLine($"configuration error: {e.Message}");
            return ExitCodes.Config;
        }

        var errors = ConfigurationCheck.Validate(configuration);
        if (errors.Count == 0)
        {
            return ExitCodes.Ok;
        }

        error.WriteLine($"configuration has {errors.Count} error(s):");
        foreach (var e in errors)
        {
            error.WriteLine("  " + e);
        }

        return ExitCodes.Config;
    }

    /// <summary>Maps a start-up failure to an exit code and prints it.</summary>
    public static int StartupFailure(Exception e, TextWriter error)
    {
        var (code, what) = e switch
        {
            OptionsValidationException => (ExitCodes.Config, "configuration error"),
            DirectoryNotFoundException or FileNotFoundException => (ExitCodes.NoInput, "input missing"),
            SqliteException or IOException or UnauthorizedAccessException => (ExitCodes.IoError, "I/O error"),
            _ => (ExitCodes.Software, "start-up failed"),
        };
        error.WriteLine($"{what}: {e.Message}");
        return code;
    }

    private static async Task<int> RunServiceAsync(HostSettings settings, TextWriter error)
    {
        var code = LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        IHost host;
        try
        {
            host = Composition.BuildHost(settings, configuration!);
            await host.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return StartupFailure(e.InnerException is { } inner && e is AggregateException ? inner : e, error);
        }

        await host.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        var run = host.Services.GetRequiredService<RunContext>();
        host.Dispose();
        return run.Faults.Count == 0 ? ExitCodes.Ok : ExitCodes.Software;
    }

    private static string Progress(IServiceProvider sp)
    {
        var channels = sp.GetRequiredService<PipelineChannels>();
        return $"brain {sp.GetRequiredService<Services.SignalService>().Heartbeat}, hands {sp.GetRequiredService<Services.ExecutionService>().Heartbeat}, "
            + $"sentinel {sp.GetRequiredService<RiskSentinel>().Sweeps}, ingest done {sp.GetRequiredService<RunContext>().IngestCompleted.Task.IsCompleted}, "
            + $"bars queued {channels.Bars.Reader.Count}, commands queued {channels.Commands.Reader.Count}, risk lane empty {!channels.RiskCommands.Reader.TryPeek(out _)}, "
            + $"reports empty {!channels.Reports.Reader.TryPeek(out _)}, reports closed {channels.Reports.Reader.Completion.IsCompleted}, "
            + $"commands closed {channels.Commands.Reader.Completion.IsCompleted}";
    }

    /// <summary>Runs a replay to the end of the data and returns the exit code and summary.</summary>
    public static async Task<(int Code, ReplaySummary? Summary)> RunReplayAsync(HostSettings settings, TextWriter error, CancellationToken cancellationToken)
    {
        var code = LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return (code, null);
        }

        var stopwatch = Stopwatch.StartNew();
        IHost host;
        TimeSpan startup;
        try
        {
            host = Composition.BuildHost(settings, configuration!);
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            startup = stopwatch.Elapsed;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return (StartupFailure(e.InnerException is { } inner && e is AggregateException ? inner : e, error), null);
        }

        using (host)
        {
            var run = host.Services.GetRequiredService<RunContext>();
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
            var drained = run.PipelineDrained.Task;
            var stopping = Task.Delay(Timeout.Infinite, lifetime.ApplicationStopping);
            // A replay that stops moving is a failure, never a silent wait. The window allows for a paced replay.
            var pace = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.MarketDataOptions>>().Value.Replay.PaceBarsPerSecond;
            var window = TimeSpan.FromSeconds(pace > 0 ? Math.Max(5d, 10d / pace) : 5d);
            var lastProgress = Progress(host.Services);
            while (true)
            {
                var done = await Task.WhenAny(drained, stopping, Task.Delay(window, CancellationToken.None)).ConfigureAwait(false);
                if (done == drained || done == stopping)
                {
                    break;
                }

                var progress = Progress(host.Services);
                if (progress == lastProgress)
                {
                    error.WriteLine($"replay stalled: no progress for {window.TotalSeconds:0} s ({progress})");
                    run.RecordFault("replay", new TimeoutException("replay stalled: " + progress));
                    break;
                }

                lastProgress = progress;
            }

            var wall = stopwatch.Elapsed - startup;
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            if (run.Faults.Count > 0 || !drained.IsCompletedSuccessfully)
            {
                foreach (var (service, e) in run.Faults)
                {
                    error.WriteLine($"{service} failed: {e.Message}");
                }

                if (run.Faults.Count == 0)
                {
                    error.WriteLine("replay stopped before the data ended");
                }

                return (ExitCodes.Software, null);
            }

            var sp = host.Services;
            var database = sp.GetRequiredService<Database>();
            var check = ReplaySummary.CheckDatabase(database, run.RunId);
            if (check.Integrity != "ok" || check.OrphanFills != 0 || check.OrphanOrders != 0)
            {
                error.WriteLine($"database inconsistent after the replay: integrity '{check.Integrity}', {check.OrphanFills} fill(s) and {check.OrphanOrders} order(s) without their order/decision");
                return (ExitCodes.IoError, null);
            }

            var summary = ReplaySummary.From(run, sp.GetRequiredService<IngestCounters>(), sp.GetRequiredService<PreTradeGatePipeline>(), sp.GetRequiredService<RiskSentinel>(),
                sp.GetRequiredService<IMarketDataSource>().Name, database, wall) with
            {
                StartupTime = startup,
                DatabaseCheck = check,
                CappedByEnvelope = sp.GetRequiredService<Core.Orders.IOrderGateway>() is Core.Simulation.SimulatedOrderGateway sim ? (sim.FillsCappedByEnvelope, sim.CostsCappedByEnvelope) : (0, 0m),
            };
            return (ExitCodes.Ok, summary);
        }
    }
}
