using System.Text.Json;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.V2;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Embeddings;

/// <summary>
/// EmbeddingGemma as sentence-transformers runs it (modules.json): prompt, tokenize (&lt;bos&gt; … &lt;eos&gt;,
/// truncation at 2048), encoder, mean pooling over all tokens (prompt and specials included), Dense, Dense,
/// L2 normalise, Matryoshka truncate + re-normalise. Thread-safe: any number of callers may encode at once.
/// </summary>
public sealed class EmbeddingGemmaModel : IDisposable
{
    /// <summary><see cref="Architecture"/> of EmbeddingGemma (v1, 300M).</summary>
    public const string ArchitectureV1 = "embeddinggemma";

    /// <summary><see cref="Architecture"/> of EmbeddingGemma 2 (text path).</summary>
    public const string ArchitectureV2 = "embeddinggemma2";

    private readonly ModelWeights? _weights;
    private readonly EmbeddingGemma2Weights? _weights2;
    private readonly GemmaConfig _config;
    private readonly GemmaTokenizer? _tokenizer;
    private readonly ISequenceEncoder _encoder;
    private readonly int _threads;

    private EmbeddingGemmaModel(ModelWeights? weights, EmbeddingGemma2Weights? weights2, GemmaTokenizer? tokenizer, ISequenceEncoder encoder, EmbeddingPipeline pipeline, PromptResolver prompts,
        int maxSeqLength, string source, int threads)
    {
        _weights = weights;
        _weights2 = weights2;
        _config = weights?.Config ?? weights2!.Summary;
        _tokenizer = tokenizer;
        _encoder = encoder;
        _threads = threads;
        Pipeline = pipeline;
        PromptResolver = prompts;
        MaxTokens = Math.Min(maxSeqLength, _config.MaxPositionEmbeddings);
        Source = source;
    }

    /// <summary>
    /// The resolver <see cref="Load"/> uses when <see cref="ModelLoadOptions.HubResolver"/> is null: a hub id
    /// <c>org/name[@rev][:file]</c> or an Ollama name through <see cref="Hub.ModelLocator"/> with
    /// <see cref="Hub.HubOptions.FromEnvironment()"/> (downloads on first use).
    /// </summary>
    public static string ResolveWithHub(string model, CancellationToken cancellationToken) => Hub.ModelLocator.Resolve(model, null, null, cancellationToken);

    /// <summary>
    /// The backbone configuration. For EmbeddingGemma 2 a v1-shaped summary (vocabulary, 8,192-token limit, sliding
    /// layer shapes); the full configuration is <see cref="Config2"/>.
    /// </summary>
    public GemmaConfig Config => _config;

    /// <summary><see cref="ArchitectureV1"/> ("embeddinggemma") or <see cref="ArchitectureV2"/> ("embeddinggemma2"), from the files.</summary>
    public string Architecture => _weights2 is null ? ArchitectureV1 : ArchitectureV2;

    /// <summary>The EmbeddingGemma 2 configuration (null for v1).</summary>
    public EmbeddingGemma2Config? Config2 => _weights2?.Config;

    /// <summary>The EmbeddingGemma 2 weights (null for v1).</summary>
    public EmbeddingGemma2Weights? Weights2 => _weights2;

    /// <summary>Where the weights came from (format, files, tensors), for either architecture.</summary>
    public WeightSourceInfo WeightSource => _weights?.Source ?? _weights2!.Source;

    /// <summary>Parameters of the backbone (v1) or text model (v2).</summary>
    public long ParameterCount => _weights?.ParameterCount ?? _weights2!.ParameterCount;

    /// <summary>Full embedding size (768 for both released models).</summary>
    public int Dimensions => Pipeline.OutputDimension;

    /// <summary>Token limit per input incl. specials (sentence_bert_config max_seq_length, at most max_position_embeddings).</summary>
    public int MaxTokens { get; }

    /// <summary>The folder or file the model was loaded from.</summary>
    public string Source { get; }

    /// <summary>The v1 weights (read-only); an EmbeddingGemma 2 model has <see cref="Weights2"/> instead.</summary>
    public ModelWeights Weights => _weights ?? throw new EmbeddingGemmaException(ErrorKind.Unsupported,
        $"{Source}: this is an EmbeddingGemma 2 model; its weights are Weights2 (WeightSource for the format and files).");

    /// <summary>The tokenizer (null when the model has none; then only <see cref="EncodeTokenIds"/> works).</summary>
    public GemmaTokenizer? Tokenizer => _tokenizer;

    /// <summary>The encoder in use.</summary>
    public ISequenceEncoder Encoder => _encoder;

    /// <summary>The prompts of the model and how options pick one.</summary>
    public PromptResolver PromptResolver { get; }

    /// <summary>The named prompts (config_sentence_transformers.json).</summary>
    public IReadOnlyDictionary<string, string> Prompts => PromptResolver.Prompts;

    /// <summary>True when the Dense heads are present (false only with AllowMissingDense).</summary>
    public bool HasDenseHeads => Pipeline.Dense.Count > 0;

    /// <summary>The embedding pipeline's stages (prompt, tokenize, encoder, mean pooling, Dense, Dense, normalize, Matryoshka).</summary>
    public EmbeddingPipeline Pipeline { get; }

    /// <summary>Compute threads of this model's forward pass (resolved: never 0).</summary>
    public int Threads => _threads;

    /// <summary>The storage type that holds most of the backbone's matrix bytes: the type the engine runs (e.g. Q4_0).</summary>
    public Numerics.GgmlType WeightType => _weights?.DominantMatrixType ?? _weights2!.DominantMatrixType;

    private string? _fingerprint;

    /// <summary>
    /// A fingerprint of what decides this model's vectors: a lowercase hex SHA-256 over the backbone configuration
    /// (every config.json value), the pipeline stages (kind, name, Dense shapes and storage types), the prompts, the
    /// token limit and a content hash of the weights. The weight hash is SAMPLED to stay cheap (milliseconds, no full
    /// read of a multi-GB file): for every tensor, in name order, its name, storage type, shape, byte length and the
    /// bytes of its first and last 4 KiB plus 16 evenly spaced 4 KiB windows (a tensor of at most 72 KiB is hashed
    /// whole). Two files with the same weights give the same fingerprint whatever their folder or file name; a
    /// converted or quantized copy (other storage type or bytes) gives another. The tokenizer is not part of it.
    /// Computed on first use, then cached.
    /// </summary>
    public string Fingerprint => _fingerprint ??= ComputeFingerprint();

    private const int FingerprintWindow = 4096;
    private const int FingerprintInnerWindows = 16;

    private string ComputeFingerprint()
    {
        using var h = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        void Add(string s)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(s);
            h.AppendData(BitConverter.GetBytes(bytes.Length));
            h.AppendData(bytes);
        }
        Add("embeddinggemma.net model fingerprint v1");
        Add(_weights2 is { } v2 ? JsonSerializer.Serialize(v2.Config, ModelConfigJsonContext.Default.EmbeddingGemma2Config) : JsonSerializer.Serialize(Config, ModelConfigJsonContext.Default.GemmaConfig));
        foreach (var stage in Pipeline.Stages)
        {
            Add($"stage {stage.Kind} {stage}");
        }
        Add($"output {Pipeline.OutputDimension} normalize {Pipeline.Normalizes}");
        foreach (var (name, prompt) in Prompts.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Add($"prompt {name}");
            Add(prompt);
        }
        Add($"max_tokens {MaxTokens}");
        var files = _weights?.Files ?? _weights2!.Files;
        foreach (var name in files.Tensors.Keys.OrderBy(n => n, StringComparer.Ordinal))
        {
            var (file, info) = files.Find(name);
            Add($"tensor {name} {info.Type} {info.ShapeText} {info.ByteLength}");
            var bytes = file.GetBytes(info);
            if (bytes.Length <= FingerprintWindow * (FingerprintInnerWindows + 2))
            {
                h.AppendData(bytes);
                continue;
            }
            h.AppendData(bytes[..FingerprintWindow]);
            long span = bytes.Length - FingerprintWindow;
            for (var i = 1; i <= FingerprintInnerWindows; i++)
            {
                var at = (int)(span * i / (FingerprintInnerWindows + 1));
                h.AppendData(bytes.Slice(at, FingerprintWindow));
            }
            h.AppendData(bytes[^FingerprintWindow..]);
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    /// <summary>
    /// Loads a Hugging Face / sentence-transformers folder, a <c>.gguf</c> file (tokenizer from a tokenizer.json beside
    /// it or from its vocabulary), or a hub id through <see cref="ModelLoadOptions.HubResolver"/>.
    /// </summary>
    public static EmbeddingGemmaModel Load(string folderOrGgufOrHubId, ModelLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folderOrGgufOrHubId);
        options ??= new ModelLoadOptions();
        if (options.Activations == ActivationPrecision.Float16)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported,
                "float16 activations are refused: EmbeddingGemma's activations overflow float16 (model card: \"do not support float16\"; values reach ~8e5 > 65504). Use Float32. float16 WEIGHTS are fine.");
        }
        var path = folderOrGgufOrHubId;
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            if (options.UseHub)
            {
                path = (options.HubResolver ?? ResolveWithHub)(path, cancellationToken);
            }
            else
            {
                var hint = LooksLikeHubId(path) ? " It looks like a hub id, but hub resolution is off (ModelLoadOptions.UseHub)." : "";
                throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Model not found: {Path.GetFullPath(path)} (expected a model folder or a .gguf file).{hint}") { FilePath = path };
            }
        }
        if (Directory.Exists(path))
        {
            var ggufs = File.Exists(Path.Combine(path, "config.json")) ? [] : Directory.GetFiles(path, "*.gguf");
            if (ggufs.Length == 1)
            {
                path = ggufs[0];
            }
        }
        if (EmbeddingGemma2Weights.IsEmbeddingGemma2(path))
        {
            return LoadGemma2(path, options);
        }
        ModelWeights? weights = null;
        try
        {
            GemmaTokenizer? tokenizer;
            IReadOnlyDictionary<string, string>? prompts = null;
            var maxSeq = int.MaxValue;
            string? folder = null;
            if (File.Exists(path))
            {
                weights = ModelWeights.LoadGguf(path);
                tokenizer = LoadTokenizer(options.TokenizerPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer.json"), weights.Config, required: options.TokenizerPath is not null);
                if (tokenizer is null)
                {
                    var v = TokenizerVocabulary.FromGguf(weights.Files.Gguf!);
                    if (v is not null)
                    {
                        tokenizer = TokenizerFromGguf(v, weights.Config.VocabSize);
                    }
                }
            }
            else
            {
                folder = path;
                weights = ModelWeights.LoadHuggingFaceFolder(path);
                tokenizer = LoadTokenizer(options.TokenizerPath ?? Path.Combine(path, "tokenizer.json"), weights.Config, required: options.TokenizerPath is not null);
                prompts = ModelPrompts.ReadSentenceTransformersPrompts(path);
                maxSeq = ReadMaxSeqLength(path) ?? int.MaxValue;
            }
            var pipeline = EmbeddingPipeline.Build(weights, folder, options.AllowMissingDense);
            var threads = options.Threads > 0 ? options.Threads : Numerics.KernelCatalog.DefaultThreads;
            var encoder = options.EncoderFactory is { } factory
                ? factory(weights)
                : new Model.Fast.FastSequenceEncoder(weights, new Model.Fast.FastEncoderOptions { Threads = threads, Profile = options.Profile });
            return new EmbeddingGemmaModel(weights, null, tokenizer, encoder, pipeline, new PromptResolver(prompts), maxSeq, Path.GetFullPath(path), threads);
        }
        catch
        {
            weights?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A model from a checkpoint in memory (e.g. weights just trained, or <see cref="RandomModel.Create"/>), without
    /// writing files: the tensors are copied into native memory and read exactly as a Hugging Face folder of them
    /// would be (standard modules: Transformer, Pooling, Dense, Dense, Normalize), so the vectors equal those of the
    /// folder <see cref="ModelCheckpoint.WriteHuggingFaceFolder"/> writes. <paramref name="tokenizer"/> reuses a loaded
    /// tokenizer (null: built from <see cref="ModelCheckpoint.TokenizerJson"/>, or none). <paramref name="source"/> names
    /// the model in messages.
    /// </summary>
    public static EmbeddingGemmaModel FromCheckpoint(ModelCheckpoint checkpoint, GemmaTokenizer? tokenizer = null, ModelLoadOptions? options = null,
        string source = "(in-memory checkpoint)")
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        options ??= new ModelLoadOptions();
        ModelWeights? weights = null;
        try
        {
            var files = WeightFiles.FromMemory(new MemoryTensorFile(source, checkpoint.Tensors.Select(t => (t.Name, t.Shape, t.Values))));
            weights = ModelWeights.Load(checkpoint.Config, files, ownsFiles: true);
            if (tokenizer is null && checkpoint.TokenizerJson is { } json)
            {
                var ownConfig = checkpoint.TokenizerConfigJson is not null;
                tokenizer = GemmaTokenizer.FromJson(json, checkpoint.TokenizerConfigJson, new GemmaTokenizerOptions
                {
                    EmbeddingRows = checkpoint.Config.VocabSize,
                    AddBosToken = ownConfig ? null : true,
                    AddEosToken = ownConfig ? null : true,
                });
            }
            var pipeline = EmbeddingPipeline.Build(weights, null, options.AllowMissingDense);
            var threads = options.Threads > 0 ? options.Threads : Numerics.KernelCatalog.DefaultThreads;
            var encoder = options.EncoderFactory is { } factory
                ? factory(weights)
                : new Model.Fast.FastSequenceEncoder(weights, new Model.Fast.FastEncoderOptions { Threads = threads, Profile = options.Profile });
            return new EmbeddingGemmaModel(weights, null, tokenizer, encoder, pipeline, new PromptResolver(checkpoint.Prompts), checkpoint.Config.MaxPositionEmbeddings, source, threads);
        }
        catch
        {
            weights?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// EmbeddingGemma 2 (spec2): no Dense stages, the 512->768 projection inside the encoder before the mean, the
    /// 8,192-token limit, input not stripped (sentence-transformers 6), its own prompt table. The default encoder is the
    /// fast engine (<see cref="Model.Fast.FastEncoder2"/>); <see cref="ModelLoadOptions.EncoderFactory2"/> chooses another (e.g. <c>w =&gt; new ReferenceEncoder2(w)</c>).
    /// </summary>
    private static EmbeddingGemmaModel LoadGemma2(string path, ModelLoadOptions options)
    {
        EmbeddingGemma2Weights? weights = null;
        try
        {
            weights = EmbeddingGemma2Weights.Load(path);
            var folder = Directory.Exists(path) ? path : null;
            var tokenizerPath = options.TokenizerPath ?? Path.Combine(folder ?? Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer.json");
            var tokenizer = LoadTokenizer(tokenizerPath, weights.Summary, required: options.TokenizerPath is not null);
            if (tokenizer is null && weights.Files.Gguf is { } g && TokenizerVocabulary.FromGguf(g) is { } v)
            {
                tokenizer = TokenizerFromGguf(v, weights.Config.VocabSize);
            }
            var prompts = folder is null ? null : ModelPrompts.ReadSentenceTransformersPrompts(folder);
            var maxSeq = folder is null ? int.MaxValue : ReadMaxSeqLength(folder) ?? int.MaxValue;
            var pipeline = EmbeddingPipeline.BuildGemma2(weights.Config, folder);
            var threads = options.Threads > 0 ? options.Threads : Numerics.KernelCatalog.DefaultThreads;
            var encoder = options.EncoderFactory2 is { } factory ? factory(weights) : new Model.Fast.FastEncoder2(weights, new Model.Fast.FastEncoderOptions { Threads = threads });
            if (encoder.OutputDimension != weights.Config.EmbeddingDim)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"EncoderFactory2 returned an encoder of {encoder.OutputDimension} outputs; EmbeddingGemma 2 pools {weights.Config.EmbeddingDim}.");
            }
            return new EmbeddingGemmaModel(null, weights, tokenizer, encoder, pipeline, new PromptResolver(prompts ?? Gemma2Prompts.SentenceTransformersPrompts),
                maxSeq, Path.GetFullPath(path), threads);
        }
        catch
        {
            weights?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The tokenizer of a GGUF vocabulary: <c>llama</c> (SentencePiece, merges from the scores) or <c>gemma4</c> (the
    /// explicit <c>tokenizer.ggml.merges</c>, through the equivalent tokenizer.json; llama.cpp writes placeholder scores).
    /// </summary>
    private static GemmaTokenizer TokenizerFromGguf(TokenizerVocabulary v, int embeddingRows)
    {
        var options = new GemmaTokenizerOptions { EmbeddingRows = embeddingRows };
        return v.Merges is not null
            ? GemmaTokenizer.FromJson(v.ToTokenizerJson(), v.ToTokenizerConfigJson(), options)
            : new GemmaTokenizer(new SentencePieceVocabulary(v.Tokens, v.Scores, v.TokenTypes.Select(t => (SentencePieceTokenType)t).ToArray(),
                v.BosId, v.EosId, v.UnknownId, v.PaddingId, v.AddBos, v.AddEos), options);
    }

    private static bool LooksLikeHubId(string s) =>
        s.Count(c => c == '/') == 1 && !s.StartsWith('/') && !s.StartsWith('.') && !s.Contains('\\', StringComparison.Ordinal) && !s.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);

    private static GemmaTokenizer? LoadTokenizer(string path, GemmaConfig config, bool required)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            return required ? throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Tokenizer not found: {path}") { FilePath = path } : null;
        }
        var dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        // EmbeddingGemma wraps every input as <bos> … <eos> (HF-CONV add_eos_token for the embedding variant); a
        // tokenizer_config.json from another Gemma (add_eos false) must not change that.
        var ownConfig = File.Exists(Path.Combine(dir, "tokenizer_config.json"));
        return GemmaTokenizer.FromFile(path, new GemmaTokenizerOptions
        {
            EmbeddingRows = config.VocabSize,
            AddBosToken = ownConfig ? null : true,
            AddEosToken = ownConfig ? null : true,
        });
    }

    private static int? ReadMaxSeqLength(string folder)
    {
        var p = Path.Combine(folder, "sentence_bert_config.json");
        if (!File.Exists(p))
        {
            return null;
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(p));
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{p}: invalid JSON ({e.Message}).", e) { FilePath = p };
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{p}: expected a JSON object.") { FilePath = p };
            }
            if (!doc.RootElement.TryGetProperty("max_seq_length", out var m) || m.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            // sentence-transformers needs at least room for <bos> and <eos>; anything else would be silently replaced.
            return m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out var v) && v >= 2 ? v
                : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{p}: field 'max_seq_length' must be an integer of at least 2, got {m.GetRawText()}.") { FilePath = p };
        }
    }

    private GemmaTokenizer RequireTokenizer() => _tokenizer ?? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
        $"{Source}: this model has no tokenizer (no tokenizer.json and no GGUF vocabulary); use EncodeTokenIds or ModelLoadOptions.TokenizerPath.");

    /// <summary>Applies the prompt, tokenizes (&lt;bos&gt; … &lt;eos&gt;) and truncates or refuses per <paramref name="options"/>.</summary>
    public TokenizedInput Tokenize(string text, EncodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        options ??= new EncodeOptions();
        var prompt = PromptResolver.Resolve(options);
        return TokenizeWithPrompt(text, prompt, options, 0);
    }

    /// <summary>Characters tokenized per allowed token before a long input is cut (Gemma pieces average ~4 characters; 32 leaves a wide margin).</summary>
    internal const int PrefixCharsPerToken = 32;

    private TokenizedInput TokenizeWithPrompt(string text, string? prompt, EncodeOptions options, int index)
    {
        var tok = RequireTokenizer();
        var max = MaxTokenLimit(options);
        if (_weights2 is { } w2)
        {
            // sentence-transformers 6 (EmbeddingGemma 2) does not strip the input (spec2 §3, §8.11)
            var full2 = (prompt ?? "") + text;
            var ids2 = tok.EncodeToIds(full2, max, out var truncated2, out var count2);
            RefuseMediaPlaceholders(w2.Config, ids2, index);
            if (truncated2 && !options.Truncate)
            {
                throw new EmbeddingGemmaException(ErrorKind.InputTooLong,
                    $"Input {index} has {count2} tokens (prompt and <bos>/<eos> included), more than the limit of {max}; set Truncate = true to cut it.");
            }
            return new TokenizedInput(ids2, truncated2, prompt) { OriginalTokenCount = count2 };
        }
        // sentence-transformers strips the input after prepending the prompt (Transformer.tokenize). The trim of the
        // start reaches into the text only when the prompt is empty or all whitespace.
        var promptText = prompt ?? "";
        var start = 0;
        if (string.IsNullOrWhiteSpace(promptText))
        {
            while (start < text.Length && char.IsWhiteSpace(text[start]))
            {
                start++;
            }
        }
        // A long input is tokenized by prefix only (bounded work and memory whatever its length): the first
        // max * 32 characters, cut before a word, growing 4x while the prefix still yields no more than max tokens.
        // The kept ids are then those of the whole text; OriginalTokenCount is a lower bound (OriginalTokenCountIsExact false).
        for (var budget = (long)max * PrefixCharsPerToken; budget < text.Length - start; budget *= 4)
        {
            var cut = PrefixCut(text, start, (int)budget);
            var part = (promptText + text.AsSpan(start, cut - start).ToString()).Trim();
            var ids = tok.EncodeToIds(part, max, out var cutTruncated, out var prefixCount);
            if (cutTruncated)
            {
                if (!options.Truncate)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InputTooLong,
                        $"Input {index} has at least {prefixCount} tokens (prompt and <bos>/<eos> included; counted on its first {cut - start} of {text.Length} characters), more than the limit of {max}; set Truncate = true to cut it.");
                }
                return new TokenizedInput(ids, true, prompt) { OriginalTokenCount = prefixCount, OriginalTokenCountIsExact = false };
            }
        }
        var full = (promptText + text).Trim();
        var all = tok.EncodeToIds(full, max, out var truncated, out var count);
        if (truncated && !options.Truncate)
        {
            throw new EmbeddingGemmaException(ErrorKind.InputTooLong,
                $"Input {index} has {count} tokens (prompt and <bos>/<eos> included), more than the limit of {max}; set Truncate = true to cut it.");
        }
        return new TokenizedInput(all, truncated, prompt) { OriginalTokenCount = count };
    }

    /// <summary>
    /// End of a prefix of <paramref name="text"/> from <paramref name="start"/> of about <paramref name="length"/> characters:
    /// just before a space that follows a non-whitespace character (where the tokenizer starts a new word, so the
    /// prefix's tokens are the text's), searched back over the last half; else a char boundary that splits no surrogate pair.
    /// </summary>
    internal static int PrefixCut(string text, int start, int length)
    {
        var end = start + length;
        for (var p = end; p > start + length / 2; p--)
        {
            if (text[p] == ' ' && !char.IsWhiteSpace(text[p - 1]))
            {
                return p;
            }
        }
        return char.IsLowSurrogate(text[end]) && char.IsHighSurrogate(text[end - 1]) ? end - 1 : end;
    }

    // The HF processor raises for <|image|>/<|audio|>/<|video|> in text without media (HF-PROC validate_inputs, spec2 §4).
    private static void RefuseMediaPlaceholders(EmbeddingGemma2Config c, int[] ids, int index)
    {
        foreach (var id in ids)
        {
            if (id == c.ImageTokenId || id == c.AudioTokenId || id == c.VideoTokenId)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"Input {index} contains the media placeholder token id {id} (image {c.ImageTokenId}, audio {c.AudioTokenId}, video {c.VideoTokenId}); EmbeddingGemma 2's text path takes no image, audio or video.");
            }
        }
    }

    private int MaxTokenLimit(EncodeOptions options)
    {
        if (options.MaxTokens is { } m && (m < 2 || m > Config.MaxPositionEmbeddings))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"MaxTokens must be between 2 and {Config.MaxPositionEmbeddings}, got {m}.");
        }
        return options.MaxTokens ?? MaxTokens;
    }

    /// <summary>Encodes texts (no prompt unless the options name one).</summary>
    public float[][] Encode(IReadOnlyList<string> texts, EncodeOptions? options = null, IProgress<EncodeProgress>? progress = null, CancellationToken cancellationToken = default) =>
        EncodeDetailed(texts, options, progress, cancellationToken).Select(r => r.Vector).ToArray();

    /// <summary>Encodes one text.</summary>
    public float[] Encode(string text, EncodeOptions? options = null, CancellationToken cancellationToken = default) =>
        Encode([text], options, null, cancellationToken)[0];

    /// <summary>Encodes queries with the <c>query</c> prompt unless the options name another (sentence-transformers encode_query).</summary>
    public float[][] EncodeQuery(IReadOnlyList<string> queries, EncodeOptions? options = null, IProgress<EncodeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new EncodeOptions();
        if (options.Prompt is null && options.PromptName is null && options.Task is null)
        {
            options = options with { PromptName = Prompts.ContainsKey("query") ? "query" : "retrieval_query" };
        }
        return Encode(queries, options, progress, cancellationToken);
    }

    /// <summary>Encodes one query.</summary>
    public float[] EncodeQuery(string query, EncodeOptions? options = null, CancellationToken cancellationToken = default) =>
        EncodeQuery([query], options, null, cancellationToken)[0];

    /// <summary>
    /// Encodes documents with the <c>document</c> prompt (first of document/passage/corpus present, as
    /// encode_document) unless the options name another; <paramref name="titles"/>[i] fills <c>title: {title} | text: </c>.
    /// </summary>
    public float[][] EncodeDocument(IReadOnlyList<string> documents, IReadOnlyList<string?>? titles = null, EncodeOptions? options = null,
        IProgress<EncodeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(documents);
        options ??= new EncodeOptions();
        if (options.Prompt is null && options.PromptName is null && options.Task is null)
        {
            var name = new[] { "document", "passage", "corpus" }.FirstOrDefault(Prompts.ContainsKey);
            options = name is null ? options with { Task = ModelPrompts.RetrievalDocumentTask } : options with { PromptName = name };
        }
        if (titles is null)
        {
            return Encode(documents, options, progress, cancellationToken);
        }
        if (titles.Count != documents.Count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{titles.Count} titles for {documents.Count} documents; give one title (or null) per document.");
        }
        var inputs = documents.Select((d, i) => Tokenize(d, options with { Title = titles[i] ?? options.Title })).ToList();
        return EmbedTokenized(inputs, options, progress, cancellationToken).Select(r => r.Vector).ToArray();
    }

    /// <summary>Encodes one document with an optional title.</summary>
    public float[] EncodeDocument(string document, string? title = null, EncodeOptions? options = null, CancellationToken cancellationToken = default) =>
        EncodeDocument([document], [title], options, null, cancellationToken)[0];

    /// <summary>Encodes texts and reports token counts and truncation.</summary>
    public IReadOnlyList<EmbeddingResult> EncodeDetailed(IReadOnlyList<string> texts, EncodeOptions? options = null, IProgress<EncodeProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        options ??= new EncodeOptions();
        ValidateOptions(options);
        var prompt = PromptResolver.Resolve(options);
        var inputs = new TokenizedInput[texts.Count];
        for (var i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Input {i} is null.");
            }
            inputs[i] = TokenizeWithPrompt(texts[i], prompt, options, i);
        }
        return EmbedTokenized(inputs, options, progress, cancellationToken);
    }

    /// <summary>Encodes token-id sequences used exactly as given (no prompt, no specials added, no truncation).</summary>
    public float[][] EncodeTokenIds(IReadOnlyList<int[]> sequences, EncodeOptions? options = null, IProgress<EncodeProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        options ??= new EncodeOptions();
        var inputs = sequences.Select((s, i) =>
        {
            if (s is null || s.Length == 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Sequence {i} is empty; it needs at least one token id.");
            }
            if (s.Length > Config.MaxPositionEmbeddings)
            {
                throw new EmbeddingGemmaException(ErrorKind.InputTooLong, $"Sequence {i} has {s.Length} ids, more than max_position_embeddings ({Config.MaxPositionEmbeddings}).");
            }
            return new TokenizedInput(s, false);
        }).ToList();
        return EmbedTokenized(inputs, options, progress, cancellationToken).Select(r => r.Vector).ToArray();
    }

    /// <summary>
    /// Encodes already tokenized inputs (from <see cref="Tokenize"/>) and post-processes them per <paramref name="options"/>
    /// (Dimensions, Normalize). Lets a server tokenize, queue and batch across requests.
    /// </summary>
    public IReadOnlyList<EmbeddingResult> EmbedTokenized(IReadOnlyList<TokenizedInput> inputs, EncodeOptions? options = null, IProgress<EncodeProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        options ??= new EncodeOptions();
        ValidateOptions(options);
        var h = _encoder.OutputDimension;
        var results = new EmbeddingResult[inputs.Count];
        var batch = Math.Max(1, options.BatchSize);
        for (var start = 0; start < inputs.Count; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = Math.Min(batch, inputs.Count - start);
            var seqs = new ReadOnlyMemory<int>[n];
            for (var i = 0; i < n; i++)
            {
                seqs[i] = inputs[start + i].Ids;   // the encoder validates lengths and ids (once)
            }
            var pooled = new float[n * h];
            _encoder.EncodePooled(seqs, pooled, cancellationToken);
            var z = Pipeline.Project(pooled, n, _threads);
            var d = Pipeline.OutputDimension;
            for (var i = 0; i < n; i++)
            {
                results[start + i] = new EmbeddingResult(Pipeline.Finish(z.AsSpan(i * d, d), options), inputs[start + i].TokenCount, inputs[start + i].Truncated);
            }
            progress?.Report(new EncodeProgress(start + n, inputs.Count));
        }
        return results;
    }

    /// <summary>The Matryoshka sizes EmbeddingGemma-300M was trained for (model card).</summary>
    private static readonly int[] MatryoshkaSizes = [768, 512, 256, 128];

    private void ValidateOptions(EncodeOptions options)
    {
        if (options.Dimensions is { } d && (d < 1 || d > Dimensions))
        {
            // Only the trained Matryoshka sizes this model has (a smaller model has none of them, or fewer).
            var trained = MatryoshkaSizes.Where(x => x <= Dimensions).ToList();
            var hint = trained.Count > 0 ? $" (trained Matryoshka sizes: {string.Join(", ", trained)})" : "";
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Dimensions must be between 1 and {Dimensions}{hint}, got {d}.");
        }
        if (options.BatchSize < 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"BatchSize must be at least 1, got {options.BatchSize}.");
        }
    }

    /// <summary>Cosine similarity of two vectors.</summary>
    public static float Similarity(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Numerics.VectorOps.Cosine(a, b);

    /// <summary>Cosine similarity matrix [a, b] (sentence-transformers' similarity with cosine).</summary>
    public static float[,] Similarity(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b) => Numerics.VectorOps.CosineMatrix(a, b);

    public void Dispose()
    {
        (_encoder as IDisposable)?.Dispose();
        _weights?.Dispose();
        _weights2?.Dispose();
    }
}
