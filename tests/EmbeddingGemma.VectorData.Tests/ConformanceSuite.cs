using System.Linq.Expressions;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace EmbeddingGemma.VectorData.Tests;

/// <summary>
/// One conformance suite run against the SQLite connector and against the in-memory reference store. Every
/// expectation comes from an oracle computed here (brute force over the test data in double precision, LINQ to
/// objects for filters, <see cref="EmbeddingGemmaModel.Encode(string, EncodeOptions?)"/> for texts), so passing on both stores
/// means they agree: same keys, same order, scores within <see cref="ScoreTolerance"/>.
/// </summary>
public abstract class ConformanceSuite : IDisposable
{
    /// <summary>Absolute score tolerance: float32 SIMD sums against the double-precision oracle, unit-scale vectors.</summary>
    protected const double ScoreTolerance = 1e-5;

    private readonly List<IDisposable> _owned = [];

    protected abstract VectorStore CreateStore(EmbeddingGemmaModel? model);

    protected VectorStore Store(EmbeddingGemmaModel? model = null)
    {
        var s = CreateStore(model);
        _owned.Add(s);
        return s;
    }

    public void Dispose()
    {
        foreach (var d in _owned.AsEnumerable().Reverse())
        {
            d.Dispose();
        }
        GC.SuppressFinalize(this);
    }

    private async Task<VectorStoreCollection<string, Hotel>> Hotels(VectorStore store)
    {
        var c = store.GetCollection<string, Hotel>("hotels");
        await c.EnsureCollectionExistsAsync();
        await c.UpsertAsync(Data.Hotels());
        return c;
    }

    private static List<(string Id, double Score)> OracleSearch(IEnumerable<Hotel> hotels, float[] q, string distance = DistanceFunction.CosineSimilarity, Func<Hotel, bool>? filter = null)
    {
        bool higher = distance is DistanceFunction.CosineSimilarity or DistanceFunction.DotProductSimilarity;
        var s = hotels.Where(h => filter is null || filter(h)).Select(h => (h.Id, Score: Oracle.Score(distance, q, h.Vector.ToArray())));
        return (higher ? s.OrderByDescending(x => x.Score) : s.OrderBy(x => x.Score)).ThenBy(x => x.Id, StringComparer.Ordinal).ToList();
    }

    private static void AssertSame(IReadOnlyList<(string Id, double Score)> expected, IReadOnlyList<(string Id, double? Score)> actual)
    {
        Assert.Equal(expected.Select(e => e.Id), actual.Select(a => a.Id));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(actual[i].Score is { } s && Math.Abs(s - expected[i].Score) <= ScoreTolerance,
                $"rank {i} ({expected[i].Id}): score {actual[i].Score} vs oracle {expected[i].Score}");
        }
    }

    private static async Task<List<(string Id, double? Score)>> Run<TR>(IAsyncEnumerable<VectorSearchResult<TR>> results, Func<TR, string> id) where TR : class
    {
        var list = new List<(string, double?)>();
        await foreach (var r in results)
        {
            list.Add((id(r.Record), r.Score));
        }
        return list;
    }

    [Fact]
    public async Task UpsertGetDeleteSingleAndBatch()
    {
        var c = await Hotels(Store());
        var h = await c.GetAsync("h05");
        Assert.NotNull(h);
        var src = Data.Hotels().Single(x => x.Id == "h05");
        Assert.Equal((src.Name, src.Rating, src.Price, src.Open, src.Category, src.Visits), (h.Name, h.Rating, h.Price, h.Open, h.Category, h.Visits));
        Assert.Equal(src.Tags, h.Tags);
        Assert.True(h.Vector.IsEmpty); // vectors only on request
        Assert.Null(await c.GetAsync("nope"));

        var batch = await c.GetAsync(["h02", "missing", "h11"]).ToListAsync();
        Assert.Equal(["h02", "h11"], batch.Select(b => b.Id).Order(StringComparer.Ordinal));
        var withVec = await c.GetAsync("h02", new RecordRetrievalOptions { IncludeVectors = true });
        Assert.Equal(src.Id == "h02" ? src.Vector.ToArray() : Data.Hotels()[1].Vector.ToArray(), withVec!.Vector.ToArray());

        // Upsert replaces.
        var changed = Data.Hotels()[0].Clone();
        changed.Name = "Alpine Lodge II";
        changed.Visits = null;
        changed.Tags = ["renamed"];
        await c.UpsertAsync(changed);
        var got = await c.GetAsync("h01");
        Assert.Equal(("Alpine Lodge II", (long?)null), (got!.Name, got.Visits));
        Assert.Equal(["renamed"], got.Tags);

        await c.DeleteAsync("h01");
        Assert.Null(await c.GetAsync("h01"));
        await c.DeleteAsync(["h02", "h03", "not-there"]);
        Assert.Empty(await c.GetAsync(["h02", "h03"]).ToListAsync());
        var rest = await Run(c.SearchAsync(Data.Query, 100), x => x.Id);
        Assert.Equal(9, rest.Count);
    }

    [Fact]
    public async Task SearchRanksByCosineWithTopSkipThresholdAndVectors()
    {
        var c = await Hotels(Store());
        var oracle = OracleSearch(Data.Hotels(), Data.Query);
        AssertSame(oracle.Take(5).ToList(), await Run(c.SearchAsync(Data.Query, 5), x => x.Id));
        AssertSame(oracle.Skip(3).Take(4).ToList(), await Run(c.SearchAsync(new ReadOnlyMemory<float>(Data.Query), 4, new() { Skip = 3 }), x => x.Id));
        AssertSame(oracle.Skip(10).ToList(), await Run(c.SearchAsync(Data.Query, 10, new() { Skip = 10 }), x => x.Id));
        AssertSame(oracle.Where(o => o.Score >= 0.5).ToList(), await Run(c.SearchAsync(Data.Query, 50, new() { ScoreThreshold = 0.5 }), x => x.Id));
        // The tie (h03 and h10 have one vector) is broken by key.
        var all = await Run(c.SearchAsync(Data.Query, 50), x => x.Id);
        Assert.True(all.FindIndex(x => x.Id == "h03") + 1 == all.FindIndex(x => x.Id == "h10"));

        var withVectors = await c.SearchAsync(Data.Query, 2, new() { IncludeVectors = true }).ToListAsync();
        foreach (var r in withVectors)
        {
            Assert.Equal(Data.Hotels().Single(h => h.Id == r.Record.Id).Vector.ToArray(), r.Record.Vector.ToArray());
        }
        var without = await c.SearchAsync(Data.Query, 2).ToListAsync();
        Assert.All(without, r => Assert.True(r.Record.Vector.IsEmpty));
    }

    public static TheoryData<string> FilterNames() => [.. Filters.Keys];

    private static readonly string[] Wanted = ["beach", "city"];
    private static readonly List<string?> Categories = ["luxury", "business"];

    private static readonly Dictionary<string, Expression<Func<Hotel, bool>>> Filters = new()
    {
        ["eq string"] = h => h.Category == "budget",
        ["ne string"] = h => h.Category != "budget",
        ["eq null"] = h => h.Category == null,
        ["ne null"] = h => h.Category != null,
        ["lt int"] = h => h.Rating < 3,
        ["gt double"] = h => h.Price > 100.0,
        ["le ge"] = h => h.Rating <= 4 && h.Rating >= 3,
        ["flipped"] = h => 200.0 < h.Price,
        ["nullable long gt"] = h => h.Visits > 900,
        ["not nullable long gt"] = h => !(h.Visits > 900),
        ["and"] = h => h.Open && h.Rating >= 4,
        ["or"] = h => h.Category == "luxury" || h.Price < 50,
        ["not"] = h => !h.Open,
        ["bool eq false"] = h => h.Open == false,
        ["tags contains"] = h => h.Tags.Contains("spa"),
        ["tags contains captured"] = h => h.Tags.Contains(Wanted[0]),
        ["captured list contains property"] = h => Categories.Contains(h.Category),
        ["captured array contains property"] = h => Wanted.Contains(h.Name) || new[] { "h04", "h07" }.Contains(h.Id),
        ["key eq"] = h => h.Id == "h08",
        ["complex"] = h => (h.Rating > 2 && !h.Tags.Contains("city")) || (h.Category == null && h.Price < 100.0),
        ["constant true"] = h => true,
    };

    [Theory]
    [MemberData(nameof(FilterNames))]
    public async Task SearchAndGetFilterLikeLinq(string name)
    {
        var c = await Hotels(Store());
        var filter = Filters[name];
        var f = filter.Compile();
        var oracle = OracleSearch(Data.Hotels(), Data.Query, filter: f);
        AssertSame(oracle, await Run(c.SearchAsync(Data.Query, 50, new() { Filter = filter }), x => x.Id));
        var got = await c.GetAsync(filter, 50).ToListAsync();
        Assert.Equal(Data.Hotels().Where(f).Select(h => h.Id).Order(StringComparer.Ordinal), got.Select(h => h.Id));
    }

    [Fact]
    public async Task GetWithFilterOrdersSkipsAndTakes()
    {
        var c = await Hotels(Store());
        var got = await c.GetAsync(h => h.Rating >= 2, 4, new FilteredRecordRetrievalOptions<Hotel>
        {
            Skip = 1,
            OrderBy = o => o.Descending(h => h.Rating).Ascending(h => h.Price),
        }).ToListAsync();
        var expected = Data.Hotels().Where(h => h.Rating >= 2).OrderByDescending(h => h.Rating).ThenBy(h => h.Price).ThenBy(h => h.Id, StringComparer.Ordinal).Skip(1).Take(4);
        Assert.Equal(expected.Select(h => h.Id), got.Select(h => h.Id));
    }

    public static TheoryData<string> Distances() =>
    [
        DistanceFunction.CosineSimilarity, DistanceFunction.DotProductSimilarity, DistanceFunction.EuclideanDistance,
        DistanceFunction.CosineDistance, DistanceFunction.EuclideanSquaredDistance, DistanceFunction.NegativeDotProductSimilarity,
    ];

    [Theory]
    [MemberData(nameof(Distances))]
    public async Task DefinitionRouteWithEachDistanceFunction(string distance)
    {
        var store = Store();
        var definition = new VectorStoreCollectionDefinition
        {
            Properties =
            [
                new VectorStoreKeyProperty(nameof(PlainDoc.Key), typeof(string)),
                new VectorStoreDataProperty(nameof(PlainDoc.Label), typeof(string)),
                new VectorStoreVectorProperty(nameof(PlainDoc.Vec), typeof(ReadOnlyMemory<float>), 4) { DistanceFunction = distance },
            ],
        };
        var c = store.GetCollection<string, PlainDoc>("plain-" + distance, definition);
        await c.EnsureCollectionExistsAsync();
        var hotels = Data.Hotels();
        await c.UpsertAsync(hotels.Select(h => new PlainDoc { Key = h.Id, Label = h.Name, Vec = h.Vector }));
        var oracle = OracleSearch(hotels, Data.Query, distance);
        AssertSame(oracle.Take(6).ToList(), await Run(c.SearchAsync(Data.Query, 6), x => x.Key));
        Assert.Equal("Harbor Hotel", (await c.GetAsync("h08"))!.Label);
    }

    [Fact]
    public async Task GuidIntAndLongKeys()
    {
        var store = Store();
        var guids = store.GetCollection<Guid, GuidDoc>("guids");
        await guids.EnsureCollectionExistsAsync();
        var g1 = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
        var g2 = Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7");
        await guids.UpsertAsync([new GuidDoc { Id = g1, Text = "one", Vector = [1, 0, 0] }, new GuidDoc { Id = g2, Text = "two", Vector = [0, 1, 0] }]);
        Assert.Equal("two", (await guids.GetAsync(g2))!.Text);
        var gs = await Run(guids.SearchAsync(new float[] { 0.1f, 1, 0 }, 1), x => x.Id.ToString());
        Assert.Equal(g2.ToString(), gs.Single().Id);
        Assert.Equal(["one"], (await guids.GetAsync(d => d.Id == g1, 5).ToListAsync()).Select(d => d.Text));

        var ints = store.GetCollection<int, IntDoc>("ints");
        await ints.EnsureCollectionExistsAsync();
        await ints.UpsertAsync(Enumerable.Range(1, 12).Select(i => new IntDoc { Id = i, Text = $"t{i}", Vector = new Embedding<float>(new float[] { i, 1, 0 }) }));
        Assert.Equal("t7", (await ints.GetAsync(7))!.Text);
        Assert.Equal([10, 11, 12], (await ints.GetAsync(d => d.Id > 9, 10).ToListAsync()).Select(d => d.Id).Order());
        var withVec = await ints.GetAsync(3, new() { IncludeVectors = true });
        Assert.Equal(new float[] { 3, 1, 0 }, withVec!.Vector!.Vector.ToArray());

        var longs = store.GetCollection<long, LongDoc>("longs");
        await longs.EnsureCollectionExistsAsync();
        long big = 5_000_000_000L;
        await longs.UpsertAsync([new LongDoc { Id = big, Group = 1, Vector = new float[] { 1, 2, 3 } }, new LongDoc { Id = -big, Group = 2, Vector = new float[] { 3, 2, 1 } }]);
        Assert.Equal(2, (await longs.GetAsync(-big))!.Group);
        var ls = await longs.SearchAsync(new float[] { 1, 2, 3 }, 2).ToListAsync();
        Assert.Equal([big, -big], ls.Select(r => r.Record.Id));
        Assert.Equal(1.0, ls[0].Score!.Value, 5);
    }

    [Fact]
    public async Task DynamicCollection()
    {
        var store = Store();
        var definition = new VectorStoreCollectionDefinition
        {
            Properties =
            [
                new VectorStoreKeyProperty("Id", typeof(string)),
                new VectorStoreDataProperty("Category", typeof(string)),
                new VectorStoreDataProperty("Rating", typeof(int)),
                new VectorStoreVectorProperty("Vector", typeof(ReadOnlyMemory<float>), 4),
            ],
        };
        var c = store.GetDynamicCollection("dyn", definition);
        await c.EnsureCollectionExistsAsync();
        var hotels = Data.Hotels();
        await c.UpsertAsync(hotels.Select(h => new Dictionary<string, object?> { ["Id"] = h.Id, ["Category"] = h.Category, ["Rating"] = h.Rating, ["Vector"] = h.Vector }));
        var one = await c.GetAsync("h06");
        Assert.Equal(("luxury", 4), ((string?)one!["Category"], (int)one["Rating"]!));
        var oracle = OracleSearch(hotels, Data.Query, filter: h => h.Category == "budget");
        AssertSame(oracle, await Run(c.SearchAsync(Data.Query, 20, new() { Filter = r => (string?)r["Category"] == "budget" }), r => (string)r["Id"]!));
        var oracle2 = OracleSearch(hotels, Data.Query, filter: h => h.Rating > 3);
        AssertSame(oracle2, await Run(c.SearchAsync(Data.Query, 20, new() { Filter = r => (int)r["Rating"]! > 3 }), r => (string)r["Id"]!));
    }

    [Fact]
    public async Task CollectionLifecycle()
    {
        var store = Store();
        var a = store.GetCollection<string, Hotel>("alpha");
        var b = store.GetCollection<string, Hotel>("beta");
        Assert.False(await a.CollectionExistsAsync());
        await Assert.ThrowsAsync<VectorStoreException>(() => a.UpsertAsync(Data.Hotels()[0]));
        await a.EnsureCollectionExistsAsync();
        await a.EnsureCollectionExistsAsync(); // idempotent
        await b.EnsureCollectionExistsAsync();
        Assert.True(await store.CollectionExistsAsync("alpha"));
        Assert.Equal(["alpha", "beta"], await store.ListCollectionNamesAsync().ToListAsync());
        await a.UpsertAsync(Data.Hotels());
        await b.UpsertAsync(Data.Hotels()[0]);
        Assert.Null(await b.GetAsync("h02")); // collections are separate
        await store.EnsureCollectionDeletedAsync("alpha");
        await store.EnsureCollectionDeletedAsync("alpha"); // idempotent
        Assert.False(await a.CollectionExistsAsync());
        Assert.Equal(["beta"], await store.ListCollectionNamesAsync().ToListAsync());
        await a.EnsureCollectionExistsAsync();
        Assert.Null(await a.GetAsync("h01")); // deleted means empty
        await b.EnsureCollectionDeletedAsync();
        Assert.Equal(["alpha"], await store.ListCollectionNamesAsync().ToListAsync());
    }

    [Fact]
    public async Task TextRecordsEmbeddedWithDocumentPromptAndTitleAndSearchedWithQueryPrompt()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var store = Store(model);
        var c = store.GetCollection<string, Article>("articles");
        await c.EnsureCollectionExistsAsync();
        var articles = Data.Articles();
        await c.UpsertAsync(articles);
        const string query = "什么是文本嵌入模型?";
        var q = model.Encode(query, EncodeOptions.Query);
        var docs = articles.ToDictionary(a => a.Id, a => model.Encode(a.Text, EncodeOptions.Document with { Title = a.Title }));
        var oracle = docs.Select(d => (d.Key, Score: Oracle.Cosine(q, d.Value))).OrderByDescending(x => x.Score).ThenBy(x => x.Key, StringComparer.Ordinal).ToList();
        AssertSame(oracle.Take(5).ToList(), await Run(c.SearchAsync(query, 5), a => a.Id));
        var zh = articles.Where(a => a.Lang == "zh").Select(a => a.Id).ToHashSet();
        AssertSame(oracle.Where(o => zh.Contains(o.Key)).ToList(), await Run(c.SearchAsync(query, 10, new() { Filter = a => a.Lang == "zh" }), a => a.Id));
        var got = await c.GetAsync("doc_4");
        Assert.Equal((articles[4].Title, articles[4].Text), (got!.Title, got.Text));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await c.SearchAsync(query, 1, new() { IncludeVectors = true }).ToListAsync());
    }
}

/// <summary>The suite on the SQLite connector.</summary>
public sealed class SqliteConnectorConformance : ConformanceSuite
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vd-conf-").FullName;

    protected override VectorStore CreateStore(EmbeddingGemmaModel? model) =>
        new EmbeddingGemmaVectorStore(Path.Combine(_dir, $"{Guid.NewGuid():N}.db"),
            new EmbeddingGemmaVectorStoreOptions { EmbeddingGenerator = model is null ? null : new EmbeddingGemmaGenerator(model) });
}

/// <summary>The suite on the in-memory reference store.</summary>
public sealed class ReferenceStoreConformance : ConformanceSuite
{
    protected override VectorStore CreateStore(EmbeddingGemmaModel? model) => new ReferenceVectorStore(model);
}
