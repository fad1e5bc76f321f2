namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// Op 6, bidirectional grouped-query attention with the symmetric sliding window (spec §2.4; HF PR #40700, llama.cpp
/// <c>LLAMA_SWA_TYPE_SYMMETRIC</c>, TEI): query i sees key j iff |i − j| ≤ radius on sliding layers, every key on
/// global layers; <c>s_ij = c·q_i·k_j</c> with c = query_pre_attn_scalar^-½; <c>P = softmax_j(s)</c>; <c>o_i = Σ_j P_ij v_j</c>.
/// Query head h uses KV head h / (heads / kvHeads) (HF <c>repeat_kv</c>). No softcap, no causal mask, no padding.
/// The forward keeps only the log-sum-exp L_i per (token, head); the backward recomputes <c>P_ij = exp(s_ij − L_i)</c>
/// (FlashAttention-2, Dao 2023, Algorithm 2): <c>δ_i = do_i·o_i</c>, <c>dP_ij = do_i·v_j</c>, <c>ds_ij = P_ij(dP_ij − δ_i)</c>,
/// <c>dq_i = c Σ_j ds_ij k_j</c>, <c>dk_j += c Σ_i ds_ij q_i</c>, <c>dv_j += Σ_i P_ij do_i</c>; dk and dv sum over the
/// query heads that share the KV head. The attention matrix is never stored.
/// </summary>
public static class Attention
{
    /// <summary>The visible key range [start, end) of query i (the core's <c>AttentionMask.VisibleKeys</c>).</summary>
    public static (int Start, int End) VisibleKeys(int i, int length, bool sliding, int radius) =>
        sliding ? (Math.Max(0, i - radius), Math.Min(length, i + radius + 1)) : (0, length);

    /// <summary>q, o: [S, heads, d]; k, v: [S, kvHeads, d]; lse: [S, heads].</summary>
    public static void Forward(ReadOnlySpan<double> q, ReadOnlySpan<double> k, ReadOnlySpan<double> v, int s, int heads, int kvHeads, int d,
        bool sliding, int radius, double scale, Span<double> o, Span<double> lse)
    {
        var group = heads / kvHeads;
        var scores = new double[s];
        for (var i = 0; i < s; i++)
        {
            var (start, end) = VisibleKeys(i, s, sliding, radius);
            for (var h = 0; h < heads; h++)
            {
                var kv = h / group;
                var qi = q.Slice((i * heads + h) * d, d);
                var max = double.NegativeInfinity;
                for (var j = start; j < end; j++)
                {
                    scores[j] = scale * Dot(qi, k.Slice((j * kvHeads + kv) * d, d));
                    max = Math.Max(max, scores[j]);
                }
                double sum = 0;
                for (var j = start; j < end; j++)
                {
                    sum += Math.Exp(scores[j] - max);
                }
                var l = max + Math.Log(sum);
                lse[i * heads + h] = l;
                var oi = o.Slice((i * heads + h) * d, d);
                oi.Clear();
                for (var j = start; j < end; j++)
                {
                    var p = Math.Exp(scores[j] - l);
                    var vj = v.Slice((j * kvHeads + kv) * d, d);
                    for (var c = 0; c < d; c++)
                    {
                        oi[c] += p * vj[c];
                    }
                }
            }
        }
    }

    /// <summary>Adds the gradients of q, k and v to <paramref name="dq"/>, <paramref name="dk"/>, <paramref name="dv"/>.</summary>
    public static void Backward(ReadOnlySpan<double> dOut, ReadOnlySpan<double> q, ReadOnlySpan<double> k, ReadOnlySpan<double> v,
        ReadOnlySpan<double> o, ReadOnlySpan<double> lse, int s, int heads, int kvHeads, int d, bool sliding, int radius, double scale,
        Span<double> dq, Span<double> dk, Span<double> dv)
    {
        var group = heads / kvHeads;
        for (var i = 0; i < s; i++)
        {
            var (start, end) = VisibleKeys(i, s, sliding, radius);
            for (var h = 0; h < heads; h++)
            {
                var kv = h / group;
                var qi = q.Slice((i * heads + h) * d, d);
                var doi = dOut.Slice((i * heads + h) * d, d);
                var dqi = dq.Slice((i * heads + h) * d, d);
                var delta = Dot(doi, o.Slice((i * heads + h) * d, d));
                var l = lse[i * heads + h];
                for (var j = start; j < end; j++)
                {
                    var kj = k.Slice((j * kvHeads + kv) * d, d);
                    var vj = v.Slice((j * kvHeads + kv) * d, d);
                    var p = Math.Exp(scale * Dot(qi, kj) - l);
                    var ds = p * (Dot(doi, vj) - delta);
                    var dkj = dk.Slice((j * kvHeads + kv) * d, d);
                    var dvj = dv.Slice((j * kvHeads + kv) * d, d);
                    for (var c = 0; c < d; c++)
                    {
                        dqi[c] += scale * ds * kj[c];
                        dkj[c] += scale * ds * qi[c];
                        dvj[c] += p * doi[c];
                    }
                }
            }
        }
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double acc = 0;
        for (var i = 0; i < a.Length; i++)
        {
            acc += a[i] * b[i];
        }
        return acc;
    }
}
