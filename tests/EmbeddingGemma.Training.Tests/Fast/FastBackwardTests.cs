using EmbeddingGemma.Numerics;
using EmbeddingGemma.Training.Fast;
using Ref = EmbeddingGemma.Training.Reference;

namespace EmbeddingGemma.Training.Tests.Fast;

/// <summary>
/// The fp32 backward ops against the fp64 reference on the same (float-representable) inputs, odd shapes that exercise
/// the GEMM's tile edges. Tolerance: max |fast − reference| ≤ 1e-4 · max |reference| per output tensor (float32
/// rounding of sums over up to 53 terms is ~1e-6 of that scale; 1e-4 is the bar).
/// </summary>
public class FastBackwardTests
{
    private const double Tolerance = 1e-4;

    private static float[] RandomFloats(Random rng, int n, double scale = 1.0) => Array.ConvertAll(GradCheck.RandomArray(rng, n, scale), v => (float)v);

    private static double[] D(float[] a) => Array.ConvertAll(a, v => (double)v);

    private static void Close(string name, double[] expected, float[] actual)
    {
        var scale = expected.Max(Math.Abs);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= Tolerance * scale, $"{name}: max abs error {worst:E3} vs max |reference| {scale:E3}");
    }

    [Theory]
    [InlineData(37, 53, 29)]
    [InlineData(1, 24, 96)]   // one pooled vector through a Dense head
    [InlineData(130, 17, 5)]
    public void Linear_matches_the_reference(int m, int inF, int outF)
    {
        var rng = new Random(m + inF + outF);
        var x = RandomFloats(rng, m * inF);
        var w = RandomFloats(rng, outF * inF);
        var dy = RandomFloats(rng, m * outF);
        var dx = new float[m * inF];
        var dw = new float[outF * inF];
        FastLinear.Backward(dy, x, m, WeightMatrix.FromFloats("w", w, outF, inF), dx, dw, threads: 1);
        var rdx = new double[dx.Length];
        var rdw = new double[dw.Length];
        Ref.Linear.Backward(D(dy), D(x), m, D(w), outF, inF, rdx, rdw);
        Close("dx", rdx, dx);
        Close("dw", rdw, dw);
    }

    [Fact]
    public void RmsNorm_matches_the_reference()
    {
        var rng = new Random(2);
        int rows = 11, n = 37;
        var x = RandomFloats(rng, rows * n, 3.0);
        var w = RandomFloats(rng, n, 0.3);
        var dy = RandomFloats(rng, rows * n);
        var r = new float[rows];
        FastRmsNorm.Forward(x, rows, n, w, 1e-6f, new float[rows * n], r);
        var dx = new float[x.Length];
        var dw = new float[n];
        FastRmsNorm.Backward(dy, x, r, rows, n, w, dx, dw);
        var rr = new double[rows];
        Ref.RmsNorm.Forward(D(x), rows, n, D(w), (float)1e-6, new double[rows * n], rr);
        var rdx = new double[x.Length];
        var rdw = new double[n];
        Ref.RmsNorm.Backward(D(dy), D(x), rr, rows, n, D(w), rdx, rdw);
        Close("dx", rdx, dx);
        Close("dw", rdw, dw);
    }

    [Fact]
    public void GeGlu_matches_the_reference()
    {
        var rng = new Random(3);
        var n = 101;
        var g = RandomFloats(rng, n, 4.0);
        var u = RandomFloats(rng, n, 2.0);
        var da = RandomFloats(rng, n);
        var dg = new float[n];
        var du = new float[n];
        FastGeGlu.Backward(da, g, u, dg, du);
        var rdg = new double[n];
        var rdu = new double[n];
        Ref.GeGlu.Backward(D(da), D(g), D(u), rdg, rdu);
        Close("dg", rdg, dg);
        Close("du", rdu, du);
    }

    public static TheoryData<KernelVariant> Variants() => [.. KernelCatalog.Available];

    [Theory]
    [MemberData(nameof(Variants))]
    public void RmsNorm_backward_kernel_matches_the_reference(KernelVariant variant)
    {
        // KernelSet.RmsNormBackward, one row of odd width: dx and the added gain gradient vs the fp64 reference
        var rng = new Random(6);
        var n = 77;
        var x = RandomFloats(rng, n, 3.0);
        var w = RandomFloats(rng, n, 0.5);
        var dy = RandomFloats(rng, n);
        var eps = 1e-6;
        var r = (float)(1.0 / Math.Sqrt(x.Sum(v => (double)v * v) / n + eps));
        var gain = Array.ConvertAll(w, v => 1f + v);
        var dx = new float[n];
        var dw = new float[n];
        KernelCatalog.Get(variant).RmsNormBackward(dy, x, gain, r, dw, dx);
        var rdx = new double[n];
        var rdw = new double[n];
        Ref.RmsNorm.Backward(D(dy), D(x), [r], 1, n, D(w), rdx, rdw);
        Close($"{variant} dx", rdx, dx);
        Close($"{variant} dw", rdw, dw);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void GeGlu_backward_kernel_matches_the_reference(KernelVariant variant)
    {
        // KernelSet.GeluTanhMulBackward (the kernel the fp32 encoder uses), every variant, odd length for the tails
        var rng = new Random(4);
        var n = 203;
        var g = RandomFloats(rng, n, 6.0);
        var u = RandomFloats(rng, n, 2.0);
        var da = RandomFloats(rng, n);
        var dg = new float[n];
        var du = new float[n];
        KernelCatalog.Get(variant).GeluTanhMulBackward(da, g, u, dg, du);
        var rdg = new double[n];
        var rdu = new double[n];
        Ref.GeGlu.Backward(D(da), D(g), D(u), rdg, rdu);
        Close($"{variant} dg", rdg, dg);
        Close($"{variant} du", rdu, du);
    }
}
