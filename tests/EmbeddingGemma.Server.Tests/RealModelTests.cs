using System.ClientModel;
using System.Text.Json;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Server.Engine;
using EmbeddingGemma.Testing;
using Microsoft.Extensions.AI;
using OpenAI;

namespace EmbeddingGemma.Server.Tests;

public sealed class TinyModelServerFixture : IAsyncLifetime
{
    /// <summary>The in-process oracle: a second, independent load of the same model folder.</summary>
    internal EmbeddingGemmaModel Model { get; private set; } = null!;
    internal ServerHost Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var folder = TinyModels.Default.Folder;
        Model = EmbeddingGemmaModel.Load(folder);
        Server = await ServerHost.StartAsync(null!, o => o.Model = folder, loader: EmbeddingServer.LoadModel);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Model.Dispose();
    }
}

/// <summary>
/// The real engine (tiny random EmbeddingGemma: hidden 64, 6 layers, the synthetic tokenizer) behind the real
/// server, loaded by the default loader from a model folder. Every vector over HTTP must equal in-process
/// <see cref="EmbeddingGemmaModel.Encode(IReadOnlyList{string}, EncodeOptions?, IProgress{EncodeProgress}?, CancellationToken)"/>
/// for the same input and options, bit for bit (tolerance 0: the model's batched == single holds exactly, JSON
/// floats round-trip and base64 carries the float32 bytes).
/// </summary>
public sealed class RealModelTests : IClassFixture<TinyModelServerFixture>
{
    private static readonly string[] Texts = ["Which planet is known as the Red Planet?", "Mars, known for its reddish appearance", "短い文", "a b  c   d"];
    private readonly TinyModelServerFixture _f;
    public RealModelTests(TinyModelServerFixture f) => _f = f;
    private ServerHost S => _f.Server;
    private EmbeddingGemmaModel M => _f.Model;

    [Fact]
    public async Task Article_embed_equals_in_process_encode()
    {
        var body = await Json.ReadAsync(await S.PostAsync("/embed", new { texts = Texts, task_type = "retrieval_query", dimensions = 32, normalize = true }));
        var expected = M.Encode(Texts, new EncodeOptions { PromptName = "retrieval_query", Dimensions = 32 });
        var got = body.GetProperty("embeddings").EnumerateArray().Select(Json.Floats).ToArray();
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expected[i], got[i]);
        }
        Assert.Equal(32, body.GetProperty("dimensions").GetInt32());
        Assert.Equal(Texts.Sum(t => M.Tokenize(t, new EncodeOptions { PromptName = "retrieval_query" }).TokenCount), body.GetProperty("usage").GetProperty("total_tokens").GetInt32());

        var full = await Json.ReadAsync(await S.PostAsync("/embed", new { texts = Texts }));
        Assert.Equal(M.Dimensions, full.GetProperty("dimensions").GetInt32());
        Assert.Equal(M.Encode(Texts[3]), Json.Floats(full.GetProperty("embeddings")[3]));
    }

    [Fact]
    public async Task Documents_with_titles_equal_encode_document()
    {
        string?[] titles = ["Planets", null, "題", "spaces"];
        var body = await Json.ReadAsync(await S.PostAsync("/embed", new { texts = Texts, titles, task_type = "document" }));
        var expected = M.EncodeDocument(Texts, titles);
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expected[i], Json.Floats(body.GetProperty("embeddings")[i]));
        }
    }

    [Fact]
    public async Task Tei_shape_unnormalized_and_token_ids_equal_in_process()
    {
        var body = await Json.ReadAsync(await S.PostAsync("/embed", new { inputs = Texts, prompt_name = "query", normalize = false }));
        var expected = M.Encode(Texts, new EncodeOptions { PromptName = "query", Normalize = false });
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expected[i], Json.Floats(body[i]));
        }
        var ids = M.Tokenize("token ids as given", new EncodeOptions()).Ids;
        var tok = await Json.ReadAsync(await S.PostAsync("/v1/embeddings", new { input = new[] { ids }, model = "m", encoding_format = "float" }));
        Assert.Equal(M.EncodeTokenIds([ids])[0], Json.Floats(tok.GetProperty("data")[0].GetProperty("embedding")));
    }

    private OpenAIClient Sdk() => new(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(S.BaseAddress, "/v1") });

    [Fact]
    public async Task OpenAI_sdk_base64_and_float_with_and_without_dimensions_equal_in_process()
    {
        var client = Sdk().GetEmbeddingClient("embeddinggemma");
        var full = (await client.GenerateEmbeddingsAsync(Texts)).Value;
        var small = (await client.GenerateEmbeddingsAsync(Texts, new OpenAI.Embeddings.EmbeddingGenerationOptions { Dimensions = 16 })).Value;
        var expectedFull = M.Encode(Texts);
        var expectedSmall = M.Encode(Texts, new EncodeOptions { Dimensions = 16 });
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expectedFull[i], full[i].ToFloats().ToArray());
            Assert.Equal(expectedSmall[i], small[i].ToFloats().ToArray());
        }
        Assert.Equal(Texts.Sum(t => M.Tokenize(t).TokenCount), full.Usage.TotalTokenCount);

        var raw = await client.GenerateEmbeddingsAsync(BinaryContent.Create(BinaryData.FromObjectAsJson(new { input = Texts, model = "m", encoding_format = "float", dimensions = 16 })));
        using var doc = JsonDocument.Parse(raw.GetRawResponse().Content.ToString());
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expectedSmall[i], Json.Floats(doc.RootElement.GetProperty("data")[i].GetProperty("embedding")));
        }
    }

    [Fact]
    public async Task Microsoft_Extensions_AI_generator_equals_in_process()
    {
        IEmbeddingGenerator<string, Embedding<float>> generator = Sdk().GetEmbeddingClient("embeddinggemma").AsIEmbeddingGenerator();
        var got = await generator.GenerateAsync(Texts, new EmbeddingGenerationOptions { Dimensions = 32 });
        var expected = M.Encode(Texts, new EncodeOptions { Dimensions = 32 });
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expected[i], got[i].Vector.ToArray());
        }
    }

    [Fact]
    public async Task Truncation_is_reported_by_default_and_refusal_carries_the_models_token_count()
    {
        // A tiny model with 128 positions keeps the over-long inputs cheap (the default one allows 2048 tokens).
        var shortModel = TinyModels.Get("tiny-pos128", c => c with { MaxPositionEmbeddings = 128 });
        using var m = EmbeddingGemmaModel.Load(shortModel.Folder);
        await using var s = await ServerHost.StartAsync(null!, o => o.Model = shortModel.Folder, loader: EmbeddingServer.LoadModel);
        Assert.Equal(128, m.MaxTokens);
        string longText = string.Join(' ', Enumerable.Range(0, 300).Select(i => "w" + (i % 50)));
        var response = await s.PostAsync("/embed", new { texts = new[] { "short", longText } });
        var body = await Json.ReadAsync(response);
        Assert.False(body.GetProperty("truncated")[0].GetBoolean());
        Assert.True(body.GetProperty("truncated")[1].GetBoolean());
        Assert.Equal("1", response.Headers.GetValues("x-truncated-inputs").Single());
        Assert.Equal(m.Encode(longText), Json.Floats(body.GetProperty("embeddings")[1]));
        Assert.Equal(m.Tokenize("short").TokenCount + 128, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());

        var refused = await s.PostAsync("/embed", new { inputs = longText, truncate = false });
        Assert.Equal(422, (int)refused.StatusCode);
        var error = await Json.ReadAsync(refused);
        int count = m.Tokenizer!.CountTokens(longText.Trim());
        Assert.True(count > 128);
        Assert.Equal(count, error.GetProperty("token_count").GetInt32());
        var inProcess = Assert.Throws<EmbeddingGemmaException>(() => m.Encode([longText], new EncodeOptions { Truncate = false }));
        Assert.Equal(ErrorKind.InputTooLong, inProcess.Kind);
        Assert.Contains($"{count} tokens", inProcess.Message, StringComparison.Ordinal);
        Assert.Contains($"{count} tokens", error.GetProperty("error").GetString(), StringComparison.Ordinal);

        var v1 = await s.PostAsync("/v1/embeddings", new { input = longText, model = "m", truncate = false });
        Assert.Equal(400, (int)v1.StatusCode);
        Assert.Equal("context_length_exceeded", (await Json.ReadAsync(v1)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Tokenize_info_and_vocabulary_checks_follow_the_model()
    {
        var tok = await Json.ReadAsync(await S.PostAsync("/tokenize", new { inputs = Texts, prompt_name = "query" }));
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(M.Tokenize(Texts[i], EncodeOptions.Query).Ids, tok.GetProperty("tokens")[i].EnumerateArray().Select(e => e.GetInt32()).ToArray());
        }
        var info = await Json.ReadAsync(await S.Client.GetAsync("/info"));
        Assert.Equal(M.Dimensions, info.GetProperty("embedding_dimension").GetInt32());
        Assert.Equal(2048, info.GetProperty("max_sequence_length").GetInt32());
        Assert.Equal(M.Config.VocabSize, info.GetProperty("vocabulary_size").GetInt32());
        Assert.Equal("task: search result | query: ", info.GetProperty("prompts").GetProperty("query").GetString());
        Assert.Equal("task: fact checking | query: ", info.GetProperty("prompts").GetProperty("fact_checking").GetString());
        Assert.Equal(Path.GetFileName(TinyModels.Default.Folder), info.GetProperty("model_name").GetString());

        int vocab = M.Config.VocabSize;
        var bad = await S.PostAsync("/v1/embeddings", new { input = new[] { 2, vocab, 1 }, model = "m" });
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Contains($"token id {vocab} at position 1 is outside the vocabulary", (await Json.ReadAsync(bad)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
