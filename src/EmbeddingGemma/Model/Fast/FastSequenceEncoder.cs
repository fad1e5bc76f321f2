using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model.Fast;

/// <summary>
/// The fast engine behind <see cref="ISequenceEncoder"/>. Built from loaded <see cref="ModelWeights"/> (float32
/// matrices used in place, or converted once to <see cref="FastEncoderOptions"/>-chosen types), or straight from a GGUF
/// file whose matrices are used in place in their stored types (F32, F16, BF16, Q8_0, Q4_0 fast; other ggml types through
/// fp32 panels) over the memory map: no second copy.
/// </summary>
public sealed class FastSequenceEncoder : ISequenceEncoder, IDisposable
{
    private readonly FastEncoder _encoder;
    private readonly IDisposable? _owner;

    private FastSequenceEncoder(GemmaConfig config, FastEncoderWeights weights, FastEncoderOptions? options, IDisposable? owner, WeightMatrix? dense2, WeightMatrix? dense3)
    {
        Config = config;
        _encoder = new FastEncoder(weights, options);
        _owner = owner;
        Dense2 = dense2;
        Dense3 = dense3;
    }

    /// <summary>Uses the float32 matrices of <paramref name="weights"/> in place (converted once when <paramref name="matrixType"/> is not F32).</summary>
    public FastSequenceEncoder(ModelWeights weights, FastEncoderOptions? options = null, GgmlType matrixType = GgmlType.F32)
        : this(Check(weights).Config, FromModelWeights(weights, matrixType), options, null, null, null)
    {
    }

    /// <inheritdoc />
    public GemmaConfig Config { get; }

    /// <summary>The engine.</summary>
    public FastEncoder Engine => _encoder;

    /// <summary>2_Dense [N, hidden] when opened from a GGUF that has it.</summary>
    public WeightMatrix? Dense2 { get; }

    /// <summary>3_Dense [hidden, N] when opened from a GGUF that has it.</summary>
    public WeightMatrix? Dense3 { get; }

    /// <inheritdoc />
    public void EncodePooled(IReadOnlyList<ReadOnlyMemory<int>> sequences, Span<float> pooled, CancellationToken cancellationToken = default) =>
        _encoder.EncodePooled(sequences, pooled, cancellationToken);

    /// <summary>Pooled vectors through 2_Dense and 3_Dense (not normalised), as llama.cpp's embedding output; needs the heads.</summary>
    public void EncodeWithDense(IReadOnlyList<ReadOnlyMemory<int>> sequences, Span<float> output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (Dense2 is null || Dense3 is null)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, "This model has no Dense heads (dense_2/dense_3).");
        }
        var h = Config.HiddenSize;
        var pooled = new float[sequences.Count * h];
        EncodePooled(sequences, pooled, cancellationToken);
        var mid = new float[sequences.Count * Dense2.Rows];
        Dense2.MatMul(pooled, sequences.Count, mid, _encoder.Threads, _encoder.Kernels);
        Dense3.MatMul(mid, sequences.Count, output, _encoder.Threads, _encoder.Kernels);
    }

    /// <summary>Opens a GGUF (arch gemma-embedding) and uses its tensors in place.</summary>
    public static FastSequenceEncoder OpenGguf(string path, FastEncoderOptions? options = null)
    {
        var gguf = GgufFile.Open(path);
        try
        {
            var config = ModelWeights.ConfigFromGguf(gguf);
            var c = config;
            int h = c.HiddenSize, qd = c.NumAttentionHeads * c.HeadDim, kvd = c.NumKeyValueHeads * c.HeadDim, f = c.IntermediateSize;
            TensorInfo Find(string name)
            {
                if (!gguf.Tensors.TryGetValue(name, out var info))
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: tensor '{name}' is missing.") { FilePath = gguf.Path };
                }
                return info;
            }
            WeightMatrix M(string name, int rows, int cols)
            {
                var info = Find(name);
                if (info.Shape.Length != 2 || info.Shape[0] != rows || info.Shape[1] != cols)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: tensor '{name}' has shape {info.ShapeText}, expected [{rows}, {cols}].") { FilePath = gguf.Path };
                }
                try
                {
                    return WeightMatrix.Create(name, info.Type, rows, cols, WeightMemory.FromNativeSpan(gguf.GetBytes(info)));
                }
                catch (EmbeddingGemmaException e)
                {
                    throw new EmbeddingGemmaException(e.Kind, $"{gguf.Path}: {e.Message}", e) { FilePath = gguf.Path };
                }
            }
            float[] G(string name, int n)
            {
                var info = Find(name);
                if (info.ElementCount != n)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: tensor '{name}' has shape {info.ShapeText}, expected [{n}].") { FilePath = gguf.Path };
                }
                return gguf.ReadFloats(info);   // GGUF stores norms as 1 + w already
            }
            var embed = M("token_embd.weight", c.VocabSize, h);
            var layers = new FastLayerWeights[c.NumHiddenLayers];
            for (var l = 0; l < layers.Length; l++)
            {
                var p = $"blk.{l}.";
                layers[l] = new FastLayerWeights
                {
                    AttnNormGain = G(p + "attn_norm.weight", h),
                    Wq = M(p + "attn_q.weight", qd, h),
                    Wk = M(p + "attn_k.weight", kvd, h),
                    Wv = M(p + "attn_v.weight", kvd, h),
                    QNormGain = G(p + "attn_q_norm.weight", c.HeadDim),
                    KNormGain = G(p + "attn_k_norm.weight", c.HeadDim),
                    Wo = M(p + "attn_output.weight", h, qd),
                    PostAttnNormGain = G(p + "post_attention_norm.weight", h),
                    PreFfnNormGain = G(p + "ffn_norm.weight", h),
                    WGate = M(p + "ffn_gate.weight", f, h),
                    WUp = M(p + "ffn_up.weight", f, h),
                    WDown = M(p + "ffn_down.weight", h, f),
                    PostFfnNormGain = G(p + "post_ffw_norm.weight", h),
                };
            }
            WeightMatrix? d2 = null, d3 = null;
            if (gguf.Tensors.TryGetValue("dense_2.weight", out var t2) && gguf.Tensors.ContainsKey("dense_3.weight"))
            {
                var inter = checked((int)t2.Shape[0]);
                d2 = M("dense_2.weight", inter, h);
                d3 = M("dense_3.weight", h, inter);
            }
            var weights = new FastEncoderWeights
            {
                Shape = ShapeOf(config),
                EmbeddingRow = embed.DequantizeRow,
                Layers = layers,
                FinalNormGain = G("output_norm.weight", h),
            };
            return new FastSequenceEncoder(config, weights, options, gguf, d2, d3);
        }
        catch
        {
            gguf.Dispose();
            throw;
        }
    }

    /// <summary>The engine's shape numbers from a configuration.</summary>
    public static FastEncoderShape ShapeOf(GemmaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new FastEncoderShape
        {
            HiddenSize = config.HiddenSize,
            IntermediateSize = config.IntermediateSize,
            Heads = config.NumAttentionHeads,
            KvHeads = config.NumKeyValueHeads,
            HeadDim = config.HeadDim,
            MaxPositions = config.MaxPositionEmbeddings,
            VocabSize = config.VocabSize,
            Eps = (float)config.RmsNormEps,
            AttentionScale = (float)config.AttentionScale,
            EmbedScale = (float)config.EmbedScale,
            LayerRadius = Enumerable.Range(0, config.NumHiddenLayers).Select(l => config.IsSlidingLayer(l) ? config.SlidingWindowRadius : -1).ToArray(),
            LayerRopeTheta = Enumerable.Range(0, config.NumHiddenLayers).Select(config.LayerRopeTheta).ToArray(),
        };
    }

    private static ModelWeights Check(ModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return weights;
    }

    private static FastEncoderWeights FromModelWeights(ModelWeights w, GgmlType type)
    {
        var c = w.Config;
        int h = c.HiddenSize, qd = c.NumAttentionHeads * c.HeadDim, kvd = c.NumKeyValueHeads * c.HeadDim, f = c.IntermediateSize;
        WeightMatrix M(string name, float[] values, int rows, int cols) => type == GgmlType.F32
            ? WeightMatrix.FromFloats(name, values, rows, cols)
            : WeightMatrix.Quantize(name, values, rows, cols, type);
        return new FastEncoderWeights
        {
            Shape = ShapeOf(c),
            EmbeddingRow = w.EmbeddingRow,
            FinalNormGain = w.FinalNormGain,
            Layers = w.Layers.Select((lw, l) => new FastLayerWeights
            {
                AttnNormGain = lw.AttnNormGain,
                Wq = M($"blk.{l}.attn_q.weight", lw.Wq, qd, h),
                Wk = M($"blk.{l}.attn_k.weight", lw.Wk, kvd, h),
                Wv = M($"blk.{l}.attn_v.weight", lw.Wv, kvd, h),
                QNormGain = lw.QNormGain,
                KNormGain = lw.KNormGain,
                Wo = M($"blk.{l}.attn_output.weight", lw.Wo, h, qd),
                PostAttnNormGain = lw.PostAttnNormGain,
                PreFfnNormGain = lw.PreFfnNormGain,
                WGate = M($"blk.{l}.ffn_gate.weight", lw.WGate, f, h),
                WUp = M($"blk.{l}.ffn_up.weight", lw.WUp, f, h),
                WDown = M($"blk.{l}.ffn_down.weight", lw.WDown, h, f),
                PostFfnNormGain = lw.PostFfnNormGain,
            }).ToArray(),
        };
    }

    /// <inheritdoc />
    public void Dispose() => _owner?.Dispose();
}
