using System.Globalization;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model;

/// <summary>
/// The weights of one encoder layer. Matrices are <see cref="WeightMatrix"/> in their stored type (PyTorch layout
/// [out, in], usually over the memory-mapped file); norm weights are held as the effective gain <c>1 + w</c> (HF stores
/// w, GGUF stores 1 + w), so both sources give bit-identical gains. The fast engine and the reference encoder read
/// these same objects.
/// </summary>
public sealed class LayerWeights
{
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

    /// <summary>The seven matrices in forward order.</summary>
    public IEnumerable<WeightMatrix> Matrices => [Wq, Wk, Wv, Wo, WGate, WUp, WDown];
}

/// <summary>Where the weights came from and what they looked like on disk (for <c>info</c> and error messages).</summary>
public sealed record WeightSourceInfo(string Format, IReadOnlyList<string> Files, IReadOnlyList<TensorInfo> Tensors);

/// <summary>
/// The backbone's weights (token embedding, layers, final norm), loaded once by scoped name through
/// <see cref="WeightFiles"/> with shape checks. Every matrix stays in its stored type (F32, F16, BF16, Q8_0, Q4_0, the
/// k-quants…) from disk to kernel; nothing is dequantized at load. The Dense heads are not part of the backbone: the
/// embedding pipeline (<c>Embeddings</c>) reads them from <see cref="Files"/>.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    private readonly bool _ownsFiles;

    private ModelWeights(GemmaConfig config, WeightFiles files, bool ownsFiles, WeightMatrix embedding, LayerWeights[] layers, float[] finalNormGain)
    {
        Config = config;
        Files = files;
        _ownsFiles = ownsFiles;
        Embedding = embedding;
        Layers = layers;
        FinalNormGain = finalNormGain;
        Source = new WeightSourceInfo(files.Format, files.Paths, files.Tensors.Values.ToList());
    }

    public GemmaConfig Config { get; }

    /// <summary>The files the weights live in (also holds the Dense heads of a sentence-transformers model).</summary>
    public WeightFiles Files { get; }

    /// <summary>Token embedding [vocab, hidden] in its stored type, read row by row.</summary>
    public WeightMatrix Embedding { get; }

    public IReadOnlyList<LayerWeights> Layers { get; }

    public float[] FinalNormGain { get; }

    public WeightSourceInfo Source { get; }

    /// <summary>The storage type of the token embedding.</summary>
    public GgmlType EmbeddingType => Embedding.Type;

    /// <summary>The storage types of the layer matrices with their counts (what the engine runs).</summary>
    public IReadOnlyDictionary<GgmlType, int> MatrixTypes =>
        Layers.SelectMany(l => l.Matrices).GroupBy(m => m.Type).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>The type holding most of the layer matrices' bytes (e.g. Q4_0 for a Q4_0 file with a Q6_K embedding).</summary>
    public GgmlType DominantMatrixType =>
        Layers.SelectMany(l => l.Matrices).GroupBy(m => m.Type).OrderByDescending(g => g.Sum(m => (long)m.Data.Length)).First().Key;

    /// <summary>Writes embedding row <paramref name="tokenId"/> (unscaled) into <paramref name="destination"/>.</summary>
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

    /// <summary>Opens and loads a Hugging Face folder or a .gguf file (the weights own the files).</summary>
    public static ModelWeights Load(string folderOrGguf)
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

    /// <summary>Loads a Hugging Face / sentence-transformers folder.</summary>
    public static ModelWeights LoadHuggingFaceFolder(string folder) => Load(WeightFiles.OpenHuggingFaceFolder(folder), ownsFiles: true);

    /// <summary>Loads a GGUF file of arch gemma-embedding.</summary>
    public static ModelWeights LoadGguf(string path) => Load(WeightFiles.OpenGguf(path), ownsFiles: true);

    /// <summary>Loads the backbone from opened files (config from config.json beside a folder, or from GGUF metadata).</summary>
    public static ModelWeights Load(WeightFiles files, bool ownsFiles)
    {
        ArgumentNullException.ThrowIfNull(files);
        try
        {
            var config = files.Gguf is { } g ? ConfigFromGguf(g) : GemmaConfig.FromFile(Path.Combine(files.Location, "config.json"));
            return Build(config, files, ownsFiles);
        }
        catch when (ownsFiles)
        {
            files.Dispose();
            throw;
        }
    }

    /// <summary>Loads the backbone of <paramref name="config"/> from opened files (e.g. <see cref="WeightFiles.FromMemory"/>).</summary>
    public static ModelWeights Load(GemmaConfig config, WeightFiles files, bool ownsFiles)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(files);
        try
        {
            return Build(config.Validate(files.Location), files, ownsFiles);
        }
        catch when (ownsFiles)
        {
            files.Dispose();
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
        // Every integer is range-checked here, naming the file and key: a cast or a modulo must never see a value
        // the format allows but the model cannot have (0, 2^31, ...).
        EmbeddingGemmaException Bad(string key, string what) =>
            new(ErrorKind.InvalidFormat, $"{gguf.Path}: GGUF metadata key '{key}' {what}.") { FilePath = gguf.Path };
        int Checked(string key, ulong v, int min, int max) =>
            v < (ulong)min || v > (ulong)max ? throw Bad(key, $"is {v}, expected {min}..{max}") : (int)v;
        int U(string k, int min = 1, int max = MaxGgufDimension) => Checked(p + k, gguf.GetUInt(p + k), min, max);
        var layers = U("block_count", 1, 4096);
        var pattern = 6;
        string[]? layerTypes = null;
        if (gguf.Metadata.TryGetValue(p + "attention.sliding_window_pattern", out var pat))
        {
            if (pat.Type == GgufValueType.Array && pat.Value is object[] arr && arr.All(o => o is bool))
            {
                // per-layer bool array: true = sliding (llama.cpp swa_layers)
                if (arr.Length != layers)
                {
                    throw Bad(p + "attention.sliding_window_pattern", $"has {arr.Length} entries, expected one per layer ({p}block_count = {layers})");
                }
                layerTypes = arr.Select(o => (bool)o ? "sliding_attention" : "full_attention").ToArray();
            }
            else
            {
                pattern = Checked(p + "attention.sliding_window_pattern", gguf.GetUInt(p + "attention.sliding_window_pattern"), 1, 4096);
            }
        }
        var vocab = gguf.Tensors.TryGetValue("token_embd.weight", out var te) ? (int)te.Shape[0] : throw new EmbeddingGemmaException(
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
            RopeTheta = gguf.Has(p + "rope.freq_base") ? Real(p + "rope.freq_base", gguf.GetDouble(p + "rope.freq_base")) : 10_000.0,
            RopeLocalBaseFreq = gguf.Has(p + "rope.freq_base_swa") ? Real(p + "rope.freq_base_swa", gguf.GetDouble(p + "rope.freq_base_swa")) : 10_000.0,
            // llama.cpp scales by 1/sqrt(key_length) for this arch; a GGUF cannot carry query_pre_attn_scalar.
            QueryPreAttnScalar = keyLength,
            RmsNormEps = Real(p + "attention.layer_norm_rms_epsilon", gguf.GetDouble(p + "attention.layer_norm_rms_epsilon")),
            BosTokenId = Special("tokenizer.ggml.bos_token_id", 2),
            EosTokenId = Special("tokenizer.ggml.eos_token_id", 1),
            PadTokenId = Special("tokenizer.ggml.padding_token_id", 0),
        };
        if (gguf.TryGetUInt(p + "attention.value_length") is { } vl && vl != (ulong)keyLength)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{gguf.Path}: attention.value_length {vl} differs from key_length {keyLength}.") { FilePath = gguf.Path };
        }
        if (gguf.TryGetUInt(p + "pooling_type") is { } pool && pool != 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{gguf.Path}: pooling_type is {pool}; EmbeddingGemma uses mean pooling (1).") { FilePath = gguf.Path };
        }
        return cfg.Validate(gguf.Path);

        int Special(string key, int fallback) => gguf.TryGetUInt(key) is { } v ? Checked(key, v, 0, vocab - 1) : fallback;
        double Real(string key, double? value) =>
            value is { } d && !(double.IsFinite(d) && d > 0) ? throw Bad(key, $"is {d}, expected a positive finite number") : value ?? 0;
    }

    /// <summary>The largest size any GGUF dimension key (embedding_length, head_count, ...) may have: far above any real model, small enough that products of two stay in range.</summary>
    private const int MaxGgufDimension = 1 << 20;

    private static ModelWeights Build(GemmaConfig c, WeightFiles files, bool ownsFiles)
    {
        int h = c.HiddenSize, qd = c.NumAttentionHeads * c.HeadDim, kvd = c.NumKeyValueHeads * c.HeadDim, ff = c.IntermediateSize, hd = c.HeadDim;
        var embed = files.Matrix("embed_tokens.weight", c.VocabSize, h);
        var layers = new LayerWeights[c.NumHiddenLayers];
        for (var l = 0; l < layers.Length; l++)
        {
            string N(string s) => TensorNameMap.Layer(l, s);
            layers[l] = new LayerWeights
            {
                AttnNormGain = files.Gain(N("input_layernorm.weight"), h),
                Wq = files.Matrix(N("self_attn.q_proj.weight"), qd, h),
                Wk = files.Matrix(N("self_attn.k_proj.weight"), kvd, h),
                Wv = files.Matrix(N("self_attn.v_proj.weight"), kvd, h),
                QNormGain = files.Gain(N("self_attn.q_norm.weight"), hd),
                KNormGain = files.Gain(N("self_attn.k_norm.weight"), hd),
                Wo = files.Matrix(N("self_attn.o_proj.weight"), h, qd),
                PostAttnNormGain = files.Gain(N("post_attention_layernorm.weight"), h),
                PreFfnNormGain = files.Gain(N("pre_feedforward_layernorm.weight"), h),
                WGate = files.Matrix(N("mlp.gate_proj.weight"), ff, h),
                WUp = files.Matrix(N("mlp.up_proj.weight"), ff, h),
                WDown = files.Matrix(N("mlp.down_proj.weight"), h, ff),
                PostFfnNormGain = files.Gain(N("post_feedforward_layernorm.weight"), h),
            };
        }
        var finalNorm = files.Gain("norm.weight", h);
        foreach (var m in layers.SelectMany(l => l.Matrices))
        {
            m.PackForProducts();   // Q4_0/Q8_0: the int8 GEMM layout once, at load (not the embedding: it is read row by row)
        }
        return new ModelWeights(c, files, ownsFiles, embed, layers, finalNorm);
    }

    /// <summary>Number of backbone parameters (embedding + layers + final norm).</summary>
    public long ParameterCount
    {
        get
        {
            var c = Config;
            long perLayer = Layers[0].Matrices.Sum(m => (long)m.Rows * m.Cols) + 4L * c.HiddenSize + 2L * c.HeadDim;
            return (long)c.VocabSize * c.HiddenSize + perLayer * c.NumHiddenLayers + c.HiddenSize;
        }
    }
}
