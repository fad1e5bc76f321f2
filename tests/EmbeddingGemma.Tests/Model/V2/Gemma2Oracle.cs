using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.V2;

namespace EmbeddingGemma.Tests.Model.V2;

/// <summary>Bug variants of spec2 §8 the oracle can reproduce, to show that the tests would catch them.</summary>
internal sealed record Gemma2Bugs
{
    public bool OnePlusW { get; init; }
    public bool NoVNorm { get; init; }
    public bool HalvedWindow { get; init; }
    public bool WindowOffByOne { get; init; }
    public bool ScaleInvSqrtHeadDim { get; init; }
    public bool ScalarOnBranchOnly { get; init; }
    public bool PleGateOnLayerInput { get; init; }
    public bool NoLayerScalar { get; init; }
    public bool NoPle { get; init; }
    public bool PadsInMean { get; init; }
}

/// <summary>
/// A second, independent EmbeddingGemma 2 forward pass written from spec2 §2 alone: everything in double, straight
/// from the checkpoint's float arrays (not through <see cref="WeightFiles"/> or the library's components), one token
/// vector at a time. Used as the oracle of <see cref="ReferenceEncoder2"/> (spec2 §9 (a)).
/// </summary>
internal static class Gemma2Oracle
{
    /// <summary>The L2-normalized embedding of <paramref name="ids"/>; <paramref name="realLength"/> &lt; ids.Length marks right padding.</summary>
    public static double[] Encode(ModelCheckpoint2 ck, int[] ids, Gemma2Bugs? bugs = null, int? realLength = null)
    {
        bugs ??= new Gemma2Bugs();
        var c = ck.Config;
        var t = ck.Tensors.ToDictionary(x => x.Name, x => x.Values, StringComparer.Ordinal);
        int s = ids.Length, d = c.HiddenSize, p = c.HiddenSizePerLayerInput, nl = c.NumHiddenLayers, nh = c.NumAttentionHeads;
        var real = realLength ?? s;
        var eps = c.RmsNormEps;
        double[] Norm(double[] x, float[]? w)
        {
            var ss = x.Sum(v => v * v) / x.Length;
            var inv = 1.0 / Math.Sqrt(ss + eps);
            return x.Select((v, i) => v * inv * (w is null ? 1.0 : bugs.OnePlusW ? 1.0 + w[i] : w[i])).ToArray();
        }
        double[] MatVec(string name, double[] x, int rows)
        {
            var w = t[name];
            var y = new double[rows];
            for (var o = 0; o < rows; o++)
            {
                double acc = 0;
                for (var i = 0; i < x.Length; i++)
                {
                    acc += w[(long)o * x.Length + i] * x[i];
                }
                y[o] = acc;
            }
            return y;
        }
        double Gelu(double x) => 0.5 * x * (1.0 + Math.Tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));
        double[] Rope(double[] x, int pos, double theta)
        {
            var n = x.Length;
            var y = (double[])x.Clone();
            for (var i = 0; i < n / 2; i++)
            {
                var a = pos * Math.Pow(theta, -2.0 * i / n);
                y[i] = x[i] * Math.Cos(a) - x[i + n / 2] * Math.Sin(a);
                y[i + n / 2] = x[i + n / 2] * Math.Cos(a) + x[i] * Math.Sin(a);
            }
            return y;
        }
        string L(int l, string suffix) => $"layers.{l}.{suffix}";

        var emb = t["embed_tokens.weight"];
        var h = new double[s][];
        for (var i = 0; i < s; i++)
        {
            var id = ids[i] == c.ImageTokenId || ids[i] == c.AudioTokenId || ids[i] == c.VideoTokenId ? c.PadTokenId : ids[i];
            h[i] = Enumerable.Range(0, d).Select(j => emb[(long)id * d + j] * (double)(float)Math.Sqrt(d)).ToArray();
        }
        // PLE from the scaled embeddings
        var ple = new double[s][][];
        for (var i = 0; i < s; i++)
        {
            var z = MatVec("ple.per_layer_model_projection.weight", h[i], nl * p).Select(v => v / Math.Sqrt(d)).ToArray();
            ple[i] = Enumerable.Range(0, nl).Select(l => Norm(z[(l * p)..((l + 1) * p)], t["ple.per_layer_projection_norm.weight"])).ToArray();
        }
        for (var l = 0; l < nl; l++)
        {
            var sliding = c.IsSlidingLayer(l);
            int hd = c.LayerHeadDim(l), kv = c.LayerKeyValueHeads(l);
            var theta = c.LayerRopeTheta(l);
            var layerInput = h.Select(r => (double[])r.Clone()).ToArray();
            var q = new double[s][][];
            var k = new double[s][][];
            var v = new double[s][][];
            for (var i = 0; i < s; i++)
            {
                var x = Norm(h[i], t[L(l, "input_layernorm.weight")]);
                var qa = MatVec(L(l, "self_attn.q_proj.weight"), x, nh * hd);
                var ka = MatVec(L(l, "self_attn.k_proj.weight"), x, kv * hd);
                var va = MatVec(L(l, "self_attn.v_proj.weight"), x, kv * hd);
                q[i] = Enumerable.Range(0, nh).Select(j => Rope(Norm(qa[(j * hd)..((j + 1) * hd)], t[L(l, "self_attn.q_norm.weight")]), i, theta)).ToArray();
                k[i] = Enumerable.Range(0, kv).Select(j => Rope(Norm(ka[(j * hd)..((j + 1) * hd)], t[L(l, "self_attn.k_norm.weight")]), i, theta)).ToArray();
                v[i] = Enumerable.Range(0, kv).Select(j => bugs.NoVNorm ? va[(j * hd)..((j + 1) * hd)] : Norm(va[(j * hd)..((j + 1) * hd)], null)).ToArray();
            }
            var radius = bugs.HalvedWindow ? c.SlidingWindow / 2 : bugs.WindowOffByOne ? c.SlidingWindow - 1 : c.SlidingWindow;
            var scale = bugs.ScaleInvSqrtHeadDim ? 1.0 / Math.Sqrt(hd) : 1.0;
            for (var i = 0; i < s; i++)
            {
                var concat = new double[nh * hd];
                for (var j = 0; j < nh; j++)
                {
                    var g = j / (nh / kv);
                    var allowed = Enumerable.Range(0, s).Where(jj => (bugs.PadsInMean || jj < real) && (!sliding || Math.Abs(i - jj) <= radius)).ToArray();
                    if (allowed.Length == 0)
                    {
                        continue;
                    }
                    var sc = allowed.Select(jj => q[i][j].Zip(k[jj][g], (a, b) => a * b).Sum() * scale).ToArray();
                    var max = sc.Max();
                    var ex = sc.Select(x => Math.Exp(x - max)).ToArray();
                    var sum = ex.Sum();
                    for (var a = 0; a < allowed.Length; a++)
                    {
                        for (var e = 0; e < hd; e++)
                        {
                            concat[j * hd + e] += ex[a] / sum * v[allowed[a]][g][e];
                        }
                    }
                }
                var o = Norm(MatVec(L(l, "self_attn.o_proj.weight"), concat, d), t[L(l, "post_attention_layernorm.weight")]);
                h[i] = h[i].Zip(o, (a, b) => a + b).ToArray();
            }
            for (var i = 0; i < s; i++)
            {
                var x = Norm(h[i], t[L(l, "pre_feedforward_layernorm.weight")]);
                var gate = MatVec(L(l, "mlp.gate_proj.weight"), x, c.IntermediateSize);
                var up = MatVec(L(l, "mlp.up_proj.weight"), x, c.IntermediateSize);
                var f = Norm(MatVec(L(l, "mlp.down_proj.weight"), gate.Zip(up, (a, b) => Gelu(a) * b).ToArray(), d), t[L(l, "post_feedforward_layernorm.weight")]);
                h[i] = h[i].Zip(f, (a, b) => a + b).ToArray();
                var scalar = bugs.NoLayerScalar ? 1.0 : t[L(l, "layer_scalar")][0];
                if (!bugs.NoPle)
                {
                    var gateInput = bugs.PleGateOnLayerInput ? layerInput[i] : h[i];
                    var gg = MatVec(L(l, "ple_block.per_layer_input_gate.weight"), gateInput, p).Select((a, e) => Gelu(a) * ple[i][l][e]).ToArray();
                    var u = Norm(MatVec(L(l, "ple_block.per_layer_projection.weight"), gg, d), t[L(l, "ple_block.post_per_layer_input_norm.weight")]);
                    h[i] = bugs.ScalarOnBranchOnly ? h[i].Zip(u, (a, b) => a + b * scalar).ToArray() : h[i].Zip(u, (a, b) => (a + b) * scalar).ToArray();
                }
                else if (!bugs.ScalarOnBranchOnly)
                {
                    h[i] = h[i].Select(a => a * scalar).ToArray();
                }
            }
        }
        var pooled = new double[c.EmbeddingDim];
        var count = bugs.PadsInMean ? s : real;
        for (var i = 0; i < count; i++)
        {
            var y = MatVec("embedding_projection.weight", Norm(h[i], t["norm.weight"]), c.EmbeddingDim);
            for (var e = 0; e < y.Length; e++)
            {
                pooled[e] += y[e] / count;
            }
        }
        var norm = Math.Sqrt(pooled.Sum(x => x * x));
        return pooled.Select(x => x / Math.Max(norm, 1e-12)).ToArray();
    }

    public static double Cosine(IReadOnlyList<double> a, IReadOnlyList<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Count; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    public static double Cosine(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Count; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    public static double MaxAbs(IReadOnlyList<double> a, IReadOnlyList<float> b) => a.Select((x, i) => Math.Abs(x - b[i])).Max();
}
