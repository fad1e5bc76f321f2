using System.Collections.Concurrent;
using EmbeddingGemma.Model.V2;

namespace EmbeddingGemma.Tests.Model.V2;

/// <summary>A generated random EmbeddingGemma 2 model: the same weights as an HF folder and an F32 GGUF, plus the checkpoint.</summary>
internal sealed record TinyModel2(string Name, string Folder, string GgufPath, ModelCheckpoint2 Checkpoint)
{
    public EmbeddingGemma2Config Config => Checkpoint.Config;
}

/// <summary>Tiny random EmbeddingGemma 2 models for tests, generated once per test process (well under a second each).</summary>
internal static class TinyModels2
{
    private static readonly ConcurrentDictionary<string, Lazy<TinyModel2>> Cache = new(StringComparer.Ordinal);
    private static readonly string Root = Path.Combine(Path.GetTempPath(), $"embeddinggemma2-tiny-{Environment.ProcessId}-{Guid.NewGuid():N}");

    static TinyModels2()
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

    /// <summary>hidden 64, 6 layers (5 full), 4 heads; sliding 2 KV x 16, full 1 KV x 32; PLE 48; projection 96; radius 8; with a vision and an audio stub tensor.</summary>
    public static TinyModel2 Default => Get("tiny2", stubs: ["vision_tower.encoder.stub.weight", "embed_audio.embedding_projection.weight"]);

    /// <summary>hidden 256 (8 quantization blocks per row), 4 layers, sliding 2 KV x 32, full 1 KV x 64, PLE 128, projection 192, radius 16.</summary>
    public static TinyModel2 Wide => Get("tiny2-wide", c => c with
    {
        HiddenSize = 256,
        IntermediateSize = 512,
        NumHiddenLayers = 4,
        HeadDim = 32,
        GlobalHeadDim = 64,
        HiddenSizePerLayerInput = 128,
        EmbeddingDim = 192,
        SlidingWindow = 16,
        LayerTypes = null,
    }, seed: 3);

    /// <summary>A cached model by name; <paramref name="configure"/> overrides the tiny config.</summary>
    public static TinyModel2 Get(string name, Func<EmbeddingGemma2Config, EmbeddingGemma2Config>? configure = null, int seed = 42, IReadOnlyList<string>? stubs = null) =>
        Cache.GetOrAdd(name, n => new Lazy<TinyModel2>(() =>
        {
            var ckpt = RandomModel2.Create("tiny", seed, configure, multimodalStubs: stubs);
            var folder = Path.Combine(Root, n);
            ckpt.WriteHuggingFaceFolder(folder);
            var gguf = Path.Combine(Root, n + ".gguf");
            ckpt.WriteGguf(gguf);
            return new TinyModel2(n, folder, gguf, ckpt);
        })).Value;
}
