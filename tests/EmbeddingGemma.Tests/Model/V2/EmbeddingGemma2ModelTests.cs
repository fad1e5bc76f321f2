using System.Text.Json.Nodes;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.V2;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Model.V2;

/// <summary>EmbeddingGemma 2 through the public library: loading by architecture, pipeline, limits, prompts, wrong combinations.</summary>
public sealed class EmbeddingGemma2ModelTests
{
    private static readonly string[] Texts = ["hello world", "Which planet is known as the Red Planet?", "Mars, known for its reddish appearance."];

    private static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), $"eg2-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(d);
        return d;
    }

    private static void CopyDir(string from, string to)
    {
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var dst = Path.Combine(to, Path.GetRelativePath(from, f));
            Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
            File.Copy(f, dst);
        }
    }

    [Fact]
    public void LoadPicksTheArchitectureFromTheFilesAndV1IsUnchanged()
    {
        var m2 = TinyModels2.Default;
        using var folder = EmbeddingGemmaModel.Load(m2.Folder);
        using var gguf = EmbeddingGemmaModel.Load(m2.GgufPath);
        using var v1 = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        Assert.Equal("embeddinggemma2", folder.Architecture);
        Assert.Equal("embeddinggemma2", gguf.Architecture);
        Assert.Equal("embeddinggemma", v1.Architecture);
        Assert.Null(v1.Config2);
        Assert.Equal(96, folder.Dimensions);                 // embedding_dim, not hidden 64
        Assert.Equal(8192, folder.MaxTokens);                // supported context, not max_position_embeddings 262144
        Assert.Equal(8192, gguf.MaxTokens);
        Assert.Equal(m2.Config.ParameterCount, folder.ParameterCount);
        Assert.Equal(m2.Checkpoint.ParameterCount, folder.ParameterCount);
        Assert.IsType<EmbeddingGemma.Model.Fast.FastEncoder2>(folder.Encoder);
        Assert.Throws<EmbeddingGemmaException>(() => folder.Weights);
        Assert.Equal("safetensors", folder.WeightSource.Format);
        Assert.Equal(["vision_tower.encoder.stub.weight", "embed_audio.embedding_projection.weight"], folder.Weights2!.Files.Skipped.Order().Reverse());
        Assert.Equal(
            [PipelineStageKind.Prompt, PipelineStageKind.Tokenize, PipelineStageKind.Encoder, PipelineStageKind.Projection, PipelineStageKind.MeanPooling, PipelineStageKind.Normalize, PipelineStageKind.Matryoshka],
            folder.Pipeline.Stages.Select(s => s.Kind));
        Assert.Empty(folder.Pipeline.Dense);
    }

    [Fact]
    public void FolderAndGgufGiveIdenticalUnitVectorsThroughThePipeline()
    {
        var m2 = TinyModels2.Default;
        using var folder = EmbeddingGemmaModel.Load(m2.Folder);
        using var gguf = EmbeddingGemmaModel.Load(m2.GgufPath);
        var a = folder.EncodeQuery(Texts);
        var b = gguf.EncodeQuery(Texts);
        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(a[i], b[i]);   // tolerance 0
            Assert.Equal(96, a[i].Length);
            Assert.InRange(Math.Sqrt(a[i].Sum(x => (double)x * x)), 1 - Tolerances.UnitNorm, 1 + Tolerances.UnitNorm);
        }
        var small = folder.Encode(Texts[1], new EncodeOptions { Dimensions = 32 });
        Assert.Equal(32, small.Length);
        Assert.True(VectorOps.Cosine(small, folder.Encode(Texts[1]).AsSpan(0, 32)) > 0.999999f);
    }

    [Fact]
    public void PipelineMatchesTheIndependentOracleOnText()
    {
        var m2 = TinyModels2.Default;
        using var model = EmbeddingGemmaModel.Load(m2.Folder);
        var t = model.Tokenize(Texts[1], new EncodeOptions { PromptName = "query" });
        Assert.Equal(2, t.Ids[0]);
        Assert.Equal(1, t.Ids[^1]);
        var oracle = Gemma2Oracle.Encode(m2.Checkpoint, t.Ids);
        var ours = model.EncodeQuery(Texts[1]);
        Assert.True(Gemma2Oracle.Cosine(oracle, ours) >= Tolerances.Gemma2Fp32MinCosine);
        Assert.True(Gemma2Oracle.MaxAbs(oracle, ours) <= Tolerances.Gemma2Fp32MaxAbs);
    }

    [Fact]
    public void EightThousandOneHundredNinetyTwoTokenLimitIsEnforced()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels2.Default.Folder);
        var longText = string.Join(' ', Enumerable.Repeat("planet", 9000));
        var t = model.Tokenize(longText);
        Assert.True(t.Truncated);
        Assert.Equal(8192, t.Ids.Length);
        Assert.Equal(1, t.Ids[^1]);
        var e = Assert.Throws<EmbeddingGemmaException>(() => model.Tokenize(longText, new EncodeOptions { Truncate = false }));
        Assert.Equal(ErrorKind.InputTooLong, e.Kind);
        var ids = Enumerable.Repeat(5, 8193).ToArray();
        Assert.Equal(ErrorKind.InputTooLong, Assert.Throws<EmbeddingGemmaException>(() => model.EncodeTokenIds([ids])).Kind);
    }

    [Fact]
    public void InputIsNotStrippedAndPromptsAreEmbeddingGemma2s()
    {
        using var model = EmbeddingGemmaModel.Load(TinyModels2.Default.GgufPath);   // GGUF: the built-in v2 prompt table
        Assert.NotEqual(model.Tokenize(" hello world ").Ids, model.Tokenize("hello world").Ids);   // ST 6 does not strip (spec2 §8.11)
        Assert.Equal("task: sentence similarity | query: ", model.Prompts["Summarization"]);
        Assert.Equal("task: code retrieval | query: ", model.Prompts["CodeRetrieval"]);
        Assert.Equal("task: search result | query: ", model.Tokenize("x", new EncodeOptions { PromptName = "query" }).Prompt);
        using var folder = EmbeddingGemmaModel.Load(TinyModels2.Default.Folder);
        Assert.Equal("task: sentence similarity | query: ", folder.Prompts["Summarization"]);   // config_sentence_transformers.json
    }

    [Fact]
    public void MediaPlaceholderIdsInTextAreRefused()
    {
        // find a piece of the synthetic vocabulary that tokenizes to itself, and declare it the image placeholder
        using var probe = EmbeddingGemmaModel.Load(TinyModels2.Default.Folder);
        var tok = probe.Tokenizer!;
        var id = Enumerable.Range(300, 400).First(i => tok.EncodeToIds(tok.Decode([i])) is { Length: 3 } x && x[1] == i);
        var text = tok.Decode([id]);
        var m = TinyModels2.Get($"tiny2-image-{id}", c => c with { ImageTokenId = id });
        using var model = EmbeddingGemmaModel.Load(m.Folder);
        var e = Assert.Throws<EmbeddingGemmaException>(() => model.Encode(text));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("placeholder", e.Message, StringComparison.Ordinal);
        // as ids the placeholder embeds as pad (HF EmbeddingGemma2Model.forward)
        Assert.Equal(model.EncodeTokenIds([[2, 0, 1]])[0], model.EncodeTokenIds([[2, id, 1]])[0]);
    }

    [Fact]
    public void WrongCombinationsAreClearErrors()
    {
        var dir = TempDir();
        try
        {
            // v2 config.json with v1 tensors
            var a = Path.Combine(dir, "a");
            CopyDir(TinyModels.Default.Folder, a);
            File.Copy(Path.Combine(TinyModels2.Default.Folder, "config.json"), Path.Combine(a, "config.json"), overwrite: true);
            var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load(a));
            Assert.Contains("Dense", e.Message, StringComparison.Ordinal);
            // v1 config.json with v2 tensors
            var b = Path.Combine(dir, "b");
            CopyDir(TinyModels2.Default.Folder, b);
            File.Copy(Path.Combine(TinyModels.Default.Folder, "config.json"), Path.Combine(b, "config.json"), overwrite: true);
            e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load(b));
            Assert.Contains("language_model.", e.Message, StringComparison.Ordinal);
            // a v2 folder whose modules.json lists a Dense module
            var c = Path.Combine(dir, "c");
            CopyDir(TinyModels2.Default.Folder, c);
            var modules = JsonNode.Parse(File.ReadAllText(Path.Combine(c, "modules.json")))!.AsArray();
            modules.Insert(2, new JsonObject { ["idx"] = 2, ["name"] = "2", ["path"] = "2_Dense", ["type"] = "sentence_transformers.models.Dense" });
            File.WriteAllText(Path.Combine(c, "modules.json"), modules.ToJsonString());
            e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load(c));
            Assert.Contains("Dense", e.Message, StringComparison.Ordinal);
            // the v1 backbone loader on a v2 GGUF, and the v2 loader on a v1 GGUF
            e = Assert.Throws<EmbeddingGemmaException>(() => ModelWeights.LoadGguf(TinyModels2.Default.GgufPath));
            Assert.Contains("gemma-embedding2", e.Message, StringComparison.Ordinal);
            e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemma2Weights.Load(TinyModels.Default.GgufPath));
            Assert.Contains("not an EmbeddingGemma 2 model", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ConfigReadsPerLayerOverridesAndRefusesPartialRope()
    {
        var json = """
        {"model_type":"embedding_gemma2","text_config":{"hidden_size":64,"num_hidden_layers":4,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":16,
         "vocab_size":100,"hidden_size_per_layer_input":32,"embedding_dim":48,"intermediate_size":96,"sliding_window":4,
         "layer_types":["sliding_attention","full_attention","sliding_attention","sliding_attention"],
         "per_layer_config":{"1":{"head_dim":32,"num_key_value_heads":1}}}}
        """;
        var c = EmbeddingGemma2Config.FromJson(json);
        Assert.Equal((16, 2), (c.LayerHeadDim(0), c.LayerKeyValueHeads(0)));
        Assert.Equal((32, 1), (c.LayerHeadDim(1), c.LayerKeyValueHeads(1)));
        Assert.False(c.IsSlidingLayer(3));   // last layer forced full (HF-CFG)
        Assert.NotNull(c.Note);
        Assert.Equal((512, 1), (c.LayerHeadDim(3), c.LayerKeyValueHeads(3)));   // no global_head_dim: transformers' fallback 512 / 1 (spec2 §11.3)
        var partial = json.Replace("\"sliding_window\":4,", "\"sliding_window\":4,\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"proportional\",\"partial_rotary_factor\":0.25,\"rope_theta\":1000000.0}},", StringComparison.Ordinal);
        Assert.Contains("rope_parameters.full_attention", Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemma2Config.FromJson(partial)).Message, StringComparison.Ordinal);
        Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemma2Config.FromJson("""{"model_type":"gemma3_text"}"""));
    }

    [Fact]
    public void ReleasedShapesGiveTheSpecParameterCount()
    {
        // spec2 §6: 271,002,648 text parameters incl. the 24 layer scalars
        Assert.Equal(271_002_648, EmbeddingGemma2Config.Released.ParameterCount);
        var types = EmbeddingGemma2Config.Released.LayerTypes!;
        Assert.Equal([5, 11, 17, 23], Enumerable.Range(0, 24).Where(i => types[i] == "full_attention"));
    }

    [Fact]
    public void GgufMetadataFollowsLlamaCppKeys()
    {
        using var g = GgufFile.Open(TinyModels2.Default.GgufPath);
        const string a = "gemma-embedding2.";
        Assert.Equal("gemma-embedding2", g.GetString("general.architecture"));
        Assert.Equal(16u, g.GetUInt(a + "attention.sliding_window"));          // 2 x radius 8
        Assert.Equal([2, 2, 2, 2, 2, 1], g.TryGetArray<int>(a + "attention.head_count_kv")!);
        Assert.Equal(32u, g.GetUInt(a + "attention.key_length"));
        Assert.Equal(16u, g.GetUInt(a + "attention.key_length_swa"));
        Assert.Equal(96u, g.GetUInt(a + "embedding_length_out"));
        Assert.Equal(48u, g.GetUInt(a + "embedding_length_per_layer_input"));
        Assert.Contains("blk.0.layer_output_scale.weight", g.Tensors.Keys);
        Assert.Contains("output.weight", g.Tensors.Keys);
        Assert.DoesNotContain(g.Tensors.Keys, k => k.Contains("vision", StringComparison.Ordinal) || k.Contains("audio", StringComparison.Ordinal));
        Assert.Equal(6 * 17 + 5, g.Tensors.Count);   // 17 per layer + 5 (spec2 §5.1: 413 for 24 layers)
        var k = g.ReadFloats("blk.0.attn_k_norm.weight");
        Assert.InRange(k.Average(), 0.1, 0.15);   // stored raw, not 1 + w
    }
}
