using System.Runtime.Intrinsics.X86;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.Fast;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Embeddings;

/// <summary>
/// Issue 11: every user path runs the weights in their stored type through the fast engine, with per-model settings
/// and one weight representation shared by the engine and the reference. All through the public API.
/// </summary>
public sealed class OneEngineTests
{
    private static readonly ModelLoadOptions Local = new() { UseHub = false };

    private static double Cos(float[] a, float[] b) => VectorOps.Cosine(a, b);

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.F16)]
    public void A_gguf_loaded_with_Load_runs_its_stored_type_in_the_fast_engine(GgmlType type)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), $"tiny-{type}.gguf");
        RandomModel.Create("tiny", 42).WriteGguf(path, type);
        using var model = EmbeddingGemmaModel.Load(path, Local with { TokenizerPath = TinyModels.Default.Folder });

        // The engine holds the stored type: every layer matrix and both Dense layers; nothing was dequantized at load.
        Assert.Equal(type, model.WeightType);
        Assert.All(model.Weights.Layers.SelectMany(l => l.Matrices), m => Assert.Equal(type, m.Type));
        Assert.All(model.Pipeline.Dense, d => Assert.Equal(type, d.Weight.Type));
        Assert.Equal(new Dictionary<GgmlType, int> { [type] = 7 * model.Config.NumHiddenLayers }, model.Weights.MatrixTypes);
        var fast = Assert.IsType<FastSequenceEncoder>(model.Encoder);
        Assert.Same(model.Weights, fast.Engine.Weights);
        var int8 = type is GgmlType.Q4_0 or GgmlType.Q8_0;
        Assert.All(model.Weights.Layers.SelectMany(l => l.Matrices), m => Assert.Equal(int8 && Avx2.IsSupported && Fma.IsSupported, m.IsPacked));

        // The reference encoder reads the same objects; the engine agrees with it (tolerance: the int8 path quantizes
        // activations per 32-block as llama.cpp does, so CosineQuantized; float types CosineFp32).
        using var reference = EmbeddingGemmaModel.Load(path, Local with { TokenizerPath = TinyModels.Default.Folder, EncoderFactory = w => new ReferenceEncoder(w) });
        string[] texts = ["Which planet is known as the Red Planet?", "Mars", "a longer text about planets, moons and the distances between them"];
        var got = model.Encode(texts);
        var expected = reference.Encode(texts);
        var bar = int8 ? NumericTolerances.CosineQuantized : NumericTolerances.CosineFp32;
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.True(Cos(got[i], expected[i]) >= bar, $"{type} text {i}: cos {Cos(got[i], expected[i]):F9} < {bar}");
        }
    }

    [Fact]
    public void A_bf16_safetensors_folder_stays_bf16()
    {
        var folder = Path.Combine(TestPaths.NewTempDir(), "bf16");
        RandomModel.Create("tiny", 42).WriteHuggingFaceFolder(folder, GgmlType.BF16);
        using var model = EmbeddingGemmaModel.Load(folder, Local);
        Assert.Equal(GgmlType.BF16, model.WeightType);
        Assert.Equal("safetensors", model.Weights.Source.Format);
        Assert.Equal(GgmlType.BF16, model.Pipeline.Dense[0].Weight.Type);
        Assert.Equal(model.Dimensions, model.Encode("hello").Length);
    }

    [Fact]
    public async Task Threads_are_a_setting_of_each_model_and_never_change_a_vector()
    {
        using var one = EmbeddingGemmaModel.Load(TinyModels.Default.Folder, Local with { Threads = 1 });
        using var three = EmbeddingGemmaModel.Load(TinyModels.Default.Folder, Local with { Threads = 3 });
        Assert.Equal(1, one.Threads);
        Assert.Equal(1, Assert.IsType<FastSequenceEncoder>(one.Encoder).Engine.Threads);
        Assert.Equal(3, Assert.IsType<FastSequenceEncoder>(three.Encoder).Engine.Threads);
        using var dflt = EmbeddingGemmaModel.Load(TinyModels.Default.Folder, Local);
        Assert.Equal(KernelCatalog.DefaultThreads, dflt.Threads);
        string[] texts = ["one", "two texts of other lengths, in one batch", "three"];
        // Both models encode at the same time from two threads: per-model settings, no shared mutable state.
        var a = Task.Run(() => one.Encode(texts));
        var b = Task.Run(() => three.Encode(texts));
        var results = await Task.WhenAll(a, b);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(results[0][i], results[1][i]);   // bit-identical across thread counts
        }
    }

    [Fact]
    public void Profiling_is_per_model()
    {
        using var profiled = EmbeddingGemmaModel.Load(TinyModels.Default.Folder, Local with { Profile = true });
        using var plain = EmbeddingGemmaModel.Load(TinyModels.Default.Folder, Local with { Profile = false });
        profiled.Encode(["profile me"]);
        plain.Encode(["not me"]);
        var profile = Assert.IsType<FastSequenceEncoder>(profiled.Encoder).Engine.Profile;
        Assert.NotNull(profile);
        Assert.True(profile!.Seconds().Values.Sum() > 0);
        Assert.Contains("tokens", profile.Report(), StringComparison.Ordinal);
        Assert.Null(Assert.IsType<FastSequenceEncoder>(plain.Encoder).Engine.Profile);
    }

    [Fact]
    public void Hub_ids_are_refused_when_hub_resolution_is_off_and_resolved_per_model_otherwise()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load("google/embeddinggemma-300m", Local));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("UseHub", e.Message, StringComparison.Ordinal);
        string? asked = null;
        using var m = EmbeddingGemmaModel.Load("org/some-model", new ModelLoadOptions { HubResolver = (id, _) => { asked = id; return TinyModels.Default.Folder; } });
        Assert.Equal("org/some-model", asked);
    }

    [Fact]
    public void The_pipeline_is_the_ordered_stages_of_modules_json()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels.Default.Folder, Local);
        Assert.Equal(
            [PipelineStageKind.Prompt, PipelineStageKind.Tokenize, PipelineStageKind.Encoder, PipelineStageKind.MeanPooling,
             PipelineStageKind.Dense, PipelineStageKind.Dense, PipelineStageKind.Normalize, PipelineStageKind.Matryoshka],
            model.Pipeline.Stages.Select(s => s.Kind));
        Assert.Equal(["2_Dense", "3_Dense"], model.Pipeline.Dense.Select(d => d.Name));
        Assert.Equal(model.Config.HiddenSize, model.Pipeline.Dense[0].InFeatures);
        Assert.Equal(model.Config.HiddenSize, model.Pipeline.Dense[1].OutFeatures);

        // Batched Dense gives each input the vector it gets alone (bit for bit).
        string[] texts = ["alpha", "beta gamma delta", "epsilon"];
        var batch = model.Encode(texts, new EncodeOptions { BatchSize = 3 });
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(model.Encode(texts[i]), batch[i]);
        }
    }

    [Theory]
    [InlineData("modules.json", "{ not json", "modules.json")]
    [InlineData("modules.json", "{\"a\": 1}", "JSON array")]
    [InlineData("modules.json", "[{\"idx\":0,\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},{\"idx\":1,\"path\":\"x\",\"type\":\"sentence_transformers.models.LayerNorm\"}]", "LayerNorm")]
    [InlineData("2_Dense/config.json", "{\"in_features\": 64, \"out_features\": 999, \"bias\": false, \"activation_function\": \"torch.nn.modules.linear.Identity\"}", "out_features")]
    [InlineData("2_Dense/config.json", "{\"in_features\": \"sixty-four\"}", "in_features")]
    public void Bad_side_files_are_clear_errors_naming_the_file(string file, string content, string mentions)
    {
        var folder = Path.Combine(TestPaths.NewTempDir(), "m");
        RandomModel.Create("tiny", 42).WriteHuggingFaceFolder(folder);
        File.WriteAllText(Path.Combine(folder, file), content);
        var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load(folder, Local).Dispose());
        Assert.True(e.Kind is ErrorKind.InvalidFormat or ErrorKind.Unsupported, e.Kind.ToString());
        Assert.Contains(mentions, e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(file), e.Message, StringComparison.Ordinal);
    }
}
