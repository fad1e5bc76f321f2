using System.Diagnostics;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Benchmarks;

/// <summary>
/// A fast GFLOP/s table for the projection GEMMs (no BenchmarkDotNet statistics): <c>dotnet run -c Release --project
/// bench/EmbeddingGemma.Benchmarks -- gemm [M] [threads]</c>.
/// </summary>
internal static class QuickGemm
{
    public static void Run(string[] args)
    {
        var m = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 512;
        var threads = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : KernelCatalog.DefaultThreads;
        Console.WriteLine($"M={m} threads={threads} kernels={KernelCatalog.Default.Variant} cpu={Environment.ProcessorCount} cores");
        var rng = new Random(1);
        foreach (var (n, k) in new[] { (768, 768), (1152, 768), (768, 1152) })
        {
            var w = new float[n * k];
            for (var i = 0; i < w.Length; i++)
            {
                w[i] = (float)rng.NextDouble() - 0.5f;
            }
            var a = new float[m * k];
            for (var i = 0; i < a.Length; i++)
            {
                a[i] = (float)rng.NextDouble() - 0.5f;
            }
            var c = new float[m * n];
            foreach (var type in new[] { GgmlType.F32, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0 })
            {
                var wm = WeightMatrix.Quantize("w", w, n, k, type);
                wm.MatMul(a, m, c, threads);
                var reps = 0;
                var sw = Stopwatch.StartNew();
                while (sw.ElapsedMilliseconds < 700)
                {
                    wm.MatMul(a, m, c, threads);
                    reps++;
                }
                var gflops = 2.0 * m * n * k * reps / sw.Elapsed.TotalSeconds / 1e9;
                Console.WriteLine($"  N={n,5} K={k,5} {type,-5} {gflops,7:F1} GFLOP/s");
            }
        }
    }
}
