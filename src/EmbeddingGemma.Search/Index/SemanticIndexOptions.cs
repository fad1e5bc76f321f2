using EmbeddingGemma.Embeddings.Precision;

namespace EmbeddingGemma.Search.Index;

/// <summary>How vectors are held in memory for search.</summary>
public enum VectorStorage
{
    /// <summary>float32 (4 bytes per dimension).</summary>
    Float32,
    /// <summary>int8 with a per-vector scale (1 byte per dimension); candidates are rescored with the float32 vectors stored in SQLite.</summary>
    Int8,
}

/// <summary>Options for opening a <see cref="SemanticIndex"/>.</summary>
public sealed record SemanticIndexOptions
{
    /// <summary>Open without writing anything (searching only). A missing file is then an error.</summary>
    public bool ReadOnly { get; init; }
    /// <summary>How a float32 index holds its vectors in memory (a binary index holds sign bits; it refuses Int8).</summary>
    public VectorStorage Storage { get; init; } = VectorStorage.Float32;
    /// <summary>
    /// The precision of the stored vectors: <see cref="EmbeddingPrecision.Float32"/> or <see cref="EmbeddingPrecision.Binary"/>
    /// (sign bits in memory for a Hamming scan, plus an int8 copy on disk for rescoring). Chosen when the index is
    /// created and recorded in its meta table (<c>precision</c>; an index without it is float32); null = what the file
    /// records. Opening an index with another precision is refused.
    /// </summary>
    public EmbeddingPrecision? Precision { get; init; }
    /// <summary>HNSW parameters for <see cref="SearchMode.Ann"/>.</summary>
    public Ann.HnswOptions Hnsw { get; init; } = new();
    /// <summary>Threads for the exact scan (0 = all cores).</summary>
    public int ScanThreads { get; init; }
    /// <summary>
    /// Receives warnings that do not stop the work: stored metadata that cannot be read, an index without a model
    /// fingerprint (written by an older version). Null: ignored.
    /// </summary>
    public Action<string>? Warning { get; init; }
}

/// <summary>What the index was built with (stored in its meta table).</summary>
public sealed record IndexInfo(string? ModelId, int? Dimension, string? ModelSpec, long Documents, long Chunks, long CachedEmbeddings, string Path)
{
    /// <summary>The stored model fingerprint (null in an empty index and in indexes written before fingerprints were recorded).</summary>
    public string? ModelFingerprint { get; init; }
    /// <summary>The precision of the stored vectors (float32 or binary).</summary>
    public EmbeddingPrecision Precision { get; init; }
}
