namespace EmbeddingGemma.Numerics;

/// <summary>
/// Tensor element types, numbered exactly as ggml's <c>enum ggml_type</c> (ggml/include/ggml.h), which is what a
/// GGUF tensor-info record stores. Safetensors dtypes map onto the first three.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
}

/// <summary>Block geometry of each type (ggml's <c>type_traits</c>: blck_size and type_size).</summary>
public static class GgmlTypeInfo
{
    /// <summary>Elements per block (1 for plain types).</summary>
    public static int BlockSize(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.I8 or GgmlType.I16 or GgmlType.I32 or GgmlType.I64 or GgmlType.F64 => 1,
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1 => 32,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K => 256,
        _ => throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"Unknown ggml type id {(uint)type}."),
    };

    /// <summary>Bytes per block.</summary>
    public static int BlockBytes(GgmlType type) => type switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 or GgmlType.BF16 => 2,
        GgmlType.I8 => 1,
        GgmlType.I16 => 2,
        GgmlType.I32 => 4,
        GgmlType.I64 or GgmlType.F64 => 8,
        GgmlType.Q4_0 => 18,   // half d; u8 qs[16]
        GgmlType.Q4_1 => 20,   // half d, m; u8 qs[16]
        GgmlType.Q5_0 => 22,   // half d; u8 qh[4]; u8 qs[16]
        GgmlType.Q5_1 => 24,   // half d, m; u8 qh[4]; u8 qs[16]
        GgmlType.Q8_0 => 34,   // half d; i8 qs[32]
        GgmlType.Q8_1 => 36,   // half d, s; i8 qs[32]
        GgmlType.Q2_K => 84,
        GgmlType.Q3_K => 110,
        GgmlType.Q4_K => 144,
        GgmlType.Q5_K => 176,
        GgmlType.Q6_K => 210,
        GgmlType.Q8_K => 292,
        _ => throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"Unknown ggml type id {(uint)type}."),
    };

    /// <summary>True for the types whose ids are known to this library (not necessarily computable).</summary>
    public static bool IsKnown(GgmlType type) => Enum.IsDefined(type);

    /// <summary>Bytes needed for <paramref name="elements"/> values (a multiple of the block size).</summary>
    public static long RowBytes(GgmlType type, long elements)
    {
        var bs = BlockSize(type);
        if (elements % bs != 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{elements} elements is not a multiple of the {type} block size {bs}.");
        }
        return elements / bs * BlockBytes(type);
    }
}
