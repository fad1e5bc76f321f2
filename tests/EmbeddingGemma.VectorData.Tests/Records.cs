using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace EmbeddingGemma.VectorData.Tests;

public sealed class Hotel
{
    [VectorStoreKey] public string Id { get; set; } = "";
    [VectorStoreData] public string Name { get; set; } = "";
    [VectorStoreData] public int Rating { get; set; }
    [VectorStoreData] public double Price { get; set; }
    [VectorStoreData] public bool Open { get; set; }
    [VectorStoreData] public string[] Tags { get; set; } = [];
    [VectorStoreData] public string? Category { get; set; }
    [VectorStoreData] public long? Visits { get; set; }
    [VectorStoreVector(4)] public ReadOnlyMemory<float> Vector { get; set; }

    public Hotel Clone() => (Hotel)MemberwiseClone();
}

public sealed class GuidDoc
{
    [VectorStoreKey] public Guid Id { get; set; }
    [VectorStoreData] public string Text { get; set; } = "";
    [VectorStoreVector(3)] public float[]? Vector { get; set; }
}

public sealed class IntDoc
{
    [VectorStoreKey] public int Id { get; set; }
    [VectorStoreData] public string Text { get; set; } = "";
    [VectorStoreVector(3)] public Embedding<float>? Vector { get; set; }
}

public sealed class LongDoc
{
    [VectorStoreKey] public long Id { get; set; }
    [VectorStoreData] public int Group { get; set; }
    [VectorStoreVector(3)] public ReadOnlyMemory<float> Vector { get; set; }
}

/// <summary>No attributes: mapped by a VectorStoreCollectionDefinition.</summary>
public sealed class PlainDoc
{
    public string Key { get; set; } = "";
    public string Label { get; set; } = "";
    public ReadOnlyMemory<float> Vec { get; set; }
}

/// <summary>A text record embedded by the store's generator with the document prompt and its title.</summary>
public sealed class Article
{
    [VectorStoreKey] public string Id { get; set; } = "";
    [VectorStoreData, DocumentTitle] public string? Title { get; set; }
    [VectorStoreData] public string Text { get; set; } = "";
    [VectorStoreData] public string Lang { get; set; } = "";
    [VectorStoreVector(64)] public string? Embedding { get; set; }
}

internal static class Data
{
    private static ReadOnlyMemory<float> V(params float[] x) => x;

    /// <summary>Twelve hotels with hand vectors; h03 and h10 share a vector (a tie broken by key).</summary>
    public static List<Hotel> Hotels() =>
    [
        new() { Id = "h01", Name = "Alpine Lodge", Rating = 4, Price = 120.5, Open = true, Tags = ["mountain", "spa"], Category = "resort", Visits = 1200, Vector = V(1, 0, 0, 0) },
        new() { Id = "h02", Name = "Beach House", Rating = 5, Price = 300, Open = true, Tags = ["beach", "pool"], Category = "resort", Visits = 5400, Vector = V(0.9f, 0.1f, 0, 0.2f) },
        new() { Id = "h03", Name = "City Inn", Rating = 3, Price = 80, Open = false, Tags = ["city"], Category = "budget", Visits = null, Vector = V(0.2f, 0.8f, 0.1f, 0) },
        new() { Id = "h04", Name = "Desert Camp", Rating = 2, Price = 45.25, Open = true, Tags = [], Category = null, Visits = 30, Vector = V(-0.5f, 0.5f, 0.5f, 0.5f) },
        new() { Id = "h05", Name = "Eagle Nest", Rating = 5, Price = 410, Open = true, Tags = ["mountain", "view"], Category = "luxury", Visits = 800, Vector = V(0.7f, -0.2f, 0.3f, 0.1f) },
        new() { Id = "h06", Name = "Fjord View", Rating = 4, Price = 210, Open = false, Tags = ["view", "spa"], Category = "luxury", Visits = 950, Vector = V(0.1f, 0.1f, 0.9f, 0.1f) },
        new() { Id = "h07", Name = "Garden Stay", Rating = 1, Price = 35, Open = true, Tags = ["garden"], Category = "budget", Visits = 12, Vector = V(0, 0, 0.3f, -1) },
        new() { Id = "h08", Name = "Harbor Hotel", Rating = 3, Price = 150, Open = true, Tags = ["city", "beach"], Category = "business", Visits = 2100, Vector = V(0.4f, 0.4f, 0.4f, 0.4f) },
        new() { Id = "h09", Name = "Island Hut", Rating = 4, Price = 95.75, Open = false, Tags = ["beach"], Category = "budget", Visits = 640, Vector = V(0.6f, 0.1f, -0.4f, 0.3f) },
        new() { Id = "h10", Name = "Jungle Inn", Rating = 3, Price = 80, Open = true, Tags = ["forest"], Category = "budget", Visits = 310, Vector = V(0.2f, 0.8f, 0.1f, 0) },
        new() { Id = "h11", Name = "Kelp Cove", Rating = 2, Price = 60, Open = true, Tags = ["beach", "diving"], Category = null, Visits = null, Vector = V(-0.3f, -0.3f, 0.2f, 0.9f) },
        new() { Id = "h12", Name = "Lake Palace", Rating = 5, Price = 520, Open = false, Tags = ["lake", "view", "spa"], Category = "luxury", Visits = 3000, Vector = V(0.8f, 0.3f, 0.2f, -0.1f) },
    ];

    public static readonly float[] Query = [0.8f, 0.3f, 0.1f, 0.1f];

    /// <summary>The article's ten documents (examples/search/article-docs.jsonl), with titles on some.</summary>
    public static List<Article> Articles()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "article-docs.jsonl");
        return File.ReadLines(path).Where(l => l.Length > 0).Select((l, i) =>
        {
            using var j = System.Text.Json.JsonDocument.Parse(l);
            var text = j.RootElement.GetProperty("text").GetString()!;
            return new Article
            {
                Id = j.RootElement.GetProperty("id").GetString()!,
                Title = i % 3 == 0 ? null : $"Title {i % 2}",
                Text = text,
                Lang = i % 2 == 0 ? "zh" : "zh-cn",
                Embedding = text,
            };
        }).ToList();
    }
}
