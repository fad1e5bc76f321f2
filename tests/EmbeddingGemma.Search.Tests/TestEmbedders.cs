using EmbeddingGemma.Numerics;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Search.Tests;

/// <summary>Unit vectors drawn from a hash of the text: deterministic, and unrelated to the words (no semantics at all).</summary>
internal sealed class RandomTextEmbedder(int dimension) : IEmbeddingGenerator<string, Embedding<float>>
{
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var result = new GeneratedEmbeddings<Embedding<float>>();
        foreach (var text in values)
        {
            var seed = BitConverter.ToInt32(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
            var rng = new Random(seed);
            var v = new float[options?.Dimensions ?? dimension];
            for (int i = 0; i < v.Length; i++)
            {
                v[i] = (float)(rng.NextDouble() - 0.5);
            }
            VectorOps.L2Normalize(v);
            result.Add(new Embedding<float>(v));
        }
        return Task.FromResult(result);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(EmbeddingGeneratorMetadata) ? new EmbeddingGeneratorMetadata("random-text", null, $"random:{dimension}", dimension) : null;

    public void Dispose()
    {
    }
}

internal static class Data
{
    public static string SotuCorpus => Path.Combine(EmbeddingGemma.Testing.TestPaths.RepoRoot, "tests", "data", "sotu_small", "corpus.jsonl");

    public static float[] RandomUnit(Random rng, int dim)
    {
        var v = new float[dim];
        for (int i = 0; i < dim; i++)
        {
            v[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        VectorOps.L2Normalize(v);
        return v;
    }
}
