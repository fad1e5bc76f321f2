using System.Buffers.Binary;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Embeddings.Precision;

/// <summary>
/// sentence-transformers' <c>quantize_embeddings</c> (sentence_transformers/quantization.py), value for value:
/// <list type="bullet">
/// <item>float32: the vectors unchanged.</item>
/// <item>int8 / uint8: ranges = the given <see cref="QuantizationRanges"/>, else min/max per dimension of the
/// embeddings themselves (not recommended for few vectors; one vector gives all zeros); starts = min,
/// steps = (max - min) / 255; uint8 = <c>((x - starts) / steps).astype(uint8)</c>,
/// int8 = <c>((x - starts) / steps - 128).astype(int8)</c>, in float32 arithmetic; the cast truncates toward zero and
/// does not clip (numpy on x86-64, <see cref="VectorOps.CastToByte"/>).</item>
/// <item>binary: <c>np.packbits(x &gt; 0) - 128</c> as int8; ubinary: <c>np.packbits(x &gt; 0)</c> as uint8 (first
/// dimension in the top bit). A dimension count that is not a multiple of 8 pads each row with zero bits, as
/// <c>np.packbits(x &gt; 0, axis=-1)</c> (sentence-transformers packs the flattened batch and then fails to reshape
/// it for more than one row; one row gives the same bytes).</item>
/// </list>
/// </summary>
public static class EmbeddingQuantizer
{
    /// <summary>Quantizes float embeddings (all of one length, at least one value each) to <paramref name="precision"/>.</summary>
    /// <param name="embeddings">float vectors, all of one length.</param>
    /// <param name="precision">the output precision.</param>
    /// <param name="ranges">int8/uint8 only: calibration ranges; null = computed from <paramref name="embeddings"/>.</param>
    public static QuantizedEmbeddings Quantize(IReadOnlyList<float[]> embeddings, EmbeddingPrecision precision, QuantizationRanges? ranges = null)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        int dim = embeddings.Count == 0 ? ranges?.Dimensions ?? 0 : embeddings[0]?.Length ?? 0;
        for (int r = 0; r < embeddings.Count; r++)
        {
            int len = embeddings[r]?.Length ?? 0;
            if (len == 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Embedding {r + 1} is empty; there is nothing to quantize.");
            }
            if (len != dim)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Embedding {r + 1} has {len} values; embedding 1 has {dim}.");
            }
        }
        if (ranges is not null && !precision.NeedsRanges())
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Calibration ranges apply to int8 and uint8 only, not {precision.Name()}.");
        }
        int rowBytes = precision.RowBytes(dim);
        var data = new byte[checked((long)rowBytes * embeddings.Count)];
        int outside = 0;
        switch (precision)
        {
            case EmbeddingPrecision.Float32:
                for (int r = 0; r < embeddings.Count; r++)
                {
                    for (int i = 0; i < dim; i++)
                    {
                        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(r * rowBytes + i * 4), embeddings[r][i]);
                    }
                }
                break;
            case EmbeddingPrecision.Int8:
            case EmbeddingPrecision.UInt8:
                if (embeddings.Count == 0)
                {
                    break;
                }
                ranges ??= QuantizationRanges.FromEmbeddings(embeddings, "embeddings");
                if (ranges.Dimensions != dim)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                        $"The calibration ranges have {ranges.Dimensions} dimensions; the embeddings have {dim}.");
                }
                var steps = ranges.Steps();
                float offset = precision == EmbeddingPrecision.Int8 ? 128f : 0f;
                for (int r = 0; r < embeddings.Count; r++)
                {
                    outside += VectorOps.QuantizeWithRanges(embeddings[r], ranges.Min, steps, offset, data.AsSpan(r * rowBytes, rowBytes));
                }
                break;
            case EmbeddingPrecision.Binary:
            case EmbeddingPrecision.UBinary:
                for (int r = 0; r < embeddings.Count; r++)
                {
                    var row = data.AsSpan(r * rowBytes, rowBytes);
                    VectorOps.PackSignBits(embeddings[r], row);
                    if (precision == EmbeddingPrecision.Binary)
                    {
                        for (int i = 0; i < row.Length; i++)
                        {
                            row[i] = unchecked((byte)(row[i] - 128)); // uint8 - 128 as int8: the top bit flips
                        }
                    }
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(precision), precision, null);
        }
        return new QuantizedEmbeddings(precision, embeddings.Count, dim, data, outside);
    }

    /// <summary>
    /// Encodes texts with <paramref name="model"/> and quantizes them: sentence-transformers'
    /// <c>model.encode(texts, precision=...)</c>. int8/uint8 without <paramref name="ranges"/> calibrate on these texts.
    /// </summary>
    public static QuantizedEmbeddings EncodeQuantized(this EmbeddingGemmaModel model, IReadOnlyList<string> texts, EmbeddingPrecision precision,
        EncodeOptions? options = null, QuantizationRanges? ranges = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Quantize(model.Encode(texts, options, null, cancellationToken), precision, ranges);
    }
}
