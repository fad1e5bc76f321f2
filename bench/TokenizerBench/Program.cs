// Tokenizer benchmark: ours vs Hugging Face tokenizers (Rust, via Tokenizers.DotNet) on the same texts in the same
// run, single thread. Prints load time and memory, MB/s and tokens/s, and the ratio.
// Usage: dotnet run --project bench/TokenizerBench -c Release -- [tokenizer.json] [shared-data-folder] [--load-only]
// (data folder default: $EMBEDDINGGEMMA_SHARED_DATA, else ../shared/data beside the clone; without it only the
// synthetic rows run).
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmbeddingGemma.Tokenization;

var repo = FindRepoRoot();
var jsonPath = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : Path.Combine(repo, ".cache", "tokenizer-gemma3", "tokenizer.json");
var dataDir = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1]
    : Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_SHARED_DATA") is { Length: > 0 } env ? env
    : Path.GetFullPath(Path.Combine(repo, "..", "shared", "data"));
var loadOnly = args.Contains("--load-only");

Console.WriteLine($"tokenizer: {jsonPath}");
Console.WriteLine($"data: {(Directory.Exists(dataDir) ? dataDir : "(none: only the synthetic rows)")}");
Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");

// ---- load time and memory (ours): first load includes JIT; report the best of 3 as well.
GC.Collect();
var before = GC.GetTotalMemory(true);
var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
var sw = Stopwatch.StartNew();
var ours = GemmaTokenizer.FromFile(jsonPath, new GemmaTokenizerOptions { AddBosToken = true, AddEosToken = true });
var firstLoad = sw.Elapsed.TotalSeconds;
var firstCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
var after = GC.GetTotalMemory(true);
GC.KeepAlive(ours);
var best = firstLoad;
var bestCpu = firstCpu;
for (var i = 0; i < 2; i++)
{
    var c0 = Process.GetCurrentProcess().TotalProcessorTime;
    sw.Restart();
    var again = GemmaTokenizer.FromFile(jsonPath);
    best = Math.Min(best, sw.Elapsed.TotalSeconds);
    bestCpu = Math.Min(bestCpu, (Process.GetCurrentProcess().TotalProcessorTime - c0).TotalSeconds);
    GC.KeepAlive(again);
}
Console.WriteLine($"ours: load {firstLoad:F2} s wall / {firstCpu:F2} s CPU first (with JIT), best of 3 {best:F2} s wall / {bestCpu:F2} s CPU; managed heap held by the tokenizer {(after - before) / 1048576.0:F0} MiB");
if (loadOnly)
{
    return;
}

// ---- the oracle with <bos> $A <eos>
var patched = Path.Combine(Path.GetTempPath(), "tokenizer-bench-bos-eos.json");
var node = JsonNode.Parse(File.ReadAllText(jsonPath))!;
node["post_processor"] = JsonNode.Parse("""{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<bos>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<eos>","type_id":0}}],"pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{"<bos>":{"id":"<bos>","ids":[2],"tokens":["<bos>"]},"<eos>":{"id":"<eos>","ids":[1],"tokens":["<eos>"]}}}""");
File.WriteAllText(patched, node.ToJsonString());
GC.Collect();
var ws0 = Process.GetCurrentProcess().WorkingSet64;
var hc0 = Process.GetCurrentProcess().TotalProcessorTime;
sw.Restart();
var hf = new Tokenizers.DotNet.Tokenizer(vocabPath: patched);
var hfCpu = (Process.GetCurrentProcess().TotalProcessorTime - hc0).TotalSeconds;
Console.WriteLine($"hf:   load {sw.Elapsed.TotalSeconds:F2} s wall / {hfCpu:F2} s CPU (patched copy of the same file); process working set grew {(Process.GetCurrentProcess().WorkingSet64 - ws0) / 1048576.0:F0} MiB");

// ---- texts
var sets = new List<(string Name, List<string> Texts)>();
if (Directory.Exists(dataDir))
{
    sets.Add(("sotu_corpus (English speeches, 40 docs)", JsonField(Path.Combine(dataDir, "sotu_corpus", "corpus.jsonl.gz"), "text").Take(40).ToList()));
    var multi = new List<string>();
    foreach (var dir in Directory.GetDirectories(Path.Combine(dataDir, "sib200")).Order(StringComparer.Ordinal))
    {
        multi.AddRange(File.ReadLines(Path.Combine(dir, "train.tsv")).Skip(1).Select(l => l.Split('\t')[^1]));
    }
    sets.Add(("sib200 (11 languages, sentences)", multi));
    var code = JsonField(Path.Combine(dataDir, "mbpp", "mbpp.jsonl"), "code").ToList();
    code.AddRange(JsonField(Path.Combine(dataDir, "humaneval", "HumanEval.jsonl.gz"), "prompt"));
    sets.Add(("code (mbpp + humaneval)", code));
}
sets.Add(("100,000 spaces", [new string(' ', 100_000)]));
sets.Add(("1 MB word, no merges (random CJK ext.)", [RandomNoMergeWord(1 << 20)]));

Console.WriteLine();
var uncached = GemmaTokenizer.FromFile(jsonPath, new GemmaTokenizerOptions { AddBosToken = true, AddEosToken = true, WordCacheSize = 0 });
Console.WriteLine("| texts | MB (UTF-8) | tokens | ours MB/s | ours tokens/s | ours, word cache off, MB/s | HF MB/s | HF tokens/s | ours / HF | ours (cache off) / HF |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
foreach (var (name, texts) in sets)
{
    var bytes = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t));
    long tokens = 0;
    foreach (var t in texts.Take(50))
    {
        ours.EncodeToIds(t); // warm-up
        hf.Encode(t);
    }
    var oursSeconds = Measure(() => { tokens = 0; foreach (var t in texts) { tokens += ours.EncodeToIds(t).Length; } });
    var uncachedSeconds = Measure(() => { foreach (var t in texts) { uncached.EncodeToIds(t); } });
    var hfSeconds = Measure(() => { foreach (var t in texts) { hf.Encode(t); } });
    var mb = bytes / 1e6;
    Console.WriteLine($"| {name} | {mb:F2} | {tokens:N0} | {mb / oursSeconds:F1} | {tokens / oursSeconds:N0} | {mb / uncachedSeconds:F1} | {mb / hfSeconds:F2} | {tokens / hfSeconds:N0} | {hfSeconds / oursSeconds:F1}x | {hfSeconds / uncachedSeconds:F1}x |");
}

// Best of several runs, in process CPU seconds (the machine is shared, so wall time mostly measures the neighbours;
// both tokenizers encode on the calling thread).
static double Measure(Action run)
{
    var best = double.MaxValue;
    var total = Stopwatch.StartNew();
    for (var i = 0; i < 5 && (i < 2 || total.Elapsed.TotalSeconds < 20); i++)
    {
        var c0 = Process.GetCurrentProcess().TotalProcessorTime;
        run();
        best = Math.Min(best, (Process.GetCurrentProcess().TotalProcessorTime - c0).TotalSeconds);
    }
    return best;
}

static string RandomNoMergeWord(int chars)
{
    // CJK Extension B scalars: single pieces or byte fallback, almost never merged.
    var rng = new Random(1);
    var sb = new StringBuilder(chars);
    while (sb.Length < chars)
    {
        sb.Append(char.ConvertFromUtf32(0x20000 + rng.Next(0xA000)));
    }
    return sb.ToString();
}

static IEnumerable<string> JsonField(string path, string field)
{
    using var stream = File.OpenRead(path);
    using var s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : (Stream)stream;
    using var reader = new StreamReader(s);
    while (reader.ReadLine() is { } line)
    {
        using var doc = JsonDocument.Parse(line);
        if (doc.RootElement.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String)
        {
            yield return v.GetString()!;
        }
    }
}

static string FindRepoRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "global.json")))
    {
        dir = dir.Parent;
    }
    return dir?.FullName ?? Directory.GetCurrentDirectory();
}
