using EmbeddingGemma.Formats;

namespace EmbeddingGemma.Model;

/// <summary>
/// Deterministic random weights of the exact EmbeddingGemma architecture. Each tensor is drawn from its own
/// stream seeded by (seed, tensor name), so a config override leaves unrelated tensors unchanged. Matrices are
/// N(0, (0.5/sqrt(in))^2) (std ~0.02-0.06, like the real model's scale), norm weights N(0, 0.1^2) around zero
/// (gain 1+w), the token embedding N(0, 0.05^2): activations are non-degenerate, so bugs show.
/// </summary>
public static class RandomModel
{
    /// <summary>The tiny shape: hidden 64, 6 layers (layer 5 global), 4 heads / 2 KV heads of 16, window 16, dense 256.</summary>
    public static GemmaConfig TinyConfig(int vocabSize) => new()
    {
        HiddenSize = 64,
        IntermediateSize = 128,
        NumHiddenLayers = 6,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 16,
        QueryPreAttnScalar = 16,
        VocabSize = vocabSize,
        MaxPositionEmbeddings = 2048,
        SlidingWindow = 16,
        SlidingWindowPattern = 6,
        LayerTypes = GemmaConfig.DefaultLayerTypes(6, 6),
    };

    /// <summary>Builds a checkpoint. <paramref name="shape"/> is "tiny" or "full"; <paramref name="configure"/> overrides any field.</summary>
    public static ModelCheckpoint Create(string shape = "tiny", int seed = 42, Func<GemmaConfig, GemmaConfig>? configure = null,
        string? tokenizerJsonPath = null, int? denseIntermediate = null)
    {
        var (tokJson, vocabCount) = CheckpointFiles.RandomModelTokenizer(tokenizerJsonPath);
        var tokConfig = SyntheticTokenizer.CreateConfigJson();
        var baseConfig = shape switch
        {
            "tiny" => TinyConfig(vocabCount),
            "full" => GemmaConfig.EmbeddingGemma300M with { VocabSize = Math.Min(vocabCount, 262144) },
            _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown model shape '{shape}'. Valid shapes: tiny, full."),
        };
        if (tokenizerJsonPath is not null && shape == "full")
        {
            baseConfig = baseConfig with { VocabSize = 262144 };
        }
        var config = (configure?.Invoke(baseConfig) ?? baseConfig);
        config = (config with { LayerTypes = config.LayerTypes is { } lt && lt.Count == config.NumHiddenLayers ? lt : GemmaConfig.DefaultLayerTypes(config.NumHiddenLayers, config.SlidingWindowPattern) }).Validate("random model config");
        if (config.VocabSize < vocabCount && tokenizerJsonPath is null)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"vocab_size {config.VocabSize} is smaller than the synthetic tokenizer ({vocabCount} pieces).");
        }
        var inter = denseIntermediate ?? (shape == "full" ? 3072 : 4 * config.HiddenSize);
        int h = config.HiddenSize, qd = config.NumAttentionHeads * config.HeadDim, kvd = config.NumKeyValueHeads * config.HeadDim, ff = config.IntermediateSize;
        var specs = new List<(string Name, long[] Shape, double Std)>
        {
            ("embed_tokens.weight", [config.VocabSize, h], 0.05),
        };
        for (var l = 0; l < config.NumHiddenLayers; l++)
        {
            string N(string s) => TensorNameMap.Layer(l, s);
            specs.Add((N("input_layernorm.weight"), [h], 0.1));
            specs.Add((N("self_attn.q_proj.weight"), [qd, h], 0.5 / Math.Sqrt(h)));
            specs.Add((N("self_attn.k_proj.weight"), [kvd, h], 0.5 / Math.Sqrt(h)));
            specs.Add((N("self_attn.v_proj.weight"), [kvd, h], 0.5 / Math.Sqrt(h)));
            specs.Add((N("self_attn.o_proj.weight"), [h, qd], 0.5 / Math.Sqrt(qd)));
            specs.Add((N("self_attn.q_norm.weight"), [config.HeadDim], 0.1));
            specs.Add((N("self_attn.k_norm.weight"), [config.HeadDim], 0.1));
            specs.Add((N("post_attention_layernorm.weight"), [h], 0.1));
            specs.Add((N("pre_feedforward_layernorm.weight"), [h], 0.1));
            specs.Add((N("mlp.gate_proj.weight"), [ff, h], 0.5 / Math.Sqrt(h)));
            specs.Add((N("mlp.up_proj.weight"), [ff, h], 0.5 / Math.Sqrt(h)));
            specs.Add((N("mlp.down_proj.weight"), [h, ff], 0.5 / Math.Sqrt(ff)));
            specs.Add((N("post_feedforward_layernorm.weight"), [h], 0.1));
        }
        specs.Add(("norm.weight", [h], 0.1));
        specs.Add((TensorNameMap.Dense2Hf, [inter, h], 0.5 / Math.Sqrt(h)));
        specs.Add((TensorNameMap.Dense3Hf, [h, inter], 0.5 / Math.Sqrt(inter)));
        var tensors = new CheckpointTensor[specs.Count];
        Parallel.For(0, specs.Count, i =>
        {
            var (name, s, std) = specs[i];
            var values = new float[s.Aggregate(1L, (a, b) => a * b)];
            var rng = new Rng(seed, name);
            for (var j = 0; j < values.Length; j++)
            {
                values[j] = (float)(rng.NextGaussian() * std);
            }
            tensors[i] = new CheckpointTensor(name, s, values);
        });
        return new ModelCheckpoint
        {
            Config = config,
            Tensors = tensors,
            TokenizerJson = tokJson,
            TokenizerConfigJson = tokConfig,
            Name = $"embeddinggemma-random-{shape}-seed{seed}",
        };
    }

    /// <summary>SplitMix64 seeded by (seed, FNV-1a of the name) with Box-Muller normals (integer stream is platform-independent; the normals use Math.Log/Sin/Cos).</summary>
    internal struct Rng
    {
        private ulong _state;
        private double? _spare;

        public Rng(int seed, string name)
        {
            ulong h = 14695981039346656037UL;
            foreach (var c in name)
            {
                h = (h ^ c) * 1099511628211UL;
            }
            _state = h ^ ((ulong)(uint)seed * 0x9E3779B97F4A7C15UL);
            _spare = null;
        }

        private ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        private double Uniform() => ((Next() >> 11) + 0.5) * (1.0 / (1UL << 53));

        public double NextGaussian()
        {
            if (_spare is { } s)
            {
                _spare = null;
                return s;
            }
            var u1 = Uniform();
            var u2 = Uniform();
            var r = Math.Sqrt(-2.0 * Math.Log(u1));
            _spare = r * Math.Sin(2 * Math.PI * u2);
            return r * Math.Cos(2 * Math.PI * u2);
        }
    }
}
