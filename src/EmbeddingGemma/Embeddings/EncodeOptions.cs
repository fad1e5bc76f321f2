using EmbeddingGemma.Model;

namespace EmbeddingGemma.Embeddings;

/// <summary>
/// How texts become vectors. Prompt choice, in order: <see cref="Prompt"/> (raw text), <see cref="PromptName"/>
/// (one of the 14 sentence-transformers names or a model-card task name), <see cref="Task"/>; none of them: no prompt
/// (like sentence-transformers' encode). <see cref="Title"/> fills the document prompt <c>title: {title} | text: </c>.
/// </summary>
public sealed record EncodeOptions
{
    /// <summary>A prompt by name: query, document, BitextMining, Clustering, ... or retrieval_query, qa_query, ...</summary>
    public string? PromptName { get; init; }

    /// <summary>A raw prompt prepended to every text (wins over <see cref="PromptName"/> and <see cref="Task"/>).</summary>
    public string? Prompt { get; init; }

    /// <summary>A model-card task: retrieval_query, retrieval_document, qa_query, fact_checking, classification, clustering, semantic_similarity, code_retrieval.</summary>
    public string? Task { get; init; }

    /// <summary>Document title for the document prompt (<c>title: {title} | text: </c>; "none" when absent).</summary>
    public string? Title { get; init; }

    /// <summary>Matryoshka size 1..768 (768/512/256/128 are the trained sizes); null = full size.</summary>
    public int? Dimensions { get; init; }

    /// <summary>
    /// True (default): L2-normalised vectors, re-normalised after Matryoshka truncation. False: the output of the last
    /// Dense layer before the final Normalize module (truncated, not normalised).
    /// </summary>
    public bool Normalize { get; init; } = true;

    /// <summary>True (default): texts longer than <see cref="MaxTokens"/> are cut (keeping &lt;eos&gt; last) and reported; false: refused with InputTooLong.</summary>
    public bool Truncate { get; init; } = true;

    /// <summary>Token limit including &lt;bos&gt;/&lt;eos&gt;; null = the model's max_seq_length (2048).</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Sequences handed to the encoder at once (does not change any vector).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Encode options with the query prompt (as sentence-transformers' encode_query).</summary>
    public static EncodeOptions Query { get; } = new() { PromptName = "query" };

    /// <summary>Encode options with the document prompt (as encode_document).</summary>
    public static EncodeOptions Document { get; } = new() { PromptName = "document" };
}

/// <summary>Progress of an Encode call.</summary>
public readonly record struct EncodeProgress(int Completed, int Total);

/// <summary>A vector with the facts of how it was made.</summary>
public sealed record EmbeddingResult(float[] Vector, int TokenCount, bool Truncated);

/// <summary>A tokenized input (prompt applied, specials added, truncated) ready for <see cref="EmbeddingGemmaModel.EmbedTokenized"/>.</summary>
public sealed record TokenizedInput(int[] Ids, bool Truncated, string? Prompt = null)
{
    /// <summary>Number of tokens fed to the encoder.</summary>
    public int TokenCount => Ids.Length;

    /// <summary>
    /// Tokens of the whole input before truncation (prompt and specials included); equals <see cref="TokenCount"/> when
    /// not truncated. A very long text (more than max tokens x 32 characters) is tokenized by prefix only, so its work
    /// and memory stay bounded: then <see cref="OriginalTokenCountIsExact"/> is false and this is the count of the
    /// prefix, a lower bound (still above the limit, so <see cref="Truncated"/> is right).
    /// </summary>
    public int OriginalTokenCount { get; init; } = -1;

    /// <summary>False when <see cref="OriginalTokenCount"/> is a lower bound (only a prefix of a very long text was tokenized).</summary>
    public bool OriginalTokenCountIsExact { get; init; } = true;

    /// <summary><see cref="OriginalTokenCount"/>, or <see cref="TokenCount"/> where it was not recorded.</summary>
    public int FullTokenCount => OriginalTokenCount >= 0 ? OriginalTokenCount : Ids.Length;
}

/// <summary>Activation precision of the forward pass.</summary>
public enum ActivationPrecision
{
    /// <summary>float32 activations (the only supported mode).</summary>
    Float32,
    /// <summary>Refused: EmbeddingGemma activations overflow float16 (model card; activations reach ~8e5 &gt; 65504).</summary>
    Float16,
}

/// <summary>Options for <see cref="EmbeddingGemmaModel.Load"/>.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>Load a model without Dense heads and return the pooled backbone output (NOT the EmbeddingGemma embedding).</summary>
    public bool AllowMissingDense { get; init; }

    /// <summary>Activation precision; Float16 is refused.</summary>
    public ActivationPrecision Activations { get; init; } = ActivationPrecision.Float32;

    /// <summary>A tokenizer.json (or folder) to use instead of the one beside the model / in the GGUF.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>Whether a model argument that is not a local file or folder is resolved as a hub id / Ollama name (default true).</summary>
    public bool UseHub { get; init; } = true;

    /// <summary>Turns a hub id (org/name[@revision]) or other non-local model argument into a local folder or .gguf path; null = <see cref="EmbeddingGemmaModel.ResolveWithHub"/> (Hub.ModelLocator).</summary>
    public Func<string, CancellationToken, string>? HubResolver { get; init; }

    /// <summary>Time each phase of the fast engine (read with <c>((FastSequenceEncoder)model.Encoder).Engine.Profile</c>); default from <c>EMBEDDINGGEMMA_PROFILE=1</c>.</summary>
    public bool Profile { get; init; } = Model.Fast.EngineProfile.FromEnvironment();

    /// <summary>Threads for the forward pass (0: all cores, <see cref="Numerics.KernelCatalog.DefaultThreads"/>). Per model: two models in one process may differ.</summary>
    public int Threads { get; init; }

    /// <summary>Builds the encoder from the weights; null = the fast engine with <see cref="Threads"/>; <c>w =&gt; new ReferenceEncoder(w)</c> selects the reference.</summary>
    public Func<ModelWeights, ISequenceEncoder>? EncoderFactory { get; init; }

    /// <summary>Builds the encoder of an EmbeddingGemma 2 model; null = the fast engine (<see cref="Model.Fast.FastEncoder2"/>) with <see cref="Threads"/>; <c>w =&gt; new ReferenceEncoder2(w)</c> selects the reference.</summary>
    public Func<Model.V2.EmbeddingGemma2Weights, ISequenceEncoder>? EncoderFactory2 { get; init; }
}
