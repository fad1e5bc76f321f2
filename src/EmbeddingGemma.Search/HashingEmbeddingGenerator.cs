using EmbeddingGemma.Numerics;
using EmbeddingGemma.Search.Index;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Search;

/// <summary>
/// A deterministic bag-of-words embedder (feature hashing with signs): texts that share words get similar unit
/// vectors, nothing more. No model, no semantics. For tests, demos and checking a pipeline without the model
/// (CLI: <c>--model hash</c> or <c>hash:DIM</c>). Honours <see cref="EmbeddingGenerationOptions.Dimensions"/>
/// (Matryoshka-style: truncate, renormalise) and ignores prompts.
/// </summary>
public sealed class HashingEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly EmbeddingGeneratorMetadata _metadata;

    public HashingEmbeddingGenerator(int dimension = 256)
    {
        if (dimension < 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Dimension must be positive, got {dimension}.");
        }
        Dimension = dimension;
        _metadata = new EmbeddingGeneratorMetadata("hashing-bow", null, $"hash:{dimension}", dimension);
    }

    public int Dimension { get; }

    /// <summary>
    /// The fixed model fingerprint of this embedder (no weights): <c>hashing-bow-v1:DIM</c>. An index records it like
    /// a model's <c>EmbeddingGemmaModel.Fingerprint</c>.
    /// </summary>
    public string Fingerprint => $"hashing-bow-v1:{Dimension}";

    /// <summary>Number of Generate calls (tests use it to prove the embedding cache works).</summary>
    public int Calls { get; private set; }

    /// <summary>Number of texts embedded.</summary>
    public int TextsEmbedded { get; private set; }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        Calls++;
        int dims = options?.Dimensions ?? Dimension;
        if (dims < 1 || dims > Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Dimensions must be in 1..{Dimension}, got {dims}.");
        }
        var result = new GeneratedEmbeddings<Embedding<float>>();
        foreach (var text in values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var v = Embed(text);
            var d = v.AsSpan(0, dims).ToArray();
            VectorOps.L2Normalize(d);
            result.Add(new Embedding<float>(d) { ModelId = _metadata.DefaultModelId });
            TextsEmbedded++;
        }
        return Task.FromResult(result);
    }

    private float[] Embed(string text)
    {
        var v = new float[Dimension];
        var lower = text.ToLowerInvariant();
        foreach (var r in TextChunker.ApproximateTokens(lower))
        {
            var token = lower.AsSpan()[r];
            uint h = Fnv(token);
            v[h % (uint)Dimension] += (h & 0x80000000) != 0 ? -1f : 1f;
        }
        // Word-level features as well, so whole words matter more than pieces.
        foreach (var word in lower.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            uint h = Fnv(word.AsSpan()) * 2654435761u;
            v[h % (uint)Dimension] += (h & 0x80000000) != 0 ? -2f : 2f;
        }
        if (VectorOps.L2Normalize(v) == 0)
        {
            v[0] = 1;
        }
        return v;
    }

    private static uint Fnv(ReadOnlySpan<char> s)
    {
        uint h = 2166136261;
        foreach (char c in s)
        {
            h = (h ^ char.ToLowerInvariant(c)) * 16777619;
        }
        return h;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
        : serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
