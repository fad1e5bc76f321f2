using System.CommandLine;
using System.Runtime.InteropServices;

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
        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        if (Commands.ServeCommand.HandlesTermination(parse))
        {
            // serve's web host handles SIGTERM / SIGINT and drains (--drain-timeout); System.CommandLine's 2 s
            // process-termination timeout would end the process mid-drain.
            return await InvokeAsync(parse, configuration, CancellationToken.None).ConfigureAwait(false);
        }
        // Every other command: Ctrl+C / SIGTERM cancel the command's token; a command that does not stop within the
        // grace period (blocked reading stdin, say) is ended here, still with one error: line and exit code 130.
        using var cancel = new CancellationTokenSource();
        var reported = 0;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            cancel.Cancel();
            _ = Task.Run(async () =>
            {
                await Task.Delay(CancelGrace).ConfigureAwait(false);
                if (Interlocked.Exchange(ref reported, 1) == 0)
                {
                    await Console.Error.WriteLineAsync(CancelledLine).ConfigureAwait(false);
                    await Console.Error.FlushAsync().ConfigureAwait(false);
                    Environment.Exit(ExitCodes.Cancelled);
                }
            });
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var code = await InvokeAsync(parse, configuration, cancel.Token, () => Interlocked.Exchange(ref reported, 1) == 0).ConfigureAwait(false);
        return code;
    }

    /// <summary>How long a cancelled command may take to stop by itself before the process ends.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(2);

    private const string CancelledLine = "error: cancelled";

    private static async Task<int> InvokeAsync(ParseResult parse, InvocationConfiguration configuration, CancellationToken token,
        Func<bool>? mayReport = null)
    {
        try
        {
            return await parse.InvokeAsync(configuration, token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var (code, message) = Describe(e);
            if (mayReport is null || mayReport())
            {
                await Console.Error.WriteLineAsync(message).ConfigureAwait(false);
                if (code == ExitCodes.InternalError && Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_DEBUG") == "1")
                {
                    await Console.Error.WriteLineAsync(e.ToString()).ConfigureAwait(false);
                }
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
            OperationCanceledException => (ExitCodes.Cancelled, CancelledLine),
            // File and folder problems (missing, unreadable, unwritable, a folder for a file, disk full): exit 3 naming the path.
            FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException =>
                (ExitCodes.BadFile, $"error: {OneLine(e.Message)}"),
            _ => (ExitCodes.InternalError, $"error: internal error: {e.GetType().FullName}: {OneLine(e.Message)} (a bug: please report it; EMBEDDINGGEMMA_DEBUG=1 prints the stack trace)"),
        };
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
