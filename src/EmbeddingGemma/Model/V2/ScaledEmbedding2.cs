namespace EmbeddingGemma.Model.V2;

/// <summary>
/// x0[t] = E[id_t] * sqrt(hidden) (HF-MOD EmbeddingGemma2TextScaledWordEmbedding; spec2 §2.2), the scale rounded to
/// float32 as for fp32 weights (22.6274170 for 512; a bf16 HF run uses 22.625, spec2 §8.13). Media placeholder ids
/// (image/audio/video) are replaced by pad before the lookup, as HF's EmbeddingGemma2Model.forward does for text-only
/// input, so their rows never enter the text model.
/// </summary>
internal static class ScaledEmbedding2
{
    public static void Forward(EmbeddingGemma2Weights weights, ReadOnlySpan<int> ids, Span<float> hidden)
    {
        var c = weights.Config;
        var h = c.HiddenSize;
        var scale = (float)c.EmbedScale;
        for (var t = 0; t < ids.Length; t++)
        {
            var row = hidden.Slice(t * h, h);
            weights.EmbeddingRow(TextId(c, ids[t]), row);
            for (var i = 0; i < h; i++)
            {
                row[i] *= scale;
            }
        }
    }

    /// <summary>The id the text embedding uses: pad for the media placeholders (HF-MOD EmbeddingGemma2Model.forward), else the id.</summary>
    public static int TextId(EmbeddingGemma2Config c, int id) =>
        id == c.ImageTokenId || id == c.AudioTokenId || id == c.VideoTokenId ? c.PadTokenId : id;
}
