using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Training;
using EmbeddingGemma.Training.Data;
using Xunit.Abstractions;

namespace EmbeddingGemma.Tests.Model;

/// <summary>
/// Round trip of a fine-tuned model through llama.cpp: the tiny model is trained a few steps, saved as an F32 GGUF,
/// and llama.cpp (the independent oracle) must embed it as the in-process trained model does.
/// </summary>
public sealed class TrainedModelLlamaCppTests(ITestOutputHelper output)
{
    // several lengths, some past the tiny model's sliding window (16, radius 8)
    private static readonly int[] Lengths = [3, 8, 9, 16, 17, 33, 64, 100];

    private static IReadOnlyList<TrainingDataset> Pairs()
    {
        string[] words = ["red", "green", "blue", "cat", "dog", "fish", "runs", "sleeps", "the", "a", "big", "small", "house", "tree"];
        var rng = new Random(11);
        string S() => string.Join(' ', Enumerable.Range(0, rng.Next(2, 6)).Select(_ => words[rng.Next(words.Length)]));
        var rows = Enumerable.Range(0, 8).Select(i => new TrainingRow([S() + $" {i}", S() + $" p{i}"], null, $"p{i}")).ToList();
        return [new("pairs", TrainingDataKind.Pairs, rows)];
    }

    [Fact]
    public void TrainedF32GgufEmbedsInLlamaCppLikeTheInProcessModel()
    {
        var tiny = TinyModels.Default;
        var options = new TrainerOptions
        {
            Loss = "pair=mnrl",
            BatchSize = 4,
            MiniBatch = 4,
            LearningRate = 1e-2, // large on purpose: the weights must move visibly in 4 steps
            WarmupRatio = 0,
            MaxSteps = 4,
            Threads = 2,
        };
        using var trainer = Trainer.Load(tiny.Folder, options);
        var result = trainer.Train(Pairs());
        Assert.Equal(4, result.Steps);

        // training moved the weights (a trainer that did nothing would pass the round trip below trivially)
        var baseTensors = ModelCheckpoint.Read(tiny.Folder).Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var q = trainer.Encoder.Tensors.First(t => t.Name == "layers.0.self_attn.q_proj.weight");
        var moved = q.Values.Zip(baseTensors[q.Name].Values, (a, b) => Math.Abs((double)a - b)).Max();
        Assert.True(moved > 1e-3, $"q_proj moved only {moved}");

        var gguf = trainer.Save(TestPaths.NewTempDir("eg-trained-llama"), "f32")!;
        var seqs = Lengths.Select((n, i) => LlamaCppParityTests.RandomIds(n, tiny.Config.VocabSize, 2000 + i)).ToList();
        var llama = LlamaCppOracle.Embed(gguf, seqs);
        using var trained = trainer.CreateModel();
        using var untrained = EmbeddingGemmaModel.Load(tiny.Folder, new ModelLoadOptions { UseHub = false });

        // Tolerance: cos >= Tolerances.LlamaCppMinCosine (0.99999), the bound the untrained parity tests use; the
        // untrained model must sit further from the trained vectors than that, so the check can tell them apart.
        var worst = 1.0;
        var closestUntrained = -1.0;
        for (var i = 0; i < seqs.Count; i++)
        {
            var ours = LlamaCppParityTests.Reference(trained, seqs[i]);
            var before = LlamaCppParityTests.Reference(untrained, seqs[i]);
            var cos = VectorOps.Cosine(ours, llama[i]);
            var cosBefore = VectorOps.Cosine(before, llama[i]);
            output.WriteLine($"len {seqs[i].Length,4}: cos(trained, llama.cpp) {cos:F9}  cos(untrained, llama.cpp) {cosBefore:F9}");
            worst = Math.Min(worst, cos);
            closestUntrained = Math.Max(closestUntrained, cosBefore);
            Assert.True(cos >= Tolerances.LlamaCppMinCosine, $"len {seqs[i].Length}: cos {cos} < {Tolerances.LlamaCppMinCosine}");
            Assert.True(cosBefore < Tolerances.LlamaCppMinCosine, $"len {seqs[i].Length}: untrained cos {cosBefore} is within the tolerance");
        }
        output.WriteLine($"worst cos(trained, llama.cpp) {worst:F9}; closest untrained {closestUntrained:F9}");
    }
}
