using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Embeddings;

public sealed class PipelineTests
{
    private static readonly string[] Texts =
    [
        "Which planet is known as the Red Planet?",
        "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
        "hello world",
        "the quick brown fox jumps over the lazy dog and then the quick brown fox jumps over the lazy dog again",
    ];

    private static EmbeddingGemmaModel Folder() => EmbeddingGemmaModel.Load(TinyModels.Default.Folder);

    private static EmbeddingGemmaModel Gguf() => EmbeddingGemmaModel.Load(TinyModels.Default.GgufPath);

    [Fact]
    public void FolderAndGgufGiveIdenticalVectors()
    {
        using var a = Folder();
        using var b = Gguf();
        var va = a.Encode(Texts, EncodeOptions.Query);
        var vb = b.Encode(Texts, EncodeOptions.Query);
        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(a.Tokenize(Texts[i], EncodeOptions.Query).Ids, b.Tokenize(Texts[i], EncodeOptions.Query).Ids);
            var maxAbs = va[i].Zip(vb[i], (x, y) => Math.Abs(x - y)).Max();
            Assert.True(maxAbs <= Tolerances.FolderVsGgufMaxAbs, $"text {i}: max abs {maxAbs}");
        }
    }

    [Fact]
    public void BatchedEqualsSingle()
    {
        using var m = Folder();
        var batched = m.Encode(Texts, new EncodeOptions { BatchSize = 3 });
        for (var i = 0; i < Texts.Length; i++)
        {
            var single = m.Encode(Texts[i]);
            var maxAbs = single.Zip(batched[i], (x, y) => Math.Abs(x - y)).Max();
            Assert.True(maxAbs <= Tolerances.BatchInvarianceMaxAbs, $"text {i}: max abs {maxAbs}");
        }
    }

    [Fact]
    public void VectorsAreUnitLengthAndMatryoshkaIsRenormalised()
    {
        using var m = Folder();
        var full = m.Encode(Texts[0]);
        Assert.Equal(m.Dimensions, full.Length);
        Assert.InRange(Norm(full), 1 - Tolerances.UnitNorm, 1 + Tolerances.UnitNorm);
        foreach (var d in new[] { 1, 16, 32, 63 })
        {
            var small = m.Encode(Texts[0], new EncodeOptions { Dimensions = d });
            Assert.Equal(d, small.Length);
            Assert.InRange(Norm(small), 1 - Tolerances.UnitNorm, 1 + Tolerances.UnitNorm);
            // same direction as the truncated full vector
            Assert.True(VectorOps.Cosine(small, full.AsSpan(0, d)) > 0.999999f);
        }
        // a truncated prefix of a unit vector is shorter than 1: re-normalisation is what makes it 1
        Assert.True(Norm(full.AsSpan(0, 16).ToArray()) < 0.99);
    }

    [Fact]
    public void NormalizeFalseReturnsTheDenseOutput()
    {
        using var m = Folder();
        var raw = m.Encode(Texts[1], new EncodeOptions { Normalize = false });
        var unit = m.Encode(Texts[1]);
        Assert.True(Math.Abs(Norm(raw) - 1) > 1e-3, "raw Dense output should not be unit length on a random model");
        var scaled = raw.Select(v => (float)(v / Norm(raw))).ToArray();
        Assert.True(scaled.Zip(unit, (x, y) => Math.Abs(x - y)).Max() < 1e-6);
        var rawSmall = m.Encode(Texts[1], new EncodeOptions { Normalize = false, Dimensions = 8 });
        Assert.Equal(raw.AsSpan(0, 8).ToArray(), rawSmall);
    }

    [Fact]
    public void TokenIdsPathMatchesTextPath()
    {
        using var m = Folder();
        var t = m.Tokenize(Texts[2]);
        Assert.Equal(m.Encode(Texts[2]), m.EncodeTokenIds([t.Ids])[0]);
    }

    private static double Norm(float[] v) => Math.Sqrt(v.Sum(x => (double)x * x));
}
