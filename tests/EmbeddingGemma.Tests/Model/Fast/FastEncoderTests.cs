using EmbeddingGemma.Model.Fast;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Tests.Model.Fast;

/// <summary>The fast engine on tiny random models: batch/thread bit-identity, and argument checks.</summary>
public class FastEncoderTests
{
    internal static FastEncoderWeights TinyWeights(int seed, GgmlType type = GgmlType.F32, int layers = 4, int hidden = 64, int heads = 2, int kvHeads = 1, int headDim = 32, int ffn = 96, int vocab = 300, int maxPos = 200, int window = 16)
    {
        var rng = new Random(seed);
        float[] R(int n, float scale)
        {
            var a = new float[n];
            for (var i = 0; i < n; i++)
            {
                a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
            }
            return a;
        }
        float[] G(int n) => R(n, 0.3f).Select(v => 1f + v).ToArray();
        WeightMatrix M(string name, int rows, int cols) => WeightMatrix.Quantize(name, R(rows * cols, 1f / MathF.Sqrt(cols)), rows, cols, type);
        var shape = new FastEncoderShape
        {
            HiddenSize = hidden,
            IntermediateSize = ffn,
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = headDim,
            MaxPositions = maxPos,
            VocabSize = vocab,
            Eps = 1e-6f,
            AttentionScale = 1f / MathF.Sqrt(headDim),
            EmbedScale = MathF.Sqrt(hidden),
            LayerRadius = Enumerable.Range(0, layers).Select(l => (l + 1) % 3 == 0 ? -1 : window / 2).ToArray(),
            LayerRopeTheta = Enumerable.Range(0, layers).Select(l => (l + 1) % 3 == 0 ? 1e6 : 1e4).ToArray(),
        };
        return new FastEncoderWeights
        {
            Shape = shape,
            EmbeddingRow = WeightMatrix.Quantize("token_embd.weight", R(vocab * hidden, 0.1f), vocab, hidden, type).DequantizeRow,
            FinalNormGain = G(hidden),
            Layers = Enumerable.Range(0, layers).Select(l => new FastLayerWeights
            {
                AttnNormGain = G(hidden),
                Wq = M($"blk.{l}.attn_q.weight", heads * headDim, hidden),
                Wk = M($"blk.{l}.attn_k.weight", kvHeads * headDim, hidden),
                Wv = M($"blk.{l}.attn_v.weight", kvHeads * headDim, hidden),
                QNormGain = G(headDim),
                KNormGain = G(headDim),
                Wo = M($"blk.{l}.attn_output.weight", hidden, heads * headDim),
                PostAttnNormGain = G(hidden),
                PreFfnNormGain = G(hidden),
                WGate = M($"blk.{l}.ffn_gate.weight", ffn, hidden),
                WUp = M($"blk.{l}.ffn_up.weight", ffn, hidden),
                WDown = M($"blk.{l}.ffn_down.weight", hidden, ffn),
                PostFfnNormGain = G(hidden),
            }).ToArray(),
        };
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
        var w = TinyWeights(1, type);
        var seqs = Sequences(2, 9, 300, 120);
        const int h = 64;
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
        var reversed = seqs.Reverse().Concat(Sequences(3, 4, 300, 150)).ToArray();
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
        var enc = new FastEncoder(TinyWeights(1, layers: 1));
        var pooled = new float[64];
        var e = Assert.Throws<EmbeddingGemmaException>(() => enc.EncodePooled([new int[] { 1, 300 }], pooled));
        Assert.Contains("300", e.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => enc.EncodePooled([Array.Empty<int>()], pooled)).Kind);
        Assert.Equal(ErrorKind.InputTooLong, Assert.Throws<EmbeddingGemmaException>(() => enc.EncodePooled([new int[201]], pooled)).Kind);
    }
}

/// <summary>The fast engine against the double-precision spec oracle on the same (dequantized) weights.</summary>
public class FastEncoderOracleTests
{
    [Theory]
    [InlineData(GgmlType.F32, NumericTolerances.CosineFp32)]
    [InlineData(GgmlType.BF16, NumericTolerances.CosineFp32)]
    [InlineData(GgmlType.Q8_0, NumericTolerances.CosineQuantized)]
    [InlineData(GgmlType.Q4_0, NumericTolerances.CosineQuantized)]
    public void Matches_spec_oracle_on_the_same_weights(GgmlType type, double minCos)
    {
        var w = FastEncoderTests.TinyWeights(5, type);
        var seqs = FastEncoderTests.Sequences(6, 5, 300, 60).Append(new int[150].Select((_, i) => (i * 7) % 300).ToArray()).ToArray();
        var got = new float[seqs.Length * 64];
        new FastEncoder(w).EncodePooled(seqs, got);
        for (var i = 0; i < seqs.Length; i++)
        {
            var expected = NaiveOracle.Pooled(w, seqs[i].Span);
            double dot = 0, ne = 0, ng = 0;
            for (var c = 0; c < 64; c++)
            {
                dot += expected[c] * got[i * 64 + c];
                ne += expected[c] * expected[c];
                ng += (double)got[i * 64 + c] * got[i * 64 + c];
            }
            var cos = dot / Math.Sqrt(ne * ng);
            Assert.True(cos >= minCos, $"{type} sequence {i} (length {seqs[i].Length}): cos {cos:F9} < {minCos}");
        }
    }
}
