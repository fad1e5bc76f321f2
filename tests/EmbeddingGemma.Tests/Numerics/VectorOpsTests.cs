using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Kernels;
using static EmbeddingGemma.Tests.Numerics.KernelTestUtil;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>
/// The vector ops of <see cref="VectorOps"/> (the one home for embedding vector math) on every non-scalar variant
/// against the scalar reference: every length 0..256 and the odd/embedding shapes in <see cref="OddLengths"/>; plus
/// analytic values.
/// </summary>
public class VectorOpsTests
{
    /// <summary>Single elements, sub-vector tails, Matryoshka and full EmbeddingGemma widths, and one past 1024.</summary>
    public static readonly int[] OddLengths = [1, 3, 17, 767, 768, 1025];

    /// <summary>
    /// Cosine from three reductions: each dot differs from the reference by at most
    /// <see cref="NumericTolerances.ReductionRelative"/>·Σ|aᵢbᵢ| ≤ ReductionRelative·‖a‖‖b‖ (Cauchy–Schwarz), and the two
    /// norms by as much relatively, so |Δcos| ≤ 2·ReductionRelative in absolute terms.
    /// </summary>
    private const float CosineAbsolute = 2 * NumericTolerances.ReductionRelative;

    private static IEnumerable<int> Lengths() => Enumerable.Range(0, 257).Concat(OddLengths);

    [Theory]
    [MemberData(nameof(Variants), MemberType = typeof(KernelTestUtil))]
    public void Reductions_match_reference(KernelVariant variant)
    {
        var k = KernelCatalog.Get(variant);
        var rng = new Random(11);
        foreach (var n in Lengths())
        {
            var x = Random(rng, n);
            var y = Random(rng, n);
            double absDot = 0, sq = 0;
            for (var i = 0; i < n; i++)
            {
                absDot += Math.Abs(x[i] * y[i]);
                sq += (x[i] - y[i]) * (x[i] - y[i]);
            }
            var tolDot = NumericTolerances.ReductionRelative * absDot + 1e-30;
            Assert.True(Math.Abs(VectorOps.Dot(x, y, Scalar) - VectorOps.Dot(x, y, k)) <= tolDot, $"{variant} Dot n={n}");

            // All terms are non-negative, so the budget is relative to the result itself.
            var tolSq = NumericTolerances.ReductionRelative * sq + 1e-30;
            Assert.True(Math.Abs(VectorOps.SquaredDistance(x, y, Scalar) - VectorOps.SquaredDistance(x, y, k)) <= tolSq, $"{variant} SquaredDistance n={n}");

            float ne = VectorOps.L2Norm(x, Scalar), na = VectorOps.L2Norm(x, k);
            Assert.True(Math.Abs(ne - na) <= NumericTolerances.ReductionRelative * ne + 1e-30f, $"{variant} L2Norm n={n}");

            // max|x| is exact in every variant.
            Assert.Equal(Scalar.MaxAbs(x), k.MaxAbs(x));

            float ce = VectorOps.Cosine(x, y, Scalar), ca = VectorOps.Cosine(x, y, k);
            Assert.True(Math.Abs(ce - ca) <= CosineAbsolute, $"{variant} Cosine n={n}: {ce} vs {ca}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants), MemberType = typeof(KernelTestUtil))]
    public void Int8_dot_and_quantization_equal_reference_exactly(KernelVariant variant)
    {
        var k = KernelCatalog.Get(variant);
        var rng = new Random(12);
        foreach (var n in Lengths())
        {
            // The full int8 range, -128 included.
            var x = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
            var y = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
            Assert.Equal(VectorOps.DotInt8(x, y, Scalar), VectorOps.DotInt8(x, y, k));

            var v = Random(rng, n, 3f);
            var qe = new sbyte[n];
            var qa = new sbyte[n];
            Assert.Equal(VectorOps.QuantizeInt8(v, qe, Scalar), VectorOps.QuantizeInt8(v, qa, k));
            Assert.Equal(qe, qa);
        }
    }

    [Theory]
    [MemberData(nameof(Variants), MemberType = typeof(KernelTestUtil))]
    public void Elementwise_vector_ops_match_reference(KernelVariant variant)
    {
        var k = KernelCatalog.Get(variant);
        var rng = new Random(13);
        foreach (var n in Lengths())
        {
            var x = Random(rng, n, 3f);
            var y = Random(rng, n, 3f);

            var e = new Guarded(n);
            var a = new Guarded(n);
            e.Fill(x);
            a.Fill(x);
            float normE = VectorOps.L2Normalize(e.Span, Scalar), normA = VectorOps.L2Normalize(a.Span, k);
            a.AssertGuards($"{variant} L2Normalize n={n}");
            Assert.True(Math.Abs(normE - normA) <= NumericTolerances.ReductionRelative * normE + 1e-30f, $"{variant} L2Normalize norm n={n}");
            Close(e.Span, a.Span, NumericTolerances.ElementwiseRelative, 1e-7f, $"{variant} L2Normalize n={n}");

            e = new Guarded(n);
            a = new Guarded(n);
            e.Fill(y);
            a.Fill(y);
            VectorOps.Axpy(0.61f, x, e.Span, Scalar);
            VectorOps.Axpy(0.61f, x, a.Span, k);
            a.AssertGuards($"{variant} Axpy n={n}");
            // FMA in the vector variants, multiply-then-add in the reference: one rounding apart.
            Close(e.Span, a.Span, NumericTolerances.ElementwiseRelative, 1e-6f, $"{variant} Axpy n={n}");

            if (n > 0)
            {
                var d = Math.Max(1, n / 2);
                Close(VectorOps.Truncate(x, d, true, Scalar), VectorOps.Truncate(x, d, true, k), NumericTolerances.ElementwiseRelative, 1e-7f, $"{variant} Truncate n={n} d={d}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void Cosine_matrix_equals_pairwise_cosine_and_matches_reference(KernelVariant variant)
    {
        var k = KernelCatalog.Get(variant);
        var rng = new Random(14);
        foreach (var n in OddLengths)
        {
            var a = Enumerable.Range(0, 3).Select(_ => Random(rng, n)).Append(new float[n]).ToArray();
            var b = Enumerable.Range(0, 4).Select(_ => Random(rng, n)).ToArray();
            var m = VectorOps.CosineMatrix(a, b, k);
            var reference = VectorOps.CosineMatrix(a, b, Scalar);
            for (var i = 0; i < a.Length; i++)
            {
                for (var j = 0; j < b.Length; j++)
                {
                    Assert.Equal(VectorOps.Cosine(a[i], b[j], k), m[i, j]);
                    Assert.True(Math.Abs(reference[i, j] - m[i, j]) <= CosineAbsolute, $"{variant} CosineMatrix n={n} [{i},{j}]");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void Analytic_values(KernelVariant variant)
    {
        var k = KernelCatalog.Get(variant);
        var rng = new Random(15);
        foreach (var n in OddLengths)
        {
            var x = Random(rng, n, 5f);
            var u = (float[])x.Clone();
            VectorOps.L2Normalize(u, k);
            var norm = Math.Sqrt(u.Sum(v => (double)v * v));
            Assert.True(Math.Abs(norm - 1) <= 1e-6, $"{variant} n={n}: ‖normalize(x)‖ = {norm:R}");
            // Exact by construction: the three dots are the same float and (aa·aa) is exact in double.
            Assert.Equal(1f, VectorOps.Cosine(x, x, k));
            var minus = x.Select(v => -v).ToArray();
            Assert.Equal(-1f, VectorOps.Cosine(x, minus, k));
            Assert.Equal(0f, VectorOps.Cosine(x, new float[n], k));
            // Scale invariance.
            Assert.True(Math.Abs(VectorOps.Cosine(x, x.Select(v => 3 * v).ToArray(), k) - 1) <= 1e-6f, $"{variant} n={n}: cos(x, 3x)");
        }

        Assert.Equal(32f, VectorOps.Dot([1, 2, 3], [4, 5, 6], k));
        Assert.Equal(25f, VectorOps.SquaredDistance([1, 2], [4, 6], k));
        Assert.Equal(5f, VectorOps.L2Norm([3, 4], k));
        Assert.Equal(0f, VectorOps.Cosine([1, 0], [0, 1], k));
        Assert.Equal(127 * 127 + 128 * 128 - 2 * 3, VectorOps.DotInt8([127, -128, 2], [127, -128, -3], k));

        var y = new float[] { 1, 1 };
        VectorOps.Axpy(-2, [1, 2], y, k);
        Assert.Equal([-1f, -3f], y);

        // Matryoshka: truncate [3, 4, 12] to 2 → (3, 4)/5; to 3 → (3, 4, 12)/13; without normalising the prefix as is.
        Assert.Equal([0.6f, 0.8f], VectorOps.Truncate([3, 4, 12], 2, true, k));
        Close([3f / 13, 4f / 13, 12f / 13], VectorOps.Truncate([3, 4, 12], 3, true, k), 3e-7f, 0, $"{variant} Truncate 3");
        Assert.Equal([3f, 4f], VectorOps.Truncate([3, 4, 12], 2, false, k));
        Assert.Equal([0f, 0f], VectorOps.Truncate([0, 0, 1], 2, true, k));
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => VectorOps.Truncate([1, 2], 3, true, k)).Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => VectorOps.Truncate([1, 2], 0, true, k)).Kind);

        // Zero stays zero; the returned norm is the norm before scaling.
        var z = new float[5];
        Assert.Equal(0f, VectorOps.L2Normalize(z, k));
        Assert.All(z, v => Assert.Equal(0f, v));

        // Quantization: scale = max|x|/127, q = round(x/scale): 31.75 → 32, 12.7 → 13.
        var q = new sbyte[3];
        Assert.Equal(1f / 127, VectorOps.QuantizeInt8([0.25f, -1f, 0.1f], q, k));
        Assert.Equal(new sbyte[] { 32, -127, 13 }, q);
        Assert.Equal(1f, VectorOps.QuantizeInt8([0f, 0f, 0f], q, k));
        Assert.Equal(new sbyte[] { 0, 0, 0 }, q);
    }

    [Fact]
    public void Int8_quantization_error_is_at_most_half_a_step()
    {
        var rng = new Random(3);
        var x = Random(rng, 768);
        VectorOps.L2Normalize(x);
        var q = new sbyte[768];
        var scale = VectorOps.QuantizeInt8(x, q);
        for (var i = 0; i < x.Length; i++)
        {
            Assert.True(Math.Abs(x[i] - q[i] * scale) <= scale / 2 + 1e-7f, $"element {i}");
        }
    }

    [Fact]
    public void Defaults_use_the_catalog_default_set()
    {
        var rng = new Random(16);
        var x = Random(rng, 1025);
        var y = Random(rng, 1025);
        var k = KernelCatalog.Default;
        Assert.Equal(k.Dot(x, y), VectorOps.Dot(x, y));
        Assert.Equal(k.SquaredDistance(x, y), VectorOps.SquaredDistance(x, y));
        Assert.Equal(VectorOps.Cosine(x, y, k), VectorOps.Cosine(x, y));
        var u = (float[])x.Clone();
        VectorOps.L2Normalize(u);
        var v = new float[x.Length];
        k.L2Normalize(x, v);
        Assert.Equal(v, u);
    }

    [Fact]
    public void Lengths_are_checked()
    {
        foreach (var v in KernelCatalog.Available)
        {
            var k = KernelCatalog.Get(v);
            Assert.Throws<ArgumentException>(() => VectorOps.Dot(new float[3], new float[4], k));
            Assert.Throws<ArgumentException>(() => VectorOps.SquaredDistance(new float[3], new float[4], k));
            Assert.Throws<ArgumentException>(() => VectorOps.DotInt8(new sbyte[3], new sbyte[4], k));
            Assert.Throws<ArgumentException>(() => VectorOps.Axpy(1, new float[3], new float[4], k));
            Assert.Throws<ArgumentException>(() => VectorOps.QuantizeInt8(new float[3], new sbyte[4], k));
            Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => VectorOps.Cosine(new float[3], new float[4], k)).Kind);
            Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => VectorOps.CosineMatrix([new float[3]], [new float[4]], k)).Kind);
        }
    }
}
