using EmbeddingGemma.Hub;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Hub;

public class HubOptionsTests
{
    private static Func<string, string?> Env(params (string Key, string Value)[] vars)
    {
        var d = vars.ToDictionary(v => v.Key, v => v.Value);
        return k => d.GetValueOrDefault(k);
    }

    [Fact]
    public void Defaults_follow_huggingface_hub()
    {
        var o = HubOptions.FromEnvironment(Env(("XDG_CACHE_HOME", "/x/cache")));
        Assert.Equal("https://huggingface.co", o.Endpoint);
        Assert.Equal(Path.Combine("/x/cache", "huggingface", "hub"), o.CacheDirectory);
        Assert.False(o.Offline);
    }

    [Fact]
    public void HF_HOME_HF_HUB_CACHE_HF_ENDPOINT_and_HF_HUB_OFFLINE_are_honoured()
    {
        var home = HubOptions.FromEnvironment(Env(("HF_HOME", "/h"), ("HF_ENDPOINT", "https://hf-mirror.com/"), ("HF_HUB_OFFLINE", "1")));
        var cache = HubOptions.FromEnvironment(Env(("HF_HOME", "/h"), ("HF_HUB_CACHE", "/c"), ("HF_HUB_OFFLINE", "0")));
        var legacy = HubOptions.FromEnvironment(Env(("HUGGINGFACE_HUB_CACHE", "/legacy")));

        Assert.Equal(Path.Combine("/h", "hub"), home.CacheDirectory);
        Assert.Equal("https://hf-mirror.com", home.Endpoint);
        Assert.True(home.Offline);
        Assert.Equal("/c", cache.CacheDirectory);
        Assert.False(cache.Offline);
        Assert.Equal("/legacy", legacy.CacheDirectory);
        Assert.Equal(TimeSpan.FromSeconds(60), home.ReadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2.5), HubOptions.FromEnvironment(Env(("HF_HUB_DOWNLOAD_TIMEOUT", "2.5"))).ReadTimeout);
        Assert.Equal("/o", HubOptions.FromEnvironment(Env(("OLLAMA_MODELS", "/o"))).OllamaModelsDirectory);
    }

    [Fact]
    public void Token_comes_from_HF_TOKEN_then_HF_TOKEN_PATH_then_HF_HOME_token()
    {
        var home = TestPaths.NewTempDir("eg-hfhome");
        File.WriteAllText(Path.Combine(home, "token"), "hf_from_home\n");
        var tokenFile = Path.Combine(home, "other-token");
        File.WriteAllText(tokenFile, " hf_from_path ");

        Assert.Equal("hf_env", HubOptions.FromEnvironment(Env(("HF_HOME", home), ("HF_TOKEN", "hf_env"), ("HF_TOKEN_PATH", tokenFile))).Token);
        Assert.Equal("hf_from_path", HubOptions.FromEnvironment(Env(("HF_HOME", home), ("HF_TOKEN_PATH", tokenFile))).Token);
        Assert.Equal("hf_from_home", HubOptions.FromEnvironment(Env(("HF_HOME", home))).Token);
        Assert.Null(HubOptions.FromEnvironment(Env(("HF_HOME", TestPaths.NewTempDir("eg-empty")))).Token);
    }
}

public class FilePatternTests
{
    [Theory]
    [InlineData("config.json", "*.json", true)]
    [InlineData("2_Dense/config.json", "*.json", true)] // fnmatch: '*' crosses '/'
    [InlineData("2_Dense/model.safetensors", "2_Dense/", true)]
    [InlineData("2_Dense/model.safetensors", "3_Dense/*", false)]
    [InlineData("model-Q8_0.gguf", "*Q8_0*", true)]
    [InlineData("model-Q4_0.gguf", "*Q8_0*", false)]
    [InlineData("a.json", "?.json", true)]
    [InlineData("ab.json", "?.json", false)]
    [InlineData("tokenizer.model", "tokenizer.[mj]*", true)]
    [InlineData("tokenizer.json", "tokenizer.[!j]*", false)]
    [InlineData("config.json", "CONFIG.JSON", false)]
    public void Matches_like_python_fnmatch(string path, string pattern, bool expected) =>
        Assert.Equal(expected, FilePattern.IsMatch(path, pattern));

    [Fact]
    public void Selection_needs_an_include_match_and_no_exclude_match()
    {
        Assert.True(FilePattern.IsSelected("a.json", null, null));
        Assert.True(FilePattern.IsSelected("a.json", ["*.json"], ["b*"]));
        Assert.False(FilePattern.IsSelected("a.json", ["*.json"], ["a*"]));
        Assert.False(FilePattern.IsSelected("a.bin", ["*.json"], null));
    }
}

public class HubModelIdTests
{
    [Theory]
    [InlineData("google/embeddinggemma-300m", "google/embeddinggemma-300m", null, null)]
    [InlineData("google/embeddinggemma-300m@v1.0", "google/embeddinggemma-300m", "v1.0", null)]
    [InlineData("ggml-org/embeddinggemma-300M-GGUF:Q8_0", "ggml-org/embeddinggemma-300M-GGUF", null, "Q8_0")]
    [InlineData("ggml-org/embeddinggemma-300M-GGUF@main:embeddinggemma-300M-Q8_0.gguf", "ggml-org/embeddinggemma-300M-GGUF", "main", "embeddinggemma-300M-Q8_0.gguf")]
    [InlineData("hf://google/embeddinggemma-300m", "google/embeddinggemma-300m", null, null)]
    [InlineData("https://huggingface.co/google/embeddinggemma-300m", "google/embeddinggemma-300m", null, null)]
    [InlineData("hf.co/unsloth/embeddinggemma-300m-GGUF:Q4_0", "unsloth/embeddinggemma-300m-GGUF", null, "Q4_0")]
    public void Parses_repo_revision_and_file(string text, string repo, string? revision, string? file)
    {
        var id = HubModelId.TryParse(text);
        Assert.NotNull(id);
        Assert.Equal(new HubModelId(repo, revision, file), id);
    }

    [Theory]
    [InlineData("embeddinggemma")]
    [InlineData("a/b/c")]
    [InlineData("org/")]
    [InlineData("org/name@")]
    [InlineData("org/name:")]
    [InlineData("/abs/path")]
    public void Rejects_what_is_not_a_repo_id(string text) => Assert.Null(HubModelId.TryParse(text));
}
