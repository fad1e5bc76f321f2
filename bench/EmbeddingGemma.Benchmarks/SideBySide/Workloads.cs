using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace EmbeddingGemma.Benchmarks.SideBySide;

/// <summary>The four workloads of the side-by-side benchmark, with the same token ids for both engines.</summary>
internal static class Workloads
{
    public const int DocTokens = 256, QueryTokens = 32, LongTokens = 2048, BatchInputs = 256;

    /// <summary>Documents in the throughput workload (64 by default; EMBEDDINGGEMMA_BENCH_DOCS overrides).</summary>
    public static int Docs => int.TryParse(Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_BENCH_DOCS"), out var d) && d > 0 ? d : 64;

    /// <summary>Query repetitions for the median (30; EMBEDDINGGEMMA_BENCH_QUERY_RUNS overrides).</summary>
    public static int QueryRuns => int.TryParse(Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_BENCH_QUERY_RUNS"), out var d) && d > 0 ? d : 30;

    /// <summary>Deterministic ids in [4, vocab): BOS first and EOS last like real tokenized input.</summary>
    public static int[] Ids(int seed, int length, int vocab)
    {
        var rng = new Random(seed);
        var ids = new int[length];
        for (var i = 0; i < length; i++)
        {
            ids[i] = rng.Next(4, vocab);
        }
        ids[0] = 2;
        ids[^1] = 1;
        return ids;
    }

    public static int[][] Documents(int vocab) => Enumerable.Range(0, Docs).Select(i => Ids(100 + i, DocTokens, vocab)).ToArray();

    public static int[] Query(int vocab) => Ids(7, QueryTokens, vocab);

    public static int[] Long(int vocab) => Ids(9, LongTokens, vocab);

    /// <summary>The batch workload: 256 short inputs of 4..40 tokens (mixed lengths) in one call.</summary>
    public static int[][] Batch(int vocab) => Enumerable.Range(0, BatchInputs).Select(i => Ids(1000 + i, 4 + i * 7 % 37, vocab)).ToArray();

    /// <summary>
    /// Writes every workload's ids for the native worker (bench/native-llama/embed_worker.cpp): one sequence per line,
    /// "&lt;section&gt; id id ..." with sections docs, query, long, batch, and a "query_runs N" line.
    /// </summary>
    public static void WriteIdsFile(string path, int vocab)
    {
        using var w = new StreamWriter(path);
        w.WriteLine($"query_runs {QueryRuns.ToString(CultureInfo.InvariantCulture)}");
        void Line(string section, int[] ids) => w.WriteLine(section + " " + string.Join(' ', ids.Select(i => i.ToString(CultureInfo.InvariantCulture))));
        foreach (var d in Documents(vocab))
        {
            Line("docs", d);
        }
        Line("query", Query(vocab));
        Line("long", Long(vocab));
        foreach (var b in Batch(vocab))
        {
            Line("batch", b);
        }
    }

    /// <summary>Peak resident set of this process (VmHWM), MB; 0 where /proc is absent.</summary>
    public static double PeakRssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kb = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                    return kb / 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    /// <summary>Runs the workloads through <paramref name="embed"/> and prints one JSON line.</summary>
    public static void Measure(string engine, double loadSeconds, int vocab, Func<int[][], float[][]> embed, string which)
    {
        var result = new Dictionary<string, object>
        {
            ["engine"] = engine,
            ["load_s"] = loadSeconds,
        };
        var docs = Documents(vocab);
        var query = Query(vocab);
        var longDoc = Long(vocab);
        if (which.Contains("docs", StringComparison.Ordinal))
        {
            embed([docs[0]]);   // warm-up
            var sw = Stopwatch.StartNew();
            var vecs = embed(docs);
            result["docs_tokens_per_s"] = Docs * DocTokens / sw.Elapsed.TotalSeconds;
            result["doc0_head"] = vecs[0].Take(8).ToArray();
            result["docs_vectors"] = vecs.Take(4).ToArray();
        }
        if (which.Contains("query", StringComparison.Ordinal))
        {
            var times = new List<double>();
            embed([query]);
            for (var i = 0; i < QueryRuns; i++)
            {
                var sw = Stopwatch.StartNew();
                embed([query]);
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            result["query_median_ms"] = times[times.Count / 2];
        }
        if (which.Contains("long", StringComparison.Ordinal))
        {
            var sw = Stopwatch.StartNew();
            embed([longDoc]);
            result["long_s"] = sw.Elapsed.TotalSeconds;
        }
        if (which.Contains("batch", StringComparison.Ordinal))
        {
            var batch = Batch(vocab);
            var sw = Stopwatch.StartNew();
            embed(batch);
            result["batch_s"] = sw.Elapsed.TotalSeconds;
        }
        result["peak_rss_mb"] = PeakRssMb();
        Console.WriteLine(JsonSerializer.Serialize(result));
    }
}
