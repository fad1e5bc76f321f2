using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Hub;
using EmbeddingGemma.Model;
using ModelTokenizedInput = EmbeddingGemma.Embeddings.TokenizedInput;

namespace EmbeddingGemma.Server.Engine;

/// <summary>
/// The engine over <see cref="EmbeddingGemmaModel"/>: tokenization with the model's prompts and truncation,
/// batched forward passes through <see cref="EmbeddingGemmaModel.EmbedTokenized"/> (raw Dense output), and the
/// model's post-processing (normalise, Matryoshka truncation, re-normalise), so results equal in-process Encode.
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
        var tensors = model.Weights.Source.Tensors;
        string weightType = tensors.Count == 0 ? "unknown"
            : tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Sum(t => t.ByteLength)).First().Key.ToString();
        Info = new BackendInfo
        {
            ModelName = name ?? DefaultName(model.Source),
            Dimension = model.Dimensions,
            MaxSequenceLength = model.MaxTokens,
            VocabularySize = config.VocabSize,
            MatryoshkaDimensions = [.. TrainedDimensions.Where(d => d <= model.Dimensions).Prepend(model.Dimensions).Distinct()],
            Prompts = prompts,
            WeightType = $"{weightType} ({model.Weights.Source.Format})",
            Threads = Environment.ProcessorCount,
            Source = model.Source,
            OutOfVocabularyTokenNames = oov,
        };
    }

    /// <summary>The model served.</summary>
    public EmbeddingGemmaModel Model { get; }

    public BackendInfo Info { get; }

    /// <summary>
    /// Loads a model folder, a .gguf file or a Hugging Face id (downloaded into the hub cache on first use; gated
    /// repositories need HF_TOKEN).
    /// </summary>
    public static EmbeddingGemmaBackend Load(string folderOrGgufOrHubId, string? name = null, ModelLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ModelLoadOptions();
        options = options.HubResolver is null
            ? options with { HubResolver = (id, ct) => ModelLocator.Resolve(id, cancellationToken: ct) }
            : options;
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

    public TokenizedInput Tokenize(string text, InputOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var encode = new EncodeOptions { PromptName = options.PromptName, Prompt = options.Prompt, Title = options.Title, Truncate = options.Truncate };
        var t = Model.Tokenize(text, encode);
        // The count before truncation, computed as the model does when it refuses an input.
        int original = t.Truncated ? Model.Tokenizer!.CountTokens(((t.Prompt ?? "") + text).Trim()) : t.Ids.Length;
        return new TokenizedInput(t.Ids, original, t.Truncated);
    }

    public TokenizedInput PrepareTokenIds(IReadOnlyList<int> ids, bool truncate)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int max = Info.MaxSequenceLength;
        if (ids.Count <= max)
        {
            return new TokenizedInput([.. ids], ids.Count, false);
        }
        if (!truncate)
        {
            throw new EmbeddingGemmaException(ErrorKind.InputTooLong, $"The token sequence has {ids.Count} ids, more than the limit of {max}.");
        }
        return new TokenizedInput([.. ids.Take(max)], ids.Count, true);
    }

    public float[][] EmbedBatch(IReadOnlyList<int[]> sequences, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var inputs = new ModelTokenizedInput[sequences.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = new ModelTokenizedInput(sequences[i], false);
        }
        // Normalize = false, full size: the raw output of the last Dense layer; PostProcess finishes per request.
        var results = Model.EmbedTokenized(inputs, new EncodeOptions { Normalize = false, BatchSize = Math.Max(1, inputs.Length) }, null, cancellationToken);
        var vectors = new float[results.Count][];
        for (int i = 0; i < vectors.Length; i++)
        {
            vectors[i] = results[i].Vector;
        }
        return vectors;
    }

    /// <summary>Exactly the model's post-processing: L2-normalise, then Matryoshka truncation and re-normalisation.</summary>
    public float[] PostProcess(float[] raw, int? dimensions, bool normalize)
    {
        ArgumentNullException.ThrowIfNull(raw);
        var z = (float[])raw.Clone();
        int dims = dimensions ?? z.Length;
        if (normalize)
        {
            Numerics.VectorOps.L2Normalize(z);
        }
        return dims == z.Length ? z : Numerics.VectorOps.Truncate(z, dims, normalize);
    }

    public void Dispose()
    {
        if (_ownsModel)
        {
            Model.Dispose();
        }
    }
}
