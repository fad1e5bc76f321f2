using System.Collections.Concurrent;
using EmbeddingGemma.Model;

namespace EmbeddingGemma.Testing;

/// <summary>A generated random model: the same weights as a Hugging Face folder and as an F32 GGUF.</summary>
internal sealed record TinyModel(string Name, string Folder, string GgufPath, GemmaConfig Config);

/// <summary>
/// Tiny random EmbeddingGemma models for tests, generated once per test process into a temp folder (well under a
/// second each) with <see cref="RandomModel"/> and the synthetic tokenizer. Shared by every test project.
/// </summary>
internal static class TinyModels
{
    private static readonly ConcurrentDictionary<string, Lazy<TinyModel>> Cache = new(StringComparer.Ordinal);
    private static readonly string Root = Path.Combine(Path.GetTempPath(), $"embeddinggemma-tiny-{Environment.ProcessId}-{Guid.NewGuid():N}");

    static TinyModels()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
    }

    /// <summary>hidden 64, 6 layers (layer 5 global), 4 heads / 2 KV heads of 16, window 16 (radius 8), dense 256.</summary>
    public static TinyModel Default => Get("tiny");

    /// <summary>hidden 96, 12 layers, 3 heads / 1 KV head of 32, window 32, non-default RoPE bases and eps.</summary>
    public static TinyModel SingleKvHead => Get("tiny-mqa", c => c with
    {
        HiddenSize = 96,
        IntermediateSize = 160,
        NumHiddenLayers = 12,
        NumAttentionHeads = 3,
        NumKeyValueHeads = 1,
        HeadDim = 32,
        QueryPreAttnScalar = 32,
        SlidingWindow = 32,
        RopeTheta = 500_000,
        RopeLocalBaseFreq = 20_000,
        RmsNormEps = 1e-5,
        LayerTypes = null,
    }, seed: 7);

    /// <summary>A cached model by name; <paramref name="configure"/> overrides the tiny config.</summary>
    public static TinyModel Get(string name, Func<GemmaConfig, GemmaConfig>? configure = null, int seed = 42) =>
        Cache.GetOrAdd(name, n => new Lazy<TinyModel>(() =>
        {
            var ckpt = RandomModel.Create("tiny", seed, configure);
            var folder = Path.Combine(Root, n);
            ckpt.WriteHuggingFaceFolder(folder);
            var gguf = Path.Combine(Root, n + ".gguf");
            ckpt.WriteGguf(gguf);
            return new TinyModel(n, folder, gguf, ckpt.Config);
        })).Value;
}
