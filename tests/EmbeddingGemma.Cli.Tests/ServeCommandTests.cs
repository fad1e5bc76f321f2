using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Testing;
using Xunit.Abstractions;

namespace EmbeddingGemma.Cli.Tests;

/// <summary>The built CLI's <c>serve</c> as a child process on a tiny model: shutdown drains the accepted requests.</summary>
public sealed class ServeCommandTests
{
    private readonly ITestOutputHelper _output;

    public ServeCommandTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// Regression (issue 12): SIGTERM on <c>serve</c> dropped requests needing more than ~2 s, because
    /// System.CommandLine's default process-termination timeout ended the process before the host drained. Now the
    /// request accepted before the signal is answered in full and the process exits 0 within --drain-timeout.
    /// </summary>
    [Fact]
    public async Task Sigterm_drains_a_slow_request_and_exits_0()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return; // needs kill -TERM
        }
        int port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { CliDll(), "serve", "--model", TinyModels.Default.Folder,
            "--urls", url, "--threads", "1", "--drain-timeout", "60", "--max-inputs-per-request", "256" })
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        try
        {
            await WaitHealthyAsync(http, process);

            // Size the slow request from a measured one: about 6 s of work (single-threaded engine).
            string text = string.Join(' ', Enumerable.Range(0, 400).Select(i => "word" + (i % 97)));
            (await PostAsync(http, Texts(text, 2, "warm-up"))).EnsureSuccessStatusCode(); // JIT
            var sw = Stopwatch.StartNew();
            (await PostAsync(http, Texts(text, 8, "calibrate"))).EnsureSuccessStatusCode();
            double perText = sw.Elapsed.TotalSeconds / 8;
            int count = Math.Clamp((int)Math.Ceiling(6.0 / perText), 16, 256);
            _output.WriteLine($"{perText * 1000:F0} ms per text; slow request: {count} texts");

            var slow = PostAsync(http, Texts(text, count, "slow"));
            // accepted: its inputs are queued or running
            var until = DateTime.UtcNow.AddSeconds(30);
            while (!(await http.GetStringAsync("/metrics")).Split('\n').Any(l => l.StartsWith("embeddinggemma_queue_depth ", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < until && !slow.IsCompleted, "the slow request was never queued");
                await Task.Delay(20);
            }
            var signalled = Stopwatch.StartNew();
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var response = await slow;
            double answeredAfter = signalled.Elapsed.TotalSeconds;
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
            using var doc = JsonDocument.Parse(body);
            var data = doc.RootElement.GetProperty("data");
            Assert.Equal(count, data.GetArrayLength());
            Assert.All(data.EnumerateArray(), d => Assert.Equal(64, d.GetProperty("embedding").GetArrayLength()));

            Assert.True(await WaitExitAsync(process, TimeSpan.FromSeconds(60)), "serve did not exit after the drain");
            _output.WriteLine($"answered {answeredAfter:F1} s after SIGTERM; exit code {process.ExitCode}");
            Assert.True(0 == process.ExitCode, $"exit code {process.ExitCode}; stderr: {await stderr}");
            // the request really outlived System.CommandLine's 2 s termination timeout
            Assert.True(answeredAfter > 2, $"the request finished {answeredAfter:F1} s after the signal: too quick to show the drain");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            _output.WriteLine(await stderr);
            _ = await stdout;
        }
    }

    /// <summary>
    /// The CLI in its own build output (src/EmbeddingGemma.Cli/bin/&lt;configuration&gt;/net10.0): the copy beside the
    /// tests resolves the test project's package versions, which lack what the web host needs.
    /// </summary>
    private static string CliDll()
    {
        var tfmDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var own = Path.Combine(TestPaths.RepoRoot, "src", "EmbeddingGemma.Cli", "bin", tfmDir.Parent!.Name, tfmDir.Name, "EmbeddingGemma.Cli.dll");
        return File.Exists(own) ? own : Path.Combine(AppContext.BaseDirectory, "EmbeddingGemma.Cli.dll");
    }

    private static string Texts(string text, int n, string tag) =>
        JsonSerializer.Serialize(new { input = Enumerable.Range(0, n).Select(i => $"{tag} {i} {text}").ToArray() });

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, string json) =>
        http.PostAsync("/v1/embeddings", new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task WaitHealthyAsync(HttpClient http, Process process)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.False(process.HasExited, "serve exited early");
            try
            {
                if ((await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            Assert.True(DateTime.UtcNow < until, "serve did not become healthy in 60 s");
            await Task.Delay(100);
        }
    }

    private static async Task<bool> WaitExitAsync(Process process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
