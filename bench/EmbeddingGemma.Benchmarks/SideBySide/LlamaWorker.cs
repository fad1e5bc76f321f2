using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace EmbeddingGemma.Benchmarks.SideBySide;

/// <summary>
/// The LLamaSharp side (LLamaSharp 0.30.0 with its CPU backend from NuGet: what a .NET user gets), in its own process: one sequence per decode with context =
/// batch = ubatch = the sequence length bound, mean pooling, ids as given (docs/oracles.md). Output after dense_3.
/// </summary>
internal static class LlamaWorker
{
    public static void Run(string gguf, int threads, int vocab, string which)
    {
        var n = (uint)(which.Contains("long", StringComparison.Ordinal) ? Workloads.LongTokens : Workloads.DocTokens);
        var sw = Stopwatch.StartNew();
        var p = new ModelParams(gguf)
        {
            ContextSize = n,
            BatchSize = n,
            UBatchSize = n,
            Embeddings = true,
            PoolingType = LLamaPoolingType.Mean,
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
        };
        using var weights = LLamaWeights.LoadFromFile(p);
        using var ctx = weights.CreateContext(p);
        var load = sw.Elapsed.TotalSeconds;
        var batch = new LLamaBatch();
        Workloads.Measure("LLamaSharp 0.30.0", load, vocab, seqs =>
        {
            var result = new float[seqs.Length][];
            for (var s = 0; s < seqs.Length; s++)
            {
                ctx.NativeHandle.MemoryClear(true);
                batch.Clear();
                for (var i = 0; i < seqs[s].Length; i++)
                {
                    batch.Add((LLamaToken)seqs[s][i], i, LLamaSeqId.Zero, true);
                }
                var rc = ctx.Decode(batch);
                if (rc != DecodeResult.Ok)
                {
                    throw new InvalidOperationException($"llama_decode returned {rc}");
                }
                result[s] = ctx.NativeHandle.GetEmbeddingsSeq(LLamaSeqId.Zero).ToArray();
            }
            return result;
        }, which);
    }
}
