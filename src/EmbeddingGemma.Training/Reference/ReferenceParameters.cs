using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Training.Reference;

/// <summary>One trainable tensor: its Hugging Face name, shape, values (row-major) and whether it is a norm weight.</summary>
public sealed record ParameterTensor(string Name, int[] Shape, double[] Values)
{
    /// <summary>True for RMSNorm weights (names ending in <c>norm.weight</c>), which AdamW's default grouping does not decay.</summary>
    public bool IsNorm => TensorNameMap.IsNormWeight(Name);
}

/// <summary>The trainable tensors of one encoder layer, in forward order. Norm weights are the zero-centred HF w (gain 1 + w).</summary>
public sealed class LayerParameters
{
    public required double[] AttnNorm { get; init; }
    public required double[] Wq { get; init; }
    public required double[] Wk { get; init; }
    public required double[] Wv { get; init; }
    public required double[] QNorm { get; init; }
    public required double[] KNorm { get; init; }
    public required double[] Wo { get; init; }
    public required double[] PostAttnNorm { get; init; }
    public required double[] PreFfnNorm { get; init; }
    public required double[] WGate { get; init; }
    public required double[] WUp { get; init; }
    public required double[] WDown { get; init; }
    public required double[] PostFfnNorm { get; init; }
}

/// <summary>
/// Every trainable tensor of the sentence-transformers pipeline as plain fp64 arrays (the reference; the fp32 trainer
/// will hold float arrays with the same names): token embedding, the layers, the final norm and the Dense heads.
/// Built from a loaded model's <see cref="ModelWeights"/> (matrices dequantized from their stored type with
/// <see cref="WeightMatrix.Dequantize"/>, norm gains turned back into HF's zero-centred w = gain − 1) and the pipeline's
/// <see cref="DenseLayer"/>s. The same type holds gradients (<see cref="ZerosLike"/>).
/// </summary>
public sealed class ReferenceParameters
{
    private ReferenceParameters(GemmaConfig config, double[] embedding, LayerParameters[] layers, double[] finalNorm, double[][] dense, int[][] denseShapes)
    {
        Config = config;
        Embedding = embedding;
        Layers = layers;
        FinalNorm = finalNorm;
        Dense = dense;
        DenseShapes = denseShapes;
        var h = config.HiddenSize;
        int qd = config.NumAttentionHeads * config.HeadDim, kvd = config.NumKeyValueHeads * config.HeadDim, ff = config.IntermediateSize, hd = config.HeadDim;
        var list = new List<ParameterTensor> { new("embed_tokens.weight", [config.VocabSize, h], embedding) };
        for (var l = 0; l < layers.Length; l++)
        {
            var p = layers[l];
            string N(string s) => TensorNameMap.Layer(l, s);
            list.Add(new(N("input_layernorm.weight"), [h], p.AttnNorm));
            list.Add(new(N("self_attn.q_proj.weight"), [qd, h], p.Wq));
            list.Add(new(N("self_attn.k_proj.weight"), [kvd, h], p.Wk));
            list.Add(new(N("self_attn.v_proj.weight"), [kvd, h], p.Wv));
            list.Add(new(N("self_attn.q_norm.weight"), [hd], p.QNorm));
            list.Add(new(N("self_attn.k_norm.weight"), [hd], p.KNorm));
            list.Add(new(N("self_attn.o_proj.weight"), [h, qd], p.Wo));
            list.Add(new(N("post_attention_layernorm.weight"), [h], p.PostAttnNorm));
            list.Add(new(N("pre_feedforward_layernorm.weight"), [h], p.PreFfnNorm));
            list.Add(new(N("mlp.gate_proj.weight"), [ff, h], p.WGate));
            list.Add(new(N("mlp.up_proj.weight"), [ff, h], p.WUp));
            list.Add(new(N("mlp.down_proj.weight"), [h, ff], p.WDown));
            list.Add(new(N("post_feedforward_layernorm.weight"), [h], p.PostFfnNorm));
        }
        list.Add(new("norm.weight", [h], finalNorm));
        for (var i = 0; i < dense.Length; i++)
        {
            list.Add(new(i == 0 ? TensorNameMap.Dense2Hf : i == 1 ? TensorNameMap.Dense3Hf : $"{i + 2}_Dense.linear.weight", denseShapes[i], dense[i]));
        }
        Tensors = list;
    }

    public GemmaConfig Config { get; }

    /// <summary>Token embedding [vocab, hidden].</summary>
    public double[] Embedding { get; }

    public IReadOnlyList<LayerParameters> Layers { get; }

    /// <summary>Final norm w [hidden].</summary>
    public double[] FinalNorm { get; }

    /// <summary>The Dense heads in pipeline order, each [out, in] (empty for a backbone without heads).</summary>
    public IReadOnlyList<double[]> Dense { get; }

    /// <summary>[out, in] of each Dense head.</summary>
    public IReadOnlyList<int[]> DenseShapes { get; }

    /// <summary>Every tensor in forward order with its Hugging Face name (the values are the arrays above, not copies).</summary>
    public IReadOnlyList<ParameterTensor> Tensors { get; }

    /// <summary>The total number of scalars.</summary>
    public long Count => Tensors.Sum(t => (long)t.Values.Length);

    /// <summary>Reads a loaded model: its backbone weights and its pipeline's Dense heads.</summary>
    public static ReferenceParameters FromModel(EmbeddingGemmaModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return FromWeights(model.Weights, model.Pipeline.Dense);
    }

    /// <summary>Reads <paramref name="weights"/> (any stored type, dequantized) and the Dense heads.</summary>
    public static ReferenceParameters FromWeights(ModelWeights weights, IReadOnlyList<DenseLayer> dense)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(dense);
        static double[] M(WeightMatrix m) => Array.ConvertAll(m.Dequantize(), v => (double)v);
        static double[] W(float[] gain) => Array.ConvertAll(gain, g => (double)g - 1.0);
        var layers = weights.Layers.Select(l => new LayerParameters
        {
            AttnNorm = W(l.AttnNormGain),
            Wq = M(l.Wq),
            Wk = M(l.Wk),
            Wv = M(l.Wv),
            QNorm = W(l.QNormGain),
            KNorm = W(l.KNormGain),
            Wo = M(l.Wo),
            PostAttnNorm = W(l.PostAttnNormGain),
            PreFfnNorm = W(l.PreFfnNormGain),
            WGate = M(l.WGate),
            WUp = M(l.WUp),
            WDown = M(l.WDown),
            PostFfnNorm = W(l.PostFfnNormGain),
        }).ToArray();
        return new ReferenceParameters(weights.Config, M(weights.Embedding), layers, W(weights.FinalNormGain),
            dense.Select(d => M(d.Weight)).ToArray(), dense.Select(d => new[] { d.OutFeatures, d.InFeatures }).ToArray());
    }

    /// <summary>
    /// Reads a checkpoint in Hugging Face convention (norm weights as the zero-centred w, Dense heads named
    /// <see cref="TensorNameMap.Dense2Hf"/>/<see cref="TensorNameMap.Dense3Hf"/>): every tensor widened to fp64, exactly.
    /// </summary>
    public static ReferenceParameters FromCheckpoint(ModelCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var c = checkpoint.Config;
        var byName = checkpoint.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        double[] T(string name, long count)
        {
            if (!byName.TryGetValue(name, out var t))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Checkpoint tensor '{name}' is missing.");
            }
            if (t.Values.LongLength != count)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Checkpoint tensor '{name}' has {t.Values.LongLength} values, expected {count} for this config.");
            }
            return Array.ConvertAll(t.Values, v => (double)v);
        }
        int h = c.HiddenSize, qd = c.NumAttentionHeads * c.HeadDim, kvd = c.NumKeyValueHeads * c.HeadDim, ff = c.IntermediateSize, hd = c.HeadDim;
        var layers = new LayerParameters[c.NumHiddenLayers];
        for (var l = 0; l < layers.Length; l++)
        {
            string N(string s) => TensorNameMap.Layer(l, s);
            layers[l] = new LayerParameters
            {
                AttnNorm = T(N("input_layernorm.weight"), h),
                Wq = T(N("self_attn.q_proj.weight"), (long)qd * h),
                Wk = T(N("self_attn.k_proj.weight"), (long)kvd * h),
                Wv = T(N("self_attn.v_proj.weight"), (long)kvd * h),
                QNorm = T(N("self_attn.q_norm.weight"), hd),
                KNorm = T(N("self_attn.k_norm.weight"), hd),
                Wo = T(N("self_attn.o_proj.weight"), (long)h * qd),
                PostAttnNorm = T(N("post_attention_layernorm.weight"), h),
                PreFfnNorm = T(N("pre_feedforward_layernorm.weight"), h),
                WGate = T(N("mlp.gate_proj.weight"), (long)ff * h),
                WUp = T(N("mlp.up_proj.weight"), (long)ff * h),
                WDown = T(N("mlp.down_proj.weight"), (long)h * ff),
                PostFfnNorm = T(N("post_feedforward_layernorm.weight"), h),
            };
        }
        var dense = new List<double[]>();
        var shapes = new List<int[]>();
        foreach (var name in new[] { TensorNameMap.Dense2Hf, TensorNameMap.Dense3Hf })
        {
            if (byName.TryGetValue(name, out var d))
            {
                shapes.Add([(int)d.Shape[0], (int)d.Shape[1]]);
                dense.Add(T(name, d.Values.LongLength));
            }
        }
        return new ReferenceParameters(c, T("embed_tokens.weight", (long)c.VocabSize * h), layers, T("norm.weight", h), dense.ToArray(), shapes.ToArray());
    }

    /// <summary>Zeros of the same shapes (a gradient accumulator).</summary>
    public ReferenceParameters ZerosLike()
    {
        static double[] Z(double[] a) => new double[a.Length];
        var layers = Layers.Select(p => new LayerParameters
        {
            AttnNorm = Z(p.AttnNorm),
            Wq = Z(p.Wq),
            Wk = Z(p.Wk),
            Wv = Z(p.Wv),
            QNorm = Z(p.QNorm),
            KNorm = Z(p.KNorm),
            Wo = Z(p.Wo),
            PostAttnNorm = Z(p.PostAttnNorm),
            PreFfnNorm = Z(p.PreFfnNorm),
            WGate = Z(p.WGate),
            WUp = Z(p.WUp),
            WDown = Z(p.WDown),
            PostFfnNorm = Z(p.PostFfnNorm),
        }).ToArray();
        return new ReferenceParameters(Config, Z(Embedding), layers, Z(FinalNorm), Dense.Select(Z).ToArray(), DenseShapes.ToArray());
    }
}
