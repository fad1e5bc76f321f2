namespace EmbeddingGemma.Training.Fast;

/// <summary>
/// fp32 backward of op 2 / op 4 (Gemma RMSNorm, gain 1 + w), the formulas of <see cref="Reference.RmsNorm"/> with float
/// storage and the row reductions in double (as the engine's norms): <c>dw += Σ dy⊙x̂</c>;
/// <c>dx += r·(u − x̂·mean(u⊙x̂))</c>, u = dy⊙(1+w). r per row comes from the forward (<see cref="Forward"/>).
/// </summary>
public static class FastRmsNorm
{
    /// <summary>y = x·r·(1 + w) per row of n; keeps r per row.</summary>
    public static void Forward(ReadOnlySpan<float> x, int rows, int n, ReadOnlySpan<float> w, float eps, Span<float> y, Span<float> rInv)
    {
        for (var row = 0; row < rows; row++)
        {
            var xr = x.Slice(row * n, n);
            double ss = 0;
            foreach (var v in xr)
            {
                ss += (double)v * v;
            }
            var r = (float)(1.0 / Math.Sqrt(ss / n + eps));
            rInv[row] = r;
            var yr = y.Slice(row * n, n);
            for (var i = 0; i < n; i++)
            {
                yr[i] = xr[i] * r * (1f + w[i]);
            }
        }
    }

    /// <summary>Adds to <paramref name="dx"/> and <paramref name="dw"/>.</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> rInv, int rows, int n, ReadOnlySpan<float> w,
        Span<float> dx, Span<float> dw)
    {
        var dwAcc = new double[n];
        for (var row = 0; row < rows; row++)
        {
            var xr = x.Slice(row * n, n);
            var dyr = dy.Slice(row * n, n);
            var dxr = dx.Slice(row * n, n);
            var r = rInv[row];
            double dot = 0;
            for (var i = 0; i < n; i++)
            {
                var xh = xr[i] * r;
                dwAcc[i] += (double)dyr[i] * xh;
                dot += (double)dyr[i] * (1f + w[i]) * xh;
            }
            var mean = (float)(dot / n);
            for (var i = 0; i < n; i++)
            {
                dxr[i] += r * (dyr[i] * (1f + w[i]) - xr[i] * r * mean);
            }
        }
        for (var i = 0; i < n; i++)
        {
            dw[i] += (float)dwAcc[i];
        }
    }
}
