using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace EmbeddingGemma.VectorData;

/// <summary>
/// How keys, data properties and vectors are written to SQLite: keys as canonical text, data properties as one JSON
/// object keyed by storage name (floats written as the double they convert to, so filters compare exactly), vectors as
/// little-endian float32 blobs.
/// </summary>
internal static class RecordCodec
{
    /// <summary>The canonical text of a key: the string itself, a Guid in "D" form, an integer in invariant digits.</summary>
    public static string KeyToText(object key, Type keyType)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key switch
        {
            string s when keyType == typeof(string) => s,
            Guid g when keyType == typeof(Guid) => g.ToString("D"),
            int i when keyType == typeof(int) => i.ToString(CultureInfo.InvariantCulture),
            long l when keyType == typeof(long) => l.ToString(CultureInfo.InvariantCulture),
            int i when keyType == typeof(long) => i.ToString(CultureInfo.InvariantCulture),
            _ => throw new ArgumentException($"Key '{key}' of type {key.GetType().Name} does not match the collection's key type {keyType.Name}.", nameof(key)),
        };
    }

    public static object KeyFromText(string text, Type keyType) =>
        keyType == typeof(string) ? text
        : keyType == typeof(Guid) ? (object)Guid.Parse(text)
        : keyType == typeof(int) ? (object)int.Parse(text, CultureInfo.InvariantCulture)
        : keyType == typeof(long) ? (object)long.Parse(text, CultureInfo.InvariantCulture)
        : throw new NotSupportedException($"Key type {keyType.Name} is not supported.");

    /// <summary>The data properties of a record as a JSON object.</summary>
    public static string WriteData(object record, IReadOnlyList<DataPropertyModel> properties)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            foreach (var p in properties)
            {
                w.WritePropertyName(p.StorageName);
                WriteValue(w, p.GetValueAsObject(record), p.ModelName);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter w, object? value, string property)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case int i: w.WriteNumberValue(i); break;
            case long l: w.WriteNumberValue(l); break;
            case float f: WriteDouble(w, f, property); break;
            case double d: WriteDouble(w, d, property); break;
            case Guid g: w.WriteStringValue(g.ToString("D")); break;
            case DateTime dt: w.WriteStringValue(dt.ToString("O", CultureInfo.InvariantCulture)); break;
            case DateTimeOffset dto: w.WriteStringValue(dto.ToString("O", CultureInfo.InvariantCulture)); break;
            case System.Collections.IEnumerable items:
                w.WriteStartArray();
                foreach (var item in items)
                {
                    WriteValue(w, item, property);
                }
                w.WriteEndArray();
                break;
            default:
                throw new NotSupportedException($"Data property '{property}' holds a {value.GetType().Name}, which cannot be stored.");
        }
    }

    private static void WriteDouble(Utf8JsonWriter w, double d, string property)
    {
        if (!double.IsFinite(d))
        {
            throw new ArgumentException($"Data property '{property}' is {d.ToString(CultureInfo.InvariantCulture)}; only finite numbers can be stored.");
        }
        w.WriteNumberValue(d);
    }

    /// <summary>Sets the data properties of <paramref name="record"/> from the stored JSON object.</summary>
    public static void ReadData(object record, string json, IReadOnlyList<DataPropertyModel> properties)
    {
        using var doc = JsonDocument.Parse(json);
        foreach (var p in properties)
        {
            if (doc.RootElement.TryGetProperty(p.StorageName, out var e))
            {
                p.SetValueAsObject(record, Convert(e, p.Type, p.ModelName));
            }
        }
    }

    /// <summary>A JSON value as the CLR type of its property.</summary>
    public static object? Convert(JsonElement e, Type type, string property)
    {
        if (e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string)) return e.GetString();
        if (t == typeof(bool)) return e.GetBoolean();
        if (t == typeof(int)) return e.GetInt32();
        if (t == typeof(long)) return e.GetInt64();
        if (t == typeof(float)) return (float)e.GetDouble();
        if (t == typeof(double)) return e.GetDouble();
        if (t == typeof(Guid)) return Guid.Parse(e.GetString()!);
        if (t == typeof(DateTime)) return DateTime.Parse(e.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        if (t == typeof(DateTimeOffset)) return DateTimeOffset.Parse(e.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        if (t == typeof(string[])) return e.EnumerateArray().Select(x => x.GetString()!).ToArray();
        if (t == typeof(List<string>)) return e.EnumerateArray().Select(x => x.GetString()!).ToList();
        if (t == typeof(int[])) return e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
        if (t == typeof(List<int>)) return e.EnumerateArray().Select(x => x.GetInt32()).ToList();
        if (t == typeof(long[])) return e.EnumerateArray().Select(x => x.GetInt64()).ToArray();
        if (t == typeof(List<long>)) return e.EnumerateArray().Select(x => x.GetInt64()).ToList();
        if (t == typeof(double[])) return e.EnumerateArray().Select(x => x.GetDouble()).ToArray();
        if (t == typeof(List<double>)) return e.EnumerateArray().Select(x => x.GetDouble()).ToList();
        throw new NotSupportedException($"Data property '{property}' has unsupported type {type.Name}.");
    }

    /// <summary>A filter constant as the SQLite value it is stored as (see <see cref="WriteData"/>).</summary>
    public static object? ToSqlValue(object? value) => value switch
    {
        null => null,
        bool b => b ? 1L : 0L,
        int i => (long)i,
        long l => l,
        short s => (long)s,
        float f => (double)f,
        double d => d,
        string s => s,
        Guid g => g.ToString("D"),
        DateTime dt => dt.ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset dto => dto.ToString("O", CultureInfo.InvariantCulture),
        _ => throw new NotSupportedException($"Filter value {value} of type {value.GetType().Name} is not supported."),
    };

    /// <summary>A vector property value as floats, or null when the record has none.</summary>
    public static ReadOnlyMemory<float>? VectorOf(object? value) => value switch
    {
        null => null,
        ReadOnlyMemory<float> m => m,
        float[] a => a,
        Embedding<float> e => e.Vector,
        _ => throw new NotSupportedException($"A vector of type {value.GetType().Name} is not supported; use {ModelBuilder.SupportedVectorTypes}."),
    };

    /// <summary>A stored vector as the CLR type of its property.</summary>
    public static object FromVector(float[] v, Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(ReadOnlyMemory<float>)) return new ReadOnlyMemory<float>(v);
        if (t == typeof(float[])) return v;
        if (t == typeof(Embedding<float>)) return new Embedding<float>(v);
        throw new NotSupportedException($"Vector type {type.Name} is not supported.");
    }

    public static byte[] ToBlob(ReadOnlySpan<float> v) => MemoryMarshal.AsBytes(v).ToArray();

    public static float[] FromBlob(byte[] blob) => MemoryMarshal.Cast<byte, float>(blob).ToArray();
}
