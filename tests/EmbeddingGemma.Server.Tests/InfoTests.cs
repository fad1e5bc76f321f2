using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Server.Tests;

/// <summary>/info reports what actually runs: the weight type of the loaded matrices and the resolved thread count.</summary>
public sealed class InfoTests
{
    [Fact]
    public async Task Info_reports_Q8_0_for_a_quantized_gguf_and_the_threads_in_use()
    {
        var dir = TestPaths.NewTempDir("eg-info");
        var gguf = Path.Combine(dir, "tiny-q8.gguf");
        RandomModel.Create("tiny", 42).WriteGguf(gguf, GgmlType.Q8_0);
        await using var s = await ServerHost.StartAsync(null!, o => { o.Model = gguf; o.Threads = 3; }, loader: EmbeddingServer.LoadModel);
        var info = await Json.ReadAsync(await s.Client.GetAsync("/info"));
        Assert.StartsWith("Q8_0 ", info.GetProperty("weight_type").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, info.GetProperty("threads").GetInt32());
        Assert.Equal("tiny-q8", info.GetProperty("model_name").GetString());

        // and it embeds: equal to in-process Encode of the same file
        using var model = EmbeddingGemmaModel.Load(gguf);
        var body = await Json.ReadAsync(await s.PostAsync("/v1/embeddings", new { input = "quantized", model = "m" }));
        Assert.Equal(model.Encode("quantized"), Json.Floats(body.GetProperty("data")[0].GetProperty("embedding")));
    }

    [Fact]
    public async Task Info_reports_all_cores_resolved_when_threads_is_0()
    {
        await using var s = await ServerHost.StartAsync(null!, o => o.Model = TinyModels.Default.GgufPath, loader: EmbeddingServer.LoadModel);
        var info = await Json.ReadAsync(await s.Client.GetAsync("/info"));
        Assert.Equal(KernelCatalog.DefaultThreads, info.GetProperty("threads").GetInt32());
        Assert.StartsWith("F32 ", info.GetProperty("weight_type").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Info_names_the_model_kind_and_an_EmbeddingGemma_2_model_is_served()
    {
        // EmbeddingGemma 2 through the same server: /info names the architecture and the token limit, and the vectors
        // equal in-process Encode of the same folder.
        var folder = Path.Combine(TestPaths.NewTempDir("eg-info2"), "v2");
        EmbeddingGemma.Model.V2.RandomModel2.Create("tiny", 42).WriteHuggingFaceFolder(folder);
        await using var s = await ServerHost.StartAsync(null!, o => o.Model = folder, loader: EmbeddingServer.LoadModel);
        var info = await Json.ReadAsync(await s.Client.GetAsync("/info"));
        Assert.Equal("embeddinggemma2", info.GetProperty("architecture").GetString());
        using var model = EmbeddingGemmaModel.Load(folder);
        Assert.Equal(model.MaxTokens, info.GetProperty("max_sequence_length").GetInt32());
        var body = await Json.ReadAsync(await s.PostAsync("/v1/embeddings", new { input = "second generation", model = "m" }));
        Assert.Equal(model.Encode("second generation"), Json.Floats(body.GetProperty("data")[0].GetProperty("embedding")));

        await using var v1 = await ServerHost.StartAsync(null!, o => o.Model = TinyModels.Default.Folder, loader: EmbeddingServer.LoadModel);
        Assert.Equal("embeddinggemma", (await Json.ReadAsync(await v1.Client.GetAsync("/info"))).GetProperty("architecture").GetString());
    }
}
