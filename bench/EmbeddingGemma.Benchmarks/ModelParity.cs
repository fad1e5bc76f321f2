using System.Diagnostics;
using System.Globalization;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace EmbeddingGemma.Benchmarks;

/// <summary>
/// `parity`: reference encoder vs llama.cpp (LLamaSharp CPU, F32 GGUF) on a random model of the given shape.
/// Usage: parity [--shape tiny|full] [--seed N] [--lengths 2,300,520] [--out DIR]. The full shape uses the real
/// 768/24-layer/window-512 shapes with the synthetic tokenizer's small vocabulary (ids are random anyway).
/// </summary>
internal static class ModelParity
{
    public static void Run(string[] args)
    {
        string Arg(string name, string def) => Array.IndexOf(args, name) is var i && i >= 0 && i + 1 < args.Length ? args[i + 1] : def;
        var shape = Arg("--shape", "full");
        var seed = int.Parse(Arg("--seed", "42"), CultureInfo.InvariantCulture);
        var lengths = Arg("--lengths", "2,17,300,520").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var dir = Arg("--out", Path.Combine(Path.GetTempPath(), "eg-parity"));
        Directory.CreateDirectory(dir);
        var sw = Stopwatch.StartNew();
        var ckpt = RandomModel.Create(shape, seed);
        var gguf = Path.Combine(dir, $"{shape}-{seed}.gguf");
        ckpt.WriteGguf(gguf);
        Console.WriteLine($"model {shape} seed {seed}: hidden {ckpt.Config.HiddenSize}, layers {ckpt.Config.NumHiddenLayers}, window {ckpt.Config.SlidingWindow}, vocab {ckpt.Config.VocabSize}; written in {sw.Elapsed.TotalSeconds:F1} s");
        var rng = new Random(seed);
        var seqs = lengths.Select(n => Enumerable.Range(0, n).Select(_ => rng.Next(ckpt.Config.VocabSize)).ToArray()).ToList();

        var n = (uint)seqs.Max(s => s.Length);
        var p = new ModelParams(gguf)
        {
            ContextSize = n, BatchSize = n, UBatchSize = n, Embeddings = true, PoolingType = LLamaPoolingType.Mean,
            GpuLayerCount = 0, FlashAttention = false, TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32,
        };
        var expected = new List<float[]>();
        using (var weights = LLamaWeights.LoadFromFile(p))
        using (var ctx = weights.CreateContext(p))
        {
            var batch = new LLamaBatch();
            foreach (var s in seqs)
            {
                ctx.NativeHandle.MemoryClear(true);
                batch.Clear();
                for (var i = 0; i < s.Length; i++)
                {
                    batch.Add((LLamaToken)s[i], i, LLamaSeqId.Zero, true);
                }
                if (ctx.Decode(batch) != DecodeResult.Ok)
                {
                    throw new InvalidOperationException("llama_decode failed");
                }
                expected.Add(ctx.NativeHandle.GetEmbeddingsSeq(LLamaSeqId.Zero).ToArray());
            }
        }
        using var w = ModelWeights.LoadGguf(gguf);
        var enc = new ReferenceEncoder(w);
        double worstCos = 1, worstAbs = 0;
        for (var k = 0; k < seqs.Count; k++)
        {
            sw.Restart();
            var pooled = new float[w.Config.HiddenSize];
            enc.EncodePooled([seqs[k]], pooled);
            var z = new float[w.Config.HiddenSize];
            DenseHeads.Apply(w, pooled, z);
            var cos = VectorOps.Cosine(z, expected[k]);
            VectorOps.L2Normalize(z);
            var e = (float[])expected[k].Clone();
            VectorOps.L2Normalize(e);
            var abs = z.Zip(e, (a, b) => Math.Abs((double)a - b)).Max();
            worstCos = Math.Min(worstCos, cos);
            worstAbs = Math.Max(worstAbs, abs);
            Console.WriteLine($"len {seqs[k].Length,5}: cos {cos:F9}  max abs (unit) {abs:E2}  reference {sw.Elapsed.TotalSeconds:F1} s");
        }
        Console.WriteLine($"worst cos {worstCos:F9}, worst max abs {worstAbs:E2}");

        // The fast engine against the reference on the same weights: F32 from the F32 file, and each quantized file
        // (fast engine on the stored blocks, reference on the same weights dequantized to float).
        foreach (var type in new[] { EmbeddingGemma.Numerics.GgmlType.F32, EmbeddingGemma.Numerics.GgmlType.BF16, EmbeddingGemma.Numerics.GgmlType.Q8_0, EmbeddingGemma.Numerics.GgmlType.Q4_0 })
        {
            var path = type == EmbeddingGemma.Numerics.GgmlType.F32 ? gguf : Path.Combine(dir, $"{shape}-{seed}-{type}.gguf");
            if (type != EmbeddingGemma.Numerics.GgmlType.F32)
            {
                ckpt.WriteGguf(path, type);
            }
            using var wq = ModelWeights.LoadGguf(path);
            var reference = new ReferenceEncoder(wq);
            using var fast = EmbeddingGemma.Model.Fast.FastSequenceEncoder.OpenGguf(path);
            double worst = 1, worstF32 = 1;
            for (var k = 0; k < seqs.Count; k++)
            {
                var a = new float[wq.Config.HiddenSize];
                var b = new float[wq.Config.HiddenSize];
                reference.EncodePooled([seqs[k]], a);
                fast.EncodePooled([(ReadOnlyMemory<int>)seqs[k]], b);
                worst = Math.Min(worst, VectorOps.Cosine(a, b));
                var zq = new float[wq.Config.HiddenSize];
                DenseHeads.Apply(wq, a, zq);
                worstF32 = Math.Min(worstF32, VectorOps.Cosine(zq, expected[k]));
            }
            Console.WriteLine($"{type}: fast engine vs reference on the same (dequantized) weights, pooled, worst cos {worst:F9}; {type} weights vs F32 weights after dense_3 (llama.cpp F32), worst cos {worstF32:F6}");
        }
    }
}
