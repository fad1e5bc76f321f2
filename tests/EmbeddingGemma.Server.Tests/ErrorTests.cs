using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace EmbeddingGemma.Server.Tests;

public sealed class LimitedServerFixture : IAsyncLifetime
{
    public const string Key = "s3cret-key";
    internal FakeBackend Backend { get; } = new();
    internal ServerHost Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ServerHost.StartAsync(Backend, o =>
    {
        o.ApiKey = Key;
        o.MaxInputsPerRequest = 4;
        o.MaxInputCharacters = 1000;
        o.MaxRequestBodyBytes = 10_000;
    });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Every bad input: its status code and its error body, in the native (TEI) and OpenAI shapes.</summary>
public sealed class ErrorTests : IClassFixture<LimitedServerFixture>
{
    private const string Key = LimitedServerFixture.Key;
    private readonly LimitedServerFixture _f;
    public ErrorTests(LimitedServerFixture f) => _f = f;
    private ServerHost S => _f.Server;

    private async Task<(int Status, string Message, string Type, JsonElement Body)> Native(string path, string json)
    {
        var r = await S.PostJsonAsync(path, json, Key);
        var body = await Json.ReadAsync(r);
        return ((int)r.StatusCode, body.GetProperty("error").GetString()!, body.GetProperty("error_type").GetString()!, body);
    }

    private async Task<(int Status, string Message, string Type, string? Param, string? Code)> OpenAI(string json)
    {
        var r = await S.PostJsonAsync("/v1/embeddings", json, Key);
        var error = (await Json.ReadAsync(r)).GetProperty("error");
        return ((int)r.StatusCode, error.GetProperty("message").GetString()!, error.GetProperty("type").GetString()!,
            error.GetProperty("param").GetString(), error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("{\"texts\": [\"a\"", "Malformed JSON")]
    [InlineData("not json", "Malformed JSON")]
    [InlineData("[1,2]", "must be a JSON object; got an array")]
    [InlineData("{}", "Missing input")]
    [InlineData("{\"texts\": [\"a\"], \"inputs\": \"b\"}", "not both")]
    [InlineData("{\"texts\": \"a\"}", "`texts` must be an array of strings")]
    [InlineData("{\"texts\": [1, 2]}", "`texts[0]` must be a string; got a number")]
    [InlineData("{\"texts\": [\"a\"], \"dimensions\": \"768\"}", "`dimensions` must be an integer; got a string")]
    [InlineData("{\"texts\": [\"a\"], \"dimensions\": 1.5}", "`dimensions` must be an integer; got 1.5")]
    [InlineData("{\"texts\": [\"a\"], \"normalize\": \"yes\"}", "`normalize` must be a boolean; got a string")]
    [InlineData("{\"texts\": [\"a\"], \"task_type\": 3}", "`task_type` must be a string; got a number")]
    [InlineData("{\"texts\": [\"a\"], \"titles\": [\"x\", \"y\"]}", "`titles` has 2 entries but `texts` has 1")]
    [InlineData("{\"texts\": []}", "`texts` must not be empty")]
    [InlineData("{\"texts\": [\"\"]}", "`texts` is an empty string")]
    [InlineData("{\"texts\": [\"a\", \"\"]}", "`texts[1]` is an empty string")]
    [InlineData("{\"inputs\": []}", "`inputs` must not be empty")]
    [InlineData("{\"inputs\": \"\"}", "`inputs` is an empty string")]
    [InlineData("{\"inputs\": {\"a\": 1}}", "`inputs` must be a string or an array of strings or token ids; got an object")]
    [InlineData("{\"inputs\": [[]]}", "empty token array")]
    [InlineData("{\"inputs\": \"a\", \"truncation_direction\": \"left\"}", "\"left\" is not supported")]
    [InlineData("{\"inputs\": \"a\", \"truncation_direction\": \"up\"}", "must be \"right\" or \"left\"")]
    [InlineData("{\"texts\": [\"a\"], \"task_type\": \"nonsense\"}", "Unknown prompt name 'nonsense' in `task_type`")]
    [InlineData("{\"inputs\": \"a\", \"prompt_name\": \"Query\"}", "Unknown prompt name 'Query' in `prompt_name`")]
    [InlineData("{\"texts\": [\"a\"], \"task_type\": \"query\", \"prompt_name\": \"document\"}", "name different prompts")]
    [InlineData("{\"texts\": [\"a\"], \"dimensions\": 0}", "`dimensions` must be between 1 and 768")]
    [InlineData("{\"texts\": [\"a\"], \"dimensions\": 769}", "`dimensions` must be between 1 and 768")]
    [InlineData("{\"texts\": [\"a\"], \"dimensions\": -128}", "`dimensions` must be between 1 and 768")]
    [InlineData("{\"texts\": [\"a\"], \"dimensions\": 99999999999}", "`dimensions` is out of range: 99999999999 does not fit a 32-bit integer")]
    [InlineData("{\"texts\": [\"a\"], \"dimensions\": 2147483648}", "`dimensions` is out of range: 2147483648 does not fit a 32-bit integer")]   // DimensionsTooBigForInt32IsA400NamingTheValueAsSent
    [InlineData("{\"texts\": [\"a\"], \"dimensions\": -99999999999999999999999}", "`dimensions` is out of range: -99999999999999999999999")]
    [InlineData("{\"inputs\": [2, -5, 1]}", "token id -5 at position 1 is negative")]
    [InlineData("{\"inputs\": [[2, 1], [2, 262145, 1]]}", "`inputs[1]`: token id 262145 at position 1 is outside the vocabulary; ids must be in [0, 262144)")]
    [InlineData("{\"inputs\": [2, 262144, 1]}", "token id 262144 at position 1 is outside the vocabulary (<image_soft_token>, which has no row in the embedding table)")]
    [InlineData("{\"inputs\": [2, 1.5]}", "element 1 must be an integer token id; got 1.5")]
    [InlineData("{\"inputs\": [2, 9999999999]}", "token id 9999999999 at position 1 is outside the vocabulary")]
    public async Task Native_validation_errors_are_400_with_a_message(string json, string expected)
    {
        var (status, message, type, _) = await Native("/embed", json);
        Assert.Equal(400, status);
        Assert.Equal("validation", type);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Too_many_inputs_too_many_characters_and_too_large_body_are_413()
    {
        var (s1, m1, t1, _) = await Native("/embed", JsonSerializer.Serialize(new { texts = new[] { "a", "b", "c", "d", "e" } }));
        Assert.Equal((413, "payload_too_large"), (s1, t1));
        Assert.Contains("`texts` has 5 inputs; the maximum per request is 4", m1, StringComparison.Ordinal);

        var (s2, m2, _, _) = await Native("/embed", JsonSerializer.Serialize(new { inputs = new[] { "ok", new string('z', 1001) } }));
        Assert.Equal(413, s2);
        Assert.Contains("`inputs[1]` has 1001 characters; the maximum is 1000", m2, StringComparison.Ordinal);

        var (s3, m3, _, _) = await Native("/embed", JsonSerializer.Serialize(new { inputs = new string('y', 20_000) }));
        Assert.Equal(413, s3);
        Assert.Contains("limit is 10000 bytes", m3, StringComparison.Ordinal);

        // a chunked body (no Content-Length) over the limit
        var request = new HttpRequestMessage(HttpMethod.Post, "/embed") { Content = new ChunkedContent("{\"inputs\": \"" + new string('y', 20_000) + "\"}") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        var chunked = await S.Client.SendAsync(request);
        Assert.Equal(413, (int)chunked.StatusCode);
        Assert.Contains("larger than the limit of 10000 bytes", (await Json.ReadAsync(chunked)).GetProperty("error").GetString(), StringComparison.Ordinal);

        var (s4, m4, t4, p4, c4) = await OpenAI(JsonSerializer.Serialize(new { input = new[] { "a", "b", "c", "d", "e" }, model = "m" }));
        Assert.Equal((400, "invalid_request_error", "input", "request_too_large"), (s4, t4, p4, c4));
        Assert.Contains("maximum per request is 4", m4, StringComparison.Ordinal);
        var (s5, _, t5, p5, _) = await OpenAI(JsonSerializer.Serialize(new { input = new string('y', 20_000), model = "m" }));
        Assert.Equal((413, "invalid_request_error", "body"), (s5, t5, p5));
    }

    [Fact]
    public async Task Over_long_input_with_truncation_off_is_refused_with_its_token_count()
    {
        string text = new('q', 100); // 102 tokens with <bos>/<eos>; the fake model's maximum is 64
        var (status, message, type, body) = await Native("/embed", JsonSerializer.Serialize(new { inputs = text, truncate = false }));
        Assert.Equal((422, "validation"), (status, type));
        Assert.Contains("102 tokens", message, StringComparison.Ordinal);
        Assert.Equal(102, body.GetProperty("token_count").GetInt32());

        var (s2, m2, t2, p2, c2) = await OpenAI(JsonSerializer.Serialize(new { input = new[] { "fine", text }, model = "m", truncate = false }));
        Assert.Equal((400, "invalid_request_error", "input", "context_length_exceeded"), (s2, t2, p2, c2));
        Assert.Contains("`input[1]`", m2, StringComparison.Ordinal);
        Assert.Contains("102 tokens", m2, StringComparison.Ordinal);

        var ok = await S.PostJsonAsync("/embed", JsonSerializer.Serialize(new { inputs = text }), Key);
        Assert.Equal(200, (int)ok.StatusCode); // truncation is the default
    }

    [Theory]
    [InlineData("{\"input\": \"\", \"model\": \"m\"}", "`input` is an empty string", "input")]
    [InlineData("{\"input\": [], \"model\": \"m\"}", "`input` must not be empty", "input")]
    [InlineData("{\"model\": \"m\"}", "`input` is required", "input")]
    [InlineData("{\"input\": 5, \"model\": \"m\"}", "`input` must be a string or an array", "input")]
    [InlineData("{\"input\": [\"a\", 5], \"model\": \"m\"}", "`input[1]` must be a string or an array of token ids; got a number", "input")]
    [InlineData("{\"input\": \"a\", \"encoding_format\": \"int8\"}", "Invalid value for 'encoding_format' = int8", "encoding_format")]
    [InlineData("{\"input\": \"a\", \"dimensions\": 0}", "`dimensions` must be between 1 and 768", "dimensions")]
    [InlineData("{\"input\": \"a\", \"dimensions\": 769}", "`dimensions` must be between 1 and 768", "dimensions")]
    [InlineData("{\"input\": \"a\", \"dimensions\": -1}", "`dimensions` must be between 1 and 768", "dimensions")]
    [InlineData("{\"input\": \"a\", \"prompt_name\": \"bogus\"}", "Unknown prompt name 'bogus'", "prompt_name")]
    [InlineData("{\"input\": \"a\", \"task\": \"bogus\"}", "Unknown prompt name 'bogus' in `task`", "task")]
    [InlineData("{\"input\": [[2, -1]]}", "token id -1 at position 1 is negative", "input")]
    [InlineData("{\"input\": [[2, 262144]]}", "<image_soft_token>", "input")]
    [InlineData("{\"input\": [2, 300000]}", "token id 300000 at position 1 is outside the vocabulary", "input")]
    [InlineData("{\"input\": \"a\", \"model\": 3}", "`model` must be a string", "model")]
    [InlineData("{\"input\": \"a\"", "Malformed JSON", "body")]
    public async Task OpenAI_validation_errors_use_the_nested_error_object(string json, string expected, string param)
    {
        var (status, message, type, p, _) = await OpenAI(json);
        Assert.Equal(400, status);
        Assert.Equal("invalid_request_error", type);
        Assert.Equal(param, p);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_or_wrong_api_key_is_401_and_health_stays_public()
    {
        var missing = await S.PostJsonAsync("/embed", "{\"inputs\": \"a\"}");
        Assert.Equal(401, (int)missing.StatusCode);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);
        var mb = await Json.ReadAsync(missing);
        Assert.Equal("unauthorized", mb.GetProperty("error_type").GetString());
        Assert.Contains("Missing API key", mb.GetProperty("error").GetString(), StringComparison.Ordinal);

        var wrong = await S.PostJsonAsync("/v1/embeddings", "{\"input\": \"a\"}", "s3cret-kez");
        Assert.Equal(401, (int)wrong.StatusCode);
        var error = (await Json.ReadAsync(wrong)).GetProperty("error");
        Assert.Equal("authentication_error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        Assert.Equal("Invalid API key.", error.GetProperty("message").GetString());

        var prefix = await S.PostJsonAsync("/v1/embeddings", "{\"input\": \"a\"}", Key + "x");
        Assert.Equal(401, (int)prefix.StatusCode);
        var info = await S.Client.GetAsync("/info");
        Assert.Equal(401, (int)info.StatusCode);

        Assert.Equal(200, (int)(await S.Client.GetAsync("/health")).StatusCode);
        Assert.Equal(200, (int)(await S.Client.GetAsync("/metrics")).StatusCode);
        Assert.Equal(200, (int)(await S.PostJsonAsync("/v1/embeddings", "{\"input\": \"a\"}", Key)).StatusCode);
    }

    private sealed class ChunkedContent : HttpContent
    {
        private readonly string text;

        public ChunkedContent(string text)
        {
            this.text = text;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
            => stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
