using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Server.Core;
using EmbeddingGemma.Server.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmbeddingGemma.Server.Tests;

/// <summary>A real Kestrel server on 127.0.0.1 with a random free port, and an HttpClient for it.</summary>
internal sealed class ServerHost : IAsyncDisposable
{
    private ServerHost(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }
    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    public ModelHost Host => App.Services.GetRequiredService<ModelHost>();

    public static async Task<ServerHost> StartAsync(IEmbeddingBackend backend, Action<EmbeddingServerOptions>? configure = null,
        BackendLoader? loader = null, string[]? args = null, bool waitReady = true, Action<WebApplicationBuilder>? configureBuilder = null)
    {
        var builder = EmbeddingServer.CreateBuilder(args ?? [], configure, loader ?? ((_, _) => backend));
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        configureBuilder?.Invoke(builder);
        var app = builder.Build();
        app.MapEmbeddingGemma();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var host = new ServerHost(app, new Uri(address));
        if (waitReady)
        {
            try
            {
                await host.Host.Loaded.WaitAsync(TimeSpan.FromSeconds(60));
            }
            catch
            {
                await host.DisposeAsync();
                throw;
            }
        }
        return host;
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, string? apiKey = null, CancellationToken ct = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        return Client.SendAsync(request, ct);
    }

    /// <summary>POSTs raw bytes with the given Content-Type header value (null: no Content-Type).</summary>
    public Task<HttpResponseMessage> PostBytesAsync(string path, byte[] body, string? contentType, CancellationToken ct = default)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        return Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = content }, ct);
    }

    public Task<HttpResponseMessage> PostAsync(string path, object body, string? apiKey = null, CancellationToken ct = default)
        => PostJsonAsync(path, JsonSerializer.Serialize(body), apiKey, ct);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await App.StopAsync(cts.Token);
        }
        await App.DisposeAsync();
    }
}

/// <summary>Collects log entries (tests assert what is, and is not, logged).</summary>
internal sealed class ListLoggerProvider : ILoggerProvider
{
    public System.Collections.Concurrent.ConcurrentQueue<(LogLevel Level, string Category, string Message, Exception? Exception)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new ListLogger(this, categoryName);

    public void Dispose() { }

    private sealed class ListLogger(ListLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner.Entries.Enqueue((logLevel, category, formatter(state, exception), exception));
    }
}

internal static class Json
{
    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    public static float[] Floats(JsonElement array) => array.EnumerateArray().Select(e => e.GetSingle()).ToArray();

    public static float[] FromBase64(string s)
    {
        var bytes = Convert.FromBase64String(s);
        var v = new float[bytes.Length / 4];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        }
        return v;
    }
}
