using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace EmbeddingGemma.Model;

/// <summary>
/// The backbone configuration with the Hugging Face <c>config.json</c> field names (spec §1). Defaults are the
/// published values of <c>google/embeddinggemma-300m</c>. Immutable; <see cref="Validate"/> runs on every load.
/// </summary>
public sealed record GemmaConfig
{
    [JsonPropertyName("architectures")] public IReadOnlyList<string> Architectures { get; init; } = ["Gemma3TextModel"];
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "gemma3_text";
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 768;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 1152;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 24;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 3;
    [JsonPropertyName("num_key_value_heads")] public int NumKeyValueHeads { get; init; } = 1;
    [JsonPropertyName("head_dim")] public int HeadDim { get; init; } = 256;
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 262144;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 2048;

    /// <summary>The FULL symmetric window W as serialized by the original checkpoint (512); keys with |i-j| &lt;= W/2 are visible on sliding layers.</summary>
    [JsonPropertyName("sliding_window")] public int SlidingWindow { get; init; } = 512;
    [JsonPropertyName("_sliding_window_pattern")] public int SlidingWindowPattern { get; init; } = 6;
    [JsonPropertyName("layer_types")] public IReadOnlyList<string>? LayerTypes { get; init; }
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 1_000_000.0;
    [JsonPropertyName("rope_local_base_freq")] public double RopeLocalBaseFreq { get; init; } = 10_000.0;
    [JsonPropertyName("query_pre_attn_scalar")] public double QueryPreAttnScalar { get; init; } = 256;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("hidden_activation")] public string HiddenActivation { get; init; } = "gelu_pytorch_tanh";
    [JsonPropertyName("attn_logit_softcapping")] public double? AttnLogitSoftcapping { get; init; }
    [JsonPropertyName("final_logit_softcapping")] public double? FinalLogitSoftcapping { get; init; }
    [JsonPropertyName("use_bidirectional_attention")] public bool UseBidirectionalAttention { get; init; } = true;
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 1;
    [JsonPropertyName("bos_token_id")] public int BosTokenId { get; init; } = 2;
    [JsonPropertyName("dtype")] public string? DType { get; init; } = "float32";

    /// <summary>Set when a halved <c>sliding_window</c> (257, 129...) of a re-saved 300M config was repaired to 512 (spec §7.5).</summary>
    [JsonIgnore] public string? SlidingWindowNote { get; init; }

    /// <summary>The published EmbeddingGemma-300M configuration.</summary>
    public static GemmaConfig EmbeddingGemma300M { get; } = new GemmaConfig { LayerTypes = DefaultLayerTypes(24, 6) };

    /// <summary>The layer schedule rule of Gemma 3: layer i is global when (i+1) % pattern == 0 (HF-CFG).</summary>
    public static string[] DefaultLayerTypes(int layers, int pattern) =>
        Enumerable.Range(0, layers).Select(i => (i + 1) % pattern == 0 ? "full_attention" : "sliding_attention").ToArray();

    /// <summary>True when layer <paramref name="layer"/> uses the sliding window.</summary>
    public bool IsSlidingLayer(int layer) =>
        LayerTypes is { } t ? t[layer] == "sliding_attention" : (layer + 1) % SlidingWindowPattern != 0;

    /// <summary>Visible distance on sliding layers: |i-j| &lt;= W/2 (HF PR #40700, llama.cpp LLAMA_SWA_TYPE_SYMMETRIC, TEI).</summary>
    public int SlidingWindowRadius => SlidingWindow / 2;

    /// <summary>RoPE base of a layer: rope_local_base_freq on sliding layers, rope_theta on global ones.</summary>
    public double LayerRopeTheta(int layer) => IsSlidingLayer(layer) ? RopeLocalBaseFreq : RopeTheta;

    /// <summary>Attention scale query_pre_attn_scalar^-0.5 (spec §7.9).</summary>
    public double AttentionScale => 1.0 / Math.Sqrt(QueryPreAttnScalar);

    /// <summary>Token embedding scale sqrt(hidden_size) (HF Gemma3TextScaledWordEmbedding).</summary>
    public double EmbedScale => Math.Sqrt(HiddenSize);

    private static readonly ModelConfigJsonContext Json = new(new JsonSerializerOptions { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never });

    /// <summary>Reads and validates a config.json (unknown fields are ignored).</summary>
    public static GemmaConfig FromFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"config.json not found: {Path.GetFullPath(path)}") { FilePath = path };
        }
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates config.json text. <paramref name="source"/> names the file in errors.</summary>
    public static GemmaConfig FromJson(string json, string source = "config.json")
    {
        GemmaConfig? cfg;
        try
        {
            cfg = ModelConfigJsonContext.DeserializeOverDefaults(json, Json.GemmaConfig, new GemmaConfig());
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: invalid config JSON at {e.Path}: {e.Message}", e) { FilePath = source };
        }
        if (cfg is null)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: config JSON is null.") { FilePath = source };
        }
        return cfg.RepairSlidingWindow().Validate(source);
    }

    /// <summary>
    /// transformers rewrote sliding_window to W//2+1 on load and some versions saved that value (PR #47940), halving it
    /// again on every save (512 -> 257 -> 129 -> ...). For the 300M shapes such a value is mapped back to 512.
    /// </summary>
    private GemmaConfig RepairSlidingWindow()
    {
        if (HiddenSize == 768 && NumHiddenLayers == 24 && UseBidirectionalAttention && SlidingWindow != 512)
        {
            var w = 512;
            while (w > 2)
            {
                w = w / 2 + 1;
                if (w == SlidingWindow)
                {
                    return this with { SlidingWindow = 512, SlidingWindowNote = $"sliding_window {SlidingWindow} in config.json is a re-saved (halved) value; using the original 512 (spec §7.5)." };
                }
            }
        }
        return this;
    }

    /// <summary>Checks every field; throws InvalidFormat naming the field and the expectation.</summary>
    public GemmaConfig Validate(string source = "config.json")
    {
        void Need(bool ok, string field, string expectation)
        {
            if (!ok)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: field '{field}' {expectation}.") { FilePath = source };
            }
        }
        // Upper bounds far above any real model keep every size product (heads * head_dim, rows * cols) inside int.
        const int MaxDim = 1 << 20;
        Need(HiddenSize > 0 && HiddenSize <= MaxDim, "hidden_size", $"must be 1..{MaxDim}, got {HiddenSize}");
        Need(IntermediateSize > 0 && IntermediateSize <= MaxDim, "intermediate_size", $"must be 1..{MaxDim}, got {IntermediateSize}");
        Need(NumHiddenLayers > 0 && NumHiddenLayers <= 4096, "num_hidden_layers", $"must be 1..4096, got {NumHiddenLayers}");
        Need(NumAttentionHeads > 0 && NumAttentionHeads <= MaxDim, "num_attention_heads", $"must be 1..{MaxDim}, got {NumAttentionHeads}");
        Need(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0, "num_key_value_heads", $"must divide num_attention_heads ({NumAttentionHeads}), got {NumKeyValueHeads}");
        Need(HeadDim > 0 && HeadDim % 2 == 0 && HeadDim <= MaxDim, "head_dim", $"must be positive, even (RoPE rotates pairs) and at most {MaxDim}, got {HeadDim}");
        Need((long)NumAttentionHeads * HeadDim <= MaxDim, "num_attention_heads * head_dim", $"must be at most {MaxDim}, got {(long)NumAttentionHeads * HeadDim}");
        Need(VocabSize > 0, "vocab_size", $"must be positive, got {VocabSize}");
        Need(MaxPositionEmbeddings > 0 && MaxPositionEmbeddings <= MaxDim, "max_position_embeddings", $"must be 1..{MaxDim}, got {MaxPositionEmbeddings}");
        Need(SlidingWindow >= 2, "sliding_window", $"must be at least 2, got {SlidingWindow}");
        Need(SlidingWindowPattern > 0, "_sliding_window_pattern", $"must be positive, got {SlidingWindowPattern}");
        Need(RopeTheta > 0 && RopeLocalBaseFreq > 0 && double.IsFinite(RopeTheta) && double.IsFinite(RopeLocalBaseFreq), "rope_theta/rope_local_base_freq", "must be positive and finite");
        Need(QueryPreAttnScalar > 0 && double.IsFinite(QueryPreAttnScalar), "query_pre_attn_scalar", $"must be positive, got {QueryPreAttnScalar}");
        Need(RmsNormEps > 0 && RmsNormEps < 1, "rms_norm_eps", $"must be in (0, 1), got {RmsNormEps}");
        Need(HiddenActivation is "gelu_pytorch_tanh", "hidden_activation", $"must be gelu_pytorch_tanh, got {HiddenActivation}");
        Need(AttnLogitSoftcapping is null, "attn_logit_softcapping", "must be null (EmbeddingGemma has no softcapping)");
        Need(UseBidirectionalAttention, "use_bidirectional_attention", "must be true for EmbeddingGemma (causal attention is a known peer bug)");
        Need(!AttentionBias, "attention_bias", "must be false (no biases in EmbeddingGemma)");
        Need(ModelType is "gemma3_text" or "gemma3" or "gemma-embedding" or "embedding_gemma2_text", "model_type", $"must be gemma3_text, got {ModelType}");
        Need(PadTokenId >= 0 && PadTokenId < VocabSize && BosTokenId >= 0 && BosTokenId < VocabSize && EosTokenId >= 0 && EosTokenId < VocabSize,
            "pad/bos/eos_token_id", "must lie inside the vocabulary");
        if (LayerTypes is { } t)
        {
            Need(t.Count == NumHiddenLayers, "layer_types", $"must have num_hidden_layers ({NumHiddenLayers}) entries, got {t.Count}");
            Need(t.All(x => x is "sliding_attention" or "full_attention"), "layer_types", "entries must be sliding_attention or full_attention");
        }
        Need(DType is null or "float32" or "bfloat16" or "float16", "dtype", $"must be float32, bfloat16 or float16, got {DType}");
        return this;
    }

    /// <summary>Serializes as config.json (layer_types always explicit).</summary>
    public string ToJson()
    {
        var node = JsonSerializer.SerializeToNode(this with { LayerTypes = LayerTypes ?? DefaultLayerTypes(NumHiddenLayers, SlidingWindowPattern) }, Json.GemmaConfig)!.AsObject();
        node["transformers_version"] = "4.57.0";
        node["initializer_range"] = 0.02;
        node["use_cache"] = true;
        node["attention_dropout"] = 0.0;
        node["rope_scaling"] = null;
        return node.ToJsonString(Json.Options);
    }
}
