using EmbeddingGemma.Model;
using EmbeddingGemma.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EmbeddingGemma.TrainBench;

/// <summary>
/// The same training step in TorchSharp/libtorch fp32, batched the usual PyTorch way ([B, S, ·] tensors, eager
/// autograd, torch.optim.AdamW): EmbeddingGemma's forward from the spec (as the oracle tests' TorchSpecModel, batched;
/// all sequences of a step have the same length, so no padding), MultipleNegativesRankingLoss (scale 20) of the
/// first half of the batch against the second, backward, AdamW (weight decay 0.01, none on norm weights). The
/// embedding table is a frozen tensor unless the ours side trains it.
/// </summary>
internal sealed class TorchStep : IDisposable
{
    private readonly GemmaConfig _c;
    private readonly Tensor[] _p;
    private readonly int _denseCount;
    private readonly torch.optim.Optimizer _decay;
    private readonly torch.optim.Optimizer _noDecay;

    public TorchStep(ITrainableEncoder source, int denseCount, double lr)
    {
        _c = source.Config;
        _denseCount = denseCount;
        _p = source.Tensors.Select(t =>
        {
            var x = torch.tensor(t.Values, t.Shape.Select(d => (long)d).ToArray(), dtype: ScalarType.Float32);
            return t.Trainable ? (Tensor)new TorchSharp.Modules.Parameter(x) : x;
        }).ToArray();
        var trainable = source.Tensors.Select((t, i) => (t, i)).Where(x => x.t.Trainable).ToArray();
        _decay = torch.optim.AdamW(trainable.Where(x => !x.t.IsNorm).Select(x => (TorchSharp.Modules.Parameter)_p[x.i]), lr: lr, weight_decay: 0.01);
        _noDecay = torch.optim.AdamW(trainable.Where(x => x.t.IsNorm).Select(x => (TorchSharp.Modules.Parameter)_p[x.i]), lr: lr, weight_decay: 0.0);
    }

    private Tensor Rms(Tensor x, Tensor w) => x * torch.rsqrt(x.pow(2).mean([-1L], keepdim: true) + _c.RmsNormEps) * (w + 1.0f);

    private static Tensor Rope(Tensor x, Tensor cos, Tensor sin)
    {
        var half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1);
    }

    /// <summary>One step on <paramref name="ids"/> (B sequences of S tokens); returns the loss.</summary>
    public double Run(int[][] ids)
    {
        using var scope = torch.NewDisposeScope();
        var c = _c;
        long b = ids.Length, s = ids[0].Length, d = c.HiddenSize, hd = c.HeadDim, heads = c.NumAttentionHeads, kv = c.NumKeyValueHeads;
        var group = heads / kv;
        var flat = torch.tensor(ids.SelectMany(x => x).Select(i => (long)i).ToArray(), dtype: ScalarType.Int64);
        var h = _p[0].index_select(0, flat).view(b, s, d) * (float)Math.Sqrt(d);
        var far = new bool[s * s];
        for (var i = 0; i < s; i++)
        {
            for (var j = 0; j < s; j++)
            {
                far[i * s + j] = Math.Abs(i - j) > c.SlidingWindowRadius;
            }
        }
        var mask = torch.tensor(far, [s, s]);
        var ropes = new Dictionary<double, (Tensor Cos, Tensor Sin)>();
        foreach (var theta in new[] { c.RopeLocalBaseFreq, c.RopeTheta })
        {
            var half = hd / 2;
            var a = new float[s * half];
            for (var p = 0; p < s; p++)
            {
                for (var i = 0; i < half; i++)
                {
                    a[p * half + i] = (float)(p * Math.Pow(theta, -2.0 * i / hd));
                }
            }
            var at = torch.tensor(a, [1, s, 1, half]);
            ropes[theta] = (at.cos(), at.sin());
        }
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            var o0 = 1 + 13 * l;
            var x = Rms(h, _p[o0]);
            var (cos, sin) = ropes[c.LayerRopeTheta(l)];
            var q = Rope(Rms(x.matmul(_p[o0 + 1].t()).view(b, s, heads, hd), _p[o0 + 4]), cos, sin).permute(0, 2, 1, 3);
            var k = Rope(Rms(x.matmul(_p[o0 + 2].t()).view(b, s, kv, hd), _p[o0 + 5]), cos, sin).permute(0, 2, 1, 3);
            var v = x.matmul(_p[o0 + 3].t()).view(b, s, kv, hd).permute(0, 2, 1, 3);
            if (group > 1)
            {
                k = k.repeat_interleave(group, 1);
                v = v.repeat_interleave(group, 1);
            }
            var scores = q.matmul(k.transpose(-1, -2)) * (float)c.AttentionScale;
            if (c.IsSlidingLayer(l))
            {
                scores = scores.masked_fill(mask, float.NegativeInfinity);
            }
            var o = torch.softmax(scores, -1).matmul(v).permute(0, 2, 1, 3).reshape(b, s, heads * hd);
            h = h + Rms(o.matmul(_p[o0 + 6].t()), _p[o0 + 7]);
            var x2 = Rms(h, _p[o0 + 8]);
            var g = x2.matmul(_p[o0 + 9].t());
            var u = x2.matmul(_p[o0 + 10].t());
            var gelu = 0.5f * g * (1.0f + torch.tanh((float)Math.Sqrt(2.0 / Math.PI) * (g + 0.044715f * g.pow(3))));
            h = h + Rms((gelu * u).matmul(_p[o0 + 11].t()), _p[o0 + 12]);
        }
        var fin = 1 + 13 * c.NumHiddenLayers;
        var z = Rms(h, _p[fin]).mean([1L]);
        for (var i = 0; i < _denseCount; i++)
        {
            z = z.matmul(_p[fin + 1 + i].t());
        }
        var y = z / z.pow(2).sum([1L], keepdim: true).sqrt().clamp_min(1e-12f);
        var half2 = b / 2;
        var scoresMnrl = 20.0f * y.narrow(0, 0, half2).matmul(y.narrow(0, half2, half2).t());
        var loss = (torch.logsumexp(scoresMnrl, 1) - scoresMnrl.diagonal()).mean();
        _decay.zero_grad();
        _noDecay.zero_grad();
        loss.backward();
        _decay.step();
        _noDecay.step();
        return loss.item<float>();
    }

    public void Dispose()
    {
        _decay.Dispose();
        _noDecay.Dispose();
        foreach (var p in _p)
        {
            p.Dispose();
        }
    }
}
