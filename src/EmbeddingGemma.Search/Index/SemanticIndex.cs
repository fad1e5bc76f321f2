using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Search.Ann;
using EmbeddingGemma.Search.Vectors;
using Microsoft.Data.Sqlite;

namespace EmbeddingGemma.Search.Index;

/// <summary>
/// A persistent vector + keyword index in one SQLite file (WAL journal, one transaction per batch): documents,
/// their chunks with character offsets and float32 vectors, an FTS5 table for BM25, and an embedding cache keyed
/// by a hash of (model, dimension, prompt, title, chunk text). All vectors are held in memory for search
/// (<see cref="VectorStorage"/>). Writes are serialised; searches may run concurrently with each other.
/// This class stores vectors; <see cref="SemanticSearchEngine"/> turns texts into vectors.
/// </summary>
public sealed class SemanticIndex : IDisposable
{
    /// <summary>PRAGMA application_id of our files ("EGSI").</summary>
    public const int ApplicationId = 0x45475349;
    /// <summary>PRAGMA user_version: the schema version this code reads and writes.</summary>
    public const int SchemaVersion = 1;

    private static readonly byte[] SqliteHeader = "SQLite format 3\0"u8.ToArray();

    private readonly SqliteConnection _db;
    private readonly SemanticIndexOptions _options;
    private readonly ReaderWriterLockSlim _rw = new(LockRecursionPolicy.NoRecursion);
    private readonly object _dbLock = new();
    private readonly object _lazyLock = new();

    private VectorMatrix? _vectors;          // Float32 storage
    private Int8Matrix? _int8;               // Int8 storage
    private readonly List<long> _rowChunk = [];
    private readonly List<string> _rowDoc = [];
    private readonly Dictionary<long, int> _chunkRow = [];
    private bool[] _alive = [];
    private int _deadRows;
    private MatryoshkaFunnel? _funnel;
    private HnswIndex? _hnsw;
    private bool _disposed;

    private SemanticIndex(string path, SqliteConnection db, SemanticIndexOptions options)
    {
        Path = path;
        _db = db;
        _options = options;
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>The model identity the vectors were made with (null until the first document is added).</summary>
    public string? ModelId { get; private set; }

    /// <summary>
    /// The fingerprint of the model the vectors were made with (<c>EmbeddingGemmaModel.Fingerprint</c>, or the fixed one
    /// of the hashing embedder); null until the first document is added, and in indexes written before fingerprints
    /// were recorded (the next write with a fingerprint adopts it).
    /// </summary>
    public string? ModelFingerprint { get; private set; }

    /// <summary>The model specification stored by the first write (the CLI's <c>--model</c>), or null.</summary>
    public string? ModelSpec { get; private set; }

    /// <summary>Most keys in a search filter (<see cref="SearchOptions.Filter"/>).</summary>
    public const int MaxFilterKeys = 64;

    /// <summary>Most characters in a filter key.</summary>
    public const int MaxFilterKeyLength = 256;

    /// <summary>Most characters in a filter value.</summary>
    public const int MaxFilterValueLength = 4096;

    /// <summary>The vector dimension (null until the first document is added).</summary>
    public int? Dimension { get; private set; }

    /// <summary>Live chunks (vectors) in memory.</summary>
    public int VectorCount => _rowChunk.Count - _deadRows;

    /// <summary>
    /// Opens (or creates) an index file. A file that is not SQLite, a SQLite file that is not ours, a corrupted
    /// file or a newer schema is refused with <see cref="ErrorKind.InvalidFormat"/> before anything is written.
    /// </summary>
    public static SemanticIndex Open(string path, SemanticIndexOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new SemanticIndexOptions();
        path = System.IO.Path.GetFullPath(path);
        bool exists = File.Exists(path) && new FileInfo(path).Length > 0;
        if (!exists && options.ReadOnly)
        {
            throw File.Exists(path)
                ? new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path} is not an index: the file is empty (0 bytes). Nothing was changed.") { FilePath = path }
                : new EmbeddingGemmaException(ErrorKind.NotFound, $"Index file not found: {path} (check the path; `index` creates it).") { FilePath = path };
        }
        if (exists)
        {
            CheckHeader(path);
        }
        var csb = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = options.ReadOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        };
        var db = new SqliteConnection(csb.ToString());
        var index = new SemanticIndex(path, db, options);
        try
        {
            db.Open();
            index.Initialize(exists);
            index.LoadVectors();
            return index;
        }
        catch (Exception e) when (IsStoreError(e))
        {
            index.Dispose();
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"Index file {path} cannot be read as an index: {e.Message}", e) { FilePath = path };
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    private static void CheckHeader(string path)
    {
        var head = new byte[16];
        int read;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            read = fs.ReadAtLeast(head, 16, throwOnEndOfStream: false);
        }
        if (read < 16 || !head.AsSpan().SequenceEqual(SqliteHeader))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{path} is not an index: it is not a SQLite database (the first 16 bytes are not \"SQLite format 3\\0\"). Nothing was changed.") { FilePath = path };
        }
    }

    private void Initialize(bool existed)
    {
        // Other processes may be creating or writing the same file: wait for their locks instead of failing at once.
        Execute("PRAGMA busy_timeout=10000");
        long appId = Scalar<long>("PRAGMA application_id");
        long tables = Scalar<long>("SELECT count(*) FROM sqlite_schema");
        if (existed && tables > 0 && appId != ApplicationId)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{Path} is a SQLite database of another application (application_id 0x{appId:X8}, expected 0x{ApplicationId:X8}). Refusing to modify it.") { FilePath = Path };
        }
        if (existed && tables > 0)
        {
            string check = Scalar<string>("PRAGMA quick_check");
            if (check != "ok")
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Path} is corrupted (PRAGMA quick_check: {check}). Nothing was changed.") { FilePath = Path };
            }
            long version = Scalar<long>("PRAGMA user_version");
            if (version != SchemaVersion)
            {
                throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{Path} has index schema version {version}; this version reads {SchemaVersion}.") { FilePath = Path };
            }
        }
        if (!_options.ReadOnly)
        {
            Execute("PRAGMA journal_mode=WAL");
            // WAL + NORMAL: a committed transaction survives a killed process (not necessarily a power cut).
            Execute("PRAGMA synchronous=NORMAL");
            if (tables == 0)
            {
                CreateSchema();
            }
        }
        else if (tables == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Path} is an empty database, not an index.") { FilePath = Path };
        }
        ReadModelMeta(null);
    }

    /// <summary>Reads the stored model identity (model, dimension, fingerprint, spec) into the properties.</summary>
    private void ReadModelMeta(SqliteTransaction? tx)
    {
        ModelId = GetMeta("model", tx);
        var dim = GetMeta("dimension", tx);
        Dimension = dim is null ? null : int.TryParse(dim, NumberStyles.None, CultureInfo.InvariantCulture, out var d) && d > 0 ? d
            : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Path}: the stored dimension '{dim}' is not a positive integer.") { FilePath = Path };
        ModelFingerprint = GetMeta("model_fingerprint", tx);
        ModelSpec = GetMeta("model_spec", tx);
    }

    /// <summary>
    /// Creates the tables. Idempotent and safe against other processes creating the same file at the same moment:
    /// one write transaction taken up front (BEGIN IMMEDIATE, waiting on the busy timeout), every statement
    /// IF NOT EXISTS / OR IGNORE, and a file another process has just made into a non-index is still refused.
    /// </summary>
    private void CreateSchema()
    {
        using var tx = _db.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock before reading anything
        long appId = Scalar<long>("PRAGMA application_id", tx);
        long tables = Scalar<long>("SELECT count(*) FROM sqlite_schema", tx);
        if (tables > 0 && appId != ApplicationId)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{Path} is a SQLite database of another application (application_id 0x{appId:X8}, expected 0x{ApplicationId:X8}). Refusing to modify it.") { FilePath = Path };
        }
        Execute($"""
            PRAGMA application_id={ApplicationId};
            PRAGMA user_version={SchemaVersion};
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS documents(id TEXT PRIMARY KEY, title TEXT, text TEXT NOT NULL, metadata TEXT,
                content_hash BLOB NOT NULL, chunk_count INTEGER NOT NULL, indexed_at TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS chunks(chunk_id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
                start INTEGER NOT NULL, end_ INTEGER NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
            CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, text, tokenize = 'unicode61 remove_diacritics 2');
            CREATE TABLE IF NOT EXISTS embedding_cache(key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS ann_graph(id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL, graph BLOB NOT NULL);
            INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 'embeddinggemma-search'), ('generation', '0');
            """, tx);
        tx.Commit();
    }

    private void LoadVectors()
    {
        if (Dimension is not int dim)
        {
            return;
        }
        CreateStores(dim);
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT chunk_id, doc_id, vector FROM chunks ORDER BY chunk_id";
        using var r = cmd.ExecuteReader();
        var buffer = new float[dim];
        while (r.Read())
        {
            long chunkId = Int64(r, 0);
            var blob = r.GetValue(2) as byte[] ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{Path}: chunk {chunkId} has no vector blob (the stored value is {r.GetDataTypeName(2)}).") { FilePath = Path };
            if (blob.Length != dim * sizeof(float))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                    $"{Path}: chunk {chunkId} has a {blob.Length}-byte vector; the index dimension {dim} needs {dim * sizeof(float)} bytes.") { FilePath = Path };
            }
            MemoryMarshal.Cast<byte, float>(blob).CopyTo(buffer);
            AppendRow(chunkId, Text(r, 1), buffer);
        }
    }

    private void CreateStores(int dim)
    {
        if (_options.Storage == VectorStorage.Int8)
        {
            _int8 ??= new Int8Matrix(dim);
        }
        else
        {
            _vectors ??= new VectorMatrix(dim);
        }
    }

    private void AppendRow(long chunkId, string docId, ReadOnlySpan<float> vector)
    {
        int row = _vectors is not null ? _vectors.Add(vector) : _int8!.Add(vector);
        _rowChunk.Add(chunkId);
        _rowDoc.Add(docId);
        _chunkRow[chunkId] = row;
        if (_alive.Length <= row)
        {
            Array.Resize(ref _alive, Math.Max(16, _alive.Length * 2));
        }
        _alive[row] = true;
    }

    // ---------------------------------------------------------------- writing

    /// <summary>The stored content hash of a document, or null when it is not in the index.</summary>
    public byte[]? GetContentHash(string documentId)
    {
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT content_hash FROM documents WHERE id = $id";
            cmd.Parameters.AddWithValue("$id", documentId);
            return cmd.ExecuteScalar() as byte[];
        }
    }

    /// <summary>Cached vectors for the given keys (missing keys are absent from the result).</summary>
    public Dictionary<string, float[]> GetCachedEmbeddings(IEnumerable<byte[]> keys)
    {
        var result = new Dictionary<string, float[]>();
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT vector FROM embedding_cache WHERE key = $k";
            var p = cmd.Parameters.Add("$k", SqliteType.Blob);
            foreach (var key in keys)
            {
                p.Value = key;
                if (cmd.ExecuteScalar() is byte[] blob)
                {
                    result[Convert.ToHexString(key)] = MemoryMarshal.Cast<byte, float>(blob).ToArray();
                }
            }
        }
        return result;
    }

    /// <summary>One document ready to store: its chunks with their vectors, and its content hash.</summary>
    public sealed record PreparedDocument(SearchDocument Document, byte[] ContentHash, IReadOnlyList<TextChunk> Chunks, IReadOnlyList<float[]> Vectors, IReadOnlyList<byte[]> CacheKeys);

    /// <summary>
    /// Stores (inserts or replaces) a batch of documents in ONE transaction, with the model identity and dimension
    /// checked against the index. Either every document of the batch is stored or none is.
    /// </summary>
    /// <remarks>
    /// <paramref name="modelFingerprint"/> (see <see cref="ModelFingerprint"/>) is checked against the stored one; an
    /// index written before fingerprints were recorded adopts it. The check is repeated inside the write transaction,
    /// so two processes writing with different models cannot both succeed.
    /// </remarks>
    public void Upsert(IReadOnlyList<PreparedDocument> batch, string modelId, string? modelSpec = null, string? modelFingerprint = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        ThrowIfReadOnly();
        if (batch.Count == 0)
        {
            return;
        }
        int dim = batch.First(b => b.Vectors.Count > 0).Vectors[0].Length;
        foreach (var b in batch)
        {
            if (b.Chunks.Count != b.Vectors.Count || b.Chunks.Count == 0)
            {
                throw new ArgumentException($"Document '{b.Document.Id}' has {b.Chunks.Count} chunks and {b.Vectors.Count} vectors.");
            }
            foreach (var v in b.Vectors)
            {
                if (v.Length != dim)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Document '{b.Document.Id}': vectors of {v.Length} and {dim} dimensions in one batch.");
                }
            }
        }
        VerifyModel(modelId, modelFingerprint, modelSpec, dim);
        _rw.EnterWriteLock();
        try
        {
            var added = new List<(long Chunk, string Doc, float[] Vector)>();
            var removed = new List<long>();
            lock (_dbLock)
            {
                using var tx = _db.BeginTransaction(deferred: false);
                // Another process may have written since this one opened the file: check against what is stored now.
                ReadModelMeta(tx);
                VerifyModel(modelId, modelFingerprint, modelSpec, dim);
                if (ModelId is null)
                {
                    SetMeta("model", modelId, tx);
                    SetMeta("dimension", dim.ToString(CultureInfo.InvariantCulture), tx);
                    if (modelSpec is not null)
                    {
                        SetMeta("model_spec", modelSpec, tx);
                    }
                }
                if (ModelFingerprint is null && modelFingerprint is not null)
                {
                    if (ModelId is not null)
                    {
                        Warn($"{Path} recorded no model fingerprint (written by an older version); it now records {modelFingerprint} of model '{modelId}'" +
                            (modelSpec is null ? "." : $" ({modelSpec})."));
                    }
                    SetMeta("model_fingerprint", modelFingerprint, tx);
                }
                foreach (var b in batch)
                {
                    removed.AddRange(DeleteDocumentRows(b.Document.Id, tx));
                    InsertDocument(b, tx, added);
                }
                Execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'", tx);
                tx.Commit();
            }
            ModelId ??= modelId;
            Dimension ??= dim;
            ModelSpec ??= modelSpec;
            ModelFingerprint ??= modelFingerprint;
            CreateStores(dim); // idempotent
            ApplyToMemory(removed, added);
        }
        finally
        {
            _rw.ExitWriteLock();
        }
    }

    /// <summary>Removes a document and its chunks. Returns false when it was not in the index.</summary>
    public bool Delete(string documentId)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        ThrowIfReadOnly();
        _rw.EnterWriteLock();
        try
        {
            List<long> removed;
            bool existed;
            lock (_dbLock)
            {
                using var tx = _db.BeginTransaction();
                removed = DeleteDocumentRows(documentId, tx);
                existed = removed.Count > 0;
                Execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'", tx);
                tx.Commit();
            }
            ApplyToMemory(removed, []);
            return existed;
        }
        finally
        {
            _rw.ExitWriteLock();
        }
    }

    private List<long> DeleteDocumentRows(string id, SqliteTransaction tx)
    {
        var chunkIds = new List<long>();
        using (var cmd = _db.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "SELECT chunk_id FROM chunks WHERE doc_id = $id";
            cmd.Parameters.AddWithValue("$id", id);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                chunkIds.Add(Int64(r, 0));
            }
        }
        using (var cmd = _db.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "DELETE FROM chunks_fts WHERE rowid IN (SELECT chunk_id FROM chunks WHERE doc_id = $id); DELETE FROM chunks WHERE doc_id = $id; DELETE FROM documents WHERE id = $id;";
            cmd.Parameters.AddWithValue("$id", id);
            cmd.ExecuteNonQuery();
        }
        return chunkIds;
    }

    private void InsertDocument(PreparedDocument b, SqliteTransaction tx, List<(long, string, float[])> added)
    {
        var d = b.Document;
        using (var cmd = _db.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO documents(id, title, text, metadata, content_hash, chunk_count, indexed_at) VALUES ($id, $title, $text, $meta, $hash, $n, $at)";
            cmd.Parameters.AddWithValue("$id", d.Id);
            cmd.Parameters.AddWithValue("$title", (object?)d.Title ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$text", d.Text);
            cmd.Parameters.AddWithValue("$meta", d.Metadata is null ? DBNull.Value : JsonSerializer.Serialize(d.Metadata));
            cmd.Parameters.AddWithValue("$hash", b.ContentHash);
            cmd.Parameters.AddWithValue("$n", b.Chunks.Count);
            cmd.Parameters.AddWithValue("$at", DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            cmd.ExecuteNonQuery();
        }
        using var chunkCmd = _db.CreateCommand();
        chunkCmd.Transaction = tx;
        chunkCmd.CommandText = "INSERT INTO chunks(doc_id, ordinal, start, end_, text, vector) VALUES ($doc, $ord, $start, $end, $text, $vec) RETURNING chunk_id";
        using var ftsCmd = _db.CreateCommand();
        ftsCmd.Transaction = tx;
        ftsCmd.CommandText = "INSERT INTO chunks_fts(rowid, title, text) VALUES ($id, $title, $text)";
        using var cacheCmd = _db.CreateCommand();
        cacheCmd.Transaction = tx;
        cacheCmd.CommandText = "INSERT OR IGNORE INTO embedding_cache(key, vector) VALUES ($k, $v)";
        for (int i = 0; i < b.Chunks.Count; i++)
        {
            var c = b.Chunks[i];
            var blob = MemoryMarshal.AsBytes(b.Vectors[i].AsSpan()).ToArray();
            chunkCmd.Parameters.Clear();
            chunkCmd.Parameters.AddWithValue("$doc", d.Id);
            chunkCmd.Parameters.AddWithValue("$ord", c.Ordinal);
            chunkCmd.Parameters.AddWithValue("$start", c.Start);
            chunkCmd.Parameters.AddWithValue("$end", c.End);
            chunkCmd.Parameters.AddWithValue("$text", c.Text);
            chunkCmd.Parameters.AddWithValue("$vec", blob);
            long chunkId = (long)chunkCmd.ExecuteScalar()!;
            ftsCmd.Parameters.Clear();
            ftsCmd.Parameters.AddWithValue("$id", chunkId);
            ftsCmd.Parameters.AddWithValue("$title", FtsSegment(d.Title ?? ""));
            ftsCmd.Parameters.AddWithValue("$text", FtsSegment(c.Text));
            ftsCmd.ExecuteNonQuery();
            if (i < b.CacheKeys.Count)
            {
                cacheCmd.Parameters.Clear();
                cacheCmd.Parameters.AddWithValue("$k", b.CacheKeys[i]);
                cacheCmd.Parameters.AddWithValue("$v", blob);
                cacheCmd.ExecuteNonQuery();
            }
            added.Add((chunkId, d.Id, b.Vectors[i]));
        }
    }

    private void ApplyToMemory(List<long> removed, List<(long Chunk, string Doc, float[] Vector)> added)
    {
        foreach (var chunk in removed)
        {
            if (_chunkRow.Remove(chunk, out int row) && _alive[row])
            {
                _alive[row] = false;
                _deadRows++;
            }
        }
        foreach (var (chunk, doc, vector) in added)
        {
            AppendRow(chunk, doc, vector);
        }
    }

    /// <summary>
    /// Throws <see cref="ErrorKind.InvalidArgument"/> unless vectors of model <paramref name="modelId"/> (fingerprint
    /// <paramref name="fingerprint"/>, loaded from <paramref name="source"/>) belong in this index: when both sides have a
    /// fingerprint they must be equal (the folder or file name then does not matter); otherwise the model ids must be
    /// equal. <paramref name="dimension"/>, when given, must equal the stored dimension. The message names both
    /// fingerprints and where each model came from.
    /// </summary>
    public void VerifyModel(string modelId, string? fingerprint, string? source, int? dimension = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        if (ModelFingerprint is not null && fingerprint is not null)
        {
            if (!string.Equals(ModelFingerprint, fingerprint, StringComparison.OrdinalIgnoreCase))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"Model mismatch: {Path} was built with model '{ModelId}' (fingerprint {ModelFingerprint}{(ModelSpec is null ? "" : $", from {ModelSpec}")}); " +
                    $"the model in use is '{modelId}' (fingerprint {fingerprint}{(source is null ? "" : $", from {source}")}). " +
                    "Its vectors are in another embedding space: use the model the index was built with, or a new index file.") { FilePath = Path };
            }
        }
        else if (ModelId is not null && ModelId != modelId)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Model mismatch: {Path} was built with model '{ModelId}'{(ModelFingerprint is null ? "" : $" (fingerprint {ModelFingerprint})")}{(ModelSpec is null ? "" : $" from {ModelSpec}")}; " +
                $"the model in use is '{modelId}'{(fingerprint is null ? "" : $" (fingerprint {fingerprint})")}{(source is null ? "" : $" from {source}")}. Use the same model (or a new index file).") { FilePath = Path };
        }
        if (dimension is int dim && Dimension is int d && d != dim)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Dimension mismatch: {Path} holds {d}-dimension vectors; the model produced {dim}. Nothing was stored.") { FilePath = Path };
        }
    }

    private void ThrowIfReadOnly()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_options.ReadOnly)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{Path} was opened read-only.") { FilePath = Path };
        }
    }

    // ---------------------------------------------------------------- reading

    /// <summary>Counts and the stored model identity.</summary>
    public IndexInfo GetInfo()
    {
        lock (_dbLock)
        {
            try
            {
                return new IndexInfo(ModelId, Dimension, ModelSpec,
                    Scalar<long>("SELECT count(*) FROM documents"), Scalar<long>("SELECT count(*) FROM chunks"),
                    Scalar<long>("SELECT count(*) FROM embedding_cache"), Path) { ModelFingerprint = ModelFingerprint };
            }
            catch (Exception e) when (IsStoreError(e))
            {
                throw Unreadable(e);
            }
        }
    }

    /// <summary>
    /// An error of the stored data rather than of this code: SQLite's own (a damaged page, an altered schema) or a value
    /// of the wrong kind where the schema promises another (a NULL or a blob in a NOT NULL text column of a rewritten
    /// file: Microsoft.Data.Sqlite's reader throws InvalidOperationException / InvalidCastException / FormatException /
    /// OverflowException for those; fuzz/crashes/index/). The NOT NULL columns are read through <see cref="Text"/> and
    /// friends, which check first; the Source test is only a fallback (the JIT may inline the reader into our frames).
    /// </summary>
    private static bool IsStoreError(Exception e) =>
        e is SqliteException
        || (e is InvalidOperationException or InvalidCastException or FormatException or OverflowException
            && e.Source == "Microsoft.Data.Sqlite");

    /// <summary>
    /// A query on a file that opened but is damaged past the pages Open reads, or whose schema was altered (a column
    /// renamed): InvalidFormat naming the file, not a SqliteException (fuzz/crashes/index/).
    /// </summary>
    private EmbeddingGemmaException Unreadable(Exception e) =>
        new(ErrorKind.InvalidFormat, $"Index file {Path} cannot be read as an index: {e.Message}", e) { FilePath = Path };

    /// <summary>The stored document, or null.</summary>
    public SearchDocument? GetDocument(string id)
    {
        lock (_dbLock)
        {
            try
            {
                using var cmd = _db.CreateCommand();
                cmd.CommandText = "SELECT title, text, metadata FROM documents WHERE id = $id";
                cmd.Parameters.AddWithValue("$id", id);
                using var r = cmd.ExecuteReader();
                if (!r.Read())
                {
                    return null;
                }
                return new SearchDocument(id, Text(r, 1))
                {
                    Title = r.IsDBNull(0) ? null : r.GetString(0),
                    Metadata = r.IsDBNull(2) ? null : ReadMetadata(id, Text(r, 2)),
                };
            }
            catch (Exception e) when (IsStoreError(e))
            {
                throw Unreadable(e);
            }
        }
    }

    /// <summary>Ids of every stored document.</summary>
    public IReadOnlyList<string> GetDocumentIds()
    {
        lock (_dbLock)
        {
            var ids = new List<string>();
            try
            {
                using var cmd = _db.CreateCommand();
                cmd.CommandText = "SELECT id FROM documents ORDER BY id";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    ids.Add(Text(r, 0));
                }
            }
            catch (Exception e) when (IsStoreError(e))
            {
                throw Unreadable(e);
            }
            return ids;
        }
    }

    /// <summary>
    /// Searches with a query vector (unit length, as the model gives). <paramref name="queryText"/> is needed for
    /// <see cref="SearchMode.Hybrid"/> (the keyword side) and ignored otherwise.
    /// </summary>
    public IReadOnlyList<SearchHit> Search(ReadOnlySpan<float> queryVector, SearchOptions? options = null, string? queryText = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        options ??= new SearchOptions();
        if (options.TopK <= 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"top_k must be at least 1, got {options.TopK}.");
        }
        if (options.Mode == SearchMode.Hybrid && string.IsNullOrWhiteSpace(queryText))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "Hybrid search needs the query text (empty query).");
        }
        if (Dimension is null)
        {
            return [];
        }
        if (queryVector.Length != Dimension)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Dimension mismatch: the query vector has {queryVector.Length} dimensions; {Path} holds {Dimension}.") { FilePath = Path };
        }
        var q = queryVector.ToArray();
        _rw.EnterReadLock();
        try
        {
            var allowed = BuildAllowed(options.Filter);
            float minScore = options.Threshold ?? float.NegativeInfinity;
            if (options.Mode == SearchMode.Hybrid)
            {
                return Hybrid(q, queryText!, options, allowed, minScore);
            }
            var rows = VectorSearch(q, options, allowed, minScore, options.TopK);
            return Materialize(rows.Select(r => (r.Row, r.Score, (float?)r.Score, (double?)null)).ToList(), options.TopK);
        }
        catch (Exception e) when (IsStoreError(e))
        {
            throw Unreadable(e);
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }

    /// <summary>The best rows; with OneHitPerDocument, widened until k distinct documents are found or rows run out.</summary>
    private List<ScoredRow> VectorSearch(float[] q, SearchOptions options, bool[] allowed, float minScore, int k)
    {
        int want = options.OneHitPerDocument ? k * 4 : k;
        while (true)
        {
            var rows = RawSearch(q, options, allowed, minScore, want);
            if (!options.OneHitPerDocument)
            {
                return [.. rows];
            }
            var seen = new HashSet<string>();
            var best = new List<ScoredRow>();
            foreach (var r in rows)
            {
                if (seen.Add(_rowDoc[r.Row]))
                {
                    best.Add(r);
                }
            }
            if (best.Count >= k || rows.Length < want || want >= VectorCount)
            {
                return best.Take(k).ToList();
            }
            want *= 4;
        }
    }

    private ScoredRow[] RawSearch(float[] q, SearchOptions options, bool[] allowed, float minScore, int k)
    {
        switch (options.Mode)
        {
            case SearchMode.Funnel when _vectors is not null:
                return EnsureFunnel(options.FunnelDimension).Search(q, k, options.Candidates, allowed, minScore, _options.ScanThreads);
            case SearchMode.Ann when _vectors is not null:
                return EnsureHnsw().Search(q, k, options.Ef, allowed, minScore);
            default:
                if (_int8 is not null)
                {
                    return _int8.Search(q, k, Math.Max(options.Candidates, k), FetchVector, allowed, minScore);
                }
                return ExactScanner.Search(_vectors!, q, k, allowed, minScore, _options.ScanThreads);
        }
    }

    private ReadOnlyMemory<float> FetchVector(int row)
    {
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT vector FROM chunks WHERE chunk_id = $id";
            cmd.Parameters.AddWithValue("$id", _rowChunk[row]);
            var blob = cmd.ExecuteScalar() as byte[];
            if (blob is null || blob.Length != Dimension * sizeof(float))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                    $"{Path}: the vector of chunk {_rowChunk[row]} is missing or not {Dimension} floats (the file changed while open?).") { FilePath = Path };
            }
            return MemoryMarshal.Cast<byte, float>(blob).ToArray();
        }
    }

    private MatryoshkaFunnel EnsureFunnel(int prefix)
    {
        lock (_lazyLock)
        {
            if (_funnel is null || _funnel.PrefixDimension != prefix)
            {
                _funnel = MatryoshkaFunnel.Build(_vectors!, Math.Min(prefix, _vectors!.Dimension));
            }
            _funnel.Append();
            return _funnel;
        }
    }

    private HnswIndex EnsureHnsw()
    {
        lock (_lazyLock)
        {
            if (_hnsw is null)
            {
                _hnsw = TryLoadGraph();
            }
            if (_hnsw is null)
            {
                _hnsw = HnswIndex.Build(_vectors!, _options.Hnsw);
                TrySaveGraph(_hnsw);
            }
            else if (_hnsw.Count < _vectors!.Count)
            {
                _hnsw.AddNewRows();
            }
            return _hnsw;
        }
    }

    private HnswIndex? TryLoadGraph()
    {
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT generation, graph FROM ann_graph WHERE id = 1";
            using var r = cmd.ExecuteReader();
            if (!r.Read() || _deadRows > 0 || r.IsDBNull(0) || r.GetValue(1) is not byte[] blob
                || !long.TryParse(GetMeta("generation"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long generation)
                || Int64(r, 0) != generation)
            {
                return null;
            }
            using var ms = new MemoryStream(blob);
            var graph = HnswIndex.Load(ms, _vectors!, _options.Hnsw);
            return graph.Count == _vectors!.Count ? graph : null;
        }
    }

    private void TrySaveGraph(HnswIndex graph)
    {
        // The graph numbers rows in chunk order as loaded; with deleted rows still in memory that numbering
        // differs from a fresh load, so only a tombstone-free graph is stored.
        if (_options.ReadOnly || _deadRows > 0)
        {
            return;
        }
        using var ms = new MemoryStream();
        graph.Save(ms);
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT OR REPLACE INTO ann_graph(id, generation, graph) VALUES (1, (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'), $g)";
            cmd.Parameters.AddWithValue("$g", ms.ToArray());
            cmd.ExecuteNonQuery();
        }
    }

    private bool[] BuildAllowed(IReadOnlyDictionary<string, string>? filter)
    {
        int n = _rowChunk.Count;
        var allowed = new bool[n];
        if (filter is null || filter.Count == 0)
        {
            Array.Copy(_alive, allowed, n);
            return allowed;
        }
        ValidateFilter(filter);
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            // Keys and values are bound parameters compared with json_each's key/value columns: no JSON path is built
            // from user text, so no key needs escaping. Stored metadata that is not valid JSON is read as '{}' (the
            // document matches no filter) instead of failing the query.
            var where = new StringBuilder();
            int i = 0;
            foreach (var (key, value) in filter)
            {
                where.Append(i == 0 ? " WHERE " : " AND ");
                where.Append(CultureInfo.InvariantCulture,
                    $"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(d.metadata) AND json_type(d.metadata) = 'object' THEN d.metadata ELSE '{{}}' END) j WHERE j.key = $k{i} AND j.value = $v{i})");
                cmd.Parameters.AddWithValue($"$k{i}", key);
                cmd.Parameters.AddWithValue($"$v{i}", value);
                i++;
            }
            cmd.CommandText = "SELECT c.chunk_id FROM chunks c JOIN documents d ON d.id = c.doc_id" + where;
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                if (_chunkRow.TryGetValue(Int64(r, 0), out int row) && _alive[row])
                {
                    allowed[row] = true;
                }
            }
        }
        return allowed;
    }

    /// <summary>
    /// Checks a metadata filter before it reaches SQLite: at most <see cref="MaxFilterKeys"/> keys; each key 1 to
    /// <see cref="MaxFilterKeyLength"/> characters, each value at most <see cref="MaxFilterValueLength"/>; no control
    /// characters (U+0000..U+001F, U+007F) and no unpaired surrogates in either. Any other character (quotes,
    /// backslashes, dots, <c>$</c>, <c>%</c>) is allowed and matched literally. Throws
    /// <see cref="ErrorKind.InvalidArgument"/> naming the key and the limit.
    /// </summary>
    public static void ValidateFilter(IReadOnlyDictionary<string, string>? filter)
    {
        if (filter is null)
        {
            return;
        }
        if (filter.Count > MaxFilterKeys)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"The filter has {filter.Count} keys; the limit is {MaxFilterKeys}.");
        }
        foreach (var (key, value) in filter)
        {
            if (string.IsNullOrEmpty(key))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "A filter key is empty.");
            }
            if (key.Length > MaxFilterKeyLength)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Filter key '{key[..32]}…' has {key.Length} characters; the limit is {MaxFilterKeyLength}.");
            }
            if (BadText(key) is { } why)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Filter key {JsonSerializer.Serialize(key)} {why}.");
            }
            if (value is null)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Filter key '{key}' has no value (null); values are strings.");
            }
            if (value.Length > MaxFilterValueLength)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"The value of filter key '{key}' has {value.Length} characters; the limit is {MaxFilterValueLength}.");
            }
            if (BadText(value) is { } whyValue)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"The value of filter key '{key}' {whyValue}.");
            }
        }

        static string? BadText(string s)
        {
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (char.IsControl(c) && c < '\u00A0')
                {
                    return $"contains a control character (U+{(int)c:X4} at position {i})";
                }
                if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                {
                    i++;
                }
                else if (char.IsSurrogate(c))
                {
                    return $"contains an unpaired surrogate (U+{(int)c:X4} at position {i})";
                }
            }
            return null;
        }
    }

    /// <summary>
    /// Stored metadata as key/value strings: a JSON object's string values as they are, other values as their JSON
    /// text. Metadata that is not a JSON object (a file edited or written by another tool) gives null and a warning,
    /// never an exception.
    /// </summary>
    private Dictionary<string, string>? ReadMetadata(string documentId, string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                Warn($"{Path}: document '{documentId}' has metadata that is not a JSON object ({JsonValueKindName(doc.RootElement.ValueKind)}); shown without metadata.");
                return null;
            }
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                result[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }
            return result;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            Warn($"{Path}: document '{documentId}' has malformed metadata ({e.Message}); shown without metadata and matched by no filter.");
            return null;
        }
    }

    private static string JsonValueKindName(JsonValueKind kind) => kind.ToString().ToLowerInvariant();

    private void Warn(string message) => _options.Warning?.Invoke(message);

    private List<SearchHit> Hybrid(float[] q, string queryText, SearchOptions options, bool[] allowed, float minScore)
    {
        int depth = Math.Max(options.HybridDepth, options.TopK);
        var vector = VectorSearch(q, options with { Mode = SearchMode.Exact }, allowed, minScore, depth);
        var keyword = KeywordSearch(queryText, depth * (options.OneHitPerDocument ? 4 : 1), allowed);
        if (options.OneHitPerDocument)
        {
            var seen = new HashSet<string>();
            keyword = keyword.Where(k => seen.Add(_rowDoc[k.Row])).Take(depth).ToList();
        }
        var fused = new Dictionary<int, (double Score, float? Sim, double? Bm25)>();
        for (int i = 0; i < vector.Count; i++)
        {
            fused[vector[i].Row] = (1.0 / (options.RrfK + i + 1), vector[i].Score, null);
        }
        for (int i = 0; i < keyword.Count; i++)
        {
            var row = keyword[i].Row;
            var prev = fused.TryGetValue(row, out var p) ? p : (0, null, null);
            fused[row] = (prev.Score + 1.0 / (options.RrfK + i + 1), prev.Sim, keyword[i].Bm25);
        }
        var ranked = fused.OrderByDescending(f => f.Value.Score).ThenBy(f => f.Key)
            .Select(f => (f.Key, (float)f.Value.Score, f.Value.Sim, f.Value.Bm25)).ToList();
        if (options.OneHitPerDocument)
        {
            var seen = new HashSet<string>();
            ranked = ranked.Where(r => seen.Add(_rowDoc[r.Key])).ToList();
        }
        return Materialize(ranked, options.TopK);
    }

    /// <summary>BM25 over the chunk texts and titles (SQLite FTS5); the query's words are OR-ed.</summary>
    private List<(int Row, double Bm25)> KeywordSearch(string queryText, int limit, bool[] allowed)
    {
        var terms = FtsTerms(queryText);
        var result = new List<(int, double)>();
        if (terms.Count == 0)
        {
            return result;
        }
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH $q ORDER BY s LIMIT $n";
            cmd.Parameters.AddWithValue("$q", string.Join(" OR ", terms.Select(t => "\"" + t.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"")));
            cmd.Parameters.AddWithValue("$n", limit * 4 + 16);
            using var r = cmd.ExecuteReader();
            while (r.Read() && result.Count < limit)
            {
                if (_chunkRow.TryGetValue(Int64(r, 0), out int row) && allowed[row])
                {
                    result.Add((row, Real(r, 1)));
                }
            }
        }
        return result;
    }

    /// <summary>Splits a query into FTS5 terms: runs of letters/digits (any script), each quoted as a phrase.</summary>
    internal static List<string> FtsTerms(string text)
    {
        text = FtsSegment(text);
        var terms = new List<string>();
        var sb = new StringBuilder();
        foreach (char c in text)
        {
            if ((char.IsLetterOrDigit(c) || char.IsSurrogate(c) || c == '_') && !char.IsWhiteSpace(c))
            {
                sb.Append(c);
            }
            else if (sb.Length > 0)
            {
                terms.Add(sb.ToString());
                sb.Clear();
            }
        }
        if (sb.Length > 0)
        {
            terms.Add(sb.ToString());
        }
        return terms.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>
    /// FTS5's unicode61 tokenizer treats a run of Chinese/Japanese characters as one word; the keyword copy of the
    /// text therefore puts spaces around each CJK character so that each becomes a term (unigram BM25).
    /// </summary>
    internal static string FtsSegment(string text)
    {
        if (!text.Any(IsCjk))
        {
            return text;
        }
        var sb = new StringBuilder(text.Length * 2);
        foreach (char c in text)
        {
            if (IsCjk(c))
            {
                sb.Append(' ').Append(c).Append(' ');
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    private static bool IsCjk(char c) =>
        (c >= '\u3040' && c <= '\u30FF') || (c >= '\u3400' && c <= '\u9FFF') || (c >= '\uAC00' && c <= '\uD7AF') || (c >= '\uF900' && c <= '\uFAFF');

    private List<SearchHit> Materialize(List<(int Row, float Score, float? Sim, double? Bm25)> rows, int k)
    {
        var hits = new List<SearchHit>(Math.Min(k, rows.Count));
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT c.doc_id, c.ordinal, c.start, c.end_, c.text, d.title, d.metadata FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.chunk_id = $id";
            var p = cmd.Parameters.Add("$id", SqliteType.Integer);
            foreach (var (row, score, sim, bm25) in rows.Take(k))
            {
                p.Value = _rowChunk[row];
                using var r = cmd.ExecuteReader();
                if (!r.Read())
                {
                    continue;
                }
                hits.Add(new SearchHit
                {
                    DocumentId = Text(r, 0),
                    ChunkIndex = Int32(r, 1),
                    Start = Int32(r, 2),
                    End = Int32(r, 3),
                    Text = Text(r, 4),
                    Title = r.IsDBNull(5) ? null : r.GetString(5),
                    Metadata = r.IsDBNull(6) ? null : ReadMetadata(Text(r, 0), Text(r, 6)),
                    Score = score,
                    Similarity = sim,
                    Bm25 = bm25,
                });
            }
        }
        return hits;
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>SHA-256 of the parts, each length-prefixed (so ("ab","c") and ("a","bc") differ).</summary>
    public static byte[] Hash(params string?[] parts)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> len = stackalloc byte[4];
        foreach (var part in parts)
        {
            var bytes = part is null ? [0xFF] : Encoding.UTF8.GetBytes(part);
            BitConverter.TryWriteBytes(len, part is null ? -1 : bytes.Length);
            h.AppendData(len);
            h.AppendData(bytes);
        }
        return h.GetHashAndReset();
    }

    private string? GetMeta(string key, SqliteTransaction? tx = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT value FROM meta WHERE key = $k";
        cmd.Parameters.AddWithValue("$k", key);
        return cmd.ExecuteScalar() as string;
    }

    private void SetMeta(string key, string value, SqliteTransaction tx)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT OR REPLACE INTO meta(key, value) VALUES ($k, $v)";
        cmd.Parameters.AddWithValue("$k", key);
        cmd.Parameters.AddWithValue("$v", value);
        cmd.ExecuteNonQuery();
    }

    // Readers for columns the schema declares NOT NULL: a file rewritten by another program (or by a fuzzer) can hold
    // NULL there anyway; that is a damaged index (InvalidFormat naming the file and column), not a crash.
    private string Text(SqliteDataReader r, int i) => r.IsDBNull(i) ? throw NullValue(r, i) : r.GetString(i);

    private long Int64(SqliteDataReader r, int i) => r.IsDBNull(i) ? throw NullValue(r, i) : r.GetInt64(i);

    private double Real(SqliteDataReader r, int i) => r.IsDBNull(i) ? throw NullValue(r, i) : r.GetDouble(i);

    private int Int32(SqliteDataReader r, int i)
    {
        long v = Int64(r, i);
        return v is >= int.MinValue and <= int.MaxValue ? (int)v
            : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"Index file {Path} cannot be read as an index: column {r.GetName(i)} holds {v}, out of range.") { FilePath = Path };
    }

    private EmbeddingGemmaException NullValue(SqliteDataReader r, int i) =>
        new(ErrorKind.InvalidFormat,
            $"Index file {Path} cannot be read as an index: column {r.GetName(i)} holds NULL where a value is required (the file was altered or damaged).")
        { FilePath = Path };

    private T Scalar<T>(string sql, SqliteTransaction? tx = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return (T)Convert.ChangeType(cmd.ExecuteScalar()!, typeof(T), CultureInfo.InvariantCulture);
    }

    private void Execute(string sql, SqliteTransaction? tx = null)
    {
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _db.Dispose();
        _rw.Dispose();
    }
}
