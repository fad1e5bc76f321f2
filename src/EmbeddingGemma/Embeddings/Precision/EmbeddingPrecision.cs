namespace EmbeddingGemma.Embeddings.Precision;

/// <summary>
/// Output precision of embeddings, as sentence-transformers' <c>precision</c> / <c>quantize_embeddings</c>
/// (sentence_transformers/quantization.py): float32 (4 bytes a dimension), int8 and uint8 (1 byte a dimension, from
/// per-dimension calibration ranges), binary and ubinary (1 bit a dimension: the sign bits, packed 8 to a byte).
/// </summary>
public enum EmbeddingPrecision
{
    /// <summary>The model's float32 vector, unchanged.</summary>
    Float32,
    /// <summary>int8: <c>((x - min) / ((max - min) / 255) - 128)</c> cast to int8, per dimension.</summary>
    Int8,
    /// <summary>uint8: <c>((x - min) / ((max - min) / 255))</c> cast to uint8, per dimension.</summary>
    UInt8,
    /// <summary>binary: <c>numpy.packbits(x &gt; 0) - 128</c> as int8 (8 dimensions a byte, first dimension in the top bit).</summary>
    Binary,
    /// <summary>ubinary: <c>numpy.packbits(x &gt; 0)</c> as uint8.</summary>
    UBinary,
}

/// <summary>Names, parsing and sizes of <see cref="EmbeddingPrecision"/>.</summary>
public static class EmbeddingPrecisions
{
    /// <summary>The names accepted by <see cref="Parse"/>, as the CLI, the HTTP service and sentence-transformers spell them.</summary>
    public const string Names = "float32, int8, uint8, binary, ubinary";

    /// <summary>The sentence-transformers name: float32, int8, uint8, binary, ubinary.</summary>
    public static string Name(this EmbeddingPrecision precision) => precision switch
    {
        EmbeddingPrecision.Float32 => "float32",
        EmbeddingPrecision.Int8 => "int8",
        EmbeddingPrecision.UInt8 => "uint8",
        EmbeddingPrecision.Binary => "binary",
        EmbeddingPrecision.UBinary => "ubinary",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };

    /// <summary>Parses an exact lower-case name; null when it is not one of <see cref="Names"/>.</summary>
    public static EmbeddingPrecision? TryParse(string? name) => name switch
    {
        "float32" => EmbeddingPrecision.Float32,
        "int8" => EmbeddingPrecision.Int8,
        "uint8" => EmbeddingPrecision.UInt8,
        "binary" => EmbeddingPrecision.Binary,
        "ubinary" => EmbeddingPrecision.UBinary,
        _ => null,
    };

    /// <summary>Parses a name, or throws InvalidArgument naming <paramref name="what"/> and the accepted values.</summary>
    public static EmbeddingPrecision Parse(string? name, string what = "precision") =>
        TryParse(name) ?? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
            $"{what} must be one of {Names}; got '{name}'.");

    /// <summary>True for int8 and uint8, the precisions that need calibration ranges.</summary>
    public static bool NeedsRanges(this EmbeddingPrecision precision) => precision is EmbeddingPrecision.Int8 or EmbeddingPrecision.UInt8;

    /// <summary>True for binary and ubinary (sign bits packed 8 to a byte).</summary>
    public static bool IsPacked(this EmbeddingPrecision precision) => precision is EmbeddingPrecision.Binary or EmbeddingPrecision.UBinary;

    /// <summary>True for the signed element types (int8 and binary).</summary>
    public static bool IsSigned(this EmbeddingPrecision precision) => precision is EmbeddingPrecision.Int8 or EmbeddingPrecision.Binary;

    /// <summary>Elements in one quantized row of <paramref name="dimensions"/> values: dimensions, or ceil(dimensions / 8) when packed.</summary>
    public static int RowLength(this EmbeddingPrecision precision, int dimensions) =>
        precision.IsPacked() ? (dimensions + 7) / 8 : dimensions;

    /// <summary>Bytes of one element: 4 for float32, 1 otherwise.</summary>
    public static int ElementSize(this EmbeddingPrecision precision) => precision == EmbeddingPrecision.Float32 ? sizeof(float) : 1;

    /// <summary>Bytes of one quantized row of <paramref name="dimensions"/> values.</summary>
    public static int RowBytes(this EmbeddingPrecision precision, int dimensions) => precision.RowLength(dimensions) * precision.ElementSize();

    /// <summary>The numpy dtype string of the elements: <c>&lt;f4</c>, <c>|i1</c> (int8, binary) or <c>|u1</c> (uint8, ubinary).</summary>
    public static string NumpyDescr(this EmbeddingPrecision precision) => precision switch
    {
        EmbeddingPrecision.Float32 => "<f4",
        EmbeddingPrecision.Int8 or EmbeddingPrecision.Binary => "|i1",
        _ => "|u1",
    };
}
