using System.Net.Http.Headers;
using System.Text.Json;
using EmbeddingGemma.Server.Core;

namespace EmbeddingGemma.Server.Tests;

/// <summary>Loading, back-pressure, dynamic batching, disconnects, graceful drain, CORS and settings.</summary>
public sealed class BehaviourTests
{
    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Health_is_503_while_loading_then_200()
    {
        using var loadGate = new SemaphoreSlim(0);
        using var backend = new FakeBackend();
        await using var s = await ServerHost.StartAsync(backend, loader: (_, ct) => { loadGate.Wait(ct); return backend; }, waitReady: false);

        var health = await s.Client.GetAsync("/health");
        Assert.Equal(503, (int)health.StatusCode);
        Assert.Equal("1", health.Headers.GetValues("Retry-After").Single());
        var hb = await Json.ReadAsync(health);
        Assert.Equal("loading", hb.GetProperty("status").GetString());
        Assert.False(hb.GetProperty("model_loaded").GetBoolean());

        var embed = await s.PostAsync("/embed", new { inputs = "x" });
        Assert.Equal(503, (int)embed.StatusCode);
        Assert.Equal("unhealthy", (await Json.ReadAsync(embed)).GetProperty("error_type").GetString());
        var v1 = await s.PostAsync("/v1/embeddings", new { input = "x" });
        Assert.Equal(503, (int)v1.StatusCode);
        Assert.Equal("unavailable_error", (await Json.ReadAsync(v1)).GetProperty("error").GetProperty("type").GetString());

        loadGate.Release();
        await s.Host.Loaded.WaitAsync(TimeSpan.FromSeconds(20));
        var ready = await s.Client.GetAsync("/health");
        Assert.Equal(200, (int)ready.StatusCode);
        Assert.True((await Json.ReadAsync(ready)).GetProperty("model_loaded").GetBoolean());
        Assert.Equal(200, (int)(await s.PostAsync("/embed", new { inputs = "x" })).StatusCode);
    }

    [Fact]
    public async Task A_failed_load_is_reported_by_health_and_requests()
    {
        using var backend = new FakeBackend();
        await using var s = await ServerHost.StartAsync(backend,
            loader: (_, _) => throw new EmbeddingGemmaException(ErrorKind.NotFound, "Model folder /nowhere does not exist."), waitReady: false);
        await WaitUntil(() => s.Host.State == ModelState.Failed, "the load to fail");
        var health = await s.Client.GetAsync("/health");
        Assert.Equal(503, (int)health.StatusCode);
        var hb = await Json.ReadAsync(health);
        Assert.Equal("failed", hb.GetProperty("status").GetString());
        Assert.Contains("/nowhere", hb.GetProperty("error").GetString(), StringComparison.Ordinal);
        var embed = await s.PostAsync("/embed", new { inputs = "x" });
        Assert.Equal(503, (int)embed.StatusCode);
        Assert.Contains("failed to load", (await Json.ReadAsync(embed)).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Full_queue_answers_429_with_retry_after()
    {
        using var backend = new FakeBackend { Gate = new SemaphoreSlim(0) };
        await using var s = await ServerHost.StartAsync(backend, o => { o.MaxQueuedInputs = 4; o.MaxInputsPerRequest = 4; o.RetryAfterSeconds = 2; });
        var a = s.PostAsync("/embed", new { inputs = new[] { "a1", "a2" } });
        await backend.BatchStarted.WaitAsync(TimeSpan.FromSeconds(20));
        var b = s.PostAsync("/embed", new { inputs = new[] { "b1", "b2" } });
        await WaitUntil(() => s.Host.Scheduler!.Pending == 4, "4 pending inputs");

        var native = await s.PostAsync("/embed", new { inputs = "c" });
        Assert.Equal(429, (int)native.StatusCode);
        Assert.Equal("2", native.Headers.GetValues("Retry-After").Single());
        var nb = await Json.ReadAsync(native);
        Assert.Equal("overloaded", nb.GetProperty("error_type").GetString());
        Assert.Contains("overloaded", nb.GetProperty("error").GetString(), StringComparison.Ordinal);
        var openai = await s.PostAsync("/v1/embeddings", new { input = "c" });
        Assert.Equal(429, (int)openai.StatusCode);
        Assert.Equal("rate_limit_error", (await Json.ReadAsync(openai)).GetProperty("error").GetProperty("type").GetString());

        backend.Gate.Release(100);
        Assert.Equal(200, (int)(await a).StatusCode);
        var bBody = await Json.ReadAsync(await b);
        Assert.Equal(backend.Expected("b2"), Json.Floats(bBody[1]));
        Assert.Equal(200, (int)(await s.PostAsync("/embed", new { inputs = "c" })).StatusCode);
    }

    [Fact]
    public async Task Concurrent_requests_share_batches_within_the_token_budget()
    {
        using var backend = new FakeBackend { Gate = new SemaphoreSlim(0) };
        await using var s = await ServerHost.StartAsync(backend, o => o.MaxBatchTokens = 20);
        var first = s.PostAsync("/embed", new { inputs = "first" });
        await backend.BatchStarted.WaitAsync(TimeSpan.FromSeconds(20));
        // three requests of 8 tokens each (<bos> + 6 characters + <eos>) wait while the first batch is held
        var queued = new List<Task<HttpResponseMessage>>();
        foreach (var text in new[] { "bbbbbb", "cccccc", "dddddd" })
        {
            queued.Add(s.PostAsync("/embed", new { inputs = text }));
            int n = queued.Count;
            await WaitUntil(() => s.Host.Scheduler!.Pending == 1 + n, $"{1 + n} pending");
        }
        backend.Gate.Release(100);
        Assert.Equal(200, (int)(await first).StatusCode);
        foreach (var (t, text) in queued.Zip(new[] { "bbbbbb", "cccccc", "dddddd" }))
        {
            Assert.Equal(backend.Expected(text), Json.Floats((await Json.ReadAsync(await t))[0]));
        }
        // 8 + 8 fits the 20-token budget, a third would not: batches of 1 (held), 2, then 1
        Assert.Equal([1, 2, 1], backend.BatchSizes.ToArray());
    }

    [Fact]
    public async Task A_client_that_disconnects_frees_its_queued_work()
    {
        using var backend = new FakeBackend { Gate = new SemaphoreSlim(0) };
        await using var s = await ServerHost.StartAsync(backend);
        var a = s.PostAsync("/embed", new { inputs = "held" });
        await backend.BatchStarted.WaitAsync(TimeSpan.FromSeconds(20));

        using var cts = new CancellationTokenSource();
        var b = s.PostAsync("/embed", new { inputs = new[] { "gone-1", "gone-2" } }, ct: cts.Token);
        await WaitUntil(() => s.Host.Scheduler!.Pending == 3, "3 pending inputs");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b);
        await WaitUntil(() => s.Host.Scheduler!.Pending == 1, "the disconnected client's inputs to leave the queue");

        backend.Gate.Release(100);
        Assert.Equal(200, (int)(await a).StatusCode);
        Assert.Equal(200, (int)(await s.PostAsync("/embed", new { inputs = "after" })).StatusCode); // FIFO: runs after anything left
        var goneIds = backend.Tokenize("gone-1", new()).Ids;
        Assert.DoesNotContain(backend.Embedded, ids => ids.SequenceEqual(goneIds));
        Assert.Equal(2, backend.Embedded.Count);
        Assert.Contains("embeddinggemma_dropped_inputs_total 2", await s.Client.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shutdown_drains_requests_in_flight()
    {
        using var backend = new FakeBackend { Gate = new SemaphoreSlim(0) };
        var s = await ServerHost.StartAsync(backend);
        var a = s.PostAsync("/embed", new { inputs = "running" });
        await backend.BatchStarted.WaitAsync(TimeSpan.FromSeconds(20));
        var b = s.PostAsync("/v1/embeddings", new { input = "queued" });
        await WaitUntil(() => s.Host.Scheduler!.Pending == 2, "2 pending inputs");

        var stop = s.App.StopAsync();
        await WaitUntil(() => s.Host.State == ModelState.Stopping, "stopping");
        Assert.False(stop.IsCompleted);
        backend.Gate.Release(100);
        var ra = await a;
        Assert.Equal(200, (int)ra.StatusCode);
        Assert.Equal(backend.Expected("running"), Json.Floats((await Json.ReadAsync(ra))[0]));
        var rb = await b;
        Assert.Equal(200, (int)rb.StatusCode);
        Assert.Equal(backend.Expected("queued"), Json.Floats((await Json.ReadAsync(rb)).GetProperty("data")[0].GetProperty("embedding")));
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, s.Host.ActiveRequests);
        await s.DisposeAsync();
    }

    [Fact]
    public async Task Cors_is_off_by_default_and_allows_configured_origins_with_authorization()
    {
        using var backend = new FakeBackend();
        await using (var plain = await ServerHost.StartAsync(backend))
        {
            var r = await plain.Client.SendAsync(Preflight("https://app.example"));
            Assert.False(r.Headers.Contains("Access-Control-Allow-Origin"));
        }
        using var backend2 = new FakeBackend(); // the first server disposed its engine on shutdown
        await using var s = await ServerHost.StartAsync(backend2, o => { o.CorsOrigins.Add("https://app.example"); o.ApiKey = "k"; });
        var ok = await s.Client.SendAsync(Preflight("https://app.example"));
        Assert.Equal(204, (int)ok.StatusCode);
        Assert.Equal("https://app.example", ok.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("authorization", string.Join(",", ok.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant(), StringComparison.Ordinal);
        var other = await s.Client.SendAsync(Preflight("https://evil.example"));
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));

        var post = new HttpRequestMessage(HttpMethod.Post, "/embed") { Content = new StringContent("{\"inputs\":\"x\"}", System.Text.Encoding.UTF8, "application/json") };
        post.Headers.Add("Origin", "https://app.example");
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "k");
        var pr = await s.Client.SendAsync(post);
        Assert.True(200 == (int)pr.StatusCode, await pr.Content.ReadAsStringAsync());
        Assert.Equal("https://app.example", pr.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    private static HttpRequestMessage Preflight(string origin)
    {
        var m = new HttpRequestMessage(HttpMethod.Options, "/v1/embeddings");
        m.Headers.Add("Origin", origin);
        m.Headers.Add("Access-Control-Request-Method", "POST");
        m.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return m;
    }

    [Fact]
    public async Task Settings_come_from_configuration_arguments()
    {
        using var backend = new FakeBackend();
        await using var s = await ServerHost.StartAsync(backend, args: ["--EmbeddingGemma:MaxInputsPerRequest=2", "--EmbeddingGemma:ServedModelName=my-gemma", "--EmbeddingGemma:DefaultPromptName=query"]);
        var tooMany = await s.PostAsync("/embed", new { inputs = new[] { "a", "b", "c" } });
        Assert.Equal(413, (int)tooMany.StatusCode);
        var ok = await Json.ReadAsync(await s.PostAsync("/embed", new { texts = new[] { "a" } }));
        Assert.Equal("my-gemma", ok.GetProperty("model").GetString());
        Assert.Equal(backend.Expected("a", "query"), Json.Floats(ok.GetProperty("embeddings")[0])); // default prompt applied
        var info = await Json.ReadAsync(await s.Client.GetAsync("/info"));
        Assert.Equal(2, info.GetProperty("limits").GetProperty("max_inputs_per_request").GetInt32());
        Assert.Equal("query", info.GetProperty("default_prompt_name").GetString());
    }

    [Fact]
    public void Invalid_settings_are_refused_with_the_field_name()
    {
        var o = new EmbeddingServerOptions { MaxInputsPerRequest = 10, MaxQueuedInputs = 5 };
        var e = Assert.Throws<EmbeddingGemmaException>(o.Validate);
        Assert.Contains("MaxInputsPerRequest", e.Message, StringComparison.Ordinal);
        var z = Assert.Throws<EmbeddingGemmaException>(new EmbeddingServerOptions { MaxBatchTokens = 0 }.Validate);
        Assert.Contains("MaxBatchTokens", z.Message, StringComparison.Ordinal);
    }
}
