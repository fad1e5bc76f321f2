using System.Text;
using EmbeddingGemma.Hub;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Hub;

/// <summary>Repositories shaped like the real ones, with small deterministic contents.</summary>
internal static class HubTestRepos
{
    public static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static FakeFile Text(string s) => new(Encoding.UTF8.GetBytes(s), Lfs: false);

    /// <summary>The file set of google/embeddinggemma-300m (sentence-transformers layout), tiny contents.</summary>
    public static Dictionary<string, FakeFile> SentenceTransformersFiles(int seed = 1) => new()
    {
        [".gitattributes"] = Text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n"),
        ["README.md"] = Text("# tiny\n"),
        ["config.json"] = Text("{\"model_type\":\"gemma3_text\",\"hidden_size\":64}"),
        ["model.safetensors"] = new FakeFile(Bytes(300_000, seed), Lfs: true),
        ["modules.json"] = Text("[]"),
        ["1_Pooling/config.json"] = Text("{\"pooling_mode_mean_tokens\":true}"),
        ["2_Dense/config.json"] = Text("{\"in_features\":64,\"out_features\":256}"),
        ["2_Dense/model.safetensors"] = new FakeFile(Bytes(70_000, seed + 1), Lfs: true),
        ["3_Dense/config.json"] = Text("{\"in_features\":256,\"out_features\":64}"),
        ["3_Dense/model.safetensors"] = new FakeFile(Bytes(70_000, seed + 2), Lfs: true),
        ["config_sentence_transformers.json"] = Text("{\"prompts\":{\"query\":\"task: search result | query: \"}}"),
        ["sentence_bert_config.json"] = Text("{\"max_seq_length\":2048}"),
        ["tokenizer.json"] = Text("{\"version\":\"1.0\"}"),
        ["tokenizer_config.json"] = Text("{}"),
        ["special_tokens_map.json"] = Text("{}"),
        ["tokenizer.model"] = new FakeFile(Bytes(20_000, seed + 3), Lfs: true),
        ["onnx/model.onnx"] = new FakeFile(Bytes(10_000, seed + 4), Lfs: true),
    };

    /// <summary>A GGUF-only repository like ggml-org/embeddinggemma-300M-GGUF, with several quantizations.</summary>
    public static Dictionary<string, FakeFile> GgufFiles() => new()
    {
        ["README.md"] = Text("# gguf\n"),
        ["embeddinggemma-300M-BF16.gguf"] = new FakeFile(Bytes(40_000, 11), Lfs: true),
        ["embeddinggemma-300M-Q4_0.gguf"] = new FakeFile(Bytes(20_000, 12), Lfs: true),
        ["embeddinggemma-300M-Q8_0.gguf"] = new FakeFile(Bytes(30_000, 13), Lfs: true),
    };

    public static HubOptions Options(FakeHub hub, string? cache = null, string? token = null, int maxRetries = 3, bool offline = false) => new()
    {
        Endpoint = hub.Endpoint,
        CacheDirectory = cache ?? TestPaths.NewTempDir("eg-hub"),
        Token = token,
        MaxRetries = maxRetries,
        Offline = offline,
        ReadTimeout = TimeSpan.FromSeconds(20),
        OllamaModelsDirectory = TestPaths.NewTempDir("eg-ollama"),
    };
}
