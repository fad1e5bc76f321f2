using System.CommandLine;
using EmbeddingGemma.Cli;

var root = new RootCommand("embeddinggemma: EmbeddingGemma-300M text embeddings on the CPU, in pure .NET.");
foreach (var command in CliCommands.All())
{
    root.Subcommands.Add(command);
}

return await CliErrors.RunAsync(root, args).ConfigureAwait(false);
