using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.Fast;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Server.Engine;

/// <summary>
/// The engine over <see cref="EmbeddingGemmaModel"/>'s public API: <see cref="EmbeddingGemmaModel.Tokenize"/> (prompt,
/// specials, truncation, the count before truncation from the same tokenization), batched forward passes through
/// <see cref="EmbeddingGemmaModel.EmbedTokenized"/> (raw Dense output) and the model's post-processing (normalise,
/// Matryoshka truncation, re-normalise), so results equal in-process Encode bit for bit.
/// </summary>
public sealed class EmbeddingGemmaBackend : IEmbeddingBackend
{
    private static readonly int[] TrainedDimensions = [768, 512, 256, 128];
    private readonly bool _ownsModel;

    public EmbeddingGemmaBackend(EmbeddingGemmaModel model, string? name = null, bool ownsModel = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _ownsModel = ownsModel;
        if (model.Tokenizer is null)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{model.Source}: the model has no tokenizer (no tokenizer.json beside it and no GGUF vocabulary); the server needs one to embed text.");
        }
        var config = model.Config;
        var prompts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in model.Prompts)
        {
            prompts[k] = v;
        }
        foreach (var task in ModelPrompts.TaskNames)
        {
            prompts.TryAdd(task, ModelPrompts.ForTask(task));
        }
        var oov = new Dictionary<int, string>();
        var tokens = model.Tokenizer.Tokens;
        for (int id = config.VocabSize; id < tokens.Count; id++)
        {
            oov[id] = tokens[id];
        }
        if (config.VocabSize <= 262144)
        {
            oov.TryAdd(262144, "<image_soft_token>");
        }
        Info = new BackendInfo
        {
            ModelName = name ?? DefaultName(model.Source),
            Dimension = model.Dimensions,
            MaxSequenceLength = model.MaxTokens,
            VocabularySize = config.VocabSize,
            MatryoshkaDimensions = [.. TrainedDimensions.Where(d => d <= model.Dimensions).Prepend(model.Dimensions).Distinct()],
            Prompts = prompts,
            Architecture = model.Architecture,
            WeightType = $"{model.WeightType} ({model.WeightSource.Format})",   // the type the engine holds and runs
            Threads = model.Encoder is FastSequenceEncoder fast ? fast.Engine.Threads : KernelCatalog.DefaultThreads,
            Source = model.Source,
            OutOfVocabularyTokenNames = oov,
        };
    }

    /// <summary>The model served.</summary>
    public EmbeddingGemmaModel Model { get; }

    public BackendInfo Info { get; }

    /// <summary>
    /// Loads a model folder, a .gguf file or a Hugging Face id (resolved by <see cref="ModelLoadOptions.HubResolver"/>,
    /// by default downloaded into the hub cache on first use; gated repositories need HF_TOKEN) with
    /// <paramref name="options"/> (e.g. <see cref="ModelLoadOptions.Threads"/>).
    /// </summary>
    public static EmbeddingGemmaBackend Load(string folderOrGgufOrHubId, string? name = null, ModelLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var model = EmbeddingGemmaModel.Load(folderOrGgufOrHubId, options, cancellationToken);
        try
        {
            bool isLocal = File.Exists(folderOrGgufOrHubId) || Directory.Exists(folderOrGgufOrHubId);
            return new EmbeddingGemmaBackend(model, name ?? (isLocal ? null : folderOrGgufOrHubId));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static string DefaultName(string source)
    {
        var trimmed = source.TrimEnd('/', '\\');
        var file = Path.GetFileName(trimmed);
        return file.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? Path.GetFileNameWithoutExtension(file) : file;
    }

    public TokenizedInput Tokenize(string text, EncodeOptions options) => Model.Tokenize(text, options);

    public float[][] EmbedBatch(IReadOnlyList<TokenizedInput> inputs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        // Normalize = false, full size: the raw output of the last Dense layer; PostProcess finishes per request.
        var results = Model.EmbedTokenized(inputs, new EncodeOptions { Normalize = false, BatchSize = Math.Max(1, inputs.Count) }, null, cancellationToken);
        var vectors = new float[results.Count][];
        for (int i = 0; i < vectors.Length; i++)
        {
            vectors[i] = results[i].Vector;
        }
        return vectors;
    }

    /// <summary>Exactly the model's post-processing (its pipeline's normalize and Matryoshka stages).</summary>
    public float[] PostProcess(float[] raw, EncodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(options);
        return Model.Pipeline.Finish(raw, options);
    }

    public void Dispose()
    {
        if (_ownsModel)
        {
            Model.Dispose();
        }
    }
}
