namespace EmbeddingGemma.Model;

/// <summary>
/// Self-attention of one layer (HF Gemma3Attention, eager path): q/k/v projections, per-head RMSNorm of q and k
/// (weights shared by heads; v gets none), RoPE, scores (q.k) * query_pre_attn_scalar^-0.5 over the visible keys,
/// softmax, weighted sum of v; GQA: query head h uses KV head h / (heads / kv_heads); then o_proj. No softcapping.
/// </summary>
internal static class Attention
{
    public static void Forward(GemmaConfig c, LayerWeights w, int layer, ReadOnlySpan<float> x, int s, Span<float> output, IntermediateHook? hook, ParallelOptions parallel)
    {
        int h = c.HiddenSize, nh = c.NumAttentionHeads, nkv = c.NumKeyValueHeads, d = c.HeadDim;
        var q = new float[s * nh * d];
        var k = new float[s * nkv * d];
        var v = new float[s * nkv * d];
        Linear.Forward(x, s, w.Wq, q, parallel);
        Linear.Forward(x, s, w.Wk, k, parallel);
        Linear.Forward(x, s, w.Wv, v, parallel);
        hook?.Invoke($"layer.{layer}.q", q, s, nh * d);
        hook?.Invoke($"layer.{layer}.k", k, s, nkv * d);
        hook?.Invoke($"layer.{layer}.v", v, s, nkv * d);
        RmsNorm.Forward(q, w.QNormGain, c.RmsNormEps, q);
        RmsNorm.Forward(k, w.KNormGain, c.RmsNormEps, k);
        hook?.Invoke($"layer.{layer}.q_norm", q, s, nh * d);
        hook?.Invoke($"layer.{layer}.k_norm", k, s, nkv * d);
        var theta = c.LayerRopeTheta(layer);
        RotaryEmbedding.Apply(q, s, nh, d, theta);
        RotaryEmbedding.Apply(k, s, nkv, d, theta);
        hook?.Invoke($"layer.{layer}.q_rope", q, s, nh * d);
        hook?.Invoke($"layer.{layer}.k_rope", k, s, nkv * d);
        var sliding = c.IsSlidingLayer(layer);
        var radius = c.SlidingWindowRadius;
        var scale = c.AttentionScale;
        var group = nh / nkv;
        var attn = new float[s * nh * d];
        Parallel.For(0, s, parallel, i =>
        {
            var (start, end) = AttentionMask.VisibleKeys(i, s, sliding, radius);
            var scores = new double[end - start];
            var acc = new double[d];
            for (var hh = 0; hh < nh; hh++)
            {
                var kvh = hh / group;
                var qi = q.AsSpan((i * nh + hh) * d, d);
                var max = double.NegativeInfinity;
                for (var j = start; j < end; j++)
                {
                    var kj = k.AsSpan((j * nkv + kvh) * d, d);
                    double dot = 0;
                    for (var e = 0; e < d; e++)
                    {
                        dot += (double)qi[e] * kj[e];
                    }
                    scores[j - start] = dot * scale;
                    max = Math.Max(max, scores[j - start]);
                }
                double sum = 0;
                for (var j = 0; j < scores.Length; j++)
                {
                    scores[j] = Math.Exp(scores[j] - max);
                    sum += scores[j];
                }
                Array.Clear(acc);
                for (var j = start; j < end; j++)
                {
                    var p = scores[j - start] / sum;
                    var vj = v.AsSpan((j * nkv + kvh) * d, d);
                    for (var e = 0; e < d; e++)
                    {
                        acc[e] += p * vj[e];
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
