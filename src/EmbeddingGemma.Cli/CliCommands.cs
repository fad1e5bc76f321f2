using System.CommandLine;

namespace EmbeddingGemma.Cli;

/// <summary>Every subcommand of the tool, one line each. Each command lives in Commands/NameCommand.cs.</summary>
internal static class CliCommands
{
    public static IEnumerable<Command> All()
    {
        yield return Commands.VersionCommand.Create();
        yield return Commands.TokenizeCommand.Create();
        yield return Commands.EmbedCommand.Create();
        yield return Commands.InfoCommand.Create();
        yield return Commands.MakeModelCommand.Create();
        yield return Commands.ConvertCommand.Create();
        yield return Commands.DownloadCommand.Create();
        yield return Commands.EvalCommand.Create();
        yield return Commands.ServeCommand.Create();
        yield return Commands.IndexCommand.Create();
        yield return Commands.SearchCommand.Create();
        yield return Commands.ClusterCommand.Create();
        yield return Commands.QuantizeCommand.Create();
        yield return Commands.BenchCommand.Create();
        yield return Commands.TrainCommand.Create();
    }
}
