using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Search.Vectors;

/// <summary>
/// Vectors stored as int8 with one float scale per row (<see cref="VectorOps.QuantizeInt8"/>: q = round(x / scale), scale = max|x| / 127):
/// a quarter of the memory of float32. Scores from int8 are approximate; <see cref="Search"/> takes the best
/// candidates by int8 score and rescores them with full-precision vectors supplied by the caller.
/// </summary>
public sealed class Int8Matrix
{
    private sbyte[] _data;
    private float[] _scales;

    public Int8Matrix(int dimension, int capacity = 16)
    {
        if (dimension <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vector dimension must be positive, got {dimension}.");
        }
        Dimension = dimension;
        _data = new sbyte[(long)Math.Max(capacity, 1) * dimension];
        _scales = new float[Math.Max(capacity, 1)];
    }

    public int Dimension { get; }
    public int Count { get; private set; }

    /// <summary>Bytes held for the rows in use.</summary>
    public long ByteSize => (long)Count * (Dimension + sizeof(float));

    public int Add(ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vector has {vector.Length} dimensions; this index holds {Dimension}.");
        }
        if ((long)(Count + 1) * Dimension > _data.Length)
        {
            Array.Resize(ref _data, (int)Math.Min((long)Array.MaxLength, Math.Max((long)(Count + 1) * Dimension, (long)_data.Length * 2)));
            Array.Resize(ref _scales, Math.Max(Count + 1, _scales.Length * 2));
        }
        _scales[Count] = VectorOps.QuantizeInt8(vector, _data.AsSpan(Count * Dimension, Dimension));
        return Count++;
    }

    public ReadOnlySpan<sbyte> Row(int row) => _data.AsSpan(row * Dimension, Dimension);
    public float Scale(int row) => _scales[row];

    /// <summary>
    /// The k best rows: int8 scan for the best <paramref name="candidates"/>, then exact rescoring with
    /// <paramref name="fullPrecision"/> (row -> float vector), so returned scores are full precision.
    /// </summary>
    public ScoredRow[] Search(ReadOnlySpan<float> query, int k, int candidates, Func<int, ReadOnlyMemory<float>> fullPrecision,
        ReadOnlySpan<bool> allowed = default, float minScore = float.NegativeInfinity)
    {
        ArgumentNullException.ThrowIfNull(fullPrecision);
        if (query.Length != Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Query has {query.Length} dimensions; the index holds {Dimension}.");
        }
        if (k <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"top_k must be at least 1, got {k}.");
        }
        var coarse = ApproximateSearch(query, Math.Max(k, candidates), allowed);
        var top = new TopK(k);
        foreach (var c in coarse)
        {
            float s = VectorOps.Dot(fullPrecision(c.Row).Span, query);
            if (s >= minScore)
            {
                top.Add(c.Row, s);
            }
        }
        return top.ToSortedArray();
    }

    /// <summary>Top rows by the int8 approximation of the inner product (scores approximate).</summary>
    public ScoredRow[] ApproximateSearch(ReadOnlySpan<float> query, int k, ReadOnlySpan<bool> allowed = default)
    {
        var kernels = KernelCatalog.Default;
        var q = new sbyte[Dimension];
        float qs = VectorOps.QuantizeInt8(query, q, kernels);
        var top = new TopK(k);
        for (int row = 0; row < Count; row++)
        {
            if (!allowed.IsEmpty && !allowed[row])
            {
                continue;
            }
            float s = VectorOps.DotInt8(Row(row), q, kernels) * _scales[row] * qs;
            if (s >= top.Threshold)
            {
                top.Add(row, s);
            }
        }
        return top.ToSortedArray();
    }
}
