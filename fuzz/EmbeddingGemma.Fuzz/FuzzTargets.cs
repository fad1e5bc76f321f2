using System.Text;
using System.Text.Json;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Server.Core;
using EmbeddingGemma.Server.Http;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Fuzz;

/// <summary>
/// The fuzz targets: one entry point per parser of untrusted bytes. The contract of every target: only the
/// documented expected exceptions escape the code under test — <see cref="EmbeddingGemmaException"/> everywhere, plus
/// <see cref="ApiException"/> (the server's 4xx) for the HTTP parsers. <see cref="Run"/> swallows exactly those; any
/// other exception (IndexOutOfRange, NullReference, Overflow, InvalidOperation, OutOfMemory from a huge length...)
/// leaves it and is a crash. Shared by the AFL++ harness (Program.cs) and the in-process replay test
/// (tests/EmbeddingGemma.Server.Tests/CorpusReplayTests.cs), so both run the same code.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>Target names, as folder names under fuzz/corpus and fuzz/crashes and as the harness argument.</summary>
    public static readonly IReadOnlyList<string> Names = ["gguf", "safetensors", "tokenizer-json", "tokenize", "http", "index", "npy"];

    private static readonly Lazy<string> ScratchDir = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), $"embeddinggemma-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
        return dir;
    });

    /// <summary>The tokenizer of the "tokenize" target: the synthetic Gemma-style BPE (byte fallback, specials, ~700 pieces).</summary>
    private static readonly Lazy<GemmaTokenizer> SmallTokenizer = new(() =>
        GemmaTokenizer.FromJson(SyntheticTokenizer.CreateJson(), SyntheticTokenizer.CreateConfigJson()));

    /// <summary>Runs <paramref name="target"/> on <paramref name="data"/>; expected exceptions are swallowed, anything else escapes.</summary>
    public static void Run(string target, byte[] data) => Run(target, data, null);

    /// <summary>As <see cref="Run(string, byte[])"/>; <paramref name="expected"/> sees each expected exception swallowed (replay -v).</summary>
    public static void Run(string target, byte[] data, Action<Exception>? expected)
    {
        Expected = expected;
        ArgumentNullException.ThrowIfNull(data);
        try
        {
            switch (target)
            {
                case "gguf": Gguf(data); break;
                case "safetensors": Safetensors(data); break;
                case "tokenizer-json": TokenizerJson(data); break;
                case "tokenize": Tokenize(data); break;
                case "http": Http(data); break;
                case "index": Index(data); break;
                case "npy": NpyFile.ReadFloatMatrix(data, "fuzz.npy"); break; // embed --calibration FILE.npy
                default: throw new ArgumentException($"Unknown fuzz target '{target}'. Targets: {string.Join(", ", Names)}.", nameof(target));
            }
        }
        catch (EmbeddingGemmaException e)
        {
            // expected: a malformed file or input, reported with its kind
            expected?.Invoke(e);
        }
    }

    [ThreadStatic]
    private static Action<Exception>? Expected;

    /// <summary>The exception that breaks the contract on <paramref name="data"/>, or null when it holds.</summary>
    public static Exception? Check(string target, byte[] data, Action<Exception>? expected = null)
    {
        try
        {
            Run(target, data, expected);
            return null;
        }
        catch (ArgumentException e) when (e.ParamName == nameof(target))
        {
            throw;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static string WriteScratch(string name, byte[] data)
    {
        var path = Path.Combine(ScratchDir.Value, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    // ------------------------------------------------------------------ model files

    /// <summary>GGUF: header, metadata, tensor table, every tensor's bytes, the vocabulary and tokenizer, then the model loader.</summary>
    private static void Gguf(byte[] data)
    {
        var path = WriteScratch("model.gguf", data);
        using (var g = GgufFile.Open(path))
        {
            long sum = 0;
            foreach (var t in g.Tensors.Values)
            {
                var bytes = g.GetBytes(t);
                sum += bytes.IsEmpty ? 0 : bytes[0] + bytes[^1];
            }
            GC.KeepAlive(sum);
            foreach (var (key, value) in g.Metadata)
            {
                if (value.Type == GgufValueType.String)
                {
                    _ = g.GetString(key);
                }
            }
            var v = TokenizerVocabulary.FromGguf(g);
            if (v is not null)
            {
                var tokenizer = new GemmaTokenizer(new SentencePieceVocabulary(v.Tokens, v.Scores, v.TokenTypes.Select(t => (SentencePieceTokenType)t).ToArray(),
                    v.BosId, v.EosId, v.UnknownId, v.PaddingId, v.AddBos, v.AddEos));
                var ids = tokenizer.EncodeToIds("the quick brown fox, 你好 <eos>!");
                _ = tokenizer.Decode(ids);
            }
        }
        using var weights = ModelWeights.LoadGguf(path);
    }

    /// <summary>safetensors: header JSON, tensor table, every tensor's bytes.</summary>
    private static void Safetensors(byte[] data)
    {
        var path = WriteScratch("model.safetensors", data);
        using var s = SafetensorsFile.Open(path);
        long sum = 0;
        foreach (var t in s.Tensors.Values)
        {
            var bytes = s.GetBytes(t);
            sum += bytes.IsEmpty ? 0 : bytes[0] + bytes[^1];
        }
        sum += s.Metadata.Count;
        GC.KeepAlive(sum);
    }

    // ------------------------------------------------------------------ tokenizer

    /// <summary>
    /// tokenizer.json + tokenizer_config.json: the input is the tokenizer.json bytes, optionally followed by a 0x00 byte
    /// and the tokenizer_config.json bytes. A tokenizer that loads must encode and decode a fixed text.
    /// </summary>
    private static void TokenizerJson(byte[] data)
    {
        int split = Array.IndexOf(data, (byte)0);
        var json = split < 0 ? data.AsSpan() : data.AsSpan(0, split);
        var config = split < 0 ? default : data.AsSpan(split + 1);
        var tokenizer = GemmaTokenizer.FromUtf8Json(json, config);
        var ids = tokenizer.EncodeToIds("Hello, world! 你好 <start_of_turn> \u00e9\u0301 \U0001F600");
        _ = tokenizer.Decode(ids, skipSpecialTokens: true);
        _ = tokenizer.EncodeToTokens("a  b\tc\n", 4, out _);
    }

    /// <summary>Encoding arbitrary text (the bytes decoded as UTF-8, invalid sequences replaced) with the small synthetic vocabulary.</summary>
    private static void Tokenize(byte[] data)
    {
        var tokenizer = SmallTokenizer.Value;
        var text = Encoding.UTF8.GetString(data);
        var ids = tokenizer.EncodeToIds(text);
        var tokens = tokenizer.EncodeToTokens(text);
        if (tokens.Count != ids.Length)
        {
            throw new InvalidOperationException($"EncodeToTokens gave {tokens.Count} tokens, EncodeToIds {ids.Length}.");
        }
        foreach (var t in tokens)
        {
            _ = t.Offset.GetOffsetAndLength(text.Length); // ArgumentOutOfRangeException (a crash) when outside the text
        }
        int max = 2 + (data.Length == 0 ? 0 : data[0] % 16);
        var cut = tokenizer.EncodeToIds(text, max, out bool truncated, out int full);
        if (cut.Length > max || full != ids.Length || truncated != (ids.Length > max))
        {
            throw new InvalidOperationException($"Truncation to {max}: {cut.Length} ids, full count {full} (untruncated {ids.Length}), truncated={truncated}.");
        }
        _ = tokenizer.Decode(ids);
        _ = tokenizer.Decode(ids, skipSpecialTokens: true);
        _ = tokenizer.EncodeToIds(text, addSpecialTokens: false);
    }

    // ------------------------------------------------------------------ HTTP request bodies

    /// <summary>A request body through the server's parsers of /v1/embeddings, /embed, /tokenize and /search (400s are ApiException).</summary>
    private static void Http(byte[] data)
    {
        JsonDocument doc;
        try
        {
            doc = JsonRequest.Parse(data);
        }
        catch (ApiException e)
        {
            Expected?.Invoke(e);
            return;
        }
        using (doc)
        {
            var root = doc.RootElement;
            Try(() => EmbeddingEndpoints.ParseOpenAI(root));
            Try(() => EmbeddingEndpoints.ParseEmbedNative(root));
            Try(() => EmbeddingEndpoints.ParseTokenize(root));
            Try(() =>
            {
                var request = EmbeddingEndpoints.ParseSearch(root);
                SemanticIndex.ValidateFilter(request.Filter);
                return request;
            });
        }

        static void Try<T>(Func<T> parse)
        {
            try
            {
                _ = parse();
            }
            catch (ApiException e)
            {
                Expected?.Invoke(e);
            }
            catch (EmbeddingGemmaException e)
            {
                Expected?.Invoke(e);
            }
        }
    }

    // ------------------------------------------------------------------ search index

    /// <summary>Arbitrary bytes as an index file: open read-only (as serve --db and search do), info, documents, a search in each mode.</summary>
    private static void Index(byte[] data)
    {
        var dir = ScratchDir.Value;
        foreach (var stale in new[] { "index.db-wal", "index.db-shm", "index.db-journal" })
        {
            File.Delete(Path.Combine(dir, stale));
        }
        var path = WriteScratch("index.db", data);
        using var index = SemanticIndex.Open(path, new SemanticIndexOptions { ReadOnly = true, ScanThreads = 1 });
        _ = index.GetInfo();
        foreach (var id in index.GetDocumentIds().Take(8))
        {
            _ = index.GetDocument(id);
        }
        if (index.Dimension is int d && d > 0)
        {
            var query = new float[d];
            query[0] = 1;
            foreach (var mode in Enum.GetValues<SearchMode>())
            {
                _ = index.Search(query, new SearchOptions { Mode = mode, TopK = 3, FunnelDimension = Math.Max(1, d / 2) }, "the red planet");
            }
            _ = index.Search(query, new SearchOptions { Filter = new Dictionary<string, string>(StringComparer.Ordinal) { ["lang"] = "en" } });
        }
    }
}
