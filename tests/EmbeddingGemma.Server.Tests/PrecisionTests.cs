using System.Text.Json;
using EmbeddingGemma.Embeddings.Precision;

namespace EmbeddingGemma.Server.Tests;

/// <summary>
/// The <c>precision</c> extension on /v1/embeddings, the article's /embed and TEI's /embed: integer arrays for
/// "float", raw bytes for "base64", sentence-transformers' values (the fake engine's vectors are exact, so the
/// expected rows are quantized from them in process), and 400s for bad values.
/// </summary>
public sealed class PrecisionTests : IClassFixture<FakeServerFixture>
{
    private readonly FakeServerFixture _f;
    public PrecisionTests(FakeServerFixture f) => _f = f;
    private ServerHost S => _f.Server;
    private FakeBackend B => _f.Backend;

    private static readonly string[] Texts = ["first text", "the second one", "a third, longer input"];

    private static int[] Ints(JsonElement a) => a.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    [Theory]
    [InlineData("int8")]
    [InlineData("uint8")]
    [InlineData("binary")]
    [InlineData("ubinary")]
    public async Task OpenAI_route_returns_the_precision_as_integers_or_raw_bytes(string precision)
    {
        var floats = Texts.Select(t => B.Expected(t, "query", dimensions: 128)).ToArray();
        var expected = EmbeddingQuantizer.Quantize(floats, EmbeddingPrecisions.Parse(precision));
        var body = await Json.ReadAsync(await S.PostAsync("/v1/embeddings", new { input = Texts, model = "m", prompt_name = "query", dimensions = 128, precision }));
        Assert.Equal(precision, body.GetProperty("precision").GetString());
        var data = body.GetProperty("data");
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expected.IntegerRow(i), Ints(data[i].GetProperty("embedding")));
        }
        Assert.Equal(precision is "binary" or "ubinary" ? 16 : 128, data[0].GetProperty("embedding").GetArrayLength());

        var b64 = await Json.ReadAsync(await S.PostAsync("/v1/embeddings", new { input = Texts, model = "m", prompt_name = "query", dimensions = 128, precision, encoding_format = "base64" }));
        for (int i = 0; i < Texts.Length; i++)
        {
            var raw = Convert.FromBase64String(b64.GetProperty("data")[i].GetProperty("embedding").GetString()!);
            Assert.Equal(expected.RowData(i).ToArray(), raw);
        }
    }

    [Fact]
    public async Task Binary_bits_are_the_signs_of_the_float_vector()
    {
        var v = B.Expected("first text", dimensions: 64);
        var body = await Json.ReadAsync(await S.PostAsync("/embed", new { texts = new[] { "first text" }, dimensions = 64, precision = "ubinary" }));
        Assert.Equal("ubinary", body.GetProperty("precision").GetString());
        var bytes = Ints(body.GetProperty("embeddings")[0]);
        Assert.Equal(8, bytes.Length);
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(v[i] > 0, ((bytes[i / 8] >> (7 - i % 8)) & 1) == 1);
        }
    }

    [Fact]
    public async Task Ranges_calibrate_int8_on_every_embed_route()
    {
        var floats = Texts.Select(t => B.Expected(t, dimensions: 128)).ToArray();
        // Ranges wider than the data: every value lands inside and the request's own min/max are not used.
        var min = Enumerable.Repeat(-0.5f, 128).ToArray();
        var max = Enumerable.Repeat(0.5f, 128).ToArray();
        var expected = EmbeddingQuantizer.Quantize(floats, EmbeddingPrecision.Int8, new QuantizationRanges(min, max));
        Assert.False(expected.Data.SequenceEqual(EmbeddingQuantizer.Quantize(floats, EmbeddingPrecision.Int8).Data));
        var ranges = new[] { min, max };
        var openai = await Json.ReadAsync(await S.PostAsync("/v1/embeddings", new { input = Texts, dimensions = 128, precision = "int8", ranges }));
        var article = await Json.ReadAsync(await S.PostAsync("/embed", new { texts = Texts, dimensions = 128, precision = "int8", ranges }));
        var tei = await Json.ReadAsync(await S.PostAsync("/embed", new { inputs = Texts, dimensions = 128, precision = "int8", ranges }));
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(expected.IntegerRow(i), Ints(openai.GetProperty("data")[i].GetProperty("embedding")));
            Assert.Equal(expected.IntegerRow(i), Ints(article.GetProperty("embeddings")[i]));
            Assert.Equal(expected.IntegerRow(i), Ints(tei[i]));
        }
    }

    [Fact]
    public async Task Float32_precision_is_the_plain_response()
    {
        var plain = await (await S.PostAsync("/v1/embeddings", new { input = Texts, model = "m" })).Content.ReadAsStringAsync();
        var f32 = await (await S.PostAsync("/v1/embeddings", new { input = Texts, model = "m", precision = "float32" })).Content.ReadAsStringAsync();
        Assert.Equal(plain, f32);
    }

    [Theory]
    [InlineData("/v1/embeddings", """{"input": "x", "precision": "int4"}""", "precision", "Supported values are float32, int8, uint8, binary, ubinary")]
    [InlineData("/v1/embeddings", """{"input": "x", "precision": 8}""", "precision", "must be a string")]
    [InlineData("/embed", """{"texts": ["x"], "precision": "INT8"}""", "precision", "INT8")]
    [InlineData("/embed", """{"inputs": ["x"], "precision": "binary", "ranges": [[0], [1]]}""", "ranges", "int8 and uint8 only")]
    [InlineData("/v1/embeddings", """{"input": "x", "precision": "int8", "ranges": [[0, 0]]}""", "ranges", "two arrays")]
    [InlineData("/v1/embeddings", """{"input": "x", "precision": "int8", "ranges": [[0, "a"], [1, 1]]}""", "ranges", "min value 1")]
    [InlineData("/v1/embeddings", """{"input": "x", "precision": "uint8", "ranges": [[0, 2], [1, 1]]}""", "ranges", "dimension 1")]
    [InlineData("/v1/embeddings", """{"input": "x", "precision": "uint8", "ranges": [[0, 0], [1, 1]], "dimensions": 128}""", "ranges", "2 dimensions; the embeddings have 128")]
    public async Task Bad_precision_requests_are_400_naming_the_field(string path, string json, string field, string mention)
    {
        var response = await S.PostJsonAsync(path, json);
        Assert.Equal(400, (int)response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains(mention, text, StringComparison.Ordinal);
        if (path == "/v1/embeddings")
        {
            Assert.Equal(field, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("param").GetString());
        }
    }
}
