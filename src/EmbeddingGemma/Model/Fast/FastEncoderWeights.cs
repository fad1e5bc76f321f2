using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model.Fast;

/// <summary>The numbers of the backbone the fast engine needs (taken from the model configuration).</summary>
public sealed record FastEncoderShape
{
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int MaxPositions { get; init; }
    public required int VocabSize { get; init; }
    public required float Eps { get; init; }
    /// <summary>query_pre_attn_scalar^-½ (spec §7.9).</summary>
    public required float AttentionScale { get; init; }
    /// <summary>√hidden_size rounded to float32 (spec §2.2).</summary>
    public required float EmbedScale { get; init; }
    /// <summary>Per layer: the sliding radius W/2, or −1 for a global layer.</summary>
    public required IReadOnlyList<int> LayerRadius { get; init; }
    /// <summary>Per layer: the RoPE base.</summary>
    public required IReadOnlyList<double> LayerRopeTheta { get; init; }
}

/// <summary>One layer's weights: matrices of any storage type, norm gains as 1 + w.</summary>
public sealed class FastLayerWeights
{
    public required float[] AttnNormGain { get; init; }
    public required WeightMatrix Wq { get; init; }
    public required WeightMatrix Wk { get; init; }
    public required WeightMatrix Wv { get; init; }
    public required float[] QNormGain { get; init; }
    public required float[] KNormGain { get; init; }
    public required WeightMatrix Wo { get; init; }
    public required float[] PostAttnNormGain { get; init; }
    public required float[] PreFfnNormGain { get; init; }
    public required WeightMatrix WGate { get; init; }
    public required WeightMatrix WUp { get; init; }
    public required WeightMatrix WDown { get; init; }
    public required float[] PostFfnNormGain { get; init; }
}

/// <summary>Writes the (unscaled) embedding row of <paramref name="tokenId"/> into <paramref name="destination"/>.</summary>
public delegate void EmbeddingRowReader(int tokenId, Span<float> destination);

/// <summary>All weights of the fast engine (matrices usually over the memory-mapped file).</summary>
public sealed class FastEncoderWeights
{
    public required FastEncoderShape Shape { get; init; }
    /// <summary>Token embedding [vocab, hidden], read row by row where it is stored (any dequantizable type).</summary>
    public required EmbeddingRowReader EmbeddingRow { get; init; }
    public required IReadOnlyList<FastLayerWeights> Layers { get; init; }
    public required float[] FinalNormGain { get; init; }

    /// <summary>Checks every shape against <see cref="Shape"/>; throws naming the tensor.</summary>
    public void Validate()
    {
        var s = Shape;
        int h = s.HiddenSize, qd = s.Heads * s.HeadDim, kvd = s.KvHeads * s.HeadDim, f = s.IntermediateSize;
        if (s.Heads % s.KvHeads != 0 || s.HeadDim % 2 != 0 || s.LayerRadius.Count != Layers.Count || s.LayerRopeTheta.Count != Layers.Count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Fast engine: inconsistent shape (heads {s.Heads}, kv heads {s.KvHeads}, head dim {s.HeadDim}, {Layers.Count} layers).");
        }
        Gain(FinalNormGain, h, "final norm");
        for (var l = 0; l < Layers.Count; l++)
        {
            var w = Layers[l];
            Expect(w.Wq, qd, h);
            Expect(w.Wk, kvd, h);
            Expect(w.Wv, kvd, h);
            Expect(w.Wo, h, qd);
            Expect(w.WGate, f, h);
            Expect(w.WUp, f, h);
            Expect(w.WDown, h, f);
            Gain(w.AttnNormGain, h, $"layer {l} attn norm");
            Gain(w.PostAttnNormGain, h, $"layer {l} post-attn norm");
            Gain(w.PreFfnNormGain, h, $"layer {l} pre-ffn norm");
            Gain(w.PostFfnNormGain, h, $"layer {l} post-ffn norm");
            Gain(w.QNormGain, s.HeadDim, $"layer {l} q norm");
            Gain(w.KNormGain, s.HeadDim, $"layer {l} k norm");
        }

        static void Expect(WeightMatrix m, int rows, int cols)
        {
            if (m.Rows != rows || m.Cols != cols)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Tensor '{m.Name}' has shape [{m.Rows}, {m.Cols}], expected [{rows}, {cols}].");
            }
        }

        static void Gain(float[] g, int n, string what)
        {
            if (g.Length != n)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Fast engine: {what} gain has {g.Length} values, expected {n}.");
            }
        }
    }
}
