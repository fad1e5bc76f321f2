using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Formats;

public sealed class FormatRoundTripTests
{
    [Fact]
    public void GgufCarriesEveryMetadataKeyOfTheSpec()
    {
        using var g = GgufFile.Open(TinyModels.Default.GgufPath);
        var c = TinyModels.Default.Config;
        Assert.Equal(3u, g.Version);
        Assert.Equal("gemma-embedding", g.GetString("general.architecture"));
        const string a = "gemma-embedding.";
        Assert.Equal((ulong)c.MaxPositionEmbeddings, g.GetUInt(a + "context_length"));
        Assert.Equal((ulong)c.HiddenSize, g.GetUInt(a + "embedding_length"));
        Assert.Equal((ulong)c.NumHiddenLayers, g.GetUInt(a + "block_count"));
        Assert.Equal((ulong)c.IntermediateSize, g.GetUInt(a + "feed_forward_length"));
        Assert.Equal((ulong)c.NumAttentionHeads, g.GetUInt(a + "attention.head_count"));
        Assert.Equal((ulong)c.NumKeyValueHeads, g.GetUInt(a + "attention.head_count_kv"));
        Assert.Equal((ulong)c.HeadDim, g.GetUInt(a + "attention.key_length"));
        Assert.Equal((ulong)c.HeadDim, g.GetUInt(a + "attention.value_length"));
        Assert.Equal(1e-6, g.GetDouble(a + "attention.layer_norm_rms_epsilon"), 1e-12);
        Assert.Equal(1e6, g.GetDouble(a + "rope.freq_base"));
        Assert.Equal(1e4, g.GetDouble(a + "rope.freq_base_swa"));
        Assert.Equal((ulong)c.SlidingWindow, g.GetUInt(a + "attention.sliding_window"));
        Assert.Equal(6ul, g.GetUInt(a + "attention.sliding_window_pattern"));
        Assert.Equal(1ul, g.GetUInt(a + "pooling_type"));
        Assert.Equal((ulong)c.HiddenSize, g.GetUInt(a + "dense_2_feat_in"));
        Assert.Equal(4ul * (ulong)c.HiddenSize, g.GetUInt(a + "dense_2_feat_out"));
        Assert.Equal(4ul * (ulong)c.HiddenSize, g.GetUInt(a + "dense_3_feat_in"));
        Assert.Equal((ulong)c.HiddenSize, g.GetUInt(a + "dense_3_feat_out"));
        Assert.Equal("llama", g.GetString("tokenizer.ggml.model"));
        Assert.Equal(c.VocabSize, g.TryGetArray<string>("tokenizer.ggml.tokens")!.Length);
        Assert.Equal(2ul, g.GetUInt("tokenizer.ggml.bos_token_id"));
        Assert.Equal(1ul, g.GetUInt("tokenizer.ggml.eos_token_id"));
        Assert.True(g.TryGetBool("tokenizer.ggml.add_eos_token"));
        Assert.False(g.TryGetBool("tokenizer.ggml.add_space_prefix"));
        // 2 + 13 per layer + 2 dense tensors
        Assert.Equal(2 + 13 * c.NumHiddenLayers + 2, g.Tensors.Count);
        Assert.Equal([c.HiddenSize, 4L * c.HiddenSize], g.Tensors["dense_3.weight"].Shape);
        Assert.All(g.Tensors.Values.Where(t => t.Name.EndsWith("norm.weight", StringComparison.Ordinal)), t => Assert.Equal(GgmlType.F32, t.Type));
    }

    [Fact]
    public void GgufVersion2ReadsLikeVersion3AndATokenizerBesideTheGgufIsUsed()
    {
        var dir = TestPaths.NewTempDir();
        var bytes = File.ReadAllBytes(TinyModels.Default.GgufPath);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 2);
        var v2 = Path.Combine(dir, "v2.gguf");
        File.WriteAllBytes(v2, bytes);
        using (var g = GgufFile.Open(v2))
        {
            Assert.Equal(2u, g.Version);
            Assert.Equal(TinyModels.Default.Config.NumHiddenLayers * 13 + 4, g.Tensors.Count);
        }
        // a tokenizer.json beside the GGUF wins over the GGUF vocabulary and gives the same ids for this model
        File.Copy(Path.Combine(TinyModels.Default.Folder, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        File.Copy(Path.Combine(TinyModels.Default.Folder, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        using var withJson = EmbeddingGemmaModel.Load(v2);
        using var fromVocab = EmbeddingGemmaModel.Load(TinyModels.Default.GgufPath);
        Assert.Equal(fromVocab.Tokenize("the red planet, Mars!").Ids, withJson.Tokenize("the red planet, Mars!").Ids);
        Assert.Equal(fromVocab.Encode("the red planet, Mars!"), withJson.Encode("the red planet, Mars!"));
    }

    [Fact]
    public void GgufNormsAreStoredPlusOne()
    {
        using var st = SafetensorsFile.Open(Path.Combine(TinyModels.Default.Folder, "model.safetensors"));
        using var g = GgufFile.Open(TinyModels.Default.GgufPath);
        var hf = st.ReadFloats("layers.2.post_feedforward_layernorm.weight");
        var gg = g.ReadFloats("blk.2.post_ffw_norm.weight");
        Assert.Equal(hf.Select(v => 1f + v), gg);
        Assert.Equal(st.ReadFloats("layers.2.mlp.down_proj.weight"), g.ReadFloats("blk.2.ffn_down.weight"));
    }

    [Fact]
    public void TensorNameTableRoundTrips()
    {
        foreach (var s in TensorNameMap.LayerSuffixes)
        {
            var hf = TensorNameMap.Layer(7, s);
            Assert.Equal(hf, TensorNameMap.ToHf(TensorNameMap.ToGguf(hf)));
        }
        Assert.Equal("token_embd.weight", TensorNameMap.ToGguf("embed_tokens.weight"));
        Assert.Equal("blk.3.post_ffw_norm.weight", TensorNameMap.ToGguf("layers.3.post_feedforward_layernorm.weight"));
        Assert.Equal("dense_2.weight", TensorNameMap.ToGguf(TensorNameMap.Dense2Hf));
    }

    [Theory]
    [InlineData(GgmlType.F16, 0.9999)]
    [InlineData(GgmlType.BF16, 0.999)]
    [InlineData(GgmlType.Q8_0, 0.99)]
    public void LowerPrecisionFilesLoadAndStayClose(GgmlType type, double minCos)
    {
        var dir = TestPaths.NewTempDir();
        var ckpt = RandomModel.Create("tiny", 42);
        var gguf = Path.Combine(dir, $"m-{type}.gguf");
        ckpt.WriteGguf(gguf, type);
        using var g = GgufFile.Open(gguf);
        Assert.Equal(type, g.Tensors["blk.0.attn_q.weight"].Type);
        using var full = EmbeddingGemmaModel.Load(TinyModels.Default.GgufPath);
        using var low = EmbeddingGemmaModel.Load(gguf);
        var a = full.Encode("the quick brown fox");
        var b = low.Encode("the quick brown fox");
        Assert.True(VectorOps.Cosine(a, b) >= minCos, $"{type}: cos {VectorOps.Cosine(a, b)}");
        if (type != GgmlType.Q8_0)
        {
            var folder = Path.Combine(dir, $"hf-{type}");
            ckpt.WriteHuggingFaceFolder(folder, type);
            using var hf = EmbeddingGemmaModel.Load(folder);
            // norms are rounded to the dtype in the folder but kept F32 in the GGUF, so compare with the F32 model
            Assert.True(VectorOps.Cosine(a, hf.Encode("the quick brown fox")) >= minCos);
        }
    }

    [Fact]
    public void RandomModelIsDeterministicAndSeedDependent()
    {
        var a = RandomModel.Create("tiny", 5);
        var b = RandomModel.Create("tiny", 5);
        var c = RandomModel.Create("tiny", 6);
        Assert.Equal(a.Tensors[3].Values, b.Tensors[3].Values);
        Assert.NotEqual(a.Tensors[3].Values, c.Tensors[3].Values);
        Assert.Equal(a.TokenizerJson, b.TokenizerJson);
        // an override of one field leaves unrelated tensors as they were
        var d = RandomModel.Create("tiny", 5, cfg => cfg with { IntermediateSize = 96 });
        Assert.Equal(a.Tensors.First(t => t.Name == "layers.0.self_attn.q_proj.weight").Values, d.Tensors.First(t => t.Name == "layers.0.self_attn.q_proj.weight").Values);
        var std = Math.Sqrt(a.Tensors.First(t => t.Name == "layers.0.mlp.up_proj.weight").Values.Average(v => (double)v * v));
        Assert.InRange(std, 0.05, 0.07); // 0.5/sqrt(64)
    }

    [Fact]
    public void ConfigRoundTripsAndValidates()
    {
        var c = GemmaConfig.FromJson(GemmaConfig.EmbeddingGemma300M.ToJson());
        Assert.Equal(768, c.HiddenSize);
        Assert.Equal(new[] { 5, 11, 17, 23 }, Enumerable.Range(0, 24).Where(i => !c.IsSlidingLayer(i)));
        Assert.Equal(0.0625, c.AttentionScale);
        var e = Assert.Throws<EmbeddingGemmaException>(() => GemmaConfig.FromJson(GemmaConfig.EmbeddingGemma300M.ToJson().Replace("\"use_bidirectional_attention\": true", "\"use_bidirectional_attention\": false", StringComparison.Ordinal)));
        Assert.Contains("use_bidirectional_attention", e.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<EmbeddingGemmaException>(() => GemmaConfig.FromJson("{\"num_key_value_heads\": 2}"));
        Assert.Contains("num_key_value_heads", e2.Message, StringComparison.Ordinal);
    }
}
