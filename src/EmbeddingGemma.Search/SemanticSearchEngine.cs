using System.Globalization;
using System.Text.Json;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Search.Vectors;
using Microsoft.Extensions.AI;

namespace EmbeddingGemma.Search;

/// <summary>Options of a <see cref="SemanticSearchEngine"/>.</summary>
public sealed record SemanticSearchEngineOptions
{
    /// <summary>Identity of the model in the index and the content hash. Default: the generator's metadata (DefaultModelId, else ProviderName).</summary>
    public string? ModelId { get; init; }
    /// <summary>Where the model came from (the CLI's --model); stored by the first write and named in mismatch errors.</summary>
    public string? ModelSpec { get; init; }
    /// <summary>
    /// The model's fingerprint, stored in the index and checked on every write and search. Default: the generator's
    /// (<see cref="EmbeddingGeneratorFactory.FingerprintOf"/>: <c>EmbeddingGemmaModel.Fingerprint</c>, the hashing
    /// embedder's fixed one); null for other generators, which are then checked by <see cref="ModelId"/> only.
    /// </summary>
    public string? ModelFingerprint { get; init; }
    /// <summary>Prompt name for documents (EmbeddingGemma: <c>title: {title | "none"} | text: </c>).</summary>
    public string DocumentPromptName { get; init; } = "document";
    /// <summary>Prompt name for queries (EmbeddingGemma: <c>task: search result | query: </c>).</summary>
    public string QueryPromptName { get; init; } = "query";
    /// <summary>Matryoshka output size requested from the generator (null: the model's full size).</summary>
    public int? Dimensions { get; init; }
    public ChunkingOptions Chunking { get; init; } = new();
    /// <summary>Documents per transaction (and per embedding round).</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Receives warnings that do not stop a search (e.g. an index without a model fingerprint). Null: ignored.</summary>
    public Action<string>? Warning { get; init; }
}

/// <summary>Progress of <see cref="SemanticSearchEngine.IndexAsync"/>.</summary>
public readonly record struct IndexingProgress(int Processed, int? Total, int Stored, int Unchanged, int ChunksEmbedded, int ChunksFromCache);

/// <summary>What <see cref="SemanticSearchEngine.IndexAsync"/> did.</summary>
public sealed record IndexingResult(int Stored, int Unchanged, int ChunksEmbedded, int ChunksFromCache);

/// <summary>
/// The article's <c>SemanticSearchEngine</c>, persistent: documents are embedded with the document prompt through
/// any <see cref="IEmbeddingGenerator{TInput,TEmbedding}"/> and stored in a <see cref="SemanticIndex"/>; queries are
/// embedded with the query prompt. Re-indexing skips documents whose content hash (model, dimension, prompt,
/// chunking, title, text, metadata) is unchanged, and chunks whose embedding is in the cache.
/// </summary>
public sealed class SemanticSearchEngine
{
    private readonly IEmbeddingGenerator<string, Embedding<float>> _generator;
    private bool _warnedNoFingerprint;

    public SemanticSearchEngine(SemanticIndex index, IEmbeddingGenerator<string, Embedding<float>> generator, SemanticSearchEngineOptions? options = null)
    {
        Index = index ?? throw new ArgumentNullException(nameof(index));
        _generator = generator ?? throw new ArgumentNullException(nameof(generator));
        Options = options ?? new SemanticSearchEngineOptions();
        Options.Chunking.Validate();
        if (Options.BatchSize < 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"BatchSize must be at least 1, got {Options.BatchSize}.");
        }
        var meta = generator.GetService<EmbeddingGeneratorMetadata>();
        ModelId = Options.ModelId ?? meta?.DefaultModelId ?? meta?.ProviderName ?? generator.GetType().FullName!;
        ModelFingerprint = Options.ModelFingerprint ?? EmbeddingGeneratorFactory.FingerprintOf(generator);
        // The fingerprint is the identity: the same weights under another folder or file name are the same model, and
        // keep the index's name so that content hashes and cached embeddings stay valid.
        if (ModelFingerprint is not null && index.ModelFingerprint is not null && index.ModelId is not null
            && string.Equals(index.ModelFingerprint, ModelFingerprint, StringComparison.OrdinalIgnoreCase))
        {
            ModelId = index.ModelId;
        }
    }

    public SemanticIndex Index { get; }
    public SemanticSearchEngineOptions Options { get; }
    public string ModelId { get; }

    /// <summary>The fingerprint of the engine's model (null for a generator without one).</summary>
    public string? ModelFingerprint { get; }

    /// <summary>
    /// Throws <see cref="ErrorKind.InvalidArgument"/> when the index was built with another model (fingerprints differ,
    /// or, without fingerprints, model ids differ), naming both fingerprints and sources. <see cref="IndexAsync"/> and
    /// <see cref="SearchAsync"/> call it; a server calls it at startup.
    /// </summary>
    public void VerifyModel() => Index.VerifyModel(ModelId, ModelFingerprint, Options.ModelSpec);

    /// <summary>The hash that decides whether a stored document is up to date.</summary>
    public byte[] ContentHash(SearchDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var c = Options.Chunking;
        return SemanticIndex.Hash("doc-v1", ModelId, Options.Dimensions?.ToString(CultureInfo.InvariantCulture), Options.DocumentPromptName,
            c.TokenizerId, c.MaxTokens.ToString(CultureInfo.InvariantCulture), c.OverlapTokens.ToString(CultureInfo.InvariantCulture),
            document.Title, document.Text, document.Metadata is null ? null : JsonSerializer.Serialize(document.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)));
    }

    /// <summary>The embedding-cache key of one chunk: everything that determines its vector.</summary>
    public byte[] ChunkKey(string? title, string chunkText) =>
        SemanticIndex.Hash("chunk-v1", ModelId, Options.Dimensions?.ToString(CultureInfo.InvariantCulture), Options.DocumentPromptName, title, chunkText);

    /// <summary>
    /// Adds or updates documents (upsert by id), <see cref="SemanticSearchEngineOptions.BatchSize"/> per transaction.
    /// A failure or cancellation loses nothing committed before it; running again resumes (unchanged documents are skipped).
    /// </summary>
    public async Task<IndexingResult> IndexAsync(IEnumerable<SearchDocument> documents, IProgress<IndexingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(documents);
        VerifyModel(); // before embedding anything
        int? total = documents is ICollection<SearchDocument> col ? col.Count : null;
        int processed = 0, stored = 0, unchanged = 0, embedded = 0, cached = 0;
        var batch = new List<SearchDocument>(Options.BatchSize);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var doc in documents)
        {
            Validate(doc);
            if (!ids.Add(doc.Id))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Document id '{doc.Id}' appears twice in the input.");
            }
            batch.Add(doc);
            if (batch.Count == Options.BatchSize)
            {
                await Flush().ConfigureAwait(false);
            }
        }
        await Flush().ConfigureAwait(false);
        return new IndexingResult(stored, unchanged, embedded, cached);

        async Task Flush()
        {
            if (batch.Count == 0)
            {
                return;
            }
            cancellationToken.ThrowIfCancellationRequested();
            var prepared = new List<SemanticIndex.PreparedDocument>();
            var pending = new List<(SearchDocument Doc, byte[] Hash, IReadOnlyList<TextChunk> Chunks, byte[][] Keys)>();
            foreach (var doc in batch)
            {
                var hash = ContentHash(doc);
                var old = Index.GetContentHash(doc.Id);
                if (old is not null && old.AsSpan().SequenceEqual(hash))
                {
                    unchanged++;
                    continue;
                }
                var chunks = TextChunker.Split(doc.Text, Options.Chunking);
                pending.Add((doc, hash, chunks, chunks.Select(c => ChunkKey(doc.Title, c.Text)).ToArray()));
            }
            var cache = Index.GetCachedEmbeddings(pending.SelectMany(p => p.Keys));
            // Embed the misses, one generator call per distinct title (the title is part of the document prompt).
            var missing = new Dictionary<string, (string? Title, string Text)>();
            foreach (var p in pending)
            {
                for (int i = 0; i < p.Chunks.Count; i++)
                {
                    var key = Convert.ToHexString(p.Keys[i]);
                    if (!cache.ContainsKey(key))
                    {
                        missing.TryAdd(key, (p.Doc.Title, p.Chunks[i].Text));
                    }
                }
            }
            cached += pending.Sum(p => p.Chunks.Count) - missing.Count;
            foreach (var group in missing.GroupBy(m => m.Value.Title))
            {
                var items = group.ToList();
                var vectors = await EmbedAsync(items.Select(i => i.Value.Text).ToList(), Options.DocumentPromptName, group.Key, cancellationToken).ConfigureAwait(false);
                for (int i = 0; i < items.Count; i++)
                {
                    cache[items[i].Key] = vectors[i];
                }
                embedded += items.Count;
            }
            foreach (var p in pending)
            {
                var vectors = p.Keys.Select(k => cache[Convert.ToHexString(k)]).ToList();
                prepared.Add(new SemanticIndex.PreparedDocument(p.Doc, p.Hash, p.Chunks, vectors, p.Keys));
            }
            Index.Upsert(prepared, ModelId, Options.ModelSpec, ModelFingerprint);
            stored += prepared.Count;
            processed += batch.Count;
            batch.Clear();
            progress?.Report(new IndexingProgress(processed, total, stored, unchanged, embedded, cached));
        }
    }

    /// <summary>Removes a document. Returns false when it was not in the index.</summary>
    public bool Delete(string documentId) => Index.Delete(documentId);

    /// <summary>Embeds the query with the query prompt and searches the index.</summary>
    public async Task<IReadOnlyList<SearchHit>> SearchAsync(string query, SearchOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(query))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "The query is empty.");
        }
        options ??= new SearchOptions();
        if (options.TopK <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"top_k must be at least 1, got {options.TopK}.");
        }
        SemanticIndex.ValidateFilter(options.Filter);
        VerifyModel();
        if (Index.ModelId is not null && Index.ModelFingerprint is null && !_warnedNoFingerprint)
        {
            _warnedNoFingerprint = true;
            Options.Warning?.Invoke($"{Index.Path} records no model fingerprint (written by an older version): it cannot be checked that '{ModelId}' is the model its vectors came from. " +
                "Run `index` once with the same model to record it.");
        }
        var q = (await EmbedAsync([query], Options.QueryPromptName, null, cancellationToken).ConfigureAwait(false))[0];
        return Index.Search(q, options, query);
    }

    private async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, string promptName, string? title, CancellationToken ct)
    {
        var props = new AdditionalPropertiesDictionary { ["prompt_name"] = promptName };
        if (title is not null)
        {
            props["title"] = title;
        }
        var options = new EmbeddingGenerationOptions { Dimensions = Options.Dimensions, AdditionalProperties = props };
        var result = await _generator.GenerateAsync(texts, options, ct).ConfigureAwait(false);
        if (result.Count != texts.Count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"The embedding generator returned {result.Count} vectors for {texts.Count} texts.");
        }
        var vectors = new float[texts.Count][];
        for (int i = 0; i < texts.Count; i++)
        {
            var v = result[i].Vector.ToArray();
            if (Index.Dimension is int d && v.Length != d)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"Dimension mismatch: {Index.Path} holds {d}-dimension vectors; the model '{ModelId}' produced {v.Length}.") { FilePath = Index.Path };
            }
            foreach (var x in v)
            {
                if (!float.IsFinite(x))
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"The embedding generator returned a non-finite value for text {i}.");
                }
            }
            // Cosine = inner product on unit vectors; generators that do not normalise are normalised here.
            VectorOps.L2Normalize(v);
            vectors[i] = v;
        }
        return vectors;
    }

    private static void Validate(SearchDocument doc)
    {
        ArgumentNullException.ThrowIfNull(doc);
        if (string.IsNullOrEmpty(doc.Id))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "A document has an empty id.");
        }
        if (string.IsNullOrWhiteSpace(doc.Text))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Document '{doc.Id}' has empty text.");
        }
    }
}
