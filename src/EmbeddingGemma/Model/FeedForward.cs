namespace EmbeddingGemma.Model;

/// <summary>
/// GeGLU MLP (HF Gemma3MLP: down(act(gate(x)) * up(x)); llama.cpp LLM_FFN_GELU + LLM_FFN_PAR) with the tanh GELU
/// gelu_pytorch_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). The gate branch gets the activation.
/// </summary>
internal static class FeedForward
{
    public static double GeluTanh(double x) => 0.5 * x * (1.0 + Math.Tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static void Forward(GemmaConfig c, LayerWeights w, int layer, ReadOnlySpan<float> x, int s, Span<float> output, IntermediateHook? hook, ParallelOptions parallel)
    {
        int h = c.HiddenSize, ff = c.IntermediateSize;
        var gate = new float[s * ff];
        var up = new float[s * ff];
        Linear.Forward(x, s, w.WGate, gate, parallel);
        Linear.Forward(x, s, w.WUp, up, parallel);
        hook?.Invoke($"layer.{layer}.ffn_gate", gate, s, ff);
        hook?.Invoke($"layer.{layer}.ffn_up", up, s, ff);
        for (var i = 0; i < gate.Length; i++)
        {
            gate[i] = (float)(GeluTanh(gate[i]) * up[i]);
        }
        hook?.Invoke($"layer.{layer}.ffn_act", gate, s, ff);
        Linear.Forward(gate, s, w.WDown, output, parallel);
        hook?.Invoke($"layer.{layer}.ffn_down", output[..(s * h)], s, h);
    }
}
