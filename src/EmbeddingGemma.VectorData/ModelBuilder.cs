using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace EmbeddingGemma.VectorData;

/// <summary>
/// Builds the collection model (keys, data and vector properties) from attributes or a
/// <see cref="VectorStoreCollectionDefinition"/> with the abstractions' provider services, and states what this
/// connector stores.
/// </summary>
internal sealed class ModelBuilder() : CollectionModelBuilder(BuildingOptions)
{
    internal static readonly CollectionModelBuildingOptions BuildingOptions = new()
    {
        RequiresAtLeastOneVector = false,
        SupportsMultipleVectors = true,
    };

    internal const string SupportedKeyTypes = "string, Guid, int, long";
    internal const string SupportedVectorTypes = "ReadOnlyMemory<float>, float[], Embedding<float> (or string with an embedding generator)";
    internal const string SupportedDataTypes =
        "string, bool, int, long, float, double, Guid, DateTime, DateTimeOffset (and their nullable forms), string[], List<string>, int[], List<int>, long[], List<long>, double[], List<double>";

    internal static readonly string[] SupportedDistances =
    [
        DistanceFunction.CosineSimilarity, DistanceFunction.CosineDistance, DistanceFunction.DotProductSimilarity,
        DistanceFunction.NegativeDotProductSimilarity, DistanceFunction.EuclideanDistance, DistanceFunction.EuclideanSquaredDistance,
    ];

    private static readonly HashSet<Type> DataTypes =
    [
        typeof(string), typeof(bool), typeof(int), typeof(long), typeof(float), typeof(double), typeof(Guid), typeof(DateTime), typeof(DateTimeOffset),
        typeof(string[]), typeof(List<string>), typeof(int[]), typeof(List<int>), typeof(long[]), typeof(List<long>), typeof(double[]), typeof(List<double>),
    ];

    protected override bool IsDataPropertyTypeValid(Type type, [NotNullWhen(false)] out string? supportedTypes)
    {
        supportedTypes = SupportedDataTypes;
        return DataTypes.Contains(Nullable.GetUnderlyingType(type) ?? type);
    }

    protected override bool IsVectorPropertyTypeValid(Type type, [NotNullWhen(false)] out string? supportedTypes)
    {
        supportedTypes = SupportedVectorTypes;
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(ReadOnlyMemory<float>) || t == typeof(float[]) || t == typeof(Embedding<float>);
    }

    protected override void ValidateKeyProperty(KeyPropertyModel keyProperty)
    {
        base.ValidateKeyProperty(keyProperty);
        var t = keyProperty.Type;
        if (t != typeof(string) && t != typeof(Guid) && t != typeof(int) && t != typeof(long))
        {
            throw new NotSupportedException(
                $"Key property '{keyProperty.ModelName}' has unsupported type '{t.Name}'. Key properties must be one of: {SupportedKeyTypes}.");
        }
    }

    protected override void ValidateProperty(PropertyModel propertyModel, VectorStoreCollectionDefinition? definition)
    {
        base.ValidateProperty(propertyModel, definition);
        if (propertyModel.StorageName.Contains('"', StringComparison.Ordinal))
        {
            // Data is stored as JSON and filtered with SQLite JSON paths, whose quoted labels cannot contain '"'.
            throw new NotSupportedException($"Property '{propertyModel.ModelName}' has storage name '{propertyModel.StorageName}'; storage names cannot contain '\"'.");
        }
        if (propertyModel is VectorPropertyModel v && v.DistanceFunction is { } d && !SupportedDistances.Contains(d))
        {
            throw new NotSupportedException(
                $"Vector property '{v.ModelName}' asks for distance function '{d}', which this connector does not support. Supported: {string.Join(", ", SupportedDistances)}.");
        }
    }
}
