using EmbeddingGemma.Model;
using EmbeddingGemma.Model.Fast;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Model.Fast;

/// <summary>The fast engine on tiny random models: batch/thread bit-identity, and argument checks.</summary>
public class FastEncoderTests
{
    /// <summary>A tiny random model as a GGUF of <paramref name="type"/>, loaded as the engine's weights (the file's stored types kept).</summary>
    internal static ModelWeights TinyWeights(int seed, GgmlType type = GgmlType.F32, int layers = 4)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), $"tiny-{seed}-{type}-{layers}.gguf");
        RandomModel.Create("tiny", seed, c => c with { NumHiddenLayers = layers, LayerTypes = GemmaConfig.DefaultLayerTypes(layers, 3), SlidingWindowPattern = 3 }).WriteGguf(path, type);
        return ModelWeights.LoadGguf(path);
    }

    internal static ReadOnlyMemory<int>[] Sequences(int seed, int count, int vocab, int maxLen)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (ReadOnlyMemory<int>)Enumerable.Range(0, rng.Next(1, maxLen + 1)).Select(_ => rng.Next(vocab)).ToArray()).ToArray();
    }

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void Vectors_are_bit_identical_whatever_the_batch_mates_and_thread_count(GgmlType type)
    {
        using var w = TinyWeights(1, type);
        Assert.All(w.Layers.SelectMany(l => l.Matrices), m => Assert.Equal(type, m.Type));   // the engine holds the stored type
        var vocab = w.Config.VocabSize;
        var seqs = Sequences(2, 9, vocab, 120);
        var h = w.Config.HiddenSize;
        var batched = new float[seqs.Length * h];
        new FastEncoder(w, new FastEncoderOptions { Threads = 2 }).EncodePooled(seqs, batched);
        Assert.All(batched, v => Assert.True(float.IsFinite(v)));

        // one at a time, one thread
        var single = new FastEncoder(w, new FastEncoderOptions { Threads = 1 });
        var one = new float[h];
        for (var i = 0; i < seqs.Length; i++)
        {
            single.EncodePooled([seqs[i]], one);
            Assert.Equal(batched.AsSpan(i * h, h).ToArray(), one);
        }

        // reversed order, other mates, three threads, small chunks (several chunks per call)
        var reversed = seqs.Reverse().Concat(Sequences(3, 4, vocab, 150)).ToArray();
        var other = new float[reversed.Length * h];
        new FastEncoder(w, new FastEncoderOptions { Threads = 3, ChunkTokens = 1 }).EncodePooled(reversed, other);
        for (var i = 0; i < seqs.Length; i++)
        {
            Assert.Equal(batched.AsSpan(i * h, h).ToArray(), other.AsSpan((seqs.Length - 1 - i) * h, h).ToArray());
        }
    }

    [Fact]
    public void Rejects_bad_sequences_with_clear_errors()
    {
        using var w = TinyWeights(1, layers: 1);
        var enc = new FastEncoder(w);
        var c = w.Config;
        var pooled = new float[c.HiddenSize];
        var e = Assert.Throws<EmbeddingGemmaException>(() => enc.EncodePooled([new int[] { 1, c.VocabSize }], pooled));
        Assert.Contains(c.VocabSize.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => enc.EncodePooled([Array.Empty<int>()], pooled)).Kind);
        Assert.Equal(ErrorKind.InputTooLong, Assert.Throws<EmbeddingGemmaException>(() => enc.EncodePooled([new int[c.MaxPositionEmbeddings + 1]], pooled)).Kind);
    }
}
