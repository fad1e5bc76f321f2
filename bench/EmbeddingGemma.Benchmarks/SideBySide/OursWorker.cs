using System.Diagnostics;
using EmbeddingGemma.Model.Fast;

namespace EmbeddingGemma.Benchmarks.SideBySide;

/// <summary>Our engine in its own process: the GGUF's tensors used in place; output after dense_3 like llama.cpp's.</summary>
internal static class OursWorker
{
    public static void Run(string gguf, int threads, string which)
    {
        var sw = Stopwatch.StartNew();
        using var enc = FastSequenceEncoder.OpenGguf(gguf, new FastEncoderOptions { Threads = threads });
        var load = sw.Elapsed.TotalSeconds;
        var h = enc.Config.HiddenSize;
        Workloads.Measure($"EmbeddingGemma.NET ({enc.Engine.Kernels.Variant})", load, enc.Config.VocabSize, seqs =>
        {
            var flat = new float[seqs.Length * h];
            enc.EncodeWithDense(seqs.Select(s => (ReadOnlyMemory<int>)s).ToArray(), flat);
            return Enumerable.Range(0, seqs.Length).Select(i => flat.AsSpan(i * h, h).ToArray()).ToArray();
        }, which);
        if (EngineProfile.Enabled)
        {
            Console.Error.Write(EngineProfile.Report());
        }
    }
}
