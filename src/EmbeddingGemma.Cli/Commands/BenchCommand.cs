using EmbeddingGemma.Embeddings;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using Spectre.Console;

namespace EmbeddingGemma.Cli.Commands;

/// <summary>
/// <c>embeddinggemma bench [--model &lt;folder|gguf&gt;] [--types f32,bf16,q8_0,q4_0] [--threads N] [--docs N]
/// [--arch embeddinggemma|embeddinggemma2] [--doc-tokens N] [--query-runs N] [--workloads docs,query,long,batch] [--peer [--bench-dll DLL] [--native DIR]] [--rounds N] [--json] [--dir DIR]</c>: measures our engine per
/// weight type, each type in its own child process of this tool (so peak RSS is per type), with fixed token ids.
/// Our side loads with <see cref="EmbeddingGemmaModel.Load"/> and encodes through <see cref="EmbeddingGemmaModel.EncodeTokenIds"/>
/// (the public API, as users run it). With <c>--peer</c> it delegates to the side-by-side benchmark (native llama.cpp and
/// LLamaSharp), found only through <c>--bench-dll</c> or <c>EMBEDDINGGEMMA_BENCH_DLL</c>; this tool carries no source-tree path.
/// </summary>
internal static class BenchCommand
{
    private static readonly string[] ValidTypes = ["f32", "bf16", "f16", "q8_0", "q4_0"];
    private static readonly string[] ValidWorkloads = ["docs", "query", "long", "batch"];
    private const int QueryTokens = 32;
    private const string BenchDllEnv = "EMBEDDINGGEMMA_BENCH_DLL", NativeEnv = "EMBEDDINGGEMMA_LLAMA_NATIVE";

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Hugging Face folder or .gguf to benchmark, of either architecture (default: a full-size random model of --arch, cached)." };
        var arch = new Option<string>("--arch") { Description = "Without --model: the random model's architecture, embeddinggemma (v1) or embeddinggemma2.", DefaultValueFactory = _ => EmbeddingGemmaModel.ArchitectureV1 };
        var types = new Option<string>("--types") { Description = "Weight types, comma-separated: f32, bf16, f16, q8_0, q4_0.", DefaultValueFactory = _ => "f32,bf16,q8_0,q4_0" };
        var threads = new Option<int>("--threads") { Description = "Threads (default: the library's default).", DefaultValueFactory = _ => KernelCatalog.DefaultThreads };
        var docs = new Option<int>("--docs") { Description = "Documents in the throughput workload.", DefaultValueFactory = _ => 64 };
        var docTokens = new Option<int>("--doc-tokens") { Description = "Tokens per document.", DefaultValueFactory = _ => 256 };
        var queryRuns = new Option<int>("--query-runs") { Description = "Single 32-token query repetitions (median reported).", DefaultValueFactory = _ => 30 };
        var workloads = new Option<string>("--workloads") { Description = "Workloads, comma-separated: docs, query, long (one document of the model's context: 2048 tokens for v1, 8192 for EmbeddingGemma 2), batch (256 inputs of 4-40 tokens in one call; peak RSS covers it).", DefaultValueFactory = _ => "docs,query,long,batch" };
        var peer = new Option<bool>("--peer") { Description = $"Also run llama.cpp side by side: delegates to the side-by-side benchmark of a source checkout, EmbeddingGemma.Benchmarks.dll, given by --bench-dll or ${BenchDllEnv}." };
        var benchDll = new Option<string?>("--bench-dll") { Description = $"With --peer: the built bench/EmbeddingGemma.Benchmarks dll (default: ${BenchDllEnv})." };
        var native = new Option<string?>("--native") { Description = $"With --peer: folder of the native llama.cpp build (embed_worker, llama-quantize, llama-embedding from bench/native-llama/build.sh; default: ${NativeEnv}, else the benchmark's own default)." };
        var rounds = new Option<int>("--rounds") { Description = "With --peer: alternating rounds per type (ours, llama.cpp, ours, ...); each side's best round is reported.", DefaultValueFactory = _ => 2 };
        var json = new Option<bool>("--json") { Description = "Write the results as JSON on stdout." };
        var dir = new Option<string?>("--dir") { Description = "Cache folder for the generated GGUF files (default: embeddinggemma/bench in the user's local application data)." };
        var worker = new Option<string?>("--worker-gguf") { Description = "Internal: measure one GGUF in this process and print one JSON line.", Hidden = true };
        var cmd = new Command("bench", "Benchmark the CPU engine per weight type (tokens/s, query latency, load time, peak RSS).");
        foreach (var o in new Option[] { model, arch, types, threads, docs, docTokens, queryRuns, workloads, peer, benchDll, native, rounds, json, dir, worker })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (ParseResult p, CancellationToken ct) =>
        {
            var typeList = ParseList(p.GetValue(types)!, ValidTypes, "type");
            var workloadList = ParseList(p.GetValue(workloads)!, ValidWorkloads, "workload");
            var n = p.GetValue(threads);
            var settings = new Settings(n, Positive(p.GetValue(docs), "--docs"), Positive(p.GetValue(docTokens), "--doc-tokens"), Positive(p.GetValue(queryRuns), "--query-runs"), workloadList);
            if (n <= 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--threads must be positive, got {n}.");
            }
            if (p.GetValue(worker) is { } gguf)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(Measure(gguf, settings)));
                return 0;
            }
            if (p.GetValue(peer))
            {
                if (p.GetResult(model) is { Implicit: false } || p.GetResult(docTokens) is { Implicit: false })
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "--peer runs the side-by-side benchmark on its own full-size random model with 256-token documents: --model and --doc-tokens are not supported with --peer.");
                }
                return await RunPeerAsync(typeList, settings, p.GetValue(dir), Math.Max(1, p.GetValue(rounds)), p.GetValue(benchDll), p.GetValue(native), ct).ConfigureAwait(false);
            }
            var architecture = p.GetValue(arch)!;
            if (architecture is not (EmbeddingGemmaModel.ArchitectureV1 or EmbeddingGemmaModel.ArchitectureV2))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--arch must be {EmbeddingGemmaModel.ArchitectureV1} or {EmbeddingGemmaModel.ArchitectureV2}, got '{architecture}'.");
            }
            if (p.GetResult(arch) is { Implicit: false } && p.GetValue(model) is not null)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "--arch chooses the random model; with --model the architecture is read from the files: give one or the other.");
            }
            return Run(p.GetValue(model), architecture, typeList, settings, p.GetValue(dir), p.GetValue(json), ct);
        });
        return cmd;
    }

    private sealed record Settings(int Threads, int Docs, int DocTokens, int QueryRuns, string[] Workloads);

    private static int Positive(int v, string name) => v > 0 ? v : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{name} must be positive, got {v}.");

    private static string[] ParseList(string text, string[] valid, string what)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).Distinct().ToArray();
        foreach (var i in items)
        {
            if (!valid.Contains(i))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown {what} '{i}': expected one or more of {string.Join(", ", valid)}.");
            }
        }
        return items.Length > 0 ? items : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"No {what} given: expected one or more of {string.Join(", ", valid)}.");
    }

    private static GgmlType TypeOf(string t) => t switch
    {
        "f32" => GgmlType.F32,
        "bf16" => GgmlType.BF16,
        "f16" => GgmlType.F16,
        "q8_0" => GgmlType.Q8_0,
        _ => GgmlType.Q4_0,
    };

    /// <summary>The default cache folder for generated GGUF files (no source-tree path: works from an installed tool).</summary>
    private static string DefaultDir() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "embeddinggemma", "bench");

    private static int Run(string? model, string architecture, string[] types, Settings s, string? dirOption, bool json, CancellationToken ct)
    {
        string? tempDir = null;
        string dir;
        if (model is not null)
        {
            // converted copies of a user model go to a temporary folder, removed at the end
            tempDir = Path.Combine(Path.GetTempPath(), "embeddinggemma-bench-" + Guid.NewGuid().ToString("N"));
            dir = tempDir;
        }
        else
        {
            dir = dirOption ?? DefaultDir();
        }
        Directory.CreateDirectory(dir);
        try
        {
            IModelCheckpoint? ckpt = null;
            var randomName = architecture == EmbeddingGemmaModel.ArchitectureV1 ? "embeddinggemma-random-full" : "embeddinggemma2-random-full";
            var results = new List<Dictionary<string, object>>();
            foreach (var t in types)
            {
                ct.ThrowIfCancellationRequested();
                var path = Path.Combine(dir, model is null ? $"{randomName}-{t}.gguf" : $"model-{t}.gguf");
                if (!File.Exists(path))
                {
                    Console.Error.WriteLine($"writing {path} ...");
                    ckpt ??= model is null ? ModelCheckpoints.Random(architecture, "full", 42) : ModelCheckpoints.Read(model);
                    ckpt.WriteGguf(path + ".tmp", TypeOf(t));
                    File.Move(path + ".tmp", path, overwrite: true);
                }
                Console.Error.WriteLine($"{t}: measuring ...");
                var r = Child(path, s, ct);
                r["type"] = t;
                r["file_mb"] = new FileInfo(path).Length / 1048576.0;
                results.Add(r);
            }
            var machine = Machine(s.Threads);
            var described = model ?? (architecture == EmbeddingGemmaModel.ArchitectureV1 ? "random full-size (RandomModel.Create(\"full\", 42))" : "random full-size EmbeddingGemma 2 (RandomModel2.Create(\"full\", 42))");
            PrintTable(results, machine, s, described);
            if (json)
            {
                var doc = new Dictionary<string, object>
                {
                    ["machine"] = machine,
                    ["model"] = model is null ? (architecture == EmbeddingGemmaModel.ArchitectureV1 ? "random-full" : "random-full-embeddinggemma2") : Path.GetFullPath(model),
                    ["workloads"] = new Dictionary<string, object>
                    {
                        ["docs"] = s.Docs, ["doc_tokens"] = s.DocTokens, ["query_tokens"] = QueryTokens, ["query_runs"] = s.QueryRuns,
                        ["run"] = s.Workloads,
                    },
                    ["results"] = results,
                };
                Console.Out.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
            }
            return 0;
        }
        finally
        {
            if (tempDir is not null)
            {
                try
                {
                    Directory.Delete(tempDir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>Runs this tool as a child (<c>bench --worker-gguf</c>) so the peak RSS is that of one type alone.</summary>
    private static Dictionary<string, object> Child(string gguf, Settings s, CancellationToken ct)
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
        }
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        foreach (var a in new[] { "bench", "--worker-gguf", gguf, "--threads", I(s.Threads), "--docs", I(s.Docs), "--doc-tokens", I(s.DocTokens),
            "--query-runs", I(s.QueryRuns), "--workloads", string.Join(',', s.Workloads) })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        using var reg = ct.Register(() =>
        {
            try
            {
                p.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        });
        var err = p.StandardError.ReadToEndAsync(ct);
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        ct.ThrowIfCancellationRequested();
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (p.ExitCode != 0 || line is null)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"benchmark of {gguf} failed (exit {p.ExitCode}): {err.Result.Trim()}");
        }
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.EnumerateObject().ToDictionary(x => x.Name, x => (object)(x.Value.ValueKind == JsonValueKind.Number ? x.Value.GetDouble() : x.Value.ToString()));
    }

    /// <summary>Deterministic ids in [4, vocab): BOS first and EOS last like real tokenized input (same as the side-by-side bench).</summary>
    private static int[] Ids(int seed, int length, int vocab)
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

    /// <summary>
    /// The worker: loads the GGUF through the public API (<see cref="EmbeddingGemmaModel.Load"/> with the thread count) and
    /// runs the workloads in this process with <see cref="EmbeddingGemmaModel.EncodeTokenIds"/>, each workload's sequences
    /// in one call, Normalize = false: the output after dense_3 as the side-by-side bench measures (the pooled output for a
    /// GGUF without Dense heads).
    /// </summary>
    private static Dictionary<string, object> Measure(string gguf, Settings s)
    {
        var sw = Stopwatch.StartNew();
        // What users run: EmbeddingGemmaModel.Load + EncodeTokenIds (output after dense_3, not normalised, like llama.cpp's).
        using var model = EmbeddingGemmaModel.Load(gguf, new ModelLoadOptions { Threads = s.Threads, AllowMissingDense = true, UseHub = false });
        var result = new Dictionary<string, object>
        {
            ["load_s"] = sw.Elapsed.TotalSeconds,
            ["kernels"] = KernelCatalog.Default.Variant.ToString(),
            ["weight_type"] = model.WeightType.ToString(),
            ["architecture"] = model.Architecture,
        };
        var vocab = model.Config.VocabSize;
        void Embed(int[][] seqs) => model.EncodeTokenIds(seqs, new EncodeOptions { Normalize = false, BatchSize = Math.Max(1, seqs.Length) });
        if (s.Workloads.Contains("docs"))
        {
            var docs = Enumerable.Range(0, s.Docs).Select(i => Ids(100 + i, s.DocTokens, vocab)).ToArray();
            Embed([docs[0]]);   // warm-up
            sw.Restart();
            Embed(docs);
            result["docs_tokens_per_s"] = (double)s.Docs * s.DocTokens / sw.Elapsed.TotalSeconds;
        }
        if (s.Workloads.Contains("query"))
        {
            var query = Ids(7, QueryTokens, vocab);
            Embed([query]);
            var times = new List<double>();
            for (var i = 0; i < s.QueryRuns; i++)
            {
                sw.Restart();
                Embed([query]);
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            result["query_median_ms"] = times[times.Count / 2];
        }
        if (s.Workloads.Contains("long"))
        {
            // one document of the model's whole context (v1 2,048 tokens, EmbeddingGemma 2 8,192)
            var longDoc = Ids(9, model.MaxTokens, vocab);
            sw.Restart();
            Embed([longDoc]);
            result["long_s"] = sw.Elapsed.TotalSeconds;
            result["long_tokens"] = (double)model.MaxTokens;
        }
        if (s.Workloads.Contains("batch"))
        {
            var batch = Enumerable.Range(0, 256).Select(i => Ids(1000 + i, 4 + i * 7 % 37, vocab)).ToArray();
            sw.Restart();
            Embed(batch);
            result["batch_s"] = sw.Elapsed.TotalSeconds;
        }
        result["peak_rss_mb"] = PeakRssMb();
        return result;
    }

    /// <summary>Peak resident set of this process (VmHWM), MB; 0 where /proc is absent.</summary>
    private static double PeakRssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private static Dictionary<string, object> Machine(int threads)
    {
        var cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() : null;
        return new Dictionary<string, object>
        {
            ["cpu"] = cpu ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(),
            ["logical_cpus"] = Environment.ProcessorCount,
            ["kernels"] = KernelCatalog.Default.Variant.ToString(),
            ["threads"] = threads,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["load_average"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "",
        };
    }

    private static void PrintTable(List<Dictionary<string, object>> results, Dictionary<string, object> machine, Settings s, string model)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Profile.Width = Math.Max(console.Profile.Width, 120);   // redirected output defaults to 80 columns: keep headers whole
        string F(Dictionary<string, object> r, string k, string fmt) => r.TryGetValue(k, out var v) && v is double d ? d.ToString(fmt, CultureInfo.InvariantCulture) : "–";
        var table = new Table().AddColumns("type", "docs tok/s", "query ms (median)", "long doc s", "long tokens", "batch-256 s", "load s", "peak RSS MB", "file MB");
        table.Title = new TableTitle(Markup.Escape($"EmbeddingGemma.NET bench: {model}"));
        foreach (var r in results)
        {
            table.AddRow(Markup.Escape(r["type"].ToString()!.ToUpperInvariant()), F(r, "docs_tokens_per_s", "F0"), F(r, "query_median_ms", "F1"), F(r, "long_s", "F2"), F(r, "long_tokens", "F0"), F(r, "batch_s", "F2"),
                F(r, "load_s", "F2"), F(r, "peak_rss_mb", "F0"), F(r, "file_mb", "F0"));
        }
        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Machine: {machine["cpu"]}, {machine["logical_cpus"]} logical CPUs, kernels {machine["kernels"]}, {s.Threads} threads; load average {machine["load_average"]}"));
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Workloads: {s.Docs} x {s.DocTokens}-token documents; {QueryTokens}-token query (median of {s.QueryRuns}); one document of the model's context; ran: {string.Join(',', s.Workloads)}"));
    }

    /// <summary>
    /// <c>--peer</c>: <c>dotnet EmbeddingGemma.Benchmarks.dll side-by-side ...</c> (the dll from <c>--bench-dll</c> or
    /// <c>EMBEDDINGGEMMA_BENCH_DLL</c>; nothing is looked up in a source tree), output streamed.
    /// </summary>
    private static async Task<int> RunPeerAsync(string[] types, Settings s, string? dir, int rounds, string? benchDll, string? native, CancellationToken ct)
    {
        benchDll ??= Environment.GetEnvironmentVariable(BenchDllEnv);
        if (string.IsNullOrWhiteSpace(benchDll) || !File.Exists(benchDll))
        {
            var why = string.IsNullOrWhiteSpace(benchDll) ? "no benchmark was given" : $"{Path.GetFullPath(benchDll)} does not exist";
            await Console.Error.WriteLineAsync($"error: the llama.cpp peer comparison (--peer) runs the side-by-side benchmark of a source checkout of EmbeddingGemma.NET, and {why}. "
                + $"Build it (dotnet build bench/EmbeddingGemma.Benchmarks -c Release; bench/native-llama/build.sh for native llama.cpp) and pass --bench-dll <checkout>/bench/EmbeddingGemma.Benchmarks/bin/Release/net10.0/EmbeddingGemma.Benchmarks.dll "
                + $"or set {BenchDllEnv}; or drop --peer to benchmark this engine alone.").ConfigureAwait(false);
            return ExitCodes.InvalidInput;
        }
        native ??= Environment.GetEnvironmentVariable(NativeEnv);
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        var args = new List<string> { Path.GetFullPath(benchDll), "side-by-side",
            "--types", string.Join(',', types), "--threads", s.Threads.ToString(CultureInfo.InvariantCulture), "--workloads", string.Join(',', s.Workloads), "--rounds", rounds.ToString(CultureInfo.InvariantCulture),
            "--dir", Path.GetFullPath(dir ?? DefaultDir()), "--cli", typeof(BenchCommand).Assembly.Location };
        if (!string.IsNullOrWhiteSpace(native))
        {
            args.AddRange(["--native", Path.GetFullPath(native)]);
        }
        args.ForEach(psi.ArgumentList.Add);
        psi.Environment["EMBEDDINGGEMMA_BENCH_DOCS"] = s.Docs.ToString(CultureInfo.InvariantCulture);
        psi.Environment["EMBEDDINGGEMMA_BENCH_QUERY_RUNS"] = s.QueryRuns.ToString(CultureInfo.InvariantCulture);
        await Console.Error.WriteLineAsync($"running: dotnet {string.Join(' ', args)}").ConfigureAwait(false);
        using var p = Process.Start(psi)!;
        try
        {
            await p.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        return p.ExitCode;
    }
}
