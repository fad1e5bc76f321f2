using System.Diagnostics;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Benchmarks;

/// <summary>
/// A fast GFLOP/s table for the projection GEMMs (no BenchmarkDotNet statistics): <c>dotnet run -c Release --project
/// bench/EmbeddingGemma.Benchmarks -- gemm [M] [threads]</c>.
/// </summary>
internal static class QuickGemm
{
    /// <summary>fp32 FMA throughput available right now on <paramref name="threads"/> threads (GFLOP/s).</summary>
    public static double FmaPeak(int threads)
    {
        const long iters = 20_000_000;
        var sw = Stopwatch.StartNew();
        var sink = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => sink[t] = FmaLoop(iters));
        return 2.0 * 8 * 12 * iters * threads / sw.Elapsed.TotalSeconds / 1e9;
    }

    private static float FmaLoop(long iters)
    {
        var a = System.Runtime.Intrinsics.Vector256.Create(0.999f);
        var b = System.Runtime.Intrinsics.Vector256.Create(0.001f);
        System.Runtime.Intrinsics.Vector256<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < iters; i++)
        {
            c0 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c0, a, b); c1 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c1, a, b);
            c2 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c2, a, b); c3 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c3, a, b);
            c4 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c4, a, b); c5 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c5, a, b);
            c6 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c6, a, b); c7 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c7, a, b);
            c8 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c8, a, b); c9 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c9, a, b);
            c10 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c10, a, b); c11 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(c11, a, b);
        }
        var s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
        return System.Runtime.Intrinsics.Vector256.Sum(s);
    }

    public static void Run(string[] args)
    {
        var m = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 512;
        var threads = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : KernelCatalog.DefaultThreads;
        Console.WriteLine($"M={m} threads={threads} kernels={KernelCatalog.Default.Variant} cpu={Environment.ProcessorCount} cores");
        var peak = FmaPeak(threads);
        Console.WriteLine($"  FMA peak measured now (12 independent Vector256 FMA chains per thread): {peak:F1} GFLOP/s");
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
                Console.WriteLine($"  N={n,5} K={k,5} {type,-5} {gflops,7:F1} GFLOP/s  ({100 * gflops / peak:F0}% of measured peak)");
            }
        }
    }
}

/// <summary>
/// The int8 interleaved kernel alone (no activation quantization, no packing), single thread:
/// <c>dotnet run -c Release --project bench/EmbeddingGemma.Benchmarks -- qkernel [M]</c>.
/// </summary>
internal static class QuickQKernel
{
    public static void Run(string[] args)
    {
        var m = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 256;
        const int n = 48, k = 768;
        var rng = new Random(1);
        var w = new float[n * k];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)rng.NextDouble() - 0.5f;
        }
        var aq = new sbyte[m * k];
        rng.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(aq.AsSpan()));
        for (var i = 0; i < aq.Length; i++)
        {
            aq[i] = (sbyte)Math.Clamp((int)aq[i], -127, 127);
        }
        var ad = new float[m * k / 32];
        Array.Fill(ad, 0.01f);
        var ao = new int[m * k / 32];
        var c = new float[m * n];
        foreach (var type in new[] { GgmlType.Q4_0, GgmlType.Q8_0 })
        {
            var wm = WeightMatrix.Quantize("w", w, n, k, type);
            var panel = new byte[EmbeddingGemma.Numerics.Kernels.Q8Interleaved.PanelBytes(type, n, k)];
            var scales = new float[EmbeddingGemma.Numerics.Kernels.Q8Interleaved.PanelScales(n, k)];
            var rowBytes = GgmlTypeInfo.RowBytes(type, k);
            double packUs = double.MaxValue, gmacs = 0;
            for (var round = 0; round < 3; round++)   // best of 3: this machine's speed drifts
            {
                var sw = Stopwatch.StartNew();
                var packs = 0;
                while (sw.ElapsedMilliseconds < 200)
                {
                    EmbeddingGemma.Numerics.Kernels.Q8Interleaved.Pack(type, wm.Data.Span, rowBytes, n, k, panel, scales);
                    packs++;
                }
                packUs = Math.Min(packUs, sw.Elapsed.TotalMilliseconds * 1000 / packs);
                var reps = 0;
                sw.Restart();
                while (sw.ElapsedMilliseconds < 400)
                {
                    EmbeddingGemma.Numerics.Kernels.Q8Interleaved.Gemm(aq, ad, ao, panel, scales, type, c, n, m, n, k);
                    reps++;
                }
                gmacs = Math.Max(gmacs, (double)m * n * k * reps / sw.Elapsed.TotalSeconds / 1e9);
            }
            Console.WriteLine($"  {type}: kernel {gmacs:F1} GMAC/s ({2 * gmacs:F1} GFLOP/s) single thread, M={m} N={n} K={k}; pack of the panel {packUs:F1} us");
        }
        var q = new sbyte[k];
        var d = new float[k / 32];
        var o = new int[k / 32];
        var x = new float[k];
        for (var i = 0; i < k; i++)
        {
            x[i] = (float)rng.NextDouble() - 0.5f;
        }
        var sw2 = Stopwatch.StartNew();
        var rows = 0;
        while (sw2.ElapsedMilliseconds < 500)
        {
            EmbeddingGemma.Numerics.Kernels.Q8Interleaved.QuantizeRow(x, q, d, 8, o);
            rows++;
        }
        Console.WriteLine($"  activation quantization + offsets: {sw2.Elapsed.TotalMilliseconds * 1e6 / rows / k:F2} ns per value");
    }
}
