using System.Text.Json;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Cli.Tests;

/// <summary>
/// <c>embed --precision</c> and <c>--calibration</c> through the real CLI process. The oracle is an independent
/// re-statement of sentence-transformers' rules here in the test, applied to the CLI's own float32 output (printed
/// with round-trip precision, so the floats are the same).
/// </summary>
public sealed class PrecisionCommandTests
{
    private const string Texts = "Which planet is known as the Red Planet?\nVenus is the hottest planet.\nJupiter is the largest planet.\nSaturn has rings.\nMercury is closest to the Sun.\n";

    private static (int Code, string Out, string Err) Run(string? stdin, params string[] args) => CliProcess.Run(stdin, args);

    private static float[][] Floats(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<float[]>(l)!).ToArray();

    private static int[][] Ints(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<int[]>(l)!).ToArray();

    // ---- the oracle: sentence_transformers.quantization.quantize_embeddings, written out again

    private static int Cast(float v, bool signed)
    {
        // numpy x86-64: truncate to int32 (NaN/out of range -> 0x80000000), keep the low byte.
        int i = float.IsNaN(v) || v >= 2147483648f || v <= -2147483648f ? int.MinValue : (int)MathF.Truncate(v);
        int b = i & 0xFF;
        return signed && b >= 128 ? b - 256 : b;
    }

    private static int[][] Expected(float[][] e, string precision, float[][]? calibration = null)
    {
        int dim = e[0].Length;
        var cal = calibration ?? e;
        if (precision is "int8" or "uint8")
        {
            var min = Enumerable.Range(0, dim).Select(i => cal.Min(r => r[i])).ToArray();
            var max = Enumerable.Range(0, dim).Select(i => cal.Max(r => r[i])).ToArray();
            return e.Select(r => Enumerable.Range(0, dim).Select(i =>
            {
                float step = (max[i] - min[i]) / 255f;
                float v = (r[i] - min[i]) / step;
                return precision == "uint8" ? Cast(v, false) : Cast(v - 128f, true);
            }).ToArray()).ToArray();
        }
        return e.Select(r => Enumerable.Range(0, (dim + 7) / 8).Select(b =>
        {
            int packed = 0;
            for (int k = 0; k < 8; k++)
            {
                int i = b * 8 + k;
                packed = packed << 1 | (i < dim && r[i] > 0 ? 1 : 0);
            }
            return precision == "ubinary" ? packed : packed - 128;
        }).ToArray()).ToArray();
    }

    [Fact]
    public void EachPrecisionMatchesTheRulesInJsonlCsvAndNpy()
    {
        var model = TinyModels.Default.Folder;
        var dir = TestPaths.NewTempDir();
        var f = Run(Texts, "embed", "--model", model, "--task", "retrieval_document");
        Assert.True(f.Code == 0, f.Err);
        var floats = Floats(f.Out);
        var same = Run(Texts, "embed", "--model", model, "--task", "retrieval_document", "--precision", "float32");
        Assert.Equal(f.Out, same.Out);
        foreach (var (precision, descr) in new[] { ("int8", "|i1"), ("uint8", "|u1"), ("binary", "|i1"), ("ubinary", "|u1") })
        {
            var expected = Expected(floats, precision);
            var j = Run(Texts, "embed", "--model", model, "--task", "retrieval_document", "--precision", precision);
            Assert.True(j.Code == 0, j.Err);
            var got = Ints(j.Out);
            Assert.Equal(expected.Length, got.Length);
            for (int r = 0; r < expected.Length; r++)
            {
                Assert.Equal(expected[r], got[r]);
            }
            if (precision is "int8" or "uint8")
            {
                Assert.Contains("ranges computed from the 5 embedded inputs", j.Err, StringComparison.Ordinal);
            }
            var csv = Run(Texts, "embed", "--model", model, "--task", "retrieval_document", "--precision", precision, "--format", "csv");
            Assert.Equal(expected.Select(r => string.Join(',', r)), csv.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));

            var npy = Path.Combine(dir, precision + ".npy");
            var n = Run(Texts, "embed", "--model", model, "--task", "retrieval_document", "--precision", precision, "--format", "npy", "--output", npy);
            Assert.True(n.Code == 0, n.Err);
            var bytes = File.ReadAllBytes(npy);
            int headerLength = BitConverter.ToUInt16(bytes, 8);
            var header = System.Text.Encoding.ASCII.GetString(bytes, 10, headerLength);
            int cols = expected[0].Length;
            Assert.Contains($"'descr': '{descr}'", header, StringComparison.Ordinal);
            Assert.Contains($"'shape': (5, {cols})", header, StringComparison.Ordinal);
            Assert.Equal(0, (10 + headerLength) % 64);
            var data = bytes.AsSpan(10 + headerLength);
            Assert.Equal(5 * cols, data.Length);
            for (int i = 0; i < data.Length; i++)
            {
                int v = descr == "|i1" ? (sbyte)data[i] : data[i];
                Assert.Equal(expected[i / cols][i % cols], v);
            }
        }
        // Binary on 64 dimensions: 8 bytes a vector (32x smaller than 256 bytes of float32).
        Assert.Equal(8, Expected(floats, "binary")[0].Length);
    }

    [Fact]
    public void CalibrationFilesSetTheRanges()
    {
        var model = TinyModels.Default.Folder;
        var dir = TestPaths.NewTempDir();
        const string calibrationTexts = "a short note\nthe rings of Saturn are made of ice\nred dust covers Mars\n";
        var c = Run(calibrationTexts, "embed", "--model", model, "--dimensions", "32");
        Assert.True(c.Code == 0, c.Err);
        var calJsonl = Path.Combine(dir, "cal.jsonl");
        File.WriteAllText(calJsonl, c.Out);
        var calNpy = Path.Combine(dir, "cal.npy");
        Assert.Equal(0, Run(calibrationTexts, "embed", "--model", model, "--dimensions", "32", "--format", "npy", "--output", calNpy).Code);
        var calJson = Path.Combine(dir, "cal.json");
        File.WriteAllText(calJson, "[" + string.Join(",\n", c.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)) + "]");
        var calibration = Floats(c.Out);
        var floats = Floats(Run(Texts, "embed", "--model", model, "--dimensions", "32").Out);
        foreach (var precision in new[] { "int8", "uint8" })
        {
            var expected = Expected(floats, precision, calibration);
            foreach (var file in new[] { calJsonl, calNpy, calJson })
            {
                var r = Run(Texts, "embed", "--model", model, "--dimensions", "32", "--precision", precision, "--calibration", file);
                Assert.True(r.Code == 0, r.Err);
                var got = Ints(r.Out);
                for (int i = 0; i < expected.Length; i++)
                {
                    Assert.Equal(expected[i], got[i]);
                }
                Assert.DoesNotContain("ranges computed from", r.Err, StringComparison.Ordinal);
                // Three calibration texts cannot cover five others: values outside the ranges wrap and are counted.
                int outside = floats.Sum(v => v.Select((x, i) => x < calibration.Min(k => k[i]) || x > calibration.Max(k => k[i]) ? 1 : 0).Sum());
                if (outside > 0)
                {
                    Assert.Contains("outside the calibration ranges", r.Err, StringComparison.Ordinal);
                }
            }
        }
    }

    [Fact]
    public void BadPrecisionAndCalibrationAreRefused()
    {
        var model = TinyModels.Default.Folder;
        var dir = TestPaths.NewTempDir();
        var r = Run(Texts, "embed", "--model", model, "--precision", "int4");
        Assert.Equal(2, r.Code);
        Assert.Contains("error: --precision must be one of float32, int8, uint8, binary, ubinary; got 'int4'", r.Err, StringComparison.Ordinal);

        var cal = Path.Combine(dir, "cal.jsonl");
        File.WriteAllText(cal, "[0.1, 0.2]\n[0.3, \"x\"]\n");
        r = Run(Texts, "embed", "--model", model, "--precision", "binary", "--calibration", cal);
        Assert.Equal(2, r.Code);
        Assert.Contains("--calibration sets int8/uint8 ranges", r.Err, StringComparison.Ordinal);
        r = Run(Texts, "embed", "--model", model, "--precision", "int8", "--calibration", cal);
        Assert.Equal(3, r.Code);
        Assert.Contains("line 2, value 2", r.Err, StringComparison.Ordinal);
        r = Run(Texts, "embed", "--model", model, "--precision", "int8", "--calibration", Path.Combine(dir, "missing.npy"));
        Assert.Equal(3, r.Code);
        Assert.Contains("missing.npy", r.Err, StringComparison.Ordinal);
        File.WriteAllText(cal, "[0.1, 0.2]\n[0.3, 0.4]\n");
        r = Run(Texts, "embed", "--model", model, "--precision", "uint8", "--calibration", cal);
        Assert.Equal(2, r.Code);
        Assert.Contains("the calibration vectors have 2 dimensions; the embeddings have 64", r.Err, StringComparison.Ordinal);
        var badNpy = Path.Combine(dir, "bad.npy");
        File.WriteAllBytes(badNpy, [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 4, 0, (byte)'{', (byte)'}', (byte)' ', (byte)'\n']);
        r = Run(Texts, "embed", "--model", model, "--precision", "int8", "--calibration", badNpy);
        Assert.Equal(3, r.Code);
        Assert.Contains("bad.npy: not a usable .npy file", r.Err, StringComparison.Ordinal);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
    }

    [Fact]
    public void Index_precision_binary_is_recorded_searched_and_enforced()
    {
        var dir = TestPaths.NewTempDir();
        var db = Path.Combine(dir, "b.db");
        var corpus = Path.Combine(TestPaths.RepoRoot, "tests", "data", "sotu_small", "corpus.jsonl");
        var r = Run(null, "index", "--db", db, "--model", "hash:64", "--input", corpus, "--precision", "binary");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("precision binary", r.Err, StringComparison.Ordinal);
        r = Run(null, "search", "--db", db, "--query", "public debt and taxes", "--top-k", "3", "--json", "--oversample", "8");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(3, JsonDocument.Parse(r.Out).RootElement.GetProperty("results").GetArrayLength());
        // Re-running without --precision keeps the file's (nothing changed, nothing refused).
        r = Run(null, "index", "--db", db, "--model", "hash:64", "--input", corpus);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("unchanged 12", r.Err, StringComparison.Ordinal);
        r = Run(null, "index", "--db", db, "--model", "hash:64", "--input", corpus, "--precision", "float32");
        Assert.Equal(2, r.Code);
        Assert.Contains("Precision mismatch", r.Err, StringComparison.Ordinal);
        r = Run(null, "index", "--db", Path.Combine(dir, "u.db"), "--model", "hash:64", "--input", corpus, "--precision", "uint8");
        Assert.Equal(2, r.Code);
        Assert.Contains("float32 or binary", r.Err, StringComparison.Ordinal);
        r = Run(null, "search", "--db", db, "--query", "x", "--oversample", "0");
        Assert.Equal(2, r.Code);
        Assert.False(File.Exists(Path.Combine(dir, "u.db")) && new FileInfo(Path.Combine(dir, "u.db")).Length > 0, "a refused index is not created");
    }
}
