namespace EmbeddingGemma.Model.V2;

/// <summary>
/// Per-layer embeddings (PLE), computed once per sequence (HF-MOD EmbeddingGemma2TextPLE; LC-GRAPH
/// build_inp_per_layer; spec2 §2.3): Z = (x0 · Wpleᵀ) * hidden^-0.5 from the SCALED embeddings x0 (spec2 §8.8;
/// hidden_size, not the PLE width, per §11.1), viewed as [S, L, P] (layer-major per token: layer l uses columns
/// l*P .. l*P+P-1), then RMSNorm with the shared plain-w gain per_layer_projection_norm [P]. "Projection-only": no
/// per-layer token table, no 1/sqrt(2) blend.
/// </summary>
internal static class PerLayerEmbedding
{
    /// <summary>Returns ple [S, L*P]: row t holds the L normalized slices of token t.</summary>
    public static float[] Forward(EmbeddingGemma2Weights w, ReadOnlySpan<float> x0, int s, IntermediateHook? hook, ParallelOptions parallel)
    {
        var c = w.Config;
        int l = c.NumHiddenLayers, p = c.HiddenSizePerLayerInput;
        var z = new float[s * l * p];
        Linear.Forward(x0, s, w.PleModelProjection, z, parallel);
        var scale = c.PleScale;
        for (var i = 0; i < z.Length; i++)
        {
            z[i] = (float)(z[i] * scale);
        }
        hook?.Invoke("ple.projection", z, s, l * p);
        RmsNorm2.Forward(z, w.PleProjectionNormGain, c.RmsNormEps, z);   // every [P] slice, shared gain
        hook?.Invoke("ple", z, s, l * p);
        return z;
    }
}
