using System.Buffers.Binary;

namespace EmbeddingGemma.Numerics.Quantization;

/// <summary>
/// Scalar reference conversions between float32 and the stored weight types, bit-exact with ggml's reference
/// functions (ggml-quants.c <c>quantize_row_q8_0_ref</c>, <c>quantize_row_q4_0_ref</c>, <c>dequantize_row_*</c>,
/// ggml-impl.h <c>ggml_compute_fp32_to_bf16</c>). Plain loops: the fast kernels are tested against these.
/// </summary>
public static partial class ScalarQuant
{
    /// <summary>BF16 bits to float32: the 16 bits are the top half of the float32.</summary>
    public static float Bf16ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Float32 to BF16 with round-to-nearest-even; NaN stays a quiet NaN (ggml_compute_fp32_to_bf16).</summary>
    public static ushort FloatToBf16(float value)
    {
        var u = (uint)BitConverter.SingleToInt32Bits(value);
        if ((u & 0x7fffffff) > 0x7f800000)
        {
            return (ushort)((u >> 16) | 64);
        }
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    /// <summary>IEEE half bits to float32.</summary>
    public static float F16ToFloat(ushort bits)
    {
        // Normal numbers by moving the bits (exact); zero, subnormals, infinities and NaN through Half.
        var em = bits & 0x7FFFu;
        if (em is >= 0x0400u and < 0x7C00u)
        {
            return BitConverter.UInt32BitsToSingle(((bits & 0x8000u) << 16) | ((em << 13) + (112u << 23)));
        }
        return (float)BitConverter.UInt16BitsToHalf(bits);
    }

    /// <summary>(float)(Half)<paramref name="x"/> (round half to even) without the Half software path for x ≥ 0; other values through Half.</summary>
    public static float RoundToF16Precision(float x)
    {
        const float minNormal = 6.10351562e-05f; // 2^-14
        if (!(x >= minNormal))
        {
            // Half subnormals are multiples of 2^-24: scale, round half to even, scale back (all exact).
            return x >= 0f ? MathF.Round(x * 16777216f, MidpointRounding.ToEven) * 5.96046448e-08f : (float)(Half)x;
        }
        var bits = BitConverter.SingleToUInt32Bits(x);
        bits = (bits + 0xFFFu + ((bits >> 13) & 1u)) & ~0x1FFFu;
        var r = BitConverter.UInt32BitsToSingle(bits);
        return r > 65504f ? float.PositiveInfinity : r;
    }

    /// <summary>Float32 to IEEE half bits, round-to-nearest-even (as F16C / ggml_fp32_to_fp16).</summary>
    public static ushort FloatToF16(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>Dequantizes <paramref name="destination"/>.Length values of <paramref name="type"/> from <paramref name="source"/>.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        var need = GgmlTypeInfo.RowBytes(type, destination.Length);
        if (source.Length < need)
        {
            throw new ArgumentException($"{type}: {destination.Length} values need {need} bytes, got {source.Length}.", nameof(source));
        }
        switch (type)
        {
            case GgmlType.F32:
                for (var i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                }
                break;
            case GgmlType.F16:
                for (var i = 0; i < destination.Length; i++)
                {
                    destination[i] = F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]));
                }
                break;
            case GgmlType.BF16:
                for (var i = 0; i < destination.Length; i++)
                {
                    destination[i] = Bf16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]));
                }
                break;
            case GgmlType.Q8_0:
                for (int b = 0, nb = destination.Length / 32; b < nb; b++)
                {
                    var blk = source.Slice(b * 34, 34);
                    var d = F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    for (var j = 0; j < 32; j++)
                    {
                        destination[b * 32 + j] = (sbyte)blk[2 + j] * d;
                    }
                }
                break;
            case GgmlType.Q4_0:
                for (int b = 0, nb = destination.Length / 32; b < nb; b++)
                {
                    var blk = source.Slice(b * 18, 18);
                    var d = F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    for (var j = 0; j < 16; j++)
                    {
                        var q = blk[2 + j];
                        destination[b * 32 + j] = ((q & 0x0F) - 8) * d;
                        destination[b * 32 + j + 16] = ((q >> 4) - 8) * d;
                    }
                }
                break;
            default:
                DequantizeOther(type, source, destination);
                break;
        }
    }

    /// <summary>Quantizes <paramref name="source"/> (length a multiple of the block size) into <paramref name="destination"/>.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> source, Span<byte> destination)
    {
        var need = GgmlTypeInfo.RowBytes(type, source.Length);
        if (destination.Length < need)
        {
            throw new ArgumentException($"{type}: {source.Length} values need {need} bytes, got {destination.Length}.", nameof(destination));
        }
        switch (type)
        {
            case GgmlType.F32:
                for (var i = 0; i < source.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], source[i]);
                }
                break;
            case GgmlType.F16:
                for (var i = 0; i < source.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], FloatToF16(source[i]));
                }
                break;
            case GgmlType.BF16:
                for (var i = 0; i < source.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], FloatToBf16(source[i]));
                }
                break;
            case GgmlType.Q8_0:
                for (int b = 0, nb = source.Length / 32; b < nb; b++)
                {
                    var x = source.Slice(b * 32, 32);
                    var blk = destination.Slice(b * 34, 34);
                    var amax = 0f;
                    for (var j = 0; j < 32; j++)
                    {
                        amax = MathF.Max(amax, MathF.Abs(x[j]));
                    }
                    var d = amax / 127f;
                    var id = d != 0 ? 1f / d : 0f;
                    BinaryPrimitives.WriteUInt16LittleEndian(blk, FloatToF16(d));
                    for (var j = 0; j < 32; j++)
                    {
                        blk[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
                    }
                }
                break;
            case GgmlType.Q4_0:
                for (int b = 0, nb = source.Length / 32; b < nb; b++)
                {
                    var x = source.Slice(b * 32, 32);
                    var blk = destination.Slice(b * 18, 18);
                    float amax = 0f, max = 0f;
                    for (var j = 0; j < 32; j++)
                    {
                        if (amax < MathF.Abs(x[j]))
                        {
                            amax = MathF.Abs(x[j]);
                            max = x[j];
                        }
                    }
                    var d = max / -8f;
                    var id = d != 0 ? 1f / d : 0f;
                    BinaryPrimitives.WriteUInt16LittleEndian(blk, FloatToF16(d));
                    for (var j = 0; j < 16; j++)
                    {
                        var x0 = x[j] * id;
                        var x1 = x[16 + j] * id;
                        var q0 = (byte)Math.Min(15, (int)(x0 + 8.5f));
                        var q1 = (byte)Math.Min(15, (int)(x1 + 8.5f));
                        blk[2 + j] = (byte)(q0 | (q1 << 4));
                    }
                }
                break;
            default:
                throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"No scalar quantizer for ggml type {type}.");
        }
    }
}
