using Xunit.Abstractions;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Training.Fast;
using EmbeddingGemma.Training.Losses;
using EmbeddingGemma.Training.Reference;
using EmbeddingGemma.Training.Tests.Reference;

namespace EmbeddingGemma.Training.Tests.Fast;

/// <summary>
/// The fp32 <see cref="FastTrainableEncoder"/> against the fp64 <see cref="ReferenceModel"/> (itself checked by finite
/// differences) on the tiny model of <see cref="WholeModelGradientTests"/> (hidden 24, 3 layers with layer 2 global,
/// 3 query heads on 1 KV head of 8, window 6 = radius 3). Sequences of 9..150 tokens cross the window, the attention's
/// 32-query blocks and its 128-key tiles. Norm used for "relative": per tensor, max |fast − reference| over all entries
/// divided by max |reference| over all entries (the ∞-norm of the error over the ∞-norm of the gradient).
/// </summary>
public class FastTrainableEncoderTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    private static TinyModel Model => WholeModelGradientTests.Model;

    private static int[][] Sequences(int vocab, params int[] lengths)
    {
        var rng = new Random(31);
        return lengths.Select(n => (int[])[2, .. Enumerable.Range(0, n - 2).Select(_ => rng.Next(5, vocab)), 1]).ToArray();
    }

    private static float[][] RandomGradients(int count, int dim, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, dim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
    }

    private static float[][] Zeros(ITrainableEncoder e) => e.Tensors.Select(t => t.Trainable ? new float[t.Values.Length] : []).ToArray();

    [Fact]
    public void Every_gradient_matches_the_fp64_reference()
    {
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        Assert.True(core.Config.MaxPositionEmbeddings >= 150);
        var seqs = Sequences(core.Config.VocabSize, 9, 40, 150, 11, 33);
        var fast = new FastTrainableEncoder(core, new FastTrainableEncoderOptions { TrainEmbeddings = true, Threads = 3 });
        var parameters = ReferenceParameters.FromModel(core);
        var reference = new ReferenceModel(parameters);
        Assert.Equal(parameters.Tensors.Select(t => t.Name), fast.Tensors.Select(t => t.Name));
        Assert.Equal(parameters.Tensors.Select(t => t.IsNorm), fast.Tensors.Select(t => t.IsNorm));
        var dy = RandomGradients(seqs.Length, fast.OutputDimension, 3);
        var grads = Zeros(fast);
        fast.Backward(seqs, dy, grads);
        var refGrads = parameters.ZerosLike();
        for (var i = 0; i < seqs.Length; i++)
        {
            reference.Backward(reference.Forward(seqs[i]), Array.ConvertAll(dy[i], v => (double)v), refGrads);
        }
        var worst = 0.0;
        for (var t = 0; t < fast.Tensors.Count; t++)
        {
            var expected = refGrads.Tensors[t].Values;
            var scale = expected.Max(Math.Abs);
            Assert.True(scale > 0, $"{fast.Tensors[t].Name}: reference gradient is all zero");
            var err = 0.0;
            for (var i = 0; i < expected.Length; i++)
            {
                err = Math.Max(err, Math.Abs(expected[i] - grads[t][i]));
            }
            var rel = err / scale;
            worst = Math.Max(worst, rel);
            Assert.True(rel <= Tolerance, $"{fast.Tensors[t].Name}: max error {err:E3} / max |reference| {scale:E3} = {rel:E3}");
        }
        // unused embedding rows (pad row 0 included) get exactly nothing
        var used = seqs.SelectMany(s => s).ToHashSet();
        var h = core.Config.HiddenSize;
        for (var row = 0; row < core.Config.VocabSize; row++)
        {
            if (!used.Contains(row))
            {
                Assert.All(grads[0].AsSpan(row * h, h).ToArray(), v => Assert.Equal(0f, v));
            }
        }
        output.WriteLine($"{fast.Tensors.Count} tensors; worst relative error (inf-norm ratio) {worst:E3}");
    }

    [Fact]
    public void Embed_matches_the_fp64_reference_and_the_engine()
    {
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        var seqs = Sequences(core.Config.VocabSize, 9, 40, 150, 3);
        var fast = new FastTrainableEncoder(core, new FastTrainableEncoderOptions { Threads = 2 });
        var ours = fast.Embed(seqs);
        var engine = core.EncodeTokenIds(seqs);
        var reference = new ReferenceModel(ReferenceParameters.FromModel(core));
        for (var i = 0; i < seqs.Length; i++)
        {
            var r = reference.Embed(seqs[i]);
            var vsRef = ours[i].Select((v, j) => Math.Abs(v - r[j])).Max();
            var vsEngine = ours[i].Select((v, j) => Math.Abs(v - engine[i][j])).Max();
            // unit vectors; fp32 activations through 3 layers: ~1e-7 per entry expected, 1e-5 allowed
            Assert.True(vsRef < 1e-5, $"sequence {i}: {vsRef:E3} vs the fp64 reference");
            Assert.True(vsEngine < 1e-5, $"sequence {i}: {vsEngine:E3} vs EmbeddingGemmaModel.EncodeTokenIds");
            output.WriteLine($"sequence {i} ({seqs[i].Length} tokens): max abs {vsRef:E3} vs fp64 reference, {vsEngine:E3} vs the engine");
        }
    }

    [Fact]
    public void Embed_matches_the_engine_on_a_model_with_two_kv_heads()
    {
        // TinyModels.Default: hidden 64, 6 layers, 4 heads on 2 KV heads of 16, window 16, Dense 256.
        using var core = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var seqs = Sequences(core.Config.VocabSize, 5, 70, 200);
        var fast = new FastTrainableEncoder(core);
        var ours = fast.Embed(seqs);
        var engine = core.EncodeTokenIds(seqs);
        for (var i = 0; i < seqs.Length; i++)
        {
            var diff = ours[i].Select((v, j) => Math.Abs(v - engine[i][j])).Max();
            Assert.True(diff < 1e-5, $"sequence {i}: {diff:E3}");
        }
    }

    [Fact]
    public void Gradients_do_not_depend_on_threads_and_barely_on_chunking()
    {
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        var seqs = Sequences(core.Config.VocabSize, 9, 40, 150, 11);
        var dy = RandomGradients(seqs.Length, core.Dimensions, 8);
        float[][] Run(int threads, int chunk)
        {
            var e = new FastTrainableEncoder(core, new FastTrainableEncoderOptions { Threads = threads, ChunkTokens = chunk });
            var g = Zeros(e);
            e.Backward(seqs, dy, g);
            return g;
        }
        var one = Run(1, 8192);
        var four = Run(4, 8192);
        var chunked = Run(3, 50);
        for (var t = 0; t < one.Length; t++)
        {
            Assert.Equal(one[t], four[t]);   // bitwise: every sum is split the same way whatever the thread count
            var scale = one[t].Length == 0 ? 0 : one[t].Max(Math.Abs);
            for (var i = 0; i < one[t].Length; i++)
            {
                // chunks of whole sequences change only the order of the token sums of weight gradients
                Assert.True(Math.Abs(one[t][i] - chunked[t][i]) <= 1e-5 * scale, $"tensor {t} entry {i}");
            }
        }
    }

    [Fact]
    public void Frozen_layers_and_embedding_get_no_gradient_and_leave_the_rest_unchanged()
    {
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        var seqs = Sequences(core.Config.VocabSize, 9, 40);
        var dy = RandomGradients(seqs.Length, core.Dimensions, 9);
        var all = new FastTrainableEncoder(core);
        var frozen = new FastTrainableEncoder(core, new FastTrainableEncoderOptions { FrozenLayers = [0, 2] });
        Assert.False(all.Tensors[0].Trainable);   // the embedding table is frozen by default
        var gAll = Zeros(all);
        var gFrozen = Zeros(frozen);
        Assert.Empty(gAll[0]);
        all.Backward(seqs, dy, gAll);
        frozen.Backward(seqs, dy, gFrozen);
        for (var t = 0; t < frozen.Tensors.Count; t++)
        {
            var name = frozen.Tensors[t].Name;
            var inFrozenLayer = name.StartsWith("layers.0.", StringComparison.Ordinal) || name.StartsWith("layers.2.", StringComparison.Ordinal);
            Assert.Equal(!inFrozenLayer && t > 0, frozen.Tensors[t].Trainable);
            if (frozen.Tensors[t].Trainable)
            {
                Assert.Equal(gAll[t], gFrozen[t]);   // gradients still flow through frozen layer 2 into layer 1
                Assert.Contains(gFrozen[t], v => v != 0);
            }
        }
    }

    [Fact]
    public void Matryoshka_mnrl_step_matches_the_reference_gradient_step()
    {
        // The trainer's shape: embed, loss and G on the embeddings, backward per mini-batch (GradientStep's fp32 twin).
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        var columns = WholeModelGradientTests.Columns(core.Config.VocabSize);
        var loss = new MatryoshkaLoss(new MultipleNegativesRankingLoss(), [24, 16, 8]);
        var parameters = ReferenceParameters.FromModel(core);
        var refGrads = parameters.ZerosLike();
        var refLoss = GradientStep.Run(new ReferenceModel(parameters), columns, null, loss, refGrads, miniBatch: 4);
        var fast = new FastTrainableEncoder(core);
        var seqs = columns.SelectMany(c => c).ToArray();
        var y = fast.Embed(seqs);
        var emb = columns.Select((c, ci) => c.Select((_, i) => Array.ConvertAll(y[ci * c.Length + i], v => (double)v)).ToArray()).ToArray();
        var g = EmbeddingLoss.ZeroGradients(emb);
        var value = loss.Compute(emb, null, g);
        Assert.True(Math.Abs(value - refLoss) <= 1e-5 * Math.Abs(refLoss), $"loss {value} vs {refLoss}");
        var grads = Zeros(fast);
        var flat = g.SelectMany(c => c).Select(r => Array.ConvertAll(r, v => (float)v)).ToArray();
        fast.Backward(seqs[..3], flat[..3], grads);
        fast.Backward(seqs[3..], flat[3..], grads);
        for (var t = 1; t < grads.Length; t++)
        {
            var expected = refGrads.Tensors[t].Values;
            var scale = expected.Max(Math.Abs);
            var err = expected.Select((e, i) => Math.Abs(e - grads[t][i])).Max();
            Assert.True(err <= Tolerance * scale, $"{fast.Tensors[t].Name}: {err / scale:E3}");
        }
    }

    [Fact]
    public void Backward_after_embed_reuses_the_forward_only_while_the_parameters_are_unchanged()
    {
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        var seqs = Sequences(core.Config.VocabSize, 9, 40, 150);
        var dy = RandomGradients(seqs.Length, core.Dimensions, 12);
        var fresh = new FastTrainableEncoder(core, new FastTrainableEncoderOptions { ReuseForward = false });
        var reusing = new FastTrainableEncoder(core, new FastTrainableEncoderOptions { Profile = true });
        var gFresh = Zeros(fresh);
        var gReuse = Zeros(reusing);
        fresh.Backward(seqs, dy, gFresh);
        Assert.Equal(fresh.Embed(seqs), reusing.Embed(seqs));
        reusing.Backward(seqs, dy, gReuse);
        Assert.True(reusing.ProfileSeconds.ContainsKey("reused forward"));
        for (var t = 0; t < gFresh.Length; t++)
        {
            Assert.Equal(gFresh[t], gReuse[t]);   // the kept activations are the ones a re-run would compute
        }
        // change one parameter in place between Embed and Backward (as an optimizer step would): the forward is re-run
        reusing.Embed(seqs);
        var w = reusing.Tensors[2].Values;
        w[5] += 0.25f;
        fresh.Tensors[2].Values[5] += 0.25f;
        Array.ForEach(gFresh, g => Array.Clear(g));
        Array.ForEach(gReuse, g => Array.Clear(g));
        fresh.Backward(seqs, dy, gFresh);
        reusing.Backward(seqs, dy, gReuse);
        for (var t = 0; t < gFresh.Length; t++)
        {
            Assert.Equal(gFresh[t], gReuse[t]);
        }
        // other sequences than the embedded ones: re-run as well
        reusing.Embed(seqs[..2]);
        Array.ForEach(gFresh, g => Array.Clear(g));
        Array.ForEach(gReuse, g => Array.Clear(g));
        fresh.Backward(seqs, dy, gFresh);
        reusing.Backward(seqs, dy, gReuse);
        Assert.Equal(gFresh[5], gReuse[5]);
    }

    [Fact]
    public void Bad_arguments_name_the_problem()
    {
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        var fast = new FastTrainableEncoder(core);
        var seqs = Sequences(core.Config.VocabSize, 9);
        var dy = RandomGradients(1, core.Dimensions, 1);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => fast.Embed([[2, core.Config.VocabSize]])).Message);
        Assert.Contains("Sequence 0 has 0 tokens", Assert.Throws<ArgumentException>(() => fast.Embed([[]])).Message);
        Assert.Contains("gradient arrays", Assert.Throws<ArgumentException>(() => fast.Backward(seqs, dy, [])).Message);
        var wrong = Zeros(fast);
        wrong[3] = new float[1];
        Assert.Contains(fast.Tensors[3].Name, Assert.Throws<ArgumentException>(() => fast.Backward(seqs, dy, wrong)).Message);
        Assert.Contains("output dimension", Assert.Throws<ArgumentException>(() => fast.Backward(seqs, [new float[3]], Zeros(fast))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FastTrainableEncoder(core, new FastTrainableEncoderOptions { FrozenLayers = [3] }));
    }

    [Fact]
    public void Create_takes_the_checkpoint_values_bit_for_bit_and_embeds_like_the_model_constructor()
    {
        var ckpt = ModelCheckpoint.Read(TinyModels.Default.Folder);
        using var core = EmbeddingGemmaModel.Load(TinyModels.Default.Folder);
        var fromModel = new FastTrainableEncoder(core, new FastTrainableEncoderOptions { Threads = 2 });
        var fromCheckpoint = FastTrainableEncoder.Create(ckpt, new TrainerOptions { Threads = 2 });
        Assert.Equal(fromModel.Tensors.Select(t => (t.Name, string.Join(",", t.Shape), t.IsNorm, t.Trainable)),
            fromCheckpoint.Tensors.Select(t => (t.Name, string.Join(",", t.Shape), t.IsNorm, t.Trainable)));
        var byName = ckpt.Tensors.ToDictionary(t => t.Name);
        foreach (var t in fromCheckpoint.Tensors)
        {
            Assert.Equal(byName[t.Name].Values, t.Values);                 // exact, and a copy (training must not write the caller's arrays)
            Assert.NotSame(byName[t.Name].Values, t.Values);
        }
        var seqs = Sequences(core.Config.VocabSize, 5, 70, 200);
        var a = fromModel.Embed(seqs);
        var b = fromCheckpoint.Embed(seqs);
        for (var i = 0; i < seqs.Length; i++)
        {
            Assert.Equal(a[i], b[i]);                                      // bit for bit: (1 + w) − 1 + 1 is 1 + w in fp32
        }
    }

    [Fact]
    public void Create_names_a_missing_or_misshapen_tensor()
    {
        var ckpt = ModelCheckpoint.Read(TinyModels.Default.Folder);
        const string victim = "layers.3.mlp.up_proj.weight";
        var missing = new ModelCheckpoint { Config = ckpt.Config, Tensors = ckpt.Tensors.Where(t => t.Name != victim).ToList() };
        var e1 = Assert.Throws<EmbeddingGemmaException>(() => FastTrainableEncoder.Create(missing, new TrainerOptions()));
        Assert.Contains($"'{victim}'", e1.Message);
        Assert.Contains("missing", e1.Message);
        var bent = new ModelCheckpoint { Config = ckpt.Config, Tensors = ckpt.Tensors.Select(t => t.Name == victim ? t with { Shape = [t.Shape[1], t.Shape[0]] } : t).ToList() };
        var e2 = Assert.Throws<EmbeddingGemmaException>(() => FastTrainableEncoder.Create(bent, new TrainerOptions()));
        Assert.Contains($"'{victim}'", e2.Message);
        Assert.Contains("the config needs", e2.Message);
        var noDense = new ModelCheckpoint { Config = ckpt.Config, Tensors = ckpt.Tensors.Where(t => !t.Name.StartsWith("3_Dense", StringComparison.Ordinal)).ToList() };
        var e3 = Assert.Throws<EmbeddingGemmaException>(() => FastTrainableEncoder.Create(noDense, new TrainerOptions()));
        Assert.Contains("'3_Dense.linear.weight'", e3.Message);
    }
}
