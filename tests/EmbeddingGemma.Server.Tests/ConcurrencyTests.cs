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
        await using var s = await ServerHost.StartAsync(backend, o => { o.MaxQueuedInputs = 48; o.MaxInputsPerRequest = 8; o.MaxBatchTokens = 512; });
        const int Clients = 64;
        var until = DateTime.UtcNow.AddSeconds(3);
        var hardStop = DateTime.UtcNow.AddSeconds(60); // a client keeps going past 3 s only until its first success
        var perClient = new int[Clients];
        int ok = 0, overloaded = 0;
        var failures = new ConcurrentQueue<string>();
        var clients = Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            var rng = new Random(1000 + c);
            while ((DateTime.UtcNow < until || perClient[c] == 0) && DateTime.UtcNow < hardStop)
            {
                int n = rng.Next(1, 9);
                var texts = Enumerable.Range(0, n).Select(_ => RandomText(rng)).ToArray();
                int? dims = rng.Next(4) switch { 0 => null, 1 => 512, 2 => 128, _ => 768 };
                int contract = rng.Next(4);
                string path = contract < 2 ? "/embed" : "/v1/embeddings";
                object body = contract switch
                {
                    0 => new { texts, task_type = "retrieval_query", dimensions = dims ?? 768 },
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
                        await Task.Delay(rng.Next(1, 20));
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
                        if (!vectors[i].SequenceEqual(backend.Expected(texts[i], prompt, dimensions: dims)))
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
        await Task.WhenAll(clients);

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(10)));
        Assert.True(perClient.All(n => n > 0), $"clients without a success: {perClient.Count(n => n == 0)} ({ok} ok, {overloaded} x 429)");
        Assert.Equal(0, s.Host.Scheduler!.Pending); // nothing leaked
        Assert.Contains(backend.BatchSizes, size => size > 8); // requests were batched together
        Console.WriteLine($"concurrency: {ok} ok, {overloaded} x 429, {backend.BatchSizes.Count} batches, max batch {backend.BatchSizes.Max()}");
    }

    private static string RandomText(Random rng)
    {
        int len = rng.Next(4) == 0 ? rng.Next(60, 200) : rng.Next(1, 40); // some exceed the 64-token limit: truncated
        var chars = new char[len];
        for (int i = 0; i < len; i++)
        {
            chars[i] = rng.Next(10) == 0 ? ' ' : (char)rng.Next('a', 'z' + 1);
        }
        chars[0] = 'x';
        return new string(chars);
    }
}
