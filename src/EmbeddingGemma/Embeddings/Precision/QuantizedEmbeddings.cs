using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace EmbeddingGemma.Embeddings.Precision;

/// <summary>
/// Embeddings at one <see cref="EmbeddingPrecision"/>: <see cref="Count"/> rows of <see cref="RowLength"/> elements,
/// stored as the raw bytes numpy would hold (row-major; float32 little-endian; int8/binary as two's-complement bytes;
/// binary/ubinary rows of ceil(dimensions / 8) packed bytes). The bytes are what <c>.npy</c> files and base64
/// responses carry.
/// </summary>
public sealed class QuantizedEmbeddings
{
    private readonly byte[] _data;

    internal QuantizedEmbeddings(EmbeddingPrecision precision, int count, int dimensions, byte[] data, int valuesOutsideRange)
    {
        Precision = precision;
        Count = count;
        Dimensions = dimensions;
        _data = data;
        ValuesOutsideRange = valuesOutsideRange;
    }

    /// <summary>The precision of the elements.</summary>
    public EmbeddingPrecision Precision { get; }

    /// <summary>Number of rows (embeddings).</summary>
    public int Count { get; }

    /// <summary>Dimensions of the float vectors the rows were made from.</summary>
    public int Dimensions { get; }

    /// <summary>Elements in a row: <see cref="Dimensions"/>, or ceil(Dimensions / 8) for binary and ubinary.</summary>
    public int RowLength => Precision.RowLength(Dimensions);

    /// <summary>Bytes in a row.</summary>
    public int RowBytes => Precision.RowBytes(Dimensions);

    /// <summary>
    /// int8/uint8: how many values fell outside the 8-bit range (below the calibration minimum or above the maximum, or a
    /// dimension whose range is empty); they wrap around as in numpy. 0 for the other precisions.
    /// </summary>
    public int ValuesOutsideRange { get; }

    /// <summary>All rows' bytes, row-major.</summary>
    public ReadOnlySpan<byte> Data => _data;

    /// <summary>The bytes of one row.</summary>
    public ReadOnlySpan<byte> RowData(int row) => _data.AsSpan(checked(row * RowBytes), RowBytes);

    /// <summary>One row of an integer precision as its values: int8 and binary -128..127, uint8 and ubinary 0..255.</summary>
    public int[] IntegerRow(int row)
    {
        if (Precision == EmbeddingPrecision.Float32)
        {
            throw new InvalidOperationException("float32 rows are floats; use FloatRow.");
        }
        var bytes = RowData(row);
        var values = new int[bytes.Length];
        bool signed = Precision.IsSigned();
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = signed ? (sbyte)bytes[i] : bytes[i];
        }
        return values;
    }

    /// <summary>One float32 row.</summary>
    public float[] FloatRow(int row)
    {
        if (Precision != EmbeddingPrecision.Float32)
        {
            throw new InvalidOperationException($"{Precision.Name()} rows are integers; use IntegerRow.");
        }
        var bytes = RowData(row);
        var values = new float[RowLength];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
        }
        return values;
    }

    /// <summary>An int8 or binary row as signed bytes.</summary>
    public ReadOnlySpan<sbyte> SignedRow(int row) => Precision.IsSigned()
        ? MemoryMarshal.Cast<byte, sbyte>(RowData(row))
        : throw new InvalidOperationException($"{Precision.Name()} elements are unsigned; use RowData.");
}
