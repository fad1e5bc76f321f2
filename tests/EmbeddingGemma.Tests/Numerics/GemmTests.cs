using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Quantization;
using static EmbeddingGemma.Tests.Numerics.KernelTestUtil;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>GEMM tiles and <see cref="WeightMatrix"/> against double-precision oracles, on odd shapes.</summary>
public class GemmTests
{
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (0, 3, 8), (1, 1, 1), (1, 7, 5), (3, 2, 9), (4, 3, 8), (5, 4, 17), (7, 11, 33), (9, 13, 64), (13, 5, 100), (4, 6, 256), (17, 19, 31),
    ];

    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void GemmTile_matches_double_oracle_on_odd_shapes(KernelVariant variant)
    {
        var kern = KernelCatalog.Get(variant);
        var rng = new Random(5);
        foreach (var (m, n, k) in Shapes)
        {
            int lda = k + 3, ldw = k + 1, ldc = n + 2;
            var a = Random(rng, Math.Max(0, m * lda));
            var w = Random(rng, n * ldw);
            var c = new Guarded(Math.Max(0, (m - 1) * ldc + n));
            kern.GemmTile(a, lda, w, ldw, c.Span, ldc, m, n, k);
            c.AssertGuards($"{variant} GEMM {m}x{n}x{k}");
            for (var i = 0; i < m; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    double s = 0, mag = 0;
                    for (var t = 0; t < k; t++)
                    {
                        s += (double)a[i * lda + t] * w[j * ldw + t];
                        mag += Math.Abs((double)a[i * lda + t] * w[j * ldw + t]);
                    }
                    Assert.True(Math.Abs(s - c.Span[i * ldc + j]) <= NumericTolerances.ReductionRelative * mag + 1e-12, $"{variant} GEMM {m}x{n}x{k} at ({i},{j}): {s} vs {c.Span[i * ldc + j]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void QuantizeRowQ8_is_bit_exact_with_scalar_and_round_half_even(KernelVariant variant)
    {
        var kern = KernelCatalog.Get(variant);
        var rng = new Random(6);
        for (var blocks = 0; blocks <= 8; blocks++)
        {
            var x = Random(rng, 32 * blocks, 5f);
            if (blocks > 1)
            {
                x.AsSpan(32, 32).Clear();   // an all-zero block: scale 0, quants 0
            }
            var q1 = new sbyte[x.Length];
            var q2 = new sbyte[x.Length];
            var d1 = new float[blocks];
            var d2 = new float[blocks];
            Scalar.QuantizeRowQ8(x, q1, d1);
            kern.QuantizeRowQ8(x, q2, d2);
            Assert.Equal(q1, q2);
            Assert.Equal(d1, d2);
        }
        // 0.5 and 1.5 steps round to even: amax 127 makes id = 1.
        var h = new float[32];
        h[0] = 127f;
        h[1] = 0.5f;
        h[2] = 1.5f;
        h[3] = -2.5f;
        var q = new sbyte[32];
        var d = new float[1];
        kern.QuantizeRowQ8(h, q, d);
        Assert.Equal(1f, d[0]);
        Assert.Equal(new sbyte[] { 127, 0, 2, -2 }, q[..4]);
    }

    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void GemmQ8Tile_matches_integer_oracle(KernelVariant variant)
    {
        var kern = KernelCatalog.Get(variant);
        var rng = new Random(7);
        foreach (var (m, n, nb) in new[] { (1, 1, 1), (4, 2, 3), (5, 3, 2), (9, 7, 8), (3, 5, 36) })
        {
            var k = 32 * nb;
            var aq = Enumerable.Range(0, m * k).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
            var wq = Enumerable.Range(0, n * k).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
            var ad = Random(rng, m * nb, 0.1f);
            var wd = Random(rng, n * nb, 0.1f);
            var c = new Guarded(m * n);
            kern.GemmQ8Tile(aq, ad, wq, wd, c.Span, n, m, n, k);
            c.AssertGuards($"{variant} Q8 GEMM");
            for (var i = 0; i < m; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    double s = 0, mag = 0;
                    for (var b = 0; b < nb; b++)
                    {
                        long isum = 0;
                        for (var t = 0; t < 32; t++)
                        {
                            isum += aq[i * k + 32 * b + t] * wq[j * k + 32 * b + t];
                        }
                        s += (double)ad[i * nb + b] * wd[j * nb + b] * isum;
                        mag += Math.Abs((double)ad[i * nb + b] * wd[j * nb + b] * isum);
                    }
                    Assert.True(Math.Abs(s - c.Span[i * n + j]) <= NumericTolerances.ReductionRelative * mag + 1e-12, $"{variant} Q8 ({i},{j}) nb={nb}: {s} vs {c.Span[i * n + j]}");
                }
            }
        }
    }

    public static IEnumerable<object[]> TypesAndVariants() =>
        from v in KernelCatalog.Available
        from t in new[] { GgmlType.F32, GgmlType.BF16, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_1 }
        select new object[] { v, t };

    [Theory]
    [MemberData(nameof(TypesAndVariants))]
    public void WeightMatrix_matmul_matches_oracle_on_dequantized_weights(KernelVariant variant, GgmlType type)
    {
        var kern = KernelCatalog.Get(variant);
        var rng = new Random(8);
        foreach (var (m, n, k) in new[] { (1, 1, 32), (3, 50, 64), (70, 97, 96), (130, 49, 160) })
        {
            var wf = Random(rng, n * k);
            var a = Random(rng, m * k, 2f);
            var wm = Make(type, wf, n, k, rng);
            var wdq = wm.Dequantize();
            var quantAct = type is GgmlType.Q8_0 or GgmlType.Q4_0;
            // The oracle: exact products of the dequantized weights with the activations the kernel sees
            // (Q8-rounded for integer types), in double.
            var aSeen = a;
            if (quantAct)
            {
                aSeen = new float[a.Length];
                var q = new sbyte[k];
                var d = new float[k / 32];
                for (var i = 0; i < m; i++)
                {
                    Scalar.QuantizeRowQ8(a.AsSpan(i * k, k), q, d);
                    for (var t = 0; t < k; t++)
                    {
                        aSeen[i * k + t] = q[t] * d[t / 32];
                    }
                }
            }
            foreach (var threads in new[] { 1, 3 })
            {
                var c = new Guarded(m * n);
                wm.MatMul(a, m, c.Span, threads, kern);
                c.AssertGuards($"{variant} {type} MatMul");
                for (var i = 0; i < m; i++)
                {
                    for (var j = 0; j < n; j++)
                    {
                        double s = 0, mag = 0;
                        for (var t = 0; t < k; t++)
                        {
                            s += (double)aSeen[i * k + t] * wdq[j * k + t];
                            mag += Math.Abs((double)aSeen[i * k + t] * wdq[j * k + t]);
                        }
                        Assert.True(Math.Abs(s - c.Span[i * n + j]) <= NumericTolerances.ReductionRelative * mag + 1e-9, $"{variant} {type} {m}x{n}x{k} ({i},{j}): {s} vs {c.Span[i * n + j]}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TypesAndVariants))]
    public void WeightMatrix_rows_are_bit_identical_whatever_the_batch_and_threads(KernelVariant variant, GgmlType type)
    {
        var kern = KernelCatalog.Get(variant);
        var rng = new Random(9);
        const int n = 101, k = 96, m = 77;
        var wm = Make(type, Random(rng, n * k), n, k, rng);
        var a = Random(rng, m * k);
        var all = new float[m * n];
        wm.MatMul(a, m, all, 1, kern);
        foreach (var threads in new[] { 2, 5 })
        {
            var again = new float[m * n];
            wm.MatMul(a, m, again, threads, kern);
            Assert.Equal(all, again);
        }
        // Each row alone, and rows 5..(5+11) as their own batch.
        var one = new float[n];
        for (var i = 0; i < m; i += 7)
        {
            wm.MatMul(a.AsSpan(i * k, k), 1, one, 2, kern);
            Assert.Equal(all.AsSpan(i * n, n).ToArray(), one);
        }
        var part = new float[11 * n];
        wm.MatMul(a.AsSpan(5 * k, 11 * k), 11, part, 2, kern);
        Assert.Equal(all.AsSpan(5 * n, 11 * n).ToArray(), part);
    }

    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void MatMulShared_equals_separate_products_bit_for_bit(KernelVariant variant)
    {
        var kern = KernelCatalog.Get(variant);
        var rng = new Random(10);
        const int k = 96, m = 67;
        var types = new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.F32, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q5_1 };
        var rows = new[] { 50, 17, 33, 8, 101, 3 };
        var mats = types.Select((t, i) => Make(t, Random(rng, rows[i] * k), rows[i], k, rng)).ToArray();
        var a = Random(rng, m * k, 2f);
        var outs = mats.Select(w => new float[m * w.Rows]).ToArray();
        WeightMatrix.MatMulShared(a, m, mats, outs.Select(o => (Memory<float>)o).ToArray(), 3, kern);
        for (var i = 0; i < mats.Length; i++)
        {
            var alone = new float[m * mats[i].Rows];
            mats[i].MatMul(a, m, alone, 2, kern);
            Assert.Equal(alone, outs[i]);
        }
        Assert.Throws<ArgumentException>(() => WeightMatrix.MatMulShared(a, m, [mats[0], WeightMatrix.FromFloats("w", new float[64], 1, 64)], [outs[0], new float[m]], 1, kern));
    }

    // Types with a reference quantizer are quantized; Q5_1 (no quantizer here) gets random blocks with sane scales.
    private static WeightMatrix Make(GgmlType type, float[] values, int n, int k, Random rng)
    {
        if (type != GgmlType.Q5_1)
        {
            return WeightMatrix.Quantize("t", values, n, k, type);
        }
        var bytes = new byte[n * k / 32 * 24];
        rng.NextBytes(bytes);
        for (var b = 0; b < bytes.Length; b += 24)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(b), ScalarQuant.FloatToF16((float)rng.NextDouble() * 0.1f));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(b + 2), ScalarQuant.FloatToF16((float)rng.NextDouble() - 0.5f));
        }
        return WeightMatrix.Create("t", type, n, k, bytes);
    }

    [Fact]
    public void WeightMatrix_rejects_unsupported_type_and_wrong_size_naming_the_tensor()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => WeightMatrix.Create("blk.0.ffn_up.weight", GgmlType.Q8_K, 2, 256, new byte[2 * 292]));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("blk.0.ffn_up.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("Q8_K", e.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<EmbeddingGemmaException>(() => WeightMatrix.Create("x.weight", GgmlType.Q4_0, 2, 64, new byte[71]));
        Assert.Equal(ErrorKind.InvalidFormat, e2.Kind);
        Assert.Contains("x.weight", e2.Message, StringComparison.Ordinal);
    }
}
