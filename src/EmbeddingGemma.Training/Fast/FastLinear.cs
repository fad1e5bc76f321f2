using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Training.Fast;

/// <summary>
/// fp32 backward of op 3 (<c>Y = X·Wᵀ</c>) on the engine's GEMM (<see cref="WeightMatrix.MatMul"/>, C = A·Bᵀ with B
/// row-major): <c>dX += dY·W</c> is A = dY against B = Wᵀ, and <c>dW += dYᵀ·X</c> is A = dYᵀ against B = Xᵀ. W may be
/// stored in any type (a frozen quantized base is dequantized once per call). First version: the transposes are
/// materialised per call; the trainer will keep Wᵀ per step and tile instead. Checked against
/// <see cref="Reference.Linear"/> in tests.
/// </summary>
public static class FastLinear
{
    /// <summary>Adds dY·W to <paramref name="dx"/> [m, inF] and dYᵀ·X to <paramref name="dw"/> [outF, inF] (null: frozen W).</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, int m, WeightMatrix w, Span<float> dx, Span<float> dw, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(w);
        int outF = w.Rows, inF = w.Cols;
        if (dy.Length < m * outF || x.Length < m * inF || dx.Length < m * inF || (!dw.IsEmpty && dw.Length < outF * inF))
        {
            throw new ArgumentException($"FastLinear.Backward: shapes do not match m={m}, W [{outF}, {inF}].");
        }
        var wT = Transpose(w.Dequantize(), outF, inF);
        var tmp = new float[Math.Max(m * inF, dw.IsEmpty ? 0 : outF * inF)];
        WeightMatrix.FromFloats(w.Name + ".T", wT, inF, outF).MatMul(dy[..(m * outF)], m, tmp.AsSpan(0, m * inF), threads);
        Add(tmp.AsSpan(0, m * inF), dx);
        if (dw.IsEmpty)
        {
            return;
        }
        var dyT = Transpose(dy[..(m * outF)], m, outF);
        var xT = Transpose(x[..(m * inF)], m, inF);
        WeightMatrix.FromFloats(w.Name + ".input.T", xT, inF, m).MatMul(dyT, outF, tmp.AsSpan(0, outF * inF), threads);
        Add(tmp.AsSpan(0, outF * inF), dw);
    }

    private static float[] Transpose(ReadOnlySpan<float> a, int rows, int cols)
    {
        var t = new float[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    private static void Add(ReadOnlySpan<float> src, Span<float> dst)
    {
        for (var i = 0; i < src.Length; i++)
        {
            dst[i] += src[i];
        }
    }
}
