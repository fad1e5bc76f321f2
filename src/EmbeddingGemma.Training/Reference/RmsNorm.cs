namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 2, Gemma RMSNorm with gain <c>1 + w</c> (HF <c>Gemma3RMSNorm</c>; spec §2.1; training.md table row 2):
/// <c>r = (mean(x²) + ε)^-½</c>, <c>x̂ = x·r</c>, <c>y = x̂ ⊙ (1 + w)</c>, per row of <c>n</c> values.
/// Backward: <c>dw += Σ_rows dy ⊙ x̂</c>; <c>u = dy ⊙ (1 + w)</c>; <c>dx += r·(u − x̂·mean(u ⊙ x̂))</c>.
/// <c>w</c> is the zero-centred Hugging Face weight (what torch's optimizer sees), not the gain.
/// </summary>
public static class RmsNorm
{
    /// <summary>Normalizes <paramref name="rows"/> rows of <paramref name="n"/>; stores r per row in <paramref name="rInv"/> for backward.</summary>
    public static void Forward(ReadOnlySpan<double> x, int rows, int n, ReadOnlySpan<double> w, double eps, Span<double> y, Span<double> rInv)
    {
        for (var row = 0; row < rows; row++)
        {
            var xr = x.Slice(row * n, n);
            var yr = y.Slice(row * n, n);
            double ss = 0;
            for (var i = 0; i < n; i++)
            {
                ss += xr[i] * xr[i];
            }
            var r = 1.0 / Math.Sqrt(ss / n + eps);
            rInv[row] = r;
            for (var i = 0; i < n; i++)
            {
                yr[i] = xr[i] * r * (1.0 + w[i]);
            }
        }
    }

    /// <summary>Adds the input gradient to <paramref name="dx"/> and the weight gradient to <paramref name="dw"/>.</summary>
    public static void Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ReadOnlySpan<double> rInv, int rows, int n,
        ReadOnlySpan<double> w, Span<double> dx, Span<double> dw)
    {
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
                dw[i] += dyr[i] * xh;
                dot += dyr[i] * (1.0 + w[i]) * xh;
            }
            var mean = dot / n;
            for (var i = 0; i < n; i++)
            {
                dxr[i] += r * (dyr[i] * (1.0 + w[i]) - xr[i] * r * mean);
            }
        }
    }
}
