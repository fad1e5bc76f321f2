// Server benchmark: HTTP throughput at saturation vs in-process Encode on the same texts, latency percentiles,
// and RSS over a soak. Usage (from the repository root):
//   dotnet run --project bench/ServerBench -c Release -- [--model DIR|FILE.gguf] [--shape tiny|full] [--texts 256]
//       [--clients 32] [--per-request 4] [--max-chars 200] [--soak-seconds 20]   (--soak-seconds 300 for the 5-minute soak)
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

string? modelPath = Arg("--model");
string shape = Arg("--shape") ?? "tiny";
int textCount = int.Parse(Arg("--texts") ?? "256", System.Globalization.CultureInfo.InvariantCulture);
int clients = int.Parse(Arg("--clients") ?? "32", System.Globalization.CultureInfo.InvariantCulture);
int perRequest = int.Parse(Arg("--per-request") ?? "4", System.Globalization.CultureInfo.InvariantCulture);
int soakSeconds = int.Parse(Arg("--soak-seconds") ?? "20", System.Globalization.CultureInfo.InvariantCulture);
int maxChars = int.Parse(Arg("--max-chars") ?? "200", System.Globalization.CultureInfo.InvariantCulture);

string repo = FindRepo();
if (modelPath is null)
{
    modelPath = Path.Combine(Path.GetTempPath(), $"embeddinggemma-serverbench-{shape}");
    if (!File.Exists(Path.Combine(modelPath, "config.json")))
    {
        Console.Error.WriteLine($"writing a random '{shape}' model to {modelPath} ...");
        RandomModel.Create(shape, 42).WriteHuggingFaceFolder(modelPath);
    }
}
var texts = LoadTexts(repo, textCount, maxChars);
Console.Error.WriteLine($"model {modelPath}; {texts.Count} texts ({texts.Average(t => t.Length):F0} chars on average); {clients} clients x {perRequest} texts per request; {Environment.ProcessorCount} logical CPUs");

using var model = EmbeddingGemmaModel.Load(modelPath);
var options = new EncodeOptions { PromptName = "document", BatchSize = 32 };

// ---- server in this process (same engine code), on a free port
var builder = EmbeddingServer.CreateBuilder([], o => { o.Model = modelPath; o.MaxQueuedInputs = 4096; o.MaxInputsPerRequest = 256; });
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Logging.ClearProviders();
await using var app = builder.Build();
app.MapEmbeddingGemma();
await app.StartAsync();
var host = app.Services.GetRequiredService<EmbeddingGemma.Server.Core.ModelHost>();
await host.Loaded;
var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients * 2 }) { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(10) };

// ---- warm-up both paths (JIT, tokenizer caches) and check equality on a sample
var sample = texts.Take(8).ToArray();
var inProcessSample = model.Encode(sample, options);
var httpSample = await EmbedAsync(http, sample);
for (int i = 0; i < sample.Length; i++)
{
    if (!inProcessSample[i].AsSpan().SequenceEqual(httpSample[i]))
    {
        throw new InvalidOperationException($"HTTP result {i} differs from in-process Encode");
    }
}
Console.Error.WriteLine("warm-up done; HTTP == in-process on the sample");

// ---- in-process: the same texts, one Encode call with batch size 32
var sw = Stopwatch.StartNew();
_ = model.Encode(texts, options);
double inProcessSeconds = sw.Elapsed.TotalSeconds;
double inProcessRate = texts.Count / inProcessSeconds;
Console.Error.WriteLine($"in-process: {inProcessRate:F1} texts/s");

// ---- HTTP at saturation: the same texts, split into requests, sent by concurrent clients
var requests = texts.Chunk(perRequest).ToArray();
var (httpSeconds, latencies) = await RunAllAsync(http, requests, clients);
double httpRate = texts.Count / httpSeconds;
Array.Sort(latencies);
Console.Error.WriteLine($"HTTP: {httpRate:F1} texts/s");

// ---- soak: keep the server saturated and watch RSS
var rss = new List<(double T, double Mb)>();
var soakWatch = Stopwatch.StartNew();
using var soakStop = new CancellationTokenSource(TimeSpan.FromSeconds(soakSeconds));
long soakRequests = 0;
var soakClients = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
{
    int i = c;
    while (!soakStop.IsCancellationRequested)
    {
        try
        {
            await EmbedAsync(http, requests[i % requests.Length], soakStop.Token);
            Interlocked.Increment(ref soakRequests);
        }
        catch (OperationCanceledException)
        {
        }
        i += clients;
    }
})).ToArray();
var sampler = Task.Run(async () =>
{
    var p = Process.GetCurrentProcess();
    while (!soakStop.IsCancellationRequested)
    {
        p.Refresh();
        rss.Add((soakWatch.Elapsed.TotalSeconds, p.WorkingSet64 / 1048576.0));
        try { await Task.Delay(1000, soakStop.Token); } catch (OperationCanceledException) { }
    }
});
await Task.WhenAll(soakClients);
await sampler;
await app.StopAsync();

double Pct(double p) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(p * latencies.Length) - 1)];
var half = rss.Where(r => r.T >= soakSeconds / 2.0).ToList();
double slope = half.Count > 1 ? (half[^1].Mb - half[0].Mb) / ((half[^1].T - half[0].T) / 60.0) : 0;
Console.WriteLine();
Console.WriteLine($"| measure | value |");
Console.WriteLine($"|---|---|");
Console.WriteLine($"| model | {Path.GetFileName(modelPath.TrimEnd('/'))} (hidden {model.Dimensions}, {model.Config.NumHiddenLayers} layers) |");
Console.WriteLine($"| work | {texts.Count} texts, {texts.Average(t => t.Length):F0} chars avg, prompt `document` |");
Console.WriteLine($"| in-process Encode (batch 32) | {inProcessRate:F1} texts/s ({inProcessSeconds:F2} s) |");
Console.WriteLine($"| HTTP /v1/embeddings, {clients} clients x {perRequest} texts | {httpRate:F1} texts/s ({httpSeconds:F2} s) |");
Console.WriteLine($"| HTTP / in-process | {httpRate / inProcessRate * 100:F0}% |");
Console.WriteLine($"| request latency p50 / p99 under that load | {Pct(0.50) * 1000:F0} ms / {Pct(0.99) * 1000:F0} ms |");
Console.WriteLine($"| soak {soakSeconds} s: requests | {soakRequests} |");
Console.WriteLine($"| soak RSS start / max / end | {rss[0].Mb:F0} / {rss.Max(r => r.Mb):F0} / {rss[^1].Mb:F0} MiB |");
Console.WriteLine($"| soak RSS slope over the second half | {slope:F1} MiB/min |");
return 0;

static async Task<float[][]> EmbedAsync(HttpClient http, string[] batch, CancellationToken ct = default)
{
    using var response = await http.PostAsJsonAsync("/v1/embeddings", new { input = batch, model = "m", prompt_name = "document", encoding_format = "base64" }, ct);
    response.EnsureSuccessStatusCode();
    using var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), default, ct);
    return doc.RootElement.GetProperty("data").EnumerateArray().Select(d =>
    {
        var bytes = Convert.FromBase64String(d.GetProperty("embedding").GetString()!);
        var v = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, v, 0, bytes.Length);
        return v;
    }).ToArray();
}

static async Task<(double Seconds, double[] Latencies)> RunAllAsync(HttpClient http, string[][] requests, int clients)
{
    var latencies = new double[requests.Length];
    int next = -1;
    var sw = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < requests.Length)
        {
            long t0 = Stopwatch.GetTimestamp();
            await EmbedAsync(http, requests[i]);
            latencies[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
    })));
    return (sw.Elapsed.TotalSeconds, latencies);
}

static List<string> LoadTexts(string repo, int count, int maxChars)
{
    // State of the Union paragraphs (tests/data/sotu_small), cut into pieces of 1..6 sentences: mixed lengths.
    var rng = new Random(7);
    var sentences = new List<string>();
    foreach (var line in File.ReadLines(Path.Combine(repo, "tests", "data", "sotu_small", "corpus.jsonl")))
    {
        using var doc = JsonDocument.Parse(line);
        sentences.AddRange(doc.RootElement.GetProperty("text").GetString()!.Split(". ", StringSplitOptions.RemoveEmptyEntries));
    }
    var texts = new List<string>(count);
    int at = 0;
    while (texts.Count < count)
    {
        int n = rng.Next(1, 7);
        var text = string.Join(". ", Enumerable.Range(0, n).Select(k => sentences[(at + k) % sentences.Count])) + ".";
        texts.Add(text.Length > maxChars ? text[..maxChars] : text);
        at += n;
    }
    return texts;
}

static string FindRepo()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "global.json")))
    {
        dir = dir.Parent;
    }
    return dir?.FullName ?? Directory.GetCurrentDirectory();
}

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
