using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Benchmarks.SideBySide;

/// <summary>
/// <c>dotnet run -c Release --project bench/EmbeddingGemma.Benchmarks -- side-by-side [--types f32,bf16,q8_0,q4_0]
/// [--threads 2] [--workloads docs,query,long] [--rounds 2] [--dir .cache/bench]</c>: makes (or reuses) a full-size
/// random model as GGUF per type, then per type runs our engine and llama.cpp (LLamaSharp 0.30.0) alternately
/// (ours, llama.cpp, ours, llama.cpp… for <c>--rounds</c> rounds), each run in its own child process (peak RSS is its
/// own), same file, same threads, same token ids; each side's best round is reported (highest throughput, lowest
/// latency and times, highest peak RSS), so a slow spell of a shared machine does not decide a ratio. Prints a Markdown
/// table with ratios.
/// </summary>
internal static class Orchestrator
{
    public static int Run(string[] args)
    {
        string Arg(string name, string def)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : def;
        }
        var types = Arg("--types", "f32,bf16,q8_0,q4_0").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var threads = int.Parse(Arg("--threads", KernelCatalog.DefaultThreads.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        var workloads = Arg("--workloads", "docs,query,long,batch");
        var rounds = Math.Max(1, int.Parse(Arg("--rounds", "2"), CultureInfo.InvariantCulture));
        var dir = Path.GetFullPath(Arg("--dir", Path.Combine(".cache", "bench")));
        Directory.CreateDirectory(dir);
        ModelCheckpoint? ckpt = null;
        var rows = new List<(string Type, Dictionary<string, JsonElement> Ours, Dictionary<string, JsonElement> Llama)>();
        foreach (var t in types)
        {
            var type = t.ToLowerInvariant() switch
            {
                "f32" => GgmlType.F32,
                "bf16" => GgmlType.BF16,
                "f16" => GgmlType.F16,
                "q8_0" => GgmlType.Q8_0,
                "q4_0" => GgmlType.Q4_0,
                _ => throw new ArgumentException($"unknown type {t}"),
            };
            var path = Path.Combine(dir, $"embeddinggemma-random-full-{t.ToLowerInvariant()}.gguf");
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"writing {path} ...");
                ckpt ??= RandomModel.Create("full", 42);
                ckpt.WriteGguf(path + ".tmp", type);
                File.Move(path + ".tmp", path, overwrite: true);
            }
            int vocab;
            using (var g = EmbeddingGemma.Formats.GgufFile.Open(path))
            {
                vocab = checked((int)g.Tensors["token_embd.weight"].Shape[0]);
            }
            var oursRuns = new List<Dictionary<string, JsonElement>>();
            var llamaRuns = new List<Dictionary<string, JsonElement>>();
            for (var r = 1; r <= rounds; r++)
            {
                Console.Error.WriteLine($"{t}: ours (round {r}/{rounds}) ...");
                oursRuns.Add(Child("worker-ours", path, threads, workloads, vocab));
                Console.Error.WriteLine($"{t}: llama.cpp (round {r}/{rounds}) ...");
                llamaRuns.Add(Child("worker-llama", path, threads, workloads, vocab));
            }
            rows.Add((t.ToUpperInvariant(), Best(oursRuns), Best(llamaRuns)));
        }
        PrintTable(rows, threads, rounds);
        return 0;
    }

    private static Dictionary<string, JsonElement> Child(string mode, string gguf, int threads, string workloads, int vocab)
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(Orchestrator).Assembly.Location);
        }
        foreach (var a in new[] { mode, gguf, threads.ToString(CultureInfo.InvariantCulture), workloads, vocab.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();   // llama.cpp logs; shown only on failure
        var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        p.WaitForExit();
        var json = lines.LastOrDefault(l => l.TrimStart().StartsWith('{')) ?? throw new InvalidOperationException($"{mode} exited {p.ExitCode} without a result: {string.Concat(err.Result.TakeLast(2000))}");
        Console.Error.WriteLine(json.Length > 400 ? json[..400] + "…" : json);
        return JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;
    }

    // Best round: highest throughput, lowest times, highest peak RSS; vectors from the first round.
    private static Dictionary<string, JsonElement> Best(List<Dictionary<string, JsonElement>> runs)
    {
        var best = new Dictionary<string, JsonElement>(runs[0]);
        foreach (var key in new[] { "docs_tokens_per_s", "query_median_ms", "long_s", "batch_s", "load_s", "peak_rss_mb" })
        {
            var values = runs.Select(r => Num(r, key)).Where(v => v is not null).Select(v => v!.Value).ToList();
            if (values.Count == 0)
            {
                continue;
            }
            var v = key is "docs_tokens_per_s" or "peak_rss_mb" ? values.Max() : values.Min();
            best[key] = JsonSerializer.SerializeToElement(v);
        }
        return best;
    }

    private static double? Num(Dictionary<string, JsonElement> d, string k) => d.TryGetValue(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static string F(double? v, string fmt) => v is { } x ? x.ToString(fmt, CultureInfo.InvariantCulture) : "–";

    private static string Ratio(double? a, double? b) => a is { } x && b is { } y && y != 0 ? (x / y).ToString("F2", CultureInfo.InvariantCulture) + "×" : "–";

    private static void PrintTable(List<(string Type, Dictionary<string, JsonElement> Ours, Dictionary<string, JsonElement> Llama)> rows, int threads, int rounds)
    {
        var cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() : null;
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
        Console.WriteLine($"Machine: {cpu ?? "?"}, {Environment.ProcessorCount} logical CPUs, kernels {KernelCatalog.Default.Variant}, {threads} threads, load average at end: {load}");
        Console.WriteLine($"Model: full-size random EmbeddingGemma shapes (24 layers, hidden 768, FFN 1152, 3 heads / 1 KV head of 256, Dense 3072) from RandomModel.Create(\"full\", 42); its synthetic tokenizer gives a small vocabulary, so the embedding table is small.");
        Console.WriteLine($"Workloads: {Workloads.Docs} × {Workloads.DocTokens}-token documents; {Workloads.QueryTokens}-token query (median of {Workloads.QueryRuns}); one {Workloads.LongTokens}-token document; a batch of {Workloads.BatchInputs} inputs of 4-40 tokens in one call. Peak RSS covers every workload of the run. Each side: best of {rounds} alternating rounds.");
        Console.WriteLine();
        Console.WriteLine("| weights | docs tok/s ours | llama.cpp | ratio | query ms ours | llama.cpp | ratio | 2048-tok s ours | llama.cpp | batch-256 s ours | llama.cpp | load s ours | llama.cpp | peak RSS MB ours | llama.cpp | cos(ours, llama.cpp) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (type, o, l) in rows)
        {
            var cos = Cos(o, l);
            Console.WriteLine($"| {type} | {F(Num(o, "docs_tokens_per_s"), "F0")} | {F(Num(l, "docs_tokens_per_s"), "F0")} | {Ratio(Num(o, "docs_tokens_per_s"), Num(l, "docs_tokens_per_s"))} "
                + $"| {F(Num(o, "query_median_ms"), "F1")} | {F(Num(l, "query_median_ms"), "F1")} | {Ratio(Num(o, "query_median_ms"), Num(l, "query_median_ms"))} "
                + $"| {F(Num(o, "long_s"), "F2")} | {F(Num(l, "long_s"), "F2")} | {F(Num(o, "batch_s"), "F2")} | {F(Num(l, "batch_s"), "F2")} | {F(Num(o, "load_s"), "F2")} | {F(Num(l, "load_s"), "F2")} "
                + $"| {F(Num(o, "peak_rss_mb"), "F0")} | {F(Num(l, "peak_rss_mb"), "F0")} | {cos} |");
        }
    }

    private static string Cos(Dictionary<string, JsonElement> o, Dictionary<string, JsonElement> l)
    {
        if (!o.TryGetValue("docs_vectors", out var a) || !l.TryGetValue("docs_vectors", out var b))
        {
            return "–";
        }
        var va = a.Deserialize<float[][]>()!;
        var vb = b.Deserialize<float[][]>()!;
        var min = 1.0;
        for (var i = 0; i < Math.Min(va.Length, vb.Length); i++)
        {
            double d = 0, na = 0, nb = 0;
            for (var c = 0; c < va[i].Length; c++)
            {
                d += (double)va[i][c] * vb[i][c];
                na += (double)va[i][c] * va[i][c];
                nb += (double)vb[i][c] * vb[i][c];
            }
            min = Math.Min(min, d / Math.Sqrt(na * nb));
        }
        return min.ToString("F6", CultureInfo.InvariantCulture);
    }
}
