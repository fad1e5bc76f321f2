using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Search.Vectors;

/// <summary>
/// Vectors held as their sign bits only (sentence-transformers' ubinary: <c>np.packbits(x &gt; 0)</c>, see
/// <see cref="VectorOps.PackSignBits"/>): ceil(dim / 8) bytes a row, 32x less than float32. <see cref="Search"/>
/// ranks every row by Hamming distance to the query's sign bits, keeps the best <c>candidates</c> and rescores them
/// with the float query against vectors supplied by the caller (a binary <see cref="Index.SemanticIndex"/> supplies
/// its int8 copies from disk), so returned scores are inner products, not bit counts.
/// </summary>
public sealed class BinaryMatrix
{
    private byte[] _data;

    public BinaryMatrix(int dimension, int capacity = 16)
    {
        if (dimension <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vector dimension must be positive, got {dimension}.");
        }
        Dimension = dimension;
        RowBytes = (dimension + 7) / 8;
        _data = new byte[(long)Math.Max(capacity, 1) * RowBytes];
    }

    public int Dimension { get; }

    /// <summary>Bytes a row: ceil(<see cref="Dimension"/> / 8).</summary>
    public int RowBytes { get; }

    public int Count { get; private set; }

    /// <summary>Bytes held for the rows in use.</summary>
    public long ByteSize => (long)Count * RowBytes;

    /// <summary>Adds a float vector (its sign bits are kept). Returns the row.</summary>
    public int Add(ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vector has {vector.Length} dimensions; this index holds {Dimension}.");
        }
        Span<byte> bits = RowBytes <= 512 ? stackalloc byte[RowBytes] : new byte[RowBytes];
        VectorOps.PackSignBits(vector, bits);
        return AddBits(bits);
    }

    /// <summary>Adds a row of packed sign bits (<see cref="RowBytes"/> bytes). Returns the row.</summary>
    public int AddBits(ReadOnlySpan<byte> bits)
    {
        if (bits.Length != RowBytes)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"A packed row has {bits.Length} bytes; {Dimension} dimensions need {RowBytes}.");
        }
        if ((long)(Count + 1) * RowBytes > _data.Length)
        {
            Array.Resize(ref _data, (int)Math.Min((long)Array.MaxLength, Math.Max((long)(Count + 1) * RowBytes, (long)_data.Length * 2)));
        }
        bits.CopyTo(_data.AsSpan(Count * RowBytes, RowBytes));
        return Count++;
    }

    public ReadOnlySpan<byte> Row(int row) => _data.AsSpan(row * RowBytes, RowBytes);

    /// <summary>
    /// The k best rows: Hamming scan for the best <paramref name="candidates"/> (at least k), then rescoring with the
    /// float query against <paramref name="rescoreVector"/> (row -> vector); scores are those inner products.
    /// </summary>
    public ScoredRow[] Search(ReadOnlySpan<float> query, int k, int candidates, Func<int, ReadOnlyMemory<float>> rescoreVector,
        ReadOnlySpan<bool> allowed = default, float minScore = float.NegativeInfinity)
    {
        ArgumentNullException.ThrowIfNull(rescoreVector);
        if (query.Length != Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Query has {query.Length} dimensions; the index holds {Dimension}.");
        }
        if (k <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"top_k must be at least 1, got {k}.");
        }
        var coarse = HammingSearch(query, Math.Max(k, candidates), allowed);
        var top = new TopK(k);
        var kernels = KernelCatalog.Default;
        foreach (var c in coarse)
        {
            float s = VectorOps.Dot(rescoreVector(c.Row).Span, query, kernels);
            if (s >= minScore)
            {
                top.Add(c.Row, s);
            }
        }
        return top.ToSortedArray();
    }

    /// <summary>The k rows nearest the query's sign bits; score = minus the Hamming distance (ties: lower row first).</summary>
    public ScoredRow[] HammingSearch(ReadOnlySpan<float> query, int k, ReadOnlySpan<bool> allowed = default)
    {
        var q = new byte[RowBytes];
        VectorOps.PackSignBits(query, q);
        var top = new TopK(k);
        for (int row = 0; row < Count; row++)
        {
            if (!allowed.IsEmpty && !allowed[row])
            {
                continue;
            }
            float s = -VectorOps.HammingDistance(Row(row), q);
            if (s >= top.Threshold)
            {
                top.Add(row, s);
            }
        }
        return top.ToSortedArray();
    }
}
