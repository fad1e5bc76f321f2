using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Training.Data;
using EmbeddingGemma.Training.Optimization;

namespace EmbeddingGemma.Training.Tests.Trainer;

/// <summary>
/// The trainer end to end on a tiny random model (hidden 24, 3 layers, the fp64 reference encoder): resume is
/// bit-identical, the in-memory model equals the saved folder and GGUF, LoRA merges exactly, frozen sets stay frozen,
/// and the schedule reaches the optimizer.
/// </summary>
public sealed class TrainerTests
{
    internal static TinyModel Model => TinyModels.Get("trainer-tiny", c => c with
    {
        HiddenSize = 24,
        IntermediateSize = 40,
        NumHiddenLayers = 3,
        NumAttentionHeads = 3,
        NumKeyValueHeads = 1,
        HeadDim = 8,
        QueryPreAttnScalar = 8,
        SlidingWindow = 6,
        SlidingWindowPattern = 3,
        LayerTypes = null,
    }, seed: 5);

    internal static IReadOnlyList<TrainingDataset> Data()
    {
        string[] words = ["red", "green", "blue", "cat", "dog", "fish", "runs", "sleeps", "jumps", "the", "a", "big", "small", "house", "tree", "car"];
        var rng = new Random(3);
        string S() => string.Join(' ', Enumerable.Range(0, rng.Next(2, 6)).Select(_ => words[rng.Next(words.Length)]));
        var scored = Enumerable.Range(0, 7).Select(i => new TrainingRow([S(), S()], rng.NextDouble(), $"s{i}")).ToList();
        var pairs = Enumerable.Range(0, 5).Select(i => new TrainingRow([S() + $" {i}", S() + $" p{i}"], null, $"p{i}")).ToList();
        var triplets = Enumerable.Range(0, 4).Select(i => new TrainingRow([S() + $" {i}", S(), S()], null, $"t{i}")).ToList();
        return [new("s", TrainingDataKind.ScoredPairs, scored), new("p", TrainingDataKind.Pairs, pairs), new("t", TrainingDataKind.Triplets, triplets)];
    }

    private static TrainerOptions Options(string? checkpoints = null, string? resume = null, int lora = 0) => new()
    {
        BatchSize = 3,
        Epochs = 2,
        LearningRate = 1e-3,
        WarmupRatio = 0.2,
        Loss = "similarity=cosent,pair=mnrl,triplet=cached-mnrl",
        MatryoshkaDimensions = [24, 12],
        MiniBatch = 2,
        MaxLiveTokens = 20,
        LoraRank = lora,
        LoraTargets = ["q", "v", "down"],
        CheckpointDirectory = checkpoints,
        ResumeFrom = resume,
        Threads = 2,
    };

    private sealed class SyncProgress(Action<TrainingProgress> a) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => a(value);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void ResumeAfterCancellationIsBitIdentical(int lora)
    {
        var data = Data();
        using var straight = Training.Trainer.Load(Model.Folder, Options(lora: lora));
        var full = straight.Train(data);
        Assert.True(full.Steps >= 8, $"{full.Steps} steps");

        var dir = TestPaths.NewTempDir("eg-resume");
        using var cts = new CancellationTokenSource();
        using (var first = Training.Trainer.Load(Model.Folder, Options(dir, lora: lora)))
        {
            Assert.Throws<OperationCanceledException>(() => first.Train(data, new SyncProgress(p =>
            {
                if (p.Step == full.Steps / 2)
                {
                    cts.Cancel();
                }
            }), cts.Token));
            Assert.Equal(full.Steps / 2, first.Step);
        }
        Assert.Single(TrainingState.List(dir));
        using var resumed = Training.Trainer.Load(Model.Folder, Options(dir, resume: dir, lora: lora));
        var rest = resumed.Train(data);
        Assert.Equal(full.Steps, rest.Steps);
        for (var t = 0; t < straight.Encoder.Tensors.Count; t++)
        {
            Assert.True(straight.Encoder.Tensors[t].Values.AsSpan().SequenceEqual(resumed.Encoder.Tensors[t].Values), straight.Encoder.Tensors[t].Name);
        }
        for (var i = 0; i < straight.OptimizedTensors.Count; i++)
        {
            Assert.True(straight.OptimizedTensors[i].Values.AsSpan().SequenceEqual(resumed.OptimizedTensors[i].Values), straight.OptimizedTensors[i].Name);
            Assert.True(straight.Optimizer.FirstMoment(i).AsSpan().SequenceEqual(resumed.Optimizer.FirstMoment(i)));
            Assert.True(straight.Optimizer.SecondMoment(i).AsSpan().SequenceEqual(resumed.Optimizer.SecondMoment(i)));
        }
        Assert.Equal(straight.Optimizer.StepCount, resumed.Optimizer.StepCount);
        // and training moved the weights (a no-op trainer would pass the comparisons above)
        var baseCkpt = ModelCheckpoint.Read(Model.Folder);
        var q = baseCkpt.Tensors.First(t => t.Name == "layers.0.self_attn.q_proj.weight").Values;
        Assert.False(q.AsSpan().SequenceEqual(straight.Encoder.Tensors.First(t => t.Name == "layers.0.self_attn.q_proj.weight").Values));
    }

    [Fact]
    public void ResumeRefusesOtherSettingsNamingTheField()
    {
        var data = Data();
        var dir = TestPaths.NewTempDir("eg-resume");
        using (var t = Training.Trainer.Load(Model.Folder, Options(dir) with { MaxSteps = 2 }))
        {
            t.Train(data);
        }
        using var other = Training.Trainer.Load(Model.Folder, Options(dir, resume: dir) with { MaxSteps = 2, Seed = 7 });
        var e = Assert.Throws<EmbeddingGemmaException>(() => other.Train(data));
        Assert.Contains("'seed'", e.Message, StringComparison.Ordinal);
        Assert.Contains("trainer_state.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InMemoryModelEqualsSavedFolderAndGgufAndTheTrainedEncoder()
    {
        using var trainer = Training.Trainer.Load(Model.Folder, Options() with { MaxSteps = 3 });
        trainer.Train(Data());
        using var inMemory = trainer.CreateModel();
        var dir = TestPaths.NewTempDir("eg-trained");
        var gguf = trainer.Save(dir, "f32")!;
        using var folder = EmbeddingGemmaModel.Load(dir, new ModelLoadOptions { UseHub = false });
        using var file = EmbeddingGemmaModel.Load(gguf, new ModelLoadOptions { UseHub = false });
        using var before = EmbeddingGemmaModel.Load(Model.Folder, new ModelLoadOptions { UseHub = false });
        string[] texts = ["the big cat runs", "a small tree", "green car jumps over the house"];
        var opts = new EncodeOptions { Task = "retrieval_query" };
        var a = inMemory.Encode(texts, opts);
        var b = folder.Encode(texts, opts);
        var c = file.Encode(texts, opts);
        var old = before.Encode(texts, opts);
        for (var i = 0; i < texts.Length; i++)
        {
            // same float32 weights through the same loader and engine: identical vectors
            Assert.True(a[i].AsSpan().SequenceEqual(b[i]), "folder");
            Assert.True(a[i].AsSpan().SequenceEqual(c[i]), "gguf");
            Assert.True(MaxDiff(a[i], old[i]) > 1e-3, "training changed the vectors");
        }
        // the in-memory model runs the weights the trainer holds: the fp32 engine vs the trainer's fp64 reference
        var ids = texts.Select(t => inMemory.Tokenize(t, opts).Ids).ToArray();
        var reference = trainer.Encoder.Embed(ids);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.True(MaxDiff(a[i], reference[i]) < 2e-5, $"engine vs reference {MaxDiff(a[i], reference[i])}");
        }
        // a quantized GGUF (any type quantize writes) also loads and stays close
        var q8 = trainer.Save(TestPaths.NewTempDir("eg-trained-q8"), "q8_0")!;
        using var q8Model = EmbeddingGemmaModel.Load(q8, new ModelLoadOptions { UseHub = false });
        var d = q8Model.Encode(texts, opts);
        Assert.All(Enumerable.Range(0, texts.Length), i => Assert.True(EmbeddingGemmaModel.Similarity(a[i], d[i]) > 0.99f));
    }

    [Theory]
    [InlineData(40)]      // 16 texts of ≥ 3 tokens each: two-pass, every pass within the budget
    [InlineData(8192)]    // the whole batch in one pass, activations kept for the backward
    public void LiveTokenBudgetBoundsTheEncodersWorkspaceAndTrainingReleasesIt(int budget)
    {
        string[] words = ["red", "green", "blue", "cat", "dog", "fish", "runs", "sleeps", "the", "big", "small", "house"];
        var rng = new Random(11);
        string S() => string.Join(' ', Enumerable.Range(0, rng.Next(2, 5)).Select(_ => words[rng.Next(words.Length)]));
        var pairs = Enumerable.Range(0, 8).Select(i => new TrainingRow([S() + $" {i}", S() + $" p{i}"], null, $"p{i}")).ToList();
        using var trainer = Training.Trainer.Load(Model.Folder, new TrainerOptions { BatchSize = 8, MaxSteps = 2, Loss = "mnrl", MaxLiveTokens = budget, Threads = 2 });
        var encoder = Assert.IsType<Training.Fast.FastTrainableEncoder>(trainer.Encoder);
        var seen = new List<(int Tokens, int Layers)>();
        trainer.Train([new("p", TrainingDataKind.Pairs, pairs)], new SyncProgress(p =>
        {
            if (!p.EpochCompleted)
            {
                seen.Add((encoder.WorkspaceTokens, encoder.WorkspaceLayers));
            }
        }));
        Assert.Equal(2, seen.Count);
        var batchTokens = pairs.Sum(r => r.Texts.Sum(t => trainer.BaseModel.Tokenize(t, new EncodeOptions { Prompt = "" }).Ids.Length));
        Assert.All(seen, x => Assert.True(x.Tokens > 0 && x.Tokens <= budget, $"workspace of {x.Tokens} tokens, budget {budget}"));
        if (budget >= 8192)
        {
            Assert.All(seen, x => Assert.True(x.Tokens >= batchTokens, $"one pass holds the batch ({x.Tokens} < {batchTokens})"));
        }
        Assert.All(seen, x => Assert.Equal(Model.Config.NumHiddenLayers, x.Layers));
        Assert.Equal(0, encoder.WorkspaceTokens);     // released when training ended
    }

    private static double MaxDiff(float[] x, float[] y) => x.Zip(y, (p, q) => Math.Abs((double)p - q)).Max();

    [Fact]
    public void LoraGradientsAreTheChainRuleOfTheMatrixGradient()
    {
        // f(A, B) = Σ G ⊙ (W0 + s·B·A) is bilinear, so central differences in double are exact up to round-off:
        // an independent oracle for dA = s·Bᵀ·G and dB = s·G·Aᵀ. Tolerance 1e-5 relative (float32 outputs).
        var rng = new Random(4);
        const int Rows = 7, Cols = 5, Rank = 2;
        var w0 = Enumerable.Range(0, Rows * Cols).Select(_ => (float)rng.NextDouble()).ToArray();
        var tensors = new[] { new TrainableTensor("layers.0.self_attn.q_proj.weight", [Rows, Cols], (float[])w0.Clone(), false) };
        var lora = new LoraAdapter(tensors, Rank, alpha: 3, ["q"], [], seed: 1);
        var p = lora.Pairs.Single();
        for (var i = 0; i < p.B.Length; i++)
        {
            p.B[i] = (float)(rng.NextDouble() - 0.5);
        }
        var g = Enumerable.Range(0, Rows * Cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        double F(float[] a, float[] b)
        {
            double s = 0;
            for (var o = 0; o < Rows; o++)
            {
                for (var i = 0; i < Cols; i++)
                {
                    double ba = 0;
                    for (var k = 0; k < Rank; k++)
                    {
                        ba += (double)b[o * Rank + k] * a[k * Cols + i];
                    }
                    s += g[o * Cols + i] * (w0[o * Cols + i] + 1.5 * ba);
                }
            }
            return s;
        }
        var dA = new float[p.A.Length];
        var dB = new float[p.B.Length];
        lora.Backward(p, g, dA, dB);
        Assert.Equal(1.5, lora.Scale);
        void Check(float[] x, float[] analytic)
        {
            for (var j = 0; j < x.Length; j++)
            {
                var keep = x[j];
                x[j] = keep + 0.25f;
                var up = F(p.A, p.B);
                x[j] = keep - 0.25f;
                var down = F(p.A, p.B);
                x[j] = keep;
                var fd = (up - down) / 0.5;
                Assert.True(Math.Abs(fd - analytic[j]) <= 1e-5 * Math.Max(1, Math.Abs(fd)), $"{fd} vs {analytic[j]}");
            }
        }
        Check(p.A, dA);
        Check(p.B, dB);
        // merged forward equals the un-merged one: x·Wᵀ = x·W0ᵀ + s·(x·Aᵀ)·Bᵀ
        var merged = new float[Rows * Cols];
        lora.Merge(p, merged);
        var x = Enumerable.Range(0, Cols).Select(_ => rng.NextDouble()).ToArray();
        for (var o = 0; o < Rows; o++)
        {
            double y1 = 0, y0 = 0;
            for (var i = 0; i < Cols; i++)
            {
                y1 += merged[o * Cols + i] * x[i];
                y0 += w0[o * Cols + i] * x[i];
            }
            for (var k = 0; k < Rank; k++)
            {
                double xa = 0;
                for (var i = 0; i < Cols; i++)
                {
                    xa += p.A[k * Cols + i] * x[i];
                }
                y0 += 1.5 * xa * p.B[o * Rank + k];
            }
            Assert.True(Math.Abs(y1 - y0) <= 1e-6 * Math.Max(1, Math.Abs(y0)), $"row {o}: {y1} vs {y0}");
        }
    }

    [Fact]
    public void LoraTrainsOnlyAdaptersAndSavesTheMergedWeights()
    {
        using var trainer = Training.Trainer.Load(Model.Folder, Options(lora: 2) with { MaxSteps = 3 });
        trainer.Train(Data());
        var baseCkpt = ModelCheckpoint.Read(Model.Folder).Tensors.ToDictionary(t => t.Name);
        var saved = trainer.ToCheckpoint().Tensors.ToDictionary(t => t.Name);
        var lora = trainer.Lora!;
        Assert.Equal(9, lora.Pairs.Count);   // q, v, down in 3 layers
        Assert.Equal(18, trainer.OptimizedTensors.Count);
        foreach (var (name, t) in saved)
        {
            var pair = lora.Pairs.FirstOrDefault(p => p.Name == name);
            if (pair is null)
            {
                Assert.True(t.Values.AsSpan().SequenceEqual(baseCkpt[name].Values), $"{name} must stay frozen");
                continue;
            }
            Assert.Contains(pair.B, b => b != 0);
            // W = W0 + s·B·A recomputed here in double
            for (var o = 0; o < pair.Rows; o += 3)
            {
                for (var i = 0; i < pair.Cols; i += 5)
                {
                    double ba = 0;
                    for (var k = 0; k < lora.Rank; k++)
                    {
                        ba += (double)pair.B[o * lora.Rank + k] * pair.A[k * pair.Cols + i];
                    }
                    var expected = baseCkpt[name].Values[o * pair.Cols + i] + lora.Scale * ba;
                    Assert.True(Math.Abs(t.Values[o * pair.Cols + i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), name);
                }
            }
        }
    }

    [Fact]
    public void FrozenSetsStayFrozen()
    {
        var baseCkpt = ModelCheckpoint.Read(Model.Folder).Tensors.ToDictionary(t => t.Name);
        using (var t = Training.Trainer.Load(Model.Folder, Options() with { MaxSteps = 2, FrozenLayers = [1] }))
        {
            t.Train(Data());
            foreach (var x in t.Encoder.Tensors)
            {
                var unchanged = x.Values.AsSpan().SequenceEqual(baseCkpt[x.Name].Values);
                var frozen = x.Name == "embed_tokens.weight" || x.Name.StartsWith("layers.1.", StringComparison.Ordinal);
                Assert.True(frozen == unchanged, $"{x.Name}: frozen {frozen}, unchanged {unchanged}");
            }
        }
        using var all = Training.Trainer.Load(Model.Folder, Options() with { MaxSteps = 2, TrainEmbeddings = true });
        all.Train(Data());
        Assert.False(all.Encoder.Tensors[0].Values.AsSpan().SequenceEqual(baseCkpt["embed_tokens.weight"].Values));
    }

    [Fact]
    public void TheScheduleReachesTheOptimizer()
    {
        // 10 steps, warmup ceil(10 · 0.2) = 2, linear: lr_k = lr·k/2 for k < 2, then lr·(10 − k)/8 (HF's lambda)
        var lrs = new List<double>();
        using var t = Training.Trainer.Load(Model.Folder, Options() with { MaxSteps = 10, LearningRate = 0.004 });
        t.Train(Data(), new SyncProgress(p =>
        {
            if (!p.EpochCompleted)
            {
                lrs.Add(p.LearningRate);
            }
        }));
        double[] expected = [0, 0.002, 0.004, 0.0035, 0.003, 0.0025, 0.002, 0.0015, 0.001, 0.0005];
        Assert.Equal(expected.Length, lrs.Count);
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.Equal(expected[k], lrs[k], 12);
        }
        Assert.Equal(10, t.Optimizer.StepCount);
    }

    [Fact]
    public void ArticlePresetIsTheArticlesLoop()
    {
        var a = TrainerOptions.Article;
        Assert.Equal(1e-5, a.LearningRate);
        Assert.Equal(0.01, a.WeightDecay);
        Assert.True(a.DecayNorms);
        Assert.True(a.TrainEmbeddings);
        Assert.Equal(ScheduleKind.Constant, a.Scheduler);
        Assert.Equal(0, a.WarmupRatio);
        Assert.Null(a.MaxGradNorm);
        Assert.Equal(2, a.BatchSize);
        Assert.Equal(3, a.Epochs);
        Assert.Equal(10, a.LogEvery);
        var losses = LossSpec.Parse(a.Loss);
        Assert.Equal("cosine", losses[TrainingDataKind.ScoredPairs]);
        Assert.Equal("cosine-triplet", losses[TrainingDataKind.Triplets]);
        Assert.Equal("Epoch 2/3, Batch 10, Loss: 0.1235", new TrainingProgress { Epoch = 2, Epochs = 3, Batch = 10, Loss = 0.12345 }.ArticleLine);
    }

    [Fact]
    public void BadOptionsAreRefusedByName()
    {
        Assert.Contains("does not take similarity", Assert.Throws<EmbeddingGemmaException>(() => LossSpec.Parse("similarity=mnrl")).Message, StringComparison.Ordinal);
        Assert.Contains("unknown loss 'foo'", Assert.Throws<EmbeddingGemmaException>(() => LossSpec.Parse("foo")).Message, StringComparison.Ordinal);
        var e = Assert.Throws<EmbeddingGemmaException>(() => Training.Trainer.Load(Model.Folder, new TrainerOptions { MatryoshkaDimensions = [768] }));
        Assert.Contains("Matryoshka dimension 768", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<EmbeddingGemmaException>(() => Training.Trainer.Load(Model.Folder, new TrainerOptions { FrozenLayers = [3] }));
        Assert.Contains("frozen layer 3", e.Message, StringComparison.Ordinal);
        using var t = Training.Trainer.Load(Model.Folder, new TrainerOptions { Loss = "mnrl" });
        e = Assert.Throws<EmbeddingGemmaException>(() => t.Train(Data()));
        Assert.Contains("does not take similarity rows", e.Message, StringComparison.Ordinal);
    }
}
