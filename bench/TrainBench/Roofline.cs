using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.TrainBench;

/// <summary>
/// The arithmetic behind the tokens/s: the step's model FLOPs (the usual MFU convention: 2 per multiply-add in the
/// forward, twice that in the backward, for every matrix product of the encoder and the Dense heads and for the two
/// attention products over the (query, key) pairs each layer's window allows; row-wise ops not counted) and this
/// machine's fp32 peak, measured as independent FMA chains on every thread. No engine can run the step faster than
/// FLOPs / peak, so peak / (an engine's FLOP rate) bounds how many times faster than that engine any fp32 engine
/// can be here.
/// </summary>
internal static class Roofline
{
    /// <summary>Model FLOPs of one forward + backward over <paramref name="sequences"/> of <paramref name="length"/> tokens.</summary>
    public static double StepFlops(GemmaConfig c, IReadOnlyList<int[]> denseShapes, int sequences, int length)
    {
        int h = c.HiddenSize, qd = c.NumAttentionHeads * c.HeadDim, kvd = c.NumKeyValueHeads * c.HeadDim, ff = c.IntermediateSize;
        double perTokenMacs = (double)h * (qd + 2 * kvd) + (double)qd * h + 3.0 * h * ff;
        double tokens = (double)sequences * length;
        double linear = c.NumHiddenLayers * perTokenMacs * tokens;
        double attention = 0;
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            // QKᵀ and PV: head_dim multiply-adds per allowed (query, key) pair and query head, each
            attention += 2.0 * Pairs(length, c.IsSlidingLayer(l) ? c.SlidingWindowRadius : -1) * c.HeadDim * c.NumAttentionHeads * sequences;
        }
        double dense = denseShapes.Sum(d => (double)d[0] * d[1]) * sequences;
        return 6.0 * (linear + attention + dense);   // forward 2 per MAC, backward 4
    }

    // (query, key) pairs with |i − j| <= radius (radius < 0: every pair).
    private static double Pairs(int n, int radius)
    {
        if (radius < 0 || radius >= n - 1)
        {
            return (double)n * n;
        }
        double p = 0;
        for (var i = 0; i < n; i++)
        {
            p += Math.Min(n - 1, i + radius) - Math.Max(0, i - radius) + 1;
        }
        return p;
    }

    /// <summary>fp32 FLOP/s of independent FMA chains on <paramref name="threads"/> threads at once (the widest accelerated vectors).</summary>
    public static (double FlopsPerSecond, string Vectors) MeasurePeak(int threads)
    {
        var width = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;
        Chains(1000, width);   // JIT
        const long iterations = 100_000_000;
        var best = 0.0;
        for (var round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Chains(iterations, width));
            var flops = threads * (double)iterations * 12 * (width / 32) * 2 / sw.Elapsed.TotalSeconds;
            best = Math.Max(best, flops);
        }
        return (best, $"Vector{width}");
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains(long iterations, int width) => width switch
    {
        512 => Chains<Simd512, Vector512<float>>(iterations),
        256 => Chains<Simd256, Vector256<float>>(iterations),
        _ => Chains<Simd128, Vector128<float>>(iterations),
    };

    // 12 independent accumulators: enough to cover the FMA latency × throughput of current x86 cores
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains<TOps, TVec>(long n) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        var a = TOps.Create(1.0000001f);
        var b = TOps.Create(0.9999999f);
        TVec c0 = TOps.Zero, c1 = TOps.Zero, c2 = TOps.Zero, c3 = TOps.Zero, c4 = TOps.Zero, c5 = TOps.Zero,
            c6 = TOps.Zero, c7 = TOps.Zero, c8 = TOps.Zero, c9 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero;
        for (long i = 0; i < n; i++)
        {
            c0 = TOps.Fma(a, b, c0); c1 = TOps.Fma(a, b, c1); c2 = TOps.Fma(a, b, c2);
            c3 = TOps.Fma(a, b, c3); c4 = TOps.Fma(a, b, c4); c5 = TOps.Fma(a, b, c5);
            c6 = TOps.Fma(a, b, c6); c7 = TOps.Fma(a, b, c7); c8 = TOps.Fma(a, b, c8);
            c9 = TOps.Fma(a, b, c9); c10 = TOps.Fma(a, b, c10); c11 = TOps.Fma(a, b, c11);
        }
        var sum = TOps.Add(TOps.Add(TOps.Add(c0, c1), TOps.Add(c2, c3)), TOps.Add(TOps.Add(c4, c5), TOps.Add(c6, c7)));
        return TOps.Sum(TOps.Add(sum, TOps.Add(TOps.Add(c8, c9), TOps.Add(c10, c11))));
    }
}
