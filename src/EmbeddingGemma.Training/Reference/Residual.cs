namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Ops 7 and 10, the residual connection <c>h = r + f</c> (HF <c>Gemma3DecoderLayer</c>; spec §2.3). Backward: the
/// gradient passes unchanged to both branches.
/// </summary>
public static class Residual
{
    public static void Forward(ReadOnlySpan<double> r, ReadOnlySpan<double> f, Span<double> h)
    {
        for (var i = 0; i < h.Length; i++)
        {
            h[i] = r[i] + f[i];
        }
    }

    /// <summary>Adds dh to both <paramref name="dr"/> and <paramref name="df"/>.</summary>
    public static void Backward(ReadOnlySpan<double> dh, Span<double> dr, Span<double> df)
    {
        for (var i = 0; i < dh.Length; i++)
        {
            dr[i] += dh[i];
            df[i] += dh[i];
        }
    }
}
