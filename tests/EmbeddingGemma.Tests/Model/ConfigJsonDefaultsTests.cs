using EmbeddingGemma.Model;
using EmbeddingGemma.Model.V2;

namespace EmbeddingGemma.Tests.Model;

/// <summary>
/// config.json is read through source-generated JSON metadata (the library is native-AOT-compatible). Such metadata
/// would set a field that the file leaves out to 0/null; these tests pin that an absent field keeps the record's
/// published default, as the reflection serializer did, and that a repeated key still means its last value.
/// Oracle: the records' own initializers (<c>new GemmaConfig()</c>, <c>new EmbeddingGemma2Config()</c>).
/// </summary>
public sealed class ConfigJsonDefaultsTests
{
    [Fact]
    public void GemmaConfigFieldsAbsentFromTheFileKeepTheirDefaults()
    {
        var defaults = new GemmaConfig();
        var cfg = GemmaConfig.FromJson("""{"hidden_size": 768, "unknown_field": {"a": [1, 2]}}""");
        Assert.Equal(defaults.NumHiddenLayers, cfg.NumHiddenLayers);
        Assert.Equal(defaults.MaxPositionEmbeddings, cfg.MaxPositionEmbeddings);
        Assert.Equal(defaults.VocabSize, cfg.VocabSize);
        Assert.Equal(defaults.RopeTheta, cfg.RopeTheta);
        Assert.Equal(defaults.RmsNormEps, cfg.RmsNormEps);
        Assert.Equal(defaults.Architectures, cfg.Architectures);
        Assert.Equal(defaults.ModelType, cfg.ModelType);
        Assert.NotEqual(0, cfg.MaxPositionEmbeddings);
    }

    [Fact]
    public void GemmaConfigRepeatedKeyTakesTheLastValue()
    {
        var cfg = GemmaConfig.FromJson("""{"num_hidden_layers": 7, "layer_types": null, "num_hidden_layers": 12}""");
        Assert.Equal(12, cfg.NumHiddenLayers);
    }

    [Fact]
    public void GemmaConfigTypeErrorsStillNameTheField()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => GemmaConfig.FromJson("""{"hidden_size": "wide"}""", "my/config.json"));
        Assert.Contains("my/config.json", e.Message, StringComparison.Ordinal);
        Assert.Contains("$.hidden_size", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmbeddingGemma2ConfigFieldsAbsentFromTheFileKeepTheirDefaults()
    {
        var defaults = new EmbeddingGemma2Config();
        var cfg = EmbeddingGemma2Config.FromJson("""{"model_type": "embedding_gemma2", "text_config": {"hidden_size": 512}}""");
        Assert.Equal(defaults.MaxPositionEmbeddings, cfg.MaxPositionEmbeddings);
        Assert.Equal(defaults.RmsNormEps, cfg.RmsNormEps);
        Assert.Equal(defaults.NumHiddenLayers, cfg.NumHiddenLayers);
        Assert.Equal(defaults.VocabSize, cfg.VocabSize);
        Assert.Equal(defaults.IntermediateSize, cfg.IntermediateSize);
        Assert.NotEqual(0, cfg.MaxPositionEmbeddings);
    }
}
