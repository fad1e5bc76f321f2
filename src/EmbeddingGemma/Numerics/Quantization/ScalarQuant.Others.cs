using System.Buffers.Binary;

namespace EmbeddingGemma.Numerics.Quantization;

// Dequantizers for the other ggml block types found in published GGUF files (Q4_1, Q5_0, Q5_1 and the k-quants
// Q2_K..Q6_K), following ggml-common.h block layouts and ggml-quants.c dequantize_row_* semantics. Used where speed
// does not matter (embedding rows) and as the slow fp32-panel path of WeightMatrix.
public static partial class ScalarQuant
{
    /// <summary>True when <see cref="Dequantize"/> handles <paramref name="type"/>.</summary>
    public static bool CanDequantize(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1
        or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    private static float Half(ReadOnlySpan<byte> b, int offset) => F16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(b[offset..]));

    private static void DequantizeOther(GgmlType type, ReadOnlySpan<byte> source, Span<float> y)
    {
        var bs = GgmlTypeInfo.BlockSize(type);
        var bb = GgmlTypeInfo.BlockBytes(type);
        var nb = y.Length / bs;
        for (var i = 0; i < nb; i++)
        {
            var blk = source.Slice(i * bb, bb);
            var dst = y.Slice(i * bs, bs);
            switch (type)
            {
                case GgmlType.Q4_1: Q4_1(blk, dst); break;
                case GgmlType.Q5_0: Q5(blk, dst, hasMin: false); break;
                case GgmlType.Q5_1: Q5(blk, dst, hasMin: true); break;
                case GgmlType.Q2_K: Q2K(blk, dst); break;
                case GgmlType.Q3_K: Q3K(blk, dst); break;
                case GgmlType.Q4_K: Q4K(blk, dst); break;
                case GgmlType.Q5_K: Q5K(blk, dst); break;
                case GgmlType.Q6_K: Q6K(blk, dst); break;
                default:
                    throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"No scalar dequantizer for ggml type {type}.");
            }
        }
    }

    // block_q4_1: half d, half m, u8 qs[16]; x = q·d + m, low nibbles first.
    private static void Q4_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half(b, 0), m = Half(b, 2);
        var qs = b.Slice(4, 16);
        for (var j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0x0F) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    // block_q5_0: half d, u8 qh[4], u8 qs[16]; x = (q | h<<4) − 16, times d.
    // block_q5_1: half d, half m, u8 qh[4], u8 qs[16]; x = (q | h<<4)·d + m.
    private static void Q5(ReadOnlySpan<byte> b, Span<float> y, bool hasMin)
    {
        var d = Half(b, 0);
        var m = hasMin ? Half(b, 2) : 0f;
        var o = hasMin ? 4 : 2;
        var qh = BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
        var qs = b.Slice(o + 4, 16);
        for (var j = 0; j < 16; j++)
        {
            var h0 = (int)((qh >> j) << 4) & 0x10;
            var h1 = (int)(qh >> (j + 12)) & 0x10;
            var x0 = (qs[j] & 0x0F) | h0;
            var x1 = (qs[j] >> 4) | h1;
            if (hasMin)
            {
                y[j] = x0 * d + m;
                y[j + 16] = x1 * d + m;
            }
            else
            {
                y[j] = (x0 - 16) * d;
                y[j + 16] = (x1 - 16) * d;
            }
        }
    }

    // block_q2_K: u8 scales[16] (low nibble scale, high nibble min), u8 qs[64], half d, half dmin.
    private static void Q2K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var scales = b[..16];
        var qsAll = b.Slice(16, 64);
        float d = Half(b, 80), dmin = Half(b, 82);
        int yi = 0, isc = 0;
        for (var n = 0; n < 256; n += 128)
        {
            var q = qsAll.Slice(n / 4, 32);
            for (int j = 0, shift = 0; j < 4; j++, shift += 2)
            {
                for (var half = 0; half < 2; half++)
                {
                    var sc = scales[isc++];
                    float dl = d * (sc & 0x0F), ml = dmin * (sc >> 4);
                    for (var l = 0; l < 16; l++)
                    {
                        y[yi++] = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    // block_q3_K: u8 hmask[32], u8 qs[64], u8 scales[12] (16 six-bit scales), half d.
    private static void Q3K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var hm = b[..32];
        var qsAll = b.Slice(32, 64);
        var sb = b.Slice(96, 12);
        var dAll = Half(b, 108);
        Span<int> sc = stackalloc int[16];
        for (var i = 0; i < 16; i++)
        {
            int low = i < 8 ? sb[i] & 0x0F : sb[i - 8] >> 4;
            var high = (sb[8 + (i % 4)] >> (2 * (i / 4))) & 3;
            sc[i] = (low | (high << 4)) - 32;
        }
        int yi = 0, isc = 0;
        var m = 1;
        for (var n = 0; n < 256; n += 128)
        {
            var q = qsAll.Slice(n / 4, 32);
            for (int j = 0, shift = 0; j < 4; j++, shift += 2, m <<= 1)
            {
                for (var half = 0; half < 2; half++)
                {
                    var dl = dAll * sc[isc++];
                    for (var l = 0; l < 16; l++)
                    {
                        var idx = l + 16 * half;
                        y[yi++] = dl * (((q[idx] >> shift) & 3) - ((hm[idx] & m) != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    // 6-bit scale j and min j of the 12-byte k-quant scale array (ggml get_scale_min_k4).
    private static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));

    // block_q4_K: half d, half dmin, u8 scales[12], u8 qs[128]; 8 sub-blocks of 32 with 6-bit scale and min.
    private static void Q4K(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half(b, 0), dmin = Half(b, 2);
        var scales = b.Slice(4, 12);
        var qs = b.Slice(16, 128);
        for (var g = 0; g < 4; g++)
        {
            var (s1, m1) = ScaleMinK4(2 * g, scales);
            var (s2, m2) = ScaleMinK4(2 * g + 1, scales);
            var q = qs.Slice(32 * g, 32);
            for (var l = 0; l < 32; l++)
            {
                y[64 * g + l] = d * s1 * (q[l] & 0x0F) - dmin * m1;
                y[64 * g + 32 + l] = d * s2 * (q[l] >> 4) - dmin * m2;
            }
        }
    }

    // block_q5_K: half d, half dmin, u8 scales[12], u8 qh[32], u8 qs[128].
    private static void Q5K(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half(b, 0), dmin = Half(b, 2);
        var scales = b.Slice(4, 12);
        var qh = b.Slice(16, 32);
        var qs = b.Slice(48, 128);
        for (var g = 0; g < 4; g++)
        {
            var (s1, m1) = ScaleMinK4(2 * g, scales);
            var (s2, m2) = ScaleMinK4(2 * g + 1, scales);
            var q = qs.Slice(32 * g, 32);
            int u1 = 1 << (2 * g), u2 = 2 << (2 * g);
            for (var l = 0; l < 32; l++)
            {
                y[64 * g + l] = d * s1 * ((q[l] & 0x0F) + ((qh[l] & u1) != 0 ? 16 : 0)) - dmin * m1;
                y[64 * g + 32 + l] = d * s2 * ((q[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - dmin * m2;
            }
        }
    }

    // block_q6_K: u8 ql[128], u8 qh[64], i8 scales[16], half d; x = d·scale·(q − 32).
    private static void Q6K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 208);
        for (var n = 0; n < 2; n++)
        {
            var ql = b.Slice(64 * n, 64);
            var qh = b.Slice(128 + 32 * n, 32);
            var sc = b.Slice(192 + 8 * n, 8);
            var o = 128 * n;
            for (var l = 0; l < 32; l++)
            {
                var isc = l / 16;
                var q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                var q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                var q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                var q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[o + l] = d * (sbyte)sc[isc] * q1;
                y[o + l + 32] = d * (sbyte)sc[isc + 2] * q2;
                y[o + l + 64] = d * (sbyte)sc[isc + 4] * q3;
                y[o + l + 96] = d * (sbyte)sc[isc + 6] * q4;
            }
        }
    }
}
