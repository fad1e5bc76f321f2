using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;
using Xunit.Abstractions;

namespace EmbeddingGemma.Tests.Model;

/// <summary>Reference encoder + Dense heads vs llama.cpp's gemma-embedding on GGUF files written by RandomModel.</summary>
public sealed class LlamaCppParityTests(ITestOutputHelper output)
{
    internal static readonly int[] Lengths = [2, 3, 5, 8, 9, 10, 16, 17, 18, 33, 34, 64, 100, 257, 300];

    internal static int[] RandomIds(int length, int vocab, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[length];
        for (var i = 0; i < length; i++)
        {
            ids[i] = rng.Next(0, vocab);
        }
        return ids;
    }

    /// <summary>The reference encoder through the public pipeline (Dense output, not normalised).</summary>
    internal static float[] Reference(EmbeddingGemmaModel model, int[] ids) => model.EncodeTokenIds([ids], new EncodeOptions { Normalize = false })[0];

    internal static EmbeddingGemmaModel LoadReference(string path) =>
        EmbeddingGemmaModel.Load(path, new ModelLoadOptions { EncoderFactory = w => new ReferenceEncoder(w), UseHub = false });

    public static TheoryData<string> Models => new() { "tiny", "tiny-mqa" };

    private static TinyModel ModelByName(string name) => name == "tiny" ? TinyModels.Default : TinyModels.SingleKvHead;

    [Theory]
    [MemberData(nameof(Models))]
    public void ReferenceMatchesLlamaCppF32(string model)
    {
        var m = ModelByName(model);
        var seqs = Lengths.Select((n, i) => RandomIds(n, m.Config.VocabSize, 1000 + i)).ToList();
        var expected = LlamaCppOracle.Embed(m.GgufPath, seqs);
        using var w = LoadReference(m.GgufPath);
        var worstCos = 1.0;
        var worstAbs = 0.0;
        for (var i = 0; i < seqs.Count; i++)
        {
            var ours = Reference(w, seqs[i]);
            var cos = VectorOps.Cosine(ours, expected[i]);
            var a = (float[])ours.Clone();
            var b = (float[])expected[i].Clone();
            VectorOps.L2Normalize(a);
            VectorOps.L2Normalize(b);
            var abs = a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
            output.WriteLine($"{model} len {seqs[i].Length,4}: cos {cos:F9} maxabs(unit) {abs:E2}");
            worstCos = Math.Min(worstCos, cos);
            worstAbs = Math.Max(worstAbs, abs);
        }
        output.WriteLine($"{model}: worst cos {worstCos:F9}, worst max abs {worstAbs:E2}");
        Assert.True(worstCos >= Tolerances.LlamaCppMinCosine, $"worst cosine {worstCos} < {Tolerances.LlamaCppMinCosine}");
        Assert.True(worstAbs <= Tolerances.LlamaCppMaxAbs, $"worst max abs {worstAbs} > {Tolerances.LlamaCppMaxAbs}");
    }
}
