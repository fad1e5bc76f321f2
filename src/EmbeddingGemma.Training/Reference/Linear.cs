namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 3, a linear map without bias in PyTorch's row convention <c>Y = X·Wᵀ</c>, W stored [out, in] (q/k/v/o, gate/up/down
/// and both sentence-transformers Dense layers, which have no bias and an identity activation: spec §2.3, §3).
/// Backward: <c>dX += dY·W</c>; <c>dW += dYᵀ·X</c>.
/// </summary>
public static class Linear
{
    /// <summary>x: [m, inF]; w: [outF, inF]; y: [m, outF].</summary>
    public static void Forward(ReadOnlySpan<double> x, int m, ReadOnlySpan<double> w, int outF, int inF, Span<double> y)
    {
        for (var r = 0; r < m; r++)
        {
            var xr = x.Slice(r * inF, inF);
            for (var o = 0; o < outF; o++)
            {
                var wo = w.Slice(o * inF, inF);
                double acc = 0;
                for (var i = 0; i < inF; i++)
                {
                    acc += xr[i] * wo[i];
                }
                y[r * outF + o] = acc;
            }
        }
    }

    /// <summary>Adds to <paramref name="dx"/> and <paramref name="dw"/>.</summary>
    public static void Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, int m, ReadOnlySpan<double> w, int outF, int inF, Span<double> dx, Span<double> dw)
    {
        for (var r = 0; r < m; r++)
        {
            var xr = x.Slice(r * inF, inF);
            var dxr = dx.Slice(r * inF, inF);
            for (var o = 0; o < outF; o++)
            {
                var g = dy[r * outF + o];
                if (g == 0)
                {
                    continue;
                }
                var wo = w.Slice(o * inF, inF);
                var dwo = dw.Slice(o * inF, inF);
                for (var i = 0; i < inF; i++)
                {
                    dxr[i] += g * wo[i];
                    dwo[i] += g * xr[i];
                }
            }
        }
    }
}
