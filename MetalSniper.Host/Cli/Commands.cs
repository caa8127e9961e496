using System.CommandLine;
using System.Diagnostics;
using MetalSniper.Core.MarketData;
using MetalSniper.Host.Configuration;
using MetalSniper.Persistence;
using MetalSniper.Engine.Pipeline;
using MetalSniper.Risk.Gates;
using MetalSniper.Sentinel;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Serilog.Events;
using MetalSniper.Engine.Configuration;
using MetalSniper.Host.Supervision;
using MetalSniper.Persistence.Journal;
using MetalSniper.Core.Money;

namespace MetalSniper.Host.Cli;

/// <summary>The command line: <c>run</c> (the service), <c>replay</c>, <c>sweep</c>, <c>check-config</c>, <c>bench</c> and the operator commands.</summary>
public static class Commands
{
    /// <summary>Builds the root command.</summary>
    public static RootCommand Build(TextWriter output, TextWriter error)
    {
        var config = new Option<string?>("--config") { Description = "Path of appsettings.json (default: ./appsettings.json, then the one beside the executable)" };
        var db = new Option<string?>("--db") { Description = "SQLite database file (overrides Persistence:DatabasePath)" };
        var verbose = new Option<bool>("--verbose") { Description = "Informational logs on the console (standard error) during a replay; without it only errors (trips and alerts go to the log file and the summary)" };
        var set = new Option<string[]>("--set")
        {
            Description = "Override a configuration key: --set Strategies:Metals:StopAtr=2.5 (repeatable; validated like appsettings.json, an unknown key is an error)",
            AllowMultipleArgumentsPerToken = false,
        };

        var root = new RootCommand("MetalSniper: an autonomous gold/silver trading system (see README.md)");

        var run = new Command("run", "Run the service until SIGTERM/Ctrl+C (with no broker configured: the simulated broker on a paced replay of the recorded data); preflight first") { config, db };
        run.SetAction((p, ct) => RunServiceAsync(new HostSettings(p.GetValue(config), RunMode.Service, p.GetValue(db)), output, error));
        root.Add(run);

        var preflight = new Command("preflight", "Check everything that must hold before the service trades, print every result, exit with the first failure's code") { config, db };
        preflight.SetAction(p =>
        {
            var settings = new HostSettings(p.GetValue(config), RunMode.Service, p.GetValue(db));
            var code = LoadValidated(settings, error, out var configuration);
            if (code != ExitCodes.Ok)
            {
                return code;
            }

            var sw = Stopwatch.StartNew();
            var checks = Supervision.Preflight.Run(configuration!, TimeProvider.System, modelParity: JudgeLoading.ModelParityCheck);
            output.WriteLine(Supervision.Preflight.Render(checks, sw.Elapsed));
            return Supervision.Preflight.ExitCode(checks);
        });
        root.Add(preflight);
        root.Add(AlertCommand.Build(config, output, error));

        var runIdOption = new Option<string?>("--run-id")
        {
            Description = "Give the replay this run id; the same command after a crash (or kill -9) resumes the unfinished run with that id and ends with the result an uninterrupted run would have had",
        };
        var reportOption = new Option<string?>("--report") { Description = "After the replay, write a self-contained HTML report of the backtest to this file (equity curve and drawdown, monthly P&L, costs, trips, trades)" };
        var summaryJson = new Option<string?>("--summary-json") { Description = "Also write the summary's figures as JSON to this file (machine-readable; what a sweep reads)" };
        var strategy = new Option<string>("--strategy")
        {
            Description = "metals (default): the metals strategy through the whole service on the intraday bars; dual-listing: the daily backtest of the configured pairs (section DualListing), naive beside honest",
            DefaultValueFactory = _ => "metals",
        };
        strategy.AcceptOnlyFromAmong("metals", "dual-listing");
        var replay = new Command("replay", "Push the whole recorded data set through the same services as fast as possible and print a summary") { config, db, verbose, runIdOption, set, summaryJson, reportOption, strategy };
        replay.SetAction(async (p, ct) =>
        {
            var runId = p.GetValue(runIdOption);
            if (runId is not null && !RunResume.IsValidRunId(runId))
            {
                error.WriteLine($"error: --run-id '{runId}' is not a valid run id (1-40 characters: letters, digits, '-', '_')");
                return ExitCodes.Usage;
            }

            if (!TryParseSettings(p.GetValue(set), error, out var extra))
            {
                return ExitCodes.Usage;
            }

            // The console shows errors only (standard error): trips and alerts go to the log file and the summary's trip section.
            var settings = new HostSettings(p.GetValue(config), RunMode.Replay, p.GetValue(db), p.GetValue(verbose) ? LogEventLevel.Information : LogEventLevel.Error, extra) { RunId = runId };
            if (p.GetValue(strategy) == "dual-listing")
            {
                if (p.GetValue(reportOption) is not null || p.GetValue(summaryJson) is not null)
                {
                    error.WriteLine("error: --report and --summary-json are for the metals replay; the dual-listing replay prints its report and records it in the database");
                    return ExitCodes.Usage;
                }

                return await DualListingReplay.RunAsync(settings, new Calendars.ExchangeCalendar(), TimeProvider.System, output, error, ct).ConfigureAwait(false);
            }

            var (code, summary) = await RunReplayAsync(settings, error, ct, showProgress: ReferenceEquals(output, Console.Out)).ConfigureAwait(false);
            if (summary is not null)
            {
                await output.WriteAsync(summary.Render()).ConfigureAwait(false);
                if (p.GetValue(summaryJson) is { } jsonPath)
                {
                    try
                    {
                        ReplayFigures.From(summary).WriteJson(jsonPath);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        error.WriteLine($"I/O error: the summary could not be written to '{jsonPath}': {e.Message}");
                        return ExitCodes.IoError;
                    }
                }

                if (code == ExitCodes.Ok && p.GetValue(reportOption) is { } report)
                {
                    code = await BacktestReport.WriteAsync(report, summary, settings, TimeProvider.System, output, error, ct).ConfigureAwait(false);
                }
            }

            return code;
        });
        root.Add(replay);

        var grid = new Option<string>("--grid") { Description = "The grid file (JSON: \"parameters\" key → list of values, or \"points\"; see README)", Required = true };
        var parallel = new Option<int>("--parallel") { Description = "Runs at once (default: the number of cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var outDirectory = new Option<string?>("--out") { Description = "Directory for the runs and results (default: var/sweeps/<UTC time>); must be new or empty" };
        var sweep = new Command("sweep", "Replay every point of a parameter grid, each as its own child process (replay --set ...), up to --parallel at once; rank by net P&L")
            { grid, parallel, outDirectory, config };
        sweep.SetAction((p, ct) => Sweep.RunAsync(new SweepRequest(p.GetValue(grid)!, p.GetValue(parallel), p.GetValue(outDirectory), p.GetValue(config)), TimeProvider.System,
            output, error, ct));
        root.Add(sweep);

        var check = new Command("check-config", "Validate the configuration and print every error") { config, set };
        check.SetAction(p =>
        {
            if (!TryParseSettings(p.GetValue(set), error, out var extra))
            {
                return ExitCodes.Usage;
            }

            var code = LoadValidated(new HostSettings(p.GetValue(config), RunMode.Replay, ExtraSettings: extra), error, out _);
            if (code == ExitCodes.Ok)
            {
                output.WriteLine("configuration ok");
            }

            return code;
        });
        root.Add(check);

        var runs = new Option<int>("--runs") { Description = "Repetitions of each figure (the median is reported)", DefaultValueFactory = _ => 5 };
        var benchSets = new Option<string[]>("--data-set")
        {
            Description = "Data set(s) to replay: " + string.Join(", ", BenchDataSet.Defaults.Select(d => d.Name)) + " (default: all)",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<string?>("--json") { Description = "Write the results as JSON to this file" };
        var sentinelBench = new Option<bool>("--sentinel") { Description = "Measure sentinel breach -> flatten latency, idle and loaded (PERFORMANCE.md #3) instead of throughput" };
        var samples = new Option<int>("--samples") { Description = "Samples per scenario for --sentinel", DefaultValueFactory = _ => 500 };
        var journalBench = new Option<bool>("--journal") { Description = "Measure the decision journal: durable append latency, entries/s, verify speed (PERFORMANCE.md #4)" };
        var bench = new Command("bench", "Measure full-pipeline replay throughput on the real data against a same-run parse-only baseline (PERFORMANCE.md #1); with --sentinel the sentinel's flatten latency (#3); with --journal the journal (#4)")
            { config, runs, benchSets, json, sentinelBench, samples, journalBench };
        bench.SetAction((p, ct) => p.GetValue(journalBench) ? JournalBench.RunAsync(100_000, p.GetValue(json), output, ct)
            : p.GetValue(sentinelBench)
            ? SentinelBench.RunAsync(new HostSettings(p.GetValue(config), RunMode.Service, null, LogEventLevel.Error), p.GetValue(samples), p.GetValue(json), output, error, ct)
            : Bench.RunAsync(new HostSettings(p.GetValue(config), RunMode.Replay, null, LogEventLevel.Error), p.GetValue(runs), p.GetValue(benchSets), p.GetValue(json), output, error, ct));
        root.Add(bench);

        var datasetOut = new Option<string>("--out") { Description = "Directory of the dataset (entry.csv, exit.csv, add.csv, dataset.json)", Required = true };
        var datasetSet = new Option<string>("--data-set") { Description = "Data set to replay: " + string.Join(", ", BenchDataSet.Defaults.Select(d => d.Name)), DefaultValueFactory = _ => "metals-m15" };
        var fromDb = new Option<string?>("--from-db") { Description = "Read an existing run from this trading database instead of replaying" };
        var datasetRun = new Option<string?>("--run-id") { Description = "With --from-db: the run to read (default: the latest)" };
        var dataset = new Command("dataset", "Build the judges' dataset: replay with every judge off and exit reviews recorded, label entries, adds and exits net of costs, refuse any leak by rule (exit 65)")
            { config, db, set, datasetOut, datasetSet, fromDb, datasetRun };
        dataset.SetAction(async (p, ct) =>
        {
            if (!TryParseSettings(p.GetValue(set), error, out var extra))
            {
                return ExitCodes.Usage;
            }

            var settings = new HostSettings(p.GetValue(config), RunMode.Replay, p.GetValue(db), LogEventLevel.Error, extra);
            return await JudgesCommands.DatasetAsync(settings, p.GetValue(datasetSet)!, p.GetValue(datasetOut)!, p.GetValue(fromDb), p.GetValue(datasetRun), TimeProvider.System, output, error, ct).ConfigureAwait(false);
        });
        root.Add(dataset);

        var trainJudge = new Option<string>("--judge") { Description = "entry, exit or add", Required = true };
        trainJudge.AcceptOnlyFromAmong("entry", "exit", "add");
        var trainDataset = new Option<string>("--dataset") { Description = "A dataset directory written by 'metalsniper dataset'", Required = true };
        var registryOption = new Option<string>("--registry") { Description = "The model registry (models/<judge>/v<n>/)", DefaultValueFactory = _ => "models" };
        var holdOut = new Option<DateTimeOffset?>("--hold-out-from") { Description = "Rows decided from this UTC time on are the final hold-out (untouched until the final report)" };
        var foldsOption = new Option<int>("--folds") { Description = "Walk-forward validation folds", DefaultValueFactory = _ => 4 };
        var embargoOption = new Option<TimeSpan>("--embargo") { Description = "Embargo after each training block", DefaultValueFactory = _ => TimeSpan.FromDays(2) };
        var train = new Command("train", "Train a judge on a dataset over purged, embargoed walk-forward folds; calibrate; report folds and the hold-out against the base rate; save the next version in the registry")
            { trainJudge, trainDataset, registryOption, holdOut, foldsOption, embargoOption };
        train.SetAction(p => JudgesCommands.Train(Enum.Parse<Judges.Registry.JudgeKind>(p.GetValue(trainJudge)!, ignoreCase: true), p.GetValue(trainDataset)!, p.GetValue(registryOption)!,
            p.GetValue(holdOut), p.GetValue(foldsOption), p.GetValue(embargoOption), TimeProvider.System, output, error));
        root.Add(train);

        var studyOut = new Option<string>("--out") { Description = "Directory for the datasets, registries and replays of the study", Required = true };
        var firstYear = new Option<int>("--first-test-year") { Description = "First test year of the hourly walk-forward", DefaultValueFactory = _ => 2020 };
        var walkForward = new Command("walk-forward", "The honest measurement: per test year, judges trained on earlier hourly data, replayed with and without them; then the 15-minute year as final hold-out")
            { config, set, studyOut, firstYear };
        walkForward.SetAction(async (p, ct) =>
        {
            if (!TryParseSettings(p.GetValue(set), error, out var extra))
            {
                return ExitCodes.Usage;
            }

            var settings = new HostSettings(p.GetValue(config), RunMode.Replay, null, LogEventLevel.Error, extra);
            return await JudgesCommands.WalkForwardAsync(settings, p.GetValue(studyOut)!, p.GetValue(firstYear), TimeProvider.System, output, error, ct).ConfigureAwait(false);
        });
        var reportDb = new Option<string>("--db") { Description = "The trading database of the run", Required = true };
        var reportRun = new Option<string?>("--run-id") { Description = "The run (default: the latest)" };
        var judgesReport = new Command("report", "What the judges (shadow or active) said in a run and what it was worth by the labels of what followed") { reportDb, reportRun };
        judgesReport.SetAction(p => JudgesCommands.Report(p.GetValue(reportDb)!, p.GetValue(reportRun), output, error));
        var promoteJudge = new Option<string>("--judge") { Description = "entry, exit or add", Required = true };
        promoteJudge.AcceptOnlyFromAmong("entry", "exit", "add");
        var promoteVersion = new Option<int>("--version") { Description = "The version to promote", Required = true };
        var minimum = new Option<int>("--min-verdicts") { Description = "Shadow verdicts of exactly this model the database must hold", DefaultValueFactory = _ => 200 };
        var promote = new Command("promote", "Promote a judge version after its shadow record (journaled); Judges:<judge>:Version=promoted then loads it")
            { config, promoteJudge, promoteVersion, reportDb, minimum, registryOption };
        promote.SetAction(async (p, ct) =>
        {
            var code = LoadValidated(new HostSettings(p.GetValue(config), RunMode.Service), error, out var configuration);
            return code != ExitCodes.Ok ? code : await JudgesCommands.PromoteAsync(configuration!, Enum.Parse<Judges.Registry.JudgeKind>(p.GetValue(promoteJudge)!, ignoreCase: true),
                p.GetValue(promoteVersion), p.GetValue(reportDb)!, p.GetValue(minimum), p.GetValue(registryOption)!, TimeProvider.System, output, error).ConfigureAwait(false);
        });
        root.Add(new Command("judges", "The judges' research and operation: walk-forward, report, promote") { walkForward, judgesReport, promote });

        var chainKey = new Option<string?>("--chain-key") { Description = "The chain key file (default: Persistence:ChainKeyFile, else chain.key in the database's directory when it exists)" };
        var level = new Option<int>("--level") { Description = "1: no new entries (exits run); 2: cancel entries and flatten everything", Required = true };
        var reason = new Option<string>("--reason") { Description = "Why (recorded in the halts store)", Required = true };
        var kill = new Command("kill", "Escalate the service's kill switch (latches until a confirmed resume; a running service applies it within a second)") { config, db, level, reason, chainKey };
        kill.SetAction(p => KillSwitchCommand(new HostSettings(p.GetValue(config), RunMode.Service, p.GetValue(db)), output, error, (ks, now) =>
        {
            var l = p.GetValue(level);
            if (l is < 1 or > 2)
            {
                error.WriteLine($"--level must be 1 or 2, was {l}");
                return ExitCodes.Usage;
            }

            var raised = ks.Escalate((Sentinel.Halts.KillLevel)l, "operator:cli", p.GetValue(reason)!, now);
            output.WriteLine(raised ? $"kill switch escalated to L{l}" : $"kill switch already latched at L{(int)ks.State.LatchedLevel} (≥ L{l}); nothing changed");
            return ExitCodes.Ok;
        }, p.GetValue(chainKey)));
        root.Add(kill);

        var confirm = new Option<string?>("--confirm") { Description = "The confirmation code shown by 'resume' without --confirm (proves you saw the current state)" };
        var resume = new Command("resume", "Lower the service's latched kill switch to L0: run once to see the state and the code, again with --confirm CODE") { config, db, reason, confirm, chainKey };
        resume.SetAction(p => KillSwitchCommand(new HostSettings(p.GetValue(config), RunMode.Service, p.GetValue(db)), output, error, (ks, now) =>
        {
            var killFile = Path.GetFullPath(LoadRisk(p.GetValue(config)).KillFilePath);
            if (File.Exists(killFile))
            {
                error.WriteLine($"the kill file {killFile} exists: remove it first (while it exists the service escalates again at once)");
                return ExitCodes.Usage;
            }

            var code = p.GetValue(confirm);
            if (code is null)
            {
                output.WriteLine($"to resume, run again with: --confirm {ks.State.ConfirmationCode}");
                return ExitCodes.Ok;
            }

            try
            {
                ks.Resume("operator:cli", p.GetValue(reason)!, code, now);
            }
            catch (InvalidOperationException e)
            {
                error.WriteLine("not resumed: " + e.Message);
                return ExitCodes.Usage;
            }

            output.WriteLine("kill switch resumed to L0");
            return ExitCodes.Ok;
        }, p.GetValue(chainKey)));
        root.Add(resume);

        var journalPath = new Option<string?>("--path") { Description = "The journal file (default: the service's, beside the database)" };
        var journal = new Command("journal", "The hash-chained decision journal");
        var verify = new Command("verify", "Verify the whole chain with the chain key; name the first entry that does not verify (exit 65; 78 without the key of keyed entries)") { config, db, journalPath, chainKey };
        verify.SetAction(p => VerifyJournal(new HostSettings(p.GetValue(config), RunMode.Service, p.GetValue(db)), p.GetValue(journalPath), p.GetValue(chainKey), output, error));
        journal.Add(verify);
        root.Add(journal);

        var halts = new Command("halts", "Verify the halts store's hash chain (with the chain key) against the journal and show the service's kill-switch state") { config, db, chainKey };
        halts.SetAction(p => KillSwitchCommand(new HostSettings(p.GetValue(config), RunMode.Service, p.GetValue(db)), output, error, (_, _) => ExitCodes.Ok, p.GetValue(chainKey)));
        root.Add(halts);

        var statusUrl = new Option<string?>("--url") { Description = "The operator window's address (default: Operator:Url)" };
        var status = new Command("status", "Ask the running service: readiness and why not, kill level, connection, P&L, counters, Telegram's health") { config, statusUrl };
        status.SetAction((p, ct) => StatusCommand.RunAsync(new HostSettings(p.GetValue(config), RunMode.Service), p.GetValue(statusUrl), output, error, ct));
        root.Add(status);
        return root;
    }


    /// <summary>
    /// Parses <c>--set KEY=VALUE</c> arguments (split at the first '='; the value may be empty). A later setting of the same key
    /// wins, as keys ignore case. Whether the key exists is for the configuration check, like any key of appsettings.json.
    /// </summary>
    internal static bool TryParseSettings(IReadOnlyList<string>? arguments, TextWriter error, out IReadOnlyDictionary<string, string?>? settings)
    {
        settings = null;
        if (arguments is not { Count: > 0 })
        {
            return true;
        }

        var parsed = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var argument in arguments)
        {
            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            var key = equals > 0 ? argument[..equals].Trim() : "";
            if (key.Length == 0)
            {
                error.WriteLine($"error: --set '{argument}' is not KEY=VALUE (e.g. --set Strategies:Metals:StopAtr=2.5)");
                return false;
            }

            parsed[key] = argument[(equals + 1)..];
        }

        settings = parsed;
        return true;
    }

    private static int VerifyJournal(HostSettings settings, string? path, string? keyFile, TextWriter output, TextWriter error)
    {
        var code = LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        var file = path is not null ? Path.GetFullPath(path) : JournalOptions.ServicePath(configuration!);
        try
        {
            var keyring = ChainKeys.ForTools(configuration!.GetSection(PersistenceOptions.SectionName).Get<PersistenceOptions>() ?? new PersistenceOptions(), keyFile);
            var v = Persistence.Journal.DecisionJournal.VerifyFile(file, keyring);
            var rate = v.Elapsed.TotalSeconds > 0 ? v.Entries / v.Elapsed.TotalSeconds : 0;
            if (v.KeyMissing)
            {
                error.WriteLine($"journal {file}: CANNOT VERIFY at sequence {v.FirstBadSequence}: {v.Problem}; {ChainKeys.MissingKeyAdvice}");
                return ExitCodes.Config;
            }

            if (v.IsIntact)
            {
                output.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"journal {file}: {v.Entries:N0} entries, chain intact ({v.Elapsed.TotalMilliseconds:0} ms, {rate:N0} entries/s)"));
                return ExitCodes.Ok;
            }

            output.WriteLine($"journal {file}: BROKEN at sequence {v.FirstBadSequence}: {v.Problem}");
            return ExitCodes.DataError;
        }
        catch (FileNotFoundException e)
        {
            error.WriteLine(e.Message);
            return ExitCodes.NoInput;
        }
        catch (SqliteException e)
        {
            error.WriteLine($"I/O error: {e.Message}");
            return ExitCodes.IoError;
        }
        catch (Sentinel.Halts.ChainKeyException e)
        {
            error.WriteLine($"configuration error: {ChainKeys.Setting}: {e.Message}");
            return ExitCodes.Config;
        }
    }

    private static RiskOptions LoadRisk(string? configPath)
    {
        var configuration = Composition.LoadConfiguration(new HostSettings(configPath, RunMode.Service));
        return configuration.GetSection(RiskOptions.SectionName).Get<RiskOptions>() ?? new RiskOptions();
    }

    /// <summary>
    /// Opens the service's kill switch from the halts store (verifying the whole chain with the chain key, and the store against the
    /// service's journal), runs <paramref name="action"/>, then prints the state. A chain that does not verify, or disagrees with the
    /// journal, exits 65 and names the first bad record; a keyed chain without its key exits 78 and says it cannot be verified.
    /// </summary>
    private static int KillSwitchCommand(HostSettings settings, TextWriter output, TextWriter error, Func<Sentinel.Halts.KillSwitch, DateTimeOffset, int> action, string? keyFile = null)
    {
        var code = LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        try
        {
            var persistence = configuration!.GetSection(PersistenceOptions.SectionName).Get<PersistenceOptions>() ?? new PersistenceOptions();
            var wall = TimeProvider.System;
            var database = Database.OpenExisting(persistence.DatabasePath, wall);
            var keyring = ChainKeys.ForTools(persistence, keyFile);
            using var store = new SqliteHaltStore(database, wall, keyring: keyring);
            var verification = store.Verify();
            if (verification.KeyMissing)
            {
                output.WriteLine($"halts store {database.Path}: CANNOT VERIFY at sequence {verification.FirstBadSequence}: {verification.Problem}");
                error.WriteLine(ChainKeys.MissingKeyAdvice);
                return ExitCodes.Config;
            }

            if (verification.IsIntact && HaltsJournalCrossCheck.Check(() => store.ReadSince(0), JournalOptions.ServicePath(configuration), KillSwitchScopes.Service, out _) is { } crossCheck)
            {
                verification = crossCheck;
            }

            output.WriteLine($"halts store {database.Path}: {verification.Records} record(s), chain {(verification.IsIntact ? "intact, in agreement with the journal" : $"BROKEN at sequence {verification.FirstBadSequence}: {verification.Problem}")}");
            if (!verification.IsIntact)
            {
                return ExitCodes.DataError;
            }

            var ks = Sentinel.Halts.KillSwitch.Restore(store, KillSwitchScopes.Service);
            var result = action(ks, wall.GetUtcNow());
            output.WriteLine(Engine.Services.KillSwitchService.Render(ks.State, wall.GetUtcNow()));
            return result;
        }
        catch (FileNotFoundException e)
        {
            error.WriteLine(e.Message);
            return ExitCodes.NoInput;
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"I/O error: {e.Message}");
            return ExitCodes.IoError;
        }
        catch (Sentinel.Halts.HaltStoreTamperedException e)
        {
            error.WriteLine(e.Message + (e.Verification.KeyMissing ? "; " + ChainKeys.MissingKeyAdvice : ""));
            return e.Verification.KeyMissing ? ExitCodes.Config : ExitCodes.DataError;
        }
        catch (Sentinel.Halts.ChainKeyException e)
        {
            error.WriteLine($"configuration error: {ChainKeys.Setting}: {e.Message}");
            return ExitCodes.Config;
        }
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
            // A JSON syntax error: the parser's position (0-based in System.Text.Json) as the line and column an editor shows.
            var json = e.InnerException as System.Text.Json.JsonException ?? e.InnerException?.InnerException as System.Text.Json.JsonException;
            error.WriteLine(json is { LineNumber: { } line }
                ? $"configuration error: {e.Message} line {line + 1}, column {(json.BytePositionInLine ?? 0) + 1}: {json.Message}"
                : $"configuration error: {e.Message}{(e.InnerException is { } inner ? " " + inner.Message : "")}");
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
            Sentinel.Halts.HaltStoreTamperedException { Verification.KeyMissing: true } => (ExitCodes.Config, "halts store keyed, no chain key"),
            Sentinel.Halts.HaltStoreTamperedException => (ExitCodes.DataError, "halts store tampered"),
            Persistence.Journal.JournalBrokenException { Verification.KeyMissing: true } => (ExitCodes.Config, "decision journal keyed, no chain key"),
            Sentinel.Halts.ChainKeyException => (ExitCodes.Config, "configuration error"),
            Persistence.Journal.JournalBrokenException => (ExitCodes.DataError, "decision journal broken"),
            RunIdConflictException => (ExitCodes.Usage, "run id conflict"),
            Backtest.BrokerRecoveryException => (ExitCodes.DataError, "simulated broker recovery failed"),
            DirectoryNotFoundException or FileNotFoundException => (ExitCodes.NoInput, "input missing"),
            SqliteException or IOException or UnauthorizedAccessException => (ExitCodes.IoError, "I/O error"),
            _ => (ExitCodes.Software, "start-up failed"),
        };
        error.WriteLine($"{what}: {e.Message}");
        return code;
    }

    private static async Task<int> RunServiceAsync(HostSettings settings, TextWriter output, TextWriter error)
    {
        var started = Stopwatch.StartNew();
        if (Microsoft.Extensions.Hosting.WindowsServices.WindowsServiceHelpers.IsWindowsService())
        {
            // Started by the Service Control Manager (sc.exe), whose working directory is %SystemRoot%\System32: relative paths
            // (appsettings.json, the database, the logs, the data) resolve beside the executable instead, as UseWindowsService() does
            // for the content root. nssm sets its own AppDirectory and is not detected as the SCM.
            Directory.SetCurrentDirectory(AppContext.BaseDirectory);
        }

        var code = LoadValidated(settings, error, out var configuration);
        if (code != ExitCodes.Ok)
        {
            return code;
        }

        // Preflight before anything is built: every result printed, the first failure's code returned and journaled.
        // An unreachable broker does not stop the start: the service waits for it, alerting (a broker that is down is transient).
        var checks = Supervision.Preflight.Run(configuration!, TimeProvider.System, waitForBroker: true, modelParity: JudgeLoading.ModelParityCheck);
        var preflightTime = started.Elapsed;
        code = Supervision.Preflight.ExitCode(checks);
        if (code != ExitCodes.Ok)
        {
            // A failed preflight is printed as its table (the host and its log do not exist yet); a passed one is one log line below.
            error.WriteLine(Supervision.Preflight.Render(checks, preflightTime));
            try
            {
                JournalPreflightFailure(configuration!, checks);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or SqliteException or InvalidOperationException)
            {
                error.WriteLine($"the failed preflight could not be journaled either: {e.Message}");
            }

            return code;
        }

        IHost? host = null;
        try
        {
            host = Composition.BuildHost(settings, configuration!);
            host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MetalSniper.Host.Supervision.Preflight").LogInformation("Preflight passed in {Ms} ms: {Checks}",
                (long)preflightTime.TotalMilliseconds, Supervision.Preflight.RenderLine(checks));
            await host.StartAsync(CancellationToken.None).ConfigureAwait(false);
            var identity = host.Services.GetRequiredService<BrokerIdentity>();
            if (identity.Waiting() is { } waiting)
            {
                host.Services.GetRequiredService<ILogger<RunContext>>().LogWarning(
                    "Service started {StartedMs} ms after start (preflight {PreflightMs} ms), NOT ready: {Waiting}", (long)started.Elapsed.TotalMilliseconds, (long)preflightTime.TotalMilliseconds, waiting);
            }
            else
            {
                host.Services.GetRequiredService<ILogger<RunContext>>().LogInformation(
                    "Service ready {ReadyMs} ms after start (preflight {PreflightMs} ms): {Broker}", (long)started.Elapsed.TotalMilliseconds, (long)preflightTime.TotalMilliseconds,
                    identity.Describe());
            }
        }
        catch (OperationCanceledException) when (host is not null && host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested)
        {
            // SIGTERM (or Ctrl+C) during start-up is a clean stop, not a fault: what started is stopped in order (the run stays
            // resumable) and the exit code is the run's.
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            var stopped = host.Services.GetRequiredService<RunContext>();
            host.Services.GetRequiredService<ILogger<RunContext>>().LogWarning("Stopped during start-up ({Ms} ms after start), before the service was ready", (long)started.Elapsed.TotalMilliseconds);
            host.Dispose();
            return ExitCodes.ForRun(stopped);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return StartupFailure(e.InnerException is { } inner && e is AggregateException ? inner : e, error);
        }

        await host.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        var run = host.Services.GetRequiredService<RunContext>();
        host.Dispose();
        return ExitCodes.ForRun(run);
    }

    /// <summary>A failed preflight is a RED alert in the journal when the journal itself is sound (it may be what failed).</summary>
    private static void JournalPreflightFailure(IConfiguration configuration, IReadOnlyList<Supervision.PreflightCheck> checks)
    {
        if (checks.FirstOrDefault(c => c.Name == "journal") is not { Ok: true })
        {
            return;
        }

        var path = JournalOptions.ServicePath(configuration);
        var failed = checks.Where(c => !c.Ok).Select(c => $"{c.Name}: {c.Detail}").ToArray();
        Persistence.Journal.DecisionJournal journal;
        try
        {
            // The journal's check passed with the keys the tools find (none: the journal is new or plain, and stays plain).
            var keyring = ChainKeys.ForTools(configuration.GetSection(PersistenceOptions.SectionName).Get<PersistenceOptions>() ?? new PersistenceOptions());
            journal = new Persistence.Journal.DecisionJournal(path, durable: true, 0, 64, TimeSpan.FromMinutes(1), TimeProvider.System, _ => { }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, keyring: keyring);
        }
        catch (Exception e) when (e is Sentinel.Halts.ChainKeyException or Persistence.Journal.JournalBrokenException)
        {
            // The failure is already printed; without a usable key nothing is written to a keyed journal.
            return;
        }

        try
        {
            journal.Append(JournalEntryKind.PreflightFailed, "", "", new { Failed = failed });
            journal.Append(JournalEntryKind.Alert, "Preflight", "", new Core.Alerts.Alert(Core.Alerts.AlertLevel.Red, "Preflight", "preflight failed: " + string.Join("; ", failed), TimeProvider.System.GetUtcNow()));
            journal.FlushAsync().GetAwaiter().GetResult();
        }
        finally
        {
            journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static string Progress(IServiceProvider sp)
    {
        var channels = sp.GetRequiredService<PipelineChannels>();
        return $"brain {sp.GetRequiredService<Engine.Services.SignalService>().Heartbeat}, hands {sp.GetRequiredService<Engine.Services.ExecutionService>().Heartbeat}, "
            + $"sentinel {sp.GetRequiredService<RiskSentinel>().Sweeps}, ingest done {sp.GetRequiredService<RunContext>().IngestCompleted.Task.IsCompleted}, "
            + $"bars queued {channels.Bars.Reader.Count}, commands queued {channels.Commands.Reader.Count}, risk lane empty {!channels.RiskCommands.Reader.TryPeek(out _)}, "
            + $"reports empty {!channels.Reports.Reader.TryPeek(out _)}, reports closed {channels.Reports.Reader.Completion.IsCompleted}, "
            + $"commands closed {channels.Commands.Reader.Completion.IsCompleted}";
    }

    /// <summary>The progress line (interactive terminals only): the brain's bars done and the share estimated from the replay source.</summary>
    private static ReplayProgressDisplay? StartProgressDisplay(IServiceProvider sp)
    {
        var run = sp.GetRequiredService<RunContext>();
        var source = sp.GetRequiredService<IMarketDataSource>() as Backtest.ReplayMarketDataSource;
        return ReplayProgressDisplay.StartIfInteractive(() => run.BarsProcessed,
            () => source is null ? null : ReplayProgressDisplay.PipelineFraction(source.FractionRead, source.RecordsYielded, run.BarsProcessed), TimeProvider.System);
    }

    /// <summary>Runs a replay to the end of the data and returns the exit code and summary.</summary>
    /// <param name="settings">What to replay.</param>
    /// <param name="error">Where failures are written.</param>
    /// <param name="cancellationToken">Stops the start-up.</param>
    /// <param name="showProgress">Show a progress line while the pipeline runs, when the console is an interactive terminal.</param>
    public static async Task<(int Code, ReplaySummary? Summary)> RunReplayAsync(HostSettings settings, TextWriter error, CancellationToken cancellationToken, bool showProgress = false)
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
            await using var display = showProgress ? StartProgressDisplay(host.Services) : null;
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
                    await (display?.StopAsync() ?? Task.CompletedTask).ConfigureAwait(false);
                    error.WriteLine($"replay stalled: no progress for {window.TotalSeconds:0} s ({progress})");
                    run.RecordFault("replay", new TimeoutException("replay stalled: " + progress));
                    break;
                }

                lastProgress = progress;
            }

            if (display is not null)
            {
                await display.StopAsync().ConfigureAwait(false);
            }

            var wall = stopwatch.Elapsed - startup;
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            if (run.DataError is { } dataError && run.Faults.Count == 0)
            {
                error.WriteLine($"data error: {dataError.Message}");
                return (ExitCodes.DataError, null);
            }

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

            var brokerCheck = ReplaySummary.CheckBroker(database, sp.GetRequiredService<Backtest.DurableSimulatedBroker>(), sp.GetRequiredService<RunResume>());
            if (!brokerCheck.PositionsAgree || brokerCheck.SubmittedTwice != 0)
            {
                error.WriteLine($"reconciliation with the simulated broker failed after the replay: ours {brokerCheck.Ours}, broker {brokerCheck.Theirs}, {brokerCheck.SubmittedTwice} client order id(s) submitted twice");
                return (ExitCodes.DataError, null);
            }

            var summary = ReplaySummary.From(run, sp.GetRequiredService<IngestCounters>(), sp.GetRequiredService<PreTradeGatePipeline>(), sp.GetRequiredService<RiskSentinel>(),
                sp.GetRequiredService<IMarketDataSource>().Name, database, wall, sp.GetRequiredService<AccountCurrency>(), sp.GetRequiredService<FxConverter>(),
                sp.GetRequiredService<Engine.Services.ExecutionService>().Marks, sp.GetRequiredService<Core.Instruments.IInstrumentCatalog>()) with
            {
                StartupTime = startup,
                DatabaseCheck = check,
                BrokerCheck = brokerCheck,
                HaltRecords = sp.GetRequiredService<SqliteHaltStore>().ReadSince(0).Where(r => r.Draft.Scope == run.RunId).ToList(),
                CappedByEnvelope = sp.GetRequiredService<Core.Orders.IOrderGateway>() is Backtest.DurableSimulatedBroker sim ? (sim.FillsCappedByEnvelope, sim.CostsCappedByEnvelope) : (0, 0m),
                Judges = sp.GetRequiredService<JudgeStatus>().Lines(),
            };
            return (ExitCodes.Ok, summary);
        }
    }
}
