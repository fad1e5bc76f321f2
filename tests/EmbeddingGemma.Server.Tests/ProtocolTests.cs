using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace EmbeddingGemma.Server.Tests;

/// <summary>
/// Regression tests of the issue-12 server findings: malformed text (invalid UTF-8, lone surrogate escapes) is a 400
/// naming the field, /metrics records real status codes (500, 408), HEAD works on /health, /info and /v1/models, and
/// JSON endpoints require application/json (UTF-8) so a cross-site text/plain POST cannot spend a key-less server's CPU.
/// </summary>
public sealed class ProtocolTests : IAsyncLifetime
{
    private readonly FakeBackend _backend = new();
    private readonly ListLoggerProvider _logs = new();
    private ServerHost _s = null!;

    public async Task InitializeAsync() => _s = await ServerHost.StartAsync(_backend, configureBuilder: b =>
    {
        b.Logging.AddProvider(_logs);
        b.Logging.SetMinimumLevel(LogLevel.Debug);
        // the body data-rate check fires after 1.5 s (default 5 s) so the 408 test is quick
        b.WebHost.ConfigureKestrel(k => k.Limits.MinRequestBodyDataRate = new MinDataRate(100, TimeSpan.FromSeconds(1.5)));
    });

    public async Task DisposeAsync()
    {
        await _s.DisposeAsync();
        _logs.Dispose();
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Replaces the marker "@@" by the bytes 0xC3 0x28 (an invalid UTF-8 sequence).</summary>
    private static byte[] WithInvalidUtf8(string json)
    {
        var parts = json.Split("@@");
        var bytes = new List<byte>(Utf8(parts[0]));
        for (int i = 1; i < parts.Length; i++)
        {
            bytes.Add(0xC3);
            bytes.Add(0x28);
            bytes.AddRange(Utf8(parts[i]));
        }
        return [.. bytes];
    }

    [Theory]
    // invalid UTF-8 bytes in a string value
    [InlineData("/v1/embeddings", "{\"input\": \"a@@b\"}", "input", "`input`")]
    [InlineData("/v1/embeddings", "{\"input\": [\"ok\", \"a@@\"]}", "input", "`input[1]`")]
    [InlineData("/v1/embeddings", "{\"input\": \"x\", \"model\": \"m@@\"}", "model", "`model`")]
    [InlineData("/v1/embeddings", "{\"input\": \"x\", \"prompt\": \"p@@\"}", "prompt", "`prompt`")]
    [InlineData("/embed", "{\"texts\": [\"x\"], \"titles\": [\"t@@\"]}", "titles", "`titles[0]`")]
    [InlineData("/embed", "{\"inputs\": \"@@\"}", "inputs", "`inputs`")]
    [InlineData("/tokenize", "{\"inputs\": [\"fine\", \"@@\"]}", "inputs", "`inputs[1]`")]
    // invalid UTF-8 in a property name
    [InlineData("/v1/embeddings", "{\"input\": \"x\", \"k@@\": 1}", "body", "A property name of the request body")]
    [InlineData("/embed", "{\"texts\": [\"x\"], \"task_type\": \"query\", \"@@\": null}", "body", "A property name of the request body")]
    // lone surrogate escapes
    [InlineData("/v1/embeddings", "{\"input\": \"a\\ud800\"}", "input", "`input`")]
    [InlineData("/v1/embeddings", "{\"input\": [\"a\", \"\\udfff b\"]}", "input", "`input[1]`")]
    [InlineData("/embed", "{\"texts\": [\"x\"], \"task_type\": \"\\uD800\"}", "task_type", "`task_type`")]
    [InlineData("/embed", "{\"inputs\": \"x\", \"prompt_name\": \"\\ud800\\ud800\"}", "prompt_name", "`prompt_name`")]
    [InlineData("/tokenize", "{\"inputs\": \"x\\ude00\"}", "inputs", "`inputs`")]
    [InlineData("/v1/embeddings", "{\"input\": \"x\", \"\\ud800\": 1}", "body", "A property name of the request body")]
    public async Task Malformed_text_is_400_naming_the_field_without_a_stack_trace(string path, string json, string param, string named)
    {
        var response = await _s.PostBytesAsync(path, WithInvalidUtf8(json), "application/json");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(400 == (int)response.StatusCode, text);
        using var doc = JsonDocument.Parse(text);
        string message;
        if (path.StartsWith("/v1", StringComparison.Ordinal))
        {
            var error = doc.RootElement.GetProperty("error");
            message = error.GetProperty("message").GetString()!;
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal(param, error.GetProperty("param").GetString());
        }
        else
        {
            message = doc.RootElement.GetProperty("error").GetString()!;
            Assert.Equal("validation", doc.RootElement.GetProperty("error_type").GetString());
        }
        Assert.Contains(named, message, StringComparison.Ordinal);
        Assert.Contains("not valid Unicode", message, StringComparison.Ordinal);
        Assert.DoesNotContain(_logs.Entries, e => e.Exception is not null || e.Level >= LogLevel.Error);
        var metrics = await _s.Client.GetStringAsync("/metrics");
        Assert.DoesNotContain("status=\"500\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Valid_escapes_and_non_ascii_text_still_embed()
    {
        // a paired surrogate escape (an emoji, as Python's json.dumps writes it) and raw UTF-8 pass the text check
        var response = await _s.PostBytesAsync("/v1/embeddings", Utf8("{\"input\": [\"smile \\ud83d\\ude00\", \"短い文 é\", \"back\\\\ud800slash\"]}"), "application/json");
        Assert.True(200 == (int)response.StatusCode, await response.Content.ReadAsStringAsync());
        var body = await Json.ReadAsync(response);
        Assert.Equal(_backend.Expected("smile 😀"), Json.Floats(body.GetProperty("data")[0].GetProperty("embedding")));
        Assert.Equal(_backend.Expected("back\\ud800slash"), Json.Floats(body.GetProperty("data")[2].GetProperty("embedding")));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData(null)]
    public async Task Json_endpoints_require_application_json_with_utf8(string? contentType)
    {
        foreach (var path in new[] { "/embed", "/tokenize", "/v1/embeddings", "/embeddings", "/search" })
        {
            string json = path == "/search" ? "{\"query\": \"x\"}" : path == "/embed" || path == "/tokenize" ? "{\"inputs\": \"x\"}" : "{\"input\": \"x\"}";
            int before = _backend.Embedded.Count;
            var response = await _s.PostBytesAsync(path, Utf8(json), contentType);
            var text = await response.Content.ReadAsStringAsync();
            if (path == "/search")
            {
                Assert.Equal(404, (int)response.StatusCode); // search is off on this server; it is checked before the body
                continue;
            }
            Assert.True(415 == (int)response.StatusCode, $"{path} {contentType}: {(int)response.StatusCode} {text}");
            using var doc = JsonDocument.Parse(text);
            if (path.Contains("embeddings", StringComparison.Ordinal))
            {
                Assert.Equal("unsupported_media_type", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
                Assert.Contains("application/json", doc.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal("unsupported_media_type", doc.RootElement.GetProperty("error_type").GetString());
            }
            Assert.Equal(before, _backend.Embedded.Count); // no work was done
        }
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON;charset=\"UTF-8\"")]
    [InlineData("application/json; charset=utf8")]
    public async Task Application_json_in_utf8_is_accepted(string contentType)
    {
        var response = await _s.PostBytesAsync("/v1/embeddings", Utf8("{\"input\": \"x\"}"), contentType);
        Assert.True(200 == (int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Head_works_on_health_info_and_models()
    {
        foreach (var path in new[] { "/health", "/info", "/v1/models" })
        {
            var get = await _s.Client.GetAsync(path);
            var head = await _s.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.Equal(200, (int)head.StatusCode);
            Assert.Equal(get.Content.Headers.ContentType?.MediaType, head.Content.Headers.ContentType?.MediaType);
            Assert.Equal(get.Content.Headers.ContentLength, head.Content.Headers.ContentLength);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task Metrics_record_the_real_status_of_unhandled_500s()
    {
        _backend.TokenizeFault = t => t == "boom" ? new InvalidOperationException("engine bug") : null;
        var response = await _s.PostAsync("/v1/embeddings", new { input = "boom" });
        Assert.Equal(500, (int)response.StatusCode);
        var error = (await Json.ReadAsync(response)).GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        var native = await _s.PostAsync("/embed", new { inputs = "boom" });
        Assert.Equal(500, (int)native.StatusCode);
        Assert.Equal("backend", (await Json.ReadAsync(native)).GetProperty("error_type").GetString());
        var metrics = await _s.Client.GetStringAsync("/metrics");
        Assert.Contains("embeddinggemma_requests_total{endpoint=\"v1_embeddings\",status=\"500\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("embeddinggemma_requests_total{endpoint=\"embed\",status=\"500\"} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("status=\"200\"", metrics, StringComparison.Ordinal);
        // a real bug is logged once, with its exception
        Assert.Equal(2, _logs.Entries.Count(e => e.Level == LogLevel.Error && e.Exception is InvalidOperationException));
    }

    [Fact]
    public async Task Metrics_record_the_real_status_of_408_body_timeouts()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_s.BaseAddress.Host, _s.BaseAddress.Port);
        var stream = tcp.GetStream();
        // declares 1000 bytes and sends 10: Kestrel times the body out (MinRequestBodyDataRate) while the handler reads it
        var head = $"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"input\": ";
        await stream.WriteAsync(Utf8(head));
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new StringBuilder();
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0)
            {
                received.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
        catch (IOException)
        {
            // connection reset after the 408
        }
        Assert.StartsWith("HTTP/1.1 408", received.ToString(), StringComparison.Ordinal);
        string metrics = "";
        for (int i = 0; i < 50 && !metrics.Contains("status=\"408\"", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
            metrics = await _s.Client.GetStringAsync("/metrics");
        }
        Assert.Contains("embeddinggemma_requests_total{endpoint=\"v1_embeddings\",status=\"408\"} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("status=\"200\"", metrics, StringComparison.Ordinal);
    }
}
