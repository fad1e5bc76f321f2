using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Hub;
using EmbeddingGemma.Tests.Model.V2;

namespace EmbeddingGemma.Tests.Hub;

/// <summary>
/// The README's first command loads <c>google/embeddinggemma-2</c>: a repository of that layout (composite config,
/// the text tower under <c>language_model.</c>, vision/audio tensors beside it, processor and chat-template files)
/// published on the fake Hub, NOT gated, downloads without a token and gives exactly the local folder's vectors, with
/// the vision/audio tensors skipped and reported; the gated v1 repository next to it still needs the token.
/// </summary>
public sealed class HubModelLoad2Tests : IAsyncLifetime
{
    private static readonly string[] Texts = ["Which planet is known as the Red Planet?", "hello world"];
    private FakeHub hub = null!;

    public async Task InitializeAsync()
    {
        hub = await FakeHub.StartAsync();
        var tiny = TinyModels2.Default;   // model.safetensors holds a vision and an audio stub tensor
        var files = Directory.GetFiles(tiny.Folder, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(tiny.Folder, f).Replace('\\', '/'),
            f => new FakeFile(File.ReadAllBytes(f), Lfs: f.EndsWith(".safetensors", StringComparison.Ordinal)));
        files["processor_config.json"] = HubTestRepos.Text("{\"processor_class\":\"EmbeddingGemma2Processor\"}");
        files["chat_template.jinja"] = HubTestRepos.Text("{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
        files["README.md"] = HubTestRepos.Text("# embeddinggemma-2 (tiny stand-in)\n");
        files["onnx/model.onnx"] = new FakeFile(HubTestRepos.Bytes(5_000, 7), Lfs: true);
        hub.AddRepo("google/embeddinggemma-2").AddCommit(files);
        var gated = hub.AddRepo("google/embeddinggemma-300m");
        gated.RequiredToken = "hf_secret";
        gated.AddCommit(HubTestRepos.SentenceTransformersFiles());
    }

    public async Task DisposeAsync() => await hub.DisposeAsync();

    [Fact]
    public void EmbeddingGemma2RepositoryLoadsWithoutATokenAndSkipsTheOtherTowers()
    {
        var options = HubTestRepos.Options(hub);   // no token
        Assert.Null(options.Token);
        var load = new ModelLoadOptions { HubResolver = (m, ct) => ModelLocator.Resolve(m, options, null, ct) };
        using var local = EmbeddingGemmaModel.Load(TinyModels2.Default.Folder);
        using var fromHub = EmbeddingGemmaModel.Load("google/embeddinggemma-2", load);
        Assert.Equal(EmbeddingGemmaModel.ArchitectureV2, fromHub.Architecture);
        Assert.StartsWith(options.CacheDirectory, fromHub.Source, StringComparison.Ordinal);
        Assert.Equal(local.EncodeQuery(Texts), fromHub.EncodeQuery(Texts));   // tolerance 0: the same files
        Assert.Equal(8192, fromHub.MaxTokens);
        Assert.Equal(["embed_audio.embedding_projection.weight", "vision_tower.encoder.stub.weight"], fromHub.Weights2!.Files.Skipped.Order(StringComparer.Ordinal));
        Assert.False(File.Exists(Path.Combine(fromHub.Source, "onnx", "model.onnx")));   // other frameworks' weights are not fetched
        // v1 is one flag away but gated: without the token it is a clear Unauthorized error
        var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load("google/embeddinggemma-300m", load));
        Assert.Equal(ErrorKind.Unauthorized, e.Kind);
    }
}
