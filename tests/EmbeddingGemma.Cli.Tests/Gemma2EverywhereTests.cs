using System.Text.Json;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Cli.Tests;

/// <summary>
/// "Everywhere v1 works, v2 works" (issue 14, Build 4) through the real CLI process: an index records its model and
/// refuses the other architecture, eval puts v1 and v2 side by side with retention per Matryoshka size, quantize and
/// bench take an EmbeddingGemma 2 model.
/// </summary>
public sealed class Gemma2EverywhereTests
{
    private static (int Code, string Out, string Err) Run(string? stdin, params string[] args) => CliProcess.Run(stdin, args);

    /// <summary>A tiny v1 folder (copied, so its name is "v1") and a tiny EmbeddingGemma 2 folder "v2" in a new temp dir.</summary>
    private static (string Dir, string V1, string V2) TwoModels(string name1 = "v1", string name2 = "v2")
    {
        var dir = TestPaths.NewTempDir();
        var v1 = Path.Combine(dir, name1);
        var v2 = Path.Combine(dir, name2);
        var (code, _, err) = Run(null, "make-model", "--shape", "tiny", "--out", v1);
        Assert.True(code == 0, err);
        (code, _, err) = Run(null, "make-model", "--arch", "embeddinggemma2", "--shape", "tiny", "--out", v2);
        Assert.True(code == 0, err);
        return (dir, v1, v2);
    }

    [Fact]
    public void AnIndexBuiltWithOneArchitectureRefusesTheOther()
    {
        var (dir, v1, v2) = TwoModels();
        var docs = Path.Combine(dir, "docs");
        Directory.CreateDirectory(docs);
        File.WriteAllText(Path.Combine(docs, "a.txt"), "Mars is known as the Red Planet.");
        File.WriteAllText(Path.Combine(docs, "b.txt"), "Venus is the hottest planet.");
        foreach (var (built, other) in new[] { (v1, v2), (v2, v1) })
        {
            var db = Path.Combine(dir, Path.GetFileName(built) + ".db");
            var (code, _, err) = Run(null, "index", "--db", db, "--model", built, "--input", docs);
            Assert.True(code == 0, err);
            // the other architecture can neither search nor add to it (exit 2, one error line naming both models)
            foreach (var args in new[] { new[] { "search", "--db", db, "--model", other, "--query", "red planet" }, ["index", "--db", db, "--model", other, "--input", docs] })
            {
                (code, var stdout, err) = Run(null, args);
                Assert.Equal(2, code);
                Assert.Empty(stdout.Trim());
                var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.StartsWith("error: Model mismatch", line, StringComparison.Ordinal);
                Assert.Contains($"'{Path.GetFileName(built)}'", line, StringComparison.Ordinal);
                Assert.Contains($"'{Path.GetFileName(other)}'", line, StringComparison.Ordinal);
            }
            // the model it was built with still searches it
            (code, var ok, err) = Run(null, "search", "--db", db, "--model", built, "--query", "red planet", "--json");
            Assert.True(code == 0, err);
            Assert.Equal(2, JsonDocument.Parse(ok).RootElement.GetProperty("results").GetArrayLength());
        }
    }

    [Fact]
    public void EvalReportsV1AndV2SideBySideWithRetentionPerMatryoshkaSize()
    {
        var (dir, v1, v2) = TwoModels();
        var sts = Path.Combine(dir, "sts.tsv");
        File.WriteAllText(sts, "sentence1\tsentence2\tscore\na cat sits\ta kitten sits\t4.5\na dog runs\tthe stock market fell\t0.5\n" +
            "the red planet\tMars\t4\nhot weather\tcold weather\t1\nthe sun\ta star\t3\nbread and butter\tbutter on bread\t4.8\n");
        var report = Path.Combine(dir, "report.json");
        var (code, _, err) = Run(null, "eval", "--model", v1, "--model", v2, "--tasks", "sts:" + sts, "--dimensions", "64,32,16", "--out", report);
        Assert.True(code == 0, err);
        Assert.Contains("retention vs v1", err, StringComparison.Ordinal);   // the table on stderr has the cross-model row
        var models = JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("models").EnumerateArray().ToArray();
        Assert.Equal(2, models.Length);
        Assert.Equal(("v1", "embeddinggemma"), (models[0].GetProperty("model").GetString(), models[0].GetProperty("architecture").GetString()));
        Assert.Equal(("v2", "embeddinggemma2"), (models[1].GetProperty("model").GetString(), models[1].GetProperty("architecture").GetString()));
        double Mean(JsonElement m, int dims) => m.GetProperty("means").EnumerateArray().Single(x => x.GetProperty("dimensions").GetInt32() == dims).GetProperty("mean_task").GetDouble();
        double Retention(JsonElement m, int dims, string reference) => m.GetProperty("retention").EnumerateArray()
            .Single(x => x.GetProperty("dimensions").GetInt32() == dims && x.GetProperty("reference").GetString() == reference).GetProperty("mean_task_percent").GetDouble();
        foreach (var dims in new[] { 64, 32, 16 })
        {
            // v2 against v1 at the same size, recomputed from the reported means (1e-9 relative: the same doubles)
            var want = 100 * Mean(models[1], dims) / Mean(models[0], dims);
            Assert.Equal(want, Retention(models[1], dims, "v1"), Math.Abs(want) * 1e-9 + 1e-12);
        }
        foreach (var m in models)
        {
            foreach (var dims in new[] { 32, 16 })
            {
                var want = 100 * Mean(m, dims) / Mean(m, 64);
                Assert.Equal(want, Retention(m, dims, "own 64d"), Math.Abs(want) * 1e-9 + 1e-12);
            }
        }
    }

    [Fact]
    public void EvalTellsApartModelsOfTheSameFolderNameByArchitecture()
    {
        var (dir, v1, v2) = TwoModels(Path.Combine("a", "tiny"), Path.Combine("b", "tiny"));
        var sts = Path.Combine(dir, "sts.tsv");
        File.WriteAllText(sts, "sentence1\tsentence2\tscore\na cat\ta kitten\t4.5\na dog\tthe market\t0.5\nthe sun\ta star\t3\n");
        var (code, stdout, err) = Run(null, "eval", "--model", v1, "--model", v2, "--tasks", "sts:" + sts, "--dimensions", "32", "--out", "-");
        Assert.True(code == 0, err);
        var models = JsonDocument.Parse(stdout).RootElement.GetProperty("models").EnumerateArray().ToArray();
        Assert.Equal(["tiny [embeddinggemma]", "tiny [embeddinggemma2]"], models.Select(m => m.GetProperty("model").GetString()));
        Assert.Contains(models[1].GetProperty("retention").EnumerateArray(), r => r.GetProperty("reference").GetString() == "tiny [embeddinggemma]");
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("mixed")]
    public void QuantizeWritesEmbeddingGemma2WithLlamaCppTypeRules(string scheme)
    {
        var (dir, _, v2) = TwoModels();
        var output = Path.Combine(dir, $"v2-{scheme}.gguf");
        var (code, stdout, err) = Run(null, "quantize", "--model", v2, "--type", scheme, "--out", output);
        Assert.True(code == 0, err);
        Assert.Equal("gemma-embedding2", JsonDocument.Parse(stdout).RootElement.GetProperty("architecture").GetString());
        using (var g = GgufFile.Open(output))
        {
            Assert.Equal("gemma-embedding2", g.TryGetString("general.architecture"));
            Assert.Equal(GgmlType.BF16, g.Tensors["per_layer_model_proj.weight"].Type);   // llama.cpp never quantizes it
            foreach (var (name, t) in g.Tensors)
            {
                if (t.Shape.Length == 1)
                {
                    Assert.Equal(GgmlType.F32, t.Type);   // norms and blk.N.layer_output_scale.weight
                }
            }
            Assert.Equal(g.Tensors.Keys.Count(n => n.StartsWith("blk.", StringComparison.Ordinal) && n.EndsWith(".layer_output_scale.weight", StringComparison.Ordinal)),
                g.Tensors.Keys.Count(n => n.EndsWith(".attn_norm.weight", StringComparison.Ordinal)));
            var attention = scheme == "q4_0" ? GgmlType.Q4_0 : GgmlType.Q8_0;
            var rest = scheme == "q8_0" ? GgmlType.Q8_0 : GgmlType.Q4_0;
            // a row whose length is not a multiple of the 32-value block stays F32 (tiny PLE width 48: blk.N.proj)
            GgmlType Want(string name, GgmlType t) => g.Tensors[name].Shape[^1] % 32 == 0 ? t : GgmlType.F32;
            Assert.Equal(Want("blk.0.attn_q.weight", attention), g.Tensors["blk.0.attn_q.weight"].Type);
            foreach (var name in new[] { "blk.0.ffn_down.weight", "blk.0.inp_gate.weight", "blk.0.proj.weight", "token_embd.weight", "output.weight" })
            {
                Assert.Equal(Want(name, rest), g.Tensors[name].Type);
            }
            Assert.Contains(g.Tensors.Values, t => t.Type == rest);
        }
        var a = Run("hello world\n", "embed", "--model", v2);
        var b = Run("hello world\n", "embed", "--model", output);
        Assert.True(a.Code == 0 && b.Code == 0, a.Err + b.Err);
        var va = JsonSerializer.Deserialize<float[]>(a.Out.Trim())!;
        var vb = JsonSerializer.Deserialize<float[]>(b.Out.Trim())!;
        Assert.Equal(va.Length, vb.Length);
        Assert.True(va.Zip(vb, (x, y) => (double)x * y).Sum() > 0.5, "a quantized tiny model stays near the F32 vector");
    }

    [Fact]
    public void BenchMeasuresAnEmbeddingGemma2ModelWithAnEightThousandTokenDocument()
    {
        var (_, _, v2) = TwoModels();
        var (code, stdout, err) = Run(null, "bench", "--model", v2, "--types", "f32,q8_0", "--threads", "1", "--docs", "2", "--doc-tokens", "16",
            "--query-runs", "1", "--workloads", "query,long", "--json");
        Assert.True(code == 0, err);
        var results = JsonDocument.Parse(stdout).RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(2, results.Length);
        foreach (var r in results)
        {
            Assert.Equal("embeddinggemma2", r.GetProperty("architecture").GetString());
            Assert.Equal(8192, r.GetProperty("long_tokens").GetDouble());
            Assert.True(r.GetProperty("long_s").GetDouble() > 0);
            Assert.True(r.GetProperty("peak_rss_mb").GetDouble() > 0);
        }
        Assert.Equal("Q8_0", results[1].GetProperty("weight_type").GetString());
        (code, _, err) = Run(null, "bench", "--model", v2, "--arch", "embeddinggemma2", "--types", "f32");
        Assert.Equal(2, code);
        Assert.Contains("--arch", err, StringComparison.Ordinal);
    }
}
