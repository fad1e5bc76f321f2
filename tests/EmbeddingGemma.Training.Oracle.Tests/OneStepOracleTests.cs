using Xunit.Abstractions;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Training.Fast;
using EmbeddingGemma.Training.Losses;
using EmbeddingGemma.Training.Optimization;
using EmbeddingGemma.Training.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace EmbeddingGemma.Training.Oracle.Tests;

/// <summary>
/// One training step computed three ways with identical settings — libtorch autograd on the spec-written
/// <see cref="TorchSpecModel"/> (fp64, torch.optim.AdamW), the project's fp64 <see cref="ReferenceModel"/> +
/// <see cref="AdamW{T}"/> of double, and the fp32 <see cref="FastTrainableEncoder"/> + AdamW of float — on a tiny random
/// model (hidden 24, 3 layers with layer 2 global, 3 query heads on 1 KV head of 8, window 6 = radius 3, Dense 24→48→24)
/// whose sequences (7..40 tokens) cross the window. Loss: Matryoshka(MNRL, scale 20) at 24/16/8 over anchor / positive
/// / hard negative; every tensor trainable (embedding table included); AdamW lr 1e-3, β (0.9, 0.999), ε 1e-8, weight
/// decay 0.01 except norm weights (two parameter groups in torch). "Relative" = per tensor, max |ours − torch| over
/// max |torch| (∞-norm ratio).
/// </summary>
public sealed class OneStepOracleTests(OneStepOracleTests.Step step, ITestOutputHelper output) : IClassFixture<OneStepOracleTests.Step>
{
    internal static TinyModel Model => TinyModels.Get("oracle-tiny", c => c with
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

    private const double Lr = 1e-3;
    private static readonly int[] Dims = [24, 16, 8];

    /// <summary>Everything computed once: the three losses, gradients and parameters after the step.</summary>
    public sealed class Step
    {
        public Step()
        {
            torch.set_num_threads(1);
            using var core = EmbeddingGemmaModel.Load(Model.Folder);
            Config = core.Config;
            var rng = new Random(21);
            int[] Seq(int n) => [2, .. Enumerable.Range(0, n - 2).Select(_ => rng.Next(5, core.Config.VocabSize)), 1];
            int[][][] columns = [[Seq(9), Seq(40)], [Seq(10), Seq(7)], [Seq(8), Seq(33)]];
            var loss = new MatryoshkaLoss(new MultipleNegativesRankingLoss(), Dims);

            // libtorch autograd on the spec-written forward
            var parameters = ReferenceParameters.FromModel(core);
            Names = parameters.Tensors.Select(t => t.Name).ToArray();
            IsNorm = parameters.Tensors.Select(t => t.IsNorm).ToArray();
            Before = parameters.Tensors.Select(t => t.Values.ToArray()).ToArray();
            using (var torchModel = new TorchSpecModel(parameters))
            {
                var cols = columns.Select(c => torch.stack(c.Select(torchModel.Forward).ToArray(), 0)).ToArray();
                var l = TorchSpecModel.MatryoshkaMnrl(cols, Dims);
                TorchLoss = l.item<double>();
                l.backward();
                TorchGrads = torchModel.Parameters.Select(p => p.grad!.data<double>().ToArray()).ToArray();
                var decay = torchModel.Parameters.Where((_, i) => !IsNorm[i]).ToArray();
                var norms = torchModel.Parameters.Where((_, i) => IsNorm[i]).ToArray();
                using var opt1 = torch.optim.AdamW(decay, lr: Lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01);
                using var opt2 = torch.optim.AdamW(norms, lr: Lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0);
                opt1.step();
                opt2.step();
                TorchAfter = torchModel.Parameters.Select(p => p.data<double>().ToArray()).ToArray();
            }

            // the project's fp64 reference
            var grads = parameters.ZerosLike();
            ReferenceLoss = GradientStep.Run(new ReferenceModel(parameters), columns, null, loss, grads, miniBatch: 4);
            ReferenceGrads = grads.Tensors.Select(t => t.Values.ToArray()).ToArray();
            var adam = new AdamW<double>(parameters.Tensors.Select(t => new OptimizerTensor<double>(t.Name, t.Values, t.IsNorm)).ToArray());
            adam.Step(grads.Tensors.Select(t => t.Values).ToArray(), Lr);
            ReferenceAfter = parameters.Tensors.Select(t => t.Values.ToArray()).ToArray();

            // the fp32 fast path, in the trainer's shape (embed, loss on embeddings, backward per mini-batch)
            var fast = new FastTrainableEncoder(core, new FastTrainableEncoderOptions { TrainEmbeddings = true, Threads = 2 });
            var seqs = columns.SelectMany(c => c).ToArray();
            var y = fast.Embed(seqs);
            var emb = columns.Select((c, ci) => c.Select((_, i) => Array.ConvertAll(y[ci * c.Length + i], v => (double)v)).ToArray()).ToArray();
            var g = EmbeddingLoss.ZeroGradients(emb);
            FastLoss = loss.Compute(emb, null, g);
            var flat = g.SelectMany(c => c).Select(r => Array.ConvertAll(r, v => (float)v)).ToArray();
            var fastGrads = fast.Tensors.Select(t => new float[t.Values.Length]).ToArray();
            fast.Backward(seqs[..4], flat[..4], fastGrads);
            fast.Backward(seqs[4..], flat[4..], fastGrads);
            FastGrads = fastGrads;
            var adamF = new AdamW<float>(fast.Tensors.Select(t => new OptimizerTensor<float>(t.Name, t.Values, t.IsNorm)).ToArray());
            adamF.Step(fastGrads, Lr);
            FastAfter = fast.Tensors.Select(t => t.Values.ToArray()).ToArray();
        }

        public GemmaConfig Config { get; }
        public string[] Names { get; }
        public bool[] IsNorm { get; }
        public double[][] Before { get; }
        public double TorchLoss { get; }
        public double ReferenceLoss { get; }
        public double FastLoss { get; }
        public double[][] TorchGrads { get; }
        public double[][] ReferenceGrads { get; }
        public float[][] FastGrads { get; }
        public double[][] TorchAfter { get; }
        public double[][] ReferenceAfter { get; }
        public float[][] FastAfter { get; }
    }

    private static double Relative(double[] expected, Func<int, double> actual)
    {
        var scale = expected.Max(Math.Abs);
        var err = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            err = Math.Max(err, Math.Abs(expected[i] - actual(i)));
        }
        return scale == 0 ? err : err / scale;
    }

    private void AllTensors(string what, double tolerance, Func<int, double[]> expected, Func<int, Func<int, double>> actual)
    {
        var worst = 0.0;
        var worstName = "";
        for (var t = 0; t < step.Names.Length; t++)
        {
            Assert.Contains(expected(t), v => v != 0);
            var rel = Relative(expected(t), actual(t));
            Assert.True(rel <= tolerance, $"{what}: {step.Names[t]} relative error {rel:E3} > {tolerance:E0}");
            if (rel > worst)
            {
                (worst, worstName) = (rel, step.Names[t]);
            }
        }
        output.WriteLine($"{what}: {step.Names.Length} tensors, worst {worst:E3} ({worstName})");
    }

    [Fact]
    public void Loss_equals_libtorch()
    {
        output.WriteLine($"loss: libtorch {step.TorchLoss:R}, fp64 reference {step.ReferenceLoss:R}, fp32 path {step.FastLoss:R}");
        Assert.True(step.TorchLoss > 0);
        Assert.True(Math.Abs(step.ReferenceLoss - step.TorchLoss) <= 1e-10 * Math.Max(1, Math.Abs(step.TorchLoss)));
        Assert.True(Math.Abs(step.FastLoss - step.TorchLoss) <= 1e-5 * Math.Max(1, Math.Abs(step.TorchLoss)));
    }

    [Fact]
    public void Reference_gradients_equal_libtorch_autograd() =>
        AllTensors("fp64 reference vs libtorch gradients", 1e-9, t => step.TorchGrads[t], t => i => step.ReferenceGrads[t][i]);

    [Fact]
    public void Fast_fp32_gradients_equal_libtorch_autograd() =>
        AllTensors("fp32 path vs libtorch gradients", 1e-5, t => step.TorchGrads[t], t => i => step.FastGrads[t][i]);

    [Fact]
    public void Parameters_after_adamw_equal_libtorch()
    {
        AllTensors("fp64 reference + AdamW<double> vs torch.optim.AdamW", 1e-5, t => step.TorchAfter[t], t => i => step.ReferenceAfter[t][i]);
        AllTensors("fp32 path + AdamW<float> vs torch.optim.AdamW", 1e-5, t => step.TorchAfter[t], t => i => step.FastAfter[t][i]);
        // the step moved every tensor by far more than the tolerance (so the equality above is not "unchanged")
        for (var t = 0; t < step.Names.Length; t++)
        {
            var moved = Relative(step.TorchAfter[t], i => step.Before[t][i]);
            Assert.True(moved > 1e-4, $"{step.Names[t]} moved only {moved:E3}");
        }
    }
}
