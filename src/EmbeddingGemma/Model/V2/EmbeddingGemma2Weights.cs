using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model.V2;

/// <summary>
/// The weights of one EmbeddingGemma 2 layer (spec2 §2.4, §5.1). Matrices stay in their stored type over the map;
/// norm gains are the plain stored <c>w</c> (Gemma 4 convention, no 1 + w; spec2 §8.1). There is no V-norm weight:
/// the V norm is weightless (spec2 §8.2).
/// </summary>
public sealed class LayerWeights2
{
    /// <summary>Head width of this layer (256 sliding, 512 full in the release).</summary>
    public required int HeadDim { get; init; }

    /// <summary>KV heads of this layer (2 sliding, 1 full in the release).</summary>
    public required int KeyValueHeads { get; init; }

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

    /// <summary>PLE gate hidden -> PLE width, <c>ple_block.per_layer_input_gate</c> [P, D] (spec2 §11.2).</summary>
    public required WeightMatrix PleGate { get; init; }

    /// <summary>PLE projection PLE width -> hidden, <c>ple_block.per_layer_projection</c> [D, P].</summary>
    public required WeightMatrix PleProjection { get; init; }

    /// <summary><c>ple_block.post_per_layer_input_norm</c> [D], plain w.</summary>
    public required float[] PlePostNormGain { get; init; }

    /// <summary><c>layer_scalar</c>: multiplies the whole residual stream at the end of the layer (spec2 §2.4, §8.9).</summary>
    public required float LayerScalar { get; init; }

    /// <summary>The nine matrices in forward order.</summary>
    public IEnumerable<WeightMatrix> Matrices => [Wq, Wk, Wv, Wo, WGate, WUp, WDown, PleGate, PleProjection];
}

/// <summary>
/// EmbeddingGemma 2's text-model weights, loaded once by scoped name through <see cref="WeightFiles"/> (the one
/// loader) with shape checks: token embedding, PLE projection + norm, layers, final norm, embedding projection.
/// </summary>
public sealed class EmbeddingGemma2Weights : IDisposable
{
    private readonly bool _ownsFiles;

    private EmbeddingGemma2Weights(EmbeddingGemma2Config config, WeightFiles files, bool ownsFiles)
    {
        Config = config;
        Files = files;
        _ownsFiles = ownsFiles;
        Source = new WeightSourceInfo(files.Format, files.Paths, files.Tensors.Values.ToList());
    }

    public EmbeddingGemma2Config Config { get; }

    /// <summary>The v1-shaped summary of <see cref="Config"/> (vocabulary, token limit) for code written against <see cref="GemmaConfig"/>.</summary>
    public GemmaConfig Summary { get; private init; } = null!;

    public WeightFiles Files { get; }

    public WeightSourceInfo Source { get; }

    /// <summary>Token embedding [vocab, D].</summary>
    public WeightMatrix Embedding { get; private init; } = null!;

    /// <summary><c>ple.per_layer_model_projection</c> [L*P, D]: rows l*P..l*P+P-1 feed layer l (spec2 §2.3).</summary>
    public WeightMatrix PleModelProjection { get; private init; } = null!;

    /// <summary><c>ple.per_layer_projection_norm</c> [P], plain w, shared by all layers.</summary>
    public float[] PleProjectionNormGain { get; private init; } = null!;

    public IReadOnlyList<LayerWeights2> Layers { get; private init; } = null!;

    /// <summary>Final norm [D], plain w.</summary>
    public float[] FinalNormGain { get; private init; } = null!;

    /// <summary><c>embedding_projection</c> [E, D] (768 x 512), no bias (spec2 §2.7).</summary>
    public WeightMatrix EmbeddingProjection { get; private init; } = null!;

    /// <summary>Every matrix except the embedding.</summary>
    public IEnumerable<WeightMatrix> Matrices => Layers.SelectMany(l => l.Matrices).Append(PleModelProjection).Append(EmbeddingProjection);

    /// <summary>The type holding most of the layer matrices' bytes.</summary>
    public GgmlType DominantMatrixType =>
        Layers.SelectMany(l => l.Matrices).GroupBy(m => m.Type).OrderByDescending(g => g.Sum(m => (long)m.Data.Length)).First().Key;

    /// <summary>Number of text-model parameters (spec2 §6).</summary>
    public long ParameterCount => Config.ParameterCount;

    /// <summary>Writes embedding row <paramref name="tokenId"/> (unscaled).</summary>
    public void EmbeddingRow(int tokenId, Span<float> destination)
    {
        if ((uint)tokenId >= (uint)Config.VocabSize)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Token id {tokenId} is outside the vocabulary (0..{Config.VocabSize - 1}).");
        }
        Embedding.DequantizeRow(tokenId, destination[..Config.HiddenSize]);
    }

    public void Dispose()
    {
        if (_ownsFiles)
        {
            Files.Dispose();
        }
    }

    /// <summary>
    /// True when <paramref name="folderOrGguf"/> holds EmbeddingGemma 2: a folder whose config.json says model_type
    /// embedding_gemma2(_text), or a GGUF of general.architecture gemma-embedding2. Reads only the headers.
    /// </summary>
    public static bool IsEmbeddingGemma2(string folderOrGguf)
    {
        ArgumentException.ThrowIfNullOrEmpty(folderOrGguf);
        if (Directory.Exists(folderOrGguf))
        {
            return WeightFiles.FolderArchitecture(folderOrGguf) == WeightFiles.ArchGemmaEmbedding2;
        }
        if (!File.Exists(folderOrGguf))
        {
            return false;
        }
        using (var f = File.OpenRead(folderOrGguf))
        {
            Span<byte> magic = stackalloc byte[4];
            if (f.Read(magic) != 4 || !magic.SequenceEqual("GGUF"u8))
            {
                return false;
            }
        }
        using var g = GgufFile.Open(folderOrGguf);
        return g.TryGetString("general.architecture") == WeightFiles.ArchGemmaEmbedding2;
    }

    /// <summary>Opens and loads an EmbeddingGemma 2 folder or .gguf (the weights own the files).</summary>
    public static EmbeddingGemma2Weights Load(string folderOrGguf)
    {
        var files = WeightFiles.Open(folderOrGguf);
        try
        {
            return Load(files, ownsFiles: true);
        }
        catch
        {
            files.Dispose();
            throw;
        }
    }

    /// <summary>Loads from opened files (config from config.json beside a folder, or from GGUF metadata).</summary>
    public static EmbeddingGemma2Weights Load(WeightFiles files, bool ownsFiles)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (!files.IsGemma2)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{files.Location}: not an EmbeddingGemma 2 model ({(files.Gguf is null ? "config.json model_type is not embedding_gemma2" : $"general.architecture is '{files.Gguf.TryGetString("general.architecture")}'")}).") { FilePath = files.Location };
        }
        var config = files.Gguf is { } g ? ConfigFromGguf(g) : EmbeddingGemma2Config.FromFile(Path.Combine(files.Location, "config.json"));
        return Build(config, files, ownsFiles);
    }

    /// <summary>The configuration described by gemma-embedding2 GGUF metadata (LC-ARCH keys, spec2 §5.2, §11.4).</summary>
    public static EmbeddingGemma2Config ConfigFromGguf(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        var arch = gguf.GetString("general.architecture");
        if (arch != WeightFiles.ArchGemmaEmbedding2)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{gguf.Path}: general.architecture is '{arch}', not 'gemma-embedding2'.") { FilePath = gguf.Path };
        }
        var p = arch + ".";
        int U(string k) => checked((int)gguf.GetUInt(p + k));
        var layers = U("block_count");
        var vocab = gguf.Tensors.TryGetValue("token_embd.weight", out var te) ? checked((int)te.Shape[0]) : throw new EmbeddingGemmaException(
            ErrorKind.InvalidFormat, $"{gguf.Path}: tensor 'token_embd.weight' is missing.") { FilePath = gguf.Path };
        // sliding_window_pattern: bool per layer, true = sliding (LC-CONV); taken as written (spec2 §11.3).
        string[] types;
        if (gguf.Metadata.TryGetValue(p + "attention.sliding_window_pattern", out var pat) && pat.Value is Array arr && arr.Length == layers)
        {
            types = arr.Cast<object>().Select(o => o is bool b ? (b ? "sliding_attention" : "full_attention")
                : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: {p}attention.sliding_window_pattern must be a bool array.") { FilePath = gguf.Path }).ToArray();
        }
        else
        {
            types = EmbeddingGemma2Config.DefaultLayerTypes(layers);
        }
        // head_count_kv: an array per layer (INT32 in llama.cpp's writer, spec2 §11.4) or one number.
        var kv = new int[layers];
        var kvValue = gguf.Metadata.TryGetValue(p + "attention.head_count_kv", out var kvv) ? kvv : throw new EmbeddingGemmaException(
            ErrorKind.InvalidFormat, $"{gguf.Path}: metadata '{p}attention.head_count_kv' is missing.") { FilePath = gguf.Path };
        if (kvValue.Value is Array ka)
        {
            if (ka.Length != layers)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: {p}attention.head_count_kv has {ka.Length} entries for {layers} layers.") { FilePath = gguf.Path };
            }
            for (var i = 0; i < layers; i++)
            {
                kv[i] = Convert.ToInt32(ka.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        else
        {
            Array.Fill(kv, checked((int)kvValue.AsUInt64()));
        }
        var globalHd = U("attention.key_length");          // full layers (spec2 §11.4)
        var slidingHd = U("attention.key_length_swa");     // sliding layers
        if (gguf.TryGetUInt(p + "attention.value_length") is { } vl && (int)vl != globalHd
            || gguf.TryGetUInt(p + "attention.value_length_swa") is { } vls && (int)vls != slidingHd)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{gguf.Path}: value_length differs from key_length (llama.cpp requires them equal per layer type).") { FilePath = gguf.Path };
        }
        var window = U("attention.sliding_window");
        if (window % 2 != 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: {p}attention.sliding_window {window} must be even (GGUF stores 2 x the HF radius).") { FilePath = gguf.Path };
        }
        var slidingKv = types.Select((t, i) => (t, i)).Where(x => x.t == "sliding_attention").Select(x => kv[x.i]).DefaultIfEmpty(1).First();
        var perLayer = new Dictionary<string, LayerAttentionOverride>(StringComparer.Ordinal);
        for (var i = 0; i < layers; i++)
        {
            perLayer[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new LayerAttentionOverride
            {
                HeadDim = types[i] == "sliding_attention" ? slidingHd : globalHd,
                NumKeyValueHeads = kv[i],
            };
        }
        if (gguf.TryGetUInt(p + "pooling_type") is { } pool && pool != 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{gguf.Path}: pooling_type is {pool}; EmbeddingGemma 2 uses mean pooling (1).") { FilePath = gguf.Path };
        }
        var fullKv = types.Select((t, i) => (t, i)).Where(x => x.t == "full_attention").Select(x => kv[x.i]).DefaultIfEmpty(1).First();
        var cfg = new EmbeddingGemma2Config
        {
            HiddenSize = U("embedding_length"),
            IntermediateSize = U("feed_forward_length"),
            NumHiddenLayers = layers,
            NumAttentionHeads = U("attention.head_count"),
            NumKeyValueHeads = slidingKv,
            HeadDim = slidingHd,
            GlobalHeadDim = globalHd,
            NumGlobalKeyValueHeads = fullKv,
            PerLayerConfig = perLayer,
            VocabSize = vocab,
            HiddenSizePerLayerInput = U("embedding_length_per_layer_input"),
            EmbeddingDim = U("embedding_length_out"),
            LayerTypes = types,
            SlidingWindow = window / 2,   // GGUF stores the symmetric full width 2 x radius (LC-CONV; spec2 §8.7)
            RopeParametersByType = new Dictionary<string, RopeParameters>(StringComparer.Ordinal)
            {
                ["sliding_attention"] = new() { RopeTheta = gguf.TryGetDouble(p + "rope.freq_base_swa") ?? 10_000.0 },
                ["full_attention"] = new() { RopeTheta = gguf.TryGetDouble(p + "rope.freq_base") ?? 1_000_000.0 },
            },
            // GGUF stores eps as float32: take its shortest decimal (1e-6, as config.json says), so folder and GGUF agree bit for bit.
            RmsNormEps = ShortestDecimal(gguf.GetDouble(p + "attention.layer_norm_rms_epsilon")),
            MaxPositionEmbeddings = U("context_length"),
            BosTokenId = (int)(gguf.TryGetUInt("tokenizer.ggml.bos_token_id") ?? 2),
            EosTokenId = (int)(gguf.TryGetUInt("tokenizer.ggml.eos_token_id") ?? 1),
            PadTokenId = (int)(gguf.TryGetUInt("tokenizer.ggml.padding_token_id") ?? 0),
        };
        if (gguf.TryGetUInt(p + "rope.dimension_count") is { } rd && (int)rd != globalHd || gguf.TryGetUInt(p + "rope.dimension_count_swa") is { } rds && (int)rds != slidingHd)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported,
                $"{gguf.Path}: rope.dimension_count(_swa) is not the head width: partial RoPE is not the released EmbeddingGemma 2 (spec2 §0.1).") { FilePath = gguf.Path };
        }
        return cfg.Validate(gguf.Path);
    }

    private static double ShortestDecimal(double fromFloat32) =>
        double.Parse(((float)fromFloat32).ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    private static EmbeddingGemma2Weights Build(EmbeddingGemma2Config c, WeightFiles files, bool ownsFiles)
    {
        int d = c.HiddenSize, ff = c.IntermediateSize, pl = c.HiddenSizePerLayerInput, nh = c.NumAttentionHeads;
        var layers = new LayerWeights2[c.NumHiddenLayers];
        for (var l = 0; l < layers.Length; l++)
        {
            string N(string s) => TensorNameMap.Layer(l, s);
            int hd = c.LayerHeadDim(l), kv = c.LayerKeyValueHeads(l);
            var scalar = files.PlainGain(N("layer_scalar"), 1);
            layers[l] = new LayerWeights2
            {
                HeadDim = hd,
                KeyValueHeads = kv,
                AttnNormGain = files.PlainGain(N("input_layernorm.weight"), d),
                Wq = files.Matrix(N("self_attn.q_proj.weight"), nh * hd, d),
                Wk = files.Matrix(N("self_attn.k_proj.weight"), kv * hd, d),
                Wv = files.Matrix(N("self_attn.v_proj.weight"), kv * hd, d),
                QNormGain = files.PlainGain(N("self_attn.q_norm.weight"), hd),
                KNormGain = files.PlainGain(N("self_attn.k_norm.weight"), hd),
                Wo = files.Matrix(N("self_attn.o_proj.weight"), d, nh * hd),
                PostAttnNormGain = files.PlainGain(N("post_attention_layernorm.weight"), d),
                PreFfnNormGain = files.PlainGain(N("pre_feedforward_layernorm.weight"), d),
                WGate = files.Matrix(N("mlp.gate_proj.weight"), ff, d),
                WUp = files.Matrix(N("mlp.up_proj.weight"), ff, d),
                WDown = files.Matrix(N("mlp.down_proj.weight"), d, ff),
                PostFfnNormGain = files.PlainGain(N("post_feedforward_layernorm.weight"), d),
                PleGate = files.Matrix(N("ple_block.per_layer_input_gate.weight"), pl, d),
                PleProjection = files.Matrix(N("ple_block.per_layer_projection.weight"), d, pl),
                PlePostNormGain = files.PlainGain(N("ple_block.post_per_layer_input_norm.weight"), d),
                LayerScalar = scalar[0],
            };
        }
        var weights = new EmbeddingGemma2Weights(c, files, ownsFiles)
        {
            Summary = c.ToSummary(),
            Embedding = files.Matrix("embed_tokens.weight", c.VocabSize, d),
            PleModelProjection = files.Matrix("ple.per_layer_model_projection.weight", (long)c.NumHiddenLayers * pl, d),
            PleProjectionNormGain = files.PlainGain("ple.per_layer_projection_norm.weight", pl),
            Layers = layers,
            FinalNormGain = files.PlainGain("norm.weight", d),
            EmbeddingProjection = files.Matrix("embedding_projection.weight", c.EmbeddingDim, d),
        };
        foreach (var m in weights.Matrices.Where(m => m != weights.PleModelProjection))
        {
            m.PackForProducts();   // Q4_0/Q8_0: the int8 GEMM layout once, at load (not the embedding, read row by row, nor the PLE projection, which the fast engine slices per layer)
        }
        return weights;
    }
}
