namespace EmbeddingGemma.Model.V2;

/// <summary>
/// Self-attention of one EmbeddingGemma 2 layer (HF-MOD EmbeddingGemma2Attention + eager_attention_forward; spec2
/// §2.4-§2.6). Differences from v1, each a silent error if missed (spec2 §8):
/// per-layer head width and KV heads (256 / 2 sliding, 512 / 1 full; §8.4); q and k get per-head RMSNorm with the
/// plain gain w, and V gets a WEIGHTLESS per-head RMSNorm (§8.2); RoPE after the norms, NeoX rotate-half over the
/// whole head, theta 1e4 sliding / 1e6 full (§2.6, §8.5-8.6); scale 1.0 — no 1/sqrt(d) (§8.3); on sliding layers
/// key j is visible from query i iff |i - j| &lt;= sliding_window with the config value AS the radius, inclusive at both
/// edges (HF-MASK abs(q_idx-kv_idx) &lt;= sliding_window; LC-HP SYMMETRIC with GGUF's 2 x radius; §8.7); masked
/// (padding) keys are never visible. No softcap.
/// </summary>
internal static class Attention2
{
    /// <summary>The inclusive visible key range [start, end) of query <paramref name="i"/> before the padding mask.</summary>
    public static (int Start, int End) VisibleKeys(int i, int length, bool sliding, int radius) =>
        sliding ? (Math.Max(0, i - radius), Math.Min(length, i + radius + 1)) : (0, length);

    public static void Forward(EmbeddingGemma2Config c, LayerWeights2 w, int layer, ReadOnlySpan<float> x, int s, ReadOnlySpan<bool> mask,
        Span<float> output, IntermediateHook? hook, ParallelOptions parallel)
    {
        int h = c.HiddenSize, nh = c.NumAttentionHeads, nkv = w.KeyValueHeads, d = w.HeadDim;
        var q = new float[s * nh * d];
        var k = new float[s * nkv * d];
        var v = new float[s * nkv * d];
        Linear.Forward(x, s, w.Wq, q, parallel);
        Linear.Forward(x, s, w.Wk, k, parallel);
        Linear.Forward(x, s, w.Wv, v, parallel);
        hook?.Invoke($"layer.{layer}.q", q, s, nh * d);
        hook?.Invoke($"layer.{layer}.k", k, s, nkv * d);
        hook?.Invoke($"layer.{layer}.v", v, s, nkv * d);
        RmsNorm2.Forward(q, w.QNormGain, c.RmsNormEps, q);       // gain [d] shared by heads
        RmsNorm2.Forward(k, w.KNormGain, c.RmsNormEps, k);
        RmsNorm2.ForwardUnweighted(v, d, c.RmsNormEps, v);       // weightless V norm
        hook?.Invoke($"layer.{layer}.q_norm", q, s, nh * d);
        hook?.Invoke($"layer.{layer}.k_norm", k, s, nkv * d);
        hook?.Invoke($"layer.{layer}.v_norm", v, s, nkv * d);
        var theta = c.LayerRopeTheta(layer);
        RotaryEmbedding.Apply(q, s, nh, d, theta);
        RotaryEmbedding.Apply(k, s, nkv, d, theta);
        hook?.Invoke($"layer.{layer}.q_rope", q, s, nh * d);
        hook?.Invoke($"layer.{layer}.k_rope", k, s, nkv * d);
        var sliding = c.IsSlidingLayer(layer);
        var radius = c.SlidingWindow;
        var scale = c.AttentionScale;
        var group = nh / nkv;
        var attn = new float[s * nh * d];
        var m = mask.ToArray();
        Parallel.For(0, s, parallel, i =>
        {
            var (start, end) = VisibleKeys(i, s, sliding, radius);
            var scores = new double[end - start];
            var acc = new double[d];
            for (var hh = 0; hh < nh; hh++)
            {
                var kvh = hh / group;
                var qi = q.AsSpan((i * nh + hh) * d, d);
                var max = double.NegativeInfinity;
                for (var j = start; j < end; j++)
                {
                    if (!m[j])
                    {
                        scores[j - start] = double.NegativeInfinity;
                        continue;
                    }
                    var kj = k.AsSpan((j * nkv + kvh) * d, d);
                    double dot = 0;
                    for (var e = 0; e < d; e++)
                    {
                        dot += (double)qi[e] * kj[e];
                    }
                    scores[j - start] = dot * scale;
                    max = Math.Max(max, scores[j - start]);
                }
                Array.Clear(acc);
                if (!double.IsNegativeInfinity(max))   // a padded query row with no visible key keeps a finite zero row
                {
                    double sum = 0;
                    for (var j = 0; j < scores.Length; j++)
                    {
                        scores[j] = Math.Exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (var j = start; j < end; j++)
                    {
                        if (!m[j])
                        {
                            continue;
                        }
                        var p = scores[j - start] / sum;
                        var vj = v.AsSpan((j * nkv + kvh) * d, d);
                        for (var e = 0; e < d; e++)
                        {
                            acc[e] += p * vj[e];
                        }
                    }
                }
                var dst = attn.AsSpan((i * nh + hh) * d, d);
                for (var e = 0; e < d; e++)
                {
                    dst[e] = (float)acc[e];
                }
            }
        });
        hook?.Invoke($"layer.{layer}.attn_out", attn, s, nh * d);
        Linear.Forward(attn, s, w.Wo, output, parallel);
        hook?.Invoke($"layer.{layer}.attn_proj", output[..(s * h)], s, h);
    }
}
