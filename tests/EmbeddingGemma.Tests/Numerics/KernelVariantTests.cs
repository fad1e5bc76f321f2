using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Kernels;
using static EmbeddingGemma.Tests.Numerics.KernelTestUtil;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>
/// Every non-scalar variant against the scalar reference on all lengths 0..256, with guard regions around each
/// destination. Run the whole suite with the scalar variant forced: <c>EMBEDDINGGEMMA_KERNELS=scalar dotnet test</c>.
/// </summary>
public class KernelVariantTests
{
    private const int MaxLength = 256;

    [Fact]
    public void The_int8_gemm_is_a_listed_property_of_each_variant()
    {
        // The scalar reference (and 128-bit set) run the row-dot int8 GEMM; the 256/512-bit sets on AVX2+FMA the
        // interleaved one over weights packed at load. Described by name, so `embed --verbose` can say which ran.
        Assert.Equal(Int8GemmKernel.RowDot, KernelCatalog.Get(KernelVariant.Scalar).Int8Gemm);
        Assert.Equal("Scalar (int8: RowDot)", KernelCatalog.Get(KernelVariant.Scalar).Description);
        var avx2 = System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
        foreach (var v in KernelCatalog.Available)
        {
            var expected = avx2 && v is KernelVariant.Vector256 or KernelVariant.Vector512 ? Int8GemmKernel.Interleaved : Int8GemmKernel.RowDot;
            Assert.Equal(expected, KernelCatalog.Get(v).Int8Gemm);
        }
    }

    [Fact]
    public void Catalog_lists_scalar_and_honours_forcing()
    {
        Assert.Contains(KernelVariant.Scalar, KernelCatalog.Available);
        Assert.Equal(KernelVariant.Vector256, KernelCatalog.Parse("v256"));
        Assert.Equal(KernelVariant.Scalar, KernelCatalog.Parse("scalar"));
        Assert.Throws<EmbeddingGemmaException>(() => KernelCatalog.Parse("avx9000"));
        var forced = Environment.GetEnvironmentVariable(KernelCatalog.EnvironmentVariable);
        if (!string.IsNullOrEmpty(forced))
        {
            Assert.Equal(KernelCatalog.Parse(forced), KernelCatalog.Default.Variant);
        }
        foreach (var v in KernelCatalog.Available)
        {
            Assert.Equal(v, KernelCatalog.Get(v).Variant);
        }
    }

    [Theory]
    [MemberData(nameof(Variants), MemberType = typeof(KernelTestUtil))]
    public void Dot_matches_reference(KernelVariant variant)
    {
        var k = KernelCatalog.Get(variant);
        var rng = new Random(1);
        for (var n = 0; n <= MaxLength; n++)
        {
            var x = Random(rng, n);
            var y = Random(rng, n);
            var magnitude = 0f;
            for (var i = 0; i < n; i++)
            {
                magnitude += Math.Abs(x[i] * y[i]);
            }
            var e = Scalar.Dot(x, y);
            var a = k.Dot(x, y);
            Assert.True(Math.Abs(e - a) <= NumericTolerances.ReductionRelative * magnitude + 1e-30f, $"{variant} Dot n={n}: {e} vs {a}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants), MemberType = typeof(KernelTestUtil))]
    public void Elementwise_ops_match_reference(KernelVariant variant)
    {
        var k = KernelCatalog.Get(variant);
        var rng = new Random(2);
        for (var n = 0; n <= MaxLength; n++)
        {
            var x = Random(rng, n, 3f);
            var y = Random(rng, n, 3f);
            var gain = Random(rng, n, 2f);

            Compare(n, "Add", d => Scalar.Add(x, y, d), d => k.Add(x, y, d), NumericTolerances.ElementwiseRelative, 0);
            Compare(n, "Scale", d => Scalar.Scale(x, 0.37f, d), d => k.Scale(x, 0.37f, d), NumericTolerances.ElementwiseRelative, 0);
            Compare(n, "Axpy", d => { y.CopyTo(d); Scalar.Axpy(-1.3f, x, d); }, d => { y.CopyTo(d); k.Axpy(-1.3f, x, d); }, NumericTolerances.ElementwiseRelative, 1e-6f);
            Compare(n, "RmsNorm", d => Scalar.RmsNorm(x, gain, 1e-6f, d), d => k.RmsNorm(x, gain, 1e-6f, d), NumericTolerances.ElementwiseRelative, 1e-6f);
            Compare(n, "RmsNormAddTo", d => { y.CopyTo(d); Scalar.RmsNormAddTo(x, gain, 1e-6f, d); }, d => { y.CopyTo(d); k.RmsNormAddTo(x, gain, 1e-6f, d); }, NumericTolerances.ElementwiseRelative, 1e-5f);
            Compare(n, "GeluTanhMul", d => Scalar.GeluTanhMul(x, y, d), d => k.GeluTanhMul(x, y, d), NumericTolerances.TranscendentalRelative, NumericTolerances.TranscendentalAbsolute);
            var dyN = Random(rng, n, 2f);
            var gradInit = Random(rng, n, 1f);
            Compare(n, "RmsNormBackward (dx)", d => Scalar.RmsNormBackward(dyN, x, gain, 0.7f, default, d), d => k.RmsNormBackward(dyN, x, gain, 0.7f, default, d), NumericTolerances.ElementwiseRelative, 1e-5f);
            Compare(n, "RmsNormBackward (gain gradient)", d => { gradInit.CopyTo(d); Scalar.RmsNormBackward(dyN, x, gain, 0.7f, d, new float[n]); },
                d => { gradInit.CopyTo(d); k.RmsNormBackward(dyN, x, gain, 0.7f, d, new float[n]); }, NumericTolerances.ElementwiseRelative, 1e-6f);
            var da = Random(rng, n, 2f);
            Compare(n, "GeluTanhMulBackward (dGate)", d => Scalar.GeluTanhMulBackward(da, x, y, d, new float[n]), d => k.GeluTanhMulBackward(da, x, y, d, new float[n]), NumericTolerances.TranscendentalRelative, NumericTolerances.TranscendentalAbsolute);
            Compare(n, "GeluTanhMulBackward (dUp)", d => Scalar.GeluTanhMulBackward(da, x, y, new float[n], d), d => k.GeluTanhMulBackward(da, x, y, new float[n], d), NumericTolerances.TranscendentalRelative, NumericTolerances.TranscendentalAbsolute);
            Compare(n, "Softmax", d => Scalar.Softmax(x, d), d => k.Softmax(x, d), NumericTolerances.TranscendentalRelative, 1e-8f);
            Compare(n, "L2Normalize", d => Scalar.L2Normalize(x, d), d => k.L2Normalize(x, d), NumericTolerances.ElementwiseRelative, 1e-7f);
            Compare(n, "Bf16ToSingle", d => Scalar.Bf16ToSingle(Bf16(x), d), d => k.Bf16ToSingle(Bf16(x), d), 0, 0);
            Compare(n, "F16ToSingle", d => Scalar.F16ToSingle(F16(x), d), d => k.F16ToSingle(F16(x), d), 0, 0);
            float se = Scalar.Max(x), ae = k.Max(x);
            Assert.Equal(se, ae);
            var shift = n == 0 ? 0 : se;
            var s1 = new Guarded(n);
            var s2 = new Guarded(n);
            var sumE = Scalar.ExpShifted(x, shift, s1.Span);
            var sumA = k.ExpShifted(x, shift, s2.Span);
            Assert.True(Math.Abs(sumE - sumA) <= NumericTolerances.TranscendentalRelative * Math.Max(1, sumE), $"{variant} ExpShifted sum n={n}");
            Close(s1.Span, s2.Span, NumericTolerances.TranscendentalRelative, 1e-8f, $"{variant} ExpShifted n={n}");
            s2.AssertGuards($"{variant} ExpShifted n={n}");
        }

        void Compare(int n, string op, Action<Span<float>> reference, Action<Span<float>> fast, float rel, float abs)
        {
            var e = new Guarded(n);
            var a = new Guarded(n);
            reference(e.Span);
            fast(a.Span);
            a.AssertGuards($"{variant} {op} n={n}");
            Close(e.Span, a.Span, rel, abs, $"{variant} {op} n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants), MemberType = typeof(KernelTestUtil))]
    public void RopeNeox_matches_reference(KernelVariant variant)
    {
        var k = KernelCatalog.Get(variant);
        var rng = new Random(3);
        for (var h = 0; h <= MaxLength / 2; h++)
        {
            var x = Random(rng, 2 * h);
            var ang = Random(rng, h, 50f);
            var cos = ang.Select(MathF.Cos).ToArray();
            var sin = ang.Select(MathF.Sin).ToArray();
            var e = new Guarded(2 * h);
            var a = new Guarded(2 * h);
            e.Fill(x);
            a.Fill(x);
            Scalar.RopeNeox(e.Span, cos, sin);
            k.RopeNeox(a.Span, cos, sin);
            a.AssertGuards($"{variant} RoPE h={h}");
            Close(e.Span, a.Span, NumericTolerances.ElementwiseRelative, 1e-6f, $"{variant} RoPE h={h}");
        }
    }

    [Fact]
    public void Scalar_reference_matches_analytic_values()
    {
        var k = Scalar;
        Assert.Equal(32f, k.Dot([1, 2, 3], [4, 5, 6]));
        var d = new float[2];
        k.RmsNorm([3f, 4f], [1f, 2f], 0f, d);
        var r = 1 / MathF.Sqrt(12.5f);
        Assert.Equal(3 * r, d[0], 6);
        Assert.Equal(8 * r, d[1], 6);
        k.GeluTanhMul([1f, -2f], [1f, 1f], d);
        Assert.Equal(0.8411920f, d[0], 5);   // gelu_tanh(1) (PyTorch gelu(approximate='tanh'))
        Assert.Equal(-0.0454023f, d[1], 5);  // gelu_tanh(-2)
        var rope = new float[] { 1, 0 };
        k.RopeNeox(rope, [0f], [1f]);          // rotate by 90°: (1, 0) -> (0, 1)
        Assert.Equal([0f, 1f], rope);
        k.Softmax([0f, MathF.Log(3)], d);
        Assert.Equal(0.25f, d[0], 6);
        Assert.Equal(0.75f, d[1], 6);
    }

    [Fact]
    public void Kernels_check_lengths()
    {
        foreach (var v in KernelCatalog.Available)
        {
            var k = KernelCatalog.Get(v);
            Assert.Throws<ArgumentException>(() => k.Dot(new float[3], new float[4]));
            Assert.Throws<ArgumentException>(() => k.Add(new float[3], new float[3], new float[2]));
            Assert.Throws<ArgumentException>(() => k.RopeNeox(new float[6], new float[2], new float[2]));
            Assert.Throws<ArgumentException>(() => k.GemmTile(new float[5], 2, new float[6], 2, new float[9], 3, 3, 3, 2));
        }
    }

    private static ushort[] Bf16(float[] x) => x.Select(EmbeddingGemma.Numerics.Quantization.ScalarQuant.FloatToBf16).ToArray();

    private static ushort[] F16(float[] x) => x.Select(EmbeddingGemma.Numerics.Quantization.ScalarQuant.FloatToF16).ToArray();
}
