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
        // Reference and fast engine through the public pipeline (Load + EncodeTokenIds), Dense output not normalised.
        var raw = new EncodeOptions { Normalize = false, BatchSize = 1 };
        using var refModel = EmbeddingGemmaModel.Load(gguf, new ModelLoadOptions { EncoderFactory = w => new ReferenceEncoder(w), UseHub = false });
        double worstCos = 1, worstAbs = 0;
        for (var k = 0; k < seqs.Count; k++)
        {
            sw.Restart();
            var z = refModel.EncodeTokenIds([seqs[k]], raw)[0];
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

        // The fast engine against the reference on the same weight objects: F32 from the F32 file, and each quantized
        // file (both read the stored blocks; the reference dequantizes rows as it needs them).
        foreach (var type in new[] { EmbeddingGemma.Numerics.GgmlType.F32, EmbeddingGemma.Numerics.GgmlType.BF16, EmbeddingGemma.Numerics.GgmlType.Q8_0, EmbeddingGemma.Numerics.GgmlType.Q4_0 })
        {
            var path = type == EmbeddingGemma.Numerics.GgmlType.F32 ? gguf : Path.Combine(dir, $"{shape}-{seed}-{type}.gguf");
            if (type != EmbeddingGemma.Numerics.GgmlType.F32)
            {
                ckpt.WriteGguf(path, type);
            }
            using var fast = EmbeddingGemmaModel.Load(path, new ModelLoadOptions { UseHub = false });
            var reference = new ReferenceEncoder(fast.Weights);
            double worst = 1, worstF32 = 1;
            for (var k = 0; k < seqs.Count; k++)
            {
                var a = fast.Pipeline.Project(Pooled(reference, seqs[k]), 1);
                var b = fast.EncodeTokenIds([seqs[k]], raw)[0];
                worst = Math.Min(worst, VectorOps.Cosine(a, b));
                worstF32 = Math.Min(worstF32, VectorOps.Cosine(b, expected[k]));
            }
            Console.WriteLine($"{type} ({fast.WeightType} in the engine): fast engine vs reference on the same weights after dense_3, worst cos {worst:F9}; {type} weights vs F32 weights (llama.cpp F32), worst cos {worstF32:F6}");
        }
    }

    private static float[] Pooled(ReferenceEncoder reference, int[] ids)
    {
        var p = new float[reference.Config.HiddenSize];
        reference.EncodePooled([ids], p);
        return p;
    }
}
