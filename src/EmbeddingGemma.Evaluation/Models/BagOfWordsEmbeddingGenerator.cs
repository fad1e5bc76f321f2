using EmbeddingGemma.Numerics;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Evaluation.Models;

/// <summary>
/// A lexical baseline embedder: hashed bag of words. Tokens (<see cref="LexicalTokenizer"/>, no stemming) are hashed
/// (FNV-1a, 64-bit) into <see cref="Dimensions"/> buckets with a hash-derived sign, weighted 1 + ln(tf), and the vector
/// is L2-normalised. The prompt name is ignored (a prompt adds the same words to every text). Deterministic.
/// </summary>
public sealed class BagOfWordsEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly LexicalTokenizer _tokenizer = new(englishAnalysis: false);

    public BagOfWordsEmbeddingGenerator(int dimensions = 768) => Dimensions = dimensions;

    public int Dimensions { get; }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var result = new GeneratedEmbeddings<Embedding<float>>();
        foreach (var text in values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var v = new float[Dimensions];
            foreach (var g in _tokenizer.Tokenize(text).GroupBy(t => t, StringComparer.Ordinal))
            {
                ulong h = Fnv1a(g.Key);
                int bucket = (int)(h % (ulong)Dimensions);
                float sign = ((h >> 63) & 1) == 0 ? 1f : -1f;
                v[bucket] += sign * (1 + MathF.Log(g.Count()));
            }
            VectorOps.L2Normalize(v);
            result.Add(new Embedding<float>(v));
        }
        return Task.FromResult(result);
    }

    internal static ulong Fnv1a(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in s)
        {
            h = (h ^ (c & 0xFFu)) * 1099511628211UL;
            h = (h ^ (uint)(c >> 8)) * 1099511628211UL;
        }
        return h;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}

/// <summary>
/// A control embedder that ignores meaning: each distinct text gets a fixed pseudo-random unit vector (seeded by
/// the text's hash). Every task should score near chance with it; a score clearly above chance means the task leaks labels.
/// </summary>
public sealed class RandomEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public RandomEmbeddingGenerator(int dimensions = 768) => Dimensions = dimensions;

    public int Dimensions { get; }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var result = new GeneratedEmbeddings<Embedding<float>>();
        foreach (var text in values)
        {
            var rng = new Random((int)(BagOfWordsEmbeddingGenerator.Fnv1a(text) & 0x7FFFFFFF));
            var v = new float[Dimensions];
            for (int i = 0; i < v.Length; i++)
            {
                // Box-Muller: Gaussian components give a uniformly distributed direction.
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                v[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }
            VectorOps.L2Normalize(v);
            result.Add(new Embedding<float>(v));
        }
        return Task.FromResult(result);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
