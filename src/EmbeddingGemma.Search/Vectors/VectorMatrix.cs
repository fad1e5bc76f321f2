namespace EmbeddingGemma.Search.Vectors;

/// <summary>
/// Row-major float vectors of one dimension in one contiguous array (the scan reads it front to back).
/// Rows can be appended; capacity doubles. Not thread-safe for writes; concurrent reads are fine.
/// </summary>
public sealed class VectorMatrix
{
    private float[] _data;

    public VectorMatrix(int dimension, int capacity = 16)
    {
        if (dimension <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vector dimension must be positive, got {dimension}.");
        }
        Dimension = dimension;
        _data = new float[(long)Math.Max(capacity, 1) * dimension];
    }

    /// <summary>Wraps existing row-major data (no copy).</summary>
    public VectorMatrix(float[] data, int dimension)
    {
        if (dimension <= 0 || data.Length % dimension != 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Data length {data.Length} is not a multiple of dimension {dimension}.");
        }
        Dimension = dimension;
        _data = data;
        Count = data.Length / dimension;
    }

    public int Dimension { get; }
    public int Count { get; private set; }

    /// <summary>The rows in use, row-major.</summary>
    public ReadOnlySpan<float> Data => _data.AsSpan(0, Count * Dimension);

    internal float[] RawArray => _data;

    public ReadOnlySpan<float> Row(int row) => _data.AsSpan(row * Dimension, Dimension);

    internal Span<float> RowMutable(int row) => _data.AsSpan(row * Dimension, Dimension);

    /// <summary>Appends a row and returns its index.</summary>
    public int Add(ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Vector has {vector.Length} dimensions; this index holds {Dimension}.");
        }
        EnsureCapacity(Count + 1);
        vector.CopyTo(_data.AsSpan(Count * Dimension, Dimension));
        return Count++;
    }

    private void EnsureCapacity(int rows)
    {
        long need = (long)rows * Dimension;
        if (need <= _data.Length)
        {
            return;
        }
        long grown = Math.Max(need, (long)_data.Length * 2);
        long max = (long)Array.MaxLength / Dimension * Dimension;
        if (need > max)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"More than {max / Dimension} vectors of dimension {Dimension} do not fit one in-memory array.");
        }
        Array.Resize(ref _data, (int)Math.Min(grown, max));
    }
}
