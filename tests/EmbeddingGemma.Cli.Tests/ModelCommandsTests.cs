using System.Text.Json;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Cli.Tests;

/// <summary>The embed, info, make-model and convert commands, run as a real process.</summary>
public sealed class ModelCommandsTests
{
    private static (int Code, string Out, string Err) Run(string? stdin, params string[] args) => CliProcess.Run(stdin, args);

    private static float[][] ParseJsonl(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<float[]>(l)!).ToArray();

    [Fact]
    public void EvalShuffleLabelsDropsABagOfWordsToChance()
    {
        var data = Path.Combine(TestPaths.RepoRoot, "data", "eval");
        double Spearman(string json) => JsonDocument.Parse(json).RootElement.GetProperty("models")[0].GetProperty("tasks")[0]
            .GetProperty("scores")[0].GetProperty("main_score").GetDouble();
        var (code, stdout, err) = Run(null, "eval", "--model", "bow:128", "--tasks", "stsbenchmark-en", "--dimensions", "128", "--data-dir", data, "--out", "-");
        Assert.True(code == 0, err);
        var real = Spearman(stdout);
        (code, stdout, err) = Run(null, "eval", "--model", "bow:128", "--tasks", "stsbenchmark-en", "--dimensions", "128", "--data-dir", data, "--out", "-", "--shuffle-labels");
        Assert.True(code == 0, err);
        Assert.Contains("LABELS SHUFFLED", err, StringComparison.Ordinal);
        var shuffled = Spearman(stdout);
        Assert.True(real > 0.3, $"bag of words on real labels: {real}");
        Assert.True(Math.Abs(shuffled) < 0.12, $"bag of words on shuffled labels: {shuffled}");
    }

    [Fact]
    public void EmbedWritesOneArrayPerLineMatchingTheLibrary()
    {
        var m = TinyModels.Default;
        var (code, stdout, err) = Run("hello world\nWhich planet is known as the Red Planet?\n", "embed", "--model", m.Folder, "--task", "retrieval_query");
        Assert.True(code == 0, err);
        var vectors = ParseJsonl(stdout);
        Assert.Equal(2, vectors.Length);
        using var model = EmbeddingGemma.Embeddings.EmbeddingGemmaModel.Load(m.Folder);
        var expected = model.EncodeQuery(["hello world", "Which planet is known as the Red Planet?"]);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(expected[i], vectors[i]);
        }
    }

    [Fact]
    public void EmbedIdsFromFileWithDimensionsAndFormats()
    {
        var m = TinyModels.Default;
        var dir = TestPaths.NewTempDir();
        var input = Path.Combine(dir, "ids.txt");
        File.WriteAllText(input, "[2, 100, 200, 1]\n[2, 5, 1]\n");
        var (code, stdout, err) = Run(null, "embed", "--model", m.GgufPath, "--ids", "--input", input, "--dimensions", "16");
        Assert.True(code == 0, err);
        var v = ParseJsonl(stdout);
        Assert.Equal(2, v.Length);
        Assert.All(v, x => Assert.Equal(16, x.Length));
        Assert.All(v, x => Assert.InRange(Math.Sqrt(x.Sum(y => (double)y * y)), 0.99999, 1.00001));
        var csv = Run(null, "embed", "--model", m.GgufPath, "--ids", "--input", input, "--dimensions", "16", "--format", "csv").Out;
        Assert.Equal(string.Join(',', v[0].Select(f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture))), csv.Split('\n')[0]);
        var npy = Path.Combine(dir, "out.npy");
        Assert.Equal(0, Run(null, "embed", "--model", m.GgufPath, "--ids", "--input", input, "--format", "npy", "--output", npy).Code);
        var bytes = File.ReadAllBytes(npy);
        Assert.Equal(0x93, bytes[0]);
        Assert.Equal(bytes.Length - 2 * 64 * 4, BitConverter.ToUInt16(bytes, 8) + 10);
    }

    [Fact]
    public void EmbedJsonlLinesCarryTextAndTitle()
    {
        var m = TinyModels.Default;
        var (code, stdout, err) = Run("{\"text\": \"Mars is red.\", \"title\": \"Planets\"}\n\"Venus is hot.\"\n", "embed", "--model", m.Folder, "--jsonl", "--prompt-name", "document");
        Assert.True(code == 0, err);
        var v = ParseJsonl(stdout);
        using var model = EmbeddingGemma.Embeddings.EmbeddingGemmaModel.Load(m.Folder);
        Assert.Equal(model.EncodeDocument("Mars is red.", "Planets"), v[0]);
        Assert.Equal(model.EncodeDocument("Venus is hot."), v[1]);
    }

    [Fact]
    public void EmbedThreadsAreValidatedAndTheEngineRunsWhatWasAsked()
    {
        // A Q8_0 GGUF through the CLI: the summary (--verbose) names the type the engine holds and the thread count.
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "tiny-q8_0.gguf");
        EmbeddingGemma.Model.RandomModel.Create("tiny", 42).WriteGguf(path, EmbeddingGemma.Numerics.GgmlType.Q8_0);
        File.Copy(Path.Combine(TinyModels.Default.Folder, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        var one = Run("hello world\nsecond line\n", "embed", "--model", path, "--threads", "1", "--verbose");
        Assert.True(one.Code == 0, one.Err);
        Assert.Contains("Q8_0 weights", one.Err, StringComparison.Ordinal);
        Assert.Contains("fast engine, 1 thread,", one.Err, StringComparison.Ordinal);
        var two = Run("hello world\nsecond line\n", "embed", "--model", path, "--threads", "2", "--verbose");
        Assert.Contains("2 threads", two.Err, StringComparison.Ordinal);
        Assert.Equal(one.Out, two.Out);   // bit-identical vectors whatever the thread count
        foreach (var bad in new[] { "-5", "10000" })
        {
            var r = Run("x\n", "embed", "--model", path, "--threads", bad);
            Assert.Equal(2, r.Code);
            Assert.Contains("--threads must be between 0", r.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EmbedErrorsAreOneLineWithExitCodes()
    {
        var m = TinyModels.Default;
        var r = Run("x\n", "embed", "--model", m.Folder, "--prompt-name", "bogus");
        Assert.Equal(2, r.Code);
        Assert.Contains("Valid names", r.Err, StringComparison.Ordinal);
        r = Run("x\n", "embed", "--model", "/nonexistent/model");
        Assert.Equal(3, r.Code);
        r = Run("x\n", "embed", "--model", m.Folder, "--dimensions", "0");
        Assert.Equal(2, r.Code);
        r = Run("not json\n", "embed", "--model", m.Folder, "--ids");
        Assert.Equal(2, r.Code);
        Assert.Contains("line 1", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void MakeModelInfoAndConvertRoundTrip()
    {
        var dir = TestPaths.NewTempDir();
        var folder = Path.Combine(dir, "m");
        var gguf = Path.Combine(dir, "m.gguf");
        var r = Run(null, "make-model", "--shape", "tiny", "--seed", "3", "--out", folder, "--gguf", gguf, "--set", "num_hidden_layers=7", "--set", "sliding_window=8");
        Assert.True(r.Code == 0, r.Err);
        var info = JsonDocument.Parse(Run(null, "info", "--model", gguf).Out).RootElement;
        Assert.Equal(7, info.GetProperty("config").GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(8, info.GetProperty("config").GetProperty("sliding_window").GetInt32());
        Assert.Equal(2 + 13 * 7 + 2, info.GetProperty("tensor_count").GetInt32());
        Assert.True(info.GetProperty("dense_heads").GetBoolean());
        var folderInfo = JsonDocument.Parse(Run(null, "info", "--model", folder).Out).RootElement;
        Assert.Equal(2 + 13 * 7 + 2, folderInfo.GetProperty("tensor_count").GetInt32());
        Assert.Equal(2 + 13 * 7 + 2, folderInfo.GetProperty("dtypes").GetProperty("F32").GetInt32());

        var converted = Path.Combine(dir, "c.gguf");
        Assert.Equal(0, Run(null, "convert", "--model", folder, "--out", converted).Code);
        var back = Path.Combine(dir, "back");
        Assert.Equal(0, Run(null, "convert", "--model", gguf, "--out", back, "--type", "BF16").Code);
        Assert.Equal("bfloat16", JsonDocument.Parse(File.ReadAllText(Path.Combine(back, "config.json"))).RootElement.GetProperty("dtype").GetString());
        var a = Run("[2, 10, 20, 1]\n", "embed", "--model", gguf, "--ids").Out;
        var b = Run("[2, 10, 20, 1]\n", "embed", "--model", converted, "--ids").Out;
        Assert.Equal(a, b);
        var bad = Run(null, "make-model", "--out", Path.Combine(dir, "x"), "--set", "no_such_field=1");
        Assert.Equal(2, bad.Code);
        Assert.Contains("hidden_size", bad.Err, StringComparison.Ordinal);
    }
}
