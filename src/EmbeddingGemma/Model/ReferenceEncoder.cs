namespace EmbeddingGemma.Model;

/// <summary>
/// The reference forward pass: plain loops, fp32 activations, double accumulation; every stage can be observed
/// through an <see cref="IntermediateHook"/>. It is the oracle for the fast engine, not the fast path.
/// Each sequence is encoded on its own at its own length, so no padding and no batch-mate influence exist.
/// </summary>
public sealed class ReferenceEncoder : ISequenceEncoder
{
    private readonly ModelWeights _weights;
    private readonly ParallelOptions _parallel;

    /// <summary>A reference encoder over <paramref name="weights"/> (the same objects the fast engine reads); <paramref name="threads"/> ≤ 0: all cores.</summary>
    public ReferenceEncoder(ModelWeights weights, IntermediateHook? hook = null, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(weights);
        _weights = weights;
        Hook = hook;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = threads <= 0 ? -1 : threads };
    }

    /// <inheritdoc />
    public GemmaConfig Config => _weights.Config;

    /// <summary>Observer of named intermediates (null: none).</summary>
    public IntermediateHook? Hook { get; }

    /// <summary>Final-norm hidden states [ids.Length, hidden] (sentence-transformers' token_embeddings).</summary>
    public float[] EncodeTokens(ReadOnlySpan<int> ids, CancellationToken cancellationToken = default)
    {
        var c = Config;
        ValidateIds(c, ids);
        var s = ids.Length;
        var hidden = new float[s * c.HiddenSize];
        ScaledEmbedding.Forward(_weights, ids, hidden);
        Hook?.Invoke("embed", hidden, s, c.HiddenSize);
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            EncoderLayer.Forward(c, _weights.Layers[l], l, hidden, s, Hook, _parallel);
        }
        RmsNorm.Forward(hidden, _weights.FinalNormGain, c.RmsNormEps, hidden);
        Hook?.Invoke("final_norm", hidden, s, c.HiddenSize);
        return hidden;
    }

    /// <inheritdoc />
    public void EncodePooled(IReadOnlyList<ReadOnlyMemory<int>> sequences, Span<float> pooled, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var h = Config.HiddenSize;
        if (pooled.Length < sequences.Count * h)
        {
            throw new ArgumentException($"pooled needs {sequences.Count * h} floats, got {pooled.Length}.", nameof(pooled));
        }
        for (var n = 0; n < sequences.Count; n++)
        {
            var ids = sequences[n].Span;
            var hidden = EncodeTokens(ids, cancellationToken);
            var dst = pooled.Slice(n * h, h);
            MeanPool(hidden, ids.Length, h, dst);
            Hook?.Invoke("pooled", dst, 1, h);
        }
    }

    /// <summary>Mean over all positions (ST Pooling with include_prompt: specials and prompt tokens count). Double accumulation.</summary>
    internal static void MeanPool(ReadOnlySpan<float> hidden, int s, int h, Span<float> destination)
    {
        for (var i = 0; i < h; i++)
        {
            double acc = 0;
            for (var t = 0; t < s; t++)
            {
                acc += hidden[t * h + i];
            }
            destination[i] = (float)(acc / s);
        }
    }

    /// <summary>Checks 1 &lt;= length &lt;= max_position_embeddings and every id inside the vocabulary.</summary>
    public static void ValidateIds(GemmaConfig config, ReadOnlySpan<int> ids)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (ids.Length == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "A sequence needs at least one token id.");
        }
        if (ids.Length > config.MaxPositionEmbeddings)
        {
            throw new EmbeddingGemmaException(ErrorKind.InputTooLong, $"A sequence of {ids.Length} tokens exceeds max_position_embeddings ({config.MaxPositionEmbeddings}).");
        }
        for (var i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)config.VocabSize)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Token id {ids[i]} at position {i} is outside the vocabulary (0..{config.VocabSize - 1}).");
            }
        }
    }
}
