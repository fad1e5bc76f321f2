using EmbeddingGemma.Model;
using EmbeddingGemma.Model.Fast;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;
using Xunit.Abstractions;

namespace EmbeddingGemma.Tests.Model.Fast;

/// <summary>The fast engine against the model's reference encoder (the oracle), from a HF folder and from GGUF files.</summary>
public class FastSequenceEncoderTests(ITestOutputHelper output)
{
    private static ReadOnlyMemory<int>[] Seqs(GemmaConfig c) =>
        FastEncoderTests.Sequences(11, 6, c.VocabSize, 40).Append(FastEncoderTests.Sequences(12, 1, c.VocabSize, 1)[0])
            .Append(Enumerable.Range(0, 120).Select(i => (i * 13 + 5) % c.VocabSize).ToArray()).ToArray();

    private static (double MinCos, double MaxAbs) Compare(float[] a, float[] b, int h)
    {
        double minCos = 1, maxAbs = 0;
        for (var i = 0; i < a.Length / h; i++)
        {
            double dot = 0, na = 0, nb = 0;
            for (var c = 0; c < h; c++)
            {
                double x = a[i * h + c], y = b[i * h + c];
                dot += x * y;
                na += x * x;
                nb += y * y;
                maxAbs = Math.Max(maxAbs, Math.Abs(x - y));
            }
            minCos = Math.Min(minCos, dot / Math.Sqrt(na * nb));
        }
        return (minCos, maxAbs);
    }

    public static TheoryData<string> Models => ["tiny", "tiny-mqa"];

    private static TinyModel Model(string name) => name == "tiny" ? TinyModels.Default : TinyModels.SingleKvHead;

    [Theory]
    [MemberData(nameof(Models))]
    public void Fp32_fast_engine_matches_reference_encoder(string name)
    {
        var m = Model(name);
        using var weights = ModelWeights.LoadHuggingFaceFolder(m.Folder);
        var seqs = Seqs(weights.Config);
        var h = weights.Config.HiddenSize;
        var expected = new float[seqs.Length * h];
        new ReferenceEncoder(weights).EncodePooled(seqs, expected);
        var fromFolder = new float[seqs.Length * h];
        new FastSequenceEncoder(weights).EncodePooled(seqs, fromFolder);
        var fromGguf = new float[seqs.Length * h];
        using (var g = ModelWeights.LoadGguf(m.GgufPath))
        {
            new FastSequenceEncoder(g).EncodePooled(seqs, fromGguf);
        }
        var (cos1, abs1) = Compare(expected, fromFolder, h);
        var (cos2, abs2) = Compare(expected, fromGguf, h);
        output.WriteLine($"{name}: folder min cos {cos1:F9} max abs {abs1:E2}; gguf min cos {cos2:F9} max abs {abs2:E2}");
        Assert.True(cos1 >= NumericTolerances.CosineFp32, $"folder: min cos {cos1:F9}");
        Assert.True(cos2 >= NumericTolerances.CosineFp32, $"gguf: min cos {cos2:F9}");
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.BF16)]
    public void Quantized_gguf_matches_reference_on_the_same_weight_objects(GgmlType type)
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, $"tiny-{type}.gguf");
        RandomModel.Create("tiny", 42).WriteGguf(path, type);
        using var weights = ModelWeights.LoadGguf(path);
        Assert.Equal(type, weights.DominantMatrixType);
        var seqs = Seqs(weights.Config);
        var h = weights.Config.HiddenSize;
        var expected = new float[seqs.Length * h];
        new ReferenceEncoder(weights).EncodePooled(seqs, expected);   // dequantizes rows of the same matrices
        var got = new float[seqs.Length * h];
        new FastSequenceEncoder(weights).EncodePooled(seqs, got);
        var (cos, abs) = Compare(expected, got, h);
        using var f32 = ModelWeights.LoadHuggingFaceFolder(TinyModels.Default.Folder);
        var exact = new float[seqs.Length * h];
        new ReferenceEncoder(f32).EncodePooled(seqs, exact);
        var (cosF32, _) = Compare(exact, got, h);
        output.WriteLine($"{type}: vs reference on same dequantized weights min cos {cos:F7} max abs {abs:E2}; vs F32 weights min cos {cosF32:F5}");
        Assert.True(cos >= (type == GgmlType.BF16 ? NumericTolerances.CosineFp32 : NumericTolerances.CosineQuantized), $"{type}: min cos {cos:F7}");
    }
}
