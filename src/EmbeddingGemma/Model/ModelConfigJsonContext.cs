using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using EmbeddingGemma.Model.V2;

namespace EmbeddingGemma.Model;

/// <summary>
/// Source-generated System.Text.Json metadata for the config records, so reading and writing config.json needs no
/// reflection: the library stays trimming- and native-AOT-compatible (<c>IsAotCompatible</c>). <see cref="Default"/>
/// has the serializer's default options (used by the model fingerprint); each config type binds its own options with
/// <c>new ModelConfigJsonContext(options)</c>. Read through <see cref="DeserializeOverDefaults{T}(string, JsonTypeInfo{T}, T)"/>.
/// </summary>
[JsonSerializable(typeof(GemmaConfig))]
[JsonSerializable(typeof(EmbeddingGemma2Config))]
internal sealed partial class ModelConfigJsonContext : JsonSerializerContext
{
    /// <summary>
    /// Deserializes a config record whose init-only properties have initializers (the published defaults). Generated
    /// metadata builds such a record with an object initializer that sets every property, so a field absent from the
    /// JSON would get 0 or null instead of its default (reflection kept the initializer). The JSON is read once as it
    /// is (syntax and type errors exactly as the serializer reports them), then again laid over the serialized
    /// <paramref name="defaults"/>, so absent fields keep the record's defaults; duplicate keys: the last one wins.
    /// </summary>
    public static T? DeserializeOverDefaults<T>(string json, JsonTypeInfo<T> info, T defaults)
        where T : class
    {
        var asIs = JsonSerializer.Deserialize(json, info);
        using var doc = JsonDocument.Parse(json);
        if (asIs is null || doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            return asIs;
        }
        var merged = JsonSerializer.SerializeToNode(defaults, info)!.AsObject();
        foreach (var property in doc.RootElement.EnumerateObject())
        {
            merged[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.Object => JsonObject.Create(property.Value),
                JsonValueKind.Array => JsonArray.Create(property.Value),
                _ => JsonValue.Create(property.Value),
            };
        }
        return merged.Deserialize(info);
    }

    /// <inheritdoc cref="DeserializeOverDefaults{T}(string, JsonTypeInfo{T}, T)"/>
    public static T? DeserializeOverDefaults<T>(JsonObject json, JsonTypeInfo<T> info, T defaults)
        where T : class
    {
        var asIs = json.Deserialize(info);
        if (asIs is null)
        {
            return null;
        }
        var merged = JsonSerializer.SerializeToNode(defaults, info)!.AsObject();
        foreach (var (name, value) in json)
        {
            merged[name] = value?.DeepClone();
        }
        return merged.Deserialize(info);
    }
}
