namespace EmbeddingGemma.Server.Engine;

/// <summary>
/// The engine under the service: tokenizes with per-input options, embeds batches of token-id sequences and
/// post-processes one raw vector per request options. The core (queue, batching, limits) only talks to this.
/// Implementations must be safe for concurrent <see cref="Tokenize"/> calls; <see cref="EmbedBatch"/> is called by
/// one scheduler worker at a time.
/// </summary>
public interface IEmbeddingBackend : IDisposable
{
    /// <summary>What the model is (served in /info and used for validation).</summary>
    BackendInfo Info { get; }

    /// <summary>
    /// Prompt + special tokens + truncation (or refusal with the token count when <see cref="InputOptions.Truncate"/>
    /// is false). Throws <see cref="EmbeddingGemmaException"/> (InvalidArgument for unknown prompt names,
    /// InputTooLong for refused inputs).
    /// </summary>
    TokenizedInput Tokenize(string text, InputOptions options);

    /// <summary>
    /// Token ids given by the caller, used as given (no prompt, no specials) except for truncation to the maximum
    /// sequence length when <paramref name="truncate"/> is true. Ids are already range-checked by the core.
    /// </summary>
    TokenizedInput PrepareTokenIds(IReadOnlyList<int> ids, bool truncate);

    /// <summary>Raw (not yet Matryoshka-truncated nor normalised) vectors, one per sequence, in order.</summary>
    float[][] EmbedBatch(IReadOnlyList<int[]> sequences, CancellationToken cancellationToken);

    /// <summary>Matryoshka truncation to <paramref name="dimensions"/> (null = full) then optional L2 normalisation.</summary>
    float[] PostProcess(float[] raw, int? dimensions, bool normalize);
}

/// <summary>Per-input tokenization options (a subset of the model's EncodeOptions).</summary>
public sealed record InputOptions
{
    /// <summary>A prompt name (sentence-transformers key such as "query", or a task name such as "retrieval_query").</summary>
    public string? PromptName { get; init; }
    /// <summary>A literal prompt prepended to the text (wins over <see cref="PromptName"/>).</summary>
    public string? Prompt { get; init; }
    /// <summary>Document title for document prompts ("none" when null).</summary>
    public string? Title { get; init; }
    /// <summary>Truncate over-long inputs (true) or refuse them (false).</summary>
    public bool Truncate { get; init; } = true;
}

/// <summary>One tokenized input: the ids to embed, the token count before truncation and whether it was truncated.</summary>
public sealed record TokenizedInput(int[] Ids, int OriginalTokenCount, bool Truncated);

/// <summary>Static facts about the loaded model.</summary>
public sealed record BackendInfo
{
    public required string ModelName { get; init; }
    public required int Dimension { get; init; }
    public required int MaxSequenceLength { get; init; }
    public required int VocabularySize { get; init; }
    public required IReadOnlyList<int> MatryoshkaDimensions { get; init; }
    /// <summary>Prompt name -> prompt text.</summary>
    public required IReadOnlyDictionary<string, string> Prompts { get; init; }
    public string WeightType { get; init; } = "f32";
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Where the weights came from (folder, GGUF file or hub id).</summary>
    public string? Source { get; init; }
    /// <summary>Token ids below <see cref="VocabularySize"/> that must not be embedded, with their names.</summary>
    public IReadOnlyDictionary<int, string> ForbiddenTokenIds { get; init; } = new Dictionary<int, string>();
    /// <summary>Names of well-known ids at or above <see cref="VocabularySize"/> (e.g. 262144 = &lt;image_soft_token&gt;), for messages.</summary>
    public IReadOnlyDictionary<int, string> OutOfVocabularyTokenNames { get; init; } = new Dictionary<int, string>();
}
