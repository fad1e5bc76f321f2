using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace EmbeddingGemma.VectorData.Tests;

/// <summary>Counts the texts that reach the wrapped generator.</summary>
internal sealed class CountingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner) : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    private int _texts;
    private int _calls;

    public int Texts => _texts;
    public int Calls => _calls;

    public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = values.ToList();
        Interlocked.Add(ref _texts, list.Count);
        Interlocked.Increment(ref _calls);
        return base.GenerateAsync(list, options, cancellationToken);
    }
}

/// <summary>What only the SQLite connector does: persistence, the model fingerprint, the embedding cache, filter errors.</summary>
public sealed class SqliteConnectorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vd-sqlite-").FullName;

    private string NewPath() => Path.Combine(_dir, $"{Guid.NewGuid():N}.db");

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

    [Fact]
    public async Task ReopeningTheFileKeepsCollectionsAndRecords()
    {
        var path = NewPath();
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        List<(string, double?)> before;
        using (var store = new EmbeddingGemmaVectorStore(path, new() { EmbeddingGenerator = new EmbeddingGemmaGenerator(model) }))
        {
            var hotels = store.GetCollection<string, Hotel>("hotels");
            await hotels.EnsureCollectionExistsAsync();
            await hotels.UpsertAsync(Data.Hotels());
            var articles = store.GetCollection<string, Article>("articles");
            await articles.EnsureCollectionExistsAsync();
            await articles.UpsertAsync(Data.Articles());
            before = await articles.SearchAsync("嵌入模型", 10).Select(r => (r.Record.Id, r.Score)).ToListAsync();
        }
        using (var store = new EmbeddingGemmaVectorStore(path, new() { EmbeddingGenerator = new EmbeddingGemmaGenerator(model) }))
        {
            Assert.Equal(["articles", "hotels"], await store.ListCollectionNamesAsync().ToListAsync());
            var hotels = store.GetCollection<string, Hotel>("hotels");
            var h = await hotels.GetAsync("h12", new() { IncludeVectors = true });
            Assert.Equal(("Lake Palace", 520.0), (h!.Name, h.Price));
            Assert.Equal(Data.Hotels()[11].Vector.ToArray(), h.Vector.ToArray());
            var articles = store.GetCollection<string, Article>("articles");
            var after = await articles.SearchAsync("嵌入模型", 10).Select(r => (r.Record.Id, r.Score)).ToListAsync();
            Assert.Equal(before, after);
            Assert.Equal(0, store.EmbeddingsGenerated); // the search embedded only the query
        }
    }

    [Fact]
    public async Task ADifferentModelIsRefusedWithBothFingerprints()
    {
        var path = NewPath();
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        using (var store = new EmbeddingGemmaVectorStore(path, new() { EmbeddingGenerator = new EmbeddingGemmaGenerator(model) }))
        {
            var c = store.GetCollection<string, Article>("articles");
            await c.EnsureCollectionExistsAsync();
            await c.UpsertAsync(Data.Articles());
        }
        using var other = EmbeddingGemmaModel.Load(TinyModels.Get("tiny-seed43", seed: 43).Folder);
        Assert.NotEqual(model.Fingerprint, other.Fingerprint);
        using (var store = new EmbeddingGemmaVectorStore(path, new() { EmbeddingGenerator = new EmbeddingGemmaGenerator(other) }))
        {
            var e = Assert.Throws<EmbeddingGemmaException>(() => store.GetCollection<string, Article>("articles"));
            Assert.Contains("Model mismatch", e.Message, StringComparison.Ordinal);
            Assert.Contains(model.Fingerprint, e.Message, StringComparison.Ordinal);
            Assert.Contains(other.Fingerprint, e.Message, StringComparison.Ordinal);
            Assert.Equal(path, e.FilePath);
            // A new collection in the same file may use the other model.
            var fresh = store.GetCollection<string, Article>("articles-2");
            await fresh.EnsureCollectionExistsAsync();
            await fresh.UpsertAsync(Data.Articles().Take(2));
        }
        using (var store = new EmbeddingGemmaVectorStore(path, new() { EmbeddingGenerator = new EmbeddingGemmaGenerator(model) }))
        {
            Assert.Throws<EmbeddingGemmaException>(() => store.GetCollection<string, Article>("articles-2"));
            Assert.Equal(10, (await store.GetCollection<string, Article>("articles").GetAsync(a => true, 100).ToListAsync()).Count);
        }
    }

    [Fact]
    public async Task TheEmbeddingCacheAvoidsReEmbeddingUnchangedTexts()
    {
        var path = NewPath();
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var counting = new CountingGenerator(new EmbeddingGemmaGenerator(model));
        using (var store = new EmbeddingGemmaVectorStore(path, new() { EmbeddingGenerator = counting }))
        {
            var c = store.GetCollection<string, Article>("articles");
            await c.EnsureCollectionExistsAsync();
            await c.UpsertAsync(Data.Articles());
            Assert.Equal(10, counting.Texts);
            Assert.Equal(10, store.EmbeddingsGenerated);
            await c.UpsertAsync(Data.Articles());
            Assert.Equal(10, counting.Texts);
            Assert.Equal(10, store.EmbeddingCacheHits);
        }
        using (var store = new EmbeddingGemmaVectorStore(path, new() { EmbeddingGenerator = counting }))
        {
            var c = store.GetCollection<string, Article>("articles");
            var changed = Data.Articles();
            changed[3].Text = changed[3].Embedding = "一个新的文本";
            changed[5].Title = "another title"; // the title is part of the document prompt: re-embedded
            await c.UpsertAsync(changed);
            Assert.Equal(12, counting.Texts);
            Assert.Equal(8, store.EmbeddingCacheHits);
            // The stored vectors are those of the current texts.
            var q = model.Encode("一个新的文本", EncodeOptions.Query);
            var top = await c.SearchAsync("一个新的文本", 10).ToListAsync();
            var expected = model.Encode("一个新的文本", EncodeOptions.Document with { Title = changed[3].Title });
            var hit = top.Single(r => r.Record.Id == changed[3].Id);
            Assert.Equal(Oracle.Cosine(q, expected), hit.Score!.Value, 5);
        }
        var noCache = new CountingGenerator(new EmbeddingGemmaGenerator(model));
        using (var store = new EmbeddingGemmaVectorStore(path, new() { EmbeddingGenerator = noCache, UseEmbeddingCache = false }))
        {
            await store.GetCollection<string, Article>("articles").UpsertAsync(Data.Articles());
            Assert.Equal(10, noCache.Texts);
        }
    }

    [Fact]
    public async Task VectorPropertyDimensionsSelectAMatryoshkaSize()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        using var store = new EmbeddingGemmaVectorStore(NewPath(), new() { EmbeddingGenerator = new EmbeddingGemmaGenerator(model) });
        var definition = new VectorStoreCollectionDefinition
        {
            Properties =
            [
                new VectorStoreKeyProperty("Id", typeof(string)),
                new VectorStoreDataProperty("Title", typeof(string)),
                new VectorStoreDataProperty("Text", typeof(string)),
                new VectorStoreDataProperty("Lang", typeof(string)),
                new VectorStoreVectorProperty("Embedding", typeof(string), 32),
            ],
        };
        var c = store.GetCollection<string, Article>("small", new EmbeddingGemmaCollectionOptions { Definition = definition, TitleProperty = "Text" });
        await c.EnsureCollectionExistsAsync();
        var a = Data.Articles()[1];
        await c.UpsertAsync(a);
        var q = model.Encode("模型", EncodeOptions.Query with { Dimensions = 32 });
        var d = model.Encode(a.Text, EncodeOptions.Document with { Title = a.Text, Dimensions = 32 }); // TitleProperty = "Text"
        var hit = Assert.Single(await c.SearchAsync("模型", 5).ToListAsync());
        Assert.Equal(Oracle.Cosine(q, d), hit.Score!.Value, 5);
        Assert.Throws<ArgumentException>(() => store.GetCollection<string, Article>("bad", new EmbeddingGemmaCollectionOptions { TitleProperty = "Nope" }));
    }

    [Theory]
    [InlineData("StartsWith")]
    [InlineData("arithmetic")]
    [InlineData("two properties")]
    [InlineData("string length")]
    [InlineData("date compare")]
    public async Task UnsupportedFiltersThrowNotSupportedWithTheExpression(string which)
    {
        using var store = new EmbeddingGemmaVectorStore(NewPath());
        var c = store.GetCollection<string, Hotel>("hotels");
        await c.EnsureCollectionExistsAsync();
        await c.UpsertAsync(Data.Hotels());
        System.Linq.Expressions.Expression<Func<Hotel, bool>> filter = which switch
        {
            "StartsWith" => h => h.Name.StartsWith('A'),
            "arithmetic" => h => h.Rating + 1 > 3,
            "two properties" => h => h.Rating > h.Price,
            "string length" => h => h.Name.Length > 3,
            _ => h => h.Name == DateTime.UnixEpoch.ToString(),
        };
        if (which == "date compare")
        {
            // A value that does not read the record is evaluated once: allowed.
            Assert.Empty(await c.SearchAsync(Data.Query, 5, new() { Filter = filter }).ToListAsync());
            return;
        }
        var e = await Assert.ThrowsAsync<NotSupportedException>(async () => await c.SearchAsync(Data.Query, 5, new() { Filter = filter }).ToListAsync());
        Assert.Contains("is not supported by the EmbeddingGemma VectorData connector", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<NotSupportedException>(async () => await c.GetAsync(filter, 5).ToListAsync());
    }

    [Fact]
    public async Task BadInputsGiveClearErrors()
    {
        var path = NewPath();
        using (var store = new EmbeddingGemmaVectorStore(path))
        {
            var c = store.GetCollection<string, Hotel>("hotels");
            await c.EnsureCollectionExistsAsync();
            var bad = Data.Hotels()[0];
            bad.Vector = new float[] { 1, 2, 3 };
            var e = await Assert.ThrowsAsync<ArgumentException>(() => c.UpsertAsync(bad));
            Assert.Contains("3 dimensions", e.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentException>(async () => await c.SearchAsync(new float[] { 1, 2 }, 3).ToListAsync());
            bad.Vector = new float[] { 1, float.NaN, 0, 0 };
            Assert.Contains("non-finite", (await Assert.ThrowsAsync<ArgumentException>(() => c.UpsertAsync(bad))).Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentException>(async () => await c.SearchAsync(new float[] { 1, float.PositiveInfinity, 0, 0 }, 3).ToListAsync());
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await c.SearchAsync(Data.Query, 0).ToListAsync());
            await Assert.ThrowsAsync<NotSupportedException>(async () => await c.SearchAsync("text without a generator", 3).ToListAsync());
            var missing = store.GetCollection<string, Hotel>("missing");
            var ve = await Assert.ThrowsAsync<VectorStoreException>(async () => await missing.SearchAsync(Data.Query, 3).ToListAsync());
            Assert.Contains("EnsureCollectionExistsAsync", ve.Message, StringComparison.Ordinal);
            var quoted = new VectorStoreCollectionDefinition
            {
                Properties = [new VectorStoreKeyProperty("Id", typeof(string)), new VectorStoreDataProperty("a\"b", typeof(string))],
            };
            Assert.Contains("storage names cannot contain", Assert.Throws<NotSupportedException>(() => store.GetDynamicCollection("quoted", quoted)).Message, StringComparison.Ordinal);
            // Other odd names (dots, spaces, non-ASCII) are stored and filtered.
            var odd = store.GetDynamicCollection("odd", new VectorStoreCollectionDefinition
            {
                Properties = [new VectorStoreKeyProperty("Id", typeof(string)), new VectorStoreDataProperty("x.y z", typeof(string)), new VectorStoreDataProperty("名前", typeof(int))],
            });
            await odd.EnsureCollectionExistsAsync();
            await odd.UpsertAsync([new Dictionary<string, object?> { ["Id"] = "1", ["x.y z"] = "a", ["名前"] = 5 }, new Dictionary<string, object?> { ["Id"] = "2", ["x.y z"] = "b", ["名前"] = 7 }]);
            Assert.Equal(["2"], (await odd.GetAsync(r => (string?)r["x.y z"] == "b" && (int)r["名前"]! > 6, 10).ToListAsync()).Select(r => (string)r["Id"]!));
            // The same name with another record shape is refused.
            Assert.Throws<InvalidOperationException>(() => store.GetCollection<Guid, GuidDoc>("hotels"));
        }
        // The file is an index of the search family: SemanticIndex opens it.
        using (var index = SemanticIndex.Open(path))
        {
            Assert.Equal(0, index.GetInfo().Documents);
        }
        var notSqlite = NewPath();
        await File.WriteAllTextAsync(notSqlite, "this is not a database, just some text that is long enough");
        var fe = Assert.Throws<EmbeddingGemmaException>(() => new EmbeddingGemmaVectorStore(notSqlite));
        Assert.Contains(notSqlite, fe.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSampleIndexesTheArticleAndAnswersItsQuery()
    {
        var db = NewPath();
        var output = new StringWriter();
        var previous = Console.Out;
        int rc;
        Console.SetOut(output);
        try
        {
            rc = await VectorDataSample.Program.Main(["--model", TinyModels.Default.Folder, "--db", db, "--top", "3"]);
        }
        finally
        {
            Console.SetOut(previous);
        }
        Assert.Equal(0, rc);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("indexed 10 documents into collection 'article'", lines);
        // The first answer is the oracle's best document (query prompt vs document prompt, cosine).
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var q = model.Encode(VectorDataSample.Program.Query, EncodeOptions.Query);
        var best = Data.Articles().Select(a => (a.Id, a.Text, Score: Oracle.Cosine(q, model.Encode(a.Text, EncodeOptions.Document)))).MaxBy(x => x.Score);
        var first = lines.Single(l => l.StartsWith("1. ", StringComparison.Ordinal));
        Assert.StartsWith($"1. {best.Id}  {best.Score.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)}", first, StringComparison.Ordinal);
        Assert.Single(lines, l => l.StartsWith("3. ", StringComparison.Ordinal));
        Assert.Equal(2, await VectorDataSample.Program.Main([]));
    }
}
