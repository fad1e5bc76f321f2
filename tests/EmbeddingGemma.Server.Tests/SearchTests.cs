using System.Net;
using System.Text.Json;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Search;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Server.Tests;

/// <summary>
/// An index built in the test with the tiny random model (through its own in-process load), served by a real server
/// started with SearchDatabase (= <c>serve --db</c>) and the same model folder.
/// </summary>
public sealed class SearchServerFixture : IAsyncLifetime
{
    internal static readonly SearchDocument[] Documents =
    [
        new("d1", "Text embedding models turn sentences into vectors.") { Title = "Embeddings", Metadata = new Dictionary<string, string> { ["lang"] = "en" } },
        new("d2", "Mars is known as the Red Planet for its reddish appearance.") { Metadata = new Dictionary<string, string> { ["lang"] = "en" } },
        new("d3", "文本嵌入模型把文本转换为向量。") { Title = "嵌入", Metadata = new Dictionary<string, string> { ["lang"] = "zh" } },
        new("d4", "SQLite stores the index in a single file with WAL journaling.") { Metadata = new Dictionary<string, string> { ["lang"] = "en" } },
        new("d5", "Cosine similarity compares the directions of two vectors.") { Metadata = new Dictionary<string, string> { ["lang"] = "en" } },
        new("d6", "向量检索按相似度返回最相关的文档。") { Metadata = new Dictionary<string, string> { ["lang"] = "zh" } },
    ];

    internal string Db { get; private set; } = null!;
    internal EmbeddingGemmaModel Model { get; private set; } = null!;
    internal SemanticIndex OracleIndex { get; private set; } = null!;
    internal SemanticSearchEngine Oracle { get; private set; } = null!;
    internal ServerHost Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var folder = TinyModels.Default.Folder;
        Db = Path.Combine(TestPaths.NewTempDir("eg-server-search"), "index.db");
        Model = EmbeddingGemmaModel.Load(folder); // the oracle's own load, independent of the server's
        var generator = new EmbeddingGemmaGenerator(Model);
        using (var writer = SemanticIndex.Open(Db))
        {
            await new SemanticSearchEngine(writer, generator).IndexAsync(Documents);
        }
        OracleIndex = SemanticIndex.Open(Db, new SemanticIndexOptions { ReadOnly = true });
        Oracle = new SemanticSearchEngine(OracleIndex, generator, new SemanticSearchEngineOptions { Dimensions = OracleIndex.Dimension });
        Server = await ServerHost.StartAsync(null!, o => { o.Model = folder; o.SearchDatabase = Db; }, loader: EmbeddingServer.LoadModel);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        OracleIndex.Dispose();
        Model.Dispose();
    }
}

public sealed class SearchTests : IClassFixture<SearchServerFixture>
{
    private readonly SearchServerFixture _f;
    public SearchTests(SearchServerFixture f) => _f = f;

    [Theory]
    [InlineData("exact", null)]
    [InlineData("funnel", null)]
    [InlineData("ann", null)]
    [InlineData("hybrid", null)]
    [InlineData("exact", "zh")]
    public async Task Http_results_equal_in_process_engine(string mode, string? lang)
    {
        const string query = "什么是文本嵌入模型?";
        var filter = lang is null ? null : new Dictionary<string, string> { ["lang"] = lang };
        var response = await _f.Server.PostAsync("/search", new { query, top_k = 4, mode, filter });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json.ReadAsync(response);
        var expected = await _f.Oracle.SearchAsync(query, new SearchOptions { TopK = 4, Mode = SearchService.ParseMode(mode), Filter = filter });
        Assert.Equal(mode, body.GetProperty("mode").GetString());
        Assert.Equal(query, body.GetProperty("query").GetString());
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Count, results.Length);
        for (int i = 0; i < results.Length; i++)
        {
            var r = results[i];
            Assert.Equal(expected[i].DocumentId, r.GetProperty("id").GetString());
            Assert.Equal(expected[i].ChunkIndex, r.GetProperty("chunk").GetInt32());
            Assert.Equal(expected[i].Start, r.GetProperty("start").GetInt32());
            Assert.Equal(expected[i].End, r.GetProperty("end").GetInt32());
            Assert.Equal(expected[i].Text, r.GetProperty("text").GetString());
            // Tolerance 0: same model weights, same query vector, same scan; JSON floats round-trip.
            Assert.Equal(expected[i].Score, r.GetProperty("score").GetSingle());
            if (lang is not null)
            {
                Assert.Equal(lang, r.GetProperty("metadata").GetProperty("lang").GetString());
            }
        }
    }

    [Fact]
    public async Task Threshold_is_applied_like_in_process()
    {
        var all = await _f.Oracle.SearchAsync("vectors", new SearchOptions { TopK = 6 });
        float threshold = all[2].Score; // keeps the first three (ties aside), drops the rest
        var expected = await _f.Oracle.SearchAsync("vectors", new SearchOptions { TopK = 6, Threshold = threshold });
        var body = await Json.ReadAsync(await _f.Server.PostAsync("/search", new { query = "vectors", top_k = 6, threshold }));
        Assert.Equal(expected.Select(h => h.DocumentId), body.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.True(expected.Count < all.Count);
    }

    [Theory]
    [InlineData("{\"query\": \"\"}", "query")]
    [InlineData("{\"query\": \"   \"}", "query")]
    [InlineData("{\"top_k\": 3}", "query")]
    [InlineData("{\"query\": \"x\", \"top_k\": 0}", "top_k")]
    [InlineData("{\"query\": \"x\", \"top_k\": -5}", "top_k")]
    [InlineData("{\"query\": \"x\", \"mode\": \"fuzzy\"}", "fuzzy")]
    [InlineData("{\"query\": \"x\", \"top_k\": \"three\"}", "top_k")]
    [InlineData("[1, 2]", "JSON object")]
    public async Task Bad_requests_are_400_with_the_native_error_shape(string json, string mentioned)
    {
        var response = await _f.Server.PostJsonAsync("/search", json);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await Json.ReadAsync(response);
        Assert.Equal("validation", body.GetProperty("error_type").GetString());
        Assert.Contains(mentioned, body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Info_reports_the_index()
    {
        var body = await Json.ReadAsync(await _f.Server.Client.GetAsync(new Uri("/info", UriKind.Relative)));
        var search = body.GetProperty("search");
        Assert.True(search.GetProperty("enabled").GetBoolean());
        Assert.Equal(SearchServerFixture.Documents.Length, search.GetProperty("documents").GetInt64());
        Assert.Equal(_f.OracleIndex.GetInfo().Chunks, search.GetProperty("chunks").GetInt64());
        Assert.Equal(_f.OracleIndex.Dimension, search.GetProperty("dimension").GetInt32());
        Assert.Equal(Path.GetFullPath(_f.Db), search.GetProperty("db").GetString());
    }
}

/// <summary>Servers without a database, and databases the server must refuse at startup.</summary>
public sealed class SearchStartupTests
{
    [Fact]
    public async Task Without_db_search_is_404_and_info_says_disabled()
    {
        await using var server = await ServerHost.StartAsync(new FakeBackend());
        var response = await server.PostAsync("/search", new { query = "x" });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var body = await Json.ReadAsync(response);
        Assert.Equal("not_found", body.GetProperty("error_type").GetString());
        Assert.Contains("--db", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        var info = await Json.ReadAsync(await server.Client.GetAsync(new Uri("/info", UriKind.Relative)));
        Assert.False(info.GetProperty("search").GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task Missing_db_fails_the_start_naming_the_file()
    {
        var db = Path.Combine(TestPaths.NewTempDir("eg-server-search"), "missing.db");
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => ServerHost.StartAsync(new FakeBackend(), o => o.SearchDatabase = db));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains(db, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Corrupt_db_fails_the_start_naming_the_file()
    {
        var db = Path.Combine(TestPaths.NewTempDir("eg-server-search"), "corrupt.db");
        await File.WriteAllTextAsync(db, "this is not a SQLite database, just text long enough to be looked at");
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => ServerHost.StartAsync(new FakeBackend(), o => o.SearchDatabase = db));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains(db, e.Message, StringComparison.Ordinal);
        Assert.Equal("this is not a SQLite database, just text long enough to be looked at", await File.ReadAllTextAsync(db)); // untouched
    }

    [Fact]
    public async Task Index_of_another_model_fails_the_load()
    {
        var db = await BuildWithHashing(modelId: null, dimensions: 64);
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => StartTiny(db));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("was built with model", e.Message, StringComparison.Ordinal);
        Assert.Contains(db, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Index_wider_than_the_model_fails_the_load()
    {
        // Same model identity as the tiny model, but vectors wider than it can produce (EmbeddingGemma: at most 768).
        string fingerprint;
        using (var tiny = EmbeddingGemmaModel.Load(TinyModels.Default.Folder))
        {
            fingerprint = tiny.Fingerprint;
        }
        var db = await BuildWithHashing(modelId: Path.GetFileName(TinyModels.Default.Folder.TrimEnd('/')), dimensions: 4096, fingerprint);
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => StartTiny(db));
        Assert.Contains("Dimension mismatch", e.Message, StringComparison.Ordinal);
        Assert.Contains(db, e.Message, StringComparison.Ordinal);
    }

    private static async Task<ServerHost> StartTiny(string db)
    {
        var folder = TinyModels.Default.Folder;
        return await ServerHost.StartAsync(null!, o => { o.Model = folder; o.SearchDatabase = db; }, loader: EmbeddingServer.LoadModel);
    }

    private static async Task<string> BuildWithHashing(string? modelId, int dimensions, string? fingerprint = null)
    {
        var db = Path.Combine(TestPaths.NewTempDir("eg-server-search"), "other.db");
        using var generator = new HashingEmbeddingGenerator(dimensions);
        using var index = SemanticIndex.Open(db);
        await new SemanticSearchEngine(index, generator, new SemanticSearchEngineOptions { ModelId = modelId, ModelFingerprint = fingerprint }).IndexAsync(SearchServerFixture.Documents);
        return db;
    }
}
