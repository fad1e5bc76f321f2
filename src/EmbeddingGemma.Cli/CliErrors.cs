using System.CommandLine;

namespace EmbeddingGemma.Cli;

/// <summary>
/// Runs the parsed command and turns every failure into one <c>error:</c> line on stderr and a documented exit code
/// (README, "Command-line reference and exit codes"): library errors by kind, I/O errors 3 (the message names the
/// path), anything else is a bug: <c>error: internal error: TYPE: MESSAGE</c>, exit 1, with the stack trace only when
/// <c>EMBEDDINGGEMMA_DEBUG=1</c>.
/// </summary>
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
            if (Commands.TrainCommand.HandlesTermination(parse))
            {
                // train: Ctrl+C / SIGTERM cancel the token, then the trainer writes a checkpoint before exiting 130.
                configuration.ProcessTerminationTimeout = Commands.TrainCommand.CheckpointOnCancelTimeout;
            }
            else if (Commands.ServeCommand.HandlesTermination(parse))
            {
                // serve's web host handles SIGTERM / SIGINT and drains (--drain-timeout); System.CommandLine's 2 s
                // process-termination timeout would end the process mid-drain.
                configuration.ProcessTerminationTimeout = null;
            }
            return await parse.InvokeAsync(configuration).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var (code, message) = Describe(e);
            await Console.Error.WriteLineAsync(message).ConfigureAwait(false);
            if (code == ExitCodes.InternalError && Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_DEBUG") == "1")
            {
                await Console.Error.WriteLineAsync(e.ToString()).ConfigureAwait(false);
            }
            return code;
        }
    }

    /// <summary>The exit code and the one stderr line for <paramref name="e"/>.</summary>
    internal static (int Code, string Line) Describe(Exception e)
    {
        // Parallel loops wrap the real error: report it (one of them) as if thrown directly.
        while (e is AggregateException { InnerExceptions.Count: >= 1 } a)
        {
            e = a.InnerExceptions[0];
        }
        return e switch
        {
            EmbeddingGemmaException g => (ExitCodes.For(g.Kind), $"error: {OneLine(g.Message)}"),
            OperationCanceledException => (ExitCodes.Cancelled, "error: cancelled"),
            // File and folder problems (missing, unreadable, unwritable, a folder for a file, disk full): exit 3 naming the path.
            FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException =>
                (ExitCodes.BadFile, $"error: {OneLine(e.Message)}"),
            _ => (ExitCodes.InternalError, $"error: internal error: {e.GetType().FullName}: {OneLine(e.Message)} (a bug: please report it; EMBEDDINGGEMMA_DEBUG=1 prints the stack trace)"),
        };
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
