using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace EmbeddingGemma.Model.V2;

/// <summary>Per-layer attention shape override (HF-CFG <c>per_layer_config</c> entry).</summary>
public sealed record LayerAttentionOverride
{
    [JsonPropertyName("head_dim")] public int? HeadDim { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
}

/// <summary>RoPE parameters of one layer type (HF-CFG <c>rope_parameters[layer_type]</c>).</summary>
public sealed record RopeParameters
{
    [JsonPropertyName("rope_type")] public string RopeType { get; init; } = "default";
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10_000.0;
    [JsonPropertyName("partial_rotary_factor")] public double? PartialRotaryFactor { get; init; }
}

/// <summary>
/// The text configuration of EmbeddingGemma 2 (spec2 §1) with the Hugging Face <c>text_config</c> field names of
/// model type <c>embedding_gemma2</c>. Defaults are the released values. Immutable; <see cref="Validate"/> runs on every load.
/// What differs from v1's <see cref="GemmaConfig"/>: per-layer head width and KV heads (global layers 512 / 1),
/// <see cref="SlidingWindow"/> IS the radius, PLE width, the 512->768 embedding projection, attention scale 1.0.
/// </summary>
public sealed record EmbeddingGemma2Config
{
    /// <summary>The supported context of every released EmbeddingGemma 2 (CARD; NUC): 8,192 tokens incl. BOS/EOS (spec2 §8.12).</summary>
    public const int SupportedContext = 8192;

    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "embedding_gemma2_text";
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 512;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 2048;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 24;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 4;

    /// <summary>KV heads of the sliding layers (2 in the release).</summary>
    [JsonPropertyName("num_key_value_heads")] public int NumKeyValueHeads { get; init; } = 2;

    /// <summary>Head width of the sliding layers (256 in the release).</summary>
    [JsonPropertyName("head_dim")] public int HeadDim { get; init; } = 256;

    /// <summary>Head width of full-attention layers; transformers falls back to 512 when absent (spec2 §11.3).</summary>
    [JsonPropertyName("global_head_dim")] public int? GlobalHeadDim { get; init; } = 512;

    /// <summary>KV heads of full-attention layers; transformers falls back to 1 when absent (spec2 §11.3).</summary>
    [JsonPropertyName("num_global_key_value_heads")] public int? NumGlobalKeyValueHeads { get; init; } = 1;

    /// <summary>Per-layer overrides keyed by layer index ("5") or layer type ("full_attention"); wins over the fields above.</summary>
    [JsonPropertyName("per_layer_config")] public IReadOnlyDictionary<string, LayerAttentionOverride>? PerLayerConfig { get; init; }

    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 262144;

    /// <summary>PLE width P (512 in the release; equal to hidden there, so tests use a config where it differs, spec2 §11.1).</summary>
    [JsonPropertyName("hidden_size_per_layer_input")] public int HiddenSizePerLayerInput { get; init; } = 512;

    /// <summary>Output width of <c>embedding_projection</c> (768).</summary>
    [JsonPropertyName("embedding_dim")] public int EmbeddingDim { get; init; } = 768;

    [JsonPropertyName("layer_types")] public IReadOnlyList<string>? LayerTypes { get; init; }

    /// <summary>The inclusive RADIUS: key j is visible from query i on sliding layers iff |i-j| &lt;= sliding_window (HF-CFG docstring, HF-MASK). Not halved (spec2 §8.7).</summary>
    [JsonPropertyName("sliding_window")] public int SlidingWindow { get; init; } = 512;

    [JsonPropertyName("rope_parameters")] public IReadOnlyDictionary<string, RopeParameters>? RopeParametersByType { get; init; }
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("hidden_activation")] public string HiddenActivation { get; init; } = "gelu_pytorch_tanh";

    /// <summary>262,144 in config.json; the supported context is <see cref="SupportedContext"/> (spec2 §1, §8.12).</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 262144;
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 1;
    [JsonPropertyName("bos_token_id")] public int BosTokenId { get; init; } = 2;
    [JsonPropertyName("dtype")] public string? DType { get; init; } = "float32";

    /// <summary>Media placeholder ids (composite config; HF-CFG): replaced by pad before the text embedding (HF EmbeddingGemma2Model.forward).</summary>
    [JsonIgnore] public int ImageTokenId { get; init; } = 258880;

    /// <inheritdoc cref="ImageTokenId"/>
    [JsonIgnore] public int AudioTokenId { get; init; } = 258881;

    /// <inheritdoc cref="ImageTokenId"/>
    [JsonIgnore] public int VideoTokenId { get; init; } = 258884;

    /// <summary>Set when the last layer was forced to full attention (HF-CFG does so with a warning).</summary>
    [JsonIgnore] public string? Note { get; init; }

    /// <summary>The released EmbeddingGemma 2 text configuration.</summary>
    public static EmbeddingGemma2Config Released { get; } = new() { LayerTypes = DefaultLayerTypes(24) };

    /// <summary>HF-CFG: layer i is sliding unless (i+1) % 6 == 0; the last layer is always full.</summary>
    public static string[] DefaultLayerTypes(int layers) =>
        Enumerable.Range(0, layers).Select(i => (i + 1) % 6 == 0 || i == layers - 1 ? "full_attention" : "sliding_attention").ToArray();

    /// <summary>True when layer <paramref name="layer"/> is a sliding-window layer.</summary>
    public bool IsSlidingLayer(int layer) => (LayerTypes ?? DefaultLayerTypes(NumHiddenLayers))[layer] == "sliding_attention";

    private LayerAttentionOverride? Override(int layer)
    {
        if (PerLayerConfig is null)
        {
            return null;
        }
        if (PerLayerConfig.TryGetValue(layer.ToString(CultureInfo.InvariantCulture), out var o))
        {
            return o;
        }
        return PerLayerConfig.TryGetValue(IsSlidingLayer(layer) ? "sliding_attention" : "full_attention", out var t) ? t : null;
    }

    /// <summary>Head width of a layer: 256 on sliding layers, 512 on full ones in the release (spec2 §8.4).</summary>
    public int LayerHeadDim(int layer) => Override(layer)?.HeadDim ?? (IsSlidingLayer(layer) ? HeadDim : GlobalHeadDim ?? 512);

    /// <summary>KV heads of a layer: 2 on sliding layers, 1 on full ones in the release.</summary>
    public int LayerKeyValueHeads(int layer) => Override(layer)?.NumKeyValueHeads ?? (IsSlidingLayer(layer) ? NumKeyValueHeads : NumGlobalKeyValueHeads ?? 1);

    /// <summary>RoPE base of a layer: 1e4 sliding, 1e6 full (HF-CFG defaults); default RoPE over the whole head (spec2 §2.6).</summary>
    public double LayerRopeTheta(int layer)
    {
        var type = IsSlidingLayer(layer) ? "sliding_attention" : "full_attention";
        return RopeParametersByType is { } r && r.TryGetValue(type, out var p) ? p.RopeTheta : type == "sliding_attention" ? 10_000.0 : 1_000_000.0;
    }

    /// <summary>Attention scale: 1.0 — the q/k RMS norms carry the scale (HF-MOD EmbeddingGemma2Attention; LC-GRAPH f_attention_scale = 1.0f; spec2 §8.3).</summary>
    public double AttentionScale => 1.0;

    /// <summary>Token embedding scale sqrt(hidden_size) (HF-MOD EmbeddingGemma2TextScaledWordEmbedding).</summary>
    public double EmbedScale => Math.Sqrt(HiddenSize);

    /// <summary>PLE scale hidden_size^-0.5 (transformers uses hidden_size, spec2 §11.1).</summary>
    public double PleScale => 1.0 / Math.Sqrt(HiddenSize);

    /// <summary>Token limit incl. BOS/EOS: 8,192 (or less when max_position_embeddings is smaller).</summary>
    public int MaxTokens => Math.Min(SupportedContext, MaxPositionEmbeddings);

    /// <summary>Number of parameters of the text model (spec2 §6 formula, incl. the layer scalars).</summary>
    public long ParameterCount
    {
        get
        {
            long d = HiddenSize, p = HiddenSizePerLayerInput, f = IntermediateSize, l = NumHiddenLayers, h = NumAttentionHeads;
            var total = VocabSize * d + d * l * p + p + d + d * EmbeddingDim;
            for (var i = 0; i < NumHiddenLayers; i++)
            {
                long hd = LayerHeadDim(i), kv = LayerKeyValueHeads(i);
                total += d * h * hd + 2 * d * kv * hd + h * hd * d + 2 * hd + 3 * d * f + 4 * d + 2 * d * p + d + 1;
            }
            return total;
        }
    }

    /// <summary>
    /// A v1-shaped summary (<see cref="GemmaConfig"/>) for code that only needs the vocabulary, the token limit and the
    /// sliding-layer shapes: hidden 512, sliding head width and KV heads, window stored v1-style as 2 x radius,
    /// query_pre_attn_scalar 1 (scale 1.0), max_position_embeddings = <see cref="MaxTokens"/>. The per-layer head
    /// widths, PLE and the projection are only in this record.
    /// </summary>
    public GemmaConfig ToSummary() => new GemmaConfig
    {
        Architectures = ["EmbeddingGemma2Model"],
        ModelType = "embedding_gemma2_text",
        HiddenSize = HiddenSize,
        IntermediateSize = IntermediateSize,
        NumHiddenLayers = NumHiddenLayers,
        NumAttentionHeads = NumAttentionHeads,
        NumKeyValueHeads = NumKeyValueHeads,
        HeadDim = HeadDim,
        VocabSize = VocabSize,
        MaxPositionEmbeddings = MaxTokens,
        SlidingWindow = 2 * SlidingWindow,
        LayerTypes = Enumerable.Range(0, NumHiddenLayers).Select(i => IsSlidingLayer(i) ? "sliding_attention" : "full_attention").ToArray(),
        RopeTheta = LayerRopeThetaOfType("full_attention"),
        RopeLocalBaseFreq = LayerRopeThetaOfType("sliding_attention"),
        QueryPreAttnScalar = 1,
        RmsNormEps = RmsNormEps,
        PadTokenId = PadTokenId,
        EosTokenId = EosTokenId,
        BosTokenId = BosTokenId,
        DType = DType,
    }.Validate("EmbeddingGemma 2 config summary");

    private double LayerRopeThetaOfType(string type) =>
        RopeParametersByType is { } r && r.TryGetValue(type, out var p) ? p.RopeTheta : type == "sliding_attention" ? 10_000.0 : 1_000_000.0;

    private static readonly ModelConfigJsonContext Json = new(new JsonSerializerOptions { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull });

    /// <summary>True when a config.json's model_type is EmbeddingGemma 2 (composite <c>embedding_gemma2</c> or text <c>embedding_gemma2_text</c>).</summary>
    public static bool IsGemma2ModelType(string? modelType) => modelType is "embedding_gemma2" or "embedding_gemma2_text";

    /// <summary>Reads and validates a config.json (the composite with text_config, or a text config alone).</summary>
    public static EmbeddingGemma2Config FromFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"config.json not found: {Path.GetFullPath(path)}") { FilePath = path };
        }
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Parses config.json text: <c>model_type: embedding_gemma2</c> with <c>text_config</c>, or <c>embedding_gemma2_text</c>.</summary>
    public static EmbeddingGemma2Config FromJson(string json, string source = "config.json")
    {
        try
        {
            var root = JsonNode.Parse(json) as JsonObject
                ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: config JSON is not an object.") { FilePath = source };
            var type = root["model_type"]?.GetValue<string>();
            JsonObject text;
            if (type == "embedding_gemma2")
            {
                text = root["text_config"] as JsonObject
                    ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: model_type embedding_gemma2 needs a 'text_config' object.") { FilePath = source };
            }
            else if (type == "embedding_gemma2_text")
            {
                text = root;
            }
            else
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                    $"{source}: model_type is '{type}', not an EmbeddingGemma 2 config (embedding_gemma2 / embedding_gemma2_text).") { FilePath = source };
            }
            var cfg = ModelConfigJsonContext.DeserializeOverDefaults(text, Json.EmbeddingGemma2Config, new EmbeddingGemma2Config())
                ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: text_config is null.") { FilePath = source };
            // global_head_dim / num_global_key_value_heads absent: transformers' fallback 512 / 1 (spec2 §11.3), not the record default.
            cfg = cfg with
            {
                ModelType = "embedding_gemma2_text",
                GlobalHeadDim = text.ContainsKey("global_head_dim") ? cfg.GlobalHeadDim : null,
                NumGlobalKeyValueHeads = text.ContainsKey("num_global_key_value_heads") ? cfg.NumGlobalKeyValueHeads : null,
                DType = cfg.DType ?? root["dtype"]?.GetValue<string>(),
                ImageTokenId = root["image_token_id"]?.GetValue<int>() ?? cfg.ImageTokenId,
                AudioTokenId = root["audio_token_id"]?.GetValue<int>() ?? cfg.AudioTokenId,
                VideoTokenId = root["video_token_id"]?.GetValue<int>() ?? cfg.VideoTokenId,
            };
            return cfg.Normalized().Validate(source);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: invalid EmbeddingGemma 2 config: {e.Message}", e) { FilePath = source };
        }
    }

    /// <summary>Explicit layer types; the last layer forced to full attention as transformers does (spec2 §11.3).</summary>
    public EmbeddingGemma2Config Normalized()
    {
        var types = (LayerTypes ?? DefaultLayerTypes(NumHiddenLayers)).ToArray();
        string? note = Note;
        if (types.Length == NumHiddenLayers && types.Length > 0 && types[^1] != "full_attention")
        {
            types[^1] = "full_attention";
            note = $"layer_types[{types.Length - 1}] was '{LayerTypes![^1]}'; the last layer is always full attention (HF-CFG).";
        }
        return this with { LayerTypes = types, Note = note };
    }

    /// <summary>Checks every field; throws InvalidFormat naming the field and the expectation.</summary>
    public EmbeddingGemma2Config Validate(string source = "config.json")
    {
        void Need(bool ok, string field, string expectation)
        {
            if (!ok)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: field '{field}' {expectation}.") { FilePath = source };
            }
        }
        Need(HiddenSize > 0 && HiddenSize % 2 == 0, "hidden_size", $"must be positive and even, got {HiddenSize}");
        Need(IntermediateSize > 0, "intermediate_size", $"must be positive, got {IntermediateSize}");
        Need(NumHiddenLayers > 0, "num_hidden_layers", $"must be positive, got {NumHiddenLayers}");
        Need(NumAttentionHeads > 0, "num_attention_heads", $"must be positive, got {NumAttentionHeads}");
        Need(HiddenSizePerLayerInput > 0, "hidden_size_per_layer_input", $"must be positive, got {HiddenSizePerLayerInput}");
        Need(EmbeddingDim > 0, "embedding_dim", $"must be positive, got {EmbeddingDim}");
        Need(VocabSize > 0, "vocab_size", $"must be positive, got {VocabSize}");
        Need(MaxPositionEmbeddings > 0, "max_position_embeddings", $"must be positive, got {MaxPositionEmbeddings}");
        Need(SlidingWindow >= 1, "sliding_window", $"must be at least 1 (it is the radius), got {SlidingWindow}");
        Need(RmsNormEps > 0 && RmsNormEps < 1, "rms_norm_eps", $"must be in (0, 1), got {RmsNormEps}");
        Need(HiddenActivation is "gelu_pytorch_tanh", "hidden_activation", $"must be gelu_pytorch_tanh, got {HiddenActivation}");
        Need(!AttentionBias, "attention_bias", "must be false (no biases in EmbeddingGemma 2)");
        Need(PadTokenId >= 0 && PadTokenId < VocabSize && BosTokenId >= 0 && BosTokenId < VocabSize && EosTokenId >= 0 && EosTokenId < VocabSize,
            "pad/bos/eos_token_id", "must lie inside the vocabulary");
        if (LayerTypes is { } t)
        {
            Need(t.Count == NumHiddenLayers, "layer_types", $"must have num_hidden_layers ({NumHiddenLayers}) entries, got {t.Count}");
            Need(t.All(x => x is "sliding_attention" or "full_attention"), "layer_types", "entries must be sliding_attention or full_attention");
        }
        if (RopeParametersByType is { } rp)
        {
            foreach (var (type, p) in rp)
            {
                // HF-OLD's proportional / partial RoPE is not the released model (spec2 §0.1, §8.5).
                Need(p.RopeType == "default" && (p.PartialRotaryFactor is null or 1.0), $"rope_parameters.{type}",
                    $"must be default RoPE over the whole head (released EmbeddingGemma 2), got rope_type '{p.RopeType}' partial_rotary_factor {p.PartialRotaryFactor?.ToString(CultureInfo.InvariantCulture) ?? "none"}");
                Need(p.RopeTheta > 0, $"rope_parameters.{type}.rope_theta", "must be positive");
            }
        }
        for (var l = 0; l < NumHiddenLayers; l++)
        {
            int hd = LayerHeadDim(l), kv = LayerKeyValueHeads(l);
            Need(hd > 0 && hd % 2 == 0, $"head_dim of layer {l}", $"must be positive and even (RoPE rotates pairs), got {hd}");
            Need(kv > 0 && NumAttentionHeads % kv == 0, $"num_key_value_heads of layer {l}", $"must divide num_attention_heads ({NumAttentionHeads}), got {kv}");
        }
        Need(DType is null or "float32" or "bfloat16" or "float16", "dtype", $"must be float32, bfloat16 or float16, got {DType}");
        return this;
    }

    /// <summary>Serializes as the composite config.json of <c>EmbeddingGemma2Model</c> (text_config only; no vision/audio towers).</summary>
    public string ToJson()
    {
        var text = JsonSerializer.SerializeToNode(Normalized(), Json.EmbeddingGemma2Config)!.AsObject();
        text.Remove("dtype");
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray("EmbeddingGemma2Model"),
            ["model_type"] = "embedding_gemma2",
            ["dtype"] = DType,
            ["image_token_id"] = ImageTokenId,
            ["audio_token_id"] = AudioTokenId,
            ["video_token_id"] = VideoTokenId,
            ["text_config"] = text,
            ["transformers_version"] = "5.19.0",
        };
        return root.ToJsonString(Json.Options);
    }
}
