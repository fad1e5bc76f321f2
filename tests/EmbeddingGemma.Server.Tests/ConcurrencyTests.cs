using System.Collections.Concurrent;
using System.Text.Json;

namespace EmbeddingGemma.Server.Tests;

/// <summary>
/// 64 concurrent clients, mixed lengths, contracts and options, for a bounded time (3 s). The queue is small on
/// purpose so back-pressure shows: every response must be either correct (compared with in-process results) or an
/// intended 429 with Retry-After; nothing else.
/// </summary>
public sealed class ConcurrencyTests
{
    [Fact]
    public async Task Sixty_four_clients_get_correct_results_or_intended_429s()
    {
        using var backend = new FakeBackend { MicrosecondsPerToken = 2 };
        await RunAsync(backend, (t, p, d) => backend.Expected(t, p, dimensions: d), [null, 512, 128, 768], 200, () => backend.BatchSizes.ToArray());
    }

    [Fact]
    public async Task Sixty_four_clients_on_the_tiny_real_model_get_in_process_results()
    {
        var tiny = EmbeddingGemma.Testing.TinyModels.Default;
        using var reference = EmbeddingGemma.Embeddings.EmbeddingGemmaModel.Load(tiny.Folder);
        var cache = new ConcurrentDictionary<(string, string?, int?), float[]>();
        var lockObj = new object();
        float[] Expected(string text, string? prompt, int? dims) => cache.GetOrAdd((text, prompt, dims), _ =>
        {
            lock (lockObj)
            {
                return reference.Encode(text, new EmbeddingGemma.Embeddings.EncodeOptions { PromptName = prompt, Dimensions = dims });
            }
        });
        using var backend = Engine.EmbeddingGemmaBackend.Load(tiny.Folder);
        await RunAsync(backend, Expected, [null, 32, 16], 24, null, queued: 16, maxInputs: 1, seconds: 1);
    }

    private static async Task RunAsync(Engine.IEmbeddingBackend backend, Func<string, string?, int?, float[]> expected, int?[] dimChoices, int maxChars, Func<int[]>? batchSizes, int queued = 48, int clients = 64, int maxInputs = 8, double seconds = 3)
    {
        await using var s = await ServerHost.StartAsync(backend, o => { o.MaxQueuedInputs = queued; o.MaxInputsPerRequest = 8; o.MaxBatchTokens = 512; });
        int clientCount = clients;
        var until = DateTime.UtcNow.AddSeconds(seconds);
        var hardStop = DateTime.UtcNow.AddSeconds(120); // a client keeps going past the run time only until its first success
        var perClient = new int[clientCount];
        int ok = 0, overloaded = 0;
        var failures = new ConcurrentQueue<string>();
        var tasks = Enumerable.Range(0, clientCount).Select(c => Task.Run(async () =>
        {
            var rng = new Random(1000 + c);
            while ((DateTime.UtcNow < until || perClient[c] == 0) && DateTime.UtcNow < hardStop)
            {
                int n = rng.Next(1, maxInputs + 1);
                var texts = Enumerable.Range(0, n).Select(_ => RandomText(rng, maxChars)).ToArray();
                int? dims = dimChoices[rng.Next(dimChoices.Length)];
                int contract = rng.Next(4);
                string path = contract < 2 ? "/embed" : "/v1/embeddings";
                object body = contract switch
                {
                    0 => new { texts, task_type = "retrieval_query", dimensions = dims },
                    1 => new { inputs = texts, dimensions = dims },
                    2 => new { input = texts, model = "m", dimensions = dims, encoding_format = "float" },
                    _ => new { input = texts, model = "m", dimensions = dims, encoding_format = "base64" },
                };
                try
                {
                    var r = await s.PostAsync(path, body);
                    int status = (int)r.StatusCode;
                    if (status == 429)
                    {
                        if (!r.Headers.Contains("Retry-After"))
                        {
                            failures.Enqueue("429 without Retry-After");
                        }
                        Interlocked.Increment(ref overloaded);
                        await Task.Delay(rng.Next(20, 100)); // back off like a polite client (Retry-After is 1 s; shorter keeps the test brief)
                        continue;
                    }
                    if (status != 200)
                    {
                        failures.Enqueue($"status {status}: {await r.Content.ReadAsStringAsync()}");
                        continue;
                    }
                    var json = await Json.ReadAsync(r);
                    var vectors = contract switch
                    {
                        0 => json.GetProperty("embeddings").EnumerateArray().Select(Json.Floats).ToArray(),
                        1 => json.EnumerateArray().Select(Json.Floats).ToArray(),
                        2 => json.GetProperty("data").EnumerateArray().Select(d => Json.Floats(d.GetProperty("embedding"))).ToArray(),
                        _ => json.GetProperty("data").EnumerateArray().Select(d => Json.FromBase64(d.GetProperty("embedding").GetString()!)).ToArray(),
                    };
                    string? prompt = contract == 0 ? "retrieval_query" : null;
                    for (int i = 0; i < n; i++)
                    {
                        if (!vectors[i].SequenceEqual(expected(texts[i], prompt, dims)))
                        {
                            failures.Enqueue($"client {c}: wrong vector for input {i} (contract {contract})");
                        }
                    }
                    if (vectors.Length != n)
                    {
                        failures.Enqueue($"client {c}: {vectors.Length} vectors for {n} inputs");
                    }
                    Interlocked.Increment(ref ok);
                    perClient[c]++;
                }
                catch (HttpRequestException e)
                {
                    failures.Enqueue($"client {c}: {e.Message}");
                }
            }
        })).ToArray();
        await Task.WhenAll(tasks);

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(10)));
        Assert.True(perClient.All(n => n > 0), $"clients without a success: {perClient.Count(n => n == 0)} ({ok} ok, {overloaded} x 429)");
        Assert.Equal(0, s.Host.Scheduler!.Pending); // nothing leaked
        if (batchSizes is not null)
        {
            var sizes = batchSizes();
            Assert.Contains(sizes, size => size > 8); // inputs of different requests were batched together
            Console.WriteLine($"concurrency: {ok} ok, {overloaded} x 429, {sizes.Length} batches, max batch {sizes.Max()}");
        }
        else
        {
            Console.WriteLine($"concurrency (tiny model): {ok} ok, {overloaded} x 429, {s.Host.Scheduler!.BatchesRun} batches");
        }
    }

    private static string RandomText(Random rng, int maxChars)
    {
        int len = rng.Next(4) == 0 ? rng.Next(maxChars / 2, maxChars) : rng.Next(1, Math.Min(40, maxChars)); // fake model: some exceed its 64-token limit
        var chars = new char[len];
        for (int i = 0; i < len; i++)
        {
            chars[i] = rng.Next(10) == 0 ? ' ' : (char)rng.Next('a', 'z' + 1);
        }
        chars[0] = 'x';
        return new string(chars);
    }
}
