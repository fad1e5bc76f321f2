using System.Text.Json;
using EmbeddingGemma.Hub;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Hub;

public sealed class ModelLocatorTests : IAsyncLifetime
{
    private FakeHub hub = null!;

    public async Task InitializeAsync() => hub = await FakeHub.StartAsync();

    public async Task DisposeAsync() => await hub.DisposeAsync();

    [Fact]
    public void Local_folder_and_file_are_used_as_they_are()
    {
        var dir = TestPaths.NewTempDir("eg-model");
        var gguf = Path.Combine(dir, "m.gguf");
        File.WriteAllBytes(gguf, [1, 2, 3]);
        var options = HubTestRepos.Options(hub);

        Assert.Equal(new ResolvedModel(dir, ModelSource.Folder), ModelLocator.ResolveDetailed(dir, options));
        Assert.Equal(new ResolvedModel(gguf, ModelSource.File), ModelLocator.ResolveDetailed(gguf, options));
        Assert.Empty(hub.Requests);
    }

    [Theory]
    [InlineData("./missing-model")]
    [InlineData("/no/such/model.gguf")]
    [InlineData("missing.gguf")]
    public void Missing_paths_are_NotFound_without_network(string model)
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => ModelLocator.Resolve(model, HubTestRepos.Options(hub)));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void Empty_or_malformed_arguments_are_InvalidArgument()
    {
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => ModelLocator.Resolve(" ", HubTestRepos.Options(hub))).Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => ModelLocator.Resolve("a/b/c/d", HubTestRepos.Options(hub))).Kind);
    }

    [Fact]
    public async Task Hub_id_of_a_sentence_transformers_repo_gives_the_snapshot_folder_without_other_formats()
    {
        var commit = hub.AddRepo("google/embeddinggemma-300m").AddCommit(HubTestRepos.SentenceTransformersFiles());
        var options = HubTestRepos.Options(hub);

        var resolved = await ModelLocator.ResolveDetailedAsync("google/embeddinggemma-300m", options);

        Assert.Equal(ModelSource.Hub, resolved.Source);
        Assert.Equal(commit, resolved.Commit);
        Assert.Equal(new HubCache(options.CacheDirectory).SnapshotPath("google/embeddinggemma-300m", commit), resolved.Path);
        foreach (var f in new[] { "config.json", "model.safetensors", "modules.json", "1_Pooling/config.json", "2_Dense/model.safetensors",
                     "3_Dense/model.safetensors", "tokenizer.json", "tokenizer.model", "config_sentence_transformers.json" })
        {
            Assert.True(File.Exists(Path.Combine(resolved.Path, f)), f);
        }
        Assert.False(File.Exists(Path.Combine(resolved.Path, "onnx", "model.onnx")));

        // later, offline: the same folder from the cache alone
        var offline = ModelLocator.Resolve("google/embeddinggemma-300m", options with { Offline = true });
        Assert.Equal(resolved.Path, offline);
    }

    [Fact]
    public void Gguf_repo_picks_Q8_0_by_default_a_tag_or_a_named_file()
    {
        var files = HubTestRepos.GgufFiles();
        hub.AddRepo("ggml-org/embeddinggemma-300M-GGUF").AddCommit(files);
        var options = HubTestRepos.Options(hub);

        var byDefault = ModelLocator.Resolve("ggml-org/embeddinggemma-300M-GGUF", options);
        var byTag = ModelLocator.Resolve("ggml-org/embeddinggemma-300M-GGUF:q4_0", options);
        var byFile = ModelLocator.Resolve("hf.co/ggml-org/embeddinggemma-300M-GGUF@main:embeddinggemma-300M-BF16.gguf", options);
        var noTag = Assert.Throws<EmbeddingGemmaException>(() => ModelLocator.Resolve("ggml-org/embeddinggemma-300M-GGUF:Q5_K_M", options));

        Assert.Equal("embeddinggemma-300M-Q8_0.gguf", Path.GetFileName(byDefault));
        Assert.Equal(files["embeddinggemma-300M-Q8_0.gguf"].Content, File.ReadAllBytes(byDefault));
        Assert.Equal(files["embeddinggemma-300M-Q4_0.gguf"].Content, File.ReadAllBytes(byTag));
        Assert.Equal(files["embeddinggemma-300M-BF16.gguf"].Content, File.ReadAllBytes(byFile));
        Assert.Equal(ErrorKind.NotFound, noTag.Kind);
        Assert.Contains("embeddinggemma-300M-Q4_0.gguf", noTag.Message, StringComparison.Ordinal);
        // only the chosen files were transferred
        Assert.Equal(3, hub.CountRequests(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)));
        Assert.Equal(byDefault, ModelLocator.Resolve("ggml-org/embeddinggemma-300M-GGUF", options with { Offline = true }));
    }

    [Fact]
    public void Ollama_names_resolve_to_the_model_blob()
    {
        var options = HubTestRepos.Options(hub);
        var models = options.OllamaModelsDirectory;
        var weights = new byte[] { (byte)'G', (byte)'G', (byte)'U', (byte)'F', 3, 0, 0, 0 };
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(weights));
        WriteManifest(models, ["registry.ollama.ai", "library", "embeddinggemma", "300m"], digest, weights.Length);
        WriteManifest(models, ["registry.ollama.ai", "library", "embeddinggemma", "latest"], digest, weights.Length);
        WriteManifest(models, ["hf.co", "ggml-org", "embeddinggemma-300M-GGUF", "Q8_0"], digest, weights.Length);
        Directory.CreateDirectory(Path.Combine(models, "blobs"));
        var blob = Path.Combine(models, "blobs", "sha256-" + digest);
        File.WriteAllBytes(blob, weights);

        Assert.Equal(new ResolvedModel(blob, ModelSource.Ollama), ModelLocator.ResolveDetailed("embeddinggemma:300m", options));
        Assert.Equal(blob, ModelLocator.Resolve("embeddinggemma", options));
        Assert.Equal(blob, ModelLocator.Resolve("ollama:embeddinggemma:latest", options));
        Assert.Equal(blob, ModelLocator.Resolve("hf.co/ggml-org/embeddinggemma-300M-GGUF:Q8_0", options));
        var missing = Assert.Throws<EmbeddingGemmaException>(() => ModelLocator.Resolve("nomic-embed-text", options));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        Assert.Contains("ollama pull nomic-embed-text", missing.Message, StringComparison.Ordinal);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void Ollama_manifest_without_model_layer_or_with_a_wrong_blob_is_refused()
    {
        var models = TestPaths.NewTempDir("eg-ollama");
        var digest = new string('a', 64);
        WriteManifest(models, ["registry.ollama.ai", "library", "broken", "latest"], digest, 10, mediaType: "application/vnd.ollama.image.license");
        WriteManifest(models, ["registry.ollama.ai", "library", "noblob", "latest"], digest, 10);
        WriteManifest(models, ["registry.ollama.ai", "library", "short", "latest"], digest, 10);
        Directory.CreateDirectory(Path.Combine(models, "blobs"));

        var noLayer = Assert.Throws<EmbeddingGemmaException>(() => OllamaModels.TryResolve("broken", models));
        var noBlob = Assert.Throws<EmbeddingGemmaException>(() => OllamaModels.TryResolve("noblob", models));
        File.WriteAllBytes(Path.Combine(models, "blobs", "sha256-" + digest), [1, 2, 3]);
        var wrongSize = Assert.Throws<EmbeddingGemmaException>(() => OllamaModels.TryResolve("short", models));

        Assert.Equal(ErrorKind.InvalidFormat, noLayer.Kind);
        Assert.Contains(OllamaModels.ModelMediaType, noLayer.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.NotFound, noBlob.Kind);
        Assert.Equal(ErrorKind.InvalidFormat, wrongSize.Kind);
        Assert.Contains("3 bytes", wrongSize.Message, StringComparison.Ordinal);
        Assert.Null(OllamaModels.TryResolve("absent", models));
    }

    private static void WriteManifest(string models, string[] parts, string digest, long size, string mediaType = OllamaModels.ModelMediaType)
    {
        var path = Path.Combine([models, "manifests", .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, JsonSerializer.Serialize(new
        {
            schemaVersion = 2,
            mediaType = "application/vnd.docker.distribution.manifest.v2+json",
            config = new { mediaType = "application/vnd.docker.container.image.v1+json", digest = "sha256:" + new string('c', 64), size = 10 },
            layers = new[] { new { mediaType, digest = "sha256:" + digest, size } },
        }));
    }
}
