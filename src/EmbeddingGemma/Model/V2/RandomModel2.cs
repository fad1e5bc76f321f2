using EmbeddingGemma.Formats;

namespace EmbeddingGemma.Model.V2;

/// <summary>
/// Deterministic random weights of the exact EmbeddingGemma 2 text architecture (spec2 §1, §5.1). Each tensor has its
/// own stream seeded by (seed, tensor name). Matrices N(0, (0.5/sqrt(in))^2), embedding N(0, 0.05^2). Norm gains are
/// plain w (Gemma 4), drawn near the released values (spec2 §11.6): q_norm about 1.0, k_norm about 0.12 (with gains
/// near 1 the attention logits of a full-size model are chaotic), the other norms about 1; layer scalars in [0.2, 1].
/// </summary>
public static class RandomModel2
{
    /// <summary>
    /// hidden 64, 6 layers (layer 5 full), 4 heads; sliding 2 KV heads of 16, full 1 KV head of 32; PLE width 48
    /// (differs from hidden on purpose, spec2 §11.1); projection to 96; radius 8.
    /// </summary>
    public static EmbeddingGemma2Config TinyConfig(int vocabSize) => new()
    {
        HiddenSize = 64,
        IntermediateSize = 128,
        NumHiddenLayers = 6,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 16,
        GlobalHeadDim = 32,
        NumGlobalKeyValueHeads = 1,
        VocabSize = vocabSize,
        HiddenSizePerLayerInput = 48,
        EmbeddingDim = 96,
        SlidingWindow = 8,
        MaxPositionEmbeddings = 262144,
        LayerTypes = EmbeddingGemma2Config.DefaultLayerTypes(6),
    };

    /// <summary>Builds a checkpoint: <paramref name="shape"/> "tiny" or "full" (the released shapes); <paramref name="configure"/> overrides any field.</summary>
    public static ModelCheckpoint2 Create(string shape = "tiny", int seed = 42, Func<EmbeddingGemma2Config, EmbeddingGemma2Config>? configure = null,
        string? tokenizerJsonPath = null, IReadOnlyList<string>? multimodalStubs = null)
    {
        var (tokJson, vocabCount) = CheckpointFiles.RandomModelTokenizer(tokenizerJsonPath);
        var baseConfig = shape switch
        {
            "tiny" => TinyConfig(vocabCount),
            "full" => EmbeddingGemma2Config.Released with { VocabSize = tokenizerJsonPath is null ? vocabCount : 262144 },
            _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown model shape '{shape}'. Valid shapes: tiny, full."),
        };
        var config = (configure?.Invoke(baseConfig) ?? baseConfig).Normalized().Validate("random model config");
        if (config.VocabSize < vocabCount && tokenizerJsonPath is null)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"vocab_size {config.VocabSize} is smaller than the synthetic tokenizer ({vocabCount} pieces).");
        }
        int d = config.HiddenSize, ff = config.IntermediateSize, pl = config.HiddenSizePerLayerInput, nh = config.NumAttentionHeads;
        // (name, shape, mean, std)
        var specs = new List<(string Name, long[] Shape, double Mean, double Std)>
        {
            ("embed_tokens.weight", [config.VocabSize, d], 0, 0.05),
            ("ple.per_layer_model_projection.weight", [(long)config.NumHiddenLayers * pl, d], 0, 0.5 / Math.Sqrt(d)),
            ("ple.per_layer_projection_norm.weight", [pl], 1.0, 0.1),
        };
        for (var l = 0; l < config.NumHiddenLayers; l++)
        {
            string N(string s) => TensorNameMap.Layer(l, s);
            int hd = config.LayerHeadDim(l), kv = config.LayerKeyValueHeads(l);
            specs.Add((N("input_layernorm.weight"), [d], 1.0, 0.1));
            specs.Add((N("self_attn.q_proj.weight"), [nh * hd, d], 0, 0.5 / Math.Sqrt(d)));
            specs.Add((N("self_attn.k_proj.weight"), [kv * hd, d], 0, 0.5 / Math.Sqrt(d)));
            specs.Add((N("self_attn.v_proj.weight"), [kv * hd, d], 0, 0.5 / Math.Sqrt(d)));
            specs.Add((N("self_attn.o_proj.weight"), [d, nh * hd], 0, 0.5 / Math.Sqrt(nh * hd)));
            specs.Add((N("self_attn.q_norm.weight"), [hd], 1.0234, 0.02));   // released: q_norm ≡ 1.0234 (spec2 §2.1)
            specs.Add((N("self_attn.k_norm.weight"), [hd], 0.1221, 0.01));   // released: k_norm ≡ 0.1221
            specs.Add((N("post_attention_layernorm.weight"), [d], 1.0, 0.1));
            specs.Add((N("pre_feedforward_layernorm.weight"), [d], 1.0, 0.1));
            specs.Add((N("mlp.gate_proj.weight"), [ff, d], 0, 0.5 / Math.Sqrt(d)));
            specs.Add((N("mlp.up_proj.weight"), [ff, d], 0, 0.5 / Math.Sqrt(d)));
            specs.Add((N("mlp.down_proj.weight"), [d, ff], 0, 0.5 / Math.Sqrt(ff)));
            specs.Add((N("post_feedforward_layernorm.weight"), [d], 1.0, 0.1));
            specs.Add((N("ple_block.per_layer_input_gate.weight"), [pl, d], 0, 0.5 / Math.Sqrt(d)));
            specs.Add((N("ple_block.per_layer_projection.weight"), [d, pl], 0, 0.5 / Math.Sqrt(pl)));
            specs.Add((N("ple_block.post_per_layer_input_norm.weight"), [d], 1.0, 0.1));
            specs.Add((N("layer_scalar"), [1], double.NaN, 0));               // uniform in [0.2, 1.0], below
        }
        specs.Add(("norm.weight", [d], 1.0, 0.1));
        specs.Add(("embedding_projection.weight", [config.EmbeddingDim, d], 0, 0.5 / Math.Sqrt(d)));
        foreach (var stub in multimodalStubs ?? [])
        {
            specs.Add((stub, [4, 4], 0, 1));
        }
        var tensors = new CheckpointTensor[specs.Count];
        Parallel.For(0, specs.Count, i =>
        {
            var (name, s, mean, std) = specs[i];
            var values = new float[s.Aggregate(1L, (a, b) => a * b)];
            var rng = new RandomModel.Rng(seed, name);
            for (var j = 0; j < values.Length; j++)
            {
                var g = rng.NextGaussian();
                values[j] = double.IsNaN(mean) ? (float)(0.6 + 0.4 * Math.Tanh(g)) : (float)(mean + g * std);
            }
            tensors[i] = new CheckpointTensor(name, s, values);
        });
        return new ModelCheckpoint2
        {
            Config = config,
            Tensors = tensors,
            TokenizerJson = tokJson,
            TokenizerConfigJson = SyntheticTokenizer.CreateConfigJson(),
            Name = $"embeddinggemma2-random-{shape}-seed{seed}",
        };
    }
}
