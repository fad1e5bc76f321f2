using EmbeddingGemma.Numerics;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Evaluation.Models;

/// <summary>Progress of the encoding pass: texts encoded so far, of the texts requested in the current call.</summary>
public readonly record struct EncodingProgress(int Done, int Total, string PromptName);

/// <summary>
/// Encodes each distinct (prompt name, text) once at the generator's full size and keeps the vector, so evaluating
/// several Matryoshka sizes costs one encoding pass: <see cref="GetFullAsync"/> returns the full vectors and
/// <see cref="Truncate"/> cuts them to the requested size and L2-renormalises. The prompt travels as <c>EmbeddingGenerationOptions.AdditionalProperties["prompt_name"]</c>
/// (sentence-transformers' prompt names: Retrieval-query, Retrieval-document, STS, Classification, ...).
/// </summary>
public sealed class EmbeddingCache
{
    private readonly IEmbeddingGenerator<string, Embedding<float>> _generator;
    private readonly Dictionary<(string Prompt, string Text), float[]> _vectors = new();

    public EmbeddingCache(IEmbeddingGenerator<string, Embedding<float>> generator, int batchSize = 32, IProgress<EncodingProgress>? progress = null)
    {
        _generator = generator;
        BatchSize = batchSize;
        Progress = progress;
    }

    public int BatchSize { get; }

    public IProgress<EncodingProgress>? Progress { get; }

    /// <summary>Size of the generator's vectors (known after the first encoding).</summary>
    public int? NativeDimensions { get; private set; }

    /// <summary>Number of texts actually sent to the generator (cache misses).</summary>
    public int EncodedCount { get; private set; }

    public async Task<float[][]> GetFullAsync(IReadOnlyList<string> texts, string promptName, CancellationToken cancellationToken = default)
    {
        var missing = texts.Distinct(StringComparer.Ordinal).Where(t => !_vectors.ContainsKey((promptName, t))).ToList();
        var options = new EmbeddingGenerationOptions { AdditionalProperties = new() { ["prompt_name"] = promptName } };
        for (int start = 0; start < missing.Count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = missing.GetRange(start, Math.Min(BatchSize, missing.Count - start));
            var embeddings = await _generator.GenerateAsync(batch, options, cancellationToken).ConfigureAwait(false);
            if (embeddings.Count != batch.Count)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"the embedding generator returned {embeddings.Count} vectors for {batch.Count} texts.");
            }
            for (int i = 0; i < batch.Count; i++)
            {
                var v = embeddings[i].Vector.ToArray();
                NativeDimensions ??= v.Length;
                if (v.Length != NativeDimensions)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"the embedding generator returned vectors of {v.Length} and {NativeDimensions} dimensions.");
                }
                _vectors[(promptName, batch[i])] = v;
            }
            EncodedCount += batch.Count;
            Progress?.Report(new EncodingProgress(Math.Min(start + batch.Count, missing.Count), missing.Count, promptName));
        }
        return texts.Select(t => _vectors[(promptName, t)]).ToArray();
    }

    /// <summary>Vectors truncated to <paramref name="dimensions"/> and renormalised (Matryoshka).</summary>
    public static float[][] Truncate(IReadOnlyList<float[]> full, int dimensions) =>
        full.Select(v => VectorOps.Truncate(v, dimensions, normalize: true)).ToArray();
}
