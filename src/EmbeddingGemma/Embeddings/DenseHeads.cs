using EmbeddingGemma.Model;

namespace EmbeddingGemma.Embeddings;

/// <summary>
/// sentence-transformers modules 2 and 3: Dense hidden-&gt;N then Dense N-&gt;hidden, no bias, identity activation
/// (spec §3; the heads early llama.cpp GGUFs and TEI local folders forgot).
/// </summary>
public static class DenseHeads
{
    /// <summary>z2 = W3 (W2 pooled). Without heads (AllowMissingDense) the pooled vector is copied through.</summary>
    public static void Apply(ModelWeights weights, ReadOnlySpan<float> pooled, Span<float> output, IntermediateHook? hook = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var h = weights.Config.HiddenSize;
        if (!weights.HasDense)
        {
            pooled[..h].CopyTo(output);
            return;
        }
        var inter = weights.DenseIntermediate;
        var z1 = new float[inter];
        Linear.Forward(pooled, 1, weights.Dense2!, h, inter, z1);
        hook?.Invoke("dense_2", z1, 1, inter);
        Linear.Forward(z1, 1, weights.Dense3!, inter, h, output);
        hook?.Invoke("dense_3", output[..h], 1, h);
    }
}
