using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Tests.Embeddings;

/// <summary>One test per EmbeddingGemma bug class seen in peer systems (peers.md §2); each fails if the bug comes back.</summary>
public sealed class PeerBugClassTests
{
    private static float[] LayerOutput(ModelWeights w, int[] ids, string name)
    {
        float[]? captured = null;
        var enc = new ReferenceEncoder(w, (n, v, _, _) =>
        {
            if (n == name)
            {
                captured = v.ToArray();
            }
        });
        enc.EncodeTokens(ids);
        return captured ?? throw new InvalidOperationException($"intermediate {name} not seen");
    }

    private static bool RowChanged(float[] a, float[] b, int row, int h)
    {
        for (var i = 0; i < h; i++)
        {
            if (a[row * h + i] != b[row * h + i])
            {
                return true;
            }
        }
        return false;
    }

    [Fact]
    public void AttentionIsBidirectionalNotCausal()
    {
        // Causal attention (Ollama <= 0.12.6, transformers < 4.57): token 0 could not see token 5.
        using var w = ModelWeights.LoadHuggingFaceFolder(TinyModels.Default.Folder);
        int[] a = [2, 40, 50, 60, 70, 80, 1];
        var b = (int[])a.Clone();
        b[5] = 90;
        var h = w.Config.HiddenSize;
        var ha = LayerOutput(w, a, "layer.0.out");
        var hb = LayerOutput(w, b, "layer.0.out");
        Assert.True(RowChanged(ha, hb, 0, h), "the first token must see a later token");
    }

    [Fact]
    public void SlidingWindowIsSymmetricWithRadiusHalfTheWindow()
    {
        // Wrong window (transformers before #40700, halved configs #47940, llama.cpp #15867): on a sliding layer, token j
        // influences token i after one layer iff |i - j| <= W/2 (W = 16 here).
        using var w = ModelWeights.LoadHuggingFaceFolder(TinyModels.Default.Folder);
        var c = w.Config;
        Assert.True(c.IsSlidingLayer(0));
        Assert.False(c.IsSlidingLayer(5));
        var radius = c.SlidingWindow / 2;
        var ids = Enumerable.Range(0, 40).Select(i => 10 + i * 7 % 300).ToArray();
        const int changed = 20;
        var other = (int[])ids.Clone();
        other[changed] = 333;
        var h = c.HiddenSize;
        var a = LayerOutput(w, ids, "layer.0.out");
        var b = LayerOutput(w, other, "layer.0.out");
        for (var i = 0; i < ids.Length; i++)
        {
            var expected = Math.Abs(i - changed) <= radius;
            Assert.True(expected == RowChanged(a, b, i, h), $"position {i}: influence of position {changed} should be {expected} (radius {radius})");
        }
        // The global layer (5) sees everything.
        var ga = LayerOutput(w, ids, "layer.5.attn_out");
        var gb = LayerOutput(w, other, "layer.5.attn_out");
        Assert.True(RowChanged(ga, gb, 0, c.NumAttentionHeads * c.HeadDim));
    }

    [Fact]
    public void HalvedSlidingWindowInAResavedFullConfigIsRepaired()
    {
        var json = GemmaConfig.EmbeddingGemma300M.ToJson().Replace("\"sliding_window\": 512", "\"sliding_window\": 257", StringComparison.Ordinal);
        Assert.Contains("257", json, StringComparison.Ordinal);
        var c = GemmaConfig.FromJson(json);
        Assert.Equal(512, c.SlidingWindow);
        Assert.Equal(256, c.SlidingWindowRadius);
        Assert.NotNull(c.SlidingWindowNote);
        Assert.Equal(512, GemmaConfig.FromJson(json.Replace("257", "129", StringComparison.Ordinal)).SlidingWindow);
    }

    [Fact]
    public void GgufWithoutDenseHeadsIsRefusedUnlessAskedFor()
    {
        // Missing Dense (llama.cpp GGUFs before #16367/#18677, TEI local folders before #738).
        var dir = TestPaths.NewTempDir();
        var ckpt = RandomModel.Create("tiny", 42);
        var noDense = new ModelCheckpoint { Config = ckpt.Config, Tensors = ckpt.Tensors.Where(t => !t.Name.Contains("_Dense", StringComparison.Ordinal)).ToList(), TokenizerJson = ckpt.TokenizerJson };
        var path = Path.Combine(dir, "nodense.gguf");
        noDense.WriteGguf(path);
        var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load(path));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("dense_2", e.Message, StringComparison.Ordinal);
        using var pooledOnly = EmbeddingGemmaModel.Load(path, new ModelLoadOptions { AllowMissingDense = true });
        Assert.False(pooledOnly.HasDenseHeads);
        using var full = EmbeddingGemmaModel.Load(TinyModels.Default.GgufPath);
        var v1 = pooledOnly.Encode("hello world");
        var v2 = full.Encode("hello world");
        Assert.True(VectorOps.Cosine(v1, v2) < Tolerances.BugClassMaxCosine, "the Dense heads must change the vector");

        var folder = Path.Combine(dir, "nodense-folder");
        noDense.WriteHuggingFaceFolder(folder);
        var e2 = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load(folder));
        Assert.Contains("2_Dense", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Float16ActivationsAreRefused()
    {
        var e = Assert.Throws<EmbeddingGemmaException>(() => EmbeddingGemmaModel.Load(TinyModels.Default.Folder, new ModelLoadOptions { Activations = ActivationPrecision.Float16 }));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("float16", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PromptsAreAppliedAndChangeTheVector()
    {
        using var m = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        const string q = "Which planet is known as the Red Planet?";
        var plain = m.Encode(q);
        var query = m.EncodeQuery(q);
        Assert.Equal(m.Encode(q, new EncodeOptions { Prompt = "task: search result | query: " }), query);
        Assert.Equal(m.Encode(q, new EncodeOptions { PromptName = "Retrieval-query" }), query);
        Assert.Equal(m.Encode(q, new EncodeOptions { Task = "retrieval_query" }), query);
        Assert.True(VectorOps.Cosine(plain, query) < Tolerances.BugClassMaxCosine);
        var doc = m.EncodeDocument(q);
        Assert.Equal(m.Encode(q, new EncodeOptions { Prompt = "title: none | text: " }), doc);
        var titled = m.EncodeDocument(q, "Planets");
        Assert.Equal(m.Encode(q, new EncodeOptions { Prompt = "title: Planets | text: " }), titled);
        Assert.Equal(m.Encode(q, new EncodeOptions { Task = "qa_query" }), m.Encode(q, new EncodeOptions { Prompt = "task: question answering | query: " }));
        // the prompt's tokens are part of the pooled sequence
        var tq = m.Tokenize(q, EncodeOptions.Query);
        var tp = m.Tokenize(q);
        Assert.True(tq.TokenCount > tp.TokenCount);
        Assert.Equal(m.Tokenizer!.EncodeToIds("task: search result | query: " + q), tq.Ids);
    }

    [Fact]
    public void AllFourteenPromptsAreWrittenAndResolvable()
    {
        using var m = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        Assert.Equal(14, m.Prompts.Count);
        foreach (var (name, prompt) in ModelPrompts.SentenceTransformersPrompts)
        {
            Assert.Equal(prompt, m.Prompts[name]);
            Assert.Equal(prompt, m.PromptResolver.Resolve(new EncodeOptions { PromptName = name }));
        }
    }

    [Fact]
    public void SequencesAreWrappedInBosAndEosAndTruncationKeepsEos()
    {
        using var m = EmbeddingGemmaModel.Load(TinyModels.Default.GgufPath);
        var t = m.Tokenize("hello world");
        Assert.Equal(2, t.Ids[0]);
        Assert.Equal(1, t.Ids[^1]);
        Assert.False(t.Truncated);
        var longText = string.Join(' ', Enumerable.Repeat("planet", 100));
        var cut = m.Tokenize(longText, new EncodeOptions { MaxTokens = 10 });
        Assert.True(cut.Truncated);
        Assert.Equal(10, cut.TokenCount);
        Assert.Equal(2, cut.Ids[0]);
        Assert.Equal(1, cut.Ids[^1]);
        var detailed = m.EncodeDetailed([longText], new EncodeOptions { MaxTokens = 10 });
        Assert.True(detailed[0].Truncated);
        var e = Assert.Throws<EmbeddingGemmaException>(() => m.Encode([longText], new EncodeOptions { MaxTokens = 10, Truncate = false }));
        Assert.Equal(ErrorKind.InputTooLong, e.Kind);
    }
}
