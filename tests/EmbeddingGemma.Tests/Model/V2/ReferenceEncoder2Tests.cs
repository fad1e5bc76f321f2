using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.V2;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Tests.Model.V2;

/// <summary>
/// EmbeddingGemma 2's reference encoder: one hand-computed check per difference from v1 (spec2 §0.2, §8), the
/// independent fp64 oracle on whole sequences (incl. past the window), folder vs GGUF, and padding.
/// </summary>
public sealed class ReferenceEncoder2Tests
{
    private const double OracleMinCosine = Tolerances.Gemma2Fp32MinCosine;
    private const double OracleMaxAbs = Tolerances.Gemma2Fp32MaxAbs;

    private static float[] Pooled(ISequenceEncoder enc, int[] ids)
    {
        var v = new float[enc.OutputDimension];
        enc.EncodePooled([ids], v);
        VectorOps.L2Normalize(v);
        return v;
    }

    private static Dictionary<string, float[]> Capture(EmbeddingGemma2Weights w, int[] ids, bool[]? mask = null)
    {
        var seen = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var enc = new ReferenceEncoder2(w, (n, v, _, _) => seen[n] = v.ToArray());
        var hidden = enc.EncodeTokens(ids, mask);
        enc.ProjectTokens(hidden, ids.Length);
        return seen;
    }

    private static int[] Ids(int n, int seed = 1)
    {
        var r = new Random(seed);
        var ids = new int[n];
        ids[0] = 2;
        for (var i = 1; i < n - 1; i++)
        {
            ids[i] = r.Next(5, 700);
        }
        ids[^1] = 1;
        return ids;
    }

    [Fact]
    public void PlainWNormMultipliesByWNotOnePlusW()
    {
        // RMSNorm(x; w) = x / sqrt(mean(x^2) + eps) * w (spec2 §2.1); v1 would use 1 + w.
        float[] x = [1, 2, 3, 4];
        float[] w = [0.5f, 1, 2, -1];
        var y = new float[4];
        RmsNorm2.Forward(x, w, 1e-6, y);
        var inv = 1 / Math.Sqrt(7.5 + 1e-6);
        Assert.Equal([(float)(0.5 * inv), (float)(2 * inv), (float)(6 * inv), (float)(-4 * inv)], y);
        RmsNorm2.ForwardUnweighted(x, 2, 1e-6, y);   // rows [1,2], [3,4]
        Assert.Equal([(float)(1 / Math.Sqrt(2.5 + 1e-6)), (float)(2 / Math.Sqrt(2.5 + 1e-6)), (float)(3 / Math.Sqrt(12.5 + 1e-6)), (float)(4 / Math.Sqrt(12.5 + 1e-6))], y);
    }

    [Fact]
    public void GainsAreLoadedPlainFromBothFormats()
    {
        var m = TinyModels2.Default;
        var stored = m.Checkpoint.Tensors.Single(t => t.Name == "layers.0.self_attn.k_norm.weight").Values;
        foreach (var path in new[] { m.Folder, m.GgufPath })
        {
            using var w = EmbeddingGemma2Weights.Load(path);
            Assert.Equal(stored, w.Layers[0].KNormGain);   // about 0.12 (released-like), not 1.12
            Assert.Equal(m.Checkpoint.Tensors.Single(t => t.Name == "layers.3.layer_scalar").Values[0], w.Layers[3].LayerScalar);
        }
    }

    [Fact]
    public void VIsNormalizedPerHeadWithoutWeight()
    {
        using var w = EmbeddingGemma2Weights.Load(TinyModels2.Default.Folder);
        Assert.DoesNotContain(w.Files.Tensors.Keys, k => k.Contains("v_norm", StringComparison.Ordinal));
        var ids = Ids(12);
        var seen = Capture(w, ids);
        foreach (var layer in new[] { 0, 5 })
        {
            int hd = w.Layers[layer].HeadDim, kv = w.Layers[layer].KeyValueHeads;
            var v = seen[$"layer.{layer}.v"];
            var vn = seen[$"layer.{layer}.v_norm"];
            Assert.Equal(ids.Length * kv * hd, v.Length);
            for (var row = 0; row < ids.Length * kv; row++)
            {
                var ss = 0.0;
                for (var e = 0; e < hd; e++)
                {
                    ss += (double)v[row * hd + e] * v[row * hd + e];
                }
                var inv = 1 / Math.Sqrt(ss / hd + 1e-6);
                for (var e = 0; e < hd; e++)
                {
                    Assert.Equal((float)(v[row * hd + e] * inv), vn[row * hd + e]);
                }
            }
        }
    }

    [Fact]
    public void HeadWidthAndKvHeadsArePerLayer()
    {
        var m = TinyModels2.Default;
        using var w = EmbeddingGemma2Weights.Load(m.GgufPath);
        var c = w.Config;
        Assert.Equal([true, true, true, true, true, false], Enumerable.Range(0, 6).Select(c.IsSlidingLayer));
        Assert.Equal((16, 2), (c.LayerHeadDim(0), c.LayerKeyValueHeads(0)));
        Assert.Equal((32, 1), (c.LayerHeadDim(5), c.LayerKeyValueHeads(5)));
        var ids = Ids(9);
        var seen = Capture(w, ids);
        Assert.Equal(9 * 4 * 16, seen["layer.0.q"].Length);
        Assert.Equal(9 * 2 * 16, seen["layer.0.k"].Length);
        Assert.Equal(9 * 4 * 32, seen["layer.5.q"].Length);
        Assert.Equal(9 * 1 * 32, seen["layer.5.k"].Length);
        Assert.Equal((4 * 32, 64), (w.Layers[5].Wq.Rows, w.Layers[5].Wq.Cols));
        Assert.Equal((64, 4 * 32), (w.Layers[5].Wo.Rows, w.Layers[5].Wo.Cols));
    }

    [Fact]
    public void SlidingWindowConfigValueIsTheInclusiveRadius()
    {
        // config sliding_window = 8 (GGUF stores 16): token j reaches token i through one sliding layer iff |i - j| <= 8,
        // inclusive at both edges (HF-MASK abs(q-kv) <= W); the full layer 5 sees everything.
        var m = TinyModels2.Default;
        using var w = EmbeddingGemma2Weights.Load(m.GgufPath);
        Assert.Equal(8, w.Config.SlidingWindow);
        var a = Ids(30);
        const int j = 14;
        var b = (int[])a.Clone();
        b[j] = a[j] + 1;
        var sa = Capture(w, a);
        var sb = Capture(w, b);
        var width = 4 * 16;
        for (var i = 0; i < 30; i++)
        {
            var changed = Enumerable.Range(0, width).Any(e => sa["layer.0.attn_out"][i * width + e] != sb["layer.0.attn_out"][i * width + e]);
            Assert.True(changed == (Math.Abs(i - j) <= 8), $"row {i}: changed {changed}, |i-j| = {Math.Abs(i - j)}");
        }
    }

    [Fact]
    public void WindowEqualsFullAttentionUpToRadiusPlusOneTokens()
    {
        // spec2 §9 (b): with radius 8 a sequence of <= 9 tokens sees everything on sliding layers too; 10 tokens do not.
        // Same weights (same shapes and seeds), same RoPE base on both layer types; only the layer types differ.
        static EmbeddingGemma2Config Shape(EmbeddingGemma2Config c, bool allFull) => c with
        {
            GlobalHeadDim = 16,
            NumGlobalKeyValueHeads = 2,
            RopeParametersByType = new Dictionary<string, RopeParameters> { ["sliding_attention"] = new() { RopeTheta = 10_000 }, ["full_attention"] = new() { RopeTheta = 10_000 } },
            LayerTypes = allFull ? Enumerable.Repeat("full_attention", 6).ToArray() : EmbeddingGemma2Config.DefaultLayerTypes(6),
        };
        using var sliding = EmbeddingGemma2Weights.Load(TinyModels2.Get("tiny2-same-sliding", c => Shape(c, false)).Folder);
        using var full = EmbeddingGemma2Weights.Load(TinyModels2.Get("tiny2-same-full", c => Shape(c, true)).Folder);
        foreach (var n in new[] { 2, 8, 9 })
        {
            var ids = Ids(n, n);
            Assert.Equal(Pooled(new ReferenceEncoder2(full), ids), Pooled(new ReferenceEncoder2(sliding), ids));
        }
        var ten = Ids(10, 10);
        Assert.NotEqual(Pooled(new ReferenceEncoder2(full), ten), Pooled(new ReferenceEncoder2(sliding), ten));
    }

    [Fact]
    public void PleIsProjectedFromTheScaledEmbeddingScaledAndNormalized()
    {
        var m = TinyModels2.Default;
        using var w = EmbeddingGemma2Weights.Load(m.Folder);
        var c = w.Config;
        Assert.NotEqual(c.HiddenSize, c.HiddenSizePerLayerInput);   // so hidden^-0.5 vs P^-0.5 would show (spec2 §11.1)
        var ids = Ids(5);
        var seen = Capture(w, ids);
        var x0 = seen["embed"];
        var wple = m.Checkpoint.Tensors.Single(t => t.Name == "ple.per_layer_model_projection.weight").Values;
        var gain = m.Checkpoint.Tensors.Single(t => t.Name == "ple.per_layer_projection_norm.weight").Values;
        int d = c.HiddenSize, p = c.HiddenSizePerLayerInput, nl = c.NumHiddenLayers;
        for (var t = 0; t < ids.Length; t++)
        {
            Assert.Equal(Math.Sqrt(d), x0[t * d] / (double)m.Checkpoint.Tensors.Single(x => x.Name == "embed_tokens.weight").Values[ids[t] * d], 4);
            for (var l = 0; l < nl; l++)
            {
                var z = new double[p];
                for (var i = 0; i < p; i++)
                {
                    double acc = 0;
                    for (var e = 0; e < d; e++)
                    {
                        acc += (double)wple[(l * p + i) * d + e] * x0[t * d + e];
                    }
                    z[i] = (float)acc * (1 / Math.Sqrt(d));
                }
                var inv = 1 / Math.Sqrt(z.Sum(v => v * v) / p + c.RmsNormEps);
                for (var i = 0; i < p; i++)
                {
                    Assert.Equal(z[i] * inv * gain[i], seen["ple"][t * nl * p + l * p + i], 4);
                }
            }
        }
    }

    [Fact]
    public void PleBlockGatesTheCurrentStateAndTheLayerScalarScalesTheWholeStream()
    {
        using var w = EmbeddingGemma2Weights.Load(TinyModels2.Default.Folder);
        var ids = Ids(7);
        var seen = Capture(w, ids);
        foreach (var l in new[] { 0, 2, 5 })
        {
            var before = seen[$"layer.{l}.ffn_residual"];
            var branch = seen[$"layer.{l}.ple_post_norm"];
            var after = seen[$"layer.{l}.out"];
            var scalar = (double)w.Layers[l].LayerScalar;
            Assert.InRange(scalar, 0.2, 1.0);
            for (var i = 0; i < after.Length; i++)
            {
                Assert.Equal((float)((before[i] + (double)branch[i]) * scalar), after[i]);
            }
        }
    }

    [Fact]
    public void ProjectionIsPerTokenBeforeTheMeanAndEqualsProjectingTheMean()
    {
        using var w = EmbeddingGemma2Weights.Load(TinyModels2.Default.Folder);
        var c = w.Config;
        var ids = Ids(11);
        var seen = Capture(w, ids);
        var projected = seen["projected"];
        Assert.Equal(ids.Length * c.EmbeddingDim, projected.Length);
        var enc = new ReferenceEncoder2(w);
        var pooled = new float[c.EmbeddingDim];
        enc.EncodePooled([ids], pooled);
        var meanOfNormed = new float[c.HiddenSize];
        ReferenceEncoder2.MeanPool(seen["final_norm"], ids.Length, c.HiddenSize, default, meanOfNormed);
        var projectedMean = enc.ProjectTokens(meanOfNormed, 1);
        for (var e = 0; e < c.EmbeddingDim; e++)
        {
            var mean = Enumerable.Range(0, ids.Length).Average(t => (double)projected[t * c.EmbeddingDim + e]);
            Assert.Equal(mean, pooled[e], 5);
            Assert.Equal(pooled[e], projectedMean[e], 4);   // no bias: project-then-mean == mean-then-project (spec2 §9 (b))
        }
    }

    [Fact]
    public void PaddingIsNeitherAttendedNorPooled()
    {
        using var w = EmbeddingGemma2Weights.Load(TinyModels2.Default.Folder);
        var enc = new ReferenceEncoder2(w);
        var a = Ids(6, 3);
        var b = Ids(21, 4);
        var batch = enc.EncodePaddedBatch([a, b]);
        var alone = new float[2 * enc.OutputDimension];
        enc.EncodePooled([a, b], alone);
        Assert.Equal(alone[..enc.OutputDimension], batch[0]);   // bit-identical: masked keys add exactly 0
        Assert.Equal(alone[enc.OutputDimension..], batch[1]);
        // pads counted as tokens would change the vector
        var padded = a.Concat(Enumerable.Repeat(0, 15)).ToArray();
        var withPads = new float[enc.OutputDimension];
        enc.EncodePooled([padded], withPads);
        Assert.True(Gemma2Oracle.Cosine(batch[0].Select(x => (double)x).ToArray(), withPads) < 0.9999);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(17)]
    [InlineData(18)]
    [InlineData(40)]
    public void MatchesTheIndependentFp64Oracle(int length)
    {
        var m = TinyModels2.Default;
        using var w = EmbeddingGemma2Weights.Load(m.Folder);
        var ids = Ids(length, length);
        var oracle = Gemma2Oracle.Encode(m.Checkpoint, ids);
        var ours = Pooled(new ReferenceEncoder2(w), ids);
        Assert.True(Gemma2Oracle.Cosine(oracle, ours) >= OracleMinCosine, $"cos {Gemma2Oracle.Cosine(oracle, ours)}");
        Assert.True(Gemma2Oracle.MaxAbs(oracle, ours) <= OracleMaxAbs, $"max abs {Gemma2Oracle.MaxAbs(oracle, ours)}");
    }

    [Fact]
    public void OracleAgreesWithPaddingAndMovesUnderEveryPitfall()
    {
        var m = TinyModels2.Default;
        var ids = Ids(30, 5);
        var good = Gemma2Oracle.Encode(m.Checkpoint, ids);
        var padded = Gemma2Oracle.Encode(m.Checkpoint, ids.Concat(new int[6]).ToArray(), realLength: ids.Length);
        Assert.True(Gemma2Oracle.Cosine(good, padded) > 1 - 1e-12);
        var bugs = new (string Name, Gemma2Bugs Bug)[]
        {
            ("(1+w) norms", new() { OnePlusW = true }),
            ("no V norm", new() { NoVNorm = true }),
            ("halved window", new() { HalvedWindow = true }),
            ("window radius - 1", new() { WindowOffByOne = true }),
            ("1/sqrt(hd) scale", new() { ScaleInvSqrtHeadDim = true }),
            ("layer scalar on the branch", new() { ScalarOnBranchOnly = true }),
            ("PLE gate on the layer input", new() { PleGateOnLayerInput = true }),
            ("no layer scalar", new() { NoLayerScalar = true }),
            ("no PLE", new() { NoPle = true }),
        };
        foreach (var (name, bug) in bugs)
        {
            var bad = Gemma2Oracle.Encode(m.Checkpoint, ids, bug);
            var cos = Gemma2Oracle.Cosine(good, bad);
            var maxAbs = good.Select((x, i) => Math.Abs(x - bad[i])).Max();
            Assert.True(maxAbs > Tolerances.Gemma2PitfallMinMaxAbs, $"{name}: cos {cos}, max abs {maxAbs}");
        }
    }

    [Fact]
    public void FolderAndGgufGiveIdenticalVectors()
    {
        var m = TinyModels2.Default;
        using var wf = EmbeddingGemma2Weights.Load(m.Folder);
        using var wg = EmbeddingGemma2Weights.Load(m.GgufPath);
        Assert.Equal(wf.Config.RmsNormEps, wg.Config.RmsNormEps);
        foreach (var n in new[] { 3, 25 })
        {
            var ids = Ids(n, n);
            Assert.Equal(Pooled(new ReferenceEncoder2(wf), ids), Pooled(new ReferenceEncoder2(wg), ids));   // tolerance 0
        }
    }

    [Fact]
    public void MediaPlaceholdersEmbedAsPad()
    {
        var m = TinyModels2.Get("tiny2-media", c => c with { ImageTokenId = 700, AudioTokenId = 701, VideoTokenId = 702 });
        using var w = EmbeddingGemma2Weights.Load(m.Folder);
        Assert.Equal(700, w.Config.ImageTokenId);   // round-trips through config.json
        var enc = new ReferenceEncoder2(w);
        int[] withImage = [2, 50, 700, 60, 701, 702, 1];
        int[] withPad = [2, 50, 0, 60, 0, 0, 1];
        Assert.Equal(Pooled(enc, withPad), Pooled(enc, withImage));
    }
}
