using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EmbeddingGemma.Model;

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
        512 => Chains512(iterations),
        256 => Chains256(iterations),
        _ => Chains128(iterations),
    };

    // 12 independent accumulators: enough to cover the FMA latency × throughput of current x86 cores
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512(long n)
    {
        var a = Vector512.Create(1.0000001f);
        var b = Vector512.Create(0.9999999f);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
            c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (long i = 0; i < n; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(a, b, c0); c1 = Vector512.FusedMultiplyAdd(a, b, c1); c2 = Vector512.FusedMultiplyAdd(a, b, c2);
            c3 = Vector512.FusedMultiplyAdd(a, b, c3); c4 = Vector512.FusedMultiplyAdd(a, b, c4); c5 = Vector512.FusedMultiplyAdd(a, b, c5);
            c6 = Vector512.FusedMultiplyAdd(a, b, c6); c7 = Vector512.FusedMultiplyAdd(a, b, c7); c8 = Vector512.FusedMultiplyAdd(a, b, c8);
            c9 = Vector512.FusedMultiplyAdd(a, b, c9); c10 = Vector512.FusedMultiplyAdd(a, b, c10); c11 = Vector512.FusedMultiplyAdd(a, b, c11);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256(long n)
    {
        var a = Vector256.Create(1.0000001f);
        var b = Vector256.Create(0.9999999f);
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
            c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (long i = 0; i < n; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(a, b, c0); c1 = Vector256.FusedMultiplyAdd(a, b, c1); c2 = Vector256.FusedMultiplyAdd(a, b, c2);
            c3 = Vector256.FusedMultiplyAdd(a, b, c3); c4 = Vector256.FusedMultiplyAdd(a, b, c4); c5 = Vector256.FusedMultiplyAdd(a, b, c5);
            c6 = Vector256.FusedMultiplyAdd(a, b, c6); c7 = Vector256.FusedMultiplyAdd(a, b, c7); c8 = Vector256.FusedMultiplyAdd(a, b, c8);
            c9 = Vector256.FusedMultiplyAdd(a, b, c9); c10 = Vector256.FusedMultiplyAdd(a, b, c10); c11 = Vector256.FusedMultiplyAdd(a, b, c11);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains128(long n)
    {
        var a = Vector128.Create(1.0000001f);
        var b = Vector128.Create(0.9999999f);
        Vector128<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
            c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (long i = 0; i < n; i++)
        {
            c0 = Vector128.FusedMultiplyAdd(a, b, c0); c1 = Vector128.FusedMultiplyAdd(a, b, c1); c2 = Vector128.FusedMultiplyAdd(a, b, c2);
            c3 = Vector128.FusedMultiplyAdd(a, b, c3); c4 = Vector128.FusedMultiplyAdd(a, b, c4); c5 = Vector128.FusedMultiplyAdd(a, b, c5);
            c6 = Vector128.FusedMultiplyAdd(a, b, c6); c7 = Vector128.FusedMultiplyAdd(a, b, c7); c8 = Vector128.FusedMultiplyAdd(a, b, c8);
            c9 = Vector128.FusedMultiplyAdd(a, b, c9); c10 = Vector128.FusedMultiplyAdd(a, b, c10); c11 = Vector128.FusedMultiplyAdd(a, b, c11);
        }
        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}
