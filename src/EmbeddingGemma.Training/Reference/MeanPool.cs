namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 12, mean pooling over all S tokens, prompt and &lt;bos&gt;/&lt;eos&gt; included (sentence-transformers
/// <c>Pooling</c> with <c>pooling_mode_mean_tokens</c>, <c>include_prompt = true</c>; spec §3). Backward: <c>dh_t += de / S</c>.
/// </summary>
public static class MeanPool
{
    /// <summary>h: [s, n]; e: [n].</summary>
    public static void Forward(ReadOnlySpan<double> h, int s, int n, Span<double> e)
    {
        e[..n].Clear();
        for (var t = 0; t < s; t++)
        {
            for (var i = 0; i < n; i++)
            {
                e[i] += h[t * n + i];
            }
        }
        for (var i = 0; i < n; i++)
        {
            e[i] /= s;
        }
    }

    public static void Backward(ReadOnlySpan<double> de, int s, int n, Span<double> dh)
    {
        for (var t = 0; t < s; t++)
        {
            for (var i = 0; i < n; i++)
            {
                dh[t * n + i] += de[i] / s;
            }
        }
    }
}
