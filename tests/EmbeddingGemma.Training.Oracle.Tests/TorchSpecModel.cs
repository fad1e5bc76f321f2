using EmbeddingGemma.Model;
using EmbeddingGemma.Training.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace EmbeddingGemma.Training.Oracle.Tests;

/// <summary>
/// EmbeddingGemma's sentence-transformers pipeline written from the spec (../shared/docs/embeddinggemma-spec.md §2-§3)
/// in TorchSharp fp64, differentiated by libtorch's autograd: nothing here calls the project's forward or backward.
/// Token embedding × (float)√d; per layer RMSNorm(1+w) → q/k/v → per-head q/k RMSNorm → NeoX RoPE (θ per layer) →
/// softmax(c·q·kᵀ) over |i−j| ≤ radius (sliding) or all keys (global), query head h on KV head h/(H/KV) → o_proj →
/// post-attention norm + residual → pre-FFN norm → gelu_tanh(gate)⊙up → down → post-FFN norm + residual; final norm,
/// mean over all tokens, Dense ×2 (no bias), z/max(‖z‖, 1e-12). Parameters are leaf tensors in the order and with the
/// names of <see cref="ReferenceParameters.Tensors"/>.
/// </summary>
internal sealed class TorchSpecModel : IDisposable
{
    private readonly GemmaConfig _c;
    private readonly int _denseCount;

    public TorchSpecModel(ReferenceParameters p)
    {
        _c = p.Config;
        _denseCount = p.Dense.Count;
        Names = p.Tensors.Select(t => t.Name).ToArray();
        Parameters = p.Tensors.Select(t => new TorchSharp.Modules.Parameter(
            torch.tensor(t.Values, t.Shape.Select(d => (long)d).ToArray(), dtype: ScalarType.Float64))).ToArray();
    }

    public string[] Names { get; }

    public TorchSharp.Modules.Parameter[] Parameters { get; }

    private Tensor P(int i) => Parameters[i];

    private Tensor Rms(Tensor x, Tensor w) =>
        x * torch.rsqrt(x.pow(2).mean([-1L], keepdim: true) + _c.RmsNormEps) * (w + 1.0);

    private Tensor Rope(Tensor x, double theta)
    {
        // x [S, heads, d]; angle(p, i) = p·θ^(-2i/d) in double
        long s = x.shape[0], d = x.shape[2], half = d / 2;
        var angles = new double[s * half];
        for (var pos = 0; pos < s; pos++)
        {
            for (var i = 0; i < half; i++)
            {
                angles[pos * half + i] = pos * Math.Pow(theta, -2.0 * i / d);
            }
        }
        using var a = torch.tensor(angles, [s, 1, half], dtype: ScalarType.Float64);
        var cos = a.cos();
        var sin = a.sin();
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1);
    }

    /// <summary>The unit-vector embedding of one sequence (ids used as given).</summary>
    public Tensor Forward(int[] ids)
    {
        var c = _c;
        long s = ids.Length, hd = c.HeadDim, heads = c.NumAttentionHeads, kv = c.NumKeyValueHeads;
        var group = heads / kv;
        using var idx = torch.tensor(ids.Select(i => (long)i).ToArray(), dtype: ScalarType.Int64);
        var h = P(0).index_select(0, idx) * (double)(float)Math.Sqrt(c.HiddenSize);
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            var b = 1 + 13 * l;
            var x = Rms(h, P(b));
            var q = x.matmul(P(b + 1).t()).view(s, heads, hd);
            var k = x.matmul(P(b + 2).t()).view(s, kv, hd);
            var v = x.matmul(P(b + 3).t()).view(s, kv, hd);
            var theta = c.IsSlidingLayer(l) ? c.RopeLocalBaseFreq : c.RopeTheta;
            q = Rope(Rms(q, P(b + 4)), theta);
            k = Rope(Rms(k, P(b + 5)), theta);
            Tensor? mask = null;
            if (c.IsSlidingLayer(l))
            {
                var m = new bool[s * s];
                for (var i = 0; i < s; i++)
                {
                    for (var j = 0; j < s; j++)
                    {
                        m[i * s + j] = Math.Abs(i - j) > c.SlidingWindow / 2;
                    }
                }
                mask = torch.tensor(m, [s, s]);
            }
            var outs = new List<Tensor>();
            for (var head = 0L; head < heads; head++)
            {
                var scores = q.select(1, head).matmul(k.select(1, head / group).t()) * (1.0 / Math.Sqrt(c.QueryPreAttnScalar));
                if (mask is not null)
                {
                    scores = scores.masked_fill(mask, double.NegativeInfinity);
                }
                outs.Add(torch.softmax(scores, -1).matmul(v.select(1, head / group)));
            }
            var o = torch.stack(outs, 1).reshape(s, heads * hd);
            h = h + Rms(o.matmul(P(b + 6).t()), P(b + 7));
            var x2 = Rms(h, P(b + 8));
            var g = x2.matmul(P(b + 9).t());
            var u = x2.matmul(P(b + 10).t());
            var gelu = 0.5 * g * (1.0 + torch.tanh(Math.Sqrt(2.0 / Math.PI) * (g + 0.044715 * g.pow(3))));
            h = h + Rms((gelu * u).matmul(P(b + 11).t()), P(b + 12));
        }
        var fin = 1 + 13 * c.NumHiddenLayers;
        var z = Rms(h, P(fin)).mean([0L]);
        for (var i = 0; i < _denseCount; i++)
        {
            z = P(fin + 1 + i).matmul(z);
        }
        return z / z.pow(2).sum().sqrt().clamp_min(1e-12);
    }

    /// <summary>Row-wise x / max(‖x‖, 1e-12) (F.normalize).</summary>
    public static Tensor Normalize(Tensor x) => x / x.pow(2).sum([1L], keepdim: true).sqrt().clamp_min(1e-12);

    /// <summary>
    /// sentence-transformers MatryoshkaLoss(MultipleNegativesRankingLoss(scale 20)) on columns [anchors, positives,
    /// negatives…] of [B, d]: Σ_k mean_i(logsumexp_j S_ij − S_ii), S = 20·norm(A[:, :k])·norm(C[:, :k])ᵀ.
    /// </summary>
    public static Tensor MatryoshkaMnrl(IReadOnlyList<Tensor> columns, IReadOnlyList<int> dims)
    {
        Tensor? total = null;
        foreach (var k in dims)
        {
            var a = Normalize(columns[0].narrow(1, 0, k));
            var cands = torch.cat(columns.Skip(1).Select(col => Normalize(col.narrow(1, 0, k))).ToArray(), 0);
            var scores = 20.0 * a.matmul(cands.t());
            var loss = (torch.logsumexp(scores, 1) - scores.diagonal()).mean();
            total = total is null ? loss : total + loss;
        }
        return total!;
    }

    public void Dispose()
    {
        foreach (var p in Parameters)
        {
            p.Dispose();
        }
    }
}
