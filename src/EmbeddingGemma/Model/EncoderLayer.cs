namespace EmbeddingGemma.Model;

/// <summary>
/// One decoder layer in the order of HF Gemma3DecoderLayer and llama.cpp's gemma-embedding graph:
/// h += post_attention_norm(attn(input_norm(h))); h += post_ffw_norm(mlp(pre_ffw_norm(h))).
/// </summary>
internal static class EncoderLayer
{
    public static void Forward(GemmaConfig c, LayerWeights w, int layer, Span<float> hidden, int s, IntermediateHook? hook, ParallelOptions parallel)
    {
        var h = c.HiddenSize;
        var n = s * h;
        var x = new float[n];
        var o = new float[n];
        RmsNorm.Forward(hidden[..n], w.AttnNormGain, c.RmsNormEps, x);
        hook?.Invoke($"layer.{layer}.attn_norm", x, s, h);
        Attention.Forward(c, w, layer, x, s, o, hook, parallel);
        RmsNorm.Forward(o, w.PostAttnNormGain, c.RmsNormEps, o);
        hook?.Invoke($"layer.{layer}.attn_post_norm", o, s, h);
        for (var i = 0; i < n; i++)
        {
            hidden[i] += o[i];
        }
        hook?.Invoke($"layer.{layer}.attn_residual", hidden[..n], s, h);
        RmsNorm.Forward(hidden[..n], w.PreFfnNormGain, c.RmsNormEps, x);
        hook?.Invoke($"layer.{layer}.ffn_norm", x, s, h);
        FeedForward.Forward(c, w, layer, x, s, o, hook, parallel);
        RmsNorm.Forward(o, w.PostFfnNormGain, c.RmsNormEps, o);
        hook?.Invoke($"layer.{layer}.ffn_post_norm", o, s, h);
        for (var i = 0; i < n; i++)
        {
            hidden[i] += o[i];
        }
        hook?.Invoke($"layer.{layer}.out", hidden[..n], s, h);
    }
}
