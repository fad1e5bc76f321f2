using System.Globalization;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model;

/// <summary>
/// The weights of one decoder layer as float32, PyTorch layout ([out, in] row-major). Norm weights are held as the
/// effective gain <c>1 + w</c> (HF stores w, GGUF stores 1 + w), so both sources give bit-identical gains.
/// </summary>
public sealed class LayerWeights
{
    public required float[] AttnNormGain { get; init; }
    public required float[] Wq { get; init; }
    public required float[] Wk { get; init; }
    public required float[] Wv { get; init; }
    public required float[] QNormGain { get; init; }
    public required float[] KNormGain { get; init; }
    public required float[] Wo { get; init; }
    public required float[] PostAttnNormGain { get; init; }
    public required float[] PreFfnNormGain { get; init; }
    public required float[] WGate { get; init; }
    public required float[] WUp { get; init; }
    public required float[] WDown { get; init; }
    public required float[] PostFfnNormGain { get; init; }
}

/// <summary>Where the weights came from and what they looked like on disk (for <c>info</c> and error messages).</summary>
public sealed record WeightSourceInfo(string Format, IReadOnlyList<string> Files, IReadOnlyList<TensorInfo> Tensors);

/// <summary>
/// All weights of the backbone and the two Dense heads, loaded by scoped name through <see cref="TensorNameMap"/>
/// with shape checks. The token embedding stays in the (memory-mapped) file and is read row by row.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    private readonly List<ITensorFile> _files;
    private readonly ITensorFile _embedFile;
    private readonly TensorInfo _embedInfo;
    private readonly long _embedRowBytes;

    private ModelWeights(GemmaConfig config, List<ITensorFile> files, ITensorFile embedFile, TensorInfo embedInfo, LayerWeights[] layers,
        float[] finalNormGain, float[]? dense2, float[]? dense3, int denseIntermediate, WeightSourceInfo source)
    {
        Config = config;
        _files = files;
        _embedFile = embedFile;
        _embedInfo = embedInfo;
        _embedRowBytes = GgmlTypeInfo.RowBytes(embedInfo.Type, config.HiddenSize);
        Layers = layers;
        FinalNormGain = finalNormGain;
        Dense2 = dense2;
        Dense3 = dense3;
        DenseIntermediate = denseIntermediate;
        Source = source;
    }

    public GemmaConfig Config { get; }
    public IReadOnlyList<LayerWeights> Layers { get; }
    public float[] FinalNormGain { get; }

    /// <summary>2_Dense weight [DenseIntermediate, hidden] (null only when loaded with allowMissingDense).</summary>
    public float[]? Dense2 { get; }

    /// <summary>3_Dense weight [hidden, DenseIntermediate].</summary>
    public float[]? Dense3 { get; }

    /// <summary>Output features of 2_Dense (3072 in the real model).</summary>
    public int DenseIntermediate { get; }

    /// <summary>True when both Dense heads are present.</summary>
    public bool HasDense => Dense2 is not null && Dense3 is not null;

    public WeightSourceInfo Source { get; }

    /// <summary>The storage type of the token embedding.</summary>
    public GgmlType EmbeddingType => _embedInfo.Type;

    /// <summary>Writes embedding row <paramref name="tokenId"/> (unscaled) into <paramref name="destination"/>.</summary>
    public void EmbeddingRow(int tokenId, Span<float> destination)
    {
        if ((uint)tokenId >= (uint)Config.VocabSize)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Token id {tokenId} is outside the vocabulary (0..{Config.VocabSize - 1}).");
        }
        var bytes = _embedFile.GetBytes(_embedInfo).Slice((int)(tokenId * _embedRowBytes), (int)_embedRowBytes);
        TensorFileExtensions.Dequantize(_embedFile, _embedInfo, bytes, destination[..Config.HiddenSize]);
    }

    public void Dispose()
    {
        foreach (var f in _files)
        {
            f.Dispose();
        }
    }

    /// <summary>Loads a Hugging Face / sentence-transformers folder.</summary>
    public static ModelWeights LoadHuggingFaceFolder(string folder, bool allowMissingDense = false)
    {
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Model folder not found: {folder}") { FilePath = folder };
        }
        var config = GemmaConfig.FromFile(Path.Combine(folder, "config.json"));
        var files = new List<ITensorFile>();
        try
        {
            var names = new Dictionary<string, (ITensorFile File, TensorInfo Info)>(StringComparer.Ordinal);
            foreach (var shard in ModelShards(folder))
            {
                var f = SafetensorsFile.Open(shard);
                files.Add(f);
                foreach (var (name, info) in f.Tensors)
                {
                    // Accept the "model." prefix of checkpoints saved from a wrapping model.
                    var key = name.StartsWith("model.", StringComparison.Ordinal) ? name["model.".Length..] : name;
                    names[key] = (f, info);
                }
            }
            foreach (var (dir, key) in new[] { ("2_Dense", TensorNameMap.Dense2Hf), ("3_Dense", TensorNameMap.Dense3Hf) })
            {
                var path = Path.Combine(folder, dir, "model.safetensors");
                if (File.Exists(path))
                {
                    var f = SafetensorsFile.Open(path);
                    files.Add(f);
                    if (!f.Tensors.TryGetValue("linear.weight", out var info))
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: tensor 'linear.weight' is missing.") { FilePath = path };
                    }
                    if (f.Tensors.ContainsKey("linear.bias"))
                    {
                        throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{path}: Dense bias is not part of EmbeddingGemma (expected exactly linear.weight).") { FilePath = path };
                    }
                    names[key] = (f, info);
                }
                else if (Directory.Exists(Path.Combine(folder, dir)) && File.Exists(Path.Combine(folder, dir, "pytorch_model.bin")))
                {
                    throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{Path.Combine(folder, dir)}: only model.safetensors is supported (found pytorch_model.bin).");
                }
            }
            return Build(config, files, names, "safetensors", normsStoredPlusOne: false, allowMissingDense, folder);
        }
        catch
        {
            foreach (var f in files)
            {
                f.Dispose();
            }
            throw;
        }
    }

    private static IEnumerable<string> ModelShards(string folder)
    {
        var single = Path.Combine(folder, "model.safetensors");
        if (File.Exists(single))
        {
            return [single];
        }
        var index = Path.Combine(folder, "model.safetensors.index.json");
        if (File.Exists(index))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(index));
            return doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct()
                .Select(s => Path.Combine(folder, s)).ToList();
        }
        throw new EmbeddingGemmaException(ErrorKind.NotFound, $"{folder}: model.safetensors not found (nor model.safetensors.index.json).") { FilePath = single };
    }

    /// <summary>Loads a GGUF file of arch gemma-embedding.</summary>
    public static ModelWeights LoadGguf(string path, bool allowMissingDense = false)
    {
        var gguf = GgufFile.Open(path);
        try
        {
            var config = ConfigFromGguf(gguf);
            var names = new Dictionary<string, (ITensorFile File, TensorInfo Info)>(StringComparer.Ordinal);
            foreach (var (name, info) in gguf.Tensors)
            {
                if (name == "output.weight" || name.StartsWith("rope_", StringComparison.Ordinal))
                {
                    continue;
                }
                names[TensorNameMap.ToHf(name)] = (gguf, info);
            }
            return Build(config, [gguf], names, "gguf", normsStoredPlusOne: true, allowMissingDense, gguf.Path);
        }
        catch
        {
            gguf.Dispose();
            throw;
        }
    }

    /// <summary>The backbone configuration described by GGUF metadata (llama.cpp key names, spec §6.2).</summary>
    public static GemmaConfig ConfigFromGguf(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        var arch = gguf.GetString("general.architecture");
        if (arch != "gemma-embedding")
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported,
                $"{gguf.Path}: general.architecture is '{arch}'; only 'gemma-embedding' (EmbeddingGemma) is supported.") { FilePath = gguf.Path };
        }
        var p = arch + ".";
        int U(string k) => checked((int)gguf.GetUInt(p + k));
        var layers = U("block_count");
        var pattern = 6;
        string[]? layerTypes = null;
        if (gguf.Metadata.TryGetValue(p + "attention.sliding_window_pattern", out var pat))
        {
            if (pat.Type == GgufValueType.Array && pat.Value is object[] arr && arr.All(o => o is bool))
            {
                // per-layer bool array: true = sliding (llama.cpp swa_layers)
                layerTypes = arr.Select(o => (bool)o ? "sliding_attention" : "full_attention").ToArray();
            }
            else
            {
                pattern = checked((int)pat.AsUInt64());
            }
        }
        var vocab = gguf.Tensors.TryGetValue("token_embd.weight", out var te) ? checked((int)te.Shape[0]) : throw new EmbeddingGemmaException(
            ErrorKind.InvalidFormat, $"{gguf.Path}: tensor 'token_embd.weight' is missing.") { FilePath = gguf.Path };
        var keyLength = U("attention.key_length");
        var cfg = new GemmaConfig
        {
            HiddenSize = U("embedding_length"),
            IntermediateSize = U("feed_forward_length"),
            NumHiddenLayers = layers,
            NumAttentionHeads = U("attention.head_count"),
            NumKeyValueHeads = U("attention.head_count_kv"),
            HeadDim = keyLength,
            VocabSize = vocab,
            MaxPositionEmbeddings = U("context_length"),
            SlidingWindow = U("attention.sliding_window"),
            SlidingWindowPattern = pattern,
            LayerTypes = layerTypes ?? GemmaConfig.DefaultLayerTypes(layers, pattern),
            RopeTheta = gguf.TryGetDouble(p + "rope.freq_base") ?? 10_000.0,
            RopeLocalBaseFreq = gguf.TryGetDouble(p + "rope.freq_base_swa") ?? 10_000.0,
            // llama.cpp scales by 1/sqrt(key_length) for this arch; a GGUF cannot carry query_pre_attn_scalar.
            QueryPreAttnScalar = keyLength,
            RmsNormEps = gguf.GetDouble(p + "attention.layer_norm_rms_epsilon"),
            BosTokenId = (int)(gguf.TryGetUInt("tokenizer.ggml.bos_token_id") ?? 2),
            EosTokenId = (int)(gguf.TryGetUInt("tokenizer.ggml.eos_token_id") ?? 1),
            PadTokenId = (int)(gguf.TryGetUInt("tokenizer.ggml.padding_token_id") ?? 0),
        };
        if (gguf.TryGetUInt(p + "attention.value_length") is { } vl && (int)vl != keyLength)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{gguf.Path}: attention.value_length {vl} differs from key_length {keyLength}.") { FilePath = gguf.Path };
        }
        if (gguf.TryGetUInt(p + "pooling_type") is { } pool && pool != 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{gguf.Path}: pooling_type is {pool}; EmbeddingGemma uses mean pooling (1).") { FilePath = gguf.Path };
        }
        return cfg.Validate(gguf.Path);
    }

    private static ModelWeights Build(GemmaConfig c, List<ITensorFile> files, Dictionary<string, (ITensorFile File, TensorInfo Info)> names,
        string format, bool normsStoredPlusOne, bool allowMissingDense, string where)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        (ITensorFile File, TensorInfo Info) Find(string hf, long[] shape)
        {
            if (!names.TryGetValue(hf, out var t))
            {
                var shown = format == "gguf" ? $"'{TensorNameMap.ToGguf(hf)}' (HF '{hf}')" : $"'{hf}'";
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{where}: tensor {shown} is missing.") { FilePath = where };
            }
            if (!t.Info.Shape.SequenceEqual(shape))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                    $"{t.File.Path}: tensor '{t.Info.Name}' has shape {t.Info.ShapeText}, expected [{string.Join(", ", shape)}] for this config.") { FilePath = t.File.Path };
            }
            used.Add(hf);
            return t;
        }
        float[] Mat(string hf, long rows, long cols)
        {
            var (f, info) = Find(hf, [rows, cols]);
            return f.ReadFloats(info);
        }
        float[] Gain(string hf, long n)
        {
            var (f, info) = Find(hf, [n]);
            var v = f.ReadFloats(info);
            if (!normsStoredPlusOne)
            {
                for (var i = 0; i < v.Length; i++)
                {
                    v[i] = 1f + v[i];
                }
            }
            return v;
        }
        int h = c.HiddenSize, qd = c.NumAttentionHeads * c.HeadDim, kvd = c.NumKeyValueHeads * c.HeadDim, ff = c.IntermediateSize, hd = c.HeadDim;
        var embed = Find("embed_tokens.weight", [c.VocabSize, h]);
        if (!TensorFileExtensions.IsDequantizable(embed.Info.Type))
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{embed.File.Path}: tensor '{embed.Info.Name}' has type {embed.Info.Type}, which this library cannot dequantize yet.");
        }
        var layers = new LayerWeights[c.NumHiddenLayers];
        for (var l = 0; l < layers.Length; l++)
        {
            string N(string s) => TensorNameMap.Layer(l, s);
            layers[l] = new LayerWeights
            {
                AttnNormGain = Gain(N("input_layernorm.weight"), h),
                Wq = Mat(N("self_attn.q_proj.weight"), qd, h),
                Wk = Mat(N("self_attn.k_proj.weight"), kvd, h),
                Wv = Mat(N("self_attn.v_proj.weight"), kvd, h),
                QNormGain = Gain(N("self_attn.q_norm.weight"), hd),
                KNormGain = Gain(N("self_attn.k_norm.weight"), hd),
                Wo = Mat(N("self_attn.o_proj.weight"), h, qd),
                PostAttnNormGain = Gain(N("post_attention_layernorm.weight"), h),
                PreFfnNormGain = Gain(N("pre_feedforward_layernorm.weight"), h),
                WGate = Mat(N("mlp.gate_proj.weight"), ff, h),
                WUp = Mat(N("mlp.up_proj.weight"), ff, h),
                WDown = Mat(N("mlp.down_proj.weight"), h, ff),
                PostFfnNormGain = Gain(N("post_feedforward_layernorm.weight"), h),
            };
        }
        var finalNorm = Gain("norm.weight", h);
        float[]? d2 = null, d3 = null;
        var inter = 0;
        var has2 = names.TryGetValue(TensorNameMap.Dense2Hf, out var t2);
        var has3 = names.TryGetValue(TensorNameMap.Dense3Hf, out var t3);
        if (has2 && has3)
        {
            if (t2.Info.Shape.Length != 2 || t2.Info.Shape[1] != h)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{t2.File.Path}: tensor '{t2.Info.Name}' has shape {t2.Info.ShapeText}, expected [N, {h}] (Dense {h}->N).");
            }
            inter = checked((int)t2.Info.Shape[0]);
            d2 = Mat(TensorNameMap.Dense2Hf, inter, h);
            d3 = Mat(TensorNameMap.Dense3Hf, h, inter);
        }
        else if (!allowMissingDense)
        {
            var what = format == "gguf" ? "tensors 'dense_2.weight' and 'dense_3.weight' (2_Dense/3_Dense)" : "2_Dense/model.safetensors and 3_Dense/model.safetensors";
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{where}: the sentence-transformers Dense heads are missing ({what}; found {names.Count(n => n.Key.StartsWith("layers.", StringComparison.Ordinal)) + 2} backbone tensors). "
                + "Without them the output is the pooled backbone, which is NOT the EmbeddingGemma embedding (llama.cpp #16538/#18677: early GGUFs had 314 tensors). "
                + "Re-convert with the Dense modules (e.g. `embeddinggemma convert`), or set ModelLoadOptions.AllowMissingDense to get the pooled backbone output on purpose.") { FilePath = where };
        }
        var infos = names.Values.Select(v => v.Info).ToList();
        return new ModelWeights(c, files, embed.File, embed.Info, layers, finalNorm, d2, d3, inter,
            new WeightSourceInfo(format, files.Select(f => f.Path).ToList(), infos));
    }

    /// <summary>Number of parameters (backbone + dense heads).</summary>
    public long ParameterCount
    {
        get
        {
            var c = Config;
            long perLayer = Layers[0].Wq.Length + Layers[0].Wk.Length + Layers[0].Wv.Length + Layers[0].Wo.Length + Layers[0].WGate.Length
                + Layers[0].WUp.Length + Layers[0].WDown.Length + 4L * c.HiddenSize + 2L * c.HeadDim;
            return (long)c.VocabSize * c.HiddenSize + perLayer * c.NumHiddenLayers + c.HiddenSize + (Dense2?.Length ?? 0) + (Dense3?.Length ?? 0);
        }
    }

    internal static string Describe(long[] shape) => "[" + string.Join(", ", shape.Select(s => s.ToString(CultureInfo.InvariantCulture))) + "]";
}
