using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using EmbeddingGemma.Embeddings;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace EmbeddingGemma.VectorData.Tests;

/// <summary>
/// A simple in-memory reference VectorStore (the Semantic Kernel InMemory connector is not served here), written
/// independently of the SQLite connector: records kept as value snapshots, filters run as compiled LINQ over
/// materialised records, scores in double precision from their textbook definitions, texts embedded with
/// <see cref="EmbeddingGemmaModel.Encode(string, EncodeOptions?)"/> directly (document prompt with the record's
/// <see cref="DocumentTitleAttribute"/> title, query prompt for searches). Ties are broken by the key's invariant
/// text, ordinal, as the connector documents.
/// </summary>
internal sealed class ReferenceVectorStore(EmbeddingGemmaModel? model = null) : VectorStore
{
    private readonly Dictionary<string, Dictionary<string, Snapshot>> _collections = new(StringComparer.Ordinal);

    internal sealed record Snapshot(object Key, Dictionary<string, object?> Data, Dictionary<string, float[]> Vectors);

    public EmbeddingGemmaModel? Model => model;

    internal Dictionary<string, Dictionary<string, Snapshot>> Collections => _collections;

    public override VectorStoreCollection<TKey, TRecord> GetCollection<TKey, TRecord>(string name, VectorStoreCollectionDefinition? definition = null) =>
        new ReferenceCollection<TKey, TRecord>(this, name, definition);

    public override VectorStoreCollection<object, Dictionary<string, object?>> GetDynamicCollection(string name, VectorStoreCollectionDefinition definition) =>
        new ReferenceCollection<object, Dictionary<string, object?>>(this, name, definition);

    public override async IAsyncEnumerable<string> ListCollectionNamesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var n in _collections.Keys.Order(StringComparer.Ordinal))
        {
            yield return n;
        }
        await Task.CompletedTask;
    }

    public override Task<bool> CollectionExistsAsync(string name, CancellationToken cancellationToken = default) => Task.FromResult(_collections.ContainsKey(name));

    public override Task EnsureCollectionDeletedAsync(string name, CancellationToken cancellationToken = default)
    {
        _collections.Remove(name);
        return Task.CompletedTask;
    }

    public override object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;
}

internal sealed class ReferenceModelBuilder() : CollectionModelBuilder(new CollectionModelBuildingOptions { RequiresAtLeastOneVector = false, SupportsMultipleVectors = true })
{
    protected override bool IsDataPropertyTypeValid(Type type, [NotNullWhen(false)] out string? supportedTypes)
    {
        supportedTypes = "any";
        return true;
    }

    protected override bool IsVectorPropertyTypeValid(Type type, [NotNullWhen(false)] out string? supportedTypes)
    {
        supportedTypes = "ReadOnlyMemory<float>, float[], Embedding<float>";
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(ReadOnlyMemory<float>) || t == typeof(float[]) || t == typeof(Embedding<float>);
    }
}

/// <summary>A string -&gt; float embedding generator that only exists so that the model builder accepts string vector properties.</summary>
internal sealed class PlaceholderGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException("the reference store embeds with the model directly");

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}

internal sealed class ReferenceCollection<TKey, TRecord> : VectorStoreCollection<TKey, TRecord>
    where TKey : notnull
    where TRecord : class
{
    private readonly ReferenceVectorStore _store;
    private readonly CollectionModel _model;
    private readonly DataPropertyModel? _title;

    public ReferenceCollection(ReferenceVectorStore store, string name, VectorStoreCollectionDefinition? definition)
    {
        _store = store;
        Name = name;
        IEmbeddingGenerator? gen = store.Model is null ? null : new PlaceholderGenerator();
#pragma warning disable IL2026, IL3050
        _model = typeof(TRecord) == typeof(Dictionary<string, object?>)
            ? new ReferenceModelBuilder().BuildDynamic(definition!, gen)
            : new ReferenceModelBuilder().Build(typeof(TRecord), typeof(TKey), definition, gen);
#pragma warning restore IL2026, IL3050
        _title = _model.DataProperties.FirstOrDefault(p => p.PropertyInfo?.GetCustomAttribute<DocumentTitleAttribute>() is not null);
    }

    public override string Name { get; }

    private Dictionary<string, ReferenceVectorStore.Snapshot> Records =>
        _store.Collections.TryGetValue(Name, out var c) ? c : throw new VectorStoreException($"Collection '{Name}' does not exist.");

    private static string KeyText(object key) => key switch
    {
        Guid g => g.ToString("D"),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => key.ToString()!,
    };

    private bool Generated(VectorPropertyModel v) => v.EmbeddingType != v.Type;

    public override Task<bool> CollectionExistsAsync(CancellationToken cancellationToken = default) => Task.FromResult(_store.Collections.ContainsKey(Name));

    public override Task EnsureCollectionExistsAsync(CancellationToken cancellationToken = default)
    {
        _store.Collections.TryAdd(Name, new(StringComparer.Ordinal));
        return Task.CompletedTask;
    }

    public override Task EnsureCollectionDeletedAsync(CancellationToken cancellationToken = default)
    {
        _store.Collections.Remove(Name);
        return Task.CompletedTask;
    }

    public override Task UpsertAsync(TRecord record, CancellationToken cancellationToken = default) => UpsertAsync([record], cancellationToken);

    public override Task UpsertAsync(IEnumerable<TRecord> records, CancellationToken cancellationToken = default)
    {
        var target = Records;
        foreach (var r in records)
        {
            var key = _model.KeyProperty.GetValueAsObject(r)!;
            var data = _model.DataProperties.ToDictionary(p => p.ModelName, p => Copy(p.GetValueAsObject(r)));
            var vectors = new Dictionary<string, float[]>();
            foreach (var v in _model.VectorProperties)
            {
                var value = v.GetValueAsObject(r);
                float[]? x = value switch
                {
                    null => null,
                    string text => _store.Model!.Encode(text, EncodeOptions.Document with { Title = _title?.GetValueAsObject(r) as string, Dimensions = v.Dimensions }),
                    ReadOnlyMemory<float> m => m.ToArray(),
                    float[] a => (float[])a.Clone(),
                    Embedding<float> e => e.Vector.ToArray(),
                    _ => throw new NotSupportedException(value.GetType().Name),
                };
                if (x is not null)
                {
                    vectors[v.ModelName] = x;
                }
            }
            target[KeyText(key)] = new(key, data, vectors);
        }
        return Task.CompletedTask;
    }

    private static object? Copy(object? v) => v switch
    {
        string[] a => a.ToArray(),
        List<string> l => l.ToList(),
        int[] a => a.ToArray(),
        _ => v,
    };

    private TRecord Materialize(ReferenceVectorStore.Snapshot s, bool includeVectors)
    {
        var record = _model.CreateRecord<TRecord>();
        _model.KeyProperty.SetValueAsObject(record, s.Key);
        foreach (var p in _model.DataProperties)
        {
            p.SetValueAsObject(record, Copy(s.Data[p.ModelName]));
        }
        if (includeVectors)
        {
            foreach (var v in _model.VectorProperties)
            {
                if (s.Vectors.TryGetValue(v.ModelName, out var x))
                {
                    var t = Nullable.GetUnderlyingType(v.Type) ?? v.Type;
                    v.SetValueAsObject(record, t == typeof(float[]) ? x.ToArray() : t == typeof(Embedding<float>) ? new Embedding<float>(x.ToArray()) : new ReadOnlyMemory<float>(x.ToArray()));
                }
            }
        }
        return record;
    }

    private void CheckInclude(bool include)
    {
        if (include && _model.VectorProperties.Any(Generated))
        {
            throw new NotSupportedException("IncludeVectors with generated embeddings");
        }
    }

    public override Task<TRecord?> GetAsync(TKey key, RecordRetrievalOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckInclude(options?.IncludeVectors ?? false);
        return Task.FromResult(Records.TryGetValue(KeyText(key), out var s) ? Materialize(s, options?.IncludeVectors ?? false) : null);
    }

    public override async IAsyncEnumerable<TRecord> GetAsync(IEnumerable<TKey> keys, RecordRetrievalOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var k in keys.Select(k => KeyText(k)).Distinct())
        {
            if (Records.TryGetValue(k, out var s))
            {
                yield return Materialize(s, options?.IncludeVectors ?? false);
            }
        }
        await Task.CompletedTask;
    }

    public override async IAsyncEnumerable<TRecord> GetAsync(Expression<Func<TRecord, bool>> filter, int top, FilteredRecordRetrievalOptions<TRecord>? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new();
        var f = filter.Compile();
        var rows = Records.Values.Select(s => (Text: KeyText(s.Key), Record: Materialize(s, options.IncludeVectors))).Where(x => f(x.Record)).ToList();
        IOrderedEnumerable<(string Text, TRecord Record)>? ordered = null;
        foreach (var s in options.OrderBy?.Invoke(new FilteredRecordRetrievalOptions<TRecord>.OrderByDefinition()).Values ?? [])
        {
            var sel = s.PropertySelector.Compile();
            ordered = ordered is null
                ? (s.Ascending ? rows.OrderBy(x => sel(x.Record), Comparer<object?>.Default) : rows.OrderByDescending(x => sel(x.Record), Comparer<object?>.Default))
                : (s.Ascending ? ordered.ThenBy(x => sel(x.Record), Comparer<object?>.Default) : ordered.ThenByDescending(x => sel(x.Record), Comparer<object?>.Default));
        }
        var final = ordered is null ? rows.OrderBy(x => x.Text, StringComparer.Ordinal) : ordered.ThenBy(x => x.Text, StringComparer.Ordinal);
        foreach (var x in final.Skip(options.Skip).Take(top))
        {
            yield return x.Record;
        }
        await Task.CompletedTask;
    }

    public override Task DeleteAsync(TKey key, CancellationToken cancellationToken = default)
    {
        Records.Remove(KeyText(key));
        return Task.CompletedTask;
    }

    public override Task DeleteAsync(IEnumerable<TKey> keys, CancellationToken cancellationToken = default)
    {
        foreach (var k in keys)
        {
            Records.Remove(KeyText(k));
        }
        return Task.CompletedTask;
    }

    public override async IAsyncEnumerable<VectorSearchResult<TRecord>> SearchAsync<TInput>(TInput searchValue, int top, VectorSearchOptions<TRecord>? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new();
        CheckInclude(options.IncludeVectors);
        var v = _model.GetVectorPropertyOrSingle(options);
        float[] q = searchValue switch
        {
            string s => _store.Model!.Encode(s, EncodeOptions.Query with { Dimensions = v.Dimensions }),
            ReadOnlyMemory<float> m => m.ToArray(),
            float[] a => a,
            Embedding<float> e => e.Vector.ToArray(),
            _ => throw new NotSupportedException(),
        };
        var f = options.Filter?.Compile();
        var distance = v.DistanceFunction ?? DistanceFunction.CosineSimilarity;
        bool higher = distance is DistanceFunction.CosineSimilarity or DistanceFunction.DotProductSimilarity;
        var scored = Records.Values
            .Where(s => s.Vectors.ContainsKey(v.ModelName))
            .Where(s => f is null || f(Materialize(s, false)))
            .Select(s => (Snap: s, Text: KeyText(s.Key), Score: Oracle.Score(distance, q, s.Vectors[v.ModelName])))
            .ToList();
        var ranked = higher ? scored.OrderByDescending(x => x.Score).ThenBy(x => x.Text, StringComparer.Ordinal) : scored.OrderBy(x => x.Score).ThenBy(x => x.Text, StringComparer.Ordinal);
        var kept = ranked.Where(x => options.ScoreThreshold is not { } t || (higher ? x.Score >= t : x.Score <= t));
        foreach (var x in kept.Skip(options.Skip).Take(top))
        {
            yield return new VectorSearchResult<TRecord>(Materialize(x.Snap, options.IncludeVectors), x.Score);
        }
        await Task.CompletedTask;
    }

    public override object? GetService(Type serviceType, object? serviceKey = null) => null;
}

/// <summary>Scores from their definitions, in double precision.</summary>
internal static class Oracle
{
    public static double Dot(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += (double)a[i] * b[i];
        }
        return s;
    }

    public static double Cosine(float[] a, float[] b) => Dot(a, b) / Math.Sqrt(Dot(a, a) * Dot(b, b));

    public static double SquaredDistance(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            s += d * d;
        }
        return s;
    }

    public static double Score(string distance, float[] q, float[] x) => distance switch
    {
        DistanceFunction.CosineSimilarity => Cosine(q, x),
        DistanceFunction.CosineDistance => 1 - Cosine(q, x),
        DistanceFunction.DotProductSimilarity => Dot(q, x),
        DistanceFunction.NegativeDotProductSimilarity => -Dot(q, x),
        DistanceFunction.EuclideanDistance => Math.Sqrt(SquaredDistance(q, x)),
        DistanceFunction.EuclideanSquaredDistance => SquaredDistance(q, x),
        _ => throw new NotSupportedException(distance),
    };
}
