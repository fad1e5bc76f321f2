using EmbeddingGemma.Embeddings;

namespace EmbeddingGemma.Server.Engine;

/// <summary>
/// The engine under the service, in the library's own types: <see cref="EncodeOptions"/> (the one options type) and
/// <see cref="TokenizedInput"/> (the one tokenized-input type, with <see cref="TokenizedInput.OriginalTokenCount"/>).
/// Per request the core tokenizes each text once (<see cref="Tokenize"/>), queues the inputs, the scheduler embeds
/// batches of them across requests (<see cref="EmbedBatch"/>), and the core post-processes each raw vector with the
/// request's options (<see cref="PostProcess"/>). Implementations must be safe for concurrent <see cref="Tokenize"/>
/// and <see cref="PostProcess"/> calls; <see cref="EmbedBatch"/> is called by one scheduler worker at a time.
/// </summary>
public interface IEmbeddingBackend : IDisposable
{
    /// <summary>What the model is (served in /info and used for validation).</summary>
    BackendInfo Info { get; }

    /// <summary>
    /// One text with the prompt of <paramref name="options"/> (<see cref="EncodeOptions.Prompt"/>,
    /// <see cref="EncodeOptions.PromptName"/>, <see cref="EncodeOptions.Title"/>), special tokens and truncation to
    /// <see cref="BackendInfo.MaxSequenceLength"/>; <see cref="TokenizedInput.OriginalTokenCount"/> is the count before
    /// truncation. The core always passes Truncate = true and refuses over-long inputs itself (with that count).
    /// Throws <see cref="EmbeddingGemmaException"/> (InvalidArgument for an unknown prompt name).
    /// </summary>
    TokenizedInput Tokenize(string text, EncodeOptions options);

    /// <summary>
    /// Raw vectors (the last Dense layer's output: neither normalised nor Matryoshka-truncated), one per input, in
    /// order. Inputs come from <see cref="Tokenize"/> or are caller token ids the core already validated.
    /// </summary>
    float[][] EmbedBatch(IReadOnlyList<TokenizedInput> inputs, CancellationToken cancellationToken);

    /// <summary>
    /// The model's post-processing of one raw vector per <paramref name="options"/> (<see cref="EncodeOptions.Normalize"/>,
    /// <see cref="EncodeOptions.Dimensions"/>), as in-process Encode does it. May reuse <paramref name="raw"/>.
    /// </summary>
    float[] PostProcess(float[] raw, EncodeOptions options);
}

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
    /// <summary>The type of the weights that run (e.g. F32, BF16, Q8_0), with the file format.</summary>
    public string WeightType { get; init; } = "F32";
    /// <summary>The model kind: <c>embeddinggemma</c> (v1) or <c>embeddinggemma2</c>.</summary>
    public string Architecture { get; init; } = "embeddinggemma";
    /// <summary>Compute threads of the forward pass (resolved: never 0).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Where the weights came from (folder, GGUF file or hub id).</summary>
    public string? Source { get; init; }
    /// <summary>Token ids below <see cref="VocabularySize"/> that must not be embedded, with their names.</summary>
    public IReadOnlyDictionary<int, string> ForbiddenTokenIds { get; init; } = new Dictionary<int, string>();
    /// <summary>Names of well-known ids at or above <see cref="VocabularySize"/> (e.g. 262144 = &lt;image_soft_token&gt;), for messages.</summary>
    public IReadOnlyDictionary<int, string> OutOfVocabularyTokenNames { get; init; } = new Dictionary<int, string>();
}
