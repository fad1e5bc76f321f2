using EmbeddingGemma.Numerics;
using EmbeddingGemma.Training.Fast;

namespace EmbeddingGemma.Training.Tests.Fast;

/// <summary>
/// The backward products of <see cref="TrainGemm"/> on the packed kernel, operands read as stored (no transposes):
/// dX (+)= dY·W and dW += dYᵀ·X against fp64 sums, and bit-identical for 1, 2 and 3 threads (1, 4 and 6 work items of
/// different column widths), on shapes that cross the row blocks (192) and the kernel's k slices (256).
/// </summary>
public class TrainGemmTests
{
    private static float[] Rand(Random rng, int n)
    {
        var a = new float[n];
        for (var i = 0; i < n; i++)
        {
            a[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return a;
    }

    /// <summary>
    /// Each output is a chain of k FMAs from its initial value c0, so |ĉ − c| ≤ γ_k·(|c0| + Σ|terms|),
    /// γ_k = k·u/(1 − k·u), u = 2⁻²⁴; allowed: 1.01·γ_k.
    /// </summary>
    private static void AssertWithinBound(string what, float[] got, float[] c0, Func<int, int, double> term, int rows, int cols, int k)
    {
        const double u = 1.0 / (1 << 24);
        var gamma = 1.01 * k * u / (1 - k * u);
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                double s = c0[i * cols + j], mag = Math.Abs(s);
                for (var t = 0; t < k; t++)
                {
                    var p = term(i * cols + j, t);
                    s += p;
                    mag += Math.Abs(p);
                }
                Assert.True(Math.Abs(got[i * cols + j] - s) <= gamma * mag, $"{what} ({i},{j}): {got[i * cols + j]} vs {s}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Backward_products_match_fp64_and_do_not_depend_on_threads(KernelVariant variant)
    {
        var ks = KernelCatalog.Get(variant);
        var rng = new Random(31);
        const int m = 300, outF = 200, inF = 530;
        var dy = Rand(rng, m * outF);
        var x = Rand(rng, m * inF);
        var w = Rand(rng, outF * inF);
        var dx0 = Rand(rng, m * inF);
        var dw0 = Rand(rng, outF * inF);
        float[]? dx1 = null, dw1 = null;
        foreach (var threads in new[] { 1, 2, 3 })
        {
            var dx = (float[])dx0.Clone();
            var dw = (float[])dw0.Clone();
            TrainGemm.BackwardInput(ks, threads, dy, m, w, outF, inF, dx, accumulate: true);
            TrainGemm.BackwardWeight(ks, threads, dy, x, m, outF, inF, dw);
            if (dx1 is null)
            {
                dx1 = dx;
                dw1 = dw;
                continue;
            }
            Assert.Equal(dx1, dx);
            Assert.Equal(dw1, dw);
        }
        // dX[r, c] = dX0 + Σ_o dY[r, o]·W[o, c]; dW[o, c] = dW0 + Σ_r dY[r, o]·X[r, c]
        AssertWithinBound($"{variant} dX", dx1!, dx0, (e, o) => (double)dy[e / inF * outF + o] * w[o * inF + e % inF], m, inF, outF);
        AssertWithinBound($"{variant} dW", dw1!, dw0, (e, r) => (double)dy[r * outF + e / inF] * x[r * inF + e % inF], outF, inF, m);
        // overwrite: dX = dY·W regardless of what dX held
        var dxo = Rand(rng, m * inF);
        TrainGemm.BackwardInput(ks, 2, dy, m, w, outF, inF, dxo, accumulate: false);
        AssertWithinBound($"{variant} dX (overwrite)", dxo, new float[m * inF], (e, o) => (double)dy[e / inF * outF + o] * w[o * inF + e % inF], m, inF, outF);
    }

    public static IEnumerable<object[]> Kernels() => KernelCatalog.Available.Select(v => new object[] { v });
}
