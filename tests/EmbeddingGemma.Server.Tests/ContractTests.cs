using System.ClientModel;
using System.Text.Json;
using EmbeddingGemma.Server.Http;
using Microsoft.Extensions.AI;
using OpenAI;

namespace EmbeddingGemma.Server.Tests;

public sealed class FakeServerFixture : IAsyncLifetime
{
    internal FakeBackend Backend { get; } = new();
    internal ServerHost Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ServerHost.StartAsync(Backend);
    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// Every contract through a real Kestrel server, compared with in-process results of the same engine. The fake
/// engine's vectors are a pure function of the token ids, so the comparison is exact (tolerance 0): JSON floats are
/// written in shortest round-trip form and base64 carries the raw float32 bytes.
/// </summary>
public sealed class ContractTests : IClassFixture<FakeServerFixture>
{
    private readonly FakeServerFixture _f;
    public ContractTests(FakeServerFixture f) => _f = f;
    private ServerHost S => _f.Server;
    private FakeBackend B => _f.Backend;

    [Fact]
    public async Task Article_embed_example_works_as_written()
    {
        // The article's EmbeddingRequest: texts, task_type, dimensions (default 768), normalize (default True).
        var response = await S.PostAsync("/embed", new { texts = new[] { "如何安装Python包?", "Python包管理工具pip的使用指南" }, task_type = "retrieval_query", dimensions = 768, normalize = true });
        Assert.Equal(200, (int)response.StatusCode);
        var body = await Json.ReadAsync(response);
        Assert.Equal("fake-embeddinggemma", body.GetProperty("model").GetString());
        Assert.Equal(768, body.GetProperty("dimensions").GetInt32());
        Assert.True(body.GetProperty("normalized").GetBoolean());
        var e = body.GetProperty("embeddings").EnumerateArray().Select(Json.Floats).ToArray();
        Assert.Equal(B.Expected("如何安装Python包?", "retrieval_query"), e[0]);
        Assert.Equal(B.Expected("Python包管理工具pip的使用指南", "retrieval_query"), e[1]);
        Assert.Equal(1.0, Math.Sqrt(e[0].Sum(x => (double)x * x)), 5);
    }

    [Fact]
    public async Task Article_embed_defaults_matryoshka_titles_and_unnormalized()
    {
        var r1 = await Json.ReadAsync(await S.PostAsync("/embed", new { texts = new[] { "hello world" } }));
        Assert.Equal(768, r1.GetProperty("dimensions").GetInt32());
        Assert.Equal(B.Expected("hello world"), Json.Floats(r1.GetProperty("embeddings")[0]));

        var r2 = await Json.ReadAsync(await S.PostAsync("/embed", new { texts = new[] { "hello world" }, dimensions = 256, normalize = false }));
        Assert.Equal(256, r2.GetProperty("dimensions").GetInt32());
        Assert.False(r2.GetProperty("normalized").GetBoolean());
        Assert.Equal(B.Expected("hello world", dimensions: 256, normalize: false), Json.Floats(r2.GetProperty("embeddings")[0]));

        var r3 = await Json.ReadAsync(await S.PostAsync("/embed", new { texts = new[] { "pip guide", "other" }, titles = new[] { "pip manual", null }, task_type = "retrieval_document", dimensions = 128 }));
        Assert.Equal(B.Expected("pip guide", "retrieval_document", "pip manual", 128), Json.Floats(r3.GetProperty("embeddings")[0]));
        Assert.Equal(B.Expected("other", "retrieval_document", null, 128), Json.Floats(r3.GetProperty("embeddings")[1]));
        Assert.NotEqual(Json.Floats(r3.GetProperty("embeddings")[0]), B.Expected("pip guide", "retrieval_document", null, 128));
        var v = Json.Floats(r3.GetProperty("embeddings")[1]);
        Assert.Equal(128, v.Length);
        Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5); // truncated, then re-normalised
    }

    [Fact]
    public async Task Article_embed_reports_truncation_and_usage()
    {
        string longText = new('x', 200); // fake model: one token per character, max 64
        var response = await S.PostAsync("/embed", new { texts = new[] { "short", longText } });
        Assert.Equal(200, (int)response.StatusCode);
        var body = await Json.ReadAsync(response);
        Assert.False(body.GetProperty("truncated")[0].GetBoolean());
        Assert.True(body.GetProperty("truncated")[1].GetBoolean());
        Assert.Equal("1", response.Headers.GetValues("x-truncated-inputs").Single());
        Assert.Equal(7 + 64, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(B.Expected(longText), Json.Floats(body.GetProperty("embeddings")[1]));
        foreach (var h in new[] { "x-tokenization-time", "x-queue-time", "x-inference-time", "x-total-time" })
        {
            Assert.True(double.Parse(response.Headers.GetValues(h).Single(), System.Globalization.CultureInfo.InvariantCulture) >= 0, h);
        }
    }

    [Fact]
    public async Task Tei_embed_string_list_and_token_ids_return_bare_arrays()
    {
        var one = await Json.ReadAsync(await S.PostAsync("/embed", new { inputs = "What is Deep Learning?" }));
        Assert.Equal(JsonValueKind.Array, one.ValueKind);
        Assert.Equal(B.Expected("What is Deep Learning?"), Json.Floats(one[0]));

        var many = await Json.ReadAsync(await S.PostAsync("/embed", new { inputs = new[] { "a b", "c" }, normalize = false, prompt_name = "query", dimensions = 512, truncate = true, truncation_direction = "Right" }));
        Assert.Equal(2, many.GetArrayLength());
        Assert.Equal(B.Expected("a b", "query", dimensions: 512, normalize: false), Json.Floats(many[0]));
        Assert.Equal(B.Expected("c", "query", dimensions: 512, normalize: false), Json.Floats(many[1]));

        var ids = await Json.ReadAsync(await S.PostAsync("/embed", new { inputs = new[] { 2, 100, 200, 1 } }));
        Assert.Equal(B.ExpectedTokens([2, 100, 200, 1]), Json.Floats(ids[0]));

        var mixed = await Json.ReadAsync(await S.PostAsync("/embed", new { inputs = new object[] { new[] { 2, 5, 1 }, "text" } }));
        Assert.Equal(B.ExpectedTokens([2, 5, 1]), Json.Floats(mixed[0]));
        Assert.Equal(B.Expected("text"), Json.Floats(mixed[1]));
    }

    [Fact]
    public async Task OpenAI_route_raw_float_base64_tokens_and_usage()
    {
        var response = await S.PostAsync("/v1/embeddings", new { input = new[] { "first", "second one" }, model = "anything", encoding_format = "float", user = "u1", prompt_name = "query" });
        Assert.Equal(200, (int)response.StatusCode);
        var body = await Json.ReadAsync(response);
        Assert.Equal("list", body.GetProperty("object").GetString());
        var data = body.GetProperty("data");
        Assert.Equal("embedding", data[1].GetProperty("object").GetString());
        Assert.Equal(1, data[1].GetProperty("index").GetInt32());
        Assert.Equal(B.Expected("second one", "query"), Json.Floats(data[1].GetProperty("embedding")));
        int tokens = B.Tokenize("first", new() { PromptName = "query" }).Ids.Length + B.Tokenize("second one", new() { PromptName = "query" }).Ids.Length;
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());

        var b64 = await Json.ReadAsync(await S.PostAsync("/v1/embeddings", new { input = "first", model = "m", encoding_format = "base64", dimensions = 128, task = "query" }));
        Assert.Equal(B.Expected("first", "query", dimensions: 128), Json.FromBase64(b64.GetProperty("data")[0].GetProperty("embedding").GetString()!));

        var tok = await Json.ReadAsync(await S.PostAsync("/v1/embeddings", new { input = new[] { new[] { 2, 7, 9, 1 }, new[] { 2, 8, 1 } }, model = "m" }));
        Assert.Equal(B.ExpectedTokens([2, 8, 1]), Json.Floats(tok.GetProperty("data")[1].GetProperty("embedding")));
        Assert.Equal(7, tok.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        var single = await Json.ReadAsync(await S.PostAsync("/v1/embeddings", new { input = new[] { 2, 7, 9, 1 }, model = "m" }));
        Assert.Equal(B.ExpectedTokens([2, 7, 9, 1]), Json.Floats(single.GetProperty("data")[0].GetProperty("embedding")));
    }

    private OpenAIClient SdkClient() => new(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(S.BaseAddress, "/v1") });

    [Fact]
    public async Task Official_OpenAI_sdk_base64_with_and_without_dimensions()
    {
        var client = SdkClient().GetEmbeddingClient("embeddinggemma");
        string[] texts = ["The quick brown fox", "jumps over the lazy dog", "日本語のテキスト"];
        var full = (await client.GenerateEmbeddingsAsync(texts)).Value;
        Assert.Equal(3, full.Count);
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(i, full[i].Index);
            Assert.Equal(B.Expected(texts[i]), full[i].ToFloats().ToArray());
        }
        Assert.Equal(texts.Sum(t => B.Tokenize(t, new()).Ids.Length), full.Usage.InputTokenCount);

        var small = (await client.GenerateEmbeddingsAsync(texts, new OpenAI.Embeddings.EmbeddingGenerationOptions { Dimensions = 256 })).Value;
        Assert.Equal(B.Expected(texts[2], dimensions: 256), small[2].ToFloats().ToArray());
    }

    [Fact]
    public async Task Official_OpenAI_sdk_float_encoding_through_protocol_method()
    {
        var client = SdkClient().GetEmbeddingClient("embeddinggemma");
        var content = BinaryContent.Create(BinaryData.FromObjectAsJson(new { input = new[] { "alpha", "beta" }, model = "embeddinggemma", encoding_format = "float", dimensions = 512 }));
        var result = await client.GenerateEmbeddingsAsync(content);
        using var doc = JsonDocument.Parse(result.GetRawResponse().Content.ToString());
        var data = doc.RootElement.GetProperty("data");
        Assert.Equal(B.Expected("alpha", dimensions: 512), Json.Floats(data[0].GetProperty("embedding")));
        Assert.Equal(B.Expected("beta", dimensions: 512), Json.Floats(data[1].GetProperty("embedding")));
    }

    [Fact]
    public async Task Microsoft_Extensions_AI_generator_over_the_OpenAI_route()
    {
        IEmbeddingGenerator<string, Embedding<float>> generator = SdkClient().GetEmbeddingClient("embeddinggemma").AsIEmbeddingGenerator();
        string[] texts = ["search me", "and me too"];
        var all = await generator.GenerateAsync(texts);
        Assert.Equal(B.Expected(texts[0]), all[0].Vector.ToArray());
        Assert.Equal(B.Expected(texts[1]), all[1].Vector.ToArray());
        Assert.Equal(texts.Sum(t => B.Tokenize(t, new()).Ids.Length), all.Usage!.InputTokenCount);
        var dims = await generator.GenerateAsync(texts, new EmbeddingGenerationOptions { Dimensions = 128 });
        Assert.Equal(B.Expected(texts[1], dimensions: 128), dims[1].Vector.ToArray());
    }

    [Fact]
    public async Task Tokenize_health_info_models_and_metrics()
    {
        var tok = await Json.ReadAsync(await S.PostAsync("/tokenize", new { inputs = new[] { "ab" }, prompt_name = "query" }));
        var expected = B.Tokenize("ab", new() { PromptName = "query" }).Ids;
        Assert.Equal(expected, tok.GetProperty("tokens")[0].EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.Equal(expected.Length, tok.GetProperty("token_counts")[0].GetInt32());

        var health = await S.Client.GetAsync("/health");
        Assert.Equal(200, (int)health.StatusCode);
        Assert.Equal("healthy", (await Json.ReadAsync(health)).GetProperty("status").GetString());

        var info = await Json.ReadAsync(await S.Client.GetAsync("/info"));
        Assert.Equal(64, info.GetProperty("max_sequence_length").GetInt32());
        Assert.Equal(768, info.GetProperty("embedding_dimension").GetInt32());
        Assert.Equal([768, 512, 256, 128], info.GetProperty("matryoshka_dimensions").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.Equal("task: search result | query: ", info.GetProperty("prompts").GetProperty("query").GetString());
        Assert.Equal(256, info.GetProperty("limits").GetProperty("max_inputs_per_request").GetInt32());
        Assert.False(string.IsNullOrEmpty(info.GetProperty("version").GetString()));

        var models = await Json.ReadAsync(await S.Client.GetAsync("/v1/models"));
        Assert.Equal("fake-embeddinggemma", models.GetProperty("data")[0].GetProperty("id").GetString());

        await S.PostAsync("/embed", new { inputs = "count me" });
        var metrics = await S.Client.GetStringAsync("/metrics");
        foreach (var name in new[] { "embeddinggemma_requests_total", "embeddinggemma_stage_duration_seconds_bucket{stage=\"tokenize\"",
            "stage=\"queue\"", "stage=\"inference\"", "embeddinggemma_queue_depth", "embeddinggemma_batch_size_count", "embeddinggemma_batch_tokens_sum", "embeddinggemma_tokens_total" })
        {
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        }
        Assert.Matches("embeddinggemma_requests_total\\{endpoint=\"embed\",status=\"200\"\\} [1-9]", metrics);
    }

    [Fact]
    public void Base64_is_little_endian_float32()
    {
        var bytes = Convert.FromBase64String(EmbeddingEndpoints.ToBase64([1.0f, -2.5f]));
        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0 }, bytes);
    }
}
