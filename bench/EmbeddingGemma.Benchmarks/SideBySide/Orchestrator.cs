using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Benchmarks.SideBySide;

/// <summary>
/// <c>dotnet bench/EmbeddingGemma.Benchmarks/bin/Release/net10.0/EmbeddingGemma.Benchmarks.dll side-by-side
/// [--types f32,bf16,q8_0,q4_0] [--threads 2] [--workloads docs,query,long,batch] [--rounds 2] [--dir .cache/bench]
/// [--peers native,llamasharp] [--native DIR] [--pack 512] [--tokenizer tokenizer.json] [--whole-process on|off] [--cli DLL]</c>.
/// <para>
/// Makes (or reuses) a full-size random EmbeddingGemma GGUF per type carrying the real Gemma 3 vocabulary (262,144
/// pieces, from <c>.cache/tokenizer-gemma3/tokenizer.json</c>, see scripts/fetch-assets.sh), and for Q8_0 / Q4_0 also
/// llama.cpp's own quantization of the F32 file (<c>llama-quantize f32.gguf out.gguf Q4_0</c>, which keeps a Q6_K token
/// embedding as files in the wild do). Per file it runs our engine (public API: EmbeddingGemmaModel.Load +
/// EncodeTokenIds), native llama.cpp (bench/native-llama/embed_worker, built by bench/native-llama/build.sh) and
/// LLamaSharp 0.30.0 alternately for <c>--rounds</c> rounds, each run its own child process (peak RSS is its own), same
/// file, threads and token ids; each side's best round is reported. Prints a Markdown table (ratio = ours ÷ that row),
/// the FMA peak measured in this run with the F32 forward's GFLOP/s as a share of it, and then the whole-process
/// workload: our CLI's <c>embed</c> against <c>llama-embedding</c> on one text file.
/// </para>
/// </summary>
internal static class Orchestrator
{
    private const string NativeEnv = "EMBEDDINGGEMMA_LLAMA_NATIVE";

    private sealed record ModelFile(string Label, string Path, string Type);

    private sealed record Row(ModelFile File, string Engine, Dictionary<string, JsonElement>? Result, string? Error);

    public static int Run(string[] args)
    {
        string? Opt(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        string Arg(string name, string def) => Opt(name) ?? def;
        var types = Arg("--types", "f32,bf16,q8_0,q4_0").ToLowerInvariant().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var threads = int.Parse(Arg("--threads", KernelCatalog.DefaultThreads.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        var workloads = Arg("--workloads", "docs,query,long,batch");
        var rounds = Math.Max(1, int.Parse(Arg("--rounds", "2"), CultureInfo.InvariantCulture));
        var dir = Path.GetFullPath(Arg("--dir", Path.Combine(".cache", "bench")));
        var peers = Arg("--peers", "native,llamasharp").ToLowerInvariant().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var pack = Arg("--pack", "512");
        var wholeProcess = Arg("--whole-process", "on") != "off";
        var useNative = peers.Contains("native");
        var useSharp = peers.Contains("llamasharp");
        Directory.CreateDirectory(dir);

        // the native build: --native DIR, else $EMBEDDINGGEMMA_LLAMA_NATIVE, else .cache/llama.cpp-native/bin of this checkout
        var nativeBin = Opt("--native") ?? Environment.GetEnvironmentVariable(NativeEnv) ?? Path.Combine(".cache", "llama.cpp-native", "bin");
        nativeBin = Path.GetFullPath(nativeBin);
        var worker = Path.Combine(nativeBin, "embed_worker");
        var quantize = Path.Combine(nativeBin, "llama-quantize");
        var embedding = Path.Combine(nativeBin, "llama-embedding");
        if ((useNative || wholeProcess) && !File.Exists(worker))
        {
            Console.Error.WriteLine($"error: the native llama.cpp peer was not found: {worker} does not exist. Build it with bench/native-llama/build.sh "
                + $"(it writes .cache/llama.cpp-native/bin), or pass --native DIR / set {NativeEnv}=DIR to a folder holding embed_worker, llama-quantize and llama-embedding; "
                + "or run without it: --peers llamasharp --whole-process off.");
            return 2;
        }

        // the real Gemma 3 vocabulary (llama-embedding tokenizes with it; the ids workloads draw from all 262,144 rows)
        var tokenizer = Opt("--tokenizer") ?? Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_GEMMA3_TOKENIZER") ?? Path.Combine(".cache", "tokenizer-gemma3", "tokenizer.json");
        if (!File.Exists(tokenizer))
        {
            Console.Error.WriteLine($"error: {tokenizer} not found: run scripts/fetch-assets.sh (it fetches the real Gemma 3 tokenizer.json), pass --tokenizer FILE or set EMBEDDINGGEMMA_GEMMA3_TOKENIZER=FILE.");
            return 2;
        }
        ModelCheckpoint? ckpt = null;
        string Ours(string t)
        {
            var path = Path.Combine(dir, $"embeddinggemma-random-full-gemma3vocab-{t}.gguf");
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"writing {path} ...");
                ckpt ??= RandomModel.Create("full", 42, tokenizerJsonPath: tokenizer);
                ckpt.WriteGguf(path + ".tmp", TypeOf(t));
                File.Move(path + ".tmp", path, overwrite: true);
            }
            return path;
        }

        var files = new List<ModelFile>();
        foreach (var t in types)
        {
            _ = TypeOf(t);
            if (t is "q8_0" or "q4_0")
            {
                files.Add(new ModelFile($"{t.ToUpperInvariant()} (our quantizer)", Ours(t), t));
                if (File.Exists(quantize))
                {
                    var lq = Path.Combine(dir, $"embeddinggemma-random-full-gemma3vocab-{t}-llama-quantize.gguf");
                    if (!File.Exists(lq))
                    {
                        var f32 = Ours("f32");
                        Console.Error.WriteLine($"llama-quantize {f32} {lq} {t.ToUpperInvariant()} ...");
                        var (rc, _, err) = Exec(quantize, [f32, lq + ".tmp", t.ToUpperInvariant(), threads.ToString(CultureInfo.InvariantCulture)]);
                        if (rc != 0)
                        {
                            throw new InvalidOperationException($"llama-quantize failed ({rc}): {Tail(err)}");
                        }
                        File.Move(lq + ".tmp", lq, overwrite: true);
                    }
                    files.Add(new ModelFile($"{t.ToUpperInvariant()} (llama-quantize)", lq, t));
                }
            }
            else
            {
                files.Add(new ModelFile(t.ToUpperInvariant(), Ours(t), t));
            }
        }
        ckpt = null;

        var peakBefore = QuickGemm.FmaPeak(threads);
        var rows = new List<Row>();
        var idsFiles = new Dictionary<int, string>();
        foreach (var f in files)
        {
            int vocab;
            using (var g = GgufFile.Open(f.Path))
            {
                vocab = checked((int)g.Tensors["token_embd.weight"].Shape[0]);
                Console.Error.WriteLine($"{f.Label}: {Path.GetFileName(f.Path)}: " + string.Join(", ", g.Tensors.Values.GroupBy(x => x.Type).Select(x => $"{x.Count()} x {x.Key}"))
                    + $"; token_embd {g.Tensors["token_embd.weight"].Type}");
            }
            if (!idsFiles.TryGetValue(vocab, out var ids))
            {
                ids = Path.Combine(dir, $"ids-{vocab}-{Workloads.Docs}docs.txt");
                Workloads.WriteIdsFile(ids, vocab);
                idsFiles[vocab] = ids;
            }
            var sides = new List<(string Engine, Func<Dictionary<string, JsonElement>> Run)>
            {
                ("ours", () => Self("worker-ours", f.Path, threads, workloads, vocab)),
            };
            if (useNative)
            {
                sides.Add(("llama.cpp native", () => Native(worker, f.Path, threads, workloads, ids, pack)));
            }
            if (useSharp)
            {
                sides.Add(("LLamaSharp 0.30.0", () => Self("worker-llama", f.Path, threads, workloads, vocab)));
            }
            var runs = sides.Select(_ => new List<Dictionary<string, JsonElement>>()).ToArray();
            var errors = new string?[sides.Count];
            for (var r = 1; r <= rounds; r++)
            {
                for (var s = 0; s < sides.Count; s++)
                {
                    if (errors[s] is not null)
                    {
                        continue;
                    }
                    Console.Error.WriteLine($"{f.Label}: {sides[s].Engine} (round {r}/{rounds}) ...");
                    try
                    {
                        runs[s].Add(sides[s].Run());
                    }
                    catch (InvalidOperationException e)
                    {
                        errors[s] = e.Message;
                        Console.Error.WriteLine($"  failed: {Tail(e.Message, 600)}");
                    }
                }
            }
            for (var s = 0; s < sides.Count; s++)
            {
                rows.Add(new Row(f, sides[s].Engine, runs[s].Count > 0 ? Best(runs[s]) : null, errors[s]));
            }
        }
        var peakAfter = QuickGemm.FmaPeak(threads);
        PrintTable(rows, threads, rounds, pack);
        PrintFlops(rows, files, threads, Math.Max(peakBefore, peakAfter), peakBefore, peakAfter);
        if (wholeProcess)
        {
            var cli = Path.GetFullPath(Arg("--cli", Path.Combine("src", "EmbeddingGemma.Cli", "bin", "Release", "net10.0", "EmbeddingGemma.Cli.dll")));
            WholeProcess.Run(files.Select(f => (f.Label, f.Path)).ToList(), threads, rounds, dir, tokenizer, cli, embedding);
        }
        return 0;
    }

    internal static GgmlType TypeOf(string t) => t switch
    {
        "f32" => GgmlType.F32,
        "bf16" => GgmlType.BF16,
        "f16" => GgmlType.F16,
        "q8_0" => GgmlType.Q8_0,
        "q4_0" => GgmlType.Q4_0,
        _ => throw new ArgumentException($"unknown type {t}: expected f32, bf16, f16, q8_0, q4_0"),
    };

    internal static string Tail(string s, int n = 2000) => s.Length > n ? "…" + s[^n..] : s;

    /// <summary>Runs a program to its end; returns exit code, stdout and stderr.</summary>
    internal static (int Rc, string Out, string Err) Exec(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result, err.Result);
    }

    private static Dictionary<string, JsonElement> Parse(string mode, int rc, string stdout, string stderr)
    {
        var json = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'))
            ?? throw new InvalidOperationException($"{mode} exited {rc} without a result: {Tail(stderr)}");
        Console.Error.WriteLine(json.Length > 400 ? json[..400] + "…" : json);
        return JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;
    }

    private static Dictionary<string, JsonElement> Self(string mode, string gguf, int threads, string workloads, int vocab)
    {
        var self = Environment.ProcessPath!;
        var args = new List<string>();
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            args.Add(typeof(Orchestrator).Assembly.Location);
        }
        args.AddRange([mode, gguf, threads.ToString(CultureInfo.InvariantCulture), workloads, vocab.ToString(CultureInfo.InvariantCulture)]);
        var (rc, o, e) = Exec(self, args);
        return Parse(mode, rc, o, e);
    }

    private static Dictionary<string, JsonElement> Native(string worker, string gguf, int threads, string workloads, string ids, string pack)
    {
        var (rc, o, e) = Exec(worker, [gguf, threads.ToString(CultureInfo.InvariantCulture), workloads, ids, "--pack", pack]);
        return Parse("embed_worker", rc, o, e);
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

    private static double? Num(Dictionary<string, JsonElement>? d, string k) => d is not null && d.TryGetValue(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    internal static string F(double? v, string fmt) => v is { } x ? x.ToString(fmt, CultureInfo.InvariantCulture) : "–";

    internal static string Ratio(double? a, double? b) => a is { } x && b is { } y && y != 0 ? (x / y).ToString("F2", CultureInfo.InvariantCulture) + "×" : "–";

    internal static string MachineLine(int threads)
    {
        var cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() : null;
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
        return $"Machine: {cpu ?? "?"}, {Environment.ProcessorCount} logical CPUs, kernels {KernelCatalog.Default.Variant}, {threads} threads, load average now: {load}";
    }

    private static void PrintTable(List<Row> rows, int threads, int rounds, string pack)
    {
        Console.WriteLine(MachineLine(threads));
        Console.WriteLine("Model: full-size random EmbeddingGemma shapes (24 layers, hidden 768, FFN 1152, 3 heads / 1 KV head of 256, Dense 3072) from RandomModel.Create(\"full\", 42) with the real Gemma 3 vocabulary (262,144 rows).");
        Console.WriteLine($"Workloads: {Workloads.Docs} × {Workloads.DocTokens}-token documents; {Workloads.QueryTokens}-token query (median of {Workloads.QueryRuns}); one {Workloads.LongTokens}-token document; a batch of {Workloads.BatchInputs} inputs of 4-40 tokens in one call. Peak RSS covers every workload of the run. Each side: best of {rounds} alternating rounds.");
        Console.WriteLine($"Engines: ours = EmbeddingGemmaModel.Load + EncodeTokenIds(all sequences in one call, Normalize = false); llama.cpp native = bench/native-llama/embed_worker (llama.cpp from node-llama-cpp 3.22.1's source, -march=native, sequences packed into ubatches of up to {pack} tokens); LLamaSharp 0.30.0 = NuGet CPU backend, one sequence per decode. Ratios: ours ÷ that row (tok/s: above 1 = ours faster; ms and s: below 1 = ours faster).");
        Console.WriteLine();
        Console.WriteLine("| weights | engine | docs tok/s | ours ÷ | query ms | ours ÷ | 2048-tok s | ours ÷ | batch-256 s | ours ÷ | load s | peak RSS MB | cos(ours, this) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var group in rows.GroupBy(r => r.File))
        {
            var ours = group.First(r => r.Engine == "ours").Result;
            foreach (var row in group)
            {
                var isOurs = row.Engine == "ours";
                var engine = row.Result is { } res && res.TryGetValue("engine", out var e) ? e.GetString()! : row.Engine;
                if (row.Result is null)
                {
                    Console.WriteLine($"| {(isOurs ? group.Key.Label : "")} | {row.Engine}: failed ({Tail(row.Error ?? "?", 160).Replace('|', '/').ReplaceLineEndings(" ")}) | – | – | – | – | – | – | – | – | – | – | – |");
                    continue;
                }
                var l = row.Result;
                string R(string key) => isOurs ? "" : Ratio(Num(ours, key), Num(l, key));
                Console.WriteLine($"| {(isOurs ? group.Key.Label : "")} | {engine} "
                    + $"| {F(Num(l, "docs_tokens_per_s"), "F0")} | {R("docs_tokens_per_s")} | {F(Num(l, "query_median_ms"), "F1")} | {R("query_median_ms")} "
                    + $"| {F(Num(l, "long_s"), "F2")} | {R("long_s")} | {F(Num(l, "batch_s"), "F2")} | {R("batch_s")} "
                    + $"| {F(Num(l, "load_s"), "F2")} | {F(Num(l, "peak_rss_mb"), "F0")} | {(isOurs ? "" : Cos(ours, l))} |");
            }
        }
        Console.WriteLine();
    }

    /// <summary>
    /// FLOPs per token of the forward for an S-token document: 2 × the parameters of every per-layer matrix, plus the
    /// Dense matrices (once per sequence, so ÷ S), plus attention (QKᵀ and PV: 4 × keys × heads × head_dim per layer,
    /// keys = min(S, sliding_window) on sliding layers, S on global ones).
    /// </summary>
    internal static double FlopsPerToken(string gguf, int s)
    {
        var c = GemmaConfig.EmbeddingGemma300M;
        using var g = GgufFile.Open(gguf);
        double perToken = 0, perSeq = 0;
        foreach (var t in g.Tensors.Values.Where(t => t.Shape.Length == 2 && t.Name != "token_embd.weight"))
        {
            if (t.Name.StartsWith("blk.", StringComparison.Ordinal))
            {
                perToken += 2.0 * t.ElementCount;
            }
            else
            {
                perSeq += 2.0 * t.ElementCount;
            }
        }
        var layers = g.Tensors.Keys.Where(k => k.StartsWith("blk.", StringComparison.Ordinal)).Select(k => k.Split('.')[1]).Distinct().Count();
        var types = c.LayerTypes ?? GemmaConfig.DefaultLayerTypes(layers, c.SlidingWindowPattern);
        for (var l = 0; l < layers; l++)
        {
            var keys = l < types.Count && types[l] == "sliding_attention" ? Math.Min(s, c.SlidingWindow) : s;
            perToken += 4.0 * keys * c.NumAttentionHeads * c.HeadDim;
        }
        return perToken + perSeq / s;
    }

    private static void PrintFlops(List<Row> rows, List<ModelFile> files, int threads, double peak, double before, double after)
    {
        Console.WriteLine($"FMA peak measured in this run ({threads} threads, 12 independent Vector256 FMA chains per thread; before / after the runs): {before:F1} / {after:F1} GFLOP/s.");
        var f32 = files.FirstOrDefault(f => f.Type == "f32");
        if (f32 is null)
        {
            Console.WriteLine("(no F32 file in --types: no forward GFLOP/s figure)");
            Console.WriteLine();
            return;
        }
        var flops = FlopsPerToken(f32.Path, Workloads.DocTokens);
        Console.WriteLine($"F32 forward, {Workloads.DocTokens}-token documents: {flops / 1e6:F1} MFLOP per token (2 × every layer matrix, Dense ÷ {Workloads.DocTokens}, attention 4·S·heads·head_dim per layer).");
        foreach (var r in rows.Where(r => r.File == f32 && r.Result is not null))
        {
            if (Num(r.Result, "docs_tokens_per_s") is { } tps)
            {
                var gf = tps * flops / 1e9;
                Console.WriteLine($"  {r.Engine}: {tps:F0} tok/s = {gf:F1} GFLOP/s = {100 * gf / peak:F0}% of the measured FMA peak ({peak:F1}).");
            }
        }
        Console.WriteLine();
    }

    private static string Cos(Dictionary<string, JsonElement>? o, Dictionary<string, JsonElement> l)
    {
        if (o is null || !o.TryGetValue("docs_vectors", out var a) || !l.TryGetValue("docs_vectors", out var b))
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
