namespace EmbeddingGemma.Model.V2;

/// <summary>
/// EmbeddingGemma 2's RMSNorm (Gemma 4 convention; HF-MOD EmbeddingGemma2RMSNorm, spec2 §2.1):
/// y = x * (mean(x^2) + eps)^-0.5 * w with the PLAIN stored w — not v1's (1 + w) (spec2 §8.1) — and the weightless
/// variant (with_scale=False) used for V (spec2 §8.2). Accumulates in double, rows of the gain's length.
/// </summary>
internal static class RmsNorm2
{
    /// <summary>Normalizes each row of length <c>gain.Length</c> and multiplies by the plain gain w.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, double eps, Span<float> y)
    {
        var n = gain.Length;
        for (var r = 0; r < x.Length / n; r++)
        {
            var row = x.Slice(r * n, n);
            var dst = y.Slice(r * n, n);
            var inv = InverseRms(row, eps);
            for (var i = 0; i < n; i++)
            {
                dst[i] = (float)(row[i] * inv * gain[i]);
            }
        }
    }

    /// <summary>The weightless norm (RMSNorm0): rows of length <paramref name="n"/>, no gain at all (there is no v_norm tensor).</summary>
    public static void ForwardUnweighted(ReadOnlySpan<float> x, int n, double eps, Span<float> y)
    {
        for (var r = 0; r < x.Length / n; r++)
        {
            var row = x.Slice(r * n, n);
            var dst = y.Slice(r * n, n);
            var inv = InverseRms(row, eps);
            for (var i = 0; i < n; i++)
            {
                dst[i] = (float)(row[i] * inv);
            }
        }
    }

    private static double InverseRms(ReadOnlySpan<float> row, double eps)
    {
        double ss = 0;
        for (var i = 0; i < row.Length; i++)
        {
            ss += (double)row[i] * row[i];
        }
        return 1.0 / Math.Sqrt(ss / row.Length + eps);
    }
}
