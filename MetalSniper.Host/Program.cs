using System.CommandLine;
using MetalSniper.Host.Cli;

var root = Commands.Build(Console.Out, Console.Error);
// The generic host owns SIGTERM/Ctrl+C (graceful drain); System.CommandLine must not kill the process first.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
