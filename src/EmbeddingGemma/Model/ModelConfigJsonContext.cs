using System.Text.Json.Serialization;
using EmbeddingGemma.Model.V2;

namespace EmbeddingGemma.Model;

/// <summary>
/// Source-generated System.Text.Json metadata for the config records, so reading and writing config.json needs no
/// reflection: the library stays trimming- and native-AOT-compatible (<c>IsAotCompatible</c>). <see cref="Default"/>
/// has the serializer's default options (used by the model fingerprint); each config type binds its own options with
/// <c>new ModelConfigJsonContext(options)</c>.
/// </summary>
[JsonSerializable(typeof(GemmaConfig))]
[JsonSerializable(typeof(EmbeddingGemma2Config))]
internal sealed partial class ModelConfigJsonContext : JsonSerializerContext;
