using System.CommandLine;
using EmbeddingGemma.Cli;

// every --model that is a Hugging Face id or an Ollama name resolves through ModelLocator, with download progress on stderr
EmbeddingGemma.Embeddings.EmbeddingGemmaModel.DefaultHubResolver = EmbeddingGemma.Cli.Commands.DownloadCommand.ResolveModelWithProgress;

var root = new RootCommand("embeddinggemma: EmbeddingGemma-300M text embeddings on the CPU, in pure .NET.");
foreach (var command in CliCommands.All())
{
    root.Subcommands.Add(command);
}

return await CliErrors.RunAsync(root, args).ConfigureAwait(false);
