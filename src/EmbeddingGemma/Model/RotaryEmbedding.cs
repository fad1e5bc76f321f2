namespace EmbeddingGemma.Model;

/// <summary>
/// RoPE in the NeoX / rotate-half layout (HF rotate_half; llama.cpp LLAMA_ROPE_TYPE_NEOX), full rotary dimension:
/// inv_freq[i] = theta^(-2i/d), x' = x*cos + rotate_half(x)*sin with rotate_half(x) = [-x[d/2:], x[:d/2]].
/// theta is the layer's base (rope_local_base_freq on sliding layers, rope_theta on global ones). Angles in double.
/// </summary>
internal static class RotaryEmbedding
{
    /// <summary>Rotates <paramref name="heads"/> heads of size <paramref name="headDim"/> per position, in place.</summary>
    public static void Apply(Span<float> x, int positions, int heads, int headDim, double theta)
    {
        var half = headDim / 2;
        for (var p = 0; p < positions; p++)
        {
            for (var i = 0; i < half; i++)
            {
                var angle = p * Math.Pow(theta, -2.0 * i / headDim);
                var (sin, cos) = Math.SinCos(angle);
                for (var hh = 0; hh < heads; hh++)
                {
                    var v = x.Slice((p * heads + hh) * headDim, headDim);
                    double a = v[i], b = v[i + half];
                    v[i] = (float)(a * cos - b * sin);
                    v[i + half] = (float)(b * cos + a * sin);
                }
            }
        }
    }
}
