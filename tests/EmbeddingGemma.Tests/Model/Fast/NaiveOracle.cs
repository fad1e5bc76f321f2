using EmbeddingGemma.Model.Fast;

namespace EmbeddingGemma.Tests.Model.Fast;

/// <summary>
/// A test-only oracle: spec §2 written as plain double-precision loops over the dequantized weights of
/// <see cref="FastEncoderWeights"/> (masks as allowed(i, j) ⇔ |i − j| ≤ radius, NeoX RoPE, (1 + w) gains, GELU-tanh).
/// </summary>
internal static class NaiveOracle
{
    public static double[] Pooled(FastEncoderWeights w, ReadOnlySpan<int> ids)
    {
        var s = w.Shape;
        int h = s.HiddenSize, hd = s.HeadDim, nh = s.Heads, nkv = s.KvHeads, f = s.IntermediateSize, n = ids.Length;
        var x = new double[n, h];
        var row = new float[h];
        for (var t = 0; t < n; t++)
        {
            w.EmbeddingRow(ids[t], row);
            for (var i = 0; i < h; i++)
            {
                x[t, i] = row[i] * (double)s.EmbedScale;
            }
        }
        for (var l = 0; l < w.Layers.Count; l++)
        {
            var lw = w.Layers[l];
            double[] wq = D(lw.Wq.Dequantize()), wk = D(lw.Wk.Dequantize()), wv = D(lw.Wv.Dequantize()), wo = D(lw.Wo.Dequantize());
            double[] wg = D(lw.WGate.Dequantize()), wu = D(lw.WUp.Dequantize()), wd = D(lw.WDown.Dequantize());
            var a = Norm(x, lw.AttnNormGain, s.Eps);
            var q = Lin(a, wq, nh * hd);
            var k = Lin(a, wk, nkv * hd);
            var v = Lin(a, wv, nkv * hd);
            for (var t = 0; t < n; t++)
            {
                for (var hh = 0; hh < nh; hh++)
                {
                    HeadNormRope(q, t, hh * hd, hd, lw.QNormGain, s.Eps, s.LayerRopeTheta[l]);
                }
                for (var hh = 0; hh < nkv; hh++)
                {
                    HeadNormRope(k, t, hh * hd, hd, lw.KNormGain, s.Eps, s.LayerRopeTheta[l]);
                }
            }
            var att = new double[n, nh * hd];
            var radius = s.LayerRadius[l];
            for (var hh = 0; hh < nh; hh++)
            {
                var kv = hh / (nh / nkv);
                for (var i = 0; i < n; i++)
                {
                    var sc = new double[n];
                    var max = double.NegativeInfinity;
                    for (var j = 0; j < n; j++)
                    {
                        if (radius >= 0 && Math.Abs(i - j) > radius)
                        {
                            sc[j] = double.NegativeInfinity;
                            continue;
                        }
                        double d = 0;
                        for (var c = 0; c < hd; c++)
                        {
                            d += q[i, hh * hd + c] * k[j, kv * hd + c];
                        }
                        sc[j] = d * s.AttentionScale;
                        max = Math.Max(max, sc[j]);
                    }
                    double sum = 0;
                    for (var j = 0; j < n; j++)
                    {
                        sc[j] = Math.Exp(sc[j] - max);
                        sum += sc[j];
                    }
                    for (var c = 0; c < hd; c++)
                    {
                        double acc = 0;
                        for (var j = 0; j < n; j++)
                        {
                            acc += sc[j] / sum * v[j, kv * hd + c];
                        }
                        att[i, hh * hd + c] = acc;
                    }
                }
            }
            AddInto(x, Norm(Lin(att, wo, h), lw.PostAttnNormGain, s.Eps));
            var b = Norm(x, lw.PreFfnNormGain, s.Eps);
            var g = Lin(b, wg, f);
            var u = Lin(b, wu, f);
            for (var t = 0; t < n; t++)
            {
                for (var i = 0; i < f; i++)
                {
                    var z = g[t, i];
                    g[t, i] = 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z))) * u[t, i];
                }
            }
            AddInto(x, Norm(Lin(g, wd, h), lw.PostFfnNormGain, s.Eps));
        }
        var fin = Norm(x, w.FinalNormGain, s.Eps);
        var pooled = new double[h];
        for (var t = 0; t < n; t++)
        {
            for (var i = 0; i < h; i++)
            {
                pooled[i] += fin[t, i] / n;
            }
        }
        return pooled;
    }

    private static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    private static double[,] Norm(double[,] x, float[] gain, double eps)
    {
        int n = x.GetLength(0), h = x.GetLength(1);
        var y = new double[n, h];
        for (var t = 0; t < n; t++)
        {
            double ss = 0;
            for (var i = 0; i < h; i++)
            {
                ss += x[t, i] * x[t, i];
            }
            var r = 1 / Math.Sqrt(ss / h + eps);
            for (var i = 0; i < h; i++)
            {
                y[t, i] = x[t, i] * r * gain[i];
            }
        }
        return y;
    }

    private static double[,] Lin(double[,] x, double[] w, int outF)
    {
        int n = x.GetLength(0), inF = x.GetLength(1);
        var y = new double[n, outF];
        for (var t = 0; t < n; t++)
        {
            for (var o = 0; o < outF; o++)
            {
                double acc = 0;
                for (var i = 0; i < inF; i++)
                {
                    acc += x[t, i] * w[o * inF + i];
                }
                y[t, o] = acc;
            }
        }
        return y;
    }

    private static void AddInto(double[,] x, double[,] y)
    {
        for (var t = 0; t < x.GetLength(0); t++)
        {
            for (var i = 0; i < x.GetLength(1); i++)
            {
                x[t, i] += y[t, i];
            }
        }
    }

    private static void HeadNormRope(double[,] m, int t, int off, int hd, float[] gain, double eps, double theta)
    {
        double ss = 0;
        for (var c = 0; c < hd; c++)
        {
            ss += m[t, off + c] * m[t, off + c];
        }
        var r = 1 / Math.Sqrt(ss / hd + eps);
        for (var c = 0; c < hd; c++)
        {
            m[t, off + c] *= r * gain[c];
        }
        var half = hd / 2;
        for (var i = 0; i < half; i++)
        {
            var ang = t * Math.Pow(theta, -2.0 * i / hd);
            double a = m[t, off + i], b = m[t, off + i + half];
            m[t, off + i] = a * Math.Cos(ang) - b * Math.Sin(ang);
            m[t, off + i + half] = b * Math.Cos(ang) + a * Math.Sin(ang);
        }
    }
}
