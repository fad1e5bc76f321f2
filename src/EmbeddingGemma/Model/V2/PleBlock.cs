namespace EmbeddingGemma.Model.V2;

/// <summary>
/// The PLE block at the end of every layer (HF-MOD EmbeddingGemma2TextPLEBlock; spec2 §2.4):
/// g = gelu_tanh(h · Wgateᵀ) gated on the CURRENT hidden state (after the MLP residual, not the layer input; §8.8),
/// h += RMSNorm((g ⊙ ple[l]) · Wprojᵀ; post_per_layer_input_norm), then h *= layer_scalar — the WHOLE residual
/// stream, not only the branch (§8.9). Gate [P, D], projection [D, P] (§11.2).
/// </summary>
internal static class PleBlock
{
    public static void Forward(EmbeddingGemma2Config c, LayerWeights2 w, int layer, Span<float> hidden, int s, ReadOnlySpan<float> ple,
        IntermediateHook? hook, ParallelOptions parallel)
    {
        int d = c.HiddenSize, p = c.HiddenSizePerLayerInput, lp = c.NumHiddenLayers * p;
        var n = s * d;
        var g = new float[s * p];
        Linear.Forward(hidden[..n], s, w.PleGate, g, parallel);
        for (var t = 0; t < s; t++)
        {
            var slice = ple.Slice(t * lp + layer * p, p);
            for (var i = 0; i < p; i++)
            {
                g[t * p + i] = (float)(FeedForward.GeluTanh(g[t * p + i]) * slice[i]);
            }
        }
        hook?.Invoke($"layer.{layer}.ple_gated", g, s, p);
        var u = new float[n];
        Linear.Forward(g, s, w.PleProjection, u, parallel);
        RmsNorm2.Forward(u, w.PlePostNormGain, c.RmsNormEps, u);
        hook?.Invoke($"layer.{layer}.ple_post_norm", u, s, d);
        var scalar = (double)w.LayerScalar;
        for (var i = 0; i < n; i++)
        {
            hidden[i] = (float)((hidden[i] + (double)u[i]) * scalar);
        }
        hook?.Invoke($"layer.{layer}.out", hidden[..n], s, d);
    }
}
