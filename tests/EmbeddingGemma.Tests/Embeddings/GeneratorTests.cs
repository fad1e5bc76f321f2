using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Tests.Embeddings;

public sealed class GeneratorTests
{
    [Fact]
    public async Task GeneratorMapsDimensionsPropertiesAndUsage()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        using IEmbeddingGenerator<string, Embedding<float>> gen = new EmbeddingGemmaGenerator(model);
        var options = new EmbeddingGenerationOptions
        {
            Dimensions = 32,
            AdditionalProperties = new AdditionalPropertiesDictionary { ["task"] = "retrieval_document", ["title"] = "Planets" },
        };
        var result = await gen.GenerateAsync(["Mars is red.", "Venus is hot."], options);
        Assert.Equal(2, result.Count);
        Assert.All(result, e => Assert.Equal(32, e.Vector.Length));
        var expected = model.Encode(["Mars is red.", "Venus is hot."], new EncodeOptions { Prompt = "title: Planets | text: ", Dimensions = 32 });
        Assert.Equal(expected[0], result[0].Vector.ToArray());
        var tokens = model.Tokenize("Mars is red.", new EncodeOptions { Prompt = "title: Planets | text: " }).TokenCount
            + model.Tokenize("Venus is hot.", new EncodeOptions { Prompt = "title: Planets | text: " }).TokenCount;
        Assert.Equal(tokens, result.Usage!.InputTokenCount);
        var meta = gen.GetService<EmbeddingGeneratorMetadata>();
        Assert.Equal(64, meta!.DefaultModelDimensions);

        var raw = await gen.GenerateAsync(["Mars is red."], new EmbeddingGenerationOptions { AdditionalProperties = new() { ["normalize"] = false, ["prompt_name"] = "STS" } });
        Assert.Equal(model.Encode("Mars is red.", new EncodeOptions { Normalize = false, PromptName = "STS" }), raw[0].Vector.ToArray());
        await Assert.ThrowsAsync<EmbeddingGemmaException>(() => gen.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 1000 }));
    }

    [Fact]
    public async Task ConcurrentCallersGetTheSameVectors()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.GgufPath);
        var texts = Enumerable.Range(0, 8).Select(i => $"text number {i} about planets").ToArray();
        var expected = model.Encode(texts);
        var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(() => model.Encode(texts[i]))).ToArray();
        var got = await Task.WhenAll(tasks);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(expected[i], got[i]);
        }
    }

    [Fact]
    public void ProgressAndCancellation()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var reports = new List<EncodeProgress>();
        var progress = new SyncProgress(reports.Add);
        model.Encode(["a", "b", "c", "d", "e"], new EncodeOptions { BatchSize = 2 }, progress);
        Assert.Equal([new(2, 5), new(4, 5), new(5, 5)], reports);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => model.Encode(["a"], null, null, cts.Token));
    }

    private sealed class SyncProgress(Action<EncodeProgress> report) : IProgress<EncodeProgress>
    {
        public void Report(EncodeProgress value) => report(value);
    }
}
