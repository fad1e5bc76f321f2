using System.Linq.Expressions;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;
using Microsoft.Extensions.VectorData;

namespace EmbeddingGemma.VectorData.Tests;

/// <summary>
/// The SQLite connector and the in-memory reference store side by side on the same data: same keys, same order,
/// scores within 1e-5 (float32 SIMD vs double), for seeded random hand vectors under filters, and for the tiny
/// random model's embeddings.
/// </summary>
public sealed class AgreementTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vd-agree-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static List<Hotel> RandomHotels(int n, int seed)
    {
        var rng = new Random(seed);
        string[] cats = ["resort", "budget", "luxury", "business"];
        string[] tags = ["beach", "city", "spa", "view", "mountain", "pool"];
        return Enumerable.Range(0, n).Select(i => new Hotel
        {
            Id = $"r{i:D4}",
            Name = $"Hotel {i}",
            Rating = rng.Next(1, 6),
            Price = Math.Round(rng.NextDouble() * 500, 2),
            Open = rng.Next(2) == 0,
            Tags = tags.Where(_ => rng.Next(3) == 0).ToArray(),
            Category = rng.Next(5) == 0 ? null : cats[rng.Next(cats.Length)],
            Visits = rng.Next(4) == 0 ? null : rng.Next(0, 10_000),
            Vector = Enumerable.Range(0, 4).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(),
        }).ToList();
    }

    private static readonly Expression<Func<Hotel, bool>>[] Filters =
    [
        h => h.Open,
        h => h.Rating >= 4 && h.Category != "budget",
        h => h.Tags.Contains("beach") || h.Visits < 500,
        h => !(h.Price > 250.0) && h.Category != null,
    ];

    private static async Task<List<(string Id, double Score)>> Search(VectorStore store, List<Hotel> hotels, float[] q, Expression<Func<Hotel, bool>>? filter, int top, int skip)
    {
        var c = store.GetCollection<string, Hotel>("h");
        return await c.SearchAsync(q, top, new() { Filter = filter, Skip = skip }).Select(r => (r.Record.Id, r.Score!.Value)).ToListAsync();
    }

    [Fact]
    public async Task RandomHandVectorsUnderFiltersAgree()
    {
        var hotels = RandomHotels(300, seed: 11);
        using var ours = new EmbeddingGemmaVectorStore(Path.Combine(_dir, "a.db"));
        using var reference = new ReferenceVectorStore();
        foreach (var s in new VectorStore[] { ours, reference })
        {
            var c = s.GetCollection<string, Hotel>("h");
            await c.EnsureCollectionExistsAsync();
            await c.UpsertAsync(hotels.Select(h => h.Clone()));
        }
        var rng = new Random(5);
        for (int trial = 0; trial < 12; trial++)
        {
            var q = Enumerable.Range(0, 4).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var filter = trial % 5 == 4 ? null : Filters[trial % 4];
            int top = 1 + rng.Next(20), skip = rng.Next(5);
            var a = await Search(ours, hotels, q, filter, top, skip);
            var b = await Search(reference, hotels, q, filter, top, skip);
            Assert.NotEmpty(a);
            Assert.Equal(b.Select(x => x.Id), a.Select(x => x.Id));
            Assert.All(a.Zip(b), p => Assert.True(Math.Abs(p.First.Score - p.Second.Score) <= 1e-5, $"{p.First} vs {p.Second}"));
        }
    }

    [Fact]
    public async Task TinyModelEmbeddingsAgree()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.GgufPath);
        using var ours = new EmbeddingGemmaVectorStore(Path.Combine(_dir, "b.db"), new() { EmbeddingGenerator = new EmbeddingGemmaGenerator(model) });
        using var reference = new ReferenceVectorStore(model);
        var results = new List<List<(string, double)>>();
        foreach (var s in new VectorStore[] { ours, reference })
        {
            var c = s.GetCollection<string, Article>("a");
            await c.EnsureCollectionExistsAsync();
            await c.UpsertAsync(Data.Articles());
            results.Add(await c.SearchAsync("深度学习和神经网络", 10).Select(r => (r.Record.Id, r.Score!.Value)).ToListAsync());
        }
        Assert.Equal(10, results[0].Count);
        Assert.Equal(results[1].Select(x => x.Item1), results[0].Select(x => x.Item1));
        Assert.All(results[0].Zip(results[1]), p => Assert.True(Math.Abs(p.First.Item2 - p.Second.Item2) <= 1e-5));
    }
}
