namespace EmbeddingGemma.Model.V2;

/// <summary>
/// One EmbeddingGemma 2 layer in the order of HF-MOD EmbeddingGemma2EncoderLayer.forward (spec2 §2.4):
/// h += post_attention_norm(attn(input_norm(h))); h += post_ffw_norm(mlp(pre_ffw_norm(h))); then the PLE block and
/// the layer scalar (<see cref="PleBlock"/>). Every norm multiplies by the plain w.
/// </summary>
internal static class EncoderLayer2
{
    public static void Forward(EmbeddingGemma2Config c, LayerWeights2 w, int layer, Span<float> hidden, int s, ReadOnlySpan<bool> mask, ReadOnlySpan<float> ple,
        IntermediateHook? hook, ParallelOptions parallel)
    {
        var h = c.HiddenSize;
        var n = s * h;
        var x = new float[n];
        var o = new float[n];
        RmsNorm2.Forward(hidden[..n], w.AttnNormGain, c.RmsNormEps, x);
        hook?.Invoke($"layer.{layer}.attn_norm", x, s, h);
        Attention2.Forward(c, w, layer, x, s, mask, o, hook, parallel);
        RmsNorm2.Forward(o, w.PostAttnNormGain, c.RmsNormEps, o);
        hook?.Invoke($"layer.{layer}.attn_post_norm", o, s, h);
        for (var i = 0; i < n; i++)
        {
            hidden[i] += o[i];
        }
        hook?.Invoke($"layer.{layer}.attn_residual", hidden[..n], s, h);
        RmsNorm2.Forward(hidden[..n], w.PreFfnNormGain, c.RmsNormEps, x);
        hook?.Invoke($"layer.{layer}.ffn_norm", x, s, h);
        FeedForward2(c, w, layer, x, s, o, hook, parallel);
        RmsNorm2.Forward(o, w.PostFfnNormGain, c.RmsNormEps, o);
        hook?.Invoke($"layer.{layer}.ffn_post_norm", o, s, h);
        for (var i = 0; i < n; i++)
        {
            hidden[i] += o[i];
        }
        hook?.Invoke($"layer.{layer}.ffn_residual", hidden[..n], s, h);
        PleBlock.Forward(c, w, layer, hidden, s, ple, hook, parallel);
    }

    // The same GeGLU MLP as v1 (HF-MOD EmbeddingGemma2MLP: down(gelu_tanh(gate(x)) * up(x)); LC-GRAPH GELU + PAR).
    private static void FeedForward2(EmbeddingGemma2Config c, LayerWeights2 w, int layer, ReadOnlySpan<float> x, int s, Span<float> output, IntermediateHook? hook, ParallelOptions parallel)
    {
        int h = c.HiddenSize, ff = c.IntermediateSize;
        var gate = new float[s * ff];
        var up = new float[s * ff];
        Linear.Forward(x, s, w.WGate, gate, parallel);
        Linear.Forward(x, s, w.WUp, up, parallel);
        for (var i = 0; i < gate.Length; i++)
        {
            gate[i] = (float)(FeedForward.GeluTanh(gate[i]) * up[i]);
        }
        hook?.Invoke($"layer.{layer}.ffn_act", gate, s, ff);
        Linear.Forward(gate, s, w.WDown, output, parallel);
        hook?.Invoke($"layer.{layer}.ffn_down", output[..(s * h)], s, h);
    }
}
