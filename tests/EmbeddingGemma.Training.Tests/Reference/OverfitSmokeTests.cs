using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Training.Losses;
using EmbeddingGemma.Training.Optimization;
using EmbeddingGemma.Training.Reference;
using Xunit.Abstractions;

namespace EmbeddingGemma.Training.Tests.Reference;

/// <summary>
/// training.md's quick smoke test: the fp64 reference model, MSE on cosine and AdamW overfit 8 similarity pairs to a
/// loss below 0.01 (all pieces together: parameters from a loaded model, GradientStep, clipping, schedule, AdamW).
/// </summary>
public class OverfitSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public void Eight_pairs_reach_a_loss_below_0_01()
    {
        using var core = EmbeddingGemmaModel.Load(WholeModelGradientTests.Model.Folder);
        var parameters = ReferenceParameters.FromModel(core);
        var model = new ReferenceModel(parameters);
        var rng = new Random(8);
        var vocab = core.Config.VocabSize;
        int[] Seq() => [2, .. Enumerable.Range(0, rng.Next(3, 10)).Select(_ => rng.Next(5, vocab)), 1];
        int[][][] columns = [Enumerable.Range(0, 8).Select(_ => Seq()).ToArray(), Enumerable.Range(0, 8).Select(_ => Seq()).ToArray()];
        double[] labels = [0.9, 0.1, -0.3, 0.7, 0.5, 0.0, 0.8, -0.1];
        var loss = new CosineSimilarityLoss();
        var opt = new AdamW<double>(parameters.Tensors.Select(t => new OptimizerTensor<double>(t.Name, t.Values, t.IsNorm)).ToArray(),
            new AdamWOptions { WeightDecay = 0.01 });
        var schedule = new LearningRateSchedule(ScheduleKind.ConstantWithWarmup, 1e-2, WarmupSteps: 2, TotalSteps: 60);
        var first = double.NaN;
        var value = double.NaN;
        var step = 0;
        for (; step < 60; step++)
        {
            var grads = parameters.ZerosLike();
            value = GradientStep.Run(model, columns, labels, loss, grads, miniBatch: 4);
            if (step == 0)
            {
                first = value;
            }
            if (value < 0.01)
            {
                break;
            }
            var g = grads.Tensors.Select(t => t.Values).ToArray();
            GradientClipping.ClipByGlobalNorm<double>(g, 1.0);
            opt.Step(g, schedule.At(step));
        }
        output.WriteLine($"loss {first:F4} -> {value:F6} after {step} AdamW steps");
        Assert.True(value < 0.01, $"loss {first:F4} -> {value:F4} after {step} steps");
    }
}
