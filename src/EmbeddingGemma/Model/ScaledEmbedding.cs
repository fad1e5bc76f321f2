namespace EmbeddingGemma.Model;

/// <summary>
/// Step 1: h0[t] = E[id_t] * sqrt(hidden_size) (HF Gemma3TextScaledWordEmbedding; llama.cpp multiplies by
/// sqrtf(n_embd) in F32). The scale is rounded to float32 as for fp32 weights (27.7128129).
/// </summary>
internal static class ScaledEmbedding
{
    public static void Forward(ModelWeights weights, ReadOnlySpan<int> ids, Span<float> hidden)
    {
        var h = weights.Config.HiddenSize;
        var scale = (float)weights.Config.EmbedScale;
        for (var t = 0; t < ids.Length; t++)
        {
            var row = hidden.Slice(t * h, h);
            weights.EmbeddingRow(ids[t], row);
            for (var i = 0; i < h; i++)
            {
                row[i] *= scale;
            }
        }
    }
}
