using System.IO.Compression;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Training.Data;
using Xunit.Abstractions;

namespace EmbeddingGemma.Training.Tests.Trainer;

/// <summary>
/// A smaller version of scripts/learning-demo.sh: a tiny random model (hidden 32, 2 layers) with the real Gemma 3
/// tokenizer trained with CoSENT on the first STS-B training pairs must beat both its own "before" and the same run with
/// shuffled training labels on held-out STS-B test pairs (Spearman). The control matters: training also spreads a random
/// model's vectors, which alone can move the score (training.md).
/// </summary>
public sealed class LearningDemoTests(ITestOutputHelper output)
{
    private const int TrainPairs = 256;
    private const int TestPairs = 400;

    private static (List<TrainingRow> Train, List<TrainingRow> Test) StsB()
    {
        var data = Environment.GetEnvironmentVariable("EMBEDDINGGEMMA_SHARED_DATA") is { Length: > 0 } env ? env
            : TestPaths.SharedData ?? throw new InvalidOperationException("../shared/data (STS-B) is missing: the learning test needs stsbenchmark_en/stsbenchmark.tsv.gz.");
        var train = new List<TrainingRow>();
        var test = new List<TrainingRow>();
        using var reader = new StreamReader(new GZipStream(File.OpenRead(Path.Combine(data, "stsbenchmark_en", "stsbenchmark.tsv.gz")), CompressionMode.Decompress));
        reader.ReadLine();
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            var f = line.TrimEnd('\r').Split('\t');
            var row = new TrainingRow([f[6], f[7]], double.Parse(f[5], System.Globalization.CultureInfo.InvariantCulture) / 5, "stsb");
            (f[0] == "train" ? train : f[0] == "test" ? test : null)?.Add(row);
        }
        return (train.Take(TrainPairs).ToList(), test.Take(TestPairs).ToList());
    }

    [Fact]
    public void CoSentOnStsBBeatsBeforeAndTheShuffledControl()
    {
        var (train, test) = StsB();
        var ckpt = RandomModel.Create("tiny", 42, c => c with
        {
            HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDim = 16, QueryPreAttnScalar = 16,
        }, TestPaths.Gemma3TokenizerJson);
        using var baseModel = EmbeddingGemmaModel.FromCheckpoint(ckpt);
        var options = new TrainerOptions { Loss = "cosent", LearningRate = 1e-3, BatchSize = 32, Epochs = 3, Seed = 42 };
        var testSet = new[] { new TrainingDataset("stsb-test", TrainingDataKind.ScoredPairs, test) };
        double Score(EmbeddingGemmaModel m) => TrainingEvaluation.Evaluate(m, testSet, [32]).Single().Score;
        double Trained(List<TrainingRow> rows)
        {
            using var trainer = new Training.Trainer(ckpt, baseModel, options);
            trainer.Train([new TrainingDataset("stsb-train", TrainingDataKind.ScoredPairs, rows)]);
            using var model = trainer.CreateModel();
            return Score(model);
        }
        var labels = train.Select(r => r.Label).ToArray();
        new Random(1234).Shuffle(labels);
        var before = Score(baseModel);
        var after = Trained(train);
        var control = Trained(train.Select((r, i) => r with { Label = labels[i] }).ToList());
        output.WriteLine($"STS-B test Spearman ({TestPairs} pairs) after 3 epochs on {TrainPairs} pairs: before {before:F3}, after {after:F3}, shuffled control {control:F3}");
        Assert.True(after >= before + 0.10, $"after {after:F3} vs before {before:F3}");
        Assert.True(after >= control + 0.08, $"after {after:F3} vs control {control:F3}");
    }
}
