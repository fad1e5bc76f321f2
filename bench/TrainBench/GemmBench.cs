using System.Diagnostics;
using System.Globalization;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Training.Fast;

namespace EmbeddingGemma.TrainBench;

/// <summary>
/// <c>TrainBench --gemm [--tokens 8192] [--out 768] [--in 1152] [--reps 3] [--threads 1,2]</c>: the training
/// products at one linear layer's shape, old (<see cref="Numerics.Kernels.KernelSet.GemmTile"/> with the transposes the
/// backward used to materialise) against new (<see cref="Numerics.Kernels.KernelSet.GemmPacked"/>, operands read as
/// stored), alternated, per thread count. Prints GFLOP/s (2·m·n·k per wall second, best of the repetitions), GFLOP per
/// process CPU second (per core; the steadier figure on a shared machine) and the largest difference between the two
/// results relative to the largest |value|.
/// </summary>
internal static class GemmBench
{
    public static int Run(Dictionary<string, string> opts)
    {
        int Int(string name, int def) => opts.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : def;
        int m = Int("--tokens", 8192), outF = Int("--out", 768), inF = Int("--in", 1152), reps = Int("--reps", 3);
        var threadList = opts.GetValueOrDefault("--threads", "1,2").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        var ks = KernelCatalog.Default;
        var rng = new Random(3);
        float[] Rand(int n)
        {
            var a = new float[n];
            for (var i = 0; i < n; i++)
            {
                a[i] = (float)(rng.NextDouble() * 2 - 1);
            }
            return a;
        }
        var x = Rand(m * inF);
        var w = Rand(outF * inF);
        var dy = Rand(m * outF);
        float[] y0 = new float[m * outF], y1 = new float[m * outF];
        float[] dx0 = new float[m * inF], dx1 = new float[m * inF];
        float[] dw0 = new float[outF * inF], dw1 = new float[outF * inF];
        float[] wT = new float[outF * inF], dyT = new float[m * outF], xT = new float[m * inF];
        var flop = 2.0 * m * outF * inF;
        Console.WriteLine($"GEMM shapes: tokens {m}, W [{outF}, {inF}]; {flop / 1e9:F2} GFLOP per product; kernels {ks.Description}; best of {reps}, alternated");
        foreach (var threads in threadList)
        {
            var forms = new (string Name, Action Old, Action New, float[] OldOut, float[] NewOut)[]
            {
                ("Y = X·Wᵀ (forward)",
                    () => TrainGemm.Forward(ks, threads, x, m, w, outF, inF, y0),
                    () => TrainGemm.MultiplyPacked(ks, threads, x, 0, inF, 1, w, 0, 1, inF, y1, 0, outF, m, outF, inF, accumulate: false),
                    y0, y1),
                ("dX = dY·W",
                    () =>
                    {
                        TrainGemm.Transpose(threads, w, outF, inF, wT);
                        TrainGemm.Multiply(ks, threads, dy, 0, outF, wT, 0, outF, dx0, 0, inF, m, inF, outF, accumulate: false);
                    },
                    () => TrainGemm.BackwardInput(ks, threads, dy, m, w, outF, inF, dx1, accumulate: false),
                    dx0, dx1),
                ("dW = dYᵀ·X",
                    () =>
                    {
                        TrainGemm.Transpose(threads, dy, m, outF, dyT);
                        TrainGemm.Transpose(threads, x, m, inF, xT);
                        Array.Clear(dw0);
                        TrainGemm.Multiply(ks, threads, dyT, 0, m, xT, 0, m, dw0, 0, inF, outF, inF, m, accumulate: true);
                    },
                    () =>
                    {
                        Array.Clear(dw1);
                        TrainGemm.BackwardWeight(ks, threads, dy, x, m, outF, inF, dw1);
                    },
                    dw0, dw1),
            };
            foreach (var (name, oldRun, newRun, oldOut, newOut) in forms)
            {
                oldRun();
                newRun();
                double bestOld = double.MaxValue, bestNew = double.MaxValue, cpuOld = double.MaxValue, cpuNew = double.MaxValue;
                var proc = Process.GetCurrentProcess();
                for (var r = 0; r < reps; r++)
                {
                    (var wall, var cpu) = Time(proc, oldRun);
                    bestOld = Math.Min(bestOld, wall);
                    cpuOld = Math.Min(cpuOld, cpu);
                    (wall, cpu) = Time(proc, newRun);
                    bestNew = Math.Min(bestNew, wall);
                    cpuNew = Math.Min(cpuNew, cpu);
                }
                double maxDiff = 0, maxAbs = 0;
                for (var i = 0; i < oldOut.Length; i++)
                {
                    maxDiff = Math.Max(maxDiff, Math.Abs(oldOut[i] - newOut[i]));
                    maxAbs = Math.Max(maxAbs, Math.Abs(oldOut[i]));
                }
                Console.WriteLine($"threads {threads}  {name,-20} old {flop / bestOld / 1e9,6:F1} GFLOP/s ({flop / cpuOld / 1e9,5:F1} per CPU s)  " +
                    $"new {flop / bestNew / 1e9,6:F1} GFLOP/s ({flop / cpuNew / 1e9,5:F1} per CPU s)  x{bestOld / bestNew:F2}; max |old − new| / max |old| = {maxDiff / maxAbs:E1}");
            }
        }
        return 0;
    }

    // Wall and process CPU seconds of one run.
    private static (double Wall, double Cpu) Time(Process proc, Action run)
    {
        proc.Refresh();
        var cpu0 = proc.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        run();
        var wall = sw.Elapsed.TotalSeconds;
        proc.Refresh();
        return (wall, (proc.TotalProcessorTime - cpu0).TotalSeconds);
    }
}
