using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tests.Hub;

namespace EmbeddingGemma.Cli.Tests.Hub;

/// <summary>`embeddinggemma download` run as a real process against the fake Hub on 127.0.0.1.</summary>
public sealed class DownloadCommandTests : IAsyncLifetime
{
    private FakeHub hub = null!;

    public async Task InitializeAsync()
    {
        hub = await FakeHub.StartAsync();
        var repo = hub.AddRepo("google/embeddinggemma-300m");
        repo.RequiredToken = "hf_test";
        repo.AddCommit(new Dictionary<string, FakeFile>
        {
            ["config.json"] = Text("{}\n"),
            ["modules.json"] = Text("[]\n"),
            ["model.safetensors"] = new(Bytes(50_000, 1), Lfs: true),
            ["2_Dense/model.safetensors"] = new(Bytes(9_000, 2), Lfs: true),
        });
        hub.AddRepo("ggml-org/embeddinggemma-300M-GGUF").AddCommit(new Dictionary<string, FakeFile>
        {
            ["README.md"] = Text("# gguf\n"),
            ["embeddinggemma-300M-Q8_0.gguf"] = new(Bytes(30_000, 3), Lfs: true),
            ["embeddinggemma-300M-F32.gguf"] = new(Bytes(60_000, 4), Lfs: true),
        });
    }

    public async Task DisposeAsync() => await hub.DisposeAsync();

    [Fact]
    public async Task Downloads_a_gated_snapshot_with_HF_TOKEN_and_prints_its_path()
    {
        var home = TestPaths.NewTempDir("eg-hfhome");

        var denied = await RunAsync(["download", "google/embeddinggemma-300m"], home);
        var ok = await RunAsync(["download", "google/embeddinggemma-300m"], home, ("HF_TOKEN", "hf_test"));

        Assert.Equal(5, denied.ExitCode); // ExitCodes.Unauthorized
        Assert.Contains("HF_TOKEN", denied.Stderr, StringComparison.Ordinal);
        Assert.Contains("licence", denied.Stderr, StringComparison.Ordinal);
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        var path = ok.Stdout.Trim();
        Assert.StartsWith(Path.Combine(home, "hub", "models--google--embeddinggemma-300m", "snapshots"), path, StringComparison.Ordinal);
        Assert.Equal(Bytes(9_000, 2), File.ReadAllBytes(Path.Combine(path, "2_Dense", "model.safetensors")));
        Assert.Contains("model.safetensors", ok.Stderr, StringComparison.Ordinal); // progress on stderr, not stdout
    }

    [Fact]
    public async Task Json_output_with_file_tag_include_cache_dir_and_token_options()
    {
        var home = TestPaths.NewTempDir("eg-hfhome");
        var cache = TestPaths.NewTempDir("eg-cache");

        var tag = await RunAsync(["download", "ggml-org/embeddinggemma-300M-GGUF:Q8_0", "--cache-dir", cache, "--json"], home);
        var file = await RunAsync(["download", "ggml-org/embeddinggemma-300M-GGUF", "--file", "embeddinggemma-300M-F32.gguf", "--cache-dir", cache], home);
        var include = await RunAsync(["download", "google/embeddinggemma-300m", "--include", "*.json", "--token", "hf_test", "--cache-dir", cache, "--json"], home);

        Assert.True(tag.ExitCode == 0, tag.Stderr);
        using var json = JsonDocument.Parse(tag.Stdout);
        var tagPath = json.RootElement.GetProperty("path").GetString()!;
        Assert.EndsWith("embeddinggemma-300M-Q8_0.gguf", tagPath, StringComparison.Ordinal);
        Assert.StartsWith(cache, tagPath, StringComparison.Ordinal);
        Assert.Equal(40, json.RootElement.GetProperty("commit").GetString()!.Length);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Bytes(30_000, 3))), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(tagPath))));
        Assert.True(file.ExitCode == 0, file.Stderr);
        Assert.Equal(Bytes(60_000, 4), File.ReadAllBytes(file.Stdout.Trim()));
        Assert.True(include.ExitCode == 0, include.Stderr);
        using var included = JsonDocument.Parse(include.Stdout);
        Assert.Equal(["config.json", "modules.json"], included.RootElement.GetProperty("files").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Offline_without_cache_and_unknown_repo_fail_with_documented_exit_codes()
    {
        var home = TestPaths.NewTempDir("eg-hfhome");

        var offline = await RunAsync(["download", "ggml-org/embeddinggemma-300M-GGUF"], home, ("HF_HUB_OFFLINE", "1"));
        var missing = await RunAsync(["download", "org/missing"], home);
        var bad = await RunAsync(["download", "not a repo"], home);

        Assert.Equal(3, offline.ExitCode); // NotFound -> ExitCodes.BadFile
        Assert.Contains("HF_HUB_OFFLINE", offline.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, missing.ExitCode);
        Assert.Equal(2, bad.ExitCode); // InvalidArgument
        Assert.Equal("", offline.Stdout + missing.Stdout + bad.Stdout);
    }

    [Fact]
    public async Task Embed_downloads_the_gated_model_on_first_use_with_HF_TOKEN_then_works_offline()
    {
        var tiny = TinyModels.Default;
        var gated = hub.AddRepo("test/gated-tiny");
        gated.RequiredToken = "hf_test";
        gated.AddCommit(Directory.GetFiles(tiny.Folder, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(tiny.Folder, f).Replace('\\', '/'),
            f => new FakeFile(File.ReadAllBytes(f), Lfs: f.EndsWith(".safetensors", StringComparison.Ordinal))));
        var home = TestPaths.NewTempDir("eg-hfhome");
        const string input = "hello world\nEmbeddingGemma in .NET\n";

        var local = await RunAsync(["embed", "--model", tiny.Folder], home, stdin: input);
        var denied = await RunAsync(["embed", "--model", "test/gated-tiny"], home, stdin: input);
        var first = await RunAsync(["embed", "--model", "test/gated-tiny"], home, stdin: input, env: ("HF_TOKEN", "hf_test"));
        var offline = await RunAsync(["embed", "--model", "test/gated-tiny"], home, stdin: input, env: ("HF_HUB_OFFLINE", "1"));

        Assert.True(local.ExitCode == 0, local.Stderr);
        Assert.Equal(2, local.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(5, denied.ExitCode);
        Assert.Contains("HF_TOKEN", denied.Stderr, StringComparison.Ordinal);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Equal(local.Stdout, first.Stdout); // same vectors as the local folder, byte for byte
        Assert.Contains("downloaded model.safetensors", first.Stderr, StringComparison.Ordinal);
        Assert.True(offline.ExitCode == 0, offline.Stderr);
        Assert.Equal(local.Stdout, offline.Stdout);
        Assert.DoesNotContain("downloaded", offline.Stderr, StringComparison.Ordinal);
    }

    private static FakeFile Text(string s) => new(Encoding.UTF8.GetBytes(s), Lfs: false);

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private sealed record CliRun(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs the built CLI (src/EmbeddingGemma.Cli/bin/{config}/net10.0/EmbeddingGemma.Cli.dll) with a clean HF environment.</summary>
    private Task<CliRun> RunAsync(string[] args, string hfHome, params (string Key, string Value)[] env) => RunAsync(args, hfHome, null, env);

    private async Task<CliRun> RunAsync(string[] args, string hfHome, string? stdin, params (string Key, string Value)[] env)
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // bin/{config}/net10.0/
        var dll = Path.Combine(TestPaths.RepoRoot, "src", "EmbeddingGemma.Cli", "bin", config, "net10.0", "EmbeddingGemma.Cli.dll");
        Assert.True(File.Exists(dll), $"CLI not built: {dll}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var name in new[] { "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE" })
        {
            psi.Environment.Remove(name);
        }
        psi.Environment["HF_HOME"] = hfHome;
        psi.Environment["HF_ENDPOINT"] = hub.Endpoint;
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }
        using var process = Process.Start(psi)!;
        await process.StandardInput.WriteAsync(stdin ?? "");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(cts.Token);
        return new CliRun(process.ExitCode, await stdout, await stderr);
    }
}
