using System.Diagnostics;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace EmbeddingGemma.VectorData.Tests;

/// <summary>
/// Our <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> under the Microsoft.Extensions.AI pipeline:
/// distributed cache, OpenTelemetry, <see cref="EmbeddingGenerationOptions.Dimensions"/> and <see cref="EmbeddingGenerationOptions.ModelId"/>.
/// </summary>
public sealed class MeaiPipelineTests
{
    /// <summary>A model with 768 output dimensions (hidden 768, one layer) so the trained Matryoshka sizes 512/256/128 apply.</summary>
    private static TinyModel Wide => TinyModels.Get("wide768", c => c with
    {
        HiddenSize = 768,
        IntermediateSize = 64,
        NumHiddenLayers = 1,
        NumAttentionHeads = 2,
        NumKeyValueHeads = 1,
        HeadDim = 16,
        QueryPreAttnScalar = 16,
        LayerTypes = null,
    });

    [Fact]
    public async Task DistributedCacheServesTheSecondCallAndOpenTelemetryRecordsTheFirst()
    {
        const string source = "EmbeddingGemma.Tests.MeaiPipeline";
        var activities = new List<Activity>();
        var metrics = new List<Metric>();
        using var tracer = Sdk.CreateTracerProviderBuilder().AddSource(source).AddInMemoryExporter(activities).Build();
        using var meter = Sdk.CreateMeterProviderBuilder().AddMeter(source).AddInMemoryExporter(metrics).Build();

        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var inner = new CountingGenerator(new EmbeddingGemmaGenerator(model, modelId: "tiny-test"));
        IDistributedCache cache = new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions()));
        using var pipeline = new EmbeddingGeneratorBuilder<string, Embedding<float>>(inner)
            .UseDistributedCache(cache)
            .UseOpenTelemetry(sourceName: source)
            .Build();

        string[] texts = ["Mars is red.", "Venus is hot."];
        var first = await pipeline.GenerateAsync(texts);
        var second = await pipeline.GenerateAsync(texts);
        Assert.Equal(1, inner.Calls); // the second call came from the cache
        for (int i = 0; i < texts.Length; i++)
        {
            var direct = model.Encode(texts[i]);
            Assert.Equal(direct, first[i].Vector.ToArray());
            Assert.Equal(direct, second[i].Vector.ToArray());
        }

        // Options are part of the cache key: another prompt reaches the model and gives that prompt's vector.
        var query = await pipeline.GenerateAsync([texts[0]], new EmbeddingGenerationOptions { AdditionalProperties = new() { ["prompt_name"] = "query" } });
        Assert.Equal(2, inner.Calls);
        Assert.Equal(model.Encode(texts[0], EncodeOptions.Query), query[0].Vector.ToArray());

        tracer.ForceFlush();
        meter.ForceFlush();
        // The cache is outermost: only the two calls that reached the model were traced.
        Assert.Equal(2, activities.Count);
        var a = activities[0];
        Assert.Equal("embeddings", a.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("tiny-test", a.GetTagItem("gen_ai.request.model"));
        long tokens = texts.Sum(t => (long)model.Tokenize(t).TokenCount);
        Assert.Equal(tokens, Convert.ToInt64(a.GetTagItem("gen_ai.usage.input_tokens"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(metrics, m => m.Name == "gen_ai.client.operation.duration");
        Assert.Contains(metrics, m => m.Name == "gen_ai.client.token.usage");
    }

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    [InlineData(768)]
    public async Task DimensionsSelectsTheMatryoshkaPrefixRenormalised(int dims)
    {
        using var model = EmbeddingGemmaModel.Load(Wide.Folder);
        Assert.Equal(768, model.Dimensions);
        using var pipeline = new EmbeddingGemmaGenerator(model).AsBuilder().UseOpenTelemetry().Build();
        var full = (await pipeline.GenerateAsync(["Matryoshka embeddings nest."]))[0].Vector.ToArray();
        var cut = (await pipeline.GenerateAsync(["Matryoshka embeddings nest."], new EmbeddingGenerationOptions { Dimensions = dims }))[0].Vector.ToArray();
        Assert.Equal(dims, cut.Length);
        // Oracle: the first dims components of the full vector, L2-normalised in double precision.
        double norm = Math.Sqrt(full.Take(dims).Sum(x => (double)x * x));
        for (int i = 0; i < dims; i++)
        {
            Assert.True(Math.Abs(full[i] / norm - cut[i]) <= 1e-5, $"component {i}: {cut[i]} vs {full[i] / norm}");
        }
        Assert.Equal(768, pipeline.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(769)]
    public async Task UnsupportedDimensionsAreRefusedClearly(int dims)
    {
        using var model = EmbeddingGemmaModel.Load(Wide.Folder);
        using var pipeline = new EmbeddingGemmaGenerator(model).AsBuilder().UseOpenTelemetry().Build();
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => pipeline.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = dims }));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("Dimensions must be between 1 and 768", e.Message, StringComparison.Ordinal);
        Assert.Contains("768, 512, 256, 128", e.Message, StringComparison.Ordinal);
        Assert.Contains($"got {dims}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void NonPositiveDimensionsAreRefusedByTheOptionsThemselves(int dims) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmbeddingGenerationOptions { Dimensions = dims });

    [Fact]
    public async Task ModelIdIsReportedAndAnotherRequestedModelIsRefused()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        using var pipeline = new EmbeddingGemmaGenerator(model, modelId: "google/embeddinggemma-300m").AsBuilder().UseDistributedCache(new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions()))).Build();
        Assert.Equal("google/embeddinggemma-300m", pipeline.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelId);
        var same = await pipeline.GenerateAsync(["hello"], new EmbeddingGenerationOptions { ModelId = "Google/EmbeddingGemma-300M" });
        Assert.Equal("google/embeddinggemma-300m", same[0].ModelId);
        Assert.Equal(model.Encode("hello"), same[0].Vector.ToArray());
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => pipeline.GenerateAsync(["hello"], new EmbeddingGenerationOptions { ModelId = "text-embedding-3-small" }));
        Assert.Contains("'text-embedding-3-small'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'google/embeddinggemma-300m'", e.Message, StringComparison.Ordinal);
        // Default id: the model folder's name.
        using var plain = new EmbeddingGemmaGenerator(model);
        Assert.Equal(Path.GetFileName(TinyModels.Default.Folder), plain.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelId);
    }
}
