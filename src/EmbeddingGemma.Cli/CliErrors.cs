using System.CommandLine;

namespace EmbeddingGemma.Cli;

/// <summary>Runs the parsed command and turns library errors into one clear line on stderr and an exit code.</summary>
internal static class CliErrors
{
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
        {
            // A bad command line is bad input (exit 2), reported as one error line per problem, like library errors.
            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync($"error: {error.Message}").ConfigureAwait(false);
            }
            return ExitCodes.InvalidInput;
        }
        try
        {
            var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
            if (Commands.ServeCommand.HandlesTermination(parse))
            {
                // serve's web host handles SIGTERM / SIGINT and drains (--drain-timeout); System.CommandLine's 2 s
                // process-termination timeout would end the process mid-drain.
                configuration.ProcessTerminationTimeout = null;
            }
            return await parse.InvokeAsync(configuration).ConfigureAwait(false);
        }
        catch (EmbeddingGemmaException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.For(e.Kind);
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("cancelled").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
        catch (FileNotFoundException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.BadFile;
        }
        catch (DirectoryNotFoundException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.BadFile;
        }
    }
}
