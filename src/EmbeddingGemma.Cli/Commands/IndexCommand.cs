using System.CommandLine;
using EmbeddingGemma.Embeddings.Precision;
using EmbeddingGemma.Search;
using EmbeddingGemma.Search.Index;
using Spectre.Console;

namespace EmbeddingGemma.Cli.Commands;

/// <summary><c>embeddinggemma index --db FILE --model M --input docs.jsonl|folder</c>: add or update documents in a search index.</summary>
internal static class IndexCommand
{
    public static Command Create()
    {
        var db = new Option<string>("--db") { Description = "Index file (SQLite; created when missing).", Required = true };
        var model = new Option<string>("--model") { Description = "Model: a folder, .gguf or hub id; 'hash' or 'hash:DIM' for the model-free bag-of-words embedder.", Required = true };
        var input = new Option<string>("--input") { Description = "A .jsonl file ({id, title?, text, metadata?} per line) or a folder of .txt/.md files.", Required = true };
        var batch = new Option<int>("--batch-size") { Description = "Documents per transaction.", DefaultValueFactory = _ => 32 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens per chunk.", DefaultValueFactory = _ => 512 };
        var overlap = new Option<int>("--overlap") { Description = "Tokens shared by consecutive chunks.", DefaultValueFactory = _ => 64 };
        var dims = new Option<int?>("--dimensions") { Description = "Matryoshka size (768, 512, 256, 128); default the model's full size." };
        var precision = new Option<string?>("--precision")
        {
            Description = "Stored vectors: float32, or binary (sign bits in memory for a Hamming scan + int8 on disk for rescoring). Fixed when the index is created; default: what the file records (float32 for a new file).",
        };
        var command = new Command("index", "Add or update documents in a semantic search index (resumable: unchanged documents are skipped).");
        var threads = CliOptions.Threads();
        foreach (var o in new Option[] { db, model, input, batch, maxTokens, overlap, dims, precision, threads })
        {
            command.Options.Add(o);
        }
        command.SetAction(async (ParseResult p, CancellationToken ct) =>
        {
            var stored = p.GetValue(precision) is { } name ? EmbeddingPrecisions.Parse(name, "--precision") : (EmbeddingPrecision?)null;
            if (stored is { } sp && sp is not (EmbeddingPrecision.Float32 or EmbeddingPrecision.Binary))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"index --precision must be float32 or binary; got '{sp.Name()}'.");
            }
            var docs = DocumentReader.Read(p.GetValue(input)!).ToList();
            using var resolved = EmbeddingGeneratorFactory.Create(p.GetValue(model)!, CliModels.LoadOptions(p.GetValue(threads)));
            using var index = SemanticIndex.Open(p.GetValue(db)!, new SemanticIndexOptions { Warning = CliWarnings.Write, Precision = stored });
            var engine = new SemanticSearchEngine(index, resolved.Generator, new SemanticSearchEngineOptions
            {
                ModelSpec = resolved.ModelSpec,
                Warning = CliWarnings.Write,
                BatchSize = p.GetValue(batch),
                Dimensions = p.GetValue(dims),
                Chunking = resolved.Chunking(p.GetValue(maxTokens), p.GetValue(overlap)),
            });
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            IndexingResult? result = null;
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("indexing", maxValue: Math.Max(1, docs.Count));
                    result = await engine.IndexAsync(docs, new SyncProgress(x => task.Value = x.Processed), ct).ConfigureAwait(false);
                    task.Value = task.MaxValue;
                }).ConfigureAwait(false);
            var info = index.GetInfo();
            await Console.Error.WriteLineAsync(
                $"stored {result!.Stored}, unchanged {result.Unchanged}, chunks embedded {result.ChunksEmbedded}, chunks from cache {result.ChunksFromCache}; " +
                $"index {info.Path}: {info.Documents} documents, {info.Chunks} chunks, model {info.ModelId}, dimension {info.Dimension}, precision {info.Precision.Name()}").ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<IndexingProgress> report) : IProgress<IndexingProgress>
    {
        public void Report(IndexingProgress value) => report(value);
    }
}

/// <summary>Non-fatal warnings of the index/search commands: one "warning: ..." line on stderr each.</summary>
internal static class CliWarnings
{
    public static void Write(string message) => Console.Error.WriteLine($"warning: {message}");
}
