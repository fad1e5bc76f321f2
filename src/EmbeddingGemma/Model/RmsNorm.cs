namespace EmbeddingGemma.Model;

/// <summary>
/// Gemma RMSNorm: y = x * rsqrt(mean(x^2) + eps) * (1 + w) (HF Gemma3RMSNorm; the gain 1+w is precomputed in
/// <see cref="ModelWeights"/>). Accumulates in double.
/// </summary>
internal static class RmsNorm
{
    /// <summary>Normalizes each row of length gain.Length in place-or-copy from <paramref name="x"/> to <paramref name="y"/>.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, double eps, Span<float> y)
    {
        var n = gain.Length;
        for (var r = 0; r < x.Length / n; r++)
        {
            var row = x.Slice(r * n, n);
            var dst = y.Slice(r * n, n);
            double ss = 0;
            for (var i = 0; i < n; i++)
            {
                ss += (double)row[i] * row[i];
            }
            var inv = 1.0 / Math.Sqrt(ss / n + eps);
            for (var i = 0; i < n; i++)
            {
                dst[i] = (float)(row[i] * inv * gain[i]);
            }
        }
    }
}
