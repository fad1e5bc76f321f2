using System.Runtime.CompilerServices;
using EmbeddingGemma.Search.Index;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace EmbeddingGemma.VectorData;

/// <summary>Options for <see cref="EmbeddingGemmaVectorStore"/>.</summary>
public sealed record EmbeddingGemmaVectorStoreOptions
{
    /// <summary>
    /// The default generator of every collection (for <c>string</c> vector properties and <c>SearchAsync(string)</c>),
    /// e.g. an <c>EmbeddingGemmaGenerator</c>; a collection's own <see cref="VectorStoreCollectionOptions.EmbeddingGenerator"/>
    /// or a definition's generator wins over it.
    /// </summary>
    public IEmbeddingGenerator? EmbeddingGenerator { get; init; }

    /// <summary>Prompt name for <c>SearchAsync(string)</c> (sent as <c>AdditionalProperties["prompt_name"]</c>): the query prompt.</summary>
    public string QueryPromptName { get; init; } = "query";

    /// <summary>Prompt name for record texts: the document prompt <c>title: {title} | text: </c>, the title from the collection's title property.</summary>
    public string DocumentPromptName { get; init; } = "document";

    /// <summary>Reuse stored vectors of unchanged record texts (the index's <c>embedding_cache</c> table) instead of re-embedding them.</summary>
    public bool UseEmbeddingCache { get; init; } = true;
}

/// <summary>Options for one collection of an <see cref="EmbeddingGemmaVectorStore"/>.</summary>
public sealed class EmbeddingGemmaCollectionOptions : VectorStoreCollectionOptions
{
    /// <summary>
    /// The data property (model name) whose value is the document title in the document prompt when records are
    /// embedded; wins over a <see cref="DocumentTitleAttribute"/>. Null and no attribute: the title is "none".
    /// </summary>
    public string? TitleProperty { get; set; }
}

/// <summary>
/// Marks the <c>string</c> data property that is the document title of a record: record texts are embedded with the
/// document prompt <c>title: {value} | text: {text}</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class DocumentTitleAttribute : Attribute;

/// <summary>
/// A <see cref="VectorStore"/> in one SQLite file of the EmbeddingGemma.NET search index family: the file is opened
/// (and created, checked) as a <see cref="SemanticIndex"/>, and collections live in its own tables
/// (<c>vd_collections</c>, <c>vd_records</c>, <c>vd_vectors</c>) beside the index's; record texts share the index's
/// embedding cache. Each collection records the fingerprint of the model that embedded its texts and refuses another.
/// Searches are exact scans (every index kind is served exactly). Thread-safe; one connection, serialised.
/// </summary>
public sealed class EmbeddingGemmaVectorStore : VectorStore
{
    internal const string SystemName = "embeddinggemma.sqlite";

    private readonly SqliteConnection _db;
    private readonly object _lock = new();
    private readonly VectorStoreMetadata _metadata;
    private long _generated;
    private long _cacheHits;
    private bool _disposed;

    /// <summary>Opens (or creates) the store file.</summary>
    /// <exception cref="EmbeddingGemmaException">The file is not an index of ours, is corrupted or of a newer schema.</exception>
    public EmbeddingGemmaVectorStore(string path, EmbeddingGemmaVectorStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Options = options ?? new EmbeddingGemmaVectorStoreOptions();
        // The index checks the file (SQLite header, application id, schema version, integrity) and creates its schema.
        using (var index = SemanticIndex.Open(path))
        {
            Path = index.Path;
        }
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString());
        _db.Open();
        Execute("""
            PRAGMA busy_timeout=10000;
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS vd_collections(name TEXT PRIMARY KEY, key_type TEXT NOT NULL, vectors TEXT NOT NULL,
                model_id TEXT, model_fingerprint TEXT, created_at TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS vd_records(collection TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY(collection, key)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS vd_vectors(collection TEXT NOT NULL, property TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL,
                PRIMARY KEY(collection, property, key)) WITHOUT ROWID;
            """);
        _metadata = new VectorStoreMetadata { VectorStoreSystemName = SystemName, VectorStoreName = Path };
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>The options the store was opened with.</summary>
    public EmbeddingGemmaVectorStoreOptions Options { get; }

    /// <summary>Record texts embedded by a generator since the store was opened.</summary>
    public long EmbeddingsGenerated => Interlocked.Read(ref _generated);

    /// <summary>Record texts whose vectors came from the embedding cache since the store was opened.</summary>
    public long EmbeddingCacheHits => Interlocked.Read(ref _cacheHits);

    internal void CountGenerated(int n) => Interlocked.Add(ref _generated, n);

    internal void CountCacheHits(int n) => Interlocked.Add(ref _cacheHits, n);

    /// <inheritdoc />
    public override VectorStoreCollection<TKey, TRecord> GetCollection<TKey, TRecord>(string name, VectorStoreCollectionDefinition? definition = null) =>
        GetCollection<TKey, TRecord>(name, new EmbeddingGemmaCollectionOptions { Definition = definition });

    /// <summary>A collection with connector options (title property, generator, definition).</summary>
    public EmbeddingGemmaCollection<TKey, TRecord> GetCollection<TKey, TRecord>(string name, EmbeddingGemmaCollectionOptions options)
        where TKey : notnull
        where TRecord : class
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (typeof(TRecord) == typeof(Dictionary<string, object?>) && typeof(TKey) != typeof(object))
        {
            throw new NotSupportedException("Dynamic collections (Dictionary<string, object?> records) are opened with GetDynamicCollection.");
        }
        return new EmbeddingGemmaCollection<TKey, TRecord>(this, name, options);
    }

    /// <inheritdoc />
    public override VectorStoreCollection<object, Dictionary<string, object?>> GetDynamicCollection(string name, VectorStoreCollectionDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        return GetDynamicCollection(name, new EmbeddingGemmaCollectionOptions { Definition = definition });
    }

    /// <summary>A dynamic collection (records are <c>Dictionary&lt;string, object?&gt;</c>) with connector options; <see cref="VectorStoreCollectionOptions.Definition"/> is required.</summary>
    public EmbeddingGemmaCollection<object, Dictionary<string, object?>> GetDynamicCollection(string name, EmbeddingGemmaCollectionOptions options)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Definition is null)
        {
            throw new ArgumentException("A dynamic collection needs a VectorStoreCollectionDefinition.", nameof(options));
        }
        return new EmbeddingGemmaCollection<object, Dictionary<string, object?>>(this, name, options);
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<string> ListCollectionNamesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var names = Read(db =>
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = "SELECT name FROM vd_collections ORDER BY name";
            using var r = cmd.ExecuteReader();
            var list = new List<string>();
            while (r.Read())
            {
                list.Add(r.GetString(0));
            }
            return list;
        });
        foreach (var n in names)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return n;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override Task<bool> CollectionExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return Task.FromResult(CollectionExists(name));
    }

    internal bool CollectionExists(string name) => Read(db =>
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM vd_collections WHERE name = $n";
        cmd.Parameters.AddWithValue("$n", name);
        return (long)cmd.ExecuteScalar()! > 0;
    });

    /// <inheritdoc />
    public override Task EnsureCollectionDeletedAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        DeleteCollection(name);
        return Task.CompletedTask;
    }

    internal void DeleteCollection(string name) => Write(tx =>
    {
        foreach (var table in new[] { "vd_vectors", "vd_records" })
        {
            using var cmd = tx.Connection!.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = $"DELETE FROM {table} WHERE collection = $n";
            cmd.Parameters.AddWithValue("$n", name);
            cmd.ExecuteNonQuery();
        }
        using var c = tx.Connection!.CreateCommand();
        c.Transaction = tx;
        c.CommandText = "DELETE FROM vd_collections WHERE name = $n";
        c.Parameters.AddWithValue("$n", name);
        c.ExecuteNonQuery();
        return 0;
    });

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(VectorStoreMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Runs a read under the store's lock.</summary>
    internal T Read<T>(Func<SqliteConnection, T> read)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return read(_db);
        }
    }

    /// <summary>Runs a write in one IMMEDIATE transaction under the store's lock (all or nothing).</summary>
    internal T Write<T>(Func<SqliteTransaction, T> write)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var tx = _db.BeginTransaction(deferred: false);
            var result = write(tx);
            tx.Commit();
            return result;
        }
    }

    private void Execute(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        lock (_lock)
        {
            if (!_disposed && disposing)
            {
                _disposed = true;
                _db.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}
