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

    /// <summary>HF layer tensor name.</summary>
    public static string Layer(int layer, string suffix) => string.Create(CultureInfo.InvariantCulture, $"layers.{layer}.{suffix}");

    /// <summary>True for RMSNorm weights (stored zero-centred in HF, as 1+w in GGUF).</summary>
    public static bool IsNormWeight(string hfName) => hfName is not null && hfName.EndsWith("norm.weight", StringComparison.Ordinal);

    [GeneratedRegex(@"^layers\.(\d+)\.(.+)$")]
    private static partial Regex HfLayer();

    [GeneratedRegex(@"^blk\.(\d+)\.(.+)$")]
    private static partial Regex GgufLayer();
}
