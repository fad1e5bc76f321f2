using System.Net;
using System.Text;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Search;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Server.Core;
using EmbeddingGemma.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace EmbeddingGemma.Server.Tests;

/// <summary>Issue 12 ("Hardening"): the server's admission and search findings, one test per finding.</summary>
public sealed class HardeningTests
{
    // ------------------------------------------------------------------ 3. memory is not bounded by admission

    private const int BodyLimit = 256 * 1024;
    private const long InFlightLimit = 1024 * 1024;

    /// <summary>A legal body of almost <see cref="BodyLimit"/> bytes.</summary>
    private static byte[] MaxSizeBody()
    {
        var text = new string('x', BodyLimit - 64);
        return Encoding.UTF8.GetBytes($"{{\"input\": \"{text}\"}}");
    }

    [Fact]
    public async Task Memory_is_not_bounded_by_admission()
    {
        var backend = new FakeBackend { Gate = new SemaphoreSlim(0) };
        await using var server = await ServerHost.StartAsync(backend, o =>
        {
            o.MaxRequestBodyBytes = BodyLimit;
            o.MaxInFlightBytes = InFlightLimit;
            o.MaxInputCharacters = BodyLimit;
        });
        var admission = server.App.Services.GetRequiredService<RequestAdmission>();
        Assert.Equal(InFlightLimit, admission.Limit);
        var body = MaxSizeBody();
        int fit = (int)(InFlightLimit / body.Length);

        // 32 clients send maximum-size bodies at once (declared Content-Length) while the engine is held: the admitted
        // requests keep their bytes until answered, the rest get 503 + Retry-After before their body is parsed.
        var declared = Enumerable.Range(0, 32).Select(_ => server.PostBytesAsync("/v1/embeddings", body, "application/json")).ToArray();
        await WaitUntil(() => declared.Count(t => t.IsCompleted) >= 32 - fit, TimeSpan.FromSeconds(60));
        Assert.True(admission.InFlight <= InFlightLimit, $"in flight {admission.InFlight}");

        // Chunked bodies (no Content-Length) are counted as they arrive.
        var chunked = Enumerable.Range(0, 8).Select(_ =>
        {
            var content = new StreamContent(new NoLengthStream(body));
            content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            return server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/embeddings") { Content = content });
        }).ToArray();
        await WaitUntil(() => chunked.All(t => t.IsCompleted), TimeSpan.FromSeconds(60));
        Assert.True(admission.InFlight <= InFlightLimit, $"in flight {admission.InFlight}");

        backend.Gate.Release(10_000);
        var responses = await Task.WhenAll(declared.Concat(chunked));
        var statuses = responses.Select(r => r.StatusCode).ToList();
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"status {s}"));
        int ok = statuses.Count(s => s == HttpStatusCode.OK);
        Assert.InRange(ok, 1, fit);
        Assert.True(statuses.Count(s => s == HttpStatusCode.ServiceUnavailable) >= 32 - fit);
        foreach (var r in responses.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable))
        {
            Assert.True(r.Headers.Contains("Retry-After"), "503 without Retry-After");
            var error = await r.Content.ReadAsStringAsync();
            Assert.Contains("MaxInFlightBytes", error, StringComparison.Ordinal);
        }
        Assert.InRange(admission.Peak, body.Length, InFlightLimit);
        await WaitUntil(() => admission.InFlight == 0, TimeSpan.FromSeconds(10)); // every response complete: all bytes back

        var metrics = await server.Client.GetStringAsync("/metrics");
        Assert.Contains("embeddinggemma_inflight_body_bytes_peak " + admission.Peak.ToString(System.Globalization.CultureInfo.InvariantCulture), metrics, StringComparison.Ordinal);
        Assert.Contains("reason=\"inflight_bytes\"", metrics, StringComparison.Ordinal);

        // Once the bytes are back, a maximum-size request is admitted again.
        Assert.Equal(HttpStatusCode.OK, (await server.PostBytesAsync("/v1/embeddings", body, "application/json")).StatusCode);
    }

    [Fact]
    public void In_flight_bound_below_the_body_limit_is_refused()
    {
        var o = new EmbeddingServerOptions { MaxRequestBodyBytes = 4 << 20, MaxInFlightBytes = 1 << 20 };
        var e = Assert.Throws<EmbeddingGemmaException>(o.Validate);
        Assert.Contains("MaxInFlightBytes", e.Message, StringComparison.Ordinal);
        Assert.Equal(32L << 20, new EmbeddingServerOptions().MaxInFlightBytes);
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var end = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < end, "condition not met in time");
            await Task.Delay(20);
        }
    }

    /// <summary>A stream with no known length, so HttpClient sends it chunked.</summary>
    private sealed class NoLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
    }

    // ------------------------------------------------------------------ 1 and 2 through serve --db

    private static string ModelFolder(string root, string parent, int seed)
    {
        var folder = Path.Combine(root, parent, "model");
        RandomModel.Create("tiny", seed).WriteHuggingFaceFolder(folder);
        return folder;
    }

    private static readonly SearchDocument[] Docs =
    [
        new("a", "Text embedding models turn sentences into vectors.") { Metadata = new Dictionary<string, string> { ["lang"] = "en", ["dir\\"] = "x" } },
        new("b", "Mars is known as the Red Planet.") { Metadata = new Dictionary<string, string> { ["lang"] = "en" } },
        new("c", "SQLite stores the index in a single file.") { Metadata = new Dictionary<string, string> { ["lang"] = "de" } },
    ];

    private static async Task<string> BuildIndex(string root, string modelFolder)
    {
        var db = Path.Combine(root, "index.db");
        using var model = EmbeddingGemmaModel.Load(modelFolder);
        using (var index = SemanticIndex.Open(db))
        {
            await new SemanticSearchEngine(index, new EmbeddingGemmaGenerator(model), new SemanticSearchEngineOptions { ModelSpec = modelFolder }).IndexAsync(Docs);
        }
        SqliteConnection.ClearAllPools();
        return db;
    }

    [Fact]
    public async Task Serve_db_index_knows_its_model_by_folder_name_only()
    {
        var root = TestPaths.NewTempDir("eg-server-fp");
        var a = ModelFolder(root, "a", 1);
        var b = ModelFolder(root, "b", 2);
        var db = await BuildIndex(root, a);
        string fa, fb;
        using (var ma = EmbeddingGemmaModel.Load(a))
        using (var mb = EmbeddingGemmaModel.Load(b))
        {
            fa = ma.Fingerprint;
            fb = mb.Fingerprint;
        }
        await using var server = await ServerHost.StartAsync(null!, o => { o.Model = b; o.SearchDatabase = db; }, loader: EmbeddingServer.LoadModel, waitReady: false);
        await Assert.ThrowsAsync<EmbeddingGemmaException>(() => server.Host.Loaded.WaitAsync(TimeSpan.FromSeconds(60)));
        var health = await server.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        var body = await Json.ReadAsync(health);
        Assert.Equal("failed", body.GetProperty("status").GetString());
        var error = body.GetProperty("error").GetString()!;
        Assert.Contains(fa, error, StringComparison.Ordinal);
        Assert.Contains(fb, error, StringComparison.Ordinal);
        Assert.Contains(a, error, StringComparison.Ordinal);
        Assert.Contains(b, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_filters_reach_SQLite_unguarded()
    {
        var root = TestPaths.NewTempDir("eg-server-filter");
        var a = ModelFolder(root, "a", 1);
        var db = await BuildIndex(root, a);
        using (var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString()))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE documents SET metadata = '{\"lang\": broken' WHERE id = 'c'";
            cmd.ExecuteNonQuery();
        }
        await using var server = await ServerHost.StartAsync(null!, o => { o.Model = a; o.SearchDatabase = db; }, loader: EmbeddingServer.LoadModel);

        var r = await server.PostAsync("/search", new { query = "vectors", top_k = 5, filter = new Dictionary<string, string> { ["dir\\"] = "x" } });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("a", (await Json.ReadAsync(r)).GetProperty("results")[0].GetProperty("id").GetString());

        r = await server.PostAsync("/search", new { query = "vectors", top_k = 5 }); // the malformed metadata of c: no 500
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(3, (await Json.ReadAsync(r)).GetProperty("results").GetArrayLength());
        r = await server.PostAsync("/search", new { query = "vectors", top_k = 5, filter = new Dictionary<string, string> { ["lang"] = "de" } });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(0, (await Json.ReadAsync(r)).GetProperty("results").GetArrayLength());

        var huge = Enumerable.Range(0, 10_000).ToDictionary(i => $"k{i}", i => "v");
        r = await server.PostAsync("/search", new { query = "vectors", filter = huge });
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("limit is 64", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        r = await server.PostAsync("/search", new { query = "vectors", filter = new Dictionary<string, string> { ["a\u0001"] = "v" } });
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
    }
}
