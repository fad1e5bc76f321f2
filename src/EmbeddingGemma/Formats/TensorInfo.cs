using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Formats;

/// <summary>
/// One tensor in a weight file. <see cref="Shape"/> is in PyTorch order (outermost first; a Linear weight is
/// [out, in]); GGUF's ggml <c>ne</c> order is the reverse. Data is row-major in both formats.
/// </summary>
public sealed record TensorInfo(string Name, GgmlType Type, long[] Shape, long DataOffset, long ByteLength)
{
    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as text, e.g. [768, 3072].</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>A weight file that holds named tensors (safetensors or GGUF).</summary>
public interface ITensorFile : IDisposable
{
    /// <summary>The file's path.</summary>
    string Path { get; }

    /// <summary>Tensors by name, in file order.</summary>
    IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    /// <summary>The raw bytes of a tensor (bounds-checked).</summary>
    ReadOnlySpan<byte> GetBytes(TensorInfo tensor);
}

/// <summary>Helpers shared by the readers.</summary>
public static class TensorFileExtensions
{
    /// <summary>Dequantizes a whole tensor to float32 (throws Unsupported naming tensor and type when no dequantizer exists).</summary>
    public static float[] ReadFloats(this ITensorFile file, string name)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.Tensors.TryGetValue(name, out var info))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{file.Path}: tensor '{name}' is missing.") { FilePath = file.Path };
        }
        return file.ReadFloats(info);
    }

    /// <summary>Dequantizes a whole tensor to float32.</summary>
    public static float[] ReadFloats(this ITensorFile file, TensorInfo info)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(info);
        var count = info.ElementCount;
        if (count > Array.MaxLength)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{file.Path}: tensor '{info.Name}' has {count} elements, too many for one array.");
        }
        var result = new float[count];
        Dequantize(file, info, file.GetBytes(info), result);
        return result;
    }

    /// <summary>Dequantizes <paramref name="bytes"/> of <paramref name="info"/> into <paramref name="destination"/>, naming the tensor on failure.</summary>
    public static void Dequantize(ITensorFile file, TensorInfo info, ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(info);
        if (!IsDequantizable(info.Type))
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported,
                $"{file.Path}: tensor '{info.Name}' has type {info.Type}, which this library cannot dequantize yet (supported: {string.Join(", ", SupportedTypes)}).") { FilePath = file.Path };
        }
        Numerics.Quantization.ScalarQuant.Dequantize(info.Type, bytes, destination);
    }

    /// <summary>The tensor types the reference path can read.</summary>
    public static IReadOnlyList<GgmlType> SupportedTypes { get; } = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0];

    /// <summary>True when <see cref="Numerics.Quantization.ScalarQuant.Dequantize"/> handles the type.</summary>
    public static bool IsDequantizable(GgmlType type)
    {
        if (SupportedTypes.Contains(type))
        {
            return true;
        }
        // Types added later to ScalarQuant (k-quants) are detected by probing one block.
        if (!GgmlTypeInfo.IsKnown(type))
        {
            return false;
        }
        try
        {
            var bs = GgmlTypeInfo.BlockSize(type);
            Numerics.Quantization.ScalarQuant.Dequantize(type, new byte[GgmlTypeInfo.BlockBytes(type)], new float[bs]);
            return true;
        }
        catch (EmbeddingGemmaException)
        {
            return false;
        }
    }
}

/// <summary>Checks shared by the readers on a file's tensor table.</summary>
internal static class TensorRanges
{
    /// <summary>
    /// Refuses tensors whose byte ranges overlap (a corrupt or hand-edited header would otherwise make two tensors
    /// alias the same bytes and load silently): ranges sorted by start, each must begin at or after the previous end.
    /// Empty tensors take no bytes and are skipped. <paramref name="bad"/> builds the error from its message.
    /// </summary>
    public static void CheckNoOverlap(IEnumerable<TensorInfo> tensors, Func<string, EmbeddingGemmaException> bad)
    {
        TensorInfo? previous = null;
        foreach (var t in tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.DataOffset).ThenBy(t => t.DataOffset + t.ByteLength))
        {
            if (previous is not null && t.DataOffset < previous.DataOffset + previous.ByteLength)
            {
                throw bad($"tensors '{previous.Name}' (bytes {previous.DataOffset}..{previous.DataOffset + previous.ByteLength}) and '{t.Name}' "
                    + $"(bytes {t.DataOffset}..{t.DataOffset + t.ByteLength}) overlap; the header's offsets are corrupt");
            }
            previous = t;
        }
    }
}
