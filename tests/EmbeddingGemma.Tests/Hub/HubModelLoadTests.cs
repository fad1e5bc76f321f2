using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Hub;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace EmbeddingGemma.Tests.Hub;

/// <summary>
/// EmbeddingGemmaModel.Load and AddEmbeddingGemma with Hub ids: a tiny random model published on the fake Hub, as a
/// sentence-transformers repository and as a GGUF repository, gives exactly the vectors of the local files.
/// </summary>
public sealed class HubModelLoadTests : IAsyncLifetime
{
    private static readonly string[] Texts = ["hello world", "EmbeddingGemma in .NET", "a third, longer sentence for the batch"];
    private FakeHub hub = null!;

    public async Task InitializeAsync()
    {
        hub = await FakeHub.StartAsync();
        var tiny = TinyModels.Default;
        var folderFiles = Directory.GetFiles(tiny.Folder, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(tiny.Folder, f).Replace('\\', '/'),
            f => new FakeFile(File.ReadAllBytes(f), Lfs: f.EndsWith(".safetensors", StringComparison.Ordinal) || f.EndsWith(".model", StringComparison.Ordinal)));
        hub.AddRepo("test/tiny-embeddinggemma").AddCommit(folderFiles);
        hub.AddRepo("test/tiny-embeddinggemma-GGUF").AddCommit(new Dictionary<string, FakeFile>
        {
            ["README.md"] = HubTestRepos.Text("# tiny\n"),
            ["tiny-F32.gguf"] = new(File.ReadAllBytes(tiny.GgufPath), Lfs: true),
        });
    }

    public async Task DisposeAsync() => await hub.DisposeAsync();

    [Fact]
    public void Load_accepts_hub_ids_through_ModelLocator()
    {
        var options = HubTestRepos.Options(hub);
        var load = new ModelLoadOptions { HubResolver = (m, ct) => ModelLocator.Resolve(m, options, null, ct) };
        using var local = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        using var fromHub = EmbeddingGemmaModel.Load("test/tiny-embeddinggemma", load);
        using var fromGgufRepo = EmbeddingGemmaModel.Load("hf.co/test/tiny-embeddinggemma-GGUF", load);

        var expected = local.Encode(Texts);
        Assert.Equal(expected, fromHub.Encode(Texts));
        Assert.StartsWith(options.CacheDirectory, fromHub.Source, StringComparison.Ordinal);
        // the GGUF carries the same weights; its tokenizer is rebuilt from the GGUF vocabulary
        var gguf = fromGgufRepo.Encode(Texts);
        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.True(VectorOps.Cosine(expected[i], gguf[i]) > 0.99999, $"text {i}: cosine {VectorOps.Cosine(expected[i], gguf[i])}");
        }
    }

    [Fact]
    public async Task AddEmbeddingGemma_registers_the_model_and_an_IEmbeddingGenerator()
    {
        var services = new ServiceCollection();
        services.AddEmbeddingGemma(TinyModels.Default.Folder, o => o.DefaultEncodeOptions = new EncodeOptions { PromptName = "query" });
        await using var provider = services.BuildServiceProvider();

        var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        var model = provider.GetRequiredService<EmbeddingGemmaModel>();
        var embeddings = await generator.GenerateAsync(Texts);

        Assert.Same(model, provider.GetRequiredService<EmbeddingGemmaModel>());
        var expected = model.EncodeQuery(Texts);
        Assert.Equal(Texts.Length, embeddings.Count);
        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expected[i], embeddings[i].Vector.ToArray());
        }
        Assert.True(embeddings.Usage?.InputTokenCount > 0);
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        Assert.Equal(model.Dimensions, metadata?.DefaultModelDimensions);
    }

    [Fact]
    public async Task AddEmbeddingGemma_downloads_a_hub_id_on_first_use_and_the_builder_adds_middleware()
    {
        var options = HubTestRepos.Options(hub);
        var reports = new List<DownloadProgress>();
        var services = new ServiceCollection();
        services.AddEmbeddingGemma("test/tiny-embeddinggemma", o =>
            {
                o.Hub = options;
                o.DownloadProgress = new SyncProgress<DownloadProgress>(reports.Add);
            })
            .ConfigureOptions(o => o.Dimensions ??= 16); // Microsoft.Extensions.AI middleware: Matryoshka 16 by default
        services.AddKeyedEmbeddingGemma("gguf", "test/tiny-embeddinggemma-GGUF:F32", o => o.Hub = options);
        Assert.Empty(hub.Requests); // nothing loads before the first resolve

        await using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        var keyed = provider.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("gguf");
        var vectors = await generator.GenerateAsync(Texts);
        var full = await keyed.GenerateAsync(Texts);

        using var local = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var expected = local.Encode(Texts, new EncodeOptions { Dimensions = 16 });
        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expected[i], vectors[i].Vector.ToArray());
            Assert.Equal(16, vectors[i].Vector.Length);
            Assert.Equal(local.Dimensions, full[i].Vector.Length);
        }
        Assert.Equal("test/tiny-embeddinggemma", vectors[0].ModelId);
        Assert.Contains(reports, r => r.FileCompleted && r.FileName == "model.safetensors");
    }
}
