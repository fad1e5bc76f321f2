// Output-precision benchmark (not a test): recall@10 against exact float32 search, and bytes per vector, for
// sentence-transformers' precisions (int8, uint8, binary/ubinary) and for the binary search index, on a shipped
// retrieval corpus. Every vector comes through a public path: EmbeddingGemmaModel.Load + Encode (a model folder or
// .gguf) or the model-free HashingEmbeddingGenerator. Command and table: README "Output precision".
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Embeddings.Precision;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Search;
using EmbeddingGemma.Search.Index;
using Microsoft.Extensions.AI;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string? model = null, data = "data/eval/scifact_beir";
int maxTokens = 256, k = 10, oversample = 4, docLimit = int.MaxValue, queryLimit = int.MaxValue, hashDim = 768, threads = 0;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--model": model = args[++i]; break;           // a model folder / .gguf, or hash / hash:DIM
        case "--data": data = args[++i]; break;             // a BEIR folder with corpus.jsonl(.gz) and queries.jsonl(.gz)
        case "--max-tokens": maxTokens = int.Parse(args[++i]); break;
        case "--oversample": oversample = int.Parse(args[++i]); break;
        case "--docs": docLimit = int.Parse(args[++i]); break;
        case "--queries": queryLimit = int.Parse(args[++i]); break;
        case "--threads": threads = int.Parse(args[++i]); break;
        default: throw new ArgumentException($"unknown argument {args[i]}; use --model M [--data DIR] [--max-tokens N] [--oversample N] [--docs N] [--queries N] [--threads N]");
    }
}
if (model is null)
{
    throw new ArgumentException("--model is required: a model folder, a .gguf, or hash[:DIM]");
}

var docs = ReadJsonl(data, "corpus").Take(docLimit).Select(e => (Title: e.TryGetProperty("title", out var t) ? t.GetString() : null, Text: e.GetProperty("text").GetString()!)).ToList();
var queries = ReadJsonl(data, "queries").Take(queryLimit).Select(e => e.GetProperty("text").GetString()!).ToList();
var clock = Stopwatch.StartNew();
float[][] docVectors, queryVectors;
string embedder;
if (model == "hash" || model.StartsWith("hash:", StringComparison.Ordinal))
{
    if (model.Length > 5)
    {
        hashDim = int.Parse(model[5..]);
    }
    using var gen = new HashingEmbeddingGenerator(hashDim);
    docVectors = (await gen.GenerateAsync(docs.Select(d => (d.Title is null ? "" : d.Title + " ") + d.Text))).Select(e => e.Vector.ToArray()).ToArray();
    queryVectors = (await gen.GenerateAsync(queries)).Select(e => e.Vector.ToArray()).ToArray();
    embedder = $"HashingEmbeddingGenerator({hashDim}) (bag of words, no model)";
}
else
{
    using var m = EmbeddingGemmaModel.Load(model, new ModelLoadOptions { Threads = threads });
    var docOptions = EncodeOptions.Document with { MaxTokens = maxTokens };
    // The document prompt with each document's title (title: {title} | text: ...), as sentence-transformers' encode_document.
    docVectors = docs.Select((d, i) => (d, i)).GroupBy(x => x.d.Title).SelectMany(g =>
        m.Encode(g.Select(x => x.d.Text).ToList(), docOptions with { Title = g.Key }).Zip(g.Select(x => x.i))).OrderBy(x => x.Second).Select(x => x.First).ToArray();
    queryVectors = m.Encode(queries, EncodeOptions.Query with { MaxTokens = maxTokens });
    embedder = $"EmbeddingGemmaModel {model} ({m.WeightType} weights, {m.Dimensions} dims, {m.Threads} threads), prompts document/query, max {maxTokens} tokens";
}
int dim = docVectors[0].Length;
Console.WriteLine($"PrecisionBench: {data}: {docs.Count} documents, {queries.Count} queries; {embedder}; embedded in {clock.Elapsed.TotalSeconds:F1} s");
Console.WriteLine($"recall@{k}: share of the exact float32 top {k} (inner product of unit vectors) found; rescoring takes the top {k} x {oversample} and re-ranks with the float query");
Console.WriteLine();

// Ground truth: exact float32 search.
var truth = queryVectors.Select(q => TopK(docVectors.Length, r => VectorOps.Dot(docVectors[r], q), k).ToHashSet()).ToArray();
double Recall(Func<float[], IEnumerable<int>> search) =>
    queryVectors.Select((q, i) => search(q).Take(k).Count(truth[i].Contains) / (double)k).Average();

var rows = new List<string[]>();
void Row(string precision, double bytes, string? note, double plain, double? rescored) => rows.Add([
    precision, bytes.ToString("0.##"), (4.0 * dim / bytes).ToString("0.#") + "x",
    plain.ToString("F3"), rescored?.ToString("F3") ?? "-", note ?? ""]);

Row("float32", 4 * dim, "exact search (the reference)", Recall(q => TopK(docVectors.Length, r => VectorOps.Dot(docVectors[r], q), k)), null);

// int8 / uint8: ranges calibrated on the corpus embeddings (sentence-transformers' calibration_embeddings); queries
// quantized with the same ranges; integer inner product; rescoring as sentence-transformers: float query . quantized row.
var ranges = QuantizationRanges.FromEmbeddings(docVectors, "corpus");
foreach (var p in new[] { EmbeddingPrecision.Int8, EmbeddingPrecision.UInt8 })
{
    var qd = EmbeddingQuantizer.Quantize(docVectors, p, ranges);
    var qq = EmbeddingQuantizer.Quantize(queryVectors, p, ranges);
    var docInts = Enumerable.Range(0, qd.Count).Select(qd.IntegerRow).ToArray();
    double plain = queryVectors.Select((q, i) =>
    {
        var qi = qq.IntegerRow(i);
        return TopK(docInts.Length, r => IntDot(docInts[r], qi), k).Count(truth[i].Contains) / (double)k;
    }).Average();
    double rescored = queryVectors.Select((q, i) =>
    {
        var qi = qq.IntegerRow(i);
        var cands = TopK(docInts.Length, r => IntDot(docInts[r], qi), k * oversample);
        return cands.OrderByDescending(r => FloatIntDot(q, docInts[r])).Take(k).Count(truth[i].Contains) / (double)k;
    }).Average();
    Row(p.Name(), dim, $"ranges from the {docs.Count} corpus vectors (+{2 * 4 * dim} bytes once)", plain, rescored);
}

// binary / ubinary: the same sign bits; Hamming distance; rescoring as sentence-transformers: float query . unpacked bits.
{
    var qd = EmbeddingQuantizer.Quantize(docVectors, EmbeddingPrecision.UBinary);
    var qq = EmbeddingQuantizer.Quantize(queryVectors, EmbeddingPrecision.UBinary);
    double plain = queryVectors.Select((q, i) =>
        TopK(qd.Count, r => -VectorOps.HammingDistance(qd.RowData(r), qq.RowData(i)), k).Count(truth[i].Contains) / (double)k).Average();
    double rescored = queryVectors.Select((q, i) =>
    {
        var cands = TopK(qd.Count, r => -VectorOps.HammingDistance(qd.RowData(r), qq.RowData(i)), k * oversample);
        return cands.OrderByDescending(r => BitDot(q, qd.RowData(r))).Take(k).Count(truth[i].Contains) / (double)k;
    }).Average();
    Row("binary / ubinary", (dim + 7) / 8, "Hamming distance; rescored with the unpacked 0/1 bits", plain, rescored);
}

// The search index at binary precision (public SemanticIndex API): bits in memory, int8 on disk for rescoring.
var dir = Directory.CreateTempSubdirectory("precision-bench");
try
{
    using var index = SemanticIndex.Open(Path.Combine(dir.FullName, "binary.db"), new SemanticIndexOptions { Precision = EmbeddingPrecision.Binary });
    index.Upsert(docs.Select((d, i) => new SemanticIndex.PreparedDocument(new SearchDocument($"{i}", d.Text), SemanticIndex.Hash($"{i}"),
        [new TextChunk(0, 0, d.Text.Length, d.Text)], [docVectors[i]], [])).ToList(), "bench");
    double Search(int over) => queryVectors.Select((q, i) =>
        index.Search(q, new SearchOptions { TopK = k, Oversample = over, OneHitPerDocument = false }).Count(h => truth[i].Contains(int.Parse(h.DocumentId))) / (double)k).Average();
    Row("index --precision binary", (dim + 7) / 8, $"SemanticIndex: bits in memory, {(dim + 7) / 8 + 4 + dim} bytes on disk (bits + scale + int8 for rescoring)", Search(1), Search(oversample));
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    dir.Delete(true);
}

Console.WriteLine($"| precision | bytes/vector (dim {dim}) | smaller than float32 | recall@{k} | recall@{k}, rescored (x{oversample}) | notes |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (var r in rows)
{
    Console.WriteLine("| " + string.Join(" | ", r) + " |");
}
Console.WriteLine($"\ntotal {clock.Elapsed.TotalSeconds:F1} s");
return 0;

static IEnumerable<JsonElement> ReadJsonl(string dir, string name)
{
    var path = File.Exists(Path.Combine(dir, name + ".jsonl")) ? Path.Combine(dir, name + ".jsonl") : Path.Combine(dir, name + ".jsonl.gz");
    using var file = File.OpenRead(path);
    using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
    using var reader = new StreamReader(s);
    var list = new List<JsonElement>();
    while (reader.ReadLine() is { } line)
    {
        if (!string.IsNullOrWhiteSpace(line))
        {
            list.Add(JsonDocument.Parse(line).RootElement.Clone());
        }
    }
    return list;
}

// The k best rows by score (ties: lower row first).
static List<int> TopK(int n, Func<int, double> score, int k) =>
    Enumerable.Range(0, n).Select(r => (r, s: score(r))).OrderByDescending(x => x.s).ThenBy(x => x.r).Take(k).Select(x => x.r).ToList();

static double IntDot(int[] a, int[] b)
{
    long s = 0;
    for (int i = 0; i < a.Length; i++)
    {
        s += a[i] * b[i];
    }
    return s;
}

static double FloatIntDot(float[] q, int[] v)
{
    double s = 0;
    for (int i = 0; i < q.Length; i++)
    {
        s += q[i] * v[i];
    }
    return s;
}

static double BitDot(float[] q, ReadOnlySpan<byte> bits)
{
    double s = 0;
    for (int i = 0; i < q.Length; i++)
    {
        if ((bits[i >> 3] >> (7 - (i & 7)) & 1) == 1)
        {
            s += q[i];
        }
    }
    return s;
}
