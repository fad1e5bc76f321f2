using Xunit.Abstractions;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Training.Losses;
using EmbeddingGemma.Training.Reference;

namespace EmbeddingGemma.Training.Tests.Reference;

/// <summary>
/// The whole fp64 reference (embedding → 3 layers → final norm → mean pool → Dense → Dense → normalize) on a tiny random
/// model whose sequences (7..11 tokens) cross the sliding window (radius 3) and whose layer 2 is global, with 3 query
/// heads sharing 1 KV head as in EmbeddingGemma. Loss: Matryoshka(MNRL) over anchor/positive/hard-negative columns.
/// Every tensor is checked by fourth-order central differences (h = 1e-4, <see cref="GradCheck"/>): all entries of vectors, 6 random entries of each matrix,
/// used and unused embedding rows.
/// </summary>
public class WholeModelGradientTests(ITestOutputHelper output)
{
    private const double H = 1e-4;
    private const double Tolerance = 1e-7;
    // Entries whose gradient is below 1e-6·max(1, |L|) are held to 1e-13·max(1, |L|) absolute (GradCheck): below that
    // the finite difference's round-off (~1e-16·|L|/h) would dominate a relative error. Measured: worst 9.7e-9
    // relative over 506 entries of all 43 tensors (loss 38.25).
    private const double Floor = 1e-6;

    internal static TinyModel Model => TinyModels.Get("train-tiny", c => c with
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
    }, seed: 13);

    internal static int[][][] Columns(int vocab)
    {
        var rng = new Random(21);
        int[] Seq(int n) => [2, .. Enumerable.Range(0, n - 2).Select(_ => rng.Next(5, vocab)), 1];
        return [[Seq(9), Seq(11)], [Seq(10), Seq(7)], [Seq(8), Seq(11)]];
    }

    [Fact]
    public void Forward_matches_the_core_pipeline()
    {
        using var core = EmbeddingGemmaModel.Load(Model.Folder, new ModelLoadOptions { EncoderFactory = w => new ReferenceEncoder(w) });
        var model = new ReferenceModel(ReferenceParameters.FromModel(core));
        Assert.False(core.Config.IsSlidingLayer(2));
        Assert.True(core.Config.IsSlidingLayer(0));
        var seqs = Columns(core.Config.VocabSize).SelectMany(c => c).ToArray();
        var expected = core.EncodeTokenIds(seqs);
        for (var i = 0; i < seqs.Length; i++)
        {
            var ours = model.Embed(seqs[i]);
            Assert.Equal(expected[i].Length, ours.Length);
            // core: fp32 activations; ours: fp64 throughout (a float32 unit vector's rounding is ~6e-8 per entry)
            var maxAbs = ours.Zip(expected[i], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxAbs < 1e-5, $"sequence {i}: max abs {maxAbs:E3} vs the core pipeline");
            output.WriteLine($"sequence {i} ({seqs[i].Length} tokens): max abs {maxAbs:E3} vs the core reference pipeline");
        }
    }

    [Fact]
    public void Every_tensor_matches_finite_differences_under_matryoshka_mnrl()
    {
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        var parameters = ReferenceParameters.FromModel(core);
        var model = new ReferenceModel(parameters);
        var columns = Columns(core.Config.VocabSize);
        var loss = new MatryoshkaLoss(new MultipleNegativesRankingLoss(), [24, 16, 8]);
        var grads = parameters.ZerosLike();
        var value = GradientStep.Run(model, columns, null, loss, grads, miniBatch: 4);
        Assert.True(value > 0);
        double F()
        {
            var emb = columns.Select(c => c.Select(model.Embed).ToArray()).ToArray();
            return loss.Compute(emb, null, EmbeddingLoss.ZeroGradients(emb));
        }
        var rng = new Random(5);
        var used = columns.SelectMany(c => c).SelectMany(s => s).Distinct().ToArray();
        var hidden = core.Config.HiddenSize;
        var worst = 0.0;
        var checkedEntries = 0;
        for (var t = 0; t < parameters.Tensors.Count; t++)
        {
            var p = parameters.Tensors[t];
            var g = grads.Tensors[t];
            Assert.Equal(p.Name, g.Name);
            IEnumerable<int> entries;
            if (p.Name == "embed_tokens.weight")
            {
                entries = used.Take(4).SelectMany(row => new[] { row * hidden + rng.Next(hidden), row * hidden + rng.Next(hidden) });
                var unused = Enumerable.Range(0, core.Config.VocabSize).Where(r => !used.Contains(r)).ToArray();
                Assert.Contains(0, unused);   // the pad row gets no gradient
                Assert.All(unused, row => Assert.All(g.Values.AsSpan(row * hidden, hidden).ToArray(), v => Assert.Equal(0.0, v)));
            }
            else
            {
                entries = p.Values.Length <= 24 ? Enumerable.Range(0, p.Values.Length) : Enumerable.Range(0, 6).Select(_ => rng.Next(p.Values.Length));
            }
            var list = entries.ToArray();
            checkedEntries += list.Length;
            worst = Math.Max(worst, GradCheck.Check(p.Name, F, p.Values, g.Values, H, Tolerance, Floor, list));
        }
        Assert.True(worst > 0);
        output.WriteLine($"loss {value:F6}; {parameters.Tensors.Count} tensors, {checkedEntries} entries; worst relative error {worst:E3}");
    }

    [Fact]
    public void Gradient_does_not_depend_on_the_mini_batch_size()
    {
        // GradCache's promise: backpropagating the whole-batch G per mini-batch gives the whole-batch gradient.
        using var core = EmbeddingGemmaModel.Load(Model.Folder);
        var parameters = ReferenceParameters.FromModel(core);
        var model = new ReferenceModel(parameters);
        var columns = Columns(core.Config.VocabSize);
        var loss = new MultipleNegativesRankingLoss();
        var g1 = parameters.ZerosLike();
        var g6 = parameters.ZerosLike();
        var l1 = GradientStep.Run(model, columns, null, loss, g1, miniBatch: 1);
        var l6 = GradientStep.Run(model, columns, null, loss, g6, miniBatch: 6);
        Assert.Equal(l1, l6);
        for (var t = 0; t < g1.Tensors.Count; t++)
        {
            Assert.Equal(g1.Tensors[t].Values, g6.Tensors[t].Values);
        }
    }
}
