using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using EmbeddingGemma.LoadFault;

// Load-and-fault client for a running `embeddinggemma serve` on 127.0.0.1 (bench/load-fault.sh starts the server).
// Phases (each bounded in time and request count): capacity (closed loop), constant rate at 1x and 2x capacity (open
// loop, latency from the scheduled send time), mixed valid/invalid, slow clients, disconnects, maximum-size bodies,
// SIGTERM under load. Prints throughput, p50/p99, counts per status, RSS over time and drained vs dropped requests.
var o = Options.Parse(args);
var uri = new Uri(o.Url);
if (!uri.IsLoopback)
{
    Console.Error.WriteLine("load-fault: the server must be on 127.0.0.1 / localhost.");
    return 2;
}
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, ConnectTimeout = TimeSpan.FromSeconds(5), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
{
    BaseAddress = uri,
    Timeout = TimeSpan.FromSeconds(60),
};
var log = new ConcurrentBag<Rec>();
var clock = Stopwatch.StartNew();
var phase = "start";
var rss = new ConcurrentQueue<(double T, long Kb, string Phase)>();
using var stopRss = new CancellationTokenSource();
var rssTask = Task.Run(async () =>
{
    while (!stopRss.IsCancellationRequested)
    {
        if (Rss.ReadKb(o.Pid) is long kb)
        {
            rss.Enqueue((clock.Elapsed.TotalSeconds, kb, phase));
        }
        try
        {
            await Task.Delay(250, stopRss.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }
});

Console.WriteLine($"load-fault: {o.Url}, server pid {o.Pid}, {o.Seconds} s per phase, max body {o.MaxBody} bytes, {Environment.ProcessorCount} cores");
await Wait200(http);

// ---- 0. warm-up (JIT, tiered compilation; not reported), then 1. capacity: closed loop, 16 clients, valid
// /v1/embeddings with 4 short texts each
phase = "warm-up";
await ClosedLoop(phase, 16, Math.Max(3, o.Seconds / 2));
phase = "capacity";
await ClosedLoop(phase, 16, o.Seconds);
double capacity = Math.Max(1, Count(phase, 200) / (double)o.Seconds);

// ---- 2. constant rate at and above capacity (open loop)
phase = "rate-1x";
await OpenLoop(phase, capacity, o.Seconds, _ => Kind.Valid);
phase = "rate-2x";
await OpenLoop(phase, 2 * capacity, o.Seconds, _ => Kind.Valid);

// ---- 3. mixed valid and invalid at half capacity
phase = "mixed";
Kind[] mix = [Kind.Valid, Kind.Valid, Kind.Valid, Kind.Valid, Kind.BadJson, Kind.WrongContentType, Kind.Oversized, Kind.InvalidUtf8, Kind.Surrogate, Kind.EmptyInput];
await OpenLoop(phase, capacity / 2, o.Seconds, i => mix[i % mix.Length]);

// ---- 4. slow clients (bodies at 1 byte/s) while valid traffic runs at half capacity
phase = "slow-clients";
var slow = Enumerable.Range(0, 8).Select(_ => SlowClient(o.Seconds + 15)).ToArray();
await OpenLoop(phase, capacity / 2, o.Seconds, _ => Kind.Valid);
foreach (var (status, ms) in await Task.WhenAll(slow))
{
    log.Add(new Rec(phase, Kind.SlowBody, status, ms, 0));
}

// ---- 5. disconnects: full requests abandoned before the answer, bodies cut halfway, while valid traffic runs
phase = "disconnects";
var cuts = Enumerable.Range(0, 60).Select(i => Disconnect(i % 2 == 0, i * 1000 * o.Seconds / 60)).ToArray();
await OpenLoop(phase, capacity / 2, o.Seconds, _ => Kind.Valid);
await Task.WhenAll(cuts);
var after = await Send(Kind.Valid);
Console.WriteLine($"after disconnects: a valid request -> {after.Status}");

// ---- 6. maximum-size bodies: 3 waves of 32 concurrent bodies of exactly the limit
phase = "max-size";
for (int wave = 0; wave < 3; wave++)
{
    await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Fire(phase, Kind.MaxSize, clock.Elapsed.TotalMilliseconds)));
}

// ---- 7. SIGTERM under load: requests of 64 texts (16x the usual) at 1.5x capacity in texts, so a queue builds;
// SIGTERM after 3 s, load offered for 3 s more
phase = "sigterm";
double heavyRate = 1.5 * capacity * 4 / 64;
double sigtermAt = double.NaN;
var killer = Task.Run(async () =>
{
    await Task.Delay(3000);
    sigtermAt = clock.Elapsed.TotalMilliseconds;
    Rss.Kill(o.Pid, 15);
});
await OpenLoop(phase, heavyRate, 6, _ => Kind.Heavy);
await killer;
stopRss.Cancel();
await rssTask;

// ---------------------------------------------------------------- report
Console.WriteLine();
Console.WriteLine("| phase | offered | requests | 2xx/s | p50 ms | p99 ms | statuses |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (var p in log.Select(r => r.Phase).Where(p => p != "warm-up").Distinct().OrderBy(PhaseOrder))
{
    var rs = log.Where(r => r.Phase == p).ToList();
    var ok = rs.Where(r => r.Status is >= 200 and < 300).Select(r => r.Ms).Order().ToList();
    double span = p switch { "capacity" or "rate-1x" or "rate-2x" or "mixed" or "slow-clients" or "disconnects" => o.Seconds, "sigterm" => 6, _ => double.NaN };
    string offered = p switch
    {
        "capacity" => "closed loop, 16 clients",
        "rate-1x" => $"{capacity:F1} req/s",
        "rate-2x" => $"{2 * capacity:F1} req/s",
        "mixed" or "slow-clients" or "disconnects" => $"{capacity / 2:F1} req/s",
        "sigterm" => $"{1.5 * capacity * 4 / 64:F1} req/s of 64 texts",
        _ => "3 x 32 concurrent",
    };
    Console.WriteLine($"| {p} | {offered} | {rs.Count} | {(double.IsNaN(span) ? "-" : (ok.Count / span).ToString("F1", CultureInfo.InvariantCulture))} | {Pct(ok, 0.5)} | {Pct(ok, 0.99)} | {Statuses(rs)} |");
}
Console.WriteLine();
Console.WriteLine("mixed phase, by request kind (expected: valid 200, bad JSON 400, wrong Content-Type 415, oversized 413, invalid UTF-8 400, unpaired surrogate 400, empty input 400):");
foreach (var g in log.Where(r => r.Phase == "mixed").GroupBy(r => r.Kind).OrderBy(g => g.Key))
{
    Console.WriteLine($"  {g.Key,-18} {Statuses(g.ToList())}");
}
Console.WriteLine($"slow clients (8, Content-Length 1000 sent at 1 byte/s): {Statuses(log.Where(r => r.Kind == Kind.SlowBody).ToList())}, answered after {Pct(log.Where(r => r.Kind == Kind.SlowBody).Select(r => r.Ms).Order().ToList(), 0.5)} ms (median)");
Console.WriteLine($"disconnects: {cuts.Length} (half: full request then close before the answer; half: body cut halfway)");
Console.WriteLine();
var sig = log.Where(r => r.Phase == "sigterm").ToList();
var before = sig.Where(r => r.Sent < sigtermAt).ToList();
var afterSig = sig.Where(r => r.Sent >= sigtermAt).ToList();
Console.WriteLine($"SIGTERM at t={sigtermAt / 1000:F1} s under {1.5 * capacity * 4 / 64:F2} req/s of 64 texts (1.5x capacity in texts):");
Console.WriteLine($"  sent before SIGTERM: {before.Count}: drained (answered 200 after SIGTERM) {before.Count(r => r.Status == 200 && r.Sent + r.Ms >= sigtermAt)}, answered 200 before it {before.Count(r => r.Status == 200 && r.Sent + r.Ms < sigtermAt)}, 503 {before.Count(r => r.Status == 503)}, dropped (connection error/reset) {before.Count(r => r.Status == 0)}, timeouts {before.Count(r => r.Status == -1)}, other {before.Count(r => r.Status is not (200 or 503 or 0 or -1))}");
Console.WriteLine($"  sent after SIGTERM: {afterSig.Count}: 503 {afterSig.Count(r => r.Status == 503)}, refused/reset (listener closed) {afterSig.Count(r => r.Status == 0)}, 200 {afterSig.Count(r => r.Status == 200)}, other {afterSig.Count(r => r.Status is not (200 or 503 or 0))}");
var last200 = sig.Where(r => r.Status == 200).Select(r => r.Sent + r.Ms).DefaultIfEmpty(sigtermAt).Max();
Console.WriteLine($"  last 200 answered {(last200 - sigtermAt) / 1000:F2} s after SIGTERM");
Console.WriteLine();
Console.WriteLine("RSS of the server (MiB) per phase: start / max / end");
foreach (var g in rss.GroupBy(x => x.Phase))
{
    var l = g.ToList();
    Console.WriteLine($"  {g.Key,-13} {l[0].Kb / 1024.0,7:F1} / {l.Max(x => x.Kb) / 1024.0,7:F1} / {l[^1].Kb / 1024.0,7:F1}");
}
Console.Write("RSS every 5 s (MiB):");
double next = 0;
foreach (var (t, kb, _) in rss)
{
    if (t >= next)
    {
        Console.Write($" {t:F0}s:{kb / 1024.0:F0}");
        next = t + 5;
    }
}
Console.WriteLine();
return 0;

// ---------------------------------------------------------------- helpers

static int PhaseOrder(string p) => Array.IndexOf(new[] { "capacity", "rate-1x", "rate-2x", "mixed", "slow-clients", "disconnects", "max-size", "sigterm" }, p);

static string Pct(List<double> sorted, double q) =>
    sorted.Count == 0 ? "-" : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)].ToString("F0", CultureInfo.InvariantCulture);

static string Statuses(List<Rec> rs) => string.Join(", ", rs.GroupBy(r => r.Status).OrderBy(g => g.Key)
    .Select(g => $"{(g.Key switch { 0 => "conn-error", -1 => "timeout", -2 => "client-shed", _ => g.Key.ToString(CultureInfo.InvariantCulture) })}: {g.Count()}"));

int Count(string p, int status) => log.Count(r => r.Phase == p && r.Status == status);

async Task Wait200(HttpClient c)
{
    for (int i = 0; i < 600; i++)
    {
        try
        {
            using var r = await c.GetAsync("/health");
            if ((int)r.StatusCode == 200)
            {
                return;
            }
        }
        catch (HttpRequestException)
        {
        }
        await Task.Delay(100);
    }
    throw new TimeoutException("the server did not become healthy within 60 s");
}

async Task ClosedLoop(string p, int clients, int seconds)
{
    var end = clock.Elapsed.TotalMilliseconds + seconds * 1000.0;
    await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
    {
        while (clock.Elapsed.TotalMilliseconds < end)
        {
            await Fire(p, Kind.Valid, clock.Elapsed.TotalMilliseconds);
        }
    }));
}

async Task OpenLoop(string p, double rate, int seconds, Func<int, Kind> kindOf)
{
    int n = (int)Math.Min(rate * seconds, 20_000);
    var t0 = clock.Elapsed.TotalMilliseconds;
    var tasks = new List<Task>(n);
    int outstanding = 0;
    for (int i = 0; i < n; i++)
    {
        var due = t0 + i * 1000.0 / rate;
        var wait = due - clock.Elapsed.TotalMilliseconds;
        if (wait > 1)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(wait));
        }
        var kind = kindOf(i);
        if (Volatile.Read(ref outstanding) >= 1000)
        {
            log.Add(new Rec(p, kind, -2, 0, due)); // the client sheds instead of queueing without bound
            continue;
        }
        Interlocked.Increment(ref outstanding);
        tasks.Add(Task.Run(async () =>
        {
            try
            {
                await Fire(p, kind, due);
            }
            finally
            {
                Interlocked.Decrement(ref outstanding);
            }
        }));
    }
    await Task.WhenAll(tasks);
}

async Task Fire(string p, Kind kind, double due)
{
    var (status, _) = await Send(kind);
    log.Add(new Rec(p, kind, status, clock.Elapsed.TotalMilliseconds - due, due));
}

async Task<(int Status, double Ms)> Send(Kind kind)
{
    var sw = Stopwatch.StartNew();
    try
    {
        using var content = Bodies.Make(kind, o.MaxBody);
        using var r = await http.PostAsync("/v1/embeddings", content);
        await r.Content.LoadIntoBufferAsync();
        return ((int)r.StatusCode, sw.Elapsed.TotalMilliseconds);
    }
    catch (TaskCanceledException)
    {
        return (-1, sw.Elapsed.TotalMilliseconds);
    }
    catch (HttpRequestException)
    {
        return (0, sw.Elapsed.TotalMilliseconds);
    }
}

async Task<(int Status, double Ms)> SlowClient(int maxSeconds)
{
    var sw = Stopwatch.StartNew();
    using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    try
    {
        await s.ConnectAsync(uri.Host, uri.Port);
        await s.SendAsync(Encoding.ASCII.GetBytes($"POST /v1/embeddings HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"input\": \""));
        var read = ReadStatus(s);
        for (int i = 0; i < maxSeconds && !read.IsCompleted; i++)
        {
            await Task.WhenAny(read, Task.Delay(1000));
            if (!read.IsCompleted)
            {
                try
                {
                    await s.SendAsync("a"u8.ToArray());
                }
                catch (SocketException)
                {
                    break;
                }
            }
        }
        if (await Task.WhenAny(read, Task.Delay(2000)) == read)
        {
            return (await read, sw.Elapsed.TotalMilliseconds);
        }
        return (-1, sw.Elapsed.TotalMilliseconds);
    }
    catch (SocketException)
    {
        return (0, sw.Elapsed.TotalMilliseconds);
    }
}

static async Task<int> ReadStatus(Socket s)
{
    var buf = new byte[4096];
    var sb = new StringBuilder();
    try
    {
        while (true)
        {
            int n = await s.ReceiveAsync(buf);
            if (n == 0)
            {
                break;
            }
            sb.Append(Encoding.ASCII.GetString(buf, 0, n));
            var text = sb.ToString();
            if (text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && text.Length >= 12)
            {
                return int.Parse(text.AsSpan(9, 3), CultureInfo.InvariantCulture);
            }
        }
    }
    catch (SocketException)
    {
    }
    return 0;
}

async Task Disconnect(bool full, int delayMs)
{
    await Task.Delay(delayMs);
    using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    try
    {
        await s.ConnectAsync(uri.Host, uri.Port);
        var body = Encoding.UTF8.GetBytes(Bodies.ValidJson(64));
        var head = Encoding.ASCII.GetBytes($"POST /v1/embeddings HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
        await s.SendAsync(head);
        await s.SendAsync(full ? body : body.AsMemory(0, body.Length / 2));
        await Task.Delay(full ? 20 : 200);
        s.Close(0); // RST: the client is gone
    }
    catch (SocketException)
    {
    }
}

namespace EmbeddingGemma.LoadFault
{
    internal enum Kind
    {
        Valid,
        BadJson,
        WrongContentType,
        Oversized,
        InvalidUtf8,
        Surrogate,
        EmptyInput,
        SlowBody,
        MaxSize,
        Heavy,
    }

    /// <summary>One request: phase, kind, status (0 connection error, -1 timeout, -2 shed by the client), latency from the scheduled send, and the scheduled send time (ms since start).</summary>
    internal sealed record Rec(string Phase, Kind Kind, int Status, double Ms, double Sent);

    internal static class Bodies
    {
        private static readonly string[] Words = "the quick brown fox jumps over the lazy dog which planet is known as the red planet mars venus jupiter saturn embeddings map text to vectors".Split(' ');

        public static string ValidJson(int inputs)
        {
            var rnd = Random.Shared;
            var texts = Enumerable.Range(0, inputs).Select(_ => "\"" + string.Join(' ', Enumerable.Range(0, rnd.Next(6, 20)).Select(_ => Words[rnd.Next(Words.Length)])) + "\"");
            return "{\"input\":[" + string.Join(',', texts) + "],\"model\":\"embeddinggemma\"}";
        }

        public static HttpContent Make(Kind kind, long maxBody)
        {
            switch (kind)
            {
                case Kind.Valid: return Json(Encoding.UTF8.GetBytes(ValidJson(4)));
                case Kind.BadJson: return Json("{\"input\": [\"a\", }"u8.ToArray());
                case Kind.WrongContentType:
                    var c = new ByteArrayContent(Encoding.UTF8.GetBytes(ValidJson(1)));
                    c.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
                    return c;
                case Kind.Oversized: return Json(Padded(maxBody + 1));
                case Kind.InvalidUtf8: return Json([.. "{\"input\": [\"ok\", \"bad "u8, 0xC3, 0x28, 0xFF, .. "\"]}"u8]);
                case Kind.Surrogate: return Json("{\"input\": \"a\\ud800b\"}"u8.ToArray());
                case Kind.EmptyInput: return Json("{\"input\": []}"u8.ToArray());
                case Kind.MaxSize: return Json(Padded(maxBody));
                case Kind.Heavy: return Json(Encoding.UTF8.GetBytes(ValidJson(64)));
                default: throw new ArgumentOutOfRangeException(nameof(kind));
            }
        }

        /// <summary>A valid request of exactly <paramref name="size"/> bytes: one short input and a padding field the server ignores.</summary>
        private static byte[] Padded(long size)
        {
            var head = "{\"input\":[\"a maximum size body\"],\"pad\":\""u8;
            var tail = "\"}"u8;
            var b = new byte[size];
            head.CopyTo(b);
            b.AsSpan(head.Length, (int)size - head.Length - tail.Length).Fill((byte)'x');
            tail.CopyTo(b.AsSpan((int)size - tail.Length));
            return b;
        }

        private static ByteArrayContent Json(byte[] body)
        {
            var c = new ByteArrayContent(body);
            c.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return c;
        }
    }

    internal static partial class Rss
    {
        public static long? ReadKb(int pid)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
            }
            return null;
        }

        [LibraryImport("libc", EntryPoint = "kill")]
        private static partial int SysKill(int pid, int sig);

        public static void Kill(int pid, int signal) => _ = SysKill(pid, signal);
    }

    internal sealed record Options(string Url, int Pid, int Seconds, long MaxBody)
    {
        public static Options Parse(string[] args)
        {
            string url = "http://127.0.0.1:8080";
            int pid = 0, seconds = 10;
            long maxBody = 4 << 20;
            for (int i = 0; i + 1 < args.Length; i += 2)
            {
                switch (args[i])
                {
                    case "--url": url = args[i + 1]; break;
                    case "--pid": pid = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                    case "--seconds": seconds = Math.Clamp(int.Parse(args[i + 1], CultureInfo.InvariantCulture), 1, 120); break;
                    case "--max-body": maxBody = long.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                    default: throw new ArgumentException($"unknown option {args[i]} (--url, --pid, --seconds, --max-body)");
                }
            }
            if (pid <= 0)
            {
                throw new ArgumentException("--pid (the server's process id) is required");
            }
            return new Options(url, pid, seconds, maxBody);
        }
    }
}
