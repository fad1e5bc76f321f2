using LLama;
using LLama.Common;
using LLama.Native;

namespace EmbeddingGemma.Tests.Model;

/// <summary>
/// llama.cpp (LLamaSharp 0.30.0, CPU backend) as an independent oracle: one sequence per decode with
/// context = batch = ubatch &gt;= the longest sequence, ids as given, mean pooling; returns the vector after dense_3
/// (not L2-normalised). See docs/oracles.md.
/// </summary>
internal static class LlamaCppOracle
{
    private static readonly object Gate = new();

    public static List<float[]> Embed(string ggufPath, IReadOnlyList<int[]> sequences)
    {
        lock (Gate)
        {
            var n = (uint)Math.Max(64, sequences.Max(s => s.Length));
            var p = new ModelParams(ggufPath)
            {
                ContextSize = n,
                BatchSize = n,
                UBatchSize = n,
                Embeddings = true,
                PoolingType = LLamaPoolingType.Mean,
                GpuLayerCount = 0,
                Threads = 2,
                // Flash attention on the CPU rounds K/V to fp16; the plain path keeps F32 (tighter oracle).
                FlashAttention = false,
                TypeK = GGMLType.GGML_TYPE_F32,
                TypeV = GGMLType.GGML_TYPE_F32,
            };
            using var weights = LLamaWeights.LoadFromFile(p);
            using var ctx = weights.CreateContext(p);
            var batch = new LLamaBatch();
            var result = new List<float[]>();
            foreach (var seq in sequences)
            {
                ctx.NativeHandle.MemoryClear(true);
                batch.Clear();
                for (var i = 0; i < seq.Length; i++)
                {
                    batch.Add((LLamaToken)seq[i], i, LLamaSeqId.Zero, true);
                }
                var rc = ctx.Decode(batch);
                if (rc != DecodeResult.Ok)
                {
                    throw new InvalidOperationException($"llama_decode returned {rc}");
                }
                result.Add(ctx.NativeHandle.GetEmbeddingsSeq(LLamaSeqId.Zero).ToArray());
            }
            return result;
        }
    }
}
