namespace EmbeddingGemma.Search.Index;

/// <summary>A document to index: its id (unique in the index), optional title, text and string metadata.</summary>
public sealed record SearchDocument(string Id, string Text)
{
    /// <summary>Goes into the document prompt (<c>title: {title or "none"} | text: ...</c>) and into the keyword index.</summary>
    public string? Title { get; init; }

    /// <summary>Key/value pairs stored with the document; search filters match them exactly.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>One search result: the matching chunk of a document with its character offsets in the document text.</summary>
public sealed record SearchHit
{
    public required string DocumentId { get; init; }
    public string? Title { get; init; }
    /// <summary>The chunk's text (the whole document when it was not split).</summary>
    public required string Text { get; init; }
    /// <summary>Chunk number within the document (0-based).</summary>
    public int ChunkIndex { get; init; }
    /// <summary>Character offset of the chunk's first character in the document text.</summary>
    public int Start { get; init; }
    /// <summary>Character offset one past the chunk's last character.</summary>
    public int End { get; init; }
    /// <summary>The ranking score: cosine similarity for exact/funnel/ann/int8, the reciprocal-rank-fusion score for hybrid.</summary>
    public float Score { get; init; }
    /// <summary>Cosine similarity between query and chunk, when the vector side saw this chunk.</summary>
    public float? Similarity { get; init; }
    /// <summary>SQLite FTS5 bm25() of the chunk (lower is better, as SQLite reports it), hybrid mode only.</summary>
    public double? Bm25 { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>How the vectors are searched.</summary>
public enum SearchMode
{
    /// <summary>Scan every vector (multi-threaded SIMD); the reference.</summary>
    Exact,
    /// <summary>Matryoshka funnel: scan 128/256-dimension prefixes, rerank the best candidates at full size.</summary>
    Funnel,
    /// <summary>Approximate nearest neighbours through the HNSW graph.</summary>
    Ann,
    /// <summary>FTS5 BM25 keyword ranking fused with the exact vector ranking by reciprocal rank fusion.</summary>
    Hybrid,
}

/// <summary>Search parameters.</summary>
public sealed record SearchOptions
{
    /// <summary>How many results (documents, or chunks when <see cref="OneHitPerDocument"/> is false). Must be at least 1.</summary>
    public int TopK { get; init; } = 5;
    /// <summary>Drop results whose cosine similarity is below this (vector modes; in hybrid mode it applies to the vector side).</summary>
    public float? Threshold { get; init; }
    public SearchMode Mode { get; init; } = SearchMode.Exact;
    /// <summary>Only documents whose metadata has all these key/value pairs.</summary>
    public IReadOnlyDictionary<string, string>? Filter { get; init; }
    /// <summary>Keep only the best chunk of each document (default), or every chunk.</summary>
    public bool OneHitPerDocument { get; init; } = true;
    /// <summary>Funnel: prefix dimension scanned first (128 or 256 for EmbeddingGemma).</summary>
    public int FunnelDimension { get; init; } = 128;
    /// <summary>Funnel and int8: candidates rescored at full precision.</summary>
    public int Candidates { get; init; } = 200;
    /// <summary>Binary indexes: candidates taken by Hamming distance per wanted result (top_k x Oversample), then rescored with the float query against the stored int8 vectors.</summary>
    public int Oversample { get; init; } = 4;
    /// <summary>ANN beam width (0 = the index default).</summary>
    public int Ef { get; init; }
    /// <summary>Hybrid: how many results each side contributes before fusion.</summary>
    public int HybridDepth { get; init; } = 50;
    /// <summary>Reciprocal rank fusion constant (Cormack et al. 2009 use 60).</summary>
    public int RrfK { get; init; } = 60;
}
