using System.Runtime.Intrinsics.X86;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Kernels;
using EmbeddingGemma.Numerics.Quantization;
using static EmbeddingGemma.Tests.Numerics.KernelTestUtil;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>
/// The AVX2 interleaved int8 GEMM's parts against their scalar references (the GEMM itself is covered through
/// <see cref="WeightMatrix"/> in <see cref="GemmTests"/>, which run it for the Vector256/Vector512 variants).
/// </summary>
public class Q8InterleavedTests
{
    private static bool HasAvx2 => Avx2.IsSupported && Fma.IsSupported;

    [Fact]
    public void RoundToHalf_equals_the_Half_conversion_bit_for_bit()
    {
        var rng = new Random(11);
        var values = new List<float> { 0f, 5.96046448e-08f, 2.98023224e-08f, 8.9407e-08f, 6.10351562e-05f, 6.1e-05f, 65504f, 65519.99f, 65520f, 1f, 1.00048828f, 1.00146484f };
        for (var i = 0; i < 200_000; i++)
        {
            // Log-uniform over 2^-30 .. 2^17 (half subnormals, normals, overflow), plus exact halfway cases.
            var x = MathF.Pow(2f, (float)(rng.NextDouble() * 47 - 30));
            values.Add(x);
            var bits = BitConverter.SingleToUInt32Bits(x);
            values.Add(BitConverter.UInt32BitsToSingle((bits & ~0x1FFFu) | 0x1000u));
        }
        foreach (var x in values)
        {
            Assert.True(BitConverter.SingleToUInt32Bits((float)(Half)x) == BitConverter.SingleToUInt32Bits(ScalarQuant.RoundToF16Precision(x)), $"x = {x:R}: Half {(float)(Half)x:R}, ours {ScalarQuant.RoundToF16Precision(x):R}");
        }
    }

    [Fact]
    public void QuantizeRow_is_bit_exact_with_the_scalar_quantizer_and_block_sums()
    {
        if (!HasAvx2)
        {
            return;   // the kernel is only chosen where AVX2 is present (CI machines have it)
        }
        var rng = new Random(12);
        foreach (var blocks in new[] { 1, 2, 5, 24, 36 })
        {
            var x = Random(rng, 32 * blocks, 3f);
            x.AsSpan(0, 32).Clear();
            if (blocks > 1)
            {
                x.AsSpan(32, 32).Fill(1e-9f);   // a block whose scale is a half subnormal
            }
            var q1 = new sbyte[x.Length];
            var d1 = new float[blocks];
            var o1 = new int[blocks];
            ScalarKernelsFor().QuantizeRowQ8(x, q1, d1);
            Q8Interleaved.BlockOffsets(q1, 8, o1);
            var q2 = new sbyte[x.Length];
            var d2 = new float[blocks];
            var o2 = new int[blocks];
            Q8Interleaved.QuantizeRow(x, q2, d2, 8, o2);
            Assert.Equal(q1, q2);
            Assert.Equal(d1, d2);
            Assert.Equal(o1, o2);
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void Extreme_weights_and_activations_do_not_saturate(GgmlType type)
    {
        // Q8_0 files in the wild may hold -128; activations reach ±127. The int16 sums of the kernel must stay exact.
        const int n = 19, k = 96;
        var rowBytes = (int)GgmlTypeInfo.RowBytes(type, k);
        var bytes = new byte[n * rowBytes];
        var rng = new Random(13);
        for (var r = 0; r < n; r++)
        {
            for (var b = 0; b < k / 32; b++)
            {
                var blk = bytes.AsSpan(r * rowBytes + b * (type == GgmlType.Q8_0 ? 34 : 18));
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(blk, ScalarQuant.FloatToF16(0.01f * (1 + r)));
                for (var t = 0; t < (type == GgmlType.Q8_0 ? 32 : 16); t++)
                {
                    // All extreme for even rows (-128 / nibble 0 = -8), random for odd rows.
                    blk[2 + t] = (byte)(r % 2 == 0 ? (type == GgmlType.Q8_0 ? 0x80 : 0x00) : rng.Next(256));
                }
            }
        }
        var wm = WeightMatrix.Create("w", type, n, k, bytes);
        var wdq = wm.Dequantize();
        const int m = 7;
        var a = new float[m * k];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = i % 3 == 0 ? -1f : 1f;   // every block quantizes to ±127
        }
        // The oracle sees the activations as the kernel does: q·fp16(amax/127).
        var seen = new float[a.Length];
        var qa = new sbyte[k];
        var da = new float[k / 32];
        for (var i = 0; i < m; i++)
        {
            ScalarKernelsFor().QuantizeRowQ8(a.AsSpan(i * k, k), qa, da);
            for (var t = 0; t < k; t++)
            {
                Assert.Equal(127, Math.Abs((int)qa[t]));
                seen[i * k + t] = qa[t] * da[t / 32];
            }
        }
        foreach (var variant in KernelCatalog.Available)
        {
            var c = new float[m * n];
            wm.MatMul(a, m, c, 2, KernelCatalog.Get(variant));
            for (var i = 0; i < m; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    double s = 0, mag = 0;
                    for (var t = 0; t < k; t++)
                    {
                        s += seen[i * k + t] * (double)wdq[j * k + t];
                        mag += Math.Abs(seen[i * k + t] * (double)wdq[j * k + t]);
                    }
                    Assert.True(Math.Abs(s - c[i * n + j]) <= 1e-5 * mag + 1e-9, $"{variant} {type} ({i},{j}): {s} vs {c[i * n + j]}");
                }
            }
        }
    }

    private static KernelSet ScalarKernelsFor() => KernelCatalog.Get(KernelVariant.Scalar);
}

public class HalfConversionTests
{
    [Fact]
    public void F16ToFloat_equals_the_Half_conversion_for_all_65536_patterns()
    {
        for (var b = 0; b <= ushort.MaxValue; b++)
        {
            var expected = (float)BitConverter.UInt16BitsToHalf((ushort)b);
            var got = ScalarQuant.F16ToFloat((ushort)b);
            Assert.True(float.IsNaN(expected) ? float.IsNaN(got) : BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(got), $"bits 0x{b:X4}: {expected:R} vs {got:R}");
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 77, 96)]
    [InlineData(GgmlType.Q8_0, 77, 96)]
    [InlineData(GgmlType.Q4_0, 8, 768)]
    [InlineData(GgmlType.Q8_0, 130, 64)]
    public void Packing_at_load_keeps_every_value_and_every_product_bit(GgmlType type, int rows, int cols)
    {
        // A matrix packed once at load (rows not a multiple of the 8-row group) against the same matrix packed per
        // call: same rows back from DequantizeRow (also against the scalar dequantizer) and bit-identical products for
        // activation counts that exercise the 3-, 2- and 1-row tiles and a partial last 16-column pair.
        var rng = new Random(rows * 31 + cols);
        var w = new float[rows * cols];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        var onTheFly = WeightMatrix.Quantize("w", w, rows, cols, type);
        var packed = WeightMatrix.Create("w", type, rows, cols, onTheFly.Data.ToArray());
        packed.PackForProducts();
        Assert.Equal(Avx2.IsSupported && Fma.IsSupported, packed.IsPacked);
        var expectedRow = new float[cols];
        var gotRow = new float[cols];
        for (var r = 0; r < rows; r++)
        {
            ScalarQuant.Dequantize(type, onTheFly.Data.Span.Slice((int)(r * GgmlTypeInfo.RowBytes(type, cols)), (int)GgmlTypeInfo.RowBytes(type, cols)), expectedRow);
            packed.DequantizeRow(r, gotRow);
            Assert.Equal(expectedRow, gotRow);
        }
        foreach (var m in new[] { 1, 2, 3, 5, 7, 70 })
        {
            var a = new float[m * cols];
            for (var i = 0; i < a.Length; i++)
            {
                a[i] = (float)(rng.NextDouble() * 4 - 2);
            }
            var c1 = new float[m * rows];
            var c2 = new float[m * rows];
            onTheFly.MatMul(a, m, c1, threads: 2);
            packed.MatMul(a, m, c2, threads: 3);
            Assert.Equal(c1, c2);
        }
    }
}
