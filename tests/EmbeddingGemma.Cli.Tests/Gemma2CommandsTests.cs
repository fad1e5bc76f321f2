using System.Text.Json;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Cli.Tests;

/// <summary>make-model --arch embeddinggemma2, info and embed on EmbeddingGemma 2 models, run as a real process.</summary>
public sealed class Gemma2CommandsTests
{
    private static (int Code, string Out, string Err) Run(string? stdin, params string[] args) => CliProcess.Run(stdin, args);

    [Fact]
    public void MakeModelInfoAndEmbedForEmbeddingGemma2()
    {
        var dir = TestPaths.NewTempDir();
        var folder = Path.Combine(dir, "tiny2");
        var gguf = Path.Combine(dir, "tiny2.gguf");
        var (code, _, err) = Run(null, "make-model", "--arch", "embeddinggemma2", "--shape", "tiny", "--out", folder, "--gguf", gguf, "--set", "sliding_window=4");
        Assert.True(code == 0, err);
        foreach (var path in new[] { folder, gguf })
        {
            (code, var stdout, err) = Run(null, "info", "--model", path);
            Assert.True(code == 0, err);
            var info = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal("embeddinggemma2", info.GetProperty("architecture").GetString());
            Assert.Equal(info.GetProperty("parameters_expected").GetInt64(), info.GetProperty("parameters").GetInt64());
            Assert.Equal(4, info.GetProperty("config").GetProperty("text_config").GetProperty("sliding_window").GetInt32());
            Assert.Equal(8192, info.GetProperty("max_tokens").GetInt32());
        }
        var a = Run("hello world\n", "embed", "--model", folder, "--task", "retrieval_query");
        var b = Run("hello world\n", "embed", "--model", gguf, "--task", "retrieval_query");
        Assert.True(a.Code == 0, a.Err);
        Assert.True(b.Code == 0, b.Err);
        var va = JsonSerializer.Deserialize<float[]>(a.Out.Trim())!;
        Assert.Equal(96, va.Length);
        Assert.Equal(a.Out, b.Out);
        // convert: folder -> GGUF F32 (same vector), GGUF -> BF16 folder, folder -> Q8_0 GGUF (close)
        var converted = Path.Combine(dir, "conv.gguf");
        (code, _, err) = Run(null, "convert", "--model", folder, "--out", converted);
        Assert.True(code == 0, err);
        Assert.Equal(a.Out, Run("hello world\n", "embed", "--model", converted, "--task", "retrieval_query").Out);
        (code, _, err) = Run(null, "convert", "--model", gguf, "--out", Path.Combine(dir, "bf16"), "--type", "BF16");
        Assert.True(code == 0, err);
        var q8 = Path.Combine(dir, "q8.gguf");
        (code, _, err) = Run(null, "convert", "--model", folder, "--out", q8, "--type", "Q8_0");
        Assert.True(code == 0, err);
        foreach (var other in new[] { Path.Combine(dir, "bf16"), q8 })
        {
            var r = Run("hello world\n", "embed", "--model", other, "--task", "retrieval_query");
            Assert.True(r.Code == 0, r.Err);
            var v = JsonSerializer.Deserialize<float[]>(r.Out.Trim())!;
            Assert.True(va.Zip(v, (x, y) => (double)x * y).Sum() > 0.99, other);
        }
        (code, var v1, err) = Run(null, "info", "--model", TinyModels.Default.Folder);
        Assert.True(code == 0, err);
        Assert.Equal("embeddinggemma", JsonDocument.Parse(v1).RootElement.GetProperty("architecture").GetString());
        (code, _, err) = Run(null, "make-model", "--arch", "embeddinggemma3", "--gguf", Path.Combine(dir, "x.gguf"));
        Assert.NotEqual(0, code);
        Assert.Contains("--arch", err, StringComparison.Ordinal);
    }
}
