// Search benchmarks (not tests): memory bandwidth vs exact scan, Matryoshka funnel, HNSW, and hnswlib-node as the
// peer on the same vectors in the same run. One command: see README "Semantic search and clustering".
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Search.Ann;
using EmbeddingGemma.Search.Vectors;

var opts = Args.Parse(args);
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
Console.WriteLine($"SearchBench: {Environment.ProcessorCount} cores, AVX2={Avx2.IsSupported}, FMA={Fma.IsSupported}, AVX-512={Vector512.IsHardwareAccelerated}, .NET {Environment.Version}");
Console.WriteLine($"load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
Console.WriteLine($"data: synthetic Matryoshka-like unit vectors (mixture with Gaussian centres and uniform noise, {opts.Clusters} clusters, decaying per-dimension scale), n={opts.N:N0}, dim={opts.Dim}, queries={opts.Queries}");

var sw = Stopwatch.StartNew();
var data = Generate(opts.N, opts.Dim, opts.Clusters, 1, 1);
var queries = Generate(opts.Queries, opts.Dim, opts.Clusters, 1, 2);
Console.WriteLine($"generated in {sw.Elapsed.TotalSeconds:F1} s ({(double)opts.N * opts.Dim * 4 / 1e9:F2} GB of float32)");

// 1. Memory bandwidth: the same threads read the same array, summing with Vector256 (a pure streaming read).
double bandwidth = Bandwidth(data.RawArray, (long)data.Count * data.Dimension, opts.Threads);
Console.WriteLine($"memory read bandwidth (sum over the vector array, {opts.Threads} threads, best of 5): {bandwidth / 1e9:F2} GB/s");

// 2. Exact scan.
var exactResults = new ScoredRow[queries.Count][];
var exactTimes = new List<double>();
for (int q = 0; q < queries.Count; q++)
{
    var t = Stopwatch.GetTimestamp();
    exactResults[q] = ExactScanner.Search(data, queries.Row(q), 10, maxThreads: opts.Threads);
    exactTimes.Add(Stopwatch.GetElapsedTime(t).TotalSeconds);
}
double exactSec = Median(exactTimes);
double scanBw = (double)data.Count * data.Dimension * 4 / exactSec;
Console.WriteLine($"exact scan: {exactSec * 1000:F1} ms/query (median), {scanBw / 1e9:F2} GB/s = {scanBw / bandwidth:P0} of measured bandwidth");

// 3. Matryoshka funnel on the same vectors.
foreach (var (prefix, candidates) in new[] { (128, 200), (128, 1000), (256, 200), (256, 1000) })
{
    if (prefix >= opts.Dim)
    {
        continue;
    }
    sw.Restart();
    var funnel = MatryoshkaFunnel.Build(data, prefix);
    double build = sw.Elapsed.TotalSeconds;
    var times = new List<double>();
    double recall = 0;
    for (int q = 0; q < queries.Count; q++)
    {
        var t = Stopwatch.GetTimestamp();
        var r = funnel.Search(queries.Row(q), 10, candidates, maxThreads: opts.Threads);
        times.Add(Stopwatch.GetElapsedTime(t).TotalSeconds);
        recall += SyntheticVectors.Recall(exactResults[q], r);
    }
    double sec = Median(times);
    Console.WriteLine($"funnel {prefix}->{opts.Dim}, {candidates} candidates: recall@10 {recall / queries.Count:F4}, {sec * 1000:F1} ms/query, {exactSec / sec:F1}x faster than exact (prefix build {build:F1} s)");
}

// 4. HNSW on the first AnnN vectors, and hnswlib-node on the same vectors.
int annN = Math.Min(opts.AnnN, data.Count);
var annData = new VectorMatrix(data.RawArray.AsSpan(0, annN * opts.Dim).ToArray(), opts.Dim);
data = null!;
GC.Collect();
var annExact = new ScoredRow[queries.Count][];
var annExactTimes = new List<double>();
for (int q = 0; q < queries.Count; q++)
{
    var t = Stopwatch.GetTimestamp();
    annExact[q] = ExactScanner.Search(annData, queries.Row(q), 10, maxThreads: opts.Threads);
    annExactTimes.Add(Stopwatch.GetElapsedTime(t).TotalSeconds);
}
double annExactSec = Median(annExactTimes);
Console.WriteLine($"ANN set: n={annN:N0}; exact scan {annExactSec * 1000:F2} ms/query ({opts.Threads} threads)");
sw.Restart();
var hnsw = HnswIndex.Build(annData, new HnswOptions { M = opts.M, EfConstruction = opts.EfConstruction, MaxThreads = opts.BuildThreads });
double ourBuild = sw.Elapsed.TotalSeconds;
Console.WriteLine($"our HNSW build (M={opts.M}, efConstruction={opts.EfConstruction}, {opts.BuildThreads} thread(s)): {ourBuild:F1} s");
var ours = new List<(int Ef, double Recall, double Ms)>();
foreach (int ef in opts.Efs)
{
    double recall = 0;
    var t = Stopwatch.GetTimestamp();
    for (int q = 0; q < queries.Count; q++)
    {
        recall += SyntheticVectors.Recall(annExact[q], hnsw.Search(queries.Row(q), 10, ef));
    }
    double ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds / queries.Count;
    ours.Add((ef, recall / queries.Count, ms));
    Console.WriteLine($"our HNSW ef={ef}: recall@10 {recall / queries.Count:F4}, {ms:F3} ms/query (1 thread), {annExactSec * 1000 / ms:F1}x faster than the exact scan");
}

if (opts.Peer)
{
    var dir = Path.Combine(opts.Root, ".cache", "searchbench");
    Directory.CreateDirectory(dir);
    WriteFloats(Path.Combine(dir, "vectors.f32"), annData.Data);
    WriteFloats(Path.Combine(dir, "queries.f32"), queries.Data);
    using (var f = File.Create(Path.Combine(dir, "truth.i32")))
    using (var w = new BinaryWriter(f))
    {
        foreach (var r in annExact)
        {
            foreach (var s in r)
            {
                w.Write(s.Row);
            }
        }
    }
    var peerDir = Path.Combine(opts.Root, ".cache", "hnswlib-node");
    var script = Path.Combine(AppContext.BaseDirectory, "peer", "hnswlib.cjs");
    var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
    psi.Environment["NODE_PATH"] = Path.Combine(peerDir, "node_modules");
    foreach (var a in new[] { script, dir, annN.ToString(), opts.Dim.ToString(), queries.Count.ToString(), opts.M.ToString(), opts.EfConstruction.ToString(), string.Join(',', opts.Efs) })
    {
        psi.ArgumentList.Add(a);
    }
    using var p = Process.Start(psi)!;
    var stdout = p.StandardOutput.ReadToEndAsync();
    var stderr = p.StandardError.ReadToEndAsync();
    p.WaitForExit();
    if (p.ExitCode != 0)
    {
        Console.WriteLine($"peer failed (exit {p.ExitCode}); run bench/SearchBench/peer/install.sh first. {await stderr}");
        return 1;
    }
    using var json = JsonDocument.Parse(await stdout);
    double peerBuild = json.RootElement.GetProperty("buildSeconds").GetDouble();
    Console.WriteLine($"hnswlib-node 3.0.0 build (same M, efConstruction, 1 thread, points added from JS): {peerBuild:F1} s; ours/peer build time {ourBuild / peerBuild:F2}");
    foreach (var r in json.RootElement.GetProperty("results").EnumerateArray())
    {
        int ef = r.GetProperty("ef").GetInt32();
        double recall = r.GetProperty("recall").GetDouble(), ms = r.GetProperty("msPerQuery").GetDouble();
        var o = ours.First(x => x.Ef == ef);
        Console.WriteLine($"hnswlib-node ef={ef}: recall@10 {recall:F4}, {ms:F3} ms/query; ours: recall {o.Recall:F4}, {o.Ms:F3} ms/query; ours/peer time {o.Ms / ms:F2}");
    }
}
Console.WriteLine($"load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
return 0;

static double Median(List<double> xs)
{
    var s = xs.Order().ToList();
    return s[s.Count / 2];
}

static void WriteFloats(string path, ReadOnlySpan<float> data)
{
    using var f = File.Create(path);
    f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
}

static VectorMatrix Generate(int n, int dim, int clusters, int centreSeed, int seed)
{
    // Like SyntheticVectors.Generate (Gaussian centres, per-dimension scale 1/sqrt(1 + d/32)), but the within-cluster
    // noise is uniform with the same variance (much cheaper than Box-Muller for 768 M numbers), in parallel blocks.
    var centreRng = new Random(centreSeed);
    var scale = Enumerable.Range(0, dim).Select(d => 1 / Math.Sqrt(1 + d / 32.0)).ToArray();
    var centres = Enumerable.Range(0, clusters).Select(_ => scale.Select(s => Gauss(centreRng) * s).ToArray()).ToArray();
    var data = new float[(long)n * dim];
    const int block = 4096;
    Parallel.For(0, (n + block - 1) / block, b =>
    {
        var rng = new Random(seed * 1_000_003 + b);
        var row = new float[dim];
        for (int i = b * block; i < Math.Min(n, (b + 1) * block); i++)
        {
            var c = centres[rng.Next(clusters)];
            for (int d = 0; d < dim; d++)
            {
                row[d] = (float)(c[d] + 0.6 * scale[d] * Math.Sqrt(3) * (2 * rng.NextDouble() - 1));
            }
            VectorOps.L2Normalize(row);
            row.CopyTo(data.AsSpan((int)((long)i * dim), dim));
        }
    });
    return new VectorMatrix(data, dim);
}

static double Gauss(Random rng)
{
    double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
    return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
}

static double Bandwidth(float[] array, long length, int threads)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++)
    {
        var t = Stopwatch.GetTimestamp();
        var sums = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, th =>
        {
            long start = length * th / threads, end = length * (th + 1) / threads;
            var span = array.AsSpan((int)start, (int)(end - start));
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i <= span.Length - 32; i += 32)
            {
                a0 += Vector256.Create<float>(span.Slice(i, 8));
                a1 += Vector256.Create<float>(span.Slice(i + 8, 8));
                a2 += Vector256.Create<float>(span.Slice(i + 16, 8));
                a3 += Vector256.Create<float>(span.Slice(i + 24, 8));
            }
            sums[th] = Vector256.Sum(a0 + a1 + a2 + a3);
        });
        double sec = Stopwatch.GetElapsedTime(t).TotalSeconds;
        best = Math.Max(best, length * 4 / sec);
        GC.KeepAlive(sums);
    }
    return best;
}

internal sealed record Args(int N, int Dim, int Queries, int Clusters, int AnnN, int Threads, int BuildThreads, int M, int EfConstruction, int[] Efs, bool Peer, string Root)
{
    public static Args Parse(string[] a)
    {
        string Get(string name, string def)
        {
            int i = Array.IndexOf(a, name);
            return i >= 0 && i + 1 < a.Length ? a[i + 1] : def;
        }
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "global.json")))
        {
            root = root.Parent;
        }
        return new Args(
            int.Parse(Get("--n", "1000000"), CultureInfo.InvariantCulture),
            int.Parse(Get("--dim", "768"), CultureInfo.InvariantCulture),
            int.Parse(Get("--queries", "50"), CultureInfo.InvariantCulture),
            int.Parse(Get("--clusters", "1000"), CultureInfo.InvariantCulture),
            int.Parse(Get("--ann-n", "100000"), CultureInfo.InvariantCulture),
            int.Parse(Get("--threads", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
            int.Parse(Get("--build-threads", "1"), CultureInfo.InvariantCulture),
            int.Parse(Get("--M", "16"), CultureInfo.InvariantCulture),
            int.Parse(Get("--ef-construction", "100"), CultureInfo.InvariantCulture),
            Get("--ef", "32,64,128,256").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
            Get("--peer", "on") == "on",
            root?.FullName ?? Directory.GetCurrentDirectory());
    }
}
