using System.Globalization;
using System.Text.RegularExpressions;

namespace EmbeddingGemma.Formats;

/// <summary>
/// The one table between Hugging Face tensor names (model.safetensors, no <c>model.</c> prefix; 2_Dense/3_Dense
/// <c>linear.weight</c> named here <c>2_Dense.linear.weight</c> / <c>3_Dense.linear.weight</c>) and GGUF names of
/// arch <c>gemma-embedding</c> (llama.cpp gguf-py TENSOR_NAMES; spec §6.2). Norm weights are zero-centred in HF
/// and stored as 1+w in GGUF (llama.cpp's converter adds 1 to every <c>*norm.weight</c>).
/// </summary>
public static partial class TensorNameMap
{
    /// <summary>HF name of the 2_Dense weight in this table.</summary>
    public const string Dense2Hf = "2_Dense.linear.weight";

    /// <summary>HF name of the 3_Dense weight in this table.</summary>
    public const string Dense3Hf = "3_Dense.linear.weight";

    private static readonly (string Hf, string Gguf)[] Global =
    [
        ("embed_tokens.weight", "token_embd.weight"),
        ("norm.weight", "output_norm.weight"),
        (Dense2Hf, "dense_2.weight"),
        (Dense3Hf, "dense_3.weight"),
    ];

    private static readonly (string Hf, string Gguf)[] PerLayer =
    [
        ("input_layernorm.weight", "attn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"),
        ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.v_proj.weight", "attn_v.weight"),
        ("self_attn.q_norm.weight", "attn_q_norm.weight"),
        ("self_attn.k_norm.weight", "attn_k_norm.weight"),
        ("self_attn.o_proj.weight", "attn_output.weight"),
        ("post_attention_layernorm.weight", "post_attention_norm.weight"),
        ("pre_feedforward_layernorm.weight", "ffn_norm.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"),
        ("mlp.up_proj.weight", "ffn_up.weight"),
        ("mlp.down_proj.weight", "ffn_down.weight"),
        ("post_feedforward_layernorm.weight", "post_ffw_norm.weight"),
    ];

    /// <summary>The per-layer HF suffixes in forward order.</summary>
    public static IEnumerable<string> LayerSuffixes => PerLayer.Select(p => p.Hf);

    /// <summary>The GGUF name of an HF tensor name.</summary>
    public static string ToGguf(string hfName)
    {
        ArgumentNullException.ThrowIfNull(hfName);
        foreach (var (hf, gg) in Global)
        {
            if (hf == hfName)
            {
                return gg;
            }
        }
        var m = HfLayer().Match(hfName);
        if (m.Success)
        {
            foreach (var (hf, gg) in PerLayer)
            {
                if (hf == m.Groups[2].Value)
                {
                    return $"blk.{m.Groups[1].Value}.{gg}";
                }
            }
        }
        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Tensor '{hfName}' is not part of the EmbeddingGemma architecture.");
    }

    /// <summary>The HF name of a GGUF tensor name.</summary>
    public static string ToHf(string ggufName)
    {
        ArgumentNullException.ThrowIfNull(ggufName);
        foreach (var (hf, gg) in Global)
        {
            if (gg == ggufName)
            {
                return hf;
            }
        }
        var m = GgufLayer().Match(ggufName);
        if (m.Success)
        {
            foreach (var (hf, gg) in PerLayer)
            {
                if (gg == m.Groups[2].Value)
                {
                    return $"layers.{m.Groups[1].Value}.{hf}";
                }
            }
        }
        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"GGUF tensor '{ggufName}' is not part of the gemma-embedding architecture.");
    }

    // EmbeddingGemma 2 (arch gemma-embedding2): HF text-tower names without the "language_model." prefix <-> GGUF
    // (spec2 §5.1/§5.2, LC-ARCH). Norms are stored raw in both (no 1 + w); layer_scalar gets ".weight" in GGUF.
    private static readonly (string Hf, string Gguf)[] Global2 =
    [
        ("embed_tokens.weight", "token_embd.weight"),
        ("ple.per_layer_model_projection.weight", "per_layer_model_proj.weight"),
        ("ple.per_layer_projection_norm.weight", "per_layer_proj_norm.weight"),
        ("norm.weight", "output_norm.weight"),
        ("embedding_projection.weight", "output.weight"),
    ];

    private static readonly (string Hf, string Gguf)[] PerLayer2 =
    [
        .. PerLayer,
        ("ple_block.per_layer_input_gate.weight", "inp_gate.weight"),
        ("ple_block.per_layer_projection.weight", "proj.weight"),
        ("ple_block.post_per_layer_input_norm.weight", "post_norm.weight"),
        ("layer_scalar", "layer_output_scale.weight"),
    ];

    /// <summary>The prefix of the text tower's tensors in an EmbeddingGemma 2 safetensors (no "model." prefix, spec2 §5.1).</summary>
    public const string Gemma2TextPrefix = "language_model.";

    /// <summary>Prefixes of the EmbeddingGemma 2 vision/audio towers: skipped by the text loader (spec2 §5.1).</summary>
    public static IReadOnlyList<string> Gemma2SkippedPrefixes { get; } = ["vision_tower.", "embed_vision.", "audio_tower.", "embed_audio."];

    /// <summary>The per-layer HF suffixes of EmbeddingGemma 2 in forward order.</summary>
    public static IEnumerable<string> Gemma2LayerSuffixes => PerLayer2.Select(p => p.Hf);

    /// <summary>The GGUF (gemma-embedding2) name of an EmbeddingGemma 2 text-tower HF name (without the language_model. prefix).</summary>
    public static string ToGguf2(string hfName) => Map(hfName, Global2, PerLayer2, toGguf: true)
        ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Tensor '{hfName}' is not part of the EmbeddingGemma 2 text model.");

    /// <summary>The HF name of a gemma-embedding2 GGUF tensor name.</summary>
    public static string ToHf2(string ggufName) => Map(ggufName, Global2, PerLayer2, toGguf: false)
        ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"GGUF tensor '{ggufName}' is not part of the gemma-embedding2 architecture.");

    private static string? Map(string name, (string Hf, string Gguf)[] global, (string Hf, string Gguf)[] perLayer, bool toGguf)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var (hf, gg) in global)
        {
            if ((toGguf ? hf : gg) == name)
            {
                return toGguf ? gg : hf;
            }
        }
        var m = toGguf ? HfLayer().Match(name) : GgufLayer().Match(name);
        if (m.Success)
        {
            foreach (var (hf, gg) in perLayer)
            {
                if ((toGguf ? hf : gg) == m.Groups[2].Value)
                {
                    return toGguf ? $"blk.{m.Groups[1].Value}.{gg}" : $"layers.{m.Groups[1].Value}.{hf}";
                }
            }
        }
        return null;
    }

    /// <summary>HF layer tensor name.</summary>
    public static string Layer(int layer, string suffix) => string.Create(CultureInfo.InvariantCulture, $"layers.{layer}.{suffix}");

    /// <summary>True for RMSNorm weights (stored zero-centred in HF, as 1+w in GGUF).</summary>
    public static bool IsNormWeight(string hfName) => hfName is not null && hfName.EndsWith("norm.weight", StringComparison.Ordinal);

    [GeneratedRegex(@"^layers\.(\d+)\.(.+)$")]
    private static partial Regex HfLayer();

    [GeneratedRegex(@"^blk\.(\d+)\.(.+)$")]
    private static partial Regex GgufLayer();
}
