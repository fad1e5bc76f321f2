// The article's retrieval example through Microsoft.Extensions.VectorData: index its ten documents, answer its query.
//   dotnet run --project examples/vectordata -- --model PATH [--db FILE] [--dimensions N] [--top K]
using System.Text.Json;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.VectorData;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace VectorDataSample;

/// <summary>One of the article's documents.</summary>
public sealed class ArticleDocument
{
    [VectorStoreKey]
    public string Id { get; set; } = "";

    [VectorStoreData]
    public string Text { get; set; } = "";

    /// <summary>The text again, as the input the store embeds (document prompt) when the record is upserted.</summary>
    [VectorStoreVector(768)]
    public string? Embedding { get; set; }
}

public static class Program
{
    /// <summary>The article's query ("What is a text embedding model?").</summary>
    public const string Query = "什么是文本嵌入模型?";

    public static async Task<int> Main(string[] args)
    {
        string? model = null, db = null, docs = null;
        int? dimensions = null;
        int top = 3;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--model": model = Next(); break;
                case "--db": db = Next(); break;
                case "--docs": docs = Next(); break;
                case "--dimensions": dimensions = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--top": top = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"error: unknown argument '{args[i]}'. Usage: --model PATH [--db FILE] [--docs FILE.jsonl] [--dimensions N] [--top K]");
                    return 2;
            }
        }
        if (model is null)
        {
            Console.Error.WriteLine("error: --model PATH is required (a model folder, .gguf or hub id).");
            return 2;
        }
        docs ??= Path.Combine(AppContext.BaseDirectory, "article-docs.jsonl");
        bool tempDb = db is null;
        db ??= Path.Combine(Path.GetTempPath(), $"vectordata-sample-{Guid.NewGuid():N}.db");

        using var gemma = EmbeddingGemmaModel.Load(model);
        using IEmbeddingGenerator<string, Embedding<float>> generator = new EmbeddingGemmaGenerator(gemma);
        int dims = dimensions ?? gemma.Dimensions;

        // The one line that picks the connector; the rest of the program is connector-neutral. For example:
        //   VectorStore store = new InMemoryVectorStore(new() { EmbeddingGenerator = generator });   // Microsoft.SemanticKernel.Connectors.InMemory
        //   VectorStore store = new QdrantVectorStore(new QdrantClient("localhost"), ownsClient: true, new() { EmbeddingGenerator = generator }); // ...Connectors.Qdrant
        // (Other connectors send no prompt names: EmbeddingGemma's query/document prompts are applied by this connector.)
        VectorStore store = new EmbeddingGemmaVectorStore(db, new() { EmbeddingGenerator = generator });
        try
        {
            // The record's attributes declare 768 dimensions; this definition sets the model's size (or a Matryoshka size).
            var definition = new VectorStoreCollectionDefinition
            {
                Properties =
                [
                    new VectorStoreKeyProperty(nameof(ArticleDocument.Id), typeof(string)),
                    new VectorStoreDataProperty(nameof(ArticleDocument.Text), typeof(string)),
                    new VectorStoreVectorProperty(nameof(ArticleDocument.Embedding), typeof(string), dims),
                ],
            };
            var collection = store.GetCollection<string, ArticleDocument>("article", definition);
            await collection.EnsureCollectionExistsAsync();

            var records = File.ReadLines(docs).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l =>
            {
                using var j = JsonDocument.Parse(l);
                var text = j.RootElement.GetProperty("text").GetString()!;
                return new ArticleDocument { Id = j.RootElement.GetProperty("id").GetString()!, Text = text, Embedding = text };
            }).ToList();
            await collection.UpsertAsync(records);
            Console.WriteLine($"model: {Path.GetFileName(gemma.Source.TrimEnd('/', '\\'))} ({dims} dimensions)");
            Console.WriteLine($"indexed {records.Count} documents into collection '{collection.Name}'");
            Console.WriteLine($"query: {Query}");
            int rank = 0;
            await foreach (var hit in collection.SearchAsync(Query, top))
            {
                Console.WriteLine($"{++rank}. {hit.Record.Id}  {hit.Score:F4}  {hit.Record.Text}");
            }
            return 0;
        }
        finally
        {
            store.Dispose();
            if (tempDb)
            {
                foreach (var f in new[] { db, db + "-wal", db + "-shm" })
                {
                    File.Delete(f);
                }
            }
        }
    }
}
