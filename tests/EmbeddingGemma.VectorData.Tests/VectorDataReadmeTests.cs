using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace EmbeddingGemma.VectorData.Tests;

/// <summary>The README quick start, on the tiny model (64 dimensions instead of 768).</summary>
public sealed class Note
{
    [VectorStoreKey] public string Id { get; set; } = "";
    [VectorStoreData, DocumentTitle] public string? Title { get; set; }
    [VectorStoreData] public string Text { get; set; } = "";
    [VectorStoreData] public string[] Tags { get; set; } = [];
    [VectorStoreData] public int Year { get; set; }
    [VectorStoreVector(64)] public string? Embedding { get; set; }
}

public sealed class VectorDataReadmeTests
{
    [Fact]
    public async Task QuickStart()
    {
        var db = Path.Combine(Path.GetTempPath(), $"notes-{Guid.NewGuid():N}.db");
        var printed = new List<string>();
        try
        {
            using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
            using var generator = new EmbeddingGemmaGenerator(model);
            using (VectorStore store = new EmbeddingGemmaVectorStore(db, new() { EmbeddingGenerator = generator }))
            {
                var notes = store.GetCollection<string, Note>("notes");
                await notes.EnsureCollectionExistsAsync();
                await notes.UpsertAsync([
                    new Note { Id = "mars", Title = "Mars", Text = "Mars is known as the Red Planet.", Tags = ["planet"], Year = 2024, Embedding = "Mars is known as the Red Planet." },
                    new Note { Id = "venus", Title = "Venus", Text = "Venus is the hottest planet.", Tags = ["planet"], Year = 2019, Embedding = "Venus is the hottest planet." },
                    new Note { Id = "apple", Title = "Fruit", Text = "Red apples are sweet.", Tags = ["food"], Year = 2024, Embedding = "Red apples are sweet." },
                ]);
                await foreach (var hit in notes.SearchAsync("Which planet is known as the Red Planet?", top: 3,
                                   new VectorSearchOptions<Note> { Filter = n => n.Tags.Contains("planet") && n.Year >= 2020 }))
                {
                    printed.Add($"{hit.Record.Id} {hit.Score:F3}");
                }
            }
            // Only "mars" passes the filter; its score is the cosine of the query-prompt and document-prompt (title Mars) vectors.
            var q = model.Encode("Which planet is known as the Red Planet?", EncodeOptions.Query);
            var d = model.Encode("Mars is known as the Red Planet.", EncodeOptions.Document with { Title = "Mars" });
            Assert.Equal([$"mars {Oracle.Cosine(q, d):F3}"], printed);
        }
        finally
        {
            foreach (var f in new[] { db, db + "-wal", db + "-shm" })
            {
                File.Delete(f);
            }
        }
    }
}
