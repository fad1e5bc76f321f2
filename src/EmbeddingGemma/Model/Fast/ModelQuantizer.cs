using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model.Fast;

/// <summary>Target of <see cref="ModelQuantizer"/>.</summary>
public enum QuantizationScheme
{
    /// <summary>Every matrix Q8_0 (norms F32).</summary>
    Q8_0,
    /// <summary>Every matrix Q4_0 (norms F32), token embedding included.</summary>
    Q4_0,
    /// <summary>
    /// The model card's mixed precision <c>e4_a8_f4_p4</c>: int4 (Q4_0) token embedding, feed-forward and Dense
    /// projections; int8 (Q8_0) attention q/k/v/o; norms F32.
    /// </summary>
    Mixed,
}

/// <summary>
/// Writes quantized GGUF files (llama.cpp-loadable: arch gemma-embedding, or gemma-embedding2 for EmbeddingGemma 2)
/// from a HF folder or a GGUF of either architecture. As llama.cpp's quantizer does (llama-quant.cpp): 1-D tensors
/// (norms, EmbeddingGemma 2's <c>blk.N.layer_output_scale.weight</c>) stay F32, and <c>per_layer_model_proj</c> is not
/// quantized ("these are not too big so keep them as it is"): it stays BF16, the type of the released file.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>Parses <c>q8_0|q4_0|mixed</c>.</summary>
    public static QuantizationScheme Parse(string text) => text?.Trim().ToLowerInvariant() switch
    {
        "q8_0" or "q8" => QuantizationScheme.Q8_0,
        "q4_0" or "q4" => QuantizationScheme.Q4_0,
        "mixed" => QuantizationScheme.Mixed,
        _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown quantization type '{text}': expected q8_0, q4_0 or mixed."),
    };

    /// <summary>EmbeddingGemma 2's per-layer-embedding projection (GGUF name), which llama.cpp never quantizes.</summary>
    public const string PleModelProjection = "per_layer_model_proj.weight";

    /// <summary>The storage type of GGUF matrix <paramref name="ggufName"/> under <paramref name="scheme"/> (1-D tensors are kept F32 by the writers).</summary>
    public static GgmlType TypeFor(QuantizationScheme scheme, string ggufName)
    {
        ArgumentNullException.ThrowIfNull(ggufName);
        if (ggufName == PleModelProjection)
        {
            return GgmlType.BF16;
        }
        return scheme switch
        {
            QuantizationScheme.Q8_0 => GgmlType.Q8_0,
            QuantizationScheme.Q4_0 => GgmlType.Q4_0,
            _ => ggufName.Contains(".attn_", StringComparison.Ordinal) ? GgmlType.Q8_0 : GgmlType.Q4_0,
        };
    }

    /// <summary>Reads <paramref name="model"/> (folder or .gguf) and writes <paramref name="outputPath"/>; returns tensor counts per type.</summary>
    public static IReadOnlyDictionary<GgmlType, int> Quantize(string model, QuantizationScheme scheme, string outputPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        var ckpt = ModelCheckpoints.Read(model);
        var fileType = scheme == QuantizationScheme.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q4_0;
        var dir = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        ckpt.WriteGguf(outputPath, fileType, name => TypeFor(scheme, name));
        using var g = GgufFile.Open(outputPath);
        return g.Tensors.Values.GroupBy(t => t.Type).ToDictionary(x => x.Key, x => x.Count());
    }
}
