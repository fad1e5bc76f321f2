using System.CommandLine;

namespace EmbeddingGemma.Cli;

/// <summary>Every subcommand of the tool, one line each. Each command lives in Commands/NameCommand.cs.</summary>
internal static class CliCommands
{
    public static IEnumerable<Command> All()
    {
        yield return Commands.VersionCommand.Create();
        yield return Commands.DownloadCommand.Create();
        yield return Commands.EvalCommand.Create();
        yield return Commands.QuantizeCommand.Create();
    }
}
