using System.Diagnostics;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Benchmarks.SideBySide;

/// <summary>
/// Our engine in its own process, through the public API exactly as users run it: <see cref="EmbeddingGemmaModel.Load"/>
/// with <see cref="ModelLoadOptions.Threads"/>, then <see cref="EmbeddingGemmaModel.EncodeTokenIds"/> with all sequences
/// of a workload in one batch and Normalize = false: the output of the last Dense layer, like llama.cpp's gemma-embedding
/// output after dense_3 (compared by cosine).
/// </summary>
internal static class OursWorker
{
    public static void Run(string gguf, int threads, string which)
    {
        var sw = Stopwatch.StartNew();
        using var model = EmbeddingGemmaModel.Load(gguf, new ModelLoadOptions { Threads = threads, UseHub = false });
        var load = sw.Elapsed.TotalSeconds;
        Workloads.Measure($"EmbeddingGemma.NET ({KernelCatalog.Default.Variant}, {model.WeightType})", load, model.Config.VocabSize,
            seqs => model.EncodeTokenIds(seqs, new EncodeOptions { Normalize = false, BatchSize = Math.Max(1, seqs.Length) }), which);
        if ((model.Encoder as EmbeddingGemma.Model.Fast.FastSequenceEncoder)?.Engine.Profile is { } profile)
        {
            Console.Error.Write(profile.Report());
        }
    }
}
