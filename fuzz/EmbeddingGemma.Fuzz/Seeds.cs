using System.Text;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Model;
using EmbeddingGemma.Search.Index;
using Microsoft.Data.Sqlite;

namespace EmbeddingGemma.Fuzz;

/// <summary>
/// Writes the seed corpora (fuzz/corpus/&lt;target&gt;/): small valid files made by the project's own writers
/// (RandomModel, GgufWriter, SafetensorsWriter, SyntheticTokenizer, SemanticIndex) and edge cases (truncations,
/// empty files, foreign formats). Deterministic: `dotnet run --project fuzz/EmbeddingGemma.Fuzz -- seeds fuzz/corpus`.
/// </summary>
internal static class Seeds
{
    public static void Write(string root)
    {
        var work = Path.Combine(Path.GetTempPath(), $"embeddinggemma-seeds-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            ModelFiles(root, work);
            TokenizerFiles(root);
            TextFiles(root);
            HttpBodies(root);
            IndexFiles(root, work);
            NpyFiles(root);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void Put(string root, string target, string name, byte[] data)
    {
        var dir = Path.Combine(root, target);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, name), data);
    }

    private static void Put(string root, string target, string name, string text) => Put(root, target, name, Encoding.UTF8.GetBytes(text));

    /// <summary>The smallest model of the real architecture: hidden 8, one layer, a 20-merge synthetic vocabulary.</summary>
    private static ModelCheckpoint Micro(string work)
    {
        var tok = Path.Combine(work, "tokenizer.json");
        File.WriteAllText(tok, SyntheticTokenizer.CreateJson(merges: 20));
        return RandomModel.Create("tiny", 1, c => c with
        {
            HiddenSize = 8,
            IntermediateSize = 16,
            NumHiddenLayers = 1,
            NumAttentionHeads = 2,
            NumKeyValueHeads = 1,
            HeadDim = 4,
            QueryPreAttnScalar = 4,
            SlidingWindow = 4,
            LayerTypes = null,
        }, tokenizerJsonPath: tok, denseIntermediate: 16);
    }

    private static void ModelFiles(string root, string work)
    {
        var ckpt = Micro(work);
        var gguf = Path.Combine(work, "micro.gguf");
        ckpt.WriteGguf(gguf);
        var g = File.ReadAllBytes(gguf);
        Put(root, "gguf", "micro-f32.gguf", g);
        var f16 = Path.Combine(work, "micro-f16.gguf");
        ckpt.WriteGguf(f16, GgmlType.F16);
        Put(root, "gguf", "micro-f16.gguf", File.ReadAllBytes(f16));
        Put(root, "gguf", "truncated-header.gguf", g[..24]);
        Put(root, "gguf", "truncated-half.gguf", g[..(g.Length / 2)]);
        Put(root, "gguf", "truncated-last-byte.gguf", g[..^1]);
        Put(root, "gguf", "empty.gguf", []);
        var small = Path.Combine(work, "small.gguf");
        new GgufWriter()
            .AddString("general.architecture", "gemma-embedding")
            .AddUInt32("gemma-embedding.block_count", 1)
            .AddBool("tokenizer.ggml.add_bos_token", true)
            .AddStrings("tokenizer.ggml.tokens", ["<pad>", "<eos>", "<bos>", "<unk>", "a", "b", "▁", "ab"])
            .AddFloats("tokenizer.ggml.scores", [0, 0, 0, 0, -1, -2, -3, -0.5f])
            .AddInts("tokenizer.ggml.token_type", [3, 3, 3, 2, 1, 1, 1, 1])
            .AddTensor("token_embd.weight", GgmlType.F32, [4, 2], [1, 2, 3, 4, 5, 6, 7, 8])
            .Write(small);
        Put(root, "gguf", "metadata-vocab-one-tensor.gguf", File.ReadAllBytes(small));

        var folder = Path.Combine(work, "hf");
        ckpt.WriteHuggingFaceFolder(folder);
        var st = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));
        Put(root, "safetensors", "micro-f32.safetensors", st);
        Put(root, "safetensors", "truncated-half.safetensors", st[..(st.Length / 2)]);
        Put(root, "safetensors", "truncated-header-length.safetensors", st[..4]);
        var dense = Directory.GetFiles(folder, "*.safetensors", SearchOption.AllDirectories).Where(f => !f.EndsWith("model.safetensors", StringComparison.Ordinal)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (dense is not null)
        {
            Put(root, "safetensors", "dense.safetensors", File.ReadAllBytes(dense));
        }
        var mixed = Path.Combine(work, "mixed.safetensors");
        SafetensorsWriter.Write(mixed,
        [
            new TensorToWrite("a", GgmlType.F16, [2, 2], [1, 2, 3, 4]),
            new TensorToWrite("b", GgmlType.BF16, [3], [1, -1, 0.5f]),
            new TensorToWrite("empty", GgmlType.F32, [0, 4], []),
        ], new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" });
        Put(root, "safetensors", "f16-bf16-empty.safetensors", File.ReadAllBytes(mixed));
        Put(root, "safetensors", "header-only.safetensors", Header("{}"));
        Put(root, "safetensors", "metadata-only.safetensors", Header("{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}"));
        Put(root, "safetensors", "bad-offsets.safetensors", Header("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4));

        static byte[] Header(string json, int data = 0)
        {
            var h = Encoding.UTF8.GetBytes(json);
            var b = new byte[8 + h.Length + data];
            BitConverter.TryWriteBytes(b.AsSpan(0, 8), (ulong)h.Length);
            h.CopyTo(b, 8);
            return b;
        }
    }

    private static void TokenizerFiles(string root)
    {
        var json = SyntheticTokenizer.CreateJson(merges: 20);
        var config = SyntheticTokenizer.CreateConfigJson();
        Put(root, "tokenizer-json", "synthetic-20-merges.bin", json + "\0" + config);
        Put(root, "tokenizer-json", "synthetic-no-config.bin", json);
        Put(root, "tokenizer-json", "synthetic-config-no-bos.bin", json + "\0" + "{\"add_bos_token\": false, \"add_eos_token\": true}");
        Put(root, "tokenizer-json", "minimal-bpe.bin",
            "{\"added_tokens\":[{\"id\":0,\"content\":\"<pad>\",\"special\":true},{\"id\":1,\"content\":\"<eos>\",\"special\":true},{\"id\":2,\"content\":\"<bos>\",\"special\":true},{\"id\":3,\"content\":\"<unk>\",\"special\":true}]," +
            "\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"▁\"},\"pre_tokenizer\":null," +
            "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":\"<unk>\",\"vocab\":{\"<pad>\":0,\"<eos>\":1,\"<bos>\":2,\"<unk>\":3,\"a\":4,\"b\":5,\"ab\":6,\"▁\":7},\"merges\":[\"a b\"]}}");
        Put(root, "tokenizer-json", "empty-object.bin", "{}");
        Put(root, "tokenizer-json", "not-json.bin", "tokenizer");
    }

    private static void TextFiles(string root)
    {
        Put(root, "tokenize", "english.txt", "The quick brown fox jumps over the lazy dog. Which planet is known as the red planet?");
        Put(root, "tokenize", "cjk-emoji.txt", "什么是文本嵌入模型? 如何安装Python包 \U0001F600\U0001F44D\u200d 🇫🇷");
        Put(root, "tokenize", "specials.txt", "<bos>task: search result | query: <eos><pad><unk><mask> <start_of_turn>");
        Put(root, "tokenize", "whitespace.txt", "  a\t\tb\r\n\n  c   \u00a0\u3000d ");
        Put(root, "tokenize", "combining.txt", "e\u0301 \u1100\u1161\u11a8 ﬁ Ａ ǅ");
        Put(root, "tokenize", "invalid-utf8.bin", [0x61, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0xed, 0xa0, 0x80, 0x62]);
        Put(root, "tokenize", "repeated.txt", new string('a', 2000) + new string(' ', 100) + string.Concat(Enumerable.Repeat("the ", 200)));
        Put(root, "tokenize", "empty.txt", []);
    }

    private static void HttpBodies(string root)
    {
        var bodies = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["openai-strings.json"] = "{\"input\":[\"hello\",\"world\"],\"model\":\"embeddinggemma\",\"encoding_format\":\"base64\",\"dimensions\":128}",
            ["openai-tokens.json"] = "{\"input\":[[2,100,1],\"text\"],\"prompt_name\":\"query\",\"task_type\":\"query\",\"truncate\":false,\"normalize\":false,\"user\":\"u\"}",
            ["openai-string.json"] = "{\"input\":\"one text\",\"task\":\"document\",\"prompt\":\"title: none | text: \"}",
            ["article.json"] = "{\"texts\":[\"如何安装Python包?\",\"pip\"],\"titles\":[\"t\",null],\"task_type\":\"retrieval_query\",\"dimensions\":256,\"normalize\":true}",
            ["tei.json"] = "{\"inputs\":[\"What is Deep Learning?\"],\"prompt_name\":\"query\",\"truncate\":true,\"truncation_direction\":\"right\"}",
            ["tei-left.json"] = "{\"inputs\":[[1,2,3]],\"truncation_direction\":\"left\"}",
            ["tokenize.json"] = "{\"texts\":[\"a\",\"b\"],\"prompt_name\":\"query\",\"truncate\":true}",
            ["search.json"] = "{\"query\":\"什么是文本嵌入模型?\",\"top_k\":2,\"threshold\":0.1,\"mode\":\"hybrid\",\"filter\":{\"lang\":\"zh\"}}",
            ["search-bad-filter.json"] = "{\"query\":\"q\",\"filter\":{\"\":\"x\",\"k\\u0001\":\"y\"}}",
            ["both-shapes.json"] = "{\"texts\":[\"a\"],\"inputs\":[\"b\"]}",
            ["surrogate-escape.json"] = "{\"input\":[\"a\\ud800\"],\"\\udc00\":1}",
            ["paired-escape.json"] = "{\"input\":\"\\ud83d\\ude00\"}",
            ["deep.json"] = "{\"input\":" + new string('[', 70) + new string(']', 70) + "}",
            ["numbers.json"] = "{\"input\":[[1e400,-1,2147483648,1.5]],\"dimensions\":1e9,\"top_k\":-0}",
            ["wrong-types.json"] = "{\"input\":{\"a\":1},\"normalize\":\"yes\",\"dimensions\":\"8\",\"titles\":7}",
            ["array-root.json"] = "[1,2,3]",
            ["empty.json"] = "",
        };
        foreach (var (name, body) in bodies)
        {
            Put(root, "http", name, body);
        }
        Put(root, "http", "invalid-utf8.json", [.. "{\"input\":[\"a"u8, 0xff, 0xc3, .. "\"]}"u8]);
    }

    private static void IndexFiles(string root, string work)
    {
        var path = Path.Combine(work, "index.db");
        using (var index = SemanticIndex.Open(path))
        {
            var docs = new List<SemanticIndex.PreparedDocument>();
            for (int d = 0; d < 3; d++)
            {
                var text = $"document {d}: the red planet is mars";
                var chunks = new[] { new TextChunk(0, 0, text.Length, text) };
                var v = new float[8];
                v[d] = 1;
                v[7] = 0.5f;
                docs.Add(new SemanticIndex.PreparedDocument(
                    new SearchDocument($"d{d}", text) { Title = d == 0 ? null : $"title {d}", Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["lang"] = d == 2 ? "zh" : "en" } },
                    SemanticIndex.Hash(text), chunks, [v], [SemanticIndex.Hash("cache", text)]));
            }
            index.Upsert(docs, "fuzz-model", "fuzz-model", "fingerprint0");
        }
        SqliteConnection.ClearAllPools();
        var wal = File.ReadAllBytes(path);
        Put(root, "index", "index-wal.db", wal);
        // A binary-precision index: meta 'precision' = 'binary', chunk BLOBs of sign bits + scale + int8.
        var binary = Path.Combine(work, "binary.db");
        using (var index = SemanticIndex.Open(binary, new SemanticIndexOptions { Precision = EmbeddingGemma.Embeddings.Precision.EmbeddingPrecision.Binary }))
        {
            var text = "binary precision document";
            var v = new float[] { 0.5f, -0.25f, 0.1f, 0f, -0.7f, 0.3f, 0.2f, -0.1f, 0.05f };
            index.Upsert([new SemanticIndex.PreparedDocument(new SearchDocument("b0", text), SemanticIndex.Hash(text),
                [new TextChunk(0, 0, text.Length, text)], [v], [])], "fuzz-model", "fuzz-model", "fingerprint0");
        }
        SqliteConnection.ClearAllPools();
        using (var c = new SqliteConnection($"Data Source={binary};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;";
            cmd.ExecuteNonQuery();
        }
        Put(root, "index", "index-binary.db", File.ReadAllBytes(binary));
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;";
            cmd.ExecuteNonQuery();
        }
        var compact = File.ReadAllBytes(path);
        Put(root, "index", "index-512.db", compact);
        Put(root, "index", "truncated.db", compact[..(compact.Length / 2)]);
        Put(root, "index", "header-only.db", compact[..100]);
        var foreign = Path.Combine(work, "foreign.db");
        using (var c = new SqliteConnection($"Data Source={foreign};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA page_size=512; CREATE TABLE t(x); INSERT INTO t VALUES (1);";
            cmd.ExecuteNonQuery();
        }
        Put(root, "index", "foreign.db", File.ReadAllBytes(foreign));
        Put(root, "index", "not-sqlite.db", "SQLite format 2\0 hello");
        Put(root, "index", "empty.db", []);
    }

    /// <summary>.npy calibration files (<c>embed --calibration</c>): float32/float64/float16, 1-D and 2-D, version 2.0, and edge cases.</summary>
    private static void NpyFiles(string root)
    {
        static byte[] Npy(string descr, int rows, int cols, byte[] data)
        {
            using var ms = new MemoryStream();
            NpyFile.Write(ms, descr, rows, cols, data);
            return ms.ToArray();
        }
        var f4 = new byte[24];
        for (int i = 0; i < 6; i++)
        {
            BitConverter.TryWriteBytes(f4.AsSpan(i * 4), i * 0.5f - 1f);
        }
        var f8 = new byte[16];
        BitConverter.TryWriteBytes(f8.AsSpan(0), 0.1);
        BitConverter.TryWriteBytes(f8.AsSpan(8), -2.0);
        var f4File = Npy("<f4", 2, 3, f4);
        Put(root, "npy", "f4-2x3.npy", f4File);
        Put(root, "npy", "f8-1x2.npy", Npy("<f8", 1, 2, f8));
        Put(root, "npy", "f2-2x2.npy", Npy("<f2", 2, 2, [0, 0x3C, 0, 0xBC, 0, 0x38, 0xFF, 0x7B]));
        Put(root, "npy", "big-endian.npy", Npy(">f4", 1, 2, [0x3F, 0x80, 0, 0, 0xC0, 0, 0, 0]));
        Put(root, "npy", "i1.npy", Npy("|i1", 1, 4, [1, 2, 3, 4]));
        Put(root, "npy", "truncated.npy", f4File[..(f4File.Length - 5)]);
        var header = Encoding.ASCII.GetBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }       \n");
        var v2 = new byte[12 + header.Length + 12];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }.CopyTo(v2, 0);
        v2[6] = 2;
        BitConverter.TryWriteBytes(v2.AsSpan(8), header.Length);
        header.CopyTo(v2, 12);
        Put(root, "npy", "v2-1d.npy", v2);
        var fortran = Encoding.ASCII.GetBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }\n");
        Put(root, "npy", "fortran.npy", [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)fortran.Length, 0, .. fortran, 0, 0, 0x80, 0x3F]);
        var huge = Encoding.ASCII.GetBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2147483647, 2147483647), }\n");
        Put(root, "npy", "huge-shape.npy", [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)huge.Length, 0, .. huge, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
