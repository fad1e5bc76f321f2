using System.Runtime.InteropServices;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Cli;

/// <summary>
/// Output checks of the commands that print vectors: a NaN or infinity is never printed (the HTTP service refuses
/// them too); the error names the input and, when a weight holds one, the tensor.
/// </summary>
internal static class CliVectors
{
    /// <summary>Throws InvalidFormat (exit 3) when any vector holds a non-finite value.</summary>
    public static void RequireFinite(IReadOnlyList<float[]> vectors, EmbeddingGemmaModel model)
    {
        for (var i = 0; i < vectors.Count; i++)
        {
            if (AllFinite(vectors[i]))
            {
                continue;
            }
            var tensor = FindNonFiniteTensor(model.Weights2?.Files ?? model.Weights.Files);
            var where = tensor is null ? $"input {i + 1} (line {i + 1})" : $"tensor '{tensor.Value.Name}' in {tensor.Value.File}";
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"the model produced non-finite values: the weights are corrupt ({where}); nothing was written.") { FilePath = model.Source };
        }
    }

    private static bool AllFinite(ReadOnlySpan<float> v)
    {
        foreach (var x in v)
        {
            if (!float.IsFinite(x))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The first tensor holding a NaN or infinity (stored values, dequantized block by block), or null.</summary>
    internal static (string Name, string File)? FindNonFiniteTensor(WeightFiles files)
    {
        foreach (var name in files.Tensors.Keys.Order(StringComparer.Ordinal))
        {
            var (file, info) = files.Find(name);
            if (!TensorFileExtensions.IsDequantizable(info.Type) || info.Shape.Length == 0)
            {
                continue;
            }
            var bytes = file.GetBytes(info);
            bool bad;
            switch (info.Type)
            {
                case GgmlType.F32:
                    bad = !AllFinite(MemoryMarshal.Cast<byte, float>(bytes));
                    break;
                case GgmlType.F16:
                    bad = false;
                    foreach (var h in MemoryMarshal.Cast<byte, ushort>(bytes))
                    {
                        bad |= (h & 0x7C00) == 0x7C00;
                    }
                    break;
                case GgmlType.BF16:
                    bad = false;
                    foreach (var h in MemoryMarshal.Cast<byte, ushort>(bytes))
                    {
                        bad |= (h & 0x7F80) == 0x7F80;
                    }
                    break;
                default:
                    bad = QuantizedHasNonFinite(file, info, bytes);
                    break;
            }
            if (bad)
            {
                return (info.Name, file.Path);
            }
        }
        return null;
    }

    private static bool QuantizedHasNonFinite(ITensorFile file, TensorInfo info, ReadOnlySpan<byte> bytes)
    {
        var cols = info.Shape[^1];
        var rowBytes = GgmlTypeInfo.RowBytes(info.Type, cols);
        if (rowBytes <= 0 || cols > 1 << 24)
        {
            return false;
        }
        var row = new float[cols];
        for (long off = 0; off + rowBytes <= bytes.Length; off += rowBytes)
        {
            TensorFileExtensions.Dequantize(file, info, bytes.Slice((int)off, (int)rowBytes), row);
            if (!AllFinite(row))
            {
                return true;
            }
        }
        return false;
    }
}
