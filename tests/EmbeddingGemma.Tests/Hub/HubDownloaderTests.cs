using EmbeddingGemma.Hub;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Hub;

public sealed class HubDownloaderTests : IAsyncLifetime
{
    private FakeHub hub = null!;

    public async Task InitializeAsync() => hub = await FakeHub.StartAsync();

    public async Task DisposeAsync() => await hub.DisposeAsync();

    [Fact]
    public async Task Snapshot_lands_in_the_huggingface_hub_cache_layout()
    {
        var files = HubTestRepos.SentenceTransformersFiles();
        var commit = hub.AddRepo("google/embeddinggemma-300m").AddCommit(files);
        var options = HubTestRepos.Options(hub);
        using var downloader = new HubDownloader(options);

        var result = await downloader.DownloadSnapshotAsync("google/embeddinggemma-300m");

        var repoDir = Path.Combine(options.CacheDirectory, "models--google--embeddinggemma-300m");
        Assert.Equal(commit, result.Commit);
        Assert.Equal(Path.Combine(repoDir, "snapshots", commit), result.SnapshotPath);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repoDir, "refs", "main")));
        Assert.Equal(files.Keys.Order(StringComparer.Ordinal), result.Files.Order(StringComparer.Ordinal));
        foreach (var (path, file) in files)
        {
            var local = result.PathOf(path);
            Assert.Equal(file.Content, File.ReadAllBytes(local));
            // blobs are named by ETag: sha256 for LFS files, git blob sha1 for the others
            var blob = Path.Combine(repoDir, "blobs", file.ETag);
            Assert.True(File.Exists(blob), $"missing blob {blob} for {path}");
            var link = new FileInfo(local).LinkTarget;
            Assert.NotNull(link);
            Assert.False(Path.IsPathRooted(link), "snapshot links must be relative like huggingface_hub's");
            Assert.Equal(blob, Path.GetFullPath(Path.Combine(Path.GetDirectoryName(local)!, link)));
        }
        Assert.Empty(Directory.GetFiles(Path.Combine(repoDir, "blobs"), "*.incomplete"));
        // LFS files went through the 302 redirect to the CDN path
        Assert.Equal(5, hub.CountRequests(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)));
        // identical contents share one blob ("{}" is both tokenizer_config.json and special_tokens_map.json): fetched once
        Assert.Equal(files.Values.DistinctBy(f => f.ETag).Sum(f => (long)f.Content.Length), result.BytesTransferred);
    }

    [Fact]
    public async Task Second_download_is_served_from_the_cache_without_transfers()
    {
        hub.AddRepo("org/model").AddCommit(HubTestRepos.SentenceTransformersFiles());
        var options = HubTestRepos.Options(hub);
        using var downloader = new HubDownloader(options);
        await downloader.DownloadSnapshotAsync("org/model");
        var before = hub.Requests.Count;

        var again = await downloader.DownloadSnapshotAsync("org/model");

        Assert.Equal(0, again.BytesTransferred);
        Assert.Equal(1, hub.Requests.Count - before); // the listing only
    }

    [Fact]
    public async Task Include_and_exclude_patterns_select_files()
    {
        hub.AddRepo("org/model").AddCommit(HubTestRepos.SentenceTransformersFiles());
        using var downloader = new HubDownloader(HubTestRepos.Options(hub));

        var result = await downloader.DownloadSnapshotAsync("org/model", include: ["*.json", "2_Dense/"], exclude: ["tokenizer*"]);

        Assert.Equal(
            ["1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "3_Dense/config.json", "config.json",
             "config_sentence_transformers.json", "modules.json", "sentence_bert_config.json", "special_tokens_map.json"],
            result.Files.Order(StringComparer.Ordinal));
        Assert.False(File.Exists(result.PathOf("model.safetensors")));
    }

    [Fact]
    public async Task Gated_repository_is_Unauthorized_without_token_and_downloads_with_it()
    {
        var repo = hub.AddRepo("google/embeddinggemma-300m");
        repo.RequiredToken = "hf_secret";
        repo.AddCommit(HubTestRepos.SentenceTransformersFiles());
        hub.CdnHost = "localhost"; // the CDN is another host: the token must not follow the redirect
        var cache = TestPaths.NewTempDir("eg-hub");

        using (var anonymous = new HubDownloader(HubTestRepos.Options(hub, cache)))
        {
            var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => anonymous.DownloadSnapshotAsync("google/embeddinggemma-300m"));
            Assert.Equal(ErrorKind.Unauthorized, e.Kind);
            Assert.Contains("HF_TOKEN", e.Message, StringComparison.Ordinal);
            Assert.Contains("licence", e.Message, StringComparison.Ordinal);
            Assert.Contains("401", e.Message, StringComparison.Ordinal);
        }

        using var authorized = new HubDownloader(HubTestRepos.Options(hub, cache, token: "hf_secret"));
        var result = await authorized.DownloadSnapshotAsync("google/embeddinggemma-300m");
        Assert.Equal(17, result.Files.Count);
        Assert.All(hub.Requests.Where(r => r.Path.Contains("/resolve/", StringComparison.Ordinal) && r.Authorization is not null),
            r => Assert.Equal("Bearer hf_secret", r.Authorization));
        var cdn = hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(cdn);
        Assert.All(cdn, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task Wrong_token_is_Unauthorized_and_says_a_token_was_sent()
    {
        var repo = hub.AddRepo("google/embeddinggemma-300m");
        repo.RequiredToken = "hf_right";
        repo.AddCommit(HubTestRepos.SentenceTransformersFiles());
        using var downloader = new HubDownloader(HubTestRepos.Options(hub, token: "hf_wrong"));

        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadFileAsync("google/embeddinggemma-300m", "config.json"));

        Assert.Equal(ErrorKind.Unauthorized, e.Kind);
        Assert.Contains("A token was sent", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_repository_file_and_revision_are_NotFound()
    {
        hub.AddRepo("org/model").AddCommit(HubTestRepos.SentenceTransformersFiles());
        using var downloader = new HubDownloader(HubTestRepos.Options(hub));

        var repo = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadSnapshotAsync("org/nothing"));
        var file = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadFileAsync("org/model", "nothing.gguf"));
        var revision = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadSnapshotAsync("org/model", "v9"));

        Assert.Equal(ErrorKind.NotFound, repo.Kind);
        Assert.Contains("org/nothing", repo.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.NotFound, file.Kind);
        Assert.Contains("nothing.gguf", file.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.NotFound, revision.Kind);
        Assert.Contains("'v9'", revision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Interrupted_transfer_is_kept_and_the_next_call_resumes_with_Range()
    {
        var files = HubTestRepos.GgufFiles();
        hub.AddRepo("ggml-org/embeddinggemma-300M-GGUF").AddCommit(files);
        var options = HubTestRepos.Options(hub, maxRetries: 0);
        using var downloader = new HubDownloader(options);
        const string name = "embeddinggemma-300M-Q8_0.gguf";
        hub.DropCount = 1;
        hub.DropAfterBytes = 12_000;

        var broken = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadFileAsync("ggml-org/embeddinggemma-300M-GGUF", name));

        Assert.Equal(ErrorKind.Network, broken.Kind);
        var blob = downloader.Cache.BlobPath("ggml-org/embeddinggemma-300M-GGUF", files[name].Sha256);
        var partial = new FileInfo(blob + ".incomplete");
        Assert.True(partial.Exists, "the partial download must be kept for resuming");
        Assert.InRange(partial.Length, 1, 12_000);
        Assert.False(File.Exists(blob));
        var partialLength = partial.Length;

        var result = await downloader.DownloadFileAsync("ggml-org/embeddinggemma-300M-GGUF", name);

        Assert.Equal(files[name].Content, File.ReadAllBytes(result.PathOf(name)));
        Assert.Equal(files[name].Content.Length - partialLength, result.BytesTransferred);
        Assert.Contains(hub.Requests, r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal) && r.Range == $"bytes={partialLength}-");
        Assert.False(File.Exists(blob + ".incomplete"));
    }

    [Fact]
    public async Task Broken_transfer_is_resumed_within_one_call_when_retries_are_allowed()
    {
        var files = HubTestRepos.SentenceTransformersFiles();
        hub.AddRepo("org/model").AddCommit(files);
        using var downloader = new HubDownloader(HubTestRepos.Options(hub, maxRetries: 3));
        hub.DropCount = 2;
        hub.DropAfterBytes = 50_000;

        var result = await downloader.DownloadFileAsync("org/model", "model.safetensors");

        Assert.Equal(files["model.safetensors"].Content, File.ReadAllBytes(result.PathOf("model.safetensors")));
        var ranges = hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Select(r => r.Range).ToList();
        Assert.Equal(3, ranges.Count);
        Assert.Null(ranges[0]);
        Assert.All(ranges.Skip(1), r => Assert.StartsWith("bytes=", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stalled_transfer_times_out_as_Network_and_resumes()
    {
        var files = HubTestRepos.GgufFiles();
        hub.AddRepo("org/gguf").AddCommit(files);
        using var downloader = new HubDownloader(HubTestRepos.Options(hub, maxRetries: 0) with { ReadTimeout = TimeSpan.FromSeconds(1) });
        hub.StallCount = 1;
        hub.DropAfterBytes = 5_000;

        var stalled = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadFileAsync("org/gguf", "embeddinggemma-300M-Q4_0.gguf"));
        var resumed = await downloader.DownloadFileAsync("org/gguf", "embeddinggemma-300M-Q4_0.gguf");

        Assert.Equal(ErrorKind.Network, stalled.Kind);
        Assert.Contains("no data for 1 s", stalled.Message, StringComparison.Ordinal);
        Assert.Equal(files["embeddinggemma-300M-Q4_0.gguf"].Content, File.ReadAllBytes(resumed.PathOf("embeddinggemma-300M-Q4_0.gguf")));
        Assert.Contains(hub.Requests, r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal) && r.Range is not null && r.Range != "bytes=0-");
    }

    [Fact]
    public async Task Corrupted_content_fails_the_checksum_and_leaves_nothing_in_the_cache()
    {
        var files = HubTestRepos.SentenceTransformersFiles();
        hub.AddRepo("org/model").AddCommit(files);
        var options = HubTestRepos.Options(hub);
        using var downloader = new HubDownloader(options);
        hub.Corrupt = true;

        var lfs = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadFileAsync("org/model", "model.safetensors"));
        var plain = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadFileAsync("org/model", "config.json"));

        Assert.Equal(ErrorKind.InvalidFormat, lfs.Kind);
        Assert.Contains("Checksum mismatch", lfs.Message, StringComparison.Ordinal);
        Assert.Contains(files["model.safetensors"].Sha256, lfs.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.InvalidFormat, plain.Kind);
        Assert.Contains("git blob sha1", plain.Message, StringComparison.Ordinal);
        var repoDir = Path.Combine(options.CacheDirectory, "models--org--model");
        Assert.Empty(Directory.GetFiles(Path.Combine(repoDir, "blobs")));
        Assert.False(Directory.Exists(Path.Combine(repoDir, "snapshots")) && Directory.EnumerateFileSystemEntries(Path.Combine(repoDir, "snapshots"), "*", SearchOption.AllDirectories).Any(e => File.Exists(e)));

        hub.Corrupt = false;
        var ok = await downloader.DownloadFileAsync("org/model", "model.safetensors");
        Assert.Equal(files["model.safetensors"].Content, File.ReadAllBytes(ok.PathOf("model.safetensors")));
    }

    [Fact]
    public async Task Offline_mode_uses_only_the_cache()
    {
        var commit = hub.AddRepo("org/model").AddCommit(HubTestRepos.SentenceTransformersFiles());
        var cache = TestPaths.NewTempDir("eg-hub");
        using (var online = new HubDownloader(HubTestRepos.Options(hub, cache)))
        {
            await online.DownloadSnapshotAsync("org/model", exclude: ["onnx/*"]);
        }
        var before = hub.Requests.Count;
        using var offline = new HubDownloader(HubTestRepos.Options(hub, cache, offline: true));

        var result = await offline.DownloadSnapshotAsync("org/model");
        var file = await offline.DownloadFileAsync("org/model", "config.json");
        var missing = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => offline.DownloadSnapshotAsync("org/other"));
        var missingFile = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => offline.DownloadFileAsync("org/model", "onnx/model.onnx"));

        Assert.Equal(commit, result.Commit);
        Assert.Equal(16, result.Files.Count);
        Assert.True(File.Exists(file.PathOf("config.json")));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        Assert.Contains("HF_HUB_OFFLINE", missing.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.NotFound, missingFile.Kind);
        Assert.Equal(before, hub.Requests.Count); // not one request
    }

    [Fact]
    public async Task Unreachable_hub_is_a_Network_error_or_falls_back_to_the_cache()
    {
        hub.AddRepo("org/model").AddCommit(HubTestRepos.SentenceTransformersFiles());
        var cache = TestPaths.NewTempDir("eg-hub");
        using (var online = new HubDownloader(HubTestRepos.Options(hub, cache)))
        {
            await online.DownloadSnapshotAsync("org/model", include: ["*.json"]);
        }
        var deadEndpoint = $"http://127.0.0.1:{FreePort()}";
        using var dead = new HubDownloader(HubTestRepos.Options(hub, cache) with { Endpoint = deadEndpoint });

        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => dead.DownloadSnapshotAsync("org/never-downloaded"));
        var fallback = await dead.DownloadSnapshotAsync("org/model", include: ["*.json"]);

        Assert.Equal(ErrorKind.Network, e.Kind);
        Assert.Contains(deadEndpoint, e.Message, StringComparison.Ordinal);
        Assert.Equal(10, fallback.Files.Count);
    }

    [Fact]
    public async Task Revisions_resolve_to_their_commits_and_refs_are_recorded()
    {
        var repo = hub.AddRepo("org/model");
        var v1 = repo.AddCommit(new Dictionary<string, FakeFile> { ["config.json"] = HubTestRepos.Text("{\"v\":1}") }, branch: "v1");
        var v2 = repo.AddCommit(new Dictionary<string, FakeFile> { ["config.json"] = HubTestRepos.Text("{\"v\":2}") }, branch: "main");
        var options = HubTestRepos.Options(hub);
        using var downloader = new HubDownloader(options);

        var main = await downloader.DownloadSnapshotAsync("org/model");
        var tag = await downloader.DownloadSnapshotAsync("org/model", "v1");
        var byCommit = await downloader.DownloadFileAsync("org/model", "config.json", v1);

        Assert.Equal(v2, main.Commit);
        Assert.Equal("{\"v\":2}", File.ReadAllText(main.PathOf("config.json")));
        Assert.Equal(v1, tag.Commit);
        Assert.Equal("{\"v\":1}", File.ReadAllText(tag.PathOf("config.json")));
        Assert.Equal(v1, byCommit.Commit);
        var refs = Path.Combine(options.CacheDirectory, "models--org--model", "refs");
        Assert.Equal(["main", "v1"], Directory.GetFiles(refs).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(v1, File.ReadAllText(Path.Combine(refs, "v1")));
        Assert.Equal(v1, new HubCache(options.CacheDirectory).TryGetCommit("org/model", "v1"));
        Assert.Equal(v2, new HubCache(options.CacheDirectory).TryGetCommit("org/model", "main"));
    }

    [Fact]
    public async Task Paths_escaping_the_snapshot_are_refused()
    {
        hub.AddRepo("org/evil").AddCommit(new Dictionary<string, FakeFile> { ["../../../escape.txt"] = HubTestRepos.Text("x") });
        using var downloader = new HubDownloader(HubTestRepos.Options(hub));

        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => downloader.DownloadSnapshotAsync("org/evil"));

        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("../../../escape.txt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Progress_reports_every_file_and_cancellation_stops_the_download()
    {
        hub.AddRepo("org/model").AddCommit(HubTestRepos.SentenceTransformersFiles());
        using var downloader = new HubDownloader(HubTestRepos.Options(hub));
        var reports = new List<DownloadProgress>();
        var progress = new SyncProgress<DownloadProgress>(reports.Add);

        await downloader.DownloadSnapshotAsync("org/model", include: ["*.safetensors"], progress: progress);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => downloader.DownloadSnapshotAsync("org/model", cancellationToken: cts.Token));

        var completed = reports.Where(r => r.FileCompleted).ToList();
        Assert.Equal(["2_Dense/model.safetensors", "3_Dense/model.safetensors", "model.safetensors"], completed.Select(r => r.FileName));
        Assert.Equal([1, 2, 3], completed.Select(r => r.FilesCompleted));
        Assert.All(completed, r => Assert.Equal(r.FileTotalBytes, r.FileBytes));
        Assert.All(reports, r => Assert.Equal(3, r.FileCount));
    }

    [Fact]
    public async Task Concurrent_downloads_of_one_blob_transfer_it_once()
    {
        var files = HubTestRepos.SentenceTransformersFiles();
        hub.AddRepo("org/model").AddCommit(files);
        var cache = TestPaths.NewTempDir("eg-hub");
        using var a = new HubDownloader(HubTestRepos.Options(hub, cache));
        using var b = new HubDownloader(HubTestRepos.Options(hub, cache));

        var results = await Task.WhenAll(
            a.DownloadFileAsync("org/model", "model.safetensors"),
            b.DownloadFileAsync("org/model", "model.safetensors"));

        Assert.All(results, r => Assert.Equal(files["model.safetensors"].Content, File.ReadAllBytes(r.PathOf("model.safetensors"))));
        Assert.Equal(1, hub.CountRequests(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)));
        Assert.Equal(files["model.safetensors"].Content.Length, results.Sum(r => r.BytesTransferred));
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}

/// <summary>An IProgress that calls back synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
{
    private readonly Lock gate = new();

    public void Report(T value)
    {
        lock (gate)
        {
            action(value);
        }
    }
}
