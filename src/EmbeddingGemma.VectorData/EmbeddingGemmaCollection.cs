using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Search;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.VectorData.Filters;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace EmbeddingGemma.VectorData;

/// <summary>
/// A collection of an <see cref="EmbeddingGemmaVectorStore"/>. Keys: string, Guid, int, long (object for dynamic
/// collections). Vector properties hold floats (<c>ReadOnlyMemory&lt;float&gt;</c>, <c>float[]</c>,
/// <c>Embedding&lt;float&gt;</c>) or a <c>string</c> embedded by the attached generator with the document prompt
/// and the record's title (<see cref="DocumentTitleAttribute"/> / <see cref="EmbeddingGemmaCollectionOptions.TitleProperty"/>);
/// <c>SearchAsync(string)</c> embeds with the query prompt. Scores: similarities (cosine, dot product) are higher for
/// closer vectors and distances (Euclidean, cosine distance) lower; results are ordered best first, ties by key text.
/// </summary>
public sealed class EmbeddingGemmaCollection<TKey, TRecord> : VectorStoreCollection<TKey, TRecord>
    where TKey : notnull
    where TRecord : class
{
    private readonly EmbeddingGemmaVectorStore _store;
    private readonly CollectionModel _model;
    private readonly DataPropertyModel? _title;
    private readonly VectorStoreCollectionMetadata _metadata;
    private readonly string _vectorSchema;

    internal EmbeddingGemmaCollection(EmbeddingGemmaVectorStore store, string name, EmbeddingGemmaCollectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(options);
        if (typeof(TKey) != typeof(string) && typeof(TKey) != typeof(Guid) && typeof(TKey) != typeof(int) && typeof(TKey) != typeof(long) && typeof(TKey) != typeof(object))
        {
            throw new NotSupportedException($"Key type {typeof(TKey).Name} is not supported; use {ModelBuilder.SupportedKeyTypes}.");
        }
        _store = store;
        Name = name;
        var generator = options.EmbeddingGenerator ?? store.Options.EmbeddingGenerator;
#pragma warning disable IL2026, IL3050 // POCO mapping reads the record type's properties by reflection
        _model = typeof(TRecord) == typeof(Dictionary<string, object?>)
            ? new ModelBuilder().BuildDynamic(options.Definition ?? throw new ArgumentException("A dynamic collection needs a VectorStoreCollectionDefinition.", nameof(options)), generator)
            : new ModelBuilder().Build(typeof(TRecord), typeof(TKey), options.Definition, generator);
#pragma warning restore IL2026, IL3050
        _title = ResolveTitle(options.TitleProperty);
        _metadata = new VectorStoreCollectionMetadata { VectorStoreSystemName = EmbeddingGemmaVectorStore.SystemName, VectorStoreName = store.Path, CollectionName = name };
        _vectorSchema = string.Join(";", _model.VectorProperties.Select(v => string.Create(CultureInfo.InvariantCulture, $"{v.StorageName}:{v.Dimensions}:{Distance(v)}")));
        CheckStoredSchema();
    }

    /// <inheritdoc />
    public override string Name { get; }

    private KeyPropertyModel Key => _model.KeyProperty;

    private DataPropertyModel? ResolveTitle(string? name)
    {
        name ??= _model.DataProperties.FirstOrDefault(p => p.PropertyInfo?.GetCustomAttribute<DocumentTitleAttribute>() is not null)?.ModelName;
        if (name is null)
        {
            return null;
        }
        var p = _model.DataProperties.FirstOrDefault(d => d.ModelName == name)
            ?? throw new ArgumentException($"Title property '{name}' is not a data property of collection '{Name}' (data properties: {string.Join(", ", _model.DataProperties.Select(d => d.ModelName))}).");
        if (p.Type != typeof(string))
        {
            throw new ArgumentException($"Title property '{name}' must be a string; it is {p.Type.Name}.");
        }
        return p;
    }

    private static string Distance(VectorPropertyModel v) => v.DistanceFunction ?? DistanceFunction.CosineSimilarity;

    private bool NeedsGeneration(VectorPropertyModel v) => v.EmbeddingType != v.Type;

    /// <summary>The stored collection must have the same key type and vector properties (dimensions, distance), and the stored model must be ours.</summary>
    private void CheckStoredSchema()
    {
        var row = ReadCollectionRow();
        if (row is null)
        {
            return;
        }
        if (row.Value.KeyType != Key.Type.Name)
        {
            throw new InvalidOperationException($"Collection '{Name}' in {_store.Path} has {row.Value.KeyType} keys; this record type has {Key.Type.Name} keys.");
        }
        if (row.Value.Vectors != _vectorSchema)
        {
            throw new InvalidOperationException($"Collection '{Name}' in {_store.Path} stores vectors [{row.Value.Vectors}] (property:dimensions:distance); this record type has [{_vectorSchema}].");
        }
        if (row.Value.Fingerprint is { } stored && GeneratorIdentity() is { } mine)
        {
            VerifyModel(stored, row.Value.ModelId, mine);
        }
    }

    private (string KeyType, string Vectors, string? ModelId, string? Fingerprint)? ReadCollectionRow(SqliteTransaction? tx = null)
    {
        SqliteConnection? conn = tx?.Connection;
        (string, string, string?, string?)? Run(SqliteConnection db)
        {
            using var cmd = db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "SELECT key_type, vectors, model_id, model_fingerprint FROM vd_collections WHERE name = $n";
            cmd.Parameters.AddWithValue("$n", Name);
            using var r = cmd.ExecuteReader();
            return r.Read() ? (r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3)) : null;
        }
        return conn is not null ? Run(conn) : _store.Read(Run);
    }

    /// <summary>The model identity of the generator of the first generated vector property: (model id, fingerprint or null).</summary>
    private (string ModelId, string Fingerprint)? GeneratorIdentity()
    {
        var gen = _model.VectorProperties.FirstOrDefault(v => v.EmbeddingGenerator is not null)?.EmbeddingGenerator;
        if (gen is not IEmbeddingGenerator<string, Embedding<float>> g)
        {
            return null;
        }
        var meta = g.GetService<EmbeddingGeneratorMetadata>();
        var id = meta?.DefaultModelId ?? meta?.ProviderName ?? g.GetType().FullName!;
        var fp = EmbeddingGeneratorFactory.FingerprintOf(g) ?? "model-id:" + id;
        return (id, fp);
    }

    private void VerifyModel(string storedFingerprint, string? storedModel, (string ModelId, string Fingerprint) mine)
    {
        if (!string.Equals(storedFingerprint, mine.Fingerprint, StringComparison.OrdinalIgnoreCase))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"Model mismatch: collection '{Name}' in {_store.Path} was embedded with model '{storedModel}' (fingerprint {storedFingerprint}); " +
                $"the embedding generator in use is '{mine.ModelId}' (fingerprint {mine.Fingerprint}). Its vectors are in another embedding space: " +
                "use the model the collection was built with, or another collection/file.") { FilePath = _store.Path };
        }
    }

    // ------------------------------------------------------------ lifecycle

    /// <inheritdoc />
    public override Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default) => Task.FromResult(_store.CollectionExists(Name));

    /// <inheritdoc />
    public override Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default)
    {
        _store.Write(tx =>
        {
            using var cmd = tx.Connection!.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT OR IGNORE INTO vd_collections(name, key_type, vectors, created_at) VALUES ($n, $k, $v, $t)";
            cmd.Parameters.AddWithValue("$n", Name);
            cmd.Parameters.AddWithValue("$k", Key.Type.Name);
            cmd.Parameters.AddWithValue("$v", _vectorSchema);
            cmd.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            cmd.ExecuteNonQuery();
            return 0;
        });
        CheckStoredSchema();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public override Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default)
    {
        _store.DeleteCollection(Name);
        return Task.CompletedTask;
    }

    private void ThrowIfMissing(string operation)
    {
        if (!_store.CollectionExists(Name))
        {
            throw new VectorStoreException($"Collection '{Name}' does not exist in {_store.Path}; call EnsureCollectionExistsAsync first.")
            {
                VectorStoreSystemName = EmbeddingGemmaVectorStore.SystemName,
                VectorStoreName = _store.Path,
                CollectionName = Name,
                OperationName = operation,
            };
        }
    }

    // ------------------------------------------------------------ writing

    /// <inheritdoc />
    public override Task UpsertAsync(TRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        return UpsertAsync([record], cancellationToken);
    }

    /// <inheritdoc />
    public override async Task UpsertAsync(IEnumerable<TRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var list = records.ToList();
        if (list.Any(r => r is null))
        {
            throw new ArgumentException("The records contain a null record.", nameof(records));
        }
        if (list.Count == 0)
        {
            return;
        }
        ThrowIfMissing("Upsert");
        foreach (var r in list)
        {
            if (Key.IsAutoGenerated && Key.GetValueAsObject(r) is Guid g && g == Guid.Empty)
            {
                Key.SetValueAsObject(r, Guid.NewGuid());
            }
        }
        var keys = list.Select(r => RecordCodec.KeyToText(Key.GetValueAsObject(r) ?? throw new ArgumentException($"A record has a null key ({Key.ModelName})."), Key.Type)).ToList();
        var vectors = new Dictionary<VectorPropertyModel, float[]?[]>();
        bool generated = false;
        foreach (var v in _model.VectorProperties)
        {
            if (NeedsGeneration(v))
            {
                vectors[v] = await GenerateDocumentsAsync(v, list, cancellationToken).ConfigureAwait(false);
                generated = true;
            }
            else
            {
                vectors[v] = list.Select((r, i) => CheckDimensions(v, RecordCodec.VectorOf(v.GetValueAsObject(r)), keys[i])).ToArray();
            }
        }
        var identity = generated ? GeneratorIdentity() : null;
        var data = list.Select(r => RecordCodec.WriteData(r, _model.DataProperties)).ToList();
        _store.Write(tx =>
        {
            if (identity is { } mine)
            {
                var row = ReadCollectionRow(tx) ?? throw new VectorStoreException($"Collection '{Name}' was deleted during the upsert.");
                if (row.Fingerprint is { } stored)
                {
                    VerifyModel(stored, row.ModelId, mine);
                }
                else
                {
                    using var set = tx.Connection!.CreateCommand();
                    set.Transaction = tx;
                    set.CommandText = "UPDATE vd_collections SET model_id = $m, model_fingerprint = $f WHERE name = $n";
                    set.Parameters.AddWithValue("$m", mine.ModelId);
                    set.Parameters.AddWithValue("$f", mine.Fingerprint);
                    set.Parameters.AddWithValue("$n", Name);
                    set.ExecuteNonQuery();
                }
            }
            using var rec = Command(tx, "INSERT OR REPLACE INTO vd_records(collection, key, data) VALUES ($c, $k, $d)");
            using var delVec = Command(tx, "DELETE FROM vd_vectors WHERE collection = $c AND key = $k");
            using var vec = Command(tx, "INSERT OR REPLACE INTO vd_vectors(collection, property, key, vector) VALUES ($c, $p, $k, $v)");
            for (int i = 0; i < list.Count; i++)
            {
                rec.Parameters["$k"].Value = keys[i];
                rec.Parameters["$d"].Value = data[i];
                rec.ExecuteNonQuery();
                delVec.Parameters["$k"].Value = keys[i];
                delVec.ExecuteNonQuery();
                foreach (var (v, values) in vectors)
                {
                    if (values[i] is { } x)
                    {
                        vec.Parameters["$p"].Value = v.StorageName;
                        vec.Parameters["$k"].Value = keys[i];
                        vec.Parameters["$v"].Value = RecordCodec.ToBlob(x);
                        vec.ExecuteNonQuery();
                    }
                }
            }
            return 0;
        });
    }

    private SqliteCommand Command(SqliteTransaction tx, string sql)
    {
        var cmd = tx.Connection!.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue("$c", Name);
        foreach (var p in new[] { "$k", "$d", "$p", "$v" })
        {
            if (sql.Contains(p, StringComparison.Ordinal))
            {
                cmd.Parameters.AddWithValue(p, DBNull.Value);
            }
        }
        return cmd;
    }

    private static float[]? CheckDimensions(VectorPropertyModel v, ReadOnlyMemory<float>? value, string key)
    {
        if (value is not { } m)
        {
            return null;
        }
        if (m.Length != v.Dimensions)
        {
            throw new ArgumentException($"Record '{key}': vector property '{v.ModelName}' has {m.Length} dimensions; the collection's property declares {v.Dimensions}.");
        }
        int bad = m.Span.IndexOfAnyExceptInRange(float.MinValue, float.MaxValue);
        if (bad >= 0)
        {
            throw new ArgumentException($"Record '{key}': vector property '{v.ModelName}' has a non-finite component ({m.Span[bad].ToString(CultureInfo.InvariantCulture)} at index {bad}).");
        }
        return m.ToArray();
    }

    private IEmbeddingGenerator<string, Embedding<float>> TextGenerator(VectorPropertyModel v) =>
        v.EmbeddingGenerator as IEmbeddingGenerator<string, Embedding<float>>
        ?? throw new NotSupportedException($"Vector property '{v.ModelName}' ({v.Type.Name}) needs an IEmbeddingGenerator<string, Embedding<float>>; " +
            $"got {v.EmbeddingGenerator?.GetType().Name ?? "none"}. Attach one to the store, the collection options or the definition.");

    /// <summary>Embeds the texts of a generated vector property: document prompt + title, unchanged texts from the cache.</summary>
    private async Task<float[]?[]> GenerateDocumentsAsync(VectorPropertyModel v, List<TRecord> records, CancellationToken ct)
    {
        var gen = TextGenerator(v);
        var identity = GeneratorIdentity()!.Value;
        var result = new float[]?[records.Count];
        var texts = new string?[records.Count];
        var titles = new string?[records.Count];
        var cacheKeys = new byte[]?[records.Count];
        for (int i = 0; i < records.Count; i++)
        {
            var value = v.GetValueAsObject(records[i]);
            if (value is null)
            {
                continue;
            }
            texts[i] = value as string ?? throw new NotSupportedException($"Vector property '{v.ModelName}' holds a {value.GetType().Name}; only string inputs are embedded by this connector.");
            titles[i] = _title?.GetValueAsObject(records[i]) as string;
            cacheKeys[i] = SemanticIndex.Hash("vectordata-v1", identity.Fingerprint, v.Dimensions.ToString(CultureInfo.InvariantCulture), _store.Options.DocumentPromptName, titles[i], texts[i]);
        }
        if (_store.Options.UseEmbeddingCache)
        {
            var cached = ReadCache(cacheKeys.Where(k => k is not null)!);
            int hits = 0;
            for (int i = 0; i < records.Count; i++)
            {
                if (cacheKeys[i] is { } k && cached.TryGetValue(Convert.ToHexString(k), out var vec) && vec.Length == v.Dimensions)
                {
                    result[i] = vec;
                    hits++;
                }
            }
            _store.CountCacheHits(hits);
        }
        var missing = Enumerable.Range(0, records.Count).Where(i => texts[i] is not null && result[i] is null).ToList();
        foreach (var group in missing.GroupBy(i => titles[i]))
        {
            var idx = group.ToList();
            var props = new AdditionalPropertiesDictionary { ["prompt_name"] = _store.Options.DocumentPromptName };
            if (group.Key is not null)
            {
                props["title"] = group.Key;
            }
            var options = new EmbeddingGenerationOptions { Dimensions = v.Dimensions, AdditionalProperties = props };
            var embeddings = await gen.GenerateAsync(idx.Select(i => texts[i]!), options, ct).ConfigureAwait(false);
            if (embeddings.Count != idx.Count)
            {
                throw new InvalidOperationException($"The embedding generator returned {embeddings.Count} embeddings for {idx.Count} texts.");
            }
            for (int j = 0; j < idx.Count; j++)
            {
                result[idx[j]] = CheckGenerated(v, embeddings[j].Vector);
            }
            _store.CountGenerated(idx.Count);
        }
        if (_store.Options.UseEmbeddingCache && missing.Count > 0)
        {
            _store.Write(tx =>
            {
                using var cmd = tx.Connection!.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "INSERT OR REPLACE INTO embedding_cache(key, vector) VALUES ($k, $v)";
                var pk = cmd.Parameters.Add("$k", SqliteType.Blob);
                var pv = cmd.Parameters.Add("$v", SqliteType.Blob);
                foreach (var i in missing)
                {
                    pk.Value = cacheKeys[i];
                    pv.Value = RecordCodec.ToBlob(result[i]);
                    cmd.ExecuteNonQuery();
                }
                return 0;
            });
        }
        return result;
    }

    private static float[] CheckGenerated(VectorPropertyModel v, ReadOnlyMemory<float> vector)
    {
        if (vector.Length != v.Dimensions)
        {
            throw new InvalidOperationException($"The embedding generator produced {vector.Length}-dimension vectors; vector property '{v.ModelName}' declares {v.Dimensions}.");
        }
        return vector.ToArray();
    }

    private Dictionary<string, float[]> ReadCache(IEnumerable<byte[]> keys) => _store.Read(db =>
    {
        var result = new Dictionary<string, float[]>();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT vector FROM embedding_cache WHERE key = $k";
        var p = cmd.Parameters.Add("$k", SqliteType.Blob);
        foreach (var key in keys)
        {
            p.Value = key;
            if (cmd.ExecuteScalar() is byte[] blob)
            {
                result[Convert.ToHexString(key)] = RecordCodec.FromBlob(blob);
            }
        }
        return result;
    });

    /// <inheritdoc />
    public override Task DeleteAsync(TKey key, CancellationToken cancellationToken = default) => DeleteAsync([key], cancellationToken);

    /// <inheritdoc />
    public override Task DeleteAsync(IEnumerable<TKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var texts = keys.Select(k => RecordCodec.KeyToText(k, Key.Type)).ToList();
        if (texts.Count == 0)
        {
            return Task.CompletedTask;
        }
        ThrowIfMissing("Delete");
        _store.Write(tx =>
        {
            using var rec = Command(tx, "DELETE FROM vd_records WHERE collection = $c AND key = $k");
            using var vec = Command(tx, "DELETE FROM vd_vectors WHERE collection = $c AND key = $k");
            foreach (var k in texts)
            {
                rec.Parameters["$k"].Value = k;
                rec.ExecuteNonQuery();
                vec.Parameters["$k"].Value = k;
                vec.ExecuteNonQuery();
            }
            return 0;
        });
        return Task.CompletedTask;
    }

    // ------------------------------------------------------------ reading

    /// <inheritdoc />
    public override async Task<TRecord?> GetAsync(TKey key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        await foreach (var r in GetAsync([key], options, cancellationToken).ConfigureAwait(false))
        {
            return r;
        }
        return null;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<TRecord> GetAsync(IEnumerable<TKey> keys, RecordRetrievalOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var texts = keys.Select(k => RecordCodec.KeyToText(k, Key.Type)).Distinct().ToList();
        bool includeVectors = options?.IncludeVectors ?? false;
        CheckIncludeVectors(includeVectors);
        if (texts.Count == 0)
        {
            yield break;
        }
        ThrowIfMissing("Get");
        var rows = _store.Read(db =>
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = "SELECT key, data FROM vd_records WHERE collection = $c AND key = $k";
            cmd.Parameters.AddWithValue("$c", Name);
            var p = cmd.Parameters.AddWithValue("$k", "");
            var list = new List<(string Key, string Data)>();
            foreach (var k in texts)
            {
                p.Value = k;
                using var r = cmd.ExecuteReader();
                if (r.Read())
                {
                    list.Add((r.GetString(0), r.GetString(1)));
                }
            }
            return list;
        });
        foreach (var rec in Materialize(rows, includeVectors))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return rec;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<TRecord> GetAsync(Expression<Func<TRecord, bool>> filter, int top, FilteredRecordRetrievalOptions<TRecord>? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        options ??= new();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Skip, "options.Skip");
        CheckIncludeVectors(options.IncludeVectors);
        ThrowIfMissing("Get");
        var (where, parameters) = SqlFilterTranslator.Translate(filter, _model);
        var order = new StringBuilder();
        var orderParams = new List<object?>();
        foreach (var s in options.OrderBy?.Invoke(new FilteredRecordRetrievalOptions<TRecord>.OrderByDefinition()).Values ?? [])
        {
            var (sql, ps) = SqlFilterTranslator.Translate(_model, s.PropertySelector);
            // Renumber the selector's parameters after the filter's.
            for (int i = ps.Count - 1; i >= 0; i--)
            {
                sql = sql.Replace("$f" + i.ToString(CultureInfo.InvariantCulture), "$o" + (orderParams.Count + i).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
            }
            orderParams.AddRange(ps);
            order.Append(sql).Append(s.Ascending ? " ASC, " : " DESC, ");
        }
        order.Append("key ASC");
        var rows = _store.Read(db =>
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = $"SELECT key, data FROM vd_records WHERE collection = $c AND ({where}) ORDER BY {order} LIMIT $top OFFSET $skip";
            cmd.Parameters.AddWithValue("$c", Name);
            AddParameters(cmd, "$f", parameters);
            AddParameters(cmd, "$o", orderParams);
            cmd.Parameters.AddWithValue("$top", top);
            cmd.Parameters.AddWithValue("$skip", options.Skip);
            using var r = cmd.ExecuteReader();
            var list = new List<(string, string)>();
            while (r.Read())
            {
                list.Add((r.GetString(0), r.GetString(1)));
            }
            return list;
        });
        foreach (var rec in Materialize(rows, options.IncludeVectors))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return rec;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static void AddParameters(SqliteCommand cmd, string prefix, IReadOnlyList<object?> values)
    {
        for (int i = 0; i < values.Count; i++)
        {
            cmd.Parameters.AddWithValue(prefix + i.ToString(CultureInfo.InvariantCulture), values[i] ?? DBNull.Value);
        }
    }

    private void CheckIncludeVectors(bool includeVectors)
    {
        if (includeVectors && _model.VectorProperties.Any(NeedsGeneration))
        {
            throw new NotSupportedException("IncludeVectors cannot be used when a vector property is generated by an embedding generator (its input, not a vector, is on the record).");
        }
    }

    private List<TRecord> Materialize(List<(string Key, string Data)> rows, bool includeVectors)
    {
        Dictionary<(string, string), float[]>? vectors = null;
        if (includeVectors && rows.Count > 0 && _model.VectorProperties.Count > 0)
        {
            vectors = _store.Read(db =>
            {
                var map = new Dictionary<(string, string), float[]>();
                using var cmd = db.CreateCommand();
                cmd.CommandText = "SELECT property, vector FROM vd_vectors WHERE collection = $c AND key = $k";
                cmd.Parameters.AddWithValue("$c", Name);
                var p = cmd.Parameters.AddWithValue("$k", "");
                foreach (var (k, _) in rows)
                {
                    p.Value = k;
                    using var r = cmd.ExecuteReader();
                    while (r.Read())
                    {
                        map[(k, r.GetString(0))] = RecordCodec.FromBlob((byte[])r.GetValue(1));
                    }
                }
                return map;
            });
        }
        var result = new List<TRecord>(rows.Count);
        foreach (var (key, data) in rows)
        {
            var record = _model.CreateRecord<TRecord>();
            Key.SetValueAsObject(record, RecordCodec.KeyFromText(key, Key.Type));
            RecordCodec.ReadData(record, data, _model.DataProperties);
            if (vectors is not null)
            {
                foreach (var v in _model.VectorProperties)
                {
                    if (vectors.TryGetValue((key, v.StorageName), out var x))
                    {
                        v.SetValueAsObject(record, RecordCodec.FromVector(x, v.Type));
                    }
                }
            }
            result.Add(record);
        }
        return result;
    }

    // ------------------------------------------------------------ search

    /// <inheritdoc />
    public override async IAsyncEnumerable<VectorSearchResult<TRecord>> SearchAsync<TInput>(TInput searchValue, int top, VectorSearchOptions<TRecord>? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(searchValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        options ??= new();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Skip, "options.Skip");
        CheckIncludeVectors(options.IncludeVectors);
        var v = _model.GetVectorPropertyOrSingle(options);
        ThrowIfMissing("Search");
        float[] query = searchValue switch
        {
            ReadOnlyMemory<float> m => m.ToArray(),
            float[] a => a,
            Embedding<float> e => e.Vector.ToArray(),
            string s => await EmbedQueryAsync(v, s, cancellationToken).ConfigureAwait(false),
            _ => throw new NotSupportedException($"Search input of type {typeof(TInput).Name} is not supported; use a string (with an embedding generator) or {ModelBuilder.SupportedVectorTypes}."),
        };
        if (query.Length != v.Dimensions)
        {
            throw new ArgumentException($"The search vector has {query.Length} dimensions; vector property '{v.ModelName}' has {v.Dimensions}.", nameof(searchValue));
        }
        if (query.AsSpan().IndexOfAnyExceptInRange(float.MinValue, float.MaxValue) is var badAt and >= 0)
        {
            throw new ArgumentException($"The search vector has a non-finite component ({query[badAt].ToString(CultureInfo.InvariantCulture)} at index {badAt}).", nameof(searchValue));
        }
        string where = "1";
        IReadOnlyList<object?> parameters = [];
        if (options.Filter is not null)
        {
            (where, parameters) = SqlFilterTranslator.Translate(options.Filter, _model, "r.data", "r.key");
        }
        var distance = Distance(v);
        bool higherIsBetter = distance is DistanceFunction.CosineSimilarity or DistanceFunction.DotProductSimilarity;
        var scored = _store.Read(db =>
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = $"""
                SELECT r.key, v.vector FROM vd_records r JOIN vd_vectors v ON v.collection = r.collection AND v.key = r.key AND v.property = $p
                WHERE r.collection = $c AND ({where})
                """;
            cmd.Parameters.AddWithValue("$c", Name);
            cmd.Parameters.AddWithValue("$p", v.StorageName);
            AddParameters(cmd, "$f", parameters);
            using var r = cmd.ExecuteReader();
            var list = new List<(string Key, double Score)>();
            while (r.Read())
            {
                var blob = (byte[])r.GetValue(1);
                var x = MemoryMarshal.Cast<byte, float>(blob);
                list.Add((r.GetString(0), Score(distance, query, x)));
            }
            return list;
        });
        IEnumerable<(string Key, double Score)> ranked = higherIsBetter
            ? scored.OrderByDescending(s => s.Score).ThenBy(s => s.Key, StringComparer.Ordinal)
            : scored.OrderBy(s => s.Score).ThenBy(s => s.Key, StringComparer.Ordinal);
        if (options.ScoreThreshold is { } t)
        {
            ranked = ranked.Where(s => higherIsBetter ? s.Score >= t : s.Score <= t);
        }
        var page = ranked.Skip(options.Skip).Take(top).ToList();
        var rows = _store.Read(db =>
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = "SELECT data FROM vd_records WHERE collection = $c AND key = $k";
            cmd.Parameters.AddWithValue("$c", Name);
            var p = cmd.Parameters.AddWithValue("$k", "");
            return page.Select(s =>
            {
                p.Value = s.Key;
                return (s.Key, (string)cmd.ExecuteScalar()!);
            }).ToList();
        });
        var records = Materialize(rows, options.IncludeVectors);
        for (int i = 0; i < records.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new VectorSearchResult<TRecord>(records[i], page[i].Score);
        }
    }

    /// <summary>The score of a stored vector under a distance function (as the abstractions define it).</summary>
    internal static double Score(string distance, ReadOnlySpan<float> q, ReadOnlySpan<float> x) => distance switch
    {
        DistanceFunction.CosineSimilarity => VectorOps.Cosine(q, x),
        DistanceFunction.CosineDistance => 1.0 - VectorOps.Cosine(q, x),
        DistanceFunction.DotProductSimilarity => VectorOps.Dot(q, x),
        DistanceFunction.NegativeDotProductSimilarity => -VectorOps.Dot(q, x),
        DistanceFunction.EuclideanDistance => Math.Sqrt(VectorOps.SquaredDistance(q, x)),
        DistanceFunction.EuclideanSquaredDistance => VectorOps.SquaredDistance(q, x),
        _ => throw new NotSupportedException($"Distance function '{distance}' is not supported."),
    };

    private async Task<float[]> EmbedQueryAsync(VectorPropertyModel v, string text, CancellationToken ct)
    {
        var gen = TextGenerator(v);
        if (ReadCollectionRow() is { Fingerprint: { } stored } row && GeneratorIdentity() is { } mine)
        {
            VerifyModel(stored, row.ModelId, mine);
        }
        var options = new EmbeddingGenerationOptions
        {
            Dimensions = v.Dimensions,
            AdditionalProperties = new AdditionalPropertiesDictionary { ["prompt_name"] = _store.Options.QueryPromptName },
        };
        var e = await gen.GenerateAsync([text], options, ct).ConfigureAwait(false);
        return CheckGenerated(v, e[0].Vector);
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(VectorStoreCollectionMetadata) ? _metadata
            : serviceType == typeof(VectorStore) || serviceType == typeof(EmbeddingGemmaVectorStore) ? _store
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }
}
