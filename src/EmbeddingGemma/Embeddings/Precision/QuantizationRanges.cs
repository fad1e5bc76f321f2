namespace EmbeddingGemma.Embeddings.Precision;

/// <summary>
/// Per-dimension calibration ranges of int8/uint8 quantization: sentence-transformers' <c>ranges</c> array of shape
/// (2, dim), row 0 the minimum and row 1 the maximum of each dimension over the calibration embeddings. float32, the
/// dtype of the model's embeddings (sentence-transformers computes in the embeddings' dtype).
/// </summary>
public sealed class QuantizationRanges
{
    private readonly float[] _min;
    private readonly float[] _max;

    /// <summary>Ranges from explicit per-dimension minima and maxima (finite, same length, min &lt;= max).</summary>
    public QuantizationRanges(ReadOnlySpan<float> min, ReadOnlySpan<float> max)
    {
        if (min.Length == 0 || min.Length != max.Length)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Quantization ranges need one minimum and one maximum per dimension; got {min.Length} minima and {max.Length} maxima.");
        }
        for (int i = 0; i < min.Length; i++)
        {
            if (!float.IsFinite(min[i]) || !float.IsFinite(max[i]) || min[i] > max[i])
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"Quantization range of dimension {i} is [{min[i]}, {max[i]}]: minimum and maximum must be finite with minimum <= maximum.");
            }
        }
        _min = min.ToArray();
        _max = max.ToArray();
    }

    /// <summary>The number of dimensions.</summary>
    public int Dimensions => _min.Length;

    /// <summary>Per-dimension minima (sentence-transformers' <c>ranges[0]</c>, the <c>starts</c>).</summary>
    public ReadOnlySpan<float> Min => _min;

    /// <summary>Per-dimension maxima (<c>ranges[1]</c>).</summary>
    public ReadOnlySpan<float> Max => _max;

    /// <summary>
    /// <c>np.vstack((np.min(e, axis=0), np.max(e, axis=0)))</c> over calibration embeddings (at least one, all of one
    /// length, every value finite). The error names the first bad row and column.
    /// </summary>
    public static QuantizationRanges FromEmbeddings(IReadOnlyList<float[]> embeddings, string source = "calibration embeddings")
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        if (embeddings.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{source}: no vectors; int8/uint8 ranges need at least one.");
        }
        int dim = embeddings[0]?.Length ?? 0;
        if (dim == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{source}: row 1 is empty.");
        }
        var min = new float[dim];
        var max = new float[dim];
        Array.Fill(min, float.PositiveInfinity);
        Array.Fill(max, float.NegativeInfinity);
        for (int r = 0; r < embeddings.Count; r++)
        {
            var e = embeddings[r];
            if (e is null || e.Length != dim)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{source}: row {r + 1} has {e?.Length ?? 0} values; row 1 has {dim}.");
            }
            for (int i = 0; i < dim; i++)
            {
                float v = e[i];
                if (!float.IsFinite(v))
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{source}: row {r + 1}, column {i + 1} is {v}; calibration values must be finite.");
                }
                min[i] = Math.Min(min[i], v);
                max[i] = Math.Max(max[i], v);
            }
        }
        return new QuantizationRanges(min, max);
    }

    /// <summary>The per-dimension steps <c>(max - min) / 255</c> in float32 (0 for a constant dimension).</summary>
    public float[] Steps()
    {
        var steps = new float[_min.Length];
        for (int i = 0; i < steps.Length; i++)
        {
            steps[i] = (_max[i] - _min[i]) / 255f;
        }
        return steps;
    }
}
