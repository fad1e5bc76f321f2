using System.Buffers.Binary;
using System.Text;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Tests.Formats;

/// <summary>
/// Issue 12 (no crash, no hang, no silent corruption on any input), the file-format and library findings: each test
/// is named after the finding of the hostile-input probe it guards.
/// </summary>
public sealed class HardeningTests
{
    private static EmbeddingGemmaException Fails(Action a, ErrorKind kind, params string[] mentions)
    {
        var e = Assert.Throws<EmbeddingGemmaException>(a);
        Assert.True(e.Kind == kind, $"expected {kind}, got {e.Kind}: {e.Message}");
        foreach (var m in mentions)
        {
            Assert.Contains(m, e.Message, StringComparison.Ordinal);
        }
        return e;
    }

    private static string CopyFolder(string src)
    {
        var dst = TestPaths.NewTempDir();
        foreach (var f in Directory.GetFiles(src, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(src, f);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dst, rel))!);
            File.Copy(f, Path.Combine(dst, rel));
        }
        return dst;
    }

    /// <summary>The tiny GGUF rewritten with <paramref name="change"/> applied to its metadata.</summary>
    private static string TinyGgufWith(Action<GgufWriter, GgufFile> change, Func<string, bool>? keep = null)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "edited.gguf");
        using var g = GgufFile.Open(TinyModels.Default.GgufPath);
        var w = new GgufWriter();
        foreach (var (key, value) in g.Metadata)
        {
            if (keep?.Invoke(key) ?? true)
            {
                w.AddValue(key, value);
            }
        }
        change(w, g);
        foreach (var t in g.Tensors.Values)
        {
            w.AddRawTensor(t.Name, t.Type, t.Shape, g.GetBytes(t).ToArray());
        }
        w.Write(path);
        return path;
    }

    [Fact]
    public void SafetensorsOverlappingDataOffsetsAreRefusedNamingBothTensors()
    {
        var header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}";
        var path = Path.Combine(TestPaths.NewTempDir(), "overlap.safetensors");
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + 24];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        Fails(() => SafetensorsFile.Open(path).Dispose(), ErrorKind.InvalidFormat, "'a'", "'b'", "overlap", path);

        // the same bytes claimed twice under one name (a duplicate JSON key) is refused too
        header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        h = Encoding.UTF8.GetBytes(header);
        bytes = new byte[8 + h.Length + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        Fails(() => SafetensorsFile.Open(path).Dispose(), ErrorKind.InvalidFormat, "'a'", "twice");
    }

    [Fact]
    public void GgufTensorRangeOverlappingAnotherIsRefusedNamingBothTensors()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "overlap.gguf");
        new GgufWriter()
            .AddString("general.architecture", "gemma-embedding")
            .AddTensor("first", GgmlType.F32, [32], new float[32])
            .AddTensor("second", GgmlType.F32, [32], new float[32])
            .Write(path);
        using (var ok = GgufFile.Open(path))
        {
            Assert.Equal(2, ok.Tensors.Count);
        }
        // point "second" at data offset 0 (aligned, inside the file): it now aliases "first"'s bytes
        var bytes = File.ReadAllBytes(path);
        var name = Encoding.UTF8.GetBytes("second");
        var at = bytes.AsSpan().IndexOf(name) + name.Length;
        var offsetField = at + 4 + 8 + 4;   // n_dims u32, one dim u64, type u32
        Assert.Equal(128UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(offsetField)));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offsetField), 0);
        File.WriteAllBytes(path, bytes);
        Fails(() => GgufFile.Open(path).Dispose(), ErrorKind.InvalidFormat, "'first'", "'second'", "overlap", path);
    }

    [Fact]
    public void GgufSlidingWindowPatternZeroIsRefusedNamingFileAndKey()
    {
        const string key = "gemma-embedding.attention.sliding_window_pattern";
        var path = TinyGgufWith((w, _) => w.AddUInt32(key, 0), k => k != key);
        Fails(() => EmbeddingGemmaModel.Load(path).Dispose(), ErrorKind.InvalidFormat, path, key, "is 0");
    }

    [Fact]
    public void GgufEmbeddingLength2Pow31IsRefusedNamingFileAndKey()
    {
        const string key = "gemma-embedding.embedding_length";
        var path = TinyGgufWith((w, _) => w.AddUInt32(key, 1u << 31), k => k != key);
        Fails(() => EmbeddingGemmaModel.Load(path).Dispose(), ErrorKind.InvalidFormat, path, key, "2147483648");
        // every integer key, and the floats, are range-checked the same way
        foreach (var (k, v) in new[] { ("gemma-embedding.attention.head_count", 0u), ("gemma-embedding.block_count", 100_000u), ("tokenizer.ggml.bos_token_id", 1u << 30) })
        {
            var p = TinyGgufWith((w, _) => w.AddUInt32(k, v), x => x != k);
            Fails(() => EmbeddingGemmaModel.Load(p).Dispose(), ErrorKind.InvalidFormat, p, k);
        }
        const string eps = "gemma-embedding.attention.layer_norm_rms_epsilon";
        var nan = TinyGgufWith((w, _) => w.AddFloat32(eps, float.NaN), x => x != eps);
        Fails(() => EmbeddingGemmaModel.Load(nan).Dispose(), ErrorKind.InvalidFormat, nan, eps, "NaN");
    }

    [Fact]
    public void InvalidMaxSeqLengthInSentenceBertConfigIsAnErrorNamingFileAndField()
    {
        foreach (var bad in new[] { "0", "-5", "\"2048\"", "1.5", "99999999999" })
        {
            var dir = CopyFolder(TinyModels.Default.Folder);
            var file = Path.Combine(dir, "sentence_bert_config.json");
            File.WriteAllText(file, $"{{\"max_seq_length\": {bad}, \"do_lower_case\": false}}");
            Fails(() => EmbeddingGemmaModel.Load(dir).Dispose(), ErrorKind.InvalidFormat, file, "max_seq_length", bad);
        }
    }

    [Fact]
    public void InvalidPromptsInConfigSentenceTransformersAreAnErrorNamingFileAndField()
    {
        var dir = CopyFolder(TinyModels.Default.Folder);
        var file = Path.Combine(dir, "config_sentence_transformers.json");
        File.WriteAllText(file, "{\"prompts\": {\"query\": 5}}");
        Fails(() => EmbeddingGemmaModel.Load(dir).Dispose(), ErrorKind.InvalidFormat, file, "prompts.query");
        File.WriteAllText(file, "{\"prompts\": [\"task: x\"]}");
        Fails(() => EmbeddingGemmaModel.Load(dir).Dispose(), ErrorKind.InvalidFormat, file, "'prompts'");
        File.WriteAllText(file, "[1, 2]");
        Fails(() => EmbeddingGemmaModel.Load(dir).Dispose(), ErrorKind.InvalidFormat, file);
    }

    [Fact]
    public void DenseOutFeaturesInSideFilesAreCheckedEvenWithoutModulesJson()
    {
        var dir = CopyFolder(TinyModels.Default.Folder);
        File.Delete(Path.Combine(dir, "modules.json"));
        var cfg = Path.Combine(dir, "2_Dense", "config.json");
        File.WriteAllText(cfg, File.ReadAllText(cfg).Replace("\"out_features\": 256", "\"out_features\": 999", StringComparison.Ordinal));
        Assert.Contains("999", File.ReadAllText(cfg), StringComparison.Ordinal);
        Fails(() => EmbeddingGemmaModel.Load(dir).Dispose(), ErrorKind.InvalidFormat, cfg, "out_features");
        File.WriteAllText(cfg, "{\"in_features\": 64, \"out_features\": \"lots\"}");
        Fails(() => EmbeddingGemmaModel.Load(dir).Dispose(), ErrorKind.InvalidFormat, cfg, "out_features");
    }

    [Fact]
    public void MalformedModulesJsonIsAnInvalidFormatError()
    {
        var dir = CopyFolder(TinyModels.Default.Folder);
        var file = Path.Combine(dir, "modules.json");
        foreach (var bad in new[]
        {
            "[{\"type\": 5}",                                                       // truncated JSON
            "{\"a\": 1}",                                                           // not an array
            "[{\"type\": \"x.Transformer\", \"path\": 5}, {\"type\": \"x.Pooling\", \"path\": \"1_Pooling\"}]",   // path not a string
            "[{\"type\": \"x.Transformer\"}, {\"type\": \"x.Pooling\", \"path\": \"1_Pooling\"}]",                // Dense heads on disk but not listed: silently dropped before
            "[{\"type\": \"x.Transformer\"}, {\"type\": \"x.Pooling\", \"path\": \"../1_Pooling\"}]",
        })
        {
            File.WriteAllText(file, bad);
            var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load(dir).Dispose());
            Assert.True(e.Kind == ErrorKind.InvalidFormat, $"{bad}: {e.Kind}: {e.Message}");
            Assert.Contains("modules.json", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TooLargeDimensionsListsOnlyMatryoshkaSizesTheModelHas()
    {
        using var m = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var e = Fails(() => m.Encode("x", new EncodeOptions { Dimensions = 1000 }), ErrorKind.InvalidArgument, "between 1 and 64", "1000");
        Assert.DoesNotContain("768", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("128", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HugeSingleLineTokenizesABoundedPrefix()
    {
        // 20 MB on one line: only a prefix of about max_tokens x 32 characters is tokenized (counted in the
        // tokenizer's own work counter on this thread), the ids are those of the whole text cut to the limit, and the
        // token count is flagged as a lower bound.
        using var m = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var words = new[] { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta" };
        var sb = new StringBuilder(20_000_100);
        for (var i = 0; sb.Length < 20_000_000; i++)
        {
            sb.Append(words[i % words.Length]).Append(i % 7 == 0 ? ", " : " ");
        }
        var huge = sb.ToString();
        var before = WorkCounter.Steps;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var t = m.Tokenize(huge);
        var work = WorkCounter.Steps - before;
        Assert.True(t.Truncated);
        Assert.Equal(m.MaxTokens, t.TokenCount);
        Assert.False(t.OriginalTokenCountIsExact);
        Assert.True(t.OriginalTokenCount > m.MaxTokens);
        Assert.True(work < 20L * m.MaxTokens * EmbeddingGemmaModel.PrefixCharsPerToken, $"tokenizer work {work} for a {huge.Length}-character text");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{clock.Elapsed}");

        // the prefix gives exactly the ids of the whole text (checked on a text small enough to tokenize whole)
        var medium = huge[..400_000];
        var tm = m.Tokenize(medium, new EncodeOptions { PromptName = "query" });
        var whole = m.Tokenizer!.EncodeToIds(ModelPrompts.SearchQuery + medium.Trim(), m.MaxTokens, out var truncated);
        Assert.True(truncated);
        Assert.Equal(whole, tm.Ids);
        Assert.False(tm.OriginalTokenCountIsExact);

        // refused without truncation, saying the count is a lower bound
        Fails(() => m.Tokenize(huge, new EncodeOptions { Truncate = false }), ErrorKind.InputTooLong, "at least", "limit of 2048");

        // a short text is counted exactly, as before
        var small = m.Tokenize("hello world");
        Assert.True(small.OriginalTokenCountIsExact);
        Assert.Equal(small.TokenCount, small.OriginalTokenCount);
    }

    [Fact]
    public void PrefixCutNeverSplitsASurrogatePairOrAWord()
    {
        var text = new string('a', 10) + "\U0001F600" + new string('b', 10);
        var cut = EmbeddingGemmaModel.PrefixCut(text, 0, 11);   // between the two halves of the emoji
        Assert.Equal(10, cut);
        Assert.Equal(5, EmbeddingGemmaModel.PrefixCut("aaaaa bbbbbbbbbbbbbbbb", 0, 8));
    }

    [Fact]
    public void Utf8LineReaderRefusesInvalidBytesNamingTheLine()
    {
        var bytes = "first\r\nsecond\n"u8.ToArray().Concat(new byte[] { 0x66, 0xC3, 0x28, 0x0A }).ToArray();
        using var r = new Utf8LineReader(new MemoryStream(bytes));
        Assert.Equal("first", r.ReadLine());
        Assert.Equal("second", r.ReadLine());
        var e = Fails(() => r.ReadLine(), ErrorKind.InvalidArgument, "line 3", "invalid UTF-8");
        Assert.NotNull(e);

        using var ok = new Utf8LineReader(new MemoryStream([0xEF, 0xBB, 0xBF, .. "a\n\nb"u8.ToArray()]));
        Assert.Equal("a", ok.ReadLine());
        Assert.Equal("", ok.ReadLine());
        Assert.Equal("b", ok.ReadLine());
        Assert.Null(ok.ReadLine());
    }

    [Fact]
    public void WeightFilesAreReplacedAtomicallySoAMappedReaderKeepsItsBytes()
    {
        // make-model / convert / quantize over a file in use: the reader's mapping stays valid (rename, not truncate).
        var path = Path.Combine(TestPaths.NewTempDir(), "m.gguf");
        RandomModel.Create("tiny", 1).WriteGguf(path);
        using var m = EmbeddingGemmaModel.Load(path, new ModelLoadOptions { TokenizerPath = Path.Combine(TinyModels.Default.Folder, "tokenizer.json") });
        var before = m.EncodeTokenIds([[2, 10, 20, 1]])[0];
        RandomModel.Create("tiny", 2).WriteGguf(path);
        Assert.Equal(before, m.EncodeTokenIds([[2, 10, 20, 1]])[0]);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));   // no temporary file left
        var dirAsFile = TestPaths.NewTempDir();
        var e = Assert.Throws<IOException>(() => RandomModel.Create("tiny", 1).WriteGguf(dirAsFile));
        Assert.Contains(dirAsFile, e.Message, StringComparison.Ordinal);
    }
}
