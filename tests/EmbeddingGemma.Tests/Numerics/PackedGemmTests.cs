using EmbeddingGemma.Numerics;
using static EmbeddingGemma.Tests.Numerics.KernelTestUtil;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>
/// <see cref="Numerics.Kernels.KernelSet.GemmPacked"/>: strided operands (row-major and transposed reads), overwrite
/// and accumulate, shapes around the register tile (12 or 6 rows × 32 or 16 or 8 columns) and the cache blocks
/// (k slices of 256, 192 rows, 2,048 columns), against an fp64 product and bit for bit against the scalar reference.
/// </summary>
public class PackedGemmTests
{
    // (m, n, k): single elements, tails of every tile size, k across one and two slice boundaries, m and n across the
    // row and column blocks.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 7, 5), (3, 2, 9), (12, 32, 8), (13, 33, 17), (6, 16, 40), (7, 9, 256), (25, 65, 257),
        (11, 31, 513), (200, 40, 30), (14, 530, 20), (3, 2100, 7), (37, 53, 29),
    ];

    // (A transposed, B transposed): A(i, t) from row-major [m, k] or from [k, m]; B(t, j) from [k, n] or from [n, k].
    private static readonly (bool At, bool Bt)[] Layouts = [(false, false), (true, false), (false, true), (true, true)];

    private sealed record Case(int M, int N, int K, float[] A, int ARs, int ACs, float[] B, int BRs, int BCs, float[] C0, int Ldc);

    private static IEnumerable<Case> Cases(int seed)
    {
        var rng = new Random(seed);
        foreach (var (m, n, k) in Shapes)
        {
            foreach (var (at, bt) in Layouts)
            {
                // padded strides so rows do not touch: A [m, k+3] or [k, m+2]; B [k, n+1] or [n, k+5]; C [m, n+4]
                var (aRs, aCs, aLen) = at ? (1, m + 2, k * (m + 2)) : (k + 3, 1, m * (k + 3));
                var (bRs, bCs, bLen) = bt ? (1, k + 5, n * (k + 5)) : (n + 1, 1, k * (n + 1));
                var ldc = n + 4;
                yield return new Case(m, n, k, Random(rng, aLen), aRs, aCs, Random(rng, bLen), bRs, bCs, Random(rng, (m - 1) * ldc + n), ldc);
            }
        }
    }

    private static float[] Run(KernelVariant variant, Case c, bool accumulate)
    {
        var g = new Guarded(c.C0.Length);
        g.Fill(c.C0);
        KernelCatalog.Get(variant).GemmPacked(c.A, c.ARs, c.ACs, c.B, c.BRs, c.BCs, g.Span, c.Ldc, c.M, c.N, c.K, accumulate);
        g.AssertGuards($"{variant} GemmPacked {c.M}x{c.N}x{c.K} A({c.ARs},{c.ACs}) B({c.BRs},{c.BCs})");
        return g.ToArray();
    }

    /// <summary>
    /// Each output is a chain of k FMAs from C0 (or 0), so |ĉ − c| ≤ γ_k·(|C0| + Σ_t |A(i,t)·B(t,j)|) with
    /// γ_k = k·u/(1 − k·u), u = 2⁻²⁴ (Higham, recursive summation with one rounding per step); the test allows 1.01·γ_k.
    /// Elements between rows of C (ldc > n) must keep their values.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void GemmPacked_matches_fp64_product_within_the_fma_chain_bound(KernelVariant variant)
    {
        const double u = 1.0 / (1 << 24);
        foreach (var c in Cases(21))
        {
            foreach (var accumulate in new[] { false, true })
            {
                var got = Run(variant, c, accumulate);
                var gamma = 1.01 * c.K * u / (1 - c.K * u);
                for (var i = 0; i < c.M; i++)
                {
                    for (var j = 0; j < c.N; j++)
                    {
                        double c0 = accumulate ? c.C0[i * c.Ldc + j] : 0, s = c0, mag = Math.Abs(c0);
                        for (var t = 0; t < c.K; t++)
                        {
                            var p = (double)c.A[i * c.ARs + t * c.ACs] * c.B[t * c.BRs + j * c.BCs];
                            s += p;
                            mag += Math.Abs(p);
                        }
                        var v = got[i * c.Ldc + j];
                        Assert.True(Math.Abs(v - s) <= gamma * mag, $"{variant} {c.M}x{c.N}x{c.K} A({c.ARs},{c.ACs}) B({c.BRs},{c.BCs}) acc={accumulate} at ({i},{j}): {v} vs {s}");
                    }
                    for (var j = c.N; j < c.Ldc && i < c.M - 1; j++)
                    {
                        Assert.Equal(c.C0[i * c.Ldc + j], got[i * c.Ldc + j]);
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Variants), MemberType = typeof(KernelTestUtil))]
    public void GemmPacked_is_bit_identical_to_the_scalar_reference(KernelVariant variant)
    {
        foreach (var c in Cases(22))
        {
            foreach (var accumulate in new[] { false, true })
            {
                var expected = Run(KernelVariant.Scalar, c, accumulate);
                var got = Run(variant, c, accumulate);
                Assert.True(expected.AsSpan().SequenceEqual(got), $"{variant} {c.M}x{c.N}x{c.K} A({c.ARs},{c.ACs}) B({c.BRs},{c.BCs}) acc={accumulate} differs from scalar");
            }
        }
    }

    /// <summary>A block of C computed alone (its rows and columns of A and B) equals the same block of the whole product.</summary>
    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void GemmPacked_outputs_do_not_depend_on_the_split_of_C(KernelVariant variant)
    {
        var kern = KernelCatalog.Get(variant);
        var rng = new Random(23);
        const int m = 41, n = 75, k = 300;
        var a = Random(rng, k * m);   // read transposed: A(i, t) = a[t·m + i]
        var b = Random(rng, k * n);   // row-major [k, n]
        var whole = new float[m * n];
        kern.GemmPacked(a, 1, m, b, n, 1, whole, n, m, n, k, accumulate: false);
        foreach (var (i0, j0, mm, nn) in new[] { (5, 3, 13, 37), (0, 33, 41, 1), (40, 0, 1, 75), (7, 70, 20, 5) })
        {
            var part = new float[mm * nn];
            kern.GemmPacked(a.AsSpan(i0), 1, m, b.AsSpan(j0), n, 1, part, nn, mm, nn, k, accumulate: false);
            for (var i = 0; i < mm; i++)
            {
                Assert.True(whole.AsSpan((i0 + i) * n + j0, nn).SequenceEqual(part.AsSpan(i * nn, nn)), $"{variant} block ({i0},{j0}) {mm}x{nn} row {i}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void GemmPacked_with_k_zero_clears_or_keeps_C(KernelVariant variant)
    {
        var kern = KernelCatalog.Get(variant);
        var c = new float[] { 1, 2, 3, 4, 5, 6, 7 };
        kern.GemmPacked([], 0, 0, [], 0, 0, c, 4, 2, 3, 0, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6, 7 }, c);
        kern.GemmPacked([], 0, 0, [], 0, 0, c, 4, 2, 3, 0, accumulate: false);
        Assert.Equal(new float[] { 0, 0, 0, 4, 0, 0, 0 }, c);
    }

    [Theory]
    [MemberData(nameof(AllVariants), MemberType = typeof(KernelTestUtil))]
    public void GemmPacked_rejects_short_operands_and_bad_strides_naming_them(KernelVariant variant)
    {
        var kern = KernelCatalog.Get(variant);
        // m = 3, n = 4, k = 5 with A [3, 5], B [5, 4], C [3, 4]
        var e = Assert.Throws<ArgumentException>(() => kern.GemmPacked(new float[14], 5, 1, new float[20], 4, 1, new float[12], 4, 3, 4, 5, false));
        Assert.Equal("a", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => kern.GemmPacked(new float[15], 5, 1, new float[19], 4, 1, new float[12], 4, 3, 4, 5, false));
        Assert.Equal("b", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => kern.GemmPacked(new float[15], 5, 1, new float[20], 4, 1, new float[11], 4, 3, 4, 5, false));
        Assert.Equal("c", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => kern.GemmPacked(new float[15], 1, -1, new float[20], 4, 1, new float[12], 4, 3, 4, 5, false));
        Assert.Contains("strides", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => kern.GemmPacked(new float[15], 5, 1, new float[20], 4, 1, new float[12], 3, 3, 4, 5, false));
    }
}
