using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Training.Fast;

/// <summary>
/// fp32 backward of op 3 (<c>Y = X·Wᵀ</c>) on the training path's products (<see cref="TrainGemm"/>, the packed GEMM
/// reading every operand as stored): <c>dX += dY·W</c> and <c>dW += dYᵀ·X</c>. W may be stored in any type (a frozen
/// quantized base is dequantized once per call). Checked against <see cref="Reference.Linear"/> in tests.
/// </summary>
public static class FastLinear
{
    /// <summary>Adds dY·W to <paramref name="dx"/> [m, inF] and dYᵀ·X to <paramref name="dw"/> [outF, inF] (empty: frozen W).</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, int m, WeightMatrix w, Span<float> dx, Span<float> dw, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(w);
        int outF = w.Rows, inF = w.Cols;
        if (dy.Length < m * outF || x.Length < m * inF || dx.Length < m * inF || (!dw.IsEmpty && dw.Length < outF * inF))
        {
            throw new ArgumentException($"FastLinear.Backward: shapes do not match m={m}, W [{outF}, {inF}].");
        }
        var ks = KernelCatalog.Default;
        threads = threads > 0 ? threads : KernelCatalog.DefaultThreads;
        var dyA = dy[..(m * outF)].ToArray();
        var dxA = dx[..(m * inF)].ToArray();
        TrainGemm.BackwardInput(ks, threads, dyA, m, w.Dequantize(), outF, inF, dxA, accumulate: true);
        dxA.CopyTo(dx);
        if (dw.IsEmpty)
        {
            return;
        }
        var dwA = dw[..(outF * inF)].ToArray();
        TrainGemm.BackwardWeight(ks, threads, dyA, x[..(m * inF)].ToArray(), m, outF, inF, dwA);
        dwA.CopyTo(dw);
    }
}
