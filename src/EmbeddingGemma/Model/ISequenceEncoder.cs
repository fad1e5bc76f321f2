namespace EmbeddingGemma.Model;

/// <summary>
/// The backbone behind the pipeline: token ids in (used exactly as given, specials included), the mean over all
/// positions of the final-norm hidden states out. The reference encoder and the fast engine both implement it.
/// A sequence's output never depends on the other sequences passed with it.
/// </summary>
public interface ISequenceEncoder
{
    /// <summary>The backbone configuration.</summary>
    GemmaConfig Config { get; }

    /// <summary>
    /// Encodes each sequence and writes its mean-pooled hidden state to
    /// <paramref name="pooled"/>[i * OutputDimension .. (i+1) * OutputDimension) (OutputDimension = HiddenSize for v1).
    /// Every sequence needs 1..MaxPositionEmbeddings ids.
    /// </summary>
    void EncodePooled(IReadOnlyList<ReadOnlyMemory<int>> sequences, Span<float> pooled, CancellationToken cancellationToken = default);

    /// <summary>Floats per pooled vector: HiddenSize for v1; EmbeddingGemma 2's encoders pool after the 512->768 projection (embedding_dim).</summary>
    int OutputDimension => Config.HiddenSize;
}

/// <summary>Receives a named intermediate tensor ([rows, cols] row-major), e.g. <c>layer.3.attn_norm</c>, <c>pooled</c>.</summary>
public delegate void IntermediateHook(string name, ReadOnlySpan<float> values, int rows, int cols);
