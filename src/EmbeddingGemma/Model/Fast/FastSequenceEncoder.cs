namespace EmbeddingGemma.Model.Fast;

/// <summary>
/// The fast engine behind <see cref="ISequenceEncoder"/>, over the loaded <see cref="ModelWeights"/>: every matrix is
/// used in its stored type (F32, F16, BF16, Q8_0, Q4_0 with fast kernels; the k-quants and other ggml types through
/// fp32 panels) over the memory map, so a quantized file stays quantized from disk to kernel.
/// </summary>
public sealed class FastSequenceEncoder : ISequenceEncoder
{
    private readonly FastEncoder _encoder;

    /// <summary>The fast engine over <paramref name="weights"/> (not owned).</summary>
    public FastSequenceEncoder(ModelWeights weights, FastEncoderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Config = weights.Config;
        _encoder = new FastEncoder(weights, options);
    }

    /// <inheritdoc />
    public GemmaConfig Config { get; }

    /// <summary>The engine.</summary>
    public FastEncoder Engine => _encoder;

    /// <inheritdoc />
    public void EncodePooled(IReadOnlyList<ReadOnlyMemory<int>> sequences, Span<float> pooled, CancellationToken cancellationToken = default) =>
        _encoder.EncodePooled(sequences, pooled, cancellationToken);
}
